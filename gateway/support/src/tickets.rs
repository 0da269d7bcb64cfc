//! Tickets: support opens one for a player (or Zendesk does, through
//! [`crate::zendesk`]), adds messages from the player or an operator,
//! assigns it, moves it through open, pending, solved and closed, and
//! sets its priority.
//!
//! Every change is a journaled ledger command (`engine::support`) that
//! the read model derives the ticket from; the routes check the read
//! model first (the ticket exists and is not closed, the assignee is an
//! enabled operator) and answer with the ticket once it holds the change.
//! A ticket's id is its opening record's sequence number. With an
//! `Idempotency-Key`, a retry gets the same reply and changes nothing more
//! (an opening's first message goes under an id derived from the key).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::change::{IdempotencyKey, request_id};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::reads::read;
use edge::{AppState, Caller};
use engine::support::{self, Author, MESSAGE_MAX, SUBJECT_MAX, TicketChange, TicketPriority, TicketStatus};
use engine::{OperatorId, Outcome, PlayerId};
use readmodel::support::{TicketEvent, TicketFile, TicketFilter, TicketView, ticket_file, tickets};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::shared::{closed, derived, path_id, query, submit, text};

/// Most tickets in one page.
const PAGE_MAX: usize = 1_000;

/// A ticket.
#[derive(Serialize, ToSchema)]
pub struct TicketReply {
    /// Its id (its opening record's sequence number).
    pub id: u64,
    /// The player.
    pub player: u64,
    /// What it is about.
    pub subject: String,
    /// open, pending, solved, closed.
    pub status: String,
    /// low, normal, high, urgent.
    pub priority: String,
    /// The operator working it.
    pub assignee: Option<u64>,
    /// Its id in Zendesk: for a ticket that came from there, or one made
    /// here once the sync has created it there.
    pub external: Option<String>,
    /// Who opened it (0: the system, for a webhook).
    pub opened_by: u64,
    /// When, ms since the epoch.
    pub opened_ms: u64,
    /// When it last changed.
    pub updated_ms: u64,
    /// Its outbound sync to the external helpdesk.
    pub sync: SyncReply,
}

/// Where a ticket's outbound sync stands.
#[derive(Serialize, ToSchema)]
#[schema(as = TicketSyncReply)]
pub struct SyncReply {
    /// none (nothing made here to push: it came from the helpdesk),
    /// pending (changes made here not pushed yet), synced, failed (the
    /// helpdesk refused a push; the next change made here tries again).
    pub state: &'static str,
    /// The last of its records the helpdesk holds (0: none).
    pub through_seq: u64,
    /// The last of its records made here.
    pub last_seq: u64,
    /// What the helpdesk said, when it refused.
    pub error: Option<String>,
}

fn sync_reply(ticket: &TicketView) -> SyncReply {
    let state = if ticket.sync_last == 0 {
        "none"
    } else if ticket.sync_failure.is_some() {
        "failed"
    } else if ticket.sync_through >= ticket.sync_last {
        "synced"
    } else {
        "pending"
    };
    SyncReply {
        state,
        through_seq: ticket.sync_through,
        last_seq: ticket.sync_last,
        error: ticket.sync_failure.clone(),
    }
}

/// Builds the reply of a ticket.
pub fn ticket_reply(ticket: &TicketView) -> TicketReply {
    TicketReply {
        id: ticket.id,
        player: ticket.player.0,
        subject: ticket.subject.clone(),
        status: ticket.status.clone(),
        priority: ticket.priority.clone(),
        assignee: ticket.assignee,
        external: ticket.external.clone(),
        opened_by: ticket.opened_by,
        opened_ms: ticket.opened_ms,
        updated_ms: ticket.updated_ms,
        sync: sync_reply(ticket),
    }
}

