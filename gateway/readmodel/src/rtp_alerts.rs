//! The RTP alerts' history: each time a game's RTP test, in one currency,
//! crosses into alert (`raised`) or back out of it (`cleared`), one row
//! with the figures of that moment (bets, turnover, actual and configured
//! RTP, the statistic).
//!
//! Unlike the other tables, these rows are not folded in from journal
//! records: the games module's evaluator ([`record`]) writes them through
//! [`crate::ReadModel::write`], from the monitoring figures
//! ([`crate::monitoring`]) as they stand when it runs. The alert is a
//! function of those figures and of the time (a sliding window), not an
//! event in the journal; journaling it would add a record per evaluation
//! round for something any replica recomputes. So the history is derived
//! like the rest of the file: a rebuild starts it empty, and the first
//! evaluation after it raises again, at that moment's figures, every game
//! then in alert (the older transitions are not recovered).
//!
//! One row per transition, not per evaluation: [`record`] compares each
//! game's state with its last row inside the write transaction, so two
//! evaluations at once (the worker and an operator's read) cannot both
//! raise the same alert. An evaluation that read older figures than the
//! last row's (`as_of_seq`) writes nothing for that game.

use rusqlite::{Connection, params};

use crate::ReadModelError;

/// The schema migration (appended to `store::MIGRATIONS`; no rebuild: the
/// history starts at the first evaluation).
pub(crate) const MIGRATION: &str = "CREATE TABLE rtp_alert_events (
        id INTEGER PRIMARY KEY,
        source INTEGER NOT NULL,
        game TEXT NOT NULL,
        currency TEXT NOT NULL,
        kind TEXT NOT NULL,
        time_ms INTEGER NOT NULL,
        as_of_seq INTEGER NOT NULL,
        bets INTEGER NOT NULL,
        turnover INTEGER NOT NULL,
        rtp_actual REAL,
        rtp_configured REAL,
        z REAL
    );
    CREATE INDEX rtp_alert_events_by_game ON rtp_alert_events (source, game, currency, id);
    CREATE INDEX rtp_alert_events_by_time ON rtp_alert_events (time_ms);";

/// Which way a row crosses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The test crossed into alert.
    Raised,
    /// It came back within chance (or the game left the window).
    Cleared,
}

impl Kind {
    /// Its name in the table and on the API.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Raised => "raised",
            Kind::Cleared => "cleared",
        }
    }

    fn parse(text: &str) -> Result<Kind, ReadModelError> {
        match text {
            "raised" => Ok(Kind::Raised),
            "cleared" => Ok(Kind::Cleared),
            other => Err(ReadModelError::Damaged(format!("rtp alert kind {other:?}"))),
        }
    }
}

/// One game and currency's RTP test as an evaluation found it.
#[derive(Clone, Debug, PartialEq)]
pub struct Test {
    /// The aggregator.
    pub source: u32,
    /// The game's code there.
    pub game: String,
    /// ISO 4217.
    pub currency: String,
    /// Whether the test raises the alert.
    pub alert: bool,
    /// Bets tested.
    pub bets: u64,
    /// Turnover, minor units.
    pub turnover: i64,
    /// Actual RTP.
    pub rtp_actual: Option<f64>,
    /// Configured RTP.
    pub rtp_configured: Option<f64>,
    /// The statistic.
    pub z: Option<f64>,
}

/// One row of the history.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Its id (increasing).
    pub id: u64,
    /// Raised or cleared.
    pub kind: Kind,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// The read model's sequence number the figures were current to.
    pub as_of_seq: u64,
    /// The test's figures then.
    pub test: Test,
}

/// Which rows [`history`] returns.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// From this time on, ms (inclusive).
    pub from_ms: Option<u64>,
    /// Before this time, ms (exclusive).
    pub to_ms: Option<u64>,
    /// Only this game's code (at any aggregator).
    pub game: Option<String>,
    /// Most rows.
    pub limit: u32,
}

fn sql_u64(value: u64) -> i64 {
    value.min(i64::MAX as u64) as i64
}

