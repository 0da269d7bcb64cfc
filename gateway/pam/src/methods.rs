//! Players' payment methods over the operator API: a card, e-wallet, bank
//! account or crypto wallet recorded by a tokenized reference (the
//! provider's token, the last four digits, a wallet address), never a
//! card number: a reference of 13 to 19 digits passing the Luhn check is
//! refused here and again by the ledger.
//!
//! The holder's name is compared here with the player's profile name,
//! opened with the player's data key as the profile route does; the name
//! itself goes no further. The journal records only whether it matched
//! (`AddPaymentMethod`'s `holder`), and a mismatch raises the risk
//! projection's `third_party_method` alert with that record as evidence.
//!
//! The ledger checks the player and the reference and keeps nothing
//! (`crate::readmodel::methods` holds the methods), so this module checks
//! in the view that an id is free, that a method exists, and that a
//! removed one is not changed again, before it submits.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::change::{ok, player, refusal};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::reads::read;
use edge::{AppState, Caller, wire};
use engine::payments::{self, HolderMatch, PaymentMethodKind, PaymentMethodState};
use engine::{Command, Currency, ExtId, Outcome, PlayerId};
use readmodel::methods::{self, MethodView};
use readmodel::profiles;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::players::{open, reason, vault};

/// Longest holder name accepted.
const HOLDER_MAX: usize = 200;

/// A payment method to record.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MethodRequest {
    /// Its id, unique per player (1–64 printable ASCII); sending the same
    /// method again is a retry.
    pub method_id: String,
    /// `card`, `ewallet`, `bank` or `crypto`.
    pub kind: String,
    /// The tokenized reference: the provider's token (`pm_…`), the last
    /// four digits, a wallet address (a crypto method's payouts go
    /// there). Never a card number.
    pub reference: String,
    /// The name the method is held in, compared with the player's
    /// profile name (not stored).
    pub holder_name: Option<String>,
}

/// A change of a method's state.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateRequest {
    /// `active` (enable again), `disabled` or `removed` (for good).
    pub state: String,
    /// Why.
    pub reason: String,
}

/// A payment method as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct MethodReply {
    /// Its id.
    pub method_id: String,
    /// The player.
    pub player: u64,
    /// card, ewallet, bank, crypto.
    pub kind: String,
    /// The tokenized reference.
    pub reference: String,
    /// matches, mismatch (a third-party method: a risk alert is raised),
    /// unchecked (no holder name, or no profile to compare with).
    pub holder: String,
    /// active, disabled, removed.
    pub state: String,
    /// Why it was last disabled, enabled or removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The journal record that added it.
    pub seq: u64,
    /// When it was added, ms since the epoch.
    pub added_ms: u64,
    /// When it last changed.
    pub updated_ms: u64,
}

/// A player's methods.
#[derive(Serialize, ToSchema)]
pub struct MethodsReply {
    /// Oldest first.
    pub methods: Vec<MethodReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

fn reply(view: &MethodView) -> MethodReply {
    MethodReply {
        method_id: view.method.clone(),
        player: view.player.0,
        kind: view.kind.clone(),
        reference: view.reference.clone(),
        holder: view.holder.clone(),
        state: view.state.clone(),
        reason: view.reason.clone(),
        seq: view.seq,
        added_ms: view.added_ms,
        updated_ms: view.updated_ms,
    }
}

/// The words of a name: lower case, letters and digits only.
fn words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = name
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    words.sort();
    words
}

/// Whether a holder name is the profile's name: the same words in any
/// order ("SMITH JOHN" is John Smith), or at least two of them with the
/// rest of the profile's left out (a card without the middle name).
pub fn holder_matches(holder: &str, profile_name: &str) -> bool {
    let (holder, profile) = (words(holder), words(profile_name));
    if holder.is_empty() {
        return false;
    }
    if holder == profile {
        return true;
    }
    let mut rest = profile.clone();
    for word in &holder {
        match rest.iter().position(|w| w == word) {
            Some(at) => {
                rest.remove(at);
            }
            None => return false,
        }
    }
    holder.len() >= 2
}

