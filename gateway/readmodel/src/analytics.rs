//! Responsible-gambling analytics: the problem-gambling marker alerts and
//! the interventions sent to players, derived from their journaled
//! records (`engine::analytics`, commands 117–120), and the facts the
//! marker worker and the churn model measure (a player's bets, wins and
//! deposits, failed deposits, reversed withdrawals, raised limits).
//!
//! An alert's and an intervention's id is the sequence number of the
//! record that made it. An answer to an intervention already answered, or
//! the closing of an alert already closed, changes nothing: the first
//! one stands, the same on every rebuild.

use engine::PlayerId;
use engine::analytics::{self as work, InterventionAnswer};
use engine::command::Command;
use engine::outcome::Outcome;
use engine::sequencer::Committed;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::ReadModelError;

/// The tables (migration 18).
pub(crate) const MIGRATION: &str = "CREATE TABLE marker_alerts (
        id INTEGER PRIMARY KEY,
        player INTEGER NOT NULL,
        score INTEGER NOT NULL,
        markers TEXT NOT NULL,
        summary TEXT NOT NULL,
        as_of_seq INTEGER NOT NULL,
        time_ms INTEGER NOT NULL,
        state TEXT NOT NULL,
        closed_by INTEGER,
        closed_ms INTEGER,
        finding TEXT
    );
    CREATE INDEX marker_alerts_by_player ON marker_alerts (player, id);
    CREATE INDEX marker_alerts_by_score ON marker_alerts (state, score);
    CREATE TABLE interventions (
        id INTEGER PRIMARY KEY,
        player INTEGER NOT NULL,
        kind TEXT NOT NULL,
        message TEXT NOT NULL,
        alert INTEGER,
        operator INTEGER NOT NULL,
        time_ms INTEGER NOT NULL,
        answer TEXT,
        answered_ms INTEGER
    );
    CREATE INDEX interventions_by_player ON interventions (player, id);
    CREATE INDEX interventions_by_time ON interventions (time_ms);";

/// The score at and above which an open alert flags a player as a
/// possible problem gambler ([`problem_gambling_flagged`]).
pub const FLAG_SCORE: u32 = 40;

/// Applies an accepted analytics record.
pub(crate) fn apply(tx: &Transaction<'_>, committed: &Committed) -> Result<(), ReadModelError> {
    let Command::Analytics(command) = &committed.envelope.request.command else {
        return Ok(());
    };
    let envelope = &committed.envelope;
    let (seq, time_ms) = (envelope.seq as i64, envelope.time_ms as i64);
    match (command, &committed.outcome) {
        (
            work::Command::RaiseMarkerAlert {
                player,
                score,
                markers,
                summary,
                as_of_seq,
            },
            Outcome::MarkerAlertRaised { .. },
        ) => {
            let markers = markers
                .iter()
                .map(|m| format!("{}:{}", m.kind.name(), m.points))
                .collect::<Vec<_>>()
                .join(",");
            tx.prepare_cached(
                "INSERT OR IGNORE INTO marker_alerts (id, player, score, markers, summary, as_of_seq, time_ms, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open')",
            )?
            .execute(params![
                seq,
                player.0 as i64,
                score,
                markers,
                summary.as_str(),
                *as_of_seq as i64,
                time_ms
            ])?;
        }
        (
            work::Command::Intervene {
                player,
                kind,
                message,
                alert,
                operator,
            },
            Outcome::InterventionIssued { .. },
        ) => {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO interventions (id, player, kind, message, alert, operator, time_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                seq,
                player.0 as i64,
                kind.name(),
                message.as_str(),
                (*alert > 0).then_some(*alert as i64),
                operator.0,
                time_ms
            ])?;
        }
        (
            work::Command::AnswerIntervention {
                player,
                intervention,
                answer,
            },
            Outcome::Accepted,
        ) => {
            tx.prepare_cached(
                "UPDATE interventions SET answer = ?3, answered_ms = ?4
                 WHERE id = ?1 AND player = ?2 AND answer IS NULL",
            )?
            .execute(params![*intervention as i64, player.0 as i64, answer.name(), time_ms])?;
        }
        (work::Command::CloseMarkerAlert { alert, text, operator }, Outcome::Accepted) => {
            tx.prepare_cached(
                "UPDATE marker_alerts SET state = 'closed', closed_by = ?2, closed_ms = ?3, finding = ?4
                 WHERE id = ?1 AND state = 'open'",
            )?
            .execute(params![*alert as i64, operator.0, time_ms, text.as_str()])?;
        }
        _ => {}
    }
    Ok(())
}

