//! The read model's rows the export copies, as columns (what PostgreSQL's
//! `UNNEST` takes), and the statements that write them.
//!
//! Movements and the audit trail are appended (each row one sequence
//! number). Payments and players
//! are upserted: each row carries the sequence number of its last
//! journaled change (`changed_seq` in the read model), the export takes
//! the rows whose change is in the run of sequence numbers it commits,
//! and an upsert replaces a row only by one at least as new, so a run
//! replayed from the checkpoint writes the same rows again, never an older
//! state. A row changed again after the run is left to the run that holds
//! that change: PostgreSQL never holds a state newer than its checkpoint.
//!
//! A player's country is not journaled (the gateway fills it from the
//! sealed profile after the record, `readmodel::profiles`): a player row
//! exported while it is owed says `country_pending`, and each transaction
//! takes again up to [`PENDING_MAX`] such players whose country has been
//! filled since, at the same change.

use readmodel::ReadModelError;
use rusqlite::{Connection, params};

/// Pending players looked at again per transaction at most.
pub const PENDING_MAX: i64 = 1_000;

/// Movements as columns.
#[derive(Default)]
pub(crate) struct Movements {
    pub seq: Vec<i64>,
    pub time_ms: Vec<i64>,
    pub player: Vec<i64>,
    pub currency: Vec<String>,
    pub kind: Vec<String>,
    pub cash_delta: Vec<i64>,
    pub bonus_delta: Vec<i64>,
    pub cash: Vec<i64>,
    pub bonus: Vec<i64>,
    pub reserved: Vec<i64>,
    pub game: Vec<Option<String>>,
    pub round: Vec<Option<String>>,
    pub figures: [Vec<i64>; 7],
}

/// Payments as columns.
#[derive(Default)]
pub(crate) struct Payments {
    pub source: Vec<i64>,
    pub id: Vec<String>,
    pub kind: Vec<String>,
    pub player: Vec<i64>,
    pub currency: Vec<String>,
    pub amount: Vec<i64>,
    pub state: Vec<String>,
    pub provider: Vec<Option<String>>,
    pub reference: Vec<Option<String>>,
    pub method: Vec<Option<String>>,
    pub held_reason: Vec<Option<String>>,
    pub charged_back: Vec<i64>,
    pub shortfall: Vec<i64>,
    pub created_ms: Vec<i64>,
    pub updated_ms: Vec<i64>,
    pub seq: Vec<i64>,
}

/// Players as columns.
#[derive(Default)]
pub(crate) struct Players {
    pub player: Vec<i64>,
    pub currency: Vec<Option<String>>,
    pub jurisdiction: Vec<Option<String>>,
    pub registered_ms: Vec<Option<i64>>,
    pub brand: Vec<String>,
    pub affiliate: Vec<Option<String>>,
    pub country: Vec<Option<String>>,
    pub country_pending: Vec<bool>,
    pub status: Vec<String>,
    pub erased: Vec<bool>,
    pub seq: Vec<i64>,
}

/// Operators' actions (the read model's audit trail) as columns.
#[derive(Default)]
pub(crate) struct Audit {
    pub seq: Vec<i64>,
    pub time_ms: Vec<i64>,
    pub operator: Vec<i64>,
    pub operator_name: Vec<String>,
    pub request_id: Vec<String>,
    pub kind: Vec<String>,
    pub target_type: Vec<Option<String>>,
    pub target: Vec<Option<i64>>,
    pub field: Vec<Option<String>>,
    pub before: Vec<Option<String>>,
    pub after: Vec<Option<String>>,
    pub detail: Vec<Option<String>>,
    pub accepted: Vec<bool>,
}

/// What one transaction copies from the read model, read in one read
/// transaction (one state of the views).
#[derive(Default)]
pub(crate) struct Reports {
    pub movements: Movements,
    pub audit: Audit,
    pub payments: Payments,
    pub players: Players,
}

/// The rows changed after `after` up to `until`, and the `pending`
/// players (id, exported change) whose country has been filled since at
/// that same change.
pub(crate) fn read(c: &Connection, after: i64, until: i64, pending: &[(i64, i64)]) -> Result<Reports, ReadModelError> {
    let mut reports = read_back_fill(c, after, until)?;
    read_movements(c, after, until, &mut reports.movements)?;
    read_filled(c, pending, &mut reports.players)?;
    Ok(reports)
}

