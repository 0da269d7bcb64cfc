//! Property tests over random command streams: conservation after every
//! command (jackpot pools and queued bonuses included), no negative balance, deterministic
//! replay, exact retries.
//!
//! Streams draw from a deliberately small universe (a few players, ids,
//! rounds and amounts around the edges) so that retries, conflicts,
//! rollbacks of unknown bets, limit hits and bonus conversions all happen
//! often. Set `PROPTEST_CASES` to run more streams than the CI default.

use engine::command::{
    AccountStatus, Bet, BonusGrant, Command, Envelope, KycLevel, LimitKind, LimitMetric, LimitPeriod, Request,
    RoundRef, TxRef, Win, WinKind,
};
use engine::{Amount, Config, Currency, ExtId, GameCode, Jurisdiction, Ledger, OperatorId, Outcome, PlayerId, Reason};
use engine::{JackpotCode, Name, Title, TokenHash, access, jackpots};
use engine::{Query, bonus, gaming, payments, players, rg};
use engine::{RoundId, SourceId};
use proptest::prelude::*;

const T0: u64 = 1_750_000_000_000;
const HOUR_MS: u64 = 3_600_000;

#[derive(Clone, Debug)]
enum Step {
    /// A command from a source, with placeholders for ids and references.
    Apply(SourceId, IdChoice, Command),
    /// Commands from one source with fresh ids, in a row (a payment's life).
    Flow(SourceId, Vec<Command>),
    Wait(u64),
}

fn ext_id(n: u8) -> ExtId {
    ExtId::new(&format!("t{n}")).unwrap()
}

fn round(n: u8, game: u8) -> RoundRef {
    RoundRef {
        id: RoundId::new(&format!("r{n}")).unwrap(),
        game: GameCode::new(&format!("g{game}")).unwrap(),
    }
}

fn currency() -> impl Strategy<Value = Currency> {
    prop_oneof![4 => Just(Currency::EUR), 1 => Just(Currency::JPY), 1 => Just(Currency::BTC)]
}

/// Mostly the three funded players; sometimes unknown ids (0, 5) or late registrations.
fn player() -> impl Strategy<Value = PlayerId> {
    prop_oneof![8 => (1u64..=3).prop_map(PlayerId), 1 => (0u64..=5).prop_map(PlayerId)]
}

/// How far back a reference or retry may point.
const BACK: u8 = 12;

/// A reference to the request `offset` steps back, resolved in `envelopes`.
fn placeholder(offset: u8) -> ExtId {
    ExtId::new(&format!("back-{offset}")).unwrap()
}

fn amount() -> impl Strategy<Value = Amount> {
    prop_oneof![
        1 => (-3i64..=0).prop_map(Amount::from_minor),
        8 => (1i64..=3_000).prop_map(Amount::from_minor),
        1 => Just(Amount::from_minor(i64::MAX)),
    ]
}

fn tx_ref() -> impl Strategy<Value = TxRef> {
    (1u8..=BACK).prop_map(|offset| TxRef {
        source: PLACEHOLDER_SOURCE,
        id: placeholder(offset),
    })
}

const PLACEHOLDER_SOURCE: SourceId = SourceId(u32::MAX);

fn limit_kind() -> impl Strategy<Value = LimitKind> {
    let metric = prop_oneof![
        Just(LimitMetric::Deposit),
        Just(LimitMetric::Loss),
        Just(LimitMetric::Wager)
    ];
    let period = prop_oneof![
        Just(LimitPeriod::Day),
        Just(LimitPeriod::Week),
        Just(LimitPeriod::Month)
    ];
    (metric, period).prop_map(|(metric, period)| LimitKind { metric, period })
}

fn gaming_command() -> impl Strategy<Value = Command> {
    let round = (0u8..6, 0u8..3).prop_map(|(r, g)| round(r, g));
    prop_oneof![
        6 => (player(), currency(), amount(), round.clone(), any::<bool>()).prop_map(|(player, currency, amount, round, close_round)| {
            Command::from(Bet { player, currency, amount, round, close_round })
        }),
        5 => (player(), currency(), amount(), round.clone(), 0u8..3, any::<bool>()).prop_map(|(player, currency, amount, round, kind, close_round)| {
            let kind = [WinKind::Regular, WinKind::Jackpot, WinKind::Promotional][kind as usize];
            Command::from(Win { player, currency, amount, round, kind, close_round, bet: None })
        }),
        2 => (player(), 1u8..=BACK).prop_map(|(player, n)| Command::Gaming(gaming::Command::Rollback { player, bet: placeholder(n) })),
        1 => (player(), round).prop_map(|(player, round)| Command::Gaming(gaming::Command::EndRound { player, round })),
    ]
}

