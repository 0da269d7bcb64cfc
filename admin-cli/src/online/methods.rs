//! `croupier-admin methods list|add|disable|enable|remove`: a player's
//! payment methods (tokenized references only), over the PAM's
//! payment-methods routes.

use clap::Subcommand;
use reqwest::Method;

use super::client::query_value;
use super::output::{Output, cells, table};
use super::{Client, Failure};

/// The payment-methods commands.
#[derive(Subcommand)]
pub enum Command {
    /// List a player's payment methods, oldest first.
    List {
        /// The player.
        player: u64,
        /// Also the removed ones.
        #[arg(long)]
        removed: bool,
    },
    /// Record a payment method by its token (never a card number).
    Add {
        /// The player.
        player: u64,
        /// The method's id, unique per player.
        method_id: String,
        /// card, ewallet, bank or crypto.
        kind: String,
        /// The provider's token, the last four digits, or a wallet address.
        reference: String,
        /// The name it is held in, checked against the player's profile
        /// (not stored; a mismatch raises a third-party alert).
        #[arg(long)]
        holder_name: Option<String>,
    },
    /// Disable a method, with why.
    Disable {
        /// The player.
        player: u64,
        /// The method's id.
        method_id: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Enable a disabled method again, with why.
    Enable {
        /// The player.
        player: u64,
        /// The method's id.
        method_id: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Remove a method for good, with why.
    Remove {
        /// The player.
        player: u64,
        /// The method's id.
        method_id: String,
        /// Why.
        #[arg(long, default_value = "removed by an operator")]
        reason: String,
    },
}

const COLUMNS: &[&str] = &[
    "method_id",
    "kind",
    "reference",
    "holder",
    "state",
    "reason",
    "added_ms",
];

/// Runs a payment-methods command.
pub fn run(client: &Client, command: Command, output: Output) -> Result<(), Failure> {
    let (player, method, state, reason) = match command {
        Command::List { player, removed } => {
            let query = if removed { "?removed=true" } else { "" };
            let value = client.get(&format!("/operator/v1/players/{player}/payment-methods{query}"))?;
            output.table(&value, |v| {
                let mut table = table(COLUMNS);
                for method in v["methods"].as_array().into_iter().flatten() {
                    table.add_row(cells(method, COLUMNS));
                }
                table
            });
            return Ok(());
        }
        Command::Add {
            player,
            method_id,
            kind,
            reference,
            holder_name,
        } => {
            let body = serde_json::json!({"method_id": method_id, "kind": kind, "reference": reference,
                "holder_name": holder_name});
            let path = format!("/operator/v1/players/{player}/payment-methods");
            let value = client.send_json(Method::POST, &path, Some(&body))?;
            let holder = value["holder"].as_str().unwrap_or("unchecked").to_owned();
            output.done(
                &value,
                &format!("player {player}: {kind} {method_id} recorded (holder {holder})"),
            );
            return Ok(());
        }
        Command::Disable {
            player,
            method_id,
            reason,
        } => (player, method_id, "disabled", reason),
        Command::Enable {
            player,
            method_id,
            reason,
        } => (player, method_id, "active", reason),
        Command::Remove {
            player,
            method_id,
            reason,
        } => (player, method_id, "removed", reason),
    };
    let path = format!(
        "/operator/v1/players/{player}/payment-methods/{}/state",
        query_value(&method)
    );
    let body = serde_json::json!({"state": state, "reason": reason});
    let value = client.send_json(Method::PUT, &path, Some(&body))?;
    output.done(&value, &format!("player {player}: {method} {state}"));
    Ok(())
}
