//! The responsible-gambling domain: self-exclusion, time-outs and limits
//! (`limits/`: the limits of one wallet and their rolling windows).
//!
//! Its state lives in the per-player record (`../account.rs`): a player's
//! exclusion and time-out ends, and each wallet's [`limits::Limits`]. A bet
//! or a deposit checks them on the record it already holds; a separate RG
//! table would cost every such command one more lookup. So this domain has
//! no state struct of its own: its part of the snapshot image is the
//! encoding of `Limits` (in `limits/`) inside each wallet's.

mod command;
pub(crate) mod limits;

pub use self::command::{Command, LimitKind, LimitMetric, LimitPeriod};

use self::limits::{LimitChange, Limits};
use super::store::Detail;
use super::{Applied, Ctx, Ledger, rejected};
use crate::ids::PlayerId;
use crate::money::{Amount, Currency};
use crate::outcome::{Outcome, Rejection};

impl Ledger {
    /// Applies one of the domain's commands.
    pub(super) fn apply_rg(&mut self, ctx: Ctx, command: &Command) -> Applied {
        match command {
            Command::SelfExclude { player, until_ms } => self.self_exclude(ctx, *player, *until_ms, false),
            Command::TimeOut { player, until_ms } => self.self_exclude(ctx, *player, *until_ms, true),
            Command::SetLimit {
                player,
                currency,
                limit,
                amount,
            } => self.set_limit(ctx, *player, *currency, *limit, *amount),
        }
    }

    /// Self-exclusion or time-out: extends, never shortens.
    fn self_exclude(&mut self, ctx: Ctx, player: PlayerId, until_ms: u64, time_out: bool) -> Applied {
        if until_ms <= ctx.time_ms {
            return rejected(Rejection::TimeNotInFuture);
        }
        if !time_out {
            let (_, profile) = check!(self.players.with_profile(player, ctx.time_ms));
            let minimum_ms = profile.self_exclusion_min_ms();
            if until_ms - ctx.time_ms < minimum_ms {
                let minimum_days = profile.self_exclusion_min_days;
                return rejected(Rejection::SelfExclusionTooShort { minimum_days });
            }
        }
        let player = check!(self.player_mut(player));
        let field = if time_out {
            &mut player.timed_out_until_ms
        } else {
            &mut player.self_excluded_until_ms
        };
        *field = (*field).max(until_ms);
        (Outcome::Accepted, Detail::Plain)
    }

    fn set_limit(
        &mut self,
        ctx: Ctx,
        player: PlayerId,
        currency: Currency,
        kind: LimitKind,
        amount: Option<Amount>,
    ) -> Applied {
        if amount.is_some_and(Amount::is_negative) {
            return rejected(Rejection::InvalidAmount);
        }
        let cooling_off_ms = self.config.limit_cooling_off_ms;
        let wallet = check!(self.player_mut(player).and_then(|p| p.wallet_mut(currency)));
        let limits = wallet.limits.get_or_insert_with(|| Box::new(Limits::default()));
        let outcome = match limits.set(kind, amount, (ctx.seq, ctx.time_ms), cooling_off_ms) {
            LimitChange::Immediate => Outcome::Accepted,
            LimitChange::Scheduled(effective_at_ms) => Outcome::Scheduled { effective_at_ms },
        };
        (outcome, Detail::Plain)
    }

    /// The limits in force on a wallet at `now_ms` (for views and tests).
    pub fn limits_in_force(&self, player: PlayerId, currency: Currency, now_ms: u64) -> Vec<(LimitKind, Amount)> {
        let Some(limits) = self
            .player(player)
            .ok()
            .and_then(|p| p.wallet(currency))
            .and_then(|w| w.limits.as_ref())
        else {
            return Vec::new();
        };
        let mut limits = (**limits).clone();
        limits.promote(now_ms);
        limits.in_force().collect()
    }
}
