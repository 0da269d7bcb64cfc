//! The problem-gambling markers, measured on a player's facts from the
//! read model over the last [`WINDOW_MS`] (28 days), each with its
//! evidence and points; their sum (at most 100) is the player's score.
//!
//! Pure: facts and a moment in, an [`Assessment`] out, so the rules are
//! tested on crafted histories without a server. The thresholds are
//! deliberately simple and explained in each marker's `detail`: compliance
//! reads them next to the records they rest on.
//!
//! - loss chasing: a deposit within [`CHASE_MS`] (1 h) after at least
//!   three bets whose net result (wins less stakes) over the two hours
//!   before is a loss; or a stake at least doubled right after a losing
//!   bet. Two or more such events.
//! - rising deposits: the last two weeks' deposits at least twice the two
//!   weeks before in amount or count, with at least three deposits in the
//!   last two weeks.
//! - night play: at least 40 % of at least 20 bets placed 00:00–06:00
//!   **UTC** (players' time zones are in their sealed profiles, which
//!   the analytics never open).
//! - limit increases: two or more limit raises (a raise waits for its
//!   cooling-off: a scheduled change).
//! - failed deposits: three or more deposits failed or expired.
//! - cancelled withdrawals: one or more withdrawals reversed by the player.

use engine::analytics::MarkerKind;
use readmodel::analytics::{FactKind, PlayerFacts};

/// How far back the markers look: 28 days.
pub const WINDOW_MS: u64 = 28 * DAY_MS;
/// A deposit this soon after losses chases them: 1 hour.
pub const CHASE_MS: u64 = 3_600_000;
/// A score at or above which the worker raises an alert for compliance.
pub const ALERT_SCORE: u32 = 30;
/// A score at or above which the worker also suggests an intervention.
pub const INTERVENE_SCORE: u32 = 50;

const DAY_MS: u64 = 86_400_000;
const HOUR_MS: u64 = 3_600_000;
/// Most evidence items kept per marker.
const EVIDENCE_MAX: usize = 20;

/// One record a marker rests on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// Its journal record, where the read model keeps it.
    pub seq: Option<u64>,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// Its amount, minor units.
    pub amount_minor: i64,
}

/// A marker found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    /// Which.
    pub kind: MarkerKind,
    /// Its points.
    pub points: u32,
    /// What was seen, in words.
    pub detail: String,
    /// The records it rests on, oldest first (at most 20).
    pub evidence: Vec<Evidence>,
}

/// A player's markers and score.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assessment {
    /// 0 (nothing found) to 100.
    pub score: u32,
    /// Largest first.
    pub markers: Vec<Marker>,
}

impl Assessment {
    /// One line for an alert's summary: each marker's detail.
    pub fn summary(&self) -> String {
        let text = self
            .markers
            .iter()
            .map(|m| format!("{}: {}", m.kind.name(), m.detail))
            .collect::<Vec<_>>()
            .join("; ");
        text.chars().take(engine::analytics::MESSAGE_MAX / 4).collect()
    }
}

