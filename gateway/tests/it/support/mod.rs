//! Test support: a server on ephemeral loopback ports (TCP and UDP) with a
//! temporary data directory and a clock the test moves; clients for
//! HTTP/1.1 and HTTP/2 in cleartext (HTTP/2 by prior knowledge) or over TLS
//! (HTTP/2 by ALPN), and for HTTP/3 over QUIC (quinn + h3 directly), all
//! trusting the certificate the server generated; an admin, an aggregator
//! with its secret, and a funded player with a game-launch token.

#![allow(dead_code)]

pub mod postgres;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes};
use engine::Secret;
use gateway::config::ServeConfig;
use gateway::server::{Running, start_with};
use reqwest::{Client, Method, StatusCode};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};

/// 2026-01-01T00:00:00Z.
pub const T0: u64 = 1_767_225_600_000;

/// Holds the sequencer thread in its clock read while closed (the
/// sequencer reads the clock once a batch, before applying): a request
/// submitted then waits inside the sequencer, and the ring behind it fills,
/// without depending on timing ([`TestServer::start_gated`]).
#[derive(Default)]
pub struct SequencerGate {
    closed: Mutex<bool>,
    opened: Condvar,
    /// How many times the sequencer was held.
    pub held: AtomicU64,
}

impl SequencerGate {
    fn hold_if_closed(&self) {
        if std::thread::current().name() != Some("sequencer") {
            return;
        }
        let mut closed = self.closed.lock().unwrap();
        if *closed {
            self.held.fetch_add(1, Ordering::SeqCst);
            while *closed {
                closed = self.opened.wait(closed).unwrap();
            }
        }
    }

    /// Closes (holds the sequencer's next batch) or opens the gate.
    pub fn set(&self, closed: bool) {
        *self.closed.lock().unwrap() = closed;
        self.opened.notify_all();
    }
}

/// Which HTTP version a client speaks, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Http {
    /// HTTP/1.1 over cleartext TCP.
    V1,
    /// HTTP/2 over cleartext TCP, prior knowledge.
    V2,
    /// HTTP/1.1 over TLS (ALPN http/1.1).
    V1Tls,
    /// HTTP/2 over TLS, chosen by ALPN.
    V2Tls,
    /// HTTP/3 over QUIC.
    V3,
}

impl Http {
    /// True for the TCP transports that need the server's TLS on.
    pub fn tls(self) -> bool {
        matches!(self, Http::V1Tls | Http::V2Tls)
    }

    fn version(self) -> reqwest::Version {
        match self {
            Http::V1 | Http::V1Tls => reqwest::Version::HTTP_11,
            Http::V2 | Http::V2Tls => reqwest::Version::HTTP_2,
            Http::V3 => reqwest::Version::HTTP_3,
        }
    }
}

/// The two TCP versions in cleartext (kept for tests written before HTTP/3).
pub const BOTH: [Http; 2] = [Http::V1, Http::V2];

/// Every version a default (cleartext TCP) server speaks.
pub const ALL: [Http; 3] = [Http::V1, Http::V2, Http::V3];

/// Every transport: a test that uses them all starts a TLS server for [`Http::tls`] ones.
pub const EVERY: [Http; 5] = [Http::V1, Http::V2, Http::V1Tls, Http::V2Tls, Http::V3];

/// A response: status and exact body bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
    pub retry_after: Option<String>,
    /// The `x-hub88-signature` of a Hub88 adapter response.
    pub hub88_signature: Option<String>,
    /// The `content-type`.
    pub content_type: Option<String>,
    /// The `allow` header (of a 405).
    pub allow: Option<String>,
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
    /// TLS on the TCP port.
    pub tls: bool,
    h1: Client,
    h2: Client,
    h3: tokio::sync::OnceCell<H3Client>,
    cert_pem: Option<Vec<u8>>,
}

/// Ephemeral loopback ports, QUIC on, TCP in cleartext, and a small journal
/// segment: tests start many servers.
pub fn config(dir: &Path) -> ServeConfig {
    ServeConfig {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        quic: true,
        quic_listen: "127.0.0.1:0".parse().unwrap(),
        journal_segment_bytes: 1 << 20,
        body_limit_bytes: 4096,
        signature_window_ms: 60_000,
        log: "warn".into(),
        // The wallet's tests run without regulation; `pam.rs` starts
        // servers that ship the jurisdiction profiles.
        ship_jurisdiction_profiles: false,
        ..ServeConfig::default()
    }
}

