//! The PAM routes: registration with a profile, reading and changing the
//! profile, account status with a reason, and erasure.
//!
//! Every change is one ledger command under the operator's own source (so
//! the journal records who did it), built only once the input is valid:
//! bad input gets a 4xx and submits nothing. The profile is sealed here,
//! before the command is built; the ledger sees ciphertext and blind
//! indexes ([`crate::vault`]). Reads come from the read model's profiles
//! view and are opened with the player's data key.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::change::{IDEMPOTENCY_HEADER, IdempotencyKey, ok, player, refusal, request_id};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::reads::read;
use edge::{AppState, Caller, wire};
use engine::command::AccountStatus;
use engine::marketing::{self, AffiliateStatus};
use engine::players::{ProfileIndexes, SealedProfile};
use engine::{BonusCode, Command, Currency, ExtId, Jurisdiction, KeyId, Outcome, PlayerId, Reason, players};
use readmodel::marketing::DEFAULT_BRAND;
use readmodel::profiles::{self, ProfileView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::exclusion::screening::{self, RegistryLedgerErrors, RegistryReply};
use crate::profile::{Date, Normalized, Profile, ProfilePatch};
use crate::vault::{DataKey, Vault, VaultError};

/// A registration: the account and the player's profile.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationRequest {
    /// Base currency code; its wallet is created at once.
    pub currency: String,
    /// Licensing jurisdiction, two upper-case letters (`GB`, `MT`).
    pub jurisdiction: String,
    /// The player's personal data (sealed before it reaches the ledger).
    pub profile: Profile,
    /// The brand the player registers with (default: `default`); it must
    /// exist and admit the currency and jurisdiction.
    pub brand: Option<String>,
}

/// A registered player.
#[derive(Serialize, ToSchema)]
pub struct RegistrationReply {
    /// Player id.
    pub player: u64,
    /// Base currency.
    pub currency: &'static str,
    /// Licensing jurisdiction.
    pub jurisdiction: String,
    /// What the self-exclusion register said, if the jurisdiction's
    /// players are checked there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_exclusion_registry: Option<RegistryReply>,
    /// The player's brand.
    pub brand: String,
    /// The affiliate the profile's tracking code named, if it is active.
    pub affiliate: Option<String>,
    /// What became of the profile's tracking code, if it had one:
    /// `attributed`, `unknown_tracking_code` or `affiliate_disabled` (the
    /// player is then recorded unattributed, the code kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<&'static str>,
}

/// A player's account and profile as the operator sees it.
#[derive(Serialize, ToSchema)]
pub struct ProfileReply {
    /// Player id.
    pub player: u64,
    /// Licensing jurisdiction, if known.
    pub jurisdiction: Option<String>,
    /// `active`, `suspended` or `closed`.
    pub status: String,
    /// Why the account has its status, if an operator said.
    pub status_reason: Option<String>,
    /// Who last set the status (operator id).
    pub status_by: Option<u32>,
    /// The profile; null if the player has none or was erased.
    pub profile: Option<Profile>,
    /// Who last registered or changed the profile (operator id).
    pub profile_by: Option<u32>,
    /// True once erased: the profile is gone for good.
    pub erased: bool,
    /// Who erased it, why and when (ms since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erasure: Option<ErasureReply>,
    /// The sequence number the read is current to.
    pub as_of_seq: u64,
}

/// Who erased a profile, why and when.
#[derive(Serialize, ToSchema)]
pub struct ErasureReply {
    /// Operator id.
    pub by: u32,
    /// The reason given.
    pub reason: String,
    /// When, ms since the epoch.
    pub at_ms: u64,
}

/// A changed profile.
#[derive(Serialize, ToSchema)]
pub struct ProfileChanged {
    /// Player id.
    pub player: u64,
    /// The profile now.
    pub profile: Profile,
}

/// An account status and why.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// `active`, `suspended` or `closed`.
    pub status: String,
    /// Why (1 to 256 bytes, no control characters).
    pub reason: String,
}

