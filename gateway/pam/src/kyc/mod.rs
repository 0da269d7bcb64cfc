//! KYC: the adapter to an identity-verification provider, its sandbox, and
//! the operator routes and provider webhook that drive the ledger's KYC
//! commands.
//!
//! The provider sits behind [`KycProvider`]: start a verification (the
//! provider's applicant, and a link the player's front end opens), fetch a
//! verification's status, and verify and parse a webhook. The one
//! implementation, [`sumsub::SumsubClient`], speaks the HTTP protocol of
//! Sumsub's documented API (see `sumsub.rs` for the pages it follows); the
//! [`sandbox`] is a loopback server speaking the same protocol, which the
//! tests start and `croupier sandbox kyc` runs for local use.
//!
//! What must hold atomically lives in the ledger: a verdict applies only if
//! it is about the player's current check and newer (by the provider's
//! event time) than the last one applied, so duplicates and stale webhooks
//! change nothing. What the ledger cannot see stays here: document numbers
//! are hashed with the vault's blind-index key before any command carries
//! them, and the player's age is taken from the sealed profile's date of
//! birth before a verification is accepted.

pub mod routes;
pub mod sandbox;
pub mod sumsub;

use std::future::Future;
use std::pin::Pin;

use axum::http::HeaderMap;

/// A provider call in flight.
pub type ProviderFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// A verification started at the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Started {
    /// The provider's reference of the verification (applicant id).
    pub check: String,
    /// Where the player's front end sends the player to verify.
    pub url: String,
}

/// Where a verification stands at the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not decided yet (documents awaited or under review).
    Pending,
    /// Verified.
    Verified,
    /// Refused, with the provider's labels.
    Rejected {
        /// Why, in the provider's words (reject labels, comment).
        labels: Vec<String>,
    },
}

/// A provider webhook, authenticated and parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEvent {
    /// The verification it is about.
    pub check: String,
    /// The provider's event time, ms since the epoch: orders events.
    pub event_ms: u64,
    /// The provider's event type (`applicantReviewed`, `applicantPending` …).
    pub kind: String,
    /// The verdict it carries; `None` for events that decide nothing.
    pub verdict: Option<Verdict>,
}

/// Why a provider call failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider could not be reached or did not answer in time.
    #[error("the KYC provider is unreachable: {0}")]
    Unreachable(String),
    /// The provider refused the request.
    #[error("the KYC provider answered {status}: {body}")]
    Refused {
        /// Its HTTP status.
        status: u16,
        /// Its answer (an error description).
        body: String,
    },
    /// The provider's answer is not what its protocol says.
    #[error("the KYC provider's answer is malformed: {0}")]
    Malformed(String),
}

/// Why a webhook was refused (nothing it says is applied).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// No signature, or one that does not match the body.
    #[error("the webhook's signature is missing or wrong")]
    BadSignature,
    /// The body is not a webhook of the provider's protocol.
    #[error("the webhook is malformed: {0}")]
    Malformed(String),
    /// The event time is too far from now.
    #[error("the webhook's event time {event_ms} ms is outside the accepted window")]
    Stale {
        /// The event time it carried.
        event_ms: u64,
    },
}

/// An identity-verification provider.
pub trait KycProvider: Send + Sync {
    /// Starts a verification for the player known to the provider as
    /// `external_user_id` (made once; a second start reuses it). `now_ms`
    /// is the server's clock, which signs the request.
    fn start<'a>(&'a self, external_user_id: &'a str, now_ms: u64) -> ProviderFuture<'a, Started>;

    /// Where the verification `check` stands.
    fn status<'a>(&'a self, check: &'a str, now_ms: u64) -> ProviderFuture<'a, Verdict>;

    /// Authenticates and parses a webhook: its signature over the raw
    /// body, then its event time against `now_ms`.
    fn webhook(&self, headers: &HeaderMap, body: &[u8], now_ms: u64) -> Result<WebhookEvent, WebhookError>;
}
