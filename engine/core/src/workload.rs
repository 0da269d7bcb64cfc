//! A deterministic, seeded generator of realistic request streams.
//!
//! Shared by the benchmarks, the load tester and the engine demo so that
//! every figure in BENCHMARKS.md is measured on the same mix: by default
//! bet 50 %, win 40 %, rollback 2 %, deposit/withdrawal 3 %, retries 5 %.
//! The generator is a plain function of its seed; it lives beside the ledger
//! but the ledger never uses it.

use std::collections::VecDeque;

use crate::command::{Bet, Command, Request, RoundRef, TxRef, Win, WinKind};
use crate::ids::{ExtId, GameCode, Jurisdiction, PlayerId, RoundId, SourceId};
use crate::ledger::{gaming, payments, players};
use crate::money::{Amount, Currency};

/// SplitMix64: tiny, fast, and good enough to pick players and amounts.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}

/// Percentages of each kind of request; the rest of 100 are bets.
#[derive(Clone, Copy, Debug)]
pub struct Mix {
    /// Wins on an earlier bet's round.
    pub win_pct: u64,
    /// Rollbacks of an earlier bet.
    pub rollback_pct: u64,
    /// Deposits (initiate, confirm) and withdrawal requests.
    pub payment_pct: u64,
    /// Verbatim retries of a recent request.
    pub retry_pct: u64,
}

impl Default for Mix {
    fn default() -> Mix {
        Mix {
            win_pct: 40,
            rollback_pct: 2,
            payment_pct: 3,
            retry_pct: 5,
        }
    }
}

/// The source id the workload's requests come from.
pub const WORKLOAD_SOURCE: SourceId = SourceId(1);
/// Cash each player is funded with by [`Workload::setup`], in minor units.
pub const STARTING_CASH_MINOR: i64 = 100_000_000;

const RECENT_MAX: usize = 1024;
const OPEN_BETS_MAX: usize = 65_536;
const GAMES: u64 = 64;

/// Generates requests over `players` players, all holding `currency`.
///
/// Ids are unique per workload; give concurrent workloads distinct sources
/// ([`Workload::with_source`]) so that their ids do not collide.
pub struct Workload {
    source: SourceId,
    rng: SplitMix64,
    players: u64,
    currency: Currency,
    mix: Mix,
    next_id: u64,
    recent: VecDeque<Request>,
    open_bets: VecDeque<(PlayerId, RoundRef, ExtId, Amount)>,
    pending_deposits: VecDeque<ExtId>,
}

impl Workload {
    /// A workload over players `1..=players` with the default mix.
    pub fn new(seed: u64, players: u64, currency: Currency) -> Workload {
        Workload::with_mix(seed, players, currency, Mix::default())
    }

    /// A workload with a custom mix.
    pub fn with_mix(seed: u64, players: u64, currency: Currency, mix: Mix) -> Workload {
        assert!(players > 0, "a workload needs players");
        Workload {
            source: WORKLOAD_SOURCE,
            rng: SplitMix64::new(seed),
            players,
            currency,
            mix,
            next_id: 0,
            recent: VecDeque::with_capacity(RECENT_MAX),
            open_bets: VecDeque::with_capacity(OPEN_BETS_MAX),
            pending_deposits: VecDeque::new(),
        }
    }

    /// The same workload sending from `source` instead of [`WORKLOAD_SOURCE`].
    pub fn with_source(mut self, source: SourceId) -> Workload {
        self.source = source;
        self
    }

