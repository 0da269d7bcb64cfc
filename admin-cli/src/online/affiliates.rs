//! `croupier-admin affiliates` and `croupier-admin brands`: affiliate
//! accounts, commission plans and an affiliate's monthly commission;
//! brands and their lobbies. Each is one operator API call; the server
//! checks everything.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::client::{query, query_value};
use super::output::{Output, cells, fields, text};
use super::{Client, Failure};

/// The affiliates commands.
#[derive(Subcommand)]
pub enum Command {
    /// List the affiliates.
    List,
    /// Show one affiliate.
    Show {
        /// The affiliate's code.
        code: String,
    },
    /// Create an affiliate, or replace the one of this code.
    Set(SetArgs),
    /// The players an affiliate referred.
    Players {
        /// The affiliate's code.
        code: String,
    },
    /// Commission plans: list, show, set.
    #[command(subcommand)]
    Plans(PlansCommand),
    /// An affiliate's commission for a month, as JSON, CSV, TSV or HTML.
    Commission(CommissionArgs),
}

/// An affiliate's code and fields.
#[derive(Args)]
pub struct SetArgs {
    /// The affiliate's code.
    code: String,
    /// Display name.
    #[arg(long)]
    name: String,
    /// Who to contact.
    #[arg(long)]
    contact: String,
    /// Disabled: its codes attribute no new player.
    #[arg(long)]
    disabled: bool,
    /// A tracking code; repeat for each.
    #[arg(long = "tracking-code")]
    tracking_codes: Vec<String>,
    /// Its commission plan's code.
    #[arg(long)]
    plan: Option<String>,
}

/// The plan commands.
#[derive(Subcommand)]
pub enum PlansCommand {
    /// List the plans.
    List,
    /// Show one plan.
    Show {
        /// The plan's code.
        code: String,
    },
    /// Create a plan, or replace the one of this code.
    Set(PlanArgs),
}

/// A plan's code and fields.
#[derive(Args)]
pub struct PlanArgs {
    /// The plan's code.
    code: String,
    /// Display name.
    #[arg(long)]
    name: String,
    /// Its currency.
    #[arg(long)]
    currency: String,
    /// Revenue share of NGR, basis points (2500 = 25 %).
    #[arg(long, default_value_t = 0)]
    revenue_share_bp: u16,
    /// Admin fee on positive GGR, basis points.
    #[arg(long, default_value_t = 0)]
    admin_fee_bp: u16,
    /// Carry a negative month's NGR into the next months.
    #[arg(long)]
    carry_over: bool,
    /// CPA per qualifying first deposit ("50.00").
    #[arg(long)]
    cpa_amount: Option<String>,
    /// The smallest qualifying first deposit.
    #[arg(long)]
    cpa_threshold: Option<String>,
}

/// Which affiliate, which month, which form.
#[derive(Args)]
pub struct CommissionArgs {
    /// The affiliate's code.
    code: String,
    /// The month, YYYY-MM.
    #[arg(long)]
    month: String,
    /// json, csv, tsv or html.
    #[arg(long, default_value = "json")]
    format: String,
    /// Also convert every figure into this reporting currency.
    #[arg(long)]
    currency: Option<String>,
    /// Where to write it (`-`: stdout).
    #[arg(long, default_value = "-")]
    out: PathBuf,
}

const AFFILIATE_COLUMNS: &[&str] = &["code", "name", "status", "plan", "tracking_codes"];
const AFFILIATE_FIELDS: &[&str] = &["code", "name", "contact", "status", "tracking_codes", "plan", "seq"];
const PLAN_COLUMNS: &[&str] = &[
    "code",
    "name",
    "currency",
    "revenue_share_bp",
    "admin_fee_bp",
    "cpa_amount",
];
const PLAN_FIELDS: &[&str] = &[
    "code",
    "name",
    "currency",
    "revenue_share_bp",
    "admin_fee_bp",
    "negative_carry_over",
    "cpa_amount",
    "cpa_threshold",
    "seq",
];

fn list(
    client: &Client,
    path: &str,
    key: &str,
    columns: &'static [&'static str],
    output: Output,
) -> Result<(), Failure> {
    let value = client.get(path)?;
    output.table(&value, |v| {
        let mut table = super::output::table(columns);
        for row in v[key].as_array().into_iter().flatten() {
            table.add_row(cells(row, columns));
        }
        table
    });
    Ok(())
}

/// Runs an affiliates command.
pub fn run(client: &Client, command: Command, output: Output) -> Result<(), Failure> {
    match command {
        Command::List => list(
            client,
            "/operator/v1/affiliates",
            "affiliates",
            AFFILIATE_COLUMNS,
            output,
        )?,
        Command::Show { code } => {
            let value = client.get(&format!("/operator/v1/affiliates/{}", query_value(&code)))?;
            output.table(&value, |v| fields(v, AFFILIATE_FIELDS));
        }
        Command::Set(args) => {
            let body = json!({
                "name": args.name,
                "contact": args.contact,
                "status": if args.disabled { "disabled" } else { "active" },
                "tracking_codes": args.tracking_codes,
                "plan": args.plan,
            });
            let path = format!("/operator/v1/affiliates/{}", query_value(&args.code));
            let value = client.send_json(Method::PUT, &path, Some(&body))?;
            let message = format!("set affiliate {} ({})", text(&value["code"]), text(&value["status"]));
            output.done(&value, &message);
        }
        Command::Players { code } => {
            let value = client.get(&format!("/operator/v1/affiliates/{}/players", query_value(&code)))?;
            output.table(&value, |v| {
                let mut table = super::output::table(&["player"]);
                for player in v["players"].as_array().into_iter().flatten() {
                    table.add_row(vec![text(player)]);
                }
                table
            });
        }
        Command::Plans(command) => plans(client, command, output)?,
        Command::Commission(args) => {
            if output.json && args.format != "json" {
                return Err(Failure::Usage("--json and --format other than json: choose one".into()));
            }
            let pairs = [
                ("month", Some(args.month)),
                ("format", Some(args.format.clone())),
                ("currency", args.currency),
            ];
            let path = format!(
                "/operator/v1/affiliates/{}/commission{}",
                query_value(&args.code),
                query(&pairs)
            );
            super::reports::fetch_and_write(client, &path, &args.format, &args.out, "affiliate-commission")?;
        }
    }
    Ok(())
}

