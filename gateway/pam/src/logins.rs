//! Login sessions and devices: the front end's login and logout reports,
//! and the reads over them (sessions, devices, risk flags, identifiers
//! shared between players).
//!
//! The device id, the IP address and the user agent are personal data and
//! never reach the ledger in clear. The device id and the IP address
//! (canonical text) become blind indexes under the vault's index key
//! ([`crate::vault::Vault::blind_index`], domains `login device` and
//! `login ip`): equal values give equal hashes, which is all that sharing
//! and concurrency checks need, and the journal cannot be searched for a
//! guessed address without the key. The user agent is reduced to its
//! browser and OS families ([`agent_family`]) rather than sealed under the
//! player's data key: a player registered without a profile has no data
//! key, sealing would cost a key-file read on every login, and the families
//! (about sixty combinations) identify no one, so erasure has nothing to
//! shred there; the full string, a near fingerprint, is kept nowhere.
//!
//! A session is named by its login's sequence number. It ends at a logout
//! from the same device or, when none was reported, at the next login from
//! that device; a login while another device's session is open is flagged
//! as concurrent (`readmodel::logins`).
//!
//! Before a login is recorded, a player of a jurisdiction checked at the
//! self-exclusion register is checked there ([`crate::exclusion`]): a hit
//! suspends an active account (status reason
//! [`crate::exclusion::REGISTRY_REASON`], under the reporting operator,
//! with a request id derived from the login's so that a retried login does
//! not suspend twice), so the login's own outcome already says the player
//! may not play and the ledger refuses money from then on. An account the
//! register no longer excludes stays suspended until an operator reopens
//! it; the next login checks again, so it cannot be reopened while the
//! exclusion lasts.

use std::net::IpAddr;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::change::{IdempotencyKey, ok, player, refusal, request_id};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::reads::read;
use edge::{AppState, Caller};
use engine::command::AccountStatus;
use engine::players::{AgentFamily, Browser, LoginContext, Os};
use engine::{BlindIndex, Command, Currency, ExtId, Outcome, PlayerId, Reason, TxRef, players};
use readmodel::history;
use readmodel::logins::{self, Identifier, IdentifierView, SessionView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::exclusion::screening::{self, RegistryLedgerErrors, RegistryReply};
use crate::exclusion::{Exclusion, REGISTRY_REASON};
use crate::players::{open, vault};
use crate::vault::Vault;

/// Longest device id accepted, in bytes.
const DEVICE_ID_MAX: usize = 256;
/// Longest user agent accepted, in bytes (longer ones are not browsers').
const USER_AGENT_MAX: usize = 2048;
/// Most sessions in one page.
const SESSIONS_PAGE_MAX: usize = 500;
/// Most shared identifiers in one page.
const SHARED_PAGE_MAX: usize = 500;
/// Most players listed per shared identifier (the count is always whole).
const PLAYERS_PER_IDENTIFIER_MAX: usize = 100;
/// Most concurrent sessions listed in a player's flags.
const CONCURRENT_LISTED_MAX: usize = 100;

/// A login or logout as the front end reports it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The front end's device id (1 to 256 bytes); stored only as a keyed hash.
    pub device_id: String,
    /// The client's IP address (IPv4 or IPv6); stored only as a keyed hash.
    pub ip: String,
    /// The client's user agent (at most 2048 bytes, may be empty); only its
    /// browser and OS families are kept.
    pub user_agent: String,
}

/// Why the account may not play, as of a login.
#[derive(Serialize, ToSchema)]
pub struct BlockedReply {
    /// `suspended`, `closed`, `self_excluded` or `timed_out`.
    pub reason: String,
    /// Until when (self-exclusion, time-out), ms since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<u64>,
}

