//! Webhook probe: how many verified provider webhooks the cashier settles
//! per second, and each one's latency (#13's "webhook throughput").
//!
//! **Preparation**: a Stripe-protocol sandbox (`payments::sandbox`) and the
//! server (`gateway::server::start`, in this process, on loopback, with
//! the sandbox as its provider) are started in a fresh data directory;
//! `--players` players are registered and `--deposits` deposits of 1.00
//! EUR initiated through the cashier route (each one journaled, started at
//! the sandbox, its reference journaled), round-robin over the players.
//!
//! **Measurement**: one signed `payment_intent.succeeded` event per
//! deposit (`Stripe-Signature`: `t=…,v1=` HMAC-SHA256 under the webhook
//! secret) is posted to `/webhooks/v1/payments/stripe` by `--concurrency`
//! clients at once; each post's latency (signature check, event parsing,
//! the journaled `DepositConfirmChecked`, the answer) goes into a
//! histogram, and the webhooks per second are the deposits over the wall
//! time. At the end every deposit must be confirmed and every player's
//! cash must be what its deposits brought.
//!
//! ```text
//! cargo run --release -p croupier-benches --bin webhook-probe \
//!     [-- --deposits N --players P --concurrency C --dir PATH]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gateway::config::ServeConfig;
use hdrhistogram::Histogram;
use payments::providers::stripe::signature_header;
use payments::sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

const SECRET_KEY: &str = "sk_test_probe";
const WEBHOOK_SECRET: &str = "whsec_probe";
const WEBHOOK_PATH: &str = "/webhooks/v1/payments/stripe";

struct Args {
    deposits: u64,
    players: u64,
    concurrency: u64,
    dir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        deposits: 10_000,
        players: 100,
        concurrency: 32,
        dir: std::env::temp_dir().join("croupier-webhook-probe"),
    };
    let mut input = std::env::args().skip(1);
    while let Some(flag) = input.next() {
        let mut value = || input.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--deposits" => args.deposits = value()?.parse().map_err(|e| format!("--deposits: {e}"))?,
            "--players" => args.players = value()?.parse().map_err(|e| format!("--players: {e}"))?,
            "--concurrency" => args.concurrency = value()?.parse().map_err(|e| format!("--concurrency: {e}"))?,
            "--dir" => args.dir = PathBuf::from(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.deposits == 0 || args.players == 0 || args.concurrency == 0 {
        return Err("--deposits, --players and --concurrency are at least 1".into());
    }
    Ok(args)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A bearer-authenticated JSON call; the answer's body, or why not.
async fn call(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    method: reqwest::Method,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut request = http.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let reply = request.send().await?;
    let status = reply.status();
    let text = reply.text().await?;
    anyhow::ensure!(status.is_success(), "{url}: {status}: {text}");
    Ok(serde_json::from_str(&text)?)
}

/// One initiated deposit: the player, the ledger's payment (source and
/// id) and the provider's reference.
struct Deposit {
    source: String,
    id: String,
    reference: String,
}

fn event(n: u64, deposit: &Deposit, created_s: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": format!("evt_probe_{n}"), "object": "event", "type": "payment_intent.succeeded",
        "created": created_s,
        "data": {"object": {
            "id": deposit.reference, "object": "payment_intent", "amount": 100, "currency": "eur",
            "status": "succeeded",
            "metadata": {"croupier_source": deposit.source, "croupier_payment": deposit.id},
        }},
    }))
    .expect("JSON")
}

