//! `croupier-loadtest run`: sets up the fixture, drives the scenario on N
//! connections for the warm-up plus the measured window, checks the money,
//! reports.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use hdrhistogram::Histogram;

use crate::check::{self, Implied};
use crate::client::{Call, Http, Quic, Reply, Wire};
use crate::fixture::{Seat, Setup};
use crate::pace::Pace;
use crate::report::{self, KindFigures, Percentiles, Second, Summary};
use crate::scenario::{Kind, Scenario, Script, Verdict};
use crate::spawn;

/// Options of a run.
#[derive(Args)]
pub struct RunArgs {
    /// The server's base URL (loopback only: this is load, not a probe).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The admin operator token file the server wrote.
    #[arg(long, default_value = "croupier-data/operator-token")]
    token_file: PathBuf,
    /// Start a `croupier serve` of our own on a temporary data directory
    /// and a free loopback port (ignores --url and --token-file).
    #[arg(long)]
    spawn: bool,
    /// The `croupier` binary for --spawn [default: the one next to this program].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// What each connection does.
    #[arg(long, value_enum, default_value = "rounds")]
    scenario: Scenario,
    /// Connections, each with at most one request in flight. A server admits
    /// 256 from one client address unless started with a higher
    /// `--max-connections-per-ip`; `--spawn` starts it with enough.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Players, shared out among the connections, each playing its players
    /// a round at a time in turn (at least one a connection) [default: one
    /// a connection]. Many players make the read model write where a
    /// casino's many concurrent players would.
    #[arg(long)]
    players: Option<usize>,
    /// Open loop: requests per second on a fixed schedule, latency from the
    /// intended send time. Without it: closed loop.
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds played before measuring.
    #[arg(long, default_value_t = 2)]
    warmup_seconds: u64,
    /// HTTP version.
    #[arg(long, value_enum, default_value = "http1")]
    http: Http,
    /// The server's HTTP/3 (QUIC) address, for `--http http3`.
    #[arg(long, default_value = "127.0.0.1:8443")]
    quic_addr: std::net::SocketAddr,
    /// The certificate to trust for HTTP/3 [default: tls/cert.pem beside the token file].
    #[arg(long)]
    ca_cert: Option<PathBuf>,
    /// The same as `--http http2`.
    #[arg(long)]
    http2: bool,
    /// Write `summary.json` and `report.html` into this directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seed of the scenario's choices (the wallet mix).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How long a request may wait for its reply (connecting included).
    /// One not answered in time is a transport failure: sent again with the
    /// same id (the server applies it at most once), at most three times,
    /// then the run stops with an error. So a stalled server never holds a
    /// run up: it ends by itself.
    #[arg(long, default_value_t = 10_000)]
    request_timeout_ms: u64,
}

impl RunArgs {
    fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

/// The latency (ns) a histogram holds without growing. A slower reply still
/// counts: the histogram grows for it.
const LATENCY_MAX_NS: u64 = 60_000_000_000;

/// A latency histogram with `significant` digits, sized up to
/// [`LATENCY_MAX_NS`].
fn latency_histogram(significant: u8) -> Result<Histogram<u64>> {
    let mut histogram = Histogram::new_with_bounds(1, LATENCY_MAX_NS, significant)?;
    histogram.auto(true);
    Ok(histogram)
}

/// What one connection measured.
struct Recorded {
    all: Histogram<u64>,
    kinds: Vec<Histogram<u64>>,
    lag: Histogram<u64>,
    timeline: Vec<Histogram<u64>>,
    implied: Implied,
    transport_retries: u64,
}

impl Recorded {
    /// Made before the run: growing a histogram reallocates and zeroes its
    /// counts, and when every connection's histograms grew at once, at the
    /// start of the measured window, the load generator's own burst of work
    /// showed as a p99 of 20–45 ms in the first measured second
    /// (BENCHMARKS.md, 2026-12-05, tenth stop). So they start sized for
    /// [`LATENCY_MAX_NS`], and the two that take every request have their
    /// pages written now (`reset` writes every count), not on a request's
    /// way.
    fn new() -> Result<Recorded> {
        let mut all = latency_histogram(3)?;
        let mut lag = latency_histogram(3)?;
        all.reset();
        lag.reset();
        Ok(Recorded {
            all,
            kinds: (0..Kind::ALL.len())
                .map(|_| latency_histogram(3))
                .collect::<Result<_, _>>()?,
            lag,
            timeline: Vec::new(),
            implied: Implied::default(),
            transport_retries: 0,
        })
    }

