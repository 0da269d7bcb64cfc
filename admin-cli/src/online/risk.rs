//! `croupier-admin alerts list|show` and `croupier-admin cases
//! list|show|open|assign|note|act|resolve|export`: the AML alert queue and
//! the compliance desk's cases, over the risk routes.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::client::query;
use super::output::{Output, cells, fields, table, text};
use super::{Client, Failure};

/// Which alerts.
#[derive(Args)]
pub struct AlertListArgs {
    /// Only this rule's (deposit_velocity, little_play, structuring, large_win,
    /// payment_methods, cumulative_deposits, bonus_abuse).
    #[arg(long)]
    rule: Option<String>,
    /// Only this player's.
    #[arg(long)]
    player: Option<u64>,
    /// queued (in no case: the queue) or in_case.
    #[arg(long)]
    state: Option<String>,
    /// Only alerts after this id.
    #[arg(long)]
    after: Option<u64>,
    /// Most listed, 1 to 1000 (oldest first).
    #[arg(long)]
    limit: Option<usize>,
}

/// The alerts commands.
#[derive(Subcommand)]
pub enum AlertsCommand {
    /// List alerts (the queue: `--state queued`).
    List(AlertListArgs),
    /// Show an alert with its evidence (the journal records it rests on).
    Show {
        /// The alert's id.
        alert: u64,
    },
}

/// Which cases.
#[derive(Args)]
pub struct CaseListArgs {
    /// open or resolved.
    #[arg(long)]
    state: Option<String>,
    /// Only those assigned to this operator.
    #[arg(long)]
    assignee: Option<u64>,
    /// Only this player's.
    #[arg(long)]
    player: Option<u64>,
    /// Most listed, 1 to 1000 (oldest first).
    #[arg(long)]
    limit: Option<usize>,
}

