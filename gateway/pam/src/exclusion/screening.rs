//! Asking the self-exclusion register about one person, with the
//! [`super::RegistryPolicy`] applied: who is asked, and what an unanswered
//! check means; and what registration does with the answer.
//!
//! Registration: a hit is a 403 `self_excluded` and nothing is submitted;
//! a previous exclusion or no match goes on. Login (`crate::logins`): a
//! hit suspends an active account (status reason
//! [`super::REGISTRY_REASON`]) before the login is recorded.

use axum::http::StatusCode;
use edge::AppState;
use edge::error::ApiError;
use engine::Jurisdiction;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Exclusion, PersonDetails, RegistryAnswer, RegistryHandle};
use crate::profile::Profile;

edge::responses! {
    /// A route that asks the self-exclusion register about a player, and
    /// then goes through the sequencer.
    RegistryLedgerErrors {
        500 => edge::openapi::error, "commit_failed (the outcome is in doubt: retry with the same id) or internal";
        503 => edge::openapi::unavailable, "self_exclusion_registry_unavailable: the register did not answer and the jurisdiction fails closed; busy, shutting_down, timeout (retry with the same id), capacity_reached";
    }
}

/// What the self-exclusion register said about the player.
#[derive(Serialize, ToSchema)]
pub struct RegistryReply {
    /// `Y` (excluded now: registration refused, or the account suspended
    /// at login), `N` (not found), `P` (excluded before), `unavailable`
    /// (no answer; the jurisdiction fails open) or `no_profile` (nothing to
    /// ask about; the jurisdiction fails open).
    pub answer: &'static str,
    /// The register's reference of the check (`X-Unique-Id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl RegistryReply {
    /// The reply for the register's answer.
    pub fn answered(answer: &RegistryAnswer) -> RegistryReply {
        RegistryReply {
            answer: answer.exclusion.letter(),
            reference: (!answer.reference.is_empty()).then(|| answer.reference.clone()),
        }
    }

    /// The reply when the register was not asked or did not answer
    /// (`unavailable`, `no_profile`).
    pub fn without_answer(answer: &'static str) -> RegistryReply {
        RegistryReply {
            answer,
            reference: None,
        }
    }
}

/// The register the server set up, if one is configured.
pub fn handle(state: &AppState) -> Option<RegistryHandle> {
    state.modules.get::<RegistryHandle>().cloned()
}

/// Asks the register about `profile`'s person; an unanswered check is
/// `Ok(None)` if the jurisdiction fails open, a 503 otherwise.
pub async fn ask(
    state: &AppState,
    handle: &RegistryHandle,
    jurisdiction: Option<Jurisdiction>,
    profile: &Profile,
) -> Result<Option<RegistryAnswer>, ApiError> {
    let person = PersonDetails::of(profile);
    match handle.registry.check(&person).await {
        Ok(answer) => Ok(Some(answer)),
        Err(error) => {
            let fails_open = handle.policy.fails_open(jurisdiction);
            // No personal data here: the error names the register's status only.
            tracing::warn!(%error, fails_open, "the self-exclusion register did not answer");
            if fails_open {
                Ok(None)
            } else {
                Err(ApiError::busy(
                    "self_exclusion_registry_unavailable",
                    "the self-exclusion register did not answer, and players of this jurisdiction are not let in \
                     unchecked: retry later",
                    state.config.retry_after_s,
                ))
            }
        }
    }
}

/// Screens a person about to register in `jurisdiction`: `None` if the
/// jurisdiction is not checked (or no register is configured), what the
/// register said otherwise; a hit is a 403 `self_excluded`.
pub async fn registration(
    state: &AppState,
    jurisdiction: Jurisdiction,
    profile: &Profile,
) -> Result<Option<RegistryReply>, ApiError> {
    let Some(handle) = handle(state).filter(|h| h.policy.checks(Some(jurisdiction))) else {
        return Ok(None);
    };
    let Some(answer) = ask(state, &handle, Some(jurisdiction), profile).await? else {
        return Ok(Some(RegistryReply::without_answer("unavailable")));
    };
    if answer.exclusion == Exclusion::Excluded {
        tracing::info!(reference = %answer.reference, "a registration was refused: self-excluded at the register");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "self_excluded",
            "this person is excluded at the national self-exclusion register: registration is refused",
        ));
    }
    Ok(Some(RegistryReply::answered(&answer)))
}
