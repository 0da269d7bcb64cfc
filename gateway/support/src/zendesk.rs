//! The Zendesk adapter, inbound: Zendesk's ticket-event webhooks open and
//! update tickets here, verified, idempotent and order-tolerant.
//!
//! The protocol is Zendesk's public one:
//! - **Signature** (<https://developer.zendesk.com/documentation/webhooks/verifying/>):
//!   every request carries `X-Zendesk-Webhook-Signature`, the base64 of
//!   HMAC-SHA256 under the webhook's signing secret of the
//!   `X-Zendesk-Webhook-Signature-Timestamp` header's value followed
//!   directly by the raw body (`base64(HMACSHA256(TIMESTAMP + BODY))`).
//!   The timestamp is RFC 3339; one more than [`TOLERANCE_S`] away from
//!   the server's clock is refused as a replay.
//! - **Events** (<https://developer.zendesk.com/api-reference/webhooks/event-types/webhook-event-types/>,
//!   <https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events>):
//!   a JSON object with `type` (`zen:event-type:ticket.created`, …), a
//!   unique `id`, a `time`, the ticket in `detail` (`id`, `subject`,
//!   `status`, `priority`, `external_id`, `updated_at`) and the change in
//!   `event`. The ticket's `external_id` is what links a Zendesk ticket
//!   to a local record: here, the player's id.
//!
//! What it does with them:
//! - `ticket.created` opens a ticket for the player (its Zendesk id kept
//!   as the ticket's external reference);
//! - `ticket.status_changed` and `ticket.priority_changed` change it
//!   (Zendesk's `new` and `hold` read as open and pending), carrying the
//!   event's time: the read model applies a change no older than the
//!   ticket's last one, so events delivered out of order end at the
//!   newest;
//! - `ticket.comment_added` adds a public comment as a message, from the
//!   player if its author is not staff, else from the external agent
//!   (private agent comments stay in Zendesk);
//! - any other type is acknowledged and ignored.
//!
//! Tickets made here reach Zendesk through the outbound sync
//! ([`crate::outbound`]) with `external_id` `croupier-<ticket>`; their
//! events come back here and are matched to that ticket (by its journaled
//! link, or by that `external_id` before the link is journaled). Their
//! creation opens nothing (`croupier_ticket`), the sync's comments are
//! private (ignored), and a status or priority the ticket has already is
//! not recorded again (`unchanged`), so the sync's own pushes do not come
//! back as changes.
//!
//! A forged request (no signature, a wrong one, a replayed timestamp) is
//! refused with 401 or 400, logged, and changes nothing. Each event is
//! journaled under the request id `zendesk:<event id>`, so a redelivery is
//! answered `applied: false` (`duplicate`) without a second command. A
//! change to a ticket not seen yet (delivered before its creation) is
//! refused with 409, a code Zendesk's webhooks retry
//! (<https://developer.zendesk.com/api-reference/webhooks/introduction#webhook-retries>),
//! so it lands once the creation has.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use edge::AppState;
use edge::body::JsonBody;
use edge::error::{ApiError, ErrorBody};
use edge::openapi::LedgerErrors;
use edge::reads::read;
use engine::support::{self, Author, SupportText, TicketChange, TicketPriority, TicketStatus};
use engine::{Command, ExtId, OperatorId, Outcome, PlayerId, Query, Request, SourceId, TxRef};
use readmodel::support::{TicketView, ticket_by_external};
use ring::hmac;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::Settings;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-zendesk-webhook-signature";
/// The signed timestamp's header.
pub const TIMESTAMP_HEADER: &str = "x-zendesk-webhook-signature-timestamp";
/// How far a signed timestamp may be from the server's clock, seconds.
pub const TOLERANCE_S: u64 = 300;
/// The source the webhook's commands are journaled under: the server's own.
const SYSTEM_SOURCE: SourceId = SourceId(0);

/// The signature of `body` signed at `timestamp` under `secret`:
/// `base64(HMACSHA256(TIMESTAMP + BODY))`.
pub fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let message = [timestamp.as_bytes(), body].concat();
    STANDARD.encode(hmac::sign(&key, &message).as_ref())
}

/// Why a webhook was refused before it was read.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// No signature or timestamp, or one that does not match.
    BadSignature,
    /// Signed too far from now (a replay), or an unreadable timestamp.
    Stale,
}