/// A marker alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkerAlertView {
    /// Its id (the raising record's sequence number).
    pub id: u64,
    /// The player.
    pub player: PlayerId,
    /// Its score, 1 to 100.
    pub score: u32,
    /// The markers found and their points.
    pub markers: Vec<(String, u32)>,
    /// The evidence in words.
    pub summary: String,
    /// The journal position the markers were measured at.
    pub as_of_seq: u64,
    /// When it was raised, ms since the epoch.
    pub time_ms: u64,
    /// `open` or `closed`.
    pub state: String,
    /// Who closed it, when, and what they found.
    pub closed: Option<(u64, u64, String)>,
}

const ALERT_COLUMNS: &str =
    "id, player, score, markers, summary, as_of_seq, time_ms, state, closed_by, closed_ms, finding";

fn alert_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<MarkerAlertView> {
    let markers: String = row.get(3)?;
    let closed_by: Option<i64> = row.get(8)?;
    let closed_ms: Option<i64> = row.get(9)?;
    let finding: Option<String> = row.get(10)?;
    Ok(MarkerAlertView {
        id: row.get::<_, i64>(0)? as u64,
        player: PlayerId(row.get::<_, i64>(1)? as u64),
        score: row.get(2)?,
        markers: markers
            .split(',')
            .filter_map(|pair| {
                let (name, points) = pair.split_once(':')?;
                Some((name.to_owned(), points.parse().ok()?))
            })
            .collect(),
        summary: row.get(4)?,
        as_of_seq: row.get::<_, i64>(5)? as u64,
        time_ms: row.get::<_, i64>(6)? as u64,
        state: row.get(7)?,
        closed: match (closed_by, closed_ms, finding) {
            (Some(by), Some(ms), Some(text)) => Some((by as u64, ms as u64, text)),
            _ => None,
        },
    })
}

/// Which marker alerts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MarkerAlertFilter {
    /// Only this player's.
    pub player: Option<PlayerId>,
    /// Only those scoring at least this.
    pub min_score: u32,
    /// Only open ones.
    pub open_only: bool,
    /// Only those after this id.
    pub after_id: u64,
    /// Most returned.
    pub limit: u32,
}

/// Marker alerts matching `filter`, oldest first.
pub fn marker_alerts(
    connection: &Connection,
    filter: &MarkerAlertFilter,
) -> Result<Vec<MarkerAlertView>, ReadModelError> {
    let sql = format!(
        "SELECT {ALERT_COLUMNS} FROM marker_alerts WHERE id > ?1 AND (?2 IS NULL OR player = ?2)
         AND score >= ?3 AND (?4 = 0 OR state = 'open') ORDER BY id LIMIT ?5"
    );
    let found = connection
        .prepare_cached(&sql)?
        .query_map(
            params![
                filter.after_id as i64,
                filter.player.map(|p| p.0 as i64),
                filter.min_score,
                filter.open_only,
                filter.limit
            ],
            alert_row,
        )?
        .collect::<Result<_, _>>()?;
    Ok(found)
}

/// The marker alert `id`.
pub fn marker_alert(connection: &Connection, id: u64) -> Result<Option<MarkerAlertView>, ReadModelError> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM marker_alerts WHERE id = ?1");
    Ok(connection
        .prepare_cached(&sql)?
        .query_row([id as i64], alert_row)
        .optional()?)
}