/// One login session.
#[derive(Serialize, ToSchema)]
pub struct LoginSessionReply {
    /// The session's id: its login's sequence number.
    pub session: u64,
    /// When it started, ms since the epoch.
    pub started_ms: u64,
    /// When it ended, if it did.
    pub ended_ms: Option<u64>,
    /// How long it lasted, if it ended.
    pub duration_ms: Option<u64>,
    /// `logout`, or `next_login` (a later login from the same device, with
    /// no logout reported); null while open.
    pub ended_by: Option<String>,
    /// The device's keyed hash (hex).
    pub device: String,
    /// The IP address's keyed hash (hex).
    pub ip: String,
    /// The user agent's browser family (chrome, firefox, safari, edge,
    /// opera, samsung, app, other).
    pub browser: String,
    /// The user agent's OS family (windows, macos, linux, android, ios,
    /// chromeos, other).
    pub os: String,
    /// Why the account could not play at this login, if it could not.
    pub blocked: Option<BlockedReply>,
    /// Another session of the player open on another device at this login.
    pub concurrent_with: Option<u64>,
}

impl From<SessionView> for LoginSessionReply {
    fn from(view: SessionView) -> LoginSessionReply {
        LoginSessionReply {
            session: view.seq,
            started_ms: view.start_ms,
            ended_ms: view.end_ms,
            duration_ms: view.end_ms.map(|end| end.saturating_sub(view.start_ms)),
            ended_by: view.ended_by,
            device: hex::encode(view.device.0),
            ip: hex::encode(view.ip.0),
            browser: view.browser,
            os: view.os,
            blocked: view.blocked.map(|(reason, until_ms)| BlockedReply { reason, until_ms }),
            concurrent_with: view.concurrent_with,
        }
    }
}

/// A recorded login.
#[derive(Serialize, ToSchema)]
pub struct LoginReply {
    /// Player id.
    pub player: u64,
    /// The session it opened.
    pub session: LoginSessionReply,
    /// False if the account may not play now (see `session.blocked`): the
    /// front end should refuse play and show the reason.
    pub may_play: bool,
    /// What the self-exclusion register said, if the player's jurisdiction
    /// is checked there: `Y` means the account was suspended for it (the
    /// front end should tell the player they are self-excluded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_exclusion_registry: Option<RegistryReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// A recorded logout.
#[derive(Serialize, ToSchema)]
pub struct LogoutReply {
    /// Player id.
    pub player: u64,
    /// The session it ended; null if no session was open on that device.
    pub ended: Option<LoginSessionReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// The login context of a report: validated, hashed, reduced.
fn context(vault: &Vault, request: &LoginRequest) -> Result<LoginContext, ApiError> {
    let device = request.device_id.as_str();
    if device.is_empty() || device.len() > DEVICE_ID_MAX || device.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_request",
            "device_id: 1 to 256 bytes, no control characters",
        ));
    }
    let ip: IpAddr = request
        .ip
        .trim()
        .parse()
        .map_err(|_| ApiError::bad_request("invalid_request", "ip: an IPv4 or IPv6 address"))?;
    if request.user_agent.len() > USER_AGENT_MAX {
        return Err(ApiError::bad_request(
            "invalid_request",
            "user_agent: at most 2048 bytes",
        ));
    }
    Ok(LoginContext {
        device: vault.blind_index("login device", device),
        // An IPv4 address seen as IPv6 (::ffff:a.b.c.d) is the same address.
        ip: vault.blind_index("login ip", &ip.to_canonical().to_string()),
        agent: agent_family(&request.user_agent),
    })
}

/// A user agent's browser and OS families; versions and everything else
/// are dropped. Order matters: Edge, Opera and Samsung Internet also say
/// Chrome, and Chrome also says Safari.
pub fn agent_family(user_agent: &str) -> AgentFamily {
    let has = |needle: &str| user_agent.contains(needle);
    let browser = if has("Edg/") || has("EdgA/") || has("EdgiOS/") {
        Browser::Edge
    } else if has("OPR/") || has("Opera") {
        Browser::Opera
    } else if has("SamsungBrowser/") {
        Browser::Samsung
    } else if has("Firefox/") || has("FxiOS/") {
        Browser::Firefox
    } else if has("Chrome/") || has("CriOS/") || has("Chromium/") {
        Browser::Chrome
    } else if has("Safari/") {
        Browser::Safari
    } else if !user_agent.is_empty() && !has("Mozilla/") {
        Browser::App
    } else {
        Browser::Other
    };
    let os = if has("Windows") {
        Os::Windows
    } else if has("Android") {
        Os::Android
    } else if has("iPhone") || has("iPad") || has("iPod") {
        Os::Ios
    } else if has("CrOS") {
        Os::ChromeOs
    } else if has("Macintosh") || has("Mac OS X") {
        Os::MacOs
    } else if has("Linux") {
        Os::Linux
    } else {
        Os::Other
    };
    AgentFamily { browser, os }
}

