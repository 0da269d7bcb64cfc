//! The journal as an openraft log: openraft's own storage conformance suite
//! on temporary data directories, then Normal entries that are real ledger
//! batches (stored byte for byte, read back, applied, truncated, reopened
//! after a crash cut an append short).

use std::collections::BTreeSet;
use std::io;
use std::path::Path;

use engine::Ledger;
use engine::command::Envelope;
use engine::money::Currency;
use engine::outcome::Outcome;
use engine::sequencer::Committed;
use engine::workload::Workload;
use journal::{BatchHash, FlushPolicy, Journal, JournalConfig};
use openraft::storage::{IOFlushed, RaftLogStorage, RaftStateMachine};
use openraft::testing::log::{StoreBuilder, Suite};
use openraft::{EntryPayload, ErrorSubject, ErrorVerb, RaftLogReader, StorageError};
use replication::{BatchBytes, Entry, LeaderId, LedgerStateMachine, LogId, LogStore, Membership, TypeConfig};
use tempfile::TempDir;

fn journal_config() -> JournalConfig {
    // Small segments: many stores are made, and batches should span segments.
    JournalConfig {
        segment_size_bytes: 64 * 1024,
        flush: FlushPolicy::Always,
    }
}

fn open(dir: &Path) -> (LogStore, LedgerStateMachine) {
    let store = LogStore::open(dir, journal_config()).expect("open the log store");
    let machine = LedgerStateMachine::open(dir, engine::Config::default()).expect("open the state machine");
    (store, machine)
}

struct TempStores;