/// Whether `player` has an open marker alert scoring [`FLAG_SCORE`] or
/// more: CRM suppresses marketing to such players.
pub fn problem_gambling_flagged(connection: &Connection, player: PlayerId) -> Result<bool, ReadModelError> {
    let found: Option<i64> = connection
        .prepare_cached("SELECT 1 FROM marker_alerts WHERE player = ?1 AND state = 'open' AND score >= ?2 LIMIT 1")?
        .query_row(params![player.0 as i64, FLAG_SCORE], |row| row.get(0))
        .optional()?;
    Ok(found.is_some())
}

/// An intervention sent to a player.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterventionView {
    /// Its id (the sending record's sequence number).
    pub id: u64,
    /// The player.
    pub player: PlayerId,
    /// `reality_check`, `limit_prompt` or `time_out_suggestion`.
    pub kind: String,
    /// What the player is shown.
    pub message: String,
    /// The marker alert it answers.
    pub alert: Option<u64>,
    /// Who sent it (0: the marker worker).
    pub operator: u64,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// The player's answer and when (none: pending).
    pub answer: Option<(String, u64)>,
}

fn intervention_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<InterventionView> {
    let answer: Option<String> = row.get(7)?;
    let answered_ms: Option<i64> = row.get(8)?;
    Ok(InterventionView {
        id: row.get::<_, i64>(0)? as u64,
        player: PlayerId(row.get::<_, i64>(1)? as u64),
        kind: row.get(2)?,
        message: row.get(3)?,
        alert: row.get::<_, Option<i64>>(4)?.map(|a| a as u64),
        operator: row.get::<_, i64>(5)? as u64,
        time_ms: row.get::<_, i64>(6)? as u64,
        answer: answer.zip(answered_ms.map(|ms| ms as u64)),
    })
}

const INTERVENTION_COLUMNS: &str = "id, player, kind, message, alert, operator, time_ms, answer, answered_ms";

/// A player's interventions, newest first (`pending_only`: unanswered), at most `limit`.
pub fn interventions(
    connection: &Connection,
    player: PlayerId,
    pending_only: bool,
    limit: u32,
) -> Result<Vec<InterventionView>, ReadModelError> {
    let sql = format!(
        "SELECT {INTERVENTION_COLUMNS} FROM interventions WHERE player = ?1 AND (?2 = 0 OR answer IS NULL)
         ORDER BY id DESC LIMIT ?3"
    );
    let found = connection
        .prepare_cached(&sql)?
        .query_map(params![player.0 as i64, pending_only, limit], intervention_row)?
        .collect::<Result<_, _>>()?;
    Ok(found)
}

/// The intervention `id`.
pub fn intervention(connection: &Connection, id: u64) -> Result<Option<InterventionView>, ReadModelError> {
    let sql = format!("SELECT {INTERVENTION_COLUMNS} FROM interventions WHERE id = ?1");
    Ok(connection
        .prepare_cached(&sql)?
        .query_row([id as i64], intervention_row)
        .optional()?)
}

/// Whether an answer names an existing intervention of the player that is
/// still unanswered: `Err` says why not.
pub fn check_answerable(
    connection: &Connection,
    player: PlayerId,
    id: u64,
) -> Result<Result<InterventionView, AnswerRefusal>, ReadModelError> {
    Ok(match intervention(connection, id)? {
        Some(found) if found.player != player => Err(AnswerRefusal::Unknown),
        None => Err(AnswerRefusal::Unknown),
        Some(found) if found.answer.is_some() => Err(AnswerRefusal::Answered),
        Some(found) => Ok(found),
    })
}

/// Why an intervention cannot be answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerRefusal {
    /// No such intervention of this player.
    Unknown,
    /// It was answered already.
    Answered,
}

/// The answer an [`InterventionAnswer`] is stored as.
pub fn answer_name(answer: InterventionAnswer) -> &'static str {
    answer.name()
}

/// One money movement the analytics measure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fact {
    /// Its journal record.
    pub seq: u64,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// `bet`, `win` or `deposit`.
    pub kind: FactKind,
    /// The stake, prize or deposit, minor units (positive).
    pub amount_minor: i64,
}

