//! The login projection: each player's login sessions, the devices and IP
//! addresses (as blind indexes) they came from, and the risk flags drawn
//! from them (concurrent sessions, a device or address shared between
//! players).
//!
//! A session is opened by a recorded login and named by its sequence
//! number. It ends at a logout from the same device, or, when the front end
//! never reported that logout, at the next login from the same device. A
//! login while a session of the player is still open on another device is
//! concurrent: the new session names the open one. Nothing here is personal
//! data in clear: the device id and the IP address arrive as keyed hashes,
//! the user agent as its browser and OS families (`engine::players::LoginContext`).

use engine::command::Command;
use engine::outcome::{BlockReason, Outcome};
use engine::players::{self, LoginContext};
use engine::sequencer::Committed;
use engine::{BlindIndex, PlayerId};
use rusqlite::{Connection, Transaction, params};

use crate::ReadModelError;

/// The schema of this projection, and the columns the game history adds to
/// the movements (`crate::history`).
pub const MIGRATION: &str = "
    ALTER TABLE movements ADD COLUMN round TEXT;
    ALTER TABLE movements ADD COLUMN game TEXT;
    CREATE INDEX movements_by_time ON movements (player, time_ms);
    CREATE INDEX movements_by_round ON movements (player, source, round) WHERE round IS NOT NULL;
    CREATE TABLE login_sessions (
        seq INTEGER PRIMARY KEY,
        player INTEGER NOT NULL,
        device BLOB NOT NULL,
        ip BLOB NOT NULL,
        browser TEXT NOT NULL,
        os TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        blocked TEXT,
        blocked_until_ms INTEGER,
        concurrent_with INTEGER,
        end_ms INTEGER,
        end_seq INTEGER,
        ended_by TEXT
    );
    CREATE INDEX login_sessions_by_player ON login_sessions (player, seq);
    CREATE INDEX login_sessions_open ON login_sessions (player, device) WHERE end_ms IS NULL;
    CREATE TABLE login_identifiers (
        kind TEXT NOT NULL,
        hash BLOB NOT NULL,
        player INTEGER NOT NULL,
        first_ms INTEGER NOT NULL,
        last_ms INTEGER NOT NULL,
        logins INTEGER NOT NULL,
        browser TEXT NOT NULL,
        os TEXT NOT NULL,
        PRIMARY KEY (kind, hash, player)
    ) WITHOUT ROWID;
    CREATE INDEX login_identifiers_by_player ON login_identifiers (player, kind);
    CREATE TABLE identifier_players (
        kind TEXT NOT NULL,
        hash BLOB NOT NULL,
        players INTEGER NOT NULL,
        PRIMARY KEY (kind, hash)
    ) WITHOUT ROWID;
    CREATE INDEX identifiers_shared ON identifier_players (kind, hash) WHERE players > 1;";

/// A device id's blind index ([`Identifier::Device`]) or an IP address's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identifier {
    /// The front end's device id.
    Device,
    /// The client's IP address.
    Ip,
}

impl Identifier {
    /// `device` or `ip`.
    pub fn name(self) -> &'static str {
        match self {
            Identifier::Device => "device",
            Identifier::Ip => "ip",
        }
    }

    /// The identifier named `name`.
    pub fn from_name(name: &str) -> Option<Identifier> {
        match name {
            "device" => Some(Identifier::Device),
            "ip" => Some(Identifier::Ip),
            _ => None,
        }
    }
}

/// Applies a recorded login or logout.
pub(crate) fn apply(tx: &Transaction<'_>, committed: &Committed, time_ms: u64) -> Result<(), ReadModelError> {
    let seq = committed.envelope.seq;
    match (&committed.envelope.request.command, &committed.outcome) {
        (Command::Players(players::Command::RecordLogin { player, context }), Outcome::LoginRecorded { blocked }) => {
            login(tx, seq, time_ms, *player, context, *blocked)
        }
        (Command::Players(players::Command::RecordLogout { player, context }), Outcome::Accepted) => {
            end_open(tx, seq, time_ms, *player, &context.device, "logout")
        }
        _ => Ok(()),
    }
}

