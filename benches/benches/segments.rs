//! Segment evaluation over a million players (issue 14, "segment
//! evaluation over 1M players" in BENCHMARKS.md): the read model's
//! `campaigns::members`, the whole of what `GET /operator/v1/segments/{code}/members`
//! does once the profiles' plain attributes are filled (the gateway adds
//! only that fill, a no-op when no profile changed since the last one).
//!
//! The read model is built once per run, in a temporary directory, with
//! the server's own schema (`readmodel::store::open_as` runs every
//! migration) and bulk SQL inserts in one transaction: `SEGMENT_PLAYERS`
//! players (1,000,000 by default), each with a profile's country and
//! birth year, ~60 % with 1–4 deposits over the last year, ~50 % with
//! 1–8 rounds (a bet and, for half of them, a win) over the last 90 days,
//! 5 % with a VIP tier. Everything is drawn from a hash of the player id,
//! so every run builds the same file. The build time and the file's rows
//! are printed before the timings (`one-off build`).
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

use std::collections::HashSet;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use engine::bonus::{Segment, SegmentRule};
use engine::ledger::games::GameType;
use engine::{Amount, BonusCode, Currency, Jurisdiction, Title};
use readmodel::campaigns::{GamesOfType, members};
use rusqlite::{Connection, params};

/// 2026-12-01T00:00:00Z: "now" for the rows and the rules.
const NOW_MS: u64 = 1_796_083_200_000;
const DAY_MS: u64 = 86_400_000;
/// Countries of residence and their weight in percent.
const COUNTRIES: &[(&str, u64)] = &[
    ("GB", 30),
    ("DE", 15),
    ("MT", 10),
    ("SE", 10),
    ("FI", 8),
    ("NL", 7),
    ("IE", 5),
    ("CA", 5),
    ("NZ", 5),
    ("NO", 5),
];
const TIERS: &[&str] = &["bronze", "silver", "gold", "platinum"];

/// SplitMix64: a fixed, well-spread hash of `x`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn country_of(h: u64) -> &'static str {
    let mut pick = h % 100;
    for (code, weight) in COUNTRIES {
        if pick < *weight {
            return code;
        }
        pick -= weight;
    }
    "GB"
}

struct Built {
    connection: Connection,
    _dir: tempfile::TempDir,
}

/// Builds the read model; prints what it holds and how long it took.
fn build(players: u64) -> Built {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = readmodel::store::path(dir.path());
    let mut connection = readmodel::store::open_as(&path, None).expect("the read model");
    connection.pragma_update(None, "synchronous", "OFF").unwrap();
    let (mut movements, mut seq) = (0u64, 0i64);
    {
        let tx = connection.transaction().unwrap();
        {
            let mut player_row = tx.prepare("INSERT INTO players (player, currency) VALUES (?1, 'EUR')").unwrap();
            let mut profile_row = tx
                .prepare(
                    "INSERT INTO profiles (player, jurisdiction, status, country, birth_year, attributes_pending)
                     VALUES (?1, 'MT', 'active', ?2, ?3, 0)",
                )
                .unwrap();
            let mut movement = tx
                .prepare(
                    "INSERT INTO movements (seq, player, currency, kind, source, ext_id, time_ms, cash_delta,
                     bonus_delta, cash, bonus, reserved, stake, prize, game)
                     VALUES (?1, ?2, 'EUR', ?3, 1, ?4, ?5, ?6, 0, 0, 0, 0, ?7, ?8, ?9)",
                )
                .unwrap();
            let mut tier = tx
                .prepare("INSERT INTO vip_tiers (seq, player, tier, period, operator, time_ms) VALUES (?1, ?2, ?3, 0, 0, ?4)")
                .unwrap();
            for player in 1..=players {
                let h = mix(player);
                let id = player as i64;
                player_row.execute([id]).unwrap();
                let birth_year = 1945 + (mix(h) % 62) as i64;
                profile_row.execute(params![id, country_of(h), birth_year]).unwrap();
                let mut row = |kind: &str, days_ago: u64, cash: i64, stake: i64, prize: i64| {
                    seq += 1;
                    movements += 1;
                    let time = (NOW_MS - days_ago * DAY_MS - seq as u64 % DAY_MS) as i64;
                    let game = (kind != "deposit").then_some("book-of-bench");
                    movement
                        .execute(params![seq, id, kind, format!("m{seq}"), time, cash, stake, prize, game])
                        .unwrap();
                };
                let r = mix(h ^ 1);
                if r % 100 < 60 {
                    for n in 0..1 + (r >> 8) % 4 {
                        let amount = 1_000 + (mix(r + n) % 20_000) as i64;
                        row("deposit", mix(r ^ n) % 365, amount, 0, 0);
                    }
                }
                let g = mix(h ^ 2);
                if g % 100 < 50 {
                    for n in 0..1 + (g >> 8) % 8 {
                        let stake = 100 + (mix(g + n) % 5_000) as i64;
                        let days_ago = mix(g ^ n) % 90;
                        row("bet", days_ago, -stake, stake, 0);
                        if mix(g + 2 * n) % 2 == 0 {
                            let prize = (mix(g + 3 * n) % (3 * stake as u64)) as i64;
                            row("win", days_ago, prize, 0, prize);
                        }
                    }
                }
                if mix(h ^ 3) % 100 < 5 {
                    seq += 1;
                    tier.execute(params![seq, id, TIERS[(h >> 16) as usize % TIERS.len()], NOW_MS as i64])
                        .unwrap();
                }
            }
        }
        tx.commit().unwrap();
    }
    connection.execute_batch("ANALYZE").unwrap();
    eprintln!(
        "one-off build: {players} players, {movements} movements in {:.1} s ({})",
        started.elapsed().as_secs_f64(),
        path.display()
    );
    Built { connection, _dir: dir }
}