/// The rows [`record`] would write, without writing: for every game and
/// currency whose state differs from its last row, the crossing. `tests`
/// are the games the evaluation saw; a game with a `raised` last row that
/// the evaluation no longer saw (it left the window) is cleared with zero
/// figures. A reader runs it first, so an evaluation that changes nothing
/// never takes the write lock from the projection.
pub fn plan(c: &Connection, tests: &[Test], as_of_seq: u64) -> Result<Vec<(Kind, Test)>, ReadModelError> {
    let mut seen = std::collections::HashSet::new();
    let mut planned = Vec::new();
    for test in tests {
        seen.insert((test.source, test.game.clone(), test.currency.clone()));
        let last = last_state(c, test.source, &test.game, &test.currency)?;
        let raised = matches!(last, Some((Kind::Raised, _)));
        if last.is_some_and(|(_, seq)| seq > as_of_seq) || raised == test.alert {
            continue;
        }
        let kind = if test.alert { Kind::Raised } else { Kind::Cleared };
        planned.push((kind, test.clone()));
    }
    for (source, game, currency) in raised_now(c)? {
        if seen.contains(&(source, game.clone(), currency.clone())) {
            continue;
        }
        if last_state(c, source, &game, &currency)?.is_some_and(|(_, seq)| seq > as_of_seq) {
            continue;
        }
        let gone = Test {
            source,
            game,
            currency,
            alert: false,
            bets: 0,
            turnover: 0,
            rtp_actual: None,
            rtp_configured: None,
            z: None,
        };
        planned.push((Kind::Cleared, gone));
    }
    Ok(planned)
}

/// Writes the rows [`plan`] finds, in the caller's write transaction (so
/// two evaluations at once cannot both write a crossing); returns them.
pub fn record(c: &Connection, tests: &[Test], time_ms: u64, as_of_seq: u64) -> Result<Vec<Event>, ReadModelError> {
    plan(c, tests, as_of_seq)?
        .iter()
        .map(|(kind, test)| insert(c, *kind, test, time_ms, as_of_seq))
        .collect()
}

fn last_state(c: &Connection, source: u32, game: &str, currency: &str) -> Result<Option<(Kind, u64)>, ReadModelError> {
    let mut statement = c.prepare_cached(
        "SELECT kind, as_of_seq FROM rtp_alert_events
         WHERE source = ?1 AND game = ?2 AND currency = ?3 ORDER BY id DESC LIMIT 1",
    )?;
    let mut rows = statement.query(params![source, game, currency])?;
    match rows.next()? {
        Some(row) => Ok(Some((
            Kind::parse(&row.get::<_, String>(0)?)?,
            row.get::<_, i64>(1)? as u64,
        ))),
        None => Ok(None),
    }
}

/// The game and currencies whose last row is `raised`.
fn raised_now(c: &Connection) -> Result<Vec<(u32, String, String)>, ReadModelError> {
    let mut statement = c.prepare_cached(
        "SELECT e.source, e.game, e.currency FROM rtp_alert_events e
         WHERE e.kind = 'raised' AND e.id = (SELECT MAX(id) FROM rtp_alert_events l
             WHERE l.source = e.source AND l.game = e.game AND l.currency = e.currency)",
    )?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn insert(c: &Connection, kind: Kind, test: &Test, time_ms: u64, as_of_seq: u64) -> Result<Event, ReadModelError> {
    c.prepare_cached(
        "INSERT INTO rtp_alert_events (source, game, currency, kind, time_ms, as_of_seq, bets, turnover,
             rtp_actual, rtp_configured, z) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        test.source,
        test.game,
        test.currency,
        kind.name(),
        sql_u64(time_ms),
        sql_u64(as_of_seq),
        sql_u64(test.bets),
        test.turnover,
        test.rtp_actual,
        test.rtp_configured,
        test.z,
    ])?;
    Ok(Event {
        id: c.last_insert_rowid() as u64,
        kind,
        time_ms,
        as_of_seq,
        test: test.clone(),
    })
}

