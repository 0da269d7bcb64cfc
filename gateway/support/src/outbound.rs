//! The outbound sync: every ticket change made here (an opening, a
//! message, a status, priority or assignee change by an operator) is
//! pushed, in order per ticket, to an external helpdesk behind the
//! [`Helpdesk`] trait ([`crate::zendesk_api`] speaks Zendesk's), so
//! agents working there see it.
//!
//! The outbox is the read model (`readmodel::support::sync_owed`): a
//! ticket whose last change made here is past the last one the helpdesk
//! holds. What came from the helpdesk (the inbound webhook's records,
//! made by the system) is never owed, so nothing echoes back. After each
//! push the worker journals `TicketSynced` (the helpdesk's ticket id, how
//! far it holds the ticket), so a restart resumes where the journal says:
//!
//! 1. **Link.** A ticket not linked yet is created there with
//!    `external_id` `croupier-<id>`. The create may have happened without
//!    its link being journaled (a crash between the helpdesk's answer and
//!    the record), so the worker first looks the `external_id` up and
//!    links the ticket it finds instead of creating a second.
//! 2. **Changes.** Each later change, oldest first: a message as an
//!    internal comment, a status or priority change as the ticket's
//!    current one, an assignment as an internal comment (the helpdesk's
//!    agents are not this side's operators). One update per change, each
//!    journaled before the next.
//!
//! A helpdesk that is down or rate-limiting (429, 5xx, a transport error,
//! bad credentials) is retried with exponential backoff (or after its
//! `Retry-After`), kept in memory: a restart retries at once. A refusal
//! (another 4xx) is journaled as the ticket's sync failure, shown on the
//! ticket, and stops that ticket only; its next change made here tries
//! again.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use edge::AppState;
use edge::reads::read_in_background;
use edge::worker::{TickError, TickLog};
use engine::support::{self, SupportText, TicketPriority, TicketStatus};
use engine::{Command, ExtId, Outcome, Request, SourceId};
use readmodel::support::{TicketEvent, TicketFile, sync_owed, ticket_file};

/// How often the worker looks for owed tickets.
pub const TICK: Duration = Duration::from_millis(200);
/// The first retry's delay; each next one doubles it.
pub const RETRY_BASE: Duration = Duration::from_millis(200);
/// The longest a retry waits.
pub const RETRY_MAX: Duration = Duration::from_secs(60);
/// Most tickets pushed per tick.
const BATCH_MAX: u32 = 64;
/// The source the worker's records carry: the server's own.
const SYSTEM_SOURCE: SourceId = SourceId(0);

/// The `external_id` a ticket made here carries in the helpdesk.
pub fn external_id(ticket: u64) -> String {
    format!("croupier-{ticket}")
}

/// The local ticket an `external_id` names, if it is one of ours.
pub fn ticket_of_external_id(external_id: &str) -> Option<u64> {
    external_id
        .strip_prefix("croupier-")
        .and_then(|id| id.parse::<u64>().ok())
        .filter(|id| *id > 0)
}

/// A ticket to create in the helpdesk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTicket {
    /// [`external_id`] of the local ticket.
    pub external_id: String,
    /// Its subject.
    pub subject: String,
    /// Its first, internal comment: who opened it here, for which player.
    pub description: String,
    /// Its status now.
    pub status: TicketStatus,
    /// Its priority now.
    pub priority: TicketPriority,
}

/// A change to a helpdesk ticket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TicketUpdate {
    /// An internal comment to add.
    pub comment: Option<String>,
    /// The status to set.
    pub status: Option<TicketStatus>,
    /// The priority to set.
    pub priority: Option<TicketPriority>,
}

/// Why a push did not land.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushError {
    /// Worth retrying: the helpdesk is down, busy or misconfigured.
    Retry {
        /// What it asked to wait, if it said.
        after: Option<Duration>,
        /// What happened, for the log.
        reason: String,
    },
    /// Refused for this ticket: retrying the same push would fail again.
    Refused {
        /// What the helpdesk said.
        reason: String,
    },
}

impl PushError {
    fn reason(&self) -> &str {
        match self {
            PushError::Retry { reason, .. } | PushError::Refused { reason } => reason,
        }
    }
}

/// An external helpdesk's ticket API, as the sync uses it.
pub trait Helpdesk: Send + Sync + 'static {
    /// Its name, for logs.
    fn name(&self) -> &'static str;
    /// The id of the ticket carrying `external_id`, if there is one.
    fn find(&self, external_id: &str) -> impl Future<Output = Result<Option<String>, PushError>> + Send;
    /// Creates a ticket; its id there.
    fn create(&self, ticket: &NewTicket) -> impl Future<Output = Result<String, PushError>> + Send;
    /// Changes ticket `id`.
    fn update(&self, id: &str, update: &TicketUpdate) -> impl Future<Output = Result<(), PushError>> + Send;
}

