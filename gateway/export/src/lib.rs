//! Export to PostgreSQL: a worker off the read model that streams every
//! committed journal record, each money movement with its report figures,
//! the operators' audit trail, and the payments and players as the read
//! model keeps them into a PostgreSQL database for BI tools and operators
//! who outgrow the embedded store.
//!
//! - **Off the money path.** The worker follows the read model
//!   ([`readmodel::ReadModel::applied_seq`]), never the sequencer: it reads
//!   the journal records and the rows the read model has applied, so
//!   neither the wallet nor the projection ever waits for PostgreSQL. A
//!   slow or absent server only makes the export lag
//!   (`croupier_export_seq` in `/metrics`).
//! - **Exactly once, by sequence number.** Each PostgreSQL transaction
//!   inserts the rows of a run of sequence numbers, upserts the payments
//!   and players whose last change is in that run (`rows`), *and* moves the
//!   checkpoint (`croupier_export_checkpoint`) past them, after locking the
//!   checkpoint row and checking it is where the worker read it. A crash
//!   or a lost connection rolls both back together; a restart resumes from
//!   the checkpoint. The journal table's primary key is the sequence
//!   number, so a duplicate could not even be written, and an upsert only
//!   replaces a row by one at least as new.
//! - **Upgrades back-fill.** A database exported by a release without the
//!   audit, payments and players tables gets them at the next start,
//!   filled with every row up to its checkpoint in transactions of a run's
//!   size (the last marks `report_tables` in the checkpoint row; one cut
//!   short starts again from the first, keeping what is there); the runs
//!   after it do the rest.
//! - **Outages are survived.** Any error (connection refused, server
//!   restarted, a certificate refused, a statement failing) drops the
//!   connection, waits a little (doubling up to [`RETRY_MAX`]) and starts
//!   again from the checkpoint PostgreSQL holds: nothing is skipped and
//!   nothing is sent twice.
//! - **Retired journal.** If the journal before the checkpoint was retired
//!   (snapshots and retention), those records cannot be exported: the
//!   worker records the gap in `croupier_export_gaps` in the same
//!   transaction and goes on from the journal's first record.
//! - **TLS** as libpq's `sslmode` and `sslrootcert` in the URL say
//!   (`tls`).
//!
//! The tables ([`SCHEMA`]) are created if missing; amounts are integer
//! minor units, as in the ledger.

#![deny(missing_docs)]

mod rows;
mod tls;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use readmodel::ReadModel;
use tokio::task::JoinHandle;

pub use rows::PENDING_MAX;
pub use tls::SslMode;

/// What can stop the export from starting.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The URL is not a PostgreSQL connection string.
    #[error(
        "export to PostgreSQL: invalid --export-postgres-url ({0}); expected postgres://user[:password]@host[:port]/database"
    )]
    Url(String),
    /// The URL's `sslmode` is not one of libpq's.
    #[error(
        "export to PostgreSQL: invalid sslmode {0:?} in --export-postgres-url; expected disable, prefer, require, verify-ca or verify-full"
    )]
    SslMode(String),
    /// The URL's `sslrootcert` file cannot be read as PEM certificates.
    #[error("export to PostgreSQL: sslrootcert {path} in --export-postgres-url: {reason}")]
    RootCert {
        /// The file named.
        path: String,
        /// Why it is unusable.
        reason: String,
    },
    /// rustls refused the TLS configuration.
    #[error("export to PostgreSQL: TLS configuration: {0}")]
    Tls(String),
}

/// Where to export to.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The PostgreSQL connection URL (`postgres://user:password@host:port/db`,
    /// with `?sslmode=…&sslrootcert=…` if wanted) or key-value string
    /// (`host=… user=… dbname=… sslmode=…`).
    pub url: String,
    /// Most journal records written in one transaction (at least 1;
    /// [`RECORDS_PER_TX`] by default).
    pub records_per_tx: u64,
}

