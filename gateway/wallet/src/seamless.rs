//! What every seamless-wallet contract shares, whatever its wire: the
//! aggregator's credential, the game session a launch token names, and the
//! engine requests a wallet call becomes (a command inside the session, or
//! a read of the session's wallet).
//!
//! The native API ([`crate::contracts::native`]) and each aggregator adapter
//! ([`crate::contracts::hub88`], [`crate::contracts::pragmatic`]) parse their own bodies and render their own replies
//! around these, so they submit exactly the same commands and a second
//! contract is a translation, not a second wallet. Nothing here knows JSON.

use engine::Query;
use engine::ledger::Session;
use engine::rg::RealityCheck;
use engine::sequencer::Reply;
use engine::{AggregatorCredential, Command, Currency, ExtId, Outcome, PlayerId, Request, SourceId, TokenHash};

use edge::calls::CallEnd;
use edge::{ApiError, AppState, tokens};

/// A game session as its aggregator names it: the launch token's digest and
/// what the ledger knows of it.
#[derive(Clone, Copy, Debug)]
pub struct SessionRef {
    /// Digest of the game-launch token.
    pub token: TokenHash,
    /// Player, currency, aggregator, expiry.
    pub session: Session,
}

/// The credential of aggregator `source`, if that source is an aggregator.
pub fn credential(state: &AppState, source: SourceId) -> Option<AggregatorCredential> {
    let view = state.view.read();
    view.access
        .aggregator(source)
        .map(|aggregator| aggregator.credential.clone())
}

/// The session of a game-launch token, if it exists and belongs to
/// `aggregator` (another aggregator's token is as unknown as a made-up one).
pub fn session(state: &AppState, aggregator: SourceId, token: &str) -> Option<SessionRef> {
    let digest = tokens::digest(token);
    let view = state.view.read();
    match view.access.session(&digest) {
        Some(session) if session.aggregator == aggregator => Some(SessionRef {
            token: digest,
            session: *session,
        }),
        _ => None,
    }
}

/// Submits a wallet command (bet, win, rollback, end of round) under the
/// aggregator's transaction id within the session, and waits for its
/// durable outcome. The ledger checks the session, the idempotency and the
/// money in one step.
pub async fn in_session(
    state: &AppState,
    source: SourceId,
    id: ExtId,
    session: &SessionRef,
    command: Command,
) -> Result<Outcome, ApiError> {
    Ok(submit(state, source, id, Some(session), command).await?.outcome)
}

/// Submits a wallet command under the aggregator's id, within `session` if
/// there is one (a contract whose partner may call without a token, like
/// Pragmatic Play's promotions, sends it bare), and returns the whole
/// reply: its sequence number tells a fresh outcome from a retry's.
pub async fn submit(
    state: &AppState,
    source: SourceId,
    id: ExtId,
    session: Option<&SessionRef>,
    command: Command,
) -> Result<Reply, ApiError> {
    let command = match session {
        Some(session) => Command::InSession {
            token: session.token,
            command: Box::new(command),
        },
        None => command,
    };
    timed(state, source, state.engine.run(Request { source, id, command })).await
}

/// Runs a wallet call's trip to the ledger and records it for the game
/// monitoring ([`edge::calls`]): the aggregator, how long it took, and
/// whether it was accepted, refused or ended without an outcome.
async fn timed(
    state: &AppState,
    source: SourceId,
    call: impl std::future::Future<Output = Result<Reply, ApiError>>,
) -> Result<Reply, ApiError> {
    let started = std::time::Instant::now();
    let reply = call.await;
    let end = match &reply {
        Ok(reply) if reply.outcome.is_ok() => CallEnd::Accepted,
        Ok(_) => CallEnd::Refused,
        Err(_) => CallEnd::Error,
    };
    state.wallet_calls.record(source, started.elapsed(), end);
    reply
}

/// Reads the session's wallet (through the ring, so it sees exactly the
/// committed order).
pub async fn balance(state: &AppState, source: SourceId, session: &Session) -> Result<Outcome, ApiError> {
    wallet_balance(state, source, session.player, session.currency).await
}

/// Reads a player's wallet in `currency`, through the ring.
pub async fn wallet_balance(
    state: &AppState,
    source: SourceId,
    player: PlayerId,
    currency: Currency,
) -> Result<Outcome, ApiError> {
    let request = Request {
        source,
        id: edge::wire::ext_id("balance-query", "id")?,
        command: Command::Query(Query::Balance { player, currency }),
    };
    Ok(timed(state, source, state.engine.run(request)).await?.outcome)
}

/// Where the session player's play session stands on its reality checks
/// (`None`: no interval, or no session open), read through the ring at the
/// gateway's clock.
pub async fn reality_check(
    state: &AppState,
    source: SourceId,
    session: &Session,
) -> Result<Option<RealityCheck>, ApiError> {
    let request = Request {
        source,
        id: edge::wire::ext_id("rg-query", "id")?,
        command: Command::Query(Query::Rg {
            player: session.player,
            at_ms: state.now_ms(),
        }),
    };
    match state.engine.run(request).await?.outcome {
        Outcome::Rg(status) => Ok(status.reality_check),
        Outcome::Rejected(rejection) => Err(edge::wire::rejection(&rejection, session.currency)),
        other => {
            tracing::error!(?other, "unexpected outcome of an RG read");
            Err(ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "unexpected outcome",
            ))
        }
    }
}

/// A stable request id for a partner call that has no id of its own (a
/// Pragmatic Play refund or end of round, an Evolution settlement): its
/// kind and a digest of what it names, so a repeat is a retry. `None` only
/// if `kind` makes it longer than an id may be.
pub fn derived_id(kind: &str, parts: &[&str]) -> Option<ExtId> {
    let digest = tokens::digest(&parts.join("\n"));
    ExtId::new(&format!("{kind}-{}", hex::encode(&digest.0[..16]))).ok()
}