/// What a push of one change sends, or `None` for a change the helpdesk
/// gets no update for (the opening, which the create carries).
pub fn update_for(event: &TicketEvent, file: &TicketFile) -> Option<TicketUpdate> {
    let ticket = &file.ticket;
    match event.kind.as_str() {
        "message" => {
            let who = match (event.author.as_deref(), event.author_operator) {
                (Some("player"), _) => "The player".to_owned(),
                (_, Some(operator)) => format!("Operator {operator}"),
                _ => format!("Operator {}", event.operator),
            };
            Some(TicketUpdate {
                comment: Some(format!("{who} in Croupier:\n\n{}", event.text)),
                ..TicketUpdate::default()
            })
        }
        "status" => Some(TicketUpdate {
            status: TicketStatus::from_name(&ticket.status),
            ..TicketUpdate::default()
        }),
        "priority" => Some(TicketUpdate {
            priority: TicketPriority::from_name(&ticket.priority),
            ..TicketUpdate::default()
        }),
        "assigned" => Some(TicketUpdate {
            comment: Some(format!("Croupier: {} (by operator {}).", event.text, event.operator)),
            ..TicketUpdate::default()
        }),
        _ => None,
    }
}

/// The ticket a local one becomes in the helpdesk.
pub fn new_ticket(file: &TicketFile) -> NewTicket {
    let ticket = &file.ticket;
    NewTicket {
        external_id: external_id(ticket.id),
        subject: ticket.subject.clone(),
        description: format!(
            "Opened in Croupier by operator {} for player {} (Croupier ticket {}).",
            ticket.opened_by, ticket.player.0, ticket.id
        ),
        status: TicketStatus::from_name(&ticket.status).unwrap_or(TicketStatus::Open),
        priority: TicketPriority::from_name(&ticket.priority).unwrap_or(TicketPriority::Normal),
    }
}

/// The worker: the helpdesk and the retries in progress.
pub struct Worker<H> {
    helpdesk: H,
    /// Attempts made and when the next may go, per ticket (the process's
    /// monotonic clock: the ledger's is for records, not for waiting).
    retries: HashMap<u64, (u32, Instant)>,
}

/// Why a ticket's push stopped.
enum Stop {
    Push(PushError),
    Local(TickError),
}

impl<H: Helpdesk> Worker<H> {
    /// A worker pushing to `helpdesk`.
    pub fn new(helpdesk: H) -> Worker<H> {
        Worker {
            helpdesk,
            retries: HashMap::new(),
        }
    }

    /// Pushes what every owed ticket is owed (those not waiting on a
    /// retry); the error of a read or a journal write, to try next tick.
    pub async fn tick(&mut self, state: &AppState) -> Result<(), TickError> {
        // Only the node that journals pushes: a follower would call the
        // helpdesk and then fail to record it, pushing the same change again.
        if state.engine.handle().is_none() {
            return Ok(());
        }
        let (owed, _) = read_in_background(state, |c| sync_owed(c, 0, BATCH_MAX)).await?;
        let now = Instant::now();
        for ticket in owed {
            if self.retries.get(&ticket).is_some_and(|(_, at)| *at > now) {
                continue;
            }
            match self.push(state, ticket).await {
                Ok(()) => {
                    self.retries.remove(&ticket);
                }
                Err(Stop::Local(error)) => return Err(error),
                Err(Stop::Push(PushError::Refused { reason })) => {
                    tracing::warn!(ticket, %reason, helpdesk = self.helpdesk.name(), "a ticket's push was refused");
                    self.retries.remove(&ticket);
                    self.refused(state, ticket, &reason).await?;
                }
                Err(Stop::Push(error @ PushError::Retry { .. })) => {
                    let attempts = self.retries.get(&ticket).map_or(0, |(n, _)| *n) + 1;
                    let backoff = RETRY_BASE.saturating_mul(1 << attempts.min(16)).min(RETRY_MAX);
                    let wait = match &error {
                        PushError::Retry { after: Some(after), .. } => (*after).min(RETRY_MAX),
                        _ => backoff,
                    };
                    tracing::info!(
                        ticket,
                        attempts,
                        reason = error.reason(),
                        helpdesk = self.helpdesk.name(),
                        "a ticket's push is retried"
                    );
                    self.retries.insert(ticket, (attempts, Instant::now() + wait));
                }
            }
        }
        Ok(())
    }

