//! Croupier's replication: the journal as the Raft log of an openraft group,
//! and the ledger as its state machine (issue 11, first slice).
//!
//! **What it owns.** The openraft type configuration ([`TypeConfig`]); a
//! [`LogStore`] that keeps every Normal entry (one encoded journal batch,
//! [`BatchBytes`]) in the node's own journal, byte for byte as the leader
//! encoded it, and what the journal's 64-byte header has no room for (the
//! Raft terms, blank and membership entries, the vote, the committed log
//! id) in `<data>/raft/` (`control.log`, `vote`, `committed`); a
//! [`LedgerStateMachine`] that decodes each committed batch and applies its
//! records to a `Ledger`, requiring the outcome each record carries, as
//! recovery's replay does.
//!
//! **Why it is shaped this way.** openraft's storage contract is the
//! journal's: an append is readable on return and acknowledged once synced.
//! Making the journal the Raft log (rather than the state machine's output)
//! keeps one fsync'd log per node, and every node's journal the same bytes,
//! so `croupier-admin journal verify` checks any of them. Openraft and tokio
//! stay inside this crate: `engine` and `journal` remain runtime-free.
//!
//! **What it must never do.** Append a batch that does not continue the
//! local chain (the journal refuses it), let a crash leave a durable batch
//! without its term (control records are synced before the journal bytes of
//! the same append), or apply a record whose outcome differs from the one the
//! leader recorded.

#![deny(missing_docs)]

mod codec;
mod log_store;
pub mod network;
pub mod node;
mod state_machine;

use std::fmt;

pub use log_store::{Behind, LogGauge, LogReader, LogStore, StoreError};
pub use state_machine::{
    Applied, ApplyError, ApplyObserver, LedgerStateMachine, Progress, SnapshotBuilder, SnapshotBytes,
};

/// A member's address as the group's membership stores it (openraft's
/// `BasicNode::addr`): its raft address, then optionally a space and its
/// API URL, so every member can name any other's API (a leader added at run
/// time included) without each node's configuration listing it. Text stored
/// by an earlier release (the raft address alone) reads as having no URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberAddress {
    /// Where its peers send RPCs (`host:port`).
    pub raft_addr: String,
    /// Its operator and wallet API, if known.
    pub api_url: Option<String>,
}

impl MemberAddress {
    /// Reads the stored text.
    pub fn parse(text: &str) -> MemberAddress {
        let mut parts = text.split_whitespace();
        MemberAddress {
            raft_addr: parts.next().unwrap_or_default().to_owned(),
            api_url: parts.next().map(str::to_owned),
        }
    }

    /// The text to store.
    pub fn to_text(&self) -> String {
        match &self.api_url {
            Some(url) => format!("{} {url}", self.raft_addr),
            None => self.raft_addr.clone(),
        }
    }
}

/// The directory inside the data directory that holds what the journal
/// cannot: `control.log`, `vote`, `committed`, `snapshot`.
pub const RAFT_DIR_NAME: &str = "raft";

/// A Normal entry's payload: one journal batch, encoded once by the leader
/// (`journal::format::encode_batch`) and stored unchanged by every node.
#[derive(Clone, PartialEq, Eq)]
pub struct BatchBytes(pub bytes::Bytes);

impl fmt::Debug for BatchBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BatchBytes({} bytes)", self.0.len())
    }
}

// On the wire (CBOR) a batch is one byte string, not a list of numbers.
impl serde::Serialize for BatchBytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for BatchBytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<BatchBytes, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = BatchBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a journal batch's bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<BatchBytes, E> {
                Ok(BatchBytes(bytes::Bytes::copy_from_slice(bytes)))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, bytes: Vec<u8>) -> Result<BatchBytes, E> {
                Ok(BatchBytes(bytes.into()))
            }
        }
        deserializer.deserialize_byte_buf(Visitor)
    }
}

impl fmt::Display for BatchBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "batch of {} bytes", self.0.len())
    }
}

openraft::declare_raft_types!(
    /// Croupier's openraft types: node ids are `u64`, nodes carry an
    /// address, a Normal entry is a [`BatchBytes`], applying one answers
    /// [`Applied`].
    pub TypeConfig:
        D = BatchBytes,
        R = Applied,
        NodeId = u64,
        Node = openraft::BasicNode,
);

/// The leader id a log id and a vote carry: (term, node).
pub type LeaderId = openraft::impls::leader_id_adv::LeaderId<u64, u64>;
/// A log id: the leader id and an index.
pub type LogId = openraft::LogId<LeaderId>;
/// A vote.
pub type Vote = openraft::Vote<LeaderId>;
/// A log entry.
pub type Entry = openraft::Entry<LeaderId, openraft::EntryPayload<BatchBytes, u64, openraft::BasicNode>>;
/// A membership configuration.
pub type Membership = openraft::Membership<u64, openraft::BasicNode>;
/// A membership and the log id that set it.
pub type StoredMembership = openraft::StoredMembership<LeaderId, u64, openraft::BasicNode>;
/// What a snapshot covers.
pub type SnapshotMeta = openraft::SnapshotMeta<LeaderId, u64, openraft::BasicNode>;
/// A snapshot: what it covers and the engine snapshot file's bytes.
pub type Snapshot = openraft::Snapshot<LeaderId, u64, openraft::BasicNode, SnapshotBytes>;
/// A Raft node over this crate's storage.
pub type Raft = openraft::Raft<TypeConfig, LedgerStateMachine>;

#[cfg(test)]
mod tests {
    use super::MemberAddress;

    #[test]
    fn a_member_address_reads_back_and_an_earlier_release_text_has_no_url() {
        let address = MemberAddress {
            raft_addr: "10.0.0.4:7401".into(),
            api_url: Some("https://n4.example:8443".into()),
        };
        assert_eq!(MemberAddress::parse(&address.to_text()), address);
        let earlier = MemberAddress::parse("10.0.0.1:7401");
        assert_eq!(earlier.raft_addr, "10.0.0.1:7401");
        assert_eq!(earlier.api_url, None);
        assert_eq!(earlier.to_text(), "10.0.0.1:7401");
    }
}
