//! Request bodies: JSON only, bounded, parsed strictly.
//!
//! Handlers take the raw bytes (the wallet API signs them) through
//! [`JsonBody`], which refuses a wrong content type (415) and a body over the
//! configured limit (413) before anything else happens; [`decode`] then
//! parses into a type that denies unknown fields, telling malformed JSON
//! (`malformed_json`) from well-formed JSON of the wrong shape
//! (`invalid_request`: wrong types, missing or unknown fields).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// The raw bytes of a JSON request body.
pub struct JsonBody(pub Bytes);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<JsonBody, ApiError> {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON (content-type: application/json)",
            ));
        }
        let limit = state.config.body_limit_bytes;
        let too_large = || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body must be at most {limit} bytes"),
            )
        };
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit as u64) {
            return Err(too_large());
        }
        axum::body::to_bytes(request.into_body(), limit)
            .await
            .map(JsonBody)
            .map_err(|_| too_large())
    }
}

/// Parses `bytes` as `T`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|error| {
        use serde_json::error::Category;
        match error.classify() {
            Category::Data => ApiError::bad_request("invalid_request", error.to_string()),
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {error}"))
            }
        }
    })
}
