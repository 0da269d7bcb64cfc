//! A sandbox push provider: a real HTTP server on loopback speaking the
//! subset of Firebase Cloud Messaging's HTTP v1 API the adapter speaks,
//! for tests and local use (`croupier sandbox fcm`).
//!
//! `POST /v1/projects/{project_id}/messages:send` checks the project and
//! the Bearer access token (401 `UNAUTHENTICATED`), the body (400
//! `INVALID_ARGUMENT` without a message or a token, or for a token that
//! cannot be one: empty, over 4096 bytes, or with characters outside
//! letters, digits and `-_:.`), that the token is registered (404
//! `UNREGISTERED` for one marked so), keeps the message and answers `200`
//! with its `name`. Its control side: `GET /sandbox/messages` lists what
//! it received, `POST /sandbox/faults` `{"errors": n}` makes the next n
//! sends answer 503 `UNAVAILABLE`, `POST /sandbox/unregistered`
//! `{"tokens": [...]}` marks tokens whose app was uninstalled.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use edge::sandbox::LoopbackServer;
use serde::{Deserialize, Serialize};

use super::SendRequest;

/// Most messages kept: a sandbox, not a message store.
const MESSAGES_MAX: usize = 100_000;
/// Longest registration token taken.
const TOKEN_MAX: usize = 4096;

/// A message the sandbox took.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Received {
    /// Its name (`projects/{project}/messages/{n}`).
    pub name: String,
    /// The device's registration token.
    pub token: String,
    /// The notification's title.
    pub title: String,
    /// The notification's text.
    pub body: String,
    /// The data entries.
    pub data: BTreeMap<String, String>,
}

#[derive(Default)]
struct Inner {
    messages: Vec<Received>,
    errors_left: u32,
    unregistered: BTreeSet<String>,
}

#[derive(Clone)]
struct Shared {
    project_id: Arc<str>,
    access_token: Arc<str>,
    inner: Arc<Mutex<Inner>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sandbox, serving until stopped.
pub struct Sandbox {
    server: LoopbackServer,
}

impl Sandbox {
    /// Binds `listen` (loopback) and serves `project_id`, accepting
    /// `access_token`.
    pub async fn start(project_id: &str, access_token: &str, listen: SocketAddr) -> std::io::Result<Sandbox> {
        let listener = LoopbackServer::bind("the FCM sandbox", listen).await?;
        let shared = Shared {
            project_id: project_id.into(),
            access_token: access_token.into(),
            inner: Arc::default(),
        };
        // `messages:send` is one path segment with a colon: taken whole.
        let router = axum::Router::new()
            .route("/v1/projects/{project}/{method}", post(send))
            .route("/sandbox/messages", get(messages))
            .route("/sandbox/faults", post(faults))
            .route("/sandbox/unregistered", post(unregistered))
            .with_state(shared);
        Ok(Sandbox {
            server: LoopbackServer::serve("the FCM sandbox", listener, router)?,
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

fn error(status: StatusCode, canonical: &str, fcm_code: Option<&str>, message: &str) -> Response {
    let details: Vec<serde_json::Value> = fcm_code
        .map(|code| serde_json::json!({"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}))
        .into_iter()
        .collect();
    let body = serde_json::json!({"error": {
        "code": status.as_u16(), "message": message, "status": canonical, "details": details}});
    (status, Json(body)).into_response()
}

fn token_shape(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= TOKEN_MAX
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(&b))
}

async fn send(
    State(shared): State<Shared>,
    Path((project, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if method != "messages:send" || project != *shared.project_id {
        return error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            None,
            "Requested entity was not found.",
        );
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(&*shared.access_token) {
        return error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            None,
            "Request had invalid authentication credentials.",
        );
    }
    let Ok(request) = serde_json::from_slice::<SendRequest>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            None,
            "Invalid JSON payload received.",
        );
    };
    let message = request.message;
    if !token_shape(&message.token) {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            Some("INVALID_ARGUMENT"),
            "The registration token is not a valid FCM registration token",
        );
    }
    let mut inner = shared.lock();
    if inner.errors_left > 0 {
        inner.errors_left -= 1;
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            Some("UNAVAILABLE"),
            "The service is currently unavailable.",
        );
    }
    if inner.unregistered.contains(&message.token) {
        return error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            Some("UNREGISTERED"),
            "Requested entity was not found.",
        );
    }
    if inner.messages.len() >= MESSAGES_MAX {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "RESOURCE_EXHAUSTED",
            Some("QUOTA_EXCEEDED"),
            "Quota exceeded.",
        );
    }
    let name = format!("projects/{project}/messages/{}", inner.messages.len() + 1);
    let notification = message.notification.unwrap_or(super::Notification {
        title: String::new(),
        body: String::new(),
    });
    inner.messages.push(Received {
        name: name.clone(),
        token: message.token,
        title: notification.title,
        body: notification.body,
        data: message.data,
    });
    Json(serde_json::json!({"name": name})).into_response()
}

async fn messages(State(shared): State<Shared>) -> Response {
    Json(shared.lock().messages.clone()).into_response()
}

#[derive(Deserialize)]
struct Faults {
    errors: u32,
}

async fn faults(State(shared): State<Shared>, Json(faults): Json<Faults>) -> Response {
    shared.lock().errors_left = faults.errors;
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct Unregistered {
    tokens: Vec<String>,
}

async fn unregistered(State(shared): State<Shared>, Json(request): Json<Unregistered>) -> Response {
    shared.lock().unregistered.extend(request.tokens);
    StatusCode::NO_CONTENT.into_response()
}
