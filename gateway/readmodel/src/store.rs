//! The SQLite file of the read models: opening it (WAL mode), its schema
//! migrations, and the checkpoint that says how far it follows the journal.
//!
//! The file is `<data dir>/readmodel.sqlite`. It holds nothing the journal
//! does not (the RTP alerts' history, [`crate::rtp_alerts`], is recomputed
//! from the figures): deleting it costs a rebuild on the next start, never
//! data. A
//! migration is appended to [`MIGRATIONS`] and never edited; the schema
//! version is SQLite's `user_version`. A file whose version is newer than
//! this build knows (written by a later release) is rebuilt rather than
//! misread.
//!
//! The projection writes with `synchronous=OFF`: SQLite never waits for the
//! disk, which the journal's flushes need to themselves (measured: the
//! fsyncs of `synchronous=NORMAL`'s checkpoints cost the wallet API a third
//! of its throughput at 64 connections). A process crash loses nothing (the
//! operating system still holds every write); only an operating-system crash
//! or power cut can leave the file torn. So the file records the machine's
//! boot id while it is open, and a clean close ([`close`]) syncs everything
//! and marks it. A file left open by an earlier boot and never closed
//! cleanly is rebuilt from the journal on the next start instead of trusted.
//! Where the boot id is unknown (not Linux), the projection writes with
//! `synchronous=NORMAL` instead, which a power cut cannot tear.

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
    // 2: who has the file open unsynced: the boot of the machine that
    // opened it, and whether it was closed cleanly since.
    "CREATE TABLE open_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        boot_id TEXT NOT NULL,
        closed_cleanly INTEGER NOT NULL
    );
    INSERT INTO open_state (id, boot_id, closed_cleanly) VALUES (1, '', 1);",
    // 3: account status and sealed profiles (`crate::profiles`).
    crate::profiles::MIGRATION,
    // 4: KYC levels, checks and documents, numbers hashed (`crate::kyc`).
    crate::kyc::MIGRATION,
    // 5: the audit trail and the operators it names (`crate::audit`). A
    // file made before it is rebuilt (`REBUILT_BEFORE`).
    crate::audit::MIGRATION,
    // 6: login sessions, devices and addresses, and the movements' game
    // rounds (`crate::logins`). A file made before it is rebuilt
    // (`REBUILT_BEFORE`), so every movement has its round.
    crate::logins::MIGRATION,
    // 7: each player's registration time (`crate::profiles`), for the
    // partner contracts that report it. A file made before it is rebuilt
    // (`REBUILT_BEFORE`), so every journaled player has it.
    crate::profiles::REGISTERED_AT_MIGRATION,
    // 8: every deposit and withdrawal with its provider, reference, first
    // approval and chargebacks (`crate::cashier`). A file made before it
    // is rebuilt (`REBUILT_BEFORE`), so every payment has its row.
    crate::cashier::MIGRATION,
    // 9: AML rules' settings, alerts with their evidence, cases and their
    // notes (`crate::risk`). A file made before it is rebuilt
    // (`REBUILT_BEFORE`), so the rules have seen every record.
    crate::risk::MIGRATION,
    // 10: the operators' back-office credentials (`crate::credentials`).
    // Only journals written after it hold any, so no rebuild.
    crate::credentials::MIGRATION,
    // 11: the credentials' sealed TOTP secrets (`crate::credentials`);
    // older rows keep their clear secret, so no rebuild.
    crate::credentials::SEALED_MIGRATION,
    // 12: the reconciliation queue (`crate::reconciliation`)
    // and the FX rate table (`crate::fx`). Only journals written after it
    // hold imports or rates, so no rebuild.
    crate::reconciliation::MIGRATION,
    // 13: players' payment methods and the method a payment named
    // (`crate::methods`), the rate each alert's evidence was converted at,
    // the third-party method rule. Only journals written after it hold
    // methods; older alerts keep their evidence unconverted, so no rebuild.
    crate::methods::MIGRATION,
    // 14: each movement's report figures (stake and its bonus share,
    // prize and its cash share, bonus converted, jackpot paid) and an index
    // by time (`crate::figures`). A file made before it is rebuilt
    // (`REBUILT_BEFORE`), so every movement has them.
    crate::figures::MIGRATION,
    // 15: the bonus templates (`crate::bonuses`). Only journals written
    // after it hold any, so no rebuild.
    crate::bonuses::MIGRATION,
    // 16: the loyalty programme's configurations, redemptions, VIP tier
    // history and promotion rules (`crate::loyalty`). Only journals
    // written after it hold any, so no rebuild.
    crate::loyalty::MIGRATION,
    // 17: the journal record that opened each case (`crate::risk`): cases
    // are journaled since. No rebuild, so the cases opened before it keep
    // their rows (a rebuild of such a file cannot recover them).
    crate::risk::JOURNALED_MIGRATION,
    // 18: support tickets, their events, notes on players and each
    // player's timeline (`crate::support`). A file made before it is
    // rebuilt (`REBUILT_BEFORE`), so every timeline starts at the
    // player's registration.
    crate::support::MIGRATION,
    // 19: live game performance per game, currency, jurisdiction and hour,
    // the players who staked and the refusals by reason
    // (`crate::monitoring`). A file made before it is rebuilt
    // (`REBUILT_BEFORE`), so the figures start at the first record.
    crate::monitoring::MIGRATION,
    // 20: problem-gambling marker alerts and interventions
    // (`crate::analytics`). Only journals written after it hold any, so
    // no rebuild.
    crate::analytics::MIGRATION,
    // 21: affiliates, their tracking codes, commission plans, brands,
    // lobbies and players' attributions (`crate::marketing`). Only
    // journals written after it hold any, so no rebuild: players without
    // an attribution belong to the default brand.
    crate::marketing::MIGRATION,
    // 22: marketing segments, campaigns, their targets and delivery
    // outbox, the triggered campaigns' owed evaluations, and each player's
    // exclusion and time-out for the marketing suppression
    // (`crate::campaigns`). A file made before it is rebuilt
    // (`REBUILT_BEFORE`), so every exclusion and time-out since the first
    // record suppresses marketing.
    crate::campaigns::MIGRATION,
    // 23: each ticket's outbound sync state (`crate::support`): what is
    // owed to the external ticketing system, what it holds, its refusal.
    // A file made before it is rebuilt (`REBUILT_BEFORE`), so every
    // ticket made here is owed, not only those after the upgrade.
    crate::support::SYNC_MIGRATION,
    // 24: each profile's country and birth year in clear, indexed, for
    // the segments (`crate::profiles`). No rebuild: the rows with a
    // profile are marked pending and the gateway backfills them from the
    // vault at start-up.
    crate::profiles::ATTRIBUTES_MIGRATION,
    // 25: the RTP alerts' history (`crate::rtp_alerts`), written by the
    // games module's evaluator from the monitoring figures rather than
    // folded in from the journal. No rebuild: the history starts at the
    // first evaluation.
    crate::rtp_alerts::MIGRATION,
    // 26: free rounds granted through an aggregator's free-rounds call,
    // the outbox of their create and cancel calls (`crate::free_rounds`).
    // Only journals written after it hold any, so no rebuild.
    crate::free_rounds::MIGRATION,
    // 27: each payment's and profile's last journaled change, which the
    // PostgreSQL export follows. No rebuild (`crate::profiles`).
    crate::profiles::CHANGED_SEQ_MIGRATION,
    // 28: running sums of the movements' figures per player-day and per
    // hour, and each player's last bet (`crate::summaries`), for the
    // reports and the dashboard. No rebuild: filled from the movements.
    crate::summaries::MIGRATION,
    // 29: the player-day sums by player (`crate::summaries`).
    crate::summaries::BY_PLAYER_MIGRATION,
    // 30: one timeline row a round, said by a unique index
    // (`crate::support`). No rebuild.
    crate::support::UNIQUE_ROUNDS_MIGRATION,
    // 31: the timeline's unread index by kind dropped (`crate::support`).
    // No rebuild.
    crate::support::NO_KIND_INDEX_MIGRATION,
];

