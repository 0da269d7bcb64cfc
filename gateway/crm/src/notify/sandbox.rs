//! A sandbox email provider: a real HTTP server on loopback that speaks
//! the subset of SendGrid's v3 Mail Send API the adapter speaks, for tests
//! and local use (`croupier sandbox sendgrid`).
//!
//! `POST /v3/mail/send` checks the Bearer API key (401 otherwise), the
//! body (400 without a recipient, a sender or content), keeps the message
//! and answers `202 Accepted` with `X-Message-Id`. Its control side:
//! `GET /sandbox/messages` lists what it received, `POST /sandbox/faults`
//! `{"errors": n}` makes the next n sends answer 503.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use edge::sandbox::LoopbackServer;
use serde::{Deserialize, Serialize};

use super::{KEY_ARG, MESSAGE_ID_HEADER, MailSend};

/// Most messages kept: a sandbox, not a mail store.
const MESSAGES_MAX: usize = 100_000;

/// A message the sandbox took.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Received {
    /// Its id.
    pub id: String,
    /// The recipient.
    pub to: String,
    /// The sender.
    pub from: String,
    /// The subject.
    pub subject: String,
    /// The campaign and player (`custom_args`).
    pub key: Option<String>,
}

#[derive(Default)]
struct Inner {
    messages: Vec<Received>,
    errors_left: u32,
}

#[derive(Clone)]
struct Shared {
    api_key: Arc<str>,
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
    /// Binds `listen` (loopback) and serves, accepting `api_key`.
    pub async fn start(api_key: &str, listen: SocketAddr) -> std::io::Result<Sandbox> {
        let listener = LoopbackServer::bind("the SendGrid sandbox", listen).await?;
        let shared = Shared {
            api_key: api_key.into(),
            inner: Arc::default(),
        };
        let router = axum::Router::new()
            .route("/v3/mail/send", post(send))
            .route("/sandbox/messages", get(messages))
            .route("/sandbox/faults", post(faults))
            .with_state(shared);
        Ok(Sandbox {
            server: LoopbackServer::serve("the SendGrid sandbox", listener, router)?,
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

fn error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"message": message, "field": null}]});
    (status, Json(body)).into_response()
}

async fn send(State(shared): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(&*shared.api_key) {
        return error(StatusCode::UNAUTHORIZED, "The provided authorization grant is invalid");
    }
    let Ok(mail) = serde_json::from_slice::<MailSend>(&body) else {
        return error(StatusCode::BAD_REQUEST, "Bad Request");
    };
    let Some(personalization) = mail.personalizations.first() else {
        return error(StatusCode::BAD_REQUEST, "You must have at least one personalization.");
    };
    let Some(to) = personalization.to.first() else {
        return error(StatusCode::BAD_REQUEST, "You must have at least one recipient.");
    };
    if mail.from.email.is_empty() || mail.content.is_empty() {
        return error(StatusCode::BAD_REQUEST, "The from address and content are required.");
    }
    let mut inner = shared.lock();
    if inner.errors_left > 0 {
        inner.errors_left -= 1;
        return error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
    }
    if inner.messages.len() >= MESSAGES_MAX {
        return error(StatusCode::TOO_MANY_REQUESTS, "too many messages kept");
    }
    let id = format!("sandbox-{}", inner.messages.len() + 1);
    inner.messages.push(Received {
        id: id.clone(),
        to: to.email.clone(),
        from: mail.from.email.clone(),
        subject: mail.subject.clone(),
        key: personalization.custom_args.get(KEY_ARG).cloned(),
    });
    (StatusCode::ACCEPTED, [(MESSAGE_ID_HEADER, id)]).into_response()
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
