//! The cashier projection: every deposit and withdrawal with its amount,
//! state, provider and provider reference, the first approval of a
//! withdrawal under four eyes, and what chargebacks took back. The
//! withdrawal queue, the deposits list, the payout outbox (approved
//! withdrawals not yet final) and the cashier's metrics read it.
//!
//! Like every view it holds only what the journal says: a payment's row is
//! written by the commands that moved it, and only when the ledger
//! accepted them.

use engine::command::{Command, TxRef};
use engine::payments;
use engine::sequencer::Committed;
use engine::{PlayerId, Rejection, SourceId};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::ReadModelError;

/// The schema migration that creates the table (appended to
/// `store::MIGRATIONS`).
pub(crate) const MIGRATION: &str = "CREATE TABLE cashier_payments (
        source INTEGER NOT NULL,
        ext_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        player INTEGER NOT NULL,
        currency TEXT NOT NULL,
        amount_minor INTEGER NOT NULL,
        state TEXT NOT NULL,
        provider TEXT,
        reference TEXT,
        first_approval_source INTEGER,
        first_approval_id TEXT,
        charged_back_minor INTEGER NOT NULL DEFAULT 0,
        shortfall_minor INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (source, ext_id)
    ) WITHOUT ROWID;
    CREATE INDEX cashier_by_state ON cashier_payments (kind, state, created_ms);
    CREATE INDEX cashier_by_reference ON cashier_payments (provider, reference);";

/// A deposit or withdrawal as the cashier sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentView {
    /// The source of the request that started it.
    pub source: SourceId,
    /// Its id in that source's id space.
    pub id: String,
    /// `deposit` or `withdrawal`.
    pub kind: String,
    /// The player.
    pub player: PlayerId,
    /// ISO 4217 code.
    pub currency: String,
    /// The amount, minor units.
    pub amount_minor: i64,
    /// `initiated`, `held` (confirmed by the provider, refused by a gate:
    /// for review), `confirmed`, `failed`, `expired`, `charged_back` for
    /// deposits; `requested`, `approved`, `rejected`, `reversed`,
    /// `completed` for withdrawals.
    pub state: String,
    /// The provider that handles it, once recorded (`manual` for a deposit
    /// made by an operator in one step).
    pub provider: Option<String>,
    /// The provider's reference (payment or payout id), once recorded.
    pub reference: Option<String>,
    /// A withdrawal's accepted first approval under four eyes: its source
    /// and request id.
    pub first_approval: Option<(SourceId, String)>,
    /// Taken back by chargebacks, minor units.
    pub charged_back_minor: i64,
    /// The player's payment method it named (`crate::methods`).
    pub method: Option<String>,
    /// Why a deposit is `held`: the gate its confirmation failed
    /// (`player_blocked`, `kyc_required`, `limit_exceeded`,
    /// `due_diligence_required`, `player_erased`).
    pub held_reason: Option<String>,
    /// What chargebacks could not take from the player's cash (the
    /// operator's loss), minor units.
    pub shortfall_minor: i64,
    /// When it started, ms since the epoch.
    pub created_ms: u64,
    /// When it last changed.
    pub updated_ms: u64,
}

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct PaymentFilter {
    /// `deposit` or `withdrawal`.
    pub kind: String,
    /// Only in this state.
    pub state: Option<String>,
    /// Only this player's.
    pub player: Option<PlayerId>,
    /// Only this provider's.
    pub provider: Option<String>,
    /// Only those started at or after this time.
    pub from_ms: Option<u64>,
    /// Only those started before this time.
    pub to_ms: Option<u64>,
    /// At most this many, oldest first.
    pub limit: u32,
}

/// Applies one committed record, stamping the payment it changed with the
/// record's sequence number (`changed_seq`, which the PostgreSQL export
/// follows).
pub(crate) fn apply(tx: &Transaction<'_>, committed: &Committed, time_ms: u64) -> Result<(), ReadModelError> {
    let Some(payment) = fold(tx, committed, time_ms)? else {
        return Ok(());
    };
    tx.prepare_cached("UPDATE cashier_payments SET changed_seq = ?3 WHERE source = ?1 AND ext_id = ?2")?
        .execute(params![
            payment.source.0,
            payment.id.as_str(),
            committed.envelope.seq as i64
        ])?;
    Ok(())
}

