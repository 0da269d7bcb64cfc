//! `croupier-admin segments` and `croupier-admin campaigns`: marketing
//! segments (list, show, set from a JSON file, members) and campaigns
//! (list, show, set from a JSON file, targets, uplift).

use std::path::{Path, PathBuf};

use clap::Subcommand;
use reqwest::Method;
use serde_json::Value;

use super::client::{query, query_value};
use super::output::{Output, cells, fields, text};
use super::{Client, Failure};

/// The segments commands.
#[derive(Subcommand)]
pub enum SegmentsCommand {
    /// List the segments.
    List,
    /// Show one segment's rules.
    Show {
        /// The segment's code.
        code: String,
    },
    /// Create or replace a segment from a JSON file.
    Set {
        /// The segment's code.
        code: String,
        /// The file (the body of `PUT /operator/v1/segments/{code}`).
        file: PathBuf,
    },
    /// The segment's members now, a page at a time, with their count.
    Members {
        /// The segment's code.
        code: String,
        /// Only players with a greater id.
        #[arg(long)]
        after: Option<u64>,
        /// Most on the page (1 to 1000).
        #[arg(long)]
        limit: Option<u32>,
    },
}

/// The campaigns commands.
#[derive(Subcommand)]
pub enum CampaignsCommand {
    /// List the campaigns with their counts.
    List,
    /// Show one campaign.
    Show {
        /// The campaign's code.
        code: String,
    },
    /// Create or replace a campaign from a JSON file.
    Set {
        /// The campaign's code.
        code: String,
        /// The file (the body of `PUT /operator/v1/campaigns/{code}`).
        file: PathBuf,
    },
    /// A campaign's targets with their state, a page at a time.
    Targets {
        /// The campaign's code.
        code: String,
        /// Only players with a greater id.
        #[arg(long)]
        after: Option<u64>,
        /// Most on the page (1 to 1000).
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Deposits and GGR per player of the targets against the control group.
    Uplift {
        /// The campaign's code.
        code: String,
        /// The currency (default: the offer's).
        #[arg(long)]
        currency: Option<String>,
    },
}

const CAMPAIGN_COLUMNS: &[&str] = &[
    "code",
    "segment",
    "channel",
    "offer",
    "enabled",
    "targets",
    "controls",
    "skipped",
    "delivered",
    "failed",
];
const CAMPAIGN_FIELDS: &[&str] = &[
    "code",
    "name",
    "segment",
    "offer",
    "channel",
    "message",
    "start_at_ms",
    "trigger",
    "control_pct",
    "enabled",
    "targets",
    "controls",
    "skipped",
    "delivered",
    "failed",
    "launched_seq",
    "seq",
];

fn body_of(file: &Path) -> Result<Value, Failure> {
    let bytes =
        std::fs::read(file).map_err(|error| Failure::Usage(format!("cannot read {}: {error}", file.display())))?;
    serde_json::from_slice(&bytes).map_err(|error| Failure::Usage(format!("{}: not JSON: {error}", file.display())))
}

fn page(after: Option<u64>, limit: Option<u32>) -> String {
    query(&[
        ("after", after.map(|a| a.to_string())),
        ("limit", limit.map(|l| l.to_string())),
    ])
}

/// Runs a segments command.
pub fn run_segments(client: &Client, command: SegmentsCommand, output: Output) -> Result<(), Failure> {
    match command {
        SegmentsCommand::List => {
            let value = client.get("/operator/v1/segments")?;
            output.table(&value, |v| {
                let mut table = super::output::table(&["code", "name", "rules", "seq"]);
                for s in v["segments"].as_array().into_iter().flatten() {
                    let rules = s["all"].as_array().map_or(0, Vec::len) + s["any"].as_array().map_or(0, Vec::len);
                    table.add_row(vec![
                        text(&s["code"]),
                        text(&s["name"]),
                        rules.to_string(),
                        text(&s["seq"]),
                    ]);
                }
                table
            });
        }
        SegmentsCommand::Show { code } => {
            let value = client.get(&format!("/operator/v1/segments/{}", query_value(&code)))?;
            output.table(&value, |v| fields(v, &["code", "name", "all", "any", "seq", "set_ms"]));
        }
        SegmentsCommand::Set { code, file } => {
            let body = body_of(&file)?;
            let path = format!("/operator/v1/segments/{}", query_value(&code));
            let value = client.send_json(Method::PUT, &path, Some(&body))?;
            output.done(&value, &format!("set segment {code} (seq {})", text(&value["seq"])));
        }
        SegmentsCommand::Members { code, after, limit } => {
            let path = format!(
                "/operator/v1/segments/{}/members{}",
                query_value(&code),
                page(after, limit)
            );
            let value = client.get(&path)?;
            output.table(&value, |v| {
                let mut table = super::output::table(&["player"]);
                for m in v["members"].as_array().into_iter().flatten() {
                    table.add_row(vec![text(m)]);
                }
                table.add_row(vec![format!("({} members)", text(&v["count"]))]);
                table
            });
        }
    }
    Ok(())
}

/// Runs a campaigns command.
pub fn run_campaigns(client: &Client, command: CampaignsCommand, output: Output) -> Result<(), Failure> {
    match command {
        CampaignsCommand::List => {
            let value = client.get("/operator/v1/campaigns")?;
            output.table(&value, |v| {
                let mut table = super::output::table(CAMPAIGN_COLUMNS);
                for c in v["campaigns"].as_array().into_iter().flatten() {
                    table.add_row(cells(c, CAMPAIGN_COLUMNS));
                }
                table
            });
        }
        CampaignsCommand::Show { code } => {
            let value = client.get(&format!("/operator/v1/campaigns/{}", query_value(&code)))?;
            output.table(&value, |v| fields(v, CAMPAIGN_FIELDS));
        }
        CampaignsCommand::Set { code, file } => {
            let body = body_of(&file)?;
            let path = format!("/operator/v1/campaigns/{}", query_value(&code));
            let value = client.send_json(Method::PUT, &path, Some(&body))?;
            output.done(&value, &format!("set campaign {code} (seq {})", text(&value["seq"])));
        }
        CampaignsCommand::Targets { code, after, limit } => {
            let path = format!(
                "/operator/v1/campaigns/{}/targets{}",
                query_value(&code),
                page(after, limit)
            );
            let value = client.get(&path)?;
            output.table(&value, |v| {
                let columns = &["player", "state", "time_ms"];
                let mut table = super::output::table(columns);
                for t in v["targets"].as_array().into_iter().flatten() {
                    table.add_row(cells(t, columns));
                }
                table
            });
        }
        CampaignsCommand::Uplift { code, currency } => {
            let path = format!(
                "/operator/v1/campaigns/{}/uplift{}",
                query_value(&code),
                query(&[("currency", currency)])
            );
            let value = client.get(&path)?;
            output.table(&value, |v| {
                let columns = &[
                    "arm",
                    "players",
                    "deposits",
                    "ggr",
                    "deposits_per_player",
                    "ggr_per_player",
                ];
                let mut table = super::output::table(columns);
                for arm in ["targets", "control"] {
                    let mut row = vec![arm.to_owned()];
                    row.extend(cells(&v[arm], &columns[1..]));
                    table.add_row(row);
                }
                let uplift = vec![
                    "uplift".to_owned(),
                    String::new(),
                    String::new(),
                    String::new(),
                    text(&v["deposits_uplift_per_player"]),
                    text(&v["ggr_uplift_per_player"]),
                ];
                table.add_row(uplift);
                table
            });
        }
    }
    Ok(())
}
