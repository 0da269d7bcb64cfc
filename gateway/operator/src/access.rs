//! Who may use the server: operators (with a role and a bearer token shown
//! once), aggregators (an HMAC secret shown once, or an RSA public key for
//! an RSA contract such as Hub88), and the operator's RSA public key that
//! RSA aggregators verify our responses with.
//!
//! Creating a token or a secret is not retryable: the secret is shown once,
//! and a retry under the same `Idempotency-Key`, carrying a new one, is a
//! conflict.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use edge::body::{JsonBody, decode};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BearerErrors, BodyErrors, LedgerErrors, RoleErrors};
use edge::{AppState, Caller, tokens};
use engine::{AggregatorCredential, Command, Currency, HashKey, Outcome, Role, access};
use protocol::rsa_signature;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::shared::{IdempotencyKey, name, ok, refusal, request_id};

/// A new operator.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOperatorRequest {
    /// Display name, unique.
    pub name: String,
    /// admin, finance, compliance, support or read-only.
    pub role: String,
}

/// The created operator and its bearer token (shown once).
#[derive(Serialize, ToSchema)]
pub struct OperatorReply {
    /// Operator id.
    pub operator: u32,
    /// Its role.
    pub role: &'static str,
    /// Its bearer token.
    pub token: String,
}

/// Creates an operator (admins).
#[utoipa::path(post, path = "/operator/v1/operators", tag = "operator", request_body = CreateOperatorRequest,
    params(IdempotencyKey), security(("bearer" = [])),
    responses((status = 201, body = OperatorReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 409, body = ErrorBody, description = "name_taken, token_taken, conflict (Idempotency-Key reused)")))]
pub async fn create_operator(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: CreateOperatorRequest = decode(&body)?;
    let role = Role::from_name(&request.role)
        .ok_or_else(|| ApiError::bad_request("invalid_request", format!("unknown role {:?}", request.role)))?;
    let token = tokens::new_token(tokens::OPERATOR_PREFIX).map_err(ApiError::internal)?;
    let command = Command::Access(access::Command::CreateOperator {
        token: tokens::digest(&token),
        role,
        name: name(&request.name)?,
        operator: caller.id,
    });
    match caller.submit(&state, request_id(&headers)?, command).await? {
        Outcome::OperatorCreated { operator, .. } => ok(
            StatusCode::CREATED,
            &OperatorReply {
                operator: operator.0,
                role: role.name(),
                token,
            },
        ),
        other => Err(refusal(&other, Currency::EUR)),
    }
}

/// A new aggregator. With neither key it signs the native wallet API with
/// an HMAC secret the server makes; with `rsa_public_key` it speaks an RSA
/// contract (Hub88, under `/hub88/{aggregator}/...`); with
/// `pragmatic_secret_key` Pragmatic Play's seamless wallet (under
/// `/pragmatic/{aggregator}/...`); with `evolution: true` Evolution's One
/// Wallet (under `/evolution/{aggregator}/...`, with an `authToken` the
/// server makes). At most one of the three.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAggregatorRequest {
    /// Display name, unique.
    pub name: String,
    /// The aggregator's RSA public key, PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`, 2048–8192 bits).
    #[serde(default)]
    pub rsa_public_key: Option<String>,
    /// The secret key Pragmatic Play hashes its requests with (1–128
    /// printable ASCII characters, as agreed with Pragmatic Play).
    #[serde(default)]
    pub pragmatic_secret_key: Option<String>,
    /// An Evolution One Wallet integration: the server makes its
    /// `authToken` and shows it once.
    #[serde(default)]
    pub evolution: bool,
}

/// The created aggregator and, for HMAC, its signing secret (shown once).
#[derive(Serialize, ToSchema)]
pub struct AggregatorReply {
    /// Aggregator id: the `x-croupier-aggregator` header of its native
    /// requests, the `{aggregator}` path segment of its Hub88 requests.
    pub aggregator: u32,
    /// Its name.
    pub name: String,
    /// How its requests are signed: "hmac", "rsa", "md5" (Pragmatic Play's
    /// hash) or "token" (Evolution's `authToken`).
    pub signature: &'static str,
    /// HMAC-SHA256 key, hex (HMAC aggregators), or the `authToken`
    /// (Evolution): shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// Registers an aggregator (admins).
#[utoipa::path(post, path = "/operator/v1/aggregators", tag = "operator", request_body = CreateAggregatorRequest,
    params(IdempotencyKey), security(("bearer" = [])),
    responses((status = 201, body = AggregatorReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_public_key, invalid_secret_key, malformed_json, invalid_request …"),
        (status = 409, body = ErrorBody, description = "name_taken, conflict (Idempotency-Key reused)")))]
pub async fn create_aggregator(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: CreateAggregatorRequest = decode(&body)?;
    let (credential, secret) = credential(&request)?;
    let signature = match &credential {
        AggregatorCredential::Hmac(_) => "hmac",
        AggregatorCredential::RsaPublicKey(_) => "rsa",
        AggregatorCredential::HashKey(_) => "md5",
        AggregatorCredential::AuthToken(_) => "token",
    };
    let command = Command::Access(access::Command::CreateAggregator {
        name: name(&request.name)?,
        credential,
        operator: caller.id,
    });
    match caller.submit(&state, request_id(&headers)?, command).await? {
        Outcome::AggregatorCreated { aggregator } => ok(
            StatusCode::CREATED,
            &AggregatorReply {
                aggregator: aggregator.0,
                name: request.name,
                signature,
                secret,
            },
        ),
        other => Err(refusal(&other, Currency::EUR)),
    }
}

/// The credential a new aggregator asks for (see [`CreateAggregatorRequest`])
/// and the secret to show once, if the server made one (the partner already
/// knows a key it gave us: it is not echoed).
fn credential(request: &CreateAggregatorRequest) -> Result<(AggregatorCredential, Option<String>), ApiError> {
    match (
        &request.rsa_public_key,
        &request.pragmatic_secret_key,
        request.evolution,
    ) {
        (Some(pem), None, false) => rsa_signature::public_key_der_from_pem(pem)
            .map(|key| (AggregatorCredential::RsaPublicKey(key), None))
            .map_err(|error| ApiError::bad_request("invalid_public_key", error.to_string())),
        (None, Some(key), false) => HashKey::new(key)
            .map(|key| (AggregatorCredential::HashKey(key), None))
            .map_err(|error| ApiError::bad_request("invalid_secret_key", format!("pragmatic_secret_key: {error}"))),
        (None, None, true) => {
            let token = tokens::new_token("evo_").map_err(ApiError::internal)?;
            Ok((AggregatorCredential::AuthToken(tokens::digest(&token)), Some(token)))
        }
        (None, None, false) => {
            let secret = tokens::new_secret().map_err(ApiError::internal)?;
            Ok((AggregatorCredential::Hmac(secret), Some(hex::encode(secret.0))))
        }
        _ => Err(ApiError::bad_request(
            "invalid_request",
            "give at most one of rsa_public_key, pragmatic_secret_key and evolution",
        )),
    }
}

/// The operator's RSA public key (PEM), which RSA-signing aggregators
/// (Hub88) verify our responses with (every role).
#[utoipa::path(get, path = "/operator/v1/hub88/public-key", tag = "operator", security(("bearer" = [])),
    responses((status = 200, description = "PEM `PUBLIC KEY`", content_type = "application/x-pem-file"), BearerErrors))]
pub async fn rsa_public_key(State(state): State<AppState>) -> Response {
    let pem = state.rsa_signer.public_key_pem().to_owned();
    ([(header::CONTENT_TYPE, "application/x-pem-file")], pem).into_response()
}
