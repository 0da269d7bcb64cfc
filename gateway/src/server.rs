//! Start-up and shutdown of `croupier serve`.
//!
//! Start: load or make the operator's RSA key and the TLS certificate, bind
//! the transports (so a port in use fails fast), recover the ledger from
//! the data directory, start the sequencer with the journal sink (wrapped
//! by the [`ProjectingSink`]), create the first operator on an empty ledger
//! (its token written to a 0600 file first), serve.
//! Stop: every transport stops accepting and lets its in-flight requests
//! finish (bounded by [`ServeConfig::drain_timeout`]), then the sequencer is
//! shut down (it applies and flushes what it holds), then we return.
//!
//! The transports are siblings that hand the same [`axum::Router`] their
//! requests: [`crate::tcp`] (HTTP/1.1 and HTTP/2, cleartext or TLS) and
//! [`crate::quic`] (HTTP/3).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use engine::durable::{SnapshotPolicy, recover};
use engine::sequencer::{Sequencer, SequencerConfig};
use engine::snapshotter::{Snapshotter, SnapshotterConfig};
use journal::JournalConfig;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use utoipa::OpenApi;

use crate::admission::Admission;
use crate::app::{self, AppState, Clock, Shared};
pub use crate::bootstrap::{SYSTEM_SOURCE, ServeError};
use crate::bootstrap::{first_operator, io, ship_jurisdiction_profiles};
use crate::config::ServeConfig;
use crate::metrics::Metrics;
use crate::projection::ProjectingSink;
use crate::quic::QuicTransport;
use crate::tcp::{TcpTransport, Timeouts};
use crate::tls::Identity;
use edge::submit::Engine;
use edge::tokens;
use edge::view::{SharedView, View};
use readmodel::ReadModel;

/// How long a stop waits for the read model to apply what it was fed and
/// close its file.
const READ_MODEL_CLOSE_LIMIT: Duration = Duration::from_secs(10);

/// A running server.
pub struct Running {
    addr: SocketAddr,
    quic_addr: Option<SocketAddr>,
    cert_path: Option<PathBuf>,
    first_token_path: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
    /// Resolves if the group's member fails on its own (Raft's fatal error).
    fatal: Option<oneshot::Receiver<String>>,
}

impl Running {
    /// The bound TCP address (the port is real even if 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound UDP address of HTTP/3, if QUIC is on.
    pub fn quic_addr(&self) -> Option<SocketAddr> {
        self.quic_addr
    }

