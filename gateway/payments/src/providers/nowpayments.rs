//! The payment-provider adapter over NOWPayments' HTTP API (crypto
//! payments), and the pieces of that protocol its sandbox shares (IPN
//! signatures, the JSON shapes, status words).
//!
//! It follows NOWPayments' public API documentation
//! (<https://documenter.getpostman.com/view/7907941/S1a32n38>, the mass
//! payouts collection, and the IPN guide):
//! - every request carries the API key in `x-api-key`; bodies are JSON;
//!   errors are a 4xx (the request is wrong) or a 5xx (retry);
//! - create payment: `POST /v1/payment` with `price_amount` (a JSON
//!   number: the adapter writes the exact decimal text of the minor units,
//!   never a float), `price_currency`, `pay_currency` (lower case),
//!   `ipn_callback_url`, `order_id` (ours: `<source>:<id>` of the deposit)
//!   and `order_description`; the answer has `payment_id`,
//!   `payment_status`, `pay_address` (where the player sends the coins)
//!   and `pay_amount`; `GET /v1/payment/{payment_id}` reads it;
//! - payouts: `POST /v1/auth` with the account's `email` and `password`
//!   answers a short-lived `token`; `POST /v1/payout` with `Authorization:
//!   Bearer <token>` and `{"withdrawals": [{"address", "currency",
//!   "amount", "ipn_callback_url", "unique_external_id"}]}` answers the
//!   batch (`id`) and its withdrawals with their `status`; `GET
//!   /v1/payout/{id}` reads it. NOWPayments has no idempotency header: the
//!   adapter names each withdrawal with `unique_external_id` (the
//!   ledger's key, the same on every attempt), and the sandbox answers a
//!   repeated `unique_external_id` with the batch it first made; check that
//!   behaviour against the live API before relying on it in production;
//! - IPN callbacks: a POST of the payment (or payout withdrawal) object as
//!   the status read shows it, with `x-nowpayments-sig` = the hex
//!   HMAC-SHA512, keyed by the IPN secret, of the body re-serialized with
//!   its keys sorted (recursively, as the documentation's `sortObject`
//!   helper and its PHP `tksort` do) and no whitespace. The adapter keeps
//!   every scalar's text as it came (the sender wrote it, so re-printing
//!   the numbers could only make them differ) and compares in constant
//!   time. An IPN carries no time and no event id: a replayed IPN says
//!   what the provider already said, and the ledger answers it as the
//!   retry it is (the request id is `<payment_id>:<status>`).
//!
//! Deposit statuses: `waiting` (no coins yet), `confirming` (seen on the
//! chain), `confirmed` (enough confirmations), `sending` (on the way to the
//! operator's wallet) are pending; `finished` confirms the deposit;
//! `failed` and `expired` fail it; `refunded` before the deposit was
//! confirmed fails it, after it takes the money back like a chargeback.
//! `partially_paid` (the player sent less than asked) is pending: the
//! ledger's deposit has one amount and is never credited with another
//! automatically; if the player sends the rest, `finished` follows;
//! otherwise the deposit expires and the coins received show up in
//! reconciliation as a difference for an operator to resolve.
//!
//! NOWPayments cannot cancel a payment: [`PaymentProvider::cancel_deposit`]
//! reads its status and abandons (reports failed) one where no coins were
//! seen (`waiting`, `expired`, `failed`); coins in flight keep it pending.
//!
//! Payouts go to an address: [`PayoutStart::destination`]. Payout
//! statuses `finished` is paid; `failed` and `rejected` failed; the
//! rest (`creating`, `waiting`, `processing`, `sending`) pending.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::HeaderMap;
use ring::hmac;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{
    DepositStart, DepositStarted, PaymentKey, PaymentProvider, PayoutStart, ProviderError, ProviderEvent,
    ProviderFuture, ProviderPayment, Settlement, Webhook, WebhookError,
};