/// An erasure request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureRequest {
    /// Why, such as the data-subject request's reference (1 to 256 bytes).
    pub reason: String,
}

/// An erased player.
#[derive(Serialize, ToSchema)]
pub struct ErasedReply {
    /// Player id.
    pub player: u64,
    /// Always true.
    pub erased: bool,
    /// Whether this request destroyed the data key (false: there was none
    /// left, as after a retry).
    pub data_key_destroyed: bool,
}

/// The vault the server made at start-up.
pub(crate) fn vault(state: &AppState) -> Result<Arc<Vault>, ApiError> {
    state
        .modules
        .get::<Arc<Vault>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("the PAM key vault was not set up"))
}

/// Runs blocking vault work (files, fsyncs) off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, VaultError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

pub(crate) fn jurisdiction(text: &str) -> Result<Jurisdiction, ApiError> {
    Jurisdiction::new(text)
        .map_err(|_| ApiError::bad_request("invalid_request", "jurisdiction must be two upper-case letters"))
}

pub(crate) fn reason(text: &str) -> Result<Reason, ApiError> {
    Reason::new(text).map_err(|error| ApiError::bad_request("invalid_request", format!("reason: {error}")))
}

pub(crate) fn indexes(vault: &Vault, normalized: &Normalized) -> ProfileIndexes {
    ProfileIndexes {
        email: vault.blind_index("email", &normalized.email),
        identity: vault.blind_index("identity", &normalized.identity),
    }
}

/// The key a new profile is sealed under: for a request with an
/// `Idempotency-Key`, one derived from it, so that a retry seals the same
/// bytes and gets the recorded outcome; otherwise a random one.
fn new_key_id(vault: &Vault, caller: &Caller, headers: &HeaderMap, id: &ExtId) -> Result<KeyId, ApiError> {
    if headers.contains_key(IDEMPOTENCY_HEADER) {
        Ok(vault.request_key_id(caller.source, id))
    } else {
        vault.random_key_id().map_err(ApiError::internal)
    }
}

/// Seals `profile` under the key `key_id` (made and stored first if new).
/// A `new` key is, on a replication group's member, stored on a majority
/// of the group before this returns: the command naming it is submitted
/// only then, so whichever member leads next can open the profile.
pub(crate) async fn seal(
    vault: &Arc<Vault>,
    key_id: KeyId,
    profile: &Profile,
    new: bool,
) -> Result<SealedProfile, ApiError> {
    let json = serde_json::to_vec(profile).map_err(ApiError::internal)?;
    // A derived key id a retry names may be a live profile's key that this
    // member (a new leader, down when it was shared) lacks: it is fetched,
    // never made anew over the group's copies.
    if new
        && let Some(share) = vault.share()
        && !vault.has(key_id)
    {
        share.recover(key_id).await.map_err(|why| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "keys_not_replicated",
                format!("the data key this request names could not be fetched from the group ({why}): retry"),
            )
        })?;
    }
    let sealing = Arc::clone(vault);
    let sealed = blocking(move || sealing.key_or_create(key_id)?.seal(&json)).await?;
    if new && let Some(share) = vault.share() {
        let reading = Arc::clone(vault);
        let wrapped = blocking(move || reading.wrapped(key_id))
            .await?
            .ok_or_else(|| ApiError::internal("a data key vanished after it was made"))?;
        share.replicate(key_id, wrapped).await.map_err(|why| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "keys_not_replicated",
                format!(
                    "the new data key is not stored on a majority of the group ({why}); nothing was recorded: retry"
                ),
            )
        })?;
    }
    Ok(sealed)
}

