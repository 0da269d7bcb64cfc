//! Account commands: registration, status, KYC, jurisdiction rules,
//! self-exclusion and time-outs, limits.

use super::account::Player;
use super::limits::{LimitChange, Limits};
use super::store::Detail;
use super::{Applied, Ctx, Ledger, rejected};
use crate::command::{AccountStatus, JurisdictionRules, KycLevel, LimitKind};
use crate::ids::{Jurisdiction, PlayerId};
use crate::money::{Amount, Currency};
use crate::outcome::{Capacity, Outcome, Rejection};

impl Ledger {
    pub(super) fn register(&mut self, currency: Currency, jurisdiction: Jurisdiction) -> Applied {
        if self.players.len() >= self.config.players_max as usize {
            return rejected(Rejection::CapacityReached(Capacity::Players));
        }
        self.players.push(Player::new(currency, jurisdiction));
        let player = PlayerId(self.players.len() as u64);
        (Outcome::Registered { player }, Detail::Plain)
    }

    pub(super) fn set_rules(&mut self, jurisdiction: Jurisdiction, rules: JurisdictionRules) -> Applied {
        match self.jurisdictions.iter_mut().find(|(j, _)| *j == jurisdiction) {
            Some(entry) => entry.1 = rules,
            None => self.jurisdictions.push((jurisdiction, rules)),
        }
        (Outcome::Accepted, Detail::Plain)
    }

    pub(super) fn set_status(&mut self, player: PlayerId, status: AccountStatus) -> Applied {
        match self.player_mut(player) {
            Ok(player) => {
                player.status = status;
                (Outcome::Accepted, Detail::Plain)
            }
            Err(rejection) => rejected(rejection),
        }
    }

    /// Self-exclusion or time-out: extends, never shortens.
    pub(super) fn self_exclude(&mut self, ctx: Ctx, player: PlayerId, until_ms: u64, time_out: bool) -> Applied {
        if until_ms <= ctx.time_ms {
            return rejected(Rejection::TimeNotInFuture);
        }
        let player = match self.player_mut(player) {
            Ok(player) => player,
            Err(rejection) => return rejected(rejection),
        };
        let field = if time_out {
            &mut player.timed_out_until_ms
        } else {
            &mut player.self_excluded_until_ms
        };
        *field = (*field).max(until_ms);
        (Outcome::Accepted, Detail::Plain)
    }

    pub(super) fn set_kyc(&mut self, player: PlayerId, level: KycLevel) -> Applied {
        match self.player_mut(player) {
            Ok(player) => {
                player.kyc = level;
                (Outcome::Accepted, Detail::Plain)
            }
            Err(rejection) => rejected(rejection),
        }
    }

    pub(super) fn set_limit(
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
        let wallet = match self.player_mut(player).and_then(|p| p.wallet_mut(currency)) {
            Ok(wallet) => wallet,
            Err(rejection) => return rejected(rejection),
        };
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
