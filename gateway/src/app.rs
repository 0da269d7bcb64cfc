//! The application every transport serves: one [`Router`], built from
//! the merged route table ([`crate::routes`]) over the handlers' shared
//! state ([`AppState`], from the edge), inside the [`Envelope`] every
//! request passes (its request id, tracing span, timeout, JSON errors and,
//! over TCP, `Alt-Svc`), and with the metrics of each route.
//!
//! Every error is `{"error": {...}}`: handlers answer in that shape, and
//! what the router answers by itself (no such route, a method the route
//! does not take, a path parameter that does not parse) is turned into it
//! by the envelope ([`json_errors`]).
//!
//! Routes: `/wallet/v1/*` (aggregators, HMAC-signed), `/hub88/{aggregator}/*`
//! (Hub88's contract, RSA-signed), `/operator/v1/*` (operators, bearer
//! tokens), `/backoffice/*` (the back office's HTML pages, merged from
//! `backoffice::pages`), and `/healthz`, `/readyz`, `/metrics`, `/openapi.json`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use edge::error::ApiError;
use edge::submit::Submission;
use tower::Service;
use tower_http::request_id::{MakeRequestId, MakeRequestUuid};
use tracing::Instrument;

use crate::log_limit::LogLimit;
use crate::metrics::{self, Metrics};

pub use edge::state::{AppState, Clock, Shared, system_clock};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route with its metrics, without the envelope ([`Envelope::wrap`]
/// puts it around).
pub fn routes(state: AppState, metrics: Arc<Metrics>) -> Router {
    edge::route::router(crate::routes::routes(), &state)
        .merge(backoffice::pages())
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        // A route layer: only a routed request knows its route's template.
        .route_layer(axum::middleware::from_fn_with_state(metrics, metrics::track))
        .with_state(state)
}

/// `Alt-Svc: h3=":<port>"`, which tells a TCP client that it may switch to
/// HTTP/3 on that port.
pub fn alt_svc(port: u16) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("h3=\":{port}\"; ma=86400")).ok()
}

/// What every request passes on its way in and out, in one layer (one
/// future a request, where a stack of tower layers boxes and clones a
/// service for each):
/// - its id: the client's `x-request-id`, or a new UUID; echoed in the reply;
/// - a tracing span `request` with the method, path and id;
/// - its deadline ([`deadline`]);
/// - an error reply that is not JSON turned into the error shape ([`json_errors`]);
/// - a server error logged, at most a line a second ([`log_failure`]);
/// - over TCP, `Alt-Svc`.
#[derive(Clone)]
pub struct Envelope {
    inner: Router,
    settings: Arc<EnvelopeSettings>,
}

struct EnvelopeSettings {
    timeout: Duration,
    retry_after_s: u64,
    alt_svc: Option<HeaderValue>,
}

impl Envelope {
    /// `routes` inside the envelope: what the transports serve; `alt_svc`
    /// is added to every reply.
    pub fn wrap(routes: Router, state: &AppState, alt_svc: Option<HeaderValue>) -> Envelope {
        Envelope {
            inner: routes,
            settings: Arc::new(EnvelopeSettings {
                timeout: state.config.request_timeout(),
                retry_after_s: state.config.retry_after_s,
                alt_svc,
            }),
        }
    }
}

impl Service<Request> for Envelope {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // A router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let id = match request.headers().get(REQUEST_ID) {
            Some(id) => id.clone(),
            None => {
                let made = MakeRequestUuid
                    .make_request_id(&request)
                    .map(|id| id.header_value().clone());
                let id = made.unwrap_or(HeaderValue::from_static("-"));
                request.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
        };
        let span = tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            id = id.to_str().unwrap_or("-")
        );
        let mut inner = self.inner.clone();
        let settings = self.settings.clone();
        Box::pin(
            async move {
                let started = Instant::now();
                let response = deadline(&settings, inner.call(request)).await;
                let mut response = json_errors(response).await;
                if response.status().is_server_error() {
                    log_failure(response.status(), started.elapsed());
                }
                tracing::debug!(
                    status = response.status().as_u16(),
                    latency_us = started.elapsed().as_micros() as u64,
                    "finished processing request"
                );
                let headers = response.headers_mut();
                if !headers.contains_key(REQUEST_ID) {
                    headers.insert(REQUEST_ID, id);
                }
                if let Some(alt_svc) = &settings.alt_svc {
                    headers.insert(header::ALT_SVC, alt_svc.clone());
                }
                Ok(response)
            }
            .instrument(span),
        )
    }
}

/// Bounds a request's time ([`Submission::track`]): no client waits longer
/// than the timeout, whatever the sequencer or the replication group does
/// (a partner contract writing its own late answer: at most
/// [`edge::submit::LATE_ANSWER_GRACE`] more).
async fn deadline(settings: &EnvelopeSettings, routed: impl Future<Output = Result<Response, Infallible>>) -> Response {
    let submission = Submission::new(settings.timeout, settings.retry_after_s);
    match submission.track(routed).await {
        Ok(Ok(response)) => response,
        Ok(Err(never)) => match never {},
        Err(late) => late.into_response(),
    }
}

/// Logs a request answered with a server error. A client can cause these
/// at will (a full ring answers 503), so at most one line a second, as a
/// warning: what is an error of ours (a failed commit, a response that
/// could not be signed) is logged as one where it happens.
fn log_failure(status: StatusCode, latency: Duration) {
    static FAILURES: LogLimit = LogLimit::new();
    if let Some(suppressed) = FAILURES.admit() {
        tracing::warn!(
            failure = %format_args!("Status code: {status}"),
            latency_ms = latency.as_millis() as u64,
            suppressed,
            "request answered with a server error (suppressed: such lines left out in the last second)"
        );
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such route")
}

/// A route asked with a method it does not take (axum adds `Allow`).
async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("this route does not take {method}: see the allow header"),
    )
}

/// Longest text of a plain error reply kept as the error's message.
const PLAIN_ERROR_BYTES_MAX: usize = 1024;

/// Turns an error reply that is not JSON (axum's rejections: a path
/// parameter that does not parse, for one) into the error shape, keeping
/// its status, its headers (`Allow` on a 405) and its text as the message.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"text/html"));
    // An HTML error page (the back office's) is meant for a person: kept.
    if !(status.is_client_error() || status.is_server_error()) || edge::error::is_json(response.headers()) || html {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, PLAIN_ERROR_BYTES_MAX)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let body = edge::error::to_json(&ApiError::from_plain(status, &text).body());
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, axum::body::Body::from(body))
}
