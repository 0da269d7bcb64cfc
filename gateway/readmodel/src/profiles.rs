//! The profiles projection: each player's account status (with its reason
//! and who set it), the sealed profile, whether it was erased, and the two
//! plain attributes marketing segments select on (country of residence and
//! birth year).
//!
//! The profile is the [`SealedProfile`]'s canonical encoding, ciphertext
//! only. An erasure sets the profile to NULL; the ciphertext the journal
//! still holds is useless once the gateway has destroyed the data key.
//!
//! **Country and birth year in clear, and why the journal still holds
//! neither.** Segments select players by country and age over a million
//! players, which cannot mean opening a million sealed profiles per
//! question; so the `country` and `birth_year` columns hold them in clear,
//! indexed. The journal is immutable: a clear attribute journaled with the
//! registration could never be erased, which would break the erasure by
//! crypto-shredding the vault is built on. So the journal's records are
//! unchanged and the columns are filled by the gateway, which holds the
//! keys: applying a registration or profile change blanks them and marks
//! the row `attributes_pending`; the PAM module opens the pending profiles
//! ([`pending_attributes`]) and writes what it read ([`set_attributes`],
//! only if the profile is still the one it opened) — at start-up for every
//! pending row (the backfill of a file made before these columns, or of a
//! rebuilt one: idempotent, a filled row is no longer pending) and before
//! each segment evaluation for the few changed since, so an evaluation
//! never reads a stale row and opens at most the profiles changed since the
//! last one. An erasure blanks both columns and clears the mark, and a
//! rebuild after it cannot refill them: the data key is gone.
//!
//! Each row (and each `cashier_payments` row, `crate::cashier`) records the
//! sequence number of its last journaled change, `changed_seq`, which the
//! PostgreSQL export follows; the attributes' fill is no such change.

use engine::codec;
use engine::command::{AccountStatus, Command};
use engine::outcome::Outcome;
use engine::players::{self, ProfileRecord, SealedProfile};
use engine::sequencer::Committed;
use engine::{Jurisdiction, Ledger, OperatorId, PlayerId};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::ReadModelError;

/// The schema migration that creates the table (appended to
/// `store::MIGRATIONS`). Players registered before it get a row with the
/// status the old API could give them: active (no route reached the old
/// status command).
pub(crate) const MIGRATION: &str = "CREATE TABLE profiles (
        player INTEGER PRIMARY KEY,
        jurisdiction TEXT,
        status TEXT NOT NULL,
        status_reason TEXT,
        status_by INTEGER,
        profile BLOB,
        profile_by INTEGER,
        erased_by INTEGER,
        erased_reason TEXT,
        erased_at_ms INTEGER
    );
    INSERT INTO profiles (player, status) SELECT player, 'active' FROM players;";

/// The migration that records when each player registered (the time of the
/// registration's record). A file made before it is rebuilt from the journal
/// (`store::REBUILT_BEFORE`), so every player journaled since the first
/// record has the time; players seeded from a snapshot after the journal
/// before it was retired have none.
pub(crate) const REGISTERED_AT_MIGRATION: &str = "ALTER TABLE profiles ADD COLUMN registered_at_ms INTEGER;";

/// The migration that adds the plain marketing attributes (country of
/// residence, birth year), indexed for the segments, and marks every row
/// with a profile as pending: a file made before it is not rebuilt, the
/// gateway backfills it from the vault at start-up (see the module doc).
pub(crate) const ATTRIBUTES_MIGRATION: &str = "ALTER TABLE profiles ADD COLUMN country TEXT;
    ALTER TABLE profiles ADD COLUMN birth_year INTEGER;
    ALTER TABLE profiles ADD COLUMN attributes_pending INTEGER NOT NULL DEFAULT 0;
    UPDATE profiles SET attributes_pending = 1 WHERE profile IS NOT NULL;
    CREATE INDEX profiles_country ON profiles (country, birth_year);
    CREATE INDEX profiles_birth_year ON profiles (birth_year);
    CREATE INDEX profiles_attributes_pending ON profiles (player) WHERE attributes_pending = 1;";

