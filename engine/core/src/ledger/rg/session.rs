//! A player's play session as responsible gambling sees it: reality checks
//! (UKGC RTS 13), the session time limit, and the dates the limit prompts
//! (LCCP 3.5: at registration, at the first deposit, every 6 months) are
//! reckoned from.
//!
//! The open session (start and net position) is inline in the per-player
//! record (`../../account.rs`), so a bet checks and counts it on the record
//! it already holds; the player's own settings ([`RgSettings`]) and the
//! prompt dates ([`PromptDates`]) are boxed beside it, there only for the
//! players who have them. The snapshot image keeps all three as one
//! [`PlayerRg`] record per player.
//!
//! A play session starts at a login, or at the first bet when none is
//! open, and ends at a logout, the next login, or (where the jurisdiction
//! profile sets an idle end) after that long without a bet, win or
//! acknowledgement. The interval is the player's own, else the profile's
//! default where it gives one ([`SessionRules`]). A reality check is due
//! once the interval has passed since the later of the session's start,
//! the last acknowledgement and (for the profile's default) the moment its
//! version took effect; bets are then refused until the front end reports
//! the acknowledgement. Wins, rollbacks and reads never are: money owed to
//! the player always lands.

use super::super::account::Player;
use super::super::players::ProfileVersion;
use crate::codec::{Decode, DecodeError, Reader, codec_enum, codec_struct};
use crate::command::LimitKind;
use crate::ids::PlayerId;
use crate::money::{Amount, Currency};
use crate::outcome::{Receipt, Rejection};

/// Shortest reality-check interval or session time limit (one minute).
pub const RG_DURATION_MIN_MS: u64 = 60_000;
/// Longest reality-check interval or session time limit (24 hours).
pub const RG_DURATION_MAX_MS: u64 = 86_400_000;
/// How long after the last review (or the last prompt answered) the
/// player is prompted to review the deposit limits again: 6 months.
pub const LIMIT_REVIEW_AFTER_MS: u64 = 183 * 86_400_000;

/// A session time limit change waiting for its cooling-off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PendingSessionLimit {
    /// The new limit (`None`: removal).
    pub(crate) limit_ms: Option<u64>,
    pub(crate) effective_at_ms: u64,
}

/// The open play session: inline in the player's record, because every
/// bet and win reads or updates it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PlaySession {
    /// Start of the open play session, if one is open.
    pub(crate) started_ms: Option<u64>,
    /// Wins minus stakes since the session started, in the player's base
    /// currency (movements in other wallets are not counted).
    pub(crate) net_minor: i64,
    /// The session's last bet, win or acknowledgement, kept only while a
    /// profile's idle end applies (`None`: none kept).
    pub(crate) last_activity_ms: Option<u64>,
}

/// A player's own session settings and the state only they need: boxed,
/// and absent for the many players who never set anything, so a bet of
/// theirs reads no second record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RgSettings {
    /// The player's own reality-check interval (`None`: the default).
    pub(crate) reality_check_interval_ms: Option<u64>,
    /// The session time limit in force until `session_limit_pending` applies.
    pub(crate) session_limit_ms: Option<u64>,
    pub(crate) session_limit_pending: Option<PendingSessionLimit>,
    /// The last reality check acknowledged in this session.
    pub(crate) acknowledged_ms: Option<u64>,
    /// A session ended (logout) after reaching its time limit: bets stay
    /// refused until the next login.
    pub(crate) held_until_login: bool,
}

/// The moments the deposit-limit prompts are reckoned from: boxed, as
/// only registration, deposits, limit reviews and the RG read touch them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PromptDates {
    /// Registration time (`None` for players registered before this was
    /// recorded).
    pub(crate) registered_ms: Option<u64>,
    /// The first confirmed deposit.
    pub(crate) first_deposit_ms: Option<u64>,
    /// The last limit review the front end reported (or a deposit limit set).
    pub(crate) limit_review_ms: Option<u64>,
}

