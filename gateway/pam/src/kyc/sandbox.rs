//! A sandbox KYC provider: a real HTTP server on loopback that speaks the
//! Sumsub protocol the adapter speaks (`sumsub.rs`), for tests and local
//! use (`croupier sandbox kyc`).
//!
//! Its provider side checks every request's app token and signature as the
//! real one does, creates applicants (409 for a user who has one), hands
//! out WebSDK links and answers status reads. Its control side, under
//! `/sandbox/`, is what a person at the provider would do: decide a review
//! (`POST /sandbox/applicants/{id}/review` with `{"answer": "GREEN" | "RED"
//! | "PENDING", "rejectLabels": [...], "deliver": true}`), which records a
//! webhook event (event times strictly increasing) and sends it, signed,
//! to the webhook URL (unless `deliver` is false); and send any recorded event as it was (`POST
//! /sandbox/events/{n}/deliver`), which is how tests make duplicates and
//! out-of-order deliveries. The webhook URL (`PUT /sandbox/webhook`) must
//! be on loopback: the sandbox never sends traffic elsewhere.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use edge::sandbox::{LoopbackServer, check_loopback};
use serde::Deserialize;
use serde_json::{Value, json};

use super::sumsub::{
    ACCESS_SIG_HEADER, ACCESS_TS_HEADER, APP_TOKEN_HEADER, Applicant, DIGEST_ALG, DIGEST_ALG_HEADER, DIGEST_HEADER,
    Review, ReviewResult, Webhook, format_event_time, hmac_hex, hmac_matches,
};

/// Milliseconds since the epoch: the sandbox's clock (tests share the
/// server's).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// How far a request's `X-App-Access-Ts` may be from the sandbox's clock
/// (Sumsub's documented minute).
const REQUEST_WINDOW_S: u64 = 60;
/// Most applicants and events kept: a sandbox, not a database.
const RECORDS_MAX: usize = 10_000;

/// The sandbox's secrets and where it sends webhooks.
#[derive(Clone)]
pub struct SandboxConfig {
    /// The app token clients must present.
    pub app_token: String,
    /// The secret key their requests are signed with.
    pub secret_key: String,
    /// The secret webhooks are signed with.
    pub webhook_secret: String,
    /// Where webhooks go (loopback only); `None` until set.
    pub webhook_url: Option<String>,
    /// The clock.
    pub clock: Clock,
}

struct Inner {
    config: SandboxConfig,
    base_url: String,
    applicants: BTreeMap<String, Applicant>,
    /// Every event recorded, as sent (the body the digest covers).
    events: Vec<Vec<u8>>,
    last_event_ms: u64,
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
        if let Some(url) = &config.webhook_url {
            check_loopback(url).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        }
        let listener = LoopbackServer::bind("the KYC sandbox", listen).await?;
        let addr = listener.local_addr()?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Shared(Arc::new(Mutex::new(Inner {
            config,
            base_url: format!("http://{addr}"),
            applicants: BTreeMap::new(),
            events: Vec::new(),
            last_event_ms: 0,
            http,
        })));
        let router = axum::Router::new()
            .route("/resources/applicants", post(create_applicant))
            .route("/resources/applicants/{id}/one", get(get_applicant))
            .route("/resources/applicants/{id}/status", get(get_status))
            .route("/resources/sdkIntegrations/levels/-/websdkLink", post(websdk_link))
            .route("/sandbox/applicants/{id}/review", post(review))
            .route("/sandbox/events", get(events))
            .route("/sandbox/events/{n}/deliver", post(deliver))
            .route("/sandbox/webhook", put(set_webhook))
            .with_state(shared);
        Ok(Sandbox {
            server: LoopbackServer::serve("the KYC sandbox", listener, router)?,
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

/// Sumsub's error body.
fn error(status: StatusCode, description: &str) -> Response {
    let body = json!({"description": description, "code": status.as_u16(), "correlationId": "sandbox"});
    (status, Json(body)).into_response()
}

/// Checks the app token, the request time and the signature.
// The refusal is the answer itself, sent at once: not worth a box.
#[allow(clippy::result_large_err)]
fn authenticate(inner: &Inner, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<(), Response> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header(APP_TOKEN_HEADER) != Some(inner.config.app_token.as_str()) {
        return Err(error(StatusCode::UNAUTHORIZED, "App token is invalid"));
    }
    let now_s = (inner.config.clock)() / 1_000;
    let ts = header(ACCESS_TS_HEADER).and_then(|ts| ts.parse::<u64>().ok());
    let Some(ts) = ts.filter(|ts| ts.abs_diff(now_s) <= REQUEST_WINDOW_S) else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "Request timestamp is missing or too far off",
        ));
    };
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let ts_text = ts.to_string();
    let parts: [&[u8]; 4] = [ts_text.as_bytes(), method.as_str().as_bytes(), path.as_bytes(), body];
    let signature = header(ACCESS_SIG_HEADER).unwrap_or("");
    if !hmac_matches(&inner.config.secret_key, &parts, signature) {
        return Err(error(StatusCode::UNAUTHORIZED, "Request signature mismatch"));
    }
    Ok(())
}

