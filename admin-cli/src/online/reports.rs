//! `croupier-admin reports NAME`: a regulatory or business report for a
//! period, fetched from `GET /operator/v1/reports/{name}` as JSON, CSV,
//! tab-delimited text or printable HTML, and written to a file (or
//! stdout). The server computes it; this only names the period and form.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::client::query;
use super::{Client, Failure, Output};

/// Which report, for which period, in which form.
#[derive(Args)]
pub struct ReportArgs {
    /// ukgc-quarterly, business, mga-tax, mga-player-funds, mga-player-data,
    /// affiliate-commission or cohort-retention.
    pub name: String,
    /// The first day, YYYY-MM-DD (UTC), with --to.
    #[arg(long)]
    pub from: Option<String>,
    /// The last day, included.
    #[arg(long)]
    pub to: Option<String>,
    /// A quarter instead, YYYYQn (2026Q4).
    #[arg(long)]
    pub quarter: Option<String>,
    /// A month instead, YYYY-MM.
    #[arg(long)]
    pub month: Option<String>,
    /// json, csv, tsv (tab-delimited) or html.
    #[arg(long, default_value = "json")]
    pub format: String,
    /// Also convert every figure into this reporting currency.
    #[arg(long)]
    pub currency: Option<String>,
    /// Only the players of this brand.
    #[arg(long)]
    pub brand: Option<String>,
    /// affiliate-commission: this affiliate alone.
    #[arg(long)]
    pub affiliate: Option<String>,
    /// Where to write it (`-`: stdout).
    #[arg(long, default_value = "-")]
    pub out: PathBuf,
}

/// Fetches the report and writes it.
pub fn run(client: &Client, args: ReportArgs, output: Output) -> Result<(), Failure> {
    if output.json && args.format != "json" {
        return Err(Failure::Usage("--json and --format other than json: choose one".into()));
    }
    if !args
        .name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(Failure::Usage(format!("{:?} is not a report name", args.name)));
    }
    let pairs = [
        ("from", args.from),
        ("to", args.to),
        ("quarter", args.quarter),
        ("month", args.month),
        ("format", Some(args.format.clone())),
        ("currency", args.currency),
        ("brand", args.brand),
        ("affiliate", args.affiliate),
    ];
    let path = format!("/operator/v1/reports/{}{}", args.name, query(&pairs));
    fetch_and_write(client, &path, &args.format, &args.out, &args.name)
}

/// Fetches `path` in `format` and writes it to `out` (`-`: stdout).
pub fn fetch_and_write(
    client: &Client,
    path: &str,
    format: &str,
    out: &std::path::Path,
    name: &str,
) -> Result<(), Failure> {
    let text = if format == "json" {
        let value = client.get(path)?;
        let mut text = serde_json::to_string_pretty(&value).map_err(|e| Failure::Other(e.to_string()))?;
        text.push('\n');
        text
    } else {
        client.get_text(path)?
    };
    let written = if out.as_os_str() == "-" {
        std::io::stdout().write_all(text.as_bytes())
    } else {
        std::fs::write(out, text.as_bytes())
    };
    written.map_err(|error| Failure::Other(format!("writing {}: {error}", out.display())))?;
    if out.as_os_str() != "-" {
        eprintln!("{} report written to {}", name, out.display());
    }
    Ok(())
}
