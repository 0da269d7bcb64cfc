//! The bonus domain: grant, queue, forfeit, expiry.
//!
//! A wallet has at most one active bonus; bonus money exists only while one
//! is active. Bonuses granted while one is active wait in a queue behind
//! it, in grant order, up to [`BONUS_QUEUE_MAX`]; when the active one ends
//! (converted, forfeited, expired) the next becomes active and its money is
//! granted then (a queued bonus is a promise, not money: the conservation
//! invariant counts it from activation). Each keeps the expiry set at its
//! grant, so one may lapse while queued. Wagering progress, the max-bet
//! rule and conversion happen on bets (see `gaming`); an expired bonus is
//! forfeited by the wallet's next successful money movement or by an
//! explicit [`Command::Expire`] sweep.
//!
//! Its state lives in each wallet (`../account.rs`: the active bonus, the
//! queue, the serials of converted ones), because every bet spends from it
//! and a separate bonus table would cost each bet one more lookup; its part
//! of the snapshot image is the active bonus's encoding inside each
//! wallet's, and since format 12 the max bets and queues after the rest
//! (`BonusExtras`).

mod campaign;
mod command;
mod free_rounds;
mod loyalty;
mod template;

pub use self::campaign::{
    CONTROL_PCT_MAX, Campaign, CampaignStart, Channel, RgFilter, SEGMENT_RULES_MAX, SEGMENT_WINDOW_DAYS_MAX, Segment,
    SegmentRule, TARGETS_PER_COMMAND_MAX, TargetKind, in_control_group,
};
pub use self::command::{BonusGrant, BonusGranted, BonusList, BonusStatus, Command};
pub use self::free_rounds::{FREE_ROUNDS_MAX, FreeRoundsAward, FreeRoundsState};
pub use self::loyalty::{LoyaltyConfig, RATE_MILLI_MAX, VIP_TIERS_MAX, VipTier};
pub use self::template::{BonusTemplate, TEMPLATE_GAMES_MAX, TEMPLATE_WAGERING_X_MAX, TemplateKind};

use super::account::{ActiveBonus, Activity, BonusExtras, QueuedBonus, Wallet};
use super::players::PlayersState;
use super::store::Detail;
use super::{Applied, Ctx, Ledger, rejected};
use crate::ids::PlayerId;
use crate::money::{Amount, Currency};
use crate::outcome::{Capacity, Outcome, Rejection};

/// Most bonuses waiting behind a wallet's active one. A constant, not a
/// `Config` field: the configuration is part of the snapshot image, and a
/// bound this small costs nothing to keep fixed.
pub const BONUS_QUEUE_MAX: usize = 8;

/// How a grant treats a bonus already active.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WhenActive {
    /// Refuse (tag 20, as journaled before queues).
    Refuse,
    /// Queue behind it.
    Queue,
}

