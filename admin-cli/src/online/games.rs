//! `croupier-admin games`: the game catalogue (list with filters, show,
//! import a provider's list from a JSON or CSV file, enable, disable), the
//! games' live performance and the RTP alerts (current, or their history),
//! and `croupier-admin providers performance`.

use std::path::PathBuf;

use clap::Subcommand;
use reqwest::Method;

use super::client::query;
use super::output::{Output, cells, fields, text};
use super::{Client, Failure};

/// The games commands.
#[derive(Subcommand)]
pub enum Command {
    /// List games, by aggregator and code.
    List {
        /// Only this provider's (its code).
        #[arg(long)]
        provider: Option<String>,
        /// Only of this type: slot, table, live, crash, other.
        #[arg(long = "type")]
        kind: Option<String>,
        /// Only enabled (true) or disabled (false) games.
        #[arg(long)]
        enabled: Option<bool>,
        /// Only games allowed in this jurisdiction (two letters).
        #[arg(long)]
        jurisdiction: Option<String>,
    },
    /// Show one game.
    Show {
        /// The aggregator's id or name.
        aggregator: String,
        /// The game's code at that aggregator.
        code: String,
    },
    /// Import a provider's game list: a JSON array (`.json`) or CSV with a
    /// header row (any other name); all or nothing.
    Import {
        /// The file.
        file: PathBuf,
    },
    /// Enable a game: it takes bets again.
    Enable {
        /// The aggregator's id or name.
        aggregator: String,
        /// The game's code at that aggregator.
        code: String,
    },
    /// Disable a game: its bets are refused, its wins still land.
    Disable {
        /// The aggregator's id or name.
        aggregator: String,
        /// The game's code at that aggregator.
        code: String,
    },
    /// Live performance: every game with activity in the period, or one
    /// game with its hours (`--game`).
    Performance {
        /// 1h, 24h (default), 7d, 30d or all.
        #[arg(long)]
        period: Option<String>,
        /// One game, as AGGREGATOR/CODE (the aggregator's id or name).
        #[arg(long)]
        game: Option<String>,
        /// Only this provider's games (its code).
        #[arg(long, conflicts_with = "game")]
        provider: Option<String>,
    },
    /// RTP alerts: the games in alert over the period, or (`--history`) the
    /// alerts raised and cleared, newest first.
    Alerts {
        /// 1h, 24h (default), 7d, 30d or all (not with --history).
        #[arg(long, conflicts_with = "history")]
        period: Option<String>,
        /// The history of alerts raised and cleared.
        #[arg(long)]
        history: bool,
        /// With --history: only this game code.
        #[arg(long, requires = "history")]
        game: Option<String>,
        /// With --history: from this time on, ms since the epoch.
        #[arg(long, requires = "history")]
        from_ms: Option<u64>,
        /// With --history: before this time, ms since the epoch.
        #[arg(long, requires = "history")]
        to_ms: Option<u64>,
        /// With --history: most rows, 1 to 1000 (default 100).
        #[arg(long, requires = "history")]
        limit: Option<usize>,
    },
}

/// `croupier-admin providers` subcommands (without one it lists the
/// payment providers).
#[derive(Subcommand)]
pub enum ProvidersCommand {
    /// The game providers' live performance, with their aggregators' wallet calls.
    Performance {
        /// 1h, 24h (default), 7d, 30d or all.
        #[arg(long)]
        period: Option<String>,
    },
}

const PERFORMANCE_COLUMNS: &[&str] = &[
    "aggregator_name",
    "code",
    "provider",
    "rounds",
    "bets",
    "refused",
    "unique_players",
    "currency",
    "turnover",
    "ggr",
    "rtp_actual",
    "rtp_configured",
    "z",
    "alert",
];
const ALERT_COLUMNS: &[&str] = &[
    "aggregator",
    "code",
    "provider",
    "currency",
    "bets",
    "rtp_actual",
    "rtp_configured",
    "z",
    "direction",
];
const HISTORY_COLUMNS: &[&str] = &[
    "id",
    "kind",
    "time_ms",
    "aggregator",
    "code",
    "currency",
    "bets",
    "turnover",
    "rtp_actual",
    "rtp_configured",
    "z",
];
const PROVIDER_COLUMNS: &[&str] = &[
    "provider",
    "games",
    "rounds",
    "bets",
    "refused",
    "unique_players",
    "currency",
    "turnover",
    "ggr",
    "rtp_actual",
    "alerts",
];
const HOUR_COLUMNS: &[&str] = &[
    "hour_ms", "currency", "rounds", "bets", "refused", "turnover", "prizes", "ggr",
];

const COLUMNS: &[&str] = &[
    "aggregator_name",
    "code",
    "provider",
    "name",
    "type",
    "rtp_default_bp",
    "enabled",
];
const FIELDS: &[&str] = &[
    "aggregator",
    "aggregator_name",
    "code",
    "provider",
    "name",
    "type",
    "volatility",
    "rtp_variants_bp",
    "rtp_default_bp",
    "rtp_by_jurisdiction",
    "limits",
    "jurisdictions",
    "enabled",
];

