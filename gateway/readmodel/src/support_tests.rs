//! The support projection on ledger-made records: what the gateway checks
//! first is checked here again, so a record that no longer applies (a
//! second opening of one external ticket, a change to a closed or missing
//! ticket, an external change older than the ticket's last) changes
//! nothing; and the timeline keeps journal order. (Beside `support`, not
//! inside it: the tests open the store, whose migrations name it.)

use engine::command::{Bet, Command, RoundRef};
use engine::gaming::{Win, WinKind};
use engine::sequencer::Committed;
use engine::support::{self, Author, SupportText, TicketChange, TicketPriority, TicketStatus};
use engine::{
    Amount, Config, Currency, Envelope, GameCode, Jurisdiction, Ledger, OperatorId, PlayerId, Request, RoundId, gaming,
    payments, players,
};
use rusqlite::Connection;

use crate::support::*;

const T0: u64 = 1_780_000_000_000;

struct Projection {
    ledger: Ledger,
    connection: Connection,
    _dir: tempfile::TempDir,
}

impl Projection {
    fn new() -> Projection {
        let dir = tempfile::tempdir().unwrap();
        let connection = crate::store::open_as(&crate::store::path(dir.path()), Some("boot")).unwrap();
        Projection {
            ledger: Ledger::new(Config::default()),
            connection,
            _dir: dir,
        }
    }

    /// Applies `command` under request id `id`, one second after the last.
    fn run(&mut self, id: &str, command: Command) -> engine::Outcome {
        let request = Request {
            source: engine::SourceId(0),
            id: engine::ExtId::new(id).unwrap(),
            command,
        };
        if let Some(answer) = self.ledger.answer(&request) {
            return answer;
        }
        let seq = self.ledger.last_seq() + 1;
        let envelope = Envelope {
            seq,
            time_ms: T0 + seq * 1_000,
            request,
        };
        let outcome = self.ledger.apply(&envelope);
        let tx = self.connection.transaction().unwrap();
        let committed = Committed {
            envelope,
            outcome: outcome.clone(),
        };
        let mut deferred = crate::Deferred::default();
        crate::project(&tx, &committed, T0 + seq * 1_000, &mut deferred).unwrap();
        deferred.write(&tx).unwrap();
        tx.commit().unwrap();
        outcome
    }

    fn file(&self, id: u64) -> TicketFile {
        ticket_file(&self.connection, id).unwrap().expect("the ticket")
    }
}

fn open(external: Option<&str>) -> Command {
    Command::Support(support::Command::OpenTicket {
        player: PlayerId(1),
        subject: SupportText::new("help"),
        priority: TicketPriority::Normal,
        external: external.map(SupportText::new),
        operator: OperatorId::SYSTEM,
    })
}

fn update(ticket: u64, change: TicketChange, external_ms: u64) -> Command {
    Command::Support(support::Command::UpdateTicket {
        ticket,
        change,
        external_ms,
        operator: OperatorId::SYSTEM,
    })
}

fn status(status: TicketStatus) -> TicketChange {
    TicketChange::Status { status }
}

fn registered() -> Projection {
    let mut p = Projection::new();
    let register = Command::Players(players::Command::RegisterPlayer {
        currency: Currency::EUR,
        jurisdiction: Jurisdiction::new("MT").unwrap(),
    });
    assert!(matches!(p.run("reg", register), engine::Outcome::Registered { .. }));
    p
}

#[test]
fn a_record_that_no_longer_applies_changes_nothing() {
    let mut p = registered();
    let engine::Outcome::TicketOpened { ticket } = p.run("zd-1", open(Some("35436"))) else {
        panic!("not opened");
    };
    // Another event opening the same Zendesk ticket: the ledger accepts
    // it (it cannot know), the projection keeps the first.
    let engine::Outcome::TicketOpened { ticket: second } = p.run("zd-2", open(Some("35436"))) else {
        panic!("not opened");
    };
    assert_ne!(ticket, second);
    assert!(ticket_file(&p.connection, second).unwrap().is_none());
    assert_eq!(ticket_by_external(&p.connection, "35436").unwrap().unwrap().id, ticket);

    // External changes: the newest wins whatever the delivery order.
    p.run("zd-3", update(ticket, status(TicketStatus::Solved), T0 + 20_000));
    p.run("zd-4", update(ticket, status(TicketStatus::Pending), T0 + 10_000));
    let file = p.file(ticket);
    assert_eq!(file.ticket.status, "solved");
    assert_eq!(file.ticket.external_ms, T0 + 20_000);
    // A local change (external_ms 0) is never stale.
    p.run("local-1", update(ticket, status(TicketStatus::Open), 0));
    assert_eq!(p.file(ticket).ticket.status, "open");

    // Closed: no change, no message.
    p.run("local-2", update(ticket, status(TicketStatus::Closed), 0));
    let events = p.file(ticket).events.len();
    p.run("local-3", update(ticket, status(TicketStatus::Open), 0));
    let message = Command::Support(support::Command::AddMessage {
        ticket,
        author: Author::Player,
        text: SupportText::new("late"),
        operator: OperatorId::SYSTEM,
    });
    assert_eq!(p.run("local-4", message), engine::Outcome::Accepted);
    let file = p.file(ticket);
    assert_eq!(file.ticket.status, "closed");
    assert_eq!(file.events.len(), events);

    // A change to a ticket that does not exist: accepted by the ledger,
    // nothing here.
    p.run("local-5", update(999, status(TicketStatus::Solved), 0));
    assert!(ticket_file(&p.connection, 999).unwrap().is_none());
    let filter = TicketFilter {
        limit: 10,
        ..TicketFilter::default()
    };
    assert_eq!(tickets(&p.connection, &filter).unwrap().len(), 1);
}