/// What a [`Fact`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactKind {
    /// A bet's stake.
    Bet,
    /// A win's prize.
    Win,
    /// A deposit credited.
    Deposit,
}

/// A player's facts since a moment (the default: player 0, no facts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlayerFacts {
    /// The player.
    pub player: PlayerId,
    /// The wallet currency's code.
    pub currency: String,
    /// Bets, wins and deposits, oldest first.
    pub movements: Vec<Fact>,
    /// Deposits that failed or expired: when, and the amount.
    pub failed_deposits: Vec<(u64, i64)>,
    /// Withdrawals the player reversed: when, and the amount.
    pub reversed_withdrawals: Vec<(u64, i64)>,
    /// Limit raises (scheduled after the cooling-off): their records.
    pub limit_raises: Vec<(u64, u64)>,
}

impl Default for PlayerFacts {
    fn default() -> PlayerFacts {
        PlayerFacts {
            player: PlayerId(0),
            currency: String::new(),
            movements: Vec::new(),
            failed_deposits: Vec::new(),
            reversed_withdrawals: Vec::new(),
            limit_raises: Vec::new(),
        }
    }
}

/// Most movements read for one player.
pub const FACTS_MAX: u32 = 50_000;

/// `player`'s facts since `from_ms` (up to [`FACTS_MAX`] movements, the
/// newest kept).
pub fn facts(connection: &Connection, player: PlayerId, from_ms: u64) -> Result<PlayerFacts, ReadModelError> {
    let p = player.0 as i64;
    let currency: Option<String> = connection
        .prepare_cached("SELECT currency FROM players WHERE player = ?1")?
        .query_row([p], |row| row.get(0))
        .optional()?;
    let mut movements: Vec<Fact> = connection
        .prepare_cached(
            "SELECT seq, time_ms, kind, stake, prize, cash_delta + bonus_delta FROM movements
             WHERE player = ?1 AND time_ms >= ?2 AND kind IN ('bet', 'win', 'deposit', 'deposit_confirm')
             ORDER BY seq DESC LIMIT ?3",
        )?
        .query_map(params![p, from_ms as i64, FACTS_MAX], |row| {
            let kind: String = row.get(2)?;
            let (stake, prize, delta): (i64, i64, i64) = (row.get(3)?, row.get(4)?, row.get(5)?);
            let (kind, amount_minor) = match kind.as_str() {
                "bet" => (FactKind::Bet, stake.max(-delta)),
                "win" => (FactKind::Win, prize.max(delta)),
                _ => (FactKind::Deposit, delta),
            };
            Ok(Fact {
                seq: row.get::<_, i64>(0)? as u64,
                time_ms: row.get::<_, i64>(1)? as u64,
                kind,
                amount_minor,
            })
        })?
        .collect::<Result<_, _>>()?;
    movements.reverse();
    let payments = |kind: &str, states: &str| -> Result<Vec<(u64, i64)>, ReadModelError> {
        let sql = format!(
            "SELECT updated_ms, amount_minor FROM cashier_payments
             WHERE player = ?1 AND kind = ?2 AND state IN ({states}) AND updated_ms >= ?3 ORDER BY updated_ms"
        );
        Ok(connection
            .prepare_cached(&sql)?
            .query_map(params![p, kind, from_ms as i64], |row| {
                Ok((row.get::<_, i64>(0)? as u64, row.get(1)?))
            })?
            .collect::<Result<_, _>>()?)
    };
    let failed_deposits = payments("deposit", "'failed', 'expired'")?;
    let reversed_withdrawals = payments("withdrawal", "'reversed'")?;
    let mut limit_raises = Vec::new();
    let mut statement = connection.prepare_cached(
        "SELECT seq, time_ms, outcome FROM transactions WHERE player = ?1 AND kind = ?2 AND time_ms >= ?3
         ORDER BY seq",
    )?;
    let mut rows = statement.query(params![p, "set_limit", from_ms as i64])?;
    while let Some(row) = rows.next()? {
        let outcome: Vec<u8> = row.get(2)?;
        // A raise waits for the cooling-off (a scheduled change); a first
        // limit or a lowering applies at once.
        if let Ok(Outcome::Scheduled { .. }) = engine::codec::from_bytes::<Outcome>(&outcome) {
            limit_raises.push((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64));
        }
    }
    Ok(PlayerFacts {
        player,
        currency: currency.unwrap_or_default(),
        movements,
        failed_deposits,
        reversed_withdrawals,
        limit_raises,
    })
}

