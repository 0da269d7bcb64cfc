//! Churn risk: a logistic regression (linfa) on features of recency,
//! frequency, monetary value and their trends, trained on the platform's
//! own history and explained by each feature's contribution.
//!
//! Training labels what happened: at a cut [`HORIZON_MS`] (30 days) before
//! now, each player who bet in the [`LOOKBACK_MS`] (60 days) before the
//! cut has the features seen at the cut, and is a churner if they placed
//! no bet since. Scoring takes the features seen now: the probability
//! that the next 30 days bring no bet.
//!
//! Features are standardised with the training set's means and spreads,
//! so a coefficient times a standardised value is that feature's
//! contribution to the log-odds of churn; the largest contributions
//! towards churn are the score's reasons.
//!
//! Floats stop here: a score is a probability, never money.

use engine::workload::PlayerHistory;
use linfa::Dataset;
use linfa::traits::Fit;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use readmodel::analytics::{Fact, FactKind, PlayerFacts};

/// How far after the cut training looks for a bet: 30 days.
pub const HORIZON_MS: u64 = 30 * DAY_MS;
/// How far back the features look: 60 days.
pub const LOOKBACK_MS: u64 = 60 * DAY_MS;
/// The features, in the model's order.
pub const FEATURES: [&str; 7] = [
    "days_since_last_bet",
    "active_days_30",
    "bets_30",
    "stake_30",
    "bets_trend",
    "stake_trend",
    "deposits_30",
];
const N: usize = FEATURES.len();
const DAY_MS: u64 = 86_400_000;
/// Fewest players of each class a model is trained on.
pub const CLASS_MIN: usize = 5;
/// Most reasons a score gives.
pub const REASONS_MAX: usize = 3;

/// A player's features.
pub type Features = [f64; N];

/// Why a model could not be trained.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChurnError {
    /// Too few churners or too few who stayed in the history.
    #[error("too little history: {churners} churners and {stayed} who stayed (at least {CLASS_MIN} of each)")]
    TooLittleHistory {
        /// Churners found.
        churners: usize,
        /// Players who stayed.
        stayed: usize,
    },
    /// The solver failed.
    #[error("the solver failed: {0}")]
    Solver(String),
}

/// The features of `facts` seen at `at_ms` (facts at or after it ignored).
pub fn features(facts: &PlayerFacts, at_ms: u64) -> Features {
    let from = at_ms.saturating_sub(LOOKBACK_MS);
    let seen = facts
        .movements
        .iter()
        .filter(|m| m.time_ms >= from && m.time_ms < at_ms);
    let month = at_ms.saturating_sub(30 * DAY_MS);
    let fortnight = at_ms.saturating_sub(14 * DAY_MS);
    let month_before = at_ms.saturating_sub(28 * DAY_MS);
    let (mut last_bet, mut bets, mut stake, mut deposits) = (None, 0u64, 0i64, 0u64);
    let (mut recent, mut earlier) = ((0u64, 0i64), (0u64, 0i64));
    let mut days = std::collections::BTreeSet::new();
    for m in seen {
        match m.kind {
            FactKind::Bet => {
                last_bet = Some(m.time_ms);
                if m.time_ms >= month {
                    bets += 1;
                    stake += m.amount_minor;
                    days.insert(m.time_ms / DAY_MS);
                }
                if m.time_ms >= fortnight {
                    recent = (recent.0 + 1, recent.1 + m.amount_minor);
                } else if m.time_ms >= month_before {
                    earlier = (earlier.0 + 1, earlier.1 + m.amount_minor);
                }
            }
            FactKind::Deposit if m.time_ms >= month => deposits += 1,
            _ => {}
        }
    }
    let since = last_bet.map_or(60.0, |t| ((at_ms - t) as f64 / DAY_MS as f64).min(60.0));
    let trend = |now: f64, before: f64| (now - before) / (now + before + 1.0);
    [
        since,
        days.len() as f64,
        (bets as f64).ln_1p(),
        (stake.max(0) as f64 / 100.0).ln_1p(),
        trend(recent.0 as f64, earlier.0 as f64),
        trend(recent.1 as f64, earlier.1 as f64),
        deposits as f64,
    ]
}

/// A training example from `facts` as of `now_ms`: the features at the cut
/// and whether no bet followed; none for a player with no bet in the
/// lookback before the cut.
pub fn labelled(facts: &PlayerFacts, now_ms: u64) -> Option<(Features, bool)> {
    let cut = now_ms.saturating_sub(HORIZON_MS);
    let bets = facts.movements.iter().filter(|m| m.kind == FactKind::Bet);
    let mut before = bets
        .clone()
        .filter(|m| m.time_ms < cut && m.time_ms >= cut.saturating_sub(LOOKBACK_MS));
    before.next()?;
    let stayed = bets.clone().any(|m| m.time_ms >= cut && m.time_ms < now_ms);
    Some((features(facts, cut), !stayed))
}

