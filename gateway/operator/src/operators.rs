//! Managing operators after they are created (admins): the list, a new
//! role, disabling, and a new token. Each change is one access command
//! under the admin's own source, journaled with the role before it; the
//! edge's view follows it once durable, so a disabled operator's token, or
//! a rotated-out one, is refused from the reply on.
//!
//! The ledger refuses disabling oneself (`cannot_disable_self`) and leaving
//! no enabled admin (`last_admin`), both 409 and changing nothing.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::{AppState, Caller, tokens};
use engine::{Command, Currency, OperatorId, Outcome, Role, access};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::shared::{IdempotencyKey, ok, refusal, request_id};

/// One operator.
#[derive(Serialize, ToSchema)]
pub struct OperatorEntry {
    /// Operator id.
    pub operator: u32,
    /// Display name.
    pub name: String,
    /// admin, finance, compliance, support, read-only, or disabled.
    pub role: &'static str,
    /// The source id its own requests carry (as in the journal and the
    /// transaction lookups).
    pub source: u32,
    /// Who created it (0: the server, for the first operator).
    pub created_by: u32,
}

/// Every operator.
#[derive(Serialize, ToSchema)]
pub struct OperatorList {
    /// In creation order.
    pub operators: Vec<OperatorEntry>,
}

/// Lists the operators, disabled ones included (admins).
#[utoipa::path(get, path = "/operator/v1/operators", tag = "operator", security(("bearer" = [])),
    responses((status = 200, body = OperatorList), RoleErrors))]
pub async fn list_operators(State(state): State<AppState>) -> Result<Response, ApiError> {
    let view = state.view.read();
    let access = &view.access;
    let operators = (1..=access.operators_len() as u32)
        .filter_map(|id| access.operator(OperatorId(id)).map(|operator| (id, operator)))
        .map(|(id, operator)| OperatorEntry {
            operator: id,
            name: operator.name.as_str().to_owned(),
            role: operator.role.name(),
            source: operator.source.0,
            created_by: operator.created_by.0,
        })
        .collect();
    drop(view);
    ok(StatusCode::OK, &OperatorList { operators })
}

/// An operator's new role.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    /// admin, finance, compliance, support or read-only (a disabled
    /// operator given one is enabled again).
    pub role: String,
}

/// What an operator change did.
#[derive(Serialize, ToSchema)]
pub struct OperatorChangeReply {
    /// Operator id.
    pub operator: u32,
    /// Its role before.
    pub role_before: &'static str,
    /// Its role now.
    pub role: &'static str,
    /// The journal's sequence number of the change (its audit row).
    pub seq: u64,
}

/// The operator's new bearer token (shown once).
#[derive(Serialize, ToSchema)]
pub struct TokenReply {
    /// Operator id.
    pub operator: u32,
    /// Its new bearer token; the old one is refused from now on.
    pub token: String,
    /// The journal's sequence number of the change (its audit row).
    pub seq: u64,
}

/// Gives an operator another role (admins).
#[utoipa::path(put, path = "/operator/v1/operators/{operator}/role", tag = "operator", request_body = RoleRequest,
    params(("operator" = u32, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = OperatorChangeReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_operator"),
        (status = 409, body = ErrorBody, description = "last_admin, cannot_disable_self, conflict (Idempotency-Key reused)")))]
pub async fn set_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: RoleRequest = decode(&body)?;
    let target = operator(&state, &target)?;
    let role = Role::from_name(&request.role).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_request",
            format!(
                "unknown role {:?}: admin, finance, compliance, support or read-only (disable with POST .../disable)",
                request.role
            ),
        )
    })?;
    let command = access::Command::SetOperatorRole {
        target,
        role,
        operator: caller.id,
    };
    change(&state, caller, &headers, command, role).await
}

/// Disables an operator: its token is refused from now on (admins; not
/// oneself, not the last enabled admin).
#[utoipa::path(post, path = "/operator/v1/operators/{operator}/disable", tag = "operator",
    params(("operator" = u32, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = OperatorChangeReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (Idempotency-Key)"),
        (status = 404, body = ErrorBody, description = "unknown_operator"),
        (status = 409, body = ErrorBody, description = "cannot_disable_self, last_admin, conflict (Idempotency-Key reused)")))]
pub async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let target = operator(&state, &target)?;
    let command = access::Command::DisableOperator {
        target,
        operator: caller.id,
    };
    change(&state, caller, &headers, command, Role::Disabled).await
}

/// Replaces an operator's bearer token (admins). Like creation, not
/// retryable: the new token is shown once.
#[utoipa::path(post, path = "/operator/v1/operators/{operator}/token", tag = "operator",
    params(("operator" = u32, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = TokenReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (Idempotency-Key)"),
        (status = 404, body = ErrorBody, description = "unknown_operator"),
        (status = 409, body = ErrorBody, description = "token_taken, conflict (Idempotency-Key reused)")))]
pub async fn rotate_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let target = operator(&state, &target)?;
    let token = tokens::new_token(tokens::OPERATOR_PREFIX).map_err(ApiError::internal)?;
    let command = Command::Access(access::Command::RotateOperatorToken {
        target,
        token: tokens::digest(&token),
        operator: caller.id,
    });
    match caller.submit(&state, request_id(&headers)?, command).await? {
        Outcome::OperatorChanged { seq, .. } => ok(
            StatusCode::OK,
            &TokenReply {
                operator: target.0,
                token,
                seq,
            },
        ),
        other => Err(refusal(&other, Currency::EUR)),
    }
}

async fn change(
    state: &AppState,
    caller: Caller,
    headers: &HeaderMap,
    command: access::Command,
    role: Role,
) -> Result<Response, ApiError> {
    let target = command.target_operator().unwrap_or(OperatorId::SYSTEM);
    match caller
        .submit(state, request_id(headers)?, Command::Access(command))
        .await?
    {
        Outcome::OperatorChanged { role_before, seq } => ok(
            StatusCode::OK,
            &OperatorChangeReply {
                operator: target.0,
                role_before: role_before.name(),
                role: role.name(),
                seq,
            },
        ),
        other => Err(refusal(&other, Currency::EUR)),
    }
}

/// An operator id from the path, known to exist.
fn operator(state: &AppState, text: &str) -> Result<OperatorId, ApiError> {
    let unknown = || ApiError::not_found("unknown_operator", "no such operator");
    let id = text.parse::<u32>().map_err(|_| unknown())?;
    let exists = state.view.read().access.operator(OperatorId(id)).is_some();
    if !exists {
        return Err(unknown());
    }
    Ok(OperatorId(id))
}
