//! `/openapi.json`: the OpenAPI 3 description of every route, generated
//! from the handlers' annotations and the wire types (utoipa), so it cannot
//! drift from the code.

use axum::http::StatusCode;
use axum::response::Response;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorDetail, json_response, to_json};
use crate::{app, hub88, operator, wallet};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Croupier", description = "Native wallet API (HMAC-signed by aggregators), the Hub88-compatible wallet API (RSA-signed) and operator API (bearer tokens)."),
    paths(
        wallet::authenticate, wallet::balance, wallet::bet, wallet::win, wallet::rollback, wallet::end_round,
        operator::create_operator, operator::create_aggregator, operator::create_player, operator::fund_player,
        operator::balance, operator::set_limit, operator::self_exclude, operator::issue_session, operator::transaction,
        operator::rsa_public_key,
        hub88::user_info_route, hub88::balance_route, hub88::bet_route, hub88::win_route, hub88::rollback_route,
        app::healthz, app::readyz, app::metrics_text, serve
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&Security),
    tags(
        (name = "wallet", description = "For aggregators: HMAC-SHA256 over \"{timestamp}.{body}\" with the aggregator's secret, hex in x-croupier-signature; x-croupier-aggregator and x-croupier-timestamp (ms) beside it."),
        (name = "hub88", description = "Hub88's seamless-wallet contract for aggregators registered with an RSA public key: base URL /hub88/{aggregator}; x-hub88-signature is the base64 RSA-SHA256 (PKCS#1 v1.5) of the raw body with the aggregator's key, and responses are signed with the operator's key (GET /operator/v1/hub88/public-key). Amounts are integers in 1/100,000 of the currency; answers are HTTP 200 with a status."),
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
