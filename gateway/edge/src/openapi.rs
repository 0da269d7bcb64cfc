//! `/openapi.json`: the OpenAPI 3 description of every route, generated
//! from the handlers' annotations and the wire types (utoipa), so it cannot
//! drift from the code.
//!
//! Error answers are documented by cause rather than route by route: each
//! group below ([`BodyErrors`], [`BearerErrors`], [`RoleErrors`],
//! [`SignedErrors`], [`WalletRefusals`], [`LedgerErrors`],
//! [`Hub88Failures`]) is the set of statuses one step of request handling
//! can answer, and a route lists the groups of the steps it takes plus the
//! few statuses of its own. `gateway/tests/openapi_check.rs` runs
//! schemathesis against a live server to check that the result covers every
//! status and body the server actually sends.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response as ApiResponse, ResponseBuilder};
use utoipa::openapi::schema::{AnyOfBuilder, Ref};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, RefOr, Required, Schema};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, PartialSchema, ToSchema};

use crate::error::{ErrorBody, ErrorDetail, json_response, to_json};
use crate::{app, hub88, operator, reads, signature, wallet};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Croupier", description = "Native wallet API (HMAC-signed by aggregators), the Hub88-compatible wallet API (RSA-signed) and operator API (bearer tokens). Errors are {\"error\": {\"code\", \"message\"}} with a stable code (native wallet refusals recorded against a wallet add its balances); the Hub88 routes answer in Hub88's shape."),
    paths(
        wallet::authenticate, wallet::balance, wallet::bet, wallet::win, wallet::rollback, wallet::end_round,
        operator::create_operator, operator::create_aggregator, operator::create_player, operator::fund_player,
        reads::balance, reads::history, operator::set_limit, operator::self_exclude, operator::issue_session, reads::transaction,
        operator::rsa_public_key,
        hub88::user_info_route, hub88::balance_route, hub88::bet_route, hub88::win_route, hub88::rollback_route,
        app::healthz, app::readyz, app::metrics_text, serve
    ),
    components(schemas(ErrorBody, ErrorDetail, wallet::WalletRefusal, hub88::wire::Reply, HealthReply)),
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

/// The body of `/healthz` and `/readyz`.
#[derive(ToSchema)]
pub struct HealthReply {
    /// "ok" (`/healthz`), "ready" or "unavailable" (`/readyz`).
    pub status: &'static str,
}

/// The three signature headers of every native wallet request
/// ([`crate::signature`]).
pub struct SignatureHeaders;

impl IntoParams for SignatureHeaders {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let header = |name: &str, schema: RefOr<Schema>, description: &str| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Header)
                .required(Required::True)
                .schema(Some(schema))
                .description(Some(description))
                .build()
        };
        vec![
            header(signature::AGGREGATOR_HEADER, u32::schema(), "the aggregator's id"),
            header(
                signature::TIMESTAMP_HEADER,
                u64::schema(),
                "signing time, ms since the epoch, within the server's signature window",
            ),
            header(
                signature::SIGNATURE_HEADER,
                String::schema(),
                "hex HMAC-SHA256 of \"{timestamp}.{raw body}\" with the aggregator's secret",
            ),
        ]
    }
}

/// The optional `Idempotency-Key` header of an operator change
/// ([`crate::operator::IDEMPOTENCY_HEADER`]).
pub struct IdempotencyKey;

impl IntoParams for IdempotencyKey {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            ParameterBuilder::new()
                .name(operator::IDEMPOTENCY_HEADER)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .schema(Some(String::schema()))
                .description(Some(
                    "the change's id, 1–64 printable ASCII, scoped to the operator: a retry with it gets the \
                     original outcome, and the same id with another request is a conflict",
                ))
                .build(),
        ]
    }
}

/// A response whose JSON body is `schema`.
fn json(schema: impl Into<RefOr<Schema>>, description: &str) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(schema)).build())
}

fn error_body() -> Ref {
    Ref::from_schema_name("ErrorBody")
}

/// Declares an [`IntoResponses`] group: statuses, each with its body and
/// what it means.
macro_rules! responses {
    ($(#[$doc:meta])* $name:ident { $($status:literal => $body:expr, $description:literal;)+ }) => {
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<ApiResponse>> {
                BTreeMap::from([$(($status.to_string(), RefOr::T($body($description)))),+])
            }
        }
    };
}

