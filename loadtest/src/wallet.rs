//! `croupier-loadtest wallet`: signed bets and wins over HTTP against a
//! running `croupier serve`, closed loop, through the native wallet API
//! (HMAC-signed) or the Hub88 adapter (`--contract hub88`: RSA-signed
//! requests, RSA-signed replies; the client signs too, on the same cores).
//!
//! Set-up goes through the operator API with the admin token the server
//! wrote: one aggregator, then per connection one player funded with
//! 1,000,000.00 EUR and a game-launch token. Each connection then plays
//! rounds of a bet and a win (closing the round) on its own keep-alive
//! connection, one request in flight, so with one connection the figure is
//! the full round trip of a durable request and with many it is the
//! server's throughput under that concurrency. Latencies after the warm-up
//! are recorded per request kind in HDR histograms.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use engine::Secret;
use hdrhistogram::Histogram;
use protocol::rsa_signature::RsaSigner;
use protocol::signature::{AGGREGATOR_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::report::print_latencies;

/// Options of the HTTP run.
#[derive(Args)]
pub struct WalletArgs {
    /// The server's base URL (loopback only: this is load, not a probe).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The admin operator token file the server wrote.
    #[arg(long, default_value = "croupier-data/operator-token")]
    token_file: PathBuf,
    /// Keep-alive connections, each with one request in flight.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds played before measuring.
    #[arg(long, default_value_t = 2)]
    warmup_seconds: u64,
    /// Speak HTTP/2 (prior knowledge, one stream at a time per connection)
    /// instead of HTTP/1.1.
    #[arg(long)]
    http2: bool,
    /// Which wallet contract to speak.
    #[arg(long, value_enum, default_value = "native")]
    contract: Contract,
    /// What each connection does.
    #[arg(long, value_enum, default_value = "rounds")]
    play: Play,
}

/// What a connection sends, over and over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Play {
    /// A bet, then a win that closes the round.
    Rounds,
    /// The in-session balance the aggregator asks for (native
    /// `/wallet/v1/balance`): answered by the sequencer, through the ring.
    WalletBalance,
    /// The operator's balance read (`/operator/v1/players/{p}/balance`):
    /// answered from the read model, never through the ring.
    OperatorBalance,
}

/// A wallet contract the load speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Contract {
    /// `/wallet/v1/*`, HMAC-SHA256 signatures.
    Native,
    /// `/hub88/{aggregator}/transaction/*`, RSA-SHA256 signatures.
    Hub88,
}

/// How the aggregator signs.
#[derive(Clone)]
enum Credential {
    Hmac(Secret),
    Rsa(RsaSigner),
}

/// What one connection measured.
struct Measured {
    bets: Histogram<u64>,
    wins: Histogram<u64>,
}

/// Runs the HTTP load and prints throughput and latency.
pub fn run(args: WalletArgs) -> Result<()> {
    ensure!(args.connections > 0, "--connections must be at least 1");
    ensure!(args.seconds > 0, "--seconds must be at least 1");
    let url = reqwest::Url::parse(&args.url).with_context(|| format!("--url {}", args.url))?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    ensure!(loopback, "--url must be a loopback address, not {url}");
    ensure!(
        args.play != Play::WalletBalance || args.contract == Contract::Native,
        "--play wallet-balance speaks the native contract"
    );
    let admin = std::fs::read_to_string(&args.token_file)
        .with_context(|| format!("reading the operator token from {}", args.token_file.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(drive(args, admin.trim().to_owned()))
}

async fn drive(args: WalletArgs, admin: String) -> Result<()> {
    let base = args.url.trim_end_matches('/').to_owned();
    let setup = Setup {
        client: Client::new(),
        base: base.clone(),
        admin,
    };
    let (aggregator, credential) = setup.aggregator(args.contract).await?;
    let mut tokens = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        tokens.push(setup.funded_session(aggregator).await?);
    }
    println!(
        "{} connection(s), {:?} contract, playing {:?}, over {}, {} s measured after {} s warm-up",
        args.connections,
        args.contract,
        args.play,
        if args.http2 { "HTTP/2" } else { "HTTP/1.1" },
        args.seconds,
        args.warmup_seconds
    );
    let started = Instant::now();
    let measure_from = started + Duration::from_secs(args.warmup_seconds);
    let until = measure_from + Duration::from_secs(args.seconds);
    let players: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(n, (player, token))| {
            let client = if args.http2 {
                Client::builder().http2_prior_knowledge().build()
            } else {
                Client::builder().http1_only().pool_max_idle_per_host(1).build()
            };
            let player = Player {
                play: args.play,
                admin: setup.admin.clone(),
                base: base.clone(),
                aggregator,
                credential: credential.clone(),
                player,
                token,
                connection: n,
            };
            async move { player.play(client?, measure_from, until).await }
        })
        .map(tokio::spawn)
        .collect();
    let mut bets = Histogram::<u64>::new(3)?;
    let mut wins = Histogram::<u64>::new(3)?;
    for player in players {
        let measured = player.await??;
        bets.add(measured.bets)?;
        wins.add(measured.wins)?;
    }
    let mut all = bets.clone();
    all.add(&wins)?;
    let total = all.len();
    if args.play != Play::Rounds {
        println!(
            "requests {total} ({:?}) in {} s: {:.0} req/s",
            args.play,
            args.seconds,
            total as f64 / args.seconds as f64
        );
        print_latencies("balance read, request to reply", &all);
        return Ok(());
    }
    println!(
        "requests {total} ({} bets, {} wins) in {} s: {:.0} req/s",
        bets.len(),
        wins.len(),
        args.seconds,
        total as f64 / args.seconds as f64
    );
    print_latencies("bet and win, request to reply", &all);
    print_latencies("bet", &bets);
    print_latencies("win", &wins);
    Ok(())
}

