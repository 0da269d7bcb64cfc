//! Segments and campaigns: every segment and campaign operators set
//! (`SetSegment`, `SetCampaign`), the latest per code; each campaign's
//! targets with the control group (`CampaignTargets`) and the delivery
//! outbox they make, settled by `CampaignSent`; the triggered campaigns'
//! owed evaluations; each player's exclusion and time-out, for
//! [`suppressed_for_marketing`]; segment membership and campaign uplift.
//!
//! Membership is live: [`members`] evaluates a segment's
//! rules over the projections at the moment it is asked, with one
//! aggregate query per rule (deposits and GGR over the movements in the
//! window by the time index, the last movement per player by the
//! (player, time) index, the latest VIP tier, the exclusions) and a walk
//! of the player ids in memory, a hash-set lookup per rule and player: a
//! few hundred bytes a player at most, so it scales to a million players
//! in one pass without a table of members to keep in step. The profile
//! rules are SQL too, over the plain, indexed `country` and `birth_year`
//! columns of the profiles view (`crate::profiles`, filled by the gateway
//! from the sealed profile): no evaluation opens a profile.
//!
//! The outbox is the journal, as for the bonus triggers: a target not in
//! the control group is `pending` until a `CampaignSent` journaled for
//! the same campaign and player settles it (`delivered` or `failed`).

use std::collections::{HashMap, HashSet};

use engine::bonus::{self, Campaign, CampaignStart, RgFilter, Segment, SegmentRule, TargetKind};
use engine::codec::{from_bytes, to_bytes};
use engine::ledger::games::GameType;
use engine::sequencer::Committed;
use engine::{Command, Currency, Outcome, payments, players, rg};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::ReadModelError;

/// The schema migration that creates the tables (appended to
/// `store::MIGRATIONS`). A file made before it is rebuilt
/// (`store::REBUILT_BEFORE`): `marketing_rg` must hold every exclusion
/// and time-out since the first record, or marketing would reach players
/// excluded before the upgrade.
pub(crate) const MIGRATION: &str = "CREATE TABLE segments (
        code TEXT PRIMARY KEY,
        segment BLOB NOT NULL,
        set_by_source INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        set_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE campaigns (
        code TEXT PRIMARY KEY,
        segment TEXT NOT NULL,
        start_kind TEXT NOT NULL,
        start_ms INTEGER,
        enabled INTEGER NOT NULL,
        campaign BLOB NOT NULL,
        set_by_source INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        set_ms INTEGER NOT NULL,
        launched_seq INTEGER
    ) WITHOUT ROWID;
    CREATE TABLE campaign_targets (
        campaign TEXT NOT NULL,
        player INTEGER NOT NULL,
        control INTEGER NOT NULL,
        state TEXT NOT NULL,
        seq INTEGER NOT NULL,
        time_ms INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        settled_seq INTEGER,
        PRIMARY KEY (campaign, player)
    ) WITHOUT ROWID;
    CREATE INDEX campaign_targets_pending ON campaign_targets (state, seq);
    CREATE TABLE campaign_due (
        campaign TEXT NOT NULL,
        player INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (campaign, player)
    ) WITHOUT ROWID;
    CREATE TABLE marketing_rg (
        player INTEGER PRIMARY KEY,
        self_excluded_until_ms INTEGER NOT NULL DEFAULT 0,
        timed_out_until_ms INTEGER NOT NULL DEFAULT 0
    );";

/// A segment as last set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentView {
    /// The segment.
    pub segment: Segment,
    /// The sequence number that set it last.
    pub seq: u64,
    /// When (journal time).
    pub set_ms: u64,
}

/// A campaign as last set, with its counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignView {
    /// The campaign.
    pub campaign: Campaign,
    /// The sequence number that set it last.
    pub seq: u64,
    /// When (journal time).
    pub set_ms: u64,
    /// Targets outside the control group (pending, delivered or failed).
    pub targets: u64,
    /// Targets in the control group.
    pub controls: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Sends given up.
    pub failed: u64,
    /// Players skipped (suppressed, or not members when a trigger fired).
    pub skipped: u64,
    /// The sequence number of a scheduled campaign's launch, once done.
    pub launched_seq: Option<u64>,
}

