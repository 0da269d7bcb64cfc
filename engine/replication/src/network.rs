//! The group's RPCs over any request/reply transport: openraft's
//! `RaftNetworkV2` on the sending side ([`Network`]), [`answer`] on the
//! receiving side, and their wire encoding (CBOR; a batch travels as one
//! byte string, the leader's bytes unchanged).
//!
//! The transport itself (HTTP/2 between the servers, authenticated with the
//! cluster secret) belongs to the server: this crate only says which RPC a
//! call is ([`Rpc`]) and what its bytes are, so openraft's types stay here.
//! A received append is checked batch by batch (framing, CRC32C, BLAKE3)
//! before Raft sees it: a damaged batch is refused and nothing is appended.
//!
//! An append's entries must start right after its `prev_log_id`, on both
//! sides. openraft 0.10's replication stream can break that: when a wiped
//! follower's log reverts, the leader resets its progress and purges, but a
//! stale stream still pipelines from the old match and reads a range whose
//! start is purged; the log returns the rest (as the storage contract
//! allows), and the request skips entries. In debug builds openraft's own
//! assertion then kills the stream's task (the follower is never sent
//! anything again); in release builds the gap would reach the follower,
//! whose log store refuses it as a storage error, fatal to its Raft. So the
//! leader refuses to send such a request (openraft ends the stream and plans
//! again from the follower's real match: a snapshot or the log after it),
//! and a follower refuses to take one before Raft sees it.

use std::future::Future;
use std::io;

use openraft::BasicNode;
use openraft::error::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest, TransferLeaderResponse,
    VoteRequest, VoteResponse,
};
use openraft::{EntryPayload, LogIdOptionExt, OptionalSend};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{BatchBytes, Raft, Snapshot, SnapshotBytes, SnapshotMeta, TypeConfig, Vote};

/// Which RPC a call carries; its name is the last segment of the path the
/// transport posts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rpc {
    /// AppendEntries (heartbeats included).
    Append,
    /// RequestVote.
    Vote,
    /// The pre-vote round before an election.
    PreVote,
    /// A whole snapshot, for a follower the log no longer covers.
    Snapshot,
    /// The leader hands leadership to a named node.
    TransferLeader,
}

impl Rpc {
    /// Every RPC.
    pub const ALL: [Rpc; 5] = [Rpc::Append, Rpc::Vote, Rpc::PreVote, Rpc::Snapshot, Rpc::TransferLeader];

    /// Its name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Rpc::Append => "append",
            Rpc::Vote => "vote",
            Rpc::PreVote => "pre-vote",
            Rpc::Snapshot => "snapshot",
            Rpc::TransferLeader => "transfer-leader",
        }
    }

    /// The RPC of a name, if it is one.
    pub fn from_name(name: &str) -> Option<Rpc> {
        Rpc::ALL.into_iter().find(|rpc| rpc.name() == name)
    }
}

/// Carries one RPC's bytes to a peer and brings back its reply's bytes.
pub trait Transport: Clone + Send + Sync + 'static {
    /// Sends `body` as `rpc` to node `target` at `addr` (its raft address).
    /// An error means the peer could not be reached or refused the call.
    fn call(
        &self,
        target: u64,
        addr: &str,
        rpc: Rpc,
        body: Vec<u8>,
    ) -> impl Future<Output = io::Result<Vec<u8>>> + Send;
}

/// Why a received RPC was refused before Raft saw it.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The body does not decode as that RPC.
    #[error("the {rpc} request does not decode: {reason}")]
    Undecodable {
        /// The RPC's name.
        rpc: &'static str,
        /// Why.
        reason: String,
    },
    /// An appended batch is damaged (framing, CRC32C or BLAKE3).
    #[error("log entry {index}: the batch is damaged: {error}")]
    DamagedBatch {
        /// The entry's index.
        index: u64,
        /// What the journal's decoder said.
        error: journal::DecodeError,
    },
    /// An append's entries do not start right after its `prev_log_id`.
    #[error("{0}")]
    Gap(Gap),
}

/// An append whose first entry is not the one after its `prev_log_id`: it
/// would leave a hole in the receiver's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the append's entries start at index {first}, not at {expected} right after its prev_log_id")]
pub struct Gap {
    /// The index after `prev_log_id` (0 without one).
    pub expected: u64,
    /// The index of the first entry.
    pub first: u64,
}