/// [`config`] with TLS on the TCP port if `tls`.
pub fn config_with_tls(dir: &Path, tls: bool) -> ServeConfig {
    ServeConfig { tls, ..config(dir) }
}

impl TestServer {
    pub async fn start(dir: &Path) -> TestServer {
        TestServer::start_at(config(dir), Arc::new(AtomicU64::new(T0))).await
    }

    pub async fn start_at(config: ServeConfig, clock: Arc<AtomicU64>) -> TestServer {
        let read = clock.clone();
        TestServer::start_with_clock(config, clock, Arc::new(move || read.load(Ordering::SeqCst))).await
    }

    /// A server (clock at [`T0`]) whose sequencer `SequencerGate` holds
    /// while it is closed.
    pub async fn start_gated(config: ServeConfig) -> (TestServer, Arc<SequencerGate>) {
        let gate = Arc::new(SequencerGate::default());
        let clock = Arc::new(AtomicU64::new(T0));
        let read = {
            let (gate, clock) = (gate.clone(), clock.clone());
            Arc::new(move || {
                gate.hold_if_closed();
                clock.load(Ordering::SeqCst)
            })
        };
        (TestServer::start_with_clock(config, clock, read).await, gate)
    }

    /// A gated server ([`TestServer::start_gated`]) in `dir` whose requests
    /// time out after `timeout_ms`: a request held in the sequencer then
    /// has an unknown outcome.
    pub async fn start_gated_timing_out(dir: &Path, timeout_ms: u64) -> (TestServer, Arc<SequencerGate>) {
        let mut config = config(dir);
        config.request_timeout_ms = timeout_ms;
        TestServer::start_gated(config).await
    }

    /// A server whose clock is `read`; `clock` is what [`TestServer::now`]
    /// reports and [`TestServer::advance`] moves (`read` should follow it).
    pub async fn start_with_clock(config: ServeConfig, clock: Arc<AtomicU64>, read: gateway::app::Clock) -> TestServer {
        let tls = config.tls;
        let running = start_with(config, engine::Config::default(), read)
            .await
            .expect("server starts");
        let cert_pem = running
            .cert_path()
            .map(|path| std::fs::read(path).expect("certificate readable"));
        let (h1, h2, base) = match (&cert_pem, tls) {
            (Some(pem), true) => {
                let trusted = || {
                    Client::builder()
                        .tls_built_in_root_certs(false)
                        .add_root_certificate(reqwest::Certificate::from_pem(pem).unwrap())
                };
                let base = format!("https://{}", running.addr());
                (
                    trusted().http1_only().build().unwrap(),
                    trusted().build().unwrap(),
                    base,
                )
            }
            _ => (
                Client::builder().http1_only().build().unwrap(),
                Client::builder().http2_prior_knowledge().build().unwrap(),
                format!("http://{}", running.addr()),
            ),
        };
        TestServer {
            running: Some(running),
            base,
            clock,
            tls,
            h1,
            h2,
            h3: tokio::sync::OnceCell::new(),
            cert_pem,
        }
    }

    /// The HTTP/1.1 variant this server's TCP port speaks.
    pub fn h1(&self) -> Http {
        if self.tls { Http::V1Tls } else { Http::V1 }
    }

    /// The server's certificate (PEM), if it has one.
    pub fn cert_pem(&self) -> &[u8] {
        self.cert_pem.as_deref().expect("the server has a certificate")
    }

    /// The bound UDP address of HTTP/3.
    pub fn quic_addr(&self) -> SocketAddr {
        self.running.as_ref().unwrap().quic_addr().expect("QUIC is on")
    }

    /// The value of a metric line (`name{labels}` exactly as exposed), read over HTTP/3
    /// so that reading it opens no TCP connection.
    pub async fn metric(&self, series: &str) -> Option<i64> {
        let text = self.send(Http::V3, Method::GET, "/metrics", &[], None).await.text();
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .map(|n| n.trim().parse().unwrap())
    }

