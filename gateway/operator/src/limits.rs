//! Responsible gambling: deposit, loss and wager limits (a decrease applies
//! at once, an increase after the cooling-off) and self-exclusion.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::wire::{self, Sign};
use edge::{AppState, Caller};
use engine::command::{LimitKind, LimitMetric, LimitPeriod};
use engine::{Command, Currency, rg};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::shared::{ChangeReply, IdempotencyKey, change_player};

/// A responsible-gambling limit.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitRequest {
    /// The wallet's currency code.
    pub currency: String,
    /// deposit, loss or wager.
    pub metric: String,
    /// day, week or month.
    pub period: String,
    /// The new maximum (decimal, zero or more), or null to remove the limit.
    pub amount: Option<String>,
}

/// Sets or removes a limit: a decrease applies at once, an increase after
/// the cooling-off (admins, compliance).
#[utoipa::path(put, path = "/operator/v1/players/{player}/limits", tag = "operator", request_body = LimitRequest,
    params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = ChangeReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)"),
        (status = 422, body = ErrorBody, description = "currency_mismatch: the player has no wallet in that currency")))]
pub async fn set_limit(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: LimitRequest = decode(&body)?;
    let currency = wire::currency(&request.currency)?;
    let metric = match request.metric.as_str() {
        "deposit" => LimitMetric::Deposit,
        "loss" => LimitMetric::Loss,
        "wager" => LimitMetric::Wager,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "metric: deposit, loss or wager",
            ));
        }
    };
    let period = match request.period.as_str() {
        "day" => LimitPeriod::Day,
        "week" => LimitPeriod::Week,
        "month" => LimitPeriod::Month,
        _ => return Err(ApiError::bad_request("invalid_request", "period: day, week or month")),
    };
    let amount = request
        .amount
        .as_deref()
        .map(|text| wire::amount(text, currency, Sign::NonNegative, "amount"))
        .transpose()?;
    change_player(&state, &caller, &headers, &player_id, currency, |player| {
        Command::Rg(rg::Command::SetLimit {
            player,
            currency,
            limit: LimitKind { metric, period },
            amount,
        })
    })
    .await
}

/// A self-exclusion.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelfExcludeRequest {
    /// End of the exclusion, ms since the epoch (extends, never shortens).
    pub until_ms: u64,
}

/// Records a player's self-exclusion (admins, compliance, support).
#[utoipa::path(post, path = "/operator/v1/players/{player}/self-exclusion", tag = "operator",
    request_body = SelfExcludeRequest, params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = ChangeReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "time_not_in_future, malformed_json, invalid_request"),
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)")))]
pub async fn self_exclude(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: SelfExcludeRequest = decode(&body)?;
    change_player(&state, &caller, &headers, &player_id, Currency::EUR, |player| {
        Command::Rg(rg::Command::SelfExclude {
            player,
            until_ms: request.until_ms,
        })
    })
    .await
}

/// A time-out (a short break the player asked for).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeOutRequest {
    /// End of the time-out, ms since the epoch (extends, never shortens).
    pub until_ms: u64,
}

/// Records a player's time-out (admins, compliance, support).
#[utoipa::path(post, path = "/operator/v1/players/{player}/time-out", tag = "operator",
    request_body = TimeOutRequest, params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = ChangeReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "time_not_in_future, malformed_json, invalid_request"),
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)")))]
pub async fn time_out(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: TimeOutRequest = decode(&body)?;
    change_player(&state, &caller, &headers, &player_id, Currency::EUR, |player| {
        Command::Rg(rg::Command::TimeOut {
            player,
            until_ms: request.until_ms,
        })
    })
    .await
}