fn payment_command() -> impl Strategy<Value = Command> {
    prop_oneof![
        3 => (player(), currency(), amount()).prop_map(|(player, currency, amount)| Command::Payments(payments::Command::DepositInitiate { player, currency, amount })),
        3 => tx_ref().prop_map(|deposit| Command::Payments(payments::Command::DepositConfirm { deposit })),
        1 => tx_ref().prop_map(|deposit| Command::Payments(payments::Command::DepositFail { deposit })),
        2 => (player(), currency(), amount()).prop_map(|(player, currency, amount)| Command::Payments(payments::Command::WithdrawalRequest { player, currency, amount })),
        1 => tx_ref().prop_map(|withdrawal| Command::Payments(payments::Command::WithdrawalApprove { withdrawal })),
        1 => tx_ref().prop_map(|withdrawal| Command::Payments(payments::Command::WithdrawalReject { withdrawal })),
        1 => tx_ref().prop_map(|withdrawal| Command::Payments(payments::Command::WithdrawalComplete { withdrawal })),
        1 => (player(), currency(), -2_000i64..2_000).prop_map(|(player, currency, minor)| Command::Payments(payments::Command::Adjust {
            player,
            currency,
            amount: Amount::from_minor(minor),
            reason: Reason::new("test").unwrap(),
            operator: OperatorId(1),
        })),
        1 => (player(), 0u8..3, any::<bool>()).prop_map(|(player, n, place)| {
            let (hold, reason, operator) = (ExtId::new(&format!("case-{n}")).unwrap(), Reason::new("test").unwrap(), OperatorId(1));
            Command::Payments(if place {
                payments::Command::HoldWithdrawals { player, hold, reason, operator }
            } else {
                payments::Command::ReleaseWithdrawals { player, hold, reason, operator }
            })
        }),
    ]
}

fn account_command() -> impl Strategy<Value = Command> {
    let hours = 1u64..72;
    prop_oneof![
        1 => currency().prop_map(|currency| Command::Players(players::Command::RegisterPlayer { currency, jurisdiction: Jurisdiction::new("MT").unwrap() })),
        1 => (player(), 0u8..3).prop_map(|(player, s)| Command::Players(players::Command::SetAccountStatus {
            player,
            status: [AccountStatus::Active, AccountStatus::Suspended, AccountStatus::Closed][s as usize],
            operator: OperatorId(1),
        })),
        1 => (player(), hours.clone()).prop_map(|(player, h)| Command::Rg(rg::Command::SelfExclude { player, until_ms: T0 + h * HOUR_MS })),
        1 => (player(), hours).prop_map(|(player, h)| Command::Rg(rg::Command::TimeOut { player, until_ms: T0 + h * HOUR_MS })),
        1 => (player(), any::<bool>()).prop_map(|(player, ok)| Command::Players(players::Command::SetKyc { player, level: if ok { KycLevel::Verified } else { KycLevel::Pending } })),
        3 => (player(), currency(), limit_kind(), proptest::option::of(0i64..5_000)).prop_map(|(player, currency, limit, amount)| {
            Command::Rg(rg::Command::SetLimit { player, currency, limit, amount: amount.map(Amount::from_minor) })
        }),
    ]
}