fn error(description: &str) -> ApiResponse {
    json(error_body(), description).build()
}

/// A native wallet error: the error alone, or, for a refusal the ledger
/// recorded against the session's wallet, the error with its balances.
fn wallet_error(description: &str) -> ApiResponse {
    let schema: Schema = AnyOfBuilder::new()
        .item(Ref::from_schema_name("WalletRefusal"))
        .item(error_body())
        .build()
        .into();
    json(schema, description).build()
}

/// An answer without an outcome: `busy` and `shutting_down` carry
/// `Retry-After` (seconds).
fn unavailable(description: &str) -> ApiResponse {
    let retry_after = HeaderBuilder::new()
        .schema(u64::schema())
        .description(Some("seconds to wait before retrying (busy, shutting_down)"))
        .build();
    json(error_body(), description)
        .header("retry-after", retry_after)
        .build()
}

/// A Hub88 answer without an outcome: Hub88's shape with
/// `RS_ERROR_UNKNOWN` (ring full, stopping, commit in doubt), or the error
/// body when the request timed out or the response could not be signed.
fn hub88_failure(description: &str) -> ApiResponse {
    let schema: Schema = AnyOfBuilder::new()
        .item(Ref::from_schema_name("Reply"))
        .item(error_body())
        .build()
        .into();
    json(schema, description).build()
}

responses! {
    /// A JSON request body ([`crate::body`]): refused before anything else.
    BodyErrors {
        400 => error, "malformed_json, invalid_request (wrong shape, type or value), unknown_currency, invalid_amount, too_many_decimals, amount_overflow …";
        413 => error, "body_too_large";
        415 => error, "unsupported_media_type: the body must be application/json";
    }
}

responses! {
    /// An operator route any role may call.
    BearerErrors {
        401 => error, "missing_token or invalid_token";
    }
}

responses! {
    /// An operator route limited to some roles.
    RoleErrors {
        401 => error, "missing_token or invalid_token";
        403 => error, "forbidden: the operator's role may not do this";
    }
}

responses! {
    /// A native wallet request: signature, aggregator and game session.
    SignedErrors {
        401 => error, "missing_signature, bad_signature, bad_timestamp, stale_timestamp, unknown_aggregator, wrong_contract, unknown_token, session_expired";
    }
}

responses! {
    /// The ledger's refusals of a native wallet command, most of them with
    /// the wallet's balances.
    WalletRefusals {
        400 => wallet_error, "malformed_json, invalid_request, unknown_currency, invalid_amount, too_many_decimals, amount_overflow";
        401 => wallet_error, "missing_signature, bad_signature, bad_timestamp, stale_timestamp, unknown_aggregator, wrong_contract, unknown_token, session_expired (a bet after the session ended, with the balances)";
        403 => wallet_error, "player_blocked, limit_exceeded, kyc_required, session_mismatch";
        404 => wallet_error, "unknown_round, unknown_transaction";
        409 => wallet_error, "conflict (the transaction id was used with another request), bet_rolled_back, already_rolled_back, round_player_mismatch, wrong_transaction_kind";
    }
}

responses! {
    /// A request that goes through the sequencer (and any request that
    /// runs past the request timeout).
    LedgerErrors {
        500 => error, "commit_failed (the outcome is in doubt: retry with the same id) or internal";
        503 => unavailable, "busy, shutting_down, timeout (retry with the same id), capacity_reached";
    }
}

responses! {
    /// The Hub88 routes' answers without an outcome: Hub88 retries them
    /// with the same transaction_uuid.
    Hub88Failures {
        500 => hub88_failure, "commit in doubt (RS_ERROR_UNKNOWN), or the response could not be signed";
        503 => hub88_failure, "busy or stopping (RS_ERROR_UNKNOWN), or timeout";
    }
}

/// Serves the description.
#[utoipa::path(get, path = "/openapi.json", tag = "ops",
    responses((status = 200, description = "OpenAPI 3 document", content_type = "application/json")))]
pub async fn serve() -> Response {
    json_response(StatusCode::OK, to_json(&ApiDoc::openapi()))
}
