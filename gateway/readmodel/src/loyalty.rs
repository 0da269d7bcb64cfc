//! The loyalty programme's read side: every configuration set
//! (`SetLoyalty`), the redemptions of points (`RedeemPoints`), each
//! player's VIP tier history (`SetVipTier`), the promotion rules per
//! jurisdiction (`SetPromotionRules`); and the sums the points, the tier
//! reviews and the cashback are worked out from, over the movements the
//! history projection keeps.
//!
//! Points are not stored: they are the stakes of a player's movements
//! (bets, less their rollbacks) times the rate in force when each was
//! journaled, the rates of each configuration applying from its sequence
//! number to the next one's. So a changed rate never rewrites points
//! already earned, and the figure is rebuilt from the journal like every
//! other table. Configurations are stored as the ledger's own encoding.

use engine::bonus::{self, LoyaltyConfig};
use engine::codec::{from_bytes, to_bytes};
use engine::sequencer::Committed;
use engine::{Command, Outcome};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::ReadModelError;

/// The schema migration that creates the tables (appended to
/// `store::MIGRATIONS`). Only journals written after it hold loyalty
/// records, so no rebuild.
pub(crate) const MIGRATION: &str = "CREATE TABLE loyalty_configs (
        seq INTEGER PRIMARY KEY,
        set_ms INTEGER NOT NULL,
        set_by_source INTEGER NOT NULL,
        config BLOB NOT NULL
    );
    CREATE TABLE loyalty_redemptions (
        source INTEGER NOT NULL,
        ext_id TEXT NOT NULL,
        player INTEGER NOT NULL,
        points INTEGER NOT NULL,
        currency TEXT NOT NULL,
        amount_minor INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        time_ms INTEGER NOT NULL,
        PRIMARY KEY (source, ext_id)
    ) WITHOUT ROWID;
    CREATE INDEX loyalty_redemptions_by_player ON loyalty_redemptions (player, seq);
    CREATE TABLE vip_tiers (
        seq INTEGER PRIMARY KEY,
        player INTEGER NOT NULL,
        tier TEXT,
        period INTEGER NOT NULL,
        operator INTEGER NOT NULL,
        time_ms INTEGER NOT NULL
    );
    CREATE INDEX vip_tiers_by_player ON vip_tiers (player, seq);
    CREATE TABLE promotion_rules (
        jurisdiction TEXT PRIMARY KEY,
        mixed_product_banned INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        set_ms INTEGER NOT NULL
    ) WITHOUT ROWID;";

/// The `jurisdiction` column of the default profile's promotion rules.
pub const DEFAULT_JURISDICTION: &str = "default";

/// Records the loyalty records that the ledger accepted.
pub(crate) fn apply(tx: &Transaction<'_>, committed: &Committed) -> Result<(), ReadModelError> {
    let request = &committed.envelope.request;
    let (seq, time_ms) = (committed.envelope.seq as i64, committed.envelope.time_ms as i64);
    let Command::Bonus(command) = &request.command else {
        return Ok(());
    };
    match (command, &committed.outcome) {
        (bonus::Command::SetLoyalty { config, .. }, Outcome::Accepted) => {
            tx.prepare_cached(
                "INSERT INTO loyalty_configs (seq, set_ms, set_by_source, config) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![seq, time_ms, request.source.0, to_bytes(config.as_ref())])?;
        }
        (bonus::Command::RedeemPoints { grant, points, .. }, outcome) if outcome.is_ok() => {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO loyalty_redemptions
                 (source, ext_id, player, points, currency, amount_minor, seq, time_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                request.source.0,
                request.id.as_str(),
                grant.player.0 as i64,
                *points as i64,
                grant.currency.code(),
                grant.amount.minor(),
                seq,
                time_ms
            ])?;
        }
        (
            bonus::Command::SetVipTier {
                player,
                tier,
                period,
                operator,
            },
            Outcome::Accepted,
        ) => {
            tx.prepare_cached(
                "INSERT INTO vip_tiers (seq, player, tier, period, operator, time_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                seq,
                player.0 as i64,
                tier.as_ref().map(|t| t.as_str()),
                period,
                operator.0,
                time_ms
            ])?;
        }
        (
            bonus::Command::SetPromotionRules {
                jurisdiction,
                mixed_product_banned,
                ..
            },
            Outcome::Accepted,
        ) => {
            let code = jurisdiction.map_or_else(|| DEFAULT_JURISDICTION.to_owned(), |j| j.to_string());
            tx.prepare_cached(
                "INSERT OR REPLACE INTO promotion_rules (jurisdiction, mixed_product_banned, seq, set_ms)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![code, mixed_product_banned, seq, time_ms])?;
        }
        _ => {}
    }
    Ok(())
}

