//! The operators' back-office credentials: each operator's latest accepted
//! `SetOperatorCredential` (argon2id password hash, TOTP secret, who set it
//! and when), read by the back office's login.
//!
//! The ledger validates a credential but keeps none (its image stays as
//! it is), so this view is where a credential lives: projected from the
//! journal like every view, rebuilt from it when the file is lost. If the
//! journal before a checkpoint was retired and the view is rebuilt from a
//! snapshot, credentials set before it are gone: an admin enrols the
//! operator again over the bearer-token API.

use engine::OperatorId;
use engine::access;
use engine::command::Command;
use engine::outcome::Outcome;
use engine::sequencer::Committed;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::ReadModelError;

/// The schema migration that creates the table (appended to
/// `store::MIGRATIONS`).
pub(crate) const MIGRATION: &str = "CREATE TABLE operator_credentials (
        operator INTEGER PRIMARY KEY,
        password_hash TEXT NOT NULL,
        totp_secret BLOB NOT NULL,
        set_by INTEGER NOT NULL,
        set_seq INTEGER NOT NULL,
        set_ms INTEGER NOT NULL
    );";

/// An operator's back-office credential as last set.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialView {
    /// The operator.
    pub operator: OperatorId,
    /// The password's argon2id hash (PHC string).
    pub password_hash: String,
    /// The TOTP shared secret.
    pub totp_secret: Vec<u8>,
    /// Who set it.
    pub set_by: OperatorId,
    /// The journal record that set it.
    pub set_seq: u64,
}

impl std::fmt::Debug for CredentialView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialView")
            .field("operator", &self.operator)
            .field("set_by", &self.set_by)
            .field("set_seq", &self.set_seq)
            .finish_non_exhaustive()
    }
}

/// Projects an accepted credential; refusals and every other command change
/// nothing.
pub(crate) fn apply(tx: &Transaction<'_>, committed: &Committed) -> Result<(), ReadModelError> {
    let Command::Access(access::Command::SetOperatorCredential {
        target,
        password_hash,
        totp_secret,
        operator,
    }) = &committed.envelope.request.command
    else {
        return Ok(());
    };
    if committed.outcome != Outcome::Accepted {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO operator_credentials (operator, password_hash, totp_secret, set_by, set_seq, set_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (operator) DO UPDATE SET password_hash = ?2, totp_secret = ?3, set_by = ?4, set_seq = ?5,
             set_ms = ?6",
    )?
    .execute(params![
        target.0,
        password_hash.as_str(),
        &totp_secret.0[..],
        operator.0,
        i64::try_from(committed.envelope.seq).unwrap_or(i64::MAX),
        i64::try_from(committed.envelope.time_ms).unwrap_or(i64::MAX),
    ])?;
    Ok(())
}

/// The credential of `operator`, if one was set.
pub fn credential(connection: &Connection, operator: OperatorId) -> Result<Option<CredentialView>, ReadModelError> {
    Ok(connection
        .prepare_cached(
            "SELECT password_hash, totp_secret, set_by, set_seq FROM operator_credentials WHERE operator = ?1",
        )?
        .query_row(params![operator.0], |row| {
            Ok(CredentialView {
                operator,
                password_hash: row.get(0)?,
                totp_secret: row.get(1)?,
                set_by: OperatorId(row.get(2)?),
                set_seq: row.get::<_, i64>(3)?.max(0) as u64,
            })
        })
        .optional()?)
}
