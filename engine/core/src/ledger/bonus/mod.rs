//! The bonus domain: grant, forfeit, expiry.
//!
//! A wallet has at most one active bonus; bonus money exists only while one
//! is active. Wagering progress and conversion happen on bets (see
//! `gaming`); an expired bonus is forfeited by the wallet's next successful
//! money movement or by an explicit [`Command::Expire`] sweep.
//!
//! Its state lives in each wallet (`../account.rs`: the active bonus, the
//! serials of converted ones), because every bet spends from it and a
//! separate bonus table would cost each bet one more lookup; its part of
//! the snapshot image is the active bonus's encoding inside each wallet's.

mod command;

pub use self::command::{BonusGrant, Command};

use super::account::{ActiveBonus, Activity};
use super::store::Detail;
use super::{Applied, Ctx, Ledger, rejected};
use crate::ids::PlayerId;
use crate::money::{Amount, Currency};
use crate::outcome::{Capacity, Rejection};

impl Ledger {
    /// Applies one of the domain's commands.
    pub(super) fn apply_bonus(&mut self, ctx: Ctx, command: &Command) -> Applied {
        match command {
            Command::Grant(grant) => self.bonus_grant(ctx, grant),
            Command::Forfeit { player, currency } => self.bonus_forfeit(ctx, *player, *currency, false),
            Command::Expire { player, currency } => self.bonus_forfeit(ctx, *player, *currency, true),
        }
    }

    fn bonus_grant(&mut self, ctx: Ctx, grant: &BonusGrant) -> Applied {
        if !grant.amount.is_positive() || grant.wagering.is_negative() || grant.conversion_cap.is_negative() {
            return rejected(Rejection::InvalidAmount);
        }
        if grant.contributions.len() > self.config.bonus_contributions_max {
            return rejected(Rejection::CapacityReached(Capacity::BonusContributions));
        }
        let pct_ok = |pct: u8| pct <= 100;
        if !pct_ok(grant.default_contribution_pct) || !grant.contributions.iter().all(|&(_, pct)| pct_ok(pct)) {
            return rejected(Rejection::InvalidContribution);
        }
        if grant.expires_at_ms <= ctx.time_ms {
            return rejected(Rejection::TimeNotInFuture);
        }
        let (player, profile) = check!(self.players.with_profile(grant.player, ctx.time_ms));
        check!(player.check(Activity::ReceiveBonus, profile, ctx.time_ms));
        if let Some(cap_x) = profile.bonus_wagering_cap_x
            && i128::from(grant.wagering.minor()) > i128::from(grant.amount.minor()) * i128::from(cap_x)
        {
            return rejected(Rejection::WageringCapExceeded { cap_x });
        }
        if player
            .wallet(grant.currency)
            .is_some_and(|w| w.live_bonus(ctx.time_ms).is_some())
        {
            return rejected(Rejection::BonusAlreadyActive);
        }

        let wallet = check!(self.player_mut(grant.player)).wallet_or_open(grant.currency);
        let before = wallet.balances();
        let expired = wallet.expire_if_due(ctx.time_ms);
        debug_assert_eq!(wallet.bonus, Amount::ZERO, "bonus money without an active bonus");
        let serial = wallet.next_bonus_serial();
        wallet.bonus = grant.amount;
        wallet.active_bonus = Some(Box::new(ActiveBonus {
            serial,
            wagering_required: grant.wagering,
            wagered: Amount::ZERO,
            conversion_cap: grant.conversion_cap,
            expires_at_ms: grant.expires_at_ms,
            contributions: grant.contributions.clone().into_boxed_slice(),
            default_contribution_pct: grant.default_contribution_pct,
        }));
        let converted_forfeit = if grant.wagering == Amount::ZERO {
            wallet.convert_bonus()
        } else {
            Amount::ZERO
        };
        let flows = self.flows_mut(grant.currency);
        flows.bonus_granted += i128::from(grant.amount.minor());
        flows.bonus_forfeited += i128::from(converted_forfeit.minor()) + i128::from(expired.minor());
        (self.receipt(ctx, grant.player, before), Detail::Plain)
    }

    /// Forfeits the active bonus; with `only_if_expired`, only once its
    /// expiry has passed.
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
        self.flows_mut(currency).bonus_forfeited += i128::from(forfeited.minor());
        (self.receipt(ctx, id, before), Detail::Plain)
    }
}