/// Players with a bet, win or deposit at or after `from_ms`, ascending,
/// after `after`, at most `limit`.
pub fn active_players(
    connection: &Connection,
    from_ms: u64,
    after: PlayerId,
    limit: u32,
) -> Result<Vec<PlayerId>, ReadModelError> {
    let found = connection
        .prepare_cached(
            "SELECT DISTINCT player FROM movements WHERE time_ms >= ?1 AND player > ?2
             AND kind IN ('bet', 'win', 'deposit', 'deposit_confirm') ORDER BY player LIMIT ?3",
        )?
        .query_map(params![from_ms as i64, after.0 as i64, limit], |row| {
            Ok(PlayerId(row.get::<_, i64>(0)? as u64))
        })?
        .collect::<Result<_, _>>()?;
    Ok(found)
}

/// Interventions and marker alerts in a period, per kind and the
/// player's wallet currency: what the RG interventions report sums.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InterventionCounts {
    /// (kind, answer or `pending`, currency): count.
    pub interventions: Vec<(String, String, String, u64)>,
    /// (marker, currency): alerts raised that name it.
    pub markers: Vec<(String, String, u64)>,
    /// (state now, currency): alerts raised.
    pub alerts: Vec<(String, String, u64)>,
}

/// What happened in `[from_ms, to_ms)`.
pub fn intervention_counts(
    connection: &Connection,
    from_ms: u64,
    to_ms: u64,
) -> Result<InterventionCounts, ReadModelError> {
    let range = params![from_ms as i64, to_ms as i64];
    let interventions = connection
        .prepare_cached(
            "SELECT i.kind, COALESCE(i.answer, 'pending'), COALESCE(p.currency, ''), COUNT(*)
             FROM interventions i LEFT JOIN players p ON p.player = i.player
             WHERE i.time_ms >= ?1 AND i.time_ms < ?2 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        )?
        .query_map(range, |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get::<_, i64>(3)? as u64))
        })?
        .collect::<Result<_, _>>()?;
    let alerts = connection
        .prepare_cached(
            "SELECT a.state, COALESCE(p.currency, ''), COUNT(*)
             FROM marker_alerts a LEFT JOIN players p ON p.player = a.player
             WHERE a.time_ms >= ?1 AND a.time_ms < ?2 GROUP BY 1, 2 ORDER BY 1, 2",
        )?
        .query_map(range, |row| {
            Ok((row.get(0)?, row.get(1)?, row.get::<_, i64>(2)? as u64))
        })?
        .collect::<Result<_, _>>()?;
    let mut markers: Vec<(String, String, u64)> = Vec::new();
    let mut statement = connection.prepare_cached(
        "SELECT a.markers, COALESCE(p.currency, '') FROM marker_alerts a LEFT JOIN players p ON p.player = a.player
         WHERE a.time_ms >= ?1 AND a.time_ms < ?2",
    )?;
    let mut rows = statement.query(range)?;
    while let Some(row) = rows.next()? {
        let (names, currency): (String, String) = (row.get(0)?, row.get(1)?);
        for pair in names.split(',') {
            let name = pair.split(':').next().unwrap_or_default().to_owned();
            match markers.iter_mut().find(|(n, c, _)| *n == name && *c == currency) {
                Some(slot) => slot.2 += 1,
                None => markers.push((name, currency.clone(), 1)),
            }
        }
    }
    markers.sort();
    Ok(InterventionCounts {
        interventions,
        markers,
        alerts,
    })
}
