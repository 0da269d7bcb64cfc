//! Affiliates, commission plans, brands and lobbies as operators set them
//! (`engine::marketing`), the latest per code; each player's brand and
//! affiliate as registration found them; and the sums the commission and
//! cohort reports are made of.
//!
//! A definition is stored as the ledger's own encoding of it, beside the
//! columns the lookups filter on, as the bonus templates are: every field
//! comes back exactly as journaled.
//!
//! A player with no attribution row (registered before brands existed, or
//! whose attribution was never recorded) belongs to the default brand,
//! [`DEFAULT_BRAND`], and to no affiliate: no player is lost to a brand
//! filter.

use engine::codec::{Decode, Encode, from_bytes, to_bytes};
use engine::marketing::{self, Affiliate, Brand, CommissionPlan, Lobby};
use engine::sequencer::Committed;
use engine::{Command, Outcome, PlayerId};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::ReadModelError;
use crate::summaries::DAY_MS;

/// The brand of every player not attributed to another.
pub const DEFAULT_BRAND: &str = "default";

/// The schema migration that creates the tables (appended to
/// `store::MIGRATIONS`). Only journals written after it hold any of these
/// commands, so no rebuild.
pub(crate) const MIGRATION: &str = "CREATE TABLE affiliates (
        code TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        plan TEXT,
        affiliate BLOB NOT NULL,
        set_by_source INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        set_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE affiliate_tracking (
        tracking TEXT PRIMARY KEY,
        affiliate TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE commission_plans (
        code TEXT PRIMARY KEY,
        plan BLOB NOT NULL,
        set_by_source INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        set_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE brands (
        code TEXT PRIMARY KEY,
        brand BLOB NOT NULL,
        set_by_source INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        set_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE lobbies (
        code TEXT PRIMARY KEY,
        lobby BLOB NOT NULL,
        set_by_source INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        set_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE attributions (
        player INTEGER PRIMARY KEY,
        brand TEXT NOT NULL,
        affiliate TEXT,
        tracking TEXT,
        seq INTEGER NOT NULL,
        time_ms INTEGER NOT NULL
    );
    CREATE INDEX attributions_by_affiliate ON attributions (affiliate, player);
    CREATE INDEX attributions_by_brand ON attributions (brand, player);";

/// A definition as last set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Defined<T> {
    /// The definition.
    pub value: T,
    /// The source of the operator who set it last.
    pub set_by_source: u32,
    /// The sequence number that set it last.
    pub seq: u64,
    /// When (journal time).
    pub set_ms: u64,
}

/// A number from the wire as SQLite's integer (`history::clamp`; not
/// imported: the module that owns a migration must not depend on the
/// history, which depends on the store that lists the migrations).
fn clamp(value: u64) -> i64 {
    value.min(i64::MAX as u64) as i64
}

/// A player's brand and affiliate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribution {
    /// The player.
    pub player: PlayerId,
    /// The brand's code ([`DEFAULT_BRAND`] without a row).
    pub brand: String,
    /// The affiliate's code, if attributed.
    pub affiliate: Option<String>,
    /// The tracking code registration carried, attributed or not.
    pub tracking: Option<String>,
    /// When it was recorded (`None`: no row, the default).
    pub time_ms: Option<u64>,
}

/// Records an accepted marketing command.
pub(crate) fn apply(tx: &Transaction<'_>, committed: &Committed) -> Result<(), ReadModelError> {
    let (Command::Marketing(command), Outcome::Accepted) = (&committed.envelope.request.command, &committed.outcome)
    else {
        return Ok(());
    };
    let stamp = Stamp::of(committed);
    match command {
        marketing::Command::SetAffiliate { affiliate, .. } => {
            let code = affiliate.code.as_str();
            tx.prepare_cached(
                "INSERT OR REPLACE INTO affiliates (code, status, plan, affiliate, set_by_source, seq, set_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                code,
                affiliate.status.name(),
                affiliate.plan.as_ref().map(|p| p.as_str()),
                to_bytes(affiliate.as_ref()),
                stamp.source,
                stamp.seq,
                stamp.time_ms
            ])?;
            tx.prepare_cached("DELETE FROM affiliate_tracking WHERE affiliate = ?1")?
                .execute([code])?;
            for tracking in &affiliate.tracking_codes {
                tx.prepare_cached("INSERT OR REPLACE INTO affiliate_tracking (tracking, affiliate) VALUES (?1, ?2)")?
                    .execute([tracking.as_str(), code])?;
            }
            Ok(())
        }
        marketing::Command::SetCommissionPlan { plan, .. } => {
            define(tx, "commission_plans", "plan", plan.code.as_str(), plan.as_ref(), stamp)
        }
        marketing::Command::SetBrand { brand, .. } => {
            define(tx, "brands", "brand", brand.code.as_str(), brand.as_ref(), stamp)
        }
        marketing::Command::SetLobby { lobby, .. } => {
            define(tx, "lobbies", "lobby", lobby.brand.as_str(), lobby.as_ref(), stamp)
        }
        marketing::Command::AttributePlayer {
            player,
            brand,
            affiliate,
            tracking,
            ..
        } => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO attributions (player, brand, affiliate, tracking, seq, time_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                player.0 as i64,
                brand.as_ref().map_or(DEFAULT_BRAND, |b| b.as_str()),
                affiliate.as_ref().map(|a| a.as_str()),
                tracking.as_ref().map(|t| t.as_str()),
                stamp.seq,
                stamp.time_ms
            ])?;
            Ok(())
        }
    }
}