/// Opens a sealed profile with its data key. On a group's member that
/// lacks the key (it was down when the key was shared), the key is fetched
/// from the other members first.
pub(crate) async fn open(vault: &Arc<Vault>, sealed: SealedProfile) -> Result<Profile, ApiError> {
    let id = sealed.key_id;
    let opening = Arc::clone(vault);
    let stored = blocking(move || opening.key(id)).await?;
    let key = match (stored, vault.share()) {
        (Some(key), _) => Some(key),
        (None, Some(share)) if share.recover(id).await.map_err(ApiError::internal)? => {
            let opening = Arc::clone(vault);
            blocking(move || opening.key(id)).await?
        }
        (None, _) => None,
    };
    let key: DataKey =
        key.ok_or_else(|| ApiError::internal(format!("the data key {id:?} of a live profile is missing")))?;
    let plain = blocking(move || key.open(&sealed)).await?;
    serde_json::from_slice(&plain).map_err(ApiError::internal)
}

/// Registers a player with a profile (admins, support). The profile is
/// validated (required fields, email, phone, date of birth, the minimum
/// age of the jurisdiction's profile in force), checked at the
/// self-exclusion register if the jurisdiction's players are (a person
/// excluded there is refused with 403 `self_excluded` and nothing is
/// recorded), sealed under a new data key, and submitted with its blind
/// indexes and the player's age band (from the date of birth and the
/// profile's young-adult age, for the stake caps); the same email, or the
/// same name, date of birth and postcode as another player's, is refused.
/// The wallet starts with the profile's deposit-limit defaults. The
/// player joins the brand named (`default` without one) and the affiliate
/// whose tracking code the profile carries, if that affiliate is active;
/// an unknown or disabled code is recorded unattributed (the reply's
/// `attribution` says which), never refused.
#[utoipa::path(post, path = "/operator/v1/registrations", tag = "pam", request_body = RegistrationRequest,
    params(IdempotencyKey), security(("bearer" = [])),
    responses((status = 201, body = RegistrationReply), BodyErrors, RegistryLedgerErrors,
        (status = 401, body = ErrorBody, description = "missing_token or invalid_token"),
        (status = 403, body = ErrorBody, description = "forbidden: the operator's role may not do this; \
            self_excluded: the person is excluded at the national self-exclusion register"),
        (status = 409, body = ErrorBody, description = "duplicate_player; conflict (Idempotency-Key reused)"),
        (status = 404, body = ErrorBody, description = "unknown_brand: the brand named does not exist"),
        (status = 422, body = ErrorBody, description = "under_age: younger than the jurisdiction's minimum age; \
            brand_mismatch: the brand does not take the currency or the jurisdiction")))]
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: RegistrationRequest = decode(&body)?;
    let currency = wire::currency(&request.currency)?;
    let jurisdiction = jurisdiction(&request.jurisdiction)?;
    let now_ms = state.now_ms();
    let (minimum, age_profile) = {
        let view = state.view.read();
        let profile = view.profiles.in_force(jurisdiction, now_ms);
        (u32::from(profile.minimum_age_years), profile.clone())
    };
    let today = Date::from_epoch_ms(now_ms);
    let (profile, normalized) = request.profile.validate(Some(jurisdiction), minimum, today)?;
    let born = Date::parse(&profile.date_of_birth).ok_or_else(|| ApiError::internal("a validated date of birth"))?;
    let age_band = crate::profile::age_band(born, today, &age_profile);
    let id = request_id(&headers)?;
    let attribution = attribution(&state, request.brand.as_deref(), currency, jurisdiction, &profile).await?;
    let registry = screening::registration(&state, jurisdiction, &profile).await?;
    let vault = vault(&state)?;
    let key_id = new_key_id(&vault, &caller, &headers, &id)?;
    let sealed = seal(&vault, key_id, &profile, true).await?;
    let command = players::Command::RegisterAged {
        currency,
        jurisdiction,
        profile: Box::new(sealed),
        indexes: indexes(&vault, &normalized),
        age_band,
        operator: caller.id,
    };
    match caller.submit(&state, id, Command::Players(command)).await? {
        Outcome::Registered { player } => {
            attribution.record(&state, &caller, player).await?;
            ok(
                StatusCode::CREATED,
                &RegistrationReply {
                    player: player.0,
                    currency: currency.code(),
                    jurisdiction: jurisdiction.to_string(),
                    self_exclusion_registry: registry,
                    brand: attribution
                        .brand
                        .as_ref()
                        .map_or(DEFAULT_BRAND, |b| b.as_str())
                        .to_owned(),
                    affiliate: attribution.affiliate.as_ref().map(ToString::to_string),
                    attribution: attribution.verdict,
                },
            )
        }
        other => {
            // A random key no retry can name is destroyed now; a derived
            // one stays for the retry (it may also seal a live profile:
            // the ledger refuses a key that is another player's), and the
            // start-up sweep destroys it if no profile names it.
            if !headers.contains_key(IDEMPOTENCY_HEADER) {
                let vault = Arc::clone(&vault);
                blocking(move || vault.destroy(key_id)).await?;
            }
            Err(refusal(&other, currency))
        }
    }
}

