//! Ring handoff: one producer thread -> `Sequencer` -> replies, end to end.
//!
//! The sequencer owns the same ledger as the `ledger` bench (1,000,000
//! funded players, idempotency memory warmed to its limit), commits to a
//! counting `MemorySink` and stamps time from `SystemClock`. It is started
//! once and lives across all iterations.
//!
//! The producer (the bench thread) submits pre-generated requests of the
//! realistic mix and keeps at most `window` of them in flight: after every
//! submit it collects the replies that have arrived, oldest first, and when
//! the window is full it waits for the oldest one (spinning up to 50 µs,
//! then parking). The timed region runs from the first submit to the last
//! reply of each chunk, so the throughput is submit-to-reply. Each
//! request's latency (submit to reply seen by the producer) goes into an
//! HDR histogram; p50/p99/p99.9 are printed at the end on lines starting
//! with `sequencer latency`, with how busy both threads were.
//! Target: >= 2,000,000 commands/s.
//!
//! ```text
//! cargo bench -p croupier-benches --bench sequencer
//! ```

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use croupier_benches::{Producer, bench_fixture};
use engine::sequencer::{MemorySink, Sequencer, SequencerConfig, SystemClock};
use engine::{Config, Ledger};

/// Requests generated per untimed chunk.
const CHUNK: u64 = 1 << 20;
/// Most requests in flight per run: one (ping-pong: the unloaded handoff
/// latency), a quarter batch, and four full batches of the default 4,096
/// (still well under the ring's 65,536). With the window full, latency is
/// about window / throughput (Little's law).
const WINDOWS: [usize; 3] = [1, 1_024, 16_384];

/// On-CPU time of a thread of this process, in nanoseconds, from
/// `/proc/self/task/<tid>/schedstat` (`None` where that is unavailable).
fn run_ns(tid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Thread ids of the sequencer thread and of the calling thread.
fn thread_ids() -> Option<(String, String)> {
    let sequencer = std::fs::read_dir("/proc/self/task")
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .find(|tid| {
            std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).is_ok_and(|comm| comm.trim() == "sequencer")
        })?;
    let own = std::fs::read_link("/proc/thread-self")
        .ok()?
        .file_name()?
        .to_string_lossy()
        .into_owned();
    Some((sequencer, own))
}

/// How busy both threads were during the timed regions.
#[derive(Default)]
struct Busy {
    timed_ns: u64,
    sequencer_ns: u64,
    producer_ns: u64,
}

impl Busy {
    fn sample(tids: &Option<(String, String)>) -> Option<(u64, u64)> {
        let (sequencer, own) = tids.as_ref()?;
        Some((run_ns(sequencer)?, run_ns(own)?))
    }

    fn add(&mut self, timed: Duration, before: Option<(u64, u64)>, after: Option<(u64, u64)>) {
        if let (Some(before), Some(after)) = (before, after) {
            self.timed_ns += timed.as_nanos() as u64;
            self.sequencer_ns += after.0 - before.0;
            self.producer_ns += after.1 - before.1;
        }
    }

    fn describe(&self) -> String {
        if self.timed_ns == 0 {
            return "thread CPU time unavailable".into();
        }
        let pct = |ns: u64| 100.0 * ns as f64 / self.timed_ns as f64;
        format!(
            "on CPU during the timed regions: sequencer thread {:.0} %, producer {:.0} %",
            pct(self.sequencer_ns),
            pct(self.producer_ns)
        )
    }
}

fn sequencer(c: &mut Criterion) {
    let mut fixture = bench_fixture();
    let ledger = std::mem::replace(&mut fixture.ledger, Ledger::new(Config::default()));
    let config = SequencerConfig::default();
    let sequencer = Sequencer::start(ledger, MemorySink::counting(), SystemClock, config).expect("start the sequencer");

    let mut group = c.benchmark_group("sequencer");
    group.throughput(Throughput::Elements(1));
    let mut report = Vec::new();
    let tids = thread_ids();
    for window in WINDOWS {
        let mut busy = Busy::default();
        let mut producer = Producer::new(sequencer.handle(), window);
        let handle = sequencer.handle();
        let stats = handle.stats();
        let (batches_before, commands_before) = (
            stats.batches.load(Ordering::Relaxed),
            stats.commands.load(Ordering::Relaxed),
        );
        group.bench_function(BenchmarkId::new("submit_to_reply_window", window), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(CHUNK);
                    left -= n;
                    let requests = fixture.requests(n as usize);
                    let before = Busy::sample(&tids);
                    let start = Instant::now();
                    producer.run(requests);
                    let elapsed = start.elapsed();
                    busy.add(elapsed, before, Busy::sample(&tids));
                    timed += elapsed;
                }
                timed
            });
        });
        let batches = stats.batches.load(Ordering::Relaxed) - batches_before;
        let commands = stats.commands.load(Ordering::Relaxed) - commands_before;
        report.push((window, producer, batches, commands, busy));
    }
    group.finish();

    for (window, producer, batches, commands, busy) in &report {
        let h = &producer.latency;
        if h.is_empty() {
            continue; // filtered out on the command line
        }
        let us = |q: f64| h.value_at_quantile(q) as f64 / 1_000.0;
        println!(
            "sequencer latency window={window}: p50 {:.1} us, p99 {:.1} us, p99.9 {:.1} us, \
             max {:.1} us over {} requests (submit to reply, warm-up included); \
             mean batch {:.0} commands over {batches} batches; ring full (Busy) {} times; {}",
            us(0.50),
            us(0.99),
            us(0.999),
            h.max() as f64 / 1_000.0,
            h.len(),
            *commands as f64 / (*batches).max(1) as f64,
            producer.busy,
            busy.describe(),
        );
    }
    drop(report);
    let (ledger, sink) = sequencer.shutdown().expect("clean shutdown");
    eprintln!(
        "sequencer after the bench: {} commands in {} batches committed; {} requests remembered, \
         {} rounds open, last seq {}",
        sink.committed,
        sink.batches,
        ledger.remembered_len(),
        ledger.open_rounds_len(),
        ledger.last_seq(),
    );
}

criterion_group! {
    name = benches;
    config = croupier_benches::criterion_config(2, 8);
    targets = sequencer
}
criterion_main!(benches);