/// Records read from the journal per PostgreSQL transaction at most, by
/// default.
pub const RECORDS_PER_TX: u64 = 2_000;
/// The first wait after a failure.
pub const RETRY_MIN: Duration = Duration::from_millis(100);
/// The longest wait between attempts while PostgreSQL is away.
pub const RETRY_MAX: Duration = Duration::from_secs(2);
/// How long an idle worker waits for the read model before it checks its
/// connection again.
const FOLLOW_WAIT: Duration = Duration::from_millis(500);
/// How often players whose country is owed are looked at again (the
/// gateway asked to fill them first) while any is.
const PENDING_EVERY: Duration = Duration::from_secs(1);

/// The tables, created if missing (idempotent: run at every connection).
///
/// - `croupier_journal`: one row per committed journal record: `seq`,
///   `time_ms` and `time` (the ledger's clock), `source` (who sent it: an
///   aggregator, an operator, the server's own workers), `request_id` (the
///   sender's idempotency id), `kind` (the command's stable name, as
///   `croupier-admin journal` shows it), `player` (the player the command
///   names, if any), `accepted`, and `rejection` (the ledger's reason
///   when refused).
/// - `croupier_movements`: one row per money movement (a record that moved
///   a player's money): the player, currency and movement kind, the cash
///   and bonus deltas and the balances after, the game and round, and the
///   report figures the read model's reports add up (`stake`,
///   `bonus_stake`, `prize`, `cash_prize`, `converted`, `jackpot`,
///   `granted`).
/// - `croupier_audit`: the audit trail, one row per operator action (a
///   journal record an operator, or the server for one, submitted):
///   `seq`, `time`, `operator` and `operator_name`, `request_id`, `kind`,
///   the target (`target_type`: player, operator or aggregator; `target`),
///   the `field` changed with its `before` and `after`, `detail`, and
///   `accepted`.
/// - `croupier_payments`: every deposit and withdrawal as the cashier
///   keeps it, by (`source`, `id`) of the request that started it: kind,
///   player, currency, `amount`, `state`, `provider`, `reference`,
///   `method`, `held_reason`, `charged_back`, `shortfall`, `created_at`,
///   `updated_at`, and `seq`, its last change.
/// - `croupier_players`: every player: `currency`, `jurisdiction`,
///   `registered_at`, `brand` (`default` when not attributed), `affiliate`,
///   `country` of residence (blank after an erasure; `country_pending`
///   while the gateway has not read it from the sealed profile yet),
///   `status`, `erased`, and `seq`, its last change. Nothing else personal.
/// - `croupier_ggr_daily`: a view over the movements: turnover, prizes,
///   GGR, bonus cost and active players per UTC day and currency;
///   `croupier_ggr_daily_by_player_segment` the same per brand, affiliate
///   and country.
/// - `croupier_export_checkpoint`: the last sequence number exported
///   (one row), moved in the same transaction as the rows;
///   `report_tables` once the audit, payments and players were
///   back-filled.
/// - `croupier_export_gaps`: runs of sequence numbers the journal had
///   retired before they could be exported.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS croupier_export_checkpoint (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO croupier_export_checkpoint (id, seq) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
ALTER TABLE croupier_export_checkpoint ADD COLUMN IF NOT EXISTS report_tables BOOLEAN NOT NULL DEFAULT false;
CREATE TABLE IF NOT EXISTS croupier_journal (
    seq BIGINT PRIMARY KEY,
    time_ms BIGINT NOT NULL,
    time TIMESTAMPTZ NOT NULL,
    source BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    player BIGINT,
    accepted BOOLEAN NOT NULL,
    rejection TEXT
);
CREATE INDEX IF NOT EXISTS croupier_journal_by_time ON croupier_journal (time);
CREATE INDEX IF NOT EXISTS croupier_journal_by_player ON croupier_journal (player, seq);
CREATE TABLE IF NOT EXISTS croupier_movements (
    seq BIGINT PRIMARY KEY REFERENCES croupier_journal (seq),
    time TIMESTAMPTZ NOT NULL,
    player BIGINT NOT NULL,
    currency TEXT NOT NULL,
    kind TEXT NOT NULL,
    cash_delta BIGINT NOT NULL,
    bonus_delta BIGINT NOT NULL,
    cash BIGINT NOT NULL,
    bonus BIGINT NOT NULL,
    reserved BIGINT NOT NULL,
    game TEXT,
    round TEXT,
    stake BIGINT NOT NULL,
    bonus_stake BIGINT NOT NULL,
    prize BIGINT NOT NULL,
    cash_prize BIGINT NOT NULL,
    converted BIGINT NOT NULL,
    jackpot BIGINT NOT NULL,
    granted BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS croupier_movements_by_time ON croupier_movements (time);
CREATE INDEX IF NOT EXISTS croupier_movements_by_player ON croupier_movements (player, seq);
CREATE TABLE IF NOT EXISTS croupier_audit (
    seq BIGINT PRIMARY KEY,
    time TIMESTAMPTZ NOT NULL,
    operator BIGINT NOT NULL,
    operator_name TEXT NOT NULL,
    request_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    target_type TEXT,
    target BIGINT,
    field TEXT,
    before TEXT,
    after TEXT,
    detail TEXT,
    accepted BOOLEAN NOT NULL
);
CREATE INDEX IF NOT EXISTS croupier_audit_by_operator ON croupier_audit (operator, seq);
CREATE INDEX IF NOT EXISTS croupier_audit_by_target ON croupier_audit (target_type, target, seq);
CREATE TABLE IF NOT EXISTS croupier_payments (
    source BIGINT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    player BIGINT NOT NULL,
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL,
    state TEXT NOT NULL,
    provider TEXT,
    reference TEXT,
    method TEXT,
    held_reason TEXT,
    charged_back BIGINT NOT NULL,
    shortfall BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (source, id)
);
CREATE INDEX IF NOT EXISTS croupier_payments_by_time ON croupier_payments (created_at);
CREATE INDEX IF NOT EXISTS croupier_payments_by_player ON croupier_payments (player, created_at);
CREATE TABLE IF NOT EXISTS croupier_players (
    player BIGINT PRIMARY KEY,
    currency TEXT,
    jurisdiction TEXT,
    registered_at TIMESTAMPTZ,
    brand TEXT NOT NULL,
    affiliate TEXT,
    country TEXT,
    country_pending BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    erased BOOLEAN NOT NULL,
    seq BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS croupier_players_country_pending ON croupier_players (player) WHERE country_pending;
CREATE TABLE IF NOT EXISTS croupier_export_gaps (
    from_seq BIGINT PRIMARY KEY,
    to_seq BIGINT NOT NULL,
    noted_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE OR REPLACE VIEW croupier_ggr_daily AS
    SELECT date_trunc('day', time AT TIME ZONE 'UTC') AS day,
           currency,
           sum(stake) AS turnover,
           sum(prize) AS prizes,
           sum(stake - prize) AS ggr,
           sum(granted + converted) AS bonus_cost,
           count(DISTINCT player) FILTER (WHERE stake <> 0) AS active_players
    FROM croupier_movements
    GROUP BY 1, 2;
CREATE OR REPLACE VIEW croupier_ggr_daily_by_player_segment AS
    SELECT date_trunc('day', m.time AT TIME ZONE 'UTC') AS day,
           m.currency,
           coalesce(p.brand, 'default') AS brand,
           p.affiliate,
           p.country,
           sum(m.stake) AS turnover,
           sum(m.prize) AS prizes,
           sum(m.stake - m.prize) AS ggr,
           count(DISTINCT m.player) FILTER (WHERE m.stake <> 0) AS active_players
    FROM croupier_movements m LEFT JOIN croupier_players p ON p.player = m.player
    GROUP BY 1, 2, 3, 4, 5;
";

/// Fills the read model's owed plain attributes (a player's country: the
/// gateway's PAM directory, which holds the keys to the sealed profiles).
pub type Filler = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The running export: what `/metrics` reports of it.
#[derive(Clone)]
pub struct Exporter {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// The last sequence number PostgreSQL holds (as of the last commit).
    exported: AtomicU64,
    /// Failed attempts (connections, transactions) since the start.
    errors: AtomicU64,
    /// Whether the worker holds a working connection now.
    connected: AtomicBool,
    /// Asked to fill players' countries the export waits for.
    filler: OnceLock<Filler>,
}

impl Exporter {
    /// The last sequence number committed to PostgreSQL.
    pub fn exported_seq(&self) -> u64 {
        self.shared.exported.load(Ordering::Acquire)
    }

    /// Failed attempts since the start.
    pub fn errors(&self) -> u64 {
        self.shared.errors.load(Ordering::Relaxed)
    }

    /// Has the worker call `filler` when exported players wait for their
    /// country (at most every second). Set once; the server sets it once
    /// its modules exist, after the worker started.
    pub fn fill_countries_with(&self, filler: Filler) {
        let _ = self.shared.filler.set(filler);
    }

    /// The export's metrics in the Prometheus text format.
    pub fn render_metrics(&self) -> String {
        format!(
            "# HELP croupier_export_seq Last journal sequence number committed to PostgreSQL\n\
             # TYPE croupier_export_seq gauge\n\
             croupier_export_seq {}\n\
             # HELP croupier_export_errors_total Failed PostgreSQL export attempts (each is retried)\n\
             # TYPE croupier_export_errors_total counter\n\
             croupier_export_errors_total {}\n\
             # HELP croupier_export_connected Whether the export holds a PostgreSQL connection\n\
             # TYPE croupier_export_connected gauge\n\
             croupier_export_connected {}\n",
            self.exported_seq(),
            self.errors(),
            u8::from(self.shared.connected.load(Ordering::Relaxed)),
        )
    }
}

/// Checks `settings` and starts the worker on the current tokio runtime.
/// The server's journal is in `data_dir`; `readmodel` says how far the
/// worker may read. A URL that cannot be parsed (or names a bad `sslmode`
/// or an unreadable `sslrootcert`) is an error here (the server does not
/// start); an unreachable server is not: the worker retries until it
/// answers.
pub fn start(
    settings: &Settings,
    data_dir: PathBuf,
    readmodel: ReadModel,
) -> Result<(Exporter, JoinHandle<()>), ExportError> {
    let target = parse_url(&settings.url)?;
    let exporter = Exporter {
        shared: Arc::new(Shared::default()),
    };
    let worker = Worker {
        target,
        records_per_tx: settings.records_per_tx.max(1),
        data_dir,
        readmodel,
        shared: exporter.shared.clone(),
    };
    Ok((exporter, tokio::spawn(worker.run())))
}

/// A parsed connection string: where, and how (TLS).
#[derive(Clone)]
pub struct Target {
    config: tokio_postgres::Config,
    mode: SslMode,
    tls: tls::Tls,
}

impl Target {
    /// The `sslmode` it asked for (libpq's default, `prefer`, if none).
    pub fn ssl_mode(&self) -> SslMode {
        self.mode
    }

    /// Connects, with TLS as the mode says.
    async fn connect(&self) -> Result<(tokio_postgres::Client, JoinHandle<()>), tokio_postgres::Error> {
        let ended = |error: tokio_postgres::Error| tracing::debug!(%error, "export: PostgreSQL connection ended");
        Ok(match &self.tls {
            tls::Tls::Off => {
                let (client, connection) = self.config.connect(tokio_postgres::NoTls).await?;
                (
                    client,
                    tokio::spawn(async move { connection.await.unwrap_or_else(ended) }),
                )
            }
            tls::Tls::Rustls(connector) => {
                let (client, connection) = self.config.connect(connector.clone()).await?;
                (
                    client,
                    tokio::spawn(async move { connection.await.unwrap_or_else(ended) }),
                )
            }
        })
    }
}

/// Parses a connection URL or key-value string, with the parser's reason
/// when it is not one; reads the `sslrootcert` file it names.
pub fn parse_url(url: &str) -> Result<Target, ExportError> {
    let split = tls::split(url);
    let mut config = tokio_postgres::Config::from_str(&split.rest).map_err(|e| ExportError::Url(e.to_string()))?;
    if config.get_hosts().is_empty() {
        return Err(ExportError::Url("no host".into()));
    }
    let mode = tls::mode(split.sslmode.as_deref())?;
    let (pg_mode, tls) = tls::configure(mode, split.sslrootcert.as_deref())?;
    config.ssl_mode(pg_mode);
    Ok(Target { config, mode, tls })
}

/// Why one attempt failed (logged, then retried).
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("read model: {0}")]
    ReadModel(#[from] readmodel::ReadModelError),
    #[error("journal: {0}")]
    Journal(String),
    #[error("the PostgreSQL connection closed")]
    Closed,
    #[error(
        "the checkpoint moved under the export (at {found}, expected {expected}): another exporter writes to this database"
    )]
    CheckpointMoved { found: i64, expected: i64 },
}