/// How the holder compares with the player's profile.
async fn holder_check(state: &AppState, player: PlayerId, holder: Option<&str>) -> Result<HolderMatch, ApiError> {
    let Some(holder) = holder else {
        return Ok(HolderMatch::Unchecked);
    };
    let (found, _) = read(state, move |c| profiles::profile(c, player)).await?;
    let Some(sealed) = found.and_then(|view| view.profile) else {
        return Ok(HolderMatch::Unchecked);
    };
    let profile = open(&vault(state)?, sealed).await?;
    Ok(if holder_matches(holder, &profile.name) {
        HolderMatch::Matches
    } else {
        HolderMatch::Mismatch
    })
}

/// The request id of a change: a digest of what makes it one change, so a
/// repeated call is a retry.
fn change_id(parts: &[&str]) -> ExtId {
    let digest = ring::digest::digest(&ring::digest::SHA256, parts.join("\u{0}").as_bytes());
    let id = format!("pm:{}", hex::encode(&digest.as_ref()[..24]));
    ExtId::new(&id).expect("a prefix and 48 hex digits make a valid id")
}

async fn find(state: &AppState, player: PlayerId, method: &str) -> Result<Option<MethodView>, ApiError> {
    let method = method.to_owned();
    Ok(read(state, move |c| methods::method(c, player, &method)).await?.0)
}

/// Records a payment method of a player (admins, finance, support). The
/// holder's name is compared with the profile's; a mismatch is recorded
/// as such and raises a `third_party_method` risk alert.
#[utoipa::path(post, path = "/operator/v1/players/{player}/payment-methods", tag = "pam", request_body = MethodRequest,
    params(("player" = u64, Path)), security(("bearer" = [])),
    responses((status = 201, body = MethodReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad kind, id, reference or holder name)"),
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 409, body = ErrorBody, description = "payment_method_taken (the id names another method of the player)"),
        (status = 422, body = ErrorBody, description = "card_number_refused (the reference is a card number)")))]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: MethodRequest = decode(&body)?;
    let kind = PaymentMethodKind::from_name(&request.kind)
        .ok_or_else(|| ApiError::bad_request("invalid_request", "kind: card, ewallet, bank or crypto"))?;
    let method = wire::ext_id(&request.method_id, "method_id")?;
    let reference = wire::ext_id(&request.reference, "reference")?;
    if payments::looks_like_card_number(reference.as_str()) {
        return Err(wire::rejection(
            &engine::Rejection::CardNumberAsReference,
            Currency::EUR,
        ));
    }
    if let Some(holder) = &request.holder_name
        && (holder.trim().is_empty() || holder.len() > HOLDER_MAX || holder.chars().any(char::is_control))
    {
        return Err(ApiError::bad_request(
            "invalid_request",
            "holder_name: 1 to 200 characters of text",
        ));
    }
    let player = player(&state, &player_id)?;
    if let Some(existing) = find(&state, player, method.as_str()).await? {
        if existing.kind == kind.name() && existing.reference == reference.as_str() {
            // The same method again: a retry.
            return ok(StatusCode::CREATED, &reply(&existing));
        }
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "payment_method_taken",
            format!("player {} has another payment method {method}", player.0),
        ));
    }
    let holder = holder_check(&state, player, request.holder_name.as_deref()).await?;
    let command = Command::Payments(payments::Command::AddPaymentMethod {
        player,
        method: method.clone(),
        kind,
        reference: reference.clone(),
        holder,
        operator: caller.id,
    });
    let id = change_id(&["add", &player.0.to_string(), method.as_str()]);
    match caller.submit(&state, id, command).await? {
        Outcome::Accepted => {}
        other => return Err(refusal(&other, Currency::EUR)),
    }
    let added = find(&state, player, method.as_str())
        .await?
        .ok_or_else(|| ApiError::internal("an accepted payment method is not in the read model"))?;
    ok(StatusCode::CREATED, &reply(&added))
}

/// Which methods.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MethodsQuery {
    /// Also the removed ones (default false).
    pub removed: Option<bool>,
}

/// A player's payment methods, oldest first (admins, finance, compliance,
/// support).
#[utoipa::path(get, path = "/operator/v1/players/{player}/payment-methods", tag = "pam",
    params(("player" = u64, Path), MethodsQuery), security(("bearer" = [])),
    responses((status = 200, body = MethodsReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter)"),
        (status = 404, body = ErrorBody, description = "unknown_player")))]
