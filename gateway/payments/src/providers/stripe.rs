//! The payment-provider adapter over Stripe's HTTP API, and the pieces of
//! that protocol the sandbox shares (webhook signatures, the JSON shapes,
//! status words).
//!
//! It follows Stripe's public API reference:
//! - requests (<https://docs.stripe.com/api/authentication>,
//!   <https://docs.stripe.com/api/idempotent_requests>): form-encoded
//!   bodies (`metadata[key]=value`), `Authorization: Bearer sk_…`, and an
//!   `Idempotency-Key` on every create, so a retry answers the object the
//!   first attempt made (Stripe keeps keys at least 24 hours); errors are
//!   `{"error": {"type", "code", "message"}}` with a 4xx (the request is
//!   wrong: retrying will not help) or a 5xx (retry);
//! - PaymentIntents (<https://docs.stripe.com/api/payment_intents>):
//!   `POST /v1/payment_intents` with `amount`, `currency` (lower case),
//!   `metadata`, and optionally `payment_method` + `confirm=true` +
//!   `return_url`; the object has `id` (`pi_…`), `client_secret`,
//!   `status` (`requires_payment_method`, `requires_confirmation`,
//!   `requires_action`, `processing`, `requires_capture`, `canceled`,
//!   `succeeded`) and `next_action.redirect_to_url.url` when the player
//!   must be redirected; `GET /v1/payment_intents/{id}` reads it and
//!   `POST /v1/payment_intents/{id}/cancel` cancels it (refused once it
//!   succeeded);
//! - Payouts (<https://docs.stripe.com/api/payouts>): `POST /v1/payouts`
//!   with `amount`, `currency`, `metadata`; `status` `pending`,
//!   `in_transit`, `paid`, `failed` or `canceled`;
//! - events (<https://docs.stripe.com/api/events>) `{"id": "evt_…",
//!   "object": "event", "type", "created", "data": {"object": …}}`, of
//!   types `payment_intent.succeeded`, `payment_intent.payment_failed`,
//!   `payment_intent.canceled`, `charge.dispute.created` (a dispute with
//!   `amount` and `payment_intent`), `payout.paid`, `payout.failed`;
//! - webhook signatures (<https://docs.stripe.com/webhooks#verify-manually>):
//!   `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, each `v1`
//!   the HMAC-SHA256 under the endpoint secret of `<t>.<raw body>`; any
//!   `v1` may match (secrets roll), other schemes are ignored, and `t` must
//!   be within a tolerance of now (Stripe's libraries default to 300 s),
//!   which bounds replays of a captured delivery.
//!
//! A failed payment attempt (`payment_intent.payment_failed`) leaves a
//! Stripe PaymentIntent open for another attempt; the cashier cancels it
//! before failing the deposit, so a later success cannot bring money the
//! ledger has already refused.

use std::time::Duration;

use axum::http::HeaderMap;
use ring::hmac;
use serde::{Deserialize, Serialize};

use super::{
    DepositStart, DepositStarted, PaymentKey, PaymentProvider, PayoutStart, ProviderError, ProviderEvent,
    ProviderFuture, ProviderPayment, Settlement, Webhook, WebhookError,
};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "stripe-signature";
/// The idempotency header.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// How far the signed time may be from now (Stripe's libraries' default).
pub const TOLERANCE_S: u64 = 300;
/// The metadata key holding the ledger's source of a payment.
pub const METADATA_SOURCE: &str = "croupier_source";
/// The metadata key holding the ledger's id of a payment.
pub const METADATA_PAYMENT: &str = "croupier_payment";

/// How to reach Stripe (or the sandbox).
#[derive(Clone, Debug)]
pub struct StripeConfig {
    /// Base URL, without a trailing slash (`https://api.stripe.com`).
    pub base_url: String,
    /// The secret API key (`sk_…`).
    pub secret_key: String,
    /// The webhook endpoint's signing secret (`whsec_…`).
    pub webhook_secret: String,
    /// Longest a call may take before it counts as a timeout.
    pub timeout: Duration,
}

/// Stripe's error body.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// One error.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// `invalid_request_error`, `api_error`, `idempotency_error` …
    #[serde(rename = "type")]
    pub kind: String,
    /// A short code, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What went wrong.
    pub message: String,
}

/// Where a redirect goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectToUrl {
    /// The page the player opens.
    pub url: String,
    /// Where the player comes back.
    #[serde(default)]
    pub return_url: Option<String>,
}

