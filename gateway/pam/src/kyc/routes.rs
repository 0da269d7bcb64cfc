//! The KYC routes: start a provider check, read a player's KYC state,
//! decide manually with a reason, record a document, set a jurisdiction's
//! KYC gates, and the provider's webhook.
//!
//! Every change is one ledger command under the operator's own source (the
//! webhook's under the server's, naming the provider check), built only
//! once the input is valid. A verification (manual, or a provider's GREEN)
//! is accepted only for a player whose sealed date of birth makes them at
//! least the jurisdiction's minimum age: a manual one is refused with 422
//! `under_age` (or `age_unknown` without a profile), a provider's becomes a
//! rejection with that reason. Document numbers are hashed here with the
//! vault's blind-index key and never stored in clear.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::change::{IdempotencyKey, ok, player, refusal, request_id};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::reads::read;
use edge::{AppState, Caller, wire};
use engine::command::{JurisdictionRules, KycLevel};
use engine::players::{DocumentKind, DocumentStatus, KycDocument, KycSource};
use engine::{Command, Currency, ExtId, Outcome, PlayerId, Reason, SourceId, players};
use readmodel::kyc::{self as view, KycView, SourceView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{KycProvider, Verdict};
use crate::players::{change, jurisdiction, open, reason, vault};
use crate::profile::{Date, minimum_age};

/// The source the provider's webhooks are submitted under: the server's
/// own (the first operator's creation uses it too, with other ids).
const WEBHOOK_SOURCE: SourceId = SourceId(0);
/// Longest document number accepted, in characters.
const DOCUMENT_NUMBER_MAX: usize = 64;

/// The provider the server set up at start-up, if configured.
#[derive(Clone)]
pub struct ProviderHandle(pub Arc<dyn KycProvider>);

fn provider(state: &AppState) -> Result<Arc<dyn KycProvider>, ApiError> {
    state
        .modules
        .get::<ProviderHandle>()
        .map(|handle| Arc::clone(&handle.0))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "kyc_provider_not_configured",
                "no KYC provider is configured (kyc_provider_url); manual decisions still work",
            )
        })
}

/// A started provider check.
#[derive(Serialize, ToSchema)]
pub struct CheckStarted {
    /// Player id.
    pub player: u64,
    /// The provider's reference of the check.
    pub check: String,
    /// The link the player's front end opens to verify.
    pub url: String,
    /// The player's KYC level now (`pending`, or `verified` for a re-check).
    pub level: String,
}

/// Who made a KYC change.
#[derive(Serialize, ToSchema)]
pub struct SourceReply {
    /// `operator` or `provider`.
    pub kind: &'static str,
    /// The operator id, for `operator`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<u32>,
    /// The provider check, for `provider`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
}

/// A provider check as recorded.
#[derive(Serialize, ToSchema)]
pub struct CheckReply {
    /// The provider's reference.
    pub reference: String,
    /// Who started it.
    pub started_by: u32,
    /// When, ms since the epoch.
    pub started_at_ms: u64,
    /// The provider's event time of the last verdict applied (0: none yet).
    pub last_event_ms: u64,
}

/// A document, its number hashed.
#[derive(Serialize, ToSchema)]
pub struct DocumentReply {
    /// Its number in the player's list, from 1.
    pub document: u32,
    /// `passport`, `id_card`, `driving_licence`, `residence_permit`, `proof_of_address`, `other`.
    pub kind: String,
    /// ISO 3166-1 alpha-2.
    pub issuing_country: String,
    /// The keyed hash of the number (hex): the number is never stored.
    pub number_hash: String,
    /// `YYYY-MM-DD`, if the document has one.
    pub expires_on: Option<String>,
    /// The provider's reference.
    pub provider_ref: Option<String>,
    /// `pending`, `verified`, `rejected`, `expired`.
    pub status: String,
    /// Why.
    pub reason: Option<String>,
    /// Who recorded it.
    pub by: Option<SourceReply>,
    /// When, ms since the epoch.
    pub at_ms: u64,
}

