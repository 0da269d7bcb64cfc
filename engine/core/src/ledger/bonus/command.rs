//! The bonus domain's commands: grant, forfeit, expiry sweep.

use crate::ids::{GameCode, PlayerId};
use crate::money::{Amount, Currency};

/// What the bonus domain can be asked to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Grants a bonus with a wagering requirement.
    Grant(BonusGrant),
    /// Takes the active bonus and its balance away.
    Forfeit {
        /// The player.
        player: PlayerId,
        /// The wallet's currency.
        currency: Currency,
    },
    /// Forfeits the active bonus if its expiry has passed (a sweep; expiry
    /// also happens on the wallet's next money movement).
    Expire {
        /// The player.
        player: PlayerId,
        /// The wallet's currency.
        currency: Currency,
    },
}

impl Command {
    /// The player the command is about.
    pub fn player(&self) -> PlayerId {
        match self {
            Command::Grant(grant) => grant.player,
            Command::Forfeit { player, .. } | Command::Expire { player, .. } => *player,
        }
    }

    /// A short stable name, for logs, metrics and journal filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Grant(_) => "bonus_grant",
            Command::Forfeit { .. } => "bonus_forfeit",
            Command::Expire { .. } => "bonus_expire",
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