impl StoreBuilder<TypeConfig, LogStore, LedgerStateMachine, TempDir> for TempStores {
    async fn build(&self) -> Result<(TempDir, LogStore, LedgerStateMachine), StorageError<TypeConfig>> {
        let failed = |error: io::Error| StorageError::from_io_error(ErrorSubject::Store, ErrorVerb::Write, error);
        let dir = tempfile::tempdir().map_err(failed)?;
        let store = LogStore::open(dir.path(), journal_config()).map_err(|error| failed(error.into()))?;
        let machine =
            LedgerStateMachine::open(dir.path(), engine::Config::default()).map_err(|error| failed(error.into()))?;
        Ok((dir, store, machine))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_storage_conformance_suite_passes() {
    Suite::test_all(TempStores).await.expect("openraft's storage suite");
}

/// What a leader does before proposing: applies requests to its ledger and
/// encodes the committed records as the next journal batch.
struct Proposer {
    seed: u64,
    /// The length of every batch made so far.
    sizes: Vec<usize>,
    workload: Workload,
    ledger: Ledger,
    next_seq: u64,
    last_hash: BatchHash,
    pending: std::collections::VecDeque<engine::command::Request>,
}

impl Proposer {
    fn new(seed: u64) -> Proposer {
        let mut workload = Workload::new(seed, 8, Currency::EUR);
        let pending = workload.setup().collect();
        Proposer {
            seed,
            sizes: Vec::new(),
            workload,
            ledger: Ledger::new(engine::Config::default()),
            next_seq: 1,
            last_hash: BatchHash::GENESIS,
            pending,
        }
    }

    /// A proposer in the same state (the workload is deterministic): what
    /// a leader that is about to be deposed would propose next.
    fn fork(&self) -> Proposer {
        let mut fork = Proposer::new(self.seed);
        for &len in &self.sizes {
            fork.batch(len);
        }
        fork
    }

    /// The next batch of `len` records: its bytes and the outcomes recorded in it.
    fn batch(&mut self, len: usize) -> (BatchBytes, Vec<Outcome>) {
        self.sizes.push(len);
        let first_seq = self.next_seq;
        let mut records = Vec::with_capacity(len);
        let mut outcomes = Vec::with_capacity(len);
        for seq in first_seq..first_seq + len as u64 {
            let request = self.pending.pop_front().unwrap_or_else(|| self.workload.next_request());
            let envelope = Envelope {
                seq,
                time_ms: 1_700_000_000_000 + seq,
                request,
            };
            let outcome = self.ledger.apply(&envelope);
            outcomes.push(outcome.clone());
            records.push(engine::record::encode(&Committed { envelope, outcome }));
        }
        let bytes = journal::format::encode_batch(first_seq, self.last_hash, &records);
        self.last_hash = journal::decode_batch(&bytes).unwrap().hash;
        self.next_seq += len as u64;
        (BatchBytes(bytes.into()), outcomes)
    }
}

fn log_id(term: u64, node_id: u64, index: u64) -> LogId {
    LogId::new(LeaderId { term, node_id }, index)
}

fn normal(term: u64, index: u64, batch: BatchBytes) -> Entry {
    Entry {
        log_id: log_id(term, 1, index),
        payload: EntryPayload::Normal(batch),
    }
}

fn blank(term: u64, index: u64) -> Entry {
    Entry {
        log_id: log_id(term, 1, index),
        payload: EntryPayload::Blank,
    }
}

async fn append(store: &mut LogStore, entries: Vec<Entry>) -> io::Result<()> {
    store.append(entries, IOFlushed::noop()).await
}

async fn read_all(store: &mut LogStore) -> Vec<Entry> {
    store.get_log_reader().await.try_get_log_entries(..).await.unwrap()
}

async fn apply(machine: &mut LedgerStateMachine, entries: &[Entry]) -> io::Result<()> {
    let items: Vec<_> = entries.iter().cloned().map(|entry| Ok((entry, None))).collect();
    machine.apply(futures_util::stream::iter(items)).await
}

/// A log of every kind of entry, leader changes included: membership,
/// blank, Normal batches in two terms.
fn mixed_log(proposer: &mut Proposer) -> Vec<Entry> {
    let membership = Membership::new_with_defaults(vec![BTreeSet::from([1, 2, 3])], []);
    let mut entries = vec![
        Entry {
            log_id: log_id(0, 0, 0),
            payload: EntryPayload::Membership(membership),
        },
        blank(1, 1),
    ];
    for index in 2..6 {
        entries.push(normal(1, index, proposer.batch(24).0)); // 24 + 3 × 8 setup records
    }
    entries.push(blank(2, 6));
    for index in 7..10 {
        entries.push(normal(2, index, proposer.batch(5).0));
    }
    entries
}

#[tokio::test]
async fn normal_entries_are_the_leaders_batches_and_read_back_the_same_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let mut proposer = Proposer::new(7);
    let entries = mixed_log(&mut proposer);
    {
        let (mut store, mut machine) = open(dir.path());
        // In three appends, as a follower receives them.
        append(&mut store, entries[..3].to_vec()).await.unwrap();
        append(&mut store, entries[3..7].to_vec()).await.unwrap();
        append(&mut store, entries[7..].to_vec()).await.unwrap();
        assert_eq!(read_all(&mut store).await, entries);
        apply(&mut machine, &entries).await.unwrap();
        assert_eq!(machine.ledger().digest(), proposer.ledger.digest());
        assert_eq!(machine.ledger().last_seq(), proposer.next_seq - 1);
    }
    // The journal holds the leader's batches and nothing else, and checks out.
    let report = journal::verify(dir.path()).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.batches, 7);
    assert_eq!(report.last_seq, proposer.next_seq - 1);
    let (mut store, _) = open(dir.path());
    assert_eq!(read_all(&mut store).await, entries);
    let state = store.get_log_state().await.unwrap();
    assert_eq!(state.last_log_id, Some(log_id(2, 1, 9)));
    assert_eq!(store.journal_tail(), (proposer.next_seq - 1, proposer.last_hash));
}

#[tokio::test]
async fn truncating_a_suffix_cuts_the_journal_quarantines_it_and_a_new_leader_appends_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut proposer = Proposer::new(11);
    let entries = mixed_log(&mut proposer);
    let (mut store, _) = open(dir.path());
    append(&mut store, entries.clone()).await.unwrap();
    // The new leader's log agrees up to index 4: 5.. go.
    store.truncate_after(Some(log_id(1, 1, 4))).await.unwrap();
    assert_eq!(read_all(&mut store).await, entries[..5]);
    let quarantined: Vec<_> = std::fs::read_dir(dir.path().join(journal::QUARANTINE_DIR_NAME))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        quarantined.iter().any(|name| name.ends_with(".truncated")),
        "{quarantined:?}"
    );
    // The new leader's batches chain on the kept ones.
    let mut replacement = Proposer::new(11);
    let kept: Vec<_> = (0..3).map(|_| replacement.batch(24).0).collect();
    assert_eq!(
        kept,
        entries[2..5]
            .iter()
            .map(|entry| match &entry.payload {
                EntryPayload::Normal(batch) => batch.clone(),
                other => panic!("{other:?}"),
            })
            .collect::<Vec<_>>()
    );
    let new_suffix = vec![
        blank(3, 5),
        normal(3, 6, replacement.batch(2).0),
        normal(3, 7, replacement.batch(9).0),
    ];
    append(&mut store, new_suffix.clone()).await.unwrap();
    let expected = [entries[..5].to_vec(), new_suffix].concat();
    assert_eq!(read_all(&mut store).await, expected);
    drop(store);
    assert!(journal::verify(dir.path()).unwrap().is_ok());
    let (mut store, mut machine) = open(dir.path());
    assert_eq!(read_all(&mut store).await, expected);
    apply(&mut machine, &expected).await.unwrap();
    assert_eq!(machine.ledger().digest(), replacement.ledger.digest());
    // Truncating everything, then starting again from the same index.
    store.truncate_after(None).await.unwrap();
    assert_eq!(read_all(&mut store).await, Vec::<Entry>::new());
    assert_eq!(store.journal_tail(), (0, BatchHash::GENESIS));
}