#[test]
fn the_timeline_keeps_journal_order_and_filters_by_kind() {
    let mut p = registered();
    let engine::Outcome::TicketOpened { ticket } = p.run("t", open(None)) else {
        panic!("not opened");
    };
    p.run(
        "u",
        update(
            ticket,
            TicketChange::Priority {
                priority: TicketPriority::Urgent,
            },
            0,
        ),
    );
    let note = Command::Support(support::Command::AddNote {
        player: PlayerId(1),
        text: SupportText::new("VIP"),
        operator: OperatorId(3),
    });
    assert_eq!(p.run("n", note), engine::Outcome::NoteAdded { note: 4 });
    // Refused records are not events.
    let refused = Command::Support(support::Command::AddNote {
        player: PlayerId(1),
        text: SupportText::new(" "),
        operator: OperatorId(3),
    });
    assert!(!p.run("bad", refused).is_ok());
    let all = TimelineFilter {
        limit: 100,
        ..TimelineFilter::default()
    };
    let entries = timeline_of(&p.connection, PlayerId(1), &all).unwrap();
    let found: Vec<(u64, &str, &str)> = entries
        .iter()
        .map(|e| (e.seq, e.kind.as_str(), e.event.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (1, "registration", "register_player"),
            (2, "ticket", "ticket_open"),
            (3, "ticket", "ticket_update"),
            (4, "note", "player_note"),
        ]
    );
    assert_eq!(entries[2].detail.as_deref(), Some("ticket 2 priority urgent"));
    let notes_only = TimelineFilter {
        kinds: vec!["note".into(), "registration".into()],
        after_seq: 1,
        limit: 100,
    };
    let found: Vec<u64> = timeline_of(&p.connection, PlayerId(1), &notes_only)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(found, [4]);
    // The latest entries, newest first: the same rows, the other way.
    let latest: Vec<u64> = latest_timeline(&p.connection, PlayerId(1), 3)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(latest, [4, 3, 2]);
    assert_eq!(latest_timeline(&p.connection, PlayerId(1), 100).unwrap()[3], entries[0]);
    assert!(timeline_of(&p.connection, PlayerId(2), &all).unwrap().is_empty());
    let listed = notes(&p.connection, PlayerId(1), 0, 10).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].id, listed[0].operator, listed[0].text.as_str()),
        (4, 3, "VIP")
    );
}

fn synced(ticket: u64, external: Option<&str>, through_seq: u64, failure: Option<&str>) -> Command {
    Command::Support(support::Command::TicketSynced {
        ticket,
        external: external.map(SupportText::new),
        through_seq,
        failure: failure.map(SupportText::new),
    })
}

