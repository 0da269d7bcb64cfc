//! A sandbox NOWPayments: a real HTTP server on loopback that speaks the
//! subset of NOWPayments' API the adapter speaks
//! (`providers/nowpayments.rs`), for tests and local use (`croupier
//! sandbox nowpayments`).
//!
//! Its API side checks `x-api-key` (and, for payouts, the bearer token
//! `POST /v1/auth` hands out for the configured e-mail and password),
//! creates payments (`waiting`, with a pay address of its own) and payout
//! batches (one per `unique_external_id`: a repeated id answers the batch
//! it first made, so a retried payout is one payout), and reads them.
//!
//! Its control side, under `/sandbox/`, is what the chain and the player
//! would do:
//! - `POST /sandbox/payments/{id}/status` `{"status": "confirming" |
//!   "partially_paid" | "finished" | "failed" | "expired" | "refunded" …,
//!   "actually_paid": "0.5"}`: the payment moves; an IPN of the payment as
//!   it now stands is recorded and sent;
//! - `POST /sandbox/payouts/{id}/status` `{"status": "FINISHED" |
//!   "FAILED" …}`: the batch's withdrawal moves, with its IPN;
//! - `POST /sandbox/faults` `{"errors": n, "lost": m}`: the next n API
//!   requests answer 500; the next m payouts are made but their answer is
//!   lost (a 500 after the batch exists, as a timeout or a crash would
//!   leave it: a retry must find the batch by its `unique_external_id`);
//! - `GET /sandbox/payouts`: every payout batch made;
//! - `GET /sandbox/ipns`, `POST /sandbox/ipns/{n}/deliver` (send a recorded
//!   IPN again, signed: duplicates and reordering), `PUT /sandbox/webhook`
//!   `{"url"}` (where every IPN goes); every control that makes an IPN takes `"deliver": false`
//!   to record it unsent.
//!
//! IPNs are signed as NOWPayments signs them: `x-nowpayments-sig`, the
//! hex HMAC-SHA512 of the body with its keys sorted, under the IPN secret.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use edge::sandbox::{LoopbackServer, check_loopback};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::providers::nowpayments::{
    API_KEY_HEADER, AuthReply, ErrorBody, Id, Payment, PayoutBatch, SIGNATURE_HEADER, Withdrawal, signature,
};

/// Most objects and IPNs kept: a sandbox, not a database.
const RECORDS_MAX: usize = 10_000;

/// The sandbox's secrets and where it sends IPNs.
#[derive(Clone)]
pub struct NowPaymentsSandboxConfig {
    /// The API key clients must present.
    pub api_key: String,
    /// The secret IPNs are signed with.
    pub ipn_secret: String,
    /// The account's e-mail, for `POST /v1/auth`.
    pub email: String,
    /// The account's password.
    pub password: String,
    /// Where IPNs go (loopback only; the requests' `ipn_callback_url` is
    /// not followed); `None` until set.
    pub webhook_url: Option<String>,
}

struct Inner {
    config: NowPaymentsSandboxConfig,
    payments: BTreeMap<String, Payment>,
    batches: BTreeMap<String, PayoutBatch>,
    by_external_id: BTreeMap<String, String>,
    ipns: Vec<Vec<u8>>,
    token: String,
    errors_left: u32,
    lost_left: u32,
    counter: u64,
    http: reqwest::Client,
}