fn bonus_command() -> impl Strategy<Value = Command> {
    prop_oneof![
        3 => (player(), currency(), amount(), 0i64..5_000, 0u8..=120, 0i64..3_000, 1u64..100).prop_map(
            |(player, currency, amount, wagering, pct, cap, hours)| Command::from(BonusGrant {
                player,
                currency,
                amount,
                wagering: Amount::from_minor(wagering),
                contributions: vec![(GameCode::new("g0").unwrap(), pct.min(100)), (GameCode::new("g1").unwrap(), 10)],
                default_contribution_pct: pct,
                conversion_cap: Amount::from_minor(cap),
                expires_at_ms: T0 + hours * HOUR_MS,
            })
        ),
        3 => (player(), currency(), amount(), 0i64..5_000, 0i64..3_000, 1u64..100, proptest::option::of(1i64..2_000)).prop_map(
            |(player, currency, amount, wagering, cap, hours, max_bet)| Command::Bonus(bonus::Command::GrantQueued {
                grant: BonusGrant {
                    player,
                    currency,
                    amount,
                    wagering: Amount::from_minor(wagering),
                    contributions: vec![(GameCode::new("g0").unwrap(), 50)],
                    default_contribution_pct: 100,
                    conversion_cap: Amount::from_minor(cap),
                    expires_at_ms: T0 + hours * HOUR_MS,
                },
                max_bet: max_bet.map(Amount::from_minor),
            })
        ),
        1 => (player(), currency(), proptest::option::of(1u32..6)).prop_map(|(player, currency, serial)| {
            Command::Bonus(bonus::Command::ForfeitBonus { player, currency, serial })
        }),
        1 => (player(), currency()).prop_map(|(player, currency)| Command::Query(Query::Bonuses { player, currency })),
        1 => (player(), currency()).prop_map(|(player, currency)| Command::Bonus(bonus::Command::Forfeit { player, currency })),
        1 => (player(), currency()).prop_map(|(player, currency)| Command::Bonus(bonus::Command::Expire { player, currency })),
        1 => (player(), currency()).prop_map(|(player, currency)| Command::Query(Query::Balance { player, currency })),
        1 => tx_ref().prop_map(|tx| Command::Query(Query::Transaction { tx })),
    ]
}

/// Whose id a request uses.
#[derive(Clone, Copy, Debug)]
enum IdChoice {
    /// A new id.
    Fresh,
    /// Exactly the request `n` steps back, again (a retry).
    Retry(u8),
    /// The id of the request `n` steps back with this step's command (a conflict, mostly).
    Reuse(u8),
}

/// An operator's award of one of the setup's pools.
fn jackpot_command() -> impl Strategy<Value = Command> {
    (0usize..2, player()).prop_map(|(pool, player)| {
        Command::Jackpots(jackpots::Command::Award {
            pool: JackpotCode::new(["eur", "jpy"][pool]).unwrap(),
            player,
            operator: OperatorId(1),
        })
    })
}

fn step() -> impl Strategy<Value = Step> {
    let command = prop_oneof![
        10 => gaming_command(),
        4 => payment_command(),
        3 => account_command(),
        2 => bonus_command(),
        1 => jackpot_command(),
    ];
    let id = prop_oneof![
        8 => Just(IdChoice::Fresh),
        1 => (1u8..=BACK).prop_map(IdChoice::Retry),
        1 => (1u8..=BACK).prop_map(IdChoice::Reuse),
    ];
    let request = (0u32..2, id, command).prop_map(|(source, id, command)| (SourceId(source), id, command));
    prop_oneof![
        24 => request.prop_map(|(source, id, command)| Step::Apply(source, id, command)),
        2 => (0u32..2, payment_flow()).prop_map(|(source, flow)| Step::Flow(SourceId(source), flow)),
        2 => (0u64..30 * HOUR_MS).prop_map(Step::Wait),
    ]
}

/// A deposit or withdrawal followed through some of its states.
fn payment_flow() -> impl Strategy<Value = Vec<Command>> {
    let back = |n: u8| TxRef {
        source: PLACEHOLDER_SOURCE,
        id: placeholder(n),
    };
    let start = prop_oneof![
        (player(), currency(), amount()).prop_map(|(player, currency, amount)| (
            true,
            Command::Payments(payments::Command::DepositInitiate {
                player,
                currency,
                amount
            })
        )),
        (player(), currency(), amount()).prop_map(|(player, currency, amount)| (
            false,
            Command::Payments(payments::Command::WithdrawalRequest {
                player,
                currency,
                amount
            })
        )),
    ];
    (start, 0u8..4).prop_map(move |((deposit, first), ending)| {
        let rest = match (deposit, ending) {
            (true, 0) => vec![Command::Payments(payments::Command::DepositFail { deposit: back(1) })],
            (true, _) => vec![Command::Payments(payments::Command::DepositConfirm {
                deposit: back(1),
            })],
            (false, 0) => vec![Command::Payments(payments::Command::WithdrawalReject {
                withdrawal: back(1),
            })],
            (false, 1) => vec![
                Command::Payments(payments::Command::WithdrawalApprove { withdrawal: back(1) }),
                Command::Payments(payments::Command::WithdrawalReject { withdrawal: back(2) }),
            ],
            (false, _) => vec![
                Command::Payments(payments::Command::WithdrawalApprove { withdrawal: back(1) }),
                Command::Payments(payments::Command::WithdrawalComplete { withdrawal: back(2) }),
            ],
        };
        std::iter::once(first).chain(rest).collect()
    })
}