    /// The certificate served over TLS and QUIC, if either is on.
    pub fn cert_path(&self) -> Option<&std::path::Path> {
        self.cert_path.as_deref()
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
    /// A member whose Raft fails stops too, with that error.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> Result<(), ServeError> {
        let fatal = self.fatal.take();
        let failed = async move {
            match fatal {
                Some(fatal) => match fatal.await {
                    Ok(why) => why,
                    // The supervisor ended without a failure: only a stop does that.
                    Err(_) => std::future::pending().await,
                },
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = signal => self.stop().await,
            result = &mut self.task => flatten(result),
            why = failed => {
                let stopped = self.stop().await;
                tracing::error!(%why, ?stopped, "stopped: this member's Raft failed");
                Err(ServeError::Cluster(format!("raft failed: {why}")))
            }
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
    // A malformed export URL stops the start before anything runs.
    if let Some(url) = &config.export_postgres_url {
        export::parse_url(url)?;
    }
    std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
    // Before recovery: a bad certificate or a port in use stops the start
    // before anything runs (and before a recovery that may take seconds).
    // Connections that arrive meanwhile wait in the listeners' queues.
    let identity = load_identity(&config).await?;
    let metrics = Arc::new(Metrics::new()?);
    let transports = Transports::bind(&config, identity.as_ref(), &metrics).await?;
    let rsa_key_path = config.rsa_key_path();
    let rsa_signer = tokio::task::spawn_blocking(move || crate::rsa_signature::load_or_generate(&rsa_key_path))
        .await
        .map_err(|error| ServeError::Sequencer(format!("RSA key task failed: {error}")))??;
    let core = match &config.cluster {
        Some(cluster) => start_member(&config, cluster, &ledger, &clock, &metrics).await?,
        None => start_single(&config, &ledger, &clock, &metrics).await?,
    };
    let Core {
        engine,
        view,
        readmodel,
        durable,
        vault,
        stopper,
        cluster,
        first_token_path,
        fatal,
    } = core;
    let (addr, quic_addr) = (transports.tcp_addr, transports.quic_addr);
    let projection = readmodel.clone();
    // The PostgreSQL export follows the read model, never the sequencer.
    let exporter = match &config.export_postgres_url {
        Some(url) => Some(export::start(
            &export::Settings {
                url: url.clone(),
                records_per_tx: config.export_batch_records,
            },
            config.data_dir.clone(),
            readmodel.clone(),
        )?),
        None => None,
    };
    let mut modules = axum::http::Extensions::new();
    // For `/metrics` and `/openapi.json` (`crate::ops`).
    modules.insert(metrics.clone());
    let openapi = edge::error::to_json(&crate::openapi::ApiDoc::openapi());
    modules.insert(crate::ops::OpenApiJson(openapi.into()));
    let directory = pam::directory::ProfileDirectory::new(Arc::clone(&vault));
    modules.insert(edge::directory::Directory(Arc::new(directory)));
    modules.insert(edge::secrets::Sealer(vault.clone()));
    modules.insert(vault);
    if let Some(provider) = config.api().kyc_provider {
        let client = pam::kyc::sumsub::SumsubClient::new(provider)
            .map_err(|e| io("the KYC provider client")(std::io::Error::other(e.to_string())))?;
        modules.insert(pam::kyc::routes::ProviderHandle(Arc::new(client)));
    }
    if let Some(registry) = exclusion_registry(&config)? {
        modules.insert(registry);
    }
    backoffice::install(
        &mut modules,
        backoffice::Settings {
            // Over cleartext TCP a Secure cookie would never come back.
            secure_cookies: config.tls,
            ..backoffice::Settings::default()
        },
    );
    modules.insert(helpdesk::Settings {
        zendesk_webhook_secret: config.zendesk_webhook_secret.clone(),
        zendesk_api: zendesk_api(&config),
    });
    analytics::install(&mut modules);
    modules.insert(risk::holds::Settings {
        hold_withdrawals_on_case: config.risk_hold_withdrawals_on_case,
    });
    modules.insert(notification_providers(&config)?);
    if let Some(settings) = free_rounds(&config)? {
        modules.insert(settings);
    }
    // The Pragmatic Play contract asks the CRM about free rounds it granted.
    modules.insert(edge::free_rounds::AwardsHook(Arc::new(crm::free_round_wins::Awards)));
    let cashier = cashier(&config)?;
    if let Some(cashier) = &cashier {
        modules.insert(cashier.clone());
    }
    if let Some(cluster) = cluster {
        modules.insert(cluster);
    }
    let export_worker = exporter.map(|(exporter, worker)| {
        modules.insert(exporter);
        worker
    });
    let state = AppState(Arc::new(Shared {
        modules,
        engine,
        view,
        readmodel,
        durable,
        config: config.api(),
        ledger_config: ledger,
        rsa_signer: Arc::new(rsa_signer),
        clock,
        ready: true.into(),
        wallet_calls: Default::default(),
    }));
    // The cashier's worker submits like a handler: it stops with the
    // transports, before the sequencer.
    let cashier_worker = cashier.map(|cashier| payments::worker::spawn(state.clone(), cashier));
    // So does the bonus triggers' worker.
    let bonus_worker = crm::triggers::spawn(state.clone());
    // And the campaigns' (launches, triggers, the delivery outbox).
    let campaign_worker = crm::outreach::spawn(state.clone());
    // And the helpdesk sync's, where Zendesk's API is configured.
    let helpdesk_worker = match zendesk_api(&config) {
        Some(api) => {
            let api = helpdesk::zendesk_api::ZendeskApi::new(&api)
                .map_err(|e| io("the Zendesk API client")(std::io::Error::other(e)))?;
            Some(helpdesk::outbound::spawn(state.clone(), api))
        }
        None => None,
    };
    // And the free rounds' (the create and cancel calls owed).
    let free_rounds_worker = crm::free_rounds::spawn(state.clone());
    // And the loyalty worker (tier reviews, cashback, the shipped
    // promotion rules where profiles are shipped).
    let shipped_rules = if config.ship_jurisdiction_profiles {
        pam::jurisdictions::shipped_promotion_rules()
    } else {
        Vec::new()
    };
    // Submitted before the first request is served, as the profiles are,
    // so what a client sees first already holds them (the worker retries
    // what this could not submit).
    // (Its read waits at most `VIEW_WAIT_MAX` for the read model to catch
    // up, which a loaded machine can exceed at start: a few tries.)
    for attempt in 1..=5 {
        match crm::rewards::ship_rules(&state, &shipped_rules).await {
            Ok(_) => break,
            Err(error) if attempt == 5 => {
                tracing::warn!(%error, "submitting the shipped promotion rules failed; the loyalty worker retries");
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
    let loyalty_worker = crm::rewards::spawn(state.clone(), shipped_rules);
    // Open AML cases without their withdrawal hold (opened before holds
    // were the ledger's) get it once the read model has caught up.
    let hold_sweep = risk::holds::spawn_sweep(state.clone());
    // Profiles' plain country and birth year owed since an upgrade or a
    // rebuild of the read model are filled from the vault once.
    let attributes_backfill = pam::directory::spawn_backfill(state.clone());
    // The export waits for exported players' countries, which only the
    // vault can read: it asks for them (weakly: the state holds the
    // exporter).
    if let Some(exporter) = state.modules.get::<export::Exporter>() {
        let weak = Arc::downgrade(&state.0);
        exporter.fill_countries_with(Arc::new(move || {
            let weak = weak.clone();
            Box::pin(async move {
                let Some(state) = weak.upgrade().map(AppState) else {
                    return;
                };
                if let Some(directory) = state.directory()
                    && let Err(error) = directory.fill_attributes(&state).await
                {
                    tracing::debug!(?error, "filling the countries the export waits for failed");
                }
            })
        }));
    }
    // The problem-gambling marker scan and the churn model's retraining.
    let analytics_worker = analytics::spawn(state.clone());
    // The RTP test's evaluation, recording alerts raised and cleared.
    let rtp_alerts_worker = games::alerts::spawn(state.clone());
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(async move {
        transports.serve(state, metrics, stopped).await;
        if let Some(worker) = cashier_worker {
            worker.abort();
            let _ = worker.await;
        }
        bonus_worker.abort();
        let _ = bonus_worker.await;
        campaign_worker.abort();
        let _ = campaign_worker.await;
        if let Some(worker) = helpdesk_worker {
            worker.abort();
            let _ = worker.await;
        }
        free_rounds_worker.abort();
        let _ = free_rounds_worker.await;
        loyalty_worker.abort();
        let _ = loyalty_worker.await;
        hold_sweep.abort();
        let _ = hold_sweep.await;
        attributes_backfill.abort();
        let _ = attributes_backfill.await;
        // What it had not committed is rolled back by PostgreSQL; the next
        // start resumes from the checkpoint it did commit.
        if let Some(worker) = export_worker {
            worker.abort();
            let _ = worker.await;
        }
        analytics_worker.abort();
        let _ = analytics_worker.await;
        rtp_alerts_worker.abort();
        let _ = rtp_alerts_worker.await;
        stopper.stop(projection).await
    });
    Ok(Running {
        addr,
        quic_addr,
        cert_path: identity.map(|identity| identity.cert_path().to_path_buf()),
        first_token_path,
        stop: Some(stop),
        task,
        fatal,
    })
}

/// What the two ways of running (a single node, a group's member) hand
/// the rest of the start.
struct Core {
    engine: Engine,
    view: SharedView,
    readmodel: ReadModel,
    durable: engine::durable::DurableSeq,
    vault: Arc<pam::Vault>,
    /// A group's member: resolves if its Raft fails.
    fatal: Option<oneshot::Receiver<String>>,
    stopper: Stopper,
    cluster: Option<crate::cluster::ClusterHandle>,
    /// Where the first operator's token is (on a group's member: once it
    /// led first).
    first_token_path: PathBuf,
}

/// What stops the core once the transports have drained.
enum Stopper {
    /// The sequencer and the snapshotter of a single node.
    Single {
        sequencer: Sequencer<ProjectingSink<engine::durable::JournalSink>>,
        snapshotter: Snapshotter,
    },
    /// A group's member: its supervisor (and the sequencer if it leads), Raft.
    Member(crate::cluster::Supervisor),
}

impl Stopper {
    /// Stops the sequencer (it applies and flushes what it holds), lets the
    /// read model finish, then the snapshotter.
    async fn stop(self, projection: ReadModel) -> Result<(), ServeError> {
        match self {
            Stopper::Single { sequencer, snapshotter } => {
                let halted = tokio::task::spawn_blocking(move || sequencer.shutdown())
                    .await
                    .map_err(|error| ServeError::Sequencer(format!("shutdown task failed: {error}")))?;
                halted.map_err(|error| ServeError::Sequencer(error.to_string()))?;
                tracing::info!("sequencer stopped, journal flushed");
                close_read_model(&projection).await;
                let status = snapshotter.status();
                // Waits for a snapshot in progress (it only reads the journal).
                tokio::task::spawn_blocking(move || snapshotter.stop())
                    .await
                    .map_err(|error| ServeError::Sequencer(format!("snapshotter stop failed: {error}")))?;
                if let Some(error) = status.last_error {
                    tracing::warn!(%error, "the last snapshot attempt failed");
                }
            }
            Stopper::Member(supervisor) => {
                supervisor.stop().await;
                tracing::info!("left the replication group: sequencer and Raft stopped");
                close_read_model(&projection).await;
            }
        }
        Ok(())
    }
}

/// The sink held the read model's feed, now dropped: the projection
/// applies what is left, syncs its file and ends.
async fn close_read_model(projection: &ReadModel) {
    if !projection.finished(READ_MODEL_CLOSE_LIMIT).await {
        tracing::warn!("the read model did not close in time; a restart of the machine will rebuild it");
    }
}

/// A single node: recovery from the journal, the snapshotter, the read
/// models, the sequencer with the journal sink, the first operator.
async fn start_single(
    config: &ServeConfig,
    ledger: &engine::Config,
    clock: &Clock,
    metrics: &Arc<Metrics>,
) -> Result<Core, ServeError> {
    let dir = config.data_dir.clone();
    let ledger = ledger.clone();
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
        torn_tail_bytes = report.torn_tail_bytes(),
        elapsed_ms = report.elapsed.as_millis() as u64,
        "ledger recovered"
    );
    if let Some(torn) = &report.torn_tail {
        // Never acknowledged (the write did not complete), but bytes were
        // removed from the journal: the operator should know what and where.
        tracing::warn!(
            segment = %torn.segment.display(),
            offset_bytes = torn.offset_bytes,
            len_bytes = torn.len_bytes,
            quarantined_to = %torn.quarantined_to.as_deref().map_or_else(|| "-".into(), |path| path.display().to_string()),
            "journal: truncated a torn last write (never completed, never acknowledged); its bytes were copied to the quarantine file first"
        );
    }
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
    // Read models follow the durable journal on their own thread; they
    // catch up there, so a long rebuild never delays the start.
    let durable = recovered.sink.durable_seq();
    let (readmodel, feed) = {
        let (dir, ledger, durable) = (dir.clone(), ledger.clone(), durable.clone());
        tokio::task::spawn_blocking(move || ReadModel::start(&dir, ledger, durable))
            .await
            .map_err(|error| ServeError::Sequencer(format!("read-model task failed: {error}")))??
    };
    let vault = open_vault(config, Some(&recovered.ledger)).await?;
    let mut recovered = recovered;
    recovered.sink.set_tap(Box::new(feed));
    let view = SharedView::new(View::of(&recovered.ledger));
    let sink = ProjectingSink::new(recovered.sink, view.clone(), ledger.clone(), metrics.clone());
    let sequencer_clock = clock.clone();
    let sequencer_config = SequencerConfig {
        ring_capacity: config.ring_capacity,
        batch_len_max: config.batch_len_max,
        idle_spin: Duration::from_micros(config.sequencer_spin_us),
    };
    let sequencer = Sequencer::start(recovered.ledger, sink, move || sequencer_clock(), sequencer_config)
        .map_err(io("starting the sequencer"))?;
    let engine = Engine::new(sequencer.handle(), config.retry_after_s);
    let first_token_path = first_operator(&engine, &view, &dir).await?;
    if config.ship_jurisdiction_profiles {
        ship_jurisdiction_profiles(&engine, &view, clock()).await?;
    }
    Ok(Core {
        engine,
        view,
        readmodel,
        durable,
        vault,
        fatal: None,
        stopper: Stopper::Single { sequencer, snapshotter },
        cluster: None,
        first_token_path,
    })
}

/// A member of a replication group: the node (its journal is the Raft log,
/// its ledger the state machine), the read models following what it
/// applies, and the supervisor that runs a sequencer while it leads.
async fn start_member(
    config: &ServeConfig,
    cluster: &crate::config::ClusterConfig,
    ledger: &engine::Config,
    clock: &Clock,
    metrics: &Arc<Metrics>,
) -> Result<Core, ServeError> {
    // No sweep of the vault's keys on a member: a key the leader stored
    // here ahead of its registration's commit looks like an orphan
    // (`cluster::keys`); erasures destroy keys as they are applied.
    let vault = open_vault(config, None).await?;
    let started = crate::cluster::start(config, cluster, ledger, Arc::clone(&vault)).await?;
    let engine = Engine::gated(started.gate.clone(), config.retry_after_s);
    let mut supervisor = crate::cluster::Supervisor::spawn(
        started.raft_server,
        crate::cluster::Supervision {
            handle: started.handle.clone(),
            gate: started.gate,
            engine: engine.clone(),
            view: started.view.clone(),
            clock: clock.clone(),
            sequencer: SequencerConfig {
                ring_capacity: config.ring_capacity,
                batch_len_max: config.batch_len_max,
                idle_spin: Duration::from_micros(config.sequencer_spin_us),
            },
            metrics: metrics.clone(),
            data_dir: config.data_dir.clone(),
            ship_jurisdiction_profiles: config.ship_jurisdiction_profiles,
        },
    );
    let fatal = supervisor.take_fatal();
    Ok(Core {
        engine,
        view: started.view,
        readmodel: started.readmodel,
        durable: started.durable,
        vault,
        fatal,
        stopper: Stopper::Member(supervisor),
        cluster: Some(started.handle),
        first_token_path: config.data_dir.join(tokens::FIRST_TOKEN_FILE),
    })
}

/// Where and as whom the helpdesk sync calls Zendesk (`resolve` checked
/// that the settings are complete).
fn zendesk_api(config: &ServeConfig) -> Option<helpdesk::zendesk_api::ZendeskApiConfig> {
    match (
        &config.zendesk_api_url,
        &config.zendesk_email,
        &config.zendesk_api_token,
    ) {
        (Some(url), Some(email), Some(token)) => Some(helpdesk::zendesk_api::ZendeskApiConfig {
            base_url: url.clone(),
            email: email.clone(),
            api_token: token.clone(),
        }),
        _ => None,
    }
}

/// The campaign channels' providers configured (`resolve` checked that
/// their settings are complete).
fn notification_providers(config: &ServeConfig) -> Result<crm::notify::Providers, ServeError> {
    use crm::notify::fcm::{Fcm, FcmConfig};
    use crm::notify::twilio::{Sender, Twilio, TwilioConfig};
    use crm::notify::{SendGrid, SendGridConfig};
    let mut providers: Vec<Arc<dyn crm::notify::NotificationProvider>> = Vec::new();
    if let (Some(url), Some(api_key), Some(from)) = (
        &config.sendgrid_api_url,
        &config.sendgrid_api_key,
        &config.campaign_from_email,
    ) {
        let client = SendGrid::new(SendGridConfig {
            base_url: url.trim_end_matches('/').to_owned(),
            api_key: api_key.clone(),
            from: from.clone(),
            timeout: Duration::from_millis(config.cashier_provider_timeout_ms),
        })
        .map_err(|e| io("the email provider client")(std::io::Error::other(e.to_string())))?;
        providers.push(Arc::new(client));
    }
    if let (Some(url), Some(account_sid), Some(auth_token), Some(from)) = (
        &config.twilio_api_url,
        &config.twilio_account_sid,
        &config.twilio_auth_token,
        &config.campaign_sms_from,
    ) {
        let client = Twilio::new(TwilioConfig {
            base_url: url.trim_end_matches('/').to_owned(),
            account_sid: account_sid.clone(),
            auth_token: auth_token.clone(),
            sender: Sender::parse(from),
            timeout: Duration::from_millis(config.cashier_provider_timeout_ms),
        })
        .map_err(|e| io("the SMS provider client")(std::io::Error::other(e.to_string())))?;
        providers.push(Arc::new(client));
    }
    if let (Some(url), Some(project_id), Some(access_token)) =
        (&config.fcm_api_url, &config.fcm_project_id, &config.fcm_access_token)
    {
        let client = Fcm::new(FcmConfig {
            base_url: url.trim_end_matches('/').to_owned(),
            project_id: project_id.clone(),
            access_token: access_token.clone(),
            timeout: Duration::from_millis(config.cashier_provider_timeout_ms),
        })
        .map_err(|e| io("the push provider client")(std::io::Error::other(e.to_string())))?;
        providers.push(Arc::new(client));
    }
    Ok(crm::notify::Providers(providers))
}

/// The free-rounds API's settings, if Pragmatic Play's FRB API is
/// configured (`resolve` checked that its settings are given).
fn free_rounds(config: &ServeConfig) -> Result<Option<crm::free_rounds::Settings>, ServeError> {
    let (Some(url), Some(login), Some(key), Some(aggregator)) = (
        &config.pragmatic_frb_api_url,
        &config.pragmatic_frb_secure_login,
        &config.pragmatic_frb_secret_key,
        config.pragmatic_frb_aggregator,
    ) else {
        return Ok(None);
    };
    let failed = |e: String| io("the free rounds API client")(std::io::Error::other(e));
    let secret_key = engine::HashKey::new(key).map_err(|e| failed(e.to_string()))?;
    let client = crm::frb::FrbClient::new(crm::frb::FrbConfig {
        base_url: url.trim_end_matches('/').to_owned(),
        secure_login: login.clone(),
        secret_key,
        timeout: Duration::from_millis(config.cashier_provider_timeout_ms),
    })
    .map_err(|e| failed(e.to_string()))?;
    Ok(Some(crm::free_rounds::Settings {
        aggregator: engine::SourceId(aggregator),
        client: Arc::new(client),
    }))
}

/// The cashier with its payment providers' clients, if any is configured
/// (`resolve` checked that their secrets are given), the default first.
fn cashier(config: &ServeConfig) -> Result<Option<payments::Cashier>, ServeError> {
    use payments::providers::nowpayments::{NowPaymentsClient, NowPaymentsConfig};
    use payments::providers::stripe::{StripeClient, StripeConfig};
    let failed =
        |e: payments::providers::ProviderError| io("the payment provider client")(std::io::Error::other(e.to_string()));
    let timeout = Duration::from_millis(config.cashier_provider_timeout_ms);
    let mut providers: Vec<Arc<dyn payments::PaymentProvider>> = Vec::new();
    if let (Some(url), Some(secret_key), Some(webhook_secret)) = (
        &config.stripe_api_url,
        &config.stripe_secret_key,
        &config.stripe_webhook_secret,
    ) {
        let client = StripeClient::new(StripeConfig {
            base_url: url.trim_end_matches('/').to_owned(),
            secret_key: secret_key.clone(),
            webhook_secret: webhook_secret.clone(),
            timeout,
        })
        .map_err(failed)?;
        providers.push(Arc::new(client));
    }
    if let (Some(url), Some(api_key), Some(ipn_secret)) = (
        &config.nowpayments_api_url,
        &config.nowpayments_api_key,
        &config.nowpayments_ipn_secret,
    ) {
        let client = NowPaymentsClient::new(NowPaymentsConfig {
            base_url: url.trim_end_matches('/').to_owned(),
            api_key: api_key.clone(),
            ipn_secret: ipn_secret.clone(),
            email: config.nowpayments_email.clone().unwrap_or_default(),
            password: config.nowpayments_password.clone().unwrap_or_default(),
            ipn_callback_url: config.nowpayments_ipn_callback_url.clone(),
            timeout,
        })
        .map_err(failed)?;
        providers.push(Arc::new(client));
    }
    if providers.is_empty() {
        return Ok(None);
    }
    if let Some(default) = &config.cashier_default_provider
        && let Some(at) = providers.iter().position(|p| p.name() == default)
    {
        providers.swap(0, at);
    }
    Ok(Some(payments::Cashier {
        providers,
        four_eyes_above: config.cashier_four_eyes_above.clone(),
        deposit_ttl: Duration::from_secs(config.cashier_deposit_ttl_s),
        tick: Duration::from_millis(config.cashier_tick_ms),
        retry_base: Duration::from_millis(config.cashier_retry_base_ms),
        retry_max: Duration::from_millis(config.cashier_retry_max_ms.max(config.cashier_retry_base_ms)),
        status_every: Duration::from_millis(config.cashier_status_every_ms),
    }))
}

/// The self-exclusion register's client and policy, if one is configured
/// (`resolve` checked the jurisdictions' form and that a key is given).
fn exclusion_registry(config: &ServeConfig) -> Result<Option<pam::exclusion::RegistryHandle>, ServeError> {
    use pam::exclusion::gamstop::{GamstopClient, GamstopConfig};
    let (Some(url), Some(api_key)) = (
        &config.self_exclusion_registry_url,
        &config.self_exclusion_registry_api_key,
    ) else {
        return Ok(None);
    };
    let client = GamstopClient::new(GamstopConfig {
        url: url.clone(),
        batch_url: config.self_exclusion_registry_batch_url.clone(),
        api_key: api_key.clone(),
    })
    .map_err(|e| io("the self-exclusion register client")(std::io::Error::other(e.to_string())))?;
    let jurisdictions = |list: &[String]| -> Vec<engine::Jurisdiction> {
        list.iter().filter_map(|j| engine::Jurisdiction::new(j).ok()).collect()
    };
    Ok(Some(pam::exclusion::RegistryHandle {
        registry: Arc::new(client),
        policy: pam::exclusion::RegistryPolicy {
            jurisdictions: jurisdictions(&config.self_exclusion_registry_jurisdictions),
            fail_open: jurisdictions(&config.self_exclusion_registry_fail_open),
        },
    }))
}

/// Opens the PAM key vault and destroys the data keys no live profile
/// names: those of players erased just before a crash, and of
/// registrations that never landed. Before any request, so no registration
/// is in flight.
async fn open_vault(config: &ServeConfig, ledger: Option<&engine::Ledger>) -> Result<Arc<pam::Vault>, ServeError> {
    let (dir, file, live) = (
        config.data_dir.clone(),
        config.pam_master_key_file.clone(),
        ledger.map(|ledger| ledger.profile_keys()),
    );
    let vault = tokio::task::spawn_blocking(move || {
        let vault = pam::Vault::open(&dir, file.as_deref())?;
        if let Some(live) = live {
            let destroyed = vault.sweep(&live)?;
            if destroyed > 0 {
                tracing::info!(destroyed, "PAM: destroyed data keys no live profile names");
            }
        }
        Ok::<_, pam::VaultError>(vault)
    })
    .await
    .map_err(|error| ServeError::Sequencer(format!("PAM vault task failed: {error}")))?
    .map_err(ServeError::Vault)?;
    Ok(Arc::new(vault))
}

/// The certificate, if a transport needs one: the configured files, or the
/// data directory's pair (generated on the first start).
async fn load_identity(config: &ServeConfig) -> Result<Option<Identity>, ServeError> {
    if !config.needs_certificate() {
        return Ok(None);
    }
    let source = config.tls_source();
    // Key generation and file syncs block: keep them off the async workers.
    let identity = tokio::task::spawn_blocking(move || Identity::load(&source))
        .await
        .map_err(|error| ServeError::Sequencer(format!("certificate task failed: {error}")))??;
    tracing::info!(
        cert = %identity.cert_path().display(),
        key = %identity.key_path().display(),
        sha256 = %identity.fingerprint_sha256(),
        generated = identity.generated(),
        "TLS certificate"
    );
    Ok(Some(identity))
}

/// The bound listeners, before they serve.
struct Transports {
    tcp: TcpTransport,
    tcp_addr: SocketAddr,
    quic: Option<QuicTransport>,
    quic_addr: Option<SocketAddr>,
}

impl Transports {
    async fn bind(
        config: &ServeConfig,
        identity: Option<&Identity>,
        metrics: &Metrics,
    ) -> Result<Transports, ServeError> {
        let tls = match identity {
            Some(identity) if config.tls => Some(identity.tcp_config()?),
            _ => None,
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(io(format!("binding {}", config.listen)))?;
        let tcp_addr = listener.local_addr().map_err(io("reading the bound address"))?;
        let what = if tls.is_some() {
            "HTTP/1.1 and HTTP/2 over TLS"
        } else {
            "HTTP/1.1 and HTTP/2 (h2c)"
        };
        tracing::info!(addr = %tcp_addr, "serving {what}");
        let drain_timeout = config.drain_timeout();
        let admission = |transport| {
            Admission::new(
                config.max_connections,
                config.max_connections_per_ip,
                Some(metrics.connections(transport)),
            )
        };
        let tcp = TcpTransport {
            listener,
            tls,
            drain_timeout,
            admission: admission("tcp"),
            timeouts: Timeouts {
                header_read: config.header_read_timeout(),
                idle: config.idle_timeout(),
                http2_keep_alive_interval: config.http2_keep_alive_interval(),
                http2_keep_alive_timeout: config.http2_keep_alive_timeout(),
            },
        };
        let (quic, quic_addr) = match identity {
            Some(identity) if config.quic => {
                let mut server_config = identity.quic_config()?;
                server_config.transport_config(Arc::new(quic_transport(config)));
                let endpoint = quinn::Endpoint::server(server_config, config.quic_listen)
                    .map_err(io(format!("binding {}/udp", config.quic_listen)))?;
                let addr = endpoint.local_addr().map_err(io("reading the bound QUIC address"))?;
                tracing::info!(%addr, "serving HTTP/3 (QUIC)");
                (
                    Some(QuicTransport {
                        endpoint,
                        drain_timeout,
                        admission: admission("quic"),
                        header_read_timeout: config.header_read_timeout(),
                        idle_timeout: config.idle_timeout(),
                    }),
                    Some(addr),
                )
            }
            _ => (None, None),
        };
        Ok(Transports {
            tcp,
            tcp_addr,
            quic,
            quic_addr,
        })
    }

    /// Serves until `stopped` fires (or its sender is dropped), then lets
    /// every transport drain.
    async fn serve(self, state: AppState, metrics: Arc<Metrics>, stopped: oneshot::Receiver<()>) {
        let routes = app::routes(state.clone(), metrics);
        let router = app::Envelope::wrap(routes.clone(), &state, None);
        let tcp_router = match self.quic_addr {
            // Tells TCP clients they may switch to HTTP/3.
            Some(addr) => app::Envelope::wrap(routes, &state, app::alt_svc(addr.port())),
            None => router.clone(),
        };
        let (stopping, _) = watch::channel(false);
        let stop_signal = |mut receiver: watch::Receiver<bool>| async move {
            let _ = receiver.wait_for(|stopping| *stopping).await;
        };
        let tcp = self.tcp.serve(tcp_router, stop_signal(stopping.subscribe()));
        let quic = async {
            if let Some(quic) = self.quic {
                quic.serve(router, stop_signal(stopping.subscribe())).await;
            }
        };
        let announce = async {
            let _ = stopped.await;
            state.ready.store(false, Ordering::SeqCst);
            tracing::info!("shutting down: no new connections, draining requests");
            stopping.send_replace(true);
        };
        tokio::join!(tcp, quic, announce);
    }
}

/// QUIC's transport settings: quinn's defaults, with the configured idle
/// timeout (a connection that hears nothing from its peer for this long is
/// gone; the smaller of the two sides' values applies).
fn quic_transport(config: &ServeConfig) -> quinn::TransportConfig {
    let mut transport = quinn::TransportConfig::default();
    // The configuration bounds the timeout far below QUIC's 2^62 ms.
    let idle_ms = u32::try_from(config.idle_timeout_ms).unwrap_or(u32::MAX);
    transport.max_idle_timeout(Some(quinn::IdleTimeout::from(quinn::VarInt::from_u32(idle_ms))));
    transport
}
