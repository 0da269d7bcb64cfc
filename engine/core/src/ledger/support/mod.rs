//! The support domain: player tickets (opened, assigned, moved between
//! statuses and priorities, with their messages) and operators' internal
//! notes on players, journaled so that no rebuild of the read model loses
//! any of them and the audit trail names who did what.
//!
//! Like the AML cases (`../risk/`) and the bonus templates, the ledger
//! checks each command's shape (lengths, ids, that the player exists) and
//! keeps nothing of it, so there is no snapshot change; the read model
//! keeps the tickets, messages and notes, derived from these records. What
//! the ledger cannot see (whether a ticket exists, whose it is) the gateway
//! checks before it sends, and the projection checks again: a record that
//! no longer applies there changes nothing, the same on every rebuild.
//!
//! A ticket's id is the sequence number of the record that opened it, a
//! note's the sequence number of its record, answered in
//! [`crate::Outcome::TicketOpened`] and [`crate::Outcome::NoteAdded`] (so a
//! retry, answered from the deduplication table, names the same one).

use super::store::Detail;
use super::{Applied, Ctx, Ledger, rejected};
use crate::ids::{OperatorId, PlayerId};
use crate::outcome::{Outcome, Rejection};

/// Longest ticket subject, bytes.
pub const SUBJECT_MAX: usize = 200;
/// Longest ticket message, bytes.
pub const MESSAGE_MAX: usize = 8_000;
/// Longest internal note, bytes.
pub const NOTE_MAX: usize = 4_000;
/// Longest external reference (a ticketing system's ticket id, an
/// author's name there), bytes.
pub const EXTERNAL_MAX: usize = 64;
/// Longest reason a ticketing system gave for refusing a pushed change,
/// bytes.
pub const SYNC_FAILURE_MAX: usize = 500;

/// Free text (a subject, a message, a note, an external reference).
/// Decoded as it was journaled; the ledger checks it
/// ([`SupportText::check`]) and refuses what does not fit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SupportText(Box<str>);

impl SupportText {
    /// The text, unchecked (the ledger checks it when applied).
    pub fn new(text: &str) -> SupportText {
        SupportText(text.into())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Not blank, at most `max` bytes, no control characters but line breaks.
    pub fn check(&self, max: usize) -> bool {
        !self.0.trim().is_empty() && self.0.len() <= max && self.0.chars().all(|c| !c.is_control() || c == '\n')
    }
}

/// Where a ticket stands (Zendesk's own four, so a synced ticket maps one
/// to one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TicketStatus {
    /// Waiting for the operator.
    Open,
    /// Waiting for the player.
    Pending,
    /// Answered; the player may still reopen it.
    Solved,
    /// Done: it changes no more.
    Closed,
}

impl TicketStatus {
    /// Every status, in order.
    pub const ALL: [TicketStatus; 4] = [
        TicketStatus::Open,
        TicketStatus::Pending,
        TicketStatus::Solved,
        TicketStatus::Closed,
    ];

    /// Its stable name.
    pub fn name(self) -> &'static str {
        match self {
            TicketStatus::Open => "open",
            TicketStatus::Pending => "pending",
            TicketStatus::Solved => "solved",
            TicketStatus::Closed => "closed",
        }
    }

    /// The status named `name`.
    pub fn from_name(name: &str) -> Option<TicketStatus> {
        TicketStatus::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// How urgent a ticket is (Zendesk's four).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TicketPriority {
    /// Low.
    Low,
    /// The default.
    Normal,
    /// High.
    High,
    /// Urgent.
    Urgent,
}

impl TicketPriority {
    /// Every priority, lowest first.
    pub const ALL: [TicketPriority; 4] = [
        TicketPriority::Low,
        TicketPriority::Normal,
        TicketPriority::High,
        TicketPriority::Urgent,
    ];