/// Resolves placeholders against the requests made so far.
fn resolve(source: SourceId, id: IdChoice, command: Command, history: &[Request]) -> Request {
    let back = |n: u8| history.len().checked_sub(usize::from(n)).map(|i| &history[i]);
    let fresh = ExtId::new(&format!("s{}", history.len())).unwrap();
    let (source, id) = match id {
        IdChoice::Retry(n) if back(n).is_some() => return back(n).unwrap().clone(),
        IdChoice::Reuse(n) if back(n).is_some() => (back(n).unwrap().source, back(n).unwrap().id.clone()),
        _ => (source, fresh),
    };
    let target = |placeholder: &ExtId| {
        let offset: u8 = placeholder.as_str().trim_start_matches("back-").parse().unwrap();
        back(offset).map_or(TxRef { source, id: ext_id(0) }, |r| TxRef {
            source: r.source,
            id: r.id.clone(),
        })
    };
    let command = match command {
        Command::Payments(payments::Command::DepositConfirm { deposit }) => {
            Command::Payments(payments::Command::DepositConfirm {
                deposit: target(&deposit.id),
            })
        }
        Command::Payments(payments::Command::DepositFail { deposit }) => {
            Command::Payments(payments::Command::DepositFail {
                deposit: target(&deposit.id),
            })
        }
        Command::Payments(payments::Command::WithdrawalApprove { withdrawal }) => {
            Command::Payments(payments::Command::WithdrawalApprove {
                withdrawal: target(&withdrawal.id),
            })
        }
        Command::Payments(payments::Command::WithdrawalReject { withdrawal }) => {
            Command::Payments(payments::Command::WithdrawalReject {
                withdrawal: target(&withdrawal.id),
            })
        }
        Command::Payments(payments::Command::WithdrawalComplete { withdrawal }) => {
            Command::Payments(payments::Command::WithdrawalComplete {
                withdrawal: target(&withdrawal.id),
            })
        }
        Command::Query(Query::Transaction { tx }) => Command::Query(Query::Transaction { tx: target(&tx.id) }),
        Command::Gaming(gaming::Command::Rollback { player, bet }) => {
            // A rollback comes from the bet's own source.
            let bet = target(&bet);
            return Request {
                source: bet.source,
                id,
                command: Command::Gaming(gaming::Command::Rollback { player, bet: bet.id }),
            };
        }
        other => other,
    };
    Request { source, id, command }
}

/// Three funded players so that most random commands have something to act on.
fn setup() -> Vec<Request> {
    let operator = SourceId(9);
    let mut requests = jackpot_setup();
    for (n, currency) in [Currency::EUR, Currency::EUR, Currency::JPY].into_iter().enumerate() {
        let id = |kind: &str| ExtId::new(&format!("{kind}-{n}")).unwrap();
        let player = PlayerId(n as u64 + 1);
        let jurisdiction = Jurisdiction::new("MT").unwrap();
        requests.push(Request {
            source: operator,
            id: id("reg"),
            command: Command::Players(players::Command::RegisterPlayer { currency, jurisdiction }),
        });
        let amount = Amount::from_minor(5_000);
        requests.push(Request {
            source: operator,
            id: id("dep"),
            command: Command::Payments(payments::Command::DepositInitiate {
                player,
                currency,
                amount,
            }),
        });
        let deposit = TxRef {
            source: operator,
            id: id("dep"),
        };
        requests.push(Request {
            source: operator,
            id: id("ok"),
            command: Command::Payments(payments::Command::DepositConfirm { deposit }),
        });
    }
    requests
}