/// Folds one committed record into the tables.
pub(crate) fn apply(tx: &Transaction<'_>, committed: &Committed) -> Result<(), ReadModelError> {
    let seq = committed.envelope.seq as i64;
    let time_ms = committed.envelope.time_ms as i64;
    let source = committed.envelope.request.source.0;
    if !committed.outcome.is_ok() {
        return Ok(());
    }
    match &committed.envelope.request.command {
        Command::Bonus(bonus::Command::SetSegment { segment, .. }) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO segments (code, segment, set_by_source, seq, set_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![segment.code.as_str(), to_bytes(&**segment), source, seq, time_ms])?;
        }
        Command::Bonus(bonus::Command::SetCampaign { campaign, .. }) => {
            let (kind, at) = start_of(campaign.start);
            // A scheduled campaign launches once: changing it later keeps
            // its launch (and its targets).
            tx.prepare_cached(
                "INSERT INTO campaigns (code, segment, start_kind, start_ms, enabled, campaign,
                 set_by_source, seq, set_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (code) DO UPDATE SET segment = excluded.segment, start_kind = excluded.start_kind,
                 start_ms = excluded.start_ms, enabled = excluded.enabled, campaign = excluded.campaign,
                 set_by_source = excluded.set_by_source, seq = excluded.seq, set_ms = excluded.set_ms",
            )?
            .execute(params![
                campaign.code.as_str(),
                campaign.segment.as_str(),
                kind,
                at,
                campaign.enabled,
                to_bytes(&**campaign),
                source,
                seq,
                time_ms
            ])?;
        }
        Command::Bonus(bonus::Command::CampaignTargets {
            campaign,
            targets,
            complete,
        }) => {
            for (player, kind) in targets {
                let state = match kind {
                    TargetKind::Target => "pending",
                    TargetKind::Control => "control",
                    TargetKind::Skipped => "skipped",
                };
                // A player skipped once (not a member when a trigger
                // fired) may be targeted by a later trigger; a target or
                // a control stays what it is.
                tx.prepare_cached(
                    "INSERT INTO campaign_targets (campaign, player, control, state, seq, time_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (campaign, player) DO UPDATE SET control = excluded.control,
                        state = excluded.state, seq = excluded.seq, time_ms = excluded.time_ms
                     WHERE campaign_targets.state = 'skipped'",
                )?
                .execute(params![
                    campaign.as_str(),
                    player.0 as i64,
                    *kind == TargetKind::Control,
                    state,
                    seq,
                    time_ms
                ])?;
                tx.prepare_cached("DELETE FROM campaign_due WHERE campaign = ?1 AND player = ?2")?
                    .execute(params![campaign.as_str(), player.0 as i64])?;
            }
            if *complete {
                tx.prepare_cached("UPDATE campaigns SET launched_seq = ?2 WHERE code = ?1")?
                    .execute(params![campaign.as_str(), seq])?;
            }
        }
        Command::Bonus(bonus::Command::CampaignSent {
            campaign,
            player,
            delivered,
            attempts,
        }) => {
            let state = if *delivered { "delivered" } else { "failed" };
            tx.prepare_cached(
                "UPDATE campaign_targets SET state = ?3, attempts = ?4, settled_seq = ?5
                 WHERE campaign = ?1 AND player = ?2 AND state = 'pending'",
            )?
            .execute(params![campaign.as_str(), player.0 as i64, state, attempts, seq])?;
        }
        Command::Rg(rg::Command::SelfExclude { player, until_ms }) => {
            rg_until(tx, player.0, "self_excluded_until_ms", *until_ms)?;
        }
        Command::Rg(rg::Command::TimeOut { player, until_ms }) => {
            rg_until(tx, player.0, "timed_out_until_ms", *until_ms)?;
        }
        Command::Payments(payments::Command::Deposit { player, .. }) => owe(tx, "on_deposit", player.0, seq)?,
        Command::Payments(payments::Command::DepositConfirm { deposit }) => {
            let found = tx
                .prepare_cached("SELECT player FROM cashier_payments WHERE source = ?1 AND ext_id = ?2")?
                .query_row(params![deposit.source.0, deposit.id.as_str()], |row| {
                    row.get::<_, i64>(0)
                })
                .optional()?;
            if let Some(player) = found {
                owe(tx, "on_deposit", player as u64, seq)?;
            }
        }
        Command::Players(
            players::Command::RegisterPlayer { .. }
            | players::Command::RegisterProfiled { .. }
            | players::Command::RegisterAged { .. },
        ) => {
            if let Outcome::Registered { player } = committed.outcome {
                owe(tx, "on_registration", player.0, seq)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn start_of(start: CampaignStart) -> (&'static str, Option<i64>) {
    match start {
        CampaignStart::At { at_ms } => ("at", Some(at_ms as i64)),
        CampaignStart::OnDeposit => ("on_deposit", None),
        CampaignStart::OnRegistration => ("on_registration", None),
    }
}

fn rg_until(tx: &Transaction<'_>, player: u64, column: &str, until_ms: u64) -> Result<(), ReadModelError> {
    // The ledger keeps the later of the two times; so does this.
    tx.prepare_cached(&format!(
        "INSERT INTO marketing_rg (player, {column}) VALUES (?1, ?2)
         ON CONFLICT (player) DO UPDATE SET {column} = MAX({column}, excluded.{column})"
    ))?
    .execute(params![player as i64, until_ms as i64])?;
    Ok(())
}

/// Owes each enabled campaign triggered by `kind` an evaluation of
/// `player` (once per campaign and player: a campaign targets a player at
/// most once).
fn owe(tx: &Transaction<'_>, kind: &str, player: u64, seq: i64) -> Result<(), ReadModelError> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO campaign_due (campaign, player, seq)
         SELECT c.code, ?2, ?3 FROM campaigns c
         WHERE c.start_kind = ?1 AND c.enabled = 1
           AND NOT EXISTS (SELECT 1 FROM campaign_targets t
                WHERE t.campaign = c.code AND t.player = ?2 AND t.state != 'skipped')",
    )?
    .execute(params![kind, player as i64, seq])?;
    Ok(())
}

fn damaged(what: &str, seq: i64, error: impl std::fmt::Display) -> ReadModelError {
    ReadModelError::Damaged(format!("{what} at seq {seq}: {error}"))
}

/// Every segment, by code.
pub fn segments(c: &Connection) -> Result<Vec<SegmentView>, ReadModelError> {
    let mut statement = c.prepare_cached("SELECT segment, seq, set_ms FROM segments ORDER BY code")?;
    let rows = statement
        .query_map([], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(segment_view).collect()
}

/// The segment of `code`, if any.
pub fn segment(c: &Connection, code: &str) -> Result<Option<SegmentView>, ReadModelError> {
    let found = c
        .prepare_cached("SELECT segment, seq, set_ms FROM segments WHERE code = ?1")?
        .query_row([code], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        })
        .optional()?;
    found.map(segment_view).transpose()
}

fn segment_view((bytes, seq, set_ms): (Vec<u8>, i64, i64)) -> Result<SegmentView, ReadModelError> {
    let segment = from_bytes::<Segment>(&bytes).map_err(|e| damaged("segment", seq, e))?;
    Ok(SegmentView {
        segment,
        seq: seq as u64,
        set_ms: set_ms as u64,
    })
}

const CAMPAIGN_COLUMNS: &str = "c.campaign, c.seq, c.set_ms,
    (SELECT COUNT(*) FROM campaign_targets t WHERE t.campaign = c.code AND t.state IN ('pending', 'delivered', 'failed')),
    (SELECT COUNT(*) FROM campaign_targets t WHERE t.campaign = c.code AND t.control = 1),
    (SELECT COUNT(*) FROM campaign_targets t WHERE t.campaign = c.code AND t.state = 'delivered'),
    (SELECT COUNT(*) FROM campaign_targets t WHERE t.campaign = c.code AND t.state = 'failed'),
    (SELECT COUNT(*) FROM campaign_targets t WHERE t.campaign = c.code AND t.state = 'skipped'),
    c.launched_seq";

type CampaignRow = (Vec<u8>, i64, i64, [i64; 5], Option<i64>);

fn campaign_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CampaignRow> {
    let counts = [r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?];
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, counts, r.get(8)?))
}

