//! The deferred rows ([`crate::Deferred`]) leave the read model exactly as
//! writing each record's rows at once does: the same workload projected
//! one record a transaction and many records a transaction gives the same
//! rows in every table.

use engine::command::{Bet, Command, RoundRef};
use engine::sequencer::Committed;
use engine::workload::Workload;
use engine::{
    Amount, Config, Currency, Envelope, ExtId, GameCode, Ledger, PlayerId, Request, RoundId, SourceId, gaming,
};
use rusqlite::Connection;
use rusqlite::types::Value;

const T0: u64 = 1_780_000_000_000;

/// The workload's records: a few players (so one transaction holds many
/// movements of each, and bets with their wins), 97 s of ledger time
/// apart (so the sums cross hours and days); every 10th request a bet
/// the wallet cannot cover (refused).
fn records(count: usize) -> Vec<Committed> {
    let mut ledger = Ledger::new(Config::default());
    let mut workload = Workload::new(7, 5, Currency::EUR);
    let mut requests: Vec<_> = workload.setup().collect();
    for i in 0..count {
        requests.push(workload.next_request());
        if i % 10 == 0 {
            requests.push(unaffordable_bet(i));
        }
    }
    let mut records = Vec::new();
    for request in requests {
        if ledger.answer(&request).is_some() {
            continue;
        }
        let seq = ledger.last_seq() + 1;
        let envelope = Envelope {
            seq,
            time_ms: T0 + seq * 97_000,
            request,
        };
        let outcome = ledger.apply(&envelope);
        records.push(Committed { envelope, outcome });
    }
    records
}

fn unaffordable_bet(i: usize) -> Request {
    Request {
        source: SourceId(1),
        id: ExtId::new(&format!("refused-{i}")).unwrap(),
        command: Command::Gaming(gaming::Command::Bet(Bet {
            player: PlayerId(1 + (i as u64 / 10) % 5),
            currency: Currency::EUR,
            amount: Amount::from_minor(1_000_000_000),
            round: RoundRef {
                id: RoundId::new(&format!("refused-{i}")).unwrap(),
                game: GameCode::new("game-0").unwrap(),
            },
            close_round: false,
        })),
    }
}

/// Projects `records`, `per_tx` to a transaction, into a fresh store;
/// returns every table's rows, sorted.
fn project_in_transactions_of(records: &[Committed], per_tx: usize) -> Vec<(String, Vec<String>)> {
    let dir = tempfile::tempdir().unwrap();
    let mut connection = crate::store::open_as(&crate::store::path(dir.path()), Some("boot")).unwrap();
    let mut time_ms = 0;
    for chunk in records.chunks(per_tx) {
        let tx = connection.transaction().unwrap();
        let mut deferred = crate::Deferred::default();
        for committed in chunk {
            time_ms = crate::project(&tx, committed, time_ms, &mut deferred).unwrap();
        }
        deferred.write(&tx).unwrap();
        tx.commit().unwrap();
    }
    tables(&connection)
}

fn tables(connection: &Connection) -> Vec<(String, Vec<String>)> {
    let names: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    names
        .into_iter()
        .map(|name| {
            let mut statement = connection.prepare(&format!("SELECT * FROM \"{name}\"")).unwrap();
            let columns = statement.column_count();
            let mut rows: Vec<String> = statement
                .query_map([], |row| {
                    let values: Vec<Value> = (0..columns).map(|i| row.get(i)).collect::<Result<_, _>>()?;
                    Ok(format!("{values:?}"))
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            rows.sort();
            (name, rows)
        })
        .collect()
}

#[test]
fn deferred_rows_leave_every_table_as_a_write_a_record_does() {
    let records = records(3_000);
    let one_by_one = project_in_transactions_of(&records, 1);
    let gathered = project_in_transactions_of(&records, 500);
    // The workload touched what the deferred rows cover.
    for table in [
        "balances",
        "gaming_days",
        "money_hours",
        "last_bets",
        "game_hours",
        "game_players",
        "game_refusals",
        "player_timeline",
    ] {
        let rows = &one_by_one.iter().find(|(name, _)| name == table).unwrap().1;
        assert!(!rows.is_empty(), "the workload left {table} empty");
    }
    assert_eq!(one_by_one.len(), gathered.len());
    for ((table, expected), (_, got)) in one_by_one.iter().zip(&gathered) {
        assert_eq!(got, expected, "table {table} differs when its rows are deferred");
    }
}