    fn merge(&mut self, other: Recorded) -> Result<()> {
        self.all.add(&other.all)?;
        for (mine, theirs) in self.kinds.iter_mut().zip(&other.kinds) {
            mine.add(theirs)?;
        }
        self.lag.add(&other.lag)?;
        for (second, histogram) in other.timeline.into_iter().enumerate() {
            self.second(second)?.add(&histogram)?;
        }
        self.implied.merge(other.implied);
        self.transport_retries += other.transport_retries;
        Ok(())
    }

    fn second(&mut self, second: usize) -> Result<&mut Histogram<u64>> {
        while self.timeline.len() <= second {
            // Two significant digits: a second's p99 needs no more, and
            // there is one of these per second per connection.
            self.timeline.push(latency_histogram(2)?);
        }
        Ok(&mut self.timeline[second])
    }
}

/// Runs the load and reports; fails on any unexpected reply or a money mismatch.
pub fn run(mut args: RunArgs) -> Result<()> {
    ensure!(args.connections > 0, "--connections must be at least 1");
    ensure!(
        args.players.is_none_or(|players| players >= args.connections),
        "--players must be at least --connections"
    );
    ensure!(args.seconds > 0, "--seconds must be at least 1");
    ensure!(args.request_timeout_ms > 0, "--request-timeout-ms must be at least 1");
    if let Some(rate) = args.rate {
        ensure!(
            rate.is_finite() && rate > 0.0,
            "--rate must be a positive number of requests per second"
        );
    }
    if args.http2 {
        args.http = Http::Http2;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let spawned = if args.spawn {
            Some(spawn::spawn(args.server_bin.as_deref(), args.connections).await?)
        } else {
            None
        };
        if let Some(spawned) = &spawned {
            args.url = spawned.url.clone();
            args.token_file = spawned.token_file.clone();
            args.quic_addr = spawned.quic_addr;
        }
        let url = reqwest::Url::parse(&args.url).with_context(|| format!("--url {}", args.url))?;
        let host = url.host_str().unwrap_or_default();
        let loopback = host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        ensure!(loopback, "--url must be a loopback address, not {url}");
        let admin = std::fs::read_to_string(&args.token_file)
            .with_context(|| format!("reading the operator token from {}", args.token_file.display()))?;
        let quic = if args.http == Http::Http3 {
            ensure!(
                args.quic_addr.ip().is_loopback(),
                "--quic-addr must be a loopback address"
            );
            let cert = match &args.ca_cert {
                Some(cert) => cert.clone(),
                None => args.token_file.with_file_name("tls").join("cert.pem"),
            };
            Some(Quic::new(args.quic_addr, &cert)?)
        } else {
            None
        };
        drive(&args, quic.as_ref(), admin.trim()).await
    })
}

