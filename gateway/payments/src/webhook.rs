//! The payment provider's webhook: verified by its signature, then turned
//! into the ledger command it implies, under a request id made from the
//! provider's event id.
//!
//! Verification comes first: a missing or wrong signature, or a signed
//! time outside the tolerance, is refused (401/400), logged, and reaches
//! nothing. An event about a payment this server never started is refused
//! (404) and logged without a command. Everything else is idempotent and
//! order-independent by construction: a redelivered event has the same id,
//! so the ledger answers its recorded outcome; an event that comes after
//! the payment is final (a failure after a success, a success after an
//! expiry) is refused by the ledger's payment state and acknowledged with
//! `applied: false`, so the provider stops resending it and nothing moves.
//!
//! A failed attempt leaves a Stripe PaymentIntent open for another, so the
//! handler cancels it at the provider before failing the deposit; if the
//! provider says it succeeded meanwhile, the deposit is confirmed instead.
//!
//! Each configured provider has its own route (`/webhooks/v1/payments/
//! stripe`, `/webhooks/v1/payments/nowpayments`), verified with its own
//! secret; a payment is looked up under the provider that calls.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use edge::AppState;
use edge::body::JsonBody;
use edge::error::{ApiError, ErrorBody};
use edge::openapi::LedgerErrors;
use edge::reads::read;
use engine::command::TxRef;
use engine::{Amount, Command, Currency, Outcome, Rejection, payments};
use readmodel::cashier::{self, PaymentView};
use serde::Serialize;
use utoipa::ToSchema;

use crate::PaymentProvider;
use crate::providers::{PaymentKey, ProviderEvent, Settlement, WebhookError};
use crate::shared::{cashier as configured, event_id, submit_system, tx_of};

/// What became of a webhook.
#[derive(Serialize, ToSchema)]
#[schema(as = PaymentWebhookReply)]
pub struct WebhookReply {
    /// Whether it changed the ledger (false: a duplicate, an event after
    /// the payment was final, or one the cashier does not act on).
    pub applied: bool,
    /// The provider's event type.
    pub event: String,
    /// Why it changed nothing, as an error code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// Receives the Stripe provider's webhooks.
#[utoipa::path(post, path = "/webhooks/v1/payments/stripe", tag = "cashier",
    request_body(content = String, description = "a Stripe event, signed with Stripe-Signature", content_type = "application/json"),
    responses((status = 200, body = WebhookReply), LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (not an event), stale_webhook (signed outside the tolerance)"),
        (status = 401, body = ErrorBody, description = "bad_signature"),
        (status = 404, body = ErrorBody, description = "payment_provider_not_configured, unknown_payment (not started here)"),
        (status = 413, body = ErrorBody, description = "body too large"),
        (status = 415, body = ErrorBody, description = "not application/json"),
        (status = 502, body = ErrorBody, description = "provider_unavailable (a failed attempt could not be canceled at the provider: the provider resends the event)")))]
pub async fn stripe(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    receive(&state, "stripe", &headers, &body).await
}

/// Receives the NOWPayments provider's IPN callbacks (payments and payouts).
#[utoipa::path(post, path = "/webhooks/v1/payments/nowpayments", tag = "cashier",
    request_body(content = String, description = "a NOWPayments payment or payout object, signed with x-nowpayments-sig", content_type = "application/json"),
    responses((status = 200, body = WebhookReply), LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (neither a payment nor a payout)"),
        (status = 401, body = ErrorBody, description = "bad_signature"),
        (status = 404, body = ErrorBody, description = "payment_provider_not_configured, unknown_payment (not started here)"),
        (status = 413, body = ErrorBody, description = "body too large"),
        (status = 415, body = ErrorBody, description = "not application/json")))]
pub async fn nowpayments(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    receive(&state, crate::providers::nowpayments::NAME, &headers, &body).await
}

