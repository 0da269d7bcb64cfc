//! The responsible-gambling domain: self-exclusion, time-outs and limits
//! (`limits/`: the limits of one wallet and their rolling windows), and
//! the play session (`session.rs`: reality checks, the session time limit,
//! the dates the deposit-limit prompts are reckoned from).
//!
//! Its state lives in the per-player record (`../account.rs`): a player's
//! exclusion and time-out ends, each wallet's [`limits::Limits`], the play
//! session, and the player's own settings and prompt dates (`session.rs`).
//! A bet or a deposit checks them on the record it already holds; a
//! separate RG table would cost every such command one more lookup. So this
//! domain has no state struct of its own: its part of the snapshot image is
//! the encoding of `Limits` (in `limits/`) inside each wallet's, and
//! (snapshot format 8 on) the players' `PlayerRg` records appended at the
//! end of the image (`../image.rs`). The rules a jurisdiction profile sets
//! for play sessions reach them through `PlayersState::session_rules`.

mod command;
pub(crate) mod limits;
pub(crate) mod session;

pub use self::command::{Command, LimitKind, LimitMetric, LimitPeriod};
pub use self::session::{
    LIMIT_REVIEW_AFTER_MS, LimitPrompt, LimitStatus, PromptReason, RG_DURATION_MAX_MS, RG_DURATION_MIN_MS,
    RealityCheck, RgStatus, SessionMove,
};

use self::limits::{LimitChange, Limits};
use self::session::{SessionLimitChange, SessionRules};
use super::account::Player;
use super::players::PlayersState;
use super::store::Detail;
use super::{Applied, Ctx, Ledger, rejected};
use crate::ids::PlayerId;
use crate::money::{Amount, Currency};
use crate::outcome::{Outcome, Receipt, Rejection};

impl PlayersState {
    /// The play-session rules for `player` at `time_ms`: those of the
    /// profile version in force for their jurisdiction (the default
    /// reality-check interval, the idle end). Every reader goes through here.
    #[inline]
    pub(crate) fn session_rules(&self, player: &Player, time_ms: u64) -> SessionRules {
        SessionRules::of(self.jurisdictions.version_in_force(player.jurisdiction, time_ms))
    }
}