/// Migrations that a file made before them does not get: such a file is
/// rebuilt from the journal instead, because their tables must hold every
/// record since the first (the audit trail, the movements' game rounds),
/// not only those after the upgrade.
const REBUILT_BEFORE: &[&str] = &[
    crate::audit::MIGRATION,
    crate::logins::MIGRATION,
    crate::profiles::REGISTERED_AT_MIGRATION,
    crate::cashier::MIGRATION,
    crate::risk::MIGRATION,
    crate::figures::MIGRATION,
    crate::support::MIGRATION,
    crate::monitoring::MIGRATION,
    crate::campaigns::MIGRATION,
    crate::support::SYNC_MIGRATION,
];

/// Where Linux says which boot this is (a random id made at each boot).
const BOOT_ID_PATH: &str = "/proc/sys/kernel/random/boot_id";

/// This boot's id, if the operating system tells it.
pub fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string(BOOT_ID_PATH).ok()?;
    let id = id.trim();
    (!id.is_empty()).then(|| id.to_owned())
}

/// The path of the read-model file in `data_dir`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Opens (creating if needed) the read-model file for the projection, which
/// is its only writer, and brings its schema up to date. A file this build
/// cannot use (unreadable, from a newer release, or left open unsynced by a
/// boot that ended without closing it) is deleted and created anew: the
/// journal rebuilds it.
pub fn open(path: &Path) -> Result<Connection, ReadModelError> {
    open_as(path, boot_id().as_deref())
}

