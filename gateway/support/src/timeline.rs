//! The player timeline: every event of a player in time order, from the
//! read model's `player_timeline` (one row per accepted journal record
//! about the player; a game round one row with its stake and win sums),
//! paged by sequence number, filtered by kind.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use edge::AppState;
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{LedgerErrors, RoleErrors};
use edge::reads::read;
use engine::{Amount, Currency};
use readmodel::support::{TIMELINE_KINDS, TimelineEntry, TimelineFilter, timeline_of};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::shared::query;

/// Most entries in one page.
const PAGE_MAX: usize = 1_000;

/// One event of a player's timeline.
#[derive(Serialize, ToSchema)]
pub struct EntryReply {
    /// Its journal record (a round's: its first).
    pub seq: u64,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// registration, login, payment, round, bonus, jackpot, rg, kyc,
    /// account, session, ticket, note or risk.
    pub kind: String,
    /// The command's kind (deposit, set_limit, …; a round: round).
    pub event: String,
    /// What happened, in words.
    pub detail: Option<String>,
    /// The operator who did it, if one did.
    pub operator: Option<u64>,
    /// A round's game and id (`<game>/<round>`).
    pub round: Option<String>,
    /// A round's stakes less rollbacks, as a decimal string.
    pub staked: Option<String>,
    /// A round's wins, as a decimal string.
    pub won: Option<String>,
    /// A round's currency.
    pub currency: Option<String>,
    /// The newest record it sums.
    pub last_seq: u64,
}

fn money(minor: Option<i64>, currency: Option<Currency>) -> Option<String> {
    match (minor, currency) {
        (Some(minor), Some(currency)) => Some(edge::wire::money(Amount::from_minor(minor), currency)),
        (Some(minor), None) => Some(minor.to_string()),
        _ => None,
    }
}

/// Builds the reply of an entry.
pub fn entry_reply(entry: &TimelineEntry) -> EntryReply {
    let currency = entry.currency.as_deref().and_then(Currency::from_code);
    EntryReply {
        seq: entry.seq,
        time_ms: entry.time_ms,
        kind: entry.kind.clone(),
        event: entry.event.clone(),
        detail: entry.detail.clone(),
        operator: entry.operator,
        round: entry.round.clone(),
        staked: money(entry.stake_minor, currency),
        won: money(entry.win_minor, currency),
        currency: entry.currency.clone(),
        last_seq: entry.last_seq,
    }
}

/// Which entries.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TimelineQuery {
    /// Comma-separated kinds (registration, login, payment, round, bonus,
    /// jackpot, rg, kyc, account, session, ticket, note, risk); all if
    /// absent.
    pub kinds: Option<String>,
    /// Only entries after this seq (`next_after` of the previous page).
    pub after: Option<u64>,
    /// Most returned, 1 to 1000 (default 100), oldest first.
    pub limit: Option<usize>,
}

/// A page of a player's timeline.
#[derive(Serialize, ToSchema)]
pub struct TimelineReply {
    /// The player.
    pub player: u64,
    /// Oldest first.
    pub entries: Vec<EntryReply>,
    /// The `after` of the next page, if this one is full.
    pub next_after: Option<u64>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// The kinds of `text` (comma-separated), each a known one.
pub fn parse_kinds(text: Option<&str>) -> Result<Vec<String>, ApiError> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|kind| {
            let kind = kind.trim();
            if TIMELINE_KINDS.contains(&kind) {
                Ok(kind.to_owned())
            } else {
                Err(ApiError::bad_request(
                    "invalid_request",
                    format!("kinds: a comma-separated list of {}", TIMELINE_KINDS.join(", ")),
                ))
            }
        })
        .collect()
}

/// A player's timeline in time order, in pages (admins, support,
/// compliance).
#[utoipa::path(get, path = "/operator/v1/players/{player}/timeline", tag = "support",
    params(("player" = u64, Path), TimelineQuery), security(("bearer" = [])),
    responses((status = 200, body = TimelineReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter or kind, limit outside 1–1000)"),
        (status = 404, body = ErrorBody, description = "unknown_player")))]
pub async fn timeline(
    State(state): State<AppState>,
    Path(player): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let query: TimelineQuery = query(&uri, "kinds, after and limit")?;
    let limit = edge::wire::page_limit(query.limit, 100, PAGE_MAX)?;
    let kinds = parse_kinds(query.kinds.as_deref())?;
    let player = edge::change::player(&state, &player)?;
    let filter = TimelineFilter {
        kinds,
        after_seq: query.after.unwrap_or(0),
        limit: limit as u32,
    };
    let (found, as_of_seq) = read(&state, move |c| timeline_of(c, player, &filter)).await?;
    let next_after = (found.len() == limit).then(|| found.last().map(|e| e.seq)).flatten();
    let reply = TimelineReply {
        player: player.0,
        entries: found.iter().map(entry_reply).collect(),
        next_after,
        as_of_seq,
    };
    edge::change::ok(StatusCode::OK, &reply)
}