    /// Requests that register the players and fund each with
    /// [`STARTING_CASH_MINOR`] (three requests per player).
    pub fn setup(&mut self) -> impl Iterator<Item = Request> + '_ {
        let jurisdiction = Jurisdiction::new("MT").expect("valid code");
        let currency = self.currency;
        (1..=self.players).flat_map(move |n| {
            let player = PlayerId(n);
            let deposit = ExtId::new(&format!("fund-{n}")).expect("valid id");
            let amount = Amount::from_minor(STARTING_CASH_MINOR);
            [
                request(
                    &format!("reg-{n}"),
                    Command::Players(players::Command::RegisterPlayer { currency, jurisdiction }),
                ),
                request(
                    deposit.as_str(),
                    Command::Payments(payments::Command::DepositInitiate {
                        player,
                        currency,
                        amount,
                    }),
                ),
                request(
                    &format!("fund-ok-{n}"),
                    Command::Payments(payments::Command::DepositConfirm {
                        deposit: TxRef {
                            source: WORKLOAD_SOURCE,
                            id: deposit,
                        },
                    }),
                ),
            ]
        })
    }

    /// The next request of the mix.
    pub fn next_request(&mut self) -> Request {
        let roll = self.rng.below(100);
        let Mix {
            win_pct,
            rollback_pct,
            payment_pct,
            retry_pct,
        } = self.mix;
        let request = if roll < retry_pct && !self.recent.is_empty() {
            let index = self.rng.below(self.recent.len() as u64) as usize;
            return self.recent[index].clone();
        } else if roll < retry_pct + win_pct && !self.open_bets.is_empty() {
            self.win()
        } else if roll < retry_pct + win_pct + rollback_pct && !self.open_bets.is_empty() {
            self.rollback()
        } else if roll < retry_pct + win_pct + rollback_pct + payment_pct {
            self.payment()
        } else {
            self.bet()
        };
        if self.recent.len() == RECENT_MAX {
            self.recent.pop_front();
        }
        self.recent.push_back(request.clone());
        request
    }

    fn fresh_id(&mut self) -> ExtId {
        self.next_id += 1;
        ExtId::new(&format!("w{}", self.next_id)).expect("valid id")
    }

    fn player(&mut self) -> PlayerId {
        PlayerId(1 + self.rng.below(self.players))
    }

    fn bet(&mut self) -> Request {
        let player = self.player();
        let id = self.fresh_id();
        let round = RoundRef {
            id: RoundId::new(&format!("r{}", self.next_id)).expect("valid id"),
            game: GameCode::new(&format!("game-{}", self.rng.below(GAMES))).expect("valid id"),
        };
        let amount = Amount::from_minor(1 + self.rng.below(500) as i64);
        if self.open_bets.len() == OPEN_BETS_MAX {
            self.open_bets.pop_front();
        }
        self.open_bets.push_back((player, round.clone(), id.clone(), amount));
        let bet = Bet {
            player,
            currency: self.currency,
            amount,
            round,
            close_round: false,
        };
        Request {
            source: self.source,
            id,
            command: Command::from(bet),
        }
    }

    fn win(&mut self) -> Request {
        let (player, round, _, stake) = self.open_bets.pop_front().expect("checked non-empty");
        // Half the rounds lose; the others pay up to 3.84x: 96 % return to player.
        let max_payout = stake.minor() as u64 * 384 / 100;
        let amount = if self.rng.below(2) == 0 {
            0
        } else {
            self.rng.below(max_payout + 1) as i64
        };
        let amount = Amount::from_minor(amount);
        let win = Win {
            player,
            currency: self.currency,
            amount,
            round,
            kind: WinKind::Regular,
            close_round: true,
            bet: None,
        };
        Request {
            source: self.source,
            id: self.fresh_id(),
            command: Command::from(win),
        }
    }

    fn rollback(&mut self) -> Request {
        let (player, _, bet, _) = self.open_bets.pop_back().expect("checked non-empty");
        Request {
            source: self.source,
            id: self.fresh_id(),
            command: Command::Gaming(gaming::Command::Rollback { player, bet }),
        }
    }

    fn payment(&mut self) -> Request {
        let player = self.player();
        let currency = self.currency;
        let id = self.fresh_id();
        let command = match self.rng.below(3) {
            0 if !self.pending_deposits.is_empty() => {
                let deposit = self.pending_deposits.pop_front().expect("checked non-empty");
                Command::Payments(payments::Command::DepositConfirm {
                    deposit: TxRef {
                        source: self.source,
                        id: deposit,
                    },
                })
            }
            1 => Command::Payments(payments::Command::WithdrawalRequest {
                player,
                currency,
                amount: Amount::from_minor(1_000),
            }),
            _ => {
                self.pending_deposits.push_back(id.clone());
                Command::Payments(payments::Command::DepositInitiate {
                    player,
                    currency,
                    amount: Amount::from_minor(5_000),
                })
            }
        };
        Request {
            source: self.source,
            id,
            command,
        }
    }
}

fn request(id: &str, command: Command) -> Request {
    Request {
        source: WORKLOAD_SOURCE,
        id: ExtId::new(id).expect("valid id"),
        command,
    }
}