/// One reason in a churn score.
#[derive(Clone, Debug, PartialEq)]
pub struct Reason {
    /// The feature.
    pub feature: &'static str,
    /// Its value for the player.
    pub value: f64,
    /// What it adds to the log-odds of churn.
    pub contribution: f64,
}

/// A player's churn score.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    /// The probability of no bet in the next 30 days, 0 to 1.
    pub probability: f64,
    /// The largest contributions towards churn, largest first (at most
    /// [`REASONS_MAX`]; all of them when none pushes towards churn, then
    /// the least against it).
    pub reasons: Vec<Reason>,
}

/// A trained model.
#[derive(Clone, Debug, PartialEq)]
pub struct ChurnModel {
    /// Each feature's mean in the training set.
    pub means: Features,
    /// Each feature's spread (standard deviation, at least a small floor).
    pub spreads: Features,
    /// Each standardised feature's weight towards churn.
    pub weights: Features,
    /// The log-odds of churn at the means.
    pub intercept: f64,
    /// Training examples, and of them churners.
    pub examples: (usize, usize),
    /// The area under the ROC curve on the training set.
    pub training_auc: f64,
}

/// Trains a model on `examples`.
pub fn train(examples: &[(Features, bool)]) -> Result<ChurnModel, ChurnError> {
    let churners = examples.iter().filter(|(_, c)| *c).count();
    let stayed = examples.len() - churners;
    if churners < CLASS_MIN || stayed < CLASS_MIN {
        return Err(ChurnError::TooLittleHistory { churners, stayed });
    }
    let count = examples.len() as f64;
    let mut means = [0.0; N];
    let mut spreads = [0.0; N];
    for (x, _) in examples {
        for i in 0..N {
            means[i] += x[i] / count;
        }
    }
    for (x, _) in examples {
        for i in 0..N {
            spreads[i] += (x[i] - means[i]).powi(2) / count;
        }
    }
    for s in &mut spreads {
        *s = s.sqrt().max(1e-6);
    }
    let mut records = Array2::<f64>::zeros((examples.len(), N));
    for (row, (x, _)) in examples.iter().enumerate() {
        for i in 0..N {
            records[[row, i]] = (x[i] - means[i]) / spreads[i];
        }
    }
    let targets: Array1<bool> = examples.iter().map(|(_, c)| *c).collect();
    let fitted = LogisticRegression::default()
        .alpha(0.01)
        .max_iterations(200)
        .fit(&Dataset::new(records, targets))
        .map_err(|e| ChurnError::Solver(e.to_string()))?;
    // linfa models the probability of its "positive" class, the more
    // frequent one: turn it round when that is staying.
    let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
    let mut weights = [0.0; N];
    for (i, w) in fitted.params().iter().enumerate() {
        weights[i] = sign * w;
    }
    let mut model = ChurnModel {
        means,
        spreads,
        weights,
        intercept: sign * fitted.intercept(),
        examples: (examples.len(), churners),
        training_auc: 0.0,
    };
    let scored: Vec<(f64, bool)> = examples.iter().map(|(x, c)| (model.score(x).probability, *c)).collect();
    model.training_auc = auc(&scored).unwrap_or(0.0);
    Ok(model)
}

impl ChurnModel {
    /// The churn score of a player with features `x`, with its reasons.
    pub fn score(&self, x: &Features) -> Scored {
        let mut reasons: Vec<Reason> = (0..N)
            .map(|i| Reason {
                feature: FEATURES[i],
                value: x[i],
                contribution: self.weights[i] * (x[i] - self.means[i]) / self.spreads[i],
            })
            .collect();
        let logit = self.intercept + reasons.iter().map(|r| r.contribution).sum::<f64>();
        reasons.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
        let towards = reasons.iter().filter(|r| r.contribution > 0.0).count();
        reasons.truncate(towards.clamp(1, REASONS_MAX));
        Scored {
            probability: 1.0 / (1.0 + (-logit).exp()),
            reasons,
        }
    }
}

/// The area under the ROC curve of `scored` (score, is a churner): the
/// chance a churner scores above one who stayed (ties count half); none
/// without both.
pub fn auc(scored: &[(f64, bool)]) -> Option<f64> {
    let mut sorted: Vec<(f64, bool)> = scored.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = sorted.iter().filter(|(_, c)| *c).count() as f64;
    let negatives = sorted.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    // Mann-Whitney: the sum of the churners' ranks, ties ranked at their mean.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j].0 == sorted[i].0 {
            j += 1;
        }
        let mean_rank = (i + j + 1) as f64 / 2.0;
        rank_sum += mean_rank * sorted[i..j].iter().filter(|(_, c)| *c).count() as f64;
        i = j;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// A synthetic history (`engine::workload::churn_cohort`) as read-model