fn plans(client: &Client, command: PlansCommand, output: Output) -> Result<(), Failure> {
    match command {
        PlansCommand::List => list(client, "/operator/v1/affiliate-plans", "plans", PLAN_COLUMNS, output)?,
        PlansCommand::Show { code } => {
            let value = client.get(&format!("/operator/v1/affiliate-plans/{}", query_value(&code)))?;
            output.table(&value, |v| fields(v, PLAN_FIELDS));
        }
        PlansCommand::Set(args) => {
            let body = json!({
                "name": args.name,
                "currency": args.currency,
                "revenue_share_bp": args.revenue_share_bp,
                "admin_fee_bp": args.admin_fee_bp,
                "negative_carry_over": args.carry_over,
                "cpa_amount": args.cpa_amount,
                "cpa_threshold": args.cpa_threshold,
            });
            let path = format!("/operator/v1/affiliate-plans/{}", query_value(&args.code));
            let value = client.send_json(Method::PUT, &path, Some(&body))?;
            output.done(&value, &format!("set commission plan {}", text(&value["code"])));
        }
    }
    Ok(())
}

/// The brands commands.
#[derive(Subcommand)]
pub enum BrandsCommand {
    /// List the brands (the default one among them).
    List,
    /// Show one brand.
    Show {
        /// The brand's code.
        code: String,
    },
    /// Create a brand, or replace the one of this code.
    Set {
        /// The brand's code.
        code: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// A currency its players may hold; repeat for each (none: any).
        #[arg(long = "currency")]
        currencies: Vec<String>,
        /// A jurisdiction its players may be licensed in; repeat (none: any).
        #[arg(long = "jurisdiction")]
        jurisdictions: Vec<String>,
    },
    /// Show a brand's lobby as the front end gets it.
    Lobby {
        /// The brand's code.
        code: String,
        /// Only games allowed in this jurisdiction.
        #[arg(long)]
        jurisdiction: Option<String>,
    },
    /// Set a brand's lobby from a JSON file (categories, featured, theme).
    SetLobby {
        /// The brand's code.
        code: String,
        /// The lobby's JSON (`-`: stdin).
        #[arg(long)]
        file: PathBuf,
    },
}

const BRAND_COLUMNS: &[&str] = &["code", "name", "currencies", "jurisdictions"];

/// Runs a brands command.
pub fn brands(client: &Client, command: BrandsCommand, output: Output) -> Result<(), Failure> {
    match command {
        BrandsCommand::List => list(client, "/operator/v1/brands", "brands", BRAND_COLUMNS, output)?,
        BrandsCommand::Show { code } => {
            let value = client.get(&format!("/operator/v1/brands/{}", query_value(&code)))?;
            output.table(&value, |v| {
                fields(v, &["code", "name", "currencies", "jurisdictions", "seq"])
            });
        }
        BrandsCommand::Set {
            code,
            name,
            currencies,
            jurisdictions,
        } => {
            let body = json!({"name": name, "currencies": currencies, "jurisdictions": jurisdictions});
            let path = format!("/operator/v1/brands/{}", query_value(&code));
            let value = client.send_json(Method::PUT, &path, Some(&body))?;
            output.done(&value, &format!("set brand {}", text(&value["code"])));
        }
        BrandsCommand::Lobby { code, jurisdiction } => {
            let path = format!(
                "/operator/v1/brands/{}/lobby{}",
                query_value(&code),
                query(&[("jurisdiction", jurisdiction)])
            );
            let value = client.get(&path)?;
            output.table(&value, lobby_table);
        }
        BrandsCommand::SetLobby { code, file } => {
            let bytes = if file.as_os_str() == "-" {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).map(|_| bytes)
            } else {
                std::fs::read(&file)
            }
            .map_err(|e| Failure::Other(format!("reading {}: {e}", file.display())))?;
            let body: Value = serde_json::from_slice(&bytes)
                .map_err(|e| Failure::Usage(format!("{} is not JSON: {e}", file.display())))?;
            let path = format!("/operator/v1/brands/{}/lobby", query_value(&code));
            let value = client.send_json(Method::PUT, &path, Some(&body))?;
            output.done(&value, &format!("set the lobby of brand {}", text(&value["brand"])));
        }
    }
    Ok(())
}

/// A lobby as lines: each category's games in order, the featured first.
fn lobby_table(value: &Value) -> comfy_table::Table {
    let mut table = super::output::table(&["category", "aggregator", "game", "name", "type"]);
    let featured = value["featured"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| ("featured".to_owned(), g));
    let categories = value["categories"].as_array().into_iter().flatten().flat_map(|c| {
        let code = text(&c["code"]);
        c["games"]
            .as_array()
            .into_iter()
            .flatten()
            .map(move |g| (code.clone(), g))
    });
    for (category, game) in featured.chain(categories) {
        let mut row = vec![category];
        row.extend(cells(game, &["aggregator", "game", "name", "type"]));
        table.add_row(row);
    }
    table
}
