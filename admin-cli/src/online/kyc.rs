//! `croupier-admin kyc`: a player's KYC level and documents, a manual
//! decision with its reason, and a check started at the KYC provider — the
//! PAM module's KYC routes.

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::output::{Output, cells, fields, table, text};
use super::{Client, Failure};

/// The kyc commands.
#[derive(Subcommand)]
pub enum Command {
    /// Show a player's KYC level, who set it and why, and the provider check.
    Show {
        /// Player id.
        player: u64,
    },
    /// Decide a player's KYC level by hand, with the reason.
    SetLevel {
        /// Player id.
        player: u64,
        /// none, pending, verified or rejected.
        level: String,
        /// Why (kept in the journal and the audit trail).
        #[arg(long)]
        reason: String,
    },
    /// List a player's identity documents (numbers as keyed hashes only).
    Documents {
        /// Player id.
        player: u64,
    },
    /// Start a verification at the KYC provider; prints the link the player opens.
    Start {
        /// Player id.
        player: u64,
    },
}

const DOCUMENT_COLUMNS: &[&str] = &[
    "document",
    "kind",
    "issuing_country",
    "number_hash",
    "expires_on",
    "status",
    "reason",
    "provider_ref",
    "at_ms",
];

/// Who made a KYC change, in a word: `operator 3` or `provider <check>`.
fn source(by: &Value) -> String {
    match by["kind"].as_str() {
        Some("operator") => format!("operator {}", text(&by["operator"])),
        Some("provider") => format!("provider {}", text(&by["check"])),
        _ => String::new(),
    }
}

/// Runs a kyc command.
pub fn run(client: &Client, command: Command, output: Output) -> Result<(), Failure> {
    match command {
        Command::Show { player } => {
            let value = client.get(&format!("/operator/v1/players/{player}/kyc"))?;
            output.table(&value, |v| {
                let mut table = fields(v, &["player", "level", "reason"]);
                table.add_row(vec!["by".to_owned(), source(&v["by"])]);
                table.add_row(vec!["at_ms".to_owned(), text(&v["at_ms"])]);
                if let Some(check) = v.get("check").filter(|c| c.is_object()) {
                    table.add_row(vec!["check".to_owned(), text(&check["reference"])]);
                    table.add_row(vec!["check_started_by".to_owned(), text(&check["started_by"])]);
                    table.add_row(vec!["check_started_at_ms".to_owned(), text(&check["started_at_ms"])]);
                    // The provider's time of the verdict applied last: whether
                    // it has answered at all is what a support call asks.
                    let last = match check["last_event_ms"].as_u64() {
                        Some(0) => "none yet".to_owned(),
                        _ => text(&check["last_event_ms"]),
                    };
                    table.add_row(vec!["check_last_event_ms".to_owned(), last]);
                }
                let documents = v["documents"].as_array().map_or(0, Vec::len);
                table.add_row(vec!["documents".to_owned(), documents.to_string()]);
                table.add_row(vec!["as_of_seq".to_owned(), text(&v["as_of_seq"])]);
                table
            });
            Ok(())
        }
        Command::SetLevel { player, level, reason } => {
            let body = json!({"level": level, "reason": reason});
            let value = client.send_json(Method::PUT, &format!("/operator/v1/players/{player}/kyc"), Some(&body))?;
            output.done(&value, &format!("player {player}'s KYC level is {level}"));
            Ok(())
        }
        Command::Documents { player } => {
            let value = client.get(&format!("/operator/v1/players/{player}/kyc"))?;
            let documents = json!({"player": value["player"], "documents": value["documents"],
                "as_of_seq": value["as_of_seq"]});
            output.table(&documents, |v| {
                let header: Vec<&str> = DOCUMENT_COLUMNS.iter().copied().chain(["by"]).collect();
                let mut table = table(&header);
                for document in v["documents"].as_array().into_iter().flatten() {
                    let mut row = cells(document, DOCUMENT_COLUMNS);
                    row.push(source(&document["by"]));
                    table.add_row(row);
                }
                table
            });
            Ok(())
        }
        Command::Start { player } => {
            let value = client.send_json(Method::POST, &format!("/operator/v1/players/{player}/kyc/checks"), None)?;
            let message = format!(
                "check {} started for player {player} (level {}); the player verifies at {}",
                text(&value["check"]),
                text(&value["level"]),
                text(&value["url"])
            );
            output.done(&value, &message);
            Ok(())
        }
    }
}