/// Something that happened to a ticket.
#[derive(Serialize, ToSchema)]
pub struct EventReply {
    /// Its journal record.
    pub seq: u64,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// The operator who recorded it (0: the system).
    pub operator: u64,
    /// opened, message, assigned, status, priority.
    pub kind: String,
    /// A message's author: player, operator, external.
    pub author: Option<String>,
    /// An operator author's id.
    pub author_operator: Option<u64>,
    /// An external author's name.
    pub author_name: Option<String>,
    /// The message, or what changed.
    pub text: String,
}

fn event_reply(event: &TicketEvent) -> EventReply {
    EventReply {
        seq: event.seq,
        time_ms: event.time_ms,
        operator: event.operator,
        kind: event.kind.clone(),
        author: event.author.clone(),
        author_operator: event.author_operator,
        author_name: event.author_name.clone(),
        text: event.text.clone(),
    }
}

/// A ticket with its history.
#[derive(Serialize, ToSchema)]
pub struct TicketFileReply {
    /// The ticket.
    pub ticket: TicketReply,
    /// Its opening, messages and changes, oldest first.
    pub events: Vec<EventReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

fn file_reply(file: &TicketFile, as_of_seq: u64) -> TicketFileReply {
    TicketFileReply {
        ticket: ticket_reply(&file.ticket),
        events: file.events.iter().map(event_reply).collect(),
        as_of_seq,
    }
}

/// Which tickets.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TicketQuery {
    /// open, pending, solved or closed.
    pub status: Option<String>,
    /// Only those assigned to this operator.
    pub assignee: Option<u64>,
    /// Only this player's.
    pub player: Option<u64>,
    /// low, normal, high or urgent.
    pub priority: Option<String>,
    /// Only tickets after this id (the last one of the previous page).
    pub after: Option<u64>,
    /// Most returned, 1 to 1000 (default 100), oldest first.
    pub limit: Option<usize>,
}