/// A player's RG record as the snapshot image holds it (format 8 on): the
/// three parts above in one, so the image layout does not depend on how
/// memory is arranged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PlayerRg {
    pub(crate) reality_check_interval_ms: Option<u64>,
    pub(crate) session_limit_ms: Option<u64>,
    pub(crate) session_limit_pending: Option<PendingSessionLimit>,
    pub(crate) session_started_ms: Option<u64>,
    pub(crate) acknowledged_ms: Option<u64>,
    pub(crate) net_minor: i64,
    pub(crate) held_until_login: bool,
    pub(crate) registered_ms: Option<u64>,
    pub(crate) first_deposit_ms: Option<u64>,
    pub(crate) limit_review_ms: Option<u64>,
    /// Format 9 on.
    pub(crate) last_activity_ms: Option<u64>,
}

/// [`PlayerRg`] as snapshot format 8 holds it.
struct PlayerRgV1 {
    reality_check_interval_ms: Option<u64>,
    session_limit_ms: Option<u64>,
    session_limit_pending: Option<PendingSessionLimit>,
    session_started_ms: Option<u64>,
    acknowledged_ms: Option<u64>,
    net_minor: i64,
    held_until_login: bool,
    registered_ms: Option<u64>,
    first_deposit_ms: Option<u64>,
    limit_review_ms: Option<u64>,
}

impl PlayerRg {
    /// Decodes the records of snapshot format 8 (no last activity).
    pub(crate) fn decode_v1_list(input: &mut Reader<'_>) -> Result<Vec<(PlayerId, PlayerRg)>, DecodeError> {
        let records: Vec<(PlayerId, PlayerRgV1)> = Decode::decode(input)?;
        let convert = |(id, v1): (PlayerId, PlayerRgV1)| {
            let record = PlayerRg {
                reality_check_interval_ms: v1.reality_check_interval_ms,
                session_limit_ms: v1.session_limit_ms,
                session_limit_pending: v1.session_limit_pending,
                session_started_ms: v1.session_started_ms,
                acknowledged_ms: v1.acknowledged_ms,
                net_minor: v1.net_minor,
                held_until_login: v1.held_until_login,
                registered_ms: v1.registered_ms,
                first_deposit_ms: v1.first_deposit_ms,
                limit_review_ms: v1.limit_review_ms,
                last_activity_ms: None,
            };
            (id, record)
        };
        Ok(records.into_iter().map(convert).collect())
    }

    /// The image record of `player`'s RG state (`None`: nothing to keep).
    pub(crate) fn of(player: &Player) -> Option<PlayerRg> {
        let session = player.session;
        let settings = player.rg.as_deref().copied().unwrap_or_default();
        let prompts = player.prompts.as_deref().copied().unwrap_or_default();
        let record = PlayerRg {
            reality_check_interval_ms: settings.reality_check_interval_ms,
            session_limit_ms: settings.session_limit_ms,
            session_limit_pending: settings.session_limit_pending,
            session_started_ms: session.started_ms,
            acknowledged_ms: settings.acknowledged_ms,
            net_minor: session.net_minor,
            held_until_login: settings.held_until_login,
            registered_ms: prompts.registered_ms,
            first_deposit_ms: prompts.first_deposit_ms,
            limit_review_ms: prompts.limit_review_ms,
            last_activity_ms: session.last_activity_ms,
        };
        (record != PlayerRg::default()).then_some(record)
    }

    /// Puts an image record back into `player`'s parts.
    pub(crate) fn restore_into(self, player: &mut Player) {
        player.session = PlaySession {
            started_ms: self.session_started_ms,
            net_minor: self.net_minor,
            last_activity_ms: self.last_activity_ms,
        };
        let settings = RgSettings {
            reality_check_interval_ms: self.reality_check_interval_ms,
            session_limit_ms: self.session_limit_ms,
            session_limit_pending: self.session_limit_pending,
            acknowledged_ms: self.acknowledged_ms,
            held_until_login: self.held_until_login,
        };
        player.rg = (settings != RgSettings::default()).then(|| Box::new(settings));
        let prompts = PromptDates {
            registered_ms: self.registered_ms,
            first_deposit_ms: self.first_deposit_ms,
            limit_review_ms: self.limit_review_ms,
        };
        player.prompts = (prompts != PromptDates::default()).then(|| Box::new(prompts));
    }
}