/// The cases commands.
#[derive(Subcommand)]
pub enum CasesCommand {
    /// List cases.
    List(CaseListArgs),
    /// Show a case with its alerts and notes.
    Show {
        /// The case's id.
        case: u64,
    },
    /// Open a case from alerts in the queue (all about one player).
    Open {
        /// What it is about.
        #[arg(long)]
        summary: String,
        /// The alerts' ids.
        #[arg(required = true)]
        alerts: Vec<u64>,
    },
    /// Assign a case to an operator.
    Assign {
        /// The case's id.
        case: u64,
        /// The operator's id.
        operator: u32,
    },
    /// Annotate a case.
    Note {
        /// The case's id.
        case: u64,
        /// The note.
        text: String,
    },
    /// Act on the case's player through the ledger (journaled, audited).
    Act {
        /// The case's id.
        case: u64,
        /// suspend, require_kyc or hold_withdrawals (the case holds the player's withdrawals until it is resolved).
        action: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Resolve a case.
    Resolve {
        /// The case's id.
        case: u64,
        /// reported, no_action or false_positive.
        outcome: String,
        /// The finding.
        #[arg(long)]
        text: String,
    },
    /// Export a case as a suspicious-activity report (JSON, or `--csv`).
    Export {
        /// The case's id.
        case: u64,
        /// CSV, one row per journal record of evidence.
        #[arg(long)]
        csv: bool,
    },
}

const ALERT_COLUMNS: &[&str] = &["id", "rule", "player", "currency", "amount", "seq", "case", "summary"];
const CASE_COLUMNS: &[&str] = &["id", "player", "state", "assignee", "outcome", "opened_by", "summary"];

/// Runs an alerts command.
pub fn alerts(client: &Client, command: AlertsCommand, output: Output) -> Result<(), Failure> {
    match command {
        AlertsCommand::List(args) => {
            let pairs = [
                ("rule", args.rule),
                ("player", args.player.map(|p| p.to_string())),
                ("state", args.state),
                ("after", args.after.map(|a| a.to_string())),
                ("limit", args.limit.map(|l| l.to_string())),
            ];
            let value = client.get(&format!("/operator/v1/risk/alerts{}", query(&pairs)))?;
            output.table(&value, |v| rows(&v["alerts"], ALERT_COLUMNS));
        }
        AlertsCommand::Show { alert } => {
            let value = client.get(&format!("/operator/v1/risk/alerts/{alert}"))?;
            output.table(&value, |v| {
                let mut table = fields(
                    v,
                    &[
                        "id", "rule", "player", "currency", "amount", "seq", "time_ms", "case", "summary",
                    ],
                );
                for evidence in v["evidence"].as_array().into_iter().flatten() {
                    let line = format!(
                        "{} {} at {}",
                        text(&evidence["kind"]),
                        text(&evidence["amount"]),
                        text(&evidence["time_ms"])
                    );
                    table.add_row(vec![format!("evidence seq {}", text(&evidence["seq"])), line]);
                }
                table
            });
        }
    }
    Ok(())
}

fn rows(list: &Value, columns: &[&str]) -> comfy_table::Table {
    let mut table = table(columns);
    for row in list.as_array().into_iter().flatten() {
        table.add_row(cells(row, columns));
    }
    table
}

/// Runs a cases command.
pub fn cases(client: &Client, command: CasesCommand, output: Output) -> Result<(), Failure> {
    let (path, method, body) = match command {
        CasesCommand::List(args) => {
            let pairs = [
                ("state", args.state),
                ("assignee", args.assignee.map(|a| a.to_string())),
                ("player", args.player.map(|p| p.to_string())),
                ("limit", args.limit.map(|l| l.to_string())),
            ];
            let value = client.get(&format!("/operator/v1/risk/cases{}", query(&pairs)))?;
            output.table(&value, |v| rows(&v["cases"], CASE_COLUMNS));
            return Ok(());
        }
        CasesCommand::Export { case, csv: true } => {
            print!(
                "{}",
                client.get_text(&format!("/operator/v1/risk/cases/{case}/export?format=csv"))?
            );
            return Ok(());
        }
        CasesCommand::Export { case, csv: false } => {
            let value = client.get(&format!("/operator/v1/risk/cases/{case}/export"))?;
            output.done(&value, &serde_json::to_string_pretty(&value).unwrap_or_default());
            return Ok(());
        }
        CasesCommand::Show { case } => (format!("/operator/v1/risk/cases/{case}"), Method::GET, None),
        CasesCommand::Open { summary, alerts } => (
            "/operator/v1/risk/cases".to_owned(),
            Method::POST,
            Some(json!({"alerts": alerts, "summary": summary})),
        ),
        CasesCommand::Assign { case, operator } => (
            format!("/operator/v1/risk/cases/{case}/assignee"),
            Method::PUT,
            Some(json!({"operator": operator})),
        ),
        CasesCommand::Note { case, text } => (
            format!("/operator/v1/risk/cases/{case}/notes"),
            Method::POST,
            Some(json!({"text": text})),
        ),
        CasesCommand::Act { case, action, reason } => (
            format!("/operator/v1/risk/cases/{case}/actions"),
            Method::POST,
            Some(json!({"action": action, "reason": reason})),
        ),
        CasesCommand::Resolve { case, outcome, text } => (
            format!("/operator/v1/risk/cases/{case}/resolution"),
            Method::POST,
            Some(json!({"outcome": outcome, "text": text})),
        ),
    };
    let value = match method {
        Method::GET => client.get(&path)?,
        method => client.send_json(method, &path, body.as_ref())?,
    };
    output.table(&value, case_table);
    Ok(())
}

/// A case file: the case's fields, then its alerts and notes as rows.
fn case_table(file: &Value) -> comfy_table::Table {
    let case = &file["case"];
    let mut table = fields(
        case,
        &[
            "id",
            "player",
            "state",
            "summary",
            "assignee",
            "outcome",
            "opened_by",
            "opened_ms",
            "resolved_by",
            "resolved_ms",
        ],
    );
    for alert in file["alerts"].as_array().into_iter().flatten() {
        let line = format!(
            "{} {} {}: {}",
            text(&alert["rule"]),
            text(&alert["amount"]),
            text(&alert["currency"]),
            text(&alert["summary"])
        );
        table.add_row(vec![format!("alert {}", text(&alert["id"])), line]);
    }
    for note in file["notes"].as_array().into_iter().flatten() {
        let seq = match &note["journal_seq"] {
            Value::Null => String::new(),
            seq => format!(" (journal seq {seq})"),
        };
        let line = format!("operator {}: {}{seq}", text(&note["operator"]), text(&note["text"]));
        table.add_row(vec![
            format!("{} at {}", text(&note["kind"]), text(&note["time_ms"])),
            line,
        ]);
    }
    table
}
