//! The bonus domain's commands: grant (alone, or queued behind the active
//! bonus), forfeit, expiry sweep; and the loyalty programme's: its
//! settings, redemptions of points, VIP tier changes, promotion rules.

use super::campaign::{Campaign, Segment, TargetKind};
use super::free_rounds::{FreeRoundsAward, FreeRoundsState};
use super::loyalty::LoyaltyConfig;
use super::template::BonusTemplate;
use crate::ids::{BonusCode, GameCode, Jurisdiction, OperatorId, PlayerId};
use crate::money::{Amount, Currency};

/// What the bonus domain can be asked to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Grants a bonus with a wagering requirement, refused while another
    /// is active (tag 20: as journaled before bonuses could queue, so old
    /// journals replay to the outcomes they recorded). The gateway sends
    /// [`Command::GrantQueued`].
    Grant(BonusGrant),
    /// Grants a bonus; while another is active it is queued behind it, in
    /// grant order, and becomes active when the ones before it end.
    GrantQueued {
        /// The bonus.
        grant: BonusGrant,
        /// The largest stake a bet may have while it is active (`None`: no
        /// cap).
        max_bet: Option<Amount>,
    },
    /// Takes the active bonus and its balance away (the next queued one
    /// becomes active).
    Forfeit {
        /// The player.
        player: PlayerId,
        /// The wallet's currency.
        currency: Currency,
    },
    /// Takes one bonus away: the active one (with its balance) or a queued
    /// one (nothing was paid for it yet).
    ForfeitBonus {
        /// The player.
        player: PlayerId,
        /// The wallet's currency.
        currency: Currency,
        /// Which bonus (`None`: the active one).
        serial: Option<u32>,
    },
    /// Sets a bonus template (new, or replacing the one of its code). The
    /// ledger checks it and keeps nothing; the read model keeps it.
    SetTemplate {
        /// The template.
        template: Box<BonusTemplate>,
        /// Who set it.
        operator: OperatorId,
    },
    /// Forfeits the active bonus if its expiry has passed (a sweep; expiry
    /// also happens on the wallet's next money movement).
    Expire {
        /// The player.
        player: PlayerId,
        /// The wallet's currency.
        currency: Currency,
    },
    /// Sets the loyalty programme (rates, redemption, VIP tiers). The
    /// ledger checks it and keeps nothing; the read model keeps it.
    SetLoyalty {
        /// The settings.
        config: Box<LoyaltyConfig>,
        /// Who set them.
        operator: OperatorId,
    },
    /// Turns loyalty points into bonus money: a queued grant, as
    /// [`Command::GrantQueued`], that records the points it spends (the
    /// read model subtracts them; the gateway checks the balance).
    RedeemPoints {
        /// The bonus (boxed: the variant would otherwise be the largest
        /// command, and every request would grow with it).
        grant: Box<BonusGrant>,
        /// The largest stake while it is active.
        max_bet: Option<Amount>,
        /// The points spent, at least 1.
        points: u64,
    },
    /// Records a player's VIP tier from a review (or an operator's
    /// decision). The ledger checks the player exists; the read model keeps
    /// the tier and its history.
    SetVipTier {
        /// The player.
        player: PlayerId,
        /// The tier's code (`None`: no tier).
        tier: Option<BonusCode>,
        /// The review period it was worked out for (periods since the
        /// epoch), or 0 for an operator's decision.
        period: u32,
        /// Who: [`OperatorId::SYSTEM`] for the review worker.
        operator: OperatorId,
    },
    /// Sets a jurisdiction's promotion rules (`None`: the default's). The
    /// ledger keeps nothing; the read model keeps them and the grants read
    /// them.
    SetPromotionRules {
        /// The jurisdiction.
        jurisdiction: Option<Jurisdiction>,
        /// Whether a template spanning products is refused for its players.
        mixed_product_banned: bool,
        /// Who set them.
        operator: OperatorId,
    },
    /// Sets a marketing segment (new, or replacing the one of its code).
    /// The ledger checks its bounds and keeps nothing; the read model keeps
    /// it and works its members out.
    SetSegment {
        /// The segment.
        segment: Box<Segment>,
        /// Who set it.
        operator: OperatorId,
    },
    /// Sets a campaign (new, or replacing the one of its code). The ledger
    /// checks its bounds and keeps nothing; the read model keeps it.
    SetCampaign {
        /// The campaign.
        campaign: Box<Campaign>,
        /// Who set it.
        operator: OperatorId,
    },
    /// Records whom a campaign targets, a batch of players at a time
    /// (each player kept once per campaign by the read model): a target
    /// is owed the offer and the message (the delivery outbox), a control
    /// gets nothing, a skipped player (suppressed, or not a member when a
    /// trigger fired) is recorded with nothing owed. `complete` marks a
    /// scheduled campaign's last batch.
    CampaignTargets {
        /// The campaign's code.
        campaign: BonusCode,
        /// The players, each with what it is (1 to
        /// [`super::TARGETS_PER_COMMAND_MAX`], or none in a last batch).
        targets: Vec<(PlayerId, TargetKind)>,
        /// Whether this is the launch's last batch.
        complete: bool,
    },
    /// Records a campaign's send to a player: delivered (the provider took
    /// it) or given up after `attempts`. Settles the outbox row.
    CampaignSent {
        /// The campaign's code.
        campaign: BonusCode,
        /// The player.
        player: PlayerId,
        /// Whether the provider took the message.
        delivered: bool,
        /// Attempts made.
        attempts: u32,
    },
    /// Records free rounds awarded through the aggregator's free-rounds
    /// call, before the call is made: the read model keeps it as a durable
    /// outbox row until [`Command::FreeRoundsSettled`] settles it. The
    /// ledger checks its bounds and the player, and keeps nothing.
    FreeRoundsAwarded {
        /// The award (boxed: the largest variant otherwise).
        award: Box<FreeRoundsAward>,
        /// Who granted it ([`OperatorId::SYSTEM`] for a campaign).
        operator: OperatorId,
    },
    /// Records where an award stands now: the aggregator confirmed or
    /// refused it, a cancel was asked for or done, or its winnings were
    /// credited. The read model applies it to the award's row.
    FreeRoundsSettled {
        /// The player.
        player: PlayerId,
        /// The award's bonus code.
        code: BonusCode,
        /// Its new state.
        state: FreeRoundsState,
        /// Calls made to the aggregator for this change (0: none).
        attempts: u32,
        /// Who ([`OperatorId::SYSTEM`] for the worker or the wallet).
        operator: OperatorId,
    },
}

