//! `croupier-admin audit`: the audit trail, filtered, as a table, JSON
//! (`--json`) or the server's CSV export (`--csv`, every matching entry).

use clap::Args;

use super::client::query;
use super::output::{Output, cells, table};
use super::{Client, Failure};

/// Which entries.
#[derive(Args)]
pub struct AuditArgs {
    /// Only this operator's actions (0: the server).
    #[arg(long)]
    operator: Option<u32>,
    /// Only actions about this player.
    #[arg(long)]
    player: Option<u64>,
    /// Only this kind of command (set_status, set_limit, set_operator_role …).
    #[arg(long)]
    kind: Option<String>,
    /// From this time on, ms since the epoch.
    #[arg(long)]
    from_ms: Option<u64>,
    /// Before this time, ms since the epoch.
    #[arg(long)]
    to_ms: Option<u64>,
    /// After this sequence number (the previous page's next_after_seq).
    #[arg(long, conflicts_with = "csv")]
    after_seq: Option<u64>,
    /// Most entries, 1 to 1000.
    #[arg(long, conflicts_with = "csv")]
    limit: Option<usize>,
    /// Export every matching entry as CSV on stdout.
    #[arg(long)]
    csv: bool,
}

const COLUMNS: &[&str] = &[
    "seq",
    "time_ms",
    "operator",
    "operator_name",
    "kind",
    "target_type",
    "target",
    "field",
    "before",
    "after",
    "detail",
    "ok",
    "code",
];

/// Prints the entries.
pub fn run(client: &Client, args: AuditArgs, output: Output) -> Result<(), Failure> {
    let mut pairs = vec![
        ("operator", args.operator.map(|o| o.to_string())),
        ("player", args.player.map(|p| p.to_string())),
        ("kind", args.kind),
        ("from_ms", args.from_ms.map(|t| t.to_string())),
        ("to_ms", args.to_ms.map(|t| t.to_string())),
    ];
    if args.csv {
        if output.json {
            return Err(Failure::Usage("--csv and --json: choose one".into()));
        }
        pairs.push(("format", Some("csv".into())));
        let csv = client.get_text(&format!("/operator/v1/audit/export{}", query(&pairs)))?;
        print!("{csv}");
        return Ok(());
    }
    pairs.push(("after_seq", args.after_seq.map(|s| s.to_string())));
    pairs.push(("limit", args.limit.map(|l| l.to_string())));
    let value = client.get(&format!("/operator/v1/audit{}", query(&pairs)))?;
    output.table(&value, |v| {
        let mut table = table(COLUMNS);
        for entry in v["entries"].as_array().into_iter().flatten() {
            table.add_row(cells(entry, COLUMNS));
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
