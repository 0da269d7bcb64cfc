//! A sandbox Zendesk: a real HTTP server on loopback that speaks the
//! subset of Zendesk's Tickets API and webhooks the adapter speaks
//! ([`crate::zendesk`]), for tests and local use (`croupier sandbox
//! zendesk`).
//!
//! Its API side (<https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/>)
//! checks the API token (HTTP Basic, `{email}/token:{token}`), creates
//! tickets (`POST /api/v2/tickets.json`), updates them (`PUT
//! /api/v2/tickets/{id}.json`: status, priority, a comment from the
//! calling agent) and reads them (`GET /api/v2/tickets/{id}.json`, `GET
//! /api/v2/tickets.json?external_id=…`, `GET
//! /api/v2/tickets/{id}/comments.json`: every comment, public or not). Each
//! change is recorded as a ticket event (`zen:event-type:ticket.created`,
//! `status_changed`, `priority_changed`, `comment_added`) and sent,
//! signed with `X-Zendesk-Webhook-Signature` over the timestamp and body,
//! to the webhook URL (loopback only) before the request is answered.
//!
//! Its control side, under `/sandbox/`, is what the player and a flaky
//! network would do:
//! - `POST /sandbox/tickets/{id}/requester_comment` `{"body"}`: the
//!   player answers on their ticket;
//! - `GET /sandbox/events` (each with its delivery's HTTP status),
//!   `POST /sandbox/events/{n}/deliver` (send a recorded event again,
//!   freshly signed: duplicates and reordering);
//! - `PUT /sandbox/delivery` `{"deliver": bool}`: record events unsent
//!   (to deliver them later, in any order), `PUT /sandbox/webhook`
//!   `{"url"}`;
//! - `PUT /sandbox/failures` `{"count", "status", "retry_after"}`: the
//!   next `count` API calls answer `status` (503, 429, …; with
//!   `Retry-After: retry_after` seconds when given) and change nothing.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use edge::sandbox::{LoopbackServer, check_loopback};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::zendesk::{SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};

/// Milliseconds since the epoch: the sandbox's clock (tests share the
/// server's).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Most tickets and events kept: a sandbox, not a database.
const RECORDS_MAX: usize = 10_000;

/// The sandbox's credentials and where it sends webhooks.
#[derive(Clone)]
pub struct SandboxConfig {
    /// The agent's email clients authenticate as.
    pub email: String,
    /// The API token clients must present.
    pub api_token: String,
    /// The secret webhooks are signed with.
    pub webhook_secret: String,
    /// Where webhooks go (loopback only); `None` until set.
    pub webhook_url: Option<String>,
    /// The clock.
    pub clock: Clock,
}

struct Recorded {
    kind: String,
    body: Vec<u8>,
    delivered: Option<u16>,
}

/// Failures to answer the next API calls with.
#[derive(Default)]
struct Failures {
    count: u32,
    status: u16,
    retry_after: Option<u64>,
}

struct Inner {
    config: SandboxConfig,
    tickets: BTreeMap<u64, Value>,
    comments: BTreeMap<u64, Vec<Value>>,
    failures: Failures,
    events: Vec<Recorded>,
    deliver: bool,
    next_ticket: u64,
    next_comment: u64,
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
        let listener = LoopbackServer::bind("the Zendesk sandbox", listen).await?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Shared(Arc::new(Mutex::new(Inner {
            config,
            tickets: BTreeMap::new(),
            comments: BTreeMap::new(),
            failures: Failures::default(),
            events: Vec::new(),
            deliver: true,
            next_ticket: 35_436,
            next_comment: 1,
            http,
        })));
        let router = axum::Router::new()
            .route("/api/v2/tickets.json", post(create_ticket).get(list_tickets))
            .route("/api/v2/tickets/{id}", get(get_ticket).put(update_ticket))
            .route("/api/v2/tickets/{id}/comments.json", get(list_comments))
            .route("/sandbox/tickets/{id}/requester_comment", post(requester_comment))
            .route("/sandbox/events", get(events))
            .route("/sandbox/events/{n}/deliver", post(deliver))
            .route("/sandbox/delivery", put(set_delivery))
            .route("/sandbox/webhook", put(set_webhook))
            .route("/sandbox/failures", put(set_failures))
            .with_state(shared);
        Ok(Sandbox {
            server: LoopbackServer::serve("the Zendesk sandbox", listener, router)?,
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

/// Zendesk's error answer.
fn error(status: StatusCode, kind: &str, description: &str) -> Response {
    (status, Json(json!({"error": kind, "description": description}))).into_response()
}

/// The `Authorization` header of Zendesk's API token authentication:
/// HTTP Basic with `{email}/token` as the user and the token as the
/// password.
pub fn basic_auth(email: &str, api_token: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{email}/token:{api_token}")))
}

/// The HTTP Basic credentials a client must present.
fn authorized(inner: &Inner, headers: &HeaderMap) -> bool {
    let wanted = format!("{}/token:{}", inner.config.email, inner.config.api_token);
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| STANDARD.decode(v.trim()).ok())
        .is_some_and(|given| given == wanted.as_bytes())
}

/// The answer to an API call before it is served: 401 without the
/// credentials, or the next injected failure.
fn refused(inner: &mut Inner, headers: &HeaderMap) -> Option<Response> {
    if !authorized(inner, headers) {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "Couldn't authenticate you",
            "bad API token",
        ));
    }
    if inner.failures.count == 0 {
        return None;
    }
    inner.failures.count -= 1;
    let status = StatusCode::from_u16(inner.failures.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut response = error(status, "SandboxFailure", "an injected failure");
    if let Some(after) = inner.failures.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, after.into());
    }
    Some(response)
}

