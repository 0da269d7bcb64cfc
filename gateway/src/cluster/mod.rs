//! `croupier serve` as a member of a replication group (`[cluster]`).
//!
//! The node's journal is the Raft log (`croupier-replication`); its ledger
//! is the state machine, applying what a majority committed, on every node.
//! While this node leads it runs the sequencer over a copy of that ledger
//! taken when it took office, with [`ReplicatedSink`]: each batch is encoded
//! once, committed through Raft (a majority has it durably) and applied
//! before the sequencer replies, so the reply path is the single node's.
//! While it follows, the [`LeaderGate`] turns writes away (503 + the
//! leader's API URL); reads from the read models are served, with their
//! `as_of_seq`. What the state machine applies feeds the read models, the
//! read copy of access state and the durable (committed) sequence number on
//! every node ([`Follower`]).
//!
//! The supervisor watches the node's role: on taking office it waits for
//! every committed entry to be applied and for its lease, starts a
//! sequencer and opens the gate; on losing office it closes the gate first,
//! then stops the sequencer (batches in flight fail: 503, retry with the same
//! id at the leader) and drops its speculative ledger: the state machine's,
//! which only ever applied committed batches, is the truth.

pub mod keys;
pub mod routes;
pub mod transport;

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use edge::submit::{Engine, LeaderGate, Leadership};
use edge::view::{SharedView, View};
use engine::durable::{DurableSeq, Tap};
use engine::record;
use engine::sequencer::{CommitError, CommitSink, Committed, Sequencer, SequencerConfig};
use journal::{BatchHash, JournalConfig};
use replication::ApplyObserver;
use replication::node::{Node, NodeSettings, Role};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bootstrap::ServeError;
use crate::config::{ClusterConfig, ServeConfig};
use crate::metrics::Metrics;
use edge::state::Clock;

/// How often the supervisor looks at the node's role.
const SUPERVISE_EVERY: Duration = Duration::from_millis(20);
/// Longest a new leader waits for its lease and the committed entries.
const TAKE_OFFICE_WITHIN: Duration = Duration::from_secs(5);

/// What the cluster's routes and the metrics reach: the node and the config.
#[derive(Clone)]
pub struct ClusterHandle {
    /// The Raft node.
    pub node: Node,
    /// The group's configuration.
    pub config: Arc<ClusterConfig>,
    /// The bound raft address.
    pub raft_addr: SocketAddr,
}

impl ClusterHandle {
    /// The API URL of member `id`: as the group's membership records it
    /// (members added at run time included), else as the configuration does.
    pub fn api_url(&self, id: u64) -> Option<String> {
        self.node
            .member_address(id)
            .and_then(|address| address.api_url)
            .or_else(|| self.config.api_url(id).map(str::to_owned))
    }
}

/// Tells the read models, the access view and the durable sequence number
/// of every batch the group committed and this node applied.
struct Follower {
    feed: Box<dyn Tap>,
    view: SharedView,
    durable: DurableSeq,
    config: engine::Config,
    keys: keys::KeyTracker,
}

impl ApplyObserver for Follower {
    fn applying(&mut self, ledger: &engine::Ledger, committed: &Committed) {
        self.keys.applying(ledger, committed);
    }

    fn applied(&mut self, first_seq: u64, bytes: &[u8], ranges: &[Range<usize>], committed: &[Committed]) {
        // An erased player's key goes before anything reports the erasure.
        self.keys.applied();
        self.feed.durable(first_seq, bytes, ranges);
        if committed
            .iter()
            .any(|c| crate::projection::changes_view(&c.envelope.request.command))
        {
            let mut view = self.view.write();
            for c in committed {
                view.follow(&self.config, &c.envelope, &c.outcome);
            }
        }
        self.durable.advance(first_seq + committed.len() as u64 - 1);
    }

