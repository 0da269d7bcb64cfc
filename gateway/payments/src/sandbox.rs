//! A sandbox payment provider: a real HTTP server on loopback that speaks
//! the subset of Stripe's API the adapter speaks (`providers/stripe.rs`),
//! for tests and local use (`croupier sandbox stripe`).
//!
//! Its API side checks the bearer secret key, keeps idempotency keys as
//! Stripe does (a repeated key answers the first response, marked
//! `Idempotent-Replayed: true`; the same key with other parameters is a
//! 400 `idempotency_error`), creates PaymentIntents (with a payment method
//! and `confirm=true`, they ask for a redirect to the sandbox's own page)
//! and Payouts, reads and cancels them. Every change it makes is recorded
//! as an event and sent, signed with `Stripe-Signature`, to the webhook URL
//! (loopback only) before the request that caused it is answered.
//!
//! Its control side, under `/sandbox/`, is what the player, the bank and a
//! failing network would do:
//! - `POST /sandbox/payment_intents/{id}/complete` `{"outcome":
//!   "succeeded" | "failed"}`: the player finishes (or fails) the redirect;
//!   `POST /sandbox/payment_intents/{id}/dispute` `{"amount": n}` (default
//!   all): the cardholder disputes a succeeded payment;
//! - `POST /sandbox/next_intent` `{"outcome": "succeeded" | "failed" |
//!   "disputed" | "abandoned"}`: what happens to the next PaymentIntent as
//!   soon as it is created (abandoned: nothing, the player never returns,
//!   so the deposit expires);
//! - `POST /sandbox/next_payout` `{"outcome": "paid" | "failed" |
//!   "pending"}`: what the next payout does at once (pending: nothing
//!   until `POST /sandbox/payouts/{id}/settle` `{"outcome": "paid" |
//!   "failed"}`);
//! - `POST /sandbox/faults` `{"errors": n, "timeouts": n}`: the next n API
//!   requests answer 500, or are carried out and then answered only after
//!   `stall_ms` (longer than the client waits: a timeout after the fact);
//! - `GET /sandbox/events`, `POST /sandbox/events/{n}/deliver` (send a
//!   recorded event again: duplicates and reordering), `GET
//!   /sandbox/payouts`, `PUT /sandbox/webhook` `{"url"}`; every control
//!   that makes an event takes `"deliver": false` to record it unsent.

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
use serde_json::{Value, json};

use crate::providers::stripe::{
    Dispute, ErrorBody, ErrorDetail, Event, EventData, IDEMPOTENCY_HEADER, NextAction, PaymentError, PaymentIntent,
    Payout, RedirectToUrl, SIGNATURE_HEADER, signature_header,
};

/// Milliseconds since the epoch: the sandbox's clock (tests share the
/// server's).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Most objects, events and idempotency keys kept: a sandbox, not a database.
const RECORDS_MAX: usize = 10_000;

/// The sandbox's secrets and where it sends webhooks.
#[derive(Clone)]
pub struct SandboxConfig {
    /// The secret API key clients must present (`sk_test_…`).
    pub secret_key: String,
    /// The secret webhooks are signed with (`whsec_…`).
    pub webhook_secret: String,
    /// Where webhooks go (loopback only); `None` until set.
    pub webhook_url: Option<String>,
    /// How long a "timed out" request is held before its answer.
    pub stall: Duration,
    /// The clock.
    pub clock: Clock,
}

/// What happens to the next PaymentIntent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum IntentOutcome {
    Succeeded,
    Failed,
    Disputed,
    Abandoned,
}

/// What happens to the next payout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PayoutOutcome {
    Paid,
    Failed,
    Pending,
}

struct Remembered {
    request: String,
    status: StatusCode,
    body: Vec<u8>,
}

struct Inner {
    config: SandboxConfig,
    base_url: String,
    intents: BTreeMap<String, PaymentIntent>,
    payouts: BTreeMap<String, Payout>,
    /// Every event recorded, as JSON (signed at each delivery).
    events: Vec<Vec<u8>>,
    idempotency: BTreeMap<String, Remembered>,
    next_intent: Option<IntentOutcome>,
    next_payout: Option<PayoutOutcome>,
    errors_left: u32,
    timeouts_left: u32,
    counter: u64,
    http: reqwest::Client,
}

