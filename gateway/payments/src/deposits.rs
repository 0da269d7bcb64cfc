//! Deposits through the payment provider: the front end initiates one for
//! a player and gets what it needs to send the player on (the provider's
//! redirect URL, or the client secret its script confirms with, and the
//! reference); operators list them.
//!
//! The ledger sees the deposit first (`DepositInitiate`: account, KYC
//! gates, due diligence and deposit limits, the amount counted against
//! the limits), so nothing is started at the provider for a player who
//! may not deposit. Then the provider is asked, under an idempotency key
//! made from the deposit's id, and its reference is journaled
//! (`PaymentReference`). A retry of the route with the same deposit id
//! repeats each step harmlessly: the ledger answers its recorded outcome
//! and the provider its recorded object. A provider that refuses the
//! payment fails the deposit at once (its limit use given back); one that
//! cannot be reached leaves it initiated, for a retry or the expiry sweep.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::reads::read;
use edge::wire::{self, Sign};
use edge::{AppState, Caller};
use engine::command::TxRef;
use engine::{Command, Currency, ExtId, Outcome, payments};
use readmodel::cashier::{self, PaymentFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::providers::DepositStart;
use crate::shared::{
    PaymentReply, cashier, derived_id, key_of, payment_reply, record_method, submit_system, usable_method,
};
use crate::{Cashier, PaymentProvider};

/// Most payments in one page.
const PAGE_MAX: usize = 1_000;
/// Longest URL accepted as a return URL.
const RETURN_URL_MAX: usize = 2_048;

/// A deposit to start.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepositRequest {
    /// The deposit's id (idempotency key), 1–64 printable ASCII.
    pub deposit_id: String,
    /// Currency code.
    pub currency: String,
    /// Decimal amount, positive.
    pub amount: String,
    /// A payment method the front end tokenized at the provider (`pm_…`;
    /// never card numbers): the provider confirms at once and may answer
    /// with a redirect. Without it, the front end confirms with the
    /// client secret.
    pub payment_method: Option<String>,
    /// Where the provider sends the player back after a redirect
    /// (https:// or http://).
    pub return_url: Option<String>,
    /// The provider to pay through (`stripe`, `nowpayments`), one of those
    /// configured; the default provider without it. With NOWPayments,
    /// `payment_method` names the coin the player pays with (`btc`), the
    /// deposit's currency without it.
    pub provider: Option<String>,
    /// The player's payment method it is paid with (its id, see
    /// `/operator/v1/players/{p}/payment-methods`): it must be active. A
    /// card method's reference is the provider's token when
    /// `payment_method` is not given.
    pub payment_method_id: Option<String>,
}

/// A deposit started at the provider.
#[derive(Serialize, ToSchema)]
pub struct DepositReply {
    /// `<source>:<id>`: how routes name it.
    pub payment: String,
    /// The deposit's state in the ledger: initiated (or confirmed, if the
    /// provider already reported it).
    pub state: &'static str,
    /// The provider.
    pub provider: &'static str,
    /// The provider's reference (`pi_…`).
    pub reference: String,
    /// The provider's status word.
    pub provider_status: String,
    /// Where to send the player, if the provider asks for a redirect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// What the front end confirms the payment with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Where the player sends the coins (crypto providers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pay_address: Option<String>,
}

/// Starts a deposit at the payment provider (admins, finance, support: the
/// player's front end).
#[utoipa::path(post, path = "/cashier/v1/players/{player}/deposits", tag = "cashier", request_body = DepositRequest,
    params(("player" = u64, Path)), security(("bearer" = [])),
    responses((status = 201, body = DepositReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 403, body = ErrorBody, description = "limit_exceeded (deposit limit), player_blocked, kyc_required, due_diligence_required"),
        (status = 404, body = ErrorBody, description = "unknown_player, unknown_provider (not one of those configured), unknown_payment_method"),
        (status = 409, body = ErrorBody, description = "conflict (deposit_id reused for another deposit), wrong_payment_state (the deposit is final already), payment_method_inactive"),
        (status = 422, body = ErrorBody, description = "currency_mismatch, overflow, provider_refused (the provider refused the payment: the deposit failed)"),
        (status = 502, body = ErrorBody, description = "provider_unavailable (the provider timed out or failed: retry with the same deposit_id)")))]
