//! `Ledger::apply` on one thread, no sequencer: the ledger's own ceiling.
//!
//! One ledger with 1,000,000 funded players is built once (and warmed until
//! its idempotency memory is full, see `croupier_benches::bench_fixture`)
//! and lives across all iterations. Each iteration applies freshly generated
//! requests of the realistic mix; generating and stamping them happens
//! outside the timed region, in chunks. Target: >= 5,000,000 commands/s.
//!
//! ```text
//! cargo bench -p croupier-benches --bench ledger
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use croupier_benches::bench_fixture;

/// Envelopes generated per untimed chunk: bounds the memory held by
/// pre-generated requests however many iterations criterion asks for.
const CHUNK: u64 = 1 << 20;

fn apply(c: &mut Criterion) {
    let mut fixture = bench_fixture();
    let mut group = c.benchmark_group("ledger");
    group.throughput(Throughput::Elements(1));
    group.bench_function("apply_1m_players_mix", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(CHUNK);
                left -= n;
                let envelopes = fixture.envelopes(n as usize);
                let ledger = &mut fixture.ledger;
                let start = Instant::now();
                for envelope in &envelopes {
                    black_box(ledger.apply(envelope));
                }
                timed += start.elapsed();
                drop(envelopes);
            }
            timed
        });
    });
    group.finish();
    eprintln!(
        "ledger after the bench: {} requests remembered, {} rounds open, last seq {}",
        fixture.ledger.remembered_len(),
        fixture.ledger.open_rounds_len(),
        fixture.ledger.last_seq(),
    );
}

criterion_group! {
    name = benches;
    config = croupier_benches::criterion_config(2, 8);
    targets = apply
}
criterion_main!(benches);
