//! The sums the reports are made of: movements' figures (migration 13,
//! [`crate::figures`]) and the cashier's payments,
//! grouped by what a report splits them by, over a period `[from_ms,
//! to_ms)`. The reports crate turns them into figures per product, day,
//! game, country; this module only reads.

use std::collections::HashMap;

use engine::outcome::Balances;
use engine::{Amount, Currency, PlayerId, SourceId};
use rusqlite::{Connection, OptionalExtension, params};

use crate::ReadModelError;
use crate::history::clamp;

pub use crate::summaries::DAY_MS;

/// The figures of one player's movements in one currency, on one UTC day,
/// in one game (or outside any game), summed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GamingSum {
    /// The player.
    pub player: PlayerId,
    /// The wallet's currency.
    pub currency: Currency,
    /// Days since the epoch (UTC).
    pub day: u64,
    /// The aggregator and game code, for bets, wins and rollbacks.
    pub game: Option<(SourceId, String)>,
    /// Bets placed (rollbacks not subtracted).
    pub bets: u64,
    /// Stakes net of rollbacks.
    pub stake: i64,
    /// Their bonus-funded share.
    pub bonus_stake: i64,
    /// Prizes (wins, jackpot payouts).
    pub prize: i64,
    /// Their share credited to cash.
    pub cash_prize: i64,
    /// Bonus money converted to cash.
    pub converted: i64,
    /// Paid by jackpot pools.
    pub jackpot: i64,
    /// Bonus money granted.
    pub bonus_granted: i64,
}

/// Every movement's figures in `[from_ms, to_ms)`, summed by player,
/// currency, day and game; movements with no figure are left out. Whole
/// days come from the running sums (`crate::summaries`), the parts of
/// days at either end of the period (none for the reports' periods, which
/// are whole days) from the movements. Day, player, currency, game order.
pub fn gaming(connection: &Connection, from_ms: u64, to_ms: u64) -> Result<Vec<GamingSum>, ReadModelError> {
    let first_whole = from_ms.div_ceil(DAY_MS);
    let end_whole = to_ms / DAY_MS;
    if first_whole >= end_whole {
        return gaming_of_movements(connection, from_ms, to_ms);
    }
    let mut sums = gaming_of_movements(connection, from_ms, first_whole * DAY_MS)?;
    let mut statement = connection.prepare_cached(
        "SELECT player, currency, day, source, game, bets, stake, bonus_stake, prize, cash_prize, converted,
            jackpot, granted
         FROM gaming_days WHERE day >= ?1 AND day < ?2 ORDER BY day, player, currency, source, game",
    )?;
    let rows = statement.query_map(params![clamp(first_whole), clamp(end_whole)], |row| {
        let source: i64 = row.get(3)?;
        let game: String = row.get(4)?;
        let game = (source != crate::summaries::NO_SOURCE).then_some((SourceId(source as u32), game));
        gaming_row(row, game)
    })?;
    for row in rows {
        sums.push(gaming_sum(row?)?);
    }
    sums.extend(gaming_of_movements(connection, end_whole * DAY_MS, to_ms)?);
    Ok(sums)
}

/// [`gaming`] over the movements themselves, for parts of days.
fn gaming_of_movements(connection: &Connection, from_ms: u64, to_ms: u64) -> Result<Vec<GamingSum>, ReadModelError> {
    if from_ms >= to_ms {
        return Ok(Vec::new());
    }
    let mut statement = connection.prepare_cached(
        "SELECT player, currency, time_ms / ?3, CASE WHEN round IS NULL THEN NULL ELSE source END, game,
            SUM(kind = 'bet'), SUM(stake), SUM(bonus_stake), SUM(prize), SUM(cash_prize), SUM(converted),
            SUM(jackpot), SUM(granted)
         FROM movements WHERE time_ms >= ?1 AND time_ms < ?2
           AND (stake <> 0 OR prize <> 0 OR converted <> 0 OR granted <> 0 OR kind = 'bet')
         GROUP BY 1, 2, 3, 4, 5 ORDER BY 3, 1, 2, 4, 5",
    )?;
    let rows = statement.query_map(params![clamp(from_ms), clamp(to_ms), DAY_MS as i64], |row| {
        let source: Option<u32> = row.get(3)?;
        let game: Option<String> = row.get(4)?;
        gaming_row(row, source.zip(game).map(|(s, g)| (SourceId(s), g)))
    })?;
    rows.map(|row| gaming_sum(row?)).collect()
}

