//! Export to PostgreSQL: a worker off the read model that streams every
//! committed journal record, and each money movement with its report
//! figures, into a PostgreSQL database for BI tools and operators who
//! outgrow the embedded store.
//!
//! - **Off the money path.** The worker follows the read model
//!   ([`readmodel::ReadModel::applied_seq`]), never the sequencer: it reads
//!   the journal records and the movements the read model has applied, so
//!   neither the wallet nor the projection ever waits for PostgreSQL. A
//!   slow or absent server only makes the export lag
//!   (`croupier_export_seq` in `/metrics`).
//! - **Exactly once, by sequence number.** Each PostgreSQL transaction
//!   inserts the rows of a run of sequence numbers *and* moves the
//!   checkpoint (`croupier_export_checkpoint`) past them, after locking the
//!   checkpoint row and checking it is where the worker read it. A crash
//!   or a lost connection rolls both back together; a restart resumes from
//!   the checkpoint. The journal table's primary key is the sequence
//!   number, so a duplicate could not even be written.
//! - **Outages are survived.** Any error (connection refused, server
//!   restarted, a statement failing) drops the connection, waits a little
//!   (doubling up to [`RETRY_MAX`]) and starts again from the checkpoint
//!   PostgreSQL holds: nothing is skipped and nothing is sent twice.
//! - **Retired journal.** If the journal before the checkpoint was retired
//!   (snapshots and retention), those records cannot be exported: the
//!   worker records the gap in `croupier_export_gaps` in the same
//!   transaction and goes on from the journal's first record.
//!
//! The tables ([`SCHEMA`]) are created if missing; amounts are integer
//! minor units, as in the ledger.

#![deny(missing_docs)]

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use readmodel::ReadModel;
use tokio::task::JoinHandle;

/// What can stop the export from starting.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The URL is not a PostgreSQL connection string.
    #[error(
        "export to PostgreSQL: invalid --export-postgres-url ({0}); expected postgres://user[:password]@host[:port]/database"
    )]
    Url(String),
}

/// Where to export to.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The PostgreSQL connection URL (`postgres://user:password@host:port/db`)
    /// or key-value string (`host=… user=… dbname=…`).
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
/// - `croupier_ggr_daily`: a view over the movements: turnover, prizes,
///   GGR, bonus cost and active players per UTC day and currency.
/// - `croupier_export_checkpoint`: the last sequence number exported
///   (one row), moved in the same transaction as the rows.
/// - `croupier_export_gaps`: runs of sequence numbers the journal had
///   retired before they could be exported.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS croupier_export_checkpoint (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO croupier_export_checkpoint (id, seq) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
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
";

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
/// worker may read. A URL that cannot be parsed is an error here (the
/// server does not start); an unreachable server is not: the worker
/// retries until it answers.
pub fn start(
    settings: &Settings,
    data_dir: PathBuf,
    readmodel: ReadModel,
) -> Result<(Exporter, JoinHandle<()>), ExportError> {
    let config = parse_url(&settings.url)?;
    let exporter = Exporter {
        shared: Arc::new(Shared::default()),
    };
    let worker = Worker {
        config,
        records_per_tx: settings.records_per_tx.max(1),
        data_dir,
        readmodel,
        shared: exporter.shared.clone(),
    };
    Ok((exporter, tokio::spawn(worker.run())))
}

