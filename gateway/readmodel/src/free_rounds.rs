//! Free rounds granted through an aggregator's free-rounds call: each
//! award (`FreeRoundsAwarded`) and where it stands (`FreeRoundsSettled`).
//!
//! The table is the outbox, as the campaigns' targets are: an award is
//! `awarded` (owed the aggregator's create call) until the worker journals
//! it `confirmed` or `failed`; a cancel asked for makes it `cancelling`
//! (owed the cancel call) until it is `cancelled` (or `cancel_failed`);
//! credited winnings make it `won`. Each change applies only from the
//! states it can follow, so a repeated or late record changes nothing.

use engine::Command;
use engine::bonus::{self, FreeRoundsAward, FreeRoundsState};
use engine::codec::{from_bytes, to_bytes};
use engine::sequencer::Committed;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::ReadModelError;

/// The table (migration 26, `store::MIGRATIONS`). Only journals written
/// after it hold any awards, so no rebuild.
pub(crate) const MIGRATION: &str = "CREATE TABLE free_rounds (
    code TEXT PRIMARY KEY,
    player INTEGER NOT NULL,
    template TEXT NOT NULL,
    award BLOB NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    winnings INTEGER,
    operator INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    awarded_ms INTEGER NOT NULL,
    settled_seq INTEGER,
    settled_ms INTEGER
);
CREATE INDEX free_rounds_by_player ON free_rounds (player, seq);
CREATE INDEX free_rounds_by_state ON free_rounds (state, seq);";

/// An award and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreeRoundsView {
    /// The award as journaled.
    pub award: FreeRoundsAward,
    /// `awarded`, `confirmed`, `failed`, `cancelling`, `cancelled`,
    /// `cancel_failed` or `won`.
    pub state: String,
    /// Calls made to the aggregator for its last change.
    pub attempts: u32,
    /// The winnings credited (minor units), once `won`.
    pub winnings: Option<i64>,
    /// Who granted it (0: the system).
    pub operator: u32,
    /// The award's sequence number.
    pub seq: u64,
    /// When it was awarded, ms since the epoch.
    pub awarded_ms: u64,
    /// When its state last changed, ms since the epoch.
    pub settled_ms: Option<u64>,
}

impl FreeRoundsView {
    /// Whether the worker owes the aggregator a call for it.
    pub fn owed(&self) -> bool {
        self.state == "awarded" || self.state == "cancelling"
    }
}

/// The new state, and the states it may follow.
fn transition(state: FreeRoundsState, from_cancel: bool) -> (&'static str, &'static [&'static str]) {
    match state {
        FreeRoundsState::Confirmed => ("confirmed", &["awarded"]),
        FreeRoundsState::Failed if from_cancel => ("cancel_failed", &["cancelling"]),
        FreeRoundsState::Failed => ("failed", &["awarded"]),
        FreeRoundsState::CancelRequested => ("cancelling", &["awarded", "confirmed"]),
        FreeRoundsState::Cancelled => ("cancelled", &["cancelling", "cancel_failed"]),
        FreeRoundsState::Won { .. } => ("won", &["confirmed", "cancelling", "cancel_failed"]),
    }
}

/// Folds one committed record into the table.
pub(crate) fn apply(tx: &Transaction<'_>, committed: &Committed) -> Result<(), ReadModelError> {
    if !committed.outcome.is_ok() {
        return Ok(());
    }
    let seq = committed.envelope.seq as i64;
    let time_ms = committed.envelope.time_ms as i64;
    match &committed.envelope.request.command {
        Command::Bonus(bonus::Command::FreeRoundsAwarded { award, operator }) => {
            // The first award of a code stands: the code derives from the
            // grant's request id, so a second is the same grant.
            tx.prepare_cached(
                "INSERT OR IGNORE INTO free_rounds (code, player, template, award, expires_at_ms, state,
                 operator, seq, awarded_ms) VALUES (?1, ?2, ?3, ?4, ?5, 'awarded', ?6, ?7, ?8)",
            )?
            .execute(params![
                award.code.as_str(),
                award.player.0 as i64,
                award.template.as_str(),
                to_bytes(&**award),
                award.expires_at_ms as i64,
                operator.0,
                seq,
                time_ms
            ])?;
        }
        Command::Bonus(bonus::Command::FreeRoundsSettled {
            player,
            code,
            state,
            attempts,
            ..
        }) => {
            let current: Option<String> = tx
                .prepare_cached("SELECT state FROM free_rounds WHERE code = ?1 AND player = ?2")?
                .query_row(params![code.as_str(), player.0 as i64], |row| row.get(0))
                .optional()?;
            let Some(current) = current else { return Ok(()) };
            let (to, from) = transition(*state, current == "cancelling");
            if !from.contains(&current.as_str()) {
                return Ok(());
            }
            let winnings = match state {
                FreeRoundsState::Won { winnings } => Some(winnings.minor()),
                _ => None,
            };
            tx.prepare_cached(
                "UPDATE free_rounds SET state = ?2, attempts = ?3, winnings = COALESCE(?4, winnings),
                 settled_seq = ?5, settled_ms = ?6 WHERE code = ?1",
            )?
            .execute(params![code.as_str(), to, attempts, winnings, seq, time_ms])?;
        }
        _ => {}
    }
    Ok(())
}