struct NoGames;

impl GamesOfType for NoGames {
    fn games(&self, _: &[GameType]) -> HashSet<(u32, String)> {
        HashSet::new()
    }
}

fn segment(code: &str, all: Vec<SegmentRule>, any: Vec<SegmentRule>) -> Segment {
    Segment {
        code: BonusCode::new(code).unwrap(),
        name: Title::new(code).unwrap(),
        all,
        any,
    }
}

fn countries(codes: &[&str]) -> SegmentRule {
    SegmentRule::Country {
        countries: codes.iter().map(|c| Jurisdiction::new(c).unwrap()).collect(),
    }
}

fn deposits(window_days: u32, min_minor: i64) -> SegmentRule {
    SegmentRule::Deposits {
        currency: Currency::EUR,
        window_days,
        min_total: Amount::from_minor(min_minor),
        max_total: None,
        min_count: 1,
    }
}

fn segments() -> Vec<Segment> {
    vec![
        segment(
            "country_age",
            vec![
                countries(&["GB", "DE"]),
                SegmentRule::AgeBetween {
                    min_years: 25,
                    max_years: 40,
                },
            ],
            vec![],
        ),
        segment(
            "deposits_ggr",
            vec![
                deposits(30, 5_000),
                SegmentRule::Ggr {
                    currency: Currency::EUR,
                    window_days: 30,
                    min: Some(Amount::from_minor(1_000)),
                    max: None,
                },
            ],
            vec![],
        ),
        segment(
            "mixed_and_or",
            vec![
                countries(&["GB", "MT", "SE"]),
                SegmentRule::LastActivity {
                    min_days: 0,
                    max_days: Some(60),
                },
            ],
            vec![
                deposits(90, 10_000),
                SegmentRule::VipTier {
                    tiers: vec![BonusCode::new("gold").unwrap(), BonusCode::new("platinum").unwrap()],
                    none_too: false,
                },
                SegmentRule::AgeBetween {
                    min_years: 18,
                    max_years: 25,
                },
            ],
        ),
    ]
}

/// The route's work: the members, their count and the first page.
fn count_and_page(c: &Connection, segment: &Segment) -> (usize, Vec<u64>) {
    let all = members(c, segment, NOW_MS, None, &NoGames).expect("the members");
    let page = all.iter().take(100).copied().collect();
    (all.len(), page)
}

fn evaluate(c: &mut Criterion) {
    let players = std::env::var("SEGMENT_PLAYERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let built = build(players);
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
