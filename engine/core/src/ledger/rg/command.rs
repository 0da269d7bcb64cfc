//! The responsible-gambling domain's commands (self-exclusion, time-outs,
//! limits) and the limit types they carry.

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
}

impl Command {
    /// The player the command is about.
    pub fn player(&self) -> PlayerId {
        match self {
            Command::SelfExclude { player, .. }
            | Command::TimeOut { player, .. }
            | Command::SetLimit { player, .. } => *player,
        }
    }

    /// A short stable name, for logs, metrics and journal filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::SelfExclude { .. } => "self_exclude",
            Command::TimeOut { .. } => "time_out",
            Command::SetLimit { .. } => "set_limit",
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