/// What the player must do next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextAction {
    /// `redirect_to_url`, `use_stripe_sdk` …
    #[serde(rename = "type")]
    pub kind: String,
    /// For `redirect_to_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_to_url: Option<RedirectToUrl>,
}

/// The error of the last failed attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentError {
    /// `card_error` …
    #[serde(rename = "type")]
    pub kind: String,
    /// `card_declined` …
    #[serde(default)]
    pub code: Option<String>,
    /// What went wrong.
    #[serde(default)]
    pub message: Option<String>,
}

/// A PaymentIntent (the fields the cashier reads).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentIntent {
    /// `pi_…`.
    pub id: String,
    /// Always `payment_intent`.
    pub object: String,
    /// Minor units.
    pub amount: i64,
    /// Lower-case ISO code.
    pub currency: String,
    /// The status word.
    pub status: String,
    /// For the front end.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// What the player must do next.
    #[serde(default)]
    pub next_action: Option<NextAction>,
    /// The last failed attempt's error.
    #[serde(default)]
    pub last_payment_error: Option<PaymentError>,
    /// Our metadata.
    #[serde(default)]
    pub metadata: std::collections::BTreeMap<String, String>,
    /// Creation time, seconds.
    #[serde(default)]
    pub created: u64,
}

/// A Payout (the fields the cashier reads).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payout {
    /// `po_…`.
    pub id: String,
    /// Always `payout`.
    pub object: String,
    /// Minor units.
    pub amount: i64,
    /// Lower-case ISO code.
    pub currency: String,
    /// `pending`, `in_transit`, `paid`, `failed`, `canceled`.
    pub status: String,
    /// Why it failed.
    #[serde(default)]
    pub failure_code: Option<String>,
    /// Our metadata.
    #[serde(default)]
    pub metadata: std::collections::BTreeMap<String, String>,
    /// Creation time, seconds.
    #[serde(default)]
    pub created: u64,
}

/// A Dispute (the fields the cashier reads).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispute {
    /// `dp_…`.
    pub id: String,
    /// Always `dispute`.
    pub object: String,
    /// Disputed amount, minor units.
    pub amount: i64,
    /// Lower-case ISO code.
    pub currency: String,
    /// The charge disputed.
    #[serde(default)]
    pub charge: Option<String>,
    /// The PaymentIntent disputed.
    #[serde(default)]
    pub payment_intent: Option<String>,
    /// `fraudulent`, `product_not_received` …
    #[serde(default)]
    pub reason: Option<String>,
    /// `needs_response` …
    #[serde(default)]
    pub status: Option<String>,
}

/// An event's payload.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EventData {
    /// The object the event is about.
    pub object: serde_json::Value,
}

/// An event.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Event {
    /// `evt_…`.
    pub id: String,
    /// Always `event`.
    pub object: String,
    /// `payment_intent.succeeded` …
    #[serde(rename = "type")]
    pub kind: String,
    /// Creation time, seconds.
    pub created: u64,
    /// The object.
    pub data: EventData,
    /// Test or live.
    #[serde(default)]
    pub livemode: bool,
}

/// The lower-case hex HMAC-SHA256 of `<t>.<body>` under `secret`: one `v1`.
pub fn signature(secret: &str, signed_s: u64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let message = [signed_s.to_string().as_bytes(), b".", body].concat();
    hex::encode(hmac::sign(&key, &message).as_ref())
}

/// The `Stripe-Signature` header value for `body` signed at `signed_s`.
pub fn signature_header(secret: &str, signed_s: u64, body: &[u8]) -> String {
    format!("t={signed_s},v1={}", signature(secret, signed_s, body))
}

/// Checks a `Stripe-Signature` header against the raw body: one `v1`
/// must match (in constant time), and `t` must be within `tolerance_s` of
/// `now_s`.
pub fn verify(secret: &str, header: &str, body: &[u8], now_s: u64, tolerance_s: u64) -> Result<(), WebhookError> {
    let mut signed_s = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => signed_s = value.parse::<u64>().ok(),
            Some(("v1", value)) => candidates.push(value),
            _ => {}
        }
    }
    let Some(signed_s) = signed_s else {
        return Err(WebhookError::BadSignature);
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let message = [signed_s.to_string().as_bytes(), b".", body].concat();
    let matches = candidates
        .iter()
        .any(|candidate| hex::decode(candidate).is_ok_and(|tag| hmac::verify(&key, &message, &tag).is_ok()));
    if !matches {
        return Err(WebhookError::BadSignature);
    }
    if signed_s.abs_diff(now_s) > tolerance_s {
        return Err(WebhookError::Stale { signed_s });
    }
    Ok(())
}