/// facts, day 0 starting at `start_ms`: each day's bets at 14:00 UTC a
/// minute apart, its deposit before them, its winnings after.
pub fn history_facts(history: &PlayerHistory, start_ms: u64) -> PlayerFacts {
    let mut movements = Vec::new();
    let mut seq = 0;
    let mut push = |time_ms, kind, amount_minor| {
        seq += 1;
        movements.push(Fact {
            seq,
            time_ms,
            kind,
            amount_minor,
        });
    };
    for day in &history.days {
        let at = start_ms + u64::from(day.day) * DAY_MS + 14 * 3_600_000;
        if day.deposit_minor > 0 {
            push(at - 60_000, FactKind::Deposit, day.deposit_minor);
        }
        let stake = day.stake_minor / i64::from(day.bets.max(1));
        for bet in 0..u64::from(day.bets) {
            push(at + bet * 60_000, FactKind::Bet, stake);
        }
        push(at + u64::from(day.bets) * 60_000, FactKind::Win, day.won_minor);
    }
    PlayerFacts {
        player: history.player,
        currency: "EUR".into(),
        movements,
        ..PlayerFacts::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::workload::churn_cohort;

    const START: u64 = 1_000 * DAY_MS;
    const DAYS: u32 = 150;

    #[test]
    fn auc_is_the_chance_a_churner_scores_higher() {
        assert_eq!(auc(&[(0.9, true), (0.1, false)]), Some(1.0));
        assert_eq!(auc(&[(0.1, true), (0.9, false)]), Some(0.0));
        assert_eq!(auc(&[(0.5, true), (0.5, false)]), Some(0.5));
        assert_eq!(auc(&[(0.8, true), (0.3, false), (0.6, false), (0.7, true)]), Some(1.0));
        assert_eq!(auc(&[(0.8, true), (0.9, false), (0.6, false), (0.7, true)]), Some(0.5));
        assert_eq!(auc(&[(0.8, true)]), None);
    }

    #[test]
    fn a_model_needs_both_classes() {
        let only_stayed: Vec<(Features, bool)> = (0..50).map(|i| ([i as f64; N], false)).collect();
        assert_eq!(
            train(&only_stayed),
            Err(ChurnError::TooLittleHistory {
                churners: 0,
                stayed: 50
            })
        );
    }

    /// The figure for BENCHMARKS.md: trained on one synthetic cohort's
    /// history the way the worker trains on the platform's, then scored on
    /// another cohort (another seed) 30 days before its end, against its
    /// known churners.
    #[test]
    fn the_model_finds_known_churners_in_a_synthetic_cohort() {
        let end = START + u64::from(DAYS) * DAY_MS;
        let training: Vec<(Features, bool)> = churn_cohort(1, 2_000, DAYS, 30)
            .iter()
            .filter_map(|h| labelled(&history_facts(h, START), end))
            .collect();
        let model = train(&training).expect("both classes in the history");
        let cut = end - HORIZON_MS;
        let scored: Vec<(f64, bool)> = churn_cohort(2, 2_000, DAYS, 30)
            .iter()
            .filter(|h| h.days.iter().any(|d| u64::from(d.day) * DAY_MS + START < cut))
            .map(|h| {
                (
                    model.score(&features(&history_facts(h, START), cut)).probability,
                    h.churner,
                )
            })
            .collect();
        let auc = auc(&scored).expect("both classes");
        println!(
            "churn AUC on the held-out synthetic cohort: {auc:.3} (training {:.3})",
            model.training_auc
        );
        assert!(auc > 0.80, "AUC {auc}");
        // The weights make sense: the longer since the last bet, the likelier churn.
        assert!(model.weights[0] > 0.0, "{model:?}");
    }

    #[test]
    fn a_score_is_explained_by_its_largest_contributions() {
        let model = ChurnModel {
            means: [10.0, 10.0, 3.0, 5.0, 0.0, 0.0, 2.0],
            spreads: [5.0, 5.0, 1.0, 1.0, 0.5, 0.5, 1.0],
            weights: [1.5, -1.0, -0.5, 0.0, -0.8, 0.0, 0.0],
            intercept: -1.0,
            examples: (100, 20),
            training_auc: 0.9,
        };
        let gone = model.score(&[40.0, 1.0, 1.0, 5.0, -0.9, 0.0, 2.0]);
        let names: Vec<_> = gone.reasons.iter().map(|r| r.feature).collect();
        assert_eq!(names, ["days_since_last_bet", "active_days_30", "bets_trend"]);
        assert!((gone.reasons[0].contribution - 9.0).abs() < 1e-9);
        assert!(gone.probability > 0.99);
        let keen = model.score(&[0.0, 30.0, 5.0, 5.0, 0.5, 0.0, 2.0]);
        assert!(keen.probability < 0.01);
        // Nothing pushes towards churn: the one least against it.
        assert_eq!(keen.reasons.len(), 1);
        assert_eq!(keen.reasons[0].feature, "stake_30");
    }
}