/// The signature header of IPN callbacks.
pub const SIGNATURE_HEADER: &str = "x-nowpayments-sig";
/// The API key header.
pub const API_KEY_HEADER: &str = "x-api-key";
/// The provider's name, as the ledger records it.
pub const NAME: &str = "nowpayments";
/// Deepest nesting of an IPN body the canonical form follows.
const DEPTH_MAX: usize = 8;

/// How to reach NOWPayments (or its sandbox).
#[derive(Clone, Debug)]
pub struct NowPaymentsConfig {
    /// Base URL, without a trailing slash (`https://api.nowpayments.io`).
    pub base_url: String,
    /// The API key.
    pub api_key: String,
    /// The IPN secret callbacks are signed with.
    pub ipn_secret: String,
    /// The account's e-mail, for payouts (`POST /v1/auth`).
    pub email: String,
    /// The account's password, for payouts.
    pub password: String,
    /// Where NOWPayments sends IPN callbacks (this server's
    /// `/webhooks/v1/payments/nowpayments`), if set.
    pub ipn_callback_url: Option<String>,
    /// Longest a call may take before it counts as a timeout.
    pub timeout: Duration,
}

/// A payment id: NOWPayments writes it as a number or a string.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Id {
    /// As a number.
    Number(u64),
    /// As a string.
    Text(String),
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Id::Number(n) => write!(f, "{n}"),
            Id::Text(t) => f.write_str(t),
        }
    }
}

/// A payment (the fields the cashier reads; amounts kept as their text).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Payment {
    /// The provider's id.
    pub payment_id: Id,
    /// The status word.
    pub payment_status: String,
    /// Where the player sends the coins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_address: Option<String>,
    /// The price, as written.
    pub price_amount: Box<RawValue>,
    /// The price's currency, lower case.
    pub price_currency: String,
    /// What the player pays, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_amount: Option<Box<RawValue>>,
    /// What the player has paid so far, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actually_paid: Option<Box<RawValue>>,
    /// The coin paid with.
    pub pay_currency: String,
    /// Ours: `<source>:<id>` of the deposit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_description: Option<String>,
    /// When it was made (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When it last changed (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// One withdrawal of a payout batch (the fields the cashier reads).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Withdrawal {
    /// The withdrawal's id.
    pub id: Id,
    /// Where the coins go.
    pub address: String,
    /// The coin.
    pub currency: String,
    /// The amount, as written.
    pub amount: Box<RawValue>,
    /// The batch it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_withdrawal_id: Option<Id>,
    /// `creating`, `waiting`, `processing`, `sending`, `finished`,
    /// `failed`, `rejected` (any case).
    pub status: String,
    /// Ours: `<source>:<id>` of the withdrawal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_external_id: Option<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A payout batch.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PayoutBatch {
    /// The batch's id: the cashier's reference of the payout.
    pub id: Id,
    /// Its withdrawals (the cashier sends one per batch).
    pub withdrawals: Vec<Withdrawal>,
}

/// The answer of `POST /v1/auth`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuthReply {
    /// The bearer token for payouts.
    pub token: String,
}

/// NOWPayments' error body.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ErrorBody {
    /// `false`.
    #[serde(default)]
    pub status: bool,
    /// The HTTP status again.
    #[serde(default, rename = "statusCode")]
    pub status_code: u16,
    /// A short code (`INVALID_REQUEST_PARAMS` …).
    #[serde(default)]
    pub code: String,
    /// What went wrong.
    #[serde(default)]
    pub message: String,
}

/// The canonical form an IPN is signed over: the JSON `body` with every
/// object's keys sorted, no whitespace, each scalar's text as it came.
pub fn canonical(body: &[u8]) -> Result<String, WebhookError> {
    let raw: Box<RawValue> =
        serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(format!("not JSON: {e}")))?;
    let mut out = String::with_capacity(body.len());
    write_canonical(&raw, &mut out, 0)?;
    Ok(out)
}