    /// The bound TCP address.
    pub fn addr(&self) -> SocketAddr {
        self.running.as_ref().unwrap().addr()
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
        assert_eq!(
            http.tls(),
            self.tls,
            "{http:?} against a server with tls = {}",
            self.tls
        );
        match http {
            Http::V1 | Http::V1Tls => &self.h1,
            Http::V2 | Http::V2Tls => &self.h2,
            Http::V3 => unreachable!("HTTP/3 does not go through reqwest"),
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
        if http == Http::V3 {
            return self.send_h3(method, path, headers, body).await;
        }
        let mut request = self.client(http).request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.expect("request sent");
        assert_eq!(response.version(), http.version());
        let status = response.status();
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_owned())
        };
        let (retry_after, hub88_signature) = (header("retry-after"), header("x-hub88-signature"));
        let (content_type, allow) = (header("content-type"), header("allow"));
        let body = response.bytes().await.expect("body").to_vec();
        Reply {
            status,
            body,
            retry_after,
            hub88_signature,
            content_type,
            allow,
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

    /// Sends a request over HTTP/3 on this server's QUIC port.
    async fn send_h3(&self, method: Method, path: &str, headers: &[(&str, String)], body: Option<Vec<u8>>) -> Reply {
        let client = self.h3_client().await;
        let mut request = axum::http::Request::builder()
            .method(method)
            .uri(format!("https://localhost{path}"));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(body) = &body {
            request = request.header("content-length", body.len());
        }
        let mut stream = client
            .send
            .clone()
            .send_request(request.body(()).unwrap())
            .await
            .expect("HTTP/3 request sent");
        // A server that answers without reading the whole body (413, 415,
        // 404 ...) stops the request stream with H3_NO_ERROR; its reply
        // still counts (RFC 9114 §4.1).
        let sent = match body {
            Some(body) => stream.send_data(Bytes::from(body)).await,
            None => Ok(()),
        };
        let finished = match sent {
            Ok(()) => stream.finish().await,
            Err(error) => Err(error),
        };
        if let Err(error) = finished {
            let stopped_cleanly = matches!(&error, h3::error::StreamError::RemoteTerminate { code, .. }
                if *code == h3::error::Code::H3_NO_ERROR);
            assert!(stopped_cleanly, "HTTP/3 request not sent: {error}");
        }
        let response = stream.recv_response().await.expect("HTTP/3 response");
        assert_eq!(response.version(), reqwest::Version::HTTP_3);
        let mut body = Vec::new();
        while let Some(mut chunk) = stream.recv_data().await.expect("HTTP/3 body") {
            while chunk.has_remaining() {
                let bytes = chunk.chunk();
                body.extend_from_slice(bytes);
                let read = bytes.len();
                chunk.advance(read);
            }
        }
        let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        Reply {
            status: response.status(),
            body,
            retry_after: header("retry-after"),
            hub88_signature: header("x-hub88-signature"),
            content_type: header("content-type"),
            allow: header("allow"),
        }
    }

    /// This server's HTTP/3 client connection (made on first use).
    pub async fn h3_client(&self) -> &H3Client {
        self.h3.get_or_init(|| self.connect_h3()).await
    }

    async fn connect_h3(&self) -> H3Client {
        let running = self.running.as_ref().expect("server running");
        let addr = running.quic_addr().expect("QUIC is on");
        let pem = self.cert_pem.as_deref().expect("the server has a certificate");
        H3Client::connect(addr, pem).await
    }

    /// The sequencer's applied command count (journal records), from /metrics.
    pub async fn commands_applied(&self) -> u64 {
        let text = self.send(self.h1(), Method::GET, "/metrics", &[], None).await.text();
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
                protocol::signature::sign(&self.secret, timestamp_ms, body),
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
        World::new_with(config(dir)).await
    }

    /// A world whose server speaks `http` (TLS on TCP for the TLS variants).
    pub async fn new_for(dir: &Path, http: Http) -> World {
        World::new_with(config_with_tls(dir, http.tls())).await
    }

    pub async fn new_with(config: ServeConfig) -> World {
        World::on(TestServer::start_at(config, Arc::new(AtomicU64::new(T0))).await).await
    }

    /// The world on an already started server.
    pub async fn on(server: TestServer) -> World {
        let admin = server.first_token();
        let created = server
            .op(
                server.h1(),
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
                server.h1(),
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
                server.h1(),
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
                self.server.h1(),
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
            .op(self.server.h1(), &self.admin, Method::GET, &path, None)
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
        let (clock, tls) = (self.server.clock.clone(), self.server.tls);
        self.server.stop().await;
        let server = TestServer::start_at(config_with_tls(dir, tls), clock).await;
        World { server, ..self }
    }
    /// As [`World::restart`], with the read-model file deleted while the
    /// server is down: the new one rebuilds it from the journal.
    pub async fn restart_rebuilt(self, dir: &Path) -> World {
        let (clock, tls) = (self.server.clock.clone(), self.server.tls);
        self.server.stop().await;
        for name in ["readmodel.sqlite", "readmodel.sqlite-wal", "readmodel.sqlite-shm"] {
            let _ = std::fs::remove_file(dir.join(name));
        }
        assert!(!dir.join("readmodel.sqlite").exists());
        let server = TestServer::start_at(config_with_tls(dir, tls), clock).await;
        World { server, ..self }
    }
}

/// An HTTP/3 client connection (quinn + h3), trusting one certificate.
pub struct H3Client {
    endpoint: quinn::Endpoint,
    pub connection: quinn::Connection,
    pub send: h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
}

impl H3Client {
    pub async fn connect(addr: SocketAddr, cert_pem: &[u8]) -> H3Client {
        // Tests may sit idle (waiting for a snapshot) longer than the idle timeout.
        H3Client::connect_from("127.0.0.1:0".parse().unwrap(), addr, cert_pem, Duration::from_secs(2))
            .await
            .expect("QUIC handshake")
    }

    /// Connects from `bind` (a loopback address of the test's choice),
    /// sending QUIC keep-alive PINGs every `keep_alive`.
    pub async fn connect_from(
        bind: SocketAddr,
        addr: SocketAddr,
        cert_pem: &[u8],
        keep_alive: Duration,
    ) -> Result<H3Client, quinn::ConnectionError> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(cert_pem) {
            roots.add(cert.expect("PEM certificate")).expect("trusted certificate");
        }
        let mut tls = rustls::ClientConfig::builder_with_provider(gateway::tls::provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"h3".to_vec()];
        let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
        let mut transport = quinn::TransportConfig::default();
        transport.keep_alive_interval(Some(keep_alive));
        let mut client = quinn::ClientConfig::new(Arc::new(crypto));
        client.transport_config(Arc::new(transport));
        let mut endpoint = quinn::Endpoint::client(bind).unwrap();
        endpoint.set_default_client_config(client);
        let connection = endpoint.connect(addr, "localhost").unwrap().await?;
        let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(connection.clone()))
            .await
            .expect("HTTP/3 connection");
        tokio::spawn(async move {
            let _ = driver.wait_idle().await;
        });
        Ok(H3Client {
            endpoint,
            connection,
            send,
        })
    }

