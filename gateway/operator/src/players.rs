//! Players: registration with a base currency (its wallet is created at
//! once) and a licensing jurisdiction.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::wire::{self};
use edge::{AppState, Caller};
use engine::{Command, Jurisdiction, Outcome, players};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::shared::{IdempotencyKey, ok, refusal, request_id};

/// A new player.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePlayerRequest {
    /// Base currency code; its wallet is created at once.
    pub currency: String,
    /// Licensing jurisdiction, two upper-case letters.
    pub jurisdiction: String,
}

/// A player.
#[derive(Serialize, ToSchema)]
pub struct PlayerReply {
    /// Player id.
    pub player: u64,
    /// Base currency.
    pub currency: &'static str,
}

/// Registers a player (admins, support).
#[utoipa::path(post, path = "/operator/v1/players", tag = "operator", request_body = CreatePlayerRequest,
    params(IdempotencyKey), security(("bearer" = [])),
    responses((status = 201, body = PlayerReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)")))]
pub async fn create_player(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: CreatePlayerRequest = decode(&body)?;
    let currency = wire::currency(&request.currency)?;
    let jurisdiction = Jurisdiction::new(&request.jurisdiction)
        .map_err(|_| ApiError::bad_request("invalid_request", "jurisdiction must be two upper-case letters"))?;
    let command = Command::Players(players::Command::RegisterPlayer { currency, jurisdiction });
    match caller.submit(&state, request_id(&headers)?, command).await? {
        Outcome::Registered { player } => ok(
            StatusCode::CREATED,
            &PlayerReply {
                player: player.0,
                currency: currency.code(),
            },
        ),
        other => Err(refusal(&other, currency)),
    }
}
