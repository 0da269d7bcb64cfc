//! The support commands' checks, their encoding, and what the ledger answers.

use super::*;
use crate::codec::{from_bytes, to_bytes};
use crate::command::{Command as AnyCommand, Envelope, Request};
use crate::ids::{ExtId, SourceId};
use crate::ledger::Config;
use crate::money::Currency;

fn open(player: u64, subject: &str, external: Option<&str>) -> Command {
    Command::OpenTicket {
        player: PlayerId(player),
        subject: SupportText::new(subject),
        priority: TicketPriority::Normal,
        external: external.map(SupportText::new),
        operator: OperatorId(2),
    }
}

fn message(ticket: u64, author: Author, text: &str) -> Command {
    Command::AddMessage {
        ticket,
        author,
        text: SupportText::new(text),
        operator: OperatorId(2),
    }
}

fn note(player: u64, text: &str) -> Command {
    Command::AddNote {
        player: PlayerId(player),
        text: SupportText::new(text),
        operator: OperatorId(2),
    }
}

#[test]
fn support_commands_are_checked_for_length_and_ids() {
    let bad_ticket = Err(Rejection::InvalidTicket);
    let bad_message = Err(Rejection::InvalidTicketMessage);
    let check = |command: Command, expect: Result<(), Rejection>| assert_eq!(command.validate(), expect, "{command:?}");
    check(open(1, "cannot withdraw", None), Ok(()));
    check(open(1, "zendesk", Some("35436")), Ok(()));
    check(open(1, " ", None), bad_ticket);
    check(open(1, &"s".repeat(SUBJECT_MAX + 1), None), bad_ticket);
    check(open(1, &"s".repeat(SUBJECT_MAX), None), Ok(()));
    check(open(1, "bell\u{7}", None), bad_ticket);
    check(open(1, "fine", Some(&"e".repeat(EXTERNAL_MAX + 1))), bad_ticket);
    check(open(1, "fine", Some("")), bad_ticket);
    let assign = TicketChange::Assign { assignee: None };
    let update = |ticket| Command::UpdateTicket {
        ticket,
        change: assign.clone(),
        external_ms: 0,
        operator: OperatorId(2),
    };
    check(update(5), Ok(()));
    check(update(0), bad_ticket);
    check(message(5, Author::Player, "line one\nline two"), Ok(()));
    check(message(0, Author::Player, "no ticket"), bad_ticket);
    check(message(5, Author::Operator(OperatorId(3)), ""), bad_message);
    check(message(5, Author::Player, &"m".repeat(MESSAGE_MAX + 1)), bad_message);
    check(message(5, Author::External(SupportText::new("")), "hi"), bad_message);
    check(message(5, Author::External(SupportText::new("agent 7")), "hi"), Ok(()));
    check(note(1, "called them"), Ok(()));
    check(note(1, &"n".repeat(NOTE_MAX + 1)), Err(Rejection::InvalidNote));
    check(note(1, "tab\tinside"), Err(Rejection::InvalidNote));
    let synced = |ticket, external: Option<&str>, failure: Option<&str>| Command::TicketSynced {
        ticket,
        external: external.map(SupportText::new),
        through_seq: 9,
        failure: failure.map(SupportText::new),
    };
    check(synced(5, Some("35436"), None), Ok(()));
    check(synced(5, None, Some("422 RecordInvalid")), Ok(()));
    check(synced(0, Some("35436"), None), bad_ticket);
    check(synced(5, Some(""), None), bad_ticket);
    check(synced(5, Some(&"e".repeat(EXTERNAL_MAX + 1)), None), bad_ticket);
    check(synced(5, None, Some(&"f".repeat(SYNC_FAILURE_MAX + 1))), bad_ticket);
}

#[test]
fn commands_round_trip_through_the_codec() {
    let changes = [
        TicketChange::Assign {
            assignee: Some(OperatorId(4)),
        },
        TicketChange::Assign { assignee: None },
        TicketChange::Status {
            status: TicketStatus::Solved,
        },
        TicketChange::Priority {
            priority: TicketPriority::Urgent,
        },
    ];
    let mut commands = vec![
        open(1, "a question", None),
        open(1, "from zendesk", Some("35436")),
        message(5, Author::Player, "hello"),
        message(5, Author::Operator(OperatorId(3)), "hello back"),
        message(5, Author::External(SupportText::new("agent 7")), "hi"),
        note(1, "VIP: call before any limit change"),
        Command::TicketSynced {
            ticket: 5,
            external: Some(SupportText::new("35436")),
            through_seq: 12,
            failure: None,
        },
        Command::TicketSynced {
            ticket: 5,
            external: None,
            through_seq: 5,
            failure: Some(SupportText::new("422: closed tickets cannot be updated")),
        },
    ];
    commands.extend(changes.into_iter().map(|change| Command::UpdateTicket {
        ticket: 5,
        change,
        external_ms: 1_700_000_000_000,
        operator: OperatorId(2),
    }));
    for command in commands {
        let command = AnyCommand::Support(command);
        assert_eq!(from_bytes::<AnyCommand>(&to_bytes(&command)), Ok(command));
    }
    for outcome in [Outcome::TicketOpened { ticket: 42 }, Outcome::NoteAdded { note: 43 }] {
        assert_eq!(from_bytes::<Outcome>(&to_bytes(&outcome)), Ok(outcome));
    }
    for rejection in [
        Rejection::InvalidTicket,
        Rejection::InvalidTicketMessage,
        Rejection::InvalidNote,
    ] {
        assert_eq!(from_bytes::<Rejection>(&to_bytes(&rejection)), Ok(rejection));
    }
}

#[test]
fn names_parse_back() {
    for status in TicketStatus::ALL {
        assert_eq!(TicketStatus::from_name(status.name()), Some(status));
    }
    for priority in TicketPriority::ALL {
        assert_eq!(TicketPriority::from_name(priority.name()), Some(priority));
    }
    assert_eq!(TicketStatus::from_name("new"), None);
    assert_eq!(TicketPriority::from_name("NORMAL"), None);
}

#[test]
fn the_ledger_names_tickets_and_notes_by_their_records_and_refuses_bad_input() {
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
    let registered = send(
        "reg",
        AnyCommand::Players(crate::ledger::players::Command::RegisterPlayer {
            currency: Currency::EUR,
            jurisdiction: crate::ids::Jurisdiction::new("MT").expect("valid code"),
        }),
    );
    let Outcome::Registered { player } = registered else {
        panic!("not registered: {registered:?}");
    };
    let support = AnyCommand::Support;
    assert_eq!(
        send("t1", support(open(player.0, "help", None))),
        Outcome::TicketOpened { ticket: 2 }
    );
    assert_eq!(
        send("t1", support(open(player.0, "help", None))),
        Outcome::TicketOpened { ticket: 2 },
        "a retry names the same ticket"
    );
    assert_eq!(
        send("t2", support(open(999, "help", None))),
        Outcome::Rejected(Rejection::UnknownPlayer)
    );
    assert_eq!(
        send("t3", support(open(player.0, "", None))),
        Outcome::Rejected(Rejection::InvalidTicket)
    );
    assert_eq!(
        send("m1", support(message(2, Author::Player, "where is my money"))),
        Outcome::Accepted
    );
    assert_eq!(
        send("n1", support(note(player.0, "noted"))),
        Outcome::NoteAdded { note: 7 }
    );
    assert_eq!(
        send("n2", support(note(999, "noted"))),
        Outcome::Rejected(Rejection::UnknownPlayer)
    );
}