#[tokio::test]
async fn a_batch_that_does_not_chain_on_the_journal_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut proposer = Proposer::new(3);
    let entries = mixed_log(&mut proposer);
    let (mut store, _) = open(dir.path());
    append(&mut store, entries[..4].to_vec()).await.unwrap();
    let tail = store.journal_tail();
    let control = std::fs::read(dir.path().join("raft/control.log")).unwrap();
    // Index 4 given the batch of index 5 (skips one), then a damaged one.
    let skipping = vec![blank(1, 4), entries[5].clone()];
    let mut damaged = entries[4].clone();
    if let EntryPayload::Normal(BatchBytes(bytes)) = &mut damaged.payload {
        let mut flipped = bytes.to_vec();
        flipped[80] ^= 0x10;
        *bytes = flipped.into();
    }
    for (attempt, what) in [(skipping, "not chained"), (vec![damaged], "damaged")] {
        let error = append(&mut store, attempt).await.expect_err(what);
        assert!(
            error.to_string().contains("does not continue the journal"),
            "{what}: {error}"
        );
        assert_eq!(store.journal_tail(), tail, "{what}");
        assert_eq!(read_all(&mut store).await, entries[..4], "{what}");
        assert_eq!(
            std::fs::read(dir.path().join("raft/control.log")).unwrap(),
            control,
            "{what}"
        );
    }
    // A gap in the indexes is refused too.
    let gap = vec![normal(
        1,
        5,
        match &entries[4].payload {
            EntryPayload::Normal(batch) => batch.clone(),
            _ => unreachable!(),
        },
    )];
    assert!(append(&mut store, gap).await.is_err());
    // The right entry still goes in.
    append(&mut store, vec![entries[4].clone()]).await.unwrap();
    assert_eq!(read_all(&mut store).await, entries[..5]);
}

#[tokio::test]
async fn a_crash_that_lost_the_last_batches_leaves_the_log_a_prefix_and_its_records_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let mut proposer = Proposer::new(5);
    let entries = mixed_log(&mut proposer);
    {
        let (mut store, _) = open(dir.path());
        append(&mut store, entries.clone()).await.unwrap();
    }
    // The control records of the last append were synced, its batches were
    // not (a crash between the two): cut the journal after index 7's batch.
    let seq_after_7 = match &entries[7].payload {
        EntryPayload::Normal(BatchBytes(bytes)) => journal::decode_batch(bytes).unwrap().first_seq() - 1,
        _ => unreachable!(),
    };
    {
        let (mut journal, _) = Journal::open(dir.path(), journal_config()).unwrap();
        journal.truncate_after(seq_after_7).unwrap();
    }
    let (mut store, _) = open(dir.path());
    assert_eq!(read_all(&mut store).await, entries[..7]);
    assert_eq!(store.get_log_state().await.unwrap().last_log_id, Some(log_id(2, 1, 6)));
    // Appending index 7 again (the leader resends it) continues the log.
    append(&mut store, entries[7..].to_vec()).await.unwrap();
    drop(store);
    let (mut store, _) = open(dir.path());
    assert_eq!(read_all(&mut store).await, entries);
}

// ------------------------------------------------ an in-process three-node group

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::BasicNode;
use openraft::error::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse};
use replication::{Raft, Snapshot, SnapshotBytes, Vote};

/// Network faults the test injects.
#[derive(Default)]
struct Faults {
    /// Nodes cut off from every other (both directions).
    cut: BTreeSet<u64>,
    /// A node whose AppendEntries that carry entries are lost (its
    /// heartbeats still arrive, so its lease holds).
    entries_lost_from: Option<u64>,
}

