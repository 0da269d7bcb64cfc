//! The operators' back-office credentials: each operator's latest accepted
//! `SetOperatorSealedCredential` or older `SetOperatorCredential` (argon2id
//! password hash, the TOTP secret sealed or, before sealing, in the clear,
//! who set it and when), read by the back office's login, which opens a
//! sealed secret with the key vault.
//!
//! The ledger validates a credential but keeps none (its image stays as
//! it is), so this view is where a credential lives: projected from the
//! journal like every view, rebuilt from it when the file is lost. If the
//! journal before a checkpoint was retired and the view is rebuilt from a
//! snapshot, credentials set before it are gone: an admin enrols the
//! operator again over the bearer-token API.

use engine::access;
use engine::command::Command;
use engine::outcome::Outcome;
use engine::players::SealedProfile;
use engine::sequencer::Committed;
use engine::{OperatorId, codec};
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

/// The migration that adds the sealed secret (appended to
/// `store::MIGRATIONS`): a row set by `SetOperatorSealedCredential` has
/// `totp_sealed` (the canonical encoding of the [`SealedProfile`]) and an
/// empty `totp_secret`; an older row keeps its clear secret and no seal.
pub(crate) const SEALED_MIGRATION: &str = "ALTER TABLE operator_credentials ADD COLUMN totp_sealed BLOB";

/// The TOTP secret as the journal holds it.
#[derive(Clone, PartialEq, Eq)]
pub enum TotpSecret {
    /// Set before secrets were sealed: the secret itself.
    Clear(Vec<u8>),
    /// Sealed by the gateway's key vault, which alone opens it.
    Sealed(SealedProfile),
}

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Never the secret itself, even in a test's failure message.
            TotpSecret::Clear(secret) => write!(f, "Clear({} bytes)", secret.len()),
            TotpSecret::Sealed(sealed) => write!(f, "Sealed({sealed:?})"),
        }
    }
}

/// An operator's back-office credential as last set.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialView {
    /// The operator.
    pub operator: OperatorId,
    /// The password's argon2id hash (PHC string).
    pub password_hash: String,
    /// The TOTP shared secret.
    pub totp_secret: TotpSecret,
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
    let (target, password_hash, clear, sealed, operator) = match &committed.envelope.request.command {
        Command::Access(access::Command::SetOperatorCredential {
            target,
            password_hash,
            totp_secret,
            operator,
        }) => (target, password_hash, &totp_secret.0[..], None, operator),
        Command::Access(access::Command::SetOperatorSealedCredential {
            target,
            password_hash,
            totp_secret,
            operator,
        }) => (
            target,
            password_hash,
            &[][..],
            Some(codec::to_bytes(totp_secret)),
            operator,
        ),
        _ => return Ok(()),
    };
    if committed.outcome != Outcome::Accepted {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO operator_credentials (operator, password_hash, totp_secret, totp_sealed, set_by, set_seq, set_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (operator) DO UPDATE SET password_hash = ?2, totp_secret = ?3, totp_sealed = ?4, set_by = ?5,
             set_seq = ?6, set_ms = ?7",
    )?
    .execute(params![
        target.0,
        password_hash.as_str(),
        clear,
        sealed,
        operator.0,
        i64::try_from(committed.envelope.seq).unwrap_or(i64::MAX),
        i64::try_from(committed.envelope.time_ms).unwrap_or(i64::MAX),
    ])?;
    Ok(())
}

/// The credential of `operator`, if one was set.
pub fn credential(connection: &Connection, operator: OperatorId) -> Result<Option<CredentialView>, ReadModelError> {
    let row = connection
        .prepare_cached(
            "SELECT password_hash, totp_secret, totp_sealed, set_by, set_seq FROM operator_credentials
             WHERE operator = ?1",
        )?
        .query_row(params![operator.0], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, Option<Vec<u8>>>(2)?,
                OperatorId(row.get(3)?),
                row.get::<_, i64>(4)?.max(0) as u64,
            ))
        })
        .optional()?;
    let Some((password_hash, clear, sealed, set_by, set_seq)) = row else {
        return Ok(None);
    };
    let totp_secret = match sealed {
        Some(bytes) => TotpSecret::Sealed(
            codec::from_bytes(&bytes).map_err(|e| ReadModelError::Damaged(format!("a sealed TOTP secret: {e}")))?,
        ),
        None => TotpSecret::Clear(clear),
    };
    Ok(Some(CredentialView {
        operator,
        password_hash,
        totp_secret,
        set_by,
        set_seq,
    }))
}
