//! What the cashier's routes and worker share: the configured cashier,
//! request ids derived from a payment's own, payment paths, the reply
//! shape of a payment, and submitting under the server's own source.

use axum::http::StatusCode;
use edge::AppState;
use edge::error::ApiError;
use edge::reads::read;
use edge::wire;
use engine::PlayerId;
use engine::command::TxRef;
use engine::{Command, Currency, ExtId, Outcome, Request, SourceId};
use readmodel::cashier::PaymentView;
use readmodel::methods::{self, MethodView};
use serde::Serialize;
use utoipa::ToSchema;

use crate::Cashier;
use crate::providers::PaymentKey;

/// The source the provider's webhooks and the worker submit under: the
/// server's own (the KYC webhook and the first operator use it too, with
/// other ids).
pub const SYSTEM_SOURCE: SourceId = SourceId(0);

/// The cashier set up at start-up, or 503 if no provider is configured.
pub fn cashier(state: &AppState) -> Result<Cashier, ApiError> {
    state.modules.get::<Cashier>().cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "payment_provider_not_configured",
            "no payment provider is configured here (stripe_api_url)",
        )
    })
}

/// A request id derived from a payment's: `<step>:` and a digest of the
/// payment's (source, id), so that every attempt of the same step on the
/// same payment is the same request (a retry, answered from the ledger's
/// memory).
pub fn derived_id(step: &str, payment: &TxRef) -> ExtId {
    derived_id_with(step, payment, "")
}

/// [`derived_id`] for a step that also depends on `detail` (who asks).
pub fn derived_id_with(step: &str, payment: &TxRef, detail: &str) -> ExtId {
    let text = format!("{}\u{0}{}\u{0}{detail}", payment.source.0, payment.id.as_str());
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    let id = format!("{step}:{}", hex::encode(&digest.as_ref()[..20]));
    ExtId::new(&id).expect("a short step and 40 hex digits make a valid id")
}

/// The request id of a provider event: `<provider>:<event id>`, or a
/// digest of it if that is too long for an id.
pub fn event_id(provider: &str, event: &str) -> ExtId {
    let text = format!("{provider}:{event}");
    ExtId::new(&text).unwrap_or_else(|_| {
        let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
        let id = format!("{provider}:{}", hex::encode(&digest.as_ref()[..24]));
        ExtId::new(&id).expect("a provider name and 48 hex digits make a valid id")
    })
}

/// Submits `command` under the server's own source.
pub async fn submit_system(state: &AppState, id: ExtId, command: Command) -> Result<Outcome, ApiError> {
    let request = Request {
        source: SYSTEM_SOURCE,
        id,
        command,
    };
    Ok(state.engine.run(request).await?.outcome)
}

/// The player's payment method named by a deposit or withdrawal
/// (`payment_method_id`): it must be the player's and active.
pub async fn usable_method(state: &AppState, player: PlayerId, text: &str) -> Result<(ExtId, MethodView), ApiError> {
    let id = wire::ext_id(text, "payment_method_id")?;
    let name = id.as_str().to_owned();
    let (found, _) = read(state, move |c| methods::method(c, player, &name)).await?;
    let found = found.ok_or_else(|| {
        ApiError::not_found(
            "unknown_payment_method",
            format!("player {} has no payment method {id}", player.0),
        )
    })?;
    if found.state != "active" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "payment_method_inactive",
            format!("payment method {id} is {}", found.state),
        ));
    }
    Ok((id, found))
}

/// Journals that `payment` uses the player's method `method`.
pub async fn record_method(
    state: &AppState,
    payment: &TxRef,
    method: &ExtId,
    currency: Currency,
) -> Result<(), ApiError> {
    let command = Command::Payments(engine::payments::Command::PaymentMethodUse {
        payment: payment.clone(),
        method: method.clone(),
    });
    match submit_system(state, derived_id("method", payment), command).await? {
        // Settled already (a provider that confirms at once): the record
        // of the method is lost, not the money.
        Outcome::Accepted | Outcome::Rejected(engine::Rejection::WrongPaymentState { .. }) => Ok(()),
        other => Err(edge::change::refusal(&other, currency)),
    }
}