/// Where a PaymentIntent's status word leaves a deposit. A failed attempt
/// (`requires_payment_method` again) is not final: another may follow.
pub fn intent_settlement(status: &str) -> Settlement {
    match status {
        "succeeded" => Settlement::Succeeded,
        "canceled" => Settlement::Failed,
        _ => Settlement::Pending,
    }
}

/// Where a Payout's status word leaves a withdrawal.
pub fn payout_settlement(status: &str) -> Settlement {
    match status {
        "paid" => Settlement::Succeeded,
        "failed" | "canceled" => Settlement::Failed,
        _ => Settlement::Pending,
    }
}

/// The ledger's payment named by an object's metadata.
pub fn key_of(metadata: &std::collections::BTreeMap<String, String>) -> Option<PaymentKey> {
    let source = metadata.get(METADATA_SOURCE)?.parse().ok()?;
    let id = metadata.get(METADATA_PAYMENT)?.clone();
    Some(PaymentKey { source, id })
}

/// Parses a verified event body.
pub fn parse_event(body: &[u8]) -> Result<Webhook, WebhookError> {
    let malformed = |e: serde_json::Error| WebhookError::Malformed(e.to_string());
    let event: Event = serde_json::from_slice(body).map_err(malformed)?;
    if event.object != "event" || event.id.is_empty() {
        return Err(WebhookError::Malformed("not an event".into()));
    }
    let object = event.data.object.clone();
    let parsed = match event.kind.as_str() {
        "payment_intent.succeeded" | "payment_intent.payment_failed" | "payment_intent.canceled" => {
            let intent: PaymentIntent = serde_json::from_value(object).map_err(malformed)?;
            let settlement = match event.kind.as_str() {
                "payment_intent.succeeded" => Settlement::Succeeded,
                _ => Settlement::Failed,
            };
            ProviderEvent::Deposit {
                key: key_of(&intent.metadata),
                reference: intent.id,
                settlement,
            }
        }
        "charge.dispute.created" => {
            let dispute: Dispute = serde_json::from_value(object).map_err(malformed)?;
            let reference = dispute
                .payment_intent
                .ok_or_else(|| WebhookError::Malformed("a dispute without its payment_intent".into()))?;
            ProviderEvent::Dispute {
                dispute: dispute.id,
                reference,
                amount_minor: dispute.amount,
            }
        }
        "payout.paid" | "payout.failed" => {
            let payout: Payout = serde_json::from_value(object).map_err(malformed)?;
            let settlement = match event.kind.as_str() {
                "payout.paid" => Settlement::Succeeded,
                _ => Settlement::Failed,
            };
            ProviderEvent::Payout {
                key: key_of(&payout.metadata),
                reference: payout.id,
                settlement,
            }
        }
        _ => ProviderEvent::Other,
    };
    Ok(Webhook {
        event_id: event.id,
        kind: event.kind,
        event: parsed,
    })
}

/// The Stripe client.
pub struct StripeClient {
    config: StripeConfig,
    http: reqwest::Client,
}

impl StripeClient {
    /// A client for `config`.
    pub fn new(config: StripeConfig) -> Result<StripeClient, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| ProviderError::Unreachable(e.to_string()))?;
        Ok(StripeClient { config, http })
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        form: Option<String>,
        idempotency_key: Option<&str>,
    ) -> Result<T, ProviderError> {
        let url = format!("{}{path}", self.config.base_url);
        let mut request = self.http.request(method, url).bearer_auth(&self.config.secret_key);
        if let Some(key) = idempotency_key {
            request = request.header(IDEMPOTENCY_HEADER, key);
        }
        if let Some(form) = form {
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form);
        }
        super::exchange(request, |bytes| {
            serde_json::from_slice::<ErrorBody>(bytes).ok().map(|e| e.error.message)
        })
        .await
    }
}

/// A form body: `pairs` encoded as `application/x-www-form-urlencoded`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

/// The fields every money-moving call starts with: the amount in minor
/// units, the lower-case currency, and our metadata naming the payment (so
/// a webhook or a status read finds the ledger's payment again).
fn money_fields(amount_minor: i64, currency: &str, key: &PaymentKey) -> Vec<(String, String)> {
    vec![
        ("amount".into(), amount_minor.to_string()),
        ("currency".into(), currency.to_ascii_lowercase()),
        (format!("metadata[{METADATA_SOURCE}]"), key.source.to_string()),
        (format!("metadata[{METADATA_PAYMENT}]"), key.id.clone()),
    ]
}

