//! `Ledger::apply` on one thread, no sequencer: the ledger's own ceiling.
//!
//! One ledger with 1,000,000 funded players is built once (and warmed until
//! its idempotency memory is full, see `croupier_benches::bench_fixture`)
//! and lives across all iterations. Each iteration applies freshly generated
//! requests of the realistic mix; generating and stamping them happens
//! outside the timed region, in chunks. Target: >= 5,000,000 commands/s.
//!
//! `apply_1m_players_mix_profiled` then runs the same mix after giving the
//! players' jurisdiction a profile whose compliance checks all run on the
//! bet and deposit paths (a stake cap, a due-diligence threshold, the
//! play-session rules of a default reality check and an idle end) without
//! refusing anything: the cost of those checks, side by side with the
//! first (issue #12: within 5 %).
//!
//! ```text
//! cargo bench -p croupier-benches --bench ledger
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use croupier_benches::{CURRENCY, Fixture, bench_fixture};
use engine::command::{Command, Request};
use engine::players::{self, CurrencyAmount, JurisdictionProfile, StakeCap};
use engine::{Amount, ExtId, Jurisdiction, OperatorId, Outcome, SourceId};

/// Envelopes generated per untimed chunk: bounds the memory held by
/// pre-generated requests however many iterations criterion asks for.
const CHUNK: u64 = 1 << 20;

fn apply(c: &mut Criterion) {
    let mut fixture = bench_fixture();
    let mut group = c.benchmark_group("ledger");
    group.throughput(Throughput::Elements(1));
    group.bench_function("apply_1m_players_mix", |b| {
        b.iter_custom(|iters| timed_mix(&mut fixture, iters))
    });
    give_the_players_a_profile(&mut fixture);
    group.bench_function("apply_1m_players_mix_profiled", |b| {
        b.iter_custom(|iters| timed_mix(&mut fixture, iters))
    });
    group.finish();
    eprintln!(
        "ledger after the bench: {} requests remembered, {} rounds open, last seq {}",
        fixture.ledger.remembered_len(),
        fixture.ledger.open_rounds_len(),
        fixture.ledger.last_seq(),
    );
}

/// Applies `iters` requests of the mix; only the applying is timed.
fn timed_mix(fixture: &mut Fixture, iters: u64) -> Duration {
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
}

/// A profile for the workload's jurisdiction (MT) whose stake cap and
/// due-diligence threshold are checked on every bet and deposit but are far
/// above anything the mix stakes or deposits, so the outcomes stay the same.
fn give_the_players_a_profile(fixture: &mut Fixture) {
    let far = Amount::from_minor(1 << 50);
    let profile = JurisdictionProfile {
        stake_caps: vec![StakeCap {
            currency: CURRENCY,
            adult: far,
            young_adult: far,
        }],
        due_diligence_thresholds: vec![CurrencyAmount {
            currency: CURRENCY,
            amount: far,
        }],
        // The shipped profiles' play-session rules: every bet computes the
        // default interval and the idle end, and keeps the last activity
        // (the bench's clock never reaches either).
        play_sessions: players::PlaySessionRules {
            reality_check_by_default: true,
            idle_end_min: 30,
        },
        ..JurisdictionProfile::UNRESTRICTED
    };
    let request = Request {
        source: SourceId(1),
        id: ExtId::new("bench-profile").expect("valid id"),
        command: Command::Players(players::Command::SetJurisdictionProfile {
            jurisdiction: Some(Jurisdiction::new("MT").expect("valid code")),
            profile: Box::new(profile),
            effective_from_ms: None,
            operator: OperatorId(1),
        }),
    };
    let outcome = fixture.apply_stamped(request).outcome;
    assert_eq!(outcome, Outcome::Accepted, "the bench's profile was refused");
}

criterion_group! {
    name = benches;
    config = croupier_benches::criterion_config(2, 8);
    targets = apply
}
criterion_main!(benches);
