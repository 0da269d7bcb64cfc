//! What the support routes share: query parsing, text checks, path ids,
//! and sending a support command through the ledger.

use axum::http::{StatusCode, Uri};
use edge::error::ApiError;
use edge::{AppState, Caller};
use engine::{Command, Currency, ExtId, Outcome, support};
use serde::de::DeserializeOwned;

/// The query parameters of `uri`, or 400 naming the ones accepted.
pub(crate) fn query<Q: DeserializeOwned>(uri: &Uri, accepted: &str) -> Result<Q, ApiError> {
    axum::extract::Query::<Q>::try_from_uri(uri)
        .map(|query| query.0)
        .map_err(|_| ApiError::bad_request("invalid_request", format!("query parameters are {accepted}")))
}

/// A free text: not blank, at most `max` bytes, no control characters but
/// line breaks (the ledger's own check, answered before it is asked).
pub(crate) fn text(value: &str, field: &str, max: usize) -> Result<support::SupportText, ApiError> {
    let text = support::SupportText::new(value);
    if text.check(max) {
        Ok(text)
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

/// Sends a support command under the caller's source; the ledger's
/// refusal as the error.
pub(crate) async fn submit(
    state: &AppState,
    caller: &Caller,
    id: ExtId,
    command: support::Command,
) -> Result<Outcome, ApiError> {
    let outcome = caller.submit(state, id, Command::Support(command)).await?;
    match outcome.rejection() {
        Some(_) => Err(edge::change::refusal(&outcome, Currency::EUR)),
        None => Ok(outcome),
    }
}

/// 409 for a change to a closed ticket.
pub(crate) fn closed(id: u64) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "ticket_closed",
        format!("ticket {id} is closed: it changes no more"),
    )
}

/// An id derived from the request's own for a second command it sends
/// (`<id>:<step>`), so a retry sends that one once too.
pub(crate) fn derived(id: &ExtId, step: &str) -> Result<ExtId, ApiError> {
    let text = format!("{}:{step}", id.as_str());
    ExtId::new(&text).or_else(|_| {
        let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
        let hex: String = digest.as_ref()[..20].iter().map(|b| format!("{b:02x}")).collect();
        ExtId::new(&format!("{step}:{hex}")).map_err(ApiError::internal)
    })
}