#[derive(Clone, Copy)]
struct Stamp {
    source: u32,
    seq: i64,
    time_ms: i64,
}

impl Stamp {
    fn of(committed: &Committed) -> Stamp {
        Stamp {
            source: committed.envelope.request.source.0,
            seq: committed.envelope.seq as i64,
            time_ms: committed.envelope.time_ms as i64,
        }
    }
}

fn define<T: Encode>(
    tx: &Transaction<'_>,
    table: &str,
    column: &str,
    code: &str,
    value: &T,
    stamp: Stamp,
) -> Result<(), ReadModelError> {
    tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO {table} (code, {column}, set_by_source, seq, set_ms) VALUES (?1, ?2, ?3, ?4, ?5)"
    ))?
    .execute(params![code, to_bytes(value), stamp.source, stamp.seq, stamp.time_ms])?;
    Ok(())
}

fn defined<T: Decode>(
    c: &Connection,
    table: &str,
    column: &str,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<Defined<T>>, ReadModelError> {
    let mut statement = c.prepare_cached(&format!(
        "SELECT {column}, set_by_source, seq, set_ms FROM {table} {filter} ORDER BY code"
    ))?;
    let rows = statement
        .query_map(args, |row| {
            Ok((
                row.get::<_, Vec<u8>>(0)?,
                row.get::<_, u32>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(bytes, set_by_source, seq, set_ms)| {
            let value = from_bytes::<T>(&bytes)
                .map_err(|e| ReadModelError::Damaged(format!("{table} row at seq {seq}: {e}")))?;
            Ok(Defined {
                value,
                set_by_source,
                seq: seq as u64,
                set_ms: set_ms as u64,
            })
        })
        .collect()
}

/// Every affiliate, by code.
pub fn affiliates(c: &Connection) -> Result<Vec<Defined<Affiliate>>, ReadModelError> {
    defined(c, "affiliates", "affiliate", "", &[])
}

/// The affiliate of `code`, if any.
pub fn affiliate(c: &Connection, code: &str) -> Result<Option<Defined<Affiliate>>, ReadModelError> {
    Ok(defined(c, "affiliates", "affiliate", "WHERE code = ?1", &[&code])?.pop())
}

/// The affiliate whose tracking code `tracking` is, if any (whatever its
/// status).
pub fn affiliate_by_tracking(c: &Connection, tracking: &str) -> Result<Option<Defined<Affiliate>>, ReadModelError> {
    let code: Option<String> = c
        .prepare_cached("SELECT affiliate FROM affiliate_tracking WHERE tracking = ?1")?
        .query_row([tracking], |row| row.get(0))
        .optional()?;
    match code {
        Some(code) => affiliate(c, &code),
        None => Ok(None),
    }
}

/// Every commission plan, by code.
pub fn plans(c: &Connection) -> Result<Vec<Defined<CommissionPlan>>, ReadModelError> {
    defined(c, "commission_plans", "plan", "", &[])
}

/// The commission plan of `code`, if any.
pub fn plan(c: &Connection, code: &str) -> Result<Option<Defined<CommissionPlan>>, ReadModelError> {
    Ok(defined(c, "commission_plans", "plan", "WHERE code = ?1", &[&code])?.pop())
}

/// Every brand, by code.
pub fn brands(c: &Connection) -> Result<Vec<Defined<Brand>>, ReadModelError> {
    defined(c, "brands", "brand", "", &[])
}

/// The brand of `code`, if any.
pub fn brand(c: &Connection, code: &str) -> Result<Option<Defined<Brand>>, ReadModelError> {
    Ok(defined(c, "brands", "brand", "WHERE code = ?1", &[&code])?.pop())
}

/// The lobby of brand `code`, if one was set.
pub fn lobby(c: &Connection, code: &str) -> Result<Option<Defined<Lobby>>, ReadModelError> {
    Ok(defined(c, "lobbies", "lobby", "WHERE code = ?1", &[&code])?.pop())
}

/// A player's attribution (the default brand and no affiliate without a
/// row); `None` for a player the read model does not know.
pub fn attribution(c: &Connection, player: PlayerId) -> Result<Option<Attribution>, ReadModelError> {
    let known: Option<i64> = c
        .prepare_cached("SELECT player FROM players WHERE player = ?1")?
        .query_row([player.0 as i64], |row| row.get(0))
        .optional()?;
    if known.is_none() {
        return Ok(None);
    }
    let found = c
        .prepare_cached("SELECT brand, affiliate, tracking, time_ms FROM attributions WHERE player = ?1")?
        .query_row([player.0 as i64], |row| {
            Ok(Attribution {
                player,
                brand: row.get(0)?,
                affiliate: row.get(1)?,
                tracking: row.get(2)?,
                time_ms: Some(row.get::<_, i64>(3)? as u64),
            })
        })
        .optional()?;
    Ok(Some(found.unwrap_or_else(|| Attribution {
        player,
        brand: DEFAULT_BRAND.to_owned(),
        affiliate: None,
        tracking: None,
        time_ms: None,
    })))
}

/// The players of brand `code`, in id order ([`DEFAULT_BRAND`]: also
/// every player without an attribution).
pub fn brand_players(c: &Connection, code: &str) -> Result<Vec<PlayerId>, ReadModelError> {
    let mut statement = c.prepare_cached(
        "SELECT players.player FROM players LEFT JOIN attributions ON attributions.player = players.player
         WHERE COALESCE(attributions.brand, ?2) = ?1 ORDER BY players.player",
    )?;
    let rows = statement.query_map(params![code, DEFAULT_BRAND], |row| row.get::<_, i64>(0))?;
    rows.map(|row| Ok(PlayerId(row? as u64))).collect()
}

/// The players attributed to affiliate `code`, in id order.
pub fn affiliate_players(c: &Connection, code: &str) -> Result<Vec<PlayerId>, ReadModelError> {
    let mut statement = c.prepare_cached("SELECT player FROM attributions WHERE affiliate = ?1 ORDER BY player")?;
    let rows = statement.query_map([code], |row| row.get::<_, i64>(0))?;
    rows.map(|row| Ok(PlayerId(row? as u64))).collect()
}

/// A player's first deposit: the earliest confirmed one (charged back
/// since or not), whenever it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstDeposit {
    /// The player.
    pub player: PlayerId,
    /// Its currency's code.
    pub currency: String,
    /// Its amount, minor units.
    pub amount_minor: i64,
    /// When it was started (the reports' time of a payment).
    pub created_ms: u64,
}

/// The first deposit of `player`, if any.
pub fn first_deposit(c: &Connection, player: PlayerId) -> Result<Option<FirstDeposit>, ReadModelError> {
    let found = c
        .prepare_cached(
            "SELECT currency, amount_minor, created_ms FROM cashier_payments
             WHERE kind = 'deposit' AND player = ?1 AND state IN ('confirmed', 'charged_back')
             ORDER BY created_ms, source, ext_id LIMIT 1",
        )?
        .query_row([player.0 as i64], |row| {
            Ok(FirstDeposit {
                player,
                currency: row.get(0)?,
                amount_minor: row.get(1)?,
                created_ms: row.get::<_, i64>(2)? as u64,
            })
        })
        .optional()?;
    Ok(found)
}

/// One player's registration time and the days on which they placed at
/// least one bet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activity {
    /// The player.
    pub player: PlayerId,
    /// When they registered, ms since the epoch.
    pub registered_at_ms: u64,
    /// Their base currency's code.
    pub currency: String,
    /// The days (since the epoch, UTC) with at least one bet, in order.
    pub bet_days: Vec<u64>,
}

/// Every player registered in `[from_ms, to_ms)`, with the days on which
/// they bet before `until_ms` (the cohort report maps days to months).
pub fn cohort_activity(
    c: &Connection,
    from_ms: u64,
    to_ms: u64,
    until_ms: u64,
) -> Result<Vec<Activity>, ReadModelError> {
    let players: Vec<(i64, i64, String)> = c
        .prepare_cached(
            "SELECT profiles.player, profiles.registered_at_ms, players.currency FROM profiles
             JOIN players ON players.player = profiles.player
             WHERE profiles.registered_at_ms >= ?1 AND profiles.registered_at_ms < ?2 ORDER BY profiles.player",
        )?
        .query_map(params![clamp(from_ms), clamp(to_ms)], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut found = Vec::with_capacity(players.len());
    // Whole days from the running sums (`crate::summaries`), the day
    // `until_ms` cuts from the movements.
    let cut_day = until_ms / DAY_MS;
    for (player, registered, currency) in players {
        let mut days: Vec<i64> = c
            .prepare_cached(
                "SELECT DISTINCT day FROM gaming_days INDEXED BY gaming_days_by_player
                 WHERE player = ?1 AND day < ?2 AND bets > 0 ORDER BY 1",
            )?
            .query_map(params![player, clamp(cut_day)], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        let bet_on_cut_day: bool = c
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM movements INDEXED BY movements_by_time
                 WHERE player = ?1 AND time_ms >= ?2 AND time_ms < ?3 AND kind = 'bet')",
            )?
            .query_row(params![player, clamp(cut_day * DAY_MS), clamp(until_ms)], |row| {
                row.get(0)
            })?;
        if bet_on_cut_day {
            days.push(cut_day as i64);
        }
        found.push(Activity {
            player: PlayerId(player as u64),
            registered_at_ms: registered as u64,
            currency,
            bet_days: days.into_iter().map(|d| d as u64).collect(),
        });
    }
    Ok(found)
}

/// One day of one player's play in one currency, as the reports count it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlayDay {
    /// Days since the epoch (UTC).
    pub day: u64,
    /// Cash stakes net of rollbacks (stake less its bonus share).
    pub stakes: i64,
    /// Prizes credited to cash (wins' cash share, jackpot payouts).
    pub prizes: i64,
    /// Bonus money converted to cash.
    pub bonus_cost: i64,
}

/// Every day on which `player` played in `currency` before `until_ms`,
/// summed, in order.
pub fn play_days(
    c: &Connection,
    player: PlayerId,
    currency: &str,
    until_ms: u64,
) -> Result<Vec<PlayDay>, ReadModelError> {
    // Whole days from the running sums (`crate::summaries`): a day counts
    // when a movement on it has a stake, a cash prize or a conversion,
    // which in its sums is a bet, a (rollback's) stake, a cash prize or a
    // conversion, since only bets add stakes and only rollbacks take them
    // away. The day `until_ms` cuts comes from the movements.
    let cut_day = until_ms / DAY_MS;
    let play_day = |row: &rusqlite::Row<'_>| {
        Ok(PlayDay {
            day: row.get::<_, i64>(0)? as u64,
            stakes: row.get(1)?,
            prizes: row.get(2)?,
            bonus_cost: row.get(3)?,
        })
    };
    let mut days = c
        .prepare_cached(
            "SELECT day, SUM(stake - bonus_stake), SUM(cash_prize), SUM(converted)
             FROM gaming_days INDEXED BY gaming_days_by_player
             WHERE player = ?1 AND currency = ?2 AND day < ?3
             GROUP BY day HAVING SUM(bets) > 0 OR SUM(stake) <> 0 OR SUM(cash_prize) <> 0 OR SUM(converted) <> 0
             ORDER BY day",
        )?
        .query_map(params![player.0 as i64, currency, clamp(cut_day)], play_day)?
        .collect::<Result<Vec<_>, _>>()?;
    let cut = c
        .prepare_cached(
            "SELECT time_ms / 86400000, SUM(stake - bonus_stake), SUM(cash_prize), SUM(converted)
             FROM movements INDEXED BY movements_by_time
             WHERE player = ?1 AND currency = ?2 AND time_ms >= ?3 AND time_ms < ?4
               AND (stake <> 0 OR cash_prize <> 0 OR converted <> 0)
             GROUP BY 1",
        )?
        .query_map(
            params![player.0 as i64, currency, clamp(cut_day * DAY_MS), clamp(until_ms)],
            play_day,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    days.extend(cut);
    Ok(days)
}
