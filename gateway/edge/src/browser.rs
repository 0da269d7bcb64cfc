//! Operator API calls from a browser: a module that runs signed-in browser
//! sessions (the back office) registers a [`BrowserSessions`] in
//! `AppState::modules`, and the router's role check ([`crate::caller`])
//! asks it for the operator of a request that carries no bearer token.
//!
//! So the back office's buttons call the operator API itself, with the
//! same role checks, handlers and journaled audit as a script with a
//! token; the session decides only *who* asks. A browser call that
//! changes anything (any method but GET and HEAD) must carry the
//! session's CSRF token in [`CSRF_HEADER`]: a cookie alone, which a
//! browser attaches to requests another site makes it send, never
//! suffices.

use std::sync::Arc;

use axum::http::{HeaderMap, Method};
use engine::OperatorId;

use crate::error::ApiError;
use crate::state::AppState;

/// The header a browser's state-changing call carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Finds the operator of a browser session.
pub trait BrowserSessions: Send + Sync {
    /// The signed-in operator of the request's session cookie; `Ok(None)`
    /// without a session cookie. An expired or unknown session is 401, a
    /// state-changing `method` without the session's CSRF token 403.
    fn operator(&self, headers: &HeaderMap, method: &Method, now_ms: u64) -> Result<Option<OperatorId>, ApiError>;
}

/// The sessions a module registered, as `AppState::modules` holds them.
#[derive(Clone)]
pub struct Sessions(pub Arc<dyn BrowserSessions>);

impl AppState {
    /// The operator of the request's browser session, if a module runs
    /// browser sessions and the request carries one.
    pub fn browser_operator(&self, headers: &HeaderMap, method: &Method) -> Result<Option<OperatorId>, ApiError> {
        match self.modules.get::<Sessions>() {
            Some(sessions) => sessions.0.operator(headers, method, self.now_ms()),
            None => Ok(None),
        }
    }
}
