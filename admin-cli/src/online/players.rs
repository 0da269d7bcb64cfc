//! `croupier-admin players`: register a player with a profile, show one,
//! set the account status, erase (crypto-shredding) — the PAM routes.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::output::{Output, fields};
use super::{Client, Failure};

/// The players commands.
#[derive(Subcommand)]
pub enum Command {
    /// Register a player with their profile (sealed by the server).
    Register(Box<RegisterArgs>),
    /// Show a player's account and profile.
    Show {
        /// Player id.
        player: u64,
    },
    /// Set a player's account status, with a reason.
    Status {
        /// Player id.
        player: u64,
        /// active, suspended or closed.
        status: String,
        /// Why (kept in the journal and the audit trail).
        #[arg(long)]
        reason: String,
    },
    /// Erase a player's personal data for good (their data key is destroyed).
    Erase {
        /// Player id.
        player: u64,
        /// Why, such as the data-subject request's reference.
        #[arg(long)]
        reason: String,
    },
}

/// A registration.
#[derive(Args)]
pub struct RegisterArgs {
    /// Base currency, e.g. EUR.
    #[arg(long)]
    currency: String,
    /// Licensing jurisdiction, e.g. MT or GB.
    #[arg(long)]
    jurisdiction: String,
    /// Full name.
    #[arg(long)]
    name: String,
    /// Email address.
    #[arg(long)]
    email: String,
    /// Phone number, international form (+356…).
    #[arg(long)]
    phone: String,
    /// Date of birth, YYYY-MM-DD.
    #[arg(long)]
    date_of_birth: String,
    /// Street address line.
    #[arg(long)]
    address: String,
    /// City.
    #[arg(long)]
    city: String,
    /// Postcode.
    #[arg(long)]
    postcode: String,
    /// Country of residence, two letters.
    #[arg(long)]
    country: String,
    /// Language, e.g. en.
    #[arg(long)]
    language: String,
    /// Marketing consents: any of email, sms, phone, post, push (comma-separated).
    #[arg(long, value_delimiter = ',')]
    marketing: Vec<String>,
    /// Affiliate tracking code.
    #[arg(long)]
    affiliate_code: Option<String>,
}

/// Runs a players command.
pub fn run(client: &Client, command: Command, output: Output) -> Result<(), Failure> {
    match command {
        Command::Register(args) => register(client, *args, output),
        Command::Show { player } => {
            let value = client.get(&format!("/operator/v1/players/{player}/profile"))?;
            output.table(&value, |v| {
                let mut table = fields(
                    v,
                    &[
                        "player",
                        "jurisdiction",
                        "status",
                        "status_reason",
                        "status_by",
                        "erased",
                    ],
                );
                if let Some(profile) = v.get("profile").filter(|p| p.is_object()) {
                    for name in ["name", "email", "phone", "date_of_birth", "country", "language"] {
                        table.add_row(vec![name.to_owned(), super::output::text(&profile[name])]);
                    }
                    let address = &profile["address"];
                    table.add_row(vec![
                        "address".to_owned(),
                        format!(
                            "{}, {} {}",
                            super::output::text(&address["line"]),
                            super::output::text(&address["postcode"]),
                            super::output::text(&address["city"])
                        ),
                    ]);
                }
                table.add_row(vec!["as_of_seq".to_owned(), super::output::text(&v["as_of_seq"])]);
                table
            });
            Ok(())
        }
        Command::Status { player, status, reason } => {
            let body = json!({"status": status, "reason": reason});
            let value = client.send_json(
                Method::PUT,
                &format!("/operator/v1/players/{player}/status"),
                Some(&body),
            )?;
            output.done(&value, &format!("player {player} is {status}"));
            Ok(())
        }
        Command::Erase { player, reason } => {
            let body = json!({"reason": reason});
            let value = client.send_json(
                Method::POST,
                &format!("/operator/v1/players/{player}/erasure"),
                Some(&body),
            )?;
            output.done(&value, &format!("player {player} erased"));
            Ok(())
        }
    }
}

fn register(client: &Client, args: RegisterArgs, output: Output) -> Result<(), Failure> {
    let mut marketing = json!({"email": false, "sms": false, "phone": false, "post": false, "push": false});
    for channel in &args.marketing {
        match marketing.get_mut(channel.as_str()) {
            Some(consent) => *consent = Value::Bool(true),
            None => {
                return Err(Failure::Usage(format!(
                    "--marketing {channel:?}: the channels are email, sms, phone, post and push"
                )));
            }
        }
    }
    let mut profile = json!({
        "name": args.name,
        "email": args.email,
        "phone": args.phone,
        "date_of_birth": args.date_of_birth,
        "address": {"line": args.address, "city": args.city, "postcode": args.postcode},
        "country": args.country,
        "language": args.language,
        "marketing": marketing,
    });
    if let Some(code) = args.affiliate_code {
        profile["affiliate_code"] = Value::String(code);
    }
    let body = json!({"currency": args.currency, "jurisdiction": args.jurisdiction, "profile": profile});
    let value = client.send_json(Method::POST, "/operator/v1/registrations", Some(&body))?;
    let player = super::output::text(&value["player"]);
    output.done(&value, &format!("registered player {player}"));
    Ok(())
}