/// Delivers RPCs by calling the target node's `Raft` directly (openraft's
/// own tests do the same); a node removed from it, or cut off, is unreachable.
#[derive(Clone, Default)]
struct Router {
    nodes: Arc<Mutex<BTreeMap<u64, Raft>>>,
    faults: Arc<Mutex<Faults>>,
    /// The node this copy sends for.
    from: u64,
}

impl Router {
    /// The copy node `from` sends through.
    fn for_node(&self, from: u64) -> Router {
        Router { from, ..self.clone() }
    }

    fn node(&self, id: u64, carries_entries: bool) -> Result<Raft, Unreachable<TypeConfig>> {
        let down = |why: &str| Unreachable::new(&io::Error::new(io::ErrorKind::NotConnected, why.to_string()));
        let faults = self.faults.lock().unwrap();
        if faults.cut.contains(&id) || faults.cut.contains(&self.from) {
            return Err(down("partitioned"));
        }
        if carries_entries && faults.entries_lost_from == Some(self.from) {
            return Err(down("entries lost"));
        }
        drop(faults);
        let nodes = self.nodes.lock().unwrap();
        nodes.get(&id).cloned().ok_or_else(|| down("node is down"))
    }
}

struct Connection {
    router: Router,
    target: u64,
}

impl RaftNetworkFactory<TypeConfig> for Router {
    type Network = Connection;

    async fn new_client(&mut self, target: u64, _node: &BasicNode) -> Connection {
        Connection {
            router: self.clone(),
            target,
        }
    }
}

fn unreachable<E: std::error::Error + 'static>(error: E) -> Unreachable<TypeConfig> {
    Unreachable::new(&error)
}

impl RaftNetworkV2<TypeConfig> for Connection {
    type SnapshotData = SnapshotBytes;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        let node = self.router.node(self.target, !rpc.entries.is_empty())?;
        node.append_entries(rpc)
            .await
            .map_err(|error| unreachable(error).into())
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        let node = self.router.node(self.target, false)?;
        node.vote(rpc).await.map_err(|error| unreachable(error).into())
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        let node = self.router.node(self.target, false)?;
        node.pre_vote(rpc).await.map_err(|error| unreachable(error).into())
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        _cancel: impl std::future::Future<Output = ReplicationClosed> + Send + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let node = self.router.node(self.target, false)?;
        node.install_full_snapshot(vote, snapshot)
            .await
            .map_err(|error| unreachable(error).into())
    }
}

struct Node {
    id: u64,
    dir: TempDir,
    raft: Raft,
    progress: Arc<Mutex<replication::Progress>>,
}

fn raft_config() -> Arc<openraft::Config> {
    let config = openraft::Config {
        cluster_name: "croupier-test".into(),
        heartbeat_interval: 50,
        election_timeout_min: 300,
        election_timeout_max: 600,
        snapshot_policy: openraft::SnapshotPolicy::Never,
        ..Default::default()
    };
    Arc::new(config.validate().unwrap())
}

/// Opens the log store of `dir` once the journal's lock is free: a node
/// shut down in this process releases it when openraft's tasks have dropped
/// their log readers, a moment after `shutdown` returns.
async fn open_released(dir: &Path) -> (LogStore, LedgerStateMachine) {
    for _ in 0..500 {
        match LogStore::open(dir, journal_config()) {
            Err(replication::StoreError::Journal(journal::JournalError::Locked { .. })) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            opened => {
                let machine = LedgerStateMachine::open(dir, engine::Config::default()).unwrap();
                return (opened.expect("open the log store"), machine);
            }
        }
    }
    panic!("the journal of {} stayed locked", dir.display());
}

/// Starts node `id` on the data directory `dir` (new or used before).
async fn start_node(id: u64, dir: TempDir, router: &Router) -> Node {
    start_node_with(id, dir, router, raft_config()).await
}

/// [`start_node`] with another openraft configuration.
async fn start_node_with(id: u64, dir: TempDir, router: &Router, config: Arc<openraft::Config>) -> Node {
    let (store, machine) = open_released(dir.path()).await;
    let progress = machine.progress();
    let raft = Raft::new(id, config, router.for_node(id), store, machine)
        .await
        .unwrap();
    router.nodes.lock().unwrap().insert(id, raft.clone());
    Node {
        id,
        dir,
        raft,
        progress,
    }
}