impl Ledger {
    /// Applies one of the domain's commands.
    pub(super) fn apply_bonus(&mut self, ctx: Ctx, command: &Command) -> Applied {
        match command {
            Command::Grant(grant) => self.bonus_grant(ctx, grant, None, WhenActive::Refuse),
            Command::GrantQueued { grant, max_bet } => self.bonus_grant(ctx, grant, *max_bet, WhenActive::Queue),
            Command::Forfeit { player, currency } => self.bonus_forfeit(ctx, *player, *currency, false),
            Command::ForfeitBonus {
                player,
                currency,
                serial: None,
            } => self.bonus_forfeit(ctx, *player, *currency, false),
            Command::ForfeitBonus {
                player,
                currency,
                serial: Some(serial),
            } => self.bonus_forfeit_serial(ctx, *player, *currency, *serial),
            Command::Expire { player, currency } => self.bonus_forfeit(ctx, *player, *currency, true),
            Command::SetTemplate { template, .. } => match template.validate() {
                Ok(()) => (Outcome::Accepted, Detail::Plain),
                Err(rejection) => rejected(rejection),
            },
            Command::SetLoyalty { config, .. } => match config.validate() {
                Ok(()) => (Outcome::Accepted, Detail::Plain),
                Err(rejection) => rejected(rejection),
            },
            // The points are the read model's to count; the ledger only
            // refuses a redemption that spends none.
            Command::RedeemPoints { points: 0, .. } => rejected(Rejection::InvalidAmount),
            Command::RedeemPoints { grant, max_bet, .. } => self.bonus_grant(ctx, grant, *max_bet, WhenActive::Queue),
            Command::SetVipTier { player, .. } => match self.player(*player) {
                Ok(_) => (Outcome::Accepted, Detail::Plain),
                Err(rejection) => rejected(rejection),
            },
            Command::SetPromotionRules { .. } => (Outcome::Accepted, Detail::Plain),
            Command::SetSegment { segment, .. } => match segment.validate() {
                Ok(()) => (Outcome::Accepted, Detail::Plain),
                Err(rejection) => rejected(rejection),
            },
            Command::SetCampaign { campaign, .. } => match campaign.validate() {
                Ok(()) => (Outcome::Accepted, Detail::Plain),
                Err(rejection) => rejected(rejection),
            },
            // The read model settles who is targeted; the ledger bounds
            // the batch and refuses a player it does not know.
            Command::CampaignTargets { targets, complete, .. } => {
                if targets.len() > TARGETS_PER_COMMAND_MAX || (targets.is_empty() && !complete) {
                    return rejected(Rejection::InvalidCampaign);
                }
                match targets
                    .iter()
                    .try_for_each(|(player, _)| self.player(*player).map(drop))
                {
                    Ok(()) => (Outcome::Accepted, Detail::Plain),
                    Err(rejection) => rejected(rejection),
                }
            }
            Command::CampaignSent { .. } => (Outcome::Accepted, Detail::Plain),
            Command::FreeRoundsAwarded { award, .. } => {
                match award
                    .validate(ctx.time_ms)
                    .and_then(|()| self.player(award.player).map(drop))
                {
                    Ok(()) => (Outcome::Accepted, Detail::Plain),
                    Err(rejection) => rejected(rejection),
                }
            }
            Command::FreeRoundsSettled { player, state, .. } => {
                match state.validate().and_then(|()| self.player(*player).map(drop)) {
                    Ok(()) => (Outcome::Accepted, Detail::Plain),
                    Err(rejection) => rejected(rejection),
                }
            }
        }
    }

    /// A wallet's bonuses, the active one first, then the queue in order
    /// (an active bonus past its expiry is still listed until the wallet's
    /// next movement or an expiry sweep forfeits it).
    pub fn bonuses(&self, id: PlayerId, currency: Currency) -> Result<BonusList, Rejection> {
        let wallet = self
            .player(id)?
            .wallet(currency)
            .ok_or(Rejection::CurrencyMismatch { currency })?;
        let status = |bonus: &ActiveBonus, position: u32, amount: Amount| BonusStatus {
            serial: bonus.serial,
            position,
            amount,
            wagering_required: bonus.wagering_required,
            wagered: bonus.wagered,
            conversion_cap: bonus.conversion_cap,
            expires_at_ms: bonus.expires_at_ms,
            max_bet: bonus.max_bet,
        };
        let active = wallet.active_bonus.as_deref().map(|b| status(b, 0, wallet.bonus));
        let queued = wallet.queued.as_deref().into_iter().flatten();
        let bonuses = active
            .into_iter()
            .chain(
                queued
                    .zip(1..)
                    .map(|(q, position)| status(&q.bonus, position, q.amount)),
            )
            .collect();
        Ok(BonusList { currency, bonuses })
    }

