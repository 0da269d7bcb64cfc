//! The server's own routes, for whoever runs it: liveness (`/healthz`),
//! readiness (`/readyz`), Prometheus metrics (`/metrics`) and the API
//! description (`/openapi.json`).
//!
//! The metrics registry and the rendered description belong to the server:
//! it puts them among the modules' start-up state (`AppState::modules`),
//! where only these handlers look for them.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use edge::AppState;
use edge::error::{ApiError, json_response};
use edge::route::{Access, Route, route};
use utoipa::ToSchema;

use crate::metrics::Metrics;

/// The body of `/healthz` and `/readyz`.
#[derive(ToSchema)]
pub struct HealthReply {
    /// "ok" (`/healthz`), "ready" or "unavailable" (`/readyz`).
    pub status: &'static str,
}

/// The API description as served, rendered once at start-up.
#[derive(Clone)]
pub struct OpenApiJson(pub Arc<[u8]>);

/// The server's own routes: anyone may call them.
pub fn routes() -> Vec<Route> {
    use Access::Public;
    vec![
        route::<__path_healthz, _>(Public, healthz),
        route::<__path_readyz, _>(Public, readyz),
        route::<__path_metrics_text, _>(Public, metrics_text),
        route::<__path_openapi_json, _>(Public, openapi_json),
    ]
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "alive", body = HealthReply)))]
pub async fn healthz() -> Response {
    json_response(StatusCode::OK, br#"{"status":"ok"}"#.to_vec())
}

/// Readiness: the ledger is recovered and the sequencer takes requests.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, description = "ready", body = HealthReply),
    (status = 503, description = "starting or stopping", body = HealthReply)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.ready.load(Ordering::SeqCst) {
        json_response(StatusCode::OK, br#"{"status":"ready"}"#.to_vec())
    } else {
        json_response(StatusCode::SERVICE_UNAVAILABLE, br#"{"status":"unavailable"}"#.to_vec())
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses(
    (status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
pub async fn metrics_text(State(state): State<AppState>) -> Response {
    let Some(metrics) = state.modules.get::<Arc<Metrics>>() else {
        return ApiError::internal("the server started without its metrics registry").into_response();
    };
    let mut text = metrics.render(
        state.engine.handle().as_ref(),
        state.durable.get(),
        state.readmodel.applied_seq(),
        state.readmodel.commits(),
    );
    text.push_str(&payments::metrics::render(&state).await);
    text.push_str(&risk::metrics::render(&state).await);
    text.push_str(&games::jackpots::metrics(&state.view.read()));
    if let Some(exporter) = state.modules.get::<export::Exporter>() {
        text.push_str(&exporter.render_metrics());
    }
    text.push_str(&games::performance::metrics(&state).await);
    if let Some(cluster) = state.modules.get::<crate::cluster::ClusterHandle>() {
        text.push_str(&crate::cluster::routes::render_metrics(cluster));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Serves the description.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", operation_id = "serve",
    responses((status = 200, description = "OpenAPI 3 document", content_type = "application/json")))]
pub async fn openapi_json(State(state): State<AppState>) -> Response {
    match state.modules.get::<OpenApiJson>() {
        Some(OpenApiJson(json)) => json_response(StatusCode::OK, json.to_vec()),
        None => ApiError::internal("the server started without its API description").into_response(),
    }
}
