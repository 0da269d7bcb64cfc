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
//! `apply_1m_players_mix_catalogued` then adds the game catalogue: the
//! workload's source becomes an aggregator carrying every game the mix
//! plays, with stake limits and jurisdictions that refuse nothing, so each
//! bet pays the catalogue's lookup and checks (issue #14: within 5 % of
//! the profiled mix).
//!
//! ```text
//! cargo bench -p croupier-benches --bench ledger
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use croupier_benches::{CURRENCY, Fixture, bench_fixture};
use engine::command::{Command, Request};
use engine::games::{BetLimit, Game, GameType, Provider, Volatility};
use engine::players::{self, CurrencyAmount, JurisdictionProfile, StakeCap};
use engine::{
    AggregatorCredential, Amount, ExtId, GameCode, Jurisdiction, Name, OperatorId, Outcome, ProviderCode, Role, Secret,
    SourceId, Title, TokenHash, access, games,
};

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
    give_the_games_a_catalogue(&mut fixture);
    group.bench_function("apply_1m_players_mix_catalogued", |b| {
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

/// The workload's source (1) registered as an aggregator (by the system,
/// before any operator exists), an admin, a provider on it and every game
/// the mix plays, each taking any positive stake in the bench's currency
/// from Malta's players: every bet looks its game up and passes.
fn give_the_games_a_catalogue(fixture: &mut Fixture) {
    let mt = Jurisdiction::new("MT").expect("valid code");
    let provider = ProviderCode::new("bench-studio").expect("valid code");
    let mut commands = vec![
        Command::Access(access::Command::CreateAggregator {
            name: Name::new("bench-aggregator").expect("valid name"),
            credential: AggregatorCredential::Hmac(Secret([7; 32])),
            operator: OperatorId::SYSTEM,
        }),
        Command::Access(access::Command::CreateOperator {
            token: TokenHash([1; 32]),
            role: Role::Admin,
            name: Name::new("bench-admin").expect("valid name"),
            operator: OperatorId::SYSTEM,
        }),
        Command::Games(games::Command::UpsertProvider {
            provider: Provider {
                code: provider.clone(),
                name: Title::new("Bench Studio").expect("valid title"),
                aggregators: vec![SourceId(1)],
            },
            operator: OperatorId(1),
        }),
    ];
    for n in 0..64 {
        let game = Game {
            aggregator: SourceId(1),
            code: GameCode::new(&format!("game-{n}")).expect("valid code"),
            provider: provider.clone(),
            name: Title::new("Bench Game").expect("valid title"),
            kind: GameType::Slot,
            volatility: Volatility::Medium,
            rtp_variants_bp: vec![9_600],
            rtp_default_bp: 9_600,
            rtp_by_jurisdiction: Vec::new(),
            limits: vec![BetLimit {
                currency: CURRENCY,
                min: Amount::from_minor(1),
                max: Amount::from_minor(1 << 50),
            }],
            jurisdictions: vec![mt],
            enabled: true,
        };
        commands.push(Command::Games(games::Command::UpsertGame {
            game: Box::new(game),
            operator: OperatorId(1),
        }));
    }
    for (n, command) in commands.into_iter().enumerate() {
        let request = Request {
            source: SourceId(1),
            id: ExtId::new(&format!("bench-catalogue-{n}")).expect("valid id"),
            command,
        };
        let outcome = fixture.apply_stamped(request).outcome;
        assert!(
            outcome.is_ok(),
            "the bench's catalogue command {n} was refused: {outcome:?}"
        );
    }
    assert_eq!(fixture.ledger.catalogue().games_len(), 64);
}

criterion_group! {
    name = benches;
    config = croupier_benches::criterion_config(2, 8);
    targets = apply
}
criterion_main!(benches);
