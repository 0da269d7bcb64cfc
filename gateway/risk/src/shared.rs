//! What the risk routes share: reading and writing the risk views with
//! the read-your-writes wait, money in the wire's decimal form, query
//! parsing, the text checks, and how a case refusal answers.

use axum::http::{StatusCode, Uri};
use edge::AppState;
use edge::error::ApiError;
use edge::reads::VIEW_WAIT_MAX;
use engine::{Amount, Currency};
use readmodel::ReadModelError;
use readmodel::risk::CaseError;
use rusqlite::Connection;
use serde::de::DeserializeOwned;

/// An amount in minor units of the currency `code`, as the wire writes
/// money (a decimal string); a code this build does not know, in minor units.
pub(crate) fn money(minor: i64, code: &str) -> String {
    match Currency::from_code(code) {
        Some(currency) => edge::wire::money(Amount::from_minor(minor), currency),
        None => minor.to_string(),
    }
}

/// The query parameters of `uri`, or 400 naming the ones accepted.
pub(crate) fn query<Q: DeserializeOwned>(uri: &Uri, accepted: &str) -> Result<Q, ApiError> {
    axum::extract::Query::<Q>::try_from_uri(uri)
        .map(|query| query.0)
        .map_err(|_| ApiError::bad_request("invalid_request", format!("query parameters are {accepted}")))
}

/// A free text: not blank, at most `max` bytes, no control characters but
/// line breaks.
pub(crate) fn text(value: &str, field: &str, max: usize) -> Result<String, ApiError> {
    let fine = !value.trim().is_empty() && value.len() <= max && value.chars().all(|c| !c.is_control() || c == '\n');
    if fine {
        Ok(value.to_owned())
    } else {
        Err(ApiError::bad_request(
            "invalid_request",
            format!("{field}: 1 to {max} bytes of text, not blank, no control characters"),
        ))
    }
}

/// An id from the path (a positive integer), or 404 `code`.
pub(crate) fn path_id(text: &str, code: &'static str, what: &str) -> Result<u64, ApiError> {
    text.parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::not_found(code, format!("no such {what}")))
}

/// Runs `change` (a case change's check, before its command is sent) on
/// the risk views once they hold every write acknowledged before now
/// (alerts raised by them included).
pub(crate) async fn write<T: Send + 'static>(
    state: &AppState,
    change: impl FnOnce(&Connection) -> Result<T, CaseError> + Send + 'static,
) -> Result<T, ApiError> {
    let wanted = state.durable.get();
    let limit = VIEW_WAIT_MAX.min(state.config.request_timeout() / 2);
    state
        .readmodel
        .wait_for(wanted, limit)
        .await
        .map_err(|e| case_error(state, CaseError::Store(e)))?;
    state.readmodel.write(change).await.map_err(|e| case_error(state, e))
}

/// How a refused case change answers.
pub(crate) fn case_error(state: &AppState, error: CaseError) -> ApiError {
    let message = error.to_string();
    match error {
        CaseError::NoAlerts => ApiError::bad_request("invalid_request", "alerts: at least one alert id"),
        CaseError::UnknownAlert(_) => ApiError::not_found("unknown_alert", message),
        CaseError::UnknownCase(_) => ApiError::not_found("unknown_case", message),
        CaseError::AlertInCase { .. } => ApiError::new(StatusCode::CONFLICT, "alert_in_case", message),
        CaseError::Resolved(_) => ApiError::new(StatusCode::CONFLICT, "case_resolved", message),
        CaseError::PlayersDiffer => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "players_differ", message),
        CaseError::Store(ReadModelError::Behind { at, wanted }) => ApiError::busy(
            "view_behind",
            format!("the read model is at sequence {at}, behind {wanted}; retry"),
            state.config.retry_after_s,
        ),
        CaseError::Store(other) => ApiError::internal(other),
    }
}

/// A rate scaled by 10^8 as a decimal without trailing zeros.
pub(crate) fn print_rate(scaled: i64) -> String {
    let scale = engine::payments::FX_RATE_SCALE;
    let fraction = format!("{:08}", scaled % scale);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        (scaled / scale).to_string()
    } else {
        format!("{}.{fraction}", scaled / scale)
    }
}
