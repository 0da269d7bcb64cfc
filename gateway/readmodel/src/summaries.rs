//! Running sums of the movements' figures, kept by the history projection
//! as each movement lands, so that reports and the dashboard add up a few
//! rows per player-day or per hour instead of scanning every movement.
//!
//! - `gaming_days`: one row per UTC day, player, currency and game (source
//!   `-1` and game `''`: outside any game) with the figures
//!   [`crate::reports::gaming`] sums. A month at 1M players is a few
//!   million rows, read in key order, where the movements are tens of
//!   millions that had to be sorted.
//! - `money_hours`: one row per hour and currency, the dashboard's all-time
//!   totals and its hourly charts.
//! - `last_bets`: each player's latest bet, the dashboard's players active
//!   in the last 24 hours by an index range instead of a scan.
//!
//! Each sum covers exactly the movements table: the migration fills them
//! from the movements already projected, and the projection adds each
//! movement in the transaction that inserts it (it applies each sequence
//! number once, behind its checkpoint). A transaction adds its movements
//! up in memory first ([`Pending`]) and writes each row's sum once, at its
//! end.

use std::collections::BTreeMap;

use engine::SourceId;
use rusqlite::{Transaction, params};

use crate::figures::Figures;
use crate::monitoring::HOUR_MS;
use crate::{Moved, ReadModelError};

/// A day in ms (the sums' days are UTC days since the epoch).
pub const DAY_MS: u64 = 86_400_000;

/// Source and game of a movement outside any game in `gaming_days`
/// (primary-key columns cannot be NULL).
pub(crate) const NO_SOURCE: i64 = -1;
pub(crate) const NO_GAME: &str = "";

/// The statements that fill the sums from the movements (a macro so that
/// the migration and [`rebuild`] share one literal). Each player's last
/// bet is found walking back from their latest movement: grouping every
/// bet by player instead looks each movement's row up by index order, tens
/// of millions of random reads at a large operator's upgrade.
macro_rules! fill_sql {
    () => {
        "INSERT INTO gaming_days
            SELECT time_ms / 86400000, player, currency,
                CASE WHEN round IS NULL OR game IS NULL THEN -1 ELSE source END,
                CASE WHEN round IS NULL OR game IS NULL THEN '' ELSE game END,
                SUM(kind = 'bet'), SUM(stake), SUM(bonus_stake), SUM(prize), SUM(cash_prize), SUM(converted),
                SUM(jackpot), SUM(granted)
            FROM movements
            WHERE stake <> 0 OR prize <> 0 OR converted <> 0 OR granted <> 0 OR kind = 'bet'
            GROUP BY 1, 2, 3, 4, 5;
        INSERT INTO money_hours
            SELECT time_ms / 3600000, currency, SUM(kind = 'bet'), SUM(stake - bonus_stake), SUM(cash_prize),
                SUM(converted), COALESCE(SUM(CASE WHEN kind IN ('deposit', 'deposit_confirm') THEN cash_delta END), 0)
            FROM movements GROUP BY 1, 2;
        INSERT INTO last_bets
            SELECT player, last FROM (
                SELECT player, (SELECT time_ms FROM movements INDEXED BY movements_by_time
                                WHERE movements.player = players.player AND kind = 'bet'
                                ORDER BY time_ms DESC LIMIT 1) AS last
                FROM players)
            WHERE last IS NOT NULL;"
    };
}

/// The schema migration: the three tables, filled from the movements
/// already projected.
pub(crate) const MIGRATION: &str = concat!(
    "CREATE TABLE gaming_days (
        day INTEGER NOT NULL,
        player INTEGER NOT NULL,
        currency TEXT NOT NULL,
        source INTEGER NOT NULL,
        game TEXT NOT NULL,
        bets INTEGER NOT NULL,
        stake INTEGER NOT NULL,
        bonus_stake INTEGER NOT NULL,
        prize INTEGER NOT NULL,
        cash_prize INTEGER NOT NULL,
        converted INTEGER NOT NULL,
        jackpot INTEGER NOT NULL,
        granted INTEGER NOT NULL,
        PRIMARY KEY (day, player, currency, source, game)
    ) WITHOUT ROWID;
    CREATE TABLE money_hours (
        hour INTEGER NOT NULL,
        currency TEXT NOT NULL,
        bets INTEGER NOT NULL,
        cash_stake INTEGER NOT NULL,
        cash_prize INTEGER NOT NULL,
        converted INTEGER NOT NULL,
        deposits INTEGER NOT NULL,
        PRIMARY KEY (hour, currency)
    ) WITHOUT ROWID;
    CREATE TABLE last_bets (
        player INTEGER PRIMARY KEY,
        time_ms INTEGER NOT NULL
    );
    CREATE INDEX last_bets_in_time ON last_bets (time_ms);
    ",
    fill_sql!()
);

/// Migration 29: `gaming_days` by player, for the per-player reads
/// (an affiliate's players' play days, a cohort's bet days). An update of
/// an existing row leaves it alone: only a player's first movement of a
/// day in a game adds an entry.
pub(crate) const BY_PLAYER_MIGRATION: &str =
    "CREATE INDEX gaming_days_by_player ON gaming_days (player, currency, day);";

