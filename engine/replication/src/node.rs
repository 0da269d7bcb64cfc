//! One member of a replication group, as the server runs it: its log store
//! and state machine on the data directory, openraft over a [`Transport`],
//! and what the server asks of it (write a batch, take office, say where
//! the group stands, hand leadership over, answer a peer's RPC). Openraft's
//! types stay behind this API.
//!
//! Every member of a new group initializes it with the same member list (the
//! first log entry is then identical everywhere), so no node is special at
//! the first start. A node started to join a running group never
//! initializes: it waits for the leader to add it ([`Node::add_member`]),
//! first as a learner that receives the log, then as a voter.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine::Ledger;
use journal::{BatchHash, JournalConfig};
use openraft::async_runtime::WatchReceiver;
use openraft::impls::ProgressResponder;
use openraft::{BasicNode, Instant, ServerState};

use crate::network::{self, Network, Refused, Rpc, Transport};
use crate::{Applied, ApplyObserver, BatchBytes, LeaderId, LedgerStateMachine, LogGauge, LogStore, Progress, Raft};

/// Who a node is and who its peers are, and the group's timing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSettings {
    /// This node's id (one of `members`).
    pub id: u64,
    /// The group's name: a node of another group is refused.
    pub cluster_name: String,
    /// Every voter's id and address (this node's included), as
    /// [`MemberAddress`](crate::MemberAddress) text.
    pub members: BTreeMap<u64, String>,
    /// This node joins a running group (it waits to be added) rather than
    /// initializing a new one with `members`.
    pub join: bool,
    /// How often the leader sends heartbeats.
    pub heartbeat_ms: u64,
    /// A follower that hears no leader for a random time in this range
    /// starts an election; the leader's lease is the upper bound.
    pub election_timeout_ms: (u64, u64),
    /// Take a snapshot every this many log entries (0: never). The log
    /// keeps as many entries again after a snapshot, so a follower briefly
    /// behind catches up from the log; one further behind is sent the
    /// snapshot, and the journal before what the log keeps is retired.
    pub snapshot_every_entries: u64,
}

/// Why a node could not start or act.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The log store could not be opened.
    #[error("the Raft log: {0}")]
    Store(#[from] crate::StoreError),
    /// The state machine could not be opened.
    #[error("the state machine: {0}")]
    StateMachine(#[from] crate::ApplyError),
    /// The settings are not a valid openraft configuration.
    #[error("the group's settings: {0}")]
    Settings(String),
    /// Raft stopped or refused.
    #[error("raft: {0}")]
    Raft(String),
}

fn raft_error(error: impl std::fmt::Display) -> NodeError {
    NodeError::Raft(error.to_string())
}

/// Why a change of the group's members was not made.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    /// This node does not lead: the leader it knows, if any.
    #[error("not the leader (the leader is {leader:?})")]
    NotLeader {
        /// The leader's id.
        leader: Option<u64>,
    },
    /// The change makes no sense for the group as it is (an unknown
    /// member, the last voter, a change already under way).
    #[error("{0}")]
    Refused(String),
    /// The new member did not catch up within the time allowed; it stays a
    /// learner (receiving the log, without a vote) until added again or removed.
    #[error("node {id} did not catch up with the log within {within:?}; it stays a learner")]
    Timeout {
        /// The member.
        id: u64,
        /// The time allowed.
        within: Duration,
    },
    /// Raft failed.
    #[error("raft: {0}")]
    Raft(String),
}

fn membership_error(
    error: openraft::errors::RaftError<crate::TypeConfig, openraft::errors::ClientWriteError<crate::TypeConfig>>,
) -> MembershipError {
    use openraft::errors::{ClientWriteError, RaftError};
    match error {
        RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => MembershipError::NotLeader {
            leader: forward.leader_id,
        },
        RaftError::APIError(other) => MembershipError::Refused(other.to_string()),
        RaftError::Fatal(fatal) => MembershipError::Raft(fatal.to_string()),
    }
}