/// Waits until `node` knows a leader other than `not`; returns it.
async fn leader_seen_by(node: &Raft, not: Option<u64>, within: Duration) -> u64 {
    let metrics = node
        .wait(Some(within))
        .metrics(
            |metrics| metrics.current_leader.is_some_and(|leader| Some(leader) != not),
            "a leader",
        )
        .await
        .expect("a leader within the time");
    metrics.current_leader.unwrap()
}

/// Writes `batches` batches through `leader`, checking each reply against
/// the outcomes the proposer recorded; returns the last log index written.
async fn write_batches(leader: &Raft, proposer: &mut Proposer, batches: usize) -> u64 {
    let mut last_index = 0;
    for n in 0..batches {
        let (batch, outcomes) = proposer.batch(1 + n % 7);
        let first_seq = proposer.next_seq - outcomes.len() as u64;
        let reply = leader.client_write(batch).await.expect("a write through the leader");
        assert_eq!(reply.data.first_seq, first_seq);
        // (Each record gave the outcome the proposer recorded, or the
        // entry would not have applied.)
        assert_eq!(reply.data.records, outcomes.len() as u64);
        last_index = reply.log_id.index;
    }
    last_index
}

/// [`write_batches`] through whichever node leads: a loaded machine can
/// delay heartbeats past the election timeout (or a healed follower's
/// higher term can depose the leader), and a write refused with
/// `ForwardToLeader` was not appended, so it is sent again to the new
/// leader. Returns the last log index written.
async fn write_batches_in(router: &Router, mut leader_id: u64, proposer: &mut Proposer, batches: usize) -> u64 {
    let mut last_index = 0;
    for n in 0..batches {
        let (batch, outcomes) = proposer.batch(1 + n % 7);
        let first_seq = proposer.next_seq - outcomes.len() as u64;
        let mut attempts = 0;
        let reply = loop {
            let leader = router.nodes.lock().unwrap().get(&leader_id).cloned();
            let leader = leader.expect("the leader is a running node");
            match leader.client_write(batch.clone()).await {
                Ok(reply) => break reply,
                Err(openraft::error::RaftError::APIError(openraft::error::ClientWriteError::ForwardToLeader(_)))
                    if attempts < 20 =>
                {
                    attempts += 1;
                    // (Its view may still be stale: give the election a moment.)
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    leader_id = leader_seen_by(&leader, None, Duration::from_secs(10)).await;
                }
                Err(error) => panic!("a write through the leader: {error:?}"),
            }
        };
        assert_eq!(reply.data.first_seq, first_seq);
        assert_eq!(reply.data.records, outcomes.len() as u64);
        last_index = reply.log_id.index;
    }
    last_index
}

async fn wait_applied(nodes: &[&Node], index: u64) {
    for node in nodes {
        node.raft
            .wait(Some(Duration::from_secs(5)))
            .applied_index_at_least(Some(index), "applied on every node")
            .await
            .unwrap();
    }
}

/// Segment files by name.
fn segments(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "seg"))
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&path).unwrap(),
            )
        })
        .collect()
}

/// Waits until `node` leads with its lease (a quorum acknowledged it): only
/// then does it take writes.
async fn takes_office(node: &Node) {
    node.raft
        .wait(Some(Duration::from_secs(5)))
        .leader_with_quorum_acked(None, "the leader takes office")
        .await
        .unwrap();
}