/// The session a request of the caller's opened (or ended, for a logout),
/// read once the request is in the read model: by the request's own
/// sequence number, which a retry finds too.
async fn after<T: Send + 'static>(
    state: &AppState,
    request: TxRef,
    then: impl FnOnce(&rusqlite::Connection, u64) -> Result<T, readmodel::ReadModelError> + Send + 'static,
) -> Result<(T, u64), ApiError> {
    let (found, as_of_seq) = read(state, move |c| {
        let Some(view) = history::transaction(c, &request)? else {
            return Ok(None);
        };
        then(c, view.seq).map(Some)
    })
    .await?;
    let found = found.ok_or_else(|| ApiError::internal("a recorded request is missing from the read model"))?;
    Ok((found, as_of_seq))
}

/// The id of the suspension a login's hit submits: derived from the
/// login's id, so that a retried login finds it done.
fn suspension_id(login: &ExtId) -> Result<ExtId, ApiError> {
    let digest = ring::digest::digest(&ring::digest::SHA256, login.as_str().as_bytes());
    let text = format!("registry-{}", hex::encode(&digest.as_ref()[..16]));
    ExtId::new(&text).map_err(ApiError::internal)
}

/// Screens a player about to be logged in at the self-exclusion register: `None` if there is nothing to
/// check (no register, a jurisdiction not checked, an erased player: the
/// ledger refuses that login), what the register said otherwise. A hit
/// suspends an active account first.
async fn screen(
    state: &AppState,
    caller: &Caller,
    player: PlayerId,
    login: &ExtId,
) -> Result<Option<RegistryReply>, ApiError> {
    let Some(handle) = screening::handle(state) else {
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
    let Some(answer) = screening::ask(state, &handle, view.jurisdiction, &profile).await? else {
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

/// Records a player's login as the operator's front end reports it
/// (admins, support). Recorded for every player not erased; a closed,
/// suspended, self-excluded or timed-out player's login is recorded too,
/// and the reply says the account may not play, and why. A login from a
/// device whose session is still open ends that session; a login while
/// another device's session is open is flagged as concurrent. A player of
/// a jurisdiction checked at the self-exclusion register is checked first:
/// excluded there, an active account is suspended (reason `registry: …`)
/// before the login is recorded, so the login already says the player may
/// not play and the ledger refuses bets and deposits. A player not yet an
/// adult for the jurisdiction's stake caps is banded again from the sealed
/// date of birth (a birthday since journals the new band).
#[utoipa::path(post, path = "/operator/v1/players/{player}/logins", tag = "pam", request_body = LoginRequest,
    params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 201, body = LoginReply), BodyErrors, RoleErrors, RegistryLedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)"),
        (status = 410, body = ErrorBody, description = "player_erased"),
        (status = 422, body = ErrorBody, description = "registry_profile_required: the jurisdiction fails closed \
            and the player has no profile to check at the self-exclusion register")))]
pub async fn login(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: LoginRequest = decode(&body)?;
    let context = context(&*vault(&state)?, &request)?;
    let player = player(&state, &player_id)?;
    let id = request_id(&headers)?;
    let registry = screen(&state, &caller, player, &id).await?;
    let command = players::Command::RecordLogin { player, context };
    let blocked = match caller.submit(&state, id.clone(), Command::Players(command)).await? {
        Outcome::LoginRecorded { blocked } => blocked,
        other => return Err(refusal(&other, Currency::EUR)),
    };
    crate::jurisdictions::reevaluate_band(&state, &caller, player).await?;
    let tx = TxRef {
        source: caller.source,
        id,
    };
    let (session, as_of_seq) = after(&state, tx, move |c, seq| logins::session(c, player, seq)).await?;
    let session = session.ok_or_else(|| ApiError::internal("a recorded login has no session in the read model"))?;
    ok(
        StatusCode::CREATED,
        &LoginReply {
            player: player.0,
            session: session.into(),
            may_play: blocked.is_none(),
            self_exclusion_registry: registry,
            as_of_seq,
        },
    )
}