/// A page of tickets.
#[derive(Serialize, ToSchema)]
pub struct TicketsReply {
    /// Oldest first.
    pub tickets: Vec<TicketReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// Tickets, filtered, oldest first (admins, support, compliance).
#[utoipa::path(get, path = "/operator/v1/tickets", tag = "support", params(TicketQuery), security(("bearer" = [])),
    responses((status = 200, body = TicketsReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter, status or priority, limit outside 1–1000)")))]
pub async fn list(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let query: TicketQuery = query(&uri, "status, assignee, player, priority, after and limit")?;
    if query
        .status
        .as_deref()
        .is_some_and(|s| TicketStatus::from_name(s).is_none())
    {
        return Err(ApiError::bad_request(
            "invalid_request",
            "status: open, pending, solved or closed",
        ));
    }
    if query
        .priority
        .as_deref()
        .is_some_and(|p| TicketPriority::from_name(p).is_none())
    {
        return Err(ApiError::bad_request(
            "invalid_request",
            "priority: low, normal, high or urgent",
        ));
    }
    let limit = edge::wire::page_limit(query.limit, 100, PAGE_MAX)?;
    let filter = TicketFilter {
        status: query.status,
        assignee: query.assignee,
        player: query.player.map(PlayerId),
        priority: query.priority,
        after_id: query.after.unwrap_or(0),
        limit: limit as u32,
    };
    let (found, as_of_seq) = read(&state, move |c| tickets(c, &filter)).await?;
    let reply = TicketsReply {
        tickets: found.iter().map(ticket_reply).collect(),
        as_of_seq,
    };
    edge::change::ok(StatusCode::OK, &reply)
}

/// Who wrote a message an operator records: `operator` (themselves, the
/// default) or `player` (taken down from a call or a chat).
fn author(from: Option<&str>, caller: &Caller) -> Result<Author, ApiError> {
    match from.unwrap_or("operator") {
        "operator" => Ok(Author::Operator(caller.id)),
        "player" => Ok(Author::Player),
        _ => Err(ApiError::bad_request("invalid_request", "from: operator or player")),
    }
}

/// A ticket to open.
#[derive(Deserialize, ToSchema)]
#[schema(as = TicketOpenRequest)]
#[serde(deny_unknown_fields)]
pub struct OpenRequest {
    /// The player.
    pub player: u64,
    /// What it is about (1 to 200 bytes).
    pub subject: String,
    /// low, normal (the default), high or urgent.
    pub priority: Option<String>,
    /// Its first message (1 to 8000 bytes), if any.
    pub message: Option<String>,
    /// Who wrote it: operator (the default) or player.
    pub from: Option<String>,
}

/// Opens a ticket for a player (admins, support), with its first message
/// if one is given.
#[utoipa::path(post, path = "/operator/v1/tickets", tag = "support", request_body = OpenRequest, params(IdempotencyKey), security(("bearer" = [])),
    responses((status = 201, body = TicketFileReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player")))]
pub async fn open(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: OpenRequest = decode(&body)?;
    let player = edge::change::player(&state, &request.player.to_string())?;
    let subject = text(&request.subject, "subject", SUBJECT_MAX)?;
    let priority = parse_priority(request.priority.as_deref().unwrap_or("normal"))?;
    let message = match &request.message {
        Some(message) => Some((
            text(message, "message", MESSAGE_MAX)?,
            author(request.from.as_deref(), &caller)?,
        )),
        None => None,
    };
    let id = request_id(&headers)?;
    let command = support::Command::OpenTicket {
        player,
        subject,
        priority,
        external: None,
        operator: caller.id,
    };
    let Outcome::TicketOpened { ticket } = submit(&state, &caller, id.clone(), command).await? else {
        return Err(ApiError::internal("an opening answered without its ticket"));
    };
    if let Some((text, author)) = message {
        let command = support::Command::AddMessage {
            ticket,
            author,
            text,
            operator: caller.id,
        };
        submit(&state, &caller, derived(&id, "message")?, command).await?;
    }
    reply(&state, ticket, StatusCode::CREATED).await
}

fn parse_priority(name: &str) -> Result<TicketPriority, ApiError> {
    TicketPriority::from_name(name)
        .ok_or_else(|| ApiError::bad_request("invalid_request", "priority: low, normal, high or urgent"))
}

/// The ticket's file once the read model holds every acknowledged write.
async fn reply(state: &AppState, id: u64, status: StatusCode) -> Result<Response, ApiError> {
    let (file, as_of_seq) = file(state, id).await?;
    edge::change::ok(status, &file_reply(&file, as_of_seq))
}

async fn file(state: &AppState, id: u64) -> Result<(TicketFile, u64), ApiError> {
    let (file, as_of_seq) = read(state, move |c| ticket_file(c, id)).await?;
    let file = file.ok_or_else(|| ApiError::not_found("unknown_ticket", "no such ticket"))?;
    Ok((file, as_of_seq))
}

/// The ticket named in the path, which must not be closed.
async fn open_ticket(state: &AppState, text: &str) -> Result<u64, ApiError> {
    let id = path_id(text, "unknown_ticket", "ticket")?;
    let (found, _) = file(state, id).await?;
    if readmodel::support::is_closed(&found.ticket) {
        return Err(closed(id));
    }
    Ok(id)
}

/// A ticket with its history (admins, support, compliance).
#[utoipa::path(get, path = "/operator/v1/tickets/{ticket}", tag = "support",
    params(("ticket" = u64, Path)), security(("bearer" = [])),
    responses((status = 200, body = TicketFileReply), RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_ticket")))]
pub async fn show(State(state): State<AppState>, Path(ticket): Path<String>) -> Result<Response, ApiError> {
    let id = path_id(&ticket, "unknown_ticket", "ticket")?;
    reply(&state, id, StatusCode::OK).await
}

/// A message.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    /// The text (1 to 8000 bytes).
    pub text: String,
    /// Who wrote it: operator (the default) or player.
    pub from: Option<String>,
}

/// Adds a message to a ticket that is not closed (admins, support).
#[utoipa::path(post, path = "/operator/v1/tickets/{ticket}/messages", tag = "support", request_body = MessageRequest,
    params(("ticket" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = TicketFileReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_ticket"),
        (status = 409, body = ErrorBody, description = "ticket_closed")))]
pub async fn message(
    State(state): State<AppState>,
    caller: Caller,
    Path(ticket): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: MessageRequest = decode(&body)?;
    let text = text(&request.text, "text", MESSAGE_MAX)?;
    let author = author(request.from.as_deref(), &caller)?;
    let id = open_ticket(&state, &ticket).await?;
    let command = support::Command::AddMessage {
        ticket: id,
        author,
        text,
        operator: caller.id,
    };
    submit(&state, &caller, request_id(&headers)?, command).await?;
    reply(&state, id, StatusCode::OK).await
}

/// Who works a ticket.
#[derive(Deserialize, Serialize, ToSchema)]
#[schema(as = TicketAssignRequest)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// The operator's id (an enabled operator); null: nobody.
    pub operator: Option<u32>,
}

/// Assigns a ticket that is not closed to an operator, or to nobody
/// (admins, support).
#[utoipa::path(put, path = "/operator/v1/tickets/{ticket}/assignee", tag = "support", request_body = AssignRequest,
    params(("ticket" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = TicketFileReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_ticket, unknown_operator"),
        (status = 409, body = ErrorBody, description = "ticket_closed")))]
pub async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    Path(ticket): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: AssignRequest = decode(&body)?;
    if let Some(operator) = request.operator {
        let enabled = state
            .view
            .read()
            .access
            .operator(OperatorId(operator))
            .is_some_and(|o| o.role != engine::Role::Disabled);
        if !enabled {
            return Err(ApiError::not_found("unknown_operator", "no such enabled operator"));
        }
    }
    let change = TicketChange::Assign {
        assignee: request.operator.map(OperatorId),
    };
    change_ticket(&state, &caller, &headers, &ticket, change).await
}

