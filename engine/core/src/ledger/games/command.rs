//! The games domain's commands (providers, games, enabling) and the
//! records they carry.

use crate::ids::{GameCode, Jurisdiction, OperatorId, ProviderCode, SourceId, Title};
use crate::money::{Amount, Currency};

/// What the games domain can be asked to do: keep the catalogue. Every
/// command names the operator that asks (the gateway checks its role).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Creates a provider or replaces its record.
    UpsertProvider {
        /// The whole record.
        provider: Provider,
        /// Who asks.
        operator: OperatorId,
    },
    /// Creates a game or replaces its whole record (by aggregator and code).
    UpsertGame {
        /// The whole record.
        game: Box<Game>,
        /// Who asks.
        operator: OperatorId,
    },
    /// Enables or disables a game.
    SetGameEnabled {
        /// The aggregator whose code it is.
        aggregator: SourceId,
        /// The game's code at that aggregator.
        code: GameCode,
        /// Enabled from now on, or not.
        enabled: bool,
        /// Who asks.
        operator: OperatorId,
    },
}

impl Command {
    /// A short stable name, for logs, metrics and journal filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::UpsertProvider { .. } => "upsert_provider",
            Command::UpsertGame { .. } => "upsert_game",
            Command::SetGameEnabled { .. } => "set_game_enabled",
        }
    }

    /// The operator that asks.
    pub fn operator(&self) -> OperatorId {
        match self {
            Command::UpsertProvider { operator, .. }
            | Command::UpsertGame { operator, .. }
            | Command::SetGameEnabled { operator, .. } => *operator,
        }
    }
}

/// A game studio and the aggregators that carry its games.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Provider {
    /// Its code in the catalogue, unique.
    pub code: ProviderCode,
    /// Display name.
    pub name: Title,
    /// The aggregators (their sources) that carry its games; 1 to
    /// [`super::AGGREGATORS_PER_PROVIDER_MAX`], each once.
    pub aggregators: Vec<SourceId>,
}

/// What kind of game it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GameType {
    /// Slot machines.
    Slot,
    /// RNG table games (roulette, blackjack …).
    Table,
    /// Live-dealer games.
    Live,
    /// Crash games.
    Crash,
    /// Anything else (bingo, scratch cards, virtual sports …).
    Other,
}

impl GameType {
    /// Every type, in order.
    pub const ALL: [GameType; 5] = [
        GameType::Slot,
        GameType::Table,
        GameType::Live,
        GameType::Crash,
        GameType::Other,
    ];

    /// The type's stable lower-case name.
    pub const fn name(self) -> &'static str {
        match self {
            GameType::Slot => "slot",
            GameType::Table => "table",
            GameType::Live => "live",
            GameType::Crash => "crash",
            GameType::Other => "other",
        }
    }

    /// The type of a name given by [`GameType::name`].
    pub fn from_name(name: &str) -> Option<GameType> {
        GameType::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// How a game's wins are spread, as its studio states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Volatility {
    /// Not stated (table and live games usually).
    Unrated,
    /// Frequent small wins.
    Low,
    /// Between.
    Medium,
    /// Rare large wins.
    High,
    /// Rarer, larger wins.
    VeryHigh,
}

impl Volatility {
    /// Every volatility, in order.
    pub const ALL: [Volatility; 5] = [
        Volatility::Unrated,
        Volatility::Low,
        Volatility::Medium,
        Volatility::High,
        Volatility::VeryHigh,
    ];

    /// The volatility's stable lower-case name.
    pub const fn name(self) -> &'static str {
        match self {
            Volatility::Unrated => "unrated",
            Volatility::Low => "low",
            Volatility::Medium => "medium",
            Volatility::High => "high",
            Volatility::VeryHigh => "very-high",
        }
    }

    /// The volatility of a name given by [`Volatility::name`].
    pub fn from_name(name: &str) -> Option<Volatility> {
        Volatility::ALL.into_iter().find(|v| v.name() == name)
    }
}

/// The stakes a game takes in one currency, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BetLimit {
    /// The currency.
    pub currency: Currency,
    /// Smallest stake, positive.
    pub min: Amount,
    /// Largest stake, at least `min`.
    pub max: Amount,
}

/// A game as an aggregator offers it: the catalogue's record, replaced
/// whole by [`Command::UpsertGame`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Game {
    /// The aggregator (its source) whose code this is: a bet's source.
    pub aggregator: SourceId,
    /// The game's code at that aggregator: a bet's [`GameCode`].
    pub code: GameCode,
    /// The studio that makes it; it must list `aggregator`.
    pub provider: ProviderCode,
    /// Display name.
    pub name: Title,
    /// Slot, table, live, crash or other.
    pub kind: GameType,
    /// As the studio rates it.
    pub volatility: Volatility,
    /// The RTP variants the studio ships, in basis points (9,600 = 96 %),
    /// each once.
    pub rtp_variants_bp: Vec<u16>,
    /// The variant configured where no jurisdiction names one.
    pub rtp_default_bp: u16,
    /// The variant configured per jurisdiction, each jurisdiction once.
    pub rtp_by_jurisdiction: Vec<(Jurisdiction, u16)>,
    /// The stakes it takes per currency; a currency not listed is not
    /// offered.
    pub limits: Vec<BetLimit>,
    /// Where it may be played (the player's licensing jurisdiction), at
    /// least one.
    pub jurisdictions: Vec<Jurisdiction>,
    /// Bets are refused while it is disabled.
    pub enabled: bool,
}

impl Game {
    /// The RTP configured for players of `jurisdiction`, basis points.
    pub fn rtp_bp(&self, jurisdiction: Jurisdiction) -> u16 {
        self.rtp_by_jurisdiction
            .iter()
            .find(|(code, _)| *code == jurisdiction)
            .map_or(self.rtp_default_bp, |(_, rtp)| *rtp)
    }

    /// The game's stake limits in `currency`, if it is offered in it.
    #[inline]
    pub fn limit(&self, currency: Currency) -> Option<&BetLimit> {
        self.limits.iter().find(|limit| limit.currency == currency)
    }
}