/// What the read model knows of a player's account and profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileView {
    /// Licensing jurisdiction (unknown for players registered before this
    /// view existed).
    pub jurisdiction: Option<Jurisdiction>,
    /// `active`, `suspended` or `closed`.
    pub status: String,
    /// Why, if the operator said.
    pub status_reason: Option<String>,
    /// Who last set the status.
    pub status_by: Option<OperatorId>,
    /// The sealed profile; `None` if never given or erased.
    pub profile: Option<SealedProfile>,
    /// Who last registered or changed the profile.
    pub profile_by: Option<OperatorId>,
    /// Set once erased: who, why and when (ms since the epoch).
    pub erased: Option<(OperatorId, String, u64)>,
    /// When the player registered (ms since the epoch), if the journal
    /// still held the registration when this view was built.
    pub registered_at_ms: Option<u64>,
}

/// The wire name of a status.
pub fn status_name(status: AccountStatus) -> &'static str {
    match status {
        AccountStatus::Active => "active",
        AccountStatus::Suspended => "suspended",
        AccountStatus::Closed => "closed",
    }
}

/// The migration that records the sequence number of each row's last
/// journaled change (`changed_seq`), which the PostgreSQL export follows
/// (`croupier-export`). No rebuild: older rows have 0, and the export's
/// back-fill takes every row at or before its checkpoint, 0 included.
pub(crate) const CHANGED_SEQ_MIGRATION: &str = "ALTER TABLE profiles ADD COLUMN changed_seq INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX profiles_by_changed_seq ON profiles (changed_seq);
    ALTER TABLE cashier_payments ADD COLUMN changed_seq INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX cashier_by_changed_seq ON cashier_payments (changed_seq);
    CREATE INDEX attributions_by_seq ON attributions (seq);";

/// Folds one committed record into the table (refused commands change
/// nothing), stamping the changed row with the record's sequence number.
pub(crate) fn apply(tx: &Transaction<'_>, committed: &Committed) -> Result<(), ReadModelError> {
    if let Some(player) = fold(tx, committed)? {
        tx.prepare_cached("UPDATE profiles SET changed_seq = ?2 WHERE player = ?1")?
            .execute(params![player.0 as i64, committed.envelope.seq as i64])?;
    }
    Ok(())
}

/// Applies the record; says whose row it changed.
fn fold(tx: &Transaction<'_>, committed: &Committed) -> Result<Option<PlayerId>, ReadModelError> {
    let Command::Players(command) = committed.envelope.request.command.unwrapped() else {
        return Ok(None);
    };
    let time_ms = committed.envelope.time_ms;
    match (command, &committed.outcome) {
        (players::Command::RegisterPlayer { jurisdiction, .. }, Outcome::Registered { player }) => {
            insert(tx, *player, *jurisdiction)?;
            registered_at(tx, *player, time_ms)?;
            Ok(Some(*player))
        }
        (
            players::Command::RegisterProfiled {
                jurisdiction,
                profile,
                operator,
                ..
            }
            | players::Command::RegisterAged {
                jurisdiction,
                profile,
                operator,
                ..
            },
            Outcome::Registered { player },
        ) => {
            insert(tx, *player, *jurisdiction)?;
            registered_at(tx, *player, time_ms)?;
            set_profile(tx, *player, profile, *operator)?;
            Ok(Some(*player))
        }
        (_, outcome) if !outcome.is_ok() => Ok(None),
        (
            players::Command::UpdateProfile {
                player,
                profile,
                operator,
                ..
            },
            _,
        ) => set_profile(tx, *player, profile, *operator).map(|()| Some(*player)),
        (
            players::Command::SetAccountStatus {
                player,
                status,
                operator,
            },
            _,
        ) => set_status(tx, *player, *status, None, *operator).map(|()| Some(*player)),
        (
            players::Command::SetStatus {
                player,
                status,
                reason,
                operator,
            },
            _,
        ) => set_status(tx, *player, *status, Some(reason.as_str()), *operator).map(|()| Some(*player)),
        (
            players::Command::ErasePlayer {
                player,
                reason,
                operator,
            },
            _,
        ) => {
            tx.prepare_cached(
                "UPDATE profiles SET profile = NULL, status = 'closed', erased_by = ?2, erased_reason = ?3,
                 erased_at_ms = ?4, country = NULL, birth_year = NULL, attributes_pending = 0 WHERE player = ?1",
            )?
            .execute(params![player.0 as i64, operator.0, reason.as_str(), time_ms as i64])?;
            Ok(Some(*player))
        }
        _ => Ok(None),
    }
}

