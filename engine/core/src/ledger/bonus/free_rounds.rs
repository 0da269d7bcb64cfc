//! Free rounds granted through an aggregator's free-rounds call (Pragmatic
//! Play's `createFRB`): the award, journaled before anything leaves, and
//! each change of its state after (confirmed, failed, cancelled, won).
//!
//! Both commands are stateless recorded commands: the ledger checks them
//! and keeps nothing (no snapshot change); the read model keeps the award
//! as a durable outbox row that the gateway's worker settles. No money
//! moves here: the rounds are the aggregator's to play, and their winnings
//! are credited as a bonus by a grant of its own.

use crate::ids::{BonusCode, GameCode, PlayerId, SourceId};
use crate::money::{Amount, Currency};
use crate::outcome::Rejection;

use super::TEMPLATE_GAMES_MAX;

/// Most rounds one award gives.
pub const FREE_ROUNDS_MAX: u32 = 10_000;

/// Free rounds awarded to a player from a free-spins template.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FreeRoundsAward {
    /// The player.
    pub player: PlayerId,
    /// The free-spins template it comes from.
    pub template: BonusCode,
    /// The bonus code the aggregator knows it by (derived from the grant's
    /// request id, so a retry never makes a second one).
    pub code: BonusCode,
    /// The aggregator that carries the games and is asked to create them.
    pub aggregator: SourceId,
    /// The currency of the stake and of the winnings.
    pub currency: Currency,
    /// How many rounds (1 to [`FREE_ROUNDS_MAX`]).
    pub rounds: u32,
    /// Each round's stake, positive.
    pub bet_value: Amount,
    /// The games they are played on (1 to [`TEMPLATE_GAMES_MAX`]).
    pub games: Vec<GameCode>,
    /// When the rounds lapse unplayed, ms since the epoch (after the
    /// award's time).
    pub expires_at_ms: u64,
}

impl FreeRoundsAward {
    /// Checks its bounds at `now_ms`: [`Rejection::InvalidFreeRounds`].
    pub fn validate(&self, now_ms: u64) -> Result<(), Rejection> {
        let rounds = (1..=FREE_ROUNDS_MAX).contains(&self.rounds);
        let games = (1..=TEMPLATE_GAMES_MAX).contains(&self.games.len());
        let mut sorted: Vec<_> = self.games.iter().collect();
        sorted.sort();
        sorted.dedup();
        let distinct = sorted.len() == self.games.len();
        if rounds && games && distinct && self.bet_value.is_positive() && self.expires_at_ms > now_ms {
            Ok(())
        } else {
            Err(Rejection::InvalidFreeRounds)
        }
    }
}

/// Where an award stands after the aggregator was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FreeRoundsState {
    /// The aggregator created the rounds (or had them already).
    Confirmed,
    /// The aggregator refused them for good, or every attempt failed.
    Failed,
    /// An operator (or the expiry sweep) asked for them to be cancelled:
    /// owed a cancel call.
    CancelRequested,
    /// The aggregator cancelled them.
    Cancelled,
    /// The rounds were played and their winnings credited as a bonus.
    Won {
        /// The winnings (zero: played, nothing won).
        winnings: Amount,
    },
}

impl FreeRoundsState {
    /// A short stable name, for the API and the read model.
    pub const fn name(self) -> &'static str {
        match self {
            FreeRoundsState::Confirmed => "confirmed",
            FreeRoundsState::Failed => "failed",
            FreeRoundsState::CancelRequested => "cancelling",
            FreeRoundsState::Cancelled => "cancelled",
            FreeRoundsState::Won { .. } => "won",
        }
    }

    /// Checks its bounds: winnings are not negative.
    pub fn validate(self) -> Result<(), Rejection> {
        match self {
            FreeRoundsState::Won { winnings } if winnings.is_negative() => Err(Rejection::InvalidFreeRounds),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn award() -> FreeRoundsAward {
        FreeRoundsAward {
            player: PlayerId(1),
            template: BonusCode::new("spins").unwrap(),
            code: BonusCode::new("cr-1").unwrap(),
            aggregator: SourceId(2),
            currency: Currency::EUR,
            rounds: 10,
            bet_value: Amount::from_minor(20),
            games: vec![GameCode::new("vs20olympgate").unwrap()],
            expires_at_ms: 2_000,
        }
    }

    #[test]
    fn an_award_is_bounded() {
        assert_eq!(award().validate(1_000), Ok(()));
        let bad = [
            FreeRoundsAward { rounds: 0, ..award() },
            FreeRoundsAward {
                rounds: FREE_ROUNDS_MAX + 1,
                ..award()
            },
            FreeRoundsAward {
                bet_value: Amount::ZERO,
                ..award()
            },
            FreeRoundsAward {
                games: Vec::new(),
                ..award()
            },
            FreeRoundsAward {
                games: vec![GameCode::new("a").unwrap(), GameCode::new("a").unwrap()],
                ..award()
            },
            FreeRoundsAward {
                expires_at_ms: 1_000,
                ..award()
            },
        ];
        for award in bad {
            assert_eq!(award.validate(1_000), Err(Rejection::InvalidFreeRounds), "{award:?}");
        }
    }

    #[test]
    fn winnings_are_not_negative() {
        let won = |minor| FreeRoundsState::Won {
            winnings: Amount::from_minor(minor),
        };
        assert_eq!(won(0).validate(), Ok(()));
        assert_eq!(won(340).validate(), Ok(()));
        assert_eq!(won(-1).validate(), Err(Rejection::InvalidFreeRounds));
        assert_eq!(FreeRoundsState::Cancelled.validate(), Ok(()));
    }
}