fn write_canonical(raw: &RawValue, out: &mut String, depth: usize) -> Result<(), WebhookError> {
    if depth > DEPTH_MAX {
        return Err(WebhookError::Malformed("nested too deeply".into()));
    }
    let malformed = |e: serde_json::Error| WebhookError::Malformed(e.to_string());
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'{') => {
            let object: BTreeMap<String, Box<RawValue>> = serde_json::from_str(text).map_err(malformed)?;
            out.push('{');
            for (n, (key, value)) in object.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key).map_err(malformed)?);
                out.push(':');
                write_canonical(value, out, depth + 1)?;
            }
            out.push('}');
        }
        Some(b'[') => {
            let items: Vec<Box<RawValue>> = serde_json::from_str(text).map_err(malformed)?;
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                write_canonical(item, out, depth + 1)?;
            }
            out.push(']');
        }
        _ => out.push_str(text),
    }
    Ok(())
}

/// The `x-nowpayments-sig` of `body`: hex HMAC-SHA512 of its canonical
/// form under the IPN secret.
pub fn signature(secret: &str, body: &[u8]) -> Result<String, WebhookError> {
    let key = hmac::Key::new(hmac::HMAC_SHA512, secret.as_bytes());
    Ok(hex::encode(hmac::sign(&key, canonical(body)?.as_bytes()).as_ref()))
}

/// Checks `x-nowpayments-sig` against the body, in constant time.
pub fn verify(secret: &str, header: &str, body: &[u8]) -> Result<(), WebhookError> {
    let tag = hex::decode(header.trim().to_ascii_lowercase()).map_err(|_| WebhookError::BadSignature)?;
    let message = canonical(body).map_err(|_| WebhookError::BadSignature)?;
    let key = hmac::Key::new(hmac::HMAC_SHA512, secret.as_bytes());
    hmac::verify(&key, message.as_bytes(), &tag).map_err(|_| WebhookError::BadSignature)
}

/// Where a payment's status word leaves a deposit (`refunded` is decided
/// by the deposit's own state: see [`ProviderEvent::Refund`]).
pub fn payment_settlement(status: &str) -> Settlement {
    match status {
        "finished" => Settlement::Succeeded,
        "failed" | "expired" | "refunded" => Settlement::Failed,
        _ => Settlement::Pending,
    }
}

/// Where a payout withdrawal's status word leaves a withdrawal.
pub fn payout_settlement(status: &str) -> Settlement {
    match status.to_ascii_lowercase().as_str() {
        "finished" => Settlement::Succeeded,
        "failed" | "rejected" => Settlement::Failed,
        _ => Settlement::Pending,
    }
}

/// Our order id of a payment: `<source>:<id>`.
pub fn order_id(key: &PaymentKey) -> String {
    format!("{}:{}", key.source, key.id)
}

/// The ledger's payment an order id names.
pub fn key_of(order_id: Option<&str>) -> Option<PaymentKey> {
    let (source, id) = order_id?.split_once(':')?;
    Some(PaymentKey {
        source: source.parse().ok()?,
        id: id.to_owned(),
    })
}

