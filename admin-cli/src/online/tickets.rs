//! `croupier-admin tickets list|show|open|message|assign|status|priority`,
//! `croupier-admin notes list|add` and `croupier-admin timeline`: the
//! support desk's tickets, internal notes on players and the player
//! timeline, over the support routes.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::client::query;
use super::output::{Output, cells, fields, table, text};
use super::{Client, Failure};

/// Which tickets.
#[derive(Args)]
pub struct TicketListArgs {
    /// open, pending, solved or closed.
    #[arg(long)]
    status: Option<String>,
    /// Only those assigned to this operator.
    #[arg(long)]
    assignee: Option<u64>,
    /// Only this player's.
    #[arg(long)]
    player: Option<u64>,
    /// low, normal, high or urgent.
    #[arg(long)]
    priority: Option<String>,
    /// Only tickets after this id.
    #[arg(long)]
    after: Option<u64>,
    /// Most listed, 1 to 1000 (oldest first).
    #[arg(long)]
    limit: Option<usize>,
}

/// The tickets commands.
#[derive(Subcommand)]
pub enum TicketsCommand {
    /// List tickets, filtered.
    List(TicketListArgs),
    /// Show a ticket with its messages and changes.
    Show {
        /// The ticket's id.
        ticket: u64,
    },
    /// Open a ticket for a player.
    Open {
        /// The player.
        player: u64,
        /// What it is about.
        subject: String,
        /// low, normal (the default), high or urgent.
        #[arg(long)]
        priority: Option<String>,
        /// Its first message.
        #[arg(long)]
        message: Option<String>,
        /// Who wrote the message: operator (the default) or player.
        #[arg(long)]
        from: Option<String>,
    },
    /// Add a message to a ticket.
    Message {
        /// The ticket's id.
        ticket: u64,
        /// The message.
        text: String,
        /// Who wrote it: operator (the default) or player.
        #[arg(long)]
        from: Option<String>,
    },
    /// Assign a ticket to an operator (`--nobody` to unassign).
    Assign {
        /// The ticket's id.
        ticket: u64,
        /// The operator's id.
        #[arg(required_unless_present = "nobody")]
        operator: Option<u32>,
        /// Assign it to nobody.
        #[arg(long, conflicts_with = "operator")]
        nobody: bool,
    },
    /// Move a ticket to a status: open, pending, solved or closed (final).
    Status {
        /// The ticket's id.
        ticket: u64,
        /// The status.
        status: String,
    },
    /// Set a ticket's priority: low, normal, high or urgent.
    Priority {
        /// The ticket's id.
        ticket: u64,
        /// The priority.
        priority: String,
    },
}