/// Verifies a webhook of the provider `name` and applies what it says.
async fn receive(state: &AppState, name: &str, headers: &HeaderMap, body: &[u8]) -> Result<Response, ApiError> {
    // Without the provider there is no webhook receiver here: nothing a
    // retry would find later, so not a 503.
    let not_configured = || {
        ApiError::not_found(
            "payment_provider_not_configured",
            format!("the payment provider {name} is not configured here: no webhook is expected"),
        )
    };
    let cashier = configured(state).map_err(|_| not_configured())?;
    let provider = cashier.provider(name).cloned().ok_or_else(not_configured)?;
    let webhook = provider.webhook(headers, body, state.now_ms()).map_err(|error| {
        tracing::warn!(%error, provider = name, "payment webhook refused");
        match error {
            WebhookError::BadSignature => ApiError::unauthorized("bad_signature", error.to_string()),
            WebhookError::Stale { .. } => ApiError::bad_request("stale_webhook", error.to_string()),
            WebhookError::Malformed(_) => ApiError::bad_request("invalid_request", error.to_string()),
        }
    })?;
    let state = state.clone();
    let provider_name = provider.name();
    let id = event_id(provider_name, &webhook.event_id);
    let (command, currency) = match &webhook.event {
        ProviderEvent::Other => return acknowledged(&webhook.kind, None),
        ProviderEvent::Deposit {
            reference,
            key,
            settlement,
        } => {
            let view = payment(&state, provider_name, reference, key.as_ref(), "deposit").await?;
            let deposit = view_tx(&view)?;
            reference_first(&state, provider_name, &view, &deposit, reference).await?;
            let settlement = match settlement {
                Settlement::Failed if provider.failure_needs_cancel(&webhook) => {
                    settle_failed_attempt(provider.as_ref(), reference).await?
                }
                other => *other,
            };
            let ttl_ms = cashier.deposit_ttl.as_millis() as u64;
            let stale = view.created_ms.saturating_add(ttl_ms) <= state.now_ms();
            let command = match settlement {
                // The initiation's gates again: a refusal holds the deposit.
                Settlement::Succeeded => payments::Command::DepositConfirmChecked { deposit },
                // The expiry sweep's cancellation coming back: an expiry
                // (the ledger checks the journaled times again).
                Settlement::Failed if stale => payments::Command::DepositExpire {
                    deposit,
                    after_ms: ttl_ms,
                },
                Settlement::Failed => payments::Command::DepositFail { deposit },
                Settlement::Pending => return acknowledged(&webhook.kind, Some("provider_pending")),
            };
            (command, currency_of(&view))
        }
        ProviderEvent::Dispute {
            reference,
            amount_minor,
            ..
        } => {
            let view = payment(&state, provider_name, reference, None, "deposit").await?;
            let command = payments::Command::DepositChargeback {
                deposit: view_tx(&view)?,
                amount: Amount::from_minor(*amount_minor),
            };
            (command, currency_of(&view))
        }
        ProviderEvent::Refund { reference, key } => {
            let view = payment(&state, provider_name, reference, key.as_ref(), "deposit").await?;
            let deposit = view_tx(&view)?;
            reference_first(&state, provider_name, &view, &deposit, reference).await?;
            // Refunded after it was confirmed: the whole deposit goes back,
            // as a chargeback would take it; before: it simply failed.
            let command = if view.state == "confirmed" {
                payments::Command::DepositChargeback {
                    deposit,
                    amount: Amount::from_minor(view.amount_minor),
                }
            } else {
                payments::Command::DepositFail { deposit }
            };
            (command, currency_of(&view))
        }
        ProviderEvent::Payout {
            reference,
            key,
            settlement,
        } => {
            let view = payment(&state, provider_name, reference, key.as_ref(), "withdrawal").await?;
            let withdrawal = view_tx(&view)?;
            reference_first(&state, provider_name, &view, &withdrawal, reference).await?;
            let command = match settlement {
                Settlement::Succeeded => payments::Command::WithdrawalComplete { withdrawal },
                Settlement::Failed => payments::Command::WithdrawalReject { withdrawal },
                Settlement::Pending => return acknowledged(&webhook.kind, Some("provider_pending")),
            };
            (command, currency_of(&view))
        }
    };
    match submit_system(&state, id, Command::Payments(command)).await? {
        Outcome::Moved(_) | Outcome::MovedInSession(_) | Outcome::Accepted => edge::change::ok(
            StatusCode::OK,
            &WebhookReply {
                applied: true,
                event: webhook.kind,
                reason: None,
            },
        ),
        Outcome::Rejected(rejection @ (Rejection::WrongPaymentState { .. } | Rejection::InvalidAmount)) => {
            // A duplicate or late event about a final payment: acknowledged.
            let code = edge::wire::rejection(&rejection, currency).code;
            tracing::info!(event = %webhook.event_id, kind = %webhook.kind, code, "payment webhook changed nothing");
            acknowledged(&webhook.kind, Some(code))
        }
        Outcome::Rejected(rejection) if readmodel::cashier::hold_reason(&rejection).is_some() => {
            // Paid at the provider, refused by a gate since the initiation:
            // held for review (the read model says why), not retried.
            let code = edge::wire::rejection(&rejection, currency).code;
            tracing::warn!(event = %webhook.event_id, code, "a confirmed deposit is held for review");
            acknowledged(&webhook.kind, Some("deposit_held"))
        }
        other => Err(edge::change::refusal(&other, currency)),
    }
}