/// The markers in `facts` as of `now_ms` (facts older than [`WINDOW_MS`]
/// are ignored).
pub fn assess(facts: &PlayerFacts, now_ms: u64) -> Assessment {
    let from_ms = now_ms.saturating_sub(WINDOW_MS);
    let mut markers: Vec<Marker> = [
        loss_chasing(facts, from_ms),
        rising_deposits(facts, now_ms),
        night_play(facts, from_ms),
        counted(
            MarkerKind::LimitIncreases,
            facts
                .limit_raises
                .iter()
                .filter(|(_, t)| *t >= from_ms)
                .map(|(seq, t)| Evidence {
                    seq: Some(*seq),
                    time_ms: *t,
                    amount_minor: 0,
                }),
            2,
            (10, 5, 20),
            "limit raises",
        ),
        counted(
            MarkerKind::FailedDeposits,
            facts
                .failed_deposits
                .iter()
                .filter(|(t, _)| *t >= from_ms)
                .map(|(t, a)| Evidence {
                    seq: None,
                    time_ms: *t,
                    amount_minor: *a,
                }),
            3,
            (10, 2, 20),
            "deposits failed or expired",
        ),
        counted(
            MarkerKind::CancelledWithdrawals,
            facts
                .reversed_withdrawals
                .iter()
                .filter(|(t, _)| *t >= from_ms)
                .map(|(t, a)| Evidence {
                    seq: None,
                    time_ms: *t,
                    amount_minor: *a,
                }),
            1,
            (10, 10, 25),
            "withdrawals reversed to play on",
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    markers.sort_by_key(|m| std::cmp::Reverse(m.points));
    let score = markers.iter().map(|m| m.points).sum::<u32>().min(100);
    Assessment { score, markers }
}

/// A marker that counts records: `min` or more give `base` points, each
/// one more `step`, at most `cap`.
fn counted(
    kind: MarkerKind,
    found: impl Iterator<Item = Evidence>,
    min: usize,
    (base, step, cap): (u32, u32, u32),
    what: &str,
) -> Option<Marker> {
    let evidence: Vec<Evidence> = found.collect();
    let n = evidence.len();
    (n >= min).then(|| Marker {
        kind,
        points: (base + step * (n - min) as u32).min(cap),
        detail: format!("{n} {what} in 28 days"),
        evidence: evidence.into_iter().take(EVIDENCE_MAX).collect(),
    })
}

fn loss_chasing(facts: &PlayerFacts, from_ms: u64) -> Option<Marker> {
    let moves: Vec<_> = facts.movements.iter().filter(|m| m.time_ms >= from_ms).collect();
    let mut chased = Vec::new();
    let (mut deposits, mut raises) = (0, 0);
    for (i, m) in moves.iter().enumerate() {
        match m.kind {
            FactKind::Deposit => {
                let last_bet = moves[..i].iter().rev().find(|p| p.kind == FactKind::Bet);
                let recent = last_bet.is_some_and(|b| m.time_ms.saturating_sub(b.time_ms) <= CHASE_MS);
                let since = m.time_ms.saturating_sub(2 * HOUR_MS);
                let before = moves[..i].iter().filter(|p| p.time_ms >= since);
                let (bets, net) = before.fold((0, 0i64), |(n, net), p| match p.kind {
                    FactKind::Bet => (n + 1, net - p.amount_minor),
                    FactKind::Win => (n, net + p.amount_minor),
                    FactKind::Deposit => (n, net),
                });
                if recent && bets >= 3 && net < 0 {
                    deposits += 1;
                    chased.push(m);
                }
            }
            FactKind::Bet => {
                // The bet before, lost (no win between), then a stake at
                // least doubled.
                let previous = moves[..i].iter().rev().find(|p| p.kind != FactKind::Deposit);
                if let Some(p) = previous
                    && p.kind == FactKind::Bet
                    && p.amount_minor > 0
                    && m.amount_minor >= 2 * p.amount_minor
                {
                    raises += 1;
                    chased.push(m);
                }
            }
            FactKind::Win => {}
        }
    }
    let events = deposits + raises;
    (events >= 2).then(|| Marker {
        kind: MarkerKind::LossChasing,
        points: (15 + 5 * (events - 2) as u32).min(30),
        detail: format!(
            "{deposits} deposits within an hour of losing play, {raises} stakes doubled after a losing bet"
        ),
        evidence: chased.iter().take(EVIDENCE_MAX).map(|m| evidence(m)).collect(),
    })
}

fn evidence(m: &readmodel::analytics::Fact) -> Evidence {
    Evidence {
        seq: Some(m.seq),
        time_ms: m.time_ms,
        amount_minor: m.amount_minor,
    }
}

fn rising_deposits(facts: &PlayerFacts, now_ms: u64) -> Option<Marker> {
    let fortnight = 14 * DAY_MS;
    let recent_from = now_ms.saturating_sub(fortnight);
    let earlier_from = now_ms.saturating_sub(2 * fortnight);
    let deposits = facts.movements.iter().filter(|m| m.kind == FactKind::Deposit);
    let (mut recent, mut earlier) = ((0u32, 0i64), (0u32, 0i64));
    let mut recent_records = Vec::new();
    for m in deposits {
        if m.time_ms >= recent_from {
            recent = (recent.0 + 1, recent.1 + m.amount_minor);
            recent_records.push(m);
        } else if m.time_ms >= earlier_from {
            earlier = (earlier.0 + 1, earlier.1 + m.amount_minor);
        }
    }
    let rising = recent.0 >= 3 && (recent.0 >= 2 * earlier.0 || recent.1 >= 2 * earlier.1);
    (rising && (recent.0 > earlier.0 || recent.1 > earlier.1)).then(|| Marker {
        kind: MarkerKind::RisingDeposits,
        points: 20,
        detail: format!(
            "{} deposits ({} minor units) in the last 14 days against {} ({} minor units) in the 14 before",
            recent.0, recent.1, earlier.0, earlier.1
        ),
        evidence: recent_records.iter().take(EVIDENCE_MAX).map(|m| evidence(m)).collect(),
    })
}

fn night_play(facts: &PlayerFacts, from_ms: u64) -> Option<Marker> {
    let bets: Vec<_> = facts
        .movements
        .iter()
        .filter(|m| m.kind == FactKind::Bet && m.time_ms >= from_ms)
        .collect();
    let night: Vec<_> = bets.iter().filter(|m| (m.time_ms % DAY_MS) < 6 * HOUR_MS).collect();
    let share_pct = if bets.is_empty() {
        0
    } else {
        night.len() * 100 / bets.len()
    };
    (bets.len() >= 20 && share_pct >= 40).then(|| Marker {
        kind: MarkerKind::NightPlay,
        points: if share_pct >= 70 { 20 } else { 15 },
        detail: format!(
            "{} of {} bets ({share_pct} %) placed 00:00-06:00 UTC",
            night.len(),
            bets.len()
        ),
        evidence: night.iter().take(EVIDENCE_MAX).map(|m| evidence(m)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::PlayerId;
    use readmodel::analytics::Fact;

    /// Midday, day 100 (UTC).
    const NOON: u64 = 100 * DAY_MS + 12 * HOUR_MS;

    fn fact(seq: u64, time_ms: u64, kind: FactKind, amount_minor: i64) -> Fact {
        Fact {
            seq,
            time_ms,
            kind,
            amount_minor,
        }
    }

    /// A steady player: a deposit a week, ten 1.00 bets a day at noon
    /// with a win now and then.
    fn benign() -> PlayerFacts {
        let mut movements = Vec::new();
        let mut seq = 0;
        for day in 0..28u64 {
            let noon = NOON - (27 - day) * DAY_MS;
            if day % 7 == 0 {
                seq += 1;
                movements.push(fact(seq, noon - HOUR_MS, FactKind::Deposit, 5_000));
            }
            for bet in 0..10 {
                seq += 1;
                movements.push(fact(seq, noon + bet * 60_000, FactKind::Bet, 100));
                if bet % 3 == 0 {
                    seq += 1;
                    movements.push(fact(seq, noon + bet * 60_000 + 1, FactKind::Win, 250));
                }
            }
        }
        PlayerFacts {
            player: PlayerId(1),
            currency: "EUR".into(),
            movements,
            ..PlayerFacts::default()
        }
    }

    #[test]
    fn a_steady_player_has_no_markers() {
        assert_eq!(assess(&benign(), NOON + HOUR_MS), Assessment::default());
    }

    #[test]
    fn loss_chasing_is_deposits_after_losses_or_doubled_stakes() {
        let mut facts = benign();
        let mut seq = 1_000;
        for round in 0..2u64 {
            let start = NOON + 2 * HOUR_MS + round * 3 * HOUR_MS;
            for bet in 0..4 {
                seq += 1;
                facts
                    .movements
                    .push(fact(seq, start + bet * 60_000, FactKind::Bet, 1_000));
            }
            seq += 1;
            facts
                .movements
                .push(fact(seq, start + 30 * 60_000, FactKind::Deposit, 10_000));
        }
        // Then a stake tripled right after a losing bet.
        facts
            .movements
            .push(fact(seq + 1, NOON + 9 * HOUR_MS, FactKind::Bet, 3_000));
        let found = assess(&facts, NOON + 10 * HOUR_MS);
        let marker = &found.markers[0];
        assert_eq!(marker.kind, MarkerKind::LossChasing);
        assert!(
            marker
                .detail
                .starts_with("2 deposits within an hour of losing play, 1 stakes"),
            "{}",
            marker.detail
        );
        assert_eq!(marker.points, 20);
        assert_eq!(marker.evidence.len(), 3);
        assert!(marker.evidence.iter().any(|e| e.amount_minor == 10_000));
    }

    #[test]
    fn rising_deposits_compare_the_last_fortnight_with_the_one_before() {
        let mut facts = benign();
        for n in 0..5u64 {
            facts.movements.push(fact(
                2_000 + n,
                NOON - n * DAY_MS - 2 * HOUR_MS,
                FactKind::Deposit,
                20_000,
            ));
        }
        facts.movements.sort_by_key(|m| m.time_ms);
        let found = assess(&facts, NOON + HOUR_MS);
        assert_eq!(found.markers.len(), 1, "{found:?}");
        assert_eq!(found.markers[0].kind, MarkerKind::RisingDeposits);
        assert_eq!(found.score, 20);
    }

    #[test]
    fn night_play_is_the_share_of_bets_between_midnight_and_six_utc() {
        let mut facts = benign();
        for bet in 0..300u64 {
            let night = NOON - 10 * HOUR_MS - (bet % 20) * DAY_MS + bet * 1_000;
            facts.movements.push(fact(3_000 + bet, night, FactKind::Bet, 100));
        }
        facts.movements.sort_by_key(|m| m.time_ms);
        let found = assess(&facts, NOON + HOUR_MS);
        assert_eq!(found.markers[0].kind, MarkerKind::NightPlay);
        assert!(
            found.markers[0].detail.contains("300 of 580"),
            "{}",
            found.markers[0].detail
        );
    }

    #[test]
    fn counted_markers_need_their_minimum_and_stop_at_their_cap() {
        let mut facts = benign();
        facts.failed_deposits = vec![(NOON, 100), (NOON, 200)];
        facts.reversed_withdrawals = vec![(NOON, 5_000)];
        facts.limit_raises = vec![(7, NOON), (8, NOON), (9, NOON - WINDOW_MS - 1)];
        let found = assess(&facts, NOON + HOUR_MS);
        let kinds: Vec<_> = found.markers.iter().map(|m| (m.kind, m.points)).collect();
        // Two failed deposits are not yet a marker; the third raise is too old.
        assert_eq!(
            kinds,
            vec![(MarkerKind::LimitIncreases, 10), (MarkerKind::CancelledWithdrawals, 10)]
        );
        facts.reversed_withdrawals = vec![(NOON, 1); 5];
        facts.failed_deposits = vec![(NOON, 1); 3];
        let found = assess(&facts, NOON + HOUR_MS);
        assert_eq!(found.markers[0].kind, MarkerKind::CancelledWithdrawals);
        assert_eq!(found.markers[0].points, 25);
        assert_eq!(found.score, 25 + 10 + 10);
    }
}