    /// Its stable name.
    pub fn name(self) -> &'static str {
        match self {
            TicketPriority::Low => "low",
            TicketPriority::Normal => "normal",
            TicketPriority::High => "high",
            TicketPriority::Urgent => "urgent",
        }
    }

    /// The priority named `name`.
    pub fn from_name(name: &str) -> Option<TicketPriority> {
        TicketPriority::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Who wrote a ticket's message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Author {
    /// The ticket's player.
    Player,
    /// An operator.
    Operator(OperatorId),
    /// Someone in an external ticketing system, by their name or id there
    /// (1 to [`EXTERNAL_MAX`] bytes).
    External(SupportText),
}

impl Author {
    /// Its kind's stable name.
    pub fn kind(&self) -> &'static str {
        match self {
            Author::Player => "player",
            Author::Operator(_) => "operator",
            Author::External(_) => "external",
        }
    }
}

/// What is changed on a ticket.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TicketChange {
    /// Given to an operator (`None`: to nobody).
    Assign {
        /// The operator.
        assignee: Option<OperatorId>,
    },
    /// Moved to a status.
    Status {
        /// The status.
        status: TicketStatus,
    },
    /// Given a priority.
    Priority {
        /// The priority.
        priority: TicketPriority,
    },
}

/// What the support domain can be asked to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Opens a ticket for a player; refused with
    /// [`Rejection::InvalidTicket`] when the subject or the external
    /// reference is out of bounds, [`Rejection::UnknownPlayer`] for no
    /// such player.
    OpenTicket {
        /// The player.
        player: PlayerId,
        /// What it is about (1 to [`SUBJECT_MAX`] bytes).
        subject: SupportText,
        /// How urgent.
        priority: TicketPriority,
        /// The external ticketing system's id of it (1 to
        /// [`EXTERNAL_MAX`] bytes), for a ticket that came from there.
        external: Option<SupportText>,
        /// Who opened it ([`OperatorId::SYSTEM`] for a webhook).
        operator: OperatorId,
    },
    /// Changes a ticket; refused with [`Rejection::InvalidTicket`] for
    /// ticket 0.
    UpdateTicket {
        /// The ticket (the sequence number of its opening record).
        ticket: u64,
        /// What.
        change: TicketChange,
        /// When the external ticketing system made the change, ms since
        /// the epoch (0: a change made here). The read model applies an
        /// external change only if it is no older than the ticket's last
        /// one, so webhooks delivered out of order converge on the newest.
        external_ms: u64,
        /// Who.
        operator: OperatorId,
    },
    /// Adds a message to a ticket; refused with
    /// [`Rejection::InvalidTicketMessage`] when the text (1 to
    /// [`MESSAGE_MAX`] bytes) or an external author is out of bounds.
    AddMessage {
        /// The ticket.
        ticket: u64,
        /// Who wrote it.
        author: Author,
        /// The text.
        text: SupportText,
        /// Who recorded it ([`OperatorId::SYSTEM`] for a webhook).
        operator: OperatorId,
    },
    /// Adds an internal note on a player (never shown to them); refused
    /// with [`Rejection::InvalidNote`] when the text (1 to [`NOTE_MAX`]
    /// bytes) is out of bounds, [`Rejection::UnknownPlayer`] for no such
    /// player.
    AddNote {
        /// The player.
        player: PlayerId,
        /// The text.
        text: SupportText,
        /// Who wrote it.
        operator: OperatorId,
    },
    /// Records how far a ticket made here has been pushed to the external
    /// ticketing system (the outbound sync's worker sends it after each
    /// push): linked to the ticket there, every change up to `through_seq`
    /// sent, or the last push refused. Refused with
    /// [`Rejection::InvalidTicket`] for ticket 0, an external id or a
    /// failure out of bounds.
    TicketSynced {
        /// The ticket.
        ticket: u64,
        /// Its id in the external system (1 to [`EXTERNAL_MAX`] bytes),
        /// once created or found there.
        external: Option<SupportText>,
        /// The last of its records that the external system holds.
        through_seq: u64,
        /// Why the external system refused the next one (1 to
        /// [`SYNC_FAILURE_MAX`] bytes); `None`: no refusal.
        failure: Option<SupportText>,
    },
}

