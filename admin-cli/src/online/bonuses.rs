//! `croupier-admin bonuses`: bonus templates (list, show, create), a
//! player's bonuses (list in queue order, grant from a template, forfeit)
//! and the free rounds granted through the aggregator (list, cancel).

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::output::{Output, cells, fields, text};
use super::{Client, Failure};

/// The bonuses commands.
#[derive(Subcommand)]
pub enum Command {
    /// Bonus templates: list, show, create (or replace).
    #[command(subcommand)]
    Templates(TemplatesCommand),
    /// A player's bonuses: the active one, then the queue in order.
    List {
        /// The player id.
        player: u64,
        /// The wallet's currency (default: the player's).
        #[arg(long)]
        currency: Option<String>,
    },
    /// Grant a bonus from a template (queued behind the active one).
    Grant {
        /// The player id.
        player: u64,
        /// The template's code.
        #[arg(long)]
        template: String,
        /// Deposit match: the deposit matched ("50.00").
        #[arg(long)]
        deposit: Option<String>,
        /// Cashback: the net losses over the template's period.
        #[arg(long)]
        net_losses: Option<String>,
        /// Free spins: the free rounds' winnings.
        #[arg(long)]
        winnings: Option<String>,
    },
    /// Free rounds granted through the aggregator's free-rounds call.
    #[command(subcommand, name = "free-rounds")]
    FreeRounds(FreeRoundsCommand),
    /// Forfeit the active bonus, or a queued one by serial.
    Forfeit {
        /// The player id.
        player: u64,
        /// The bonus's serial (default: the active one).
        #[arg(long)]
        serial: Option<u32>,
        /// The wallet's currency (default: the player's).
        #[arg(long)]
        currency: Option<String>,
    },
}

/// The free-rounds commands.
#[derive(Subcommand)]
pub enum FreeRoundsCommand {
    /// A player's awards, newest first, with their state.
    List {
        /// The player id.
        player: u64,
    },
    /// Cancel an award's unplayed rounds (the aggregator is asked).
    Cancel {
        /// The player id.
        player: u64,
        /// The award's bonus code.
        bonus_code: String,
    },
}

const FREE_ROUNDS_COLUMNS: &[&str] = &[
    "bonus_code",
    "template",
    "state",
    "rounds",
    "bet_value",
    "currency",
    "expires_at_ms",
    "attempts",
    "winnings",
];

/// The template commands.
#[derive(Subcommand)]
pub enum TemplatesCommand {
    /// List the templates.
    List,
    /// Show one template.
    Show {
        /// The template's code.
        code: String,
    },
    /// Create a template, or replace the one of this code.
    Create(Box<CreateArgs>),
}

/// A template's code and fields.
#[derive(Args)]
pub struct CreateArgs {
    /// The template's code.
    code: String,
    /// Display name.
    #[arg(long)]
    name: String,
    /// deposit_match, no_deposit, cashback or free_spins.
    #[arg(long)]
    kind: String,
    /// The currency (ISO 4217).
    #[arg(long)]
    currency: String,
    /// Deposit match or cashback: the percent.
    #[arg(long)]
    percent: Option<u16>,
    /// Deposit match: the cap.
    #[arg(long)]
    cap: Option<String>,
    /// Deposit match: the smallest deposit matched.
    #[arg(long)]
    min_deposit: Option<String>,
    /// No-deposit: the amount.
    #[arg(long)]
    amount: Option<String>,
    /// Cashback: the period, days.
    #[arg(long)]
    period_days: Option<u16>,
    /// Free spins: how many rounds.
    #[arg(long)]
    count: Option<u32>,
    /// Free spins: each round's stake.
    #[arg(long)]
    bet_value: Option<String>,
    /// Free spins: a game; repeat for each.
    #[arg(long = "game")]
    games: Vec<String>,
    /// Wagering multiple of the bonus.
    #[arg(long)]
    wagering_x: u32,
    /// Days until an unconverted bonus expires.
    #[arg(long)]
    expiry_days: u32,
    /// A game's contribution as `GAME:PCT`; repeat for each.
    #[arg(long = "contribution")]
    contributions: Vec<String>,
    /// Contribution of other games, percent.
    #[arg(long)]
    default_contribution_pct: Option<u8>,
    /// The largest stake while the bonus is active.
    #[arg(long)]
    max_bet: Option<String>,
    /// Most cash a conversion yields.
    #[arg(long)]
    conversion_cap: Option<String>,
    /// The code players claim it with.
    #[arg(long)]
    claim_code: Option<String>,
    /// Granted by a trigger (deposit match on deposit, no-deposit at registration).
    #[arg(long)]
    automatic: bool,
    /// Spans products (refused where the jurisdiction bans mixed-product promotions).
    #[arg(long)]
    mixed_product: bool,
    /// Created disabled.
    #[arg(long)]
    disabled: bool,
}