/// Records a player's logout as the front end reports it (admins,
/// support): it ends the session open on that device, and the reply shows
/// it with its duration (null if none was open there).
#[utoipa::path(post, path = "/operator/v1/players/{player}/logouts", tag = "pam", request_body = LoginRequest,
    params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = LogoutReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)")))]
pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: LoginRequest = decode(&body)?;
    let context = context(&*vault(&state)?, &request)?;
    let player = player(&state, &player_id)?;
    let id = request_id(&headers)?;
    let command = players::Command::RecordLogout { player, context };
    match caller.submit(&state, id.clone(), Command::Players(command)).await? {
        Outcome::Accepted => {}
        other => return Err(refusal(&other, Currency::EUR)),
    }
    let tx = TxRef {
        source: caller.source,
        id,
    };
    let (ended, as_of_seq) = after(&state, tx, move |c, seq| logins::ended_by(c, player, seq)).await?;
    ok(
        StatusCode::OK,
        &LogoutReply {
            player: player.0,
            ended: ended.map(LoginSessionReply::from),
            as_of_seq,
        },
    )
}

/// Which page of sessions.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Where the page starts: the `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Most items returned, 1 to 500. Default 100.
    pub limit: Option<usize>,
}

/// A page of a player's sessions.
#[derive(Serialize, ToSchema)]
pub struct SessionsReply {
    /// Player id.
    pub player: u64,
    /// Sessions, newest first.
    pub sessions: Vec<LoginSessionReply>,
    /// The cursor of the next page, if this one was full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

fn bad_cursor() -> ApiError {
    ApiError::bad_request(
        "invalid_cursor",
        "cursor: pass the next_cursor of the previous page as it was given",
    )
}

/// Runs `query` for `player` once the read model is current, or 404 if
/// the player is unknown there.
async fn for_player<T: Send + 'static>(
    state: &AppState,
    player: PlayerId,
    query: impl FnOnce(&rusqlite::Connection) -> Result<T, readmodel::ReadModelError> + Send + 'static,
) -> Result<(T, u64), ApiError> {
    let (found, as_of_seq) = read(state, move |c| {
        if !history::player_exists(c, player)? {
            return Ok(None);
        }
        query(c).map(Some)
    })
    .await?;
    let found = found.ok_or_else(|| ApiError::not_found("unknown_player", "no such player"))?;
    Ok((found, as_of_seq))
}

/// A player's login sessions, newest first, in pages (admins, support,
/// compliance): start, end, duration, how it ended, device and IP hashes,
/// user-agent families, and the block in force at the login.
#[utoipa::path(get, path = "/operator/v1/players/{player}/sessions", tag = "pam",
    params(("player" = u64, Path), PageQuery), security(("bearer" = [])),
    responses((status = 200, body = SessionsReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter, limit outside 1–500), invalid_cursor"),
        (status = 404, body = ErrorBody, description = "unknown_player")))]
