//! Start-up and shutdown of `croupier serve`, and the TCP transport.
//!
//! Start: recover the ledger from the data directory, start the sequencer
//! with the journal sink (wrapped by the [`ProjectingSink`]), create the
//! first operator on an empty ledger (its token written to a 0600 file
//! first), bind, serve. Stop: stop accepting, let in-flight requests finish,
//! shut the sequencer down (it applies and flushes what it holds), return.
//!
//! The TCP transport serves HTTP/1.1 and HTTP/2 (h2c with prior knowledge)
//! on one port through axum's server (hyper-util's auto builder). A TLS or
//! QUIC transport would be a sibling of [`serve_tcp`] taking the same
//! [`axum::Router`].

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use engine::durable::{RecoveryError, SnapshotPolicy, recover};
use engine::sequencer::{Sequencer, SequencerConfig};
use engine::snapshotter::{Snapshotter, SnapshotterConfig};
use engine::{Command, ExtId, Name, OperatorId, Outcome, Request, Role, SourceId};
use journal::JournalConfig;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::{self, AppState, Clock, Shared};
use crate::config::ServeConfig;
use crate::metrics::Metrics;
use crate::projection::{ProjectingSink, SharedView, View};
use crate::rsa_signature::RsaSigner;
use crate::submit::Engine;
use crate::tokens;

/// The source of the server's own requests (the first operator).
pub const SYSTEM_SOURCE: SourceId = SourceId(0);

/// Why the server could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// An I/O step failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The journal could not be recovered.
    #[error("recovering the ledger: {0}")]
    Recovery(#[from] RecoveryError),
    /// The metrics registry could not be built.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// No randomness for tokens.
    #[error("random token: {0}")]
    Random(String),
    /// The first operator could not be created.
    #[error("creating the first operator: {0}")]
    Bootstrap(String),
    /// The sequencer stopped with an error.
    #[error("sequencer: {0}")]
    Sequencer(String),
    /// The operator's RSA signing key could not be read or made.
    #[error("the operator's RSA key: {0}")]
    RsaKey(#[from] crate::rsa_signature::KeyError),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServeError {
    let what = what.into();
    move |source| ServeError::Io { what, source }
}

/// A running server.
pub struct Running {
    addr: SocketAddr,
    first_token_path: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl Running {
    /// The bound TCP address (the port is real even if 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the first operator token was written.
    pub fn first_token_path(&self) -> &std::path::Path {
        &self.first_token_path
    }

    /// Stops gracefully and waits until the sequencer has flushed.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        join(self.task).await
    }

    /// Runs until `signal` completes (then stops gracefully) or the server fails.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> Result<(), ServeError> {
        tokio::select! {
            () = signal => self.stop().await,
            result = &mut self.task => flatten(result),
        }
    }
}

async fn join(task: JoinHandle<Result<(), ServeError>>) -> Result<(), ServeError> {
    flatten(task.await)
}

fn flatten(result: Result<Result<(), ServeError>, tokio::task::JoinError>) -> Result<(), ServeError> {
    result.map_err(|error| ServeError::Sequencer(format!("server task failed: {error}")))?
}

/// Starts a server with the system clock and the default ledger limits.
pub async fn start(config: ServeConfig) -> Result<Running, ServeError> {
    start_with(config, engine::Config::default(), app::system_clock()).await
}

