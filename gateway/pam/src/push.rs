//! The player's device for push notifications: the front end registers
//! (or clears) the device's Firebase Cloud Messaging registration token,
//! which the CRM's push campaigns send to.
//!
//! The token is device data of the player: it lives in the sealed profile
//! (so it is journaled with the operator who set it, through the same
//! profile command as any other change, and erased with the profile), not
//! in a table of its own. The player's push consent is the profile's
//! `marketing.push`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::change::{IdempotencyKey, ok, player, request_id};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::{AppState, Caller};
use engine::players;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::players::{PlayerErrors, change, indexes, open, seal, vault, view};
use crate::profile::{Date, minimum_age};

/// The device's registration token, or `null` to clear it (the player
/// logged out of the app).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushTokenRequest {
    /// The FCM registration token (1 to 1024 letters, digits or `-_:.`);
    /// `null` clears it.
    pub token: Option<String>,
}

/// The push registration as it now stands.
#[derive(Serialize, ToSchema)]
pub struct PushTokenReply {
    /// Player id.
    pub player: u64,
    /// Whether a device is registered.
    pub registered: bool,
    /// Whether the player consents to marketing by push.
    pub consent: bool,
}

/// Registers or clears the player's device for push notifications (admins
/// and support: the front end's operator). The token is kept in the
/// player's sealed profile; the change is journaled as a profile change
/// with the operator who made it. A player without a profile has nowhere
/// to keep it (409 `no_profile`).
#[utoipa::path(put, path = "/operator/v1/players/{player}/push-token", tag = "pam", request_body = PushTokenRequest,
    params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = PushTokenReply), BodyErrors, RoleErrors, LedgerErrors, PlayerErrors,
        (status = 409, body = ErrorBody, description = "no_profile: the player has no profile to keep the token in")))]
pub async fn set_push_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: PushTokenRequest = decode(&body)?;
    if let Some(token) = &request.token
        && !crate::profile::push_token(token)
    {
        return Err(ApiError::bad_request(
            "invalid_request",
            "token: 1 to 1024 letters, digits or - _ : .",
        ));
    }
    let player = player(&state, &player_id)?;
    let id = request_id(&headers)?;
    let vault = vault(&state)?;
    let (view, _) = view(&state, player).await?;
    if view.erased.is_some() {
        return Err(ApiError::new(
            StatusCode::GONE,
            "player_erased",
            "the player's profile was erased",
        ));
    }
    let Some(sealed) = view.profile else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_profile",
            "the player has no profile to keep the token in",
        ));
    };
    let key_id = sealed.key_id;
    let mut profile = open(&vault, sealed).await?;
    profile.push_token = request.token;
    let now_ms = state.now_ms();
    let minimum = minimum_age(&state.view.read().profiles, view.jurisdiction, now_ms);
    let (profile, normalized) = profile.validate(view.jurisdiction, minimum, Date::from_epoch_ms(now_ms))?;
    let sealed = seal(&vault, key_id, &profile, false).await?;
    let command = players::Command::UpdateProfile {
        player,
        profile: Box::new(sealed),
        indexes: indexes(&vault, &normalized),
        operator: caller.id,
    };
    change(&state, &caller, id, command).await?;
    ok(
        StatusCode::OK,
        &PushTokenReply {
            player: player.0,
            registered: profile.push_token.is_some(),
            consent: profile.marketing.push,
        },
    )
}