/// Why a write was not committed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// This node does not lead (any more): the leader it knows, if any.
    #[error("not the leader (the leader is {leader:?})")]
    NotLeader {
        /// The leader's id.
        leader: Option<u64>,
    },
    /// Not committed within the time allowed: the outcome is unknown.
    #[error("not committed within {0:?}")]
    Timeout(Duration),
    /// Raft failed.
    #[error("raft: {0}")]
    Raft(String),
}

/// A node's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Leads: runs the sequencer.
    Leader,
    /// Follows a leader: a hot standby.
    Follower,
    /// Standing for election.
    Candidate,
    /// Receives the log without a vote.
    Learner,
    /// Stopped.
    Shutdown,
}

impl Role {
    /// Its name, as `cluster status` prints it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Learner => "learner",
            Role::Shutdown => "shutdown",
        }
    }
}

/// A member as this node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberStatus {
    /// Its id.
    pub id: u64,
    /// Its raft address.
    pub raft_addr: String,
    /// Its API URL, if the membership records it.
    pub api_url: Option<String>,
    /// It votes (a learner does not: it receives the log while it catches up).
    pub voter: bool,
    /// The last log index known to be on it (the leader knows; others: none).
    pub matched_index: Option<u64>,
    /// Log entries it lacks of the leader's log (the leader knows).
    pub lag_entries: Option<u64>,
    /// Journal bytes of the batches it lacks (the leader knows).
    pub lag_bytes: Option<u64>,
    /// How long ago the oldest batch it lacks was appended on the leader,
    /// in milliseconds: 0 when it lacks none (the leader knows; unknown for
    /// batches older than the leader's own start).
    pub lag_ms: Option<u64>,
    /// Milliseconds since it last acknowledged the leader (the leader knows).
    pub last_ack_ms: Option<u64>,
}

/// Where the group stands, as this node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// This node's id.
    pub id: u64,
    /// Its role.
    pub role: Role,
    /// The current term.
    pub term: u64,
    /// The leader it knows.
    pub leader: Option<u64>,
    /// The last index in its log.
    pub last_log_index: Option<u64>,
    /// The last index known committed.
    pub committed_index: Option<u64>,
    /// The last index applied to its ledger.
    pub applied_index: Option<u64>,
    /// The ledger's last sequence number (what is applied).
    pub applied_seq: u64,
    /// The ledger's digest.
    pub digest: u64,
    /// Milliseconds since a quorum last acknowledged this leader.
    pub quorum_ack_ms: Option<u64>,
    /// Every member.
    pub members: Vec<MemberStatus>,
}

/// What a new leader starts its sequencer from.
pub struct Office {
    /// The term it leads in.
    pub term: u64,
    /// A copy of the ledger with every committed entry applied.
    pub ledger: Ledger,
    /// The hash of the last batch in it: the next batch's `prev_hash`.
    pub chain_hash: BatchHash,
}

/// A running member of the group. Cheap to clone.
#[derive(Clone)]
pub struct Node {
    id: u64,
    raft: Raft,
    progress: Arc<Mutex<Progress>>,
    gauge: LogGauge,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("id", &self.id).finish_non_exhaustive()
    }
}

