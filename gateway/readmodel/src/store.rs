//! The SQLite file of the read models: opening it (WAL mode), its schema
//! migrations, and the checkpoint that says how far it follows the journal.
//!
//! The file is `<data dir>/readmodel.sqlite`. It holds nothing the journal
//! does not: deleting it costs a rebuild on the next start, never data. A
//! migration is appended to [`MIGRATIONS`] and never edited; the schema
//! version is SQLite's `user_version`. A file whose version is newer than
//! this build knows (written by a later release) is rebuilt rather than
//! misread.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, Transaction};

use crate::ReadModelError;

/// The read-model file in a data directory.
pub const FILE_NAME: &str = "readmodel.sqlite";

/// Schema migrations, in order: migration `i` takes the schema from
/// version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: checkpoint, transactions by (source, id), per-player movements,
    // balances, players.
    "CREATE TABLE checkpoint (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        time_ms INTEGER NOT NULL,
        history_from_seq INTEGER NOT NULL
    );
    INSERT INTO checkpoint (id, seq, time_ms, history_from_seq) VALUES (1, 0, 0, 1);
    CREATE TABLE transactions (
        source INTEGER NOT NULL,
        ext_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        time_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        player INTEGER,
        state TEXT NOT NULL,
        outcome BLOB NOT NULL,
        PRIMARY KEY (source, ext_id)
    ) WITHOUT ROWID;
    CREATE TABLE movements (
        seq INTEGER PRIMARY KEY,
        player INTEGER NOT NULL,
        currency TEXT NOT NULL,
        kind TEXT NOT NULL,
        source INTEGER NOT NULL,
        ext_id TEXT NOT NULL,
        time_ms INTEGER NOT NULL,
        cash_delta INTEGER NOT NULL,
        bonus_delta INTEGER NOT NULL,
        cash INTEGER NOT NULL,
        bonus INTEGER NOT NULL,
        reserved INTEGER NOT NULL
    );
    CREATE INDEX movements_by_player ON movements (player, currency, seq);
    CREATE TABLE players (
        player INTEGER PRIMARY KEY,
        currency TEXT NOT NULL
    );
    CREATE TABLE balances (
        player INTEGER NOT NULL,
        currency TEXT NOT NULL,
        cash INTEGER NOT NULL,
        bonus INTEGER NOT NULL,
        reserved INTEGER NOT NULL,
        loyalty_points INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (player, currency)
    ) WITHOUT ROWID;",
];

/// The path of the read-model file in `data_dir`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Opens (creating if needed) the read-model file and brings its schema up
/// to date. A file this build cannot use (unreadable, or from a newer
/// release) is deleted and created anew: the journal rebuilds it.
pub fn open(path: &Path) -> Result<Connection, ReadModelError> {
    match open_migrated(path) {
        Ok(connection) => Ok(connection),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "read-model file unusable: rebuilding it from the journal");
            remove(path)?;
            open_migrated(path)
        }
    }
}

/// Deletes the read-model file and its WAL and shared-memory files.
pub fn remove(path: &Path) -> Result<(), ReadModelError> {
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(ReadModelError::Io { path: file, source }),
        }
    }
    Ok(())
}

fn open_migrated(path: &Path) -> Result<Connection, ReadModelError> {
    let mut connection = Connection::open(path)?;
    // WAL: readers never block the projection's writes, nor it them.
    // synchronous=NORMAL: a power cut may lose the last transactions, which
    // the journal replays (the checkpoint is in the same transactions).
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    let version: u32 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = MIGRATIONS.len() as u32;
    if version > known {
        return Err(ReadModelError::NewerSchema { found: version, known });
    }
    let tx = connection.transaction()?;
    for (number, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", number as u32 + 1)?;
    }
    tx.commit()?;
    Ok(connection)
}

/// Opens another connection to an existing, migrated file, for queries.
pub fn open_reader(path: &Path) -> Result<Connection, ReadModelError> {
    let connection = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(connection)
}

/// How far the file follows the journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The last sequence number applied (0: none).
    pub seq: u64,
    /// The ledger's clock after it (the latest time stamped so far).
    pub time_ms: u64,
    /// The first sequence number whose movements the history holds (older
    /// journal segments were retired before this file was built).
    pub history_from_seq: u64,
}

/// Reads the checkpoint.
pub fn checkpoint(connection: &Connection) -> Result<Checkpoint, ReadModelError> {
    let row = connection
        .query_row(
            "SELECT seq, time_ms, history_from_seq FROM checkpoint WHERE id = 1",
            [],
            |row| {
                Ok(Checkpoint {
                    seq: row.get::<_, i64>(0)? as u64,
                    time_ms: row.get::<_, i64>(1)? as u64,
                    history_from_seq: row.get::<_, i64>(2)? as u64,
                })
            },
        )
        .optional()?;
    row.ok_or_else(|| ReadModelError::Damaged("no checkpoint row".into()))
}

/// Moves the checkpoint, inside the transaction that applied the records.
pub fn set_checkpoint(tx: &Transaction<'_>, checkpoint: Checkpoint) -> Result<(), ReadModelError> {
    tx.execute(
        "UPDATE checkpoint SET seq = ?1, time_ms = ?2, history_from_seq = ?3 WHERE id = 1",
        (
            checkpoint.seq as i64,
            checkpoint.time_ms as i64,
            checkpoint.history_from_seq as i64,
        ),
    )?;
    Ok(())
}