/// RFC 3339 of `ms` (UTC, whole seconds, as Zendesk writes times).
fn rfc3339(ms: u64) -> String {
    let time =
        time::OffsetDateTime::from_unix_timestamp((ms / 1_000) as i64).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    time.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// Records an event about `ticket` (sent by [`flush`] unless delivery is off).
fn record(inner: &mut Inner, kind: &str, ticket: &Value, change: Value) -> Option<usize> {
    if inner.events.len() >= RECORDS_MAX {
        return None;
    }
    let now = rfc3339((inner.config.clock)());
    let n = inner.events.len();
    let id = ticket["id"].as_u64().unwrap_or(0);
    let event = json!({
        "type": format!("zen:event-type:ticket.{kind}"),
        "account_id": 1,
        "id": format!("sandbox-event-{}", n + 1),
        "time": now,
        "zendesk_event_version": "2022-11-06",
        "subject": format!("zen:ticket:{id}"),
        "detail": {
            "id": id.to_string(),
            "subject": ticket["subject"],
            "status": ticket["status"].as_str().map(str::to_ascii_uppercase),
            "priority": ticket["priority"].as_str().map(str::to_ascii_uppercase),
            "external_id": ticket["external_id"],
            "created_at": ticket["created_at"],
            "updated_at": now,
        },
        "event": change,
    });
    inner.events.push(Recorded {
        kind: kind.to_owned(),
        body: serde_json::to_vec(&event).unwrap_or_default(),
        delivered: None,
    });
    inner.deliver.then_some(n)
}

/// Sends recorded events `ns` in order, signed now; notes each's status.
async fn flush(shared: &Shared, ns: Vec<usize>) {
    for n in ns {
        let request = {
            let inner = shared.lock();
            let (Some(url), Some(event)) = (inner.config.webhook_url.clone(), inner.events.get(n)) else {
                return;
            };
            let timestamp = rfc3339((inner.config.clock)());
            let signed = signature(&inner.config.webhook_secret, &timestamp, &event.body);
            inner
                .http
                .post(url)
                .header(header::CONTENT_TYPE, "application/json")
                .header(SIGNATURE_HEADER, signed)
                .header(TIMESTAMP_HEADER, timestamp)
                .body(event.body.clone())
        };
        let status = match request.send().await {
            Ok(response) => response.status().as_u16(),
            Err(error) => {
                tracing::warn!(%error, "the Zendesk sandbox could not deliver an event");
                0
            }
        };
        if let Some(event) = shared.lock().events.get_mut(n) {
            event.delivered = Some(status);
        }
    }
}

#[derive(Deserialize)]
struct TicketBody {
    ticket: TicketFields,
}

#[derive(Deserialize)]
struct TicketFields {
    subject: Option<String>,
    status: Option<String>,
    priority: Option<String>,
    external_id: Option<String>,
    comment: Option<CommentFields>,
}

#[derive(Deserialize)]
struct CommentFields {
    body: String,
    #[serde(default = "public_default")]
    public: bool,
}

fn public_default() -> bool {
    true
}

const STATUSES: &[&str] = &["new", "open", "pending", "hold", "solved", "closed"];
const PRIORITIES: &[&str] = &["low", "normal", "high", "urgent"];

fn comment_event(inner: &mut Inner, ticket: &Value, body: &str, public: bool, staff: bool) -> Option<usize> {
    let id = inner.next_comment;
    inner.next_comment += 1;
    let author = if staff {
        json!({"id": "1", "is_staff": true, "name": inner.config.email})
    } else {
        json!({"id": "2", "is_staff": false, "name": "Requester"})
    };
    if let Some(ticket) = ticket["id"].as_u64() {
        let comment = json!({"id": id, "body": body, "public": public, "author_id": if staff { 1 } else { 2 }});
        inner.comments.entry(ticket).or_default().push(comment);
    }
    let change = json!({"comment": {"id": id.to_string(), "body": body, "is_public": public, "author": author}});
    record(inner, "comment_added", ticket, change)
}

async fn create_ticket(State(shared): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let (ticket, sends) = {
        let mut inner = shared.lock();
        if let Some(refused) = refused(&mut inner, &headers) {
            return refused;
        }
        let Ok(request) = serde_json::from_slice::<TicketBody>(&body) else {
            return error(StatusCode::BAD_REQUEST, "InvalidEndpoint", "a {\"ticket\": {...}} body");
        };
        let fields = request.ticket;
        let priority = fields.priority.unwrap_or_else(|| "normal".into());
        let status = fields.status.unwrap_or_else(|| "new".into());
        let valid = PRIORITIES.contains(&priority.as_str()) && STATUSES.contains(&status.as_str());
        if !valid || inner.tickets.len() >= RECORDS_MAX {
            return error(StatusCode::UNPROCESSABLE_ENTITY, "RecordInvalid", "status or priority");
        }
        let id = inner.next_ticket;
        inner.next_ticket += 1;
        let now = rfc3339((inner.config.clock)());
        let ticket = json!({
            "id": id,
            "subject": fields.subject.unwrap_or_else(|| "(no subject)".into()),
            "status": status,
            "priority": priority,
            "external_id": fields.external_id,
            "created_at": now,
            "updated_at": now,
        });
        inner.tickets.insert(id, ticket.clone());
        let mut sends: Vec<usize> = record(
            &mut inner,
            "created",
            &ticket,
            json!({"current": {"status": status.to_ascii_uppercase()}}),
        )
        .into_iter()
        .collect();
        if let Some(comment) = fields.comment {
            // The first comment is the requester's description; a private
            // one is the calling agent's note.
            let public = comment.public;
            sends.extend(comment_event(&mut inner, &ticket, &comment.body, public, !public));
        }
        (ticket, sends)
    };
    flush(&shared, sends).await;
    (StatusCode::CREATED, Json(json!({"ticket": ticket}))).into_response()
}

fn ticket_id(text: &str) -> Option<u64> {
    text.strip_suffix(".json").unwrap_or(text).parse().ok()
}

async fn get_ticket(State(shared): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let mut inner = shared.lock();
    if let Some(refused) = refused(&mut inner, &headers) {
        return refused;
    }
    match ticket_id(&id).and_then(|id| inner.tickets.get(&id)) {
        Some(ticket) => Json(json!({"ticket": ticket})).into_response(),
        None => error(StatusCode::NOT_FOUND, "RecordNotFound", "Not found"),
    }
}

async fn update_ticket(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let (ticket, sends) = {
        let mut inner = shared.lock();
        if let Some(refused) = refused(&mut inner, &headers) {
            return refused;
        }
        let Ok(request) = serde_json::from_slice::<TicketBody>(&body) else {
            return error(StatusCode::BAD_REQUEST, "InvalidEndpoint", "a {\"ticket\": {...}} body");
        };
        let Some(mut ticket) = ticket_id(&id).and_then(|id| inner.tickets.get(&id).cloned()) else {
            return error(StatusCode::NOT_FOUND, "RecordNotFound", "Not found");
        };
        if ticket["status"] == "closed" {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "RecordInvalid",
                "closed tickets cannot be updated",
            );
        }
        let fields = request.ticket;
        let valid = fields.status.as_deref().is_none_or(|s| STATUSES.contains(&s))
            && fields.priority.as_deref().is_none_or(|p| PRIORITIES.contains(&p));
        if !valid {
            return error(StatusCode::UNPROCESSABLE_ENTITY, "RecordInvalid", "status or priority");
        }
        let mut sends = Vec::new();
        if let Some(status) = fields.status.filter(|s| ticket["status"] != s.as_str()) {
            let previous = ticket["status"].as_str().unwrap_or("").to_ascii_uppercase();
            ticket["status"] = json!(status);
            let change = json!({"current": status.to_ascii_uppercase(), "previous": previous});
            sends.extend(record(&mut inner, "status_changed", &ticket, change));
        }
        if let Some(priority) = fields.priority.filter(|p| ticket["priority"] != p.as_str()) {
            let previous = ticket["priority"].as_str().unwrap_or("").to_ascii_uppercase();
            ticket["priority"] = json!(priority);
            let change = json!({"current": priority.to_ascii_uppercase(), "previous": previous});
            sends.extend(record(&mut inner, "priority_changed", &ticket, change));
        }
        if let Some(comment) = fields.comment {
            sends.extend(comment_event(&mut inner, &ticket, &comment.body, comment.public, true));
        }
        ticket["updated_at"] = json!(rfc3339((inner.config.clock)()));
        if let Some(id) = ticket["id"].as_u64() {
            inner.tickets.insert(id, ticket.clone());
        }
        (ticket, sends)
    };
    flush(&shared, sends).await;
    Json(json!({"ticket": ticket})).into_response()
}

