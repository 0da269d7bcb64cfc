//! `croupier-admin jurisdictions`: list the profiles in force (and
//! scheduled), show one with its version history, set a new version from a
//! JSON file (compliance, admins).

use std::path::PathBuf;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::output::{Output, table, text};
use super::{Client, Failure};

/// The jurisdictions commands.
#[derive(Subcommand)]
pub enum Command {
    /// Every jurisdiction's profile in force, the default first, and how
    /// many versions are scheduled.
    List,
    /// One profile (`GB`, `MT` … or `default`): the version in force, the
    /// scheduled ones and the history.
    Show {
        /// Two upper-case letters, or default.
        code: String,
    },
    /// Set a version of a profile from a JSON file (the `profile` object of
    /// `PUT /operator/v1/jurisdictions/{code}/profile`, as `show --json`
    /// prints under `in_force.profile`).
    Set {
        /// Two upper-case letters, or default.
        code: String,
        /// The profile, JSON.
        #[arg(long)]
        file: PathBuf,
        /// When it takes effect: RFC 3339 (2026-06-01T00:00:00Z) or ms since
        /// the epoch [default: at once].
        #[arg(long)]
        effective_from: Option<String>,
    },
}

const LIST_COLUMNS: &[&str] = &[
    "code",
    "in force since",
    "min age",
    "stake caps",
    "wagering cap",
    "self-exclusion min",
    "reality check",
    "scheduled",
];

/// A profile's stake caps in one cell: `GBP 5.00 (2.00 young)`.
fn stake_caps(profile: &Value) -> String {
    let caps: Vec<String> = profile["stake_caps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            format!(
                "{} {} ({} young)",
                text(&c["currency"]),
                text(&c["adult"]),
                text(&c["young_adult"])
            )
        })
        .collect();
    if caps.is_empty() {
        "none".into()
    } else {
        caps.join(", ")
    }
}

fn summary_row(code: &Value, version: &Value, scheduled: usize) -> Vec<String> {
    let profile = &version["profile"];
    let wagering = match &profile["bonus_wagering_cap_x"] {
        Value::Null => "none".to_owned(),
        cap => format!("{}x", text(cap)),
    };
    vec![
        text(code),
        text(&version["effective_from"]),
        text(&profile["minimum_age_years"]),
        stake_caps(profile),
        wagering,
        format!("{} days", text(&profile["self_exclusion_min_days"])),
        reality_check(profile),
        scheduled.to_string(),
    ]
}

/// The interval, and the play-session rules if the profile has them:
/// `60 min, everyone, idle end 30 min`.
fn reality_check(profile: &Value) -> String {
    let mut cell = format!("{} min", text(&profile["reality_check_interval_min"]));
    let rules = &profile["play_sessions"];
    if rules["reality_check_by_default"] == Value::Bool(true) {
        cell.push_str(", everyone");
    }
    match rules["idle_end_min"].as_u64() {
        Some(minutes) if minutes > 0 => cell.push_str(&format!(", idle end {minutes} min")),
        _ => {}
    }
    cell
}

/// The `effective_from` of the request: a number if all digits.
fn effective_from(text: &str) -> Value {
    match text.parse::<u64>() {
        Ok(ms) => json!(ms),
        Err(_) => json!(text),
    }
}

/// Runs a jurisdictions command.
pub fn run(client: &Client, command: Command, output: Output) -> Result<(), Failure> {
    match command {
        Command::List => {
            let value = client.get("/operator/v1/jurisdictions")?;
            output.table(&value, |v| {
                let mut rows = table(LIST_COLUMNS);
                for j in v["jurisdictions"].as_array().into_iter().flatten() {
                    let scheduled = j["scheduled"].as_array().map_or(0, Vec::len);
                    rows.add_row(summary_row(&j["code"], &j["in_force"], scheduled));
                }
                rows
            });
        }
        Command::Show { code } => {
            let value = client.get(&format!(
                "/operator/v1/jurisdictions/{}",
                super::client::query_value(&code)
            ))?;
            output.table(&value, |v| {
                let mut rows = table(&["version", "effective from", "set by", "profile"]);
                for version in v["history"].as_array().into_iter().flatten() {
                    let state = if version["effective_from_ms"] == v["in_force"]["effective_from_ms"] {
                        "in force"
                    } else if v["scheduled"]
                        .as_array()
                        .is_some_and(|s| s.iter().any(|x| x["effective_from_ms"] == version["effective_from_ms"]))
                    {
                        "scheduled"
                    } else {
                        "past"
                    };
                    rows.add_row(vec![
                        state.to_owned(),
                        text(&version["effective_from"]),
                        text(&version["set_by"]),
                        version["profile"].to_string(),
                    ]);
                }
                rows
            });
        }
        Command::Set {
            code,
            file,
            effective_from: from,
        } => {
            let bytes = std::fs::read(&file).map_err(|e| Failure::Usage(format!("reading {}: {e}", file.display())))?;
            let profile: Value = serde_json::from_slice(&bytes)
                .map_err(|e| Failure::Usage(format!("{} is not JSON: {e}", file.display())))?;
            let mut body = json!({ "profile": profile });
            if let Some(from) = from {
                body["effective_from"] = effective_from(&from);
            }
            let path = format!(
                "/operator/v1/jurisdictions/{}/profile",
                super::client::query_value(&code)
            );
            let value = client.send_json(Method::PUT, &path, Some(&body))?;
            let when = if value["scheduled"] == json!(true) {
                "scheduled from"
            } else {
                "in force since"
            };
            let message = format!(
                "{}: profile {when} {}",
                text(&value["code"]),
                text(&value["effective_from"])
            );
            output.done(&value, &message);
        }
    }
    Ok(())
}