/// Runs a games command.
pub fn run(client: &Client, command: Command, output: Output) -> Result<(), Failure> {
    match command {
        Command::List {
            provider,
            kind,
            enabled,
            jurisdiction,
        } => {
            let path = format!(
                "/operator/v1/games{}",
                query(&[
                    ("provider", provider),
                    ("type", kind),
                    ("enabled", enabled.map(|e| e.to_string())),
                    ("jurisdiction", jurisdiction),
                ])
            );
            let value = client.get(&path)?;
            output.table(&value, |v| {
                let mut table = super::output::table(COLUMNS);
                for game in v["games"].as_array().into_iter().flatten() {
                    table.add_row(cells(game, COLUMNS));
                }
                table
            });
        }
        Command::Show { aggregator, code } => {
            let value = client.get(&game_path(&aggregator, &code))?;
            output.table(&value, |v| fields(v, FIELDS));
        }
        Command::Import { file } => {
            let bytes = std::fs::read(&file)
                .map_err(|error| Failure::Usage(format!("cannot read {}: {error}", file.display())))?;
            let json = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
            let content_type = if json { "application/json" } else { "text/csv" };
            let value = client.send_bytes(Method::POST, "/operator/v1/games/import", content_type, bytes)?;
            let message = format!(
                "imported {}: {} created, {} updated, {} unchanged",
                file.display(),
                text(&value["created"]),
                text(&value["updated"]),
                text(&value["unchanged"])
            );
            output.done(&value, &message);
        }
        Command::Enable { aggregator, code } => set_enabled(client, &aggregator, &code, "enable", output)?,
        Command::Disable { aggregator, code } => set_enabled(client, &aggregator, &code, "disable", output)?,
        Command::Performance { period, game, provider } => performance(client, period, game, provider, output)?,
        Command::Alerts {
            period,
            history,
            game,
            from_ms,
            to_ms,
            limit,
        } => {
            if history {
                let path = format!(
                    "/operator/v1/games/performance/alerts/history{}",
                    query(&[
                        ("game", game),
                        ("from_ms", from_ms.map(|v| v.to_string())),
                        ("to_ms", to_ms.map(|v| v.to_string())),
                        ("limit", limit.map(|v| v.to_string())),
                    ])
                );
                let value = client.get(&path)?;
                output.table(&value, |v| rows(&v["events"], HISTORY_COLUMNS));
            } else {
                let path = format!("/operator/v1/games/performance/alerts{}", query(&[("period", period)]));
                let value = client.get(&path)?;
                output.table(&value, |v| rows(&v["alerts"], ALERT_COLUMNS));
            }
        }
    }
    Ok(())
}

/// Runs a providers subcommand.
pub fn providers(client: &Client, command: ProvidersCommand, output: Output) -> Result<(), Failure> {
    match command {
        ProvidersCommand::Performance { period } => {
            let path = format!("/operator/v1/providers/performance{}", query(&[("period", period)]));
            let value = client.get(&path)?;
            output.table(&value, |v| {
                let mut table = super::output::table(PROVIDER_COLUMNS);
                for provider in v["providers"].as_array().into_iter().flatten() {
                    add_per_currency(&mut table, provider, PROVIDER_COLUMNS);
                }
                table
            });
        }
    }
    Ok(())
}

fn performance(
    client: &Client,
    period: Option<String>,
    game: Option<String>,
    provider: Option<String>,
    output: Output,
) -> Result<(), Failure> {
    let Some(game) = game else {
        let path = format!(
            "/operator/v1/games/performance{}",
            query(&[("provider", provider), ("period", period)])
        );
        let value = client.get(&path)?;
        output.table(&value, |v| {
            let mut table = super::output::table(PERFORMANCE_COLUMNS);
            for game in v["games"].as_array().into_iter().flatten() {
                add_per_currency(&mut table, game, PERFORMANCE_COLUMNS);
            }
            table
        });
        return Ok(());
    };
    let Some((aggregator, code)) = game.split_once('/').filter(|(a, c)| !a.is_empty() && !c.is_empty()) else {
        return Err(Failure::Usage(format!(
            "--game {game}: expected AGGREGATOR/CODE (the aggregator's id or name, the game's code)"
        )));
    };
    let path = format!(
        "{}/performance{}",
        game_path(aggregator, code),
        query(&[("period", period)])
    );
    let value = client.get(&path)?;
    output.table(&value, |v| {
        let mut table = super::output::table(PERFORMANCE_COLUMNS);
        add_per_currency(&mut table, &v["game"], PERFORMANCE_COLUMNS);
        table
    });
    if !output.json {
        println!("{}", rows(&value["hours"], HOUR_COLUMNS));
    }
    Ok(())
}

/// One table row per currency of `item` (its own fields, then the
/// currency's), or one row without money figures if it has none.
fn add_per_currency(table: &mut comfy_table::Table, item: &serde_json::Value, columns: &[&str]) {
    let currencies: Vec<&serde_json::Value> = item["currencies"].as_array().into_iter().flatten().collect();
    if currencies.is_empty() {
        table.add_row(cells(item, columns));
    }
    for currency in currencies {
        let row = columns
            .iter()
            .map(|c| match currency.get(c).or_else(|| item.get(c)) {
                Some(value) => text(value),
                None => String::new(),
            })
            .collect::<Vec<_>>();
        table.add_row(row);
    }
}

/// A table of the objects in `list`.
fn rows(list: &serde_json::Value, columns: &[&str]) -> comfy_table::Table {
    let mut table = super::output::table(columns);
    for item in list.as_array().into_iter().flatten() {
        table.add_row(cells(item, columns));
    }
    table
}

fn game_path(aggregator: &str, code: &str) -> String {
    format!(
        "/operator/v1/games/{}/{}",
        super::client::query_value(aggregator),
        super::client::query_value(code)
    )
}

fn set_enabled(client: &Client, aggregator: &str, code: &str, verb: &str, output: Output) -> Result<(), Failure> {
    let path = format!("{}/{verb}", game_path(aggregator, code));
    let value = client.send_json(Method::POST, &path, None)?;
    let state = if value["enabled"] == serde_json::Value::Bool(true) {
        "enabled"
    } else {
        "disabled"
    };
    output.done(&value, &format!("game {aggregator}/{code}: {state}"));
    Ok(())
}
