//! What a node does before it serves, shared by a single node's start
//! (`server`) and a group member's (`cluster`, once it takes office): why a
//! start fails ([`ServeError`]), the first operator of an empty ledger, and
//! the jurisdiction profiles this release ships. A module of its own so
//! neither of the two starts depends on the other.

use std::path::PathBuf;

use edge::submit::Engine;
use edge::tokens;
use edge::view::SharedView;
use engine::access;
use engine::durable::RecoveryError;
use engine::{Command, ExtId, Name, OperatorId, Outcome, Request, Role, SourceId};

use crate::tls::TlsError;

/// The source of the server's own requests (the first operator).
pub const SYSTEM_SOURCE: SourceId = SourceId(0);

/// Why the server could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// An I/O step failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The PAM key vault could not be opened.
    #[error("PAM key vault: {0}")]
    Vault(pam::VaultError),
    /// The journal could not be recovered.
    #[error("recovering the ledger: {0}")]
    Recovery(#[from] RecoveryError),
    /// The metrics registry could not be built.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// No randomness for tokens.
    #[error("random token: {0}")]
    Random(String),
    /// The first operator could not be created.
    #[error("creating the first operator: {0}")]
    Bootstrap(String),
    /// The sequencer stopped with an error.
    #[error("sequencer: {0}")]
    Sequencer(String),
    /// The certificate could not be loaded or made.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// The operator's RSA signing key could not be read or made.
    #[error("the operator's RSA key: {0}")]
    RsaKey(#[from] crate::rsa_signature::KeyError),
    /// The read models could not be opened.
    #[error("read model: {0}")]
    ReadModel(#[from] readmodel::ReadModelError),
    /// The replication group's node could not start.
    #[error("cluster: {0}")]
    Cluster(String),
    /// The PostgreSQL export is misconfigured.
    #[error("{0}")]
    Export(#[from] export::ExportError),
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServeError {
    let what = what.into();
    move |source| ServeError::Io { what, source }
}

/// Submits each jurisdiction profile this release ships that the ledger
/// has no version of, or still has only an earlier shipped revision of
/// (under a fixed request id per profile and revision, so a start that
/// repeats one gets the recorded outcome): profiles are journaled data, so
/// a later release with new values changes nothing an old journal replays
/// to, and a profile an operator set is never replaced.
pub(crate) async fn ship_jurisdiction_profiles(
    engine: &Engine,
    view: &SharedView,
    now_ms: u64,
) -> Result<(), ServeError> {
    let commands = pam::jurisdictions::shipped_commands(&view.read(), now_ms);
    let bootstrap = |e: &dyn std::fmt::Display| ServeError::Bootstrap(e.to_string());
    for (id, command) in commands {
        let request = Request {
            source: SYSTEM_SOURCE,
            id: ExtId::new(&id).map_err(|e| bootstrap(&e))?,
            command,
        };
        let reply = engine.run(request).await.map_err(|e| bootstrap(&e.message))?;
        match reply.outcome {
            Outcome::Accepted => tracing::info!(%id, "shipped jurisdiction profile submitted"),
            other => return Err(ServeError::Bootstrap(format!("{id}: {other:?}"))),
        }
    }
    Ok(())
}

/// Creates the first operator (admin) of an empty ledger; returns the path
/// of its token file either way.
pub(crate) async fn first_operator(
    engine: &Engine,
    view: &SharedView,
    dir: &std::path::Path,
) -> Result<PathBuf, ServeError> {
    let path = dir.join(tokens::FIRST_TOKEN_FILE);
    if view.read().access.operators_len() > 0 {
        tracing::info!(path = %path.display(), "operators exist; the first operator token was written to this file");
        return Ok(path);
    }
    let token = tokens::new_token(tokens::OPERATOR_PREFIX).map_err(|e| ServeError::Random(e.to_string()))?;
    let path = tokens::write_first_token(dir, &token).map_err(io(format!("writing {}", path.display())))?;
    let bootstrap = |e: &dyn std::fmt::Display| ServeError::Bootstrap(e.to_string());
    let request = Request {
        source: SYSTEM_SOURCE,
        id: ExtId::new("first-operator").map_err(|e| bootstrap(&e))?,
        command: Command::Access(access::Command::CreateOperator {
            token: tokens::digest(&token),
            role: Role::Admin,
            name: Name::new("admin").map_err(|e| bootstrap(&e))?,
            operator: OperatorId::SYSTEM,
        }),
    };
    let reply = engine.run(request).await.map_err(|e| bootstrap(&e.message))?;
    match reply.outcome {
        Outcome::OperatorCreated { operator, .. } => {
            tracing::info!(path = %path.display(), %operator, "first operator (admin) created; its token is in this file (mode 0600)");
            Ok(path)
        }
        other => Err(ServeError::Bootstrap(format!("{other:?}"))),
    }
}
