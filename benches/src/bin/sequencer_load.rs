//! `sequencer-load`: the sequencer in process, without the journal or
//! HTTP. Producers submit the realistic workload mix with a fixed window of
//! requests in flight, and every submit-to-reply latency is recorded in an
//! HDR histogram: the ceiling the server is measured against.
//!
//! ```sh
//! cargo run --release -p croupier-benches --bin sequencer-load -- --players 100000 --requests 1000000
//! ```
//!
//! (It was `croupier-loadtest sequencer` until the load tester stopped
//! linking the engine: it speaks to a server only over the wire.)

use std::collections::VecDeque;
use std::time::Instant;

use anyhow::{Result, bail};
use clap::Parser;
use engine::sequencer::{Completion, MemorySink, Sequencer, SequencerConfig, SystemClock};
use engine::workload::Workload;
use engine::{Config, Currency, Ledger};
use hdrhistogram::Histogram;

/// Options of the in-process run.
#[derive(Parser)]
#[command(
    name = "sequencer-load",
    about = "The sequencer in process, in memory: the engine's ceiling"
)]
struct SequencerArgs {
    /// Players registered and funded before the run.
    #[arg(long, default_value_t = 100_000)]
    players: u64,
    /// Requests per producer.
    #[arg(long, default_value_t = 1_000_000)]
    requests: u64,
    /// Producer threads.
    #[arg(long, default_value_t = 1)]
    producers: u64,
    /// Requests in flight per producer.
    #[arg(long, default_value_t = 1_024)]
    window: usize,
    /// Most requests per batch.
    #[arg(long, default_value_t = 4_096)]
    batch: usize,
    /// Workload seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Runs the in-process load and prints throughput and latency.
fn main() -> Result<()> {
    let args = SequencerArgs::parse();
    if args.players == 0 || args.producers == 0 || args.window == 0 || args.batch == 0 {
        bail!("--players, --producers, --window and --batch must be at least 1");
    }
    let mut ledger = Ledger::new(Config::default());
    let mut workload = Workload::new(args.seed, args.players, Currency::EUR);
    for (seq, request) in (1..).zip(workload.setup()) {
        ledger.apply(&engine::Envelope {
            seq,
            time_ms: 0,
            request,
        });
    }
    let config = SequencerConfig {
        batch_len_max: args.batch,
        ..SequencerConfig::default()
    };
    let sequencer = Sequencer::start(ledger, MemorySink::counting(), SystemClock, config)?;
    let started = Instant::now();
    let producers: Vec<_> = (0..args.producers)
        .map(|n| {
            let handle = sequencer.handle();
            let mut workload = Workload::new(args.seed + 1 + n, args.players, Currency::EUR)
                .with_source(engine::SourceId(100 + n as u32));
            let requests: Vec<_> = (0..args.requests).map(|_| workload.next_request()).collect();
            let window = args.window;
            std::thread::spawn(move || -> Result<Histogram<u64>> {
                let mut latencies = Histogram::<u64>::new(3)?;
                let mut pending: VecDeque<(Instant, Completion)> = VecDeque::with_capacity(window);
                for request in requests {
                    if pending.len() == window {
                        let (sent, completion) = pending.pop_front().expect("window is full");
                        completion.wait()?;
                        latencies.record(sent.elapsed().as_nanos() as u64)?;
                    }
                    let sent = Instant::now();
                    let completion = handle.submit_waiting(request)?;
                    pending.push_back((sent, completion));
                }
                for (sent, completion) in pending {
                    completion.wait()?;
                    latencies.record(sent.elapsed().as_nanos() as u64)?;
                }
                Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Histogram::<u64>::new(3)?;
    for producer in producers {
        let histogram = producer.join().map_err(|_| anyhow::anyhow!("producer panicked"))??;
        latencies.add(histogram)?;
    }
    let elapsed = started.elapsed();
    let (_, sink) = sequencer.shutdown()?;
    let total = args.requests * args.producers;
    println!(
        "requests {total} in {elapsed:.2?}: {:.0}/s; batches {} (mean {:.1} per batch)",
        total as f64 / elapsed.as_secs_f64(),
        sink.batches,
        sink.committed as f64 / sink.batches as f64
    );
    print_latencies("submit-to-reply latency", &latencies);
    Ok(())
}

/// One line: p50, p90, p99, p99.9 and max of a histogram of nanoseconds, in µs.
fn print_latencies(what: &str, latencies: &Histogram<u64>) {
    let us = |nanos: u64| nanos as f64 / 1_000.0;
    println!(
        "{what}: p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs",
        us(latencies.value_at_quantile(0.5)),
        us(latencies.value_at_quantile(0.9)),
        us(latencies.value_at_quantile(0.99)),
        us(latencies.value_at_quantile(0.999)),
        us(latencies.max())
    );
}