/// Applies the record; says which payment's row it changed.
fn fold(tx: &Transaction<'_>, committed: &Committed, time_ms: u64) -> Result<Option<TxRef>, ReadModelError> {
    let request = &committed.envelope.request;
    let Command::Payments(command) = request.command.unwrapped() else {
        return Ok(None);
    };
    let outcome = &committed.outcome;
    if let (payments::Command::DepositConfirmChecked { deposit }, Some(rejection)) = (command, outcome.rejection())
        && let Some(reason) = hold_reason(rejection)
    {
        // The provider has the money and a gate refused it: held for review.
        tx.prepare_cached(
            "UPDATE cashier_payments SET state = 'held', held_reason = ?3, updated_ms = ?4
             WHERE source = ?1 AND ext_id = ?2 AND state IN ('initiated', 'held')",
        )?
        .execute(params![deposit.source.0, deposit.id.as_str(), reason, time_ms as i64])?;
        return Ok(Some(deposit.clone()));
    }
    if !outcome.is_ok() {
        return Ok(None);
    }
    let own = TxRef {
        source: request.source,
        id: request.id.clone(),
    };
    match command {
        payments::Command::DepositInitiate {
            player,
            currency,
            amount,
        } => insert(
            tx,
            &own,
            "deposit",
            *player,
            currency.code(),
            amount.minor(),
            "initiated",
            None,
            time_ms,
        )
        .map(|()| Some(own)),
        payments::Command::Deposit {
            player,
            currency,
            amount,
        } => {
            let manual = Some("manual");
            insert(
                tx,
                &own,
                "deposit",
                *player,
                currency.code(),
                amount.minor(),
                "confirmed",
                manual,
                time_ms,
            )?;
            Ok(Some(own))
        }
        payments::Command::WithdrawalRequest {
            player,
            currency,
            amount,
        } => {
            let (currency, amount) = (currency.code(), amount.minor());
            insert(
                tx,
                &own,
                "withdrawal",
                *player,
                currency,
                amount,
                "requested",
                None,
                time_ms,
            )?;
            Ok(Some(own))
        }
        payments::Command::DepositConfirm { deposit } | payments::Command::DepositConfirmChecked { deposit } => {
            set_state(tx, deposit, "confirmed", time_ms)
        }
        payments::Command::DepositFail { deposit } => set_state(tx, deposit, "failed", time_ms),
        payments::Command::DepositExpire { deposit, .. } => set_state(tx, deposit, "expired", time_ms),
        payments::Command::DepositChargeback { deposit, amount } => {
            let taken = outcome.receipt().map_or(0, |r| -r.cash_delta.minor());
            tx.prepare_cached(
                "UPDATE cashier_payments SET state = 'charged_back', charged_back_minor = charged_back_minor + ?3,
                 shortfall_minor = shortfall_minor + ?4, updated_ms = ?5 WHERE source = ?1 AND ext_id = ?2",
            )?
            .execute(params![
                deposit.source.0,
                deposit.id.as_str(),
                amount.minor(),
                amount.minor() - taken,
                time_ms as i64
            ])?;
            Ok(Some(deposit.clone()))
        }
        payments::Command::PaymentReference {
            payment,
            provider,
            reference,
        } => {
            tx.prepare_cached(
                "UPDATE cashier_payments SET provider = ?3, reference = ?4, updated_ms = ?5
                 WHERE source = ?1 AND ext_id = ?2",
            )?
            .execute(params![
                payment.source.0,
                payment.id.as_str(),
                provider.as_str(),
                reference.as_str(),
                time_ms as i64
            ])?;
            Ok(Some(payment.clone()))
        }
        payments::Command::WithdrawalFirstApproval { withdrawal } => {
            tx.prepare_cached(
                "UPDATE cashier_payments SET first_approval_source = ?3, first_approval_id = ?4, updated_ms = ?5
                 WHERE source = ?1 AND ext_id = ?2",
            )?
            .execute(params![
                withdrawal.source.0,
                withdrawal.id.as_str(),
                request.source.0,
                request.id.as_str(),
                time_ms as i64
            ])?;
            Ok(Some(withdrawal.clone()))
        }
        payments::Command::WithdrawalApprove { withdrawal }
        | payments::Command::WithdrawalApproveSecond { withdrawal, .. } => {
            set_state(tx, withdrawal, "approved", time_ms)
        }
        payments::Command::WithdrawalReject { withdrawal } => set_state(tx, withdrawal, "rejected", time_ms),
        payments::Command::WithdrawalReverse { withdrawal, .. } => set_state(tx, withdrawal, "reversed", time_ms),
        payments::Command::WithdrawalComplete { withdrawal } => set_state(tx, withdrawal, "completed", time_ms),
        // Payment methods are `crate::methods`' to project.
        payments::Command::Adjust { .. }
        | payments::Command::AddPaymentMethod { .. }
        | payments::Command::SetPaymentMethodState { .. }
        | payments::Command::PaymentMethodUse { .. }
        // Holds are the ledger's (it refuses the approvals); the audit trail
        // shows who placed and lifted them.
        | payments::Command::HoldWithdrawals { .. }
        | payments::Command::ReleaseWithdrawals { .. } => Ok(None),
        payments::Command::ReconciliationImport { .. } | payments::Command::ReconciliationResolve { .. } => {
            crate::reconciliation::apply(tx, request.source, command, time_ms).map(|()| None)
        }
        payments::Command::SetFxRate {
            base,
            quote,
            rate_scaled,
            effective_at_ms,
            ..
        } => crate::fx::record(
            tx,
            *base,
            *quote,
            *effective_at_ms,
            *rate_scaled,
            committed.envelope.seq,
            request.source.0,
            time_ms,
        )
        .map(|()| None),
    }
}

