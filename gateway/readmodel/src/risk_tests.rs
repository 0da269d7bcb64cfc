//! The risk projection's rules on ledger-made histories: quiet on the
//! workload's normal play, and each crafted pattern raising its alert with
//! the records it rests on. (Beside `risk`, not inside it: the tests open
//! the store, whose migrations name `risk`.)

use engine::workload::Workload;
use engine::{Config, Envelope, Ledger, Request};

use engine::command::Command;
use engine::sequencer::Committed;
use engine::{Currency, PlayerId, gaming, payments};
use rusqlite::Connection;

use crate::risk::*;

const T0: u64 = 1_780_000_000_000;
const DAY_MS: u64 = 86_400_000;

/// A ledger and a read-model file, records projected one by one.
struct Projection {
    ledger: Ledger,
    connection: Connection,
    time_ms: u64,
    _dir: tempfile::TempDir,
}

impl Projection {
    fn new() -> Projection {
        let dir = tempfile::tempdir().unwrap();
        let connection = crate::store::open_as(&crate::store::path(dir.path()), Some("boot")).unwrap();
        Projection {
            ledger: Ledger::new(Config::default()),
            connection,
            time_ms: T0,
            _dir: dir,
        }
    }

    /// Applies `requests`, `step_ms` apart, in one transaction.
    fn run(&mut self, requests: impl IntoIterator<Item = Request>, step_ms: u64) {
        let tx = self.connection.transaction().unwrap();
        let mut deferred = crate::Deferred::default();
        for request in requests {
            if self.ledger.answer(&request).is_some() {
                continue;
            }
            self.time_ms += step_ms;
            let envelope = Envelope {
                seq: self.ledger.last_seq() + 1,
                time_ms: self.time_ms,
                request,
            };
            let outcome = self.ledger.apply(&envelope);
            let committed = Committed { envelope, outcome };
            crate::project(&tx, &committed, self.time_ms, &mut deferred).unwrap();
        }
        deferred.write(&tx).unwrap();
        tx.commit().unwrap();
    }

    fn alerts(&self) -> Vec<AlertView> {
        let filter = AlertFilter {
            limit: u32::MAX,
            ..AlertFilter::default()
        };
        alerts(&self.connection, &filter).unwrap()
    }
}

#[test]
fn the_rules_raise_nothing_on_the_workloads_normal_play() {
    let mut projection = Projection::new();
    let mut workload = Workload::new(7, 200, Currency::EUR);
    // Funding: each player deposits 1,000,000.00 at once, which the
    // cumulative threshold rightly flags; the play starts a month later.
    let setup: Vec<Request> = workload.setup().collect();
    projection.run(setup, 10);
    let funded = projection.ledger.last_seq();
    let flagged = projection.alerts();
    assert_eq!(flagged.len(), 200, "one threshold alert per funded player");
    assert!(
        flagged
            .iter()
            .all(|a| a.rule == "cumulative_deposits" && a.evidence.len() == 1)
    );
    projection.time_ms += 31 * DAY_MS;
    // Then 40,000 requests of the mix, one a second (each player acts
    // about every 200 s): bets, wins, rollbacks, deposits, withdrawals.
    let stream: Vec<Request> = (0..40_000).map(|_| workload.next_request()).collect();
    projection.run(stream, 1_000);
    let kinds: i64 = projection
        .connection
        .query_row(
            "SELECT COUNT(DISTINCT kind) FROM movements WHERE seq > ?1",
            [funded as i64],
            |row| row.get(0),
        )
        .unwrap();
    assert!(
        kinds >= 5,
        "the stream moved money in every way it knows ({kinds} kinds)"
    );
    let raised: Vec<AlertView> = projection.alerts().into_iter().filter(|a| a.seq > funded).collect();
    assert_eq!(raised, Vec::new(), "no alert on normal play");
}

#[test]
fn a_burst_of_deposits_is_one_velocity_alert_with_every_deposit_as_evidence() {
    let mut projection = Projection::new();
    let mut workload = Workload::new(1, 1, Currency::EUR);
    let setup: Vec<Request> = workload.setup().collect();
    projection.run(setup, 10);
    projection.time_ms += 31 * DAY_MS;
    let player = PlayerId(1);
    let deposits = (0..7).map(|n| Request {
        source: engine::SourceId(1),
        id: engine::ExtId::new(&format!("burst-{n}")).unwrap(),
        command: Command::Payments(payments::Command::Deposit {
            player,
            currency: Currency::EUR,
            amount: engine::Amount::from_minor(10_000),
        }),
    });
    projection.run(deposits, 60_000);
    let velocity: Vec<AlertView> = projection
        .alerts()
        .into_iter()
        .filter(|a| a.rule == "deposit_velocity")
        .collect();
    assert_eq!(velocity.len(), 1, "{velocity:?}");
    assert_eq!(velocity[0].evidence.len(), 5, "the fifth deposit raised it");
    assert_eq!(velocity[0].amount_minor, 50_000);
    assert!(
        velocity[0]
            .evidence
            .iter()
            .all(|e| e.kind == "deposit" && e.amount_minor == 10_000)
    );
}