/// A new player's brand and affiliate, worked out before the registration.
struct Attribution {
    /// The brand (`None`: the default).
    brand: Option<BonusCode>,
    /// The active affiliate the tracking code names.
    affiliate: Option<BonusCode>,
    /// The profile's tracking code.
    tracking: Option<BonusCode>,
    /// What became of the tracking code.
    verdict: Option<&'static str>,
}

impl Attribution {
    /// Journals it, unless there is nothing to say (the default brand and
    /// no tracking code: a player without a row is exactly that). Its
    /// request id is the player's, so a retried registration, which gets
    /// the same player back, records it once.
    async fn record(&self, state: &AppState, caller: &Caller, player: PlayerId) -> Result<(), ApiError> {
        if self.brand.is_none() && self.tracking.is_none() {
            return Ok(());
        }
        let id = ExtId::new(&format!("attribution:{}", player.0)).map_err(ApiError::internal)?;
        let command = marketing::Command::AttributePlayer {
            player,
            brand: self.brand.clone(),
            affiliate: self.affiliate.clone(),
            tracking: self.tracking.clone(),
            operator: caller.id,
        };
        match caller.submit(state, id, Command::Marketing(command)).await? {
            Outcome::Accepted => Ok(()),
            other => Err(refusal(&other, Currency::EUR)),
        }
    }
}

/// The brand a registration names (it must exist and admit the currency
/// and jurisdiction: 404 `unknown_brand`, 422 `brand_mismatch`) and the
/// affiliate its tracking code names. A tracking code that names no
/// affiliate, or a disabled one, does not refuse the registration: the
/// player came anyway, and refusing would lose them over a stale link. It
/// is recorded unattributed, with the code, and the reply says why.
async fn attribution(
    state: &AppState,
    brand: Option<&str>,
    currency: Currency,
    jurisdiction: Jurisdiction,
    profile: &Profile,
) -> Result<Attribution, ApiError> {
    let invalid = |field: &str, e| ApiError::bad_request("invalid_request", format!("{field}: {e}"));
    let brand = match brand {
        None => None,
        Some(code) => Some(BonusCode::new(code).map_err(|e| invalid("brand", e))?),
    };
    let tracking = profile
        .affiliate_code
        .as_deref()
        .map(|t| BonusCode::new(t).map_err(|e| invalid("profile.affiliate_code", e)))
        .transpose()?;
    let (brand_code, tracking_code) = (brand.clone(), tracking.clone());
    let ((found, affiliate), _) = read(state, move |c| {
        let found = match &brand_code {
            Some(code) => Some(readmodel::marketing::brand(c, code.as_str())?),
            None => None,
        };
        let affiliate = match &tracking_code {
            Some(code) => Some(readmodel::marketing::affiliate_by_tracking(c, code.as_str())?),
            None => None,
        };
        Ok((found, affiliate))
    })
    .await?;
    if let Some(found) = found {
        match found {
            Some(brand) => {
                let b = &brand.value;
                let currency_ok = b.currencies.is_empty() || b.currencies.contains(&currency);
                let jurisdiction_ok = b.jurisdictions.is_empty() || b.jurisdictions.contains(&jurisdiction);
                if !currency_ok || !jurisdiction_ok {
                    return Err(ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "brand_mismatch",
                        format!(
                            "brand {} does not take players in {} licensed in {jurisdiction}",
                            b.code,
                            currency.code()
                        ),
                    ));
                }
            }
            None if brand.as_ref().is_some_and(|b| b.as_str() == DEFAULT_BRAND) => {}
            None => return Err(ApiError::not_found("unknown_brand", "no brand has this code")),
        }
    }
    let brand = brand.filter(|b| b.as_str() != DEFAULT_BRAND);
    let (affiliate, verdict) = match affiliate {
        None => (None, None),
        Some(None) => (None, Some("unknown_tracking_code")),
        Some(Some(found)) if found.value.status == AffiliateStatus::Active => {
            (Some(found.value.code), Some("attributed"))
        }
        Some(Some(_)) => (None, Some("affiliate_disabled")),
    };
    Ok(Attribution {
        brand,
        affiliate,
        tracking,
        verdict,
    })
}