/// Why a confirmation refused by a gate holds its deposit; `None` for a
/// refusal that holds nothing (a deposit final already, an unknown one).
pub fn hold_reason(rejection: &Rejection) -> Option<&'static str> {
    Some(match rejection {
        Rejection::PlayerBlocked(_) => "player_blocked",
        Rejection::KycRequired { .. } => "kyc_required",
        Rejection::LimitExceeded { .. } => "limit_exceeded",
        Rejection::DueDiligenceRequired => "due_diligence_required",
        Rejection::PlayerErased => "player_erased",
        _ => return None,
    })
}

#[allow(clippy::too_many_arguments)]
fn insert(
    tx: &Transaction<'_>,
    payment: &TxRef,
    kind: &str,
    player: PlayerId,
    currency: &str,
    amount_minor: i64,
    state: &str,
    provider: Option<&str>,
    time_ms: u64,
) -> Result<(), ReadModelError> {
    // A (source, id) seen again after the ledger forgot it is a new payment.
    tx.prepare_cached(
        "INSERT OR REPLACE INTO cashier_payments (source, ext_id, kind, player, currency, amount_minor, state,
         provider, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
    )?
    .execute(params![
        payment.source.0,
        payment.id.as_str(),
        kind,
        player.0 as i64,
        currency,
        amount_minor,
        state,
        provider,
        time_ms as i64
    ])?;
    Ok(())
}

fn set_state(
    tx: &Transaction<'_>,
    payment: &TxRef,
    state: &str,
    time_ms: u64,
) -> Result<Option<TxRef>, ReadModelError> {
    tx.prepare_cached("UPDATE cashier_payments SET state = ?3, updated_ms = ?4 WHERE source = ?1 AND ext_id = ?2")?
        .execute(params![payment.source.0, payment.id.as_str(), state, time_ms as i64])?;
    Ok(Some(payment.clone()))
}

const COLUMNS: &str = "source, ext_id, kind, player, currency, amount_minor, state, provider, reference,
    first_approval_source, first_approval_id, charged_back_minor, shortfall_minor, created_ms, updated_ms, method, held_reason";

fn row_view(row: &rusqlite::Row<'_>) -> rusqlite::Result<PaymentView> {
    let first_source: Option<u32> = row.get(9)?;
    let first_id: Option<String> = row.get(10)?;
    Ok(PaymentView {
        source: SourceId(row.get(0)?),
        id: row.get(1)?,
        kind: row.get(2)?,
        player: PlayerId(row.get::<_, i64>(3)? as u64),
        currency: row.get(4)?,
        amount_minor: row.get(5)?,
        state: row.get(6)?,
        provider: row.get(7)?,
        reference: row.get(8)?,
        first_approval: first_source.zip(first_id).map(|(s, id)| (SourceId(s), id)),
        charged_back_minor: row.get(11)?,
        shortfall_minor: row.get(12)?,
        created_ms: row.get::<_, i64>(13)? as u64,
        updated_ms: row.get::<_, i64>(14)? as u64,
        method: row.get(15)?,
        held_reason: row.get(16)?,
    })
}

/// The payment started by request `id` of `source`.
pub fn payment(connection: &Connection, source: SourceId, id: &str) -> Result<Option<PaymentView>, ReadModelError> {
    let sql = format!("SELECT {COLUMNS} FROM cashier_payments WHERE source = ?1 AND ext_id = ?2");
    Ok(connection
        .prepare_cached(&sql)?
        .query_row(params![source.0, id], row_view)
        .optional()?)
}

/// The payment a provider knows under `reference`.
pub fn by_reference(
    connection: &Connection,
    provider: &str,
    reference: &str,
) -> Result<Option<PaymentView>, ReadModelError> {
    let sql = format!("SELECT {COLUMNS} FROM cashier_payments WHERE provider = ?1 AND reference = ?2");
    Ok(connection
        .prepare_cached(&sql)?
        .query_row(params![provider, reference], row_view)
        .optional()?)
}