/// A player's KYC state.
#[derive(Serialize, ToSchema)]
pub struct KycReply {
    /// Player id.
    pub player: u64,
    /// `none`, `pending`, `verified` or `rejected`.
    pub level: String,
    /// Why, if given.
    pub reason: Option<String>,
    /// Who set the level.
    pub by: Option<SourceReply>,
    /// When (ms since the epoch; 0: never set).
    pub at_ms: u64,
    /// The current provider check.
    pub check: Option<CheckReply>,
    /// The documents.
    pub documents: Vec<DocumentReply>,
    /// The sequence number the read is current to.
    pub as_of_seq: u64,
}

/// A manual KYC decision.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// `none`, `pending`, `verified` or `rejected`.
    pub level: String,
    /// Why (1 to 256 bytes, no control characters).
    pub reason: String,
}

/// A document to record (or the one with the same kind, country and
/// number to change).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentRequest {
    /// `passport`, `id_card`, `driving_licence`, `residence_permit`, `proof_of_address`, `other`.
    pub kind: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub issuing_country: String,
    /// The document number (1 to 64 letters, digits, spaces or hyphens):
    /// hashed at once, never stored.
    pub number: String,
    /// `YYYY-MM-DD`, if printed.
    #[serde(default)]
    pub expires_on: Option<String>,
    /// The provider's reference of the document.
    #[serde(default)]
    pub provider_ref: Option<String>,
    /// `pending`, `verified`, `rejected` or `expired`.
    pub status: String,
    /// Why (required for `rejected` and `expired`).
    #[serde(default)]
    pub reason: Option<String>,
}

/// A recorded document.
#[derive(Serialize, ToSchema)]
pub struct DocumentRecorded {
    /// Player id.
    pub player: u64,
    /// Its number in the player's list, from 1.
    pub document: u32,
    /// The keyed hash of its number (hex).
    pub number_hash: String,
}

/// A jurisdiction's KYC gates.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KycGates {
    /// Verified KYC before any deposit.
    pub before_deposit: bool,
    /// Verified KYC before any bet.
    pub before_bet: bool,
    /// Verified KYC before any withdrawal.
    pub before_withdrawal: bool,
}

/// The answer to a webhook.
#[derive(Serialize, ToSchema)]
#[schema(as = KycWebhookReply)]
pub struct WebhookReply {
    /// True if its verdict is in effect (a delivery of the same event
    /// again gets the first delivery's answer and changes nothing); false
    /// for a stale event, one about an earlier check, or one that decides
    /// nothing.
    pub applied: bool,
    /// The player's level after it, if it carried a verdict.
    pub level: Option<String>,
}

edge::responses! {
    /// Talking to the KYC provider.
    ProviderErrors {
        500 => edge::openapi::error, "commit_failed (retry with the same id) or internal";
        502 => edge::openapi::error, "kyc_provider_error: the provider refused or could not be reached";
        503 => edge::openapi::unavailable, "kyc_provider_not_configured; busy, shutting_down, timeout";
    }
}

edge::responses! {
    /// A KYC change to an existing player.
    KycPlayerErrors {
        404 => edge::openapi::error, "unknown_player";
        409 => edge::openapi::error, "kyc_document_taken (another player's document), kyc_documents_full; conflict (Idempotency-Key reused)";
        410 => edge::openapi::error, "player_erased";
        422 => edge::openapi::error, "under_age, age_unknown (no date of birth on file), kyc_document_expired";
    }
}

fn source_reply(source: SourceView) -> SourceReply {
    match source {
        SourceView::Operator(operator) => SourceReply {
            kind: "operator",
            operator: Some(operator),
            check: None,
        },
        SourceView::Provider(check) => SourceReply {
            kind: "provider",
            operator: None,
            check: Some(check),
        },
    }
}

fn date_of_day(day: u32) -> String {
    Date::from_epoch_ms(u64::from(day) * 86_400_000).to_string()
}

fn kyc_reply(player: PlayerId, view: KycView, as_of_seq: u64) -> KycReply {
    KycReply {
        player: player.0,
        level: view.level,
        reason: view.reason,
        by: view.by.map(source_reply),
        at_ms: view.at_ms,
        check: view.check.map(|c| CheckReply {
            reference: c.reference,
            started_by: c.started_by,
            started_at_ms: c.started_at_ms,
            last_event_ms: c.last_event_ms,
        }),
        documents: view
            .documents
            .into_iter()
            .map(|d| DocumentReply {
                document: d.number,
                kind: d.kind,
                issuing_country: d.issuing_country,
                number_hash: d.number_hash,
                expires_on: d.expires_on_day.map(date_of_day),
                provider_ref: d.provider_ref,
                status: d.status,
                reason: d.reason,
                by: d.by.map(source_reply),
                at_ms: d.at_ms,
            })
            .collect(),
        as_of_seq,
    }
}

