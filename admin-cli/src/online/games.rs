//! `croupier-admin games`: the game catalogue (list with filters, show,
//! import a provider's list from a JSON or CSV file, enable, disable).

use std::path::PathBuf;

use clap::Subcommand;
use reqwest::Method;

use super::client::query;
use super::output::{Output, cells, fields, text};
use super::{Client, Failure};

/// The games commands.
#[derive(Subcommand)]
pub enum Command {
    /// List games, by aggregator and code.
    List {
        /// Only this provider's (its code).
        #[arg(long)]
        provider: Option<String>,
        /// Only of this type: slot, table, live, crash, other.
        #[arg(long = "type")]
        kind: Option<String>,
        /// Only enabled (true) or disabled (false) games.
        #[arg(long)]
        enabled: Option<bool>,
        /// Only games allowed in this jurisdiction (two letters).
        #[arg(long)]
        jurisdiction: Option<String>,
    },
    /// Show one game.
    Show {
        /// The aggregator's id or name.
        aggregator: String,
        /// The game's code at that aggregator.
        code: String,
    },
    /// Import a provider's game list: a JSON array (`.json`) or CSV with a
    /// header row (any other name); all or nothing.
    Import {
        /// The file.
        file: PathBuf,
    },
    /// Enable a game: it takes bets again.
    Enable {
        /// The aggregator's id or name.
        aggregator: String,
        /// The game's code at that aggregator.
        code: String,
    },
    /// Disable a game: its bets are refused, its wins still land.
    Disable {
        /// The aggregator's id or name.
        aggregator: String,
        /// The game's code at that aggregator.
        code: String,
    },
}

const COLUMNS: &[&str] = &[
    "aggregator_name",
    "code",
    "provider",
    "name",
    "type",
    "rtp_default_bp",
    "enabled",
];
const FIELDS: &[&str] = &[
    "aggregator",
    "aggregator_name",
    "code",
    "provider",
    "name",
    "type",
    "volatility",
    "rtp_variants_bp",
    "rtp_default_bp",
    "rtp_by_jurisdiction",
    "limits",
    "jurisdictions",
    "enabled",
];

/// Runs a games command.
pub fn run(client: &Client, command: Command, output: Output) -> Result<(), Failure> {
    match command {
        Command::List {
            provider,
            kind,
            enabled,
            jurisdiction,
        } => {
            let path = format!(
                "/operator/v1/games{}",
                query(&[
                    ("provider", provider),
                    ("type", kind),
                    ("enabled", enabled.map(|e| e.to_string())),
                    ("jurisdiction", jurisdiction),
                ])
            );
            let value = client.get(&path)?;
            output.table(&value, |v| {
                let mut table = super::output::table(COLUMNS);
                for game in v["games"].as_array().into_iter().flatten() {
                    table.add_row(cells(game, COLUMNS));
                }
                table
            });
        }
        Command::Show { aggregator, code } => {
            let value = client.get(&game_path(&aggregator, &code))?;
            output.table(&value, |v| fields(v, FIELDS));
        }
        Command::Import { file } => {
            let bytes = std::fs::read(&file)
                .map_err(|error| Failure::Usage(format!("cannot read {}: {error}", file.display())))?;
            let json = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
            let content_type = if json { "application/json" } else { "text/csv" };
            let value = client.send_bytes(Method::POST, "/operator/v1/games/import", content_type, bytes)?;
            let message = format!(
                "imported {}: {} created, {} updated, {} unchanged",
                file.display(),
                text(&value["created"]),
                text(&value["updated"]),
                text(&value["unchanged"])
            );
            output.done(&value, &message);
        }
        Command::Enable { aggregator, code } => set_enabled(client, &aggregator, &code, "enable", output)?,
        Command::Disable { aggregator, code } => set_enabled(client, &aggregator, &code, "disable", output)?,
    }
    Ok(())
}

fn game_path(aggregator: &str, code: &str) -> String {
    format!(
        "/operator/v1/games/{}/{}",
        super::client::query_value(aggregator),
        super::client::query_value(code)
    )
}

fn set_enabled(client: &Client, aggregator: &str, code: &str, verb: &str, output: Output) -> Result<(), Failure> {
    let path = format!("{}/{verb}", game_path(aggregator, code));
    let value = client.send_json(Method::POST, &path, None)?;
    let state = if value["enabled"] == serde_json::Value::Bool(true) {
        "enabled"
    } else {
        "disabled"
    };
    output.done(&value, &format!("game {aggregator}/{code}: {state}"));
    Ok(())
}