async fn create_applicant(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = shared.lock();
    if let Err(refused) = authenticate(&inner, &method, &uri, &headers, &body) {
        return refused;
    }
    let level = uri
        .query()
        .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("levelName=")))
        .unwrap_or("");
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Create {
        external_user_id: String,
    }
    let Ok(create) = serde_json::from_slice::<Create>(&body) else {
        return error(StatusCode::BAD_REQUEST, "externalUserId is required");
    };
    if level.is_empty() || create.external_user_id.is_empty() {
        return error(StatusCode::BAD_REQUEST, "levelName and externalUserId are required");
    }
    if inner
        .applicants
        .values()
        .any(|a| a.external_user_id == create.external_user_id)
    {
        return error(
            StatusCode::CONFLICT,
            "Applicant with this external user id already exists",
        );
    }
    if inner.applicants.len() >= RECORDS_MAX {
        return error(StatusCode::TOO_MANY_REQUESTS, "the sandbox is full");
    }
    let id = format!("sbx{:08x}", inner.applicants.len() + 1);
    let applicant = Applicant {
        id: id.clone(),
        external_user_id: create.external_user_id,
        level_name: level.to_owned(),
        review: Review {
            review_status: "init".into(),
            review_result: None,
        },
    };
    inner.applicants.insert(id, applicant.clone());
    (StatusCode::CREATED, Json(applicant)).into_response()
}

fn find<'a>(inner: &'a Inner, id: &str) -> Option<&'a Applicant> {
    match id.strip_prefix("-;externalUserId=") {
        Some(user) => inner.applicants.values().find(|a| a.external_user_id == user),
        None => inner.applicants.get(id),
    }
}

async fn get_applicant(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let inner = shared.lock();
    if let Err(refused) = authenticate(&inner, &method, &uri, &headers, b"") {
        return refused;
    }
    match find(&inner, &id) {
        Some(applicant) => Json(applicant.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "Applicant not found"),
    }
}

async fn get_status(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let inner = shared.lock();
    if let Err(refused) = authenticate(&inner, &method, &uri, &headers, b"") {
        return refused;
    }
    match inner.applicants.get(&id) {
        Some(applicant) => Json(applicant.review.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "Applicant not found"),
    }
}

async fn websdk_link(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let inner = shared.lock();
    if let Err(refused) = authenticate(&inner, &method, &uri, &headers, &body) {
        return refused;
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Link {
        level_name: String,
        user_id: String,
    }
    let Ok(link) = serde_json::from_slice::<Link>(&body) else {
        return error(StatusCode::BAD_REQUEST, "levelName and userId are required");
    };
    if link.level_name.is_empty() || !inner.applicants.values().any(|a| a.external_user_id == link.user_id) {
        return error(StatusCode::NOT_FOUND, "no applicant for this user");
    }
    let token = hmac_hex(&inner.config.secret_key, &[link.user_id.as_bytes()]);
    Json(json!({"url": format!("{}/websdk/p/{}", inner.base_url, &token[..16])})).into_response()
}

/// A test's decision on an applicant.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Decision {
    /// `GREEN`, `RED` or `PENDING`.
    answer: String,
    #[serde(default)]
    reject_labels: Vec<String>,
    /// Send the webhook now (default); false: only record it, for a test
    /// to deliver later, out of order.
    #[serde(default = "deliver_now")]
    deliver: bool,
}