struct Worker {
    target: Target,
    records_per_tx: u64,
    data_dir: PathBuf,
    readmodel: ReadModel,
    shared: Arc<Shared>,
}

/// What a transaction left behind.
struct Committed {
    /// The new checkpoint.
    checkpoint: i64,
    /// Whether exported players still wait for their country.
    pending: bool,
}

impl Worker {
    async fn run(self) {
        let mut delay = RETRY_MIN;
        loop {
            match self.attempt(&mut delay).await {
                Ok(()) => return,
                Err(error) => {
                    self.shared.connected.store(false, Ordering::Relaxed);
                    self.shared.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "export to PostgreSQL failed; retrying from its checkpoint");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(RETRY_MAX);
                }
            }
        }
    }

    /// Connects, makes sure the tables exist, then exports until an error.
    async fn attempt(&self, delay: &mut Duration) -> Result<(), AttemptError> {
        let (mut client, driver) = self.target.connect().await?;
        let result = async {
            client.batch_execute(SCHEMA).await?;
            let row = client
                .query_one(
                    "SELECT seq, report_tables FROM croupier_export_checkpoint WHERE id = 1",
                    &[],
                )
                .await?;
            let (checkpoint, report_tables): (i64, bool) = (row.get(0), row.get(1));
            self.shared.exported.store(checkpoint as u64, Ordering::Release);
            self.shared.connected.store(true, Ordering::Relaxed);
            tracing::info!(checkpoint, ssl_mode = ?self.target.mode, "export to PostgreSQL connected");
            *delay = RETRY_MIN;
            self.follow(&mut client, checkpoint, report_tables).await
        }
        .await;
        drop(client);
        let _ = driver.await;
        result
    }

    /// Exports what the read model applies, from `checkpoint`, until an
    /// error or the server's stop.
    async fn follow(
        &self,
        client: &mut tokio_postgres::Client,
        mut checkpoint: i64,
        mut report_tables: bool,
    ) -> Result<(), AttemptError> {
        let mut applied_watch = self.readmodel.applied_watch();
        let mut pending = true;
        let mut looked = Instant::now();
        loop {
            let applied = *applied_watch.borrow_and_update() as i64;
            if !report_tables && applied >= checkpoint {
                pending = self.back_fill(client, checkpoint).await?;
                report_tables = true;
                continue;
            }
            if pending && report_tables && looked.elapsed() >= PENDING_EVERY {
                if let Some(filler) = self.shared.filler.get() {
                    filler().await;
                }
                looked = Instant::now();
                if applied <= checkpoint {
                    // Idle: a transaction for the pending players alone
                    // (an empty run); otherwise the next run takes them.
                    pending = self.export(client, checkpoint, checkpoint).await?.pending;
                    continue;
                }
            }
            if applied <= checkpoint || !report_tables {
                // Nothing new yet: wait for the read model, without
                // making it hurry (or time out and look again, so a
                // dead connection is noticed while idle).
                let next = tokio::time::timeout(FOLLOW_WAIT, applied_watch.changed()).await;
                if let Ok(Err(_)) = next {
                    // The read model is gone: the server is stopping.
                    return Ok(());
                }
                if client.is_closed() {
                    return Err(AttemptError::Closed);
                }
                continue;
            }
            let until = applied.min(checkpoint + self.records_per_tx as i64);
            let committed = self.export(client, checkpoint, until).await?;
            checkpoint = committed.checkpoint;
            pending = committed.pending;
            self.shared.exported.store(checkpoint as u64, Ordering::Release);
        }
    }

    /// Locks the checkpoint row and checks it is still `expected`.
    async fn lock_checkpoint(tx: &tokio_postgres::Transaction<'_>, expected: i64) -> Result<(), AttemptError> {
        let found: i64 = tx
            .query_one(
                "SELECT seq FROM croupier_export_checkpoint WHERE id = 1 FOR UPDATE",
                &[],
            )
            .await?
            .get(0);
        if found != expected {
            return Err(AttemptError::CheckpointMoved { found, expected });
        }
        Ok(())
    }

    /// Whether exported players wait for their country (after `tx`'s rows).
    async fn any_pending(tx: &tokio_postgres::Transaction<'_>) -> Result<bool, AttemptError> {
        Ok(tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM croupier_players WHERE country_pending)",
                &[],
            )
            .await?
            .get(0))
    }

    /// Fills the audit, payments and players tables (new, or made by an
    /// older release) with every row up to `checkpoint`, which the read
    /// model holds: the rows last changed in each next `records_per_tx`
    /// sequence numbers in a transaction of their own, so that neither the
    /// server's memory nor PostgreSQL's transaction grows with the
    /// database; the last one marks the tables filled. A row changed again
    /// meanwhile leaves its range and is exported by the run after
    /// `checkpoint`. An attempt cut short starts again from the first
    /// range: the audit rows already there are kept, the payments and
    /// players upserted again, so nothing is lost or doubled.
    async fn back_fill(&self, client: &mut tokio_postgres::Client, checkpoint: i64) -> Result<bool, AttemptError> {
        let step = self.records_per_tx as i64;
        let (mut after, mut filled) = (-1_i64, rows::Counts::default());
        loop {
            let until = (after.max(0) + step).min(checkpoint);
            let tx = client.transaction().await?;
            Self::lock_checkpoint(&tx, checkpoint).await?;
            let (reports, _) = self
                .readmodel
                .query(move |c| rows::read_back_fill(c, after, until))
                .await?;
            rows::insert_audit_again(&tx, &reports.audit).await?;
            rows::upsert_payments(&tx, &reports.payments).await?;
            rows::upsert_players(&tx, &reports.players).await?;
            filled.add(&reports);
            if until < checkpoint {
                tx.commit().await?;
                after = until;
                continue;
            }
            tx.execute(
                "UPDATE croupier_export_checkpoint SET report_tables = true WHERE id = 1",
                &[],
            )
            .await?;
            let pending = Self::any_pending(&tx).await?;
            tx.commit().await?;
            tracing::info!(
                checkpoint,
                audit = filled.audit,
                payments = filled.payments,
                players = filled.players,
                "export: the audit trail, payments and players back-filled"
            );
            return Ok(pending);
        }
    }

    /// Exports the records after `checkpoint` up to `until` in one
    /// transaction, with the rows changed by them and the pending players
    /// filled since; returns the new checkpoint.
    async fn export(
        &self,
        client: &mut tokio_postgres::Client,
        checkpoint: i64,
        until: i64,
    ) -> Result<Committed, AttemptError> {
        let (records, first_seq) = if until > checkpoint {
            let data_dir = self.data_dir.clone();
            tokio::task::spawn_blocking(move || read_journal(&data_dir, checkpoint as u64 + 1, until as u64))
                .await
                .map_err(|e| AttemptError::Journal(e.to_string()))??
        } else {
            (Records::default(), checkpoint + 1)
        };
        let last = records.seq.last().copied().unwrap_or(checkpoint).max(until);
        let tx = client.transaction().await?;
        Self::lock_checkpoint(&tx, checkpoint).await?;
        let pending: Vec<(i64, i64)> = tx
            .query(
                "SELECT player, seq FROM croupier_players WHERE country_pending ORDER BY player LIMIT $1",
                &[&PENDING_MAX],
            )
            .await?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        let (reports, _) = self
            .readmodel
            .query(move |c| rows::read(c, checkpoint, until, &pending))
            .await?;
        if first_seq > checkpoint + 1 {
            tracing::warn!(
                from = checkpoint + 1,
                to = first_seq - 1,
                "export: the journal before these records was retired; recording the gap"
            );
            tx.execute(
                "INSERT INTO croupier_export_gaps (from_seq, to_seq) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&(checkpoint + 1), &(first_seq - 1).min(until)],
            )
            .await?;
        }
        insert_records(&tx, &records).await?;
        rows::insert_movements(&tx, &reports.movements).await?;
        rows::insert_audit(&tx, &reports.audit).await?;
        rows::upsert_payments(&tx, &reports.payments).await?;
        rows::upsert_players(&tx, &reports.players).await?;
        tx.execute(
            "UPDATE croupier_export_checkpoint SET seq = $1, updated_at = now() WHERE id = 1",
            &[&last],
        )
        .await?;
        let pending = Self::any_pending(&tx).await?;
        tx.commit().await?;
        Ok(Committed {
            checkpoint: last,
            pending,
        })
    }
}