#[derive(Clone)]
struct Shared(Arc<Mutex<Inner>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running NOWPayments sandbox.
pub struct NowPaymentsSandbox {
    server: LoopbackServer,
}

impl NowPaymentsSandbox {
    /// Binds `listen` (loopback) and serves until stopped.
    pub async fn start(config: NowPaymentsSandboxConfig, listen: SocketAddr) -> std::io::Result<NowPaymentsSandbox> {
        if let Some(url) = &config.webhook_url {
            check_loopback(url).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        }
        let listener = LoopbackServer::bind("the NOWPayments sandbox", listen).await?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Shared(Arc::new(Mutex::new(Inner {
            config,
            payments: BTreeMap::new(),
            batches: BTreeMap::new(),
            by_external_id: BTreeMap::new(),
            ipns: Vec::new(),
            token: String::new(),
            errors_left: 0,
            lost_left: 0,
            counter: 0,
            http,
        })));
        let router = axum::Router::new()
            .route("/v1/payment", post(create_payment))
            .route("/v1/payment/{id}", get(get_payment))
            .route("/v1/auth", post(auth))
            .route("/v1/payout", post(create_payout))
            .route("/v1/payout/{id}", get(get_payout))
            .route("/sandbox/payments/{id}/status", post(payment_status))
            .route("/sandbox/payouts/{id}/status", post(payout_status))
            .route("/sandbox/faults", post(faults))
            .route("/sandbox/payouts", get(payouts))
            .route("/sandbox/ipns", get(ipns))
            .route("/sandbox/ipns/{n}/deliver", post(deliver))
            .route("/sandbox/webhook", put(set_webhook))
            .with_state(shared);
        Ok(NowPaymentsSandbox {
            server: LoopbackServer::serve("the NOWPayments sandbox", listener, router)?,
        })
    }

    /// Its base URL (`http://127.0.0.1:<port>`).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Serves until the process ends.
    pub async fn wait(self) {
        self.server.wait().await
    }

    /// Stops serving.
    pub async fn stop(self) {
        self.server.stop().await
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = ErrorBody {
        status: false,
        status_code: status.as_u16(),
        code: code.into(),
        message: message.into(),
    };
    (status, Json(body)).into_response()
}

fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMS", message)
}

/// What an API request must pass: the API key, then an injected 500.
#[allow(clippy::result_large_err)]
fn admit(inner: &mut Inner, headers: &HeaderMap) -> Result<(), Response> {
    let key = headers.get(API_KEY_HEADER).and_then(|v| v.to_str().ok());
    if key != Some(inner.config.api_key.as_str()) {
        return Err(error(StatusCode::FORBIDDEN, "INVALID_API_KEY", "Invalid api key"));
    }
    if inner.errors_left > 0 {
        inner.errors_left -= 1;
        return Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "sandbox fault",
        ));
    }
    Ok(())
}

fn next_id(inner: &mut Inner) -> String {
    inner.counter += 1;
    format!("{}", 5_000_000_000u64 + inner.counter)
}

/// A positive decimal number, kept as written.
#[allow(clippy::result_large_err)]
fn positive_number(value: Option<&Value>, field: &str) -> Result<Box<RawValue>, Response> {
    let refused = || bad_request(&format!("{field} must be a positive number"));
    let number = value.filter(|v| v.is_number()).ok_or_else(refused)?;
    if number.as_f64().is_none_or(|n| n <= 0.0) {
        return Err(refused());
    }
    RawValue::from_string(number.to_string()).map_err(|_| refused())
}

fn lower_word(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .filter(|c| (2..=16).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        .map(str::to_owned)
}

/// Records an IPN body; its number.
fn record(inner: &mut Inner, body: Vec<u8>) -> Option<usize> {
    if inner.ipns.len() >= RECORDS_MAX {
        return None;
    }
    inner.ipns.push(body);
    Some(inner.ipns.len() - 1)
}

/// Sends IPN `n`, signed, to the webhook URL; the answer's status (null if
/// none is set or it could not be reached).
async fn send(shared: &Shared, n: usize) -> Value {
    let (http, url, secret, body) = {
        let inner = shared.lock();
        let (Some(url), Some(body)) = (inner.config.webhook_url.clone(), inner.ipns.get(n).cloned()) else {
            return Value::Null;
        };
        (inner.http.clone(), url, inner.config.ipn_secret.clone(), body)
    };
    let Ok(sig) = signature(&secret, &body) else {
        return Value::Null;
    };
    let sent = http
        .post(url)
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, sig)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(reply) => json!(reply.status().as_u16()),
        Err(error) => {
            tracing::warn!(%error, "the NOWPayments sandbox could not deliver an IPN");
            Value::Null
        }
    }
}