pub async fn initiate(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut request: DepositRequest = decode(&body)?;
    let currency = wire::currency(&request.currency)?;
    let amount = wire::amount(&request.amount, currency, Sign::Positive, "amount")?;
    let deposit_id = wire::ext_id(&request.deposit_id, "deposit_id")?;
    check_method(request.payment_method.as_deref())?;
    check_return_url(request.return_url.as_deref())?;
    let player = edge::change::player(&state, &player_id)?;
    let cashier = cashier(&state)?;
    let provider = chosen_provider(&cashier, request.provider.as_deref())?;
    let method = match request.payment_method_id.as_deref() {
        Some(text) => Some(usable_method(&state, player, text).await?),
        None => None,
    };
    if let Some((_, view)) = &method
        && request.payment_method.is_none()
        && view.kind == "card"
        && check_method(Some(&view.reference)).is_ok()
    {
        request.payment_method = Some(view.reference.clone());
    }
    let command = Command::Payments(payments::Command::DepositInitiate {
        player,
        currency,
        amount,
    });
    let outcome = caller.submit(&state, deposit_id.clone(), command).await?;
    if outcome.receipt().is_none() {
        return Err(edge::change::refusal(&outcome, currency));
    }
    let deposit = TxRef {
        source: caller.source,
        id: deposit_id,
    };
    if let Some((id, _)) = &method {
        record_method(&state, &deposit, id, currency).await?;
    }
    let start = DepositStart {
        key: key_of(&deposit),
        amount_minor: amount.minor(),
        currency: currency.code().to_owned(),
        payment_method: request.payment_method,
        return_url: request.return_url,
    };
    let started = match provider.start_deposit(&start).await {
        Ok(started) => started,
        Err(error) if error.is_transient() => {
            tracing::warn!(%error, deposit = %deposit.id, "the payment provider did not start a deposit");
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "provider_unavailable",
                format!("{error}: retry with the same deposit_id"),
            ));
        }
        Err(error) => {
            tracing::warn!(%error, deposit = %deposit.id, "the payment provider refused a deposit");
            let fail = Command::Payments(payments::Command::DepositFail {
                deposit: deposit.clone(),
            });
            submit_system(&state, derived_id("fail", &deposit), fail).await?;
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "provider_refused",
                format!("{error}; the deposit failed"),
            ));
        }
    };
    record_reference(&state, &deposit, provider.name(), &started.reference, currency).await?;
    let reply = DepositReply {
        payment: format!("{}:{}", deposit.source.0, deposit.id),
        state: if started.status == "succeeded" {
            "confirmed"
        } else {
            "initiated"
        },
        provider: provider.name(),
        reference: started.reference,
        provider_status: started.status,
        redirect_url: started.redirect_url,
        client_secret: started.client_secret,
        pay_address: started.pay_address,
    };
    edge::change::ok(StatusCode::CREATED, &reply)
}

/// Journals the provider's reference of a payment. A payment already
/// final (a webhook settled it meanwhile) needs none.
pub(crate) async fn record_reference(
    state: &AppState,
    payment: &TxRef,
    provider: &str,
    reference: &str,
    currency: Currency,
) -> Result<(), ApiError> {
    let (Ok(provider_id), Ok(reference_id)) = (ExtId::new(provider), ExtId::new(reference)) else {
        return Err(ApiError::internal(format!(
            "the provider's reference {reference:?} is not a valid id"
        )));
    };
    let command = Command::Payments(payments::Command::PaymentReference {
        payment: payment.clone(),
        provider: provider_id,
        reference: reference_id,
    });
    match submit_system(state, derived_id("ref", payment), command).await? {
        Outcome::Accepted | Outcome::Rejected(engine::Rejection::WrongPaymentState { .. }) => Ok(()),
        other => Err(edge::change::refusal(&other, currency)),
    }
}