const TEMPLATE_COLUMNS: &[&str] = &[
    "code",
    "name",
    "kind",
    "currency",
    "wagering_x",
    "expiry_days",
    "claim_code",
    "enabled",
];
const TEMPLATE_FIELDS: &[&str] = &[
    "code",
    "name",
    "kind",
    "currency",
    "percent",
    "cap",
    "min_deposit",
    "amount",
    "period_days",
    "count",
    "bet_value",
    "games",
    "wagering_x",
    "contributions",
    "default_contribution_pct",
    "max_bet",
    "expiry_days",
    "conversion_cap",
    "automatic",
    "claim_code",
    "mixed_product",
    "enabled",
];
const BONUS_COLUMNS: &[&str] = &[
    "serial",
    "state",
    "amount",
    "wagering_required",
    "wagered",
    "max_bet",
    "expires_at_ms",
];

/// Runs a bonuses command.
pub fn run(client: &Client, command: Command, output: Output) -> Result<(), Failure> {
    match command {
        Command::Templates(command) => templates(client, command, output)?,
        Command::FreeRounds(FreeRoundsCommand::List { player }) => {
            let value = client.get(&format!("/operator/v1/players/{player}/free-rounds"))?;
            output.table(&value, |v| {
                let mut table = super::output::table(FREE_ROUNDS_COLUMNS);
                for award in v["free_rounds"].as_array().into_iter().flatten() {
                    table.add_row(cells(award, FREE_ROUNDS_COLUMNS));
                }
                table
            });
        }
        Command::FreeRounds(FreeRoundsCommand::Cancel { player, bonus_code }) => {
            let path = format!(
                "/operator/v1/players/{player}/free-rounds/{}/cancel",
                super::client::query_value(&bonus_code)
            );
            let value = client.send_json(Method::POST, &path, None)?;
            let message = format!(
                "free rounds {} of player {player}: {}",
                text(&value["bonus_code"]),
                text(&value["state"])
            );
            output.done(&value, &message);
        }
        Command::List { player, currency } => {
            let mut path = format!("/operator/v1/players/{player}/bonuses");
            if let Some(currency) = currency {
                path.push_str(&format!("?currency={}", super::client::query_value(&currency)));
            }
            let value = client.get(&path)?;
            output.table(&value, |v| {
                let mut table = super::output::table(BONUS_COLUMNS);
                for bonus in v["bonuses"].as_array().into_iter().flatten() {
                    table.add_row(cells(bonus, BONUS_COLUMNS));
                }
                table
            });
        }
        Command::Grant {
            player,
            template,
            deposit,
            net_losses,
            winnings,
        } => {
            let body =
                json!({"template": template, "deposit": deposit, "net_losses": net_losses, "winnings": winnings});
            let path = format!("/operator/v1/players/{player}/bonuses");
            let value = client.send_json(Method::POST, &path, Some(&body))?;
            let message = if value.get("bonus_code").is_some() {
                format!(
                    "awarded free rounds {} ({} at {} {}) to player {player}: {}",
                    text(&value["bonus_code"]),
                    text(&value["rounds"]),
                    text(&value["bet_value"]),
                    text(&value["currency"]),
                    text(&value["state"])
                )
            } else {
                format!(
                    "granted bonus {} ({} {}) to player {player}: {}",
                    text(&value["serial"]),
                    text(&value["amount"]),
                    text(&value["currency"]),
                    text(&value["state"])
                )
            };
            output.done(&value, &message);
        }
        Command::Forfeit {
            player,
            serial,
            currency,
        } => {
            let body = json!({"serial": serial, "currency": currency});
            let path = format!("/operator/v1/players/{player}/bonuses/forfeit");
            let value = client.send_json(Method::POST, &path, Some(&body))?;
            let which = serial.map_or("the active bonus".to_owned(), |s| format!("bonus {s}"));
            let message = format!(
                "forfeited {which} of player {player}; bonus money now {} {}",
                text(&value["bonus"]),
                text(&value["currency"])
            );
            output.done(&value, &message);
        }
    }
    Ok(())
}