/// What setting the session time limit did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SessionLimitChange {
    Immediate,
    Scheduled(u64),
}

impl RgSettings {
    /// The session time limit in force at `now_ms` (a pending change whose
    /// cooling-off has passed counts; nothing is mutated, so a refusal that
    /// reads it changes nothing).
    pub(crate) fn session_limit_at(&self, now_ms: u64) -> Option<u64> {
        match self.session_limit_pending {
            Some(pending) if pending.effective_at_ms <= now_ms => pending.limit_ms,
            _ => self.session_limit_ms,
        }
    }

    /// Sets the session time limit: a shorter one (or a first one) applies at
    /// once, a longer one or a removal after `cooling_off_ms`.
    pub(crate) fn set_session_limit(
        &mut self,
        limit_ms: Option<u64>,
        now_ms: u64,
        cooling_off_ms: u64,
    ) -> SessionLimitChange {
        let current = self.session_limit_at(now_ms);
        let tightens = match (current, limit_ms) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(current), Some(new)) => new <= current,
        };
        if tightens {
            self.session_limit_ms = limit_ms;
            self.session_limit_pending = None;
            SessionLimitChange::Immediate
        } else {
            self.session_limit_ms = current;
            let effective_at_ms = now_ms.saturating_add(cooling_off_ms);
            self.session_limit_pending = Some(PendingSessionLimit {
                limit_ms,
                effective_at_ms,
            });
            SessionLimitChange::Scheduled(effective_at_ms)
        }
    }
}

impl Player {
    /// The player's own RG settings, made empty if there are none yet.
    pub(crate) fn rg_settings_mut(&mut self) -> &mut RgSettings {
        self.rg.get_or_insert_with(Box::default)
    }

    /// The player's prompt dates, made empty if there are none yet.
    pub(crate) fn prompts_mut(&mut self) -> &mut PromptDates {
        self.prompts.get_or_insert_with(Box::default)
    }

    /// The last reality check acknowledged in the open session.
    fn acknowledged_ms(&self) -> Option<u64> {
        self.rg.as_deref().and_then(|s| s.acknowledged_ms)
    }

    /// The reality-check interval that applies, and the earliest moment
    /// checks are reckoned from: the player's own interval since the
    /// session's start, else the profile's default since it took effect.
    fn interval(&self, rules: &SessionRules) -> Option<(u64, u64)> {
        match self.rg.as_deref().and_then(|s| s.reality_check_interval_ms) {
            Some(own_ms) => Some((own_ms, 0)),
            None => rules.default_interval_ms.map(|default_ms| (default_ms, rules.since_ms)),
        }
    }

    /// The reality-check interval that applies to the player.
    pub(crate) fn reality_check_interval(&self, rules: &SessionRules) -> Option<u64> {
        self.interval(rules).map(|(interval_ms, _)| interval_ms)
    }

    /// When the open session ends for idleness, if an idle end applies: an
    /// idle end after the last activity, reckoned from no earlier than the
    /// moment the rule took effect.
    fn idle_end_at(&self, rules: &SessionRules) -> Option<u64> {
        let started = self.session.started_ms?;
        let idle_ms = rules.idle_end_ms?;
        let last = self.session.last_activity_ms.unwrap_or(started);
        Some(last.max(rules.since_ms).saturating_add(idle_ms))
    }

    /// The start of the session open at `now_ms` (`None`: none is, or the
    /// last one ended idle).
    pub(crate) fn open_session(&self, now_ms: u64, rules: &SessionRules) -> Option<u64> {
        let started = self.session.started_ms?;
        match self.idle_end_at(rules) {
            Some(end_ms) if now_ms >= end_ms => None,
            _ => Some(started),
        }
    }