/// The back-fill's rows changed after `after` (−1: from the first) up to
/// `until`: the audit trail, payments and players, not the movements,
/// which older releases exported.
pub(crate) fn read_back_fill(c: &Connection, after: i64, until: i64) -> Result<Reports, ReadModelError> {
    let mut reports = Reports::default();
    read_audit(c, after, until, &mut reports.audit)?;
    read_payments(c, after, until, &mut reports.payments)?;
    read_players(c, after, until, &mut reports.players)?;
    Ok(reports)
}

/// Rows a back-fill copied, for its log line.
#[derive(Default)]
pub(crate) struct Counts {
    pub audit: usize,
    pub payments: usize,
    pub players: usize,
}

impl Counts {
    pub(crate) fn add(&mut self, reports: &Reports) {
        self.audit += reports.audit.seq.len();
        self.payments += reports.payments.source.len();
        self.players += reports.players.player.len();
    }
}

fn read_movements(c: &Connection, after: i64, until: i64, m: &mut Movements) -> Result<(), ReadModelError> {
    let mut statement = c.prepare_cached(
        "SELECT seq, time_ms, player, currency, kind, cash_delta, bonus_delta, cash, bonus, reserved, game, round,
                stake, bonus_stake, prize, cash_prize, converted, jackpot, granted
         FROM movements WHERE seq > ?1 AND seq <= ?2 ORDER BY seq",
    )?;
    let mut rows = statement.query(params![after, until])?;
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
    Ok(())
}

fn read_audit(c: &Connection, after: i64, until: i64, a: &mut Audit) -> Result<(), ReadModelError> {
    let mut statement = c.prepare_cached(
        "SELECT seq, time_ms, operator, operator_name, request_id, kind, target_type, target, field, before, after,
                detail, ok
         FROM audit WHERE seq > ?1 AND seq <= ?2 ORDER BY seq",
    )?;
    let mut rows = statement.query(params![after, until])?;
    while let Some(row) = rows.next()? {
        a.seq.push(row.get(0)?);
        a.time_ms.push(row.get(1)?);
        a.operator.push(row.get(2)?);
        a.operator_name.push(row.get(3)?);
        a.request_id.push(row.get(4)?);
        a.kind.push(row.get(5)?);
        a.target_type.push(row.get(6)?);
        a.target.push(row.get(7)?);
        a.field.push(row.get(8)?);
        a.before.push(row.get(9)?);
        a.after.push(row.get(10)?);
        a.detail.push(row.get(11)?);
        a.accepted.push(row.get(12)?);
    }
    Ok(())
}

fn read_payments(c: &Connection, after: i64, until: i64, p: &mut Payments) -> Result<(), ReadModelError> {
    let mut statement = c.prepare_cached(
        "SELECT source, ext_id, kind, player, currency, amount_minor, state, provider, reference, method,
                held_reason, charged_back_minor, shortfall_minor, created_ms, updated_ms, changed_seq
         FROM cashier_payments WHERE changed_seq > ?1 AND changed_seq <= ?2",
    )?;
    let mut rows = statement.query(params![after, until])?;
    while let Some(row) = rows.next()? {
        p.source.push(row.get(0)?);
        p.id.push(row.get(1)?);
        p.kind.push(row.get(2)?);
        p.player.push(row.get(3)?);
        p.currency.push(row.get(4)?);
        p.amount.push(row.get(5)?);
        p.state.push(row.get(6)?);
        p.provider.push(row.get(7)?);
        p.reference.push(row.get(8)?);
        p.method.push(row.get(9)?);
        p.held_reason.push(row.get(10)?);
        p.charged_back.push(row.get(11)?);
        p.shortfall.push(row.get(12)?);
        p.created_ms.push(row.get(13)?);
        p.updated_ms.push(row.get(14)?);
        p.seq.push(row.get(15)?);
    }
    Ok(())
}

/// A player's row: the profile (status, registration, country) and the
/// attribution (brand, affiliate); its change is the later of the two.
/// Never the birth year, the sealed profile or anything else personal.
const PLAYER_COLUMNS: &str = "p.player, pl.currency, p.jurisdiction, p.registered_at_ms,
    COALESCE(a.brand, 'default'), a.affiliate, p.country, p.attributes_pending = 1 AND p.profile IS NOT NULL,
    p.status, p.erased_at_ms IS NOT NULL, MAX(p.changed_seq, COALESCE(a.seq, 0))";