fn templates(client: &Client, command: TemplatesCommand, output: Output) -> Result<(), Failure> {
    match command {
        TemplatesCommand::List => {
            let value = client.get("/operator/v1/bonus-templates")?;
            output.table(&value, |v| {
                let mut table = super::output::table(TEMPLATE_COLUMNS);
                for template in v["templates"].as_array().into_iter().flatten() {
                    table.add_row(cells(template, TEMPLATE_COLUMNS));
                }
                table
            });
        }
        TemplatesCommand::Show { code } => {
            let value = client.get(&template_path(&code))?;
            output.table(&value, |v| fields(v, TEMPLATE_FIELDS));
        }
        TemplatesCommand::Create(args) => {
            let (code, body) = template_body(*args)?;
            let value = client.send_json(Method::PUT, &template_path(&code), Some(&body))?;
            let message = format!("set bonus template {} ({})", text(&value["code"]), text(&value["kind"]));
            output.done(&value, &message);
        }
    }
    Ok(())
}

/// The API body of a `templates create`, without the fields not given.
fn template_body(args: CreateArgs) -> Result<(String, Value), Failure> {
    let CreateArgs {
        code,
        name,
        kind,
        currency,
        percent,
        cap,
        min_deposit,
        amount,
        period_days,
        count,
        bet_value,
        games,
        wagering_x,
        expiry_days,
        contributions,
        default_contribution_pct,
        max_bet,
        conversion_cap,
        claim_code,
        automatic,
        mixed_product,
        disabled,
    } = args;
    let contributions = contributions
        .iter()
        .map(|c| {
            let parsed = c
                .split_once(':')
                .and_then(|(game, pct)| Some((game, pct.parse::<u8>().ok()?)));
            parsed
                .map(|(game, pct)| json!({"game": game, "pct": pct}))
                .ok_or_else(|| Failure::Usage(format!("--contribution {c:?}: expected GAME:PCT")))
        })
        .collect::<Result<Vec<Value>, Failure>>()?;
    let mut body = Map::new();
    let optional = [
        ("percent", json!(percent)),
        ("cap", json!(cap)),
        ("min_deposit", json!(min_deposit)),
        ("amount", json!(amount)),
        ("period_days", json!(period_days)),
        ("count", json!(count)),
        ("bet_value", json!(bet_value)),
        ("default_contribution_pct", json!(default_contribution_pct)),
        ("max_bet", json!(max_bet)),
        ("conversion_cap", json!(conversion_cap)),
        ("claim_code", json!(claim_code)),
    ];
    for (field, value) in optional {
        if !value.is_null() {
            body.insert(field.into(), value);
        }
    }
    if !games.is_empty() {
        body.insert("games".into(), json!(games));
    }
    body.insert("name".into(), json!(name));
    body.insert("kind".into(), json!(kind));
    body.insert("currency".into(), json!(currency));
    body.insert("wagering_x".into(), json!(wagering_x));
    body.insert("expiry_days".into(), json!(expiry_days));
    body.insert("contributions".into(), json!(contributions));
    body.insert("automatic".into(), json!(automatic));
    body.insert("mixed_product".into(), json!(mixed_product));
    body.insert("enabled".into(), json!(!disabled));
    Ok((code, Value::Object(body)))
}

fn template_path(code: &str) -> String {
    format!("/operator/v1/bonus-templates/{}", super::client::query_value(code))
}