/// Whether a reality-check interval or session time limit is in range.
fn valid_duration(duration_ms: Option<u64>) -> bool {
    duration_ms.is_none_or(|ms| (RG_DURATION_MIN_MS..=RG_DURATION_MAX_MS).contains(&ms))
}

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
            Command::SetRealityCheckInterval { player, interval_ms } => {
                if !valid_duration(*interval_ms) {
                    return rejected(Rejection::InvalidDuration);
                }
                let player = check!(self.player_mut(*player));
                player.rg_settings_mut().reality_check_interval_ms = *interval_ms;
                (Outcome::Accepted, Detail::Plain)
            }
            Command::AcknowledgeRealityCheck { player } => {
                let rules = check!(self.player(*player).map(|p| self.players.session_rules(p, ctx.time_ms)));
                let player = check!(self.player_mut(*player));
                check!(player.acknowledge(ctx.time_ms, &rules));
                (Outcome::Accepted, Detail::Plain)
            }
            Command::SetSessionTimeLimit { player, limit_ms } => {
                if !valid_duration(*limit_ms) {
                    return rejected(Rejection::InvalidDuration);
                }
                let cooling_off_ms = self.config.limit_cooling_off_ms;
                let player = check!(self.player_mut(*player));
                let outcome = match player
                    .rg_settings_mut()
                    .set_session_limit(*limit_ms, ctx.time_ms, cooling_off_ms)
                {
                    SessionLimitChange::Immediate => Outcome::Accepted,
                    SessionLimitChange::Scheduled(effective_at_ms) => Outcome::Scheduled { effective_at_ms },
                };
                (outcome, Detail::Plain)
            }
            Command::RecordLimitReview { player } => {
                let player = check!(self.player_mut(*player));
                player.prompts_mut().limit_review_ms = Some(ctx.time_ms);
                (Outcome::Accepted, Detail::Plain)
            }
        }
    }

    /// Whether the session rules let `player` bet at `now_ms` (the one
    /// check the bet path adds: a field of the record it holds).
    #[inline]
    pub(super) fn rg_bet_check(&self, player: &Player, rules: &SessionRules, now_ms: u64) -> Result<(), Rejection> {
        match player.bet_refusal(now_ms, rules) {
            Some(rejection) => Err(rejection),
            None => Ok(()),
        }
    }

    /// Counts a bet taken from `player`'s `currency` wallet into the play
    /// session (opening one if none is open).
    #[inline]
    pub(super) fn rg_count_bet(
        &mut self,
        player: PlayerId,
        currency: Currency,
        stake: Amount,
        now_ms: u64,
        rules: &SessionRules,
    ) {
        if let Ok(player) = self.player_mut(player) {
            let counted = currency == player.currency;
            player.count_bet(now_ms, stake.minor(), counted, rules);
        }
    }

    /// Counts money paid back to `player` (a win or a refund) into the open
    /// play session.
    #[inline]
    pub(super) fn rg_count_credit(&mut self, player: PlayerId, currency: Currency, amount: Amount, now_ms: u64) {
        let Ok(rules) = self.player(player).map(|p| self.players.session_rules(p, now_ms)) else {
            return;
        };
        if let Ok(player) = self.player_mut(player)
            && currency == player.currency
        {
            player.count_credit(amount.minor(), now_ms, &rules);
        }
    }

    /// The play session's reality check at `now_ms`, if a session is open
    /// and an interval applies.
    pub(super) fn reality_check(&self, player: &Player, now_ms: u64) -> Option<RealityCheck> {
        let rules = self.players.session_rules(player, now_ms);
        let started = player.open_session(now_ms, &rules)?;
        let (interval_ms, due_at_ms) = player.reality_check_due_at(now_ms, &rules)?;
        Some(RealityCheck {
            interval_ms,
            session_started_ms: started,
            elapsed_ms: now_ms.saturating_sub(started),
            due_at_ms,
            due: now_ms >= due_at_ms,
            net_position: Amount::from_minor(player.session.net_minor),
            currency: player.currency,
        })
    }

    /// A wallet command's receipt inside a game session, with the session's
    /// reality check if the player has one.
    pub(super) fn session_receipt(&self, id: PlayerId, receipt: Receipt, now_ms: u64) -> Outcome {
        let check = self.player(id).ok().and_then(|p| self.reality_check(p, now_ms));
        match check {
            Some(reality_check) => Outcome::MovedInSession(Box::new(SessionMove { receipt, reality_check })),
            None => Outcome::Moved(receipt),
        }
    }

    /// Everything responsible gambling knows of `id` at `at_ms` (a read: the
    /// later of `at_ms` and the ledger's own time).
    pub fn rg_status(&self, id: PlayerId, at_ms: u64) -> Result<RgStatus, Rejection> {
        let player = self.player(id)?;
        let now_ms = at_ms.max(self.history.last_time_ms);
        let rules = self.players.session_rules(player, now_ms);
        let session_started_ms = player.open_session(now_ms, &rules);
        let net_minor = session_started_ms.map_or(0, |_| player.session.net_minor);
        let settings = player.rg.as_deref().copied().unwrap_or_default();
        let prompts = player.prompts.as_deref().copied().unwrap_or_default();
        let limits = player
            .wallets
            .iter()
            .filter_map(|w| w.limits.as_deref().map(|limits| (w.currency, limits)))
            .flat_map(|(currency, limits)| {
                limits.statuses(now_ms).map(move |(kind, amount, pending)| LimitStatus {
                    currency,
                    kind,
                    amount,
                    pending,
                })
            })
            .collect();
        let session_limit_pending = settings
            .session_limit_pending
            .filter(|p| p.effective_at_ms > now_ms)
            .map(|p| (p.limit_ms, p.effective_at_ms));
        Ok(RgStatus {
            player: id,
            at_ms: now_ms,
            self_excluded_until_ms: player.self_excluded_until_ms,
            timed_out_until_ms: player.timed_out_until_ms,
            limits,
            reality_check_interval_ms: player.reality_check_interval(&rules),
            reality_check: self.reality_check(player, now_ms),
            session_started_ms,
            net_position: Amount::from_minor(net_minor),
            currency: player.currency,
            session_limit_ms: settings.session_limit_at(now_ms),
            session_limit_pending,
            bets_refused: self.rg_bet_check(player, &rules, now_ms).err(),
            registered_ms: prompts.registered_ms,
            first_deposit_ms: prompts.first_deposit_ms,
            limit_review_ms: prompts.limit_review_ms,
            limit_prompt: prompts.limit_prompt(now_ms),
        })
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
        let player = check!(self.player_mut(player));
        check!(player.wallet_mut(currency));
        if kind.metric == LimitMetric::Deposit {
            // Setting a deposit limit answers the prompt to set one.
            player.prompts_mut().limit_review_ms = Some(ctx.time_ms);
        }
        let wallet = player.wallet_mut(currency).expect("checked above");
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