fn read_players(c: &Connection, after: i64, until: i64, p: &mut Players) -> Result<(), ReadModelError> {
    let sql = format!(
        "WITH changed (player) AS (
             SELECT player FROM profiles WHERE changed_seq > ?1 AND changed_seq <= ?2
             UNION SELECT player FROM attributions WHERE seq > ?1 AND seq <= ?2)
         SELECT {PLAYER_COLUMNS} FROM changed JOIN profiles p ON p.player = changed.player
             LEFT JOIN players pl ON pl.player = p.player LEFT JOIN attributions a ON a.player = p.player
         WHERE MAX(p.changed_seq, COALESCE(a.seq, 0)) <= ?2"
    );
    let mut statement = c.prepare_cached(&sql)?;
    let mut rows = statement.query(params![after, until])?;
    while let Some(row) = rows.next()? {
        push_player(p, row)?;
    }
    Ok(())
}

/// The `pending` players whose country is no longer owed, at the change
/// PostgreSQL holds (a player changed since is the run's to export).
fn read_filled(c: &Connection, pending: &[(i64, i64)], p: &mut Players) -> Result<(), ReadModelError> {
    let sql = format!(
        "SELECT {PLAYER_COLUMNS} FROM profiles p LEFT JOIN players pl ON pl.player = p.player
             LEFT JOIN attributions a ON a.player = p.player
         WHERE p.player = ?1 AND MAX(p.changed_seq, COALESCE(a.seq, 0)) = ?2
             AND NOT (p.attributes_pending = 1 AND p.profile IS NOT NULL)"
    );
    let mut statement = c.prepare_cached(&sql)?;
    for (player, seq) in pending {
        let mut rows = statement.query(params![player, seq])?;
        if let Some(row) = rows.next()? {
            push_player(p, row)?;
        }
    }
    Ok(())
}

fn push_player(p: &mut Players, row: &rusqlite::Row<'_>) -> Result<(), ReadModelError> {
    p.player.push(row.get(0)?);
    p.currency.push(row.get(1)?);
    p.jurisdiction.push(row.get(2)?);
    p.registered_ms.push(row.get(3)?);
    p.brand.push(row.get(4)?);
    p.affiliate.push(row.get(5)?);
    p.country.push(row.get(6)?);
    p.country_pending.push(row.get(7)?);
    p.status.push(row.get(8)?);
    p.erased.push(row.get(9)?);
    p.seq.push(row.get(10)?);
    Ok(())
}

/// Appends the movements.
pub(crate) async fn insert_movements(
    tx: &tokio_postgres::Transaction<'_>,
    m: &Movements,
) -> Result<(), tokio_postgres::Error> {
    if m.seq.is_empty() {
        return Ok(());
    }
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
            &m.seq,
            &m.time_ms,
            &m.player,
            &m.currency,
            &m.kind,
            &m.cash_delta,
            &m.bonus_delta,
            &m.cash,
            &m.bonus,
            &m.reserved,
            &m.game,
            &m.round,
            &m.figures[0],
            &m.figures[1],
            &m.figures[2],
            &m.figures[3],
            &m.figures[4],
            &m.figures[5],
            &m.figures[6],
        ],
    )
    .await?;
    Ok(())
}

/// Appends the audit rows.
pub(crate) async fn insert_audit(tx: &tokio_postgres::Transaction<'_>, a: &Audit) -> Result<(), tokio_postgres::Error> {
    insert_audit_with(tx, a, "").await
}

/// [`insert_audit`] for a back-fill started again: rows already there
/// (by sequence number, the same record) are kept.
pub(crate) async fn insert_audit_again(
    tx: &tokio_postgres::Transaction<'_>,
    a: &Audit,
) -> Result<(), tokio_postgres::Error> {
    insert_audit_with(tx, a, "ON CONFLICT (seq) DO NOTHING").await
}