    fn installed(&mut self, ledger: &engine::Ledger) {
        // The access view is rebuilt from the snapshot's ledger; the read
        // models find the gap before the next batch and seed themselves
        // from the snapshot file the state machine kept.
        *self.view.write() = View::of(ledger);
        self.keys.installed(ledger);
        self.durable.advance(ledger.last_seq());
    }
}

/// The leader's sink: each batch committed through the group.
struct ReplicatedSink {
    node: Node,
    /// Set when a commit failed: the sequencer has stopped (fail-stop),
    /// and the supervisor must start a new one from the state machine's
    /// ledger while the node still leads, or no write would ever be taken.
    failed: Arc<AtomicBool>,
    /// The term this node took office in: batches are proposed only in it.
    term: u64,
    runtime: tokio::runtime::Handle,
    prev_hash: BatchHash,
    commit_timeout: Duration,
    metrics: Arc<Metrics>,
    encoded: Vec<u8>,
    ranges: Vec<Range<usize>>,
}

impl CommitSink for ReplicatedSink {
    fn commit(&mut self, batch: &[Committed]) -> Result<(), CommitError> {
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            return Ok(());
        };
        let (first_seq, last_seq) = (first.envelope.seq, last.envelope.seq);
        let fail = |message: String| CommitError {
            first_seq,
            last_seq,
            message,
        };
        let started = Instant::now();
        self.encoded.clear();
        self.ranges.clear();
        for committed in batch {
            self.ranges.push(record::encode_into(committed, &mut self.encoded));
        }
        let records: Vec<&[u8]> = self.ranges.iter().map(|range| &self.encoded[range.clone()]).collect();
        let bytes = journal::format::encode_batch(first_seq, self.prev_hash, &records);
        let hash = bytes
            .first_chunk()
            .map(BatchHash::of_header)
            .ok_or_else(|| fail("the encoded batch has no header".into()))?;
        let applied = self
            .runtime
            .block_on(self.node.write(bytes, self.term, self.commit_timeout))
            .map_err(|error| {
                self.failed.store(true, Ordering::SeqCst);
                tracing::warn!(first_seq, last_seq, %error, "a batch was not committed: its requests are in doubt");
                fail(error.to_string())
            })?;
        if applied.first_seq != first_seq || applied.records != batch.len() as u64 {
            self.failed.store(true, Ordering::SeqCst);
            return Err(fail(format!(
                "the group applied {} records from seq {}",
                applied.records, applied.first_seq
            )));
        }
        self.prev_hash = hash;
        self.metrics.flush_seconds.observe(started.elapsed().as_secs_f64());
        self.metrics.batch_len.observe(batch.len() as f64);
        Ok(())
    }
}

/// A started member: what the server wires into its state, and what stops it.
pub struct Started {
    /// The routes' and metrics' handle.
    pub handle: ClusterHandle,
    /// The gate the engine submits through.
    pub gate: Arc<LeaderGate>,
    /// The read copy of access state, following the applied batches.
    pub view: SharedView,
    /// The committed and applied sequence number.
    pub durable: DurableSeq,
    /// The read models, following the applied batches.
    pub readmodel: readmodel::ReadModel,
    /// The raft listener, serving peers.
    pub raft_server: RaftServer,
}

/// The raft listener's task and its stop switch, and the key sync's task.
pub struct RaftServer {
    task: JoinHandle<()>,
    stop: tokio::sync::oneshot::Sender<()>,
    key_sync: JoinHandle<()>,
}

