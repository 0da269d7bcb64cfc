//! `croupier-admin jackpots`: progressive jackpot pools (list, show,
//! create, award).

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::output::{Output, cells, fields, text};
use super::{Client, Failure};

/// The jackpots commands.
#[derive(Subcommand)]
pub enum Command {
    /// List the pools with their balances.
    List,
    /// Show one pool: balance, contributions, last win.
    Show {
        /// The pool's code.
        code: String,
    },
    /// Create a pool, funded with its seed.
    Create {
        /// The pool's code.
        code: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// The currency of its balance (ISO 4217).
        #[arg(long)]
        currency: String,
        /// A covered game as `AGGREGATOR:CODE` (the aggregator's id or
        /// name); repeat for each.
        #[arg(long = "game", required = true)]
        games: Vec<String>,
        /// Share of each covered stake, basis points (1 to 1000).
        #[arg(long)]
        contribution_bp: u16,
        /// Seed amount ("100.00").
        #[arg(long)]
        seed: String,
        /// Must-drop cap, above the seed.
        #[arg(long)]
        must_drop: Option<String>,
    },
    /// Award a pool's whole balance to a player, then reseed it.
    Award {
        /// The pool's code.
        code: String,
        /// The winner's player id.
        #[arg(long)]
        player: u64,
    },
}

const COLUMNS: &[&str] = &[
    "code",
    "name",
    "currency",
    "balance",
    "contribution_bp",
    "must_drop",
    "wins",
];
const FIELDS: &[&str] = &[
    "code",
    "name",
    "currency",
    "games",
    "contribution_bp",
    "seed",
    "must_drop",
    "balance",
    "contributions",
    "wins",
    "last_win",
];

/// Runs a jackpots command.
pub fn run(client: &Client, command: Command, output: Output) -> Result<(), Failure> {
    match command {
        Command::List => {
            let value = client.get("/operator/v1/jackpots")?;
            output.table(&value, |v| {
                let mut table = super::output::table(COLUMNS);
                for pool in v["jackpots"].as_array().into_iter().flatten() {
                    table.add_row(cells(pool, COLUMNS));
                }
                table
            });
        }
        Command::Show { code } => {
            let value = client.get(&pool_path(&code))?;
            output.table(&value, |v| fields(v, FIELDS));
        }
        Command::Create {
            code,
            name,
            currency,
            games,
            contribution_bp,
            seed,
            must_drop,
        } => {
            let games = games
                .iter()
                .map(|g| covered_game(g))
                .collect::<Result<Vec<Value>, Failure>>()?;
            let body = json!({
                "code": code,
                "name": name,
                "currency": currency,
                "games": games,
                "contribution_bp": contribution_bp,
                "seed": seed,
                "must_drop": must_drop,
            });
            let value = client.send_json(Method::POST, "/operator/v1/jackpots", Some(&body))?;
            let message = format!(
                "created jackpot {} at {} {}",
                text(&value["code"]),
                text(&value["balance"]),
                text(&value["currency"])
            );
            output.done(&value, &message);
        }
        Command::Award { code, player } => {
            let path = format!("{}/award", pool_path(&code));
            let value = client.send_json(Method::POST, &path, Some(&json!({ "player": player })))?;
            let message = format!(
                "awarded {} from jackpot {code} to player {player}; reseeded with {}",
                text(&value["paid"]),
                text(&value["reseed"])
            );
            output.done(&value, &message);
        }
    }
    Ok(())
}

fn pool_path(code: &str) -> String {
    format!("/operator/v1/jackpots/{}", super::client::query_value(code))
}

/// `AGGREGATOR:CODE` as the API's covered game (an id if it is a number).
fn covered_game(text: &str) -> Result<Value, Failure> {
    let Some((aggregator, code)) = text.split_once(':') else {
        return Err(Failure::Usage(format!("--game {text:?}: expected AGGREGATOR:CODE")));
    };
    let aggregator = match aggregator.parse::<u32>() {
        Ok(id) => json!(id),
        Err(_) => json!(aggregator),
    };
    Ok(json!({ "aggregator": aggregator, "code": code }))
}
