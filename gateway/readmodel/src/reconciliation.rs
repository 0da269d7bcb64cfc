//! The reconciliation queue: every difference an imported settlement file
//! showed against the ledger (missing on either side, amount or currency
//! mismatches), open until an operator resolves it with a reason, and one
//! row per imported file with its counts.
//!
//! Like every view it holds only what the journal says: an import and a
//! resolution are ledger commands (`ReconciliationImport`,
//! `ReconciliationResolve`), which move no money.

use engine::SourceId;
use engine::payments::{self, ReconciliationGap};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::ReadModelError;

/// The schema migration that creates the tables (appended to
/// `store::MIGRATIONS` as index 12), with the FX rate table of `crate::fx`
/// (the same index: one was assigned to this slice).
pub(crate) const MIGRATION: &str = "CREATE TABLE reconciliation_files (
        provider TEXT NOT NULL,
        file TEXT NOT NULL,
        matched INTEGER NOT NULL,
        differences INTEGER NOT NULL,
        imported_ms INTEGER NOT NULL,
        PRIMARY KEY (provider, file)
    ) WITHOUT ROWID;
    CREATE TABLE reconciliation_items (
        provider TEXT NOT NULL,
        file TEXT NOT NULL,
        reference TEXT NOT NULL,
        gap TEXT NOT NULL,
        file_currency TEXT NOT NULL,
        file_minor INTEGER NOT NULL,
        ledger_currency TEXT NOT NULL,
        ledger_minor INTEGER NOT NULL,
        state TEXT NOT NULL,
        reason TEXT,
        resolved_by_source INTEGER,
        imported_ms INTEGER NOT NULL,
        resolved_ms INTEGER,
        PRIMARY KEY (provider, file, reference)
    ) WITHOUT ROWID;
    CREATE INDEX reconciliation_by_state ON reconciliation_items (state, imported_ms);
    CREATE TABLE fx_rates (
        base TEXT NOT NULL,
        quote TEXT NOT NULL,
        effective_ms INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        rate_scaled INTEGER NOT NULL,
        set_by_source INTEGER NOT NULL,
        set_ms INTEGER NOT NULL,
        PRIMARY KEY (base, quote, effective_ms, seq)
    ) WITHOUT ROWID;";

/// One difference in the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemView {
    /// The provider whose file showed it.
    pub provider: String,
    /// The file (a digest of its bytes).
    pub file: String,
    /// The provider's reference of the payment.
    pub reference: String,
    /// `missing_in_ledger`, `missing_in_file`, `amount_mismatch`,
    /// `currency_mismatch`.
    pub gap: String,
    /// The file's currency.
    pub file_currency: String,
    /// The file's amount, minor units.
    pub file_minor: i64,
    /// The ledger's currency.
    pub ledger_currency: String,
    /// The ledger's amount, minor units.
    pub ledger_minor: i64,
    /// `open` or `resolved`.
    pub state: String,
    /// Why it was resolved.
    pub reason: Option<String>,
    /// The source of the operator who resolved it.
    pub resolved_by_source: Option<u32>,
    /// When it was imported, ms since the epoch.
    pub imported_ms: u64,
    /// When it was resolved.
    pub resolved_ms: Option<u64>,
}

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct ItemFilter {
    /// Only this provider's.
    pub provider: Option<String>,
    /// Only in this state.
    pub state: Option<String>,
    /// At most this many, oldest first.
    pub limit: u32,
}

/// The name of a gap in the view and the API.
pub fn gap_name(gap: ReconciliationGap) -> &'static str {
    match gap {
        ReconciliationGap::MissingInLedger => "missing_in_ledger",
        ReconciliationGap::MissingInFile => "missing_in_file",
        ReconciliationGap::AmountMismatch => "amount_mismatch",
        ReconciliationGap::CurrencyMismatch => "currency_mismatch",
    }
}

/// Applies an accepted reconciliation command.
pub(crate) fn apply(
    tx: &Transaction<'_>,
    source: SourceId,
    command: &payments::Command,
    time_ms: u64,
) -> Result<(), ReadModelError> {
    match command {
        payments::Command::ReconciliationImport {
            provider,
            file,
            matched,
            items,
        } => {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO reconciliation_files (provider, file, matched, differences, imported_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                provider.as_str(),
                file.as_str(),
                matched,
                items.len() as i64,
                time_ms as i64
            ])?;
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO reconciliation_items (provider, file, reference, gap, file_currency,
                 file_minor, ledger_currency, ledger_minor, state, imported_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'open', ?9)",
            )?;
            for item in items {
                insert.execute(params![
                    provider.as_str(),
                    file.as_str(),
                    item.reference.as_str(),
                    gap_name(item.gap),
                    item.file_currency.code(),
                    item.file_amount.minor(),
                    item.ledger_currency.code(),
                    item.ledger_amount.minor(),
                    time_ms as i64
                ])?;
            }
            Ok(())
        }
        payments::Command::ReconciliationResolve {
            provider,
            file,
            reference,
            reason,
            ..
        } => {
            tx.prepare_cached(
                "UPDATE reconciliation_items SET state = 'resolved', reason = ?4, resolved_by_source = ?5,
                 resolved_ms = ?6 WHERE provider = ?1 AND file = ?2 AND reference = ?3 AND state = 'open'",
            )?
            .execute(params![
                provider.as_str(),
                file.as_str(),
                reference.as_str(),
                reason.as_str(),
                source.0,
                time_ms as i64
            ])?;
            Ok(())
        }
        _ => Ok(()),
    }
}

const COLUMNS: &str = "provider, file, reference, gap, file_currency, file_minor, ledger_currency, ledger_minor, \
     state, reason, resolved_by_source, imported_ms, resolved_ms";

fn row_view(row: &rusqlite::Row<'_>) -> rusqlite::Result<ItemView> {
    Ok(ItemView {
        provider: row.get(0)?,
        file: row.get(1)?,
        reference: row.get(2)?,
        gap: row.get(3)?,
        file_currency: row.get(4)?,
        file_minor: row.get(5)?,
        ledger_currency: row.get(6)?,
        ledger_minor: row.get(7)?,
        state: row.get(8)?,
        reason: row.get(9)?,
        resolved_by_source: row.get(10)?,
        imported_ms: row.get::<_, i64>(11)? as u64,
        resolved_ms: row.get::<_, Option<i64>>(12)?.map(|t| t as u64),
    })
}

/// Differences matching `filter`, oldest first.
pub fn list(connection: &Connection, filter: &ItemFilter) -> Result<Vec<ItemView>, ReadModelError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM reconciliation_items WHERE (?1 IS NULL OR provider = ?1) AND (?2 IS NULL OR state = ?2)
         ORDER BY imported_ms, provider, file, reference LIMIT ?3"
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let rows = statement.query_map(params![filter.provider, filter.state, filter.limit], row_view)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One difference.
pub fn item(
    connection: &Connection,
    provider: &str,
    file: &str,
    reference: &str,
) -> Result<Option<ItemView>, ReadModelError> {
    let sql =
        format!("SELECT {COLUMNS} FROM reconciliation_items WHERE provider = ?1 AND file = ?2 AND reference = ?3");
    Ok(connection
        .prepare_cached(&sql)?
        .query_row(params![provider, file, reference], row_view)
        .optional()?)
}
