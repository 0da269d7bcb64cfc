//! The profiles' plain marketing attributes: owed on registration and on
//! each profile change, filled only from the profile still current,
//! blanked for good on erasure, owed for every profile of a file made
//! before them (the start-up backfill's work list); and the segments'
//! country and age rules read them; each journaled change of a profile or
//! a payment stamps its row's `changed_seq`, the fill does not. (Beside
//! `profiles`, not inside it:
//! the tests open the store, whose migrations name it.)

use std::collections::HashSet;

use engine::bonus::{Segment, SegmentRule};
use engine::command::Command;
use engine::ledger::games::GameType;
use engine::players::{ProfileIndexes, SealedProfile};
use engine::sequencer::Committed;
use engine::{
    BlindIndex, BonusCode, Config, Currency, Envelope, Jurisdiction, KeyId, Ledger, OperatorId, PlayerId, Reason,
    Request, Title, players,
};
use rusqlite::Connection;

use crate::campaigns::{GamesOfType, members, year_of};
use crate::profiles::{attributes, pending_attributes, set_attributes};

/// 2026-06-01T00:00:00Z.
const T0: u64 = 1_780_272_000_000;

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

    fn run(&mut self, id: &str, command: Command) -> engine::Outcome {
        let request = Request {
            source: engine::SourceId(0),
            id: engine::ExtId::new(id).unwrap(),
            command,
        };
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

    fn attributes(&self, player: PlayerId) -> (Option<String>, Option<i32>, bool) {
        attributes(&self.connection, player).unwrap().expect("the player")
    }
}

fn sealed(n: u8) -> SealedProfile {
    SealedProfile::new(KeyId([n; 16]), 1, [n; 12], &[n; 40]).unwrap()
}

fn indexes(n: u8) -> ProfileIndexes {
    ProfileIndexes {
        email: BlindIndex([n; 16]),
        identity: BlindIndex([n + 100; 16]),
    }
}

fn register(p: &mut Projection, n: u8) -> PlayerId {
    let command = Command::Players(players::Command::RegisterProfiled {
        currency: Currency::EUR,
        jurisdiction: Jurisdiction::new("MT").unwrap(),
        profile: Box::new(sealed(n)),
        indexes: indexes(n),
        operator: OperatorId::SYSTEM,
    });
    match p.run(&format!("reg-{n}"), command) {
        engine::Outcome::Registered { player } => player,
        other => panic!("not registered: {other:?}"),
    }
}

struct NoGames;

impl GamesOfType for NoGames {
    fn games(&self, _: &[GameType]) -> HashSet<(u32, String)> {
        HashSet::new()
    }
}

fn segment(all: Vec<SegmentRule>, any: Vec<SegmentRule>) -> Segment {
    Segment {
        code: BonusCode::new("s").unwrap(),
        name: Title::new("S").unwrap(),
        all,
        any,
    }
}

fn country(codes: &[&str]) -> SegmentRule {
    SegmentRule::Country {
        countries: codes.iter().map(|c| Jurisdiction::new(c).unwrap()).collect(),
    }
}

fn age(min_years: u16, max_years: u16) -> SegmentRule {
    SegmentRule::AgeBetween { min_years, max_years }
}

fn members_of(p: &Projection, segment: &Segment) -> Vec<u64> {
    members(&p.connection, segment, T0, None, &NoGames).unwrap()
}