/// Parses a verified IPN body: a payment's (it has `payment_status`) or a
/// payout withdrawal's (it has `batch_withdrawal_id`).
pub fn parse_ipn(body: &[u8]) -> Result<Webhook, WebhookError> {
    let malformed = |e: serde_json::Error| WebhookError::Malformed(e.to_string());
    let fields: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(body).map_err(malformed)?;
    if fields.contains_key("payment_status") {
        let payment: Payment = serde_json::from_slice(body).map_err(malformed)?;
        let reference = payment.payment_id.to_string();
        let key = key_of(payment.order_id.as_deref());
        let status = payment.payment_status;
        let event = if status == "refunded" {
            ProviderEvent::Refund {
                reference: reference.clone(),
                key,
            }
        } else {
            ProviderEvent::Deposit {
                reference: reference.clone(),
                key,
                settlement: payment_settlement(&status),
            }
        };
        return Ok(Webhook {
            event_id: format!("{reference}:{status}"),
            kind: format!("payment.{status}"),
            event,
        });
    }
    if fields.contains_key("batch_withdrawal_id") {
        let withdrawal: Withdrawal = serde_json::from_slice(body).map_err(malformed)?;
        let reference = withdrawal
            .batch_withdrawal_id
            .as_ref()
            .map(Id::to_string)
            .ok_or_else(|| WebhookError::Malformed("a payout without its batch".into()))?;
        let status = withdrawal.status.to_ascii_lowercase();
        return Ok(Webhook {
            event_id: format!("payout-{}:{status}", withdrawal.id),
            kind: format!("payout.{status}"),
            event: ProviderEvent::Payout {
                reference,
                key: key_of(withdrawal.unique_external_id.as_deref()),
                settlement: payout_settlement(&status),
            },
        });
    }
    Err(WebhookError::Malformed("neither a payment nor a payout".into()))
}

/// The exact decimal text of `amount_minor` in `currency` (its exponent
/// from the ledger's currency table): a JSON number, never a float.
pub fn decimal_text(amount_minor: i64, currency: &str) -> Result<String, ProviderError> {
    let currency = engine::Currency::from_code(currency)
        .ok_or_else(|| ProviderError::Malformed(format!("{currency:?} is not a currency the ledger knows")))?;
    Ok(engine::Amount::from_minor(amount_minor)
        .to_decimal(currency)
        .to_string())
}

fn number(text: String) -> Result<Box<RawValue>, ProviderError> {
    RawValue::from_string(text).map_err(|e| ProviderError::Malformed(e.to_string()))
}

/// Refuses a reference that could leave its path segment.
fn checked_reference(reference: &str) -> Result<&str, ProviderError> {
    let fine = !reference.is_empty() && reference.len() <= 64 && reference.bytes().all(|b| b.is_ascii_alphanumeric());
    if fine {
        Ok(reference)
    } else {
        Err(ProviderError::Malformed(format!(
            "{reference:?} is not a NOWPayments id"
        )))
    }
}

/// The NOWPayments client.
pub struct NowPaymentsClient {
    config: NowPaymentsConfig,
    http: reqwest::Client,
}

#[derive(Serialize)]
struct CreatePayment<'a> {
    price_amount: Box<RawValue>,
    price_currency: String,
    pay_currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ipn_callback_url: Option<&'a str>,
    order_id: String,
    order_description: &'a str,
}

#[derive(Serialize)]
struct NewWithdrawal<'a> {
    address: &'a str,
    currency: String,
    amount: Box<RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ipn_callback_url: Option<&'a str>,
    unique_external_id: String,
}

#[derive(Serialize)]
struct CreatePayout<'a> {
    withdrawals: Vec<NewWithdrawal<'a>>,
}

impl NowPaymentsClient {
    /// A client for `config`.
    pub fn new(config: NowPaymentsConfig) -> Result<NowPaymentsClient, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| ProviderError::Unreachable(e.to_string()))?;
        Ok(NowPaymentsClient { config, http })
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
        bearer: Option<&str>,
    ) -> Result<T, ProviderError> {
        let url = format!("{}{path}", self.config.base_url);
        let mut request = self
            .http
            .request(method, url)
            .header(API_KEY_HEADER, &self.config.api_key);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body);
        }
        super::exchange(request, |bytes| {
            serde_json::from_slice::<ErrorBody>(bytes).ok().map(|e| e.message)
        })
        .await
    }

    async fn token(&self) -> Result<String, ProviderError> {
        let body = serde_json::json!({"email": self.config.email, "password": self.config.password});
        let reply: AuthReply = self
            .call(
                reqwest::Method::POST,
                "/v1/auth",
                Some(body.to_string().into_bytes()),
                None,
            )
            .await?;
        Ok(reply.token)
    }

    async fn payment(&self, reference: &str) -> Result<ProviderPayment, ProviderError> {
        let path = format!("/v1/payment/{}", checked_reference(reference)?);
        let payment: Payment = self.call(reqwest::Method::GET, &path, None, None).await?;
        Ok(ProviderPayment {
            reference: payment.payment_id.to_string(),
            settlement: payment_settlement(&payment.payment_status),
            key: key_of(payment.order_id.as_deref()),
        })
    }
}