/// The provider a deposit names, or the default one.
fn chosen_provider(cashier: &Cashier, named: Option<&str>) -> Result<Arc<dyn PaymentProvider>, ApiError> {
    let found = match named {
        Some(name) => cashier.provider(name),
        None => cashier.default_provider(),
    };
    found.cloned().ok_or_else(|| {
        ApiError::not_found(
            "unknown_provider",
            format!("provider: one of {}", cashier.names().join(", ")),
        )
    })
}

fn check_method(method: Option<&str>) -> Result<(), ApiError> {
    let Some(method) = method else { return Ok(()) };
    let fine = (1..=255).contains(&method.len()) && method.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if fine {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_request",
            "payment_method: the provider's token of a method (letters, digits, _), never a card number",
        ))
    }
}

fn check_return_url(url: Option<&str>) -> Result<(), ApiError> {
    let Some(url) = url else { return Ok(()) };
    let fine = url.len() <= RETURN_URL_MAX
        && (url.starts_with("https://") || url.starts_with("http://"))
        && url.bytes().all(|b| b.is_ascii_graphic());
    if fine {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_request",
            "return_url: an http(s) URL of printable ASCII, at most 2048 characters",
        ))
    }
}

/// Which payments.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PaymentQuery {
    /// Only in this state.
    pub state: Option<String>,
    /// Only this player's.
    pub player: Option<u64>,
    /// Only this provider's (stripe, nowpayments, manual).
    pub provider: Option<String>,
    /// Started at or after this time, ms since the epoch.
    pub from_ms: Option<u64>,
    /// Started before this time, ms since the epoch.
    pub to_ms: Option<u64>,
    /// Most returned, 1 to 1000 (default 100), oldest first.
    pub limit: Option<usize>,
}

/// A list of payments.
#[derive(Serialize, ToSchema)]
pub struct PaymentsReply {
    /// Oldest first.
    pub payments: Vec<PaymentReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// Payments of `kind` matching the query.
pub(crate) async fn list_kind(state: &AppState, uri: &Uri, kind: &str) -> Result<Response, ApiError> {
    let query = axum::extract::Query::<PaymentQuery>::try_from_uri(uri)
        .map(|query| query.0)
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_request",
                "query parameters are state, player, provider, from_ms, to_ms and limit",
            )
        })?;
    if let (Some(from), Some(to)) = (query.from_ms, query.to_ms)
        && from > to
    {
        return Err(ApiError::bad_request("invalid_request", "from_ms is after to_ms"));
    }
    let limit = wire::page_limit(query.limit, 100, PAGE_MAX)?;
    let filter = PaymentFilter {
        kind: kind.to_owned(),
        state: query.state,
        player: query.player.map(engine::PlayerId),
        provider: query.provider,
        from_ms: query.from_ms,
        to_ms: query.to_ms,
        limit: limit as u32,
    };
    let (found, as_of_seq) = read(state, move |c| {
        let found = cashier::list(c, &filter)?;
        // A requested withdrawal waits while an AML case on the player is open.
        found
            .into_iter()
            .map(|view| {
                let hold = if view.kind == "withdrawal" && view.state == "requested" {
                    readmodel::risk::open_case_of(c, view.player)?.map(|case| format!("aml_case:{case}"))
                } else {
                    None
                };
                Ok((view, hold))
            })
            .collect::<Result<Vec<_>, readmodel::ReadModelError>>()
    })
    .await?;
    let reply = PaymentsReply {
        payments: found
            .iter()
            .map(|(view, hold)| PaymentReply {
                hold: hold.clone(),
                ..payment_reply(view)
            })
            .collect(),
        as_of_seq,
    };
    edge::change::ok(StatusCode::OK, &reply)
}