/// Binds the raft listener, checks the PAM master key against the group's,
/// opens the node's log and state machine, starts the read models and
/// Raft, serves peers' RPCs, and makes `vault` share its keys with the group.
pub async fn start(
    config: &ServeConfig,
    cluster: &ClusterConfig,
    ledger_config: &engine::Config,
    vault: Arc<pam::Vault>,
) -> Result<Started, ServeError> {
    let io = |what: String| move |source: std::io::Error| ServeError::Io { what, source };
    let (listener, raft_addr) = transport::bind(cluster.raft_listen)
        .await
        .map_err(io(format!("binding the raft listener {}", cluster.raft_listen)))?;
    tracing::info!(addr = %raft_addr, node = cluster.node_id, cluster = %cluster.name, "raft listener (HTTP/2)");
    let members: Vec<u64> = cluster.peers.iter().map(|peer| peer.id).collect();
    let credentials = transport::Credentials::new(
        cluster.name.clone(),
        cluster.node_id,
        members,
        &cluster.secret,
        vault.key_check(),
    );
    let transport = transport::HttpTransport::new(credentials.clone())
        .map_err(|error| io("the raft client".into())(std::io::Error::other(error)))?;
    // Before anything of the node's is opened: a member with another master
    // key could not open what the group sealed.
    keys::check_master_key(&transport, cluster, &vault).await?;
    let durable = DurableSeq::default();
    let (readmodel, feed) = {
        let (dir, ledger, durable) = (config.data_dir.clone(), ledger_config.clone(), durable.clone());
        tokio::task::spawn_blocking(move || readmodel::ReadModel::start(&dir, ledger, durable))
            .await
            .map_err(|error| ServeError::Sequencer(format!("read-model task failed: {error}")))??
    };
    let settings = NodeSettings {
        id: cluster.node_id,
        cluster_name: cluster.name.clone(),
        members: cluster
            .peers
            .iter()
            .map(|peer| {
                let address = replication::MemberAddress {
                    raft_addr: peer.raft_addr.clone(),
                    api_url: Some(peer.api_url.clone()),
                };
                (peer.id, address.to_text())
            })
            .collect(),
        join: cluster.join,
        snapshot_every_entries: cluster.snapshot_every_entries,
        heartbeat_ms: cluster.heartbeat_ms,
        election_timeout_ms: (cluster.election_timeout_min_ms, cluster.election_timeout_max_ms),
    };
    let journal_config = JournalConfig {
        segment_size_bytes: config.journal_segment_bytes,
        ..JournalConfig::default()
    };
    let mut view = None;
    let mut live = None;
    let installed = Arc::new(tokio::sync::Notify::new());
    let node = Node::start(
        &settings,
        &config.data_dir,
        journal_config,
        ledger_config.clone(),
        transport.clone(),
        |ledger| {
            let shared = SharedView::new(View::of(ledger));
            view = Some(shared.clone());
            let live_keys = Arc::new(keys::LiveKeys::new(Arc::clone(&vault), ledger));
            live = Some(Arc::clone(&live_keys));
            Box::new(Follower {
                feed: Box::new(feed),
                view: shared,
                durable: durable.clone(),
                config: ledger_config.clone(),
                keys: keys::KeyTracker::new(live_keys, Arc::clone(&installed)),
            })
        },
    )
    .await
    .map_err(|error| ServeError::Cluster(error.to_string()))?;
    let (Some(view), Some(live)) = (view, live) else {
        return Err(ServeError::Cluster("the node started without a ledger".into()));
    };
    let group_keys = Arc::new(keys::GroupKeys::new(node.clone(), transport, live, cluster.node_id));
    vault.set_share(group_keys.clone());
    let key_sync = keys::spawn_sync(group_keys, installed);
    let (stop_raft_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let raft_server = tokio::spawn(transport::serve(
        listener,
        node.clone(),
        credentials,
        vault,
        async move {
            let _ = stopped.await;
        },
    ));
    Ok(Started {
        handle: ClusterHandle {
            node,
            config: Arc::new(cluster.clone()),
            raft_addr,
        },
        gate: Arc::new(LeaderGate::default()),
        view,
        durable,
        readmodel,
        raft_server: RaftServer {
            task: raft_server,
            stop: stop_raft_server,
            key_sync,
        },
    })
}

/// What the supervisor needs to run a sequencer while the node leads.
pub struct Supervision {
    /// The node.
    pub handle: ClusterHandle,
    /// The gate to open and close.
    pub gate: Arc<LeaderGate>,
    /// The engine (gated) the bootstrap requests go through.
    pub engine: Engine,
    /// The access view (for the bootstrap).
    pub view: SharedView,
    /// The server's clock.
    pub clock: Clock,
    /// The sequencer's sizes.
    pub sequencer: SequencerConfig,
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// The data directory (the first operator's token is written there).
    pub data_dir: std::path::PathBuf,
    /// Submit the shipped jurisdiction profiles on taking office.
    pub ship_jurisdiction_profiles: bool,
}

/// The running supervisor, and the raft listener, until [`Supervisor::stop`].
pub struct Supervisor {
    stop: watch::Sender<bool>,
    /// Why Raft stopped on its own (taken by the server, which then exits).
    fatal: Option<tokio::sync::oneshot::Receiver<String>>,
    task: JoinHandle<()>,
    raft_server: RaftServer,
    node: Node,
}

impl Supervisor {
    /// Starts supervising the node of `supervision`; stops `raft_server` with it.
    pub fn spawn(raft_server: RaftServer, supervision: Supervision) -> Supervisor {
        let (stop, stopped) = watch::channel(false);
        let (fatal_sender, fatal) = tokio::sync::oneshot::channel();
        let node = supervision.handle.node.clone();
        let task = tokio::spawn(supervise(supervision, stopped, fatal_sender));
        Supervisor {
            stop,
            fatal: Some(fatal),
            task,
            raft_server,
            node,
        }
    }

    /// Resolves with the reason if Raft stops on its own (a fatal storage
    /// error): the member is dead though its process lives, so the server
    /// stops and exits non-zero for a service manager to restart it.
    pub fn take_fatal(&mut self) -> Option<tokio::sync::oneshot::Receiver<String>> {
        self.fatal.take()
    }

    /// Stops leading (the sequencer flushes what it holds through the
    /// group, if it still can), then Raft and the raft listener.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
        if let Err(error) = self.node.shutdown().await {
            tracing::warn!(%error, "raft did not shut down cleanly");
        }
        self.raft_server.key_sync.abort();
        let _ = self.raft_server.stop.send(());
        let _ = self.raft_server.task.await;
    }
}

