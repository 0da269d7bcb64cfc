//! Test support: a server on an ephemeral loopback port with a temporary
//! data directory and a clock the test moves, clients for HTTP/1.1 and
//! HTTP/2 (prior knowledge), an admin, an aggregator with its secret, and a
//! funded player with a game-launch token.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use engine::Secret;
use gateway::config::ServeConfig;
use gateway::server::{Running, start_with};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

/// 2026-01-01T00:00:00Z.
pub const T0: u64 = 1_767_225_600_000;

/// Which HTTP version a client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Http {
    /// HTTP/1.1.
    V1,
    /// HTTP/2 over cleartext TCP, prior knowledge.
    V2,
}

pub const BOTH: [Http; 2] = [Http::V1, Http::V2];

/// A response: status and exact body bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
    pub retry_after: Option<String>,
    /// The `x-hub88-signature` of a Hub88 adapter response.
    pub hub88_signature: Option<String>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The error code of an error reply.
    pub fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or("<none>").to_owned()
    }
}

pub struct TestServer {
    pub running: Option<Running>,
    pub base: String,
    pub clock: Arc<AtomicU64>,
    h1: Client,
    h2: Client,
}

/// A small journal segment: tests start many servers.
pub fn config(dir: &Path) -> ServeConfig {
    ServeConfig {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        journal_segment_bytes: 1 << 20,
        body_limit_bytes: 4096,
        signature_window_ms: 60_000,
        log: "warn".into(),
        ..ServeConfig::default()
    }
}

impl TestServer {
    pub async fn start(dir: &Path) -> TestServer {
        TestServer::start_at(config(dir), Arc::new(AtomicU64::new(T0))).await
    }

    pub async fn start_at(config: ServeConfig, clock: Arc<AtomicU64>) -> TestServer {
        let read = clock.clone();
        let running = start_with(
            config,
            engine::Config::default(),
            Arc::new(move || read.load(Ordering::SeqCst)),
        )
        .await
        .expect("server starts");
        let base = format!("http://{}", running.addr());
        TestServer {
            running: Some(running),
            base,
            clock,
            h1: Client::builder().http1_only().build().unwrap(),
            h2: Client::builder().http2_prior_knowledge().build().unwrap(),
        }
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("clean stop");
        }
    }

    pub fn now(&self) -> u64 {
        self.clock.load(Ordering::SeqCst)
    }

    pub fn advance(&self, ms: u64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn first_token(&self) -> String {
        let path = self.running.as_ref().unwrap().first_token_path();
        std::fs::read_to_string(path).unwrap().trim().to_owned()
    }

    fn client(&self, http: Http) -> &Client {
        match http {
            Http::V1 => &self.h1,
            Http::V2 => &self.h2,
        }
    }

    /// Sends a request with raw body bytes and extra headers.
    pub async fn send(
        &self,
        http: Http,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let mut request = self.client(http).request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.expect("request sent");
        let expected = match http {
            Http::V1 => reqwest::Version::HTTP_11,
            Http::V2 => reqwest::Version::HTTP_2,
        };
        assert_eq!(response.version(), expected);
        let status = response.status();
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_owned())
        };
        let (retry_after, hub88_signature) = (header("retry-after"), header("x-hub88-signature"));
        let body = response.bytes().await.expect("body").to_vec();
        Reply {
            status,
            body,
            retry_after,
            hub88_signature,
        }
    }

    /// An operator API call with a JSON body.
    pub async fn op(&self, http: Http, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut headers = Vec::new();
        if !token.is_empty() {
            headers.push(("authorization", format!("Bearer {token}")));
        }
        if body.is_some() {
            headers.push(("content-type", "application/json".into()));
        }
        self.send(http, method, path, &headers, body.map(|b| b.to_string().into_bytes()))
            .await
    }

    /// The sequencer's applied command count (journal records), from /metrics.
    pub async fn commands_applied(&self) -> u64 {
        let text = self.send(Http::V1, Method::GET, "/metrics", &[], None).await.text();
        text.lines()
            .find_map(|line| line.strip_prefix("croupier_commands_applied_total "))
            .map_or(0, |n| n.trim().parse().unwrap())
    }
}

/// An aggregator as the tests drive it.
#[derive(Clone, Debug)]
pub struct Aggregator {
    pub id: u32,
    pub secret: Secret,
}

impl Aggregator {
    /// Signed headers for `body` at `timestamp_ms`.
    pub fn headers(&self, body: &[u8], timestamp_ms: u64) -> Vec<(&'static str, String)> {
        vec![
            ("content-type", "application/json".into()),
            ("x-croupier-aggregator", self.id.to_string()),
            ("x-croupier-timestamp", timestamp_ms.to_string()),
            (
                "x-croupier-signature",
                gateway::signature::sign(&self.secret, timestamp_ms, body),
            ),
        ]
    }
}