fn request(id: &str, command: Command) -> Request {
    Request {
        source: engine::SourceId(1),
        id: engine::ExtId::new(id).unwrap(),
        command,
    }
}

fn deposit(id: &str, minor: i64) -> Request {
    request(
        id,
        Command::Payments(payments::Command::Deposit {
            player: PlayerId(1),
            currency: Currency::EUR,
            amount: engine::Amount::from_minor(minor),
        }),
    )
}

fn withdrawal(id: &str, minor: i64) -> Request {
    request(
        id,
        Command::Payments(payments::Command::WithdrawalRequest {
            player: PlayerId(1),
            currency: Currency::EUR,
            amount: engine::Amount::from_minor(minor),
        }),
    )
}

fn bet(id: &str, minor: i64) -> Request {
    request(
        id,
        Command::Gaming(gaming::Command::Bet(engine::command::Bet {
            player: PlayerId(1),
            currency: Currency::EUR,
            amount: engine::Amount::from_minor(minor),
            round: engine::command::RoundRef {
                id: engine::RoundId::new(id).unwrap(),
                game: engine::GameCode::new("slots").unwrap(),
            },
            close_round: true,
        })),
    )
}

/// A player registered a month before the crafted history.
fn registered() -> Projection {
    let mut projection = Projection::new();
    let register = request(
        "reg-1",
        Command::Players(engine::players::Command::RegisterPlayer {
            currency: Currency::EUR,
            jurisdiction: engine::Jurisdiction::new("MT").unwrap(),
        }),
    );
    projection.run([register], 10);
    projection.time_ms += 31 * DAY_MS;
    projection
}

fn rules_raised(projection: &Projection) -> Vec<String> {
    projection.alerts().into_iter().map(|a| a.rule).collect()
}

#[test]
fn a_withdrawal_after_a_deposit_with_little_play_is_flagged_and_with_play_is_not() {
    let mut projection = registered();
    projection.run(
        [deposit("d1", 50_000), bet("b1", 4_000), withdrawal("w1", 40_000)],
        60_000,
    );
    let raised = projection.alerts();
    assert_eq!(rules_raised(&projection), ["little_play"]);
    let kinds: Vec<&str> = raised[0].evidence.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["deposit", "withdrawal_request"]);
    assert!(raised[0].summary.contains("4000 wagered"), "{}", raised[0].summary);

    let mut played = registered();
    played.run(
        [deposit("d1", 50_000), bet("b1", 6_000), withdrawal("w1", 40_000)],
        60_000,
    );
    assert_eq!(
        rules_raised(&played),
        Vec::<String>::new(),
        "12 % wagered is above 10 %"
    );
}

#[test]
fn deposit_then_bonus_then_a_withdrawal_without_wagering_is_bonus_abuse() {
    let mut projection = registered();
    let grant = request(
        "g1",
        Command::Bonus(engine::bonus::Command::Grant(engine::bonus::BonusGrant {
            player: PlayerId(1),
            currency: Currency::EUR,
            amount: engine::Amount::from_minor(10_000),
            wagering: engine::Amount::from_minor(100_000),
            contributions: Vec::new(),
            default_contribution_pct: 100,
            conversion_cap: engine::Amount::from_minor(10_000),
            expires_at_ms: projection.time_ms + 30 * DAY_MS,
        })),
    );
    projection.run(
        [deposit("d1", 10_000), grant, bet("b1", 1_000), withdrawal("w1", 9_000)],
        60_000,
    );
    let abuse: Vec<AlertView> = projection
        .alerts()
        .into_iter()
        .filter(|a| a.rule == "bonus_abuse")
        .collect();
    assert_eq!(abuse.len(), 1, "{:?}", projection.alerts());
    let kinds: Vec<&str> = abuse[0].evidence.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["deposit", "bonus_grant", "withdrawal_request"]);
    let score = score(&projection.connection, PlayerId(1)).unwrap();
    // 10.00 wagered is 10 % of the deposit (not little play) but 5 % of
    // deposit and bonus: bonus abuse alone.
    assert_eq!(score.score, 25, "{score:?}");
    assert_eq!(score.reasons[0].signal, "bonus_abuse");
}