/// A payment named in a path: `<source>:<id>`, the source and id of the
/// request that started it.
pub fn payment_path(text: &str) -> Result<TxRef, ApiError> {
    let refused = || {
        ApiError::bad_request(
            "invalid_request",
            "a payment is named <source>:<id> (the source and id of the request that started it)",
        )
    };
    let (source, id) = text.split_once(':').ok_or_else(refused)?;
    let source = source.parse::<u32>().map_err(|_| refused())?;
    Ok(TxRef {
        source: SourceId(source),
        id: wire::ext_id(id, "payment id")?,
    })
}

/// The ledger's name of a payment, as the provider carries it.
pub fn key_of(payment: &TxRef) -> PaymentKey {
    PaymentKey {
        source: payment.source.0,
        id: payment.id.as_str().to_owned(),
    }
}

/// The payment a provider names, if it is a valid ledger name.
pub fn tx_of(key: &PaymentKey) -> Option<TxRef> {
    Some(TxRef {
        source: SourceId(key.source),
        id: ExtId::new(&key.id).ok()?,
    })
}

/// A deposit or withdrawal as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct PaymentReply {
    /// `<source>:<id>`: how routes name it.
    pub payment: String,
    /// The id it was started under.
    pub id: String,
    /// deposit or withdrawal.
    pub kind: String,
    /// The player.
    pub player: u64,
    /// Currency code.
    pub currency: String,
    /// Decimal amount.
    pub amount: String,
    /// initiated, held (paid, refused by a gate at confirmation: for
    /// review), confirmed, failed, expired, charged_back (deposits);
    /// requested, approved, rejected, reversed, completed (withdrawals).
    pub state: String,
    /// The provider (manual: an operator's one-step deposit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The provider's reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// A withdrawal under four eyes: the operator source of its first
    /// approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_approval_by_source: Option<u32>,
    /// Taken back by chargebacks (decimal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charged_back: Option<String>,
    /// What chargebacks could not take from the player (decimal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shortfall: Option<String>,
    /// The player's payment method it named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method_id: Option<String>,
    /// Why a held deposit is held: the gate its confirmation failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_reason: Option<String>,
    /// Why a requested withdrawal cannot be approved now
    /// (`aml_case:<id>`: an AML case is open for the player).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold: Option<String>,
    /// When it started, ms since the epoch.
    pub created_ms: u64,
    /// When it last changed.
    pub updated_ms: u64,
}

/// The reply for a payment of the cashier view.
pub fn payment_reply(view: &PaymentView) -> PaymentReply {
    let currency = Currency::from_code(&view.currency);
    let decimal = |minor: i64| match currency {
        Some(currency) => wire::money(engine::Amount::from_minor(minor), currency),
        None => minor.to_string(),
    };
    PaymentReply {
        payment: format!("{}:{}", view.source.0, view.id),
        id: view.id.clone(),
        kind: view.kind.clone(),
        player: view.player.0,
        currency: view.currency.clone(),
        amount: decimal(view.amount_minor),
        state: view.state.clone(),
        provider: view.provider.clone(),
        reference: view.reference.clone(),
        first_approval_by_source: view.first_approval.as_ref().map(|(source, _)| source.0),
        charged_back: (view.charged_back_minor != 0).then(|| decimal(view.charged_back_minor)),
        shortfall: (view.shortfall_minor != 0).then(|| decimal(view.shortfall_minor)),
        payment_method_id: view.method.clone(),
        held_reason: view.held_reason.clone(),
        hold: None,
        created_ms: view.created_ms,
        updated_ms: view.updated_ms,
    }
}
