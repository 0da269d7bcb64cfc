//! Croupier's wallet engine: the deterministic [`Ledger`] and the
//! single-writer [`sequencer`] that feeds it.
//!
//! The ledger owns every balance, limit, bonus and idempotency record of one
//! shard. It is a pure state machine: `apply(envelope) -> outcome`, with the
//! time and sequence number stamped into the envelope by the sequencer. It
//! must never do I/O, read a clock, spawn threads or depend on an async
//! runtime; that is what makes replay, snapshots and simulation testing
//! possible. Money is always an integer [`Amount`] of minor units.
//!
//! The sequencer is the only writer: producers on any thread push
//! [`Request`]s into a bounded ring; one thread drains a batch, stamps and
//! applies it, hands it to a [`sequencer::CommitSink`] and only then
//! completes the replies (group commit).
//!
//! [`durable`] puts the journal behind the sequencer and recovers a ledger
//! from disk; [`snapshot`] writes and loads whole-ledger snapshots, which a
//! [`snapshotter`] takes in the background so that recovery replays only
//! the recent journal.

#![deny(missing_docs)]

// rkyv derives undocumented resolver types for enums with struct variants;
// every item written by hand in these two modules is documented.
#[allow(missing_docs)]
pub mod command;
pub mod durable;
pub mod ids;
pub mod ledger;
pub mod money;
#[allow(missing_docs)]
pub mod outcome;
pub mod record;
pub mod sequencer;
pub mod snapshot;
pub mod snapshotter;
pub mod workload;

pub use command::{AggregatorCredential, Command, Envelope, Request, Role, TxRef};
pub use ids::{
    ExtId, GameCode, Jurisdiction, Name, OperatorId, PlayerId, Reason, RoundId, RsaPublicKeyDer, Secret, SourceId,
    TokenHash,
};
pub use ledger::{Admission, Config, ConservationError, Flows, Fresh, Ledger};
pub use money::{Amount, Currency, MoneyError};
pub use outcome::{Balances, Outcome, Receipt, Rejection};
