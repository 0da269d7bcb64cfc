//! The jackpots domain's commands (create a pool, award it) and the pool
//! record they carry.

use crate::ids::{GameCode, JackpotCode, OperatorId, PlayerId, SourceId, Title};
use crate::money::{Amount, Currency};

/// What the jackpots domain can be asked to do. Every command names the
/// operator that asks (the gateway checks its role).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Creates a pool, funded with its seed from the operator's seed
    /// funding.
    CreatePool {
        /// The whole record.
        pool: Box<Pool>,
        /// Who asks.
        operator: OperatorId,
    },
    /// Pays a pool's whole balance to a player's cash and reseeds it.
    Award {
        /// The pool.
        pool: JackpotCode,
        /// The winner; must hold a wallet in the pool's currency.
        player: PlayerId,
        /// Who asks.
        operator: OperatorId,
    },
}

impl Command {
    /// A short stable name, for logs, metrics and journal filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::CreatePool { .. } => "create_jackpot",
            Command::Award { .. } => "award_jackpot",
        }
    }

    /// The operator that asks.
    pub fn operator(&self) -> OperatorId {
        match self {
            Command::CreatePool { operator, .. } | Command::Award { operator, .. } => *operator,
        }
    }

    /// The player the command is about, if any.
    pub fn player(&self) -> Option<PlayerId> {
        match self {
            Command::CreatePool { .. } => None,
            Command::Award { player, .. } => Some(*player),
        }
    }
}

/// A game a pool covers: an aggregator (a bet's source) and its code.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CoveredGame {
    /// The aggregator whose code it is.
    pub aggregator: SourceId,
    /// The game's code at that aggregator.
    pub code: GameCode,
}

/// A progressive jackpot pool as configured; fixed once created.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pool {
    /// Its code, unique.
    pub code: JackpotCode,
    /// Display name.
    pub name: Title,
    /// The currency of its balance; only bets in it contribute.
    pub currency: Currency,
    /// The game group it covers, 1 to [`super::POOL_GAMES_MAX`], each once;
    /// a game and currency is covered by one pool at most.
    pub games: Vec<CoveredGame>,
    /// The share of each covered bet's stake that goes to the pool, basis
    /// points (1 to [`super::CONTRIBUTION_BP_MAX`]), rounded down to the
    /// minor unit.
    pub contribution_bp: u16,
    /// What the pool starts at, and is topped up to after each win, from
    /// the operator's seed funding; zero or more.
    pub seed: Amount,
    /// Must-drop cap: once the balance reaches it, the next covered bet
    /// wins the pool. Above the seed.
    pub must_drop: Option<Amount>,
}