    fn bonus_grant(&mut self, ctx: Ctx, grant: &BonusGrant, max_bet: Option<Amount>, when: WhenActive) -> Applied {
        check!(self.check_grant(ctx, grant, max_bet, when));
        let bonus = Box::new(ActiveBonus {
            serial: 0,
            wagering_required: grant.wagering,
            wagered: Amount::ZERO,
            conversion_cap: grant.conversion_cap,
            expires_at_ms: grant.expires_at_ms,
            contributions: grant.contributions.clone().into_boxed_slice(),
            default_contribution_pct: grant.default_contribution_pct,
            max_bet,
        });
        let wallet = check!(self.player_mut(grant.player)).wallet_or_open(grant.currency);
        let before = wallet.balances();
        let expired = wallet.expire_if_due(ctx.time_ms);
        let promoted = wallet.promote(ctx.time_ms);
        let serial = wallet.next_bonus_serial();
        let bonus = Box::new(ActiveBonus { serial, ..*bonus });
        let (position, granted, forfeited) = if wallet.active_bonus.is_some() {
            wallet.enqueue(QueuedBonus {
                amount: grant.amount,
                bonus,
            });
            (wallet.queued_len() as u32, Amount::ZERO, Amount::ZERO)
        } else {
            debug_assert_eq!(wallet.bonus, Amount::ZERO, "bonus money without an active bonus");
            wallet.bonus = grant.amount;
            wallet.active_bonus = Some(bonus);
            let forfeited = if grant.wagering == Amount::ZERO {
                wallet.convert_bonus()
            } else {
                Amount::ZERO
            };
            (0, grant.amount, forfeited)
        };
        // A bonus converted at once lets the next queued one in.
        let next = wallet.promote(ctx.time_ms);
        let flows = self.flows_mut(grant.currency);
        flows.bonus_granted +=
            i128::from(granted.minor()) + i128::from(promoted.granted.minor()) + i128::from(next.granted.minor());
        flows.bonus_forfeited += i128::from(forfeited.minor())
            + i128::from(expired.minor())
            + i128::from(promoted.forfeited.minor())
            + i128::from(next.forfeited.minor());
        let outcome = self.receipt(ctx, grant.player, before);
        match (when, outcome) {
            (WhenActive::Queue, Outcome::Moved(receipt)) => (
                Outcome::BonusGranted(Box::new(BonusGranted {
                    receipt,
                    serial,
                    position,
                })),
                Detail::Plain,
            ),
            (_, outcome) => (outcome, Detail::Plain),
        }
    }

    /// Everything a grant must pass; changes nothing.
    fn check_grant(
        &self,
        ctx: Ctx,
        grant: &BonusGrant,
        max_bet: Option<Amount>,
        when: WhenActive,
    ) -> Result<(), Rejection> {
        if !grant.amount.is_positive() || grant.wagering.is_negative() || grant.conversion_cap.is_negative() {
            return Err(Rejection::InvalidAmount);
        }
        if max_bet.is_some_and(|max| !max.is_positive()) {
            return Err(Rejection::InvalidAmount);
        }
        if grant.contributions.len() > self.config.bonus_contributions_max {
            return Err(Rejection::CapacityReached(Capacity::BonusContributions));
        }
        let pct_ok = |pct: u8| pct <= 100;
        if !pct_ok(grant.default_contribution_pct) || !grant.contributions.iter().all(|&(_, pct)| pct_ok(pct)) {
            return Err(Rejection::InvalidContribution);
        }
        if grant.expires_at_ms <= ctx.time_ms {
            return Err(Rejection::TimeNotInFuture);
        }
        let (player, profile) = self.players.with_profile(grant.player, ctx.time_ms)?;
        player.check(Activity::ReceiveBonus, profile, ctx.time_ms)?;
        if let Some(cap_x) = profile.bonus_wagering_cap_x
            && i128::from(grant.wagering.minor()) > i128::from(grant.amount.minor()) * i128::from(cap_x)
        {
            return Err(Rejection::WageringCapExceeded { cap_x });
        }
        let Some(wallet) = player.wallet(grant.currency) else {
            return Ok(());
        };
        match when {
            WhenActive::Refuse if wallet.live_bonus(ctx.time_ms).is_some() || wallet.queued_len() > 0 => {
                Err(Rejection::BonusAlreadyActive)
            }
            WhenActive::Queue if queued_after_expiry(wallet, ctx.time_ms) >= BONUS_QUEUE_MAX => {
                Err(Rejection::BonusQueueFull {
                    max: BONUS_QUEUE_MAX as u32,
                })
            }
            _ => Ok(()),
        }
    }

    /// Forfeits the active bonus (and lets the next queued one in); with
    /// `only_if_expired`, only once its expiry has passed.
    fn bonus_forfeit(&mut self, ctx: Ctx, id: PlayerId, currency: Currency, only_if_expired: bool) -> Applied {
        let wallet = check!(self.player_mut(id).and_then(|p| p.wallet_mut(currency)));
        let Some(active) = &wallet.active_bonus else {
            return rejected(Rejection::NoActiveBonus);
        };
        if only_if_expired && active.expires_at_ms > ctx.time_ms {
            return rejected(Rejection::BonusNotExpired);
        }
        let before = wallet.balances();
        let forfeited = wallet.drop_bonus();
        let promoted = wallet.promote(ctx.time_ms);
        let flows = self.flows_mut(currency);
        flows.bonus_forfeited += i128::from(forfeited.minor()) + i128::from(promoted.forfeited.minor());
        flows.bonus_granted += i128::from(promoted.granted.minor());
        (self.receipt(ctx, id, before), Detail::Plain)
    }