fn insert(tx: &Transaction<'_>, player: PlayerId, jurisdiction: Jurisdiction) -> Result<(), ReadModelError> {
    tx.prepare_cached("INSERT OR REPLACE INTO profiles (player, jurisdiction, status) VALUES (?1, ?2, 'active')")?
        .execute(params![player.0 as i64, jurisdiction.as_str()])?;
    Ok(())
}

fn registered_at(tx: &Transaction<'_>, player: PlayerId, time_ms: u64) -> Result<(), ReadModelError> {
    tx.prepare_cached("UPDATE profiles SET registered_at_ms = ?2 WHERE player = ?1")?
        .execute(params![player.0 as i64, time_ms as i64])?;
    Ok(())
}

fn set_profile(
    tx: &Transaction<'_>,
    player: PlayerId,
    profile: &SealedProfile,
    operator: OperatorId,
) -> Result<(), ReadModelError> {
    // The plain attributes are the gateway's to fill from the new profile.
    tx.prepare_cached(
        "UPDATE profiles SET profile = ?2, profile_by = ?3, country = NULL, birth_year = NULL,
         attributes_pending = 1 WHERE player = ?1",
    )?
    .execute(params![player.0 as i64, codec::to_bytes(profile), operator.0])?;
    Ok(())
}

fn set_status(
    tx: &Transaction<'_>,
    player: PlayerId,
    status: AccountStatus,
    reason: Option<&str>,
    operator: OperatorId,
) -> Result<(), ReadModelError> {
    tx.prepare_cached("UPDATE profiles SET status = ?2, status_reason = ?3, status_by = ?4 WHERE player = ?1")?
        .execute(params![player.0 as i64, status_name(status), reason, operator.0])?;
    Ok(())
}

/// Seeds the table from a snapshot's ledger (when the journal before it was
/// retired). Each row counts as changed at the snapshot: an export behind
/// it takes them with the records after its gap.
pub(crate) fn seed(tx: &Transaction<'_>, ledger: &Ledger) -> Result<(), ReadModelError> {
    for id in 1..=ledger.players_len() as u64 {
        let player = PlayerId(id);
        let Ok(info) = ledger.player_info(player) else { continue };
        insert(tx, player, info.jurisdiction)?;
        let record = ledger.profile(player).ok().flatten().cloned().unwrap_or_default();
        seed_record(tx, player, info.status, &record)?;
        tx.prepare_cached("UPDATE profiles SET changed_seq = ?2 WHERE player = ?1")?
            .execute(params![id as i64, ledger.last_seq() as i64])?;
    }
    Ok(())
}

fn seed_record(
    tx: &Transaction<'_>,
    player: PlayerId,
    status: AccountStatus,
    record: &ProfileRecord,
) -> Result<(), ReadModelError> {
    let by = |operator: Option<OperatorId>| operator.map(|o| o.0);
    tx.prepare_cached(
        "UPDATE profiles SET status = ?2, status_reason = ?3, status_by = ?4, profile = ?5, profile_by = ?6,
         country = NULL, birth_year = NULL, attributes_pending = ?5 IS NOT NULL WHERE player = ?1",
    )?
    .execute(params![
        player.0 as i64,
        status_name(status),
        record.status_reason.as_ref().map(|r| r.as_str()),
        by(record.status_by),
        record.sealed.as_ref().map(|s| codec::to_bytes(&s.profile)),
        by(record.profile_by),
    ])?;
    if let players::Erasure::Erased {
        operator,
        reason,
        time_ms,
    } = &record.erasure
    {
        tx.prepare_cached(
            "UPDATE profiles SET erased_by = ?2, erased_reason = ?3, erased_at_ms = ?4 WHERE player = ?1",
        )?
        .execute(params![player.0 as i64, operator.0, reason.as_str(), *time_ms as i64])?;
    }
    Ok(())
}