/// An admin operator and two jackpot pools over the streams' games from
/// both sources: EUR (g0, g1; 5 % of each stake, a must-drop cap a few
/// bets above its seed, so drops happen) and JPY (g2; no seed, no cap).
fn jackpot_setup() -> Vec<Request> {
    let admin = Command::Access(access::Command::CreateOperator {
        token: TokenHash([7; 32]),
        role: engine::Role::Admin,
        name: Name::new("admin").unwrap(),
        operator: OperatorId::SYSTEM,
    });
    let covered = |games: &[u8]| -> Vec<jackpots::CoveredGame> {
        (0u32..2)
            .flat_map(|source| {
                games.iter().map(move |g| jackpots::CoveredGame {
                    aggregator: SourceId(source),
                    code: GameCode::new(&format!("g{g}")).unwrap(),
                })
            })
            .collect()
    };
    let pool = |code: &str, currency, games: &[u8], bp, seed, cap: Option<i64>| {
        Command::Jackpots(jackpots::Command::CreatePool {
            pool: Box::new(jackpots::Pool {
                code: JackpotCode::new(code).unwrap(),
                name: Title::new("Pool").unwrap(),
                currency,
                games: covered(games),
                contribution_bp: bp,
                seed: Amount::from_minor(seed),
                must_drop: cap.map(Amount::from_minor),
            }),
            operator: OperatorId(1),
        })
    };
    [
        admin,
        pool("eur", Currency::EUR, &[0, 1], 500, 1_000, Some(1_300)),
        pool("jpy", Currency::JPY, &[2], 1_000, 0, None),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, command)| Request {
        source: SourceId(0),
        id: ExtId::new(&format!("jackpot-setup-{n}")).unwrap(),
        command,
    })
    .collect()
}

/// Turns steps into envelopes with increasing seq and time.
fn envelopes(steps: &[Step]) -> Vec<Envelope> {
    let mut time_ms = T0;
    let mut history: Vec<Request> = setup();
    let mut out: Vec<Envelope> = history
        .iter()
        .zip(1..)
        .map(|(request, seq)| Envelope {
            seq,
            time_ms,
            request: request.clone(),
        })
        .collect();
    for step in steps {
        match step {
            Step::Wait(ms) => time_ms += ms,
            Step::Apply(source, id, command) => {
                let request = resolve(*source, *id, command.clone(), &history);
                history.push(request.clone());
                out.push(Envelope {
                    seq: out.len() as u64 + 1,
                    time_ms,
                    request,
                });
            }
            Step::Flow(source, commands) => {
                for command in commands {
                    let request = resolve(*source, IdChoice::Fresh, command.clone(), &history);
                    history.push(request.clone());
                    out.push(Envelope {
                        seq: out.len() as u64 + 1,
                        time_ms,
                        request,
                    });
                }
            }
        }
    }
    out
}