pub async fn list(
    State(state): State<AppState>,
    Path(player_id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let query = axum::extract::Query::<MethodsQuery>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|_| ApiError::bad_request("invalid_request", "the query parameter is removed=true|false"))?;
    let player = player(&state, &player_id)?;
    let with_removed = query.removed.unwrap_or(false);
    let (found, as_of_seq) = read(&state, move |c| methods::list(c, player, with_removed)).await?;
    ok(
        StatusCode::OK,
        &MethodsReply {
            methods: found.iter().map(reply).collect(),
            as_of_seq,
        },
    )
}

async fn set_state(
    state: &AppState,
    caller: &Caller,
    player: PlayerId,
    method_text: &str,
    to: PaymentMethodState,
    why: &str,
) -> Result<Response, ApiError> {
    let reason = reason(why)?;
    let method = wire::ext_id(method_text, "method")?;
    let unknown = || {
        ApiError::not_found(
            "unknown_payment_method",
            format!("player {} has no payment method {method}", player.0),
        )
    };
    let current = find(state, player, method.as_str()).await?.ok_or_else(unknown)?;
    if current.state == to.name() {
        // Already there: nothing to journal.
        return ok(StatusCode::OK, &reply(&current));
    }
    if current.state == PaymentMethodState::Removed.name() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "payment_method_removed",
            format!("payment method {method} is removed: it changes no more"),
        ));
    }
    let command = Command::Payments(payments::Command::SetPaymentMethodState {
        player,
        method: method.clone(),
        state: to,
        reason,
        operator: caller.id,
    });
    // One change per (method, state reached, from which moment).
    let id = change_id(&[
        "state",
        &player.0.to_string(),
        method.as_str(),
        to.name(),
        &current.updated_ms.to_string(),
    ]);
    match caller.submit(state, id, command).await? {
        Outcome::Accepted => {}
        other => return Err(refusal(&other, Currency::EUR)),
    }
    let changed = find(state, player, method.as_str()).await?.ok_or_else(unknown)?;
    ok(StatusCode::OK, &reply(&changed))
}

/// Disables, enables again or removes a payment method, with why (admins,
/// finance, support). A removed method changes no more.
#[utoipa::path(put, path = "/operator/v1/players/{player}/payment-methods/{method}/state", tag = "pam",
    request_body = StateRequest, params(("player" = u64, Path), ("method" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = MethodReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad state or reason)"),
        (status = 404, body = ErrorBody, description = "unknown_player, unknown_payment_method"),
        (status = 409, body = ErrorBody, description = "payment_method_removed")))]
pub async fn change_state(
    State(state): State<AppState>,
    caller: Caller,
    Path((player_id, method)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: StateRequest = decode(&body)?;
    let to = match request.state.as_str() {
        "active" => PaymentMethodState::Active,
        "disabled" => PaymentMethodState::Disabled,
        "removed" => PaymentMethodState::Removed,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "state: active, disabled or removed",
            ));
        }
    };
    let player = player(&state, &player_id)?;
    set_state(&state, &caller, player, &method, to, &request.reason).await
}

/// Removes a payment method (admins, finance, support): as `PUT …/state`
/// with `removed`, the reason `removed by an operator`.
#[utoipa::path(delete, path = "/operator/v1/players/{player}/payment-methods/{method}", tag = "pam",
    params(("player" = u64, Path), ("method" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = MethodReply), RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player, unknown_payment_method")))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((player_id, method)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let player = player(&state, &player_id)?;
    set_state(
        &state,
        &caller,
        player,
        &method,
        PaymentMethodState::Removed,
        "removed by an operator",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::holder_matches;

    #[test]
    fn holder_names_match_in_any_order_and_without_middle_names() {
        assert!(holder_matches("Ada Lovelace", "Ada Lovelace"));
        assert!(holder_matches("LOVELACE ADA", "Ada Lovelace"));
        assert!(holder_matches("Ada Lovelace", "Ada Augusta Lovelace"));
        assert!(holder_matches("  ada   lovelace. ", "Ada Lovelace"));
        assert!(!holder_matches("Charles Babbage", "Ada Lovelace"));
        assert!(!holder_matches("Ada", "Ada Lovelace"));
        assert!(!holder_matches("Ada Lovelace Byron", "Ada Lovelace"));
        assert!(!holder_matches("", "Ada Lovelace"));
    }
}
