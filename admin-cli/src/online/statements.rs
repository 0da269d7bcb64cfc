//! `croupier-admin statement` and `balances`: a player's statement (every
//! movement with the balances after it) as a table, JSON or a whole CSV
//! export, and their balances at a past moment — the operator module's
//! statement routes.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::client::query;
use super::output::{Output, cells, table, text};
use super::{Client, Failure};

/// Which part of a statement.
#[derive(Args)]
pub struct StatementArgs {
    /// Player id.
    player: u64,
    /// From this time on: ms since the epoch or RFC 3339 (2026-01-01T00:00:00Z).
    #[arg(long)]
    from: Option<String>,
    /// Before this time.
    #[arg(long)]
    to: Option<String>,
    /// Only this currency's wallet.
    #[arg(long)]
    currency: Option<String>,
    /// Where the page starts (the previous page's next cursor).
    #[arg(long, conflicts_with = "csv")]
    cursor: Option<String>,
    /// Most movements in the page, 1 to 10000.
    #[arg(long)]
    limit: Option<usize>,
    /// Export every matching movement as CSV to this file (`-`: stdout).
    #[arg(long)]
    csv: Option<PathBuf>,
}

/// Which moment.
#[derive(Args)]
pub struct BalancesArgs {
    /// Player id.
    player: u64,
    /// The moment: ms since the epoch or RFC 3339 [default: now].
    #[arg(long)]
    at: Option<String>,
}

const LINE_COLUMNS: &[&str] = &[
    "seq",
    "time",
    "currency",
    "kind",
    "round",
    "game",
    "cash_delta",
    "bonus_delta",
    "cash",
    "bonus",
    "reserved",
    "balance",
];

/// Prints a page of a statement, or exports it all as CSV.
pub fn statement(client: &Client, args: StatementArgs, output: Output) -> Result<(), Failure> {
    let mut pairs = vec![
        ("currency", args.currency),
        ("from", args.from),
        ("to", args.to),
        ("limit", args.limit.map(|l| l.to_string())),
    ];
    let path = format!("/operator/v1/players/{}/statement", args.player);
    if let Some(file) = args.csv {
        if output.json {
            return Err(Failure::Usage("--csv and --json: choose one".into()));
        }
        pairs.push(("format", Some("csv".into())));
        return export(client, &path, pairs, &file);
    }
    pairs.push(("cursor", args.cursor));
    let value = client.get(&format!("{path}{}", query(&pairs)))?;
    output.table(&value, |v| {
        let mut table = table(LINE_COLUMNS);
        for line in v["lines"].as_array().into_iter().flatten() {
            table.add_row(cells(line, LINE_COLUMNS));
        }
        table
    });
    if !output.json
        && let Some(next) = value["next_cursor"].as_str()
    {
        println!("more: --cursor {next}");
    }
    Ok(())
}

/// Writes every page of the CSV statement to `file`, the header once.
fn export(client: &Client, path: &str, pairs: Vec<(&str, Option<String>)>, file: &Path) -> Result<(), Failure> {
    let mut csv = String::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut page_pairs = pairs.clone();
        page_pairs.push(("cursor", cursor.take()));
        let (page, next) = client.get_csv(&format!("{path}{}", query(&page_pairs)))?;
        let body = if csv.is_empty() {
            page.as_str()
        } else {
            // Later pages repeat the header line: keep the first only.
            page.split_once('\n').map_or("", |(_, rest)| rest)
        };
        csv.push_str(body);
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let written = if file.as_os_str() == "-" {
        std::io::stdout().write_all(csv.as_bytes())
    } else {
        std::fs::write(file, csv.as_bytes())
    };
    written.map_err(|error| Failure::Other(format!("writing {}: {error}", file.display())))?;
    if file.as_os_str() != "-" {
        let lines = csv.lines().count().saturating_sub(1);
        eprintln!("{lines} movements written to {}", file.display());
    }
    Ok(())
}

/// Prints a player's balances at a moment.
pub fn balances(client: &Client, args: BalancesArgs, output: Output) -> Result<(), Failure> {
    let query = query(&[("at", args.at)]);
    let value = client.get(&format!("/operator/v1/players/{}/balances{query}", args.player))?;
    output.table(&value, |v| {
        let columns = ["currency", "cash", "bonus", "reserved", "balance", "last_seq"];
        let mut table = table(&columns);
        for wallet in v["balances"].as_array().into_iter().flatten() {
            table.add_row(cells(wallet, &columns));
        }
        table
    });
    if !output.json {
        println!("at {} (as of seq {})", text(&value["at"]), text(&value["as_of_seq"]));
    }
    Ok(())
}