fn batch_payment(batch: PayoutBatch) -> Result<ProviderPayment, ProviderError> {
    let withdrawal = batch
        .withdrawals
        .first()
        .ok_or_else(|| ProviderError::Malformed("a payout batch without withdrawals".into()))?;
    Ok(ProviderPayment {
        reference: batch.id.to_string(),
        settlement: payout_settlement(&withdrawal.status),
        key: key_of(withdrawal.unique_external_id.as_deref()),
    })
}

impl PaymentProvider for NowPaymentsClient {
    fn name(&self) -> &'static str {
        NAME
    }

    fn kind(&self) -> &'static str {
        "crypto"
    }

    fn api_url(&self) -> &str {
        &self.config.base_url
    }

    fn start_deposit<'a>(&'a self, deposit: &'a DepositStart) -> ProviderFuture<'a, DepositStarted> {
        Box::pin(async move {
            let currency = deposit.currency.to_ascii_lowercase();
            // The coin the player pays with: the front end's choice, else
            // the deposit's own currency (a BTC deposit paid in BTC).
            let pay_currency = deposit
                .payment_method
                .as_deref()
                .map_or_else(|| currency.clone(), str::to_ascii_lowercase);
            let request = CreatePayment {
                price_amount: number(decimal_text(deposit.amount_minor, &deposit.currency)?)?,
                price_currency: currency,
                pay_currency,
                ipn_callback_url: self.config.ipn_callback_url.as_deref(),
                order_id: order_id(&deposit.key),
                order_description: "casino deposit",
            };
            let body = serde_json::to_vec(&request).map_err(|e| ProviderError::Malformed(e.to_string()))?;
            let payment: Payment = self
                .call(reqwest::Method::POST, "/v1/payment", Some(body), None)
                .await?;
            Ok(DepositStarted {
                reference: payment.payment_id.to_string(),
                status: payment.payment_status,
                client_secret: None,
                redirect_url: None,
                pay_address: payment.pay_address,
            })
        })
    }

    fn deposit_status<'a>(&'a self, reference: &'a str) -> ProviderFuture<'a, ProviderPayment> {
        Box::pin(self.payment(reference))
    }

    fn cancel_deposit<'a>(&'a self, reference: &'a str) -> ProviderFuture<'a, ProviderPayment> {
        Box::pin(async move {
            let path = format!("/v1/payment/{}", checked_reference(reference)?);
            let payment: Payment = self.call(reqwest::Method::GET, &path, None, None).await?;
            let settlement = match payment.payment_status.as_str() {
                // No coins seen: abandoned.
                "waiting" | "expired" | "failed" | "refunded" => Settlement::Failed,
                other => payment_settlement(other),
            };
            Ok(ProviderPayment {
                reference: payment.payment_id.to_string(),
                settlement,
                key: key_of(payment.order_id.as_deref()),
            })
        })
    }

    fn payout<'a>(&'a self, payout: &'a PayoutStart) -> ProviderFuture<'a, ProviderPayment> {
        Box::pin(async move {
            let address = payout.destination.as_deref().ok_or_else(|| ProviderError::Refused {
                status: 400,
                message: "a NOWPayments payout needs the player's address".into(),
            })?;
            let request = CreatePayout {
                withdrawals: vec![NewWithdrawal {
                    address,
                    currency: payout.currency.to_ascii_lowercase(),
                    amount: number(decimal_text(payout.amount_minor, &payout.currency)?)?,
                    ipn_callback_url: self.config.ipn_callback_url.as_deref(),
                    unique_external_id: order_id(&payout.key),
                }],
            };
            let body = serde_json::to_vec(&request).map_err(|e| ProviderError::Malformed(e.to_string()))?;
            let token = self.token().await?;
            let batch: PayoutBatch = self
                .call(reqwest::Method::POST, "/v1/payout", Some(body), Some(&token))
                .await?;
            batch_payment(batch)
        })
    }

    fn payout_status<'a>(&'a self, reference: &'a str) -> ProviderFuture<'a, ProviderPayment> {
        Box::pin(async move {
            let path = format!("/v1/payout/{}", checked_reference(reference)?);
            let batch: PayoutBatch = self.call(reqwest::Method::GET, &path, None, None).await?;
            batch_payment(batch)
        })
    }

    fn payout_needs_destination(&self) -> bool {
        true
    }

    fn webhook(&self, headers: &HeaderMap, body: &[u8], _now_ms: u64) -> Result<Webhook, WebhookError> {
        let header = headers
            .get(SIGNATURE_HEADER)
            .and_then(|value| value.to_str().ok())
            .ok_or(WebhookError::BadSignature)?;
        verify(&self.config.ipn_secret, header, body)?;
        parse_ipn(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "ipn_test_secret";

    #[test]
    fn the_canonical_form_sorts_keys_recursively_and_keeps_scalars_as_written() {
        let body = br#"{ "payment_status": "finished", "payment_id": 5077125051,
            "fee": {"serviceFee": 0, "currency": "btc", "depositFee": 0.000001},
            "price_amount": 100.50, "list": [{"b": 1, "a": "x\u00e9"}] }"#;
        assert_eq!(
            canonical(body).unwrap(),
            r#"{"fee":{"currency":"btc","depositFee":0.000001,"serviceFee":0},"list":[{"a":"x\u00e9","b":1}],"payment_id":5077125051,"payment_status":"finished","price_amount":100.50}"#
        );
        assert!(canonical(b"not json").is_err());
    }

    #[test]
    fn the_hmac_is_rfc_4231s_sha512() {
        // RFC 4231 test case 2: the primitive is HMAC-SHA512 itself.
        let key = hmac::Key::new(hmac::HMAC_SHA512, b"Jefe");
        let tag = hmac::sign(&key, b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(tag.as_ref()),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
    }

    #[test]
    fn verification_takes_the_sorted_body_and_nothing_else() {
        let body = br#"{"payment_status":"finished","payment_id":1,"order_id":"7:d1"}"#;
        let sorted = br#"{"order_id":"7:d1","payment_id":1,"payment_status":"finished"}"#;
        let good = signature(SECRET, body).unwrap();
        let expected = {
            let key = hmac::Key::new(hmac::HMAC_SHA512, SECRET.as_bytes());
            hex::encode(hmac::sign(&key, sorted).as_ref())
        };
        assert_eq!(good, expected);
        assert_eq!(verify(SECRET, &good, body), Ok(()));
        // The key order of the body does not matter; upper-case hex is fine.
        assert_eq!(verify(SECRET, &good.to_ascii_uppercase(), sorted), Ok(()));
        let bad = Err(WebhookError::BadSignature);
        assert_eq!(verify("other", &good, body), bad);
        assert_eq!(
            verify(
                SECRET,
                &good,
                br#"{"payment_status":"finished","payment_id":2,"order_id":"7:d1"}"#
            ),
            bad
        );
        assert_eq!(verify(SECRET, "zz", body), bad);
        assert_eq!(verify(SECRET, "", body), bad);
    }

    fn payment(status: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "payment_id": 5077125051u64,
            "payment_status": status,
            "pay_address": "0xd1cDE08A07cD25adEbEd35c3867a59228C09B606",
            "price_amount": 170,
            "price_currency": "usd",
            "pay_amount": 155.38559757,
            "actually_paid": 0,
            "pay_currency": "mana",
            "order_id": "7:dep-1",
            "order_description": "casino deposit",
            "purchase_id": "6084744717",
            "created_at": "2021-04-12T14:22:54.942Z",
            "updated_at": "2021-04-12T14:23:06.244Z",
            "outcome_amount": 1131.7812095,
            "outcome_currency": "trx"
        }))
        .unwrap()
    }

    #[test]
    fn payment_statuses_map_to_the_deposit_life_cycle() {
        let key = Some(PaymentKey {
            source: 7,
            id: "dep-1".into(),
        });
        let cases = [
            ("waiting", Settlement::Pending),
            ("confirming", Settlement::Pending),
            ("confirmed", Settlement::Pending),
            ("sending", Settlement::Pending),
            ("partially_paid", Settlement::Pending),
            ("finished", Settlement::Succeeded),
            ("failed", Settlement::Failed),
            ("expired", Settlement::Failed),
        ];
        for (status, settlement) in cases {
            let webhook = parse_ipn(&payment(status)).unwrap();
            assert_eq!(webhook.event_id, format!("5077125051:{status}"));
            let expected = ProviderEvent::Deposit {
                reference: "5077125051".into(),
                key: key.clone(),
                settlement,
            };
            assert_eq!(webhook.event, expected, "{status}");
        }
        let refunded = parse_ipn(&payment("refunded")).unwrap();
        assert_eq!(
            refunded.event,
            ProviderEvent::Refund {
                reference: "5077125051".into(),
                key
            }
        );
    }

    #[test]
    fn payout_ipns_parse_and_malformed_ones_do_not() {
        let body = serde_json::to_vec(&serde_json::json!({
            "id": "5000000713",
            "batch_withdrawal_id": "5000000000",
            "address": "TEmGwPeRTPiLFLVfBxXkSP91yc5GMNQhfS",
            "currency": "trx",
            "amount": "12.50",
            "status": "FINISHED",
            "unique_external_id": "3:w-1",
            "error": null
        }))
        .unwrap();
        let webhook = parse_ipn(&body).unwrap();
        assert_eq!(webhook.event_id, "payout-5000000713:finished");
        assert_eq!(
            webhook.event,
            ProviderEvent::Payout {
                reference: "5000000000".into(),
                key: Some(PaymentKey {
                    source: 3,
                    id: "w-1".into()
                }),
                settlement: Settlement::Succeeded,
            }
        );
        for status in ["creating", "WAITING", "processing", "sending"] {
            assert_eq!(payout_settlement(status), Settlement::Pending, "{status}");
        }
        assert_eq!(payout_settlement("REJECTED"), Settlement::Failed);
        for bad in [
            b"[]".to_vec(),
            b"{}".to_vec(),
            br#"{"payment_status":"finished"}"#.to_vec(),
            br#"{"batch_withdrawal_id":"1","id":"2"}"#.to_vec(),
        ] {
            assert!(matches!(parse_ipn(&bad), Err(WebhookError::Malformed(_))), "{bad:?}");
        }
    }

    #[test]
    fn amounts_are_written_as_exact_decimals_and_references_are_checked() {
        assert_eq!(decimal_text(1050, "EUR").unwrap(), "10.50");
        assert_eq!(decimal_text(1, "BTC").unwrap(), "0.00000001");
        assert_eq!(decimal_text(1_000_001, "USDT").unwrap(), "1.000001");
        assert!(decimal_text(1, "XXX").is_err());
        assert_eq!(
            order_id(&PaymentKey {
                source: 4,
                id: "a:b".into()
            }),
            "4:a:b"
        );
        assert_eq!(
            key_of(Some("4:a:b")),
            Some(PaymentKey {
                source: 4,
                id: "a:b".into()
            })
        );
        assert_eq!(key_of(Some("x:a")), None);
        assert!(checked_reference("5077125051").is_ok());
        assert!(checked_reference("../v1/payout").is_err());
    }
}