/// Why a player may not be verified: under the jurisdiction's minimum age
/// on `today`, or no date of birth on file. `None`: old enough.
pub(crate) fn age_refusal(date_of_birth: Option<&str>, minimum: u32, today: Date) -> Option<ApiError> {
    let Some(born) = date_of_birth.and_then(Date::parse) else {
        return Some(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "age_unknown",
            "the player has no date of birth on file: give the profile first",
        ));
    };
    (born.age_on(today) < minimum).then(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "under_age",
            format!("the player is younger than {minimum}, the jurisdiction's minimum age"),
        )
    })
}

/// The age check of a verification for `player`, from the sealed profile.
async fn check_age(state: &AppState, player: PlayerId) -> Result<Option<ApiError>, ApiError> {
    let (profile, _) = crate::players::view(state, player).await?;
    if profile.erased.is_some() {
        return Err(ApiError::new(
            StatusCode::GONE,
            "player_erased",
            "the player's profile was erased",
        ));
    }
    let opened = match profile.profile {
        Some(sealed) => Some(open(&vault(state)?, sealed).await?),
        None => None,
    };
    let now_ms = state.now_ms();
    let minimum = minimum_age(&state.view.read().profiles, profile.jurisdiction, now_ms);
    let born = opened.as_ref().map(|p| p.date_of_birth.as_str());
    Ok(age_refusal(born, minimum, Date::from_epoch_ms(now_ms)))
}

/// Starts a verification at the KYC provider (admins, compliance): the
/// provider's applicant is made (or reused) for the player, the check is
/// recorded and the level becomes pending (a verified player stays
/// verified until the provider decides). The reply has the link the
/// player's front end opens.
#[utoipa::path(post, path = "/operator/v1/players/{player}/kyc/checks", tag = "pam",
    params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 201, body = CheckStarted), RoleErrors, ProviderErrors,
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)"),
        (status = 410, body = ErrorBody, description = "player_erased")))]
pub async fn start_check(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let player = player(&state, &player_id)?;
    let id = request_id(&headers)?;
    let provider = provider(&state)?;
    let (profile, _) = crate::players::view(&state, player).await?;
    if profile.erased.is_some() {
        return Err(ApiError::new(
            StatusCode::GONE,
            "player_erased",
            "the player's profile was erased",
        ));
    }
    let external_user_id = format!("croupier-player-{}", player.0);
    let started = provider
        .start(&external_user_id, state.now_ms())
        .await
        .map_err(|error| {
            tracing::warn!(%error, player = player.0, "starting a KYC check failed");
            ApiError::new(StatusCode::BAD_GATEWAY, "kyc_provider_error", error.to_string())
        })?;
    let check = ExtId::new(&started.check).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "kyc_provider_error",
            "the provider's applicant id is not a printable id of at most 64 bytes",
        )
    })?;
    let command = players::Command::StartKycCheck {
        player,
        check,
        operator: caller.id,
    };
    change(&state, &caller, id, command).await?;
    let (kyc, _) = read(&state, move |c| view::kyc(c, player)).await?;
    ok(
        StatusCode::CREATED,
        &CheckStarted {
            player: player.0,
            check: started.check,
            url: started.url,
            level: kyc.map_or_else(|| "pending".into(), |k| k.level),
        },
    )
}