fn intent_payment(intent: PaymentIntent) -> ProviderPayment {
    ProviderPayment {
        settlement: intent_settlement(&intent.status),
        key: key_of(&intent.metadata),
        reference: intent.id,
    }
}

fn payout_payment(payout: Payout) -> ProviderPayment {
    ProviderPayment {
        settlement: payout_settlement(&payout.status),
        key: key_of(&payout.metadata),
        reference: payout.id,
    }
}

/// Refuses a reference that could leave its path segment.
fn checked_reference(reference: &str) -> Result<&str, ProviderError> {
    let fine = !reference.is_empty()
        && reference.len() <= 255
        && reference.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if fine {
        Ok(reference)
    } else {
        Err(ProviderError::Malformed(format!("{reference:?} is not a Stripe id")))
    }
}

impl PaymentProvider for StripeClient {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn kind(&self) -> &'static str {
        "card"
    }

    fn api_url(&self) -> &str {
        &self.config.base_url
    }

    fn start_deposit<'a>(&'a self, deposit: &'a DepositStart) -> ProviderFuture<'a, DepositStarted> {
        Box::pin(async move {
            let fields = money_fields(deposit.amount_minor, &deposit.currency, &deposit.key);
            let mut pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            pairs.push(("payment_method_types[]", "card"));
            if let Some(method) = &deposit.payment_method {
                pairs.extend([("payment_method", method.as_str()), ("confirm", "true")]);
                if let Some(url) = &deposit.return_url {
                    pairs.push(("return_url", url));
                }
            }
            let key = deposit.key.idempotency_key("deposit");
            let intent: PaymentIntent = self
                .call(
                    reqwest::Method::POST,
                    "/v1/payment_intents",
                    Some(form(&pairs)),
                    Some(&key),
                )
                .await?;
            let redirect_url = intent
                .next_action
                .as_ref()
                .and_then(|action| action.redirect_to_url.as_ref())
                .map(|redirect| redirect.url.clone());
            Ok(DepositStarted {
                reference: intent.id,
                status: intent.status,
                client_secret: intent.client_secret,
                redirect_url,
                pay_address: None,
            })
        })
    }

    fn deposit_status<'a>(&'a self, reference: &'a str) -> ProviderFuture<'a, ProviderPayment> {
        Box::pin(async move {
            let path = format!("/v1/payment_intents/{}", checked_reference(reference)?);
            let intent: PaymentIntent = self.call(reqwest::Method::GET, &path, None, None).await?;
            Ok(intent_payment(intent))
        })
    }

    fn cancel_deposit<'a>(&'a self, reference: &'a str) -> ProviderFuture<'a, ProviderPayment> {
        Box::pin(async move {
            let path = format!("/v1/payment_intents/{}/cancel", checked_reference(reference)?);
            let body = form(&[("cancellation_reason", "abandoned")]);
            match self
                .call::<PaymentIntent>(reqwest::Method::POST, &path, Some(body), None)
                .await
            {
                Ok(intent) => Ok(intent_payment(intent)),
                // Refused because it is final already (succeeded or
                // canceled): say where it stands.
                Err(ProviderError::Refused { .. }) => self.deposit_status(reference).await,
                Err(other) => Err(other),
            }
        })
    }

    fn payout<'a>(&'a self, payout: &'a PayoutStart) -> ProviderFuture<'a, ProviderPayment> {
        Box::pin(async move {
            let fields = money_fields(payout.amount_minor, &payout.currency, &payout.key);
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let key = payout.key.idempotency_key("payout");
            let created: Payout = self
                .call(reqwest::Method::POST, "/v1/payouts", Some(form(&pairs)), Some(&key))
                .await?;
            Ok(payout_payment(created))
        })
    }

    fn payout_status<'a>(&'a self, reference: &'a str) -> ProviderFuture<'a, ProviderPayment> {
        Box::pin(async move {
            let path = format!("/v1/payouts/{}", checked_reference(reference)?);
            let payout: Payout = self.call(reqwest::Method::GET, &path, None, None).await?;
            Ok(payout_payment(payout))
        })
    }

    fn failure_needs_cancel(&self, webhook: &Webhook) -> bool {
        // A declined attempt leaves the PaymentIntent open; a cancellation
        // is final already.
        webhook.kind != "payment_intent.canceled"
    }

    fn webhook(&self, headers: &HeaderMap, body: &[u8], now_ms: u64) -> Result<Webhook, WebhookError> {
        let header = headers
            .get(SIGNATURE_HEADER)
            .and_then(|value| value.to_str().ok())
            .ok_or(WebhookError::BadSignature)?;
        verify(&self.config.webhook_secret, header, body, now_ms / 1_000, TOLERANCE_S)?;
        parse_event(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";

    #[test]
    fn the_signature_is_the_hmac_of_the_time_a_dot_and_the_body() {
        // Stripe signs exactly "<t>.<body>": the tag is the HMAC of that
        // text, whatever the body holds.
        let body = br#"{"id":"evt_1","object":"event"}"#;
        let expected = {
            let key = hmac::Key::new(hmac::HMAC_SHA256, SECRET.as_bytes());
            hex::encode(hmac::sign(&key, b"1700000000.{\"id\":\"evt_1\",\"object\":\"event\"}").as_ref())
        };
        assert_eq!(signature(SECRET, 1_700_000_000, body), expected);
        assert_eq!(
            signature_header(SECRET, 1_700_000_000, body),
            format!("t=1700000000,v1={expected}")
        );
    }

    #[test]
    fn the_hmac_is_rfc_4231s() {
        // RFC 4231 test case 2 (key "Jefe"): the primitive the scheme
        // rests on is HMAC-SHA256 itself, not a look-alike.
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"Jefe");
        let tag = hmac::sign(&key, b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(tag.as_ref()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn verification_accepts_any_v1_inside_the_tolerance_and_nothing_else() {
        let body = br#"{"id":"evt_2"}"#;
        let t = 1_700_000_000;
        let good = signature(SECRET, t, body);
        let other = signature("whsec_other", t, body);
        let check = |header: &str, now: u64| verify(SECRET, header, body, now, TOLERANCE_S);
        assert_eq!(check(&format!("t={t},v1={good}"), t), Ok(()));
        // A rolled secret: the old and the new signature both sent.
        assert_eq!(check(&format!("t={t},v1={other},v1={good}"), t + 300), Ok(()));
        // The v0 scheme and unknown parts are ignored.
        assert_eq!(check(&format!("t={t},v0={good},v1={good},x=y"), t - 300), Ok(()));
        let bad = Err(WebhookError::BadSignature);
        assert_eq!(check(&format!("t={t},v1={other}"), t), bad);
        assert_eq!(check(&format!("t={t},v0={good}"), t), bad);
        assert_eq!(check(&format!("v1={good}"), t), bad);
        assert_eq!(check(&format!("t={},v1={good}", t + 1), t), bad);
        assert_eq!(check("garbage", t), bad);
        assert_eq!(check(&format!("t={t},v1=zz"), t), bad);
        let stale = Err(WebhookError::Stale { signed_s: t });
        assert_eq!(check(&format!("t={t},v1={good}"), t + 301), stale);
        assert_eq!(check(&format!("t={t},v1={good}"), t - 301), stale);
        // The body is covered byte for byte.
        assert_eq!(
            verify(SECRET, &format!("t={t},v1={good}"), b"{\"id\":\"evt_3\"}", t, 300),
            bad
        );
    }

    fn event(kind: &str, object: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
            "object": "event",
            "api_version": "2024-06-20",
            "created": 1_700_000_000,
            "livemode": false,
            "pending_webhooks": 1,
            "type": kind,
            "data": {"object": object},
        }))
        .unwrap()
    }

    fn intent(status: &str) -> serde_json::Value {
        serde_json::json!({
            "id": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
            "object": "payment_intent",
            "amount": 2000,
            "currency": "eur",
            "status": status,
            "client_secret": "pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_YrKJUKribcBjcG8HVhfZluoGH",
            "next_action": null,
            "last_payment_error": null,
            "metadata": {"croupier_source": "7", "croupier_payment": "dep-1"},
            "created": 1_700_000_000,
        })
    }

    #[test]
    fn payment_intent_events_name_their_deposit_by_metadata() {
        let key = Some(PaymentKey {
            source: 7,
            id: "dep-1".into(),
        });
        let cases = [
            ("payment_intent.succeeded", "succeeded", Settlement::Succeeded),
            (
                "payment_intent.payment_failed",
                "requires_payment_method",
                Settlement::Failed,
            ),
            ("payment_intent.canceled", "canceled", Settlement::Failed),
        ];
        for (kind, status, settlement) in cases {
            let webhook = parse_event(&event(kind, intent(status))).unwrap();
            assert_eq!(webhook.event_id, "evt_1NG8Du2eZvKYlo2CUI79vXWy");
            assert_eq!(webhook.kind, kind);
            let expected = ProviderEvent::Deposit {
                reference: "pi_3MtwBwLkdIwHu7ix28a3tqPa".into(),
                key: key.clone(),
                settlement,
            };
            assert_eq!(webhook.event, expected, "{kind}");
        }
    }

    #[test]
    fn disputes_payouts_and_other_events_parse_and_malformed_ones_do_not() {
        let dispute = serde_json::json!({
            "id": "dp_1MtJUT2eZvKYlo2CNaw2HvEv",
            "object": "dispute",
            "amount": 1000,
            "currency": "eur",
            "charge": "ch_1AZtxr2eZvKYlo2CJDX8whov",
            "payment_intent": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
            "reason": "fraudulent",
            "status": "needs_response",
        });
        let parsed = parse_event(&event("charge.dispute.created", dispute)).unwrap();
        let expected = ProviderEvent::Dispute {
            dispute: "dp_1MtJUT2eZvKYlo2CNaw2HvEv".into(),
            reference: "pi_3MtwBwLkdIwHu7ix28a3tqPa".into(),
            amount_minor: 1000,
        };
        assert_eq!(parsed.event, expected);
        let payout = serde_json::json!({
            "id": "po_1OaFDbEcg9tTZuTgNYmX0PKB",
            "object": "payout",
            "amount": 1100,
            "currency": "eur",
            "status": "failed",
            "failure_code": "account_closed",
            "metadata": {"croupier_source": "3", "croupier_payment": "w-1"},
        });
        let parsed = parse_event(&event("payout.failed", payout)).unwrap();
        let expected = ProviderEvent::Payout {
            reference: "po_1OaFDbEcg9tTZuTgNYmX0PKB".into(),
            key: Some(PaymentKey {
                source: 3,
                id: "w-1".into(),
            }),
            settlement: Settlement::Failed,
        };
        assert_eq!(parsed.event, expected);
        let other = parse_event(&event("customer.created", serde_json::json!({"id": "cus_1"}))).unwrap();
        assert_eq!(other.event, ProviderEvent::Other);
        for bad in [
            b"not json".to_vec(),
            event("payment_intent.succeeded", serde_json::json!({"id": "pi_1"})),
            event(
                "charge.dispute.created",
                serde_json::json!({"id": "dp_1", "object": "dispute", "amount": 1, "currency": "eur"}),
            ),
            br#"{"id":"evt_1","object":"charge","type":"x","created":1,"data":{"object":{}}}"#.to_vec(),
        ] {
            assert!(matches!(parse_event(&bad), Err(WebhookError::Malformed(_))));
        }
    }

    #[test]
    fn status_words_map_to_settlements_and_a_failed_attempt_is_not_final() {
        let intents = [
            ("requires_payment_method", Settlement::Pending),
            ("requires_action", Settlement::Pending),
            ("processing", Settlement::Pending),
            ("succeeded", Settlement::Succeeded),
            ("canceled", Settlement::Failed),
        ];
        for (status, settlement) in intents {
            assert_eq!(intent_settlement(status), settlement, "{status}");
        }
        let payouts = [
            ("pending", Settlement::Pending),
            ("in_transit", Settlement::Pending),
            ("paid", Settlement::Succeeded),
            ("failed", Settlement::Failed),
            ("canceled", Settlement::Failed),
        ];
        for (status, settlement) in payouts {
            assert_eq!(payout_settlement(status), settlement, "{status}");
        }
    }

    #[test]
    fn forms_are_url_encoded_with_bracketed_metadata_keys() {
        let key = PaymentKey {
            source: 12,
            id: "a b&c".into(),
        };
        let pairs = money_fields(1050, "EUR", &key);
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            form(&refs),
            "amount=1050&currency=eur&metadata%5Bcroupier_source%5D=12&metadata%5Bcroupier_payment%5D=a+b%26c"
        );
        assert_eq!(key.idempotency_key("payout"), "croupier-payout-12-a b&c");
        assert!(checked_reference("pi_3MtwBwLkdIwHu7ix28a3tqPa").is_ok());
        assert!(checked_reference("../v1/payouts").is_err());
        assert!(checked_reference("").is_err());
    }
}
