//! `croupier-admin deposits` and `croupier-admin withdrawals list|approve|reject`:
//! the cashier's queues and finance's decisions, over the cashier routes.

use clap::{Args, Subcommand};
use reqwest::Method;

use super::client::{query, query_value};
use super::output::{Output, cells, table, text};
use super::{Client, Failure};

/// Which payments.
#[derive(Args)]
pub struct ListArgs {
    /// Only in this state (deposits: initiated, confirmed, failed, expired,
    /// charged_back; withdrawals: requested, approved, rejected, reversed,
    /// completed).
    #[arg(long)]
    state: Option<String>,
    /// Only this player's.
    #[arg(long)]
    player: Option<u64>,
    /// Only this provider's (stripe, manual).
    #[arg(long)]
    provider: Option<String>,
    /// Started at or after this time, ms since the epoch.
    #[arg(long)]
    from_ms: Option<u64>,
    /// Started before this time, ms since the epoch.
    #[arg(long)]
    to_ms: Option<u64>,
    /// Most listed, 1 to 1000 (oldest first).
    #[arg(long)]
    limit: Option<usize>,
}

/// The withdrawals commands.
#[derive(Subcommand)]
pub enum WithdrawalsCommand {
    /// List withdrawals (the approval queue: `--state requested`).
    List(ListArgs),
    /// Approve a withdrawal (above the four-eyes amount, a second operator must approve too).
    Approve {
        /// The withdrawal, `<source>:<id>` as listed.
        payment: String,
    },
    /// Reject a withdrawal: the reserved funds return to the player.
    Reject {
        /// The withdrawal, `<source>:<id>` as listed.
        payment: String,
    },
}

const COLUMNS: &[&str] = &[
    "payment",
    "player",
    "currency",
    "amount",
    "state",
    "provider",
    "reference",
    "first_approval_by_source",
    "charged_back",
    "shortfall",
    "created_ms",
];

fn list(client: &Client, kind: &str, args: ListArgs, output: Output) -> Result<(), Failure> {
    let pairs = [
        ("state", args.state),
        ("player", args.player.map(|p| p.to_string())),
        ("provider", args.provider),
        ("from_ms", args.from_ms.map(|t| t.to_string())),
        ("to_ms", args.to_ms.map(|t| t.to_string())),
        ("limit", args.limit.map(|l| l.to_string())),
    ];
    let value = client.get(&format!("/cashier/v1/{kind}{}", query(&pairs)))?;
    output.table(&value, |v| {
        let mut table = table(COLUMNS);
        for payment in v["payments"].as_array().into_iter().flatten() {
            table.add_row(cells(payment, COLUMNS));
        }
        table
    });
    Ok(())
}

/// Lists deposits.
pub fn deposits(client: &Client, args: ListArgs, output: Output) -> Result<(), Failure> {
    list(client, "deposits", args, output)
}

/// Runs a withdrawals command.
pub fn withdrawals(client: &Client, command: WithdrawalsCommand, output: Output) -> Result<(), Failure> {
    let (payment, step) = match command {
        WithdrawalsCommand::List(args) => return list(client, "withdrawals", args, output),
        WithdrawalsCommand::Approve { payment } => (payment, "approve"),
        WithdrawalsCommand::Reject { payment } => (payment, "reject"),
    };
    let path = format!("/cashier/v1/withdrawals/{}/{step}", query_value(&payment));
    let value = client.send_json(Method::POST, &path, None)?;
    let message = match text(&value["state"]).as_str() {
        "awaiting_second_approval" => format!("{payment}: first approval recorded; another operator must approve it"),
        state => format!("{payment}: {state}"),
    };
    output.done(&value, &message);
    Ok(())
}