/// A `gaming_days` row's key: day, player, currency, source, game.
type DayKey = (i64, i64, &'static str, i64, String);

/// A `gaming_days` row's sums: bets, and the movements' figures.
#[derive(Clone, Copy, Default)]
struct DaySums {
    bets: i64,
    figures: Figures,
}

/// A `money_hours` row's sums.
#[derive(Clone, Copy, Default)]
struct HourSums {
    bets: i64,
    cash_stake: i64,
    cash_prize: i64,
    converted: i64,
    deposits: i64,
}

/// The sums a projection transaction adds, kept in memory and written once
/// at its end ([`Pending::write`], before the commit): a player's day in a
/// game is one upsert a transaction instead of one a movement. Nothing in
/// the projection reads these tables, and readers see only committed
/// transactions, so the tables end up as if each movement had been added
/// on its own.
#[derive(Default)]
pub(crate) struct Pending {
    days: BTreeMap<DayKey, DaySums>,
    hours: BTreeMap<(i64, &'static str), HourSums>,
    last_bets: BTreeMap<i64, i64>,
}

impl Pending {
    /// Adds a movement from `source` at `time_ms` to the sums, in the
    /// transaction that inserts it.
    pub(crate) fn add(&mut self, m: &Moved, source: SourceId, time_ms: u64) {
        let f = &m.figures;
        let is_bet = m.kind == "bet";
        // SQLite's integers are signed.
        let time_ms = time_ms.min(i64::MAX as u64) as i64;
        if is_bet || f.stake != 0 || f.prize != 0 || f.converted != 0 || f.granted != 0 {
            let (source, game) = m
                .round
                .as_ref()
                .map_or((NO_SOURCE, NO_GAME), |(_, game)| (i64::from(source.0), game.as_str()));
            let key = (time_ms / DAY_MS as i64, m.player, m.currency, source, game.to_owned());
            let day = self.days.entry(key).or_default();
            day.bets += i64::from(is_bet);
            day.figures += *f;
        }
        let hour = self.hours.entry((time_ms / HOUR_MS as i64, m.currency)).or_default();
        hour.bets += i64::from(is_bet);
        hour.cash_stake += f.stake - f.bonus_stake;
        hour.cash_prize += f.cash_prize;
        hour.converted += f.converted;
        if matches!(m.kind, "deposit" | "deposit_confirm") {
            hour.deposits += m.cash_delta;
        }
        if is_bet {
            let last = self.last_bets.entry(m.player).or_insert(time_ms);
            *last = (*last).max(time_ms);
        }
    }

    /// Adds what the transaction gathered to the tables, and forgets it.
    pub(crate) fn write(&mut self, tx: &Transaction<'_>) -> Result<(), ReadModelError> {
        let mut days = tx.prepare_cached(
            "INSERT INTO gaming_days (day, player, currency, source, game, bets, stake, bonus_stake, prize,
                 cash_prize, converted, jackpot, granted)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (day, player, currency, source, game) DO UPDATE SET
                 bets = bets + excluded.bets, stake = stake + excluded.stake,
                 bonus_stake = bonus_stake + excluded.bonus_stake, prize = prize + excluded.prize,
                 cash_prize = cash_prize + excluded.cash_prize, converted = converted + excluded.converted,
                 jackpot = jackpot + excluded.jackpot, granted = granted + excluded.granted",
        )?;
        for ((day, player, currency, source, game), DaySums { bets, figures: f }) in std::mem::take(&mut self.days) {
            days.execute(params![
                day,
                player,
                currency,
                source,
                game,
                bets,
                f.stake,
                f.bonus_stake,
                f.prize,
                f.cash_prize,
                f.converted,
                f.jackpot,
                f.granted,
            ])?;
        }
        let mut hours = tx.prepare_cached(
            "INSERT INTO money_hours (hour, currency, bets, cash_stake, cash_prize, converted, deposits)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (hour, currency) DO UPDATE SET
                 bets = bets + excluded.bets, cash_stake = cash_stake + excluded.cash_stake,
                 cash_prize = cash_prize + excluded.cash_prize, converted = converted + excluded.converted,
                 deposits = deposits + excluded.deposits",
        )?;
        for ((hour, currency), h) in std::mem::take(&mut self.hours) {
            hours.execute(params![
                hour,
                currency,
                h.bets,
                h.cash_stake,
                h.cash_prize,
                h.converted,
                h.deposits
            ])?;
        }
        let mut last_bets = tx.prepare_cached(
            "INSERT INTO last_bets (player, time_ms) VALUES (?1, ?2)
             ON CONFLICT (player) DO UPDATE SET time_ms = MAX(time_ms, excluded.time_ms)",
        )?;
        for (player, time_ms) in std::mem::take(&mut self.last_bets) {
            last_bets.execute(params![player, time_ms])?;
        }
        Ok(())
    }
}

/// Fills the sums from the movements table alone, replacing what they
/// held: for a file whose movements were written without the projection
/// (the report probe's loader).
pub fn rebuild(tx: &Transaction<'_>) -> Result<(), ReadModelError> {
    tx.execute_batch(concat!(
        "DELETE FROM gaming_days; DELETE FROM money_hours; DELETE FROM last_bets;",
        fill_sql!()
    ))?;
    Ok(())
}
