//! The analytics commands' checks, their encoding, and what the ledger answers.

use super::*;
use crate::codec::{from_bytes, to_bytes};
use crate::command::{Command as AnyCommand, Envelope, Request};
use crate::ids::{ExtId, Jurisdiction, SourceId};
use crate::ledger::Config;
use crate::ledger::players;
use crate::money::Currency;

fn alert(score: u32, markers: Vec<MarkerPoints>, summary: &str) -> Command {
    Command::RaiseMarkerAlert {
        player: PlayerId(1),
        score,
        markers,
        summary: RiskText::new(summary),
        as_of_seq: 7,
    }
}

fn points(kind: MarkerKind, points: u32) -> MarkerPoints {
    MarkerPoints { kind, points }
}

fn intervene(player: u64, message: &str) -> Command {
    Command::Intervene {
        player: PlayerId(player),
        kind: InterventionKind::LimitPrompt,
        message: RiskText::new(message),
        alert: 0,
        operator: OperatorId(2),
    }
}

#[test]
fn commands_are_checked_for_size_and_range() {
    let night = points(MarkerKind::NightPlay, 20);
    let bad = Err(Rejection::InvalidMarkerAlert);
    assert_eq!(alert(20, vec![night], "night play").validate(), Ok(()));
    assert_eq!(alert(0, vec![night], "no score").validate(), bad);
    assert_eq!(alert(101, vec![night], "too high").validate(), bad);
    assert_eq!(alert(20, vec![], "no markers").validate(), bad);
    assert_eq!(alert(40, vec![night, night], "repeated").validate(), bad);
    assert_eq!(
        alert(20, vec![points(MarkerKind::NightPlay, 0)], "no points").validate(),
        bad
    );
    assert_eq!(alert(20, vec![night], " ").validate(), bad);
    assert_eq!(alert(20, vec![night], &"x".repeat(MESSAGE_MAX + 1)).validate(), bad);
    assert_eq!(intervene(1, "please set a limit").validate(), Ok(()));
    assert_eq!(
        intervene(1, "bell\u{7}").validate(),
        Err(Rejection::InvalidIntervention)
    );
    let answer = |intervention| Command::AnswerIntervention {
        player: PlayerId(1),
        intervention,
        answer: InterventionAnswer::Declined,
    };
    assert_eq!(answer(3).validate(), Ok(()));
    assert_eq!(answer(0).validate(), Err(Rejection::InvalidIntervention));
    let close = |alert, text: &str| Command::CloseMarkerAlert {
        alert,
        text: RiskText::new(text),
        operator: OperatorId(2),
    };
    assert_eq!(close(4, "spoke to the player").validate(), Ok(()));
    assert_eq!(close(0, "no alert").validate(), bad);
}

#[test]
fn names_round_trip() {
    for kind in MarkerKind::ALL {
        assert_eq!(MarkerKind::from_name(kind.name()), Some(kind));
    }
    for kind in InterventionKind::ALL {
        assert_eq!(InterventionKind::from_name(kind.name()), Some(kind));
    }
    assert_eq!(MarkerKind::from_name("nope"), None);
    assert_eq!(
        InterventionAnswer::from_name("accepted"),
        Some(InterventionAnswer::Accepted)
    );
}

#[test]
fn commands_round_trip_through_the_codec() {
    let commands = [
        alert(
            45,
            vec![
                points(MarkerKind::LossChasing, 25),
                points(MarkerKind::CancelledWithdrawals, 20),
            ],
            "deposits after losses",
        ),
        intervene(1, "take a break?"),
        Command::AnswerIntervention {
            player: PlayerId(1),
            intervention: 9,
            answer: InterventionAnswer::Accepted,
        },
        Command::CloseMarkerAlert {
            alert: 9,
            text: RiskText::new("reviewed"),
            operator: OperatorId(2),
        },
    ];
    for command in commands {
        let command = AnyCommand::Analytics(command);
        assert_eq!(from_bytes::<AnyCommand>(&to_bytes(&command)), Ok(command));
    }
    for outcome in [
        Outcome::MarkerAlertRaised { alert: 42 },
        Outcome::InterventionIssued { intervention: 43 },
        Outcome::Rejected(Rejection::InvalidMarkerAlert),
        Outcome::Rejected(Rejection::InvalidIntervention),
    ] {
        assert_eq!(from_bytes::<Outcome>(&to_bytes(&outcome)), Ok(outcome));
    }
}

#[test]
fn the_ledger_names_alerts_and_interventions_by_their_records_and_refuses_bad_input() {
    let mut ledger = Ledger::new(Config::default());
    let mut seq = 0;
    let mut send = |id: &str, command: AnyCommand| {
        seq += 1;
        ledger.apply(&Envelope {
            seq,
            time_ms: 1_000,
            request: Request {
                source: SourceId(9),
                id: ExtId::new(id).unwrap(),
                command,
            },
        })
    };
    let register = players::Command::RegisterPlayer {
        currency: Currency::EUR,
        jurisdiction: Jurisdiction::new("MT").unwrap(),
    };
    assert!(send("reg", register.into()).is_ok());
    let raise = alert(20, vec![points(MarkerKind::NightPlay, 20)], "night play");
    assert_eq!(
        send("a", AnyCommand::Analytics(raise.clone())),
        Outcome::MarkerAlertRaised { alert: 2 }
    );
    assert_eq!(
        send("b", AnyCommand::Analytics(intervene(1, "a limit?"))),
        Outcome::InterventionIssued { intervention: 3 }
    );
    // A retry names the same intervention, not a new one.
    assert_eq!(
        send("b", AnyCommand::Analytics(intervene(1, "a limit?"))),
        Outcome::InterventionIssued { intervention: 3 }
    );
    assert_eq!(
        send("c", AnyCommand::Analytics(intervene(99, "nobody"))),
        Outcome::Rejected(Rejection::UnknownPlayer)
    );
    assert_eq!(
        send("d", AnyCommand::Analytics(alert(0, vec![], "bad"))),
        Outcome::Rejected(Rejection::InvalidMarkerAlert)
    );
}
