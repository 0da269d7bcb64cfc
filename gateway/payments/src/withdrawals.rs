//! Withdrawals: the front end requests one for a player (the amount moves
//! from cash to reserved), finance approves or rejects it, and the player
//! may take it back before approval where the jurisdiction allows it. An
//! approved withdrawal is paid out by the worker ([`crate::worker`]).
//!
//! Four eyes: a withdrawal above the configured amount needs two
//! approvals by different operators. The first is journaled
//! (`WithdrawalFirstApproval`) and changes no money; the second
//! (`WithdrawalApproveSecond`) names the first, and the ledger checks that
//! it is an accepted first approval of this withdrawal from another
//! operator's source, so neither a restart nor a second click by the same
//! operator can approve it alone. Each operator's approval of a given
//! withdrawal is one request id (derived from the withdrawal's), so a
//! repeated click is a retry.
//!
//! A VIP tier's daily withdrawal limit is checked against the read model,
//! so the requests of one player are serialized here: the day's sum is
//! read (current to every write acknowledged before) and the request
//! submitted while holding the player's lock, so two concurrent requests
//! cannot both fit in the same room. The lock lives in this process: in a
//! replication group only the leader's process submits.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::player_locks::PlayerLocks;
use edge::reads::read;
use edge::wire::{self, Sign};
use edge::{AppState, Caller};
use engine::command::TxRef;
use engine::{Amount, Command, Currency, Outcome, PlayerId, payments};
use readmodel::cashier::{self, PaymentView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::deposits::{PaymentQuery, PaymentsReply, list_kind};
use crate::shared::{cashier, derived_id, derived_id_with, payment_path, record_method, usable_method};

/// A withdrawal to request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalRequest {
    /// The withdrawal's id (idempotency key), 1–64 printable ASCII.
    pub withdrawal_id: String,
    /// Currency code.
    pub currency: String,
    /// Decimal amount, positive.
    pub amount: String,
    /// The player's payment method it is paid to (its id): it must be
    /// active; a crypto method's address is where a crypto payout goes.
    pub payment_method_id: Option<String>,
}

/// Where a withdrawal stands after a step.
#[derive(Serialize, ToSchema)]
pub struct WithdrawalReply {
    /// `<source>:<id>`: how routes name it.
    pub payment: String,
    /// requested, awaiting_second_approval, approved, rejected, reversed.
    pub state: &'static str,
    /// Currency code.
    pub currency: &'static str,
    /// The wallet's cash after a step that moved money.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cash: Option<String>,
    /// The wallet's reserved funds after a step that moved money.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved: Option<String>,
}

fn reply(payment: &TxRef, state: &'static str, balances: &engine::Balances) -> WithdrawalReply {
    WithdrawalReply {
        payment: format!("{}:{}", payment.source.0, payment.id),
        state,
        currency: balances.currency.code(),
        cash: Some(wire::money(balances.cash, balances.currency)),
        reserved: Some(wire::money(balances.reserved, balances.currency)),
    }
}

/// Requests a withdrawal: the amount is reserved (admins, finance,
/// support: the player's front end).
#[utoipa::path(post, path = "/cashier/v1/players/{player}/withdrawals", tag = "cashier", request_body = WithdrawalRequest,
    params(("player" = u64, Path)), security(("bearer" = [])),
    responses((status = 201, body = WithdrawalReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 403, body = ErrorBody, description = "player_blocked, kyc_required"),
        (status = 404, body = ErrorBody, description = "unknown_player, unknown_payment_method"),
        (status = 409, body = ErrorBody, description = "conflict (withdrawal_id reused for another withdrawal), payment_method_inactive"),
        (status = 422, body = ErrorBody, description = "insufficient_funds, currency_mismatch, overflow, tier_withdrawal_limit (over the VIP tier's daily withdrawal limit)")))]