    /// The interval in force and when the next reality check is (or was)
    /// due, if a session is open at `now_ms` and an interval applies.
    pub(crate) fn reality_check_due_at(&self, now_ms: u64, rules: &SessionRules) -> Option<(u64, u64)> {
        let started = self.open_session(now_ms, rules)?;
        let (interval_ms, floor_ms) = self.interval(rules)?;
        let since = self
            .acknowledged_ms()
            .map_or(started, |ack| ack.max(started))
            .max(floor_ms);
        Some((interval_ms, since.saturating_add(interval_ms)))
    }

    /// Why a bet at `now_ms` is refused, if it is: the session time limit
    /// first (only a new login lifts it; a session that ended idle counts
    /// until its end, as a logout then would have), then an unacknowledged
    /// reality check. A player without settings of their own reads only
    /// the inline session.
    #[inline]
    pub(crate) fn bet_refusal(&self, now_ms: u64, rules: &SessionRules) -> Option<Rejection> {
        if let Some(settings) = self.rg.as_deref() {
            let limit_ms = settings.session_limit_at(now_ms);
            if settings.held_until_login {
                let limit_ms = limit_ms.unwrap_or(0);
                return Some(Rejection::SessionTimeLimitReached { limit_ms });
            }
            if let (Some(started), Some(limit_ms)) = (self.session.started_ms, limit_ms) {
                let ended_ms = match self.idle_end_at(rules) {
                    Some(end_ms) if now_ms >= end_ms => end_ms,
                    _ => now_ms,
                };
                if ended_ms >= started.saturating_add(limit_ms) {
                    return Some(Rejection::SessionTimeLimitReached { limit_ms });
                }
            }
        }
        match self.reality_check_due_at(now_ms, rules) {
            Some((_, due_at_ms)) if now_ms >= due_at_ms => Some(Rejection::RealityCheckDue { due_at_ms }),
            _ => None,
        }
    }

    /// A login: a new session starts; the last one's acknowledgements,
    /// net position and any hold end with it.
    pub(crate) fn login(&mut self, now_ms: u64) {
        self.session = PlaySession {
            started_ms: Some(now_ms),
            net_minor: 0,
            last_activity_ms: None,
        };
        if let Some(settings) = self.rg.as_deref_mut() {
            settings.acknowledged_ms = None;
            settings.held_until_login = false;
        }
    }

    /// A logout ends the session; one that reached its time limit (by now,
    /// or by its idle end) leaves bets refused until the next login.
    pub(crate) fn logout(&mut self, now_ms: u64, rules: &SessionRules) {
        let started = self.session.started_ms;
        let ended_ms = self.idle_end_at(rules).map_or(now_ms, |end_ms| end_ms.min(now_ms));
        if let Some(settings) = self.rg.as_deref_mut() {
            if let (Some(started), Some(limit_ms)) = (started, settings.session_limit_at(now_ms))
                && ended_ms >= started.saturating_add(limit_ms)
            {
                settings.held_until_login = true;
            }
            settings.acknowledged_ms = None;
        }
        self.session = PlaySession::default();
    }

    /// Marks activity in the open session, where an idle end applies.
    fn touch(&mut self, now_ms: u64, rules: &SessionRules) {
        if rules.idle_end_ms.is_some() {
            self.session.last_activity_ms = Some(now_ms);
        }
    }

    /// A bet was taken: opens a session if none is open (or the last one
    /// ended idle), and counts the stake (`counted`: it was staked in the
    /// base currency).
    #[inline]
    pub(crate) fn count_bet(&mut self, now_ms: u64, stake_minor: i64, counted: bool, rules: &SessionRules) {
        if self.open_session(now_ms, rules).is_none() {
            self.session = PlaySession {
                started_ms: Some(now_ms),
                net_minor: 0,
                last_activity_ms: None,
            };
            if let Some(settings) = self.rg.as_deref_mut() {
                settings.acknowledged_ms = None;
            }
        }
        if counted {
            self.session.net_minor = self.session.net_minor.saturating_sub(stake_minor);
        }
        self.touch(now_ms, rules);
    }

