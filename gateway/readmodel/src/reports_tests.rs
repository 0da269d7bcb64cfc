//! The movements' report figures on ledger-made histories: summed over a
//! workload's mixed play they equal the ledger's own flows; on a crafted
//! bonus history (bets spending cash then bonus, a win on a bonus-funded
//! round, a conversion) each figure is the exact split. (Beside `reports`:
//! the tests open the store, whose migrations name `history`.)

use engine::command::{Bet, BonusGrant, Command, RoundRef, Win, WinKind};
use engine::sequencer::Committed;
use engine::workload::Workload;
use engine::{Amount, Config, Currency, Envelope, ExtId, GameCode, Ledger, PlayerId, Request, RoundId, SourceId};
use engine::{bonus, gaming, payments, players};
use rusqlite::Connection;

use crate::reports::{GamingSum, gaming};

const T0: u64 = 1_780_000_000_000;

struct Projection {
    ledger: Ledger,
    connection: Connection,
    time_ms: u64,
    /// Ledger time between two requests.
    step_ms: u64,
    dir: tempfile::TempDir,
}

impl Projection {
    fn new() -> Projection {
        let dir = tempfile::tempdir().unwrap();
        let connection = crate::store::open_as(&crate::store::path(dir.path()), Some("boot")).unwrap();
        Projection {
            ledger: Ledger::new(Config::default()),
            connection,
            time_ms: T0,
            step_ms: 1_000,
            dir,
        }
    }

    fn run(&mut self, requests: impl IntoIterator<Item = Request>) {
        let tx = self.connection.transaction().unwrap();
        let mut deferred = crate::Deferred::default();
        for request in requests {
            if self.ledger.answer(&request).is_some() {
                continue;
            }
            self.time_ms += self.step_ms;
            let envelope = Envelope {
                seq: self.ledger.last_seq() + 1,
                time_ms: self.time_ms,
                request,
            };
            let outcome = self.ledger.apply(&envelope);
            crate::project(&tx, &Committed { envelope, outcome }, self.time_ms, &mut deferred).unwrap();
        }
        deferred.write(&tx).unwrap();
        tx.commit().unwrap();
    }

    fn total(&self) -> GamingSum {
        let sums = gaming(&self.connection, 0, u64::MAX / 2).unwrap();
        sums.into_iter()
            .reduce(|a, b| GamingSum {
                bets: a.bets + b.bets,
                stake: a.stake + b.stake,
                bonus_stake: a.bonus_stake + b.bonus_stake,
                prize: a.prize + b.prize,
                cash_prize: a.cash_prize + b.cash_prize,
                converted: a.converted + b.converted,
                jackpot: a.jackpot + b.jackpot,
                bonus_granted: a.bonus_granted + b.bonus_granted,
                ..a
            })
            .unwrap()
    }
}