#[test]
fn attributes_are_owed_on_registration_and_change_and_blanked_on_erasure() {
    let mut p = Projection::new();
    let a = register(&mut p, 1);
    let b = register(&mut p, 2);
    // Owed, blank, until the gateway fills them.
    assert_eq!(p.attributes(a), (None, None, true));
    let owed = pending_attributes(&p.connection, 10).unwrap();
    assert_eq!(owed, vec![(a, sealed(1)), (b, sealed(2))]);
    assert_eq!(
        pending_attributes(&p.connection, 1).unwrap().len(),
        1,
        "the limit holds"
    );
    assert!(set_attributes(&p.connection, a, &sealed(1), Some("GB"), Some(1990)).unwrap());
    assert!(set_attributes(&p.connection, b, &sealed(2), Some("MT"), Some(2000)).unwrap());
    assert_eq!(p.attributes(a), (Some("GB".into()), Some(1990), false));
    assert!(pending_attributes(&p.connection, 10).unwrap().is_empty());
    // A second fill of a filled row changes nothing (the backfill is idempotent).
    assert!(!set_attributes(&p.connection, a, &sealed(1), Some("FR"), Some(1950)).unwrap());
    assert_eq!(p.attributes(a).0.as_deref(), Some("GB"));

    // A profile change blanks them and owes them again; what was opened
    // from the old profile is not written over the new one.
    let change = Command::Players(players::Command::UpdateProfile {
        player: a,
        profile: Box::new(sealed(3)),
        indexes: indexes(3),
        operator: OperatorId::SYSTEM,
    });
    assert!(p.run("change", change).is_ok());
    assert_eq!(p.attributes(a), (None, None, true));
    assert_eq!(pending_attributes(&p.connection, 10).unwrap(), vec![(a, sealed(3))]);
    assert!(!set_attributes(&p.connection, a, &sealed(1), Some("GB"), Some(1990)).unwrap());
    assert!(set_attributes(&p.connection, a, &sealed(3), Some("DE"), Some(1980)).unwrap());
    assert_eq!(p.attributes(a), (Some("DE".into()), Some(1980), false));

    // Erasure blanks them and owes nothing: nothing can fill them again.
    let erase = Command::Players(players::Command::ErasePlayer {
        player: a,
        reason: Reason::new("gdpr-1").unwrap(),
        operator: OperatorId::SYSTEM,
    });
    assert!(p.run("erase", erase).is_ok());
    assert_eq!(p.attributes(a), (None, None, false));
    assert!(pending_attributes(&p.connection, 10).unwrap().is_empty());
    assert!(!set_attributes(&p.connection, a, &sealed(3), Some("DE"), Some(1980)).unwrap());
    assert_eq!(
        p.attributes(b),
        (Some("MT".into()), Some(2000), false),
        "another player is untouched"
    );
}

#[test]
fn country_and_age_rules_read_the_plain_columns() {
    let mut p = Projection::new();
    let players: Vec<PlayerId> = (1..=4).map(|n| register(&mut p, n)).collect();
    let facts = [("GB", 1990), ("GB", 2000), ("MT", 1990), ("FR", 1960)];
    for ((player, n), (code, year)) in players.iter().zip(1u8..).zip(facts) {
        assert!(set_attributes(&p.connection, *player, &sealed(n), Some(code), Some(year)).unwrap());
    }
    // One player without a profile, one whose attributes are still owed.
    let plain = Command::Players(players::Command::RegisterPlayer {
        currency: Currency::EUR,
        jurisdiction: Jurisdiction::new("GB").unwrap(),
    });
    assert!(p.run("plain", plain).is_ok());
    let owed = register(&mut p, 9);
    assert!(p.attributes(owed).2, "still owed");
    let ids: Vec<u64> = players.iter().map(|p| p.0).collect();
    assert_eq!(year_of(T0), 2026);

    assert_eq!(
        members_of(&p, &segment(vec![country(&["GB"])], vec![])),
        [ids[0], ids[1]]
    );
    assert_eq!(
        members_of(&p, &segment(vec![country(&["GB", "FR"])], vec![])),
        [ids[0], ids[1], ids[3]]
    );
    // Age as turned this year: born 1990 is 36 all of 2026.
    assert_eq!(members_of(&p, &segment(vec![age(36, 36)], vec![])), [ids[0], ids[2]]);
    assert_eq!(members_of(&p, &segment(vec![age(18, 35)], vec![])), [ids[1]]);
    assert_eq!(
        members_of(&p, &segment(vec![country(&["GB"]), age(30, 40)], vec![])),
        [ids[0]]
    );
    // The OR group: MT, or 60 and over; ANDed with the rest.
    let either = segment(vec![], vec![country(&["MT"]), age(60, 150)]);
    assert_eq!(members_of(&p, &either), [ids[2], ids[3]]);
    let gb_or_old = segment(vec![age(30, 70)], vec![country(&["GB"]), age(60, 150)]);
    assert_eq!(members_of(&p, &gb_or_old), [ids[0], ids[3]]);
    // One player asked alone.
    let gb = segment(vec![country(&["GB"])], vec![]);
    assert_eq!(
        members(&p.connection, &gb, T0, Some(ids[1]), &NoGames).unwrap(),
        [ids[1]]
    );
    assert!(
        members(&p.connection, &gb, T0, Some(ids[2]), &NoGames)
            .unwrap()
            .is_empty()
    );
    assert!(members(&p.connection, &gb, T0, Some(999), &NoGames).unwrap().is_empty());
}