/// The notes commands.
#[derive(Subcommand)]
pub enum NotesCommand {
    /// List a player's internal notes, oldest first.
    List {
        /// The player.
        player: u64,
        /// Only notes after this id.
        #[arg(long)]
        after: Option<u64>,
        /// Most listed, 1 to 500.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Add an internal note on a player (never shown to them).
    Add {
        /// The player.
        player: u64,
        /// The note.
        text: String,
    },
}

/// Which part of a player's timeline.
#[derive(Args)]
pub struct TimelineArgs {
    /// The player.
    player: u64,
    /// Comma-separated kinds (registration, login, payment, round, bonus,
    /// jackpot, rg, kyc, account, session, ticket, note, risk).
    #[arg(long)]
    kinds: Option<String>,
    /// Only entries after this journal seq.
    #[arg(long)]
    after: Option<u64>,
    /// Most listed, 1 to 1000 (oldest first).
    #[arg(long)]
    limit: Option<usize>,
}

const TICKET_COLUMNS: &[&str] = &["id", "player", "status", "priority", "assignee", "external", "subject"];
const NOTE_COLUMNS: &[&str] = &["id", "operator", "time_ms", "text"];
const TIMELINE_COLUMNS: &[&str] = &[
    "seq", "time_ms", "kind", "event", "detail", "operator", "round", "staked", "won",
];

fn rows(list: &Value, columns: &[&str]) -> comfy_table::Table {
    let mut table = table(columns);
    for row in list.as_array().into_iter().flatten() {
        table.add_row(cells(row, columns));
    }
    table
}

/// Runs a tickets command.
pub fn tickets(client: &Client, command: TicketsCommand, output: Output) -> Result<(), Failure> {
    let (path, method, body) = match command {
        TicketsCommand::List(args) => {
            let pairs = [
                ("status", args.status),
                ("assignee", args.assignee.map(|a| a.to_string())),
                ("player", args.player.map(|p| p.to_string())),
                ("priority", args.priority),
                ("after", args.after.map(|a| a.to_string())),
                ("limit", args.limit.map(|l| l.to_string())),
            ];
            let value = client.get(&format!("/operator/v1/tickets{}", query(&pairs)))?;
            output.table(&value, |v| rows(&v["tickets"], TICKET_COLUMNS));
            return Ok(());
        }
        TicketsCommand::Show { ticket } => (format!("/operator/v1/tickets/{ticket}"), Method::GET, None),
        TicketsCommand::Open {
            player,
            subject,
            priority,
            message,
            from,
        } => (
            "/operator/v1/tickets".to_owned(),
            Method::POST,
            Some(json!({"player": player, "subject": subject, "priority": priority, "message": message, "from": from})),
        ),
        TicketsCommand::Message { ticket, text, from } => (
            format!("/operator/v1/tickets/{ticket}/messages"),
            Method::POST,
            Some(json!({"text": text, "from": from})),
        ),
        TicketsCommand::Assign { ticket, operator, .. } => (
            format!("/operator/v1/tickets/{ticket}/assignee"),
            Method::PUT,
            Some(json!({"operator": operator})),
        ),
        TicketsCommand::Status { ticket, status } => (
            format!("/operator/v1/tickets/{ticket}/status"),
            Method::PUT,
            Some(json!({"status": status})),
        ),
        TicketsCommand::Priority { ticket, priority } => (
            format!("/operator/v1/tickets/{ticket}/priority"),
            Method::PUT,
            Some(json!({"priority": priority})),
        ),
    };
    let value = match method {
        Method::GET => client.get(&path)?,
        method => client.send_json(method, &path, body.as_ref())?,
    };
    output.table(&value, ticket_table);
    Ok(())
}

/// A ticket file: the ticket's fields, then its events as rows.
fn ticket_table(file: &Value) -> comfy_table::Table {
    let mut table = fields(
        &file["ticket"],
        &[
            "id",
            "player",
            "subject",
            "status",
            "priority",
            "assignee",
            "external",
            "opened_by",
            "opened_ms",
            "updated_ms",
        ],
    );
    for event in file["events"].as_array().into_iter().flatten() {
        let who = match event["author"].as_str() {
            Some("operator") => format!("operator {}", text(&event["author_operator"])),
            Some("external") => format!("external {}", text(&event["author_name"])),
            Some(other) => other.to_owned(),
            None => format!("operator {}", text(&event["operator"])),
        };
        table.add_row(vec![
            format!("{} at {}", text(&event["kind"]), text(&event["time_ms"])),
            format!("{who}: {}", text(&event["text"])),
        ]);
    }
    table
}

/// Runs a notes command.
pub fn notes(client: &Client, command: NotesCommand, output: Output) -> Result<(), Failure> {
    match command {
        NotesCommand::List { player, after, limit } => {
            let pairs = [
                ("after", after.map(|a| a.to_string())),
                ("limit", limit.map(|l| l.to_string())),
            ];
            let value = client.get(&format!("/operator/v1/players/{player}/notes{}", query(&pairs)))?;
            output.table(&value, |v| rows(&v["notes"], NOTE_COLUMNS));
        }
        NotesCommand::Add { player, text } => {
            let path = format!("/operator/v1/players/{player}/notes");
            let value = client.send_json(Method::POST, &path, Some(&json!({"text": text})))?;
            output.table(&value, |v| fields(v, NOTE_COLUMNS));
        }
    }
    Ok(())
}

/// Prints a player's timeline.
pub fn timeline(client: &Client, args: TimelineArgs, output: Output) -> Result<(), Failure> {
    let pairs = [
        ("kinds", args.kinds),
        ("after", args.after.map(|a| a.to_string())),
        ("limit", args.limit.map(|l| l.to_string())),
    ];
    let path = format!("/operator/v1/players/{}/timeline{}", args.player, query(&pairs));
    let value = client.get(&path)?;
    output.table(&value, |v| rows(&v["entries"], TIMELINE_COLUMNS));
    Ok(())
}