pub async fn request(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: WithdrawalRequest = decode(&body)?;
    let currency = wire::currency(&request.currency)?;
    let amount = wire::amount(&request.amount, currency, Sign::Positive, "amount")?;
    let id = wire::ext_id(&request.withdrawal_id, "withdrawal_id")?;
    let player = edge::change::player(&state, &player_id)?;
    // Without a provider, nothing could pay it out.
    cashier(&state)?;
    let method = match request.payment_method_id.as_deref() {
        Some(text) => Some(usable_method(&state, player, text).await?.0),
        None => None,
    };
    let held = REQUESTING.lock(player).await;
    tier_limit(&state, player, currency, amount, &caller, &id).await?;
    let command = Command::Payments(payments::Command::WithdrawalRequest {
        player,
        currency,
        amount,
    });
    let outcome = caller.submit(&state, id.clone(), command).await?;
    drop(held);
    let Some(receipt) = outcome.receipt() else {
        return Err(edge::change::refusal(&outcome, currency));
    };
    let payment = TxRef {
        source: caller.source,
        id,
    };
    if let Some(method) = &method {
        record_method(&state, &payment, method, currency).await?;
    }
    edge::change::ok(StatusCode::CREATED, &reply(&payment, "requested", &receipt.balances))
}

/// One UTC day, the period of a VIP tier's withdrawal limit.
const DAY_MS: u64 = 86_400_000;
/// Withdrawal requests of one player, one at a time.
static REQUESTING: PlayerLocks = PlayerLocks::new();

/// Refuses a withdrawal that would take the player's withdrawals of the
/// ledger's current UTC day over their VIP tier's daily limit
/// (`tier_withdrawal_limit`, 422). The limit is in the loyalty programme's
/// currency and counts withdrawals in it that were not rejected or
/// reversed; a player with no tier, a tier with no limit, or a withdrawal
/// in another currency is not limited here. A retry of a request already
/// journaled is let through: the ledger answers it as before.
async fn tier_limit(
    state: &AppState,
    player: PlayerId,
    currency: Currency,
    amount: Amount,
    caller: &Caller,
    id: &engine::ExtId,
) -> Result<(), ApiError> {
    let day = state.now_ms() / DAY_MS * DAY_MS;
    let (source, ext_id) = (caller.source.0, id.as_str().to_owned());
    let (limit, _) = read(state, move |c| {
        if readmodel::loyalty::journaled(c, source, &ext_id)? {
            return Ok(None);
        }
        let Some(config) = readmodel::loyalty::current(c)?.map(|view| view.config) else {
            return Ok(None);
        };
        if config.currency != currency {
            return Ok(None);
        }
        let Some(code) = readmodel::loyalty::tier(c, player.0)? else {
            return Ok(None);
        };
        let Some(tier) = config.tiers.into_iter().find(|t| t.code.as_str() == code) else {
            return Ok(None);
        };
        let Some(limit) = tier.withdrawal_limit else {
            return Ok(None);
        };
        let used = cashier::withdrawn_between(c, player.0, currency.code(), day, day + DAY_MS)?;
        Ok(Some((code, limit, used)))
    })
    .await?;
    let Some((tier, limit, used)) = limit else {
        return Ok(());
    };
    if i128::from(used) + i128::from(amount.minor()) > i128::from(limit.minor()) {
        let left = (limit.minor() - used).max(0);
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "tier_withdrawal_limit",
            format!(
                "the player's VIP tier {tier} allows {} {} of withdrawals per day; {} already requested today, {} left",
                wire::money(limit, currency),
                currency.code(),
                wire::money(Amount::from_minor(used), currency),
                wire::money(Amount::from_minor(left), currency),
            ),
        ));
    }
    Ok(())
}