/// A row of either gaming query (player, currency code, day, …, then the
/// eight sums from column 5), its currency still a code.
fn gaming_row(row: &rusqlite::Row<'_>, game: Option<(SourceId, String)>) -> rusqlite::Result<(String, GamingSum)> {
    Ok((
        row.get(1)?,
        GamingSum {
            player: PlayerId(row.get::<_, i64>(0)? as u64),
            currency: Currency::EUR,
            day: row.get::<_, i64>(2)? as u64,
            game,
            bets: row.get::<_, i64>(5)? as u64,
            stake: row.get(6)?,
            bonus_stake: row.get(7)?,
            prize: row.get(8)?,
            cash_prize: row.get(9)?,
            converted: row.get(10)?,
            jackpot: row.get(11)?,
            bonus_granted: row.get(12)?,
        },
    ))
}

fn gaming_sum((code, sum): (String, GamingSum)) -> Result<GamingSum, ReadModelError> {
    let currency = Currency::from_code(&code).ok_or_else(|| ReadModelError::Damaged(format!("currency {code}")))?;
    Ok(GamingSum { currency, ..sum })
}

/// Deposits or withdrawals of one player in one currency through one
/// provider, in one state, summed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentSum {
    /// `deposit` or `withdrawal`.
    pub kind: String,
    /// The provider (`manual`: an operator's one-step deposit; `none`: not
    /// recorded yet).
    pub provider: String,
    /// The state (the cashier's: `confirmed`, `charged_back`, `completed` ...).
    pub state: String,
    /// The player.
    pub player: PlayerId,
    /// The currency.
    pub currency: Currency,
    /// How many.
    pub count: u64,
    /// Their amounts, minor units.
    pub amount: i64,
    /// Taken back by chargebacks, minor units.
    pub charged_back: i64,
}

/// The payments started in `[from_ms, to_ms)`, summed by kind, provider,
/// state, player and currency.
pub fn payments(connection: &Connection, from_ms: u64, to_ms: u64) -> Result<Vec<PaymentSum>, ReadModelError> {
    let mut statement = connection.prepare_cached(
        "SELECT kind, COALESCE(provider, 'none'), state, player, currency, COUNT(*), SUM(amount_minor),
            SUM(charged_back_minor)
         FROM cashier_payments WHERE created_ms >= ?1 AND created_ms < ?2
         GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5",
    )?;
    let rows = statement.query_map(params![clamp(from_ms), clamp(to_ms)], |row| {
        Ok((
            row.get::<_, String>(4)?,
            PaymentSum {
                kind: row.get(0)?,
                provider: row.get(1)?,
                state: row.get(2)?,
                player: PlayerId(row.get::<_, i64>(3)? as u64),
                currency: Currency::EUR,
                count: row.get::<_, i64>(5)? as u64,
                amount: row.get(6)?,
                charged_back: row.get(7)?,
            },
        ))
    })?;
    rows.map(|row| {
        let (code, sum) = row?;
        let currency = Currency::from_code(&code).ok_or_else(|| ReadModelError::Damaged(format!("currency {code}")))?;
        Ok(PaymentSum { currency, ..sum })
    })
    .collect()
}

/// One wallet at a moment, for the player-funds and player-data reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalletAt {
    /// The player.
    pub player: PlayerId,
    /// The player's licensing jurisdiction, if known.
    pub jurisdiction: Option<String>,
    /// The wallet's balances after the last movement at or before the
    /// moment (`None`: the history starts after it).
    pub balances: Option<Balances>,
    /// Withdrawals requested at or before the moment and not final then
    /// (requested or approved), minor units: held in `reserved`.
    pub pending_withdrawals: i64,
    /// Bets placed in the period up to the moment.
    pub bets_in_period: u64,
    /// The start of the last login session at or before the moment.
    pub last_login_ms: Option<u64>,
}