/// Milliseconds since the epoch of an RFC 3339 time.
pub fn parse_time_ms(text: &str) -> Option<u64> {
    let time = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(time.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Checks a request's signature (in constant time) and that its timestamp
/// is within [`TOLERANCE_S`] of `now_ms`.
pub fn verify(secret: &str, headers: &HeaderMap, body: &[u8], now_ms: u64) -> Result<(), Refused> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(given), Some(timestamp)) = (header(SIGNATURE_HEADER), header(TIMESTAMP_HEADER)) else {
        return Err(Refused::BadSignature);
    };
    let tag = STANDARD.decode(given.trim()).map_err(|_| Refused::BadSignature)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let message = [timestamp.as_bytes(), body].concat();
    hmac::verify(&key, &message, &tag).map_err(|_| Refused::BadSignature)?;
    let signed_ms = parse_time_ms(timestamp).ok_or(Refused::Stale)?;
    if signed_ms.abs_diff(now_ms) > TOLERANCE_S * 1_000 {
        return Err(Refused::Stale);
    }
    Ok(())
}

/// A Zendesk event (the fields this adapter reads).
#[derive(Deserialize, Serialize, Clone, Debug)]
pub struct Event {
    /// `zen:event-type:ticket.created`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Unique per event.
    pub id: String,
    /// When it happened (RFC 3339).
    pub time: String,
    /// The ticket.
    pub detail: TicketDetail,
    /// The change (its shape depends on the type).
    #[serde(default)]
    pub event: Value,
}

/// A ticket as an event carries it.
#[derive(Deserialize, Serialize, Clone, Debug, Default)]
pub struct TicketDetail {
    /// Zendesk's id of the ticket (a string in events).
    pub id: String,
    /// Its subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// Its status (`NEW`, `OPEN`, `PENDING`, `HOLD`, `SOLVED`, `CLOSED`).
    #[serde(default)]
    pub status: Option<String>,
    /// Its priority (`LOW`, `NORMAL`, `HIGH`, `URGENT`), if set.
    #[serde(default)]
    pub priority: Option<String>,
    /// The local record it is linked to: the player's id.
    #[serde(default)]
    pub external_id: Option<String>,
}

/// What became of a webhook.
#[derive(Serialize, ToSchema)]
#[schema(as = ZendeskWebhookReply)]
pub struct WebhookReply {
    /// Whether it changed anything.
    pub applied: bool,
    /// The event's type.
    pub event: String,
    /// The ticket it concerns, if known here.
    pub ticket: Option<u64>,
    /// Why it changed nothing: duplicate, stale, ignored_event,
    /// private_comment, unchanged (already so: the echo of a change
    /// pushed from here), croupier_ticket (the echo of a ticket pushed
    /// from here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// Zendesk's status word as a ticket status (`new` is open, `hold`
/// pending: this side has neither).
pub fn status_of(word: &str) -> Option<TicketStatus> {
    match word.to_ascii_lowercase().as_str() {
        "new" | "open" => Some(TicketStatus::Open),
        "pending" | "hold" => Some(TicketStatus::Pending),
        "solved" => Some(TicketStatus::Solved),
        "closed" => Some(TicketStatus::Closed),
        _ => None,
    }
}

/// Zendesk's priority word as a ticket priority.
pub fn priority_of(word: &str) -> Option<TicketPriority> {
    TicketPriority::from_name(&word.to_ascii_lowercase())
}

/// The `current` value of a change: a string, or an object's `field`.
fn current<'a>(event: &'a Value, field: &str) -> Option<&'a str> {
    let current = event.get("current")?;
    current.as_str().or_else(|| current.get(field).and_then(Value::as_str))
}

/// Receives Zendesk's ticket webhooks.
#[utoipa::path(post, path = "/webhooks/v1/support/zendesk", tag = "support",
    request_body(content = String, description = "a Zendesk ticket event, signed with X-Zendesk-Webhook-Signature", content_type = "application/json"),
    responses((status = 200, body = WebhookReply), LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (not a ticket event), stale_webhook (signed outside the tolerance)"),
        (status = 401, body = ErrorBody, description = "bad_signature"),
        (status = 404, body = ErrorBody, description = "support_webhook_not_configured"),
        (status = 409, body = ErrorBody, description = "unknown_ticket (a change before its ticket's creation: Zendesk retries)"),
        (status = 413, body = ErrorBody, description = "body too large"),
        (status = 415, body = ErrorBody, description = "not application/json"),
        (status = 422, body = ErrorBody, description = "unknown_player (the ticket's external_id names no player)")))]
pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let secret = state
        .modules
        .get::<Settings>()
        .and_then(|s| s.zendesk_webhook_secret.clone())
        .ok_or_else(|| ApiError::not_found("support_webhook_not_configured", "no Zendesk webhook secret is set"))?;
    let now_ms = state.now_ms();
    if let Err(refused) = verify(&secret, &headers, &body, now_ms) {
        tracing::warn!(
            ?refused,
            "a Zendesk webhook was refused: not signed with the configured secret"
        );
        return Err(match refused {
            Refused::BadSignature => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad_signature",
                "the X-Zendesk-Webhook-Signature does not match",
            ),
            Refused::Stale => {
                ApiError::bad_request("stale_webhook", "signed too far from now (or an unreadable timestamp)")
            }
        });
    }
    let event: Event = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid_request", format!("not a Zendesk ticket event: {e}")))?;
    let reply = receive(&state, &event).await?;
    edge::change::ok(StatusCode::OK, &reply)
}

/// The request id of an event: `zendesk:<id>`, or a digest if too long.
pub fn event_request_id(event: &str) -> ExtId {
    let text = format!("zendesk:{event}");
    ExtId::new(&text).unwrap_or_else(|_| {
        let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
        let hex: String = digest.as_ref()[..24].iter().map(|b| format!("{b:02x}")).collect();
        ExtId::new(&format!("zendesk:{hex}")).expect("a prefix and 48 hex digits make a valid id")
    })
}

async fn seen(state: &AppState, id: &ExtId) -> Result<bool, ApiError> {
    let asked = Request {
        source: SYSTEM_SOURCE,
        id: ExtId::new("zendesk-seen-check").map_err(ApiError::internal)?,
        command: Command::Query(Query::Transaction {
            tx: TxRef {
                source: SYSTEM_SOURCE,
                id: id.clone(),
            },
        }),
    };
    Ok(matches!(
        state.engine.run(asked).await?.outcome,
        Outcome::Transaction(_)
    ))
}

fn reply(event: &Event, applied: bool, ticket: Option<u64>, reason: Option<&'static str>) -> WebhookReply {
    WebhookReply {
        applied,
        event: event.kind.clone(),
        ticket,
        reason,
    }
}

async fn known(state: &AppState, external: &str) -> Result<Option<TicketView>, ApiError> {
    let external = external.to_owned();
    Ok(read(state, move |c| ticket_by_external(c, &external)).await?.0)
}

async fn send(state: &AppState, id: ExtId, command: support::Command) -> Result<Outcome, ApiError> {
    let request = Request {
        source: SYSTEM_SOURCE,
        id,
        command: Command::Support(command),
    };
    let outcome = state.engine.run(request).await?.outcome;
    match outcome.rejection() {
        Some(_) => Err(edge::change::refusal(&outcome, engine::Currency::EUR)),
        None => Ok(outcome),
    }
}

/// Acts on a verified event.
async fn receive(state: &AppState, event: &Event) -> Result<WebhookReply, ApiError> {
    let kind = event.kind.strip_prefix("zen:event-type:ticket.").unwrap_or("");
    let id = event_request_id(&event.id);
    let ours = event
        .detail
        .external_id
        .as_deref()
        .and_then(crate::outbound::ticket_of_external_id);
    let ticket = match known(state, &event.detail.id).await? {
        Some(ticket) => Some(ticket),
        // Made here and pushed there: ours, whether or not its link is
        // journaled yet.
        None => match ours {
            Some(ours) => read(state, move |c| readmodel::support::ticket(c, ours)).await?.0,
            None => None,
        },
    };
    if seen(state, &id).await? {
        return Ok(reply(event, false, ticket.map(|t| t.id), Some("duplicate")));
    }
    match kind {
        // The echo of the outbound sync's create: the ticket is this
        // side's already (or was, if it was never opened here).
        "created" if ours.is_some() => Ok(reply(event, false, ticket.map(|t| t.id), Some("croupier_ticket"))),
        "created" => created(state, event, id, ticket).await,
        "status_changed" | "priority_changed" | "comment_added" => {
            let Some(ticket) = ticket else {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "unknown_ticket",
                    format!("Zendesk ticket {} is not known here yet", event.detail.id),
                ));
            };
            match kind {
                "comment_added" => comment(state, event, id, &ticket).await,
                _ => change(state, event, kind, id, &ticket).await,
            }
        }
        _ => Ok(reply(event, false, ticket.map(|t| t.id), Some("ignored_event"))),
    }
}

