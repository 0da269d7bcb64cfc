//! How fast the history projection follows the journal: writes a journal
//! of workload commands (batches of 20, as a busy sequencer would), then
//! times a read model catching up on it from nothing. Prints microseconds
//! of projection per record, elapsed and on the CPU (the process's CPU time
//! while the main thread sleeps: the projection's, which a shared, noisy
//! machine disturbs less than the elapsed time).
//!
//! `cargo run --release --example project_rate -p croupier-readmodel [COMMANDS] [wallet|rounds]`
//!
//! `wallet` (the default) is the workload's mix of bets, wins, rollbacks,
//! payments and retries; `rounds` is bets and their wins only, as the load
//! tester's `rounds` scenario sends them.

use std::time::{Duration, Instant};

use engine::durable::recover;
use engine::sequencer::{CommitSink, Committed};
use engine::workload::{Mix, Workload};
use engine::{Config, Currency, Envelope};
use journal::JournalConfig;
use readmodel::ReadModel;

fn main() {
    let commands: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut recovered = recover(dir.path(), Config::default(), JournalConfig::default()).expect("journal");
    let mix = match std::env::args().nth(2).as_deref() {
        None | Some("wallet") => Mix::default(),
        Some("rounds") => Mix {
            win_pct: 50,
            rollback_pct: 0,
            payment_pct: 0,
            retry_pct: 0,
        },
        Some(other) => {
            eprintln!("unknown mix {other:?}: wallet or rounds");
            std::process::exit(2);
        }
    };
    let mut workload = Workload::with_mix(1, 1_000, Currency::EUR, mix);
    let mut requests: Vec<_> = workload.setup().collect();
    requests.extend((0..commands).map(|_| workload.next_request()));
    for chunk in requests.chunks(20) {
        let batch: Vec<Committed> = chunk
            .iter()
            .map(|request| {
                let seq = recovered.ledger.last_seq() + 1;
                let envelope = Envelope {
                    seq,
                    time_ms: 1_750_000_000_000 + seq,
                    request: request.clone(),
                };
                let outcome = recovered.ledger.apply(&envelope);
                Committed { envelope, outcome }
            })
            .collect();
        recovered.sink.commit(&batch).expect("commit");
    }
    let last = recovered.ledger.last_seq();
    let started = Instant::now();
    let cpu_before = process_cpu_seconds();
    let (view, _feed) = ReadModel::start(dir.path(), Config::default(), recovered.sink.durable_seq()).expect("start");
    while view.applied_seq() < last {
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed();
    let cpu = process_cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    println!(
        "{last} records projected in {:.2} s: {:.1} µs per record, {} on the CPU",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / last as f64,
        cpu.map_or_else(
            || "unknown".to_owned(),
            |cpu| format!("{:.1} µs", cpu * 1e6 / last as f64)
        )
    );
}

/// The process's user and system time so far (Linux: `/proc/self/stat`,
/// in clock ticks of 10 ms).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command's name, which ends at the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    // utime and stime are fields 14 and 15 of stat(5): counted from the
    // state (field 3) as 0, 11 and 12.
    Some((ticks(11)? + ticks(12)?) / 100.0)
}
