//! What operator changes share across modules: the request id of a change
//! (the caller's `Idempotency-Key`, scoped to the operator, or a fresh
//! one) and its OpenAPI parameter, a player id from the path, a JSON
//! reply, and the error for an outcome that is not the expected success.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use engine::{Currency, ExtId, Outcome, PlayerId};
use serde::Serialize;
use utoipa::openapi::Required;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::{IntoParams, PartialSchema};

use crate::AppState;
use crate::error::{ApiError, json_response, to_json};
use crate::{tokens, wire};

/// Header carrying the caller's idempotency id for a change.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// The request id: the caller's `Idempotency-Key`, or a fresh one.
pub fn request_id(headers: &HeaderMap) -> Result<ExtId, ApiError> {
    match headers.get(IDEMPOTENCY_HEADER) {
        Some(value) => {
            let text = value
                .to_str()
                .map_err(|_| ApiError::bad_request("invalid_request", "idempotency-key must be ASCII"))?;
            wire::ext_id(text, "idempotency-key")
        }
        None => {
            let bytes = tokens::random_bytes().map_err(ApiError::internal)?;
            wire::ext_id(&hex::encode(&bytes[..16]), "id")
        }
    }
}

/// A player id from the path, known to exist.
pub fn player(state: &AppState, text: &str) -> Result<PlayerId, ApiError> {
    let unknown = || ApiError::not_found("unknown_player", "no such player");
    let id = text.parse::<u64>().map_err(|_| unknown())?;
    if id == 0 || id > state.view.read().players_len() {
        return Err(unknown());
    }
    Ok(PlayerId(id))
}

/// A JSON reply with `status`.
pub fn ok<T: Serialize>(status: StatusCode, body: &T) -> Result<Response, ApiError> {
    Ok(json_response(status, to_json(body)))
}

/// An outcome the route cannot have: ours, 500.
pub fn unexpected(outcome: &Outcome) -> ApiError {
    ApiError::internal(format!("unexpected outcome {outcome:?}"))
}

/// The error for an outcome that is not the expected success.
pub fn refusal(outcome: &Outcome, currency: Currency) -> ApiError {
    match outcome.rejection() {
        Some(rejection) => wire::rejection(rejection, currency),
        None => unexpected(outcome),
    }
}

/// The optional `Idempotency-Key` header of an operator change
/// ([`IDEMPOTENCY_HEADER`]).
pub struct IdempotencyKey;

impl IntoParams for IdempotencyKey {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            ParameterBuilder::new()
                .name(IDEMPOTENCY_HEADER)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .schema(Some(String::schema()))
                .description(Some(
                    "the change's id, 1–64 printable ASCII, scoped to the operator: a retry with it gets the \
                     original outcome, and the same id with another request is a conflict",
                ))
                .build(),
        ]
    }
}
