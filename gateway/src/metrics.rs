//! Prometheus metrics: one registry per server (no globals, so tests can run
//! several servers in one process), a middleware that counts and times every
//! request by route and status, and the sequencer's figures, read at scrape
//! time (ring depth, commands, batches, how its waits for requests ended)
//! or recorded by the commit sink (batch size, flush latency), and the
//! transports' connections (open, turned away by which limit).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use engine::sequencer::SequencerHandle;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::admission::ConnectionMetrics;

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    ring_depth: IntGauge,
    commands: IntCounter,
    answered: IntCounter,
    batches: IntCounter,
    sequencer_waits_spun: IntCounter,
    sequencer_waits_parked: IntCounter,
    /// Commands per committed batch.
    pub batch_len: Histogram,
    /// Time to make a batch durable.
    pub flush_seconds: Histogram,
    connections_open: IntGaugeVec,
    connections_refused: IntCounterVec,
    durable_seq: IntGauge,
    readmodel_seq: IntGauge,
    readmodel_commits: IntCounter,
    readmodel_commits_hurried: IntCounter,
}

const LATENCY_BUCKETS_S: [f64; 14] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
const BATCH_BUCKETS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 64.0, 256.0, 1024.0, 2048.0, 4096.0];

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("croupier".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route, method and status"),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency by route")
                .buckets(LATENCY_BUCKETS_S.to_vec()),
            &["route"],
        )?;
        let ring_depth = IntGauge::new("ring_depth", "Requests waiting in the sequencer's ring")?;
        let commands = IntCounter::new("commands_applied_total", "Commands applied and committed")?;
        let durable_seq = IntGauge::new("journal_durable_seq", "The last durable sequence number")?;
        let readmodel_seq = IntGauge::new(
            "readmodel_applied_seq",
            "The last sequence number the read models hold (lag: journal_durable_seq minus this)",
        )?;
        let readmodel_commits = IntCounter::new(
            "readmodel_commits_total",
            "SQLite transactions the read-model projection committed",
        )?;
        let readmodel_commits_hurried = IntCounter::new(
            "readmodel_commits_hurried_total",
            "Of readmodel_commits_total, those a reader waiting for newer records cut short",
        )?;
        let answered = IntCounter::new(
            "requests_answered_total",
            "Queries and retries answered without a journal record",
        )?;
        let batches = IntCounter::new("batches_committed_total", "Batches committed")?;
        let sequencer_waits = IntCounterVec::new(
            Opts::new(
                "sequencer_waits_total",
                "Times the sequencer found its ring empty, by how the wait ended: a request arrived while it spun (spun), or it slept until one did (parked)",
            ),
            &["ended"],
        )?;
        let sequencer_waits_spun = sequencer_waits.with_label_values(&["spun"]);
        let sequencer_waits_parked = sequencer_waits.with_label_values(&["parked"]);
        let batch_len = Histogram::with_opts(
            HistogramOpts::new("batch_len", "Commands per committed batch").buckets(BATCH_BUCKETS.to_vec()),
        )?;
        let flush_seconds = Histogram::with_opts(
            HistogramOpts::new("flush_duration_seconds", "Time to make one batch durable")
                .buckets(LATENCY_BUCKETS_S.to_vec()),
        )?;
        let connections_open = IntGaugeVec::new(
            Opts::new("connections_open", "Connections open now, by transport"),
            &["transport"],
        )?;
        let connections_refused = IntCounterVec::new(
            Opts::new(
                "connections_refused_total",
                "Connections closed at once, by transport and limit (max_connections: full, max_connections_per_ip: per_ip)",
            ),
            &["transport", "reason"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(connections_open.clone()))?;
        registry.register(Box::new(connections_refused.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(ring_depth.clone()))?;
        registry.register(Box::new(commands.clone()))?;
        registry.register(Box::new(answered.clone()))?;
        registry.register(Box::new(batches.clone()))?;
        registry.register(Box::new(sequencer_waits))?;
        registry.register(Box::new(batch_len.clone()))?;
        registry.register(Box::new(flush_seconds.clone()))?;
        registry.register(Box::new(durable_seq.clone()))?;
        registry.register(Box::new(readmodel_seq.clone()))?;
        registry.register(Box::new(readmodel_commits.clone()))?;
        registry.register(Box::new(readmodel_commits_hurried.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            ring_depth,
            commands,
            answered,
            batches,
            sequencer_waits_spun,
            sequencer_waits_parked,
            batch_len,
            flush_seconds,
            connections_open,
            connections_refused,
            durable_seq,
            readmodel_seq,
            readmodel_commits,
            readmodel_commits_hurried,
        })
    }

    /// The connection metrics of `transport` (`tcp`, `quic`).
    pub fn connections(&self, transport: &str) -> ConnectionMetrics {
        ConnectionMetrics {
            open: self.connections_open.with_label_values(&[transport]),
            refused_full: self.connections_refused.with_label_values(&[transport, "full"]),
            refused_per_ip: self.connections_refused.with_label_values(&[transport, "per_ip"]),
        }
    }

    /// The Prometheus text exposition, with the sequencer's counters read now.
    pub fn render(
        &self,
        sequencer: Option<&SequencerHandle>,
        durable_seq: u64,
        readmodel_seq: u64,
        readmodel_commits: readmodel::Commits,
    ) -> String {
        self.durable_seq.set(durable_seq as i64);
        self.readmodel_seq.set(readmodel_seq as i64);
        catch_up(&self.readmodel_commits, readmodel_commits.total);
        catch_up(&self.readmodel_commits_hurried, readmodel_commits.hurried);
        // A follower of a replication group runs no sequencer; its counters
        // stay where its last term as leader left them.
        if let Some(sequencer) = sequencer {
            self.ring_depth.set(sequencer.ring_depth() as i64);
            let stats = sequencer.stats();
            catch_up(&self.commands, stats.commands.load(Ordering::Relaxed));
            catch_up(&self.answered, stats.answered.load(Ordering::Relaxed));
            catch_up(&self.batches, stats.batches.load(Ordering::Relaxed));
            catch_up(&self.sequencer_waits_spun, stats.waits_spun.load(Ordering::Relaxed));
            catch_up(&self.sequencer_waits_parked, stats.waits_parked.load(Ordering::Relaxed));
        }
        let mut text = Vec::new();
        // Encoding into a Vec fails only on invalid metric data, which the
        // registration above rules out.
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut text) {
            tracing::error!(%error, "encoding metrics");
        }
        String::from_utf8_lossy(&text).into_owned()
    }
}

/// Moves a counter up to an absolute value read from elsewhere.
fn catch_up(counter: &IntCounter, total: u64) {
    let current = counter.get();
    if total > current {
        counter.inc_by(total - current);
    }
}

/// Middleware: counts and times each request under its route template.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    // Cheap clones (a shared string, a known method): nothing allocated a request.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics
        .latency
        .with_label_values(&[route])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .with_label_values(&[route, method.as_str(), response.status().as_str()])
        .inc();
    response
}