async fn insert_audit_with(
    tx: &tokio_postgres::Transaction<'_>,
    a: &Audit,
    on_conflict: &str,
) -> Result<(), tokio_postgres::Error> {
    if a.seq.is_empty() {
        return Ok(());
    }
    let statement = format!(
        "INSERT INTO croupier_audit (seq, time, operator, operator_name, request_id, kind, target_type, target, field,
             before, after, detail, accepted)
         SELECT seq, to_timestamp(time_ms / 1000.0), operator, operator_name, request_id, kind, target_type, target,
             field, before, after, detail, accepted
         FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[],
                     $8::BIGINT[], $9::TEXT[], $10::TEXT[], $11::TEXT[], $12::TEXT[], $13::BOOLEAN[])
              AS a (seq, time_ms, operator, operator_name, request_id, kind, target_type, target, field, before,
                    after, detail, accepted)
         {on_conflict}"
    );
    tx.execute(
        statement.as_str(),
        &[
            &a.seq,
            &a.time_ms,
            &a.operator,
            &a.operator_name,
            &a.request_id,
            &a.kind,
            &a.target_type,
            &a.target,
            &a.field,
            &a.before,
            &a.after,
            &a.detail,
            &a.accepted,
        ],
    )
    .await?;
    Ok(())
}

/// Upserts the payments (a row only replaced by one at least as new).
pub(crate) async fn upsert_payments(
    tx: &tokio_postgres::Transaction<'_>,
    p: &Payments,
) -> Result<(), tokio_postgres::Error> {
    if p.seq.is_empty() {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO croupier_payments AS t (source, id, kind, player, currency, amount, state, provider, reference,
             method, held_reason, charged_back, shortfall, created_at, updated_at, seq)
         SELECT source, id, kind, player, currency, amount, state, provider, reference, method, held_reason,
             charged_back, shortfall, to_timestamp(created_ms / 1000.0), to_timestamp(updated_ms / 1000.0), seq
         FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[], $6::BIGINT[], $7::TEXT[],
                     $8::TEXT[], $9::TEXT[], $10::TEXT[], $11::TEXT[], $12::BIGINT[], $13::BIGINT[],
                     $14::BIGINT[], $15::BIGINT[], $16::BIGINT[])
              AS p (source, id, kind, player, currency, amount, state, provider, reference, method, held_reason,
                    charged_back, shortfall, created_ms, updated_ms, seq)
         ON CONFLICT (source, id) DO UPDATE SET kind = EXCLUDED.kind, player = EXCLUDED.player,
             currency = EXCLUDED.currency, amount = EXCLUDED.amount, state = EXCLUDED.state,
             provider = EXCLUDED.provider, reference = EXCLUDED.reference, method = EXCLUDED.method,
             held_reason = EXCLUDED.held_reason, charged_back = EXCLUDED.charged_back,
             shortfall = EXCLUDED.shortfall, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
             seq = EXCLUDED.seq
         WHERE t.seq <= EXCLUDED.seq",
        &[
            &p.source,
            &p.id,
            &p.kind,
            &p.player,
            &p.currency,
            &p.amount,
            &p.state,
            &p.provider,
            &p.reference,
            &p.method,
            &p.held_reason,
            &p.charged_back,
            &p.shortfall,
            &p.created_ms,
            &p.updated_ms,
            &p.seq,
        ],
    )
    .await?;
    Ok(())
}

/// Upserts the players (a row only replaced by one at least as new).
pub(crate) async fn upsert_players(
    tx: &tokio_postgres::Transaction<'_>,
    p: &Players,
) -> Result<(), tokio_postgres::Error> {
    if p.seq.is_empty() {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO croupier_players AS t (player, currency, jurisdiction, registered_at, brand, affiliate, country,
             country_pending, status, erased, seq)
         SELECT player, currency, jurisdiction, to_timestamp(registered_ms / 1000.0), brand, affiliate, country,
             country_pending, status, erased, seq
         FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[], $6::TEXT[], $7::TEXT[],
                     $8::BOOLEAN[], $9::TEXT[], $10::BOOLEAN[], $11::BIGINT[])
              AS p (player, currency, jurisdiction, registered_ms, brand, affiliate, country, country_pending,
                    status, erased, seq)
         ON CONFLICT (player) DO UPDATE SET currency = EXCLUDED.currency, jurisdiction = EXCLUDED.jurisdiction,
             registered_at = EXCLUDED.registered_at, brand = EXCLUDED.brand, affiliate = EXCLUDED.affiliate,
             country = EXCLUDED.country, country_pending = EXCLUDED.country_pending, status = EXCLUDED.status,
             erased = EXCLUDED.erased, seq = EXCLUDED.seq
         WHERE t.seq <= EXCLUDED.seq",
        &[
            &p.player,
            &p.currency,
            &p.jurisdiction,
            &p.registered_ms,
            &p.brand,
            &p.affiliate,
            &p.country,
            &p.country_pending,
            &p.status,
            &p.erased,
            &p.seq,
        ],
    )
    .await?;
    Ok(())
}