    /// Money came back (a win or a refund) within the open session.
    #[inline]
    pub(crate) fn count_credit(&mut self, amount_minor: i64, now_ms: u64, rules: &SessionRules) {
        if self.open_session(now_ms, rules).is_some() {
            self.session.net_minor = self.session.net_minor.saturating_add(amount_minor);
            self.touch(now_ms, rules);
        }
    }

    /// The player acknowledged the reality check of the open session;
    /// refused if none is open.
    pub(crate) fn acknowledge(&mut self, now_ms: u64, rules: &SessionRules) -> Result<(), Rejection> {
        if self.open_session(now_ms, rules).is_none() {
            return Err(Rejection::NoPlaySession);
        }
        self.rg_settings_mut().acknowledged_ms = Some(now_ms);
        self.touch(now_ms, rules);
        Ok(())
    }
}

/// The play-session rules of the profile version in force for a player,
/// as a bet, a win or a read applies them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SessionRules {
    /// The reality-check interval of players without their own.
    pub(crate) default_interval_ms: Option<u64>,
    /// A session idle this long ends.
    pub(crate) idle_end_ms: Option<u64>,
    /// When the version took effect: its rules reckon nothing before.
    pub(crate) since_ms: u64,
}

impl SessionRules {
    /// The rules of `version`.
    #[inline]
    pub(crate) fn of(version: &ProfileVersion) -> SessionRules {
        let profile = &version.profile;
        let rules = profile.play_sessions;
        SessionRules {
            default_interval_ms: rules
                .reality_check_by_default
                .then(|| u64::from(profile.reality_check_interval_min) * MINUTE_MS),
            idle_end_ms: (rules.idle_end_min > 0).then(|| u64::from(rules.idle_end_min) * MINUTE_MS),
            since_ms: version.effective_from_ms,
        }
    }
}

const MINUTE_MS: u64 = 60_000;

impl PromptDates {
    /// The deposit-limit prompt due at `now_ms`, if any, with why.
    pub(crate) fn limit_prompt(&self, now_ms: u64) -> Option<LimitPrompt> {
        let prompt = |reason, due_since_ms| Some(LimitPrompt { reason, due_since_ms });
        match (self.limit_review_ms, self.first_deposit_ms) {
            (None, Some(deposit)) => prompt(PromptReason::FirstDeposit, deposit),
            (None, None) => prompt(PromptReason::Registration, self.registered_ms.unwrap_or(0)),
            (Some(review), Some(deposit)) if deposit > review => prompt(PromptReason::FirstDeposit, deposit),
            (Some(review), _) => {
                let due = review.saturating_add(LIMIT_REVIEW_AFTER_MS);
                if now_ms >= due {
                    prompt(PromptReason::Review, due)
                } else {
                    None
                }
            }
        }
    }
}

/// Why the player must be prompted to set or review deposit limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PromptReason {
    /// Registered, and never answered a prompt nor set a deposit limit.
    Registration,
    /// Made a first deposit since (or without) answering one.
    FirstDeposit,
    /// Six months have passed since the last review.
    Review,
}

/// A deposit-limit prompt that is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LimitPrompt {
    /// Why.
    pub reason: PromptReason,
    /// Since when (0: a registration from before this was recorded).
    pub due_since_ms: u64,
}

/// Where a play session stands on its reality checks, as a wallet reply
/// tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RealityCheck {
    /// The interval in force.
    pub interval_ms: u64,
    /// When the session started, ms since the epoch.
    pub session_started_ms: u64,
    /// How long the session has lasted at the moment of the reply.
    pub elapsed_ms: u64,
    /// When the next check is (or was) due.
    pub due_at_ms: u64,
    /// Whether it is due (bets are refused until it is acknowledged).
    pub due: bool,
    /// Wins minus stakes since the session started.
    pub net_position: Amount,
    /// The currency of `net_position` (the player's base currency).
    pub currency: Currency,
}