const COLUMNS: &str = "award, state, attempts, winnings, operator, seq, awarded_ms, settled_ms";

type Row = (Vec<u8>, String, u32, Option<i64>, u32, i64, i64, Option<i64>);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn view(
    (bytes, state, attempts, winnings, operator, seq, awarded_ms, settled_ms): Row,
) -> Result<FreeRoundsView, ReadModelError> {
    let award = from_bytes::<FreeRoundsAward>(&bytes)
        .map_err(|e| ReadModelError::Damaged(format!("free rounds at seq {seq}: {e}")))?;
    Ok(FreeRoundsView {
        award,
        state,
        attempts,
        winnings,
        operator,
        seq: seq as u64,
        awarded_ms: awarded_ms as u64,
        settled_ms: settled_ms.map(|ms| ms as u64),
    })
}

fn views(c: &Connection, sql: &str, args: impl rusqlite::Params) -> Result<Vec<FreeRoundsView>, ReadModelError> {
    let rows = c
        .prepare_cached(sql)?
        .query_map(args, row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(view).collect()
}

/// A player's awards, newest first.
pub fn by_player(c: &Connection, player: u64) -> Result<Vec<FreeRoundsView>, ReadModelError> {
    views(
        c,
        &format!("SELECT {COLUMNS} FROM free_rounds WHERE player = ?1 ORDER BY seq DESC"),
        params![player as i64],
    )
}

/// The award of a bonus code.
pub fn by_code(c: &Connection, code: &str) -> Result<Option<FreeRoundsView>, ReadModelError> {
    let found = c
        .prepare_cached(&format!("SELECT {COLUMNS} FROM free_rounds WHERE code = ?1"))?
        .query_row(params![code], row)
        .optional()?;
    found.map(view).transpose()
}

/// The outbox: awards owed a create or a cancel call, oldest first.
pub fn owed(c: &Connection, limit: u32) -> Result<Vec<FreeRoundsView>, ReadModelError> {
    views(
        c,
        &format!("SELECT {COLUMNS} FROM free_rounds WHERE state IN ('awarded', 'cancelling') ORDER BY seq LIMIT ?1"),
        params![limit],
    )
}

/// Confirmed awards whose rounds lapsed by `now_ms`, oldest first: owed a
/// cancel so the aggregator drops them too.
pub fn lapsed(c: &Connection, now_ms: u64, limit: u32) -> Result<Vec<FreeRoundsView>, ReadModelError> {
    views(
        c,
        &format!(
            "SELECT {COLUMNS} FROM free_rounds WHERE state = 'confirmed' AND expires_at_ms <= ?1 ORDER BY seq LIMIT ?2"
        ),
        params![now_ms as i64, limit],
    )
}

#[cfg(test)]
mod tests {
    use engine::Amount;

    use super::*;

    #[test]
    fn each_state_follows_only_the_states_it_can() {
        let won = FreeRoundsState::Won {
            winnings: Amount::from_minor(1),
        };
        let cases = [
            (FreeRoundsState::Confirmed, false, "confirmed", &["awarded"][..]),
            (FreeRoundsState::Failed, false, "failed", &["awarded"][..]),
            (FreeRoundsState::Failed, true, "cancel_failed", &["cancelling"][..]),
            (
                FreeRoundsState::CancelRequested,
                false,
                "cancelling",
                &["awarded", "confirmed"][..],
            ),
            (
                FreeRoundsState::Cancelled,
                true,
                "cancelled",
                &["cancelling", "cancel_failed"][..],
            ),
            (won, false, "won", &["confirmed", "cancelling", "cancel_failed"][..]),
        ];
        for (state, from_cancel, to, from) in cases {
            assert_eq!(transition(state, from_cancel), (to, from), "{state:?}");
        }
        // Nothing moves a settled award back to owing a call.
        for state in [FreeRoundsState::Confirmed, FreeRoundsState::CancelRequested] {
            let (_, from) = transition(state, false);
            assert!(!from.contains(&"failed") && !from.contains(&"cancelled") && !from.contains(&"won"));
        }
    }
}