/// Three nodes on new data directories, initialized; returns the leader's id
/// once it takes writes.
async fn start_group(router: &Router) -> (Vec<Node>, u64) {
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(start_node(id, tempfile::tempdir().unwrap(), router).await);
    }
    let members: BTreeMap<u64, BasicNode> = (1..=3)
        .map(|id| {
            (
                id,
                BasicNode {
                    addr: format!("node-{id}"),
                },
            )
        })
        .collect();
    nodes[0].raft.initialize(members).await.unwrap();
    let leader = leader_seen_by(&nodes[0].raft, None, Duration::from_secs(5)).await;
    takes_office(&nodes[(leader - 1) as usize]).await;
    (nodes, leader)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_node_group_replicates_ledger_batches_and_elects_a_new_leader_when_the_leader_dies() {
    let router = Router::default();
    let (mut nodes, first_leader) = start_group(&router).await;
    let leader = &nodes[(first_leader - 1) as usize];

    // Writes through the leader are applied on every node, to the same ledger.
    let mut proposer = Proposer::new(42);
    let written = write_batches(&leader.raft, &mut proposer, 12).await;
    wait_applied(&nodes.iter().collect::<Vec<_>>(), written).await;
    for node in &nodes {
        let progress = *node.progress.lock().unwrap();
        assert_eq!(progress.last_seq, proposer.next_seq - 1);
        assert_eq!(progress.digest, proposer.ledger.digest());
        assert_eq!(progress.chain_hash, proposer.last_hash);
    }

    // The leader dies: a new one is elected among the other two, in time.
    let old = nodes.remove((first_leader - 1) as usize);
    assert_eq!(old.id, first_leader);
    router.nodes.lock().unwrap().remove(&first_leader);
    old.raft.shutdown().await.unwrap();
    // The target: a new leader within 5 s (the wait fails past it).
    let new_leader = leader_seen_by(&nodes[0].raft, Some(first_leader), Duration::from_secs(5)).await;
    let leader = nodes.iter().find(|node| node.id == new_leader).unwrap();
    takes_office(leader).await;

    // It takes writes that continue the same history.
    let written = write_batches(&leader.raft, &mut proposer, 8).await;
    wait_applied(&nodes.iter().collect::<Vec<_>>(), written).await;
    for node in &nodes {
        let progress = *node.progress.lock().unwrap();
        assert_eq!(progress.digest, proposer.ledger.digest());
    }
    for node in &nodes {
        node.raft.shutdown().await.unwrap();
    }
    router.nodes.lock().unwrap().clear();

    // Every journal checks out; the survivors' are byte-identical, and the
    // dead leader's is the same bytes as far as it goes.
    for dir in [old.dir.path(), nodes[0].dir.path(), nodes[1].dir.path()] {
        let report = journal::verify(dir).unwrap();
        assert!(report.is_ok(), "{}: {report:?}", dir.display());
    }
    assert_eq!(
        journal::verify(nodes[0].dir.path()).unwrap().last_seq,
        proposer.next_seq - 1
    );
    let survivor = segments(nodes[0].dir.path());
    assert_eq!(survivor, segments(nodes[1].dir.path()));
    let dead = segments(old.dir.path());
    assert!(!dead.is_empty());
    for (name, bytes) in &dead {
        let common = bytes.iter().rposition(|&byte| byte != 0).map_or(0, |last| last + 1);
        assert_eq!(bytes[..common], survivor[name][..common], "{name}");
    }

    // A survivor restarted alone rebuilds its ledger from its own log up to
    // what it knew was committed, without a leader.
    let survivor = nodes.remove(0);
    let (id, dir) = (survivor.id, survivor.dir);
    drop(survivor.raft);
    let restarted = start_node(id, dir, &Router::default()).await;
    restarted
        .raft
        .wait(Some(Duration::from_secs(5)))
        .applied_index_at_least(Some(written), "the committed entries applied again")
        .await
        .unwrap();
    let progress = *restarted.progress.lock().unwrap();
    assert_eq!(progress.last_seq, proposer.next_seq - 1);
    assert_eq!(progress.digest, proposer.ledger.digest());
    restarted.raft.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_leader_acknowledges_nothing_and_truncates_its_unacknowledged_suffix_when_it_rejoins() {
    let router = Router::default();
    let (nodes, old_id) = start_group(&router).await;
    let old = &nodes[(old_id - 1) as usize];
    let mut proposer = Proposer::new(9);
    let written = write_batches(&old.raft, &mut proposer, 6).await;
    wait_applied(&nodes.iter().collect::<Vec<_>>(), written).await;

    // The leader's next batch reaches its own journal only (its heartbeats
    // still arrive, so it holds its lease and takes the write).
    router.faults.lock().unwrap().entries_lost_from = Some(old_id);
    let mut attempts = 0;
    let doomed = loop {
        attempts += 1;
        let (batch, _) = proposer.fork().batch(3);
        let raft = old.raft.clone();
        let write = tokio::spawn(async move { raft.client_write(batch).await });
        let appended = old
            .raft
            .wait(Some(Duration::from_secs(5)))
            .log_index_at_least(Some(written + 1), "the doomed batch in the old leader's log")
            .await;
        if appended.is_ok() {
            break write;
        }
        // Refused outright: the lease lapsed while the machine stalled. Again.
        assert!(
            write.is_finished() && attempts < 3,
            "the write neither refused nor appended"
        );
    };
    // Then it is cut off; the other two elect a new leader and go on.
    {
        let mut faults = router.faults.lock().unwrap();
        faults.entries_lost_from = None;
        faults.cut.insert(old_id);
    }
    let others: Vec<&Node> = nodes.iter().filter(|node| node.id != old_id).collect();
    let new_id = leader_seen_by(&others[0].raft, Some(old_id), Duration::from_secs(5)).await;
    let new_leader = others.iter().find(|node| node.id == new_id).unwrap();
    takes_office(new_leader).await;
    let written = write_batches(&new_leader.raft, &mut proposer, 5).await;

    // Healed: the old leader follows, drops its suffix (kept in quarantine),
    // and catches up; its write was never acknowledged.
    router.faults.lock().unwrap().cut.clear();
    wait_applied(&nodes.iter().collect::<Vec<_>>(), written).await;
    if let Ok(answered) = tokio::time::timeout(Duration::from_secs(5), doomed).await {
        // (Still unanswered after that: nothing acknowledged either.)
        assert!(answered.unwrap().is_err(), "a deposed leader acknowledged a write");
    }
    let quarantined: Vec<String> = std::fs::read_dir(old.dir.path().join(journal::QUARANTINE_DIR_NAME))
        .expect("the old leader quarantined its suffix")
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        quarantined.iter().any(|name| name.ends_with(".truncated")),
        "{quarantined:?}"
    );
    for node in &nodes {
        let progress = *node.progress.lock().unwrap();
        assert_eq!(progress.digest, proposer.ledger.digest(), "node {}", node.id);
        node.raft.shutdown().await.unwrap();
    }
    router.nodes.lock().unwrap().clear();
    let images: Vec<_> = nodes.iter().map(|node| segments(node.dir.path())).collect();
    assert_eq!(images[0], images[1]);
    assert_eq!(images[0], images[2]);
    for node in &nodes {
        assert!(journal::verify(node.dir.path()).unwrap().is_ok(), "node {}", node.id);
    }
}

