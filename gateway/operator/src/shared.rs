//! What the operator routes share: the request id of a change (the
//! caller's `Idempotency-Key`, scoped to the operator, or a fresh one), a
//! player id from the path, the replies several routes give (balances, when
//! a change takes effect), and the error for an outcome that is not the
//! expected success.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use edge::AppState;
use edge::error::{ApiError, json_response, to_json};
use edge::tokens;
use edge::wire::{self, Money};
use engine::{Currency, ExtId, Name, Outcome, PlayerId};
use serde::Serialize;
use utoipa::openapi::Required;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::{IntoParams, PartialSchema, ToSchema};

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

/// A display name, checked.
pub fn name(text: &str) -> Result<Name, ApiError> {
    Name::new(text).map_err(|error| ApiError::bad_request("invalid_request", format!("name: {error}")))
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

/// A wallet's balances.
#[derive(Serialize, ToSchema)]
pub struct BalanceReply {
    /// Player id.
    pub player: u64,
    /// Currency code.
    pub currency: &'static str,
    /// Cash.
    pub cash: String,
    /// Bonus money.
    pub bonus: String,
    /// Cash held for pending withdrawals.
    pub reserved: String,
    /// The transaction that moved money, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction: Option<u64>,
    /// For a read: the sequence number it is current to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of_seq: Option<u64>,
}

/// The balances of `player`'s wallet as the API shows them.
pub fn balance_reply(player: PlayerId, balances: &engine::Balances, transaction: Option<u64>) -> BalanceReply {
    let money = Money::of(balances);
    BalanceReply {
        player: player.0,
        currency: money.currency,
        cash: money.cash,
        bonus: money.bonus,
        reserved: wire::money(balances.reserved, balances.currency),
        transaction,
        as_of_seq: None,
    }
}

/// When a change takes effect.
#[derive(Serialize, ToSchema)]
pub struct ChangeReply {
    /// "accepted" (in force now) or "scheduled" (after the cooling-off).
    pub status: &'static str,
    /// For a scheduled change: when, ms since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_at_ms: Option<u64>,
}

/// The reply to a change that takes effect now or later (limits, exclusions).
pub fn change_reply(outcome: &Outcome, currency: Currency) -> Result<Response, ApiError> {
    match outcome {
        Outcome::Accepted => ok(
            StatusCode::OK,
            &ChangeReply {
                status: "accepted",
                effective_at_ms: None,
            },
        ),
        Outcome::Scheduled { effective_at_ms } => ok(
            StatusCode::OK,
            &ChangeReply {
                status: "scheduled",
                effective_at_ms: Some(*effective_at_ms),
            },
        ),
        other => Err(refusal(other, currency)),
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
