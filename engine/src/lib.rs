//! Croupier's engine runtime: the single-writer [`sequencer`] that feeds the
//! pure ledger, and everything around it that touches threads, channels, the
//! clock or the disk.
//!
//! The ledger itself (money, ids, commands, outcomes, [`Ledger`]) lives in
//! `croupier-engine-core` (`engine_core`), a crate with no runtime
//! dependency, so that its purity is enforced by the compiler. This crate
//! re-exports it whole, so `engine::command`, `engine::ledger`,
//! `engine::Amount` and the rest keep working for the gateway and the tools.
//! Never put a business rule here: a rule that must block money belongs in
//! the core, in its domain.
//!
//! The sequencer is the only writer: producers on any thread push
//! [`Request`]s into a bounded ring; one thread drains a batch, stamps it
//! with the [`sequencer::Clock`] and the next sequence numbers, applies it,
//! hands it to a [`sequencer::CommitSink`] and only then completes the
//! replies (group commit).
//!
//! [`record`] encodes committed commands for the journal; [`durable`] puts
//! the journal behind the sequencer and recovers a ledger from disk;
//! [`snapshot`] writes and loads whole-ledger snapshots, which a
//! [`snapshotter`] takes in the background so that recovery replays only
//! the recent journal.

#![deny(missing_docs)]

pub mod durable;
pub mod record;
pub mod sequencer;
pub mod snapshot;
pub mod snapshotter;

pub use engine_core::*;
pub use engine_core::{command, ids, ledger, money, outcome, workload};
