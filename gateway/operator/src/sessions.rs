//! Game sessions: issuing a game-launch token for a player, a currency and
//! the aggregator that will use it.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::wire::{self};
use edge::{AppState, Caller, tokens};
use engine::{Command, Outcome, SourceId, access};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::shared::{IdempotencyKey, ok, player, refusal, request_id};

/// A game-launch token to issue.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueSessionRequest {
    /// The player.
    pub player: u64,
    /// The wallet's currency code.
    pub currency: String,
    /// The aggregator id that will use it.
    pub aggregator: u32,
    /// Lifetime in ms (default: the server's `session_ttl_ms`).
    #[serde(default)]
    pub ttl_ms: Option<u64>,
}

/// An issued game-launch token (shown once).
#[derive(Serialize, ToSchema)]
pub struct SessionReply {
    /// The token to hand to the game.
    pub token: String,
    /// The player.
    pub player: u64,
    /// Currency code.
    pub currency: &'static str,
    /// The aggregator.
    pub aggregator: u32,
    /// End of the session, ms since the epoch.
    pub expires_at_ms: u64,
}

/// Issues a game-launch token (admins, support).
#[utoipa::path(post, path = "/operator/v1/sessions", tag = "operator", request_body = IssueSessionRequest,
    params(IdempotencyKey), security(("bearer" = [])),
    responses((status = 201, body = SessionReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player, unknown_aggregator"),
        (status = 409, body = ErrorBody, description = "token_taken, conflict (Idempotency-Key reused)"),
        (status = 422, body = ErrorBody, description = "currency_mismatch: the player has no wallet in that currency")))]
pub async fn issue_session(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: IssueSessionRequest = decode(&body)?;
    let currency = wire::currency(&request.currency)?;
    let player = player(&state, &request.player.to_string())?;
    let aggregator = SourceId(request.aggregator);
    if state.view.read().access.aggregator(aggregator).is_none() {
        return Err(ApiError::not_found("unknown_aggregator", "no such aggregator"));
    }
    let ttl_ms = request.ttl_ms.unwrap_or(state.config.session_ttl_ms).max(1);
    let expires_at_ms = state.now_ms().saturating_add(ttl_ms);
    let token = tokens::new_token(tokens::LAUNCH_PREFIX).map_err(ApiError::internal)?;
    let command = Command::Access(access::Command::IssueSession {
        token: tokens::digest(&token),
        player,
        currency,
        aggregator,
        expires_at_ms,
        operator: caller.id,
    });
    match caller.submit(&state, request_id(&headers)?, command).await? {
        Outcome::Accepted => ok(
            StatusCode::CREATED,
            &SessionReply {
                token,
                player: player.0,
                currency: currency.code(),
                aggregator: aggregator.0,
                expires_at_ms,
            },
        ),
        other => Err(refusal(&other, currency)),
    }
}
