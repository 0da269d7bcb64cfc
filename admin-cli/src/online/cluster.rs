//! `croupier-admin cluster`: the replication group as the logged-in server
//! sees it (members, roles, term, commit and applied positions, lag), a
//! leadership transfer for maintenance, and adding and removing members
//! (admins; asked of the leader).

use clap::Subcommand;
use reqwest::Method;
use serde_json::json;

use super::output::{Output, cells, fields, text};
use super::{Client, Failure};

/// The cluster commands.
#[derive(Subcommand)]
pub enum Command {
    /// Members, roles, term, committed and applied index and seq, lag.
    Status,
    /// Ask the leader to hand leadership to member <TO> (the logged-in server must lead).
    TransferLeader {
        /// The member's node id.
        to: u64,
    },
    /// Add node <ID> (started with `--cluster-join`): it receives the log as a
    /// learner, then gets a vote. Waits until it votes (up to a minute).
    Add {
        /// The new member's node id.
        id: u64,
        /// Its raft listener, host:port.
        raft_addr: String,
        /// Its API's base URL (http(s)://…).
        api_url: String,
    },
    /// Remove member <ID> from the group (the leader itself included: it steps down).
    Remove {
        /// The member's node id.
        id: u64,
    },
}

const NODE_FIELDS: &[&str] = &[
    "cluster",
    "node_id",
    "role",
    "term",
    "leader",
    "leader_api_url",
    "last_log_index",
    "committed_index",
    "applied_index",
    "applied_seq",
    "digest",
];
const MEMBER_COLUMNS: &[&str] = &[
    "id",
    "role",
    "api_url",
    "raft_addr",
    "matched_index",
    "lag_entries",
    "lag_bytes",
    "lag_ms",
    "last_ack_ms",
];

/// Runs a cluster command.
pub fn run(client: &Client, command: Command, output: Output) -> Result<(), Failure> {
    match command {
        Command::Status => {
            let value = client.get("/operator/v1/cluster")?;
            output.table(&value, |v| {
                // The answering node's view, then one row per member.
                let mut table = fields(v, NODE_FIELDS);
                for member in v["members"].as_array().into_iter().flatten() {
                    let described: Vec<String> = MEMBER_COLUMNS[1..]
                        .iter()
                        .zip(cells(member, &MEMBER_COLUMNS[1..]))
                        .filter(|(_, cell)| !cell.is_empty())
                        .map(|(name, cell)| format!("{name}={cell}"))
                        .collect();
                    table.add_row(vec![format!("member {}", text(&member["id"])), described.join(" ")]);
                }
                table
            });
        }
        Command::TransferLeader { to } => {
            let body = json!({"to": to});
            let value = client.send_json(Method::POST, "/operator/v1/cluster/transfer-leader", Some(&body))?;
            let message = format!(
                "node {} asked to hand leadership to node {} (see `cluster status`)",
                text(&value["from"]),
                text(&value["to"])
            );
            output.done(&value, &message);
        }
        Command::Add { id, raft_addr, api_url } => {
            let body = json!({"id": id, "raft_addr": raft_addr, "api_url": api_url});
            let value = client.send_json(Method::POST, "/operator/v1/cluster/members", Some(&body))?;
            let message = format!("node {id} added; the voters are now {}", voters(&value));
            output.done(&value, &message);
        }
        Command::Remove { id } => {
            let path = format!("/operator/v1/cluster/members/{id}");
            let value = client.send_json(Method::DELETE, &path, None)?;
            let message = format!("node {id} removed; the voters are now {}", voters(&value));
            output.done(&value, &message);
        }
    }
    Ok(())
}

fn voters(value: &serde_json::Value) -> String {
    let ids: Vec<String> = value["voters"].as_array().into_iter().flatten().map(text).collect();
    ids.join(", ")
}