    /// Forfeits bonus `serial`: the active one as [`Self::bonus_forfeit`],
    /// a queued one by taking it out of the queue (no money was paid).
    fn bonus_forfeit_serial(&mut self, ctx: Ctx, id: PlayerId, currency: Currency, serial: u32) -> Applied {
        let wallet = check!(self.player_mut(id).and_then(|p| p.wallet_mut(currency)));
        if wallet.active_bonus.as_deref().is_some_and(|b| b.serial == serial) {
            return self.bonus_forfeit(ctx, id, currency, false);
        }
        let before = wallet.balances();
        if !wallet.dequeue(serial) {
            return rejected(Rejection::UnknownBonus { serial });
        }
        (self.receipt(ctx, id, before), Detail::Plain)
    }
}

/// How many queued bonuses will still be waiting once the expired ones
/// (the active one too) are swept at `now_ms`: a grant's room in the queue.
fn queued_after_expiry(wallet: &Wallet, now_ms: u64) -> usize {
    let live = |q: &&QueuedBonus| q.bonus.expires_at_ms > now_ms;
    let waiting = wallet.queued.as_deref().map_or(0, |q| q.iter().filter(live).count());
    if wallet.live_bonus(now_ms).is_some() {
        waiting
    } else {
        // The first live one becomes active.
        waiting.saturating_sub(1)
    }
}

impl PlayersState {
    /// Every wallet's max bet and queue, where it has either (the snapshot
    /// image's format-12 part); the wallets keep theirs.
    pub(crate) fn bonus_extras(&self) -> Vec<BonusExtras> {
        let wallets = self
            .iter()
            .zip(1..)
            .flat_map(|(player, id)| player.wallets.iter().map(move |w| (PlayerId(id), w)));
        wallets
            .filter(|(_, w)| w.queued.is_some() || w.active_bonus.as_deref().is_some_and(|b| b.max_bet.is_some()))
            .map(|(player, w)| BonusExtras {
                player,
                currency: w.currency,
                active_max_bet: w.active_bonus.as_deref().and_then(|b| b.max_bet),
                queued: w.queued.as_deref().cloned().unwrap_or_default(),
            })
            .collect()
    }

    /// Puts back what [`PlayersState::bonus_extras`] took; `false` if a
    /// part names no wallet with an active bonus, repeats one, or breaks
    /// the queue's rules (bound, grant order, positive amounts).
    pub(crate) fn restore_bonus_extras(&mut self, parts: Vec<BonusExtras>) -> bool {
        if !parts.windows(2).all(|pair| pair[0].player <= pair[1].player) {
            return false;
        }
        for part in parts {
            let Ok(wallet) = self.get_mut(part.player).and_then(|p| p.wallet_mut(part.currency)) else {
                return false;
            };
            if !restore_into(wallet, part) {
                return false;
            }
        }
        true
    }
}

/// One wallet's part of [`PlayersState::restore_bonus_extras`].
fn restore_into(wallet: &mut Wallet, part: BonusExtras) -> bool {
    let Some(active) = wallet.active_bonus.as_deref_mut() else {
        return false;
    };
    if active.max_bet.is_some() || wallet.queued.is_some() || part.active_max_bet.is_some_and(|m| !m.is_positive()) {
        return false;
    }
    let mut serial = active.serial;
    for queued in &part.queued {
        let in_order = queued.bonus.serial > serial && queued.bonus.serial <= wallet.bonus_serial;
        if !in_order || !queued.amount.is_positive() || queued.bonus.wagered != Amount::ZERO {
            return false;
        }
        serial = queued.bonus.serial;
    }
    if part.queued.len() > BONUS_QUEUE_MAX || (part.queued.is_empty() && part.active_max_bet.is_none()) {
        return false;
    }
    active.max_bet = part.active_max_bet;
    if !part.queued.is_empty() {
        wallet.queued = Some(Box::new(part.queued));
    }
    true
}
