//! The read model the segments bench evaluates (`benches/segments.rs`):
//! [`build`] fills a read-model file with the server's own schema and bulk
//! SQL inserts, [`segments`] are the three segments timed, and
//! [`count_and_page`] is the route's work on one of them.
//!
//! Players are drawn from a hash of their id, so every build of the same
//! size holds the same rows: each has a profile's country (GB 30 %, DE
//! 15 %, MT and SE 10 %, six more) and birth year (1945–2006); ~60 % have
//! 1–4 deposits over the last year, ~50 % 1–8 rounds (a bet and, for half
//! of them, a win) over the last 90 days; 5 % a VIP tier.

use std::collections::HashSet;
use std::time::Instant;

use engine::bonus::{Segment, SegmentRule};
use engine::ledger::games::GameType;
use engine::{Amount, BonusCode, Currency, Jurisdiction, Title};
use readmodel::campaigns::{GamesOfType, members};
use rusqlite::{Connection, params};

/// 2026-12-01T00:00:00Z: "now" for the rows and the rules.
pub const NOW_MS: u64 = 1_796_083_200_000;
/// A day.
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
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The country of residence of the player whose hash is `h`.
pub fn country_of(h: u64) -> &'static str {
    let mut pick = h % 100;
    for (code, weight) in COUNTRIES {
        if pick < *weight {
            return code;
        }
        pick -= weight;
    }
    "GB"
}

/// The birth year of the player whose hash is `h`.
pub fn birth_year_of(h: u64) -> i64 {
    1945 + (mix(h) % 62) as i64
}

/// What [`build`] made.
pub struct Built {
    /// The read model, open.
    pub connection: Connection,
    /// Movement rows.
    pub movements: u64,
    /// How long it took.
    pub took: std::time::Duration,
}

/// Builds the read model of `players` players in `dir`.
pub fn build(dir: &std::path::Path, players: u64) -> Built {
    let started = Instant::now();
    let path = readmodel::store::path(dir);
    let mut connection = readmodel::store::open_as(&path, None).expect("the read model");
    connection.pragma_update(None, "synchronous", "OFF").unwrap();
    let (mut movements, mut seq) = (0u64, 0i64);
    {
        let tx = connection.transaction().unwrap();
        {
            let mut player_row = tx
                .prepare("INSERT INTO players (player, currency) VALUES (?1, 'EUR')")
                .unwrap();
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
                let birth_year = birth_year_of(h);
                profile_row.execute(params![id, country_of(h), birth_year]).unwrap();
                let mut row = |kind: &str, days_ago: u64, cash: i64, stake: i64, prize: i64| {
                    seq += 1;
                    movements += 1;
                    let time = (NOW_MS - days_ago * DAY_MS - seq as u64 % DAY_MS) as i64;
                    let game = (kind != "deposit").then_some("book-of-bench");
                    movement
                        .execute(params![
                            seq,
                            id,
                            kind,
                            format!("m{seq}"),
                            time,
                            cash,
                            stake,
                            prize,
                            game
                        ])
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
                        if mix(g + 2 * n).is_multiple_of(2) {
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
    Built {
        connection,
        movements,
        took: started.elapsed(),
    }
}

/// No catalogue: the segments name no game type.
pub struct NoGames;

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

/// The three segments timed: `country_age`, `deposits_ggr`, `mixed_and_or`.
pub fn segments() -> Vec<Segment> {
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
pub fn count_and_page(c: &Connection, segment: &Segment) -> (usize, Vec<u64>) {
    let all = members(c, segment, NOW_MS, None, &NoGames).expect("the members");
    let page = all.iter().take(100).copied().collect();
    (all.len(), page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_holds_what_it_says_and_the_segments_evaluate() {
        let dir = tempfile::tempdir().unwrap();
        let players = 3_000;
        let built = build(dir.path(), players);
        assert!(built.movements > players, "{} movements", built.movements);
        let [country_age, deposits_ggr, mixed] = &segments()[..] else {
            panic!("three segments")
        };
        // Country and age worked out here from the generator, not SQL:
        // 2026 less the birth year within 25–40.
        let expected: Vec<u64> = (1..=players)
            .filter(|&p| {
                let h = mix(p);
                ["GB", "DE"].contains(&country_of(h)) && (1986..=2001).contains(&birth_year_of(h))
            })
            .collect();
        let (count, page) = count_and_page(&built.connection, country_age);
        assert_eq!(count, expected.len());
        assert_eq!(page, expected[..100]);
        for segment in [deposits_ggr, mixed] {
            let (count, page) = count_and_page(&built.connection, segment);
            assert!(count > 0 && count < players as usize, "{}: {count}", segment.code);
            assert!(page.windows(2).all(|w| w[0] < w[1]) && page.len() == count.min(100));
        }
    }
}