fn deposit_in(id: &str, currency: Currency, minor: i64) -> Request {
    request(
        id,
        Command::Payments(payments::Command::Deposit {
            player: PlayerId(1),
            currency,
            amount: engine::Amount::from_minor(minor),
        }),
    )
}

#[test]
fn thresholds_sum_every_currency_at_the_rate_in_force_and_report_amounts_without_one() {
    let mut projection = registered();
    let rate = request(
        "fx-1",
        Command::Payments(payments::Command::SetFxRate {
            base: Currency::GBP,
            quote: Currency::EUR,
            rate_scaled: 115_000_000,
            effective_at_ms: T0,
            operator: engine::OperatorId(1),
        }),
    );
    projection.run([rate], 10);
    // EUR 1,000.00, CHF 500.00 (no rate to anything), then GBP 900.00.
    projection.run(
        [
            deposit_in("eur", Currency::EUR, 100_000),
            deposit_in("chf", Currency::CHF, 50_000),
            deposit_in("gbp", Currency::GBP, 90_000),
        ],
        60_000,
    );
    let alerts = projection.alerts();
    assert_eq!(rules_raised(&projection), ["cumulative_deposits"], "{alerts:#?}");
    let alert = &alerts[0];
    // Measured in GBP, the rule's amount in the currency that raised it:
    // 900.00 + 1,000.00 EUR at 1/1.15 (869.56) reach GBP 1,700.00.
    assert_eq!(alert.currency, "GBP");
    assert_eq!(alert.amount_minor, 90_000 + 86_956);
    let seen: Vec<(&str, i64, Option<i64>, Option<i64>)> = alert
        .evidence
        .iter()
        .map(|e| (e.currency.as_str(), e.amount_minor, e.rate_scaled, e.converted_minor))
        .collect();
    assert_eq!(
        seen,
        [
            ("EUR", 100_000, Some(86_956_521), Some(86_956)),
            ("CHF", 50_000, None, None),
            ("GBP", 90_000, None, Some(90_000)),
        ]
    );
    assert!(
        alert.summary.contains("1 amount(s) with no rate into GBP"),
        "{}",
        alert.summary
    );
    // Without the rate, EUR alone never reached a threshold.
    let mut plain = registered();
    plain.run(
        [
            deposit_in("eur", Currency::EUR, 100_000),
            deposit_in("gbp", Currency::GBP, 90_000),
        ],
        60_000,
    );
    assert_eq!(rules_raised(&plain), Vec::<String>::new());
}

#[test]
fn a_large_win_in_another_currency_is_converted_into_the_rules_currency() {
    let mut projection = registered();
    let eur_only = RuleSettings {
        amounts: vec![(Currency::EUR, 200_000)],
        ..rule(&projection.connection, Rule::LargeWin).unwrap()
    };
    set_rule(&projection.connection, &eur_only).unwrap();
    let rate = request(
        "fx-1",
        Command::Payments(payments::Command::SetFxRate {
            base: Currency::GBP,
            quote: Currency::EUR,
            rate_scaled: 120_000_000,
            effective_at_ms: T0,
            operator: engine::OperatorId(1),
        }),
    );
    let round = |id: &str| engine::command::RoundRef {
        id: engine::RoundId::new(id).unwrap(),
        game: engine::GameCode::new("slots").unwrap(),
    };
    let bet_gbp = request(
        "b-1",
        Command::Gaming(gaming::Command::Bet(engine::command::Bet {
            player: PlayerId(1),
            currency: Currency::GBP,
            amount: engine::Amount::from_minor(100),
            round: round("r-1"),
            close_round: false,
        })),
    );
    let win_gbp = request(
        "w-1",
        Command::Gaming(gaming::Command::Win(engine::command::Win {
            player: PlayerId(1),
            currency: Currency::GBP,
            amount: engine::Amount::from_minor(170_000),
            round: round("r-1"),
            kind: engine::command::WinKind::Regular,
            close_round: true,
            bet: None,
        })),
    );
    projection.run([rate, deposit_in("gbp", Currency::GBP, 1_000), bet_gbp, win_gbp], 10);
    let alerts = projection.alerts();
    let large: Vec<&AlertView> = alerts.iter().filter(|a| a.rule == "large_win").collect();
    assert_eq!(large.len(), 1, "{alerts:#?}");
    // GBP 1,700.00 at 1.20 = EUR 2,040.00, past EUR 2,000.00.
    assert_eq!(large[0].currency, "EUR");
    assert_eq!(large[0].amount_minor, 204_000);
    assert_eq!(large[0].evidence[0].rate_scaled, Some(120_000_000));
    assert_eq!(large[0].evidence[0].currency, "GBP");
}

