//! How fast the history projection follows the journal: writes a journal
//! of workload commands (batches of 20, as a busy sequencer would), then
//! times a read model catching up on it from nothing. Prints microseconds
//! of projection per record (the CPU a projection adds beside the writer).
//!
//! `cargo run --release --example project_rate -p croupier-readmodel [COMMANDS]`

use std::time::{Duration, Instant};

use engine::durable::recover;
use engine::sequencer::{CommitSink, Committed};
use engine::workload::Workload;
use engine::{Config, Currency, Envelope};
use journal::JournalConfig;
use readmodel::ReadModel;

fn main() {
    let commands: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut recovered = recover(dir.path(), Config::default(), JournalConfig::default()).expect("journal");
    let mut workload = Workload::new(1, 1_000, Currency::EUR);
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
    let (view, _feed) = ReadModel::start(dir.path(), Config::default(), recovered.sink.durable_seq()).expect("start");
    while view.applied_seq() < last {
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed();
    println!(
        "{last} records projected in {:.2} s: {:.1} µs per record",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / last as f64
    );
}