/// Snapshots every 10 entries, and after one the log keeps none of what it covers.
fn snapshotting_config() -> Arc<openraft::Config> {
    let config = openraft::Config {
        cluster_name: "croupier-test".into(),
        heartbeat_interval: 50,
        election_timeout_min: 300,
        election_timeout_max: 600,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(10),
        max_in_snapshot_log_to_keep: 0,
        ..Default::default()
    };
    Arc::new(config.validate().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_behind_the_purged_log_is_sent_a_snapshot_and_its_journal_continues_from_it() {
    let router = Router::default();
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(start_node_with(id, tempfile::tempdir().unwrap(), &router, snapshotting_config()).await);
    }
    let members: BTreeMap<u64, BasicNode> = (1..=3)
        .map(|id| {
            (
                id,
                BasicNode {
                    addr: format!("node-{id}"),
                },
            )
        })
        .collect();
    nodes[0].raft.initialize(members).await.unwrap();
    let leader_id = leader_seen_by(&nodes[0].raft, None, Duration::from_secs(5)).await;
    takes_office(&nodes[(leader_id - 1) as usize]).await;
    let mut proposer = Proposer::new(77);
    let written = write_batches_in(&router, leader_id, &mut proposer, 5).await;
    wait_applied(&nodes.iter().collect::<Vec<_>>(), written).await;

    // A follower is cut off while the others go on far enough for the
    // leader to snapshot and purge what it lacks.
    let behind_id = (1..=3).find(|&id| id != leader_id).unwrap();
    router.faults.lock().unwrap().cut.insert(behind_id);
    let written = write_batches_in(&router, leader_id, &mut proposer, 300).await;
    // (The two that are not cut off may have swapped the lead under load.)
    let leader_id = leader_seen_by(&nodes[(leader_id - 1) as usize].raft, None, Duration::from_secs(5)).await;
    let leader = &nodes[(leader_id - 1) as usize];
    leader
        .raft
        .wait(Some(Duration::from_secs(10)))
        .metrics(
            |metrics| metrics.purged.is_some_and(|purged| purged.index > 20),
            "the leader purged the log behind a snapshot",
        )
        .await
        .unwrap();
    // Its journal before the log it keeps is retired to the archive, and
    // the whole chain still checks out.
    let archived = std::fs::read_dir(leader.dir.path().join(journal::ARCHIVE_DIR_NAME))
        .map(|entries| entries.count())
        .unwrap_or(0);
    assert!(archived > 0, "the leader retired no segment");
    let leader_report = journal::verify(leader.dir.path()).unwrap();
    assert!(leader_report.is_ok(), "{leader_report:?}");
    assert_eq!(leader_report.first_seq, 1);

    // Healed, it gets the snapshot, then the log after it, and applies
    // the same ledger; its journal starts at the snapshot and checks out.
    router.faults.lock().unwrap().cut.remove(&behind_id);
    let behind = &nodes[(behind_id - 1) as usize];
    behind
        .raft
        .wait(Some(Duration::from_secs(10)))
        .metrics(
            |metrics| metrics.snapshot.is_some(),
            "the follower installed a snapshot",
        )
        .await
        .unwrap();
    let written = written.max(write_batches_in(&router, leader_id, &mut proposer, 5).await);
    wait_applied(&nodes.iter().collect::<Vec<_>>(), written).await;
    for node in &nodes {
        let progress = *node.progress.lock().unwrap();
        assert_eq!(progress.last_seq, proposer.next_seq - 1, "node {}", node.id);
        assert_eq!(progress.digest, proposer.ledger.digest(), "node {}", node.id);
        assert_eq!(progress.chain_hash, proposer.last_hash, "node {}", node.id);
    }
    let report = journal::verify(behind.dir.path()).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.last_seq, proposer.next_seq - 1);
    assert!(
        report.first_seq > 1,
        "the follower's journal starts after the snapshot: {report:?}"
    );
    let snapshots = engine::snapshot::list(behind.dir.path()).unwrap();
    assert!(
        !snapshots.is_empty(),
        "the installed snapshot is kept as the node's own"
    );

    // Restarted on its data directory, it rebuilds the same ledger from the
    // snapshot and its re-based journal.
    let behind = nodes.remove((behind_id - 1) as usize);
    router.nodes.lock().unwrap().remove(&behind_id);
    behind.raft.shutdown().await.unwrap();
    let (id, dir) = (behind.id, behind.dir);
    drop(behind.raft);
    let restarted = start_node_with(id, dir, &router, snapshotting_config()).await;
    // (The caught-up follower may have been leading: wait for another.)
    let leader_id = leader_seen_by(&nodes[0].raft, Some(behind_id), Duration::from_secs(10)).await;
    let written = write_batches_in(&router, leader_id, &mut proposer, 3).await;
    restarted
        .raft
        .wait(Some(Duration::from_secs(10)))
        .applied_index_at_least(Some(written), "the restarted follower catches up")
        .await
        .unwrap();
    let progress = *restarted.progress.lock().unwrap();
    assert_eq!(progress.digest, proposer.ledger.digest());
    assert_eq!(progress.chain_hash, proposer.last_hash);
    for node in nodes.iter().chain([&restarted]) {
        node.raft.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_refuses_an_append_that_skips_entries_and_its_log_is_unchanged() {
    use openraft::async_runtime::WatchReceiver;
    use replication::network::{Gap, Refused, Rpc, answer};

    let router = Router::default();
    let (nodes, leader_id) = start_group(&router).await;
    let mut proposer = Proposer::new(7);
    let written = write_batches(&nodes[(leader_id - 1) as usize].raft, &mut proposer, 3).await;
    wait_applied(&nodes.iter().collect::<Vec<_>>(), written).await;
    let follower = nodes.iter().find(|node| node.id != leader_id).unwrap();
    let before = follower.raft.metrics().borrow_watched().clone();
    let last = before.last_log_index.unwrap();

    // The leader's own vote and log, but the next entry is two past the end.
    let (batch, _) = proposer.batch(1);
    let request: AppendEntriesRequest<TypeConfig> = AppendEntriesRequest {
        vote: before.vote,
        prev_log_id: Some(log_id(before.vote.leader_id.term, leader_id, last)),
        leader_commit: None,
        entries: vec![normal(before.vote.leader_id.term, last + 3, batch)],
    };
    let mut body = Vec::new();
    ciborium::into_writer(&request, &mut body).unwrap();
    let refused = answer(&follower.raft, Rpc::Append, &body).await;
    let Err(Refused::Gap(gap)) = refused else {
        panic!("a gapped append was taken: {:?}", refused.map(|_| ()));
    };
    assert_eq!(
        gap,
        Gap {
            expected: last + 1,
            first: last + 3
        }
    );
    let after = follower.raft.metrics().borrow_watched().clone();
    assert_eq!(after.last_log_index, Some(last), "the follower's log changed");
    assert_eq!(after.last_applied, before.last_applied);
    for node in &nodes {
        node.raft.shutdown().await.unwrap();
    }
}