/// Submits a change whose success is `Accepted`; its refusal otherwise.
pub(crate) async fn change(
    state: &AppState,
    caller: &Caller,
    id: ExtId,
    command: players::Command,
) -> Result<(), ApiError> {
    match caller.submit(state, id, Command::Players(command)).await? {
        Outcome::Accepted => Ok(()),
        // The players domain's refusals carry no amounts: any currency prints them.
        other => Err(refusal(&other, Currency::EUR)),
    }
}

edge::responses! {
    /// A change to an existing player.
    PlayerErrors {
        404 => edge::openapi::error, "unknown_player";
        409 => edge::openapi::error, "duplicate_player (a profile change); conflict (Idempotency-Key reused)";
        410 => edge::openapi::error, "player_erased: the profile and status can no longer change";
    }
}

/// The profile view of `player`, current to every acknowledged write.
pub(crate) async fn view(state: &AppState, player: PlayerId) -> Result<(ProfileView, u64), ApiError> {
    let (found, as_of_seq) = read(state, move |c| profiles::profile(c, player)).await?;
    let found = found.ok_or_else(|| ApiError::not_found("unknown_player", "no such player"))?;
    Ok((found, as_of_seq))
}

/// A player's account status and profile, opened with the player's data
/// key (admins, support, compliance). An erased player shows as erased,
/// with no profile.
#[utoipa::path(get, path = "/operator/v1/players/{player}/profile", tag = "pam",
    params(("player" = u64, Path)), security(("bearer" = [])),
    responses((status = 200, body = ProfileReply), RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player")))]
pub async fn get_profile(State(state): State<AppState>, Path(player_id): Path<String>) -> Result<Response, ApiError> {
    let player = player(&state, &player_id)?;
    let (view, as_of_seq) = view(&state, player).await?;
    let profile = match view.profile {
        Some(sealed) => Some(open(&vault(&state)?, sealed).await?),
        None => None,
    };
    ok(
        StatusCode::OK,
        &ProfileReply {
            player: player.0,
            jurisdiction: view.jurisdiction.map(|j| j.to_string()),
            status: view.status,
            status_reason: view.status_reason,
            status_by: view.status_by.map(|o| o.0),
            profile,
            profile_by: view.profile_by.map(|o| o.0),
            erased: view.erased.is_some(),
            erasure: view.erased.map(|(by, reason, at_ms)| ErasureReply {
                by: by.0,
                reason,
                at_ms,
            }),
            as_of_seq,
        },
    )
}

/// Changes a player's profile (admins, support): the fields given replace
/// the stored ones (a player registered without a profile must give them
/// all), validated as at registration and checked for duplicates. The
/// change is journaled with the operator who made it.
#[utoipa::path(patch, path = "/operator/v1/players/{player}/profile", tag = "pam", request_body = ProfilePatch,
    params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = ProfileChanged), BodyErrors, RoleErrors, LedgerErrors, PlayerErrors,
        (status = 422, body = ErrorBody, description = "under_age")))]