/// Whether `request`'s entries start right after its `prev_log_id` (an
/// append without entries always does).
pub fn check_contiguous(request: &AppendEntriesRequest<TypeConfig>) -> Result<(), Gap> {
    let Some(first) = request.entries.first() else {
        return Ok(());
    };
    let expected = request.prev_log_id.next_index();
    let first = first.log_id.index;
    if first == expected {
        Ok(())
    } else {
        Err(Gap { expected, first })
    }
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = Vec::new();
    // Writing into a Vec cannot fail, and openraft's messages serialize.
    ciborium::into_writer(value, &mut bytes).expect("CBOR into a Vec");
    bytes
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    ciborium::from_reader(bytes).map_err(|error| error.to_string())
}

/// What a peer answers: the RPC's reply, or why Raft refused it there.
type Answer<T> = Result<T, String>;

/// A snapshot as sent: the leader's vote, what it covers, its bytes.
#[derive(serde::Serialize, serde::Deserialize)]
struct SnapshotCall {
    vote: Vote,
    meta: SnapshotMeta,
    #[serde(with = "snapshot_bytes")]
    data: SnapshotBytes,
}

mod snapshot_bytes {
    pub fn serialize<S: serde::Serializer>(data: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(data)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let crate::BatchBytes(bytes) = serde::Deserialize::deserialize(deserializer)?;
        Ok(bytes.to_vec())
    }
}

/// Answers one received RPC through `raft`: the reply's bytes, or why the
/// request was refused (nothing reached Raft then).
pub async fn answer(raft: &Raft, rpc: Rpc, body: &[u8]) -> Result<Vec<u8>, Refused> {
    let undecodable = |reason: String| Refused::Undecodable {
        rpc: rpc.name(),
        reason,
    };
    let reply = match rpc {
        Rpc::Append => {
            let request: AppendEntriesRequest<TypeConfig> = decode(body).map_err(undecodable)?;
            check_contiguous(&request).map_err(Refused::Gap)?;
            for entry in &request.entries {
                if let EntryPayload::Normal(BatchBytes(bytes)) = &entry.payload {
                    journal::decode_batch(bytes).map_err(|error| Refused::DamagedBatch {
                        index: entry.log_id.index,
                        error,
                    })?;
                }
            }
            encode(&raft.append_entries(request).await.map_err(|error| error.to_string()))
        }
        Rpc::Vote => {
            let request: VoteRequest<TypeConfig> = decode(body).map_err(undecodable)?;
            encode(&raft.vote(request).await.map_err(|error| error.to_string()))
        }
        Rpc::PreVote => {
            let request: VoteRequest<TypeConfig> = decode(body).map_err(undecodable)?;
            encode(&raft.pre_vote(request).await.map_err(|error| error.to_string()))
        }
        Rpc::Snapshot => {
            let call: SnapshotCall = decode(body).map_err(undecodable)?;
            let snapshot = Snapshot {
                meta: call.meta,
                snapshot: call.data,
            };
            encode(
                &raft
                    .install_full_snapshot(call.vote, snapshot)
                    .await
                    .map_err(|error| error.to_string()),
            )
        }
        Rpc::TransferLeader => {
            let request: TransferLeaderRequest<TypeConfig> = decode(body).map_err(undecodable)?;
            encode(
                &raft
                    .handle_transfer_leader(request)
                    .await
                    .map_err(|error| error.to_string()),
            )
        }
    };
    Ok(reply)
}

/// Makes a [`Connection`] per peer over a [`Transport`].
#[derive(Clone, Debug)]
pub struct Network<T> {
    transport: T,
}

impl<T: Transport> Network<T> {
    /// RPCs over `transport`.
    pub fn new(transport: T) -> Network<T> {
        Network { transport }
    }
}

impl<T: Transport> RaftNetworkFactory<TypeConfig> for Network<T> {
    type Network = Connection<T>;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Connection<T> {
        Connection {
            transport: self.transport.clone(),
            target,
            addr: crate::MemberAddress::parse(&node.addr).raft_addr,
        }
    }
}

/// Sends RPCs to one peer.
#[derive(Debug)]
pub struct Connection<T> {
    transport: T,
    target: u64,
    addr: String,
}

fn unreachable(error: impl std::fmt::Display) -> Unreachable<TypeConfig> {
    Unreachable::new(&io::Error::new(io::ErrorKind::NotConnected, error.to_string()))
}

