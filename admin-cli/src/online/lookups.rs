//! `croupier-admin history` and `balance`: the read-model lookups.

use clap::Args;

use super::client::query;
use super::output::{Output, cells, fields, table};
use super::{Client, Failure};

/// Which page of a player's history.
#[derive(Args)]
pub struct HistoryArgs {
    /// Player id.
    player: u64,
    /// Only this currency's wallet.
    #[arg(long)]
    currency: Option<String>,
    /// Only movements after this sequence number (the previous page's next_after_seq).
    #[arg(long)]
    after_seq: Option<u64>,
    /// Most movements, 1 to 1000.
    #[arg(long)]
    limit: Option<usize>,
}

/// Which wallet.
#[derive(Args)]
pub struct BalanceArgs {
    /// Player id.
    player: u64,
    /// Currency, e.g. EUR.
    #[arg(long)]
    currency: String,
}

const MOVEMENT_COLUMNS: &[&str] = &[
    "seq",
    "time_ms",
    "kind",
    "currency",
    "cash_delta",
    "bonus_delta",
    "cash",
    "bonus",
    "reserved",
    "source",
    "id",
];

/// Prints a page of a player's history.
pub fn history(client: &Client, args: HistoryArgs, output: Output) -> Result<(), Failure> {
    let query = query(&[
        ("currency", args.currency),
        ("after_seq", args.after_seq.map(|s| s.to_string())),
        ("limit", args.limit.map(|l| l.to_string())),
    ]);
    let value = client.get(&format!("/operator/v1/players/{}/history{query}", args.player))?;
    output.table(&value, |v| {
        let mut table = table(MOVEMENT_COLUMNS);
        for movement in v["movements"].as_array().into_iter().flatten() {
            table.add_row(cells(movement, MOVEMENT_COLUMNS));
        }
        table
    });
    if !output.json
        && let Some(next) = value["next_after_seq"].as_u64()
    {
        println!("more: --after-seq {next}");
    }
    Ok(())
}

/// Prints a wallet's balances.
pub fn balance(client: &Client, args: BalanceArgs, output: Output) -> Result<(), Failure> {
    let currency = super::client::query_value(&args.currency);
    let value = client.get(&format!(
        "/operator/v1/players/{}/balance?currency={currency}",
        args.player
    ))?;
    output.table(&value, |v| {
        fields(v, &["player", "currency", "cash", "bonus", "reserved", "as_of_seq"])
    });
    Ok(())
}