/// A player's KYC level with its reason and source, the provider check and
/// the documents (numbers hashed) (admins, compliance, support).
#[utoipa::path(get, path = "/operator/v1/players/{player}/kyc", tag = "pam",
    params(("player" = u64, Path)), security(("bearer" = [])),
    responses((status = 200, body = KycReply), RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player")))]
pub async fn get_kyc(State(state): State<AppState>, Path(player_id): Path<String>) -> Result<Response, ApiError> {
    let player = player(&state, &player_id)?;
    let (found, as_of_seq) = read(&state, move |c| view::kyc(c, player)).await?;
    let found = found.ok_or_else(|| ApiError::not_found("unknown_player", "no such player"))?;
    ok(StatusCode::OK, &kyc_reply(player, found, as_of_seq))
}

fn level(text: &str) -> Result<KycLevel, ApiError> {
    match text {
        "none" => Ok(KycLevel::None),
        "pending" => Ok(KycLevel::Pending),
        "verified" => Ok(KycLevel::Verified),
        "rejected" => Ok(KycLevel::Rejected),
        _ => Err(ApiError::bad_request(
            "invalid_request",
            "level: none, pending, verified or rejected",
        )),
    }
}

/// Decides a player's KYC level by hand, with the reason (admins,
/// compliance). `verified` is refused for a player under the
/// jurisdiction's minimum age, or without a date of birth on file.
#[utoipa::path(put, path = "/operator/v1/players/{player}/kyc", tag = "pam", request_body = DecisionRequest,
    params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = DecisionRequest), BodyErrors, RoleErrors, LedgerErrors, KycPlayerErrors))]
pub async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: DecisionRequest = decode(&body)?;
    let level = level(&request.level)?;
    let reason = reason(&request.reason)?;
    let player = player(&state, &player_id)?;
    let id = request_id(&headers)?;
    if level == KycLevel::Verified
        && let Some(refused) = check_age(&state, player).await?
    {
        return Err(refused);
    }
    let command = players::Command::SetKycLevel {
        player,
        level,
        reason,
        operator: caller.id,
    };
    change(&state, &caller, id, command).await?;
    ok(StatusCode::OK, &request)
}

fn document_kind(text: &str) -> Result<DocumentKind, ApiError> {
    Ok(match text {
        "passport" => DocumentKind::Passport,
        "id_card" => DocumentKind::IdCard,
        "driving_licence" => DocumentKind::DrivingLicence,
        "residence_permit" => DocumentKind::ResidencePermit,
        "proof_of_address" => DocumentKind::ProofOfAddress,
        "other" => DocumentKind::Other,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "kind: passport, id_card, driving_licence, residence_permit, proof_of_address or other",
            ));
        }
    })
}

fn document_status(text: &str) -> Result<DocumentStatus, ApiError> {
    Ok(match text {
        "pending" => DocumentStatus::Pending,
        "verified" => DocumentStatus::Verified,
        "rejected" => DocumentStatus::Rejected,
        "expired" => DocumentStatus::Expired,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "status: pending, verified, rejected or expired",
            ));
        }
    })
}

/// The number as the blind index sees it: upper case, letters and digits
/// only (spaces and hyphens are how it is printed, not what it is).
fn normalized_number(text: &str) -> Result<String, ApiError> {
    let valid = !text.trim().is_empty()
        && text.chars().count() <= DOCUMENT_NUMBER_MAX
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-');
    if !valid {
        return Err(ApiError::bad_request(
            "invalid_request",
            "number: 1 to 64 letters, digits, spaces or hyphens",
        ));
    }
    Ok(text
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_uppercase())
}

/// The document a request describes, its number hashed.
fn document(state: &AppState, request: &DocumentRequest) -> Result<KycDocument, ApiError> {
    let kind = document_kind(&request.kind)?;
    let issuing_country = jurisdiction(&request.issuing_country)
        .map_err(|_| ApiError::bad_request("invalid_request", "issuing_country: two upper-case letters"))?;
    let number = normalized_number(&request.number)?;
    let expires_on_day = match &request.expires_on {
        Some(text) => {
            let date = Date::parse(text)
                .ok_or_else(|| ApiError::bad_request("invalid_request", "expires_on: a date YYYY-MM-DD"))?;
            Some(
                u32::try_from(date.days_since_epoch())
                    .map_err(|_| ApiError::bad_request("invalid_request", "expires_on: on or after 1970-01-01"))?,
            )
        }
        None => None,
    };
    let provider_ref = request
        .provider_ref
        .as_deref()
        .map(|r| wire::ext_id(r, "provider_ref"))
        .transpose()?;
    let status = document_status(&request.status)?;
    let reason = request.reason.as_deref().map(reason).transpose()?;
    if matches!(status, DocumentStatus::Rejected | DocumentStatus::Expired) && reason.is_none() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "reason: required for a rejected or expired document",
        ));
    }
    let vault = vault(state)?;
    let kind_name = view::kind_name(kind);
    let hashed = vault.blind_index("kyc-document", &format!("{kind_name}|{issuing_country}|{number}"));
    Ok(KycDocument {
        kind,
        issuing_country,
        number: hashed,
        expires_on_day,
        provider_ref,
        status,
        reason,
    })
}