fn login(
    tx: &Transaction<'_>,
    seq: u64,
    time_ms: u64,
    player: PlayerId,
    context: &LoginContext,
    blocked: Option<BlockReason>,
) -> Result<(), ReadModelError> {
    end_open(tx, seq, time_ms, player, &context.device, "next_login")?;
    let concurrent_with: Option<i64> = tx
        .prepare_cached("SELECT MAX(seq) FROM login_sessions WHERE player = ?1 AND end_ms IS NULL")?
        .query_row(params![player.0 as i64], |row| row.get(0))?;
    let (blocked, blocked_until_ms) = match blocked {
        None => (None, None),
        Some(BlockReason::Suspended) => (Some("suspended"), None),
        Some(BlockReason::Closed) => (Some("closed"), None),
        Some(BlockReason::SelfExcluded { until_ms }) => (Some("self_excluded"), Some(until_ms as i64)),
        Some(BlockReason::TimedOut { until_ms }) => (Some("timed_out"), Some(until_ms as i64)),
    };
    let (browser, os) = (context.agent.browser.name(), context.agent.os.name());
    tx.prepare_cached(
        "INSERT OR REPLACE INTO login_sessions
             (seq, player, device, ip, browser, os, start_ms, blocked, blocked_until_ms, concurrent_with)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        seq as i64,
        player.0 as i64,
        &context.device.0[..],
        &context.ip.0[..],
        browser,
        os,
        time_ms as i64,
        blocked,
        blocked_until_ms,
        concurrent_with,
    ])?;
    for (kind, hash) in [(Identifier::Device, &context.device), (Identifier::Ip, &context.ip)] {
        seen(tx, kind, hash, player, time_ms, browser, os)?;
    }
    Ok(())
}

/// Ends the session open on `device`, if there is one.
fn end_open(
    tx: &Transaction<'_>,
    seq: u64,
    time_ms: u64,
    player: PlayerId,
    device: &BlindIndex,
    ended_by: &str,
) -> Result<(), ReadModelError> {
    tx.prepare_cached(
        "UPDATE login_sessions SET end_ms = ?1, end_seq = ?2, ended_by = ?3
         WHERE player = ?4 AND device = ?5 AND end_ms IS NULL",
    )?
    .execute(params![
        time_ms as i64,
        seq as i64,
        ended_by,
        player.0 as i64,
        &device.0[..]
    ])?;
    Ok(())
}

/// Counts a login of `player` from `hash`; a player new to the identifier
/// adds one to the number of players who used it.
fn seen(
    tx: &Transaction<'_>,
    kind: Identifier,
    hash: &BlindIndex,
    player: PlayerId,
    time_ms: u64,
    browser: &str,
    os: &str,
) -> Result<(), ReadModelError> {
    let updated = tx
        .prepare_cached(
            "UPDATE login_identifiers SET last_ms = ?4, logins = logins + 1, browser = ?5, os = ?6
             WHERE kind = ?1 AND hash = ?2 AND player = ?3",
        )?
        .execute(params![
            kind.name(),
            &hash.0[..],
            player.0 as i64,
            time_ms as i64,
            browser,
            os
        ])?;
    if updated > 0 {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO login_identifiers (kind, hash, player, first_ms, last_ms, logins, browser, os)
         VALUES (?1, ?2, ?3, ?4, ?4, 1, ?5, ?6)",
    )?
    .execute(params![
        kind.name(),
        &hash.0[..],
        player.0 as i64,
        time_ms as i64,
        browser,
        os
    ])?;
    tx.prepare_cached(
        "INSERT INTO identifier_players (kind, hash, players) VALUES (?1, ?2, 1)
         ON CONFLICT (kind, hash) DO UPDATE SET players = players + 1",
    )?
    .execute(params![kind.name(), &hash.0[..]])?;
    Ok(())
}

/// One login session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionView {
    /// The login's sequence number: the session's id.
    pub seq: u64,
    /// The device's blind index.
    pub device: BlindIndex,
    /// The IP address's blind index.
    pub ip: BlindIndex,
    /// The user agent's browser family.
    pub browser: String,
    /// The user agent's OS family.
    pub os: String,
    /// When it started, ms since the epoch.
    pub start_ms: u64,
    /// When it ended, if it did.
    pub end_ms: Option<u64>,
    /// `logout`, or `next_login` (from the same device, with no logout reported).
    pub ended_by: Option<String>,
    /// Why the account could not play at the login (`closed`, `suspended`,
    /// `self_excluded`, `timed_out`), and until when.
    pub blocked: Option<(String, Option<u64>)>,
    /// Another session of the player open at this login, on another device.
    pub concurrent_with: Option<u64>,
}

