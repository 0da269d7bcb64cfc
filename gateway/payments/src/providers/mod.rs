//! The payment-provider adapter interface: what the cashier asks of a
//! provider (start a deposit, send a payout, read where either stands,
//! cancel a deposit nobody finished) and how it reads the provider's
//! webhooks (verify, then parse into [`ProviderEvent`]s).
//!
//! Two implementations: [`stripe::StripeClient`] speaks the HTTP protocol
//! of Stripe's documented API (PaymentIntents, Payouts, events signed with
//! `Stripe-Signature`), [`nowpayments::NowPaymentsClient`] that of
//! NOWPayments' crypto API (payments, payouts, IPN callbacks signed with
//! `x-nowpayments-sig`). [`crate::sandbox`] and [`crate::sandbox_nowpayments`]
//! are loopback servers speaking the same subsets, which the tests start
//! and `croupier sandbox stripe|nowpayments` runs for local use.
//!
//! Every call that creates something carries an idempotency key derived
//! from the ledger's own id of the payment, so a call repeated after a
//! timeout, a 5xx or a restart finds the object the first call made
//! instead of making a second one: this is what makes a payout happen
//! once.

pub mod nowpayments;
pub mod stripe;

use std::future::Future;
use std::pin::Pin;

use axum::http::HeaderMap;

/// A provider call in flight.
pub type ProviderFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// The ledger's name of a payment, carried to the provider (as metadata)
/// and back (in its objects and webhooks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentKey {
    /// The source of the request that started the payment.
    pub source: u32,
    /// That request's id.
    pub id: String,
}

impl PaymentKey {
    /// The idempotency key of the provider call that creates this
    /// payment's object (`kind`: `deposit` or `payout`): the same on every
    /// attempt, across restarts.
    pub fn idempotency_key(&self, kind: &str) -> String {
        format!("croupier-{kind}-{}-{}", self.source, self.id)
    }
}

/// A deposit to start at the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DepositStart {
    /// The ledger's payment.
    pub key: PaymentKey,
    /// Amount, minor units of `currency` (positive).
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// A payment method the front end tokenized at the provider
    /// (`pm_…`): with it the deposit is confirmed at once and may answer
    /// with a redirect; without it the front end confirms with the client
    /// secret.
    pub payment_method: Option<String>,
    /// Where the provider sends the player back after a redirect.
    pub return_url: Option<String>,
}

/// A deposit started at the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DepositStarted {
    /// The provider's reference (`pi_…`).
    pub reference: String,
    /// The provider's status word (`requires_action`, `succeeded` …).
    pub status: String,
    /// What the front end confirms the payment with (Stripe.js).
    pub client_secret: Option<String>,
    /// Where to send the player, if the provider asks for a redirect.
    pub redirect_url: Option<String>,
    /// Where the player sends the coins (crypto providers).
    pub pay_address: Option<String>,
}

/// A payout to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayoutStart {
    /// The ledger's withdrawal.
    pub key: PaymentKey,
    /// Amount, minor units (positive).
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Where the money goes, for a provider that pays out to an address
    /// (NOWPayments); `None` for one that pays the account on file
    /// (Stripe).
    pub destination: Option<String>,
}

/// Where a deposit or payout stands at the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// Not final yet.
    Pending,
    /// The money moved (deposit received, payout paid).
    Succeeded,
    /// It failed or was canceled: no money moved.
    Failed,
}

/// A provider object as a status read returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderPayment {
    /// The provider's reference.
    pub reference: String,
    /// Where it stands.
    pub settlement: Settlement,
    /// The ledger's payment it belongs to (from its metadata), if any.
    pub key: Option<PaymentKey>,
}

/// What a verified webhook says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderEvent {
    /// A deposit settled (received or failed/canceled).
    Deposit {
        /// The provider's reference.
        reference: String,
        /// The ledger's deposit, from the object's metadata.
        key: Option<PaymentKey>,
        /// Succeeded or failed.
        settlement: Settlement,
    },
    /// A deposit was disputed: the provider takes `amount_minor` back.
    Dispute {
        /// The provider's dispute id.
        dispute: String,
        /// The disputed payment's reference.
        reference: String,
        /// Amount taken back, minor units.
        amount_minor: i64,
    },
    /// A payout settled (paid or failed).
    Payout {
        /// The provider's reference.
        reference: String,
        /// The ledger's withdrawal, from the object's metadata.
        key: Option<PaymentKey>,
        /// Succeeded or failed.
        settlement: Settlement,
    },
    /// The provider gave a deposit's money back to the payer (NOWPayments
    /// `refunded`): before the deposit was confirmed it fails; after, the
    /// whole deposit is taken back like a chargeback.
    Refund {
        /// The provider's reference.
        reference: String,
        /// The ledger's deposit, from the object's metadata.
        key: Option<PaymentKey>,
    },
    /// An event the cashier does not act on.
    Other,
}

/// A verified webhook: its event id (unique per event, the same on every
/// redelivery) and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    /// The provider's event id (`evt_…`).
    pub event_id: String,
    /// The provider's event type.
    pub kind: String,
    /// What it means to the cashier.
    pub event: ProviderEvent,
}