async fn create_payment(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut inner = shared.lock();
    if let Err(refused) = admit(&mut inner, &headers) {
        return refused;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("the body must be a JSON object");
    };
    let price_amount = match positive_number(request.get("price_amount"), "price_amount") {
        Ok(amount) => amount,
        Err(refused) => return refused,
    };
    let (Some(price_currency), Some(pay_currency)) = (
        lower_word(request.get("price_currency")),
        lower_word(request.get("pay_currency")),
    ) else {
        return bad_request("price_currency and pay_currency must be lower-case currency codes");
    };
    if inner.payments.len() >= RECORDS_MAX {
        return error(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY", "sandbox full");
    }
    let id = next_id(&mut inner);
    let payment = Payment {
        payment_id: Id::Number(id.parse().unwrap_or_default()),
        payment_status: "waiting".into(),
        pay_address: Some(format!("sbx-address-{id}")),
        pay_amount: Some(price_amount.clone()),
        price_amount,
        price_currency,
        actually_paid: None,
        pay_currency,
        order_id: request.get("order_id").and_then(Value::as_str).map(str::to_owned),
        order_description: request
            .get("order_description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        created_at: Some("2026-01-01T00:00:00.000Z".into()),
        updated_at: None,
    };
    inner.payments.insert(id, payment.clone());
    (StatusCode::CREATED, Json(payment)).into_response()
}

async fn get_payment(State(shared): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let mut inner = shared.lock();
    if let Err(refused) = admit(&mut inner, &headers) {
        return refused;
    }
    match inner.payments.get(&id) {
        Some(payment) => Json(payment.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "PAYMENT_NOT_FOUND", "Payment not found"),
    }
}

async fn auth(State(shared): State<Shared>, body: Bytes) -> Response {
    let mut inner = shared.lock();
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let matches = request.get("email").and_then(Value::as_str) == Some(inner.config.email.as_str())
        && request.get("password").and_then(Value::as_str) == Some(inner.config.password.as_str());
    if !matches {
        return error(StatusCode::UNAUTHORIZED, "AUTH_REQUIRED", "Invalid email or password");
    }
    let token = format!("sbx-token-{}", next_id(&mut inner));
    inner.token = token.clone();
    Json(AuthReply { token }).into_response()
}

async fn create_payout(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut inner = shared.lock();
    if let Err(refused) = admit(&mut inner, &headers) {
        return refused;
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if inner.token.is_empty() || bearer != Some(inner.token.as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "AUTH_REQUIRED",
            "Authorization header is empty or invalid",
        );
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let Some([withdrawal]) = request.get("withdrawals").and_then(Value::as_array).map(Vec::as_slice) else {
        return bad_request("withdrawals: the sandbox takes one withdrawal per batch");
    };
    let amount = match positive_number(withdrawal.get("amount"), "amount") {
        Ok(amount) => amount,
        Err(refused) => return refused,
    };
    let (Some(address), Some(currency)) = (
        withdrawal
            .get("address")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty()),
        lower_word(withdrawal.get("currency")),
    ) else {
        return bad_request("address and currency are required");
    };
    let external = withdrawal
        .get("unique_external_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(batch) = external
        .as_ref()
        .and_then(|e| inner.by_external_id.get(e))
        .and_then(|id| inner.batches.get(id))
    {
        return Json(batch.clone()).into_response();
    }
    if inner.batches.len() >= RECORDS_MAX {
        return error(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY", "sandbox full");
    }
    let batch_id = next_id(&mut inner);
    let withdrawal_id = next_id(&mut inner);
    let batch = PayoutBatch {
        id: Id::Text(batch_id.clone()),
        withdrawals: vec![Withdrawal {
            id: Id::Text(withdrawal_id),
            address: address.to_owned(),
            currency,
            amount,
            batch_withdrawal_id: Some(Id::Text(batch_id.clone())),
            status: "WAITING".into(),
            unique_external_id: external.clone(),
            error: None,
        }],
    };
    if let Some(external) = external {
        inner.by_external_id.insert(external, batch_id.clone());
    }
    inner.batches.insert(batch_id, batch.clone());
    if inner.lost_left > 0 {
        inner.lost_left -= 1;
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "sandbox: the answer was lost",
        );
    }
    (StatusCode::OK, Json(batch)).into_response()
}

async fn get_payout(State(shared): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let mut inner = shared.lock();
    if let Err(refused) = admit(&mut inner, &headers) {
        return refused;
    }
    match inner.batches.get(&id) {
        Some(batch) => Json(batch.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "PAYOUT_NOT_FOUND", "Payout not found"),
    }
}

#[derive(Deserialize)]
struct StatusChange {
    status: String,
    #[serde(default)]
    actually_paid: Option<Box<RawValue>>,
    #[serde(default = "yes")]
    deliver: bool,
}

fn yes() -> bool {
    true
}

/// Records the IPN a change made and sends it unless told not to.
async fn announce(shared: &Shared, body: Vec<u8>, deliver: bool) -> Response {
    let Some(n) = record(&mut shared.lock(), body) else {
        return error(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY", "sandbox full");
    };
    let delivered = if deliver { send(shared, n).await } else { Value::Null };
    Json(json!({"ipn": n, "delivered": delivered})).into_response()
}

async fn payment_status(State(shared): State<Shared>, Path(id): Path<String>, body: Bytes) -> Response {
    let Ok(change) = serde_json::from_slice::<StatusChange>(&body) else {
        return bad_request("{\"status\": ..., \"actually_paid\"?: number, \"deliver\"?: bool}");
    };
    let ipn = {
        let mut inner = shared.lock();
        let Some(payment) = inner.payments.get_mut(&id) else {
            return error(StatusCode::NOT_FOUND, "PAYMENT_NOT_FOUND", "Payment not found");
        };
        payment.payment_status = change.status;
        payment.actually_paid = change.actually_paid.or_else(|| payment.actually_paid.clone());
        payment.updated_at = Some("2026-01-01T00:00:01.000Z".into());
        serde_json::to_vec(payment).unwrap_or_default()
    };
    announce(&shared, ipn, change.deliver).await
}

async fn payout_status(State(shared): State<Shared>, Path(id): Path<String>, body: Bytes) -> Response {
    let Ok(change) = serde_json::from_slice::<StatusChange>(&body) else {
        return bad_request("{\"status\": ..., \"deliver\"?: bool}");
    };
    let ipn = {
        let mut inner = shared.lock();
        let Some(withdrawal) = inner.batches.get_mut(&id).and_then(|b| b.withdrawals.first_mut()) else {
            return error(StatusCode::NOT_FOUND, "PAYOUT_NOT_FOUND", "Payout not found");
        };
        withdrawal.status = change.status;
        serde_json::to_vec(withdrawal).unwrap_or_default()
    };
    announce(&shared, ipn, change.deliver).await
}

async fn faults(State(shared): State<Shared>, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let count = |key: &str| {
        let n = request.get(key).and_then(Value::as_u64).unwrap_or(0);
        u32::try_from(n).unwrap_or(u32::MAX)
    };
    let mut inner = shared.lock();
    inner.errors_left = count("errors");
    inner.lost_left = count("lost");
    StatusCode::NO_CONTENT.into_response()
}

/// Every payout batch made, oldest id first (to count them).
async fn payouts(State(shared): State<Shared>) -> Response {
    let inner = shared.lock();
    let all: Vec<&PayoutBatch> = inner.batches.values().collect();
    Json(json!(all)).into_response()
}

async fn ipns(State(shared): State<Shared>) -> Response {
    let inner = shared.lock();
    let all: Vec<Value> = inner
        .ipns
        .iter()
        .map(|body| serde_json::from_slice(body).unwrap_or(Value::Null))
        .collect();
    Json(all).into_response()
}

async fn deliver(State(shared): State<Shared>, Path(n): Path<usize>) -> Response {
    if shared.lock().ipns.get(n).is_none() {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such IPN");
    }
    let delivered = send(&shared, n).await;
    Json(json!({"ipn": n, "delivered": delivered})).into_response()
}

async fn set_webhook(State(shared): State<Shared>, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let Some(url) = request.get("url").and_then(Value::as_str) else {
        return bad_request("{\"url\": ...}");
    };
    if let Err(refused) = check_loopback(url) {
        return bad_request(&refused);
    }
    shared.lock().config.webhook_url = Some(url.to_owned());
    StatusCode::NO_CONTENT.into_response()
}
