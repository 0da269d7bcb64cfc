//! `/openapi.json`: the OpenAPI 3 description of every route, generated
//! from the handlers' annotations and the wire types (utoipa), so it cannot
//! drift from the code.

use axum::http::StatusCode;
use axum::response::Response;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorDetail, json_response, to_json};
use crate::{app, operator, wallet};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Croupier", description = "Native wallet API (signed by aggregators) and operator API (bearer tokens)."),
    paths(
        wallet::authenticate, wallet::balance, wallet::bet, wallet::win, wallet::rollback, wallet::end_round,
        operator::create_operator, operator::create_aggregator, operator::create_player, operator::fund_player,
        operator::balance, operator::set_limit, operator::self_exclude, operator::issue_session, operator::transaction,
        app::healthz, app::readyz, app::metrics_text, serve
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&Security),
    tags(
        (name = "wallet", description = "For aggregators: HMAC-SHA256 over \"{timestamp}.{body}\" with the aggregator's secret, hex in x-croupier-signature; x-croupier-aggregator and x-croupier-timestamp (ms) beside it."),
        (name = "operator", description = "For operators: Authorization: Bearer <token>; roles per route."),
        (name = "ops", description = "Health, readiness, metrics.")
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-croupier-signature"))),
        );
    }
}

/// Serves the description.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, description = "OpenAPI 3 document")))]
pub async fn serve() -> Response {
    json_response(StatusCode::OK, to_json(&ApiDoc::openapi()))
}
