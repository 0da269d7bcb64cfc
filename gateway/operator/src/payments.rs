//! Money into a player's wallet: funding, a deposit initiated and confirmed
//! in one command, in the caller's deposit id space (the payments issue
//! adds the full deposit and withdrawal life-cycles here).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::wire::{self, Sign};
use edge::{AppState, Caller};
use engine::{Command, Outcome, payments};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::shared::{BalanceReply, balance_reply, ok, player, refusal};

/// Money into a player's wallet.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FundRequest {
    /// The deposit's id (idempotency key), 1–56 printable ASCII.
    pub deposit_id: String,
    /// Currency code.
    pub currency: String,
    /// Decimal amount, positive.
    pub amount: String,
}

/// Funds a player: a deposit initiated and confirmed at once (admins, finance).
#[utoipa::path(post, path = "/operator/v1/players/{player}/deposits", tag = "operator", request_body = FundRequest,
    params(("player" = u64, Path)), security(("bearer" = [])),
    responses((status = 200, body = BalanceReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 403, body = ErrorBody, description = "forbidden (role), limit_exceeded (deposit limit), player_blocked, kyc_required"),
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 409, body = ErrorBody, description = "conflict (deposit_id reused for another deposit)"),
        (status = 422, body = ErrorBody, description = "currency_mismatch, overflow")))]
pub async fn fund_player(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: FundRequest = decode(&body)?;
    let currency = wire::currency(&request.currency)?;
    let amount = wire::amount(&request.amount, currency, Sign::Positive, "amount")?;
    let deposit = wire::ext_id(&request.deposit_id, "deposit_id")?;
    let player = player(&state, &player_id)?;
    // One command: it lands whole or changes nothing.
    let command = Command::Payments(payments::Command::Deposit {
        player,
        currency,
        amount,
    });
    match caller.submit(&state, deposit, command).await? {
        Outcome::Moved(receipt) => ok(
            StatusCode::OK,
            &balance_reply(player, &receipt.balances, Some(receipt.seq)),
        ),
        other => Err(refusal(&other, currency)),
    }
}