pub async fn sessions(
    State(state): State<AppState>,
    Path(player_id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let Query(query) = Query::<PageQuery>::try_from_uri(&uri)
        .map_err(|_| ApiError::bad_request("invalid_request", "query parameters are cursor and limit"))?;
    let limit = edge::wire::page_limit(query.limit, 100, SESSIONS_PAGE_MAX)?;
    let before_seq = match query.cursor.as_deref() {
        None => u64::MAX,
        Some(text) => text.parse::<u64>().ok().filter(|&seq| seq > 0).ok_or_else(bad_cursor)?,
    };
    let player = player(&state, &player_id)?;
    let (sessions, as_of_seq) =
        for_player(&state, player, move |c| logins::sessions(c, player, before_seq, limit)).await?;
    let next_cursor = (sessions.len() == limit)
        .then(|| sessions.last().map(|s| s.seq.to_string()))
        .flatten();
    ok(
        StatusCode::OK,
        &SessionsReply {
            player: player.0,
            sessions: sessions.into_iter().map(LoginSessionReply::from).collect(),
            next_cursor,
            as_of_seq,
        },
    )
}

/// A device or IP address a player logged in from.
#[derive(Serialize, ToSchema)]
pub struct IdentifierReply {
    /// Its keyed hash (hex).
    pub hash: String,
    /// The first login from it, ms since the epoch.
    pub first_ms: u64,
    /// The last login from it.
    pub last_ms: u64,
    /// Logins from it.
    pub logins: u64,
    /// The browser family of the last login from it.
    pub browser: String,
    /// The OS family of the last login from it.
    pub os: String,
    /// How many players logged in from it (more than 1: shared).
    pub players: u64,
}

impl From<IdentifierView> for IdentifierReply {
    fn from(view: IdentifierView) -> IdentifierReply {
        IdentifierReply {
            hash: hex::encode(view.hash.0),
            first_ms: view.first_ms,
            last_ms: view.last_ms,
            logins: view.logins,
            browser: view.browser,
            os: view.os,
            players: view.players,
        }
    }
}

/// A player's devices and IP addresses.
#[derive(Serialize, ToSchema)]
pub struct DevicesReply {
    /// Player id.
    pub player: u64,
    /// Devices, most recently used first.
    pub devices: Vec<IdentifierReply>,
    /// IP addresses, most recently used first.
    pub addresses: Vec<IdentifierReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

fn split(found: Vec<IdentifierView>) -> (Vec<IdentifierReply>, Vec<IdentifierReply>) {
    let (devices, addresses): (Vec<_>, Vec<_>) = found.into_iter().partition(|i| i.kind == Identifier::Device);
    (
        devices.into_iter().map(IdentifierReply::from).collect(),
        addresses.into_iter().map(IdentifierReply::from).collect(),
    )
}

/// The devices and IP addresses a player logged in from, as keyed hashes,
/// each with its first and last login and how many players share it
/// (admins, support, compliance).
#[utoipa::path(get, path = "/operator/v1/players/{player}/devices", tag = "pam",
    params(("player" = u64, Path)), security(("bearer" = [])),
    responses((status = 200, body = DevicesReply), RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player")))]
pub async fn devices(State(state): State<AppState>, Path(player_id): Path<String>) -> Result<Response, ApiError> {
    let player = player(&state, &player_id)?;
    let (found, as_of_seq) = for_player(&state, player, move |c| logins::identifiers(c, player, None)).await?;
    let (devices, addresses) = split(found);
    ok(
        StatusCode::OK,
        &DevicesReply {
            player: player.0,
            devices,
            addresses,
            as_of_seq,
        },
    )
}

/// An identifier shared with other players.
#[derive(Serialize, ToSchema)]
pub struct SharedReply {
    /// `device` or `ip`.
    pub kind: &'static str,
    /// Its keyed hash (hex).
    pub hash: String,
    /// How many players logged in from it.
    pub players: u64,
    /// Their ids, lowest first (at most 100).
    pub player_ids: Vec<u64>,
}

/// A player's risk flags.
#[derive(Serialize, ToSchema)]
pub struct FlagsReply {
    /// Player id.
    pub player: u64,
    /// Sessions started while another device's session was open, newest
    /// first (at most 100).
    pub concurrent_sessions: Vec<LoginSessionReply>,
    /// Devices and IP addresses other players logged in from too.
    pub shared: Vec<SharedReply>,
    /// True if any flag is raised.
    pub flagged: bool,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

fn shared_reply(
    c: &rusqlite::Connection,
    kind: Identifier,
    hash: BlindIndex,
    players: u64,
) -> Result<SharedReply, readmodel::ReadModelError> {
    let ids = logins::identifier_players(c, kind, &hash, PLAYERS_PER_IDENTIFIER_MAX)?;
    Ok(SharedReply {
        kind: kind.name(),
        hash: hex::encode(hash.0),
        players,
        player_ids: ids.into_iter().map(|p| p.0).collect(),
    })
}

/// A player's login risk flags (admins, support, compliance): concurrent
/// sessions (a login while a session on another device was open), and
/// devices or IP addresses other players logged in from too.
#[utoipa::path(get, path = "/operator/v1/players/{player}/login-flags", tag = "pam",
    params(("player" = u64, Path)), security(("bearer" = [])),
    responses((status = 200, body = FlagsReply), RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player")))]
pub async fn flags(State(state): State<AppState>, Path(player_id): Path<String>) -> Result<Response, ApiError> {
    let player = player(&state, &player_id)?;
    let ((concurrent, shared), as_of_seq) = for_player(&state, player, move |c| {
        let concurrent = logins::concurrent(c, player, CONCURRENT_LISTED_MAX)?;
        let mut shared = Vec::new();
        for identifier in logins::identifiers(c, player, None)? {
            if identifier.players > 1 {
                shared.push(shared_reply(c, identifier.kind, identifier.hash, identifier.players)?);
            }
        }
        Ok((concurrent, shared))
    })
    .await?;
    ok(
        StatusCode::OK,
        &FlagsReply {
            player: player.0,
            flagged: !concurrent.is_empty() || !shared.is_empty(),
            concurrent_sessions: concurrent.into_iter().map(LoginSessionReply::from).collect(),
            shared,
            as_of_seq,
        },
    )
}

/// A page of shared identifiers.
#[derive(Serialize, ToSchema)]
pub struct SharedListReply {
    /// Devices and IP addresses more than one player logged in from, in
    /// (kind, hash) order.
    pub shared: Vec<SharedReply>,
    /// The cursor of the next page, if this one was full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

fn parse_shared_cursor(text: &str) -> Option<(Identifier, BlindIndex)> {
    let (kind, hash) = text.split_once(':')?;
    let hash = <[u8; 16]>::try_from(hex::decode(hash).ok()?.as_slice()).ok()?;
    Some((Identifier::from_name(kind)?, BlindIndex(hash)))
}

/// Every device and IP address more than one player logged in from, with
/// the players, in pages (admins, compliance): for risk reviews.
#[utoipa::path(get, path = "/operator/v1/risk/shared-identifiers", tag = "pam",
    params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = SharedListReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter, limit outside 1–500), invalid_cursor")))]
pub async fn shared(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let Query(query) = Query::<PageQuery>::try_from_uri(&uri)
        .map_err(|_| ApiError::bad_request("invalid_request", "query parameters are cursor and limit"))?;
    let limit = edge::wire::page_limit(query.limit, 100, SHARED_PAGE_MAX)?;
    let after = query
        .cursor
        .as_deref()
        .map(|text| parse_shared_cursor(text).ok_or_else(bad_cursor))
        .transpose()?;
    let (shared, as_of_seq) = read(&state, move |c| {
        let mut replies = Vec::new();
        for (kind, hash, players) in logins::shared(c, after, limit)? {
            replies.push(shared_reply(c, kind, hash, players)?);
        }
        Ok(replies)
    })
    .await?;
    let next_cursor = (shared.len() == limit)
        .then(|| shared.last().map(|s| format!("{}:{}", s.kind, s.hash)))
        .flatten();
    ok(
        StatusCode::OK,
        &SharedListReply {
            shared,
            next_cursor,
            as_of_seq,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_reduce_to_their_families() {
        let check = |agent: &str, browser, os| {
            assert_eq!(agent_family(agent), AgentFamily { browser, os }, "{agent}");
        };
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            Browser::Chrome,
            Os::Windows,
        );
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
            Browser::Edge,
            Os::Windows,
        );
        check(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
            Browser::Safari,
            Os::Ios,
        );
        check(
            "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
            Browser::Firefox,
            Os::Linux,
        );
        check(
            "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
            Browser::Samsung,
            Os::Android,
        );
        check(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/105.0.0.0",
            Browser::Opera,
            Os::MacOs,
        );
        check("CasinoApp/4.2 (okhttp)", Browser::App, Os::Other);
        check("", Browser::Other, Os::Other);
    }

    #[test]
    fn shared_cursors_round_trip_and_garbage_is_refused() {
        let hash = BlindIndex([0xab; 16]);
        let text = format!("ip:{}", hex::encode(hash.0));
        assert_eq!(parse_shared_cursor(&text), Some((Identifier::Ip, hash)));
        for bad in ["", "ip", "ip:zz", "phone:abab", "device:abab"] {
            assert_eq!(parse_shared_cursor(bad), None, "{bad}");
        }
    }
}