fn acknowledged(kind: &str, reason: Option<&'static str>) -> Result<Response, ApiError> {
    edge::change::ok(
        StatusCode::OK,
        &WebhookReply {
            applied: false,
            event: kind.to_owned(),
            reason,
        },
    )
}

/// The payment an event is about: by the key its metadata names, else by
/// the provider's reference; it must be of `kind` and started here.
async fn payment(
    state: &AppState,
    provider: &'static str,
    reference: &str,
    key: Option<&PaymentKey>,
    kind: &'static str,
) -> Result<PaymentView, ApiError> {
    let by_key = key.and_then(tx_of);
    let reference = reference.to_owned();
    let (found, _) = read(state, move |c| match &by_key {
        Some(tx) => cashier::payment(c, tx.source, tx.id.as_str()),
        None => cashier::by_reference(c, provider, &reference),
    })
    .await?;
    // A key names the payment whatever the provider; it must be this
    // provider's (or have none recorded yet).
    let own = |view: &PaymentView| view.provider.as_deref().is_none_or(|p| p == provider);
    found.filter(|view| view.kind == kind && own(view)).ok_or_else(|| {
        tracing::warn!(?key, kind, "payment webhook about a payment not started here");
        ApiError::not_found(
            "unknown_payment",
            format!("no {kind} with this reference was started here"),
        )
    })
}

fn view_tx(view: &PaymentView) -> Result<TxRef, ApiError> {
    Ok(TxRef {
        source: view.source,
        id: engine::ExtId::new(&view.id).map_err(ApiError::internal)?,
    })
}

fn currency_of(view: &PaymentView) -> Currency {
    Currency::from_code(&view.currency).unwrap_or(Currency::EUR)
}

/// Journals the provider's reference of a payment that has none yet (its
/// webhook came before the call that made it answered), so every payment
/// settled by the provider names its object.
async fn reference_first(
    state: &AppState,
    provider: &str,
    view: &PaymentView,
    payment: &TxRef,
    reference: &str,
) -> Result<(), ApiError> {
    if view.reference.is_some() {
        return Ok(());
    }
    crate::deposits::record_reference(state, payment, provider, reference, currency_of(view)).await
}

/// A failed attempt: cancel the intent so no later attempt can succeed,
/// and say where it stands after.
async fn settle_failed_attempt(provider: &dyn PaymentProvider, reference: &str) -> Result<Settlement, ApiError> {
    provider
        .cancel_deposit(reference)
        .await
        .map(|p| p.settlement)
        .map_err(|error| {
            tracing::warn!(%error, reference, "could not cancel a failed payment attempt; the provider will resend");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "provider_unavailable",
                format!("{error}: the event will be handled on its next delivery"),
            )
        })
}