async fn change_ticket(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    ticket: &str,
    change: TicketChange,
) -> Result<Response, ApiError> {
    let id = open_ticket(state, ticket).await?;
    let command = support::Command::UpdateTicket {
        ticket: id,
        change,
        external_ms: 0,
        operator: caller.id,
    };
    submit(state, caller, request_id(headers)?, command).await?;
    reply(state, id, StatusCode::OK).await
}

/// A status.
#[derive(Deserialize, ToSchema)]
#[schema(as = TicketStatusRequest)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// open, pending, solved or closed (closed is final).
    pub status: String,
}

/// Moves a ticket that is not closed to a status (admins, support).
#[utoipa::path(put, path = "/operator/v1/tickets/{ticket}/status", tag = "support", request_body = StatusRequest,
    params(("ticket" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = TicketFileReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_ticket"),
        (status = 409, body = ErrorBody, description = "ticket_closed")))]
pub async fn status(
    State(state): State<AppState>,
    caller: Caller,
    Path(ticket): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: StatusRequest = decode(&body)?;
    let status = TicketStatus::from_name(&request.status)
        .ok_or_else(|| ApiError::bad_request("invalid_request", "status: open, pending, solved or closed"))?;
    change_ticket(&state, &caller, &headers, &ticket, TicketChange::Status { status }).await
}

/// A priority.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityRequest {
    /// low, normal, high or urgent.
    pub priority: String,
}

/// Sets the priority of a ticket that is not closed (admins, support).
#[utoipa::path(put, path = "/operator/v1/tickets/{ticket}/priority", tag = "support", request_body = PriorityRequest,
    params(("ticket" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = TicketFileReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_ticket"),
        (status = 409, body = ErrorBody, description = "ticket_closed")))]
pub async fn priority(
    State(state): State<AppState>,
    caller: Caller,
    Path(ticket): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: PriorityRequest = decode(&body)?;
    let priority = parse_priority(&request.priority)?;
    change_ticket(&state, &caller, &headers, &ticket, TicketChange::Priority { priority }).await
}
