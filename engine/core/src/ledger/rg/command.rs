//! The responsible-gambling domain's commands (self-exclusion, time-outs,
//! limits, reality checks, session time limits, limit reviews) and the
//! limit types they carry.

use crate::ids::PlayerId;
use crate::money::{Amount, Currency};

/// What the responsible-gambling domain can be asked to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Player blocks themself from betting and depositing until a time.
    /// It can be extended, never shortened.
    SelfExclude {
        /// The player.
        player: PlayerId,
        /// End of the exclusion, ms since the epoch.
        until_ms: u64,
    },
    /// A short break (time-out) with the same effect as self-exclusion.
    TimeOut {
        /// The player.
        player: PlayerId,
        /// End of the time-out, ms since the epoch.
        until_ms: u64,
    },
    /// Sets or removes a responsible-gambling limit on one wallet.
    /// Lowering applies at once; raising or removing after the cooling-off.
    SetLimit {
        /// The player.
        player: PlayerId,
        /// The wallet's currency.
        currency: Currency,
        /// Which limit.
        limit: LimitKind,
        /// The new maximum, or `None` to remove the limit.
        amount: Option<Amount>,
    },
    /// Sets the player's reality-check interval (`None`: back to the
    /// default). Applies at once, to the open session too.
    SetRealityCheckInterval {
        /// The player.
        player: PlayerId,
        /// The interval, 1 minute to 24 hours.
        interval_ms: Option<u64>,
    },
    /// The front end reports that the player acknowledged the reality check
    /// it showed: the next one is due an interval from now, and bets go on.
    AcknowledgeRealityCheck {
        /// The player.
        player: PlayerId,
    },
    /// Sets or removes the player's maximum play-session length. A shorter
    /// limit (or a first one) applies at once; a longer one or a removal
    /// after the cooling-off the limits use.
    SetSessionTimeLimit {
        /// The player.
        player: PlayerId,
        /// The limit, 1 minute to 24 hours, or `None` to remove it.
        limit_ms: Option<u64>,
    },
    /// The front end reports that the player reviewed their deposit limits
    /// (answered the prompt at registration, first deposit or the 6-monthly
    /// review).
    RecordLimitReview {
        /// The player.
        player: PlayerId,
    },
}

impl Command {
    /// The player the command is about.
    pub fn player(&self) -> PlayerId {
        match self {
            Command::SelfExclude { player, .. }
            | Command::TimeOut { player, .. }
            | Command::SetLimit { player, .. }
            | Command::SetRealityCheckInterval { player, .. }
            | Command::AcknowledgeRealityCheck { player }
            | Command::SetSessionTimeLimit { player, .. }
            | Command::RecordLimitReview { player } => *player,
        }
    }

    /// A short stable name, for logs, metrics and journal filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::SelfExclude { .. } => "self_exclude",
            Command::TimeOut { .. } => "time_out",
            Command::SetLimit { .. } => "set_limit",
            Command::SetRealityCheckInterval { .. } => "set_reality_check_interval",
            Command::AcknowledgeRealityCheck { .. } => "acknowledge_reality_check",
            Command::SetSessionTimeLimit { .. } => "set_session_time_limit",
            Command::RecordLimitReview { .. } => "record_limit_review",
        }
    }
}

/// What a limit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitMetric {
    /// Deposits initiated (failed ones are taken back out).
    Deposit,
    /// Net loss: stakes minus wins and refunds.
    Loss,
    /// Stakes.
    Wager,
}

/// Over how long a limit counts (rolling windows ending now).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitPeriod {
    /// The last 24 hours.
    Day,
    /// The last 7 days.
    Week,
    /// The last 30 days.
    Month,
}

/// One responsible-gambling limit: a metric over a period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LimitKind {
    /// What is counted.
    pub metric: LimitMetric,
    /// Over how long.
    pub period: LimitPeriod,
}
