//! `croupier-admin rg`: a player's play-session rules and everything RG
//! knows of them: `show` (limits, exclusions, the session's reality check
//! and time limit, the deposit-limit prompt due), `reality-check`,
//! `acknowledge`, `session-limit` and `review`.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::output::{Output, table, text};
use super::{Client, Failure};

/// The `rg` subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Everything responsible gambling knows of a player now.
    Show {
        /// Player id.
        player: u64,
    },
    /// Set the player's reality-check interval (in force at once).
    RealityCheck(MinutesArgs),
    /// Report that the player acknowledged the reality check shown (bets go on).
    Acknowledge {
        /// Player id.
        player: u64,
    },
    /// Set or remove the player's session time limit (shorter: at once; longer or removed: after the cooling-off).
    SessionLimit(MinutesArgs),
    /// Report that the player reviewed their deposit limits (answers the prompt).
    Review {
        /// Player id.
        player: u64,
    },
}

/// A duration in minutes, or none.
#[derive(Args)]
pub struct MinutesArgs {
    /// Player id.
    player: u64,
    /// Minutes, 1 to 1440.
    #[arg(long, conflicts_with = "none", required_unless_present = "none")]
    minutes: Option<u64>,
    /// No interval (the default) or no limit.
    #[arg(long)]
    none: bool,
}

/// Runs an `rg` subcommand.
pub fn run(client: &Client, command: Command, output: Output) -> Result<(), Failure> {
    match command {
        Command::Show { player } => {
            let value = client.get(&format!("/operator/v1/players/{player}/rg"))?;
            output.table(&value, show_table);
        }
        Command::RealityCheck(args) => {
            let body = json!({"interval_minutes": args.minutes});
            let what = format!("reality-check interval of player {}", args.player);
            change(client, Method::PUT, args.player, "reality-check", &body, &what, output)?;
        }
        Command::Acknowledge { player } => {
            let what = format!("reality check of player {player} acknowledged");
            let route = "reality-check/acknowledgement";
            change(client, Method::POST, player, route, &json!({}), &what, output)?;
        }
        Command::SessionLimit(args) => {
            let body = json!({"limit_minutes": args.minutes});
            let what = format!("session time limit of player {}", args.player);
            change(
                client,
                Method::PUT,
                args.player,
                "session-time-limit",
                &body,
                &what,
                output,
            )?;
        }
        Command::Review { player } => {
            let what = format!("limit review of player {player} recorded");
            change(client, Method::POST, player, "limit-review", &json!({}), &what, output)?;
        }
    }
    Ok(())
}

fn change(
    client: &Client,
    method: Method,
    player: u64,
    route: &str,
    body: &Value,
    what: &str,
    output: Output,
) -> Result<(), Failure> {
    let value = client.send_json(method, &format!("/operator/v1/players/{player}/{route}"), Some(body))?;
    let message = match value["effective_at_ms"].as_u64() {
        Some(at) => format!("{what}: scheduled, in force at {at} ms"),
        None => format!("{what}: in force"),
    };
    output.done(&value, &message);
    Ok(())
}

/// The RG read as a two-column table, one row per fact.
fn show_table(value: &Value) -> comfy_table::Table {
    let mut rows = table(&["field", "value"]);
    let mut row = |name: &str, cell: String| {
        if !cell.is_empty() {
            rows.add_row(vec![name.to_owned(), cell]);
        }
    };
    row("player", text(&value["player"]));
    row("self-excluded until ms", text(&value["self_excluded_until_ms"]));
    row("timed out until ms", text(&value["timed_out_until_ms"]));
    for limit in value["limits"].as_array().into_iter().flatten() {
        let name = format!("{} {} limit", text(&limit["period"]), text(&limit["metric"]));
        let mut cell = format!("{} {}", text(&limit["amount"]), text(&limit["currency"]));
        if let Some(pending) = limit.get("pending") {
            let amount = text(&pending["amount"]);
            let amount = if amount.is_empty() {
                "removed".to_owned()
            } else {
                amount
            };
            cell.push_str(&format!(" ({amount} from {} ms)", text(&pending["effective_at_ms"])));
        }
        row(&name, cell);
    }
    let session = &value["session"];
    row("session started ms", text(&session["started_ms"]));
    row(
        "net position",
        format!("{} {}", text(&session["net_position"]), text(&value["currency"])),
    );
    row("session limit minutes", text(&session["time_limit_minutes"]));
    row(
        "reality check minutes",
        text(&session["reality_check_interval_minutes"]),
    );
    if let Some(check) = session.get("reality_check") {
        let due = if check["due"] == json!(true) {
            "due since"
        } else {
            "next at"
        };
        row("reality check", format!("{due} {} ms", text(&check["due_at_ms"])));
    }
    row("bets refused", text(&session["bets_refused"]["code"]));
    let prompt = &value["prompts"]["due"];
    if !prompt.is_null() {
        let cell = format!(
            "{} (since {} ms)",
            text(&prompt["reason"]),
            text(&prompt["due_since_ms"])
        );
        row("limit prompt due", cell);
    }
    for intervention in value["interventions"].as_array().into_iter().flatten() {
        let answer = match intervention["answer"].as_str() {
            Some(answer) => format!("answered {answer}"),
            None => "not answered".to_owned(),
        };
        let cell = format!(
            "{} at {} ms, {answer}",
            text(&intervention["kind"]),
            text(&intervention["time_ms"])
        );
        row(&format!("intervention {}", text(&intervention["id"])), cell);
    }
    rows
}
