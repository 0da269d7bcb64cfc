//! Back-office probe: what an operator's browser sees of a server under
//! load (issue #15's figures). It signs in to the back office as a browser
//! does (an admin operator it creates, password and TOTP), then for
//! `--seconds`:
//!
//! - **Dashboard freshness** (commit → visible): it holds the dashboard's
//!   server-sent events open (`/backoffice/dashboard/events`) and, every
//!   1–2 s, deposits 1.00 into a player of its own in a currency the load
//!   does not use. The clock starts when the deposit is acknowledged
//!   (journaled and flushed) and stops when an event's `deposits_<CUR>`
//!   cell first shows it. That is what the open page renders, so it
//!   includes the read model's lag, the event interval and the figures'
//!   query.
//! - **Page latency**: one browser-like client fetches the main pages in
//!   turn (dashboard, player search, a player 360, the withdrawal, KYC and
//!   AML queues, games, bonuses, reports, operators, audit), each with the
//!   session cookie, and keeps a histogram per page. A page answered `503`
//!   (its read model further behind than a read waits) is counted as
//!   unavailable, its wait kept in the histogram, and the probe goes on, as
//!   an operator would reload; any other failure stops it.
//!
//! It prints a table and writes `--out` (JSON) when given. Run it beside
//! `croupier-loadtest` (`loadtest/scripts/backoffice-figures.sh` does both).
//!
//! ```text
//! cargo run --release -p croupier-benches --bin backoffice-probe -- \
//!     --url http://127.0.0.1:18080 --token-file DATA/operator-token [--seconds 30] [--out FILE]
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use hdrhistogram::Histogram;
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::{Client, Method, StatusCode, redirect};
use serde_json::{Value, json};

/// The probe player's currency: one the load generator's players never use,
/// so its deposits total moves only with the probe's own deposits.
const PROBE_CURRENCY: &str = "GBP";
const PASSWORD: &str = "probe-password-1234";