#[test]
fn summed_over_mixed_play_the_figures_are_the_ledgers_flows() {
    let mut projection = Projection::new();
    let mut workload = Workload::new(11, 40, Currency::EUR);
    let setup: Vec<Request> = workload.setup().collect();
    projection.run(setup);
    let stream: Vec<Request> = (0..6_000).map(|_| workload.next_request()).collect();
    projection.run(stream);
    let flows = projection.ledger.flows(Currency::EUR);
    let total = projection.total();
    assert!(flows.rollbacks > 0 && flows.wins > 0, "the mix rolled back and won");
    assert_eq!(i128::from(total.stake), flows.bets - flows.rollbacks);
    assert_eq!(i128::from(total.prize), flows.wins);
    assert_eq!(
        total.cash_prize, total.prize,
        "no bonus in the mix: every prize is cash"
    );
    assert_eq!((total.bonus_stake, total.converted), (0, 0));
    let bets: i64 = projection
        .connection
        .query_row("SELECT COUNT(*) FROM movements WHERE kind = 'bet'", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(total.bets, bets as u64);
    cash_moved_is_the_figures(&projection);
}

/// Every row of the running sums (`crate::summaries`), in key order.
fn summaries(connection: &Connection) -> Vec<Vec<rusqlite::types::Value>> {
    let mut rows = Vec::new();
    for sql in [
        "SELECT * FROM gaming_days ORDER BY day, player, currency, source, game",
        "SELECT * FROM money_hours ORDER BY hour, currency",
        "SELECT * FROM last_bets ORDER BY player",
    ] {
        let mut statement = connection.prepare(sql).unwrap();
        let columns = statement.column_count();
        let found = statement
            .query_map([], |row| {
                (0..columns).map(|i| row.get(i)).collect::<Result<Vec<_>, _>>()
            })
            .unwrap();
        rows.extend(found.map(Result::unwrap));
    }
    rows
}

/// Mixed play over four days, a request every 47 s.
fn four_days_of_play() -> Projection {
    let mut projection = Projection::new();
    projection.step_ms = 47_000;
    let mut workload = Workload::new(5, 30, Currency::EUR);
    let setup: Vec<Request> = workload.setup().collect();
    projection.run(setup);
    let stream: Vec<Request> = (0..7_500).map(|_| workload.next_request()).collect();
    projection.run(stream);
    projection
}

#[test]
fn the_running_sums_kept_movement_by_movement_equal_the_movements_summed_afresh() {
    let mut projection = four_days_of_play();
    let days: i64 = projection
        .connection
        .query_row("SELECT COUNT(DISTINCT day) FROM gaming_days", [], |row| row.get(0))
        .unwrap();
    assert!(days >= 4, "the play spans days: {days}");
    let kept = summaries(&projection.connection);
    assert!(kept.len() > 100, "{} rows", kept.len());
    let tx = projection.connection.transaction().unwrap();
    crate::summaries::rebuild(&tx).unwrap();
    tx.commit().unwrap();
    assert_eq!(summaries(&projection.connection), kept);
}

#[test]
fn a_file_from_before_the_running_sums_gets_them_from_its_movements() {
    let projection = four_days_of_play();
    let kept = summaries(&projection.connection);
    let migration = crate::store::MIGRATIONS
        .iter()
        .position(|m| *m == crate::summaries::MIGRATION)
        .unwrap();
    // The file as the release before wrote it: no sums, the version before.
    projection
        .connection
        .execute_batch(&format!(
            "DROP TABLE gaming_days; DROP TABLE money_hours; DROP TABLE last_bets; PRAGMA user_version = {migration};"
        ))
        .unwrap();
    let path = crate::store::path(projection.dir.path());
    let Projection { connection, dir, .. } = projection;
    crate::store::close(connection).unwrap();
    let reopened = crate::store::open_as(&path, Some("boot")).unwrap();
    assert_eq!(summaries(&reopened), kept);
    drop(dir);
}

#[test]
fn a_period_cut_inside_days_sums_the_whole_days_and_the_parts_at_either_end() {
    let projection = four_days_of_play();
    let day = crate::reports::DAY_MS;
    // From 07:13 on the first full day to 16:40 two days later.
    let from_ms = (T0 / day + 1) * day + 26_000_000;
    let to_ms = from_ms + 2 * day + 34_000_000;
    let sums = gaming(&projection.connection, from_ms, to_ms).unwrap();
    let (bets, stake, prize): (i64, i64, i64) = projection
        .connection
        .query_row(
            "SELECT SUM(kind = 'bet'), SUM(stake), SUM(prize) FROM movements WHERE time_ms >= ?1 AND time_ms < ?2",
            rusqlite::params![from_ms as i64, to_ms as i64],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    assert!(bets > 100);
    assert_eq!(sums.iter().map(|s| s.bets).sum::<u64>(), bets as u64);
    assert_eq!(sums.iter().map(|s| s.stake).sum::<i64>(), stake);
    assert_eq!(sums.iter().map(|s| s.prize).sum::<i64>(), prize);
    // Day, player, currency, game order, as the reports read them.
    let keys: Vec<_> = sums
        .iter()
        .map(|s| (s.day, s.player, s.currency.code(), s.game.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(sums.first().map(|s| s.day), Some(from_ms / day));
    assert_eq!(sums.last().map(|s| s.day), Some(to_ms / day));
}

#[test]
fn play_days_and_bet_days_from_the_sums_are_those_of_the_movements() {
    let projection = four_days_of_play();
    let c = &projection.connection;
    let day = crate::reports::DAY_MS;
    let players: Vec<i64> = c
        .prepare("SELECT DISTINCT player FROM movements ORDER BY player")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(players.len() >= 20);
    // Cut mid-day (the cut day from the movements) and at midnight.
    for until_ms in [(T0 / day + 3) * day + 40_000_000, (T0 / day + 3) * day] {
        for &player in &players {
            let mut expected = c
                .prepare(
                    "SELECT time_ms / 86400000, SUM(stake - bonus_stake), SUM(cash_prize), SUM(converted)
                     FROM movements WHERE player = ?1 AND currency = 'EUR' AND time_ms < ?2
                       AND (stake <> 0 OR cash_prize <> 0 OR converted <> 0)
                     GROUP BY 1 ORDER BY 1",
                )
                .unwrap();
            let expected: Vec<crate::marketing::PlayDay> = expected
                .query_map(rusqlite::params![player, until_ms as i64], |row| {
                    Ok(crate::marketing::PlayDay {
                        day: row.get::<_, i64>(0)? as u64,
                        stakes: row.get(1)?,
                        prizes: row.get(2)?,
                        bonus_cost: row.get(3)?,
                    })
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let found = crate::marketing::play_days(c, PlayerId(player as u64), "EUR", until_ms).unwrap();
            assert_eq!(found, expected, "player {player} until {until_ms}");
        }
        let bet_days: Vec<(u64, Vec<u64>)> = crate::marketing::cohort_activity(c, 0, u64::MAX / 4, until_ms)
            .unwrap()
            .into_iter()
            .map(|a| (a.player.0, a.bet_days))
            .collect();
        assert!(!bet_days.is_empty());
        for (player, days) in bet_days {
            let expected: Vec<u64> = c
                .prepare(
                    "SELECT DISTINCT time_ms / 86400000 FROM movements
                     WHERE player = ?1 AND kind = 'bet' AND time_ms < ?2 ORDER BY 1",
                )
                .unwrap()
                .query_map(rusqlite::params![player as i64, until_ms as i64], |row| {
                    row.get::<_, i64>(0)
                })
                .unwrap()
                .map(|d| d.unwrap() as u64)
                .collect();
            assert_eq!(days, expected, "player {player} until {until_ms}");
        }
    }
}

/// Every bet, win and rollback moved cash by exactly its figures.
fn cash_moved_is_the_figures(projection: &Projection) {
    let wrong: i64 = projection
        .connection
        .query_row(
            "SELECT COUNT(*) FROM movements WHERE kind IN ('bet', 'win', 'rollback')
             AND cash_delta <> cash_prize + converted - (stake - bonus_stake)",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(wrong, 0);
}

fn request(id: &str, command: Command) -> Request {
    Request {
        source: SourceId(1),
        id: ExtId::new(id).unwrap(),
        command,
    }
}

fn round(id: &str) -> RoundRef {
    RoundRef {
        id: RoundId::new(id).unwrap(),
        game: GameCode::new("slots").unwrap(),
    }
}

fn bet(id: &str, round_id: &str, minor: i64) -> Request {
    request(
        id,
        Command::Gaming(gaming::Command::Bet(Bet {
            player: PlayerId(1),
            currency: Currency::EUR,
            amount: Amount::from_minor(minor),
            round: round(round_id),
            close_round: false,
        })),
    )
}

fn figures(projection: &Projection, id: &str) -> (i64, i64, i64, i64, i64) {
    projection
        .connection
        .query_row(
            "SELECT stake, bonus_stake, prize, cash_prize, converted FROM movements WHERE ext_id = ?1",
            [id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)),
        )
        .unwrap()
}

#[test]
fn bonus_stakes_bonus_prizes_and_conversions_are_split_exactly() {
    let mut projection = Projection::new();
    let player = PlayerId(1);
    let currency = Currency::EUR;
    projection.run([
        request(
            "reg",
            Command::Players(players::Command::RegisterPlayer {
                currency,
                jurisdiction: engine::Jurisdiction::new("MT").unwrap(),
            }),
        ),
        request(
            "dep",
            Command::Payments(payments::Command::Deposit {
                player,
                currency,
                amount: Amount::from_minor(1_000),
            }),
        ),
        request(
            "grant",
            Command::Bonus(bonus::Command::Grant(BonusGrant {
                player,
                currency,
                amount: Amount::from_minor(5_000),
                wagering: Amount::from_minor(6_000),
                contributions: Vec::new(),
                default_contribution_pct: 100,
                conversion_cap: Amount::from_minor(10_000),
                expires_at_ms: T0 + 86_400_000,
            })),
        ),
        // 30.00: the 10.00 cash first, then 20.00 of bonus.
        bet("b1", "r1", 3_000),
        // 15.00 on a round funded 2/3 by bonus: 10.00 back to the bonus.
        request(
            "w1",
            Command::Gaming(gaming::Command::Win(Win {
                player,
                currency,
                amount: Amount::from_minor(1_500),
                round: round("r1"),
                kind: WinKind::Regular,
                close_round: true,
                bet: None,
            })),
        ),
        // 40.00: the 5.00 cash, then 35.00 of the 40.00 bonus; 70.00 wagered
        // meets the 60.00 requirement: the 5.00 bonus left becomes cash.
        bet("b2", "r2", 4_000),
        request(
            "rb2",
            Command::Gaming(gaming::Command::Rollback {
                player,
                bet: ExtId::new("b2").unwrap(),
            }),
        ),
    ]);
    assert_eq!(figures(&projection, "b1"), (3_000, 2_000, 0, 0, 0));
    assert_eq!(figures(&projection, "w1"), (0, 0, 1_500, 500, 0));
    assert_eq!(figures(&projection, "b2"), (4_000, 3_500, 0, 0, 500));
    // Its bonus converted since, the rollback's 35.00 bonus share comes
    // back as cash: a conversion.
    assert_eq!(figures(&projection, "rb2"), (-4_000, -3_500, 0, 0, 3_500));
    cash_moved_is_the_figures(&projection);
    let flows = projection.ledger.flows(currency);
    let total = projection.total();
    assert_eq!(i128::from(total.stake), flows.bets - flows.rollbacks);
    assert_eq!(i128::from(total.prize), flows.wins);
    assert_eq!(i128::from(total.bonus_granted), flows.bonus_granted);
    assert_eq!(total.bonus_granted, 5_000);
    // The wallet: the 10.00 deposited all staked by b1, then 5.00 of
    // prizes and 40.00 converted in cash (b2's 5.00 cash stake came back).
    let balances = projection.ledger.balances(player, currency).unwrap();
    assert_eq!(balances.bonus, Amount::ZERO);
    assert_eq!(balances.cash.minor(), 500 + 500 + 3_500);
    assert_eq!(total.stake - total.bonus_stake, 1_000, "b1's cash share");
}

/// A template's grant (`GrantQueued`, as the gateway sends it) counts as
/// granted when it is active at once, and not while it waits in the queue,
/// exactly as the ledger's flows do.
#[test]
fn queued_grants_count_when_the_ledger_grants_them() {
    let mut projection = Projection::new();
    let player = PlayerId(1);
    let currency = Currency::EUR;
    let grant = |minor: i64, wagering: i64| BonusGrant {
        player,
        currency,
        amount: Amount::from_minor(minor),
        wagering: Amount::from_minor(wagering),
        contributions: Vec::new(),
        default_contribution_pct: 100,
        conversion_cap: Amount::from_minor(100_000),
        expires_at_ms: T0 + 86_400_000,
    };
    projection.run([
        request(
            "reg",
            Command::Players(players::Command::RegisterPlayer {
                currency,
                jurisdiction: engine::Jurisdiction::new("MT").unwrap(),
            }),
        ),
        // No wagering: granted and converted to cash at once.
        request(
            "g1",
            Command::Bonus(bonus::Command::GrantQueued {
                grant: grant(500, 0),
                max_bet: None,
            }),
        ),
        // Active with wagering, then one queued behind it.
        request(
            "g2",
            Command::Bonus(bonus::Command::GrantQueued {
                grant: grant(2_000, 10_000),
                max_bet: None,
            }),
        ),
        request(
            "g3",
            Command::Bonus(bonus::Command::GrantQueued {
                grant: grant(3_000, 10_000),
                max_bet: None,
            }),
        ),
    ]);
    assert_eq!(figures(&projection, "g1"), (0, 0, 0, 0, 500), "converted at once");
    let total = projection.total();
    let flows = projection.ledger.flows(currency);
    assert_eq!(total.bonus_granted, 2_500, "g1 and g2; g3 waits");
    assert_eq!(i128::from(total.bonus_granted), flows.bonus_granted);
    assert_eq!(total.converted, 500);
}
