//! Croupier's journal: the durable, tamper-evident log of committed batches.
//!
//! Not built yet (issue #3): the sequencer's `CommitSink` trait in `engine`
//! is the seam it will plug into. Until then the server commits to memory
//! only, and says so at start-up.
//!
//! The journal will stay generic over bytes: it must never know the
//! engine's record types, and never depend on `engine`.

#![deny(missing_docs)]
