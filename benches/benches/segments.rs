//! Segment evaluation over a million players (issue 14, "segment
//! evaluation over 1M players" in BENCHMARKS.md): the read model's
//! `campaigns::members`, the whole of what `GET /operator/v1/segments/{code}/members`
//! does once the profiles' plain attributes are filled (the gateway adds
//! only that fill, a no-op when no profile changed since the last one).
//!
//! The read model is built once per run, in a temporary directory, with
//! the server's own schema (`readmodel::store::open_as` runs every
//! migration) and bulk SQL inserts in one transaction
//! (`croupier_benches::segments::build`): `SEGMENT_PLAYERS` players
//! (1,000,000 by default), each with a profile's country and birth year,
//! ~60 % with 1–4 deposits over the last year, ~50 % with 1–8 rounds over
//! the last 90 days, 5 % with a VIP tier, all drawn from a hash of the
//! player id so every run builds the same file. The build time and the
//! rows are printed before the timings (`one-off build`), and each
//! segment's member count with its first evaluation.
//!
//! Each iteration evaluates one segment and takes its count and first page
//! of 100 ids, as the route does:
//!
//! * `country_age`: country GB or DE, and age 25–40;
//! * `deposits_ggr`: deposits of at least 50.00 EUR over 30 days, and GGR
//!   of at least 10.00 EUR over 30 days;
//! * `mixed_and_or`: country GB, MT or SE and active in the last 60 days,
//!   and any of: deposits of 100.00 EUR over 90 days, VIP tier gold or
//!   platinum, age 18–25.
//!
//! Run: `cargo bench -p croupier-benches --bench segments`.

use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use croupier_benches::segments::{build, count_and_page, segments};

fn evaluate(c: &mut Criterion) {
    let players = std::env::var("SEGMENT_PLAYERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let built = build(dir.path(), players);
    eprintln!(
        "one-off build: {players} players, {} movements in {:.1} s",
        built.movements,
        built.took.as_secs_f64()
    );
    let mut group = c.benchmark_group("segments");
    for segment in segments() {
        let started = Instant::now();
        let (count, _) = count_and_page(&built.connection, &segment);
        eprintln!(
            "{}: {count} members of {players} (first evaluation {:.0} ms)",
            segment.code,
            started.elapsed().as_secs_f64() * 1e3
        );
        group.bench_function(segment.code.as_str(), |b| {
            b.iter(|| std::hint::black_box(count_and_page(&built.connection, &segment)));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = croupier_benches::criterion_config(2, 20);
    targets = evaluate
}
criterion_main!(benches);