    /// A GET of `path`: its status, or `None` if the connection failed.
    pub async fn get(&self, path: &str) -> Option<StatusCode> {
        let request = axum::http::Request::get(format!("https://localhost{path}"))
            .body(())
            .unwrap();
        let mut stream = self.send.clone().send_request(request).await.ok()?;
        stream.finish().await.ok()?;
        let response = stream.recv_response().await.ok()?;
        while stream.recv_data().await.ok()?.is_some() {}
        Some(response.status())
    }
}

impl World {
    /// Puts the provider "studio" on `aggregator` and its game `code` there:
    /// EUR stakes 0.10 to 50.00, Malta only. The first game turns the
    /// catalogue's checks on for every bet.
    pub async fn catalogue(&self, aggregator: u32, code: &str) {
        let provider = json!({"name": "Studio One", "aggregators": [aggregator]});
        let put = self
            .server
            .op(
                Http::V1,
                &self.admin,
                Method::PUT,
                "/operator/v1/games/providers/studio",
                Some(provider),
            )
            .await;
        assert_eq!(put.status, StatusCode::OK, "{}", put.text());
        let game = json!({"provider": "studio", "name": "A Game", "type": "slot", "volatility": "high",
            "rtp_variants_bp": [9450, 9650], "rtp_default_bp": 9650,
            "limits": [{"currency": "EUR", "min": "0.10", "max": "50.00"}], "jurisdictions": ["MT"]});
        let path = format!("/operator/v1/games/{aggregator}/{code}");
        let put = self
            .server
            .op(Http::V1, &self.admin, Method::PUT, &path, Some(game))
            .await;
        assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    }

    /// Disables (or enables) game `code` at `aggregator`.
    pub async fn set_game_enabled(&self, aggregator: u32, code: &str, enabled: bool) {
        let verb = if enabled { "enable" } else { "disable" };
        let path = format!("/operator/v1/games/{aggregator}/{code}/{verb}");
        let reply = self.server.op(Http::V1, &self.admin, Method::POST, &path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.json()["enabled"], json!(enabled));
    }
}