    /// Pushes one ticket's owed changes, oldest first, journaling each.
    async fn push(&self, state: &AppState, ticket: u64) -> Result<(), Stop> {
        let (file, _) = read_in_background(state, move |c| ticket_file(c, ticket))
            .await
            .map_err(|e| Stop::Local(e.into()))?;
        let Some(file) = file else {
            return Ok(());
        };
        let mut through = file.ticket.sync_through;
        let linked = match file.ticket.external.clone() {
            Some(id) => id,
            None => {
                let wanted = new_ticket(&file);
                let found = self.helpdesk.find(&wanted.external_id).await.map_err(Stop::Push)?;
                let id = match found {
                    Some(id) => id,
                    None => self.helpdesk.create(&wanted).await.map_err(Stop::Push)?,
                };
                // The create carries the opening (its record is the ticket's id).
                through = through.max(file.ticket.id);
                record(state, ticket, Some(&id), through, None)
                    .await
                    .map_err(Stop::Local)?;
                id
            }
        };
        let from = through;
        let owed = file
            .events
            .iter()
            .filter(|e| e.seq > from && e.seq <= file.ticket.sync_last && e.operator != 0);
        for event in owed {
            if let Some(update) = update_for(event, &file) {
                self.helpdesk.update(&linked, &update).await.map_err(Stop::Push)?;
            }
            through = event.seq;
            record(state, ticket, None, through, None).await.map_err(Stop::Local)?;
        }
        // Anything else past the mark (the helpdesk's own echoes) is no
        // push: the ticket is synced through its last change made here.
        if through < file.ticket.sync_last {
            record(state, ticket, None, file.ticket.sync_last, None)
                .await
                .map_err(Stop::Local)?;
        }
        Ok(())
    }

    /// Journals a refusal: the ticket shows it, and is owed nothing more
    /// until its next change made here.
    async fn refused(&self, state: &AppState, ticket: u64, reason: &str) -> Result<(), TickError> {
        let (file, _) = read_in_background(state, move |c| ticket_file(c, ticket)).await?;
        let Some(file) = file else {
            return Ok(());
        };
        let reason = clip(reason, support::SYNC_FAILURE_MAX);
        let reason = if SupportText::new(&reason).check(support::SYNC_FAILURE_MAX) {
            reason
        } else {
            "refused".to_owned()
        };
        // Named by the change it stops at too: the same refusal of a later
        // retry is recorded again.
        let step = format!("fail:{}", file.ticket.sync_last);
        let failure = Some(reason.as_str());
        record_as(state, ticket, None, file.ticket.sync_through, failure, &step).await
    }
}

/// At most `max` bytes of `text` (on a character boundary), control
/// characters made spaces.
fn clip(text: &str, max: usize) -> String {
    let mut clipped = String::new();
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if clipped.len() + c.len_utf8() > max {
            break;
        }
        clipped.push(c);
    }
    clipped
}

/// Journals a ticket's sync progress (`TicketSynced`), under an id made
/// of the ticket, the mark and the step, so a retry records it once.
async fn record(
    state: &AppState,
    ticket: u64,
    external: Option<&str>,
    through_seq: u64,
    failure: Option<&str>,
) -> Result<(), TickError> {
    let step = if external.is_some() { "link" } else { "sync" };
    record_as(state, ticket, external, through_seq, failure, step).await
}

async fn record_as(
    state: &AppState,
    ticket: u64,
    external: Option<&str>,
    through_seq: u64,
    failure: Option<&str>,
    step: &str,
) -> Result<(), TickError> {
    let text = format!("hdsync:{ticket}:{through_seq}:{step}");
    let id = ExtId::new(&text).or_else(|_| {
        let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
        let hex: String = digest.as_ref()[..24].iter().map(|b| format!("{b:02x}")).collect();
        ExtId::new(&format!("hdsync:{hex}"))
    });
    let id = id.map_err(|e| TickError::Failed(format!("{e:?}")))?;
    let request = Request {
        source: SYSTEM_SOURCE,
        id,
        command: Command::Support(support::Command::TicketSynced {
            ticket,
            external: external.map(SupportText::new),
            through_seq,
            failure: failure.map(SupportText::new),
        }),
    };
    let outcome = state.engine.run(request).await?.outcome;
    match outcome {
        Outcome::Rejected(rejection) => Err(format!("TicketSynced refused: {rejection:?}").into()),
        _ => Ok(()),
    }
}

/// Runs the worker until the task is aborted.
pub async fn run<H: Helpdesk>(state: AppState, helpdesk: H) {
    let mut worker = Worker::new(helpdesk);
    let mut log = TickLog::new("helpdesk sync");
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        log.record(&worker.tick(&state).await);
    }
}

/// Starts the worker on the runtime; abort the handle to stop it.
pub fn spawn<H: Helpdesk>(state: AppState, helpdesk: H) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(state, helpdesk))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_ids_name_our_tickets_only() {
        assert_eq!(external_id(42), "croupier-42");
        assert_eq!(ticket_of_external_id("croupier-42"), Some(42));
        assert_eq!(ticket_of_external_id("croupier-0"), None);
        assert_eq!(ticket_of_external_id("42"), None);
        assert_eq!(ticket_of_external_id("croupier-x"), None);
    }

    #[test]
    fn clipping_keeps_a_checkable_reason() {
        assert_eq!(clip("422\nclosed", 100), "422 closed");
        assert_eq!(clip("ééé", 5), "éé");
    }
}