#[derive(Clone)]
struct Shared(Arc<Mutex<Inner>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A handler that panicked left plain data behind: still usable.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running sandbox.
pub struct Sandbox {
    server: LoopbackServer,
}

impl Sandbox {
    /// Binds `listen` (loopback) and serves until stopped.
    pub async fn start(config: SandboxConfig, listen: SocketAddr) -> std::io::Result<Sandbox> {
        let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
        if let Some(url) = &config.webhook_url {
            check_loopback(url).map_err(invalid)?;
        }
        let listener = LoopbackServer::bind("the Stripe sandbox", listen).await?;
        let addr = listener.local_addr()?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Shared(Arc::new(Mutex::new(Inner {
            config,
            base_url: format!("http://{addr}"),
            intents: BTreeMap::new(),
            payouts: BTreeMap::new(),
            events: Vec::new(),
            idempotency: BTreeMap::new(),
            next_intent: None,
            next_payout: None,
            errors_left: 0,
            timeouts_left: 0,
            counter: 0,
            http,
        })));
        let router = axum::Router::new()
            .route("/v1/payment_intents", post(create_intent))
            .route("/v1/payment_intents/{id}", get(get_intent))
            .route("/v1/payment_intents/{id}/cancel", post(cancel_intent))
            .route("/v1/payouts", post(create_payout))
            .route("/v1/payouts/{id}", get(get_payout))
            .route("/sandbox/redirect/{id}", get(redirect_page))
            .route("/sandbox/payment_intents/{id}/complete", post(complete_intent))
            .route("/sandbox/payment_intents/{id}/dispute", post(dispute_intent))
            .route("/sandbox/payouts/{id}/settle", post(settle_payout))
            .route("/sandbox/payouts", get(list_payouts))
            .route("/sandbox/next_intent", post(next_intent))
            .route("/sandbox/next_payout", post(next_payout))
            .route("/sandbox/faults", post(faults))
            .route("/sandbox/events", get(events))
            .route("/sandbox/events/{n}/deliver", post(deliver))
            .route("/sandbox/webhook", put(set_webhook))
            .with_state(shared);
        Ok(Sandbox {
            server: LoopbackServer::serve("the Stripe sandbox", listener, router)?,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
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

/// Stripe's error answer.
fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            kind: kind.into(),
            code: None,
            message: message.into(),
        },
    };
    (status, Json(body)).into_response()
}

fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_request_error", message)
}

/// What an API request must pass before it is carried out: the key, then
/// an injected 500.
// The refusal is the answer itself, sent at once: not worth a box.
#[allow(clippy::result_large_err)]
fn admit(inner: &mut Inner, headers: &HeaderMap) -> Result<(), Response> {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(inner.config.secret_key.as_str()) {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "Invalid API Key provided",
        ));
    }
    if inner.errors_left > 0 {
        inner.errors_left -= 1;
        return Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "An unknown error occurred (sandbox fault)",
        ));
    }
    Ok(())
}

/// Takes one injected timeout, if any is left: the request is carried out
/// and its answer held back.
fn take_timeout(inner: &mut Inner) -> Option<Duration> {
    if inner.timeouts_left == 0 {
        return None;
    }
    inner.timeouts_left -= 1;
    Some(inner.config.stall)
}

fn parse_form(body: &[u8]) -> BTreeMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn metadata_of(form: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    form.iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix("metadata[")?.strip_suffix(']')?;
            Some((key.to_owned(), v.clone()))
        })
        .collect()
}

#[allow(clippy::result_large_err)]
fn amount_and_currency(form: &BTreeMap<String, String>) -> Result<(i64, String), Response> {
    let amount = form
        .get("amount")
        .and_then(|a| a.parse::<i64>().ok())
        .filter(|a| *a > 0)
        .ok_or_else(|| bad_request("Invalid positive integer: amount"))?;
    let currency = form
        .get("currency")
        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_lowercase()))
        .ok_or_else(|| bad_request("Invalid currency: currency must be a three-letter lower-case ISO code"))?;
    Ok((amount, currency.clone()))
}

/// The remembered answer of a repeated idempotency key, or a conflict.
#[allow(clippy::result_large_err)]
fn replay(inner: &Inner, key: Option<&str>, request: &str) -> Result<Option<Response>, Response> {
    let Some(remembered) = key.and_then(|key| inner.idempotency.get(key)) else {
        return Ok(None);
    };
    if remembered.request != request {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "idempotency_error",
            "Keys for idempotent requests can only be used with the same parameters they were first used with.",
        ));
    }
    let mut response = (remembered.status, remembered.body.clone()).into_response();
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().expect("static"));
    response
        .headers_mut()
        .insert("idempotent-replayed", "true".parse().expect("static"));
    Ok(Some(response))
}