/// Withdrawals, filtered, oldest first: the approval queue is
/// `state=requested` (admins, finance, compliance, read-only).
#[utoipa::path(get, path = "/cashier/v1/withdrawals", tag = "cashier",
    params(PaymentQuery), security(("bearer" = [])),
    responses((status = 200, body = PaymentsReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter, limit outside 1–1000, from_ms after to_ms)")))]
pub async fn list(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    list_kind(&state, &uri, "withdrawal").await
}

/// The withdrawal named in the path, from the cashier view.
async fn find(state: &AppState, text: &str) -> Result<(TxRef, PaymentView, Currency), ApiError> {
    let payment = payment_path(text)?;
    let (source, id) = (payment.source, payment.id.as_str().to_owned());
    let (found, _) = read(state, move |c| cashier::payment(c, source, &id)).await?;
    let unknown = || ApiError::not_found("unknown_withdrawal", "no withdrawal was requested under this name");
    let view = found.filter(|v| v.kind == "withdrawal").ok_or_else(unknown)?;
    let currency = Currency::from_code(&view.currency).ok_or_else(unknown)?;
    Ok((payment, view, currency))
}

/// Whether `amount_minor` needs four eyes under the configured amount.
fn needs_four_eyes(four_eyes_above: &str, amount_minor: i64, currency: Currency) -> Result<bool, ApiError> {
    let threshold = Amount::parse(four_eyes_above, currency)
        .or_else(|_| {
            // More decimals than the currency has: its whole part.
            let whole = four_eyes_above.split('.').next().unwrap_or("0");
            Amount::parse(whole, currency)
        })
        .map_err(|e| ApiError::internal(format!("cashier_four_eyes_above: {e}")))?;
    Ok(amount_minor > threshold.minor())
}

/// Approves a withdrawal (admins, finance). Above the four-eyes amount the
/// first approval answers 202 `awaiting_second_approval`, and only another
/// operator's approval approves it.
#[utoipa::path(post, path = "/cashier/v1/withdrawals/{payment}/approve", tag = "cashier",
    params(("payment" = String, Path, description = "<source>:<id> of the withdrawal request")),
    security(("bearer" = [])),
    responses((status = 200, body = WithdrawalReply, description = "approved"),
        (status = 202, body = WithdrawalReply, description = "awaiting_second_approval (four eyes: another operator must approve)"),
        RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (not <source>:<id>)"),
        (status = 404, body = ErrorBody, description = "unknown_withdrawal"),
        (status = 409, body = ErrorBody, description = "wrong_payment_state (approved or final already), four_eyes_required, withdrawal_held (the player's withdrawals are held in the ledger: an AML case is open on them)")))]
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    Path(payment_text): Path<String>,
) -> Result<Response, ApiError> {
    let (payment, view, currency) = find(&state, &payment_text).await?;
    let cashier = cashier(&state)?;
    if view.state != "requested" {
        // Approved or final: a first approval now would mean nothing.
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "wrong_payment_state",
            format!("the withdrawal is {}", view.state),
        ));
    }
    // A hold (an open AML case on the player) is the ledger's to check, in
    // the same step as the approval: refused there with `withdrawal_held`.
    // The ledger remembers that refusal under the approval's request id,
    // so an attempt while a case is open gets its own id (naming the
    // case): once the case is resolved the next attempt is a new request,
    // not a retry answered with the old refusal.
    let player = view.player;
    let (case, _) = read(&state, move |c| readmodel::risk::open_case_of(c, player)).await?;
    let while_held = case.map(|case| format!("aml_case:{case}"));
    let id_of = |step: &str| match &while_held {
        Some(hold) => derived_id_with(step, &payment, hold),
        None => derived_id(step, &payment),
    };
    let four_eyes = needs_four_eyes(&cashier.four_eyes_above, view.amount_minor, currency)?;
    let (command, id) = match (&view.first_approval, four_eyes) {
        (_, false) => (
            payments::Command::WithdrawalApprove {
                withdrawal: payment.clone(),
            },
            id_of("approve"),
        ),
        (Some((source, first_id)), true) if *source != caller.source => (
            payments::Command::WithdrawalApproveSecond {
                withdrawal: payment.clone(),
                first: TxRef {
                    source: *source,
                    id: wire::ext_id(first_id, "first approval")?,
                },
            },
            id_of("approve2"),
        ),
        // No first approval yet, or this operator gave it: (again) the first.
        (_, true) => (
            payments::Command::WithdrawalFirstApproval {
                withdrawal: payment.clone(),
            },
            id_of("approve1"),
        ),
    };
    match caller.submit(&state, id, Command::Payments(command)).await? {
        Outcome::Moved(receipt) => edge::change::ok(StatusCode::OK, &reply(&payment, "approved", &receipt.balances)),
        // The first of two approvals moves nothing.
        Outcome::Accepted => edge::change::ok(
            StatusCode::ACCEPTED,
            &WithdrawalReply {
                payment: format!("{}:{}", payment.source.0, payment.id),
                state: "awaiting_second_approval",
                currency: currency.code(),
                cash: None,
                reserved: None,
            },
        ),
        other => Err(edge::change::refusal(&other, currency)),
    }
}

