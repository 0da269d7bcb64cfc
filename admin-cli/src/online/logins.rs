//! `croupier-admin sessions` and `devices`: a player's login sessions and
//! the devices and IP addresses they logged in from (keyed hashes only) —
//! the PAM module's login routes.

use clap::Args;

use super::client::query;
use super::output::{Output, cells, table, text};
use super::{Client, Failure};

/// Which page of sessions.
#[derive(Args)]
pub struct SessionsArgs {
    /// Player id.
    player: u64,
    /// Where the page starts (the previous page's next cursor).
    #[arg(long)]
    cursor: Option<String>,
    /// Most sessions, 1 to 500.
    #[arg(long)]
    limit: Option<usize>,
}

/// Whose devices.
#[derive(Args)]
pub struct DevicesArgs {
    /// Player id.
    player: u64,
}

const SESSION_COLUMNS: &[&str] = &[
    "session",
    "started_ms",
    "ended_ms",
    "duration_ms",
    "ended_by",
    "browser",
    "os",
    "concurrent_with",
];

const IDENTIFIER_COLUMNS: &[&str] = &["hash", "first_ms", "last_ms", "logins", "browser", "os", "players"];

/// Prints a page of a player's sessions, newest first.
pub fn sessions(client: &Client, args: SessionsArgs, output: Output) -> Result<(), Failure> {
    let query = query(&[("cursor", args.cursor), ("limit", args.limit.map(|l| l.to_string()))]);
    let value = client.get(&format!("/operator/v1/players/{}/sessions{query}", args.player))?;
    output.table(&value, |v| {
        let header: Vec<&str> = SESSION_COLUMNS.iter().copied().chain(["blocked"]).collect();
        let mut table = table(&header);
        for session in v["sessions"].as_array().into_iter().flatten() {
            let mut row = cells(session, SESSION_COLUMNS);
            row.push(text(&session["blocked"]["reason"]));
            table.add_row(row);
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

/// Prints a player's devices and IP addresses, most recent first.
pub fn devices(client: &Client, args: DevicesArgs, output: Output) -> Result<(), Failure> {
    let value = client.get(&format!("/operator/v1/players/{}/devices", args.player))?;
    output.table(&value, |v| {
        let header: Vec<&str> = std::iter::once("kind")
            .chain(IDENTIFIER_COLUMNS.iter().copied())
            .collect();
        let mut table = table(&header);
        for (kind, list) in [("device", &v["devices"]), ("ip", &v["addresses"])] {
            for identifier in list.as_array().into_iter().flatten() {
                let mut row = vec![kind.to_owned()];
                row.extend(cells(identifier, IDENTIFIER_COLUMNS));
                table.add_row(row);
            }
        }
        table
    });
    Ok(())
}