/// The operator side of the set-up.
struct Setup {
    client: Client,
    base: String,
    admin: String,
}

impl Setup {
    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("POST {path}: {status}: {text}");
        }
        serde_json::from_str(&text).with_context(|| format!("POST {path}: not JSON: {text}"))
    }

    /// A new aggregator: its id and how it signs.
    async fn aggregator(&self, contract: Contract) -> Result<(u32, Credential)> {
        let millis = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
        let name = format!("loadtest-{}-{millis}", std::process::id());
        if contract == Contract::Hub88 {
            let signer = RsaSigner::from_pem(&RsaSigner::generate_pem()?)?;
            let body = json!({ "name": name, "rsa_public_key": signer.public_key_pem() });
            let created = self.post("/operator/v1/aggregators", body).await?;
            let id = created["aggregator"].as_u64().context("aggregator id")?;
            return Ok((u32::try_from(id)?, Credential::Rsa(signer)));
        }
        let created = self.post("/operator/v1/aggregators", json!({ "name": name })).await?;
        let id = created["aggregator"].as_u64().context("aggregator id")?;
        let secret = hex::decode(created["secret"].as_str().context("aggregator secret")?)?;
        let secret: [u8; 32] = secret
            .try_into()
            .map_err(|_| anyhow::anyhow!("secret is not 32 bytes"))?;
        Ok((u32::try_from(id)?, Credential::Hmac(Secret(secret))))
    }

    /// A new player with 1,000,000.00 EUR and a day-long game-launch token.
    async fn funded_session(&self, aggregator: u32) -> Result<(u64, String)> {
        let player = self
            .post("/operator/v1/players", json!({"currency": "EUR", "jurisdiction": "MT"}))
            .await?["player"]
            .as_u64()
            .context("player id")?;
        self.post(
            &format!("/operator/v1/players/{player}/deposits"),
            json!({"deposit_id": format!("loadtest-{player}"), "currency": "EUR", "amount": "1000000.00"}),
        )
        .await?;
        let session = self
            .post(
                "/operator/v1/sessions",
                json!({"player": player, "currency": "EUR", "aggregator": aggregator, "ttl_ms": 86_400_000}),
            )
            .await?;
        Ok((player, session["token"].as_str().context("session token")?.to_owned()))
    }
}

/// One connection's player.
struct Player {
    play: Play,
    /// The operator token, for operator reads.
    admin: String,
    base: String,
    aggregator: u32,
    credential: Credential,
    player: u64,
    token: String,
    connection: usize,
}