/// Parses a connection URL or key-value string, with the parser's reason
/// when it is not one.
pub fn parse_url(url: &str) -> Result<tokio_postgres::Config, ExportError> {
    let config = tokio_postgres::Config::from_str(url).map_err(|e| ExportError::Url(e.to_string()))?;
    if config.get_hosts().is_empty() {
        return Err(ExportError::Url("no host".into()));
    }
    Ok(config)
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
    config: tokio_postgres::Config,
    records_per_tx: u64,
    data_dir: PathBuf,
    readmodel: ReadModel,
    shared: Arc<Shared>,
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
        let (mut client, connection) = self.config.connect(tokio_postgres::NoTls).await?;
        let driver = tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "export: PostgreSQL connection ended");
            }
        });
        let result = async {
            client.batch_execute(SCHEMA).await?;
            let row = client
                .query_one("SELECT seq FROM croupier_export_checkpoint WHERE id = 1", &[])
                .await?;
            let mut checkpoint: i64 = row.get(0);
            self.shared.exported.store(checkpoint as u64, Ordering::Release);
            self.shared.connected.store(true, Ordering::Relaxed);
            tracing::info!(checkpoint, "export to PostgreSQL connected");
            *delay = RETRY_MIN;
            let mut applied_watch = self.readmodel.applied_watch();
            loop {
                let applied = *applied_watch.borrow_and_update() as i64;
                if applied <= checkpoint {
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
                checkpoint = self.export(&mut client, checkpoint, until).await?;
                self.shared.exported.store(checkpoint as u64, Ordering::Release);
            }
        }
        .await;
        drop(client);
        let _ = driver.await;
        result
    }

    /// Exports the records after `checkpoint` up to `until` in one
    /// transaction; returns the new checkpoint.
    async fn export(
        &self,
        client: &mut tokio_postgres::Client,
        checkpoint: i64,
        until: i64,
    ) -> Result<i64, AttemptError> {
        let data_dir = self.data_dir.clone();
        let (records, first_seq) =
            tokio::task::spawn_blocking(move || read_journal(&data_dir, checkpoint as u64 + 1, until as u64))
                .await
                .map_err(|e| AttemptError::Journal(e.to_string()))??;
        let (movements, _) = self
            .readmodel
            .query(move |c| read_movements(c, checkpoint, until))
            .await?;
        let last = records.seq.last().copied().unwrap_or(checkpoint);
        let tx = client.transaction().await?;
        let found: i64 = tx
            .query_one(
                "SELECT seq FROM croupier_export_checkpoint WHERE id = 1 FOR UPDATE",
                &[],
            )
            .await?
            .get(0);
        if found != checkpoint {
            return Err(AttemptError::CheckpointMoved {
                found,
                expected: checkpoint,
            });
        }
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
        if !records.seq.is_empty() {
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
        }
        if !movements.seq.is_empty() {
            tx.execute(
                "INSERT INTO croupier_movements (seq, time, player, currency, kind, cash_delta, bonus_delta, cash,
                     bonus, reserved, game, round, stake, bonus_stake, prize, cash_prize, converted, jackpot, granted)
                 SELECT seq, to_timestamp(time_ms / 1000.0), player, currency, kind, cash_delta, bonus_delta, cash,
                     bonus, reserved, game, round, f[1], f[2], f[3], f[4], f[5], f[6], f[7]
                 FROM (SELECT *, ARRAY[stake, bonus_stake, prize, cash_prize, converted, jackpot, granted] AS f
                       FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[],
                                   $7::BIGINT[], $8::BIGINT[], $9::BIGINT[], $10::BIGINT[], $11::TEXT[], $12::TEXT[],
                                   $13::BIGINT[], $14::BIGINT[], $15::BIGINT[], $16::BIGINT[], $17::BIGINT[],
                                   $18::BIGINT[], $19::BIGINT[])
                       AS m (seq, time_ms, player, currency, kind, cash_delta, bonus_delta, cash, bonus, reserved,
                             game, round, stake, bonus_stake, prize, cash_prize, converted, jackpot, granted)) AS m",
                &[
                    &movements.seq,
                    &movements.time_ms,
                    &movements.player,
                    &movements.currency,
                    &movements.kind,
                    &movements.cash_delta,
                    &movements.bonus_delta,
                    &movements.cash,
                    &movements.bonus,
                    &movements.reserved,
                    &movements.game,
                    &movements.round,
                    &movements.figures[0],
                    &movements.figures[1],
                    &movements.figures[2],
                    &movements.figures[3],
                    &movements.figures[4],
                    &movements.figures[5],
                    &movements.figures[6],
                ],
            )
            .await?;
        }
        tx.execute(
            "UPDATE croupier_export_checkpoint SET seq = $1, updated_at = now() WHERE id = 1",
            &[&last.max(until)],
        )
        .await?;
        tx.commit().await?;
        Ok(last.max(until))
    }
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
    'batches: for batch in reader.batches_from(start) {
        let batch = batch.map_err(|e| AttemptError::Journal(e.to_string()))?;
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

/// Movements as columns.
#[derive(Default)]
struct Movements {
    seq: Vec<i64>,
    time_ms: Vec<i64>,
    player: Vec<i64>,
    currency: Vec<String>,
    kind: Vec<String>,
    cash_delta: Vec<i64>,
    bonus_delta: Vec<i64>,
    cash: Vec<i64>,
    bonus: Vec<i64>,
    reserved: Vec<i64>,
    game: Vec<Option<String>>,
    round: Vec<Option<String>>,
    figures: [Vec<i64>; 7],
}

/// The read model's movements after `after` up to `until`.
fn read_movements(c: &rusqlite::Connection, after: i64, until: i64) -> Result<Movements, readmodel::ReadModelError> {
    let mut statement = c.prepare_cached(
        "SELECT seq, time_ms, player, currency, kind, cash_delta, bonus_delta, cash, bonus, reserved, game, round,
                stake, bonus_stake, prize, cash_prize, converted, jackpot, granted
         FROM movements WHERE seq > ?1 AND seq <= ?2 ORDER BY seq",
    )?;
    let mut rows = statement.query(rusqlite::params![after, until])?;
    let mut m = Movements::default();
    while let Some(row) = rows.next()? {
        m.seq.push(row.get(0)?);
        m.time_ms.push(row.get(1)?);
        m.player.push(row.get(2)?);
        m.currency.push(row.get(3)?);
        m.kind.push(row.get(4)?);
        m.cash_delta.push(row.get(5)?);
        m.bonus_delta.push(row.get(6)?);
        m.cash.push(row.get(7)?);
        m.bonus.push(row.get(8)?);
        m.reserved.push(row.get(9)?);
        m.game.push(row.get(10)?);
        m.round.push(row.get(11)?);
        for (i, figure) in m.figures.iter_mut().enumerate() {
            figure.push(row.get(12 + i)?);
        }
    }
    Ok(m)
}