/// 1,000 streams per property in CI; `PROPTEST_CASES` raises it.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Guards the properties against vacuity: the generated streams must
/// actually move money through every path, not just collect rejections.
#[test]
fn streams_exercise_every_money_path() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::BTreeMap;
    let mut runner = TestRunner::deterministic();
    let mut moved: BTreeMap<&'static str, u32> = BTreeMap::new();
    for _ in 0..300 {
        let steps = prop::collection::vec(step(), 100..250)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let mut ledger = Ledger::new(Config::default());
        for envelope in envelopes(&steps) {
            let outcome = ledger.apply(&envelope);
            // The pools' three ways out, counted under their own names.
            let jackpot = match &outcome {
                Outcome::JackpotDropped(_) => Some("jackpot_drop"),
                Outcome::JackpotPaid(_) if envelope.request.command.kind() == "win" => Some("jackpot_win"),
                Outcome::JackpotPaid(_) => Some("jackpot_award"),
                _ => None,
            };
            if let Some(jackpot) = jackpot {
                *moved.entry(jackpot).or_default() += 1;
            }
            if let Outcome::Moved(receipt) = outcome {
                let kind = envelope.request.command.kind();
                let nonzero = receipt.cash_delta.minor() != 0 || receipt.bonus_delta.minor() != 0;
                // Completing a withdrawal moves reserved, not cash or bonus.
                let completes = kind == "withdrawal_complete";
                *moved.entry(kind).or_default() += u32::from(nonzero || completes);
            }
        }
    }
    let paths = [
        "bet",
        "win",
        "rollback",
        "deposit_confirm",
        "withdrawal_request",
        "withdrawal_reject",
        "adjust",
    ];
    for kind in paths
        .into_iter()
        .chain(["withdrawal_complete", "bonus_grant", "bonus_forfeit"])
        .chain(["jackpot_drop", "jackpot_win", "jackpot_award"])
    {
        assert!(
            moved.get(kind).copied().unwrap_or(0) >= 5,
            "{kind} rarely moved money: {moved:?}"
        );
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn conservation_holds_after_every_command(steps in prop::collection::vec(step(), 1..250)) {
        let mut ledger = Ledger::new(Config::default());
        for envelope in envelopes(&steps) {
            ledger.apply(&envelope);
            if let Err(error) = ledger.check_conservation() {
                return Err(TestCaseError::fail(format!("after seq {} ({:?}): {error}", envelope.seq, envelope.request.command)));
            }
        }
    }

    #[test]
    fn replay_gives_the_same_outcomes_and_digest(steps in prop::collection::vec(step(), 1..250)) {
        let envelopes = envelopes(&steps);
        let mut first = Ledger::new(Config::default());
        let mut second = Ledger::new(Config::default());
        for envelope in &envelopes {
            prop_assert_eq!(first.apply(envelope), second.apply(envelope), "seq {}", envelope.seq);
        }
        prop_assert_eq!(first.digest(), second.digest());
        for &currency in Currency::ALL {
            prop_assert_eq!(first.flows(currency), second.flows(currency));
        }
    }

    #[test]
    fn a_retry_returns_the_identical_outcome_and_changes_nothing(steps in prop::collection::vec(step(), 1..250)) {
        let mut ledger = Ledger::new(Config::default());
        let mut seq = 0;
        for envelope in envelopes(&steps) {
            seq += 1;
            let outcome = ledger.apply(&Envelope { seq, ..envelope.clone() });
            if envelope.request.command.is_read_only() {
                continue;
            }
            let digest = ledger.digest();
            seq += 1;
            let retried = ledger.apply(&Envelope { seq, ..envelope.clone() });
            prop_assert_eq!(&retried, &outcome, "retry of {:?}", envelope.request.command);
            prop_assert_eq!(ledger.digest(), digest, "a retry changed the state");
            if let Outcome::Moved(receipt) = &outcome {
                prop_assert!(receipt.balances.cash.minor() >= 0 && receipt.balances.bonus.minor() >= 0);
            }
        }
        prop_assert!(ledger.check_conservation().is_ok());
    }
}

/// A ledger configuration with tiny retention, so that snapshots hold
/// evicted requests, pinned open payments and forgotten rounds.
fn small_config() -> Config {
    Config {
        idempotency_len_max: 40,
        rounds_open_max: 8,
        ..Config::default()
    }
}