/// [`open`] as the boot `boot_id` (`None`: unknown) would.
pub fn open_as(path: &Path, boot_id: Option<&str>) -> Result<Connection, ReadModelError> {
    let opened = open_migrated(path).and_then(|connection| claim(connection, boot_id));
    match opened {
        Ok(connection) => Ok(connection),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "read-model file unusable: rebuilding it from the journal");
            remove(path)?;
            open_migrated(path).and_then(|connection| claim(connection, boot_id))
        }
    }
}

/// Refuses a file an earlier boot left open unsynced, then marks it open by
/// this boot (durably: that mark must survive the crash it guards against)
/// and turns syncing off. Without a boot id, syncing stays on.
fn claim(connection: Connection, boot_id: Option<&str>) -> Result<Connection, ReadModelError> {
    let (opened_by, closed_cleanly): (String, bool) = connection.query_row(
        "SELECT boot_id, closed_cleanly FROM open_state WHERE id = 1",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    // An empty id: the file was last written with syncing on.
    if !closed_cleanly && !opened_by.is_empty() && boot_id != Some(opened_by.as_str()) {
        return Err(ReadModelError::Damaged(format!(
            "the file was open unsynced when the machine restarted (boot {opened_by}): it may be torn"
        )));
    }
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.execute(
        "UPDATE open_state SET boot_id = ?1, closed_cleanly = 0 WHERE id = 1",
        [boot_id.unwrap_or("")],
    )?;
    let synchronous = if boot_id.is_some() { "OFF" } else { "NORMAL" };
    connection.pragma_update(None, "synchronous", synchronous)?;
    Ok(connection)
}

/// Closes the projection's connection cleanly: everything written reaches
/// the disk, and the file says so, so that a restart of the machine after
/// this does not rebuild it.
pub fn close(connection: Connection) -> Result<(), ReadModelError> {
    connection.pragma_update(None, "synchronous", "FULL")?;
    // The WAL, synced at this commit, holds every earlier transaction too.
    connection.execute("UPDATE open_state SET closed_cleanly = 1 WHERE id = 1", [])?;
    // Copies the WAL into the main file (synced) and empties it.
    connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    connection.close().map_err(|(_, error)| ReadModelError::Sql(error))
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

/// The projection's page cache, in KiB (SQLite's negative `cache_size`).
const PROJECTION_CACHE_KIB: i64 = -64 * 1024;

/// Prepared statements the projection's connection keeps (`prepare_cached`). The
/// projection runs a few dozen distinct statements per record across its
/// modules; with rusqlite's default of 16 the cache thrashed and parsing
/// SQL was 57 % of the projection's CPU. Every statement of the crate fits.
/// Readers and writers keep rusqlite's default: their few statements fit.
const STATEMENT_CACHE: usize = 1024;

fn open_migrated(path: &Path) -> Result<Connection, ReadModelError> {
    let mut connection = Connection::open(path)?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // WAL: readers never block the projection's writes, nor it them.
    // Until [`claim`] decides, every commit is synced: the schema and the
    // open mark must be on disk before unsynced writes begin.
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    // The projection touches the same indexes' pages record after record:
    // with SQLite's default 2 MiB page cache it re-read them from the OS
    // cache on every statement (kernel copies were the top of its profile).
    connection.pragma_update(None, "cache_size", PROJECTION_CACHE_KIB)?;
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    let version: u32 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = MIGRATIONS.len() as u32;
    if version > known {
        return Err(ReadModelError::NewerSchema { found: version, known });
    }
    let predates = |migration: &&str| {
        MIGRATIONS
            .iter()
            .position(|m| m == migration)
            .is_some_and(|index| version > 0 && (version as usize) <= index)
    };
    if let Some(missing) = REBUILT_BEFORE.iter().find(|m| predates(m)) {
        let index = MIGRATIONS.iter().position(|m| m == missing).unwrap_or_default();
        return Err(ReadModelError::Damaged(format!(
            "schema version {version} predates migration {index}, whose tables start with the journal"
        )));
    }
    let tx = connection.transaction()?;
    for (number, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", number as u32 + 1)?;
    }
    tx.commit()?;
    Ok(connection)
}

/// Opens another connection to an existing, migrated file, for the
/// operators' own rows (the risk module's rule settings and cases): it
/// writes beside the projection, one transaction at a time.
pub fn open_writer(path: &Path) -> Result<Connection, ReadModelError> {
    let connection = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Opens the file as `boot`, moves its checkpoint to `seq` (standing for
    /// projected data), and returns the connection still open.
    fn open_and_write(path: &Path, boot: Option<&str>, seq: u64) -> Connection {
        let mut connection = open_as(path, boot).unwrap();
        let tx = connection.transaction().unwrap();
        let checkpoint = Checkpoint {
            seq,
            time_ms: 1,
            history_from_seq: 1,
        };
        set_checkpoint(&tx, checkpoint).unwrap();
        tx.commit().unwrap();
        connection
    }

    fn checkpoint_seq_when_opened_as(path: &Path, boot: Option<&str>) -> u64 {
        checkpoint(&open_as(path, boot).unwrap()).unwrap().seq
    }

    #[test]
    fn a_file_made_before_the_audit_trail_is_rebuilt_from_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = path(dir.path());
        // What an earlier release left: every migration before the audit
        // trail's, and a checkpoint past some records.
        let audit = MIGRATIONS.iter().position(|m| *m == crate::audit::MIGRATION).unwrap();
        {
            let connection = Connection::open(&path).unwrap();
            for (number, migration) in MIGRATIONS[..audit].iter().enumerate() {
                connection.execute_batch(migration).unwrap();
                connection
                    .pragma_update(None, "user_version", number as u32 + 1)
                    .unwrap();
            }
            connection
                .execute("UPDATE checkpoint SET seq = 7 WHERE id = 1", [])
                .unwrap();
        }
        let connection = open_as(&path, Some("boot-a")).unwrap();
        assert_eq!(checkpoint(&connection).unwrap().seq, 0, "rebuilt from the first record");
        let version: u32 = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version as usize, MIGRATIONS.len());
        let rows: i64 = connection
            .query_row("SELECT count(*) FROM audit", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 0);
        // A current file is kept as it is.
        close(connection).unwrap();
        drop(open_and_write(&path, Some("boot-a"), 9));
        assert_eq!(checkpoint_seq_when_opened_as(&path, Some("boot-a")), 9);
    }

    #[test]
    fn a_file_an_earlier_boot_left_open_unsynced_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let path = path(dir.path());
        // The process died (no close): the same boot still trusts the file.
        drop(open_and_write(&path, Some("boot-a"), 7));
        assert_eq!(checkpoint_seq_when_opened_as(&path, Some("boot-a")), 7);
        // The machine restarted before it was closed: the file is rebuilt.
        assert_eq!(checkpoint_seq_when_opened_as(&path, Some("boot-b")), 0);
    }

    #[test]
    fn a_cleanly_closed_file_survives_a_restart_of_the_machine() {
        let dir = tempfile::tempdir().unwrap();
        let path = path(dir.path());
        close(open_and_write(&path, Some("boot-a"), 7)).unwrap();
        assert_eq!(checkpoint_seq_when_opened_as(&path, Some("boot-b")), 7);
    }

    #[test]
    fn without_a_boot_id_the_file_is_written_synced_and_always_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let path = path(dir.path());
        let connection = open_and_write(&path, None, 7);
        let synchronous: i64 = connection
            .pragma_query_value(None, "synchronous", |row| row.get(0))
            .unwrap();
        assert_eq!(synchronous, 1, "NORMAL");
        drop(connection);
        assert_eq!(checkpoint_seq_when_opened_as(&path, Some("boot-b")), 7);
    }

    #[test]
    fn with_a_boot_id_the_projection_writes_unsynced() {
        let dir = tempfile::tempdir().unwrap();
        let connection = open_as(&path(dir.path()), Some("boot-a")).unwrap();
        let synchronous: i64 = connection
            .pragma_query_value(None, "synchronous", |row| row.get(0))
            .unwrap();
        assert_eq!(synchronous, 0, "OFF");
    }
}