codec_struct!(PendingSessionLimit {
    limit_ms,
    effective_at_ms
});
codec_struct!(PlayerRg {
    reality_check_interval_ms,
    session_limit_ms,
    session_limit_pending,
    session_started_ms,
    acknowledged_ms,
    net_minor,
    held_until_login,
    registered_ms,
    first_deposit_ms,
    limit_review_ms,
    last_activity_ms
});
codec_struct!(PlayerRgV1 {
    reality_check_interval_ms,
    session_limit_ms,
    session_limit_pending,
    session_started_ms,
    acknowledged_ms,
    net_minor,
    held_until_login,
    registered_ms,
    first_deposit_ms,
    limit_review_ms
});

/// A responsible-gambling limit of one wallet, with a change waiting for
/// its cooling-off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LimitStatus {
    /// The wallet's currency.
    pub currency: Currency,
    /// Which limit.
    pub kind: LimitKind,
    /// The maximum in force (`None`: no limit now).
    pub amount: Option<Amount>,
    /// A raise or removal waiting for the cooling-off: the new maximum
    /// (`None`: removal) and when it applies.
    pub pending: Option<(Option<Amount>, u64)>,
}

/// Everything responsible gambling knows of a player, at a moment: the
/// answer to [`crate::Query::Rg`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RgStatus {
    /// The player.
    pub player: PlayerId,
    /// The moment it describes, ms since the epoch.
    pub at_ms: u64,
    /// Self-excluded until (0: never was).
    pub self_excluded_until_ms: u64,
    /// Timed out until (0: never was).
    pub timed_out_until_ms: u64,
    /// Every limit set on any wallet.
    pub limits: Vec<LimitStatus>,
    /// The reality-check interval that applies (`None`: no checks).
    pub reality_check_interval_ms: Option<u64>,
    /// Where the open session stands on its checks (`None`: no session
    /// open, or no interval).
    pub reality_check: Option<RealityCheck>,
    /// Start of the open play session.
    pub session_started_ms: Option<u64>,
    /// Wins minus stakes since the session started (base currency).
    pub net_position: Amount,
    /// The player's base currency.
    pub currency: Currency,
    /// The session time limit in force.
    pub session_limit_ms: Option<u64>,
    /// A longer limit or a removal waiting for the cooling-off: the new
    /// limit (`None`: removal) and when it applies.
    pub session_limit_pending: Option<(Option<u64>, u64)>,
    /// Why a bet would be refused now by the session rules, if it would.
    pub bets_refused: Option<Rejection>,
    /// Registration (`None`: before it was recorded).
    pub registered_ms: Option<u64>,
    /// The first confirmed deposit.
    pub first_deposit_ms: Option<u64>,
    /// The last limit review (or deposit limit set).
    pub limit_review_ms: Option<u64>,
    /// The deposit-limit prompt due now, if any.
    pub limit_prompt: Option<LimitPrompt>,
}

/// A money movement inside a game session whose player has reality checks:
/// the receipt, and where the session stands ([`crate::Outcome::MovedInSession`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionMove {
    /// The movement.
    pub receipt: Receipt,
    /// The session's reality check at the movement.
    pub reality_check: RealityCheck,
}

codec_struct!(LimitPrompt { reason, due_since_ms });
codec_struct!(RealityCheck {
    interval_ms,
    session_started_ms,
    elapsed_ms,
    due_at_ms,
    due,
    net_position,
    currency
});
codec_struct!(LimitStatus {
    currency,
    kind,
    amount,
    pending
});
codec_struct!(RgStatus {
    player,
    at_ms,
    self_excluded_until_ms,
    timed_out_until_ms,
    limits,
    reality_check_interval_ms,
    reality_check,
    session_started_ms,
    net_position,
    currency,
    session_limit_ms,
    session_limit_pending,
    bets_refused,
    registered_ms,
    first_deposit_ms,
    limit_review_ms,
    limit_prompt
});
codec_struct!(SessionMove { receipt, reality_check });
codec_enum!(PromptReason: u8 { 1 => Registration, 2 => FirstDeposit, 3 => Review });