/// Starts a server.
pub async fn start_with(config: ServeConfig, ledger: engine::Config, clock: Clock) -> Result<Running, ServeError> {
    let dir = config.data_dir.clone();
    std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
    let rsa_key_path = config.rsa_key_path();
    let rsa_signer = tokio::task::spawn_blocking(move || RsaSigner::load_or_generate(&rsa_key_path))
        .await
        .map_err(|error| ServeError::Sequencer(format!("RSA key task failed: {error}")))??;
    let journal_config = JournalConfig {
        segment_size_bytes: config.journal_segment_bytes,
        ..JournalConfig::default()
    };
    let recovered = {
        let (dir, ledger) = (dir.clone(), ledger.clone());
        tokio::task::spawn_blocking(move || recover(&dir, ledger, journal_config))
            .await
            .map_err(|error| ServeError::Sequencer(format!("recovery task failed: {error}")))??
    };
    let report = &recovered.report;
    tracing::info!(
        dir = %dir.display(),
        commands = report.commands,
        last_seq = report.last_seq,
        torn_tail_bytes = report.torn_tail_bytes,
        elapsed_ms = report.elapsed.as_millis() as u64,
        "ledger recovered"
    );
    if let Some(snapshot) = &report.snapshot {
        tracing::info!(seq = snapshot.seq, path = %snapshot.path.display(), "started from snapshot");
    }
    for skipped in &report.skipped_snapshots {
        tracing::warn!(%skipped, "snapshot not used");
    }
    // Snapshots are rebuilt from disk on their own thread: the sequencer
    // never waits for them.
    let snapshotter = Snapshotter::spawn(
        dir.clone(),
        ledger.clone(),
        recovered.sink.durable_seq(),
        SnapshotterConfig {
            every_commands: config.snapshot_every_commands,
            policy: SnapshotPolicy {
                retire: config.snapshot_retire.retirement(),
                ..SnapshotPolicy::default()
            },
            ..SnapshotterConfig::default()
        },
    )
    .map_err(io("starting the snapshotter"))?;
    let view = SharedView::new(View::of(&recovered.ledger));
    let metrics = Arc::new(Metrics::new()?);
    let sink = ProjectingSink::new(recovered.sink, view.clone(), ledger.clone(), metrics.clone());
    let sequencer_clock = clock.clone();
    let sequencer_config = SequencerConfig {
        ring_capacity: config.ring_capacity,
        batch_len_max: config.batch_len_max,
    };
    let sequencer = Sequencer::start(recovered.ledger, sink, move || sequencer_clock(), sequencer_config)
        .map_err(io("starting the sequencer"))?;
    let engine = Engine::new(sequencer.handle(), config.retry_after_s);
    let first_token_path = first_operator(&engine, &view, &dir).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(io(format!("binding {}", config.listen)))?;
    let addr = listener.local_addr().map_err(io("reading the bound address"))?;
    let state = AppState(Arc::new(Shared {
        engine,
        view,
        config,
        ledger_config: ledger,
        metrics,
        rsa_signer: Arc::new(rsa_signer),
        clock,
        ready: true.into(),
    }));
    tracing::info!(%addr, "serving HTTP/1.1 and HTTP/2 (h2c)");
    let (stop, stopped) = oneshot::channel();
    let router = app::router(state.clone());
    let task = tokio::spawn(async move {
        let served = serve_tcp(listener, router, async move {
            let _ = stopped.await;
            state.ready.store(false, Ordering::SeqCst);
            tracing::info!("shutting down: no new connections, draining requests");
        })
        .await;
        let halted = tokio::task::spawn_blocking(move || sequencer.shutdown())
            .await
            .map_err(|error| ServeError::Sequencer(format!("shutdown task failed: {error}")))?;
        halted.map_err(|error| ServeError::Sequencer(error.to_string()))?;
        tracing::info!("sequencer stopped, journal flushed");
        let status = snapshotter.status();
        // Waits for a snapshot in progress (it only reads the journal).
        tokio::task::spawn_blocking(move || snapshotter.stop())
            .await
            .map_err(|error| ServeError::Sequencer(format!("snapshotter stop failed: {error}")))?;
        if let Some(error) = status.last_error {
            tracing::warn!(%error, "the last snapshot attempt failed");
        }
        served
    });
    Ok(Running {
        addr,
        first_token_path,
        stop: Some(stop),
        task,
    })
}

/// Serves `router` over TCP, HTTP/1.1 and HTTP/2, until `shutdown`
/// completes and every connection has finished its requests.
pub async fn serve_tcp(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(io("serving TCP"))
}

/// Creates the first operator (admin) of an empty ledger; returns the path
/// of its token file either way.
async fn first_operator(engine: &Engine, view: &SharedView, dir: &std::path::Path) -> Result<PathBuf, ServeError> {
    let path = dir.join(tokens::FIRST_TOKEN_FILE);
    if view.read().access.operators_len() > 0 {
        tracing::info!(path = %path.display(), "operators exist; the first operator token was written to this file");
        return Ok(path);
    }
    let token = tokens::new_token(tokens::OPERATOR_PREFIX).map_err(|e| ServeError::Random(e.to_string()))?;
    let path = tokens::write_first_token(dir, &token).map_err(io(format!("writing {}", path.display())))?;
    let bootstrap = |e: &dyn std::fmt::Display| ServeError::Bootstrap(e.to_string());
    let request = Request {
        source: SYSTEM_SOURCE,
        id: ExtId::new("first-operator").map_err(|e| bootstrap(&e))?,
        command: Command::CreateOperator {
            token: tokens::digest(&token),
            role: Role::Admin,
            name: Name::new("admin").map_err(|e| bootstrap(&e))?,
            operator: OperatorId::SYSTEM,
        },
    };
    let reply = engine.run(request).await.map_err(|e| bootstrap(&e.message))?;
    match reply.outcome {
        Outcome::OperatorCreated { operator, .. } => {
            tracing::info!(path = %path.display(), %operator, "first operator (admin) created; its token is in this file (mode 0600)");
            Ok(path)
        }
        other => Err(ServeError::Bootstrap(format!("{other:?}"))),
    }
}