const SESSION_COLUMNS: &str =
    "seq, device, ip, browser, os, start_ms, end_ms, ended_by, blocked, blocked_until_ms, concurrent_with";

fn index(bytes: Vec<u8>) -> Result<BlindIndex, ReadModelError> {
    <[u8; 16]>::try_from(bytes.as_slice())
        .map(BlindIndex)
        .map_err(|_| ReadModelError::Damaged("a blind index is not 16 bytes".into()))
}

fn session_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(SessionView, Vec<u8>, Vec<u8>)> {
    let blocked: Option<String> = row.get(8)?;
    let blocked_until_ms: Option<i64> = row.get(9)?;
    Ok((
        SessionView {
            seq: row.get::<_, i64>(0)? as u64,
            device: BlindIndex([0; 16]),
            ip: BlindIndex([0; 16]),
            browser: row.get(3)?,
            os: row.get(4)?,
            start_ms: row.get::<_, i64>(5)? as u64,
            end_ms: row.get::<_, Option<i64>>(6)?.map(|t| t as u64),
            ended_by: row.get(7)?,
            blocked: blocked.map(|reason| (reason, blocked_until_ms.map(|t| t as u64))),
            concurrent_with: row.get::<_, Option<i64>>(10)?.map(|s| s as u64),
        },
        row.get(1)?,
        row.get(2)?,
    ))
}

fn sessions_where(
    connection: &Connection,
    condition: &str,
    values: &[&dyn rusqlite::ToSql],
) -> Result<Vec<SessionView>, ReadModelError> {
    let sql = format!("SELECT {SESSION_COLUMNS} FROM login_sessions WHERE {condition}");
    let mut statement = connection.prepare_cached(&sql)?;
    let rows = statement.query_map(values, session_row)?;
    let mut sessions = Vec::new();
    for row in rows {
        let (mut session, device, ip) = row?;
        session.device = index(device)?;
        session.ip = index(ip)?;
        sessions.push(session);
    }
    Ok(sessions)
}

/// A player's sessions, newest first, those started before the session
/// `before_seq` (paging), at most `limit`.
pub fn sessions(
    connection: &Connection,
    player: PlayerId,
    before_seq: u64,
    limit: usize,
) -> Result<Vec<SessionView>, ReadModelError> {
    sessions_where(
        connection,
        "player = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
        &[
            &(player.0 as i64),
            &(before_seq.min(i64::MAX as u64) as i64),
            &(limit as i64),
        ],
    )
}

/// The session a login started, if `seq` is one of `player`'s.
pub fn session(connection: &Connection, player: PlayerId, seq: u64) -> Result<Option<SessionView>, ReadModelError> {
    Ok(sessions_where(
        connection,
        "player = ?1 AND seq = ?2",
        &[&(player.0 as i64), &(seq.min(i64::MAX as u64) as i64)],
    )?
    .pop())
}

/// The session a logout (at `logout_seq`) ended, if it ended one.
pub fn ended_by(
    connection: &Connection,
    player: PlayerId,
    logout_seq: u64,
) -> Result<Option<SessionView>, ReadModelError> {
    Ok(sessions_where(
        connection,
        "player = ?1 AND end_seq = ?2 AND ended_by = 'logout'",
        &[&(player.0 as i64), &(logout_seq as i64)],
    )?
    .pop())
}

/// A device or IP address a player logged in from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentifierView {
    /// Device or IP address.
    pub kind: Identifier,
    /// Its blind index.
    pub hash: BlindIndex,
    /// First and last login from it, ms since the epoch.
    pub first_ms: u64,
    /// The last login from it.
    pub last_ms: u64,
    /// Logins from it.
    pub logins: u64,
    /// The browser family of the last login from it.
    pub browser: String,
    /// The OS family of the last login from it.
    pub os: String,
    /// How many players logged in from it (1: only this one).
    pub players: u64,
}