/// The rows the filter selects, newest first.
pub fn history(c: &Connection, filter: &Filter) -> Result<Vec<Event>, ReadModelError> {
    let mut statement = c.prepare_cached(
        "SELECT id, kind, time_ms, as_of_seq, source, game, currency, bets, turnover, rtp_actual,
             rtp_configured, z FROM rtp_alert_events
         WHERE time_ms >= ?1 AND time_ms < ?2 AND (?3 IS NULL OR game = ?3)
         ORDER BY id DESC LIMIT ?4",
    )?;
    let rows = statement.query_map(
        params![
            sql_u64(filter.from_ms.unwrap_or(0)),
            sql_u64(filter.to_ms.unwrap_or(u64::MAX)),
            filter.game,
            filter.limit
        ],
        |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
                Test {
                    source: row.get(4)?,
                    game: row.get(5)?,
                    currency: row.get(6)?,
                    alert: false,
                    bets: row.get::<_, i64>(7)? as u64,
                    turnover: row.get(8)?,
                    rtp_actual: row.get(9)?,
                    rtp_configured: row.get(10)?,
                    z: row.get(11)?,
                },
            ))
        },
    )?;
    let mut events = Vec::new();
    for row in rows {
        let (id, kind, time_ms, as_of_seq, mut test) = row?;
        let kind = Kind::parse(&kind)?;
        test.alert = kind == Kind::Raised;
        events.push(Event {
            id: id as u64,
            kind,
            time_ms: time_ms as u64,
            as_of_seq: as_of_seq as u64,
            test,
        });
    }
    Ok(events)
}

/// Alerts raised since the history began (the `/metrics` counter).
pub fn raised_total(c: &Connection) -> Result<u64, ReadModelError> {
    let n: i64 = c.query_row(
        "SELECT COUNT(*) FROM rtp_alert_events WHERE kind = 'raised'",
        [],
        |row| row.get(0),
    )?;
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(game: &str, alert: bool) -> Test {
        Test {
            source: 1,
            game: game.to_owned(),
            currency: "EUR".to_owned(),
            alert,
            bets: 300,
            turnover: 30_000,
            rtp_actual: Some(if alert { 3.0 } else { 0.96 }),
            rtp_configured: Some(0.96),
            z: Some(if alert { 10.0 } else { 0.0 }),
        }
    }

    fn kinds(c: &Connection) -> Vec<(String, &'static str)> {
        let filter = Filter {
            limit: 100,
            ..Filter::default()
        };
        let mut rows: Vec<_> = history(c, &filter)
            .unwrap()
            .into_iter()
            .map(|e| (e.test.game, e.kind.name()))
            .collect();
        rows.reverse();
        rows
    }

    #[test]
    fn one_row_per_transition_not_per_evaluation() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(MIGRATION).unwrap();
        assert!(
            record(&c, &[test("a", false)], 1, 1).unwrap().is_empty(),
            "fair from the start"
        );
        assert_eq!(record(&c, &[test("a", true)], 2, 2).unwrap().len(), 1);
        assert!(record(&c, &[test("a", true)], 3, 3).unwrap().is_empty());
        // Older figures than the last row's change nothing.
        assert!(record(&c, &[test("a", false)], 4, 1).unwrap().is_empty());
        assert_eq!(record(&c, &[test("a", false)], 5, 5).unwrap().len(), 1);
        assert_eq!(record(&c, &[test("b", true)], 6, 6).unwrap().len(), 1);
        // "b" left the window: cleared with no figures.
        let gone = record(&c, &[], 7, 7).unwrap();
        assert_eq!(gone.len(), 1);
        assert_eq!((gone[0].kind, gone[0].test.bets), (Kind::Cleared, 0));
        assert_eq!(
            kinds(&c),
            [
                ("a".to_owned(), "raised"),
                ("a".to_owned(), "cleared"),
                ("b".to_owned(), "raised"),
                ("b".to_owned(), "cleared")
            ]
        );
        assert_eq!(raised_total(&c).unwrap(), 2);
        let only_a = Filter {
            game: Some("a".into()),
            from_ms: Some(3),
            to_ms: Some(6),
            limit: 10,
        };
        let rows = history(&c, &only_a).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].kind, rows[0].time_ms), (Kind::Cleared, 5));
    }
}
