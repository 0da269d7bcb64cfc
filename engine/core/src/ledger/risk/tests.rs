//! The risk commands' checks, their encoding, and what the ledger answers.

use super::*;
use crate::codec::{from_bytes, to_bytes};
use crate::command::{Command as AnyCommand, Envelope, Request};
use crate::ids::{ExtId, SourceId};
use crate::ledger::Config;

fn open(alerts: Vec<u64>, summary: &str) -> Command {
    Command::Case(CaseCommand::Open {
        player: PlayerId(1),
        alerts,
        summary: RiskText::new(summary),
        operator: OperatorId(2),
    })
}

fn update(case: u64, update: CaseUpdate, text: &str) -> Command {
    Command::Case(CaseCommand::Update {
        case,
        update,
        text: RiskText::new(text),
        operator: OperatorId(2),
    })
}

fn rule() -> RuleSettings {
    RuleSettings {
        rule: RiskText::new("large_win"),
        enabled: true,
        window_ms: 0,
        count_min: 1,
        percent: 0,
        amounts: vec![(Currency::EUR, Amount::from_minor(200_000))],
    }
}

#[test]
fn case_commands_are_checked_for_size_and_length() {
    assert_eq!(open(vec![1, 2], "two deposits").validate(), Ok(()));
    assert_eq!(open(vec![], "none").validate(), Err(Rejection::InvalidCase));
    assert_eq!(open(vec![0], "zero").validate(), Err(Rejection::InvalidCase));
    assert_eq!(open(vec![2, 1], "unsorted").validate(), Err(Rejection::InvalidCase));
    assert_eq!(open(vec![1, 1], "repeated").validate(), Err(Rejection::InvalidCase));
    let many: Vec<u64> = (1..=CASE_ALERTS_MAX as u64 + 1).collect();
    assert_eq!(open(many, "too many").validate(), Err(Rejection::InvalidCase));
    assert_eq!(open(vec![1], "  ").validate(), Err(Rejection::InvalidCase));
    assert_eq!(
        open(vec![1], &"x".repeat(SUMMARY_MAX + 1)).validate(),
        Err(Rejection::InvalidCase)
    );
    assert_eq!(open(vec![1], &"x".repeat(SUMMARY_MAX)).validate(), Ok(()));

    assert_eq!(update(7, CaseUpdate::Note, "line one\nline two").validate(), Ok(()));
    assert_eq!(
        update(0, CaseUpdate::Note, "no case").validate(),
        Err(Rejection::InvalidCase)
    );
    assert_eq!(
        update(7, CaseUpdate::Note, "bell\u{7}").validate(),
        Err(Rejection::InvalidCase)
    );
    let long = "y".repeat(NOTE_MAX + 1);
    let resolve = CaseUpdate::Resolve {
        outcome: CaseOutcome::Reported,
    };
    assert_eq!(update(7, resolve, &long).validate(), Err(Rejection::InvalidCase));
}

#[test]
fn rule_settings_are_checked_for_range() {
    let check = |change: fn(&mut RuleSettings), expect: Result<(), Rejection>| {
        let mut settings = rule();
        change(&mut settings);
        let command = Command::SetRule {
            settings: Box::new(settings),
            operator: OperatorId(2),
        };
        assert_eq!(command.validate(), expect);
    };
    let bad = Err(Rejection::InvalidRiskRule);
    check(|_| {}, Ok(()));
    check(|s| s.rule = RiskText::new("Large-Win"), bad);
    check(|s| s.rule = RiskText::new(""), bad);
    check(|s| s.window_ms = WINDOW_MS_MAX + 1, bad);
    check(|s| s.count_min = 0, bad);
    check(|s| s.count_min = COUNT_MAX + 1, bad);
    check(|s| s.percent = 101, bad);
    check(|s| s.amounts[0].1 = Amount::ZERO, bad);
    check(|s| s.amounts.push((Currency::EUR, Amount::from_minor(1))), bad);
    check(|s| s.amounts.clear(), Ok(()));
}

#[test]
fn commands_round_trip_through_the_codec() {
    let commands = [
        open(vec![3, 9], "structuring"),
        update(
            5,
            CaseUpdate::Assign {
                assignee: OperatorId(4),
            },
            "assigned to operator 4",
        ),
        update(5, CaseUpdate::Note, "called the player"),
        update(5, CaseUpdate::Action { seq: 12 }, "suspended the player"),
        update(
            5,
            CaseUpdate::Resolve {
                outcome: CaseOutcome::FalsePositive,
            },
            "a salary",
        ),
        Command::SetRule {
            settings: Box::new(rule()),
            operator: OperatorId(2),
        },
    ];
    for command in commands {
        let command = AnyCommand::Risk(command);
        assert_eq!(from_bytes::<AnyCommand>(&to_bytes(&command)), Ok(command));
    }
    let opened = Outcome::CaseOpened { case: 42 };
    assert_eq!(from_bytes::<Outcome>(&to_bytes(&opened)), Ok(opened));
}

#[test]
fn the_ledger_names_a_case_by_its_opening_record_and_refuses_bad_input() {
    let mut ledger = Ledger::new(Config::default());
    let mut seq = 0;
    let mut send = |id: &str, command: Command| {
        seq += 1;
        ledger.apply(&Envelope {
            seq,
            time_ms: 1_000,
            request: Request {
                source: SourceId(9),
                id: ExtId::new(id).unwrap(),
                command: AnyCommand::Risk(command),
            },
        })
    };
    assert_eq!(send("a", open(vec![1], "one")), Outcome::CaseOpened { case: 1 });
    assert_eq!(send("b", update(1, CaseUpdate::Note, "a note")), Outcome::Accepted);
    assert_eq!(
        send("c", open(vec![], "none")),
        Outcome::Rejected(Rejection::InvalidCase)
    );
    // A retry is answered with the case it opened, not a new one.
    assert_eq!(send("a", open(vec![1], "one")), Outcome::CaseOpened { case: 1 });
    let mut bad = rule();
    bad.percent = 200;
    let set = Command::SetRule {
        settings: Box::new(bad),
        operator: OperatorId(2),
    };
    assert_eq!(send("d", set), Outcome::Rejected(Rejection::InvalidRiskRule));
}