impl Node {
    /// Opens the log and the state machine of `data_dir`, tells
    /// `observer(ledger)` of every batch applied from now on (it is given the
    /// ledger as it starts, before any entry is applied again), and joins the
    /// group (initializing it with `settings.members` if this node never was).
    pub async fn start<T: Transport>(
        settings: &NodeSettings,
        data_dir: &Path,
        journal_config: JournalConfig,
        ledger_config: engine::Config,
        transport: T,
        observer: impl FnOnce(&Ledger) -> Box<dyn ApplyObserver>,
    ) -> Result<Node, NodeError> {
        let store = LogStore::open(data_dir, journal_config)?;
        let gauge = store.gauge();
        let mut machine = LedgerStateMachine::open(data_dir, ledger_config)?;
        let observer = observer(machine.ledger());
        machine.set_observer(observer);
        let progress = machine.progress();
        let (election_min, election_max) = settings.election_timeout_ms;
        let config = openraft::Config {
            cluster_name: settings.cluster_name.clone(),
            heartbeat_interval: settings.heartbeat_ms,
            election_timeout_min: election_min,
            election_timeout_max: election_max,
            enable_pre_vote: Some(true),
            snapshot_policy: match settings.snapshot_every_entries {
                0 => openraft::SnapshotPolicy::Never,
                every => openraft::SnapshotPolicy::LogsSinceLast(every),
            },
            max_in_snapshot_log_to_keep: settings.snapshot_every_entries,
            // A member whose disk was wiped and that restarts under its old
            // id answers with an empty log: without this the leader's Raft
            // stops (openraft panics on a follower's log going backwards);
            // with it, the member is sent a snapshot like a new one. (Its
            // vote is forgotten too: replace a lost disk by removing the
            // member and adding it again, see the README.)
            allow_log_reversion: Some(true),
            ..Default::default()
        };
        let config = Arc::new(
            config
                .validate()
                .map_err(|error| NodeError::Settings(error.to_string()))?,
        );
        let raft = Raft::new(settings.id, config, Network::new(transport), store, machine)
            .await
            .map_err(raft_error)?;
        if !settings.join && !raft.is_initialized().await.map_err(raft_error)? {
            let members: BTreeMap<u64, BasicNode> = settings
                .members
                .iter()
                .map(|(&id, addr)| (id, BasicNode { addr: addr.clone() }))
                .collect();
            // Another member's initialization may have reached us first:
            // the same entry either way.
            if let Err(error) = raft.initialize(members).await {
                tracing::info!(%error, "the group was already initialized");
            }
        }
        Ok(Node {
            id: settings.id,
            raft,
            progress,
            gauge,
        })
    }

    /// This node's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Commits one encoded journal batch through the group (a majority has
    /// it durably) and applies it; waits at most `within`. The batch is
    /// proposed only while this node still leads in `term`, the term it
    /// took office in: a sequencer's batches continue the ledger it copied
    /// then, and after a leadership change (even back to this node) another
    /// leader's batches may follow that point in the log, so the write is
    /// refused (`NotLeader`) rather than appended after them.
    pub async fn write(&self, batch: Vec<u8>, term: u64, within: Duration) -> Result<Applied, WriteError> {
        let leader = LeaderId { term, node_id: self.id };
        let written = tokio::time::timeout(within, async {
            let (responder, reply) = ProgressResponder::complete_only();
            self.raft
                .write(BatchBytes(batch.into()))
                .with_leader(leader)
                .responder(responder)
                .await
                .map_err(|fatal| WriteError::Raft(fatal.to_string()))?;
            match reply.await {
                Err(_) => Err(WriteError::Raft("raft dropped the write".into())),
                Ok(Ok(response)) => Ok(response.data),
                Ok(Err(error)) => match error {
                    openraft::errors::ClientWriteError::ForwardToLeader(forward) => Err(WriteError::NotLeader {
                        leader: forward.leader_id,
                    }),
                    other => Err(WriteError::Raft(other.to_string())),
                },
            }
        })
        .await;
        written.unwrap_or(Err(WriteError::Timeout(within)))
    }

