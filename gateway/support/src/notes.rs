//! Internal notes on players: what support staff want the next colleague
//! to know ("prefers email", "called about a withdrawal on the 3rd").
//! Journaled (`engine::support::Command::AddNote`), so the audit trail
//! names who wrote each; shown on the operator API and in the back
//! office's player 360, never on any player-facing route.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::change::{IdempotencyKey, request_id};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::reads::read;
use edge::{AppState, Caller};
use engine::Outcome;
use engine::support::{self, NOTE_MAX};
use readmodel::support::{NoteView, notes};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::shared::{query, submit, text};

/// Most notes in one page.
const PAGE_MAX: usize = 500;

/// A note.
#[derive(Serialize, ToSchema)]
#[schema(as = PlayerNoteReply)]
pub struct NoteReply {
    /// Its id (its record's sequence number).
    pub id: u64,
    /// The player.
    pub player: u64,
    /// Who wrote it.
    pub operator: u64,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// The text.
    pub text: String,
}

/// Builds the reply of a note.
pub fn note_reply(note: &NoteView) -> NoteReply {
    NoteReply {
        id: note.id,
        player: note.player.0,
        operator: note.operator,
        time_ms: note.time_ms,
        text: note.text.clone(),
    }
}

/// Which notes.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct NoteQuery {
    /// Only notes after this id (the last one of the previous page).
    pub after: Option<u64>,
    /// Most returned, 1 to 500 (default 100), oldest first.
    pub limit: Option<usize>,
}

/// A page of notes.
#[derive(Serialize, ToSchema)]
pub struct NotesReply {
    /// The player.
    pub player: u64,
    /// Oldest first.
    pub notes: Vec<NoteReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// A player's internal notes, oldest first (admins, support, compliance).
#[utoipa::path(get, path = "/operator/v1/players/{player}/notes", tag = "support",
    params(("player" = u64, Path), NoteQuery), security(("bearer" = [])),
    responses((status = 200, body = NotesReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter, limit outside 1–500)"),
        (status = 404, body = ErrorBody, description = "unknown_player")))]
pub async fn list(State(state): State<AppState>, Path(player): Path<String>, uri: Uri) -> Result<Response, ApiError> {
    let query: NoteQuery = query(&uri, "after and limit")?;
    let limit = edge::wire::page_limit(query.limit, 100, PAGE_MAX)?;
    let player = edge::change::player(&state, &player)?;
    let after = query.after.unwrap_or(0);
    let (found, as_of_seq) = read(&state, move |c| notes(c, player, after, limit as u32)).await?;
    let reply = NotesReply {
        player: player.0,
        notes: found.iter().map(note_reply).collect(),
        as_of_seq,
    };
    edge::change::ok(StatusCode::OK, &reply)
}

/// A note to add.
#[derive(Deserialize, ToSchema)]
#[schema(as = PlayerNoteRequest)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    /// The text (1 to 4000 bytes).
    pub text: String,
}

/// Adds an internal note on a player (admins, support).
#[utoipa::path(post, path = "/operator/v1/players/{player}/notes", tag = "support", request_body = NoteRequest,
    params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 201, body = NoteReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player")))]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Path(player): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let player = edge::change::player(&state, &player)?;
    let request: NoteRequest = decode(&body)?;
    let text = text(&request.text, "text", NOTE_MAX)?;
    let command = support::Command::AddNote {
        player,
        text,
        operator: caller.id,
    };
    let Outcome::NoteAdded { note } = submit(&state, &caller, request_id(&headers)?, command).await? else {
        return Err(ApiError::internal("a note answered without its id"));
    };
    // The note's id is its record's seq: read it back from the page that
    // starts just before it.
    let (found, _) = read(&state, move |c| notes(c, player, note - 1, 1)).await?;
    let found = found
        .into_iter()
        .find(|n| n.id == note)
        .ok_or_else(|| ApiError::internal(format!("note {note} is not in the read model")))?;
    edge::change::ok(StatusCode::CREATED, &note_reply(&found))
}
