//! Croupier's pure wallet ledger: money, ids, commands, outcomes and the
//! deterministic [`Ledger`] state machine of one shard.
//!
//! The ledger owns every balance, limit, bonus and idempotency record. It is
//! `apply(envelope) -> outcome`, with the time and sequence number stamped
//! into the [`Envelope`] by the caller (the sequencer in `croupier-engine`).
//! Money is always an integer [`Amount`] of minor units.
//!
//! It must never do I/O, read a clock, spawn threads, use channels or depend
//! on the journal or an async runtime: that is what makes replay, snapshots
//! and simulation testing possible. This crate is its own compilation unit so
//! that the compiler enforces it: its `Cargo.toml` lists no runtime crate, and
//! must never list one. The runtime (sequencer, clock, record codec, journal
//! sink, recovery, snapshots) lives in `croupier-engine`, which re-exports
//! this crate.
//!
//! [`workload`] is here too: a seeded, deterministic request generator over
//! the ledger's own types, shared by tests, benches and the load generator.

#![deny(missing_docs)]

pub mod codec;
pub mod command;
pub mod ids;
pub mod ledger;
pub mod money;
pub mod outcome;
pub mod workload;

pub use command::{AggregatorCredential, Command, Envelope, Query, Request, Role, TxRef};
pub use ids::{
    BlindIndex, BonusCode, ExtId, GameCode, HashKey, JackpotCode, Jurisdiction, KeyId, Name, OperatorId, PasswordHash,
    PlayerId, ProviderCode, Reason, RoundId, RsaPublicKeyDer, Secret, SourceId, Title, TokenHash,
};
pub use ledger::{Admission, Config, ConservationError, Flows, Fresh, Ledger, Printer, Prints};
/// The domains, each with its `Command` enum and the types it carries
/// (`gaming::Command::Bet(gaming::Bet { .. })`).
pub use ledger::{access, analytics, bonus, games, gaming, jackpots, marketing, payments, players, rg, risk, support};
pub use money::{Amount, Currency, MoneyError};
pub use outcome::{Balances, CatalogueFault, GameRefusal, JackpotFault, JackpotPayout, Outcome, Receipt, Rejection};
