//! Request bodies: JSON (or, for partners that post forms, form-encoded),
//! bounded, parsed strictly.
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
        bounded(
            request,
            state,
            "application/json",
            "the body must be JSON (content-type: application/json)",
        )
        .await
        .map(JsonBody)
    }
}

/// The raw bytes of an `application/x-www-form-urlencoded` request body
/// (contracts whose partners post forms, e.g. Pragmatic Play), with the
/// same content-type and size checks as [`JsonBody`].
pub struct FormBody(pub Bytes);

impl FromRequest<AppState> for FormBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<FormBody, ApiError> {
        let message = "the body must be a form (content-type: application/x-www-form-urlencoded)";
        bounded(request, state, "application/x-www-form-urlencoded", message)
            .await
            .map(FormBody)
    }
}

/// The raw bytes of an uploaded file that may be JSON (`application/json`)
/// or CSV (`text/csv`), with the same size checks as [`JsonBody`].
pub struct JsonOrCsvBody {
    /// The body.
    pub bytes: Bytes,
    /// Whether it came as CSV.
    pub csv: bool,
}

impl FromRequest<AppState> for JsonOrCsvBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<JsonOrCsvBody, ApiError> {
        let csv = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|found| found.trim().eq_ignore_ascii_case("text/csv"));
        let (mime, message) = if csv {
            ("text/csv", "")
        } else {
            (
                "application/json",
                "the body must be JSON (content-type: application/json) or CSV (content-type: text/csv)",
            )
        };
        bounded(request, state, mime, message)
            .await
            .map(|bytes| JsonOrCsvBody { bytes, csv })
    }
}

/// The body, if its content type is `mime` (415 otherwise) and it is within
/// the configured limit (413 otherwise, before reading it if its declared
/// length says so).
async fn bounded(request: Request, state: &AppState, mime: &str, wrong_type: &'static str) -> Result<Bytes, ApiError> {
    let matches = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|found| found.trim().eq_ignore_ascii_case(mime));
    if !matches {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            wrong_type,
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
        .map_err(|_| too_large())
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