#[test]
fn changes_made_here_are_owed_to_the_helpdesk_until_synced_and_its_own_are_not() {
    let mut p = registered();
    // From Zendesk (the system, an external id): nothing owed.
    let engine::Outcome::TicketOpened { ticket: theirs } = p.run("zd-1", open(Some("35436"))) else {
        panic!("not opened");
    };
    p.run("zd-2", update(theirs, status(TicketStatus::Pending), T0 + 5_000));
    assert_eq!(p.file(theirs).ticket.sync_last, 0);
    // Made here by an operator: owed, each change moving the mark.
    let local = Command::Support(support::Command::OpenTicket {
        player: PlayerId(1),
        subject: SupportText::new("made here"),
        priority: TicketPriority::High,
        external: None,
        operator: OperatorId(2),
    });
    let engine::Outcome::TicketOpened { ticket } = p.run("op-1", local) else {
        panic!("not opened");
    };
    assert_eq!(sync_owed(&p.connection, 0, 10).unwrap(), vec![ticket]);
    let message = Command::Support(support::Command::AddMessage {
        ticket,
        author: Author::Operator(OperatorId(2)),
        text: SupportText::new("we are looking"),
        operator: OperatorId(2),
    });
    p.run("op-2", message);
    let last = p.file(ticket).ticket.sync_last;
    assert!(last > ticket);

    // Linked and pushed through the opening: still owed the message.
    p.run("sync-1", synced(ticket, Some("9001"), ticket, None));
    let view = p.file(ticket).ticket;
    assert_eq!((view.external.as_deref(), view.sync_through), (Some("9001"), ticket));
    assert_eq!(ticket_by_external(&p.connection, "9001").unwrap().unwrap().id, ticket);
    assert_eq!(sync_owed(&p.connection, 0, 10).unwrap(), vec![ticket]);
    // A refusal stops it being owed until the next change made here.
    p.run("sync-2", synced(ticket, None, ticket, Some("422 RecordInvalid")));
    assert_eq!(p.file(ticket).ticket.sync_failure.as_deref(), Some("422 RecordInvalid"));
    assert!(sync_owed(&p.connection, 0, 10).unwrap().is_empty());
    // An echo from Zendesk (the system) does not make it owed again.
    p.run("zd-3", update(ticket, status(TicketStatus::Open), T0 + 90_000));
    assert!(sync_owed(&p.connection, 0, 10).unwrap().is_empty());
    let retry = Command::Support(support::Command::UpdateTicket {
        ticket,
        change: status(TicketStatus::Solved),
        external_ms: 0,
        operator: OperatorId(2),
    });
    p.run("op-3", retry);
    assert_eq!(p.file(ticket).ticket.sync_failure, None);
    assert_eq!(sync_owed(&p.connection, 0, 10).unwrap(), vec![ticket]);
    // Synced through the last: owed nothing; a second link, or one to an
    // id another ticket holds, does not move the first.
    let last = p.file(ticket).ticket.sync_last;
    p.run("sync-3", synced(ticket, Some("9002"), last, None));
    p.run("sync-4", synced(theirs, Some("9001"), 0, None));
    assert!(sync_owed(&p.connection, 0, 10).unwrap().is_empty());
    assert_eq!(p.file(ticket).ticket.external.as_deref(), Some("9001"));
    assert_eq!(p.file(theirs).ticket.external.as_deref(), Some("35436"));
}

/// A round's records in separate transactions add up in its one row: the
/// first makes it, the later ones find it by the `(player, round)` index.
#[test]
fn a_round_keeps_one_timeline_row_across_transactions() {
    let mut p = registered();
    let player = PlayerId(1);
    let deposit = Command::Payments(payments::Command::Deposit {
        player,
        currency: Currency::EUR,
        amount: Amount::from_minor(10_000),
    });
    assert!(p.run("dep", deposit).is_ok());
    let round = RoundRef {
        id: RoundId::new("r-1").unwrap(),
        game: GameCode::new("g").unwrap(),
    };
    let bet = |amount| {
        Command::Gaming(gaming::Command::Bet(Bet {
            player,
            currency: Currency::EUR,
            amount: Amount::from_minor(amount),
            round: round.clone(),
            close_round: false,
        }))
    };
    assert!(p.run("bet-1", bet(300)).is_ok());
    assert!(p.run("bet-2", bet(200)).is_ok());
    let win = Command::Gaming(gaming::Command::Win(Win {
        player,
        currency: Currency::EUR,
        amount: Amount::from_minor(1_250),
        round: round.clone(),
        kind: WinKind::Regular,
        close_round: true,
        bet: None,
    }));
    assert!(p.run("win-1", win).is_ok());
    let filter = TimelineFilter {
        kinds: vec!["round".to_owned()],
        after_seq: 0,
        limit: 10,
    };
    let rounds = timeline_of(&p.connection, player, &filter).unwrap();
    assert_eq!(rounds.len(), 1, "{rounds:?}");
    let row = &rounds[0];
    assert_eq!(row.round.as_deref(), Some("g/r-1"));
    assert_eq!((row.stake_minor, row.win_minor), (Some(500), Some(1_250)));
    // Made by the first bet, last changed by the win.
    assert_eq!(row.seq + 2, row.last_seq);
}

#[test]
fn the_timeline_filtered_by_kind_is_read_by_its_primary_key() {
    // Migration 31 dropped the index by kind: the filter never used it.
    let p = registered();
    let indexes: Vec<String> = p
        .connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'player_timeline'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        !indexes.iter().any(|name| name == "player_timeline_by_kind"),
        "{indexes:?}"
    );
    let plan: Vec<String> = p
        .connection
        .prepare(&format!("EXPLAIN QUERY PLAN {TIMELINE_AFTER}"))
        .unwrap()
        .query_map(rusqlite::params![1, 0, ",note,", 10], |row| row.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(plan, ["SEARCH player_timeline USING PRIMARY KEY (player=? AND seq>?)"]);
}