/// Fewer cases than the in-memory properties: every case writes a journal
/// and snapshots with real fsyncs.
fn durable_config() -> ProptestConfig {
    ProptestConfig {
        cases: (config().cases / 16).max(16),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(durable_config())]

    /// Random streams cut into random batches, snapshots taken (and the
    /// journal behind them retired) at random points, a crash at a random
    /// point that tears the batch being written, sometimes a damaged newest
    /// snapshot: recovery always gives the state of the acknowledged prefix.
    #[test]
    fn recovery_from_random_snapshots_and_crashes_equals_the_acknowledged_prefix(
        steps in prop::collection::vec(step(), 1..200),
        batch_lens in prop::collection::vec(1usize..24, 1..16),
        snapshot_after in prop::collection::vec(any::<bool>(), 1..8),
        crash_at in any::<prop::sample::Index>(),
        torn_len in any::<prop::sample::Index>(),
        retire in 0u8..3,
        small in any::<bool>(),
        damage_newest in any::<bool>(),
    ) {
        use engine::durable::{SnapshotPolicy, recover, take_snapshot};
        use engine::sequencer::{CommitSink, Committed};
        use journal::{FlushPolicy, JournalConfig, Retirement};

        let ledger_config = if small { small_config() } else { Config::default() };
        let journal_config = JournalConfig { segment_size_bytes: 8192, flush: FlushPolicy::Always };
        let policy = SnapshotPolicy {
            keep: 2,
            retire: [None, Some(Retirement::Archive), Some(Retirement::Remove)][retire as usize],
        };
        let envelopes = envelopes(&steps);
        let mut batches = Vec::new();
        let mut rest = &envelopes[..];
        for &len in batch_lens.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (batch, tail) = rest.split_at(len.min(rest.len()));
            batches.push(batch);
            rest = tail;
        }
        let acked = crash_at.index(batches.len() + 1);

        let dir = tempfile::tempdir().unwrap();
        let recovered = recover(dir.path(), ledger_config.clone(), journal_config).unwrap();
        let (mut ledger, mut sink) = (recovered.ledger, recovered.sink);
        let mut snapshots = 0;
        for (index, batch) in batches[..acked].iter().enumerate() {
            let committed: Vec<Committed> = batch
                .iter()
                .map(|envelope| Committed { envelope: envelope.clone(), outcome: ledger.apply(envelope) })
                .collect();
            sink.commit(&committed).unwrap();
            if snapshot_after[index % snapshot_after.len()] {
                let taken = take_snapshot(dir.path(), ledger_config.clone(), Some(sink.durable_seq().get()), policy).unwrap();
                snapshots += usize::from(taken.is_some());
            }
        }
        let (acked_seq, acked_digest) = (ledger.last_seq(), ledger.digest());

        // The crash: the next batch reaches the disk only in part.
        if let Some(batch) = batches.get(acked) {
            let (segment, offset) = (sink.journal().active_segment().to_path_buf(), sink.journal().write_offset_bytes());
            let appended = sink.journal().stats().batches;
            let committed: Vec<Committed> = batch
                .iter()
                .map(|envelope| Committed { envelope: envelope.clone(), outcome: ledger.apply(envelope) })
                .collect();
            sink.commit(&committed).unwrap();
            let journal = sink.journal();
            prop_assume!(journal.stats().batches == appended + 1);
            let (segment, offset) = if journal.active_segment() == segment { (segment, offset) } else { (journal.active_segment().to_path_buf(), 0) };
            let len = journal.write_offset_bytes() - offset;
            let keep = torn_len.index(len as usize) as u64;
            drop(sink);
            let mut bytes = std::fs::read(&segment).unwrap();
            // Sectors are the unit a write tears at (journal/FORMAT.md): the
            // sectors before the one holding byte `keep` reached the disk,
            // that one and the rest did not (they stay zero, as the segment
            // was prepared). The bytes of the batch before it that share the
            // first sector are intact (powersafe overwrite). The trailer is
            // always among the lost bytes, so the batch is never left whole.
            let sector = journal::format::SECTOR_SIZE_BYTES as u64;
            let lost_from = ((offset + keep) / sector * sector).max(offset);
            bytes[lost_from as usize..(offset + len) as usize].fill(0);
            std::fs::write(&segment, bytes).unwrap();
        } else {
            drop(sink);
        }
        let damaged = damage_newest && snapshots >= 2;
        if damaged {
            let (_, newest) = engine::snapshot::list(dir.path()).unwrap().remove(0);
            let mut bytes = std::fs::read(&newest).unwrap();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x10;
            std::fs::write(&newest, bytes).unwrap();
        }

        let recovered = recover(dir.path(), ledger_config, journal_config)
            .map_err(|e| TestCaseError::fail(format!("recovery failed: {e}")))?;
        prop_assert_eq!(recovered.report.last_seq, acked_seq);
        prop_assert_eq!(recovered.report.digest, acked_digest);
        prop_assert_eq!(recovered.ledger.digest(), acked_digest);
        prop_assert!(recovered.ledger.check_conservation().is_ok());
        prop_assert_eq!(recovered.report.snapshot.is_some(), snapshots > 0);
        prop_assert_eq!(recovered.report.skipped_snapshots.len(), usize::from(damaged));
    }
}