#[derive(Deserialize)]
struct ExternalIdQuery {
    external_id: Option<String>,
}

/// Tickets, filtered by `external_id` when given (List Tickets).
async fn list_tickets(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<ExternalIdQuery>,
) -> Response {
    let mut inner = shared.lock();
    if let Some(refused) = refused(&mut inner, &headers) {
        return refused;
    }
    let tickets: Vec<&Value> = inner
        .tickets
        .values()
        .filter(|t| query.external_id.as_deref().is_none_or(|e| t["external_id"] == e))
        .collect();
    Json(json!({"tickets": tickets, "count": tickets.len()})).into_response()
}

/// A ticket's comments, oldest first (List Comments).
async fn list_comments(State(shared): State<Shared>, headers: HeaderMap, Path(id): Path<u64>) -> Response {
    let mut inner = shared.lock();
    if let Some(refused) = refused(&mut inner, &headers) {
        return refused;
    }
    if !inner.tickets.contains_key(&id) {
        return error(StatusCode::NOT_FOUND, "RecordNotFound", "Not found");
    }
    let comments = inner.comments.get(&id).cloned().unwrap_or_default();
    Json(json!({"comments": comments, "count": comments.len()})).into_response()
}

#[derive(Deserialize)]
struct FailuresRequest {
    count: u32,
    status: u16,
    retry_after: Option<u64>,
}

