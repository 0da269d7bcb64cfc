//! The sums the reports are made of: movements' figures (migration 13,
//! [`crate::figures`]) and the cashier's payments,
//! grouped by what a report splits them by, over a period `[from_ms,
//! to_ms)`. The reports crate turns them into figures per product, day,
//! game, country; this module only reads.

use engine::outcome::Balances;
use engine::{Currency, PlayerId, SourceId};
use rusqlite::{Connection, params};

use crate::ReadModelError;
use crate::history::{BalanceAt, clamp};

/// A day in ms.
pub const DAY_MS: u64 = 86_400_000;

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
/// currency, day and game; movements with no figure are left out.
pub fn gaming(connection: &Connection, from_ms: u64, to_ms: u64) -> Result<Vec<GamingSum>, ReadModelError> {
    let mut statement = connection.prepare_cached(
        "SELECT player, currency, time_ms / ?3, CASE WHEN round IS NULL THEN NULL ELSE source END, game,
            SUM(kind = 'bet'), SUM(stake), SUM(bonus_stake), SUM(prize), SUM(cash_prize), SUM(converted),
            SUM(jackpot), SUM(granted)
         FROM movements WHERE time_ms >= ?1 AND time_ms < ?2
           AND (stake <> 0 OR prize <> 0 OR converted <> 0 OR granted <> 0 OR kind = 'bet')
         GROUP BY 1, 2, 3, 4, 5 ORDER BY 3, 1, 2, 4, 5",
    )?;
    let rows = statement.query_map(params![clamp(from_ms), clamp(to_ms), DAY_MS as i64], |row| {
        let currency: String = row.get(1)?;
        let source: Option<u32> = row.get(3)?;
        let game: Option<String> = row.get(4)?;
        Ok((
            currency,
            GamingSum {
                player: PlayerId(row.get::<_, i64>(0)? as u64),
                currency: Currency::EUR,
                day: row.get::<_, i64>(2)? as u64,
                game: source.zip(game).map(|(s, g)| (SourceId(s), g)),
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
    })?;
    rows.map(|row| {
        let (code, sum) = row?;
        let currency = Currency::from_code(&code).ok_or_else(|| ReadModelError::Damaged(format!("currency {code}")))?;
        Ok(GamingSum { currency, ..sum })
    })
    .collect()
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
pub fn wallets_at(connection: &Connection, from_ms: u64, at_ms: u64) -> Result<Vec<WalletAt>, ReadModelError> {
    let players: Vec<(i64, Option<String>)> = connection
        .prepare_cached(
            "SELECT players.player, profiles.jurisdiction FROM players
             LEFT JOIN profiles ON profiles.player = players.player ORDER BY players.player",
        )?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut wallets = Vec::new();
    // `balances_at` reads at-or-before; the period is half-open.
    let before = at_ms.saturating_sub(1);
    for (player, jurisdiction) in players {
        let id = PlayerId(player as u64);
        let Some(found) = crate::history::balances_at(connection, id, before)? else {
            continue;
        };
        let last_login_ms: Option<i64> = connection
            .prepare_cached("SELECT MAX(start_ms) FROM login_sessions WHERE player = ?1 AND start_ms < ?2")?
            .query_row(params![player, clamp(at_ms)], |row| row.get(0))?;
        for balance in found {
            let (balances, code) = match balance {
                BalanceAt::Known(balances, _) => (Some(balances), balances.currency.code()),
                BalanceAt::BeforeHistory => continue,
            };
            let pending: i64 = connection
                .prepare_cached(
                    "SELECT COALESCE(SUM(amount_minor), 0) FROM cashier_payments
                     WHERE kind = 'withdrawal' AND player = ?1 AND currency = ?2 AND created_ms < ?3
                       AND (state IN ('requested', 'approved') OR updated_ms >= ?3)",
                )?
                .query_row(params![player, code, clamp(at_ms)], |row| row.get(0))?;
            let bets: i64 = connection
                .prepare_cached(
                    "SELECT COUNT(*) FROM movements WHERE player = ?1 AND currency = ?2 AND kind = 'bet'
                     AND time_ms >= ?3 AND time_ms < ?4",
                )?
                .query_row(params![player, code, clamp(from_ms), clamp(at_ms)], |row| row.get(0))?;
            wallets.push(WalletAt {
                player: id,
                jurisdiction: jurisdiction.clone(),
                balances,
                pending_withdrawals: pending,
                bets_in_period: bets as u64,
                last_login_ms: last_login_ms.map(|ms| ms as u64),
            });
        }
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
    let mut statement = connection.prepare_cached(
        "SELECT currency, SUM(total) FROM (
            SELECT currency, SUM(stake) AS total, MAX(time_ms) AS last, SUM(kind IN ('win', 'rollback')) AS settled
            FROM movements WHERE round IS NOT NULL AND time_ms < ?1
            GROUP BY player, source, round, game, currency)
         WHERE settled = 0 AND last >= ?2 GROUP BY currency ORDER BY currency",
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
