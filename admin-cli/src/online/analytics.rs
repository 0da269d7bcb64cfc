//! `croupier-admin analytics markers|alerts|scan|close|intervene|
//! interventions|churn|churn-player|train`: problem-gambling markers and
//! their alerts, interventions, and churn scores, over the analytics routes.

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::client::query;
use super::output::{Output, cells, fields, table, text};
use super::{Client, Failure};

/// The analytics commands.
#[derive(Subcommand)]
pub enum Command {
    /// A player's markers measured now, with their evidence and score.
    Markers {
        /// The player.
        player: u64,
    },
    /// Marker alerts for compliance (open ones unless `--all`).
    Alerts {
        /// Only alerts scoring at least this (0 to 100).
        #[arg(long)]
        min_score: Option<u32>,
        /// Closed ones too.
        #[arg(long)]
        all: bool,
        /// Most listed, 1 to 1000.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Run the marker scan now (alerts, suggested interventions).
    Scan,
    /// Close a marker alert with a finding.
    Close {
        /// The alert's id.
        alert: u64,
        /// What was found.
        #[arg(long)]
        finding: String,
    },
    /// Send an intervention to a player.
    Intervene {
        /// The player.
        player: u64,
        /// reality_check, limit_prompt or time_out_suggestion.
        kind: String,
        /// What the player is shown (default: the kind's standard text).
        #[arg(long)]
        message: Option<String>,
        /// The marker alert it answers.
        #[arg(long)]
        alert: Option<u64>,
    },
    /// A player's interventions (newest first).
    Interventions {
        /// The player.
        player: u64,
        /// Only those not answered yet.
        #[arg(long)]
        pending: bool,
    },
    /// Players by churn risk, highest first.
    Churn {
        /// Only scores at least this (0 to 1, default 0.5).
        #[arg(long)]
        min_score: Option<f64>,
        /// Most listed, 1 to 1000.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// A player's churn risk with its reasons.
    ChurnPlayer {
        /// The player.
        player: u64,
    },
    /// Retrain the churn model now.
    Train,
}

const ALERT_COLUMNS: &[&str] = &["id", "player", "score", "state", "as_of_seq", "summary"];
const INTERVENTION_COLUMNS: &[&str] = &["id", "kind", "alert", "operator", "time_ms", "answer", "message"];

/// Runs an analytics command.
pub fn run(client: &Client, command: Command, output: Output) -> Result<(), Failure> {
    match command {
        Command::Markers { player } => {
            let value = client.get(&format!("/operator/v1/players/{player}/markers"))?;
            output.table(&value, |v| {
                let mut table = fields(v, &["player", "score", "flagged", "as_of_seq"]);
                for marker in v["markers"].as_array().into_iter().flatten() {
                    let name = format!("{} ({} points)", text(&marker["marker"]), text(&marker["points"]));
                    table.add_row(vec![name, text(&marker["detail"])]);
                }
                table
            });
        }
        Command::Alerts { min_score, all, limit } => {
            let pairs = [
                ("min_score", min_score.map(|s| s.to_string())),
                ("state", all.then(|| "all".to_owned())),
                ("limit", limit.map(|l| l.to_string())),
            ];
            let value = client.get(&format!("/operator/v1/analytics/markers{}", query(&pairs)))?;
            output.table(&value, |v| rows(&v["alerts"], ALERT_COLUMNS));
        }
        Command::Scan => {
            let value = client.send_json(Method::POST, "/operator/v1/analytics/markers/scan", None)?;
            let message = format!(
                "{} players assessed, alerts {}, interventions {}",
                text(&value["players"]),
                value["alerts"],
                value["interventions"]
            );
            output.done(&value, &message);
        }
        Command::Close { alert, finding } => {
            let path = format!("/operator/v1/analytics/markers/{alert}/close");
            let value = client.send_json(Method::POST, &path, Some(&json!({"finding": finding})))?;
            output.done(&value, &format!("alert {alert} closed"));
        }
        Command::Intervene {
            player,
            kind,
            message,
            alert,
        } => {
            let body = json!({"kind": kind, "message": message, "alert": alert});
            let path = format!("/operator/v1/players/{player}/interventions");
            let value = client.send_json(Method::POST, &path, Some(&body))?;
            output.done(&value, &format!("intervention {} sent", text(&value["id"])));
        }
        Command::Interventions { player, pending } => {
            let pairs = [("pending", pending.then(|| "true".to_owned()))];
            let path = format!("/operator/v1/players/{player}/interventions{}", query(&pairs));
            let value = client.get(&path)?;
            output.table(&value, |v| rows(&v["interventions"], INTERVENTION_COLUMNS));
        }
        Command::Churn { min_score, limit } => {
            let pairs = [
                ("min_score", min_score.map(|s| s.to_string())),
                ("limit", limit.map(|l| l.to_string())),
            ];
            let value = client.get(&format!("/operator/v1/analytics/churn{}", query(&pairs)))?;
            output.table(&value, |v| {
                let mut table = table(&["player", "score", "reasons"]);
                for row in v["players"].as_array().into_iter().flatten() {
                    table.add_row(vec![
                        text(&row["player"]),
                        score(&row["score"]),
                        reasons(&row["reasons"]),
                    ]);
                }
                table
            });
        }
        Command::ChurnPlayer { player } => {
            let value = client.get(&format!("/operator/v1/players/{player}/churn"))?;
            output.table(&value, |v| {
                let mut table = fields(v, &["player", "trained_at_ms"]);
                table.add_row(vec!["score".to_owned(), score(&v["score"])]);
                table.add_row(vec!["reasons".to_owned(), reasons(&v["reasons"])]);
                table
            });
        }
        Command::Train => {
            let value = client.send_json(Method::POST, "/operator/v1/analytics/churn/training", None)?;
            let message = format!(
                "trained on {} players ({} churners), training AUC {}",
                text(&value["examples"]),
                text(&value["churners"]),
                score(&value["training_auc"])
            );
            output.done(&value, &message);
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

fn score(value: &Value) -> String {
    value.as_f64().map_or_else(|| text(value), |s| format!("{s:.3}"))
}

fn reasons(list: &Value) -> String {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            format!(
                "{} = {} ({:+.2})",
                text(&r["feature"]),
                score(&r["value"]),
                r["contribution"].as_f64().unwrap_or(0.0)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