impl Player {
    /// Plays bet + win rounds until `until`, recording latencies from `measure_from`.
    async fn play(self, client: Client, measure_from: Instant, until: Instant) -> Result<Measured> {
        let mut measured = Measured {
            bets: Histogram::new(3)?,
            wins: Histogram::new(3)?,
        };
        if self.play != Play::Rounds {
            // Balance reads are counted as `bets` (the report prints one figure).
            while Instant::now() < until {
                let elapsed = self.read_balance(&client).await?;
                if Instant::now() >= measure_from {
                    measured.bets.record(elapsed.as_nanos() as u64)?;
                }
            }
            return Ok(measured);
        }
        let mut round = 0_u64;
        while Instant::now() < until {
            round += 1;
            let round_id = format!("c{}-r{round}", self.connection);
            let (bet_id, win_id) = (format!("{round_id}-b"), format!("{round_id}-w"));
            let elapsed = self.call(&client, "bet", &self.bet_body(&round_id, &bet_id)).await?;
            if Instant::now() >= measure_from {
                measured.bets.record(elapsed.as_nanos() as u64)?;
            }
            let win = self.win_body(&round_id, &bet_id, &win_id);
            let elapsed = self.call(&client, "win", &win).await?;
            if Instant::now() >= measure_from {
                measured.wins.record(elapsed.as_nanos() as u64)?;
            }
        }
        Ok(measured)
    }

    /// One balance read; its round-trip time. Anything but 200 stops the run.
    async fn read_balance(&self, client: &Client) -> Result<Duration> {
        if self.play == Play::WalletBalance {
            return self.call(client, "balance", &json!({ "token": self.token })).await;
        }
        let path = format!("/operator/v1/players/{}/balance?currency=EUR", self.player);
        let sent = Instant::now();
        let response = client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .send()
            .await
            .with_context(|| format!("GET {path} on connection {}", self.connection))?;
        let status = response.status();
        let reply = response.bytes().await?;
        let elapsed = sent.elapsed();
        if status != StatusCode::OK {
            bail!("GET {path}: {status}: {}", String::from_utf8_lossy(&reply));
        }
        Ok(elapsed)
    }

    /// A 1.00 EUR stake.
    fn bet_body(&self, round_id: &str, bet_id: &str) -> Value {
        match self.credential {
            Credential::Hmac(_) => json!({"token": self.token, "transaction_id": bet_id, "round_id": round_id,
                "game": "slots", "currency": "EUR", "amount": "1.00"}),
            Credential::Rsa(_) => json!({"user": format!("player-{}", self.player), "token": self.token,
                "request_uuid": format!("rq-{bet_id}"), "transaction_uuid": bet_id, "round": round_id,
                "round_closed": false, "game_code": "slots", "currency": "EUR", "amount": 100_000}),
        }
    }

    /// A 0.50 EUR win that closes the round.
    fn win_body(&self, round_id: &str, bet_id: &str, win_id: &str) -> Value {
        match self.credential {
            Credential::Hmac(_) => json!({"token": self.token, "transaction_id": win_id, "round_id": round_id,
                "game": "slots", "currency": "EUR", "amount": "0.50", "close_round": true}),
            Credential::Rsa(_) => json!({"user": format!("player-{}", self.player), "token": self.token,
                "request_uuid": format!("rq-{win_id}"), "transaction_uuid": win_id, "round": round_id,
                "round_closed": true, "game_code": "slots", "currency": "EUR", "amount": 50_000,
                "reference_transaction_uuid": bet_id}),
        }
    }

    /// One signed wallet request; its round-trip time. Anything but an
    /// accepted answer (200, and `RS_OK` for Hub88) stops the run.
    async fn call(&self, client: &Client, route: &str, body: &Value) -> Result<Duration> {
        let body = body.to_string().into_bytes();
        let request = match &self.credential {
            Credential::Hmac(secret) => {
                let timestamp_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64;
                client
                    .post(format!("{}/wallet/v1/{route}", self.base))
                    .header(AGGREGATOR_HEADER, self.aggregator)
                    .header(TIMESTAMP_HEADER, timestamp_ms)
                    .header(SIGNATURE_HEADER, sign(secret, timestamp_ms, &body))
            }
            Credential::Rsa(signer) => client
                .post(format!("{}/hub88/{}/transaction/{route}", self.base, self.aggregator))
                .header(protocol::hub88::SIGNATURE_HEADER, signer.sign(&body)?),
        };
        let sent = Instant::now();
        let response = request
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .with_context(|| format!("{route} on connection {}", self.connection))?;
        let status = response.status();
        let reply = response.bytes().await?;
        let elapsed = sent.elapsed();
        let accepted = match self.credential {
            Credential::Hmac(_) => status == StatusCode::OK,
            Credential::Rsa(_) => {
                status == StatusCode::OK
                    && serde_json::from_slice::<Value>(&reply).is_ok_and(|reply| reply["status"] == "RS_OK")
            }
        };
        if !accepted {
            bail!("{route}: {status}: {}", String::from_utf8_lossy(&reply));
        }
        Ok(elapsed)
    }
}