/// Deposits, filtered, oldest first (admins, finance, compliance, read-only).
#[utoipa::path(get, path = "/cashier/v1/deposits", tag = "cashier",
    params(PaymentQuery), security(("bearer" = [])),
    responses((status = 200, body = PaymentsReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter, limit outside 1–1000, from_ms after to_ms)")))]
pub async fn list(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    list_kind(&state, &uri, "deposit").await
}

/// A held deposit named in the path, from the cashier view.
/// Also the journal position the view is current to.
async fn held(state: &AppState, text: &str) -> Result<(TxRef, u64, Currency), ApiError> {
    let payment = crate::shared::payment_path(text)?;
    let (source, id) = (payment.source, payment.id.as_str().to_owned());
    let (found, as_of_seq) = read(state, move |c| cashier::payment(c, source, &id)).await?;
    let unknown = || ApiError::not_found("unknown_deposit", "no deposit was started under this name");
    let view = found.filter(|v| v.kind == "deposit").ok_or_else(unknown)?;
    if view.state != "held" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "wrong_payment_state",
            format!("the deposit is {}, not held", view.state),
        ));
    }
    let currency = Currency::from_code(&view.currency).ok_or_else(unknown)?;
    Ok((payment, as_of_seq, currency))
}

/// Releases a held deposit (admins, finance): its confirmation again, the
/// gates checked again now; refused (and still held) while one still
/// fails.
#[utoipa::path(post, path = "/cashier/v1/deposits/{payment}/release", tag = "cashier",
    params(("payment" = String, Path, description = "<source>:<id> of the deposit")),
    security(("bearer" = [])),
    responses((status = 200, body = PaymentReply, description = "confirmed: the cash landed"), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (not <source>:<id>)"),
        (status = 403, body = ErrorBody, description = "limit_exceeded, player_blocked, kyc_required, due_diligence_required: still held"),
        (status = 404, body = ErrorBody, description = "unknown_deposit"),
        (status = 409, body = ErrorBody, description = "wrong_payment_state (not held)")))]
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    Path(payment_text): Path<String>,
) -> Result<Response, ApiError> {
    let (deposit, as_of_seq, currency) = held(&state, &payment_text).await?;
    let command = Command::Payments(payments::Command::DepositConfirmChecked {
        deposit: deposit.clone(),
    });
    // One attempt per journal position: a click repeated with nothing
    // journaled between is a retry; after a change (the player reopened,
    // KYC verified) it is a new attempt.
    let id = crate::shared::derived_id_with("release", &deposit, &as_of_seq.to_string());
    match caller.submit(&state, id, command).await? {
        Outcome::Moved(_) => {
            let (source, id) = (deposit.source, deposit.id.as_str().to_owned());
            let (found, _) = read(&state, move |c| cashier::payment(c, source, &id)).await?;
            let found = found.ok_or_else(|| ApiError::internal("a released deposit left the read model"))?;
            edge::change::ok(StatusCode::OK, &payment_reply(&found))
        }
        other => Err(edge::change::refusal(&other, currency)),
    }
}

/// Refuses a held deposit for good (admins, finance): it fails, nothing
/// is credited, and the money is to be refunded at the provider (outside
/// the ledger; reconciliation shows it until then).
#[utoipa::path(post, path = "/cashier/v1/deposits/{payment}/refuse", tag = "cashier",
    params(("payment" = String, Path, description = "<source>:<id> of the deposit")),
    security(("bearer" = [])),
    responses((status = 200, body = PaymentReply, description = "failed"), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (not <source>:<id>)"),
        (status = 404, body = ErrorBody, description = "unknown_deposit"),
        (status = 409, body = ErrorBody, description = "wrong_payment_state (not held)")))]
pub async fn refuse(
    State(state): State<AppState>,
    caller: Caller,
    Path(payment_text): Path<String>,
) -> Result<Response, ApiError> {
    let (deposit, _, currency) = held(&state, &payment_text).await?;
    let command = Command::Payments(payments::Command::DepositFail {
        deposit: deposit.clone(),
    });
    match caller.submit(&state, derived_id("refuse", &deposit), command).await? {
        Outcome::Moved(_) => {
            let (source, id) = (deposit.source, deposit.id.as_str().to_owned());
            let (found, _) = read(&state, move |c| cashier::payment(c, source, &id)).await?;
            let found = found.ok_or_else(|| ApiError::internal("a refused deposit left the read model"))?;
            edge::change::ok(StatusCode::OK, &payment_reply(&found))
        }
        other => Err(edge::change::refusal(&other, currency)),
    }
}