async fn run(args: Args) -> anyhow::Result<()> {
    if args.dir.exists() {
        std::fs::remove_dir_all(&args.dir)?;
    }
    std::fs::create_dir_all(&args.dir)?;
    let sandbox = Sandbox::start(
        SandboxConfig {
            secret_key: SECRET_KEY.into(),
            webhook_secret: WEBHOOK_SECRET.into(),
            webhook_url: None,
            stall: Duration::from_secs(1),
            clock: Arc::new(now_ms),
        },
        "127.0.0.1:0".parse()?,
    )
    .await?;
    let running = gateway::server::start(ServeConfig {
        data_dir: args.dir.clone(),
        listen: "127.0.0.1:0".parse()?,
        quic: false,
        quic_listen: "127.0.0.1:0".parse()?,
        log: "warn".into(),
        stripe_api_url: Some(sandbox.url()),
        stripe_secret_key: Some(SECRET_KEY.into()),
        stripe_webhook_secret: Some(WEBHOOK_SECRET.into()),
        // Deposits far from expiring, and no shipped profile's deposit
        // checks: the probe measures the webhook path, not the gates.
        cashier_deposit_ttl_s: 86_400,
        ship_jurisdiction_profiles: false,
        ..ServeConfig::default()
    })
    .await
    .map_err(|e| anyhow::anyhow!("the server did not start: {e}"))?;
    let url = format!("http://{}", running.addr());
    let token = std::fs::read_to_string(running.first_token_path())?.trim().to_owned();
    let http = reqwest::Client::builder().pool_max_idle_per_host(1_024).build()?;

    let mut players = Vec::new();
    for _ in 0..args.players {
        let made = call(
            &http,
            &format!("{url}/operator/v1/players"),
            &token,
            reqwest::Method::POST,
            Some(json!({"currency": "EUR", "jurisdiction": "MT"})),
        )
        .await?;
        players.push(made["player"].as_u64().ok_or_else(|| anyhow::anyhow!("no player id"))?);
    }
    let started = Instant::now();
    let mut deposits = Vec::with_capacity(args.deposits as usize);
    for n in 0..args.deposits {
        let player = players[(n % args.players) as usize];
        let made = call(
            &http,
            &format!("{url}/cashier/v1/players/{player}/deposits"),
            &token,
            reqwest::Method::POST,
            Some(json!({"deposit_id": format!("probe-{n}"), "currency": "EUR", "amount": "1.00"})),
        )
        .await?;
        let payment = made["payment"].as_str().unwrap_or_default();
        let (source, id) = payment
            .split_once(':')
            .ok_or_else(|| anyhow::anyhow!("payment {payment}"))?;
        deposits.push(Deposit {
            source: source.to_owned(),
            id: id.to_owned(),
            reference: made["reference"].as_str().unwrap_or_default().to_owned(),
        });
    }
    println!(
        "prepared: {} players, {} deposits initiated in {:.1} s",
        args.players,
        args.deposits,
        started.elapsed().as_secs_f64()
    );

    let deposits = Arc::new(deposits);
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..args.concurrency {
        let (http, url, deposits, next) = (http.clone(), url.clone(), deposits.clone(), next.clone());
        clients.push(tokio::spawn(async move {
            let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(deposit) = deposits.get(n as usize) else {
                    return Ok::<_, anyhow::Error>(histogram);
                };
                let created_s = now_ms() / 1_000;
                let body = event(n, deposit, created_s);
                let signature = signature_header(WEBHOOK_SECRET, created_s, &body);
                let sent = Instant::now();
                let reply = http
                    .post(format!("{url}{WEBHOOK_PATH}"))
                    .header("content-type", "application/json")
                    .header("stripe-signature", signature)
                    .body(body)
                    .send()
                    .await?;
                let status = reply.status();
                let text = reply.text().await?;
                anyhow::ensure!(status.is_success(), "webhook {n}: {status}: {text}");
                histogram.record(sent.elapsed().as_micros().max(1) as u64)?;
            }
        }));
    }
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for client in clients {
        histogram.add(client.await??)?;
    }
    let elapsed = started.elapsed();

    // Every deposit landed: each player's cash is what its deposits brought.
    for (i, player) in players.iter().enumerate() {
        let expected = args.deposits / args.players + u64::from((i as u64) < args.deposits % args.players);
        let balance = call(
            &http,
            &format!("{url}/operator/v1/players/{player}/balance?currency=EUR"),
            &token,
            reqwest::Method::GET,
            None,
        )
        .await?;
        let cash = balance["cash"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(
            cash == format!("{expected}.00"),
            "player {player}: cash {cash}, expected {expected}.00"
        );
    }
    println!(
        "webhooks: {} in {:.2} s = {:.0}/s at concurrency {}; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        args.deposits,
        elapsed.as_secs_f64(),
        args.deposits as f64 / elapsed.as_secs_f64(),
        args.concurrency,
        histogram.value_at_quantile(0.50) as f64 / 1_000.0,
        histogram.value_at_quantile(0.99) as f64 / 1_000.0,
        histogram.max() as f64 / 1_000.0,
    );
    running.stop().await.map_err(|e| anyhow::anyhow!("stopping: {e}"))?;
    sandbox.stop().await;
    std::fs::remove_dir_all(&args.dir)?;
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(error) => {
            eprintln!("webhook-probe: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("webhook-probe: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("webhook-probe: {error:#}");
            ExitCode::FAILURE
        }
    }
}