pub async fn patch_profile(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let patch: ProfilePatch = decode(&body)?;
    if patch.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "name at least one field to change",
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
    let (profile, key_id, new_key) = match view.profile {
        Some(sealed) => {
            let key_id = sealed.key_id;
            (patch.apply(open(&vault, sealed).await?), key_id, false)
        }
        None => (patch.complete()?, new_key_id(&vault, &caller, &headers, &id)?, true),
    };
    let now_ms = state.now_ms();
    let minimum = crate::profile::minimum_age(&state.view.read().profiles, view.jurisdiction, now_ms);
    let (profile, normalized) = profile.validate(view.jurisdiction, minimum, Date::from_epoch_ms(now_ms))?;
    let sealed = seal(&vault, key_id, &profile, new_key).await?;
    let command = players::Command::UpdateProfile {
        player,
        profile: Box::new(sealed),
        indexes: indexes(&vault, &normalized),
        operator: caller.id,
    };
    change(&state, &caller, id, command).await?;
    ok(
        StatusCode::OK,
        &ProfileChanged {
            player: player.0,
            profile,
        },
    )
}

/// Sets a player's account status with the reason (admins, compliance,
/// support): a suspended or closed player can neither bet nor deposit.
#[utoipa::path(put, path = "/operator/v1/players/{player}/status", tag = "pam", request_body = StatusRequest,
    params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = StatusRequest), BodyErrors, RoleErrors, LedgerErrors, PlayerErrors))]
pub async fn set_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: StatusRequest = decode(&body)?;
    let status = match request.status.as_str() {
        "active" => AccountStatus::Active,
        "suspended" => AccountStatus::Suspended,
        "closed" => AccountStatus::Closed,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "status: active, suspended or closed",
            ));
        }
    };
    let reason = reason(&request.reason)?;
    let player = player(&state, &player_id)?;
    let command = players::Command::SetStatus {
        player,
        status,
        reason,
        operator: caller.id,
    };
    change(&state, &caller, request_id(&headers)?, command).await?;
    ok(StatusCode::OK, &request)
}

/// Erases a player's personal data (admins, compliance): the ledger drops
/// the sealed profile and its blind indexes and closes the account, then
/// the player's data key is destroyed, so the ciphertext the journal keeps
/// can never be opened again. Ids and amounts stay for the regulator.
#[utoipa::path(post, path = "/operator/v1/players/{player}/erasure", tag = "pam", request_body = ErasureRequest,
    params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = ErasedReply), BodyErrors, RoleErrors, LedgerErrors, PlayerErrors))]
pub async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: ErasureRequest = decode(&body)?;
    let reason = reason(&request.reason)?;
    let player = player(&state, &player_id)?;
    let id = request_id(&headers)?;
    let vault = vault(&state)?;
    let (view, _) = view(&state, player).await?;
    let key_id = view.profile.map(|sealed| sealed.key_id);
    // On a group's member the state machine destroys the key as it applies
    // the erasure, before the reply: whether this request destroyed it is
    // whether it was there before.
    let had_key = key_id.is_some_and(|key_id| vault.has(key_id)) && vault.share().is_some();
    let command = players::Command::ErasePlayer {
        player,
        reason,
        operator: caller.id,
    };
    change(&state, &caller, id, command).await?;
    // Durable now: the key goes. A crash before this line leaves the key
    // for the start-up sweep, which destroys it.
    let destroyed = match key_id {
        Some(key_id) => blocking(move || vault.destroy(key_id)).await?,
        None => false,
    };
    ok(
        StatusCode::OK,
        &ErasedReply {
            player: player.0,
            erased: true,
            data_key_destroyed: destroyed || had_key,
        },
    )
}
