//! `croupier-admin loyalty`: the loyalty programme (show, set from a JSON
//! file), a player's points and tier (show, redeem, set the tier), and the
//! promotion rules per jurisdiction (list, set the mixed-product ban).

use std::path::PathBuf;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::client::query_value;
use super::output::{Output, cells, fields, text};
use super::{Client, Failure};

/// The loyalty commands.
#[derive(Subcommand)]
pub enum Command {
    /// Show the programme in force.
    Config,
    /// Set the programme from a JSON file (rates, redemption, tiers).
    SetConfig {
        /// The file (the body of `PUT /operator/v1/loyalty/config`).
        file: PathBuf,
    },
    /// A player's points, tier, tier history and redemptions.
    Show {
        /// The player id.
        player: u64,
    },
    /// Redeem a player's points into bonus money.
    Redeem {
        /// The player id.
        player: u64,
        /// Points to spend.
        #[arg(long)]
        points: u64,
        /// Your id for this redemption: a retry with it redeems nothing more.
        #[arg(long)]
        id: String,
    },
    /// Set a player's VIP tier (the next review may change it).
    Tier {
        /// The player id.
        player: u64,
        /// The tier's code; omit for no tier.
        tier: Option<String>,
    },
    /// The promotion rules set per jurisdiction.
    Rules,
    /// Ban (or allow) mixed-product promotions in a jurisdiction.
    SetRules {
        /// A two-letter code, or `default`.
        jurisdiction: String,
        /// Allow them instead of banning them.
        #[arg(long)]
        allow: bool,
    },
}

const STANDING_FIELDS: &[&str] = &["player", "points_earned", "points_redeemed", "points_available", "tier"];
const CONFIG_FIELDS: &[&str] = &[
    "rates",
    "default_rate",
    "currency",
    "redeem_points",
    "redeem_amount",
    "redeem_wagering_x",
    "redeem_expiry_days",
    "review_days",
    "tiers",
    "seq",
];
const RULE_COLUMNS: &[&str] = &["jurisdiction", "mixed_product_banned", "seq"];

/// Runs a loyalty command.
pub fn run(client: &Client, command: Command, output: Output) -> Result<(), Failure> {
    match command {
        Command::Config => {
            let value = client.get("/operator/v1/loyalty/config")?;
            output.table(&value, |v| fields(v, CONFIG_FIELDS));
        }
        Command::SetConfig { file } => {
            let bytes = std::fs::read(&file)
                .map_err(|error| Failure::Usage(format!("cannot read {}: {error}", file.display())))?;
            let body: Value = serde_json::from_slice(&bytes)
                .map_err(|error| Failure::Usage(format!("{}: not JSON: {error}", file.display())))?;
            let value = client.send_json(Method::PUT, "/operator/v1/loyalty/config", Some(&body))?;
            output.done(
                &value,
                &format!("set the loyalty programme (seq {})", text(&value["seq"])),
            );
        }
        Command::Show { player } => {
            let value = client.get(&format!("/operator/v1/players/{player}/loyalty"))?;
            output.table(&value, |v| {
                let mut shown = v.clone();
                shown["tier"] = v["tier"]["code"].clone();
                fields(&shown, STANDING_FIELDS)
            });
        }
        Command::Redeem { player, points, id } => {
            let body = json!({"redemption_id": id, "points": points});
            let path = format!("/operator/v1/players/{player}/loyalty/redemptions");
            let value = client.send_json(Method::POST, &path, Some(&body))?;
            let message = format!(
                "redeemed {} points of player {player} for {} {} ({} left)",
                text(&value["points"]),
                text(&value["amount"]),
                text(&value["currency"]),
                text(&value["points_available"])
            );
            output.done(&value, &message);
        }
        Command::Tier { player, tier } => {
            let body = json!({ "tier": tier });
            let path = format!("/operator/v1/players/{player}/loyalty/tier");
            let value = client.send_json(Method::PUT, &path, Some(&body))?;
            let shown = tier.as_deref().unwrap_or("none");
            output.done(&value, &format!("player {player}'s tier is now {shown}"));
        }
        Command::Rules => {
            let value = client.get("/operator/v1/promotion-rules")?;
            output.table(&value, |v| {
                let mut table = super::output::table(RULE_COLUMNS);
                for rule in v["rules"].as_array().into_iter().flatten() {
                    table.add_row(cells(rule, RULE_COLUMNS));
                }
                table
            });
        }
        Command::SetRules { jurisdiction, allow } => {
            let body = json!({"mixed_product_banned": !allow});
            let path = format!("/operator/v1/promotion-rules/{}", query_value(&jurisdiction));
            let value = client.send_json(Method::PUT, &path, Some(&body))?;
            let verb = if allow { "allowed" } else { "banned" };
            output.done(&value, &format!("mixed-product promotions {verb} in {jurisdiction}"));
        }
    }
    Ok(())
}