async fn drive(args: &RunArgs, quic: Option<&Quic>, admin: &str) -> Result<()> {
    let setup = Setup::new(&args.url, admin, args.request_timeout())?;
    let (aggregator, credential) = setup.aggregator(args.scenario.scheme()).await?;
    let seats = setup
        .seats(aggregator, args.scenario.seats(args.connections, args.players))
        .await?;
    let players: Vec<u64> = seats.iter().map(|seat| seat.player).collect();
    println!(
        "{} connection(s), scenario {:?}, {}, over {:?}, {} s measured after {} s warm-up",
        args.connections,
        args.scenario,
        args.rate
            .map_or("closed loop".to_string(), |rate| format!("open loop at {rate} req/s")),
        args.http,
        args.seconds,
        args.warmup_seconds
    );
    // Each connection's histograms, made before the clock starts.
    let histograms = (0..args.connections)
        .map(|_| Recorded::new())
        .collect::<Result<Vec<_>>>()?;
    let started_unix_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64;
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup_seconds);
    let until = measure_from + Duration::from_secs(args.seconds);
    let pace = Arc::new(Pace::new(args.rate, start, until, args.connections)?);
    let done = Arc::new(AtomicU64::new(0));
    let progress = progress(args.warmup_seconds + args.seconds, done.clone());
    let mut connections = Vec::with_capacity(args.connections);
    for (n, recorded) in histograms.into_iter().enumerate() {
        let script = Script::new(args.scenario, n, seats_of(&seats, n, args.connections), args.seed);
        let wire = Wire::new(
            args.http,
            &args.url,
            quic,
            admin,
            aggregator,
            credential.clone(),
            args.request_timeout(),
        )
        .await?;
        let (pace, done) = (pace.clone(), done.clone());
        let open = args.rate.is_some();
        connections.push(tokio::spawn(connection(
            script,
            wire,
            pace,
            measure_from,
            open,
            done,
            recorded,
        )));
    }
    let mut recorded = Recorded::new()?;
    let mut failure = None;
    for connection in connections {
        match connection.await? {
            Ok(one) => recorded.merge(one)?,
            Err(error) => failure = failure.or(Some(error)),
        }
    }
    progress.abort();
    if let Some(error) = failure {
        return Err(error.context("the run stopped on an unexpected reply"));
    }
    let wire = Wire::new(
        Http::Http1,
        &args.url,
        None,
        admin,
        aggregator,
        credential,
        args.request_timeout(),
    )
    .await?;
    let consistency = check::check(&wire, &players, &recorded.implied).await?;
    let summary = summarize(args, started_unix_ms, &recorded, consistency);
    report::print(&summary);
    if let Some(dir) = &args.out {
        report::write(dir, &summary)?;
        println!(
            "wrote {} and {}",
            dir.join("summary.json").display(),
            dir.join("report.html").display()
        );
    }
    if let Some(first) = summary.consistency.mismatches.first() {
        bail!(
            "MONEY MISMATCH: {} player(s) differ from the acknowledged replies; player {} holds {} cents, the replies imply {}",
            summary.consistency.mismatches.len(),
            first.player,
            first.server,
            first.implied
        );
    }
    Ok(())
}

