//! `croupier-admin deposits`, `croupier-admin withdrawals list|approve|reject`,
//! `croupier-admin fx set|list`, `croupier-admin reconcile` and `croupier-admin providers`:
//! the cashier's queues, finance's decisions, the settlement-file
//! reconciliation and the configured payment providers, over the cashier
//! and reconciliation routes.

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
    /// Only this provider's (stripe, nowpayments, manual).
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

/// A settlement file to import.
#[derive(Args)]
pub struct ReconcileArgs {
    /// The provider (stripe, nowpayments).
    provider: String,
    /// The CSV file (reference, currency and amount columns).
    file: std::path::PathBuf,
}

/// The reconciliation queue's commands.
#[derive(Subcommand)]
pub enum ReconciliationCommand {
    /// List the queue of differences.
    List {
        /// Only this provider's.
        #[arg(long)]
        provider: Option<String>,
        /// Only in this state (open, resolved).
        #[arg(long)]
        state: Option<String>,
        /// Most listed, 1 to 1000 (oldest first).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Resolve one difference with a reason (journaled).
    Resolve {
        /// The provider.
        provider: String,
        /// The provider's reference of the difference.
        reference: String,
        /// The file it came from (`file` as listed).
        #[arg(long)]
        file: String,
        /// Why it is resolved.
        #[arg(long)]
        reason: String,
    },
}

const DIFFERENCE_COLUMNS: &[&str] = &[
    "provider",
    "reference",
    "gap",
    "file_currency",
    "file_amount",
    "ledger_currency",
    "ledger_amount",
    "state",
    "file",
];

fn differences_table(value: &serde_json::Value) -> comfy_table::Table {
    let mut table = table(DIFFERENCE_COLUMNS);
    for difference in value["differences"].as_array().into_iter().flatten() {
        table.add_row(cells(difference, DIFFERENCE_COLUMNS));
    }
    table
}

/// Imports a provider's settlement file and shows the differences it
/// queued; no money moves.
pub fn reconcile(client: &Client, args: ReconcileArgs, output: Output) -> Result<(), Failure> {
    let bytes = std::fs::read(&args.file)
        .map_err(|error| Failure::Usage(format!("cannot read {}: {error}", args.file.display())))?;
    let path = format!("/operator/v1/reconciliation/{}", query_value(&args.provider));
    let value = client.send_bytes(Method::POST, &path, "text/csv", bytes)?;
    output.table(&value, differences_table);
    Ok(())
}

/// Runs a reconciliation-queue command.
pub fn reconciliation(client: &Client, command: ReconciliationCommand, output: Output) -> Result<(), Failure> {
    match command {
        ReconciliationCommand::List { provider, state, limit } => {
            let pairs = [
                ("provider", provider),
                ("state", state),
                ("limit", limit.map(|l| l.to_string())),
            ];
            let value = client.get(&format!("/operator/v1/reconciliation{}", query(&pairs)))?;
            output.table(&value, differences_table);
        }
        ReconciliationCommand::Resolve {
            provider,
            reference,
            file,
            reason,
        } => {
            let path = format!(
                "/operator/v1/reconciliation/{}/{}/resolve",
                query_value(&provider),
                query_value(&reference)
            );
            let body = serde_json::json!({"file": file, "reason": reason});
            let value = client.send_json(Method::POST, &path, Some(&body))?;
            output.done(&value, &format!("{provider} {reference}: resolved"));
        }
    }
    Ok(())
}

/// The FX rate table's commands.
#[derive(Subcommand)]
pub enum FxCommand {
    /// Set the rate of BASE in QUOTE (journaled; history kept).
    Set {
        /// The currency priced (EUR).
        base: String,
        /// The currency it is priced in (GBP).
        quote: String,
        /// Units of QUOTE per BASE, a decimal with at most 8 places (0.85).
        rate: String,
        /// In force from this time, ms since the epoch (default: now).
        #[arg(long)]
        effective_at_ms: Option<u64>,
    },
    /// List the rate history, newest first per pair.
    List {
        /// Only this base currency.
        #[arg(long)]
        base: Option<String>,
        /// Only this quote currency.
        #[arg(long)]
        quote: Option<String>,
        /// Most listed, 1 to 1000.
        #[arg(long)]
        limit: Option<usize>,
    },
}

const RATE_COLUMNS: &[&str] = &["base", "quote", "rate", "effective_at_ms"];

/// Runs an FX command.
pub fn fx(client: &Client, command: FxCommand, output: Output) -> Result<(), Failure> {
    match command {
        FxCommand::Set {
            base,
            quote,
            rate,
            effective_at_ms,
        } => {
            let path = format!("/operator/v1/fx/{}/{}", query_value(&base), query_value(&quote));
            let body = serde_json::json!({"rate": rate, "effective_at_ms": effective_at_ms});
            let value = client.send_json(Method::PUT, &path, Some(&body))?;
            output.done(&value, &format!("{base}/{quote}: {rate}"));
        }
        FxCommand::List { base, quote, limit } => {
            let pairs = [
                ("base", base),
                ("quote", quote),
                ("limit", limit.map(|l| l.to_string())),
            ];
            let value = client.get(&format!("/operator/v1/fx{}", query(&pairs)))?;
            output.table(&value, |v| {
                let mut table = table(RATE_COLUMNS);
                for rate in v["rates"].as_array().into_iter().flatten() {
                    table.add_row(cells(rate, RATE_COLUMNS));
                }
                table
            });
        }
    }
    Ok(())
}

/// The providers table's columns.
const PROVIDER_COLUMNS: &[&str] = &[
    "name",
    "kind",
    "default",
    "api_host",
    "webhook_path",
    "deposits",
    "withdrawals",
    "payouts_owed",
];

/// Counts by state as `state=count` pairs (`-` for none).
fn by_state(value: &serde_json::Value) -> String {
    let pairs: Vec<String> = value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(state, count)| format!("{state}={}", text(count)))
        .collect();
    if pairs.is_empty() {
        "-".to_owned()
    } else {
        pairs.join(" ")
    }
}

/// `croupier-admin providers`: the configured payment providers.
pub fn providers(client: &Client, output: Output) -> Result<(), Failure> {
    let value = client.get("/operator/v1/payments/providers")?;
    output.table(&value, |v| {
        let mut table = table(PROVIDER_COLUMNS);
        for provider in v["providers"].as_array().into_iter().flatten() {
            let mut row = cells(provider, PROVIDER_COLUMNS);
            row[5] = by_state(&provider["deposits"]);
            row[6] = by_state(&provider["withdrawals"]);
            table.add_row(row);
        }
        table
    });
    Ok(())
}