/// Every wallet as it stood at `at_ms` (after every movement stamped
/// before it), with the bets placed in `[from_ms, at_ms)`, the pending
/// withdrawals and the last login then. Player order, base currency first.
///
/// One lookup per wallet (its last movement before the moment, by the
/// `(player, time_ms)` index); the bets, pending withdrawals and logins
/// are each one grouped query, not one per player.
pub fn wallets_at(connection: &Connection, from_ms: u64, at_ms: u64) -> Result<Vec<WalletAt>, ReadModelError> {
    let mut bets: HashMap<(PlayerId, Currency), u64> = HashMap::new();
    for sum in gaming(connection, from_ms, at_ms)? {
        *bets.entry((sum.player, sum.currency)).or_default() += sum.bets;
    }
    let mut pending: HashMap<(i64, String), i64> = HashMap::new();
    for row in connection
        .prepare_cached(
            "SELECT player, currency, SUM(amount_minor) FROM cashier_payments
             WHERE kind = 'withdrawal' AND created_ms < ?1 AND (state IN ('requested', 'approved') OR updated_ms >= ?1)
             GROUP BY player, currency",
        )?
        .query_map(params![clamp(at_ms)], |row| {
            Ok(((row.get(0)?, row.get(1)?), row.get(2)?))
        })?
    {
        let (key, amount) = row?;
        pending.insert(key, amount);
    }
    let mut last_login: HashMap<i64, i64> = HashMap::new();
    for row in connection
        .prepare_cached("SELECT player, MAX(start_ms) FROM login_sessions WHERE start_ms < ?1 GROUP BY player")?
        .query_map(params![clamp(at_ms)], |row| Ok((row.get(0)?, row.get(1)?)))?
    {
        let (player, start) = row?;
        last_login.insert(player, start);
    }
    let whole_history = crate::store::checkpoint(connection)?.history_from_seq <= 1;
    let mut wallets_of = connection.prepare_cached(
        "SELECT players.player, profiles.jurisdiction, balances.currency FROM players
         JOIN balances ON balances.player = players.player
         LEFT JOIN profiles ON profiles.player = players.player
         ORDER BY players.player, balances.currency <> players.currency, balances.currency",
    )?;
    // `at_ms` is exclusive: the last movement stamped at or before the
    // millisecond before it.
    let mut last_movement = connection.prepare_cached(
        "SELECT cash, bonus, reserved FROM movements INDEXED BY movements_by_time
         WHERE player = ?1 AND currency = ?2 AND time_ms <= ?3 ORDER BY time_ms DESC, seq DESC LIMIT 1",
    )?;
    let before = clamp(at_ms.saturating_sub(1));
    let mut wallets = Vec::new();
    let rows = wallets_of.query_map([], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, Option<String>>(1)?,
            row.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (player, jurisdiction, code) = row?;
        let currency = Currency::from_code(&code).ok_or_else(|| ReadModelError::Damaged(format!("currency {code}")))?;
        let last = last_movement
            .query_row(params![player, code, before], |row| {
                Ok([row.get::<_, i64>(0)?, row.get(1)?, row.get(2)?])
            })
            .optional()?;
        let balances = match last {
            // Movements keep no loyalty points; no report reads them.
            Some([cash, bonus, reserved]) => Balances {
                currency,
                cash: Amount::from_minor(cash),
                bonus: Amount::from_minor(bonus),
                reserved: Amount::from_minor(reserved),
                loyalty_points: 0,
            },
            None if whole_history => Balances {
                currency,
                cash: Amount::ZERO,
                bonus: Amount::ZERO,
                reserved: Amount::ZERO,
                loyalty_points: 0,
            },
            // The history starts after the moment: unknown, left out.
            None => continue,
        };
        let id = PlayerId(player as u64);
        wallets.push(WalletAt {
            player: id,
            jurisdiction,
            balances: Some(balances),
            pending_withdrawals: pending.get(&(player, code)).copied().unwrap_or(0),
            bets_in_period: bets.get(&(id, currency)).copied().unwrap_or(0),
            last_login_ms: last_login.get(&player).map(|ms| *ms as u64),
        });
    }
    Ok(wallets)
}

/// Stakes of open bets at `at_ms` per currency: bets stamped before it in
/// a round with no win, rollback or later settlement by then, minor units.
/// A round the aggregator ended without a win (a lost round) counts as open
/// until the round's last movement is a day old: the ledger does not
/// journal every round's end, so a report cannot tell a lost round from a
/// running one sooner.
pub fn open_bets(connection: &Connection, at_ms: u64) -> Result<Vec<(Currency, i64)>, ReadModelError> {
    // Only a round with a movement in the last day can be open: those are
    // found by time, then each one's movements by the round index, rather
    // than grouping every round ever played.
    let mut statement = connection.prepare_cached(
        "SELECT currency, SUM(total) FROM (
            SELECT m.currency, SUM(m.stake) AS total, SUM(m.kind IN ('win', 'rollback')) AS settled
            FROM (SELECT DISTINCT player, source, round FROM movements
                  WHERE time_ms >= ?2 AND time_ms < ?1 AND round IS NOT NULL) AS recent
            JOIN movements AS m INDEXED BY movements_by_round
              ON m.player = recent.player AND m.source = recent.source AND m.round = recent.round
            WHERE m.round IS NOT NULL AND m.time_ms < ?1
            GROUP BY m.player, m.source, m.round, m.game, m.currency)
         WHERE settled = 0 GROUP BY currency ORDER BY currency",
    )?;
    let rows = statement.query_map(params![clamp(at_ms), clamp(at_ms.saturating_sub(DAY_MS))], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
    })?;
    rows.map(|row| {
        let (code, total) = row?;
        let currency = Currency::from_code(&code).ok_or_else(|| ReadModelError::Damaged(format!("currency {code}")))?;
        Ok((currency, total))
    })
    .collect()
}