/// Rejects a withdrawal: the reserve returns to cash (admins, finance).
#[utoipa::path(post, path = "/cashier/v1/withdrawals/{payment}/reject", tag = "cashier",
    params(("payment" = String, Path, description = "<source>:<id> of the withdrawal request")),
    security(("bearer" = [])),
    responses((status = 200, body = WithdrawalReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (not <source>:<id>)"),
        (status = 404, body = ErrorBody, description = "unknown_withdrawal"),
        (status = 409, body = ErrorBody, description = "wrong_payment_state (final already)")))]
pub async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    Path(payment_text): Path<String>,
) -> Result<Response, ApiError> {
    // No provider is needed to refuse a payout.
    let (payment, _, currency) = find(&state, &payment_text).await?;
    let command = Command::Payments(payments::Command::WithdrawalReject {
        withdrawal: payment.clone(),
    });
    match caller.submit(&state, derived_id("reject", &payment), command).await? {
        Outcome::Moved(receipt) => edge::change::ok(StatusCode::OK, &reply(&payment, "rejected", &receipt.balances)),
        other => Err(edge::change::refusal(&other, currency)),
    }
}

/// The player taking a withdrawal back.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReverseRequest {
    /// The player asking (must be the withdrawal's).
    pub player: u64,
}

/// The player takes back a withdrawal not yet approved, where the
/// player's jurisdiction allows it (not in the UK: RTS 14B) (admins,
/// finance, support: the player's front end).
#[utoipa::path(post, path = "/cashier/v1/withdrawals/{payment}/reverse", tag = "cashier", request_body = ReverseRequest,
    params(("payment" = String, Path, description = "<source>:<id> of the withdrawal request")),
    security(("bearer" = [])),
    responses((status = 200, body = WithdrawalReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (not <source>:<id>)"),
        (status = 403, body = ErrorBody, description = "withdrawal_reversal_forbidden (the jurisdiction forbids it)"),
        (status = 404, body = ErrorBody, description = "unknown_withdrawal"),
        (status = 409, body = ErrorBody, description = "wrong_payment_state (approved or final already), wrong_transaction_kind (not this player's withdrawal)")))]
pub async fn reverse(
    State(state): State<AppState>,
    caller: Caller,
    Path(payment_text): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: ReverseRequest = decode(&body)?;
    let (payment, _, currency) = find(&state, &payment_text).await?;
    let command = Command::Payments(payments::Command::WithdrawalReverse {
        withdrawal: payment.clone(),
        player: PlayerId(request.player),
    });
    let id = derived_id_with("reverse", &payment, &request.player.to_string());
    match caller.submit(&state, id, command).await? {
        Outcome::Moved(receipt) => edge::change::ok(StatusCode::OK, &reply(&payment, "reversed", &receipt.balances)),
        other => Err(edge::change::refusal(&other, currency)),
    }
}
