//! The gaming domain's commands (bets, wins, rollbacks, round ends) and the
//! types they carry.

use crate::ids::{ExtId, GameCode, PlayerId, RoundId};
use crate::money::{Amount, Currency};

/// What the gaming domain can be asked to do: the wallet commands an
/// aggregator sends, also within a game session.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// A stake on a round.
    Bet(Bet),
    /// A payout on a round (or a jackpot/promotional payout).
    Win(Win),
    /// Cancels a bet (by the bet's request id, from the same source).
    Rollback {
        /// The player.
        player: PlayerId,
        /// The bet's request id.
        bet: ExtId,
    },
    /// Closes a round: no more bets or wins on it.
    EndRound {
        /// The player.
        player: PlayerId,
        /// The round.
        round: RoundRef,
    },
}

impl Command {
    /// The player the command is about.
    pub fn player(&self) -> PlayerId {
        match self {
            Command::Bet(bet) => bet.player,
            Command::Win(win) => win.player,
            Command::Rollback { player, .. } | Command::EndRound { player, .. } => *player,
        }
    }

    /// A short stable name, for logs, metrics and journal filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Bet(_) => "bet",
            Command::Win(_) => "win",
            Command::Rollback { .. } => "rollback",
            Command::EndRound { .. } => "end_round",
        }
    }
}

/// A round as the aggregator names it: rounds are keyed by
/// (source, round id, game).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RoundRef {
    /// The aggregator's round id.
    pub id: RoundId,
    /// The game played.
    pub game: GameCode,
}

/// A stake.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bet {
    /// The player.
    pub player: PlayerId,
    /// Currency of the stake; the player must hold a wallet in it.
    pub currency: Currency,
    /// Stake, positive. Spent from cash first, then bonus.
    pub amount: Amount,
    /// The round it belongs to (opened by its first bet).
    pub round: RoundRef,
    /// Close the round after this bet.
    pub close_round: bool,
}

/// What a win pays for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WinKind {
    /// The outcome of a round: the round must be known.
    Regular,
    /// A jackpot payout: may come without a known round.
    Jackpot,
    /// A promotional payout (e.g. a tournament prize): may come without a known round.
    Promotional,
}

/// A payout.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Win {
    /// The player.
    pub player: PlayerId,
    /// Currency of the payout.
    pub currency: Currency,
    /// Payout, zero or more (a zero win just records the result).
    pub amount: Amount,
    /// The round it pays.
    pub round: RoundRef,
    /// Regular, jackpot or promotional.
    pub kind: WinKind,
    /// Close the round after this win.
    pub close_round: bool,
    /// The bet this win pays, when the aggregator names it (Hub88 does):
    /// the win is then refused if that bet is unknown, was refused, or was
    /// rolled back (or its rollback came first), so a stake refunded by a
    /// rollback is never also paid out.
    pub bet: Option<ExtId>,
}