/// The profile view of `player`, if the player exists.
pub fn profile(connection: &Connection, player: PlayerId) -> Result<Option<ProfileView>, ReadModelError> {
    let row = connection
        .prepare_cached(
            "SELECT jurisdiction, status, status_reason, status_by, profile, profile_by, erased_by, erased_reason,
             erased_at_ms, registered_at_ms FROM profiles WHERE player = ?1",
        )?
        .query_row(params![player.0 as i64], |row| {
            Ok((
                row.get::<_, Option<String>>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, Option<u32>>(3)?,
                row.get::<_, Option<Vec<u8>>>(4)?,
                row.get::<_, Option<u32>>(5)?,
                (
                    row.get::<_, Option<u32>>(6)?,
                    row.get::<_, Option<String>>(7)?,
                    row.get::<_, Option<i64>>(8)?,
                ),
                row.get::<_, Option<i64>>(9)?,
            ))
        })
        .optional()?;
    let Some((jurisdiction, status, status_reason, status_by, profile, profile_by, erased, registered_at_ms)) = row
    else {
        return Ok(None);
    };
    let damaged = |what: &str| ReadModelError::Damaged(format!("profile of player {player}: {what}"));
    let jurisdiction = jurisdiction
        .map(|code| Jurisdiction::new(&code).map_err(|_| damaged("jurisdiction")))
        .transpose()?;
    let profile = profile
        .map(|bytes| codec::from_bytes::<SealedProfile>(&bytes).map_err(|_| damaged("sealed profile")))
        .transpose()?;
    let erased = match erased {
        (Some(by), Some(reason), Some(at_ms)) => Some((OperatorId(by), reason, at_ms as u64)),
        _ => None,
    };
    Ok(Some(ProfileView {
        jurisdiction,
        status,
        status_reason,
        status_by: status_by.map(OperatorId),
        profile,
        profile_by: profile_by.map(OperatorId),
        erased,
        registered_at_ms: registered_at_ms.map(|ms| ms as u64),
    }))
}

/// Up to `limit` players whose plain attributes are owed (a profile
/// registered or changed since they were filled, or never filled), by id,
/// with the sealed profile to open.
pub fn pending_attributes(c: &Connection, limit: u32) -> Result<Vec<(PlayerId, SealedProfile)>, ReadModelError> {
    let mut statement = c.prepare_cached(
        "SELECT player, profile FROM profiles WHERE attributes_pending = 1 AND profile IS NOT NULL
         ORDER BY player LIMIT ?1",
    )?;
    let rows = statement
        .query_map([limit], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(player, bytes)| {
            let sealed = codec::from_bytes::<SealedProfile>(&bytes)
                .map_err(|_| ReadModelError::Damaged(format!("profile of player {player}: sealed profile")))?;
            Ok((PlayerId(player as u64), sealed))
        })
        .collect()
}

/// Records `player`'s plain attributes read from `opened`, if that is
/// still the player's profile and they are owed; says whether it did (a
/// profile changed or erased meanwhile keeps its own state).
pub fn set_attributes(
    c: &Connection,
    player: PlayerId,
    opened: &SealedProfile,
    country: Option<&str>,
    birth_year: Option<i32>,
) -> Result<bool, ReadModelError> {
    let changed = c
        .prepare_cached(
            "UPDATE profiles SET country = ?3, birth_year = ?4, attributes_pending = 0
             WHERE player = ?1 AND profile = ?2 AND attributes_pending = 1",
        )?
        .execute(params![player.0 as i64, codec::to_bytes(opened), country, birth_year])?;
    Ok(changed == 1)
}

/// A player's plain attributes: country, birth year, and whether they are
/// still owed.
pub type Attributes = (Option<String>, Option<i32>, bool);

/// A player's plain attributes: (country, birth year, still pending), if
/// the player exists.
pub fn attributes(c: &Connection, player: PlayerId) -> Result<Option<Attributes>, ReadModelError> {
    Ok(
        c.prepare_cached("SELECT country, birth_year, attributes_pending FROM profiles WHERE player = ?1")?
            .query_row([player.0 as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?,
    )
}