fn case_command(id: &str, command: engine::risk::CaseCommand) -> Request {
    request(id, Command::Risk(engine::risk::Command::Case(command)))
}

fn update(id: &str, case: u64, update: engine::risk::CaseUpdate, text: &str) -> Request {
    case_command(
        id,
        engine::risk::CaseCommand::Update {
            case,
            update,
            text: engine::risk::RiskText::new(text),
            operator: engine::OperatorId(7),
        },
    )
}

#[test]
fn journaled_case_work_and_rule_settings_are_derived_and_stale_records_change_nothing() {
    use engine::risk::{CaseCommand, CaseOutcome, CaseUpdate, RiskText};
    let mut projection = registered();
    projection.run((0..5).map(|n| deposit(&format!("d-{n}"), 10_000)), 60_000);
    let alert = projection.alerts()[0].id;
    let open = |id: &str| {
        case_command(
            id,
            CaseCommand::Open {
                player: PlayerId(1),
                alerts: vec![alert],
                summary: RiskText::new("a burst of deposits"),
                operator: engine::OperatorId(7),
            },
        )
    };
    projection.run([open("open-1")], 1_000);
    let case = projection.ledger.last_seq();
    // A second opening on the same alert: the ledger takes it (it keeps no
    // cases), the projection finds the alert taken and changes nothing.
    projection.run([open("open-2")], 1_000);
    let stale = projection.ledger.last_seq();
    assert!(find_case(&projection.connection, stale).unwrap().is_none());
    let resolve = CaseUpdate::Resolve {
        outcome: CaseOutcome::NoAction,
    };
    projection.run(
        [
            update(
                "assign",
                case,
                CaseUpdate::Assign {
                    assignee: engine::OperatorId(9),
                },
                "assigned to operator 9",
            ),
            update("note", case, CaseUpdate::Note, "called the player"),
            update("nowhere", 999_999, CaseUpdate::Note, "no such case"),
            update("resolve", case, resolve, "salary deposits"),
            update("late", case, CaseUpdate::Note, "after the resolution"),
        ],
        1_000,
    );
    let file = case_file(&projection.connection, case).unwrap().unwrap();
    assert_eq!(file.case.id, case);
    assert_eq!(file.case.player, PlayerId(1));
    assert_eq!(file.case.assignee, Some(9));
    assert_eq!(
        (file.case.state.as_str(), file.case.outcome.as_deref()),
        ("resolved", Some("no_action"))
    );
    assert_eq!(file.alerts.len(), 1);
    let notes: Vec<(&str, &str)> = file.notes.iter().map(|n| (n.kind.as_str(), n.text.as_str())).collect();
    assert_eq!(
        notes,
        [
            ("opened", "a burst of deposits"),
            ("assigned", "assigned to operator 9"),
            ("note", "called the player"),
            ("resolved", "no_action: salary deposits"),
        ]
    );
    assert!(find_case(&projection.connection, 999_999).unwrap().is_none());

    let set = |id: &str, name: &str, count_min: u32| {
        request(
            id,
            Command::Risk(engine::risk::Command::SetRule {
                settings: Box::new(engine::risk::RuleSettings {
                    rule: RiskText::new(name),
                    enabled: false,
                    window_ms: 60_000,
                    count_min,
                    percent: 0,
                    amounts: vec![],
                }),
                operator: engine::OperatorId(7),
            }),
        )
    };
    let before = rule(&projection.connection, Rule::DepositVelocity).unwrap();
    // Refused by the ledger (count 0), and a name this build does not know:
    // neither changes a rule.
    projection.run(
        [set("bad", "deposit_velocity", 0), set("unknown", "no_such_rule", 3)],
        1_000,
    );
    assert_eq!(rule(&projection.connection, Rule::DepositVelocity).unwrap(), before);
    projection.run([set("good", "deposit_velocity", 3)], 1_000);
    let after = rule(&projection.connection, Rule::DepositVelocity).unwrap();
    assert_eq!(
        (
            after.enabled,
            after.window_ms,
            after.count_min,
            after.set_by,
            after.set_ms
        ),
        (false, 60_000, 3, Some(7), Some(projection.time_ms))
    );
}
