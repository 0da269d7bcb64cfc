//! The application: shared state and the one [`Router`] every transport
//! serves, with its layers (request ids, tracing, timeout, metrics).
//!
//! Routes: `/wallet/v1/*` (aggregators, HMAC-signed), `/hub88/{aggregator}/*`
//! (Hub88's contract, RSA-signed), `/operator/v1/*` (operators, bearer
//! tokens), and `/healthz`, `/readyz`, `/metrics`, `/openapi.json`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::ServeConfig;
use crate::metrics::Metrics;
use crate::projection::SharedView;
use crate::rsa_signature::RsaSigner;
use crate::submit::Engine;
use crate::{hub88, metrics, openapi, operator, wallet};

/// Milliseconds since the epoch. The server reads time only through this
/// (the sequencer included), so tests can move it.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The operating system's clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    })
}

/// What every handler can reach.
pub struct Shared {
    /// The sequencer.
    pub engine: Engine,
    /// The read copy of access state.
    pub view: SharedView,
    /// The server's configuration.
    pub config: ServeConfig,
    /// The ledger's configuration.
    pub ledger_config: engine::Config,
    /// Metrics registry.
    pub metrics: Arc<Metrics>,
    /// The operator's RSA key: signs the responses of RSA contracts (Hub88).
    pub rsa_signer: Arc<RsaSigner>,
    /// The clock.
    pub clock: Clock,
    /// True between start-up and the beginning of shutdown.
    pub ready: AtomicBool,
}

/// Handler state: cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Now, by the server's clock.
    pub fn now_ms(&self) -> u64 {
        (self.clock)()
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The router with every route and layer.
pub fn router(state: AppState) -> Router {
    let timeout = state.config.request_timeout();
    let routes = Router::new()
        .route("/wallet/v1/authenticate", post(wallet::authenticate))
        .route("/wallet/v1/balance", post(wallet::balance))
        .route("/wallet/v1/bet", post(wallet::bet))
        .route("/wallet/v1/win", post(wallet::win))
        .route("/wallet/v1/rollback", post(wallet::rollback))
        .route("/wallet/v1/end-round", post(wallet::end_round))
        .route("/operator/v1/operators", post(operator::create_operator))
        .route("/operator/v1/aggregators", post(operator::create_aggregator))
        .route("/operator/v1/players", post(operator::create_player))
        .route("/operator/v1/players/{player}/deposits", post(operator::fund_player))
        .route("/operator/v1/players/{player}/balance", get(operator::balance))
        .route("/operator/v1/players/{player}/limits", put(operator::set_limit))
        .route(
            "/operator/v1/players/{player}/self-exclusion",
            post(operator::self_exclude),
        )
        .route("/operator/v1/sessions", post(operator::issue_session))
        .route("/operator/v1/transactions/{source}/{id}", get(operator::transaction))
        .route("/operator/v1/hub88/public-key", get(operator::rsa_public_key))
        .route("/hub88/{aggregator}/user/info", post(hub88::user_info_route))
        .route("/hub88/{aggregator}/user/balance", post(hub88::balance_route))
        .route("/hub88/{aggregator}/transaction/bet", post(hub88::bet_route))
        .route("/hub88/{aggregator}/transaction/win", post(hub88::win_route))
        .route("/hub88/{aggregator}/transaction/rollback", post(hub88::rollback_route))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi::serve))
        .fallback(not_found)
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track));
    routes.with_state(state).layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                    let id = request
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), id)
                }),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(axum::middleware::from_fn(move |request, next| {
                deadline(timeout, request, next)
            })),
    )
}

/// Bounds a request's time. A wallet or operator change that timed out may
/// still be applied: the client must retry with the same id to learn its outcome.
async fn deadline(
    timeout: std::time::Duration,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => crate::error::ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took too long; its outcome is unknown: retry with the same id",
        )
        .into_response(),
    }
}

async fn not_found() -> crate::error::ApiError {
    crate::error::ApiError::not_found("not_found", "no such route")
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "alive", body = crate::openapi::HealthReply)))]
pub async fn healthz() -> Response {
    crate::error::json_response(StatusCode::OK, br#"{"status":"ok"}"#.to_vec())
}

/// Readiness: the ledger is recovered and the sequencer takes requests.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, description = "ready", body = crate::openapi::HealthReply),
    (status = 503, description = "starting or stopping", body = crate::openapi::HealthReply)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.ready.load(Ordering::SeqCst) {
        crate::error::json_response(StatusCode::OK, br#"{"status":"ready"}"#.to_vec())
    } else {
        crate::error::json_response(StatusCode::SERVICE_UNAVAILABLE, br#"{"status":"unavailable"}"#.to_vec())
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses(
    (status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
pub async fn metrics_text(State(state): State<AppState>) -> Response {
    let text = state.metrics.render(state.engine.handle());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