/// One day of a synthetic player's play ([`churn_cohort`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayActivity {
    /// The day, counted from the cohort's first (0).
    pub day: u32,
    /// Bets placed.
    pub bets: u32,
    /// Their stakes, minor units.
    pub stake_minor: i64,
    /// Won back, minor units.
    pub won_minor: i64,
    /// Deposited, minor units (0: no deposit that day).
    pub deposit_minor: i64,
}

/// A synthetic player's history and whether they churn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlayerHistory {
    /// The player.
    pub player: PlayerId,
    /// A known churner: their play tapers off and stops.
    pub churner: bool,
    /// The days they played, ascending.
    pub days: Vec<DayActivity>,
}

/// A cohort of `players` synthetic histories over `days` days (at least
/// 90), a function of `seed`, about `churn_pct` % of them churners, for
/// evaluating churn models against known answers.
///
/// Every player has a habit: how often they play (20–90 % of days), how
/// many bets a day (5–50), a stake (0.20–5.00) and a deposit every few
/// play days. A loyal player keeps it, with noise and, one in five, a
/// quiet spell of 5–15 days (holidays: what a model must not mistake for
/// churn). A churner's habit tapers off from a day between 55 and 35 days
/// before the end, linearly to nothing over 10–30 days, then stops: a
/// model that sees the history up to 30 days before the end sees some
/// churners half-way down and some not yet started.
pub fn churn_cohort(seed: u64, players: u64, days: u32, churn_pct: u64) -> Vec<PlayerHistory> {
    let days = days.max(90);
    let mut rng = SplitMix64::new(seed);
    (1..=players)
        .map(|n| {
            let churner = rng.below(100) < churn_pct;
            let play_pct = 20 + rng.below(71);
            let bets_mean = 5 + rng.below(46);
            let stake = 20 + rng.below(481) as i64;
            let deposit_every = 2 + rng.below(5);
            let taper = churner.then(|| {
                let start = u64::from(days) - 35 - rng.below(21);
                (start, 10 + rng.below(21))
            });
            let quiet = (!churner && rng.below(5) == 0).then(|| {
                let start = rng.below(u64::from(days) - 15);
                (start, start + 5 + rng.below(11))
            });
            let mut played = 0;
            let mut history = Vec::new();
            for day in 0..u64::from(days) {
                // The share of the habit left, in per mille.
                let left = match taper {
                    Some((start, _)) if day < start => 1_000,
                    Some((start, length)) => 1_000u64.saturating_sub((day - start) * 1_000 / length),
                    None if quiet.is_some_and(|(from, to)| (from..to).contains(&day)) => 0,
                    None => 1_000,
                };
                if rng.below(100_000) >= play_pct * left {
                    continue;
                }
                let spread = bets_mean / 2 + rng.below(bets_mean + 1);
                let bets = (spread * left / 1_000).max(1) as u32;
                let stake_minor = stake * i64::from(bets);
                // Returns 80–105 % of stakes on average, noisy by day.
                let won_minor = stake_minor * (60 + rng.below(60) as i64) / 100;
                played += 1;
                let deposit_minor = if played % deposit_every == 1 {
                    stake_minor * 2
                } else {
                    0
                };
                history.push(DayActivity {
                    day: day as u32,
                    bets,
                    stake_minor,
                    won_minor,
                    deposit_minor,
                });
            }
            PlayerHistory {
                player: PlayerId(n),
                churner,
                days: history,
            }
        })
        .collect()
}

#[cfg(test)]
mod cohort_tests {
    use super::*;

    #[test]
    fn a_cohort_is_a_function_of_its_seed_and_churners_stop() {
        let cohort = churn_cohort(7, 500, 120, 30);
        assert_eq!(cohort, churn_cohort(7, 500, 120, 30));
        assert_ne!(cohort, churn_cohort(8, 500, 120, 30));
        let churners: Vec<_> = cohort.iter().filter(|h| h.churner).collect();
        assert!((100..=200).contains(&churners.len()), "{}", churners.len());
        // No churner plays in the last five days (35 + 30 days at most
        // from the start of the taper to its end is before day 115).
        for history in &churners {
            assert!(history.days.iter().all(|d| d.day < 115), "{history:?}");
        }
        // Loyal players mostly still play in the last 30 days.
        let loyal_active = cohort
            .iter()
            .filter(|h| !h.churner && h.days.iter().any(|d| d.day >= 90))
            .count();
        assert!(loyal_active * 100 >= (cohort.len() - churners.len()) * 95);
    }
}
