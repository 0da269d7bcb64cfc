//! The one error shape of every API: `{"error": {"code", "message"}}`, with
//! a stable machine-readable `code` and an HTTP status. Wallet refusals that
//! the engine recorded with balances carry them beside the error.
//!
//! Answers the router makes without a handler (a method a route does not
//! take, a path parameter that does not parse) get the same shape: the
//! server's router passes every error reply that is not JSON through
//! [`ApiError::from_plain`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code, e.g. `insufficient_funds`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// Seconds for `Retry-After` (busy answers).
    pub retry_after_s: Option<u64>,
    /// The leader's API URL, when a follower of a replication group turns a
    /// write away: in the body (`error.leader`) and in [`LEADER_HEADER`].
    pub leader: Option<String>,
}

/// The header naming the leader's API URL on a follower's 503.
pub const LEADER_HEADER: &str = "x-croupier-leader";

/// The JSON body of a follower's 503: the error shape with the leader.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NotLeaderBody {
    /// What went wrong, and where to go.
    pub error: NotLeaderDetail,
}

/// Code, message and the leader's API URL.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NotLeaderDetail {
    /// `not_leader`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// The leader's API URL, if one is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
}

/// The JSON body of an error.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// Code and message of an error.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after_s: None,
            leader: None,
        }
    }

    /// 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401 with a code.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, code, message)
    }

    /// 404 with a code.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 500 `internal` for a fault of ours, logged with its cause (which the
    /// client is not shown).
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }

    /// 503 with `Retry-After`.
    pub fn busy(code: &'static str, message: impl Into<String>, retry_after_s: u64) -> ApiError {
        ApiError {
            retry_after_s: Some(retry_after_s),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
        }
    }

    /// 503 `not_leader` with `Retry-After`: this node follows; writes go to
    /// `leader` (its API URL), if one is known.
    pub fn not_leader(leader: Option<String>, retry_after_s: u64) -> ApiError {
        let message = match &leader {
            Some(url) => format!("this node is a follower: send writes to the leader at {url}"),
            None => "this node is a follower and no leader is known yet (an election is under way): retry".to_owned(),
        };
        ApiError {
            leader,
            ..ApiError::busy("not_leader", message, retry_after_s)
        }
    }

    /// The error for a reply made without us, e.g. one of axum's
    /// rejections (plain text), from its status and text.
    pub fn from_plain(status: StatusCode, text: &str) -> ApiError {
        let text = text.trim();
        let message = if text.is_empty() {
            status.canonical_reason().unwrap_or("error").to_ascii_lowercase()
        } else {
            text.to_owned()
        };
        ApiError::new(status, code_of_status(status), message)
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.clone(),
            },
        }
    }
}

/// The code of an error known only by its status.
pub fn code_of_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        status if status.is_server_error() => "internal",
        // 400, 422 and the rest: the request is not one we take.
        _ => "invalid_request",
    }
}

/// True if `headers` say the body is JSON.
pub fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// A JSON response with exactly these bytes and status.
pub fn json_response(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut response = (status, bytes).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Serializes a value known to serialize (plain structs of strings and numbers).
pub fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these types cannot fail: no maps with non-string keys, no
    // custom serializers that error.
    serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = match &self.leader {
            None => json_response(self.status, to_json(&self.body())),
            Some(leader) => {
                let body = NotLeaderBody {
                    error: NotLeaderDetail {
                        code: self.code,
                        message: self.message.clone(),
                        leader: Some(leader.clone()),
                    },
                };
                let mut response = json_response(self.status, to_json(&body));
                if let Ok(value) = HeaderValue::from_str(leader) {
                    response.headers_mut().insert(LEADER_HEADER, value);
                }
                response
            }
        };
        if let Some(seconds) = self.retry_after_s {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_errors_get_a_code_from_their_status_and_keep_their_text() {
        let check = |status: u16, text: &str, expect: (&str, &str)| {
            let status = StatusCode::from_u16(status).unwrap();
            let error = ApiError::from_plain(status, text);
            assert_eq!(
                (error.status, error.code, error.message.as_str()),
                (status, expect.0, expect.1)
            );
        };
        check(
            400,
            "Invalid URL: Cannot parse `abc` to a `u32`",
            ("invalid_request", "Invalid URL: Cannot parse `abc` to a `u32`"),
        );
        check(405, "", ("method_not_allowed", "method not allowed"));
        check(404, "\n", ("not_found", "not found"));
        check(500, "boom", ("internal", "boom"));
        check(422, "x", ("invalid_request", "x"));
    }
}