#[derive(Parser)]
#[command(about = "Dashboard freshness and back-office page latency of a running server")]
struct Args {
    /// The server's base URL (loopback).
    #[arg(long, default_value = "http://127.0.0.1:18080")]
    url: String,
    /// The admin operator token file the server wrote.
    #[arg(long)]
    token_file: PathBuf,
    /// Seconds to measure.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Pause between two page fetches, ms (one operator clicking fast).
    #[arg(long, default_value_t = 50)]
    page_pause_ms: u64,
    /// Write the figures as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let token = std::fs::read_to_string(&args.token_file)
        .with_context(|| format!("reading {}", args.token_file.display()))?
        .trim()
        .to_owned();
    let http = Client::builder()
        .redirect(redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?;
    let api = Api {
        http: http.clone(),
        base: args.url.trim_end_matches('/').to_owned(),
        token,
    };
    let session = api.sign_in().await?;
    let player = api.probe_player().await?;
    let deadline = Instant::now() + Duration::from_secs(args.seconds);

    let pages = tokio::spawn(pages(
        api.clone(),
        session.clone(),
        player,
        deadline,
        args.page_pause_ms,
    ));
    let freshness = freshness(&api, &session, player, deadline).await?;
    let (pages, unavailable) = pages.await??;

    println!("dashboard freshness (deposit acknowledged → shown by the dashboard's event stream):");
    print_row("freshness", &freshness);
    println!(
        "page latency (one signed-in client, {} ms between fetches):",
        args.page_pause_ms
    );
    let mut all = Histogram::<u64>::new(3)?;
    for (name, histogram) in &pages {
        print_row(name, histogram);
        all.add(histogram)?;
    }
    print_row("all pages", &all);
    // A page has an entry only once it was answered 503.
    if !unavailable.is_empty() {
        let list: Vec<String> = unavailable.iter().map(|(n, count)| format!("{n} {count}")).collect();
        println!("  unavailable (503, read model behind): {}", list.join(", "));
    }
    if let Some(out) = &args.out {
        let mut figures = serde_json::Map::new();
        figures.insert("freshness".into(), summary(&freshness));
        figures.insert("all_pages".into(), summary(&all));
        let per_page: serde_json::Map<String, Value> = pages.iter().map(|(n, h)| (n.clone(), summary(h))).collect();
        figures.insert("pages".into(), Value::Object(per_page));
        figures.insert("unavailable".into(), json!(unavailable));
        std::fs::write(out, serde_json::to_vec_pretty(&Value::Object(figures))?)?;
    }
    Ok(())
}

fn print_row(name: &str, histogram: &Histogram<u64>) {
    let ms = |us: u64| us as f64 / 1_000.0;
    println!(
        "  {name:<22} n={:>5}  p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms",
        histogram.len(),
        ms(histogram.value_at_quantile(0.5)),
        ms(histogram.value_at_quantile(0.99)),
        ms(histogram.max()),
    );
}

fn summary(histogram: &Histogram<u64>) -> Value {
    let ms = |us: u64| us as f64 / 1_000.0;
    json!({
        "n": histogram.len(),
        "p50_ms": ms(histogram.value_at_quantile(0.5)),
        "p99_ms": ms(histogram.value_at_quantile(0.99)),
        "max_ms": ms(histogram.max()),
    })
}

#[derive(Clone)]
struct Api {
    http: Client,
    base: String,
    token: String,
}

/// A signed-in back-office session: the cookie header a browser sends.
#[derive(Clone)]
struct Session {
    cookie: String,
}

impl Api {
    async fn call(&self, method: Method, path: &str, body: Value) -> Result<Value> {
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .with_context(|| format!("calling {path}"))?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{path} answered {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Creates an admin operator with a password and TOTP and signs in
    /// through the login form, as a browser does.
    async fn sign_in(&self) -> Result<Session> {
        let name = format!("probe{}", std::process::id());
        let made = self
            .call(
                Method::POST,
                "/operator/v1/operators",
                json!({"name": name, "role": "admin"}),
            )
            .await?;
        let id = made["operator"]
            .as_u64()
            .ok_or_else(|| anyhow!("no operator id in {made}"))?;
        let own = Api {
            token: made["token"]
                .as_str()
                .ok_or_else(|| anyhow!("no token in {made}"))?
                .to_owned(),
            ..self.clone()
        };
        let enrolled = own
            .call(
                Method::POST,
                &format!("/operator/v1/operators/{id}/credentials"),
                json!({"password": PASSWORD}),
            )
            .await?;
        let uri = enrolled["otpauth_uri"]
            .as_str()
            .ok_or_else(|| anyhow!("no otpauth_uri in {enrolled}"))?;
        let totp = totp_rs::TOTP::from_url(uri).map_err(|e| anyhow!("otpauth URI: {e}"))?;

        let form = self.http.get(format!("{}/backoffice/login", self.base)).send().await?;
        let nonce = cookie_of(form.headers(), "croupier_bo_login").ok_or_else(|| anyhow!("no login cookie"))?;
        let code = totp.generate_current().map_err(|e| anyhow!("TOTP: {e}"))?;
        let body = format!("csrf={nonce}&username={name}&password={PASSWORD}&totp={code}");
        let answer = self
            .http
            .post(format!("{}/backoffice/login", self.base))
            .header(COOKIE, format!("croupier_bo_login={nonce}"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await?;
        if answer.status() != StatusCode::SEE_OTHER {
            bail!("the login answered {}: {}", answer.status(), answer.text().await?);
        }
        let session = cookie_of(answer.headers(), "croupier_bo").ok_or_else(|| anyhow!("no session cookie"))?;
        Ok(Session {
            cookie: format!("croupier_bo={session}"),
        })
    }

    /// A player of the probe's own, in [`PROBE_CURRENCY`].
    async fn probe_player(&self) -> Result<u64> {
        let made = self
            .call(
                Method::POST,
                "/operator/v1/players",
                json!({"currency": PROBE_CURRENCY, "jurisdiction": "MT"}),
            )
            .await?;
        made["player"].as_u64().ok_or_else(|| anyhow!("no player id in {made}"))
    }
}

fn cookie_of(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers.get_all(SET_COOKIE).iter().find_map(|value| {
        let text = value.to_str().ok()?;
        let pair = text.split(';').next()?;
        let (key, value) = pair.split_once('=')?;
        (key.trim() == name && !value.is_empty()).then(|| value.to_owned())
    })
}

/// The latest probe-currency deposits total the event stream has shown,
/// minor units, and when it first showed each value.
type Shown = Arc<Mutex<(i64, Instant)>>;

/// Deposits 1.00 every 1–2 s and times how long the dashboard's events
/// take to show each one.
async fn freshness(api: &Api, session: &Session, player: u64, deadline: Instant) -> Result<Histogram<u64>> {
    let shown: Shown = Arc::new(Mutex::new((0, Instant::now())));
    let mut events = api
        .http
        .get(format!("{}/backoffice/dashboard/events", api.base))
        .header(COOKIE, &session.cookie)
        .timeout(Duration::from_secs(24 * 3600))
        .send()
        .await?;
    if !events.status().is_success() {
        bail!("the event stream answered {}", events.status());
    }
    let reader_shown = shown.clone();
    let reader = tokio::spawn(async move {
        let mut buffer = String::new();
        while let Ok(Some(chunk)) = events.chunk().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                if let Some(minor) = deposits_shown(&event) {
                    let mut shown = reader_shown.lock().expect("not poisoned");
                    if minor != shown.0 {
                        *shown = (minor, Instant::now());
                    }
                }
            }
        }
    });

    let mut histogram = Histogram::<u64>::new(3)?;
    let mut expected = 0i64;
    let mut draw = 0x9e37_79b9_7f4a_7c15u64;
    let mut n = 0u64;
    while Instant::now() + Duration::from_secs(4) < deadline {
        draw ^= draw << 13;
        draw ^= draw >> 7;
        draw ^= draw << 17;
        tokio::time::sleep(Duration::from_millis(1_000 + draw % 1_000)).await;
        n += 1;
        let body = json!({
            "deposit_id": format!("probe-{}-{n}", std::process::id()),
            "currency": PROBE_CURRENCY,
            "amount": "1.00",
        });
        api.call(Method::POST, &format!("/operator/v1/players/{player}/deposits"), body)
            .await?;
        let acknowledged = Instant::now();
        expected += 100;
        let wait_until = acknowledged + Duration::from_secs(30);
        loop {
            let (minor, at) = *shown.lock().expect("not poisoned");
            if minor >= expected {
                histogram.record(at.saturating_duration_since(acknowledged).as_micros() as u64)?;
                break;
            }
            if Instant::now() > wait_until {
                bail!("deposit {n} not shown by the dashboard within 30 s (shown {minor}, expected {expected})");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    reader.abort();
    Ok(histogram)
}

/// The probe currency's deposits cell of a `figures` event, minor units.
fn deposits_shown(event: &str) -> Option<i64> {
    let marker = format!("data-figure=\"deposits_{PROBE_CURRENCY}\">");
    let start = event.find(&marker)? + marker.len();
    let text = &event[start..];
    let decimal = text.split_whitespace().next()?;
    let (units, cents) = decimal.split_once('.').unwrap_or((decimal, "0"));
    let units: i64 = units.replace(',', "").parse().ok()?;
    let cents: i64 = format!("{cents:0<2}")[..2].parse().ok()?;
    Some(units * 100 + cents)
}

/// Fetches the main pages in turn until `deadline`, a histogram per page.
async fn pages(
    api: Api,
    session: Session,
    player: u64,
    deadline: Instant,
    pause_ms: u64,
) -> Result<(BTreeMap<String, Histogram<u64>>, BTreeMap<String, u64>)> {
    let paths = [
        ("dashboard", "/backoffice".to_owned()),
        ("player search", format!("/backoffice/players?q={player}")),
        ("player 360", format!("/backoffice/players/{player}")),
        ("withdrawals", "/backoffice/withdrawals".to_owned()),
        ("kyc queue", "/backoffice/kyc".to_owned()),
        ("aml queue", "/backoffice/aml".to_owned()),
        ("games", "/backoffice/games".to_owned()),
        ("bonuses", "/backoffice/bonuses".to_owned()),
        ("reports", "/backoffice/reports".to_owned()),
        ("operators", "/backoffice/operators".to_owned()),
        ("audit", "/backoffice/audit".to_owned()),
    ];
    let mut histograms: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    let mut unavailable: BTreeMap<String, u64> = BTreeMap::new();
    'rounds: loop {
        for (name, path) in &paths {
            if Instant::now() >= deadline {
                break 'rounds;
            }
            let start = Instant::now();
            let response = api
                .http
                .get(format!("{}{path}", api.base))
                .header(COOKIE, &session.cookie)
                .send()
                .await?;
            let status = response.status();
            let _ = response.bytes().await?;
            let took = start.elapsed();
            if status == StatusCode::SERVICE_UNAVAILABLE {
                *unavailable.entry((*name).to_owned()).or_default() += 1;
            } else if status != StatusCode::OK {
                bail!("{path} answered {status}");
            }
            histograms
                .entry((*name).to_owned())
                .or_insert_with(|| Histogram::new(3).expect("3 significant digits"))
                .record(took.as_micros() as u64)?;
            tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        }
    }
    Ok((histograms, unavailable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_probe_currency_cell_of_an_event() {
        let event =
            "event: figures\ndata: <td data-label=\"Deposits\" data-figure=\"deposits_GBP\">1234.05 GBP</td>\n\n";
        assert_eq!(deposits_shown(event), Some(123_405));
        assert_eq!(
            deposits_shown("data: <td data-figure=\"deposits_EUR\">1.00 EUR</td>"),
            None
        );
    }
}
