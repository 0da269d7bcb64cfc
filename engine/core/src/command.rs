//! Commands: every state change the ledger knows, as typed values, grouped
//! by domain.
//!
//! A [`Request`] is what a producer (gateway handler, test, tool) submits:
//! who sent it, the sender's idempotency id, and the [`Command`]. The
//! sequencer wraps it into an [`Envelope`] by stamping the sequence number and
//! the time; the ledger reads time only from there.
//!
//! [`Command`] names the domain; each domain's own command enum and the
//! types it carries live in its folder (`ledger/<domain>/command.rs`) and
//! are re-exported here, so `command::Bet` and `gaming::Bet` are the same
//! type. The grouping is Rust only: each command still encodes under its
//! own stable tag (`codec/wire.rs`), the same bytes as before the split.

use crate::ids::{ExtId, PlayerId, SourceId, TokenHash};
use crate::ledger::{
    access, analytics, bonus, games, gaming, jackpots, marketing, payments, players, rg, risk, support,
};
use crate::money::Currency;

pub use crate::ledger::access::{AggregatorCredential, Role};
pub use crate::ledger::bonus::BonusGrant;
pub use crate::ledger::gaming::{Bet, RoundRef, Win, WinKind};
pub use crate::ledger::players::{AccountStatus, JurisdictionRules, KycLevel};
pub use crate::ledger::rg::{LimitKind, LimitMetric, LimitPeriod};

/// A request stamped by the sequencer: the unit the ledger applies and the
/// journal stores.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Envelope {
    /// Position in the total order, strictly increasing from 1.
    pub seq: u64,
    /// Milliseconds since the Unix epoch, never decreasing.
    pub time_ms: u64,
    /// What was asked.
    pub request: Request,
}

/// A command with its origin and idempotency id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Request {
    /// Who sent it; scopes `id`.
    pub source: SourceId,
    /// The sender's id for this request: a retry carries the same id.
    pub id: ExtId,
    /// What to do.
    pub command: Command,
}

/// A reference to an earlier request by its origin and id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TxRef {
    /// The source the referenced request came from.
    pub source: SourceId,
    /// Its id.
    pub id: ExtId,
}

/// Everything the ledger can be asked to do, by domain.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Accounts: registration, status, KYC, jurisdiction rules.
    Players(players::Command),
    /// Deposits, withdrawals, adjustments.
    Payments(payments::Command),
    /// Bets, wins, rollbacks, round ends.
    Gaming(gaming::Command),
    /// Responsible gambling: self-exclusion, time-outs, limits.
    Rg(rg::Command),
    /// Bonus grants, forfeits, expiry.
    Bonus(bonus::Command),
    /// Operators, aggregators, game sessions.
    Access(access::Command),
    /// The game catalogue: providers, games, enabling.
    Games(games::Command),
    /// Jackpot pools: creation, awards.
    Jackpots(jackpots::Command),
    /// AML work: cases, their notes and resolutions, rule settings.
    Risk(risk::Command),
    /// Player support: tickets, their messages, internal notes.
    Support(support::Command),
    /// Responsible-gambling analytics: marker alerts, interventions and
    /// the players' answers.
    Analytics(analytics::Command),
    /// Affiliates, commission plans, brands, lobbies, players' attribution.
    Marketing(marketing::Command),
    /// Reads; they change nothing.
    Query(Query),
    /// A wallet command (bet, win, rollback or end of round) an aggregator
    /// sends within a game session. The session must belong to the sending
    /// source and name the command's player and currency; a bet also needs
    /// it unexpired. Refusals carry the wallet's balances
    /// ([`crate::Outcome::RejectedInSession`]).
    ///
    /// The inner command is any [`Command`], not only a gaming one: the
    /// journal may hold sessions that wrapped something else (refused with
    /// [`crate::Rejection::SessionMismatch`]), and they must still decode.
    InSession {
        /// Digest of the session's game-launch token.
        token: TokenHash,
        /// The wallet command.
        command: Box<Command>,
    },
}