impl Command {
    /// The player the command is about (an opening and a note name one).
    pub fn player(&self) -> Option<PlayerId> {
        match self {
            Command::OpenTicket { player, .. } | Command::AddNote { player, .. } => Some(*player),
            Command::UpdateTicket { .. } | Command::AddMessage { .. } | Command::TicketSynced { .. } => None,
        }
    }

    /// The ticket the command is about (an opening's is its own seq).
    pub fn ticket(&self) -> Option<u64> {
        match self {
            Command::UpdateTicket { ticket, .. }
            | Command::AddMessage { ticket, .. }
            | Command::TicketSynced { ticket, .. } => Some(*ticket),
            Command::OpenTicket { .. } | Command::AddNote { .. } => None,
        }
    }

    /// A short stable name, for logs, metrics and journal filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::OpenTicket { .. } => "ticket_open",
            Command::UpdateTicket { .. } => "ticket_update",
            Command::AddMessage { .. } => "ticket_message",
            Command::AddNote { .. } => "player_note",
            Command::TicketSynced { .. } => "ticket_synced",
        }
    }

    /// Checks the command's lengths and ids.
    pub fn validate(&self) -> Result<(), Rejection> {
        match self {
            Command::OpenTicket { subject, external, .. } => {
                let external_ok = external.as_ref().is_none_or(|e| e.check(EXTERNAL_MAX));
                if !subject.check(SUBJECT_MAX) || !external_ok {
                    return Err(Rejection::InvalidTicket);
                }
            }
            Command::UpdateTicket { ticket, .. } => {
                if *ticket == 0 {
                    return Err(Rejection::InvalidTicket);
                }
            }
            Command::AddMessage {
                ticket, author, text, ..
            } => {
                if *ticket == 0 {
                    return Err(Rejection::InvalidTicket);
                }
                let author_ok = match author {
                    Author::External(name) => name.check(EXTERNAL_MAX),
                    Author::Player | Author::Operator(_) => true,
                };
                if !author_ok || !text.check(MESSAGE_MAX) {
                    return Err(Rejection::InvalidTicketMessage);
                }
            }
            Command::AddNote { text, .. } => {
                if !text.check(NOTE_MAX) {
                    return Err(Rejection::InvalidNote);
                }
            }
            Command::TicketSynced {
                ticket,
                external,
                failure,
                ..
            } => {
                let external_ok = external.as_ref().is_none_or(|e| e.check(EXTERNAL_MAX));
                let failure_ok = failure.as_ref().is_none_or(|f| f.check(SYNC_FAILURE_MAX));
                if *ticket == 0 || !external_ok || !failure_ok {
                    return Err(Rejection::InvalidTicket);
                }
            }
        }
        Ok(())
    }
}

impl Ledger {
    /// Applies one of the domain's commands: checks it (and that a named
    /// player exists), keeps nothing.
    pub(super) fn apply_support(&mut self, ctx: Ctx, command: &Command) -> Applied {
        if let Err(rejection) = command.validate() {
            return rejected(rejection);
        }
        if let Some(player) = command.player()
            && let Err(rejection) = self.player(player)
        {
            return rejected(rejection);
        }
        match command {
            Command::OpenTicket { .. } => (Outcome::TicketOpened { ticket: ctx.seq }, Detail::Plain),
            Command::AddNote { .. } => (Outcome::NoteAdded { note: ctx.seq }, Detail::Plain),
            Command::UpdateTicket { .. } | Command::AddMessage { .. } | Command::TicketSynced { .. } => {
                (Outcome::Accepted, Detail::Plain)
            }
        }
    }
}

#[cfg(test)]
mod tests;