#[test]
fn a_file_made_before_the_attributes_owes_every_profile_without_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let path = crate::store::path(dir.path());
    let index = crate::store::MIGRATIONS
        .iter()
        .position(|m| *m == crate::profiles::ATTRIBUTES_MIGRATION)
        .unwrap();
    {
        // What the previous release left: its migrations, two players (one
        // with a profile), a checkpoint past their records.
        let connection = Connection::open(&path).unwrap();
        for (number, migration) in crate::store::MIGRATIONS[..index].iter().enumerate() {
            connection.execute_batch(migration).unwrap();
            connection
                .pragma_update(None, "user_version", number as u32 + 1)
                .unwrap();
        }
        connection
            .execute(
                "INSERT INTO profiles (player, jurisdiction, status, profile) VALUES (1, 'MT', 'active', ?1), (2, 'MT', 'active', NULL)",
                [engine::codec::to_bytes(&sealed(1))],
            )
            .unwrap();
        connection
            .execute("UPDATE checkpoint SET seq = 7 WHERE id = 1", [])
            .unwrap();
    }
    let connection = crate::store::open_as(&path, Some("boot-a")).unwrap();
    assert_eq!(crate::store::checkpoint(&connection).unwrap().seq, 7, "not rebuilt");
    assert_eq!(
        pending_attributes(&connection, 10).unwrap(),
        vec![(PlayerId(1), sealed(1))]
    );
    assert_eq!(attributes(&connection, PlayerId(2)).unwrap(), Some((None, None, false)));
    assert!(set_attributes(&connection, PlayerId(1), &sealed(1), Some("GB"), Some(1990)).unwrap());
    assert!(pending_attributes(&connection, 10).unwrap().is_empty());
    // Opening it again owes nothing more.
    crate::store::close(connection).unwrap();
    let connection = crate::store::open_as(&path, Some("boot-a")).unwrap();
    assert!(pending_attributes(&connection, 10).unwrap().is_empty());
    assert_eq!(
        attributes(&connection, PlayerId(1)).unwrap(),
        Some((Some("GB".into()), Some(1990), false))
    );
}

/// A row's `changed_seq` (the PostgreSQL export follows it).
fn changed_seq(p: &Projection, table: &str, key: &str) -> i64 {
    let sql = format!("SELECT changed_seq FROM {table} WHERE {key}");
    p.connection.query_row(&sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn each_journaled_change_stamps_its_row_and_the_attributes_fill_does_not() {
    let mut p = Projection::new();
    let a = register(&mut p, 1);
    let b = register(&mut p, 2);
    let profile_seq = |p: &Projection, player: PlayerId| changed_seq(p, "profiles", &format!("player = {}", player.0));
    assert_eq!((profile_seq(&p, a), profile_seq(&p, b)), (1, 2));
    // The gateway's fill is no journaled change.
    assert!(set_attributes(&p.connection, a, &sealed(1), Some("GB"), Some(1990)).unwrap());
    assert_eq!(profile_seq(&p, a), 1);
    // A deposit stamps its payment, not the profile.
    let deposit = Command::Payments(engine::payments::Command::Deposit {
        player: b,
        currency: Currency::EUR,
        amount: engine::Amount::from_minor(1_000),
    });
    assert!(p.run("dep-1", deposit).is_ok());
    assert_eq!(changed_seq(&p, "cashier_payments", "ext_id = 'dep-1'"), 3);
    assert_eq!(profile_seq(&p, b), 2);
    // A refused change stamps nothing; an accepted one stamps its row.
    let erase = |player| {
        Command::Players(players::Command::ErasePlayer {
            player,
            reason: Reason::new("gdpr-1").unwrap(),
            operator: OperatorId::SYSTEM,
        })
    };
    assert!(!p.run("erase-unknown", erase(PlayerId(99))).is_ok());
    assert!(p.run("erase", erase(a)).is_ok());
    assert_eq!((profile_seq(&p, a), profile_seq(&p, b)), (5, 2));
}