async fn created(
    state: &AppState,
    event: &Event,
    id: ExtId,
    ticket: Option<TicketView>,
) -> Result<WebhookReply, ApiError> {
    if let Some(ticket) = ticket {
        return Ok(reply(event, false, Some(ticket.id), Some("duplicate")));
    }
    let detail = &event.detail;
    let player = detail
        .external_id
        .as_deref()
        .and_then(|e| e.trim().parse::<u64>().ok())
        .filter(|p| *p > 0 && *p <= state.view.read().players_len())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_player",
                "the ticket's external_id names no player here",
            )
        })?;
    let subject = detail
        .subject
        .clone()
        .unwrap_or_else(|| format!("Zendesk ticket {}", detail.id));
    let priority = detail
        .priority
        .as_deref()
        .and_then(priority_of)
        .unwrap_or(TicketPriority::Normal);
    let command = support::Command::OpenTicket {
        player: PlayerId(player),
        subject: SupportText::new(&subject),
        priority,
        external: Some(SupportText::new(&detail.id)),
        operator: OperatorId::SYSTEM,
    };
    let Outcome::TicketOpened { ticket } = send(state, id, command).await? else {
        return Err(ApiError::internal("an opening answered without its ticket"));
    };
    Ok(reply(event, true, Some(ticket), None))
}

async fn change(
    state: &AppState,
    event: &Event,
    kind: &str,
    id: ExtId,
    ticket: &TicketView,
) -> Result<WebhookReply, ApiError> {
    let invalid = || ApiError::bad_request("invalid_request", format!("{}: no readable current value", event.kind));
    let change = if kind == "status_changed" {
        let word = current(&event.event, "status").ok_or_else(invalid)?;
        TicketChange::Status {
            status: status_of(word).ok_or_else(invalid)?,
        }
    } else {
        let word = current(&event.event, "priority").ok_or_else(invalid)?;
        TicketChange::Priority {
            priority: priority_of(word).ok_or_else(invalid)?,
        }
    };
    let at_ms = parse_time_ms(&event.time).ok_or_else(|| ApiError::bad_request("invalid_request", "time: RFC 3339"))?;
    // Older than the ticket's newest external change: delivered out of
    // order. The read model would skip it too; nothing is sent.
    if at_ms < ticket.external_ms || readmodel::support::is_closed(ticket) {
        return Ok(reply(event, false, Some(ticket.id), Some("stale")));
    }
    // Already so (the echo of a change pushed from here, most often):
    // nothing to record.
    let unchanged = match &change {
        TicketChange::Status { status } => status.name() == ticket.status,
        TicketChange::Priority { priority } => priority.name() == ticket.priority,
        TicketChange::Assign { .. } => false,
    };
    if unchanged {
        return Ok(reply(event, false, Some(ticket.id), Some("unchanged")));
    }
    let command = support::Command::UpdateTicket {
        ticket: ticket.id,
        change,
        external_ms: at_ms.max(1),
        operator: OperatorId::SYSTEM,
    };
    send(state, id, command).await?;
    Ok(reply(event, true, Some(ticket.id), None))
}

async fn comment(state: &AppState, event: &Event, id: ExtId, ticket: &TicketView) -> Result<WebhookReply, ApiError> {
    let comment = event.event.get("comment").unwrap_or(&event.event);
    let body = comment.get("body").and_then(Value::as_str).unwrap_or("");
    let public = comment.get("is_public").and_then(Value::as_bool).unwrap_or(true);
    if !public {
        return Ok(reply(event, false, Some(ticket.id), Some("private_comment")));
    }
    if readmodel::support::is_closed(ticket) {
        return Ok(reply(event, false, Some(ticket.id), Some("stale")));
    }
    let author = comment.get("author").unwrap_or(&Value::Null);
    let staff = author.get("is_staff").and_then(Value::as_bool).unwrap_or(false);
    let author = if staff {
        let name = author
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| author.get("id").map(|id| id.to_string().trim_matches('"').to_owned()))
            .unwrap_or_else(|| "Zendesk agent".to_owned());
        Author::External(SupportText::new(truncate(&name, support::EXTERNAL_MAX)))
    } else {
        Author::Player
    };
    let command = support::Command::AddMessage {
        ticket: ticket.id,
        author,
        text: SupportText::new(body),
        operator: OperatorId::SYSTEM,
    };
    send(state, id, command).await?;
    Ok(reply(event, true, Some(ticket.id), None))
}

/// The longest prefix of `text` of at most `max` bytes that ends on a
/// character boundary.
fn truncate(text: &str, max: usize) -> &str {
    let end = (0..=max.min(text.len()))
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    &text[..end]
}