/// A live line on a terminal: elapsed seconds and requests answered.
fn progress(seconds: u64, done: Arc<AtomicU64>) -> tokio::task::JoinHandle<()> {
    let bar = indicatif::ProgressBar::new(seconds);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} s  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    tokio::spawn(async move {
        let start = Instant::now();
        loop {
            bar.set_position(start.elapsed().as_secs().min(seconds));
            bar.set_message(format!("{} requests", done.load(Ordering::Relaxed)));
            if start.elapsed().as_secs() >= seconds {
                bar.finish_and_clear();
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}

/// Connection `n`'s players among `seats`: every `connections`-th from the
/// `n`-th; with fewer players than connections (one hot player), the `n`-th
/// modulo their number.
fn seats_of(seats: &[Seat], n: usize, connections: usize) -> Vec<Seat> {
    if seats.len() < connections {
        return seats.get(n % seats.len().max(1)).cloned().into_iter().collect();
    }
    seats.iter().skip(n).step_by(connections).cloned().collect()
}

/// One connection: takes slots until the run ends.
async fn connection(
    mut script: Script,
    wire: Wire,
    pace: Arc<Pace>,
    measure_from: Instant,
    open: bool,
    done: Arc<AtomicU64>,
    mut recorded: Recorded,
) -> Result<Recorded> {
    while let Some(slot) = pace.next().await {
        let step = script.next();
        let (kind, player, delta) = (step.kind, step.player, step.delta);
        let sent = Instant::now();
        let reply = send_retrying(&wire, &step.call, &mut recorded.transport_retries).await?;
        let answered = Instant::now();
        if script.settle(step, reply)? == Verdict::Accepted && kind.moves_money() {
            recorded.implied.add(player, delta);
        }
        done.fetch_add(1, Ordering::Relaxed);
        if slot.intended < measure_from {
            continue;
        }
        let latency = (answered - slot.intended).as_nanos() as u64;
        recorded.all.record(latency)?;
        recorded.kinds[kind.index()].record(latency)?;
        if open {
            recorded
                .lag
                .record((sent.saturating_duration_since(slot.intended)).as_nanos() as u64)?;
        }
        let second = (slot.intended - measure_from).as_secs() as usize;
        recorded.second(second)?.record(latency)?;
    }
    Ok(recorded)
}

/// Sends `call`; after a transport failure, sends it again (the same id, so
/// the server applies it at most once) up to three times.
async fn send_retrying(wire: &Wire, call: &Call, retries: &mut u64) -> Result<Reply> {
    let mut attempt = 0;
    loop {
        match wire.send(call).await {
            Ok(reply) => return Ok(reply),
            Err(error) if attempt < 3 => {
                attempt += 1;
                *retries += 1;
                eprintln!("transport failure, sending again ({attempt}/3): {error:#}");
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
            }
            Err(error) => return Err(error),
        }
    }
}

fn summarize(args: &RunArgs, started_unix_ms: u64, recorded: &Recorded, consistency: check::Consistency) -> Summary {
    let kinds = Kind::ALL
        .iter()
        .zip(&recorded.kinds)
        .filter(|(_, histogram)| !histogram.is_empty())
        .map(|(kind, histogram)| {
            let name = serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("{kind:?}"));
            (
                name,
                KindFigures {
                    requests: histogram.len(),
                    latency_us: Percentiles::of(histogram),
                },
            )
        })
        .collect();
    let timeline = recorded
        .timeline
        .iter()
        .enumerate()
        .take(args.seconds as usize)
        .map(|(second, histogram)| Second {
            second: second as u64,
            requests: histogram.len(),
            p99_us: histogram.value_at_quantile(0.99) as f64 / 1_000.0,
        })
        .collect();
    Summary {
        scenario: args.scenario,
        http: args.http,
        connections: args.connections,
        rate: args.rate,
        seconds: args.seconds,
        started_unix_ms,
        server: args.url.clone(),
        requests: recorded.all.len(),
        per_second: recorded.all.len() as f64 / args.seconds as f64,
        latency_us: Percentiles::of(&recorded.all),
        kinds,
        send_lag_us: args.rate.map(|_| Percentiles::of(&recorded.lag)),
        transport_retries: recorded.transport_retries,
        curve: report::curve(&recorded.all),
        timeline,
        consistency,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seats(count: u64) -> Vec<Seat> {
        (1..=count)
            .map(|player| Seat {
                player,
                token: String::new(),
            })
            .collect()
    }

    fn players(seats: Vec<Seat>) -> Vec<u64> {
        seats.into_iter().map(|seat| seat.player).collect()
    }

    #[test]
    fn players_are_shared_out_among_the_connections() {
        let ten = seats(10);
        assert_eq!(players(seats_of(&ten, 0, 4)), [1, 5, 9]);
        assert_eq!(players(seats_of(&ten, 3, 4)), [4, 8]);
        // One a connection, and one hot player for all.
        assert_eq!(players(seats_of(&seats(4), 2, 4)), [3]);
        assert_eq!(players(seats_of(&seats(1), 2, 4)), [1]);
        assert!(seats_of(&[], 2, 4).is_empty());
    }
}