fn remember(inner: &mut Inner, key: Option<&str>, request: String, status: StatusCode, body: &[u8]) {
    if let Some(key) = key
        && inner.idempotency.len() < RECORDS_MAX
    {
        inner.idempotency.insert(
            key.to_owned(),
            Remembered {
                request,
                status,
                body: body.to_vec(),
            },
        );
    }
}

fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get(IDEMPOTENCY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn next_id(inner: &mut Inner, prefix: &str) -> String {
    inner.counter += 1;
    format!("{prefix}_sbx{:016x}", inner.counter)
}

/// Records an event about `object`; returns its number.
fn record(inner: &mut Inner, kind: &str, object: Value) -> Option<usize> {
    if inner.events.len() >= RECORDS_MAX {
        return None;
    }
    let id = next_id(inner, "evt");
    let event = Event {
        id,
        object: "event".into(),
        kind: kind.into(),
        created: (inner.config.clock)() / 1_000,
        data: EventData { object },
        livemode: false,
    };
    let body = serde_json::to_vec(&event).ok()?;
    inner.events.push(body);
    Some(inner.events.len() - 1)
}

/// What a delivery needs, taken out of the lock.
type Target = (reqwest::Client, String, String, Clock);

fn sender(inner: &Inner) -> Option<Target> {
    let url = inner.config.webhook_url.clone()?;
    Some((
        inner.http.clone(),
        url,
        inner.config.webhook_secret.clone(),
        inner.config.clock.clone(),
    ))
}

/// Sends event `n`, signed now, to the webhook URL; the answer's status
/// (null if none is set or it could not be reached).
async fn send(shared: &Shared, n: usize, target: Option<Target>) -> Value {
    let Some((http, url, secret, clock)) = target else {
        return Value::Null;
    };
    let Some(body) = shared.lock().events.get(n).cloned() else {
        return Value::Null;
    };
    let header = signature_header(&secret, clock() / 1_000, &body);
    let sent = http
        .post(url)
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, header)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(reply) => json!(reply.status().as_u16()),
        Err(error) => {
            tracing::warn!(%error, "the Stripe sandbox could not deliver a webhook");
            Value::Null
        }
    }
}

async fn send_all(shared: &Shared, events: &[usize], deliver: bool) -> Vec<Value> {
    let target = if deliver { sender(&shared.lock()) } else { None };
    let mut delivered = Vec::new();
    for n in events {
        delivered.push(send(shared, *n, target.clone()).await);
    }
    delivered
}

fn json_bytes<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// Applies a player's or cardholder's action to an intent; the events it
/// makes.
fn resolve_intent(inner: &mut Inner, id: &str, outcome: IntentOutcome, dispute_minor: Option<i64>) -> Vec<usize> {
    let Some(intent) = inner.intents.get_mut(id) else {
        return Vec::new();
    };
    let mut made = Vec::new();
    match outcome {
        IntentOutcome::Abandoned => {}
        IntentOutcome::Failed => {
            // A declined attempt: Stripe leaves the intent open for another.
            intent.status = "requires_payment_method".into();
            intent.next_action = None;
            intent.last_payment_error = Some(PaymentError {
                kind: "card_error".into(),
                code: Some("card_declined".into()),
                message: Some("Your card was declined.".into()),
            });
            let object = serde_json::to_value(&*intent).unwrap_or(Value::Null);
            made.extend(record(inner, "payment_intent.payment_failed", object));
        }
        IntentOutcome::Succeeded | IntentOutcome::Disputed => {
            intent.status = "succeeded".into();
            intent.next_action = None;
            let (amount, currency) = (intent.amount, intent.currency.clone());
            let object = serde_json::to_value(&*intent).unwrap_or(Value::Null);
            made.extend(record(inner, "payment_intent.succeeded", object));
            if outcome == IntentOutcome::Disputed || dispute_minor.is_some() {
                let dispute = Dispute {
                    id: next_id(inner, "dp"),
                    object: "dispute".into(),
                    amount: dispute_minor.unwrap_or(amount),
                    currency,
                    charge: Some(next_id(inner, "ch")),
                    payment_intent: Some(id.to_owned()),
                    reason: Some("fraudulent".into()),
                    status: Some("needs_response".into()),
                };
                let object = serde_json::to_value(&dispute).unwrap_or(Value::Null);
                made.extend(record(inner, "charge.dispute.created", object));
            }
        }
    }
    made
}