fn campaign_view(row: CampaignRow) -> Result<CampaignView, ReadModelError> {
    let (bytes, seq, set_ms, [targets, controls, delivered, failed, skipped], launched_seq) = row;
    let campaign = from_bytes::<Campaign>(&bytes).map_err(|e| damaged("campaign", seq, e))?;
    Ok(CampaignView {
        campaign,
        seq: seq as u64,
        set_ms: set_ms as u64,
        targets: targets as u64,
        controls: controls as u64,
        delivered: delivered as u64,
        failed: failed as u64,
        skipped: skipped as u64,
        launched_seq: launched_seq.map(|s| s as u64),
    })
}

/// Every campaign, by code.
pub fn campaigns(c: &Connection) -> Result<Vec<CampaignView>, ReadModelError> {
    let mut statement = c.prepare_cached(&format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns c ORDER BY c.code"))?;
    let rows = statement.query_map([], campaign_row)?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(campaign_view).collect()
}

/// The campaign of `code`, if any.
pub fn campaign(c: &Connection, code: &str) -> Result<Option<CampaignView>, ReadModelError> {
    let found = c
        .prepare_cached(&format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns c WHERE c.code = ?1"))?
        .query_row([code], campaign_row)
        .optional()?;
    found.map(campaign_view).transpose()
}

/// The enabled campaigns scheduled at or before `now_ms` and not launched
/// yet, by code (the worker targets their segments; targeting is
/// idempotent per player, so a launch cut short by a restart is redone).
pub fn due_scheduled(c: &Connection, now_ms: u64) -> Result<Vec<CampaignView>, ReadModelError> {
    let mut statement = c.prepare_cached(&format!(
        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns c
         WHERE c.start_kind = 'at' AND c.enabled = 1 AND c.start_ms <= ?1
           AND c.launched_seq IS NULL
         ORDER BY c.code"
    ))?;
    let rows = statement
        .query_map([now_ms as i64], campaign_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(campaign_view).collect()
}

/// The triggered evaluations owed, oldest first: (campaign, player, the
/// sequence number of the record that owed it).
pub fn due_triggered(c: &Connection, limit: u32) -> Result<Vec<(String, u64, u64)>, ReadModelError> {
    let mut statement = c.prepare_cached("SELECT campaign, player, seq FROM campaign_due ORDER BY seq LIMIT ?1")?;
    let rows = statement.query_map([limit], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)? as u64,
            r.get::<_, i64>(2)? as u64,
        ))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// A target owed its offer and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingSend {
    /// The campaign's code.
    pub campaign: String,
    /// The player.
    pub player: u64,
}

/// The sends owed and not yet settled, oldest first, at most `limit`.
pub fn pending_sends(c: &Connection, limit: u32) -> Result<Vec<PendingSend>, ReadModelError> {
    let mut statement = c.prepare_cached(
        "SELECT campaign, player FROM campaign_targets WHERE state = 'pending' ORDER BY seq LIMIT ?1",
    )?;
    let rows = statement.query_map([limit], |r| {
        Ok(PendingSend {
            campaign: r.get(0)?,
            player: r.get::<_, i64>(1)? as u64,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// A campaign's target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetView {
    /// The player.
    pub player: u64,
    /// In the control group.
    pub control: bool,
    /// `control`, `skipped`, `pending`, `delivered` or `failed`.
    pub state: String,
    /// When targeted, ms since the epoch.
    pub time_ms: u64,
}

/// A campaign's targets by player, from `after` (exclusive), at most
/// `limit`.
pub fn targets(c: &Connection, campaign: &str, after: u64, limit: u32) -> Result<Vec<TargetView>, ReadModelError> {
    let mut statement = c.prepare_cached(
        "SELECT player, control, state, time_ms FROM campaign_targets WHERE campaign = ?1 AND player > ?2
         ORDER BY player LIMIT ?3",
    )?;
    let rows = statement.query_map(params![campaign, after as i64, limit], |r| {
        Ok(TargetView {
            player: r.get::<_, i64>(0)? as u64,
            control: r.get(1)?,
            state: r.get(2)?,
            time_ms: r.get::<_, i64>(3)? as u64,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// One arm of a campaign's uplift: players, and what they deposited and
/// lost (GGR) since each was targeted, minor units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Arm {
    /// Players in the arm.
    pub players: u64,
    /// Deposits in the currency since each player was targeted.
    pub deposits_minor: i64,
    /// Stakes less prizes in the currency since then.
    pub ggr_minor: i64,
}

/// A campaign's targets and control group, each summed over `currency`
/// since each player was targeted.
pub fn uplift(c: &Connection, campaign: &str, currency: Currency) -> Result<(Arm, Arm), ReadModelError> {
    let mut statement = c.prepare_cached(
        "SELECT t.control,
            COALESCE((SELECT SUM(m.cash_delta) FROM movements m WHERE m.player = t.player AND m.currency = ?2
                AND m.time_ms >= t.time_ms AND m.kind IN ('deposit', 'deposit_confirm')), 0),
            COALESCE((SELECT SUM(m.stake - m.prize) FROM movements m WHERE m.player = t.player
                AND m.currency = ?2 AND m.time_ms >= t.time_ms), 0)
         FROM campaign_targets t WHERE t.campaign = ?1 AND t.state != 'skipped'",
    )?;
    let rows = statement.query_map(params![campaign, currency.code()], |r| {
        Ok((r.get::<_, bool>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    })?;
    let (mut targets, mut control) = (Arm::default(), Arm::default());
    for row in rows {
        let (is_control, deposits, ggr) = row?;
        let arm = if is_control { &mut control } else { &mut targets };
        arm.players += 1;
        arm.deposits_minor = arm.deposits_minor.saturating_add(deposits);
        arm.ggr_minor = arm.ggr_minor.saturating_add(ggr);
    }
    Ok((targets, control))
}

/// Why a player gets no marketing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suppression {
    /// Self-excluded now.
    SelfExcluded,
    /// Timed out now.
    TimedOut,
    /// Suspended, closed or erased.
    AccountNotActive,
    /// Opted out of the channel's marketing.
    NoConsent,
    /// An AML alert not yet resolved (no case, or an open one): a marker
    /// of harm until someone looked.
    OpenRiskAlert,
    /// An open problem-gambling marker alert scoring high enough
    /// (`crate::analytics::problem_gambling_flagged`): offers feed harm.
    ProblemGamblingMarkers,
}

impl Suppression {
    /// The stable lower-case name.
    pub const fn name(self) -> &'static str {
        match self {
            Suppression::SelfExcluded => "self_excluded",
            Suppression::TimedOut => "timed_out",
            Suppression::AccountNotActive => "account_not_active",
            Suppression::NoConsent => "no_consent",
            Suppression::OpenRiskAlert => "open_risk_alert",
            Suppression::ProblemGamblingMarkers => "problem_gambling_markers",
        }
    }
}

/// Whether `player` must get no marketing at `now_ms`, and why: the one
/// place every campaign asks (responsible gambling and consent first).
/// `consented` is the player's marketing consent for the channel, which
/// the gateway opens from the sealed profile (`None`: no message is sent,
/// only an offer). Checks, in order: exclusion and time-out, account
/// status, consent, the risk module's unresolved alerts, the
/// problem-gambling markers.
pub fn suppressed_for_marketing(
    c: &Connection,
    player: u64,
    consented: Option<bool>,
    now_ms: u64,
) -> Result<Option<Suppression>, ReadModelError> {
    let rg = c
        .prepare_cached("SELECT self_excluded_until_ms, timed_out_until_ms FROM marketing_rg WHERE player = ?1")?
        .query_row([player as i64], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
        })
        .optional()?;
    if let Some((excluded, timed_out)) = rg {
        if excluded > now_ms {
            return Ok(Some(Suppression::SelfExcluded));
        }
        if timed_out > now_ms {
            return Ok(Some(Suppression::TimedOut));
        }
    }
    let status = c
        .prepare_cached("SELECT status, erased_by FROM profiles WHERE player = ?1")?
        .query_row([player as i64], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))
        })
        .optional()?;
    if status.is_some_and(|(status, erased)| status != "active" || erased.is_some()) {
        return Ok(Some(Suppression::AccountNotActive));
    }
    if consented == Some(false) {
        return Ok(Some(Suppression::NoConsent));
    }
    let open_alert = c
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM risk_alerts a LEFT JOIN risk_cases k ON k.id = a.case_id
             WHERE a.player = ?1 AND (a.case_id IS NULL OR k.state = 'open'))",
        )?
        .query_row([player as i64], |r| r.get::<_, bool>(0))?;
    if open_alert {
        return Ok(Some(Suppression::OpenRiskAlert));
    }
    let flagged = crate::analytics::problem_gambling_flagged(c, engine::PlayerId(player))?;
    Ok(flagged.then_some(Suppression::ProblemGamblingMarkers))
}

/// What [`members`] needs besides the read model: the games of each
/// type (the catalogue is the ledger's), as (aggregator source, code).
pub trait GamesOfType {
    /// The games of any of `types`.
    fn games(&self, types: &[GameType]) -> HashSet<(u32, String)>;
}

/// The members of `segment` at `now_ms` (of `only`, if given, else of
/// every player), ascending: the players who keep every rule of its `all`
/// group and, if it has an `any` group, at least one of those. Each rule
/// is one query over the projections (one aggregate query for the
/// behavioural rules, an indexed range for country and age), then one
/// pass over the player ids with a hash-set lookup per rule.
///
/// Country is the profile's country of residence. Age is in whole years
/// as the player turns this calendar year (UTC): only the birth year is
/// kept in clear, so a player born in 1990 is 36 for all of 2026.
/// Players without a profile, erased, or whose attributes the gateway has
/// not filled yet keep no country or age rule.
pub fn members(
    c: &Connection,
    segment: &Segment,
    now_ms: u64,
    only: Option<u64>,
    games: &dyn GamesOfType,
) -> Result<Vec<u64>, ReadModelError> {
    let mut players: Vec<u64> = match only {
        Some(player) => c
            .prepare_cached("SELECT player FROM players WHERE player = ?1")?
            .query_map([player as i64], |r| r.get::<_, i64>(0))?
            .map(|p| p.map(|p| p as u64))
            .collect::<Result<_, _>>()?,
        None => c
            .prepare_cached("SELECT player FROM players ORDER BY player")?
            .query_map([], |r| r.get::<_, i64>(0))?
            .map(|p| p.map(|p| p as u64))
            .collect::<Result<_, _>>()?,
    };
    for rule in &segment.all {
        if players.is_empty() {
            return Ok(players);
        }
        let keeps = keepers(c, rule, now_ms, games)?;
        players.retain(|p| keeps.keeps(*p));
    }
    if segment.any.is_empty() || players.is_empty() {
        return Ok(players);
    }
    let any = segment
        .any
        .iter()
        .map(|rule| keepers(c, rule, now_ms, games))
        .collect::<Result<Vec<_>, _>>()?;
    players.retain(|p| any.iter().any(|k| k.keeps(*p)));
    Ok(players)
}

/// The civil year of `ms` since the epoch (UTC; Howard Hinnant's
/// `civil_from_days`).
pub fn year_of(ms: u64) -> i64 {
    let z = (ms / DAY_MS) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    yoe + era * 400 + i64::from(mp >= 10)
}

/// The players keeping one rule: those listed, or (when a player with no
/// rows keeps it) everyone but those listed as failing.
enum Keepers {
    Only(HashSet<u64>),
    AllBut(HashSet<u64>),
}

impl Keepers {
    fn keeps(&self, player: u64) -> bool {
        match self {
            Keepers::Only(set) => set.contains(&player),
            Keepers::AllBut(set) => !set.contains(&player),
        }
    }

    /// From each player's figure and whether a player without one keeps
    /// the rule.
    fn of<T: Default>(rows: HashMap<u64, T>, keeps: impl Fn(&T) -> bool) -> Keepers {
        if keeps(&T::default()) {
            Keepers::AllBut(rows.into_iter().filter(|(_, v)| !keeps(v)).map(|(p, _)| p).collect())
        } else {
            Keepers::Only(rows.into_iter().filter(|(_, v)| keeps(v)).map(|(p, _)| p).collect())
        }
    }
}

const DAY_MS: u64 = 86_400_000;

fn keepers(
    c: &Connection,
    rule: &SegmentRule,
    now_ms: u64,
    games: &dyn GamesOfType,
) -> Result<Keepers, ReadModelError> {
    let since = |days: u32| now_ms.saturating_sub(u64::from(days) * DAY_MS) as i64;
    Ok(match rule {
        SegmentRule::Deposits {
            currency,
            window_days,
            min_total,
            max_total,
            min_count,
        } => {
            let rows: HashMap<u64, (i64, u32)> = c
                .prepare_cached(
                    "SELECT player, SUM(cash_delta), COUNT(*) FROM movements
                     WHERE time_ms >= ?1 AND currency = ?2 AND kind IN ('deposit', 'deposit_confirm')
                     GROUP BY player",
                )?
                .query_map(params![since(*window_days), currency.code()], |r| {
                    Ok((r.get::<_, i64>(0)? as u64, (r.get(1)?, r.get(2)?)))
                })?
                .collect::<Result<_, _>>()?;
            let (min, max) = (min_total.minor(), max_total.map(|m| m.minor()));
            Keepers::of(rows, |&(total, count)| {
                total >= min && max.is_none_or(|max| total <= max) && count >= *min_count
            })
        }
        SegmentRule::Ggr {
            currency,
            window_days,
            min,
            max,
        } => {
            let rows: HashMap<u64, i64> = c
                .prepare_cached(
                    "SELECT player, SUM(stake) - SUM(prize) FROM movements
                     WHERE time_ms >= ?1 AND currency = ?2 GROUP BY player",
                )?
                .query_map(params![since(*window_days), currency.code()], |r| {
                    Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
                })?
                .collect::<Result<_, _>>()?;
            let (min, max) = (min.map(|m| m.minor()), max.map(|m| m.minor()));
            Keepers::of(rows, |&ggr| {
                min.is_none_or(|min| ggr >= min) && max.is_none_or(|max| ggr <= max)
            })
        }
        SegmentRule::LastActivity { min_days, max_days } => {
            let rows: HashMap<u64, Option<i64>> = c
                .prepare_cached("SELECT player, MAX(time_ms) FROM movements GROUP BY player")?
                .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, Some(r.get(1)?))))?
                .collect::<Result<_, _>>()?;
            let (newest, oldest) = (since(*min_days), max_days.map(since));
            Keepers::of(rows, |last| {
                last.is_some_and(|last| last <= newest && oldest.is_none_or(|oldest| last >= oldest))
            })
        }
        SegmentRule::GameTypes { types, window_days } => {
            let wanted = games.games(types);
            let mut statement = c.prepare_cached(
                "SELECT DISTINCT player, source, game FROM movements
                 WHERE time_ms >= ?1 AND kind = 'bet' AND game IS NOT NULL",
            )?;
            let mut keep = HashSet::new();
            let rows = statement.query_map([since(*window_days)], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, u32>(1)?, r.get::<_, String>(2)?))
            })?;
            for row in rows {
                let (player, source, game) = row?;
                if wanted.contains(&(source, game)) {
                    keep.insert(player);
                }
            }
            Keepers::Only(keep)
        }
        SegmentRule::VipTier { tiers, none_too } => {
            let rows: HashMap<u64, Option<String>> = c
                .prepare_cached(
                    "SELECT player, tier FROM vip_tiers v
                     WHERE seq = (SELECT MAX(seq) FROM vip_tiers w WHERE w.player = v.player)",
                )?
                .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            Keepers::of(rows, |tier: &Option<String>| match tier {
                None => *none_too,
                Some(tier) => tiers.iter().any(|t| t.as_str() == tier),
            })
        }
        SegmentRule::RgStatus { status } => {
            let rows: HashMap<u64, bool> = c
                .prepare_cached("SELECT player, self_excluded_until_ms, timed_out_until_ms FROM marketing_rg")?
                .query_map([], |r| {
                    let (excluded, timed_out) = (r.get::<_, i64>(1)?, r.get::<_, i64>(2)?);
                    Ok((r.get::<_, i64>(0)? as u64, excluded > 0 || timed_out > 0))
                })?
                .collect::<Result<_, _>>()?;
            match status {
                RgFilter::NeverRestricted => Keepers::of(rows, |restricted| !restricted),
                RgFilter::PreviouslyRestricted => Keepers::of(rows, |restricted| *restricted),
            }
        }
        SegmentRule::Country { countries } => {
            let mut statement = c.prepare_cached("SELECT player FROM profiles WHERE country = ?1")?;
            let mut keep = HashSet::new();
            for country in countries {
                for player in statement.query_map([country.as_str()], |r| r.get::<_, i64>(0))? {
                    keep.insert(player? as u64);
                }
            }
            Keepers::Only(keep)
        }
        SegmentRule::AgeBetween { min_years, max_years } => {
            let year = year_of(now_ms);
            let keep = c
                .prepare_cached("SELECT player FROM profiles WHERE birth_year BETWEEN ?1 AND ?2")?
                .query_map(
                    params![year - i64::from(*max_years), year - i64::from(*min_years)],
                    |r| r.get::<_, i64>(0),
                )?
                .map(|p| p.map(|p| p as u64))
                .collect::<Result<_, _>>()?;
            Keepers::Only(keep)
        }
    })
}