/// A configuration as set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigView {
    /// The settings.
    pub config: LoyaltyConfig,
    /// The sequence number that set them; they apply to movements after it.
    pub seq: u64,
    /// When (journal time).
    pub set_ms: u64,
}

/// Every configuration, oldest first.
pub fn configs(c: &Connection) -> Result<Vec<ConfigView>, ReadModelError> {
    let mut statement = c.prepare_cached("SELECT config, seq, set_ms FROM loyalty_configs ORDER BY seq")?;
    let rows = statement
        .query_map([], |row| {
            Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(bytes, seq, set_ms)| {
            let config = from_bytes::<LoyaltyConfig>(&bytes)
                .map_err(|e| ReadModelError::Damaged(format!("loyalty configuration at seq {seq}: {e}")))?;
            Ok(ConfigView {
                config,
                seq: seq as u64,
                set_ms: set_ms as u64,
            })
        })
        .collect()
}

/// The configuration in force (the last set), if any.
pub fn current(c: &Connection) -> Result<Option<ConfigView>, ReadModelError> {
    Ok(configs(c)?.pop())
}

/// Stakes summed per game: `(aggregator source, game code, currency, stake
/// in minor units)`. Rollbacks are in, negative.
pub type Stakes = Vec<(u32, Option<String>, String, i64)>;

/// A player's stakes on movements with `from_seq < seq < to_seq`.
pub fn stakes_between_seqs(c: &Connection, player: u64, from_seq: u64, to_seq: u64) -> Result<Stakes, ReadModelError> {
    let mut statement = c.prepare_cached(
        "SELECT source, game, currency, SUM(stake) FROM movements
         WHERE player = ?1 AND seq > ?2 AND seq < ?3 AND stake != 0 GROUP BY source, game, currency",
    )?;
    let to = i64::try_from(to_seq).unwrap_or(i64::MAX);
    let rows = statement.query_map(params![player as i64, from_seq as i64, to], stake_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// A player's stakes on movements journaled at `from_ms <= time < to_ms`.
pub fn stakes_between_times(c: &Connection, player: u64, from_ms: u64, to_ms: u64) -> Result<Stakes, ReadModelError> {
    let mut statement = c.prepare_cached(
        "SELECT source, game, currency, SUM(stake) FROM movements
         WHERE player = ?1 AND time_ms >= ?2 AND time_ms < ?3 AND stake != 0 GROUP BY source, game, currency",
    )?;
    let rows = statement.query_map(params![player as i64, from_ms as i64, to_ms as i64], stake_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn stake_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(u32, Option<String>, String, i64)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

/// The players who staked at `from_ms <= time < to_ms`, and those with a
/// tier now (a review may lower theirs), by id, at most `limit` from
/// `after`.
pub fn review_candidates(
    c: &Connection,
    from_ms: u64,
    to_ms: u64,
    after: u64,
    limit: u32,
) -> Result<Vec<u64>, ReadModelError> {
    let mut statement = c.prepare_cached(
        "SELECT player FROM (
             SELECT DISTINCT player FROM movements WHERE time_ms >= ?1 AND time_ms < ?2 AND stake != 0
             UNION
             SELECT v.player FROM vip_tiers v WHERE v.tier IS NOT NULL
               AND v.seq = (SELECT MAX(seq) FROM vip_tiers w WHERE w.player = v.player)
         ) WHERE player > ?3 ORDER BY player LIMIT ?4",
    )?;
    let rows = statement.query_map(params![from_ms as i64, to_ms as i64, after as i64, limit], |row| {
        row.get::<_, i64>(0)
    })?;
    Ok(rows.map(|r| r.map(|p| p as u64)).collect::<Result<Vec<_>, _>>()?)
}

/// Net losses (stakes less prizes) per player in `currency` at `from_ms <=
/// time < to_ms`, only the positive ones, by player, at most `limit` from
/// `after`.
pub fn net_losses(
    c: &Connection,
    currency: &str,
    from_ms: u64,
    to_ms: u64,
    after: u64,
    limit: u32,
) -> Result<Vec<(u64, i64)>, ReadModelError> {
    let mut statement = c.prepare_cached(
        "SELECT player, SUM(stake) - SUM(prize) AS lost FROM movements
         WHERE currency = ?1 AND time_ms >= ?2 AND time_ms < ?3 AND player > ?4
         GROUP BY player HAVING lost > 0 ORDER BY player LIMIT ?5",
    )?;
    let rows = statement.query_map(
        params![currency, from_ms as i64, to_ms as i64, after as i64, limit],
        |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)?)),
    )?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// A redemption of points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedemptionView {
    /// Its request id.
    pub id: String,
    /// Points spent.
    pub points: u64,
    /// The bonus's currency.
    pub currency: String,
    /// The bonus granted, minor units.
    pub amount_minor: i64,
    /// Its sequence number.
    pub seq: u64,
    /// When.
    pub time_ms: u64,
}

fn redemption_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RedemptionView> {
    Ok(RedemptionView {
        id: row.get(0)?,
        points: row.get::<_, i64>(1)? as u64,
        currency: row.get(2)?,
        amount_minor: row.get(3)?,
        seq: row.get::<_, i64>(4)? as u64,
        time_ms: row.get::<_, i64>(5)? as u64,
    })
}

/// A player's redemptions, newest first, at most `limit`.
pub fn redemptions(c: &Connection, player: u64, limit: u32) -> Result<Vec<RedemptionView>, ReadModelError> {
    let mut statement = c.prepare_cached(
        "SELECT ext_id, points, currency, amount_minor, seq, time_ms FROM loyalty_redemptions
         WHERE player = ?1 ORDER BY seq DESC LIMIT ?2",
    )?;
    let rows = statement.query_map(params![player as i64, limit], redemption_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The redemption journaled under (`source`, `id`), if any.
pub fn redemption(c: &Connection, source: u32, id: &str) -> Result<Option<RedemptionView>, ReadModelError> {
    Ok(c.prepare_cached(
        "SELECT ext_id, points, currency, amount_minor, seq, time_ms FROM loyalty_redemptions
         WHERE source = ?1 AND ext_id = ?2",
    )?
    .query_row(params![source, id], redemption_row)
    .optional()?)
}

/// Every point a player has redeemed.
pub fn redeemed(c: &Connection, player: u64) -> Result<u64, ReadModelError> {
    let sum: i64 = c
        .prepare_cached("SELECT COALESCE(SUM(points), 0) FROM loyalty_redemptions WHERE player = ?1")?
        .query_row([player as i64], |row| row.get(0))?;
    Ok(sum.max(0) as u64)
}

/// A tier change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierView {
    /// The tier (`None`: none).
    pub tier: Option<String>,
    /// The review period it was worked out for (0: an operator's).
    pub period: u32,
    /// Who (0: the review worker).
    pub operator: u32,
    /// Its sequence number.
    pub seq: u64,
    /// When.
    pub time_ms: u64,
}

/// A player's tier changes, newest first, at most `limit`.
pub fn tiers(c: &Connection, player: u64, limit: u32) -> Result<Vec<TierView>, ReadModelError> {
    let mut statement = c.prepare_cached(
        "SELECT tier, period, operator, seq, time_ms FROM vip_tiers WHERE player = ?1 ORDER BY seq DESC LIMIT ?2",
    )?;
    let rows = statement.query_map(params![player as i64, limit], |row| {
        Ok(TierView {
            tier: row.get(0)?,
            period: row.get(1)?,
            operator: row.get(2)?,
            seq: row.get::<_, i64>(3)? as u64,
            time_ms: row.get::<_, i64>(4)? as u64,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// A player's tier now (`None`: none).
pub fn tier(c: &Connection, player: u64) -> Result<Option<String>, ReadModelError> {
    Ok(tiers(c, player, 1)?.pop().and_then(|t| t.tier))
}

/// Whether the request (`source`, `id`) was journaled (granted or
/// refused), from the history projection's transactions.
pub fn journaled(c: &Connection, source: u32, id: &str) -> Result<bool, ReadModelError> {
    Ok(
        c.prepare_cached("SELECT 1 FROM transactions WHERE source = ?1 AND ext_id = ?2")?
            .query_row(params![source, id], |_| Ok(()))
            .optional()?
            .is_some(),
    )
}

/// The promotion rules set for each jurisdiction (`default` for the
/// default profile's): `(jurisdiction, mixed_product_banned, seq)`.
pub fn promotion_rules(c: &Connection) -> Result<Vec<(String, bool, u64)>, ReadModelError> {
    let mut statement =
        c.prepare_cached("SELECT jurisdiction, mixed_product_banned, seq FROM promotion_rules ORDER BY jurisdiction")?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get::<_, i64>(2)? as u64)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Whether `jurisdiction` bans mixed-product promotions: its own rules,
/// else the default profile's, else not.
pub fn mixed_product_banned(c: &Connection, jurisdiction: &str) -> Result<bool, ReadModelError> {
    let found: Option<bool> = c
        .prepare_cached(
            "SELECT mixed_product_banned FROM promotion_rules WHERE jurisdiction IN (?1, ?2)
             ORDER BY jurisdiction = ?2 LIMIT 1",
        )?
        .query_row(params![jurisdiction, DEFAULT_JURISDICTION], |row| row.get(0))
        .optional()?;
    Ok(found.unwrap_or(false))
}