/// A server with an admin, an aggregator, a player funded with 100.00 EUR
/// and a game-launch token.
pub struct World {
    pub server: TestServer,
    pub admin: String,
    pub aggregator: Aggregator,
    pub player: u64,
    pub token: String,
}

impl World {
    pub async fn new(dir: &Path) -> World {
        let server = TestServer::start(dir).await;
        let admin = server.first_token();
        let created = server
            .op(
                Http::V1,
                &admin,
                Method::POST,
                "/operator/v1/aggregators",
                Some(json!({"name": "acme"})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        let created = created.json();
        let secret: [u8; 32] = hex::decode(created["secret"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let aggregator = Aggregator {
            id: created["aggregator"].as_u64().unwrap() as u32,
            secret: Secret(secret),
        };
        let player = server
            .op(
                Http::V1,
                &admin,
                Method::POST,
                "/operator/v1/players",
                Some(json!({"currency": "EUR", "jurisdiction": "MT"})),
            )
            .await
            .json()["player"]
            .as_u64()
            .unwrap();
        let funded = server
            .op(
                Http::V1,
                &admin,
                Method::POST,
                &format!("/operator/v1/players/{player}/deposits"),
                Some(json!({"deposit_id": "dep-1", "currency": "EUR", "amount": "100.00"})),
            )
            .await;
        assert_eq!(funded.status, StatusCode::OK, "{}", funded.text());
        let mut world = World {
            server,
            admin,
            aggregator,
            player,
            token: String::new(),
        };
        world.token = world.issue_token(60_000).await;
        world
    }

    /// Registers an aggregator as the admin.
    pub async fn create_aggregator(&self, http: Http, body: Value) -> Reply {
        let path = "/operator/v1/aggregators";
        self.server.op(http, &self.admin, Method::POST, path, Some(body)).await
    }

    /// A fresh game-launch token for the player, valid `ttl_ms`.
    pub async fn issue_token(&self, ttl_ms: u64) -> String {
        let issued = self
            .server
            .op(
                Http::V1,
                &self.admin,
                Method::POST,
                "/operator/v1/sessions",
                Some(json!({"player": self.player, "currency": "EUR", "aggregator": self.aggregator.id, "ttl_ms": ttl_ms})),
            )
            .await;
        assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text());
        issued.json()["token"].as_str().unwrap().to_owned()
    }

    /// A signed wallet call with raw body bytes.
    pub async fn wallet_raw(&self, http: Http, route: &str, body: &[u8]) -> Reply {
        self.wallet_as(&self.aggregator, http, route, body).await
    }

    /// A wallet call with raw body bytes, signed by `aggregator`.
    pub async fn wallet_as(&self, aggregator: &Aggregator, http: Http, route: &str, body: &[u8]) -> Reply {
        let headers = aggregator.headers(body, self.server.now());
        let path = format!("/wallet/v1/{route}");
        self.server
            .send(http, Method::POST, &path, &headers, Some(body.to_vec()))
            .await
    }

    /// A signed wallet call.
    pub async fn wallet(&self, http: Http, route: &str, body: Value) -> Reply {
        self.wallet_raw(http, route, body.to_string().as_bytes()).await
    }

    pub async fn bet(&self, http: Http, id: &str, amount: &str, round: &str) -> Reply {
        let body = json!({"token": self.token, "transaction_id": id, "round_id": round, "game": "slots",
            "currency": "EUR", "amount": amount});
        self.wallet(http, "bet", body).await
    }

    pub async fn win(&self, http: Http, id: &str, amount: &str, round: &str) -> Reply {
        let body = json!({"token": self.token, "transaction_id": id, "round_id": round, "game": "slots",
            "currency": "EUR", "amount": amount});
        self.wallet(http, "win", body).await
    }

    pub async fn rollback(&self, http: Http, id: &str, bet: &str) -> Reply {
        let body = json!({"token": self.token, "transaction_id": id, "bet_transaction_id": bet});
        self.wallet(http, "rollback", body).await
    }

    /// The operator view of the wallet.
    pub async fn balance(&self) -> Value {
        let path = format!("/operator/v1/players/{}/balance?currency=EUR", self.player);
        self.server
            .op(Http::V1, &self.admin, Method::GET, &path, None)
            .await
            .json()
    }
}

/// The exact JSON of a wallet success.
pub fn wallet_ok(player: u64, cash: &str, transaction: Option<u64>) -> String {
    match transaction {
        Some(seq) => {
            format!(r#"{{"player":{player},"currency":"EUR","cash":"{cash}","bonus":"0.00","transaction":{seq}}}"#)
        }
        None => format!(r#"{{"player":{player},"currency":"EUR","cash":"{cash}","bonus":"0.00"}}"#),
    }
}

impl World {
    /// Stops the server and starts a new one on the same data directory
    /// and clock (a new port): what a restart mid-session looks like.
    pub async fn restart(self, dir: &Path) -> World {
        let clock = self.server.clock.clone();
        self.server.stop().await;
        let server = TestServer::start_at(config(dir), clock).await;
        World { server, ..self }
    }
}