/// The devices and IP addresses `player` logged in from (of `kind`, or
/// both), most recently used first.
pub fn identifiers(
    connection: &Connection,
    player: PlayerId,
    kind: Option<Identifier>,
) -> Result<Vec<IdentifierView>, ReadModelError> {
    let mut statement = connection.prepare_cached(
        "SELECT i.kind, i.hash, i.first_ms, i.last_ms, i.logins, i.browser, i.os, p.players
         FROM login_identifiers i JOIN identifier_players p ON p.kind = i.kind AND p.hash = i.hash
         WHERE i.player = ?1 AND (?2 IS NULL OR i.kind = ?2)
         ORDER BY i.last_ms DESC, i.kind, i.hash",
    )?;
    let rows = statement.query_map(params![player.0 as i64, kind.map(Identifier::name)], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, Vec<u8>>(1)?,
            [row.get::<_, i64>(2)?, row.get::<_, i64>(3)?, row.get::<_, i64>(4)?],
            row.get::<_, String>(5)?,
            row.get::<_, String>(6)?,
            row.get::<_, i64>(7)?,
        ))
    })?;
    let mut found = Vec::new();
    for row in rows {
        let (kind, hash, [first_ms, last_ms, logins], browser, os, players) = row?;
        found.push(IdentifierView {
            kind: Identifier::from_name(&kind).ok_or_else(|| ReadModelError::Damaged(format!("identifier {kind}")))?,
            hash: index(hash)?,
            first_ms: first_ms as u64,
            last_ms: last_ms as u64,
            logins: logins as u64,
            browser,
            os,
            players: players as u64,
        });
    }
    Ok(found)
}

/// The players who logged in from an identifier, lowest id first, at most
/// `limit`.
pub fn identifier_players(
    connection: &Connection,
    kind: Identifier,
    hash: &BlindIndex,
    limit: usize,
) -> Result<Vec<PlayerId>, ReadModelError> {
    let mut statement = connection.prepare_cached(
        "SELECT player FROM login_identifiers WHERE kind = ?1 AND hash = ?2 ORDER BY player LIMIT ?3",
    )?;
    let rows = statement.query_map(params![kind.name(), &hash.0[..], limit as i64], |row| {
        row.get::<_, i64>(0)
    })?;
    let mut players = Vec::new();
    for row in rows {
        players.push(PlayerId(row? as u64));
    }
    Ok(players)
}

/// Identifiers more than one player logged in from, in (kind, hash) order,
/// after `after` (paging), at most `limit`; each with its number of players.
pub fn shared(
    connection: &Connection,
    after: Option<(Identifier, BlindIndex)>,
    limit: usize,
) -> Result<Vec<(Identifier, BlindIndex, u64)>, ReadModelError> {
    let (after_kind, after_hash) = match after {
        Some((kind, hash)) => (kind.name(), hash.0.to_vec()),
        None => ("", Vec::new()),
    };
    let mut statement = connection.prepare_cached(
        "SELECT kind, hash, players FROM identifier_players
         WHERE players > 1 AND (kind > ?1 OR (kind = ?1 AND hash > ?2))
         ORDER BY kind, hash LIMIT ?3",
    )?;
    let rows = statement.query_map(params![after_kind, after_hash, limit as i64], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, Vec<u8>>(1)?,
            row.get::<_, i64>(2)?,
        ))
    })?;
    let mut found = Vec::new();
    for row in rows {
        let (kind, hash, players) = row?;
        let kind = Identifier::from_name(&kind).ok_or_else(|| ReadModelError::Damaged(format!("identifier {kind}")))?;
        found.push((kind, index(hash)?, players as u64));
    }
    Ok(found)
}

/// A player's sessions that were concurrent with another (newest first, at
/// most `limit`).
pub fn concurrent(connection: &Connection, player: PlayerId, limit: usize) -> Result<Vec<SessionView>, ReadModelError> {
    sessions_where(
        connection,
        "player = ?1 AND concurrent_with IS NOT NULL ORDER BY seq DESC LIMIT ?2",
        &[&(player.0 as i64), &(limit as i64)],
    )
}
