//! What registration and login do with the self-exclusion register's
//! answer ([`super::RegistryPolicy`] applied to one person).
//!
//! Registration: a hit is a 403 `self_excluded` and nothing is submitted;
//! a previous exclusion or no match goes on. Login: a hit suspends an
//! active account (status reason [`super::REGISTRY_REASON`], under the
//! reporting operator, with a request id derived from the login's so that
//! a retried login does not suspend twice) before the login is recorded,
//! so the login's own outcome already says the player may not play and the
//! ledger refuses money from then on. An account the register no longer
//! excludes stays suspended until an operator reopens it: the next login
//! checks again, so it cannot be reopened while the exclusion lasts.

use axum::http::StatusCode;
use edge::change::refusal;
use edge::error::ApiError;
use edge::{AppState, Caller};
use engine::command::AccountStatus;
use engine::{Command, Currency, ExtId, Jurisdiction, Outcome, PlayerId, Reason, players};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Exclusion, PersonDetails, REGISTRY_REASON, RegistryAnswer, RegistryHandle};
use crate::players::{open, vault};
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
    fn answered(answer: &RegistryAnswer) -> RegistryReply {
        RegistryReply {
            answer: answer.exclusion.letter(),
            reference: (!answer.reference.is_empty()).then(|| answer.reference.clone()),
        }
    }

    fn without_answer(answer: &'static str) -> RegistryReply {
        RegistryReply {
            answer,
            reference: None,
        }
    }
}

/// The register the server set up, if one is configured.
fn handle(state: &AppState) -> Option<RegistryHandle> {
    state.modules.get::<RegistryHandle>().cloned()
}

/// Asks the register about `profile`'s person; an unanswered check is
/// `Ok(None)` if the jurisdiction fails open, a 503 otherwise.
async fn ask(
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

/// The id of the suspension a login's hit submits: derived from the
/// login's id, so that a retried login finds it done.
fn suspension_id(login: &ExtId) -> Result<ExtId, ApiError> {
    let digest = ring::digest::digest(&ring::digest::SHA256, login.as_str().as_bytes());
    let text = format!("registry-{}", hex::encode(&digest.as_ref()[..16]));
    ExtId::new(&text).map_err(ApiError::internal)
}

/// Screens a player about to be logged in: `None` if there is nothing to
/// check (no register, a jurisdiction not checked, an erased player: the
/// ledger refuses that login), what the register said otherwise. A hit
/// suspends an active account first.
pub async fn login(
    state: &AppState,
    caller: &Caller,
    player: PlayerId,
    login: &ExtId,
) -> Result<Option<RegistryReply>, ApiError> {
    let Some(handle) = handle(state) else {
        return Ok(None);
    };
    let (view, _) = crate::players::view(state, player).await?;
    if view.erased.is_some() || !handle.policy.checks(view.jurisdiction) {
        return Ok(None);
    }
    let Some(sealed) = view.profile else {
        if handle.policy.fails_open(view.jurisdiction) {
            return Ok(Some(RegistryReply::without_answer("no_profile")));
        }
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "registry_profile_required",
            "the player has no profile to check at the self-exclusion register: give the profile first",
        ));
    };
    let profile = open(&vault(state)?, sealed).await?;
    let Some(answer) = ask(state, &handle, view.jurisdiction, &profile).await? else {
        return Ok(Some(RegistryReply::without_answer("unavailable")));
    };
    if answer.exclusion == Exclusion::Excluded && view.status == "active" {
        tracing::info!(player = player.0, reference = %answer.reference, "suspended: self-excluded at the register");
        let reason = Reason::new(REGISTRY_REASON).map_err(ApiError::internal)?;
        let command = players::Command::SetStatus {
            player,
            status: AccountStatus::Suspended,
            reason,
            operator: caller.id,
        };
        match caller
            .submit(state, suspension_id(login)?, Command::Players(command))
            .await?
        {
            Outcome::Accepted => {}
            // The players domain's refusals carry no amounts: any currency prints them.
            other => return Err(refusal(&other, Currency::EUR)),
        }
    }
    Ok(Some(RegistryReply::answered(&answer)))
}