/// The leader's API URL as this node knows it.
fn leader_url(handle: &ClusterHandle, leader: Option<u64>) -> Option<String> {
    leader.and_then(|id| handle.api_url(id))
}

/// The sequencer this node runs while it leads, and the term it leads in.
struct InOffice {
    term: u64,
    sequencer: Sequencer<ReplicatedSink>,
    /// Its sink failed a commit: the sequencer stopped.
    failed: Arc<AtomicBool>,
}

async fn supervise(
    supervision: Supervision,
    mut stopped: watch::Receiver<bool>,
    fatal: tokio::sync::oneshot::Sender<String>,
) {
    let handle = &supervision.handle;
    let me = handle.config.node_id;
    let mut leading: Option<InOffice> = None;
    let mut fatal = Some(fatal);
    loop {
        if *stopped.borrow() {
            break;
        }
        if let Some(why) = handle.node.fatal() {
            tracing::error!(error = %why, "raft stopped on a fatal error: this member is out of the group until restarted");
            if let Some(fatal) = fatal.take() {
                let _ = fatal.send(why);
            }
            break;
        }
        let status = handle.node.status();
        let leads = status.role == Role::Leader && status.leader == Some(me);
        match leading.take() {
            Some(office) if !leads || status.term != office.term => {
                supervision
                    .gate
                    .set(Leadership::Following(leader_url(handle, status.leader)));
                tracing::warn!(term = office.term, now = status.term, leader = ?status.leader, "no longer the leader: writes are turned away");
                step_down(office.sequencer).await;
                continue;
            }
            Some(office) if office.failed.load(Ordering::SeqCst) => {
                // Still the leader, but its sequencer stopped on a commit
                // that failed (timed out): its speculative ledger holds
                // batches in doubt. Take office again, from the state
                // machine's ledger once the doubtful entry is resolved.
                supervision.gate.set(Leadership::Following(None));
                tracing::warn!(
                    term = office.term,
                    "a commit failed while leading: restarting the sequencer"
                );
                step_down(office.sequencer).await;
                continue;
            }
            Some(kept) => leading = Some(kept),
            None if leads => {
                // Not taking writes until the sequencer runs; and no longer
                // sending clients to the leader this node followed.
                supervision.gate.set(Leadership::Following(None));
                leading = take_office(&supervision).await;
            }
            None => supervision
                .gate
                .set(Leadership::Following(leader_url(handle, status.leader))),
        }
        tokio::select! {
            () = tokio::time::sleep(SUPERVISE_EVERY) => {}
            _ = stopped.changed() => {}
        }
    }
    supervision.gate.set(Leadership::Following(None));
    if let Some(office) = leading {
        step_down(office.sequencer).await;
    }
}

