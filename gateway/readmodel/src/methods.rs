//! Players' payment methods: each card, e-wallet, bank account or crypto
//! wallet an operator recorded (`AddPaymentMethod`), by its tokenized
//! reference only, with how its holder's name compared with the player's
//! profile, its state (`SetPaymentMethodState`: active, disabled,
//! removed) and the deposits and withdrawals that named it
//! (`PaymentMethodUse`, a column of `cashier_payments`).
//!
//! Like every view it holds only what the journal says. The ledger keeps
//! none of it, so the routes check here that a method exists and may
//! change before they submit, as reconciliation resolutions do.

use engine::PlayerId;
use engine::command::{Command, TxRef};
use engine::payments::{self, PaymentMethodKind};
use engine::sequencer::Committed;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::ReadModelError;

/// The schema migration (appended to `store::MIGRATIONS`): the methods,
/// the method a payment named, why a deposit is held (`crate::cashier`), the rate an alert's evidence was converted
/// at (`crate::risk`, cross-currency thresholds) and the third-party
/// method rule's settings.
pub(crate) const MIGRATION: &str = "CREATE TABLE payment_methods (
        player INTEGER NOT NULL,
        method TEXT NOT NULL,
        kind TEXT NOT NULL,
        reference TEXT NOT NULL,
        holder TEXT NOT NULL,
        state TEXT NOT NULL,
        reason TEXT,
        seq INTEGER NOT NULL,
        added_by_source INTEGER NOT NULL,
        added_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (player, method)
    ) WITHOUT ROWID;
    ALTER TABLE cashier_payments ADD COLUMN method TEXT;
    ALTER TABLE cashier_payments ADD COLUMN held_reason TEXT;
    ALTER TABLE risk_evidence ADD COLUMN currency TEXT;
    ALTER TABLE risk_evidence ADD COLUMN rate_scaled INTEGER;
    ALTER TABLE risk_evidence ADD COLUMN converted_minor INTEGER;
    INSERT INTO risk_rules (rule, enabled, window_ms, count_min, percent) VALUES
        ('third_party_method', 1, 0, 1, 0);";

/// A payment method as the view holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodView {
    /// The player.
    pub player: PlayerId,
    /// Its id, unique per player.
    pub method: String,
    /// `card`, `ewallet`, `bank`, `crypto`.
    pub kind: String,
    /// The tokenized reference (a crypto method's address).
    pub reference: String,
    /// `matches`, `mismatch` (a third-party method), `unchecked`.
    pub holder: String,
    /// `active`, `disabled`, `removed`.
    pub state: String,
    /// Why it was last disabled, enabled or removed.
    pub reason: Option<String>,
    /// The journal record that added it.
    pub seq: u64,
    /// The source of the operator who added it.
    pub added_by_source: u32,
    /// When it was added, ms since the epoch.
    pub added_ms: u64,
    /// When it last changed.
    pub updated_ms: u64,
}

/// Applies one committed record.
pub(crate) fn apply(tx: &Transaction<'_>, committed: &Committed, time_ms: u64) -> Result<(), ReadModelError> {
    let request = &committed.envelope.request;
    let Command::Payments(command) = request.command.unwrapped() else {
        return Ok(());
    };
    if !committed.outcome.is_ok() {
        return Ok(());
    }
    match command {
        payments::Command::AddPaymentMethod {
            player,
            method,
            kind,
            reference,
            holder,
            ..
        } => {
            // The routes refuse an id taken; a replayed journal keeps the first.
            tx.prepare_cached(
                "INSERT OR IGNORE INTO payment_methods (player, method, kind, reference, holder, state, seq,
                 added_by_source, added_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6, ?7, ?8, ?8)",
            )?
            .execute(params![
                player.0 as i64,
                method.as_str(),
                kind.name(),
                reference.as_str(),
                holder.name(),
                committed.envelope.seq as i64,
                request.source.0,
                time_ms as i64
            ])?;
        }
        payments::Command::SetPaymentMethodState {
            player,
            method,
            state,
            reason,
            ..
        } => {
            // A removed method stays removed, whatever comes after.
            tx.prepare_cached(
                "UPDATE payment_methods SET state = ?3, reason = ?4, updated_ms = ?5
                 WHERE player = ?1 AND method = ?2 AND state <> 'removed'",
            )?
            .execute(params![
                player.0 as i64,
                method.as_str(),
                state.name(),
                reason.as_str(),
                time_ms as i64
            ])?;
        }
        payments::Command::PaymentMethodUse { payment, method } => {
            // A change of the payment's row: the export follows `changed_seq`.
            tx.prepare_cached(
                "UPDATE cashier_payments SET method = ?3, changed_seq = ?4 WHERE source = ?1 AND ext_id = ?2",
            )?
            .execute(params![
                payment.source.0,
                payment.id.as_str(),
                method.as_str(),
                committed.envelope.seq as i64
            ])?;
        }
        _ => {}
    }
    Ok(())
}