/// Inserts the journal records.
async fn insert_records(tx: &tokio_postgres::Transaction<'_>, records: &Records) -> Result<(), AttemptError> {
    if records.seq.is_empty() {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO croupier_journal (seq, time_ms, time, source, request_id, kind, player, accepted, rejection)
         SELECT seq, time_ms, to_timestamp(time_ms / 1000.0), source, request_id, kind, player, accepted, rejection
         FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[],
                     $7::BOOLEAN[], $8::TEXT[])
              AS r (seq, time_ms, source, request_id, kind, player, accepted, rejection)",
        &[
            &records.seq,
            &records.time_ms,
            &records.source,
            &records.request_id,
            &records.kind,
            &records.player,
            &records.accepted,
            &records.rejection,
        ],
    )
    .await?;
    Ok(())
}

/// Journal records as columns (what `UNNEST` takes).
#[derive(Default)]
struct Records {
    seq: Vec<i64>,
    time_ms: Vec<i64>,
    source: Vec<i64>,
    request_id: Vec<String>,
    kind: Vec<String>,
    player: Vec<Option<i64>>,
    accepted: Vec<bool>,
    rejection: Vec<Option<String>>,
}

/// Reads records `from..=until` from the journal in `data_dir`; also
/// returns the first sequence number the journal still holds at or after
/// `from` (past `from` when older segments were retired).
fn read_journal(data_dir: &std::path::Path, from: u64, until: u64) -> Result<(Records, i64), AttemptError> {
    let reader = journal::Reader::open(data_dir).map_err(|e| AttemptError::Journal(e.to_string()))?;
    let start = from.max(reader.first_seq());
    let mut records = Records::default();
    let mut batches = reader.batches_from(start);
    let mut next_seq = start;
    // Never asks the reader for a batch past `until`: the writer may be
    // writing it right now, and a half-written batch reads as corrupt.
    'batches: while next_seq <= until {
        let Some(batch) = batches.next() else { break };
        let batch = batch.map_err(|e| AttemptError::Journal(e.to_string()))?;
        next_seq = batch.first_seq + batch.records.len() as u64;
        for (i, bytes) in batch.records.iter().enumerate() {
            let seq = batch.first_seq + i as u64;
            if seq > until {
                break 'batches;
            }
            if seq < start {
                continue;
            }
            let committed =
                engine::record::decode(bytes).map_err(|e| AttemptError::Journal(format!("record {seq}: {e}")))?;
            if committed.envelope.seq != seq {
                return Err(AttemptError::Journal(format!(
                    "record {seq} holds sequence number {}",
                    committed.envelope.seq
                )));
            }
            let request = &committed.envelope.request;
            records.seq.push(seq as i64);
            records.time_ms.push(committed.envelope.time_ms as i64);
            records.source.push(i64::from(request.source.0));
            records.request_id.push(request.id.as_str().to_owned());
            records.kind.push(request.command.kind().to_owned());
            records.player.push(request.command.player().map(|p| p.0 as i64));
            let rejection = committed.outcome.rejection();
            records.accepted.push(rejection.is_none());
            records.rejection.push(rejection.map(|r| format!("{r:?}")));
        }
    }
    // The read model has applied `until`, so the journal holds it: a
    // shorter read is an error, never a reason to move the checkpoint.
    if start <= until && records.seq.last() != Some(&(until as i64)) {
        return Err(AttemptError::Journal(format!(
            "the journal ends at {:?}, before {until} that the read model has applied",
            records.seq.last()
        )));
    }
    Ok((records, start as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal in `dir` of `batches` batches of two real records each
    /// (a workload's set-up applied by a ledger); returns each batch's
    /// byte offset in the first segment.
    fn journal_of(dir: &std::path::Path, batches: usize) -> Vec<u64> {
        use engine::workload::Workload;
        use engine::{Config, Currency, Envelope, Ledger};
        let config = journal::JournalConfig {
            segment_size_bytes: 1 << 20,
            flush: journal::FlushPolicy::Always,
        };
        let (mut writer, _) = journal::Journal::open(dir, config).unwrap();
        let mut ledger = Ledger::new(Config::default());
        let mut workload = Workload::new(3, 50, Currency::EUR);
        let mut requests = workload.setup();
        let mut offsets = Vec::new();
        for _ in 0..batches {
            offsets.push(writer.write_offset_bytes());
            let first_seq = writer.next_seq();
            let records: Vec<Vec<u8>> = (0..2)
                .map(|i| {
                    let envelope = Envelope {
                        seq: first_seq + i,
                        time_ms: 1_000 + first_seq + i,
                        request: requests.next().unwrap(),
                    };
                    let outcome = ledger.apply(&envelope);
                    engine::record::encode(&engine::sequencer::Committed { envelope, outcome })
                })
                .collect();
            writer.append(first_seq, &records).unwrap();
            writer.flush().unwrap();
        }
        offsets
    }

    #[test]
    fn the_journal_is_read_up_to_the_applied_record_and_never_the_batch_after() {
        let dir = tempfile::tempdir().unwrap();
        let offsets = journal_of(dir.path(), 3);
        // The batch after record 2 as a reader may meet it while the
        // writer is writing it: its header not there yet, the batch
        // after it already whole.
        let segment = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| path.extension().is_some_and(|e| e == "seg"))
            .unwrap();
        let mut bytes = std::fs::read(&segment).unwrap();
        let at = offsets[1] as usize;
        bytes[at..at + 8].fill(0);
        std::fs::write(&segment, bytes).unwrap();

        let (records, start) = read_journal(dir.path(), 1, 2).unwrap();
        assert_eq!((records.seq, start), (vec![1, 2], 1));
        // Asked past it, the reader does meet it.
        assert!(matches!(read_journal(dir.path(), 1, 4), Err(AttemptError::Journal(_))));
    }

    #[test]
    fn the_url_names_the_mode_and_tokio_postgres_gets_the_rest() {
        for (url, mode) in [
            ("postgres://u@h/db", SslMode::Prefer),
            ("postgres://u@h/db?sslmode=verify-full", SslMode::VerifyFull),
            (
                "postgres://u@h/db?application_name=x&sslmode=verify-ca",
                SslMode::VerifyCa,
            ),
            ("host=h user=u sslmode=disable", SslMode::Disable),
            ("host=h user=u sslmode=require dbname=d", SslMode::Require),
        ] {
            let target = parse_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(target.ssl_mode(), mode, "{url}");
            let expected = match mode {
                SslMode::Disable => tokio_postgres::config::SslMode::Disable,
                SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
                _ => tokio_postgres::config::SslMode::Require,
            };
            assert_eq!(target.config.get_ssl_mode(), expected, "{url}");
        }
        for url in ["postgres://u@h/db?sslmode=allow", "postgres://", "not a url"] {
            assert!(parse_url(url).is_err(), "{url}");
        }
    }
}