/// A read: answered from the ledger's state without a sequence number, a
/// journal record or deduplication.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Query {
    /// Reads a wallet's balances.
    Balance {
        /// The player.
        player: PlayerId,
        /// The wallet's currency.
        currency: Currency,
    },
    /// Reads what became of an earlier request.
    Transaction {
        /// The request.
        tx: TxRef,
    },
    /// Reads a player's responsible-gambling state: limits, exclusions,
    /// the play session's reality check and time limit, the limit prompt due.
    Rg {
        /// The player.
        player: PlayerId,
        /// The moment to describe (the reader's clock; the ledger's own time
        /// if that is later): a read has no envelope to stamp it.
        at_ms: u64,
    },
    /// Reads a wallet's bonuses: the active one, then the queue in order.
    Bonuses {
        /// The player.
        player: PlayerId,
        /// The wallet's currency.
        currency: Currency,
    },
}

impl Command {
    /// The command itself, or for [`Command::InSession`] the wallet command inside.
    pub fn unwrapped(&self) -> &Command {
        match self {
            Command::InSession { command, .. } => command,
            other => other,
        }
    }

    /// Queries change nothing: the sequencer answers them without a
    /// sequence number or a journal record, and they are not deduplicated.
    pub fn is_read_only(&self) -> bool {
        matches!(self, Command::Query(_))
    }

    /// The player the command is about, if it names one (payment settlements
    /// name their payment instead).
    pub fn player(&self) -> Option<PlayerId> {
        match self {
            Command::Players(command) => command.player(),
            Command::Payments(command) => command.player(),
            Command::Gaming(command) => Some(command.player()),
            Command::Rg(command) => Some(command.player()),
            Command::Bonus(command) => command.player(),
            Command::Access(command) => command.player(),
            Command::Games(_) => None,
            Command::Jackpots(command) => command.player(),
            Command::Risk(command) => command.player(),
            Command::Support(command) => command.player(),
            Command::Analytics(command) => command.player(),
            Command::Marketing(command) => command.player(),
            Command::Query(
                Query::Balance { player, .. } | Query::Rg { player, .. } | Query::Bonuses { player, .. },
            ) => Some(*player),
            Command::Query(Query::Transaction { .. }) => None,
            Command::InSession { command, .. } => command.player(),
        }
    }

    /// A short stable name, for logs, metrics and journal filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Players(command) => command.kind(),
            Command::Payments(command) => command.kind(),
            Command::Gaming(command) => command.kind(),
            Command::Rg(command) => command.kind(),
            Command::Bonus(command) => command.kind(),
            Command::Access(command) => command.kind(),
            Command::Games(command) => command.kind(),
            Command::Jackpots(command) => command.kind(),
            Command::Risk(command) => command.kind(),
            Command::Support(command) => command.kind(),
            Command::Analytics(command) => command.kind(),
            Command::Marketing(command) => command.kind(),
            Command::Query(Query::Balance { .. }) => "query_balance",
            Command::Query(Query::Transaction { .. }) => "query_transaction",
            Command::Query(Query::Rg { .. }) => "query_rg",
            Command::Query(Query::Bonuses { .. }) => "query_bonuses",
            // Journal filters and metrics count a bet as a bet, in a session or not.
            Command::InSession { command, .. } => command.kind(),
        }
    }
}

// Short construction at call sites: `Command::from(bet)`, `bet.into()`.
macro_rules! command_from {
    ($($from:ty => |$value:ident| $into:expr),* $(,)?) => {$(
        impl From<$from> for Command {
            fn from($value: $from) -> Command {
                $into
            }
        }
    )*};
}
command_from! {
    players::Command => |command| Command::Players(command),
    payments::Command => |command| Command::Payments(command),
    gaming::Command => |command| Command::Gaming(command),
    rg::Command => |command| Command::Rg(command),
    bonus::Command => |command| Command::Bonus(command),
    access::Command => |command| Command::Access(command),
    games::Command => |command| Command::Games(command),
    jackpots::Command => |command| Command::Jackpots(command),
    risk::Command => |command| Command::Risk(command),
    support::Command => |command| Command::Support(command),
    analytics::Command => |command| Command::Analytics(command),
    marketing::Command => |command| Command::Marketing(command),
    Query => |query| Command::Query(query),
    Bet => |bet| Command::Gaming(gaming::Command::Bet(bet)),
    Win => |win| Command::Gaming(gaming::Command::Win(win)),
    BonusGrant => |grant| Command::Bonus(bonus::Command::Grant(grant)),
}