async fn create_intent(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let key = idempotency_key(&headers);
    let request = String::from_utf8_lossy(&body).into_owned();
    let (status, answer, made, stall) = {
        let mut inner = shared.lock();
        if let Err(refused) = admit(&mut inner, &headers) {
            return refused;
        }
        match replay(&inner, key.as_deref(), &request) {
            Ok(Some(replayed)) => return replayed,
            Ok(None) => {}
            Err(conflict) => return conflict,
        }
        let form = parse_form(&body);
        let (amount, currency) = match amount_and_currency(&form) {
            Ok(pair) => pair,
            Err(refused) => return refused,
        };
        if inner.intents.len() >= RECORDS_MAX {
            return error(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", "the sandbox is full");
        }
        let id = next_id(&mut inner, "pi");
        let confirm = form.get("confirm").map(String::as_str) == Some("true") && form.contains_key("payment_method");
        let next_action = confirm.then(|| NextAction {
            kind: "redirect_to_url".into(),
            redirect_to_url: Some(RedirectToUrl {
                url: format!("{}/sandbox/redirect/{id}", inner.base_url),
                return_url: form.get("return_url").cloned(),
            }),
        });
        let intent = PaymentIntent {
            id: id.clone(),
            object: "payment_intent".into(),
            amount,
            currency,
            status: if confirm {
                "requires_action"
            } else {
                "requires_payment_method"
            }
            .into(),
            client_secret: Some(format!(
                "{id}_secret_{:016x}",
                inner.counter.wrapping_mul(0x9e37_79b9_7f4a_7c15)
            )),
            next_action,
            last_payment_error: None,
            metadata: metadata_of(&form),
            created: (inner.config.clock)() / 1_000,
        };
        let answer = json_bytes(&intent);
        inner.intents.insert(id.clone(), intent);
        remember(&mut inner, key.as_deref(), request, StatusCode::OK, &answer);
        let made = match inner.next_intent.take() {
            Some(outcome) => resolve_intent(&mut inner, &id, outcome, None),
            None => Vec::new(),
        };
        (StatusCode::OK, answer, made, take_timeout(&mut inner))
    };
    send_all(&shared, &made, true).await;
    answer_after(status, answer, stall).await
}

/// The answer, after the injected stall if there is one.
async fn answer_after(status: StatusCode, body: Vec<u8>, stall: Option<Duration>) -> Response {
    if let Some(stall) = stall {
        tokio::time::sleep(stall).await;
    }
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().expect("static"));
    response
}

async fn get_intent(State(shared): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let (answer, stall) = {
        let mut inner = shared.lock();
        if let Err(refused) = admit(&mut inner, &headers) {
            return refused;
        }
        let Some(intent) = inner.intents.get(&id) else {
            return error(StatusCode::NOT_FOUND, "invalid_request_error", "No such payment_intent");
        };
        (json_bytes(intent), take_timeout(&mut inner))
    };
    answer_after(StatusCode::OK, answer, stall).await
}

async fn cancel_intent(State(shared): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let (answer, made, stall) = {
        let mut inner = shared.lock();
        if let Err(refused) = admit(&mut inner, &headers) {
            return refused;
        }
        let Some(intent) = inner.intents.get_mut(&id) else {
            return error(StatusCode::NOT_FOUND, "invalid_request_error", "No such payment_intent");
        };
        if intent.status == "succeeded" || intent.status == "canceled" {
            let message = format!(
                "You cannot cancel this PaymentIntent because it has a status of {}.",
                intent.status
            );
            return bad_request(&message);
        }
        intent.status = "canceled".into();
        intent.next_action = None;
        let object = serde_json::to_value(&*intent).unwrap_or(Value::Null);
        let answer = json_bytes(&*intent);
        let made: Vec<usize> = record(&mut inner, "payment_intent.canceled", object)
            .into_iter()
            .collect();
        (answer, made, take_timeout(&mut inner))
    };
    send_all(&shared, &made, true).await;
    answer_after(StatusCode::OK, answer, stall).await
}

