//! The application: the one [`Router`] every transport serves, built from
//! the merged route table ([`crate::routes`]) over the handlers' shared
//! state ([`AppState`], from the edge), with its layers (request ids,
//! tracing, timeout, metrics, JSON errors).
//!
//! Every error is `{"error": {...}}`: handlers answer in that shape, and
//! what the router answers by itself (no such route, a method the route
//! does not take, a path parameter that does not parse) is turned into it
//! by the innermost layer ([`json_errors`]).
//!
//! Routes: `/wallet/v1/*` (aggregators, HMAC-signed), `/hub88/{aggregator}/*`
//! (Hub88's contract, RSA-signed), `/operator/v1/*` (operators, bearer
//! tokens), `/backoffice/*` (the back office's HTML pages, merged from
//! `backoffice::pages`), and `/healthz`, `/readyz`, `/metrics`, `/openapi.json`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use edge::error::ApiError;
use edge::submit::Submission;
use tower::ServiceBuilder;
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

use crate::log_limit::LogLimit;
use crate::metrics::{self, Metrics};
use crate::openapi::ApiDoc;
use crate::ops::OpenApiJson;

pub use edge::state::{AppState, Clock, Shared, system_clock};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The router with every route and layer. The metrics registry and the
/// API description (rendered once, here) reach their handlers as request
/// extensions.
pub fn router(state: AppState, metrics: Arc<Metrics>) -> Router {
    let timeout = state.config.request_timeout();
    let retry_after_s = state.config.retry_after_s;
    let openapi = OpenApiJson(edge::error::to_json(&ApiDoc::openapi()).into());
    let routes = edge::route::router(crate::routes::routes(), &state)
        .merge(backoffice::pages())
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .route_layer(axum::middleware::from_fn_with_state(metrics.clone(), metrics::track))
        .layer(Extension(metrics))
        .layer(Extension(openapi))
        .layer(axum::middleware::map_response(json_errors));
    routes.with_state(state).layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|request: &axum::http::Request<_>| {
                        let id = request
                            .headers()
                            .get(REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), id)
                    })
                    .on_failure(log_failure),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(axum::middleware::from_fn(move |request, next| {
                deadline(timeout, retry_after_s, request, next)
            })),
    )
}

/// Bounds a request's time. A request that timed out before it reached the
/// sequencer changed nothing: 408, retrying is safe (in practice, a body
/// that did not arrive). A wallet or operator change that timed out after
/// may still be applied: 503 + `Retry-After`, and the client must retry with
/// the same id to learn its outcome. No client waits longer than `timeout`,
/// whatever the sequencer or the replication group does.
async fn deadline(
    timeout: Duration,
    retry_after_s: u64,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let submission = Submission::default();
    match tokio::time::timeout(timeout, submission.track(next.run(request))).await {
        Ok(response) => response,
        Err(_) if submission.submitted() => ApiError::busy(
            "timeout",
            "the request took too long; its outcome is unknown: retry with the same id",
            retry_after_s,
        )
        .into_response(),
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request did not arrive in full within {} ms; nothing was submitted, so retrying is safe",
                timeout.as_millis()
            ),
        )
        .into_response(),
    }
}

/// Logs a request answered with a server error. A client can cause these
/// at will (a full ring answers 503), so at most one line a second, as a
/// warning: what is an error of ours (a failed commit, a response that
/// could not be signed) is logged as one where it happens.
fn log_failure(failure: ServerErrorsFailureClass, latency: Duration, _span: &tracing::Span) {
    static FAILURES: LogLimit = LogLimit::new();
    if let Some(suppressed) = FAILURES.admit() {
        tracing::warn!(
            %failure,
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