const COLUMNS: &str =
    "player, method, kind, reference, holder, state, reason, seq, added_by_source, added_ms, updated_ms";

fn row_view(row: &rusqlite::Row<'_>) -> rusqlite::Result<MethodView> {
    Ok(MethodView {
        player: PlayerId(row.get::<_, i64>(0)? as u64),
        method: row.get(1)?,
        kind: row.get(2)?,
        reference: row.get(3)?,
        holder: row.get(4)?,
        state: row.get(5)?,
        reason: row.get(6)?,
        seq: row.get::<_, i64>(7)? as u64,
        added_by_source: row.get(8)?,
        added_ms: row.get::<_, i64>(9)? as u64,
        updated_ms: row.get::<_, i64>(10)? as u64,
    })
}

/// The player's methods, oldest first; removed ones only if asked.
pub fn list(connection: &Connection, player: PlayerId, with_removed: bool) -> Result<Vec<MethodView>, ReadModelError> {
    let sql =
        format!("SELECT {COLUMNS} FROM payment_methods WHERE player = ?1 AND (?2 OR state <> 'removed') ORDER BY seq");
    let mut statement = connection.prepare_cached(&sql)?;
    let rows = statement.query_map(params![player.0 as i64, with_removed], row_view)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The player's method `method`, in any state.
pub fn method(connection: &Connection, player: PlayerId, method: &str) -> Result<Option<MethodView>, ReadModelError> {
    let sql = format!("SELECT {COLUMNS} FROM payment_methods WHERE player = ?1 AND method = ?2");
    Ok(connection
        .prepare_cached(&sql)?
        .query_row(params![player.0 as i64, method], row_view)
        .optional()?)
}

/// The method a deposit or withdrawal named, if any.
pub fn method_of_payment(connection: &Connection, payment: &TxRef) -> Result<Option<String>, ReadModelError> {
    let found: Option<Option<String>> = connection
        .prepare_cached("SELECT method FROM cashier_payments WHERE source = ?1 AND ext_id = ?2")?
        .query_row(params![payment.source.0, payment.id.as_str()], |row| row.get(0))
        .optional()?;
    Ok(found.flatten())
}

/// Where a crypto payout goes, and whether the withdrawal named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayoutAddress {
    /// The crypto method's address.
    pub address: String,
    /// The withdrawal named this method (`payment_method_id`), rather than
    /// the address being the player's latest crypto method.
    pub named: bool,
}

/// Where a crypto payout of `player`'s withdrawal goes: the method the
/// withdrawal named if it is a crypto one, else the player's latest crypto
/// method that was active and added at or before the withdrawal
/// (`at_or_before_ms`). A method disabled since still holds the address
/// the withdrawal was made to.
pub fn payout_address(
    connection: &Connection,
    player: PlayerId,
    payment: &TxRef,
    at_or_before_ms: u64,
) -> Result<Option<PayoutAddress>, ReadModelError> {
    if let Some(named) = method_of_payment(connection, payment)? {
        let found = method(connection, player, &named)?;
        return Ok(found
            .filter(|m| m.kind == PaymentMethodKind::Crypto.name())
            .map(|m| PayoutAddress {
                address: m.reference,
                named: true,
            }));
    }
    let address: Option<String> = connection
        .prepare_cached(
            "SELECT reference FROM payment_methods WHERE player = ?1 AND kind = 'crypto' AND state = 'active'
             AND added_ms <= ?2 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row(params![player.0 as i64, at_or_before_ms as i64], |row| row.get(0))
        .optional()?;
    Ok(address.map(|address| PayoutAddress { address, named: false }))
}