    /// Where the group stands, as this node sees it.
    pub fn status(&self) -> Status {
        let metrics = self.raft.metrics().borrow_watched().clone();
        let progress = *self.progress.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let role = match metrics.state {
            ServerState::Leader => Role::Leader,
            ServerState::Follower => Role::Follower,
            ServerState::Candidate => Role::Candidate,
            ServerState::Learner => Role::Learner,
            ServerState::Shutdown => Role::Shutdown,
        };
        let last_log_index = metrics.last_log_index;
        let voters: BTreeSet<u64> = metrics.membership_config.voter_ids().collect();
        let members = metrics
            .membership_config
            .nodes()
            .map(|(&id, node)| {
                let address = crate::MemberAddress::parse(&node.addr);
                let matched_index = metrics
                    .replication
                    .as_ref()
                    .and_then(|replication| replication.get(&id))
                    .map(|matched| matched.as_ref().map_or(0, |log_id| log_id.index));
                let last_ack_ms = metrics
                    .heartbeat
                    .as_ref()
                    .and_then(|heartbeat| heartbeat.get(&id).copied().flatten())
                    .map(|at| at.elapsed().as_millis() as u64);
                let lag_entries = matched_index.map(|matched| last_log_index.unwrap_or(0).saturating_sub(matched));
                let behind = metrics
                    .replication
                    .as_ref()
                    .and_then(|replication| replication.get(&id))
                    .map(|matched| self.gauge.behind(matched.as_ref().map(|log_id| log_id.index)));
                MemberStatus {
                    id,
                    raft_addr: address.raft_addr,
                    api_url: address.api_url,
                    voter: voters.contains(&id),
                    matched_index,
                    lag_entries,
                    lag_bytes: behind.map(|behind| behind.bytes),
                    lag_ms: behind.and_then(|behind| match (behind.oldest_ms, lag_entries) {
                        (Some(ms), _) => Some(ms),
                        (None, Some(0)) => Some(0),
                        (None, _) => None,
                    }),
                    last_ack_ms,
                }
            })
            .collect();
        Status {
            id: self.id,
            role,
            term: metrics.current_term,
            leader: metrics.current_leader,
            last_log_index,
            committed_index: metrics.cluster_committed.map(|log_id| log_id.index),
            applied_index: metrics.last_applied.map(|log_id| log_id.index),
            applied_seq: progress.last_seq,
            digest: progress.digest,
            quorum_ack_ms: metrics.last_quorum_acked.map(|at| at.elapsed().as_millis() as u64),
            members,
        }
    }

    /// The address of member `id` (a learner's included).
    pub fn member_address(&self, id: u64) -> Option<crate::MemberAddress> {
        let metrics = self.raft.metrics().borrow_watched().clone();
        metrics
            .membership_config
            .nodes()
            .find(|(member, _)| **member == id)
            .map(|(_, node)| crate::MemberAddress::parse(&node.addr))
    }

    /// Adds member `id` at `address` (asked of the leader): first as a
    /// learner, waiting at most `within` for it to receive the log, then as
    /// a voter (a joint-consensus change openraft commits through the old
    /// and the new majority). Adding a voter again changes nothing.
    pub async fn add_member(
        &self,
        id: u64,
        address: &crate::MemberAddress,
        within: Duration,
    ) -> Result<(), MembershipError> {
        if self.member_ids().contains(&id) {
            return Ok(());
        }
        let node = BasicNode {
            addr: address.to_text(),
        };
        match tokio::time::timeout(within, self.raft.add_learner(id, node, true)).await {
            Err(_) => return Err(MembershipError::Timeout { id, within }),
            Ok(added) => added.map_err(membership_error)?,
        };
        let voters = BTreeSet::from([id]);
        self.raft
            .change_membership(openraft::ChangeMembers::AddVoterIds(voters), false)
            .await
            .map_err(membership_error)?;
        Ok(())
    }

    /// Removes member `id` (a voter or a learner) from the group (asked of
    /// the leader); the leader itself may be removed, and then steps down
    /// once the change is committed. The last voter cannot be.
    pub async fn remove_member(&self, id: u64) -> Result<(), MembershipError> {
        let metrics = self.raft.metrics().borrow_watched().clone();
        let voters: BTreeSet<u64> = metrics.membership_config.voter_ids().collect();
        let known = metrics.membership_config.nodes().any(|(member, _)| *member == id);
        if !known {
            return Err(MembershipError::Refused(format!(
                "node {id} is not a member of the group"
            )));
        }
        if voters.contains(&id) && voters.len() == 1 {
            return Err(MembershipError::Refused(format!("node {id} is the group's last voter")));
        }
        let change = if voters.contains(&id) {
            openraft::ChangeMembers::RemoveVoters(BTreeSet::from([id]))
        } else {
            openraft::ChangeMembers::RemoveNodes(BTreeSet::from([id]))
        };
        self.raft
            .change_membership(change, false)
            .await
            .map_err(membership_error)?;
        Ok(())
    }