impl Command {
    /// The player the command is about (`None`: a template).
    pub fn player(&self) -> Option<PlayerId> {
        Some(match self {
            Command::SetTemplate { .. }
            | Command::SetLoyalty { .. }
            | Command::SetPromotionRules { .. }
            | Command::SetSegment { .. }
            | Command::SetCampaign { .. }
            | Command::CampaignTargets { .. } => {
                return None;
            }
            Command::Grant(grant) | Command::GrantQueued { grant, .. } => grant.player,
            Command::RedeemPoints { grant, .. } => grant.player,
            Command::Forfeit { player, .. }
            | Command::ForfeitBonus { player, .. }
            | Command::Expire { player, .. }
            | Command::SetVipTier { player, .. }
            | Command::CampaignSent { player, .. }
            | Command::FreeRoundsSettled { player, .. } => *player,
            Command::FreeRoundsAwarded { award, .. } => award.player,
        })
    }

    /// A short stable name, for logs, metrics and journal filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Grant(_) | Command::GrantQueued { .. } => "bonus_grant",
            Command::Forfeit { .. } | Command::ForfeitBonus { .. } => "bonus_forfeit",
            Command::Expire { .. } => "bonus_expire",
            Command::SetTemplate { .. } => "bonus_template",
            Command::SetLoyalty { .. } => "loyalty_config",
            Command::RedeemPoints { .. } => "loyalty_redeem",
            Command::SetVipTier { .. } => "vip_tier",
            Command::SetPromotionRules { .. } => "promotion_rules",
            Command::SetSegment { .. } => "segment",
            Command::SetCampaign { .. } => "campaign",
            Command::CampaignTargets { .. } => "campaign_targets",
            Command::CampaignSent { .. } => "campaign_sent",
            Command::FreeRoundsAwarded { .. } => "free_rounds_award",
            Command::FreeRoundsSettled { .. } => "free_rounds_settled",
        }
    }
}

/// A bonus offer turned into bonus money.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BonusGrant {
    /// The player.
    pub player: PlayerId,
    /// The wallet's currency.
    pub currency: Currency,
    /// Bonus money granted, positive.
    pub amount: Amount,
    /// Total stake (after contribution) needed before conversion to cash.
    pub wagering: Amount,
    /// Contribution to wagering, in percent of the stake, per game.
    pub contributions: Vec<(GameCode, u8)>,
    /// Contribution, in percent, of games not listed.
    pub default_contribution_pct: u8,
    /// Most cash a conversion can yield; the rest of the bonus is forfeited.
    pub conversion_cap: Amount,
    /// When the bonus expires unconverted, ms since the epoch.
    pub expires_at_ms: u64,
}

/// Where a bonus stands (query [`crate::Query::Bonuses`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BonusStatus {
    /// Its serial in the wallet (grant order, from 1).
    pub serial: u32,
    /// 0: active; n: n-th in the queue behind it.
    pub position: u32,
    /// Active: the bonus money left; queued: what it will grant.
    pub amount: Amount,
    /// Total stake (after contribution) needed before conversion to cash.
    pub wagering_required: Amount,
    /// Stake counted so far (0 while queued).
    pub wagered: Amount,
    /// Most cash a conversion can yield.
    pub conversion_cap: Amount,
    /// When it expires, ms since the epoch (its own clock, set at grant).
    pub expires_at_ms: u64,
    /// The largest stake a bet may have while it is active.
    pub max_bet: Option<Amount>,
}

/// A wallet's bonuses, the active one first, then the queue in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BonusList {
    /// The wallet's currency.
    pub currency: Currency,
    /// Active (if any), then queued.
    pub bonuses: Vec<BonusStatus>,
}

/// What a queued grant did: the receipt (balances move only if the bonus
/// became active at once), and where the bonus stands.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BonusGranted {
    /// The wallet's movement.
    pub receipt: crate::outcome::Receipt,
    /// The new bonus's serial.
    pub serial: u32,
    /// 0: active now (or converted at once, without wagering); n: n-th in
    /// the queue.
    pub position: u32,
}
