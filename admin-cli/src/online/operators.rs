//! `croupier-admin operators`: list, create, change a role, disable,
//! rotate a token (admins).

use clap::Subcommand;
use reqwest::Method;
use serde_json::json;

use super::output::{Output, cells, text};
use super::{Client, Failure};

/// The operators commands.
#[derive(Subcommand)]
pub enum Command {
    /// List every operator, disabled ones included.
    List,
    /// Create an operator; its token is shown once.
    Create {
        /// Display name, unique.
        #[arg(long)]
        name: String,
        /// admin, finance, compliance, support, read-only or marketing.
        #[arg(long)]
        role: String,
    },
    /// Give an operator another role (a disabled one is enabled with it).
    Role {
        /// Operator id.
        operator: u32,
        /// admin, finance, compliance, support, read-only or marketing.
        role: String,
    },
    /// Disable an operator: its token is refused from now on.
    Disable {
        /// Operator id.
        operator: u32,
    },
    /// Give an operator a new token (shown once); the old one stops working.
    Rotate {
        /// Operator id.
        operator: u32,
    },
}

const COLUMNS: &[&str] = &["operator", "name", "role", "source", "created_by"];

/// Runs an operators command.
pub fn run(client: &Client, command: Command, output: Output) -> Result<(), Failure> {
    match command {
        Command::List => {
            let value = client.get("/operator/v1/operators")?;
            output.table(&value, |v| {
                let mut table = super::output::table(COLUMNS);
                for operator in v["operators"].as_array().into_iter().flatten() {
                    table.add_row(cells(operator, COLUMNS));
                }
                table
            });
        }
        Command::Create { name, role } => {
            let body = json!({"name": name, "role": role});
            let value = client.send_json(Method::POST, "/operator/v1/operators", Some(&body))?;
            let message = format!(
                "created operator {} ({}); token (shown once): {}",
                text(&value["operator"]),
                text(&value["role"]),
                text(&value["token"])
            );
            output.done(&value, &message);
        }
        Command::Role { operator, role } => {
            let body = json!({"role": role});
            let value = client.send_json(
                Method::PUT,
                &format!("/operator/v1/operators/{operator}/role"),
                Some(&body),
            )?;
            let message = format!(
                "operator {operator}: {} -> {} (journal seq {})",
                text(&value["role_before"]),
                text(&value["role"]),
                text(&value["seq"])
            );
            output.done(&value, &message);
        }
        Command::Disable { operator } => {
            let value = client.send_json(
                Method::POST,
                &format!("/operator/v1/operators/{operator}/disable"),
                None,
            )?;
            let message = format!(
                "operator {operator} disabled (was {}; journal seq {})",
                text(&value["role_before"]),
                text(&value["seq"])
            );
            output.done(&value, &message);
        }
        Command::Rotate { operator } => {
            let value = client.send_json(Method::POST, &format!("/operator/v1/operators/{operator}/token"), None)?;
            let message = format!(
                "operator {operator}: new token (shown once): {} (journal seq {})",
                text(&value["token"]),
                text(&value["seq"])
            );
            output.done(&value, &message);
        }
    }
    Ok(())
}