/// Payments matching `filter`, oldest first.
pub fn list(connection: &Connection, filter: &PaymentFilter) -> Result<Vec<PaymentView>, ReadModelError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM cashier_payments WHERE kind = ?1 AND (?2 IS NULL OR state = ?2)
         AND (?3 IS NULL OR player = ?3) AND (?4 IS NULL OR provider = ?4)
         AND (?5 IS NULL OR created_ms >= ?5) AND (?6 IS NULL OR created_ms < ?6)
         ORDER BY created_ms, source, ext_id LIMIT ?7"
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let rows = statement.query_map(
        params![
            filter.kind,
            filter.state,
            filter.player.map(|p| p.0 as i64),
            filter.provider,
            filter.from_ms.map(|t| t as i64),
            filter.to_ms.map(|t| t as i64),
            filter.limit
        ],
        row_view,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The deposit a withdrawal pays back through (closed loop): the
/// player's latest deposit in `currency` that a provider settled
/// (confirmed, or charged back since) and that started at or before the
/// withdrawal (`at_or_before_ms`), so the choice stays the same on every
/// retry of the payout whatever the player deposits later. Operators'
/// one-step (`manual`) deposits are no route back.
pub fn closed_loop_source(
    connection: &Connection,
    player: PlayerId,
    currency: &str,
    at_or_before_ms: u64,
) -> Result<Option<PaymentView>, ReadModelError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM cashier_payments WHERE kind = 'deposit' AND player = ?1 AND currency = ?2
         AND state IN ('confirmed', 'charged_back') AND provider IS NOT NULL AND provider <> 'manual'
         AND reference IS NOT NULL AND created_ms <= ?3
         ORDER BY created_ms DESC, source DESC, ext_id DESC LIMIT 1"
    );
    Ok(connection
        .prepare_cached(&sql)?
        .query_row(params![player.0 as i64, currency, at_or_before_ms as i64], row_view)
        .optional()?)
}

/// The payments a provider settled (deposits confirmed or charged back
/// since, withdrawals completed) under a reference, started in
/// `[from_ms, to_ms)`, at most `limit`: the ledger's side of a
/// reconciliation.
pub fn settled(
    connection: &Connection,
    provider: &str,
    from_ms: u64,
    to_ms: u64,
    limit: u32,
) -> Result<Vec<PaymentView>, ReadModelError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM cashier_payments WHERE provider = ?1 AND reference IS NOT NULL
         AND ((kind = 'deposit' AND state IN ('confirmed', 'charged_back')) OR (kind = 'withdrawal' AND state = 'completed'))
         AND created_ms >= ?2 AND created_ms < ?3 ORDER BY created_ms LIMIT ?4"
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let rows = statement.query_map(params![provider, from_ms as i64, to_ms as i64, limit], row_view)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deposits still initiated that started before `before_ms`: the ones an
/// expiry sweep looks at.
pub fn stale_deposits(connection: &Connection, before_ms: u64, limit: u32) -> Result<Vec<PaymentView>, ReadModelError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM cashier_payments WHERE kind = 'deposit' AND state = 'initiated' AND created_ms < ?1
         ORDER BY created_ms LIMIT ?2"
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let rows = statement.query_map(params![before_ms as i64, limit], row_view)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Counts by (kind, provider, state): the cashier's metrics. A payment
/// without a provider yet counts under `none`.
pub fn counts(connection: &Connection) -> Result<Vec<(String, String, String, u64)>, ReadModelError> {
    let mut statement = connection.prepare_cached(
        "SELECT kind, COALESCE(provider, 'none'), state, COUNT(*) FROM cashier_payments
         GROUP BY kind, COALESCE(provider, 'none'), state ORDER BY 1, 2, 3",
    )?;
    let rows = statement.query_map([], |row| {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get::<_, i64>(3)? as u64))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The amount of a player's withdrawals in `currency` requested in
/// `[from_ms, to_ms)` and not rejected or reversed (minor units): what a
/// VIP tier's daily withdrawal limit counts.
pub fn withdrawn_between(
    connection: &Connection,
    player: u64,
    currency: &str,
    from_ms: u64,
    to_ms: u64,
) -> Result<i64, ReadModelError> {
    Ok(connection
        .prepare_cached(
            "SELECT coalesce(sum(amount_minor), 0) FROM cashier_payments
             WHERE kind = 'withdrawal' AND player = ?1 AND currency = ?2 AND created_ms >= ?3 AND created_ms < ?4
               AND state NOT IN ('rejected', 'reversed')",
        )?
        .query_row(params![player as i64, currency, from_ms as i64, to_ms as i64], |row| {
            row.get(0)
        })?)
}