/// Waits for this (leading) node's lease and committed entries, starts a
/// sequencer over a copy of its ledger, opens the gate and submits the
/// bootstrap requests. `None` if it did not get there.
async fn take_office(supervision: &Supervision) -> Option<InOffice> {
    let handle = &supervision.handle;
    let office = match handle.node.take_office(TAKE_OFFICE_WITHIN).await {
        Ok(Some(office)) => office,
        Ok(None) => return None,
        Err(error) => {
            tracing::error!(%error, "could not take office");
            return None;
        }
    };
    let failed = Arc::new(AtomicBool::new(false));
    let sink = ReplicatedSink {
        node: handle.node.clone(),
        failed: failed.clone(),
        term: office.term,
        runtime: tokio::runtime::Handle::current(),
        prev_hash: office.chain_hash,
        commit_timeout: Duration::from_millis(handle.config.commit_timeout_ms),
        metrics: supervision.metrics.clone(),
        encoded: Vec::new(),
        ranges: Vec::new(),
    };
    let clock = supervision.clock.clone();
    let last_seq = office.ledger.last_seq();
    let sequencer = match Sequencer::start(office.ledger, sink, move || clock(), supervision.sequencer) {
        Ok(sequencer) => sequencer,
        Err(error) => {
            tracing::error!(%error, "could not start the sequencer");
            return None;
        }
    };
    supervision.gate.set(Leadership::Leading(sequencer.handle()));
    tracing::info!(
        term = office.term,
        last_seq,
        "took office: this node leads and takes writes"
    );
    let in_office = InOffice {
        term: office.term,
        sequencer,
        failed,
    };
    bootstrap(supervision).await;
    Some(in_office)
}

/// Stops a sequencer: what it holds is committed if the group still takes
/// it, else answered `CommitFailed` (in doubt).
async fn step_down(sequencer: Sequencer<ReplicatedSink>) {
    match tokio::task::spawn_blocking(move || sequencer.shutdown()).await {
        Ok(Ok(_)) => tracing::info!("sequencer stopped"),
        Ok(Err(error)) => {
            tracing::warn!(%error, "sequencer stopped after a failed commit (those requests are in doubt)")
        }
        Err(error) => tracing::error!(%error, "the sequencer's shutdown task failed"),
    }
}

/// What a new leader submits once: the first operator of an empty ledger,
/// the shipped jurisdiction profiles (both idempotent).
async fn bootstrap(supervision: &Supervision) {
    if let Err(error) =
        crate::bootstrap::first_operator(&supervision.engine, &supervision.view, &supervision.data_dir).await
    {
        tracing::error!(%error, "creating the first operator");
    }
    if supervision.ship_jurisdiction_profiles
        && let Err(error) =
            crate::bootstrap::ship_jurisdiction_profiles(&supervision.engine, &supervision.view, (supervision.clock)())
                .await
    {
        tracing::error!(%error, "shipping the jurisdiction profiles");
    }
}