/// Records an identity document for a player (admins, compliance), or
/// changes the one with the same kind, issuing country and number. The
/// number is hashed with the vault's blind-index key before the command is
/// built: neither the journal nor the read model ever holds it. A document
/// another player has is refused (`kyc_document_taken`), as is a verified
/// one past its expiry date.
#[utoipa::path(post, path = "/operator/v1/players/{player}/kyc/documents", tag = "pam", request_body = DocumentRequest,
    params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 201, body = DocumentRecorded), BodyErrors, RoleErrors, LedgerErrors, KycPlayerErrors))]
pub async fn record_document(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: DocumentRequest = decode(&body)?;
    let document = document(&state, &request)?;
    let player = player(&state, &player_id)?;
    let id = request_id(&headers)?;
    let number_hash = hex::encode(document.number.0);
    let command = players::Command::RecordKycDocument {
        player,
        document: Box::new(document),
        source: KycSource::Operator(caller.id),
    };
    match caller.submit(&state, id, Command::Players(command)).await? {
        Outcome::KycDocumentRecorded { document } => ok(
            StatusCode::CREATED,
            &DocumentRecorded {
                player: player.0,
                document,
                number_hash,
            },
        ),
        other => Err(refusal(&other, Currency::EUR)),
    }
}

/// Sets which activities a jurisdiction gates behind verified KYC (admins,
/// compliance): deposits, bets, withdrawals, as a version of the
/// jurisdiction's profile in force from now (its other fields unchanged;
/// see `PUT /operator/v1/jurisdictions/{code}/profile`). The ledger refuses
/// each gated activity of an unverified player with `kyc_required`.
#[utoipa::path(put, path = "/operator/v1/jurisdictions/{jurisdiction}/kyc-gates", tag = "pam", request_body = KycGates,
    params(("jurisdiction" = String, Path, description = "two upper-case letters"), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = KycGates), BodyErrors, RoleErrors, LedgerErrors,
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)")))]
pub async fn set_gates(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let gates: KycGates = decode(&body)?;
    let jurisdiction = jurisdiction(&code)?;
    let command = players::Command::SetJurisdictionRules {
        jurisdiction,
        rules: JurisdictionRules {
            kyc_before_deposit: gates.before_deposit,
            kyc_before_bet: gates.before_bet,
            kyc_before_withdrawal: gates.before_withdrawal,
        },
    };
    change(&state, &caller, request_id(&headers)?, command).await?;
    ok(StatusCode::OK, &gates)
}

/// The request id of a webhook: a digest of its body, so the same event
/// delivered twice is one request (the ledger answers the second from its
/// memory), and different events are different requests.
fn webhook_id(body: &[u8]) -> Result<ExtId, ApiError> {
    let digest = ring::digest::digest(&ring::digest::SHA256, body);
    wire::ext_id(&format!("kyc-{}", hex::encode(&digest.as_ref()[..20])), "id")
}

/// The level and reason a provider's verdict gives.
fn verdict_level(verdict: &Verdict) -> (KycLevel, String) {
    match verdict {
        Verdict::Pending => (KycLevel::Pending, "under review at the provider".into()),
        Verdict::Verified => (KycLevel::Verified, "verified by the provider".into()),
        Verdict::Rejected { labels } if labels.is_empty() => (KycLevel::Rejected, "rejected by the provider".into()),
        Verdict::Rejected { labels } => (
            KycLevel::Rejected,
            format!("rejected by the provider: {}", labels.join(", ")),
        ),
    }
}

/// The KYC provider's webhook (no bearer token: authenticated by the
/// provider's signature, `X-Payload-Digest`, over the raw body). A verdict
/// applies only if it is about the player's current check and newer, by
/// the provider's event time, than the last one applied: a duplicate or a
/// stale event answers 200 and changes nothing. A forged, malformed, stale
/// or unknown webhook changes nothing, is logged, and gets a 4xx.
#[utoipa::path(post, path = "/webhooks/v1/kyc", tag = "pam",
    request_body(content = String, content_type = "application/json", description = "the provider's event (Sumsub webhook body)"),
    params(("x-payload-digest" = String, Header, description = "hex HMAC-SHA256 of the body under the webhook secret")),
    responses((status = 200, body = WebhookReply),
        (status = 400, body = ErrorBody, description = "invalid_request (not a webhook of the protocol), stale_webhook (event time outside the window)"),
        (status = 401, body = ErrorBody, description = "bad_signature"),
        (status = 404, body = ErrorBody, description = "unknown_check: no check with that reference was started here; kyc_provider_not_configured: no provider, so no webhook is expected"),
        (status = 413, body = ErrorBody, description = "body_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type: the body must be application/json"),
        (status = 500, body = ErrorBody, description = "commit_failed or internal"),
        (status = 503, body = ErrorBody, description = "busy, shutting_down, timeout")))]
pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    // Without a provider there is no webhook receiver here: nothing a
    // retry would find later, so not a 503.
    let provider = provider(&state).map_err(|_| {
        ApiError::not_found(
            "kyc_provider_not_configured",
            "no KYC provider is configured here (kyc_provider_url): no webhook is expected",
        )
    })?;
    let event = provider.webhook(&headers, &body, state.now_ms()).map_err(|error| {
        tracing::warn!(%error, "KYC webhook refused");
        match error {
            super::WebhookError::BadSignature => ApiError::unauthorized("bad_signature", error.to_string()),
            super::WebhookError::Malformed(_) => ApiError::bad_request("invalid_request", error.to_string()),
            super::WebhookError::Stale { .. } => ApiError::bad_request("stale_webhook", error.to_string()),
        }
    })?;
    let Some(verdict) = &event.verdict else {
        return ok(
            StatusCode::OK,
            &WebhookReply {
                applied: false,
                level: None,
            },
        );
    };
    let reference = event.check.clone();
    let (found, _) = read(&state, move |c| view::player_of_check(c, &reference)).await?;
    let Some(player) = found else {
        tracing::warn!(check = %event.check, "KYC webhook for a check not started here");
        return Err(ApiError::not_found(
            "unknown_check",
            "no KYC check with this reference was started here",
        ));
    };
    let check = wire::ext_id(&event.check, "applicantId")?;
    let (mut level, mut why) = verdict_level(verdict);
    if level == KycLevel::Verified
        && let Some(refused) = check_age(&state, player).await?
    {
        // The provider verified the documents, but the player may not play here.
        level = KycLevel::Rejected;
        why = format!(
            "verified by the provider, refused here: {}",
            refused.body().error.message
        );
    }
    let reason = Reason::new(&why).map_err(ApiError::internal)?;
    let command = players::Command::ApplyKycVerdict {
        player,
        check,
        event_ms: event.event_ms,
        level,
        reason,
    };
    let request = engine::Request {
        source: WEBHOOK_SOURCE,
        id: webhook_id(&body)?,
        command: Command::Players(command),
    };
    match state.engine.run(request).await?.outcome {
        Outcome::Accepted => ok(
            StatusCode::OK,
            &WebhookReply {
                applied: true,
                level: Some(view::level_name(level).into()),
            },
        ),
        Outcome::KycEventIgnored { level } => ok(
            StatusCode::OK,
            &WebhookReply {
                applied: false,
                level: Some(view::level_name(level).into()),
            },
        ),
        other => Err(refusal(&other, Currency::EUR)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_needs_a_date_of_birth_at_least_the_minimum_age_ago() {
        let today = Date::parse("2026-01-01").unwrap();
        let refusal = |born: Option<&str>| age_refusal(born, 18, today).map(|e| e.body().error.code);
        assert_eq!(refusal(Some("2008-01-01")), None, "18 today");
        assert_eq!(refusal(Some("2008-01-02")), Some("under_age"), "18 tomorrow");
        assert_eq!(refusal(Some("2015-06-01")), Some("under_age"));
        assert_eq!(refusal(None), Some("age_unknown"));
        assert_eq!(refusal(Some("not a date")), Some("age_unknown"));
    }

    #[test]
    fn document_numbers_are_normalized_before_hashing_and_checked() {
        assert_eq!(normalized_number("925 665-416").ok().as_deref(), Some("925665416"));
        assert_eq!(normalized_number("ab12").ok().as_deref(), Some("AB12"));
        for bad in ["", "  ", "92/5", &"1".repeat(65)] {
            assert!(normalized_number(bad).is_err(), "{bad}");
        }
    }
}