fn settle(inner: &mut Inner, id: &str, paid: bool) -> Vec<usize> {
    let Some(payout) = inner.payouts.get_mut(id) else {
        return Vec::new();
    };
    if payout.status != "pending" {
        return Vec::new();
    }
    payout.status = if paid { "paid" } else { "failed" }.into();
    payout.failure_code = (!paid).then(|| "account_closed".into());
    let object = serde_json::to_value(&*payout).unwrap_or(Value::Null);
    let kind = if paid { "payout.paid" } else { "payout.failed" };
    record(inner, kind, object).into_iter().collect()
}

async fn create_payout(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let key = idempotency_key(&headers);
    let request = String::from_utf8_lossy(&body).into_owned();
    let (answer, made, stall) = {
        let mut inner = shared.lock();
        if let Err(refused) = admit(&mut inner, &headers) {
            return refused;
        }
        match replay(&inner, key.as_deref(), &request) {
            Ok(Some(replayed)) => return replayed,
            Ok(None) => {}
            Err(conflict) => return conflict,
        }
        let form = parse_form(&body);
        let (amount, currency) = match amount_and_currency(&form) {
            Ok(pair) => pair,
            Err(refused) => return refused,
        };
        if inner.payouts.len() >= RECORDS_MAX {
            return error(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", "the sandbox is full");
        }
        let id = next_id(&mut inner, "po");
        let payout = Payout {
            id: id.clone(),
            object: "payout".into(),
            amount,
            currency,
            status: "pending".into(),
            failure_code: None,
            metadata: metadata_of(&form),
            created: (inner.config.clock)() / 1_000,
        };
        let answer = json_bytes(&payout);
        inner.payouts.insert(id.clone(), payout);
        // The answer is the object as created (pending), as Stripe's is.
        remember(&mut inner, key.as_deref(), request, StatusCode::OK, &answer);
        let made = match inner.next_payout.take().unwrap_or(PayoutOutcome::Paid) {
            PayoutOutcome::Paid => settle(&mut inner, &id, true),
            PayoutOutcome::Failed => settle(&mut inner, &id, false),
            PayoutOutcome::Pending => Vec::new(),
        };
        (answer, made, take_timeout(&mut inner))
    };
    send_all(&shared, &made, true).await;
    answer_after(StatusCode::OK, answer, stall).await
}

async fn get_payout(State(shared): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let (answer, stall) = {
        let mut inner = shared.lock();
        if let Err(refused) = admit(&mut inner, &headers) {
            return refused;
        }
        let Some(payout) = inner.payouts.get(&id) else {
            return error(StatusCode::NOT_FOUND, "invalid_request_error", "No such payout");
        };
        (json_bytes(payout), take_timeout(&mut inner))
    };
    answer_after(StatusCode::OK, answer, stall).await
}

/// The page a redirect opens: what the player would see.
async fn redirect_page(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let inner = shared.lock();
    match inner.intents.get(&id) {
        Some(intent) => format!(
            "Sandbox payment {id}: {} {} ({}). Complete it with POST /sandbox/payment_intents/{id}/complete.\n",
            intent.amount, intent.currency, intent.status
        )
        .into_response(),
        None => error(StatusCode::NOT_FOUND, "invalid_request_error", "No such payment_intent"),
    }
}

fn deliver_now() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Complete {
    outcome: String,
    #[serde(default = "deliver_now")]
    deliver: bool,
}

async fn complete_intent(State(shared): State<Shared>, Path(id): Path<String>, Json(body): Json<Complete>) -> Response {
    let outcome = match body.outcome.as_str() {
        "succeeded" => IntentOutcome::Succeeded,
        "failed" => IntentOutcome::Failed,
        _ => return bad_request("outcome: succeeded or failed"),
    };
    let made = {
        let mut inner = shared.lock();
        match inner.intents.get(&id).map(|i| i.status.as_str()) {
            None => return error(StatusCode::NOT_FOUND, "invalid_request_error", "No such payment_intent"),
            Some("succeeded" | "canceled") => return bad_request("the payment intent is final"),
            Some(_) => {}
        }
        resolve_intent(&mut inner, &id, outcome, None)
    };
    let delivered = send_all(&shared, &made, body.deliver).await;
    Json(json!({"events": made, "delivered": delivered})).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisputeRequest {
    #[serde(default)]
    amount: Option<i64>,
    #[serde(default = "deliver_now")]
    deliver: bool,
}

async fn dispute_intent(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Json(body): Json<DisputeRequest>,
) -> Response {
    let made = {
        let mut inner = shared.lock();
        let Some(intent) = inner.intents.get(&id) else {
            return error(StatusCode::NOT_FOUND, "invalid_request_error", "No such payment_intent");
        };
        if intent.status != "succeeded" {
            return bad_request("only a succeeded payment can be disputed");
        }
        let amount = body.amount.unwrap_or(intent.amount);
        if amount <= 0 || amount > intent.amount {
            return bad_request("amount: 1 to the payment's amount");
        }
        let dispute = Dispute {
            id: next_id(&mut inner, "dp"),
            object: "dispute".into(),
            amount,
            currency: inner.intents[&id].currency.clone(),
            charge: Some(next_id(&mut inner, "ch")),
            payment_intent: Some(id.clone()),
            reason: Some("fraudulent".into()),
            status: Some("needs_response".into()),
        };
        let object = serde_json::to_value(&dispute).unwrap_or(Value::Null);
        record(&mut inner, "charge.dispute.created", object)
            .into_iter()
            .collect::<Vec<_>>()
    };
    let delivered = send_all(&shared, &made, body.deliver).await;
    Json(json!({"events": made, "delivered": delivered})).into_response()
}

async fn settle_payout(State(shared): State<Shared>, Path(id): Path<String>, Json(body): Json<Complete>) -> Response {
    let paid = match body.outcome.as_str() {
        "paid" => true,
        "failed" => false,
        _ => return bad_request("outcome: paid or failed"),
    };
    let made = {
        let mut inner = shared.lock();
        match inner.payouts.get(&id).map(|p| p.status.as_str()) {
            None => return error(StatusCode::NOT_FOUND, "invalid_request_error", "No such payout"),
            Some("pending") => settle(&mut inner, &id, paid),
            Some(_) => return bad_request("the payout is final"),
        }
    };
    let delivered = send_all(&shared, &made, body.deliver).await;
    Json(json!({"events": made, "delivered": delivered})).into_response()
}

async fn list_payouts(State(shared): State<Shared>) -> Response {
    let inner = shared.lock();
    Json(inner.payouts.values().cloned().collect::<Vec<_>>()).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Next {
    outcome: String,
}

async fn next_intent(State(shared): State<Shared>, Json(body): Json<Next>) -> Response {
    let Ok(outcome) = serde_json::from_value::<IntentOutcome>(Value::String(body.outcome)) else {
        return bad_request("outcome: succeeded, failed, disputed or abandoned");
    };
    shared.lock().next_intent = Some(outcome);
    StatusCode::NO_CONTENT.into_response()
}

async fn next_payout(State(shared): State<Shared>, Json(body): Json<Next>) -> Response {
    let Ok(outcome) = serde_json::from_value::<PayoutOutcome>(Value::String(body.outcome)) else {
        return bad_request("outcome: paid, failed or pending");
    };
    shared.lock().next_payout = Some(outcome);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Faults {
    #[serde(default)]
    errors: u32,
    #[serde(default)]
    timeouts: u32,
}

async fn faults(State(shared): State<Shared>, Json(body): Json<Faults>) -> Response {
    let mut inner = shared.lock();
    inner.errors_left = body.errors;
    inner.timeouts_left = body.timeouts;
    StatusCode::NO_CONTENT.into_response()
}

async fn events(State(shared): State<Shared>) -> Response {
    let inner = shared.lock();
    let events: Vec<Value> = inner
        .events
        .iter()
        .map(|body| serde_json::from_slice(body).unwrap_or(Value::Null))
        .collect();
    Json(events).into_response()
}

async fn deliver(State(shared): State<Shared>, Path(n): Path<usize>) -> Response {
    let target = {
        let inner = shared.lock();
        if n >= inner.events.len() {
            return error(StatusCode::NOT_FOUND, "invalid_request_error", "no such event");
        }
        sender(&inner)
    };
    let delivered = send(&shared, n, target).await;
    Json(json!({"event": n, "delivered": delivered})).into_response()
}

async fn set_webhook(State(shared): State<Shared>, Json(body): Json<Value>) -> Response {
    let Some(url) = body.get("url").and_then(Value::as_str) else {
        return bad_request("url is required");
    };
    if let Err(why) = check_loopback(url) {
        return bad_request(&why);
    }
    shared.lock().config.webhook_url = Some(url.to_owned());
    StatusCode::NO_CONTENT.into_response()
}
