//! The authenticated operator behind a request: [`Caller`].
//!
//! Operators present a bearer token; the read copy of the ledger's access
//! state maps its digest to an operator and a role. The route table states
//! the roles each operator route admits ([`crate::route::Access`]); the
//! router checks them before the handler runs (before its body is even
//! read), and the handler takes the [`Caller`] as an extractor. Every
//! change an operator makes is then one command sent under that operator's
//! own source id ([`Caller::submit`]), so the journal records who did what.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use engine::{Command, ExtId, OperatorId, Outcome, Request, Role, SourceId};

use crate::error::ApiError;
use crate::state::AppState;
use crate::tokens;

/// The authenticated operator, with a role the route admits: what the
/// router's role check ([`authenticate`]) found, taken by handlers as an
/// extractor. (Its fields are plain data: making one by hand grants a
/// handler nothing it could not already submit.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The operator's id (named in access commands).
    pub id: OperatorId,
    /// The operator's own source id: its commands' idempotency scope.
    pub source: SourceId,
}

impl Caller {
    /// Submits `command` under this operator's source with request id `id`
    /// and waits for its durable outcome.
    pub async fn submit(&self, state: &AppState, id: ExtId, command: Command) -> Result<Outcome, ApiError> {
        let request = Request {
            source: self.source,
            id,
            command,
        };
        Ok(state.engine.run(request).await?.outcome)
    }
}

/// Finds the operator of the request's bearer token, or without one of its
/// browser session ([`crate::browser`]), and checks that its role is one of
/// `allowed`: 401 without a known token or session, 403 `operator_disabled`
/// for a disabled operator, 403 with another role (or a browser's change
/// without its CSRF token).
pub fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
    allowed: &[Role],
) -> Result<Caller, ApiError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty());
    let view = state.view.read();
    let (id, operator) = match bearer {
        Some(token) => view
            .access
            .operator_by_token(&tokens::digest(token))
            .ok_or_else(|| ApiError::unauthorized("invalid_token", "unknown operator token"))?,
        None => {
            let id = state
                .browser_operator(headers, method)?
                .ok_or_else(|| ApiError::unauthorized("missing_token", "an operator bearer token is required"))?;
            let operator = view
                .access
                .operator(id)
                .ok_or_else(|| ApiError::unauthorized("invalid_session", "the session's operator is unknown"))?;
            (id, operator)
        }
    };
    if operator.role == Role::Disabled {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "operator_disabled",
            format!("operator {id} is disabled"),
        ));
    }
    if !allowed.contains(&operator.role) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("the {} role may not do this", operator.role.name()),
        ));
    }
    Ok(Caller {
        id,
        source: operator.source,
    })
}

/// The [`Caller`] the role check put in the request's extensions. A route
/// whose table row does not name operator roles has none: that is a fault
/// of the table, answered 500, never a way in.
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Caller, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .copied()
            .ok_or_else(|| ApiError::internal("a handler takes a Caller but its route names no operator roles"))
    }
}
