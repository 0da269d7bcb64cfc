//! The FX rate table: every rate operators set (`SetFxRate`), with the
//! moment it is in force from, kept as history. The rate in force at a
//! moment is the one with the latest `effective_ms` at or before it (a
//! later setting for the same moment wins). Rates are integers scaled by
//! `engine::payments::FX_RATE_SCALE`; conversion rounds down in integer
//! arithmetic, never through floats.
//!
//! Its table is created by migration 12 with the reconciliation queue (one
//! migration index was assigned to this slice).

use engine::Currency;
use engine::payments::FX_RATE_SCALE;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::ReadModelError;

/// One rate setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateView {
    /// The currency priced.
    pub base: String,
    /// The currency it is priced in.
    pub quote: String,
    /// In force from, ms since the epoch.
    pub effective_ms: u64,
    /// Units of quote per base, times `FX_RATE_SCALE`.
    pub rate_scaled: i64,
    /// The source of the operator who set it.
    pub set_by_source: u32,
    /// When it was set (journal time).
    pub set_ms: u64,
}

/// Records an accepted rate setting.
#[allow(clippy::too_many_arguments)]
pub(crate) fn record(
    tx: &Transaction<'_>,
    base: Currency,
    quote: Currency,
    effective_ms: u64,
    rate_scaled: i64,
    seq: u64,
    source: u32,
    time_ms: u64,
) -> Result<(), ReadModelError> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO fx_rates (base, quote, effective_ms, seq, rate_scaled, set_by_source, set_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        base.code(),
        quote.code(),
        effective_ms as i64,
        seq as i64,
        rate_scaled,
        source,
        time_ms as i64
    ])?;
    Ok(())
}

fn row_view(row: &rusqlite::Row<'_>) -> rusqlite::Result<RateView> {
    Ok(RateView {
        base: row.get(0)?,
        quote: row.get(1)?,
        effective_ms: row.get::<_, i64>(2)? as u64,
        rate_scaled: row.get(3)?,
        set_by_source: row.get(4)?,
        set_ms: row.get::<_, i64>(5)? as u64,
    })
}

/// The rate of `base` in `quote` in force at `at_ms`, if any.
pub fn rate_at(
    connection: &Connection,
    base: &str,
    quote: &str,
    at_ms: u64,
) -> Result<Option<RateView>, ReadModelError> {
    Ok(connection
        .prepare_cached(
            "SELECT base, quote, effective_ms, rate_scaled, set_by_source, set_ms FROM fx_rates
             WHERE base = ?1 AND quote = ?2 AND effective_ms <= ?3 ORDER BY effective_ms DESC, seq DESC LIMIT 1",
        )?
        .query_row(params![base, quote, at_ms as i64], row_view)
        .optional()?)
}

/// Every setting (optionally of one pair), newest first, at most `limit`.
pub fn history(
    connection: &Connection,
    base: Option<&str>,
    quote: Option<&str>,
    limit: u32,
) -> Result<Vec<RateView>, ReadModelError> {
    let mut statement = connection.prepare_cached(
        "SELECT base, quote, effective_ms, rate_scaled, set_by_source, set_ms FROM fx_rates
         WHERE (?1 IS NULL OR base = ?1) AND (?2 IS NULL OR quote = ?2)
         ORDER BY base, quote, effective_ms DESC, seq DESC LIMIT ?3",
    )?;
    let rows = statement.query_map(params![base, quote, limit], row_view)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// `minor` units of a currency with exponent `from_exponent` converted at
/// `rate_scaled` into minor units of one with exponent `to_exponent`,
/// rounded down; `None` on overflow.
pub fn convert_minor(minor: i64, from_exponent: u32, to_exponent: u32, rate_scaled: i64) -> Option<i64> {
    let mut value = i128::from(minor).checked_mul(i128::from(rate_scaled))?;
    let (up, down) = (10i128.checked_pow(to_exponent)?, 10i128.checked_pow(from_exponent)?);
    value = value.checked_mul(up)?;
    let divisor = down.checked_mul(i128::from(FX_RATE_SCALE))?;
    i64::try_from(value.div_euclid(divisor)).ok()
}

#[cfg(test)]
mod tests {
    use super::convert_minor;

    #[test]
    fn conversion_is_integer_and_keeps_each_currencys_exponent() {
        // 100.00 EUR at 0.85 GBP/EUR = 85.00 GBP.
        assert_eq!(convert_minor(10_000, 2, 2, 85_000_000), Some(8_500));
        // 1 BTC (8 decimals) at 60,000.12345678 EUR = 60,000.12 EUR (down).
        assert_eq!(convert_minor(100_000_000, 8, 2, 6_000_012_345_678), Some(6_000_012));
        // 1,000 JPY (0 decimals) at 0.0061 EUR = 6.10 EUR.
        assert_eq!(convert_minor(1_000, 0, 2, 610_000), Some(610));
        assert_eq!(convert_minor(i64::MAX, 0, 8, i64::MAX), None);
    }
}