    /// Every node of the membership, learners included: who may call this
    /// node's raft listener.
    pub fn known_node_ids(&self) -> BTreeSet<u64> {
        self.raft
            .metrics()
            .borrow_watched()
            .membership_config
            .nodes()
            .map(|(&id, _)| id)
            .collect()
    }

    /// Waits until this node leads in a term with its lease (a quorum
    /// acknowledged it) and has applied every entry of its log (the blank
    /// entry of its term included, so every committed batch), then copies
    /// the ledger for its sequencer. `None` if it lost leadership meanwhile
    /// or did not get there `within`.
    pub async fn take_office(&self, within: Duration) -> Result<Option<Office>, NodeError> {
        let wait = self.raft.wait(Some(within));
        let Ok(metrics) = wait
            .metrics(
                |metrics| {
                    metrics.state == ServerState::Leader
                        && metrics.current_leader == Some(metrics.id)
                        && metrics.last_applied.map(|log_id| log_id.index) == metrics.last_log_index
                        && metrics
                            .last_applied
                            .is_some_and(|log_id| log_id.leader_id.term == metrics.current_term)
                },
                "leading with every entry applied",
            )
            .await
        else {
            return Ok(None);
        };
        let term = metrics.current_term;
        if self
            .raft
            .wait(Some(within))
            .leader_with_quorum_acked(None, "the lease")
            .await
            .is_err()
        {
            return Ok(None);
        }
        let copied = self
            .raft
            .with_state_machine(|machine: &mut LedgerStateMachine| Box::pin(async move { machine.copy_ledger() }))
            .await
            .map_err(raft_error)??;
        let (ledger, chain_hash) = copied;
        Ok(Some(Office {
            term,
            ledger,
            chain_hash,
        }))
    }

    /// Asks the leader (this node) to hand leadership to member `to`.
    pub async fn transfer_leader(&self, to: u64) -> Result<(), NodeError> {
        self.raft.trigger().transfer_leader(to).await.map_err(raft_error)
    }

    /// Answers a peer's RPC.
    pub async fn answer(&self, rpc: Rpc, body: &[u8]) -> Result<Vec<u8>, Refused> {
        network::answer(&self.raft, rpc, body).await
    }

    /// Waits until the ledger has applied sequence number `seq`, at most `within`.
    pub async fn applied_seq_at_least(&self, seq: u64, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        let mut metrics = self.raft.metrics();
        loop {
            if self
                .progress
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .last_seq
                >= seq
            {
                return true;
            }
            if tokio::time::timeout_at(deadline, metrics.changed()).await.is_err() {
                return false;
            }
        }
    }

    /// Every member's id.
    pub fn member_ids(&self) -> BTreeSet<u64> {
        self.raft
            .metrics()
            .borrow_watched()
            .membership_config
            .voter_ids()
            .collect()
    }

    /// Why Raft stopped on its own (a storage error is fatal in openraft),
    /// if it did: the node can no longer follow or lead, and its process
    /// should exit so that it is restarted.
    pub fn fatal(&self) -> Option<String> {
        match &self.raft.metrics().borrow_watched().running_state {
            Ok(()) => None,
            Err(fatal) => Some(fatal.to_string()),
        }
    }

    /// Stops Raft.
    pub async fn shutdown(&self) -> io::Result<()> {
        self.raft.shutdown().await.map_err(io::Error::other)
    }
}