impl<T: Transport> Connection<T> {
    /// One round trip; a peer that cannot be reached, refuses, or answers
    /// with an error is unreachable for now (openraft backs off and retries).
    async fn call<R: DeserializeOwned>(&self, rpc: Rpc, body: Vec<u8>) -> Result<R, Unreachable<TypeConfig>> {
        let reply = self
            .transport
            .call(self.target, &self.addr, rpc, body)
            .await
            .map_err(unreachable)?;
        let answer: Answer<R> = decode(&reply).map_err(unreachable)?;
        answer.map_err(unreachable)
    }
}

impl<T: Transport> RaftNetworkV2<TypeConfig> for Connection<T> {
    type SnapshotData = SnapshotBytes;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        // A stale replication stream's request (see the module doc): not
        // sent; the error ends the stream, and openraft plans again.
        if let Err(gap) = check_contiguous(&rpc) {
            tracing::warn!(target = self.target, %gap, "not sending an append that skips entries");
            return Err(unreachable(gap).into());
        }
        Ok(self.call(Rpc::Append, encode(&rpc)).await?)
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        Ok(self.call(Rpc::Vote, encode(&rpc)).await?)
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        Ok(self.call(Rpc::PreVote, encode(&rpc)).await?)
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        _cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let call = SnapshotCall {
            vote,
            meta: snapshot.meta,
            data: snapshot.snapshot,
        };
        Ok(self.call(Rpc::Snapshot, encode(&call)).await?)
    }

    async fn transfer_leader(
        &mut self,
        request: TransferLeaderRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        Ok(self.call(Rpc::TransferLeader, encode(&request)).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::{Entry, LeaderId, LogId};

    /// Counts the calls it is given and answers none of them.
    #[derive(Clone, Default)]
    struct CountingTransport {
        calls: Arc<AtomicUsize>,
    }

    impl Transport for CountingTransport {
        async fn call(&self, _target: u64, _addr: &str, _rpc: Rpc, _body: Vec<u8>) -> io::Result<Vec<u8>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Err(io::Error::new(io::ErrorKind::ConnectionRefused, "a test transport"))
        }
    }

    fn blank(index: u64) -> Entry {
        Entry {
            log_id: LogId::new(LeaderId { term: 2, node_id: 3 }, index),
            payload: EntryPayload::Blank,
        }
    }

    fn append(prev: Option<u64>, entries: &[u64]) -> AppendEntriesRequest<TypeConfig> {
        AppendEntriesRequest {
            vote: Vote::new_committed(2, 3),
            prev_log_id: prev.map(|index| LogId::new(LeaderId { term: 2, node_id: 3 }, index)),
            leader_commit: None,
            entries: entries.iter().map(|&index| blank(index)).collect(),
        }
    }

    #[test]
    fn an_append_must_start_right_after_its_prev_log_id() {
        assert_eq!(check_contiguous(&append(Some(44), &[45, 46])), Ok(()));
        assert_eq!(check_contiguous(&append(None, &[0, 1])), Ok(()));
        assert_eq!(check_contiguous(&append(Some(44), &[])), Ok(()), "a heartbeat");
        assert_eq!(
            check_contiguous(&append(Some(44), &[48, 49])),
            Err(Gap {
                expected: 45,
                first: 48
            })
        );
        assert_eq!(
            check_contiguous(&append(None, &[5])),
            Err(Gap { expected: 0, first: 5 })
        );
    }

    #[tokio::test]
    async fn the_leader_does_not_send_an_append_that_skips_entries() {
        let transport = CountingTransport::default();
        let mut network = Network::new(transport.clone());
        let node = BasicNode {
            addr: "127.0.0.1:1 http://127.0.0.1:2".to_owned(),
        };
        let mut connection = network.new_client(1, &node).await;
        let option = RPCOption::new(Duration::from_millis(100));

        // What a stale stream built after the leader purged 45..=47.
        let refused = connection
            .append_entries(append(Some(44), &[48, 49]), option.clone())
            .await;
        let Err(RPCError::Unreachable(error)) = refused else {
            panic!("a gapped append was not refused: {refused:?}");
        };
        assert!(error.to_string().contains("start at index 48, not at 45"), "{error}");
        assert_eq!(transport.calls.load(Ordering::SeqCst), 0, "it reached the transport");

        // A contiguous one and a heartbeat go out.
        let _ = connection.append_entries(append(Some(44), &[45]), option.clone()).await;
        let _ = connection.append_entries(append(Some(44), &[]), option).await;
        assert_eq!(transport.calls.load(Ordering::SeqCst), 2);
    }
}