async fn set_failures(State(shared): State<Shared>, Json(request): Json<FailuresRequest>) -> Response {
    if !(400..600).contains(&request.status) {
        return error(StatusCode::BAD_REQUEST, "InvalidValue", "status: 400 to 599");
    }
    shared.lock().failures = Failures {
        count: request.count,
        status: request.status,
        retry_after: request.retry_after,
    };
    Json(json!({"count": request.count, "status": request.status})).into_response()
}

#[derive(Deserialize)]
struct RequesterComment {
    body: String,
}

async fn requester_comment(
    State(shared): State<Shared>,
    Path(id): Path<u64>,
    Json(request): Json<RequesterComment>,
) -> Response {
    let sends = {
        let mut inner = shared.lock();
        let Some(ticket) = inner.tickets.get(&id).cloned() else {
            return error(StatusCode::NOT_FOUND, "RecordNotFound", "Not found");
        };
        comment_event(&mut inner, &ticket, &request.body, true, false)
    };
    flush(&shared, sends.into_iter().collect()).await;
    Json(json!({"recorded": true})).into_response()
}

async fn events(State(shared): State<Shared>) -> Response {
    let inner = shared.lock();
    let list: Vec<Value> = inner
        .events
        .iter()
        .enumerate()
        .map(|(n, e)| {
            let body: Value = serde_json::from_slice(&e.body).unwrap_or(Value::Null);
            json!({"n": n, "type": e.kind, "id": body["id"], "delivered": e.delivered, "event": body})
        })
        .collect();
    Json(json!({"events": list})).into_response()
}

async fn deliver(State(shared): State<Shared>, Path(n): Path<usize>) -> Response {
    if shared.lock().events.get(n).is_none() {
        return error(StatusCode::NOT_FOUND, "RecordNotFound", "no such event");
    }
    flush(&shared, vec![n]).await;
    let delivered = shared.lock().events.get(n).and_then(|e| e.delivered);
    Json(json!({"n": n, "delivered": delivered})).into_response()
}

#[derive(Deserialize)]
struct Delivery {
    deliver: bool,
}

async fn set_delivery(State(shared): State<Shared>, Json(request): Json<Delivery>) -> Response {
    shared.lock().deliver = request.deliver;
    Json(json!({"deliver": request.deliver})).into_response()
}

#[derive(Deserialize)]
struct Webhook {
    url: String,
}

async fn set_webhook(State(shared): State<Shared>, Json(request): Json<Webhook>) -> Response {
    if let Err(message) = check_loopback(&request.url) {
        return error(StatusCode::BAD_REQUEST, "InvalidValue", &message);
    }
    shared.lock().config.webhook_url = Some(request.url.clone());
    Json(json!({"url": request.url})).into_response()
}
