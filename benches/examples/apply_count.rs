//! `Ledger::apply` alone, for instruction counts under callgrind (which are
//! repeatable on a noisy machine where timings are not):
//!
//! ```sh
//! cargo build --release --example apply_count -p croupier-benches
//! valgrind --tool=callgrind --toggle-collect='apply_count::run' target/release/examples/apply_count
//! ```
//!
//! Applies the workload's set-up for 1,000 players, builds 200,000 more
//! envelopes, and applies those inside `run` (the only function measured).
//! Prints the digest, the last sequence number and the native time.
//!
//! With `printed` as its argument it measures what the sequencer thread
//! does instead, in `run_printed`: each request's fingerprints are computed
//! before (as producers do on their own threads, `Ledger::printer`), and
//! the measured loop only admits and applies:
//!
//! ```sh
//! valgrind --tool=callgrind --toggle-collect='apply_count::run_printed' target/release/examples/apply_count printed
//! ```

use engine::workload::Workload;
use engine::{Admission, Config, Currency, Envelope, Ledger, Prints};

const T0: u64 = 1_750_000_000_000;
const COMMANDS: usize = 200_000;

#[inline(never)]
fn run(ledger: &mut Ledger, envelopes: &[Envelope]) {
    for envelope in envelopes {
        std::hint::black_box(ledger.apply(envelope));
    }
}

/// The sequencer's share: admit with the producer's prints, apply if fresh.
#[inline(never)]
fn run_printed(ledger: &mut Ledger, envelopes: &[Envelope], prints: &[Prints]) {
    for (envelope, prints) in envelopes.iter().zip(prints) {
        match ledger.admit_printed(&envelope.request, *prints) {
            Admission::Fresh(fresh) => {
                std::hint::black_box(ledger.apply_fresh(envelope, fresh));
            }
            Admission::Answered(outcome) => {
                std::hint::black_box(outcome);
            }
        }
    }
}

fn main() {
    let printed = std::env::args().nth(1).as_deref() == Some("printed");
    let mut workload = Workload::new(1, 1_000, Currency::EUR);
    let mut ledger = Ledger::new(Config::default());
    let mut seq = 0;
    let mut stamp = |request| {
        seq += 1;
        Envelope {
            seq,
            time_ms: T0 + seq,
            request,
        }
    };
    let setup: Vec<Envelope> = workload.setup().map(&mut stamp).collect();
    for envelope in &setup {
        ledger.apply(envelope);
    }
    let envelopes: Vec<Envelope> = (0..COMMANDS).map(|_| stamp(workload.next_request())).collect();
    let printer = ledger.printer();
    let prints: Vec<Prints> = envelopes.iter().map(|e| printer.prints(&e.request)).collect();
    let started = std::time::Instant::now();
    if printed {
        run_printed(&mut ledger, &envelopes, &prints);
    } else {
        run(&mut ledger, &envelopes);
    }
    let elapsed = started.elapsed();
    println!(
        "digest {:016x} last_seq {} {:.0} ns/cmd",
        ledger.digest(),
        ledger.last_seq(),
        elapsed.as_nanos() as f64 / COMMANDS as f64
    );
}
