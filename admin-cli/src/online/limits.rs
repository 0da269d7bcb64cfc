//! `croupier-admin limits`, `self-exclude` and `time-out`: the responsible
//! gambling changes the operator API takes.

use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use reqwest::Method;
use serde_json::{Value, json};

use super::output::Output;
use super::{Client, Failure};

/// A limit to set or remove.
#[derive(Args)]
pub struct LimitArgs {
    /// Player id.
    player: u64,
    /// The wallet's currency, e.g. EUR.
    #[arg(long)]
    currency: String,
    /// deposit, loss or wager.
    #[arg(long)]
    metric: String,
    /// day, week or month.
    #[arg(long)]
    period: String,
    /// The new maximum, e.g. 100.00 (a decrease is in force at once, an increase after the cooling-off).
    #[arg(long, conflicts_with = "remove", required_unless_present = "remove")]
    amount: Option<String>,
    /// Remove the limit (after the cooling-off).
    #[arg(long)]
    remove: bool,
}

/// Until when.
#[derive(Args)]
pub struct UntilArgs {
    /// Player id.
    player: u64,
    /// The end, ms since the epoch.
    #[arg(long, conflicts_with_all = ["days", "hours"], required_unless_present_any = ["days", "hours"])]
    until_ms: Option<u64>,
    /// The end, this many days from now.
    #[arg(long, conflicts_with = "hours")]
    days: Option<u64>,
    /// The end, this many hours from now.
    #[arg(long)]
    hours: Option<u64>,
}

/// Sets or removes a limit.
pub fn set_limit(client: &Client, args: LimitArgs, output: Output) -> Result<(), Failure> {
    let body = json!({
        "currency": args.currency,
        "metric": args.metric,
        "period": args.period,
        "amount": args.amount,
    });
    let player = args.player;
    let value = client.send_json(
        Method::PUT,
        &format!("/operator/v1/players/{player}/limits"),
        Some(&body),
    )?;
    let what = format!("{} {} limit of player {player}", args.period, args.metric);
    output.done(&value, &effect(&value, &what));
    Ok(())
}

/// Records a self-exclusion or a time-out (`route`: `self-exclusion` or `time-out`).
pub fn until(client: &Client, route: &str, args: UntilArgs, output: Output) -> Result<(), Failure> {
    let hour_ms = 3_600_000_u64;
    let until_ms = match (args.until_ms, args.days, args.hours) {
        (Some(until_ms), _, _) => until_ms,
        (None, Some(days), _) => now_ms().saturating_add(days.saturating_mul(24 * hour_ms)),
        (None, None, Some(hours)) => now_ms().saturating_add(hours.saturating_mul(hour_ms)),
        (None, None, None) => return Err(Failure::Usage("give --until-ms, --days or --hours".into())),
    };
    let player = args.player;
    let body = json!({"until_ms": until_ms});
    let value = client.send_json(
        Method::POST,
        &format!("/operator/v1/players/{player}/{route}"),
        Some(&body),
    )?;
    output.done(
        &value,
        &effect(&value, &format!("{route} of player {player} until {until_ms} ms")),
    );
    Ok(())
}

fn effect(value: &Value, what: &str) -> String {
    match value["effective_at_ms"].as_u64() {
        Some(at) => format!("{what}: scheduled, in force at {at} ms"),
        None => format!("{what}: in force"),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