/// Why a provider call failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No answer in time, or no connection: the call may have happened;
    /// retry with the same idempotency key.
    #[error("the payment provider is unreachable: {0}")]
    Unreachable(String),
    /// The provider failed (5xx): retry with the same idempotency key.
    #[error("the payment provider failed ({status}): {body}")]
    Unavailable {
        /// Its HTTP status.
        status: u16,
        /// Its answer.
        body: String,
    },
    /// The provider refused the request (4xx): retrying will not help.
    #[error("the payment provider refused the request ({status}): {message}")]
    Refused {
        /// Its HTTP status.
        status: u16,
        /// Its error message.
        message: String,
    },
    /// The answer is not what the protocol says.
    #[error("the payment provider's answer is malformed: {0}")]
    Malformed(String),
}

impl ProviderError {
    /// Whether the same call may succeed later (timeouts and 5xx).
    pub fn is_transient(&self) -> bool {
        matches!(self, ProviderError::Unreachable(_) | ProviderError::Unavailable { .. })
    }
}

/// Sends a provider request and reads its answer the way both protocols
/// do: no answer is [`ProviderError::Unreachable`], a 5xx
/// [`ProviderError::Unavailable`], a 4xx [`ProviderError::Refused`] with
/// the message `message_of` finds in the provider's error body (else the
/// body's start), anything else the JSON object `T`.
pub(crate) async fn exchange<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
    message_of: impl Fn(&[u8]) -> Option<String>,
) -> Result<T, ProviderError> {
    let unreachable = |e: reqwest::Error| ProviderError::Unreachable(e.to_string());
    let reply = request.send().await.map_err(unreachable)?;
    let status = reply.status().as_u16();
    let bytes = reply.bytes().await.map_err(unreachable)?;
    let start = || String::from_utf8_lossy(&bytes).chars().take(200).collect::<String>();
    if status >= 500 {
        return Err(ProviderError::Unavailable { status, body: start() });
    }
    if status >= 400 {
        let message = message_of(&bytes).unwrap_or_else(start);
        return Err(ProviderError::Refused { status, message });
    }
    serde_json::from_slice(&bytes).map_err(|e| ProviderError::Malformed(e.to_string()))
}

/// Why a webhook was refused (nothing it says is applied).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// No signature, or none that matches the body.
    #[error("the webhook's signature is missing or wrong")]
    BadSignature,
    /// The signed time is outside the tolerance window.
    #[error("the webhook's signed time {signed_s} s is outside the tolerance window")]
    Stale {
        /// The time it was signed at, seconds since the epoch.
        signed_s: u64,
    },
    /// The body is not an event of the provider's protocol.
    #[error("the webhook is malformed: {0}")]
    Malformed(String),
}

/// A payment provider.
pub trait PaymentProvider: Send + Sync {
    /// Its name, as the ledger records it (`stripe`).
    fn name(&self) -> &'static str;

    /// What kind of provider it is, for operators: `card` (a card
    /// acquirer) or `crypto`.
    fn kind(&self) -> &'static str;

    /// The base URL of its API, as configured.
    fn api_url(&self) -> &str;

    /// Starts a deposit (idempotent on the payment's key).
    fn start_deposit<'a>(&'a self, deposit: &'a DepositStart) -> ProviderFuture<'a, DepositStarted>;

    /// Where the deposit `reference` stands.
    fn deposit_status<'a>(&'a self, reference: &'a str) -> ProviderFuture<'a, ProviderPayment>;

    /// Cancels a deposit nobody finished; answers where it stands after
    /// (a deposit that succeeded meanwhile cannot be canceled).
    fn cancel_deposit<'a>(&'a self, reference: &'a str) -> ProviderFuture<'a, ProviderPayment>;

    /// Sends a payout (idempotent on the withdrawal's key).
    fn payout<'a>(&'a self, payout: &'a PayoutStart) -> ProviderFuture<'a, ProviderPayment>;

    /// Where the payout `reference` stands.
    fn payout_status<'a>(&'a self, reference: &'a str) -> ProviderFuture<'a, ProviderPayment>;

    /// Whether a payout needs [`PayoutStart::destination`] (an address),
    /// which the ledger does not hold yet: such a provider is not chosen
    /// to pay a withdrawal back (closed loop) until it does.
    fn payout_needs_destination(&self) -> bool {
        false
    }

    /// Whether a deposit that `webhook` reports failed may still be paid
    /// by another attempt, so the cashier must cancel it at the provider
    /// before failing it (Stripe: a declined PaymentIntent stays open).
    fn failure_needs_cancel(&self, webhook: &Webhook) -> bool {
        let _ = webhook;
        false
    }

    /// Authenticates and parses a webhook: its signature over the raw
    /// body, the signed time against `now_ms`, then the event.
    fn webhook(&self, headers: &HeaderMap, body: &[u8], now_ms: u64) -> Result<Webhook, WebhookError>;
}