fn deliver_now() -> bool {
    true
}

async fn review(State(shared): State<Shared>, Path(id): Path<String>, Json(decision): Json<Decision>) -> Response {
    let (event, target) = {
        let mut inner = shared.lock();
        let (kind, review) = match decision.answer.as_str() {
            "PENDING" => (
                "applicantPending",
                Review {
                    review_status: "pending".into(),
                    review_result: None,
                },
            ),
            "GREEN" | "RED" => (
                "applicantReviewed",
                Review {
                    review_status: "completed".into(),
                    review_result: Some(ReviewResult {
                        review_answer: decision.answer.clone(),
                        reject_labels: decision.reject_labels,
                        review_reject_type: (decision.answer == "RED").then(|| "FINAL".into()),
                    }),
                },
            ),
            _ => return error(StatusCode::BAD_REQUEST, "answer: GREEN, RED or PENDING"),
        };
        if inner.events.len() >= RECORDS_MAX {
            return error(StatusCode::TOO_MANY_REQUESTS, "the sandbox is full");
        }
        let Some(applicant) = inner.applicants.get_mut(&id) else {
            return error(StatusCode::NOT_FOUND, "Applicant not found");
        };
        applicant.review = review.clone();
        let external_user_id = applicant.external_user_id.clone();
        // Strictly increasing event times, as a provider's log would have.
        let event_ms = ((inner.config.clock)()).max(inner.last_event_ms + 1);
        inner.last_event_ms = event_ms;
        let webhook = Webhook {
            applicant_id: id,
            external_user_id,
            kind: kind.into(),
            review_status: review.review_status,
            review_result: review.review_result,
            created_at_ms: format_event_time(event_ms),
        };
        let Ok(body) = serde_json::to_vec(&webhook) else {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode the event");
        };
        inner.events.push(body);
        let target = if decision.deliver { sender(&inner) } else { None };
        (inner.events.len() - 1, target)
    };
    let delivered = send(&shared, event, target).await;
    Json(json!({"event": event, "delivered": delivered})).into_response()
}

/// What a delivery needs, taken out of the lock.
fn sender(inner: &Inner) -> Option<(reqwest::Client, String, String)> {
    let url = inner.config.webhook_url.clone()?;
    Some((inner.http.clone(), url, inner.config.webhook_secret.clone()))
}

/// Sends event `n` to the webhook URL; the answer's status (null if none
/// is set or it could not be reached).
async fn send(shared: &Shared, n: usize, target: Option<(reqwest::Client, String, String)>) -> Value {
    let Some((http, url, secret)) = target else {
        return Value::Null;
    };
    let Some(body) = shared.lock().events.get(n).cloned() else {
        return Value::Null;
    };
    let digest = hmac_hex(&secret, &[&body]);
    let sent = http
        .post(url)
        .header("content-type", "application/json")
        .header(DIGEST_HEADER, digest)
        .header(DIGEST_ALG_HEADER, DIGEST_ALG)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(reply) => json!(reply.status().as_u16()),
        Err(error) => {
            tracing::warn!(%error, "the KYC sandbox could not deliver a webhook");
            Value::Null
        }
    }
}

async fn deliver(State(shared): State<Shared>, Path(n): Path<usize>) -> Response {
    let target = {
        let inner = shared.lock();
        if n >= inner.events.len() {
            return error(StatusCode::NOT_FOUND, "no such event");
        }
        sender(&inner)
    };
    let delivered = send(&shared, n, target).await;
    Json(json!({"event": n, "delivered": delivered})).into_response()
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

async fn set_webhook(State(shared): State<Shared>, Json(body): Json<Value>) -> Response {
    let Some(url) = body.get("url").and_then(Value::as_str) else {
        return error(StatusCode::BAD_REQUEST, "url is required");
    };
    if let Err(why) = check_loopback(url) {
        return error(StatusCode::BAD_REQUEST, &why);
    }
    shared.lock().config.webhook_url = Some(url.to_owned());
    StatusCode::NO_CONTENT.into_response()
}
