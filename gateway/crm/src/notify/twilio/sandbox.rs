//! A sandbox SMS provider: a real HTTP server on loopback speaking the
//! subset of Twilio's Programmable Messaging API the adapter speaks, for
//! tests and local use (`croupier sandbox twilio`).
//!
//! `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` checks HTTP
//! Basic (the path's Account SID and the Auth Token: 401, error 20003),
//! the form (`To`, `Body`, and `From` or `MessagingServiceSid`: 400,
//! 21604/21602/21603), that `To` is E.164 (400, 21211) and not
//! unsubscribed (400, 21610); keeps the message and answers `201` with
//! it (`sid` `SM…`, `status` `queued`). Its control side: `GET
//! /sandbox/messages` lists what it received, `POST /sandbox/faults`
//! `{"errors": n}` makes the next n sends answer 503, `POST
//! /sandbox/unsubscribed` `{"numbers": [...]}` marks numbers that replied
//! STOP.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use edge::sandbox::LoopbackServer;
use serde::{Deserialize, Serialize};

use super::{INVALID_TO, UNSUBSCRIBED, is_e164};

/// Most messages kept: a sandbox, not a message store.
const MESSAGES_MAX: usize = 100_000;

/// A message the sandbox took.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Received {
    /// Its SID (`SM…`).
    pub sid: String,
    /// The account it was sent on.
    pub account_sid: String,
    /// The recipient.
    pub to: String,
    /// The sender: the `From` or the `MessagingServiceSid`.
    pub from: String,
    /// The text.
    pub body: String,
}

#[derive(Default)]
struct Inner {
    messages: Vec<Received>,
    errors_left: u32,
    unsubscribed: BTreeSet<String>,
}

#[derive(Clone)]
struct Shared {
    account_sid: Arc<str>,
    auth_token: Arc<str>,
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
    /// Binds `listen` (loopback) and serves, accepting `account_sid` with
    /// `auth_token`.
    pub async fn start(account_sid: &str, auth_token: &str, listen: SocketAddr) -> std::io::Result<Sandbox> {
        let listener = LoopbackServer::bind("the Twilio sandbox", listen).await?;
        let shared = Shared {
            account_sid: account_sid.into(),
            auth_token: auth_token.into(),
            inner: Arc::default(),
        };
        let router = axum::Router::new()
            .route("/2010-04-01/Accounts/{account}/Messages.json", post(send))
            .route("/sandbox/messages", get(messages))
            .route("/sandbox/faults", post(faults))
            .route("/sandbox/unsubscribed", post(unsubscribed))
            .with_state(shared);
        Ok(Sandbox {
            server: LoopbackServer::serve("the Twilio sandbox", listener, router)?,
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

fn error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = serde_json::json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    (status, Json(body)).into_response()
}

async fn send(
    State(shared): State<Shared>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", shared.account_sid, shared.auth_token))
    );
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    if authorization != Some(expected.as_str()) || account != *shared.account_sid {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let mut to = None;
    let mut from = None;
    let mut text = None;
    for (name, value) in form_urlencoded::parse(&body) {
        match &*name {
            "To" => to = Some(value.into_owned()),
            "From" | "MessagingServiceSid" => from = Some(value.into_owned()),
            "Body" => text = Some(value.into_owned()),
            _ => {}
        }
    }
    let Some(to) = to.filter(|t| !t.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, 21604, "A 'To' phone number is required.");
    };
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
    };
    let Some(from) = from.filter(|f| !f.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, 21603, "A 'From' phone number is required.");
    };
    let mut inner = shared.lock();
    if inner.errors_left > 0 {
        inner.errors_left -= 1;
        return error(StatusCode::SERVICE_UNAVAILABLE, 20500, "Service Unavailable");
    }
    if !is_e164(&to) {
        return error(
            StatusCode::BAD_REQUEST,
            INVALID_TO,
            &format!("The 'To' number {to} is not a valid phone number."),
        );
    }
    if inner.unsubscribed.contains(&to) {
        return error(
            StatusCode::BAD_REQUEST,
            UNSUBSCRIBED,
            "Attempt to send to unsubscribed recipient",
        );
    }
    if inner.messages.len() >= MESSAGES_MAX {
        return error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
    }
    let sid = format!("SM{:032x}", inner.messages.len() + 1);
    let received = Received {
        sid: sid.clone(),
        account_sid: account,
        to,
        from,
        body: text,
    };
    let answer = serde_json::json!({
        "sid": sid,
        "account_sid": received.account_sid,
        "to": received.to,
        "from": received.from,
        "body": received.body,
        "status": "queued",
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "error_code": null,
        "error_message": null,
        "uri": format!("/2010-04-01/Accounts/{}/Messages/{sid}.json", received.account_sid),
    });
    inner.messages.push(received);
    (StatusCode::CREATED, Json(answer)).into_response()
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
struct Unsubscribed {
    numbers: Vec<String>,
}

async fn unsubscribed(State(shared): State<Shared>, Json(request): Json<Unsubscribed>) -> Response {
    shared.lock().unsubscribed.extend(request.numbers);
    StatusCode::NO_CONTENT.into_response()
}
