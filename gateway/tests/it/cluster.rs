//! A replication group of three real `croupier serve` processes on loopback
//! ports and temporary data directories: writes through the leader are
//! acknowledged, a follower turns writes away naming the leader and serves
//! reads with their `as_of_seq`; `kill -9` of the leader under a client that
//! records every acknowledged reply gives a new leader within 5 s, where
//! every acknowledged request (retried with its id) gets its original reply
//! byte for byte, money is conserved and every node reaches the same ledger
//! digest; a peer with the wrong cluster secret or another cluster's name is
//! refused and nothing is applied; a manual leadership transfer keeps
//! writes going (a retry at the new leader gets the original reply), a
//! follower killed and restarted catches up, a frozen leader deposed
//! meanwhile acknowledges nothing once it runs again, and every node's
//! journal verifies and holds the same batches byte for byte.
//!
//! One leader-kill round in CI; `CROUPIER_SOAK=1` runs 20 and prints the
//! fail-over times (kill → first write acknowledged by the new leader).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::Aggregator;

const SECRET: &str = "cluster-test-secret-0123456789";
const CLUSTER_NAME: &str = "croupier-it";
/// The issue's target for a new leader after the old one dies.
const FAILOVER_LIMIT: Duration = Duration::from_secs(5);

/// The members' log level: `CROUPIER_IT_LOG` (e.g. `info`), else warnings.
fn log_level() -> String {
    std::env::var("CROUPIER_IT_LOG").unwrap_or_else(|_| "warn".into())
}

/// Where member `id` logs and panics: `$CROUPIER_IT_LOG_DIR/node-<id>.log`
/// (appended across restarts, kept after the test) when set, else nowhere.
fn log_file(id: u64) -> Stdio {
    let Ok(dir) = std::env::var("CROUPIER_IT_LOG_DIR") else {
        return Stdio::null();
    };
    std::fs::create_dir_all(&dir).unwrap();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(std::path::Path::new(&dir).join(format!("node-{id}.log")))
        .unwrap();
    Stdio::from(file)
}

/// A free loopback port (bound and released: the process binds it next).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Member {
    id: u64,
    api_port: u16,
    raft_port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// Started with `--cluster-join` (added to a running group).
    joining: bool,
}

/// Writes a fresh PAM master key (64 hex digits, mode 0600) to `path`.
fn write_master_key(path: &std::path::Path, byte: u8) {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    let key: String = (0..32u8).map(|i| format!("{:02x}", i.wrapping_mul(7) ^ byte)).collect();
    writeln!(file, "{key}").unwrap();
}

/// The check value of the PAM master key in `path` (what every raft call carries).
fn key_check(path: &std::path::Path) -> String {
    let dir = tempfile::tempdir().unwrap();
    hex::encode(pam::Vault::open(dir.path(), Some(path)).unwrap().key_check())
}

impl Member {
    fn api(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }
}

/// Three members and what a client of the group holds.
struct Group {
    _root: tempfile::TempDir,
    members: Vec<Member>,
    http: Client,
    admin: String,
    /// Flags every member is started with besides the usual ones.
    extra: Vec<String>,
    /// The group's PAM master key file, given to every member.
    master_key: PathBuf,
}

impl Group {
    fn peers(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("{}=127.0.0.1:{}={}", m.id, m.raft_port, m.api()))
            .collect()
    }

    fn spawn(&mut self, index: usize) {
        let mut command = self.command(index, &self.master_key, &self.members[index].dir);
        self.members[index].child = Some(command.spawn().expect("croupier serve starts"));
    }

    /// The command that starts member `index` with the master key
    /// `master_key` and the data directory `dir`.
    fn command(&self, index: usize, master_key: &std::path::Path, dir: &std::path::Path) -> Command {
        let peers = self.peers();
        let member = &self.members[index];
        let mut command = Command::new(env!("CARGO_BIN_EXE_croupier"));
        command
            .arg("serve")
            .args(["--data-dir", dir.to_str().unwrap()])
            .args(["--pam-master-key-file", master_key.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{}", member.api_port)])
            .arg("--no-quic")
            .args(["--journal-segment-bytes", "1048576"])
            .args(["--log", &log_level()])
            .arg("--ship-jurisdiction-profiles=false")
            .args(["--cluster-node-id", &member.id.to_string()])
            .args(["--cluster-name", CLUSTER_NAME])
            .args(["--cluster-raft-listen", &format!("127.0.0.1:{}", member.raft_port)])
            .args(["--cluster-secret", SECRET])
            .args(["--cluster-heartbeat-ms", "50"])
            .args(["--cluster-election-timeout-min-ms", "300"])
            .args(["--cluster-election-timeout-max-ms", "600"])
            .env_remove("CROUPIER_CONFIG")
            .stdout(log_file(member.id))
            .stderr(log_file(member.id));
        for peer in &peers {
            command.args(["--cluster-peer", peer]);
        }
        if member.joining {
            command.arg("--cluster-join");
        }
        command.args(&self.extra);
        command
    }

    /// Starts three members and waits for the first operator (made by the
    /// first leader) to be usable.
    async fn start() -> Group {
        Group::start_with(Vec::new()).await
    }

    /// [`Group::start`] with `extra` flags on every member.
    async fn start_with(extra: Vec<String>) -> Group {
        let root = tempfile::tempdir().unwrap();
        let members = (1..=3)
            .map(|id| Member {
                id,
                api_port: free_port(),
                raft_port: free_port(),
                dir: root.path().join(format!("node-{id}")),
                child: None,
                joining: false,
            })
            .collect();
        let http = Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let master_key = root.path().join("pam-master-key");
        write_master_key(&master_key, 0);
        let mut group = Group {
            _root: root,
            members,
            http,
            admin: String::new(),
            extra,
            master_key,
        };
        for index in 0..3 {
            group.spawn(index);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "no first operator within 30 s");
            let token = group.members.iter().find_map(|m| {
                std::fs::read_to_string(m.dir.join("operator-token"))
                    .ok()
                    .map(|t| t.trim().to_owned())
            });
            if let Some(token) = token.filter(|t| !t.is_empty()) {
                group.admin = token;
                if group.leader(Duration::from_secs(1)).await.is_some() {
                    return group;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn live(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.child.is_some())
    }

    async fn status(&self, member: &Member) -> Option<Value> {
        let reply = self
            .http
            .get(format!("{}/operator/v1/cluster", member.api()))
            .bearer_auth(&self.admin)
            .timeout(Duration::from_millis(500))
            .send()
            .await
            .ok()?;
        if reply.status() != StatusCode::OK {
            return None;
        }
        serde_json::from_slice(&reply.bytes().await.ok()?).ok()
    }

    /// Member's status, asked again while it does not answer (a loaded
    /// machine), within 10 s.
    async fn status_within(&self, member: &Member) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.status(member).await {
                return status;
            }
            assert!(Instant::now() < deadline, "node {} gives no status", member.id);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The id of the member that says it leads (among the live ones), within `wait`.
    async fn leader(&self, wait: Duration) -> Option<u64> {
        let deadline = Instant::now() + wait;
        loop {
            for member in self.live() {
                if let Some(status) = self.status(member).await
                    && status["role"] == "leader"
                {
                    return Some(member.id);
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn member(&self, id: u64) -> &Member {
        &self.members[(id - 1) as usize]
    }

    /// `kill -9` of member `id`.
    fn kill(&mut self, id: u64) {
        let member = &mut self.members[(id - 1) as usize];
        let mut child = member.child.take().expect("a live member");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    async fn op(&self, base: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self
            .http
            .request(method, format!("{base}{path}"))
            .bearer_auth(&self.admin);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        request.send().await.unwrap()
    }

    /// An operator write at `base` under one `Idempotency-Key`, asked again
    /// (at the leader it names, or at each live member in turn while there
    /// is no answer) while the answer is 503: `not_leader`
    /// (nothing was submitted: a leader still taking office, or an election
    /// under a loaded machine) or an outcome in doubt (`commit_failed`,
    /// `timeout`: the key makes the retry exactly-once).
    async fn write(&self, base: &str, method: reqwest::Method, path: &str, body: Value) -> (StatusCode, Value) {
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let key = format!(
            "it-{}-{}",
            now_ms(),
            WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        self.write_keyed(base, method, path, body, &key).await
    }

    /// [`Group::write`] under the `Idempotency-Key` `key`.
    async fn write_keyed(
        &self,
        base: &str,
        method: reqwest::Method,
        path: &str,
        body: Value,
        key: &str,
    ) -> (StatusCode, Value) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut base = base.to_owned();
        let mut next = 0;
        loop {
            let sent = self
                .http
                .request(method.clone(), format!("{base}{path}"))
                .bearer_auth(&self.admin)
                .header("idempotency-key", key)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await;
            let Ok(reply) = sent else {
                assert!(Instant::now() < deadline, "{path}: no answer from {base}");
                // A leader hint can name a member that has since died (one
                // this test killed): ask each live member in turn instead
                // of that address until the deadline.
                let live: Vec<String> = self.live().map(Member::api).collect();
                next = (next + 1) % live.len().max(1);
                if let Some(other) = live.get(next) {
                    base = other.clone();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let status = reply.status();
            let leader = named_leader(&reply);
            let answer: Value = serde_json::from_slice(&reply.bytes().await.unwrap()).unwrap();
            if status != StatusCode::SERVICE_UNAVAILABLE || Instant::now() >= deadline {
                return (status, answer);
            }
            base = leader.unwrap_or(base);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until every live member has applied the same sequence number;
    /// returns (seq, digest) per member.
    async fn converged(&self) -> BTreeMap<u64, (u64, String)> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut seen = BTreeMap::new();
            for member in self.live() {
                if let Some(status) = self.status(member).await {
                    let seq = status["applied_seq"].as_u64().unwrap();
                    seen.insert(member.id, (seq, status["digest"].as_str().unwrap().to_owned()));
                }
            }
            let seqs: Vec<u64> = seen.values().map(|(seq, _)| *seq).collect();
            if seen.len() == self.live().count() && seqs.windows(2).all(|w| w[0] == w[1]) {
                return seen;
            }
            assert!(Instant::now() < deadline, "the members did not converge: {seen:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        for member in &mut self.members {
            if let Some(mut child) = member.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The leader's API URL a 503 names (`x-croupier-leader`).
fn named_leader(reply: &reqwest::Response) -> Option<String> {
    reply
        .headers()
        .get("x-croupier-leader")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The wallet client: an aggregator, a player and its game-launch token.
struct Wallet {
    aggregator: Aggregator,
    player: u64,
    token: String,
}

/// What a wallet call got.
enum Sent {
    /// Acknowledged: the reply's body.
    Acknowledged(Vec<u8>),
    /// Turned away or in doubt: where the reply said the leader is.
    Retry(Option<String>),
}

impl Wallet {
    /// Sets up through the leader at `base`.
    async fn set_up(group: &Group, base: &str) -> Wallet {
        use reqwest::Method;
        let (status, created) = group
            .write(base, Method::POST, "/operator/v1/aggregators", json!({"name": "acme"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let secret: [u8; 32] = hex::decode(created["secret"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let aggregator = Aggregator {
            id: created["aggregator"].as_u64().unwrap() as u32,
            secret: protocol::signature::Secret(secret),
        };
        let (_, player) = group
            .write(
                base,
                Method::POST,
                "/operator/v1/players",
                json!({"currency": "EUR", "jurisdiction": "MT"}),
            )
            .await;
        let player = player["player"].as_u64().unwrap();
        let (funded, _) = group
            .write(
                base,
                Method::POST,
                &format!("/operator/v1/players/{player}/deposits"),
                json!({"deposit_id": "dep-1", "currency": "EUR", "amount": "100.00"}),
            )
            .await;
        assert_eq!(funded, StatusCode::OK);
        let (_, issued) = group
            .write(
                base,
                Method::POST,
                "/operator/v1/sessions",
                json!({"player": player, "currency": "EUR", "aggregator": aggregator.id, "ttl_ms": 3_600_000}),
            )
            .await;
        Wallet {
            aggregator,
            player,
            token: issued["token"].as_str().unwrap().to_owned(),
        }
    }

    /// A bet of 0.01 with transaction id `id`, sent to `base`.
    async fn bet(&self, http: &Client, base: &str, id: &str) -> Sent {
        let body = json!({"token": self.token, "transaction_id": id, "round_id": format!("round-{id}"),
            "game": "slots", "currency": "EUR", "amount": "0.01"})
        .to_string();
        let mut request = http
            .post(format!("{base}/wallet/v1/bet"))
            .timeout(Duration::from_secs(3))
            .body(body.clone());
        for (name, value) in self.aggregator.headers(body.as_bytes(), now_ms()) {
            request = request.header(name, value);
        }
        let Ok(reply) = request.send().await else {
            return Sent::Retry(None);
        };
        let status = reply.status();
        let leader = named_leader(&reply);
        let bytes = reply.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        match status {
            StatusCode::OK => Sent::Acknowledged(bytes),
            StatusCode::SERVICE_UNAVAILABLE => Sent::Retry(leader),
            other => panic!("bet {id}: {other} {}", String::from_utf8_lossy(&bytes)),
        }
    }

    /// Sends bet `id` until some member acknowledges it (following leader
    /// hints, else trying each member in turn), within 20 s.
    async fn bet_until_acknowledged(&self, group: &Group, base: &mut String, id: &str) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut next = 0;
        loop {
            match self.bet(&group.http, base, id).await {
                Sent::Acknowledged(bytes) => return bytes,
                Sent::Retry(Some(leader)) => *base = leader,
                Sent::Retry(None) => {
                    let live: Vec<String> = group.live().map(Member::api).collect();
                    next = (next + 1) % live.len();
                    *base = live[next].clone();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            assert!(Instant::now() < deadline, "bet {id} was never acknowledged");
        }
    }
}

/// The cluster secret's key and a call's signature, as a member signs.
fn signed_headers(
    secret: &str,
    cluster: &str,
    key_check: &str,
    from: u64,
    to: u64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let key = protocol::signature::Secret(Sha256::digest(secret.as_bytes()).into());
    let timestamp = now_ms();
    let mut signed = format!("{cluster}.{from}.{to}.{key_check}.").into_bytes();
    signed.extend_from_slice(body);
    vec![
        ("x-croupier-cluster", cluster.to_owned()),
        ("x-croupier-node", from.to_string()),
        ("x-croupier-target", to.to_string()),
        ("x-croupier-key-check", key_check.to_owned()),
        ("x-croupier-timestamp", timestamp.to_string()),
        (
            "x-croupier-signature",
            protocol::signature::sign(&key, timestamp, &signed),
        ),
    ]
}

fn cash_of(reply: &[u8]) -> String {
    let value: Value = serde_json::from_slice(reply).unwrap();
    value["cash"].as_str().unwrap().to_owned()
}

/// One leader-kill round: bets under way, the leader killed, a new one
/// within the limit, every bet acknowledged, the old leader back as a
/// follower. Returns the fail-over time.
async fn kill_round(
    group: &mut Group,
    wallet: &Wallet,
    round: usize,
    acknowledged: &mut BTreeMap<String, Vec<u8>>,
) -> Duration {
    let old = group.leader(Duration::from_secs(10)).await.expect("a leader");
    let mut base = group.member(old).api();
    for n in 0..15 {
        let id = format!("r{round}-before-{n}");
        let reply = wallet.bet_until_acknowledged(group, &mut base, &id).await;
        acknowledged.insert(id, reply);
    }
    // A bet in flight while the leader dies: its outcome is unknown until
    // retried with the same id.
    let in_flight = {
        let (http, base, wallet_token) = (group.http.clone(), base.clone(), wallet.token.clone());
        let aggregator = wallet.aggregator.clone();
        let player = wallet.player;
        let id = format!("r{round}-in-flight");
        tokio::spawn(async move {
            let wallet = Wallet {
                aggregator,
                player,
                token: wallet_token,
            };
            let _ = wallet.bet(&http, &base, &id).await;
        })
    };
    group.kill(old);
    let killed = Instant::now();
    let _ = in_flight.await;
    // The first write the new leader acknowledges.
    let id = format!("r{round}-after-0");
    let reply = wallet.bet_until_acknowledged(group, &mut base, &id).await;
    let failover = killed.elapsed();
    acknowledged.insert(id, reply);
    let new = group.leader(Duration::from_secs(1)).await.expect("a new leader");
    assert_ne!(new, old, "round {round}: the dead leader still leads");
    assert!(failover < FAILOVER_LIMIT, "round {round}: fail-over took {failover:?}");
    let id = format!("r{round}-in-flight");
    let reply = wallet.bet_until_acknowledged(group, &mut base, &id).await;
    acknowledged.insert(id, reply);
    for n in 1..10 {
        let id = format!("r{round}-after-{n}");
        let reply = wallet.bet_until_acknowledged(group, &mut base, &id).await;
        acknowledged.insert(id, reply);
    }
    // The old leader comes back on its data directory and follows.
    let index = (old - 1) as usize;
    group.spawn(index);
    failover
}

async fn check_group(group: &Group, wallet: &Wallet, acknowledged: &BTreeMap<String, Vec<u8>>) {
    // Every acknowledged bet, retried with its id, gets its original reply.
    let leader = group.leader(Duration::from_secs(10)).await.expect("a leader");
    let mut base = group.member(leader).api();
    for (id, reply) in acknowledged {
        let again = wallet.bet_until_acknowledged(group, &mut base, id).await;
        assert_eq!(
            String::from_utf8_lossy(&again),
            String::from_utf8_lossy(reply),
            "bet {id}: another reply on retry"
        );
    }
    // Money is conserved: each bet took 0.01 exactly once.
    let expected_cents = 10_000 - acknowledged.len() as i64;
    let expected = format!("{}.{:02}", expected_cents / 100, expected_cents % 100);
    let last = acknowledged
        .values()
        .map(|reply| cash_of(reply))
        .min_by_key(|cash| cash.replace('.', "").parse::<i64>().unwrap())
        .unwrap();
    assert_eq!(last, expected, "the lowest balance any reply showed");
    // Every member reaches the same ledger, and its read model the same
    // balance (a follower's read says how current it is).
    let converged = group.converged().await;
    let digests: Vec<&String> = converged.values().map(|(_, digest)| digest).collect();
    assert!(
        digests.windows(2).all(|w| w[0] == w[1]),
        "digests differ: {converged:?}"
    );
    for member in group.live() {
        let path = format!("/operator/v1/players/{}/balance?currency=EUR", wallet.player);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let reply = group.op(&member.api(), reqwest::Method::GET, &path, None).await;
            let status = reply.status();
            let balance: Value = serde_json::from_slice(&reply.bytes().await.unwrap()).unwrap();
            // A member that just installed a snapshot may answer 503 (its
            // read model behind, `view_behind`) until it has caught up.
            let busy = status == StatusCode::SERVICE_UNAVAILABLE;
            assert!(
                status == StatusCode::OK || busy,
                "node {}: {status} {balance}",
                member.id
            );
            if status == StatusCode::OK && balance["cash"] == expected.as_str() {
                assert!(balance["as_of_seq"].as_u64().is_some(), "{balance}");
                break;
            }
            assert!(Instant::now() < deadline, "node {}: {status} {balance}", member.id);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_process_group_fails_over_without_losing_an_acknowledged_write() {
    let mut group = Group::start().await;
    let leader = group.leader(Duration::from_secs(10)).await.unwrap();
    let leader_api = group.member(leader).api();
    let wallet = Wallet::set_up(&group, &leader_api).await;
    // (A follower checks the game-launch token in its own copy first.)
    group.converged().await;

    // A follower turns writes away, naming the leader; it serves reads.
    let follower = group.members.iter().find(|m| m.id != leader).unwrap();
    match wallet.bet(&group.http, &follower.api(), "to-a-follower").await {
        Sent::Retry(Some(named)) => assert_eq!(named, leader_api),
        _ => panic!("a follower took a write"),
    }
    let refused = group
        .op(
            &follower.api(),
            reqwest::Method::POST,
            "/operator/v1/players",
            Some(json!({"currency": "EUR", "jurisdiction": "MT"})),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(refused.headers()["x-croupier-leader"], leader_api.as_str());
    let body: Value = serde_json::from_slice(&refused.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "not_leader");
    assert_eq!(body["error"]["leader"], leader_api.as_str());
    let status = group.status_within(follower).await;
    assert_eq!(status["role"], "follower");
    assert_eq!(status["leader"], leader);
    assert_eq!(status["members"].as_array().unwrap().len(), 3);
    let on_leader = group.status_within(group.member(leader)).await;
    for member in on_leader["members"].as_array().unwrap() {
        if member["id"] != leader {
            for lag in ["lag_entries", "lag_bytes", "lag_ms"] {
                assert!(member[lag].as_u64().is_some(), "{lag}: {member}");
            }
        }
    }
    let metrics = group
        .http
        .get(format!("{}/metrics", group.member(leader).api()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("croupier_cluster_is_leader 1"), "{metrics}");
    assert!(
        metrics.contains("croupier_cluster_member_lag_bytes{member="),
        "{metrics}"
    );
    assert!(metrics.contains("croupier_cluster_member_lag_ms{member="), "{metrics}");

    let rounds = if std::env::var("CROUPIER_SOAK").is_ok_and(|v| v == "1") {
        20
    } else {
        1
    };
    let mut acknowledged = BTreeMap::new();
    let mut failovers = Vec::new();
    for round in 0..rounds {
        failovers.push(kill_round(&mut group, &wallet, round, &mut acknowledged).await);
        check_group(&group, &wallet, &acknowledged).await;
    }
    failovers.sort();
    eprintln!(
        "cluster: {rounds} leader kills, fail-over (kill → first write acknowledged by the new leader): median {:?}, max {:?}",
        failovers[failovers.len() / 2],
        failovers[failovers.len() - 1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_with_the_wrong_secret_or_another_cluster_is_refused_and_nothing_is_applied() {
    let group = Group::start().await;
    let leader = group.leader(Duration::from_secs(10)).await.unwrap();
    let follower = group.members.iter().find(|m| m.id != leader).unwrap();
    let before = group.status_within(follower).await;
    let url = format!("http://127.0.0.1:{}/raft/v1/append", follower.raft_port);
    let body = b"not even CBOR".to_vec();
    let check = key_check(&group.master_key);
    let other_key = group.master_key.with_file_name("another-master-key");
    write_master_key(&other_key, 0x5a);
    let other_check = key_check(&other_key);
    let call = |headers: Vec<(&'static str, String)>| {
        let mut request = group.http.post(&url).body(body.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let cases = [
        (
            signed_headers(
                "another-secret-0123456789",
                CLUSTER_NAME,
                &check,
                leader,
                follower.id,
                &body,
            ),
            401,
            "bad_signature",
        ),
        (
            signed_headers(SECRET, "other-cluster", &check, leader, follower.id, &body),
            403,
            "other_cluster",
        ),
        (
            signed_headers(SECRET, CLUSTER_NAME, &check, 9, follower.id, &body),
            403,
            "not_a_member",
        ),
        (
            signed_headers(SECRET, CLUSTER_NAME, &check, leader, 9, &body),
            403,
            "other_node",
        ),
        // Signed right by a member with another PAM master key.
        (
            signed_headers(SECRET, CLUSTER_NAME, &other_check, leader, follower.id, &body),
            403,
            "master_key_mismatch",
        ),
        // Signed right, but not an append: refused before Raft sees it.
        (
            signed_headers(SECRET, CLUSTER_NAME, &check, leader, follower.id, &body),
            400,
            "refused",
        ),
    ];
    for (headers, status, code) in cases {
        let reply = call(headers).await.unwrap();
        assert_eq!(reply.status().as_u16(), status, "{code}");
        let answer: Value = serde_json::from_slice(&reply.bytes().await.unwrap()).unwrap();
        assert_eq!(answer["error"]["code"], code);
    }
    // Nothing was applied, and the group still works. (The term is not
    // compared: on a loaded machine an election may come of a late
    // heartbeat; the refusals above never reached Raft.)
    let after = group.status_within(follower).await;
    assert_eq!(after["applied_seq"], before["applied_seq"]);
    let leader_api = group.member(leader).api();
    let (status, reply) = group
        .write(
            &leader_api,
            reqwest::Method::POST,
            "/operator/v1/players",
            json!({"currency": "EUR", "jurisdiction": "MT"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    group.converged().await;
}

/// Sends `signal` (`STOP`, `CONT`) to member `id`'s process.
fn signal(group: &Group, id: u64, signal: &str) {
    let pid = group.member(id).child.as_ref().expect("a live member").id();
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
    if signal == "STOP" {
        // kill returns once the signal is queued; the process stops when
        // its threads next run, which on a loaded machine can be after
        // one of them has taken another request. Frozen means every
        // thread stopped.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !all_threads_stopped(pid) {
            assert!(Instant::now() < deadline, "node {id} did not stop");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Whether every thread of process `pid` is stopped (state `T` in
/// `/proc/<pid>/task/<tid>/stat`).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().all(|task| {
        std::fs::read_to_string(task.path().join("stat"))
            .ok()
            .and_then(|stat| stat.rsplit_once(") ").map(|(_, rest)| rest.starts_with('T')))
            .unwrap_or(true)
    })
}

/// Member `id`'s journal: verified (checksums, chain), then every batch.
fn journal_of(group: &Group, id: u64) -> Vec<journal::Batch> {
    let dir = &group.member(id).dir;
    let report = journal::verify(dir).unwrap();
    assert!(report.corruption.is_none(), "node {id}: {report:?}");
    journal::Reader::open(dir)
        .unwrap()
        .batches()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

/// Waits until the leader is `id`, within 10 s.
async fn await_leader(group: &Group, id: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while group.leader(Duration::from_secs(1)).await != Some(id) {
        assert!(Instant::now() < deadline, "node {id} did not take over");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leadership_is_handed_over_a_restarted_follower_catches_up_and_a_deposed_leader_acknowledges_nothing() {
    let mut group = Group::start().await;
    let first = group.leader(Duration::from_secs(10)).await.unwrap();
    let mut base = group.member(first).api();
    let wallet = Wallet::set_up(&group, &base).await;
    group.converged().await;
    let mut acknowledged = BTreeMap::new();
    let reply = wallet.bet_until_acknowledged(&group, &mut base, "t-before").await;
    acknowledged.insert("t-before".to_owned(), reply);

    // A manual transfer: writes continue at the new leader, and a retry
    // there gets the original reply byte for byte.
    let second = group.members.iter().map(|m| m.id).find(|&id| id != first).unwrap();
    let asked = group
        .op(
            &group.member(first).api(),
            reqwest::Method::POST,
            "/operator/v1/cluster/transfer-leader",
            Some(json!({"to": second})),
        )
        .await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    await_leader(&group, second).await;
    match wallet
        .bet(&group.http, &group.member(first).api(), "t-to-the-old")
        .await
    {
        Sent::Retry(_) => {}
        Sent::Acknowledged(_) => panic!("the leader that handed over took a write"),
    }
    let mut base = group.member(second).api();
    for id in ["t-before", "t-after"] {
        let reply = wallet.bet_until_acknowledged(&group, &mut base, id).await;
        if let Some(original) = acknowledged.get(id) {
            assert_eq!(reply, *original, "{id}: another reply after the transfer");
        }
        acknowledged.insert(id.to_owned(), reply);
    }

    // A follower killed while writes go on catches up when it comes back.
    let follower = group.members.iter().map(|m| m.id).find(|&id| id != second).unwrap();
    group.kill(follower);
    for n in 0..5 {
        let id = format!("t-while-down-{n}");
        let reply = wallet.bet_until_acknowledged(&group, &mut base, &id).await;
        acknowledged.insert(id, reply);
    }
    group.spawn((follower - 1) as usize);

    // A deposed leader acknowledges nothing: frozen, it loses office; a
    // bet that reached it meanwhile is refused once it runs again.
    signal(&group, second, "STOP");
    let held = {
        let (http, wallet_base) = (group.http.clone(), group.member(second).api());
        let (aggregator, player, token) = (wallet.aggregator.clone(), wallet.player, wallet.token.clone());
        tokio::spawn(async move {
            let wallet = Wallet {
                aggregator,
                player,
                token,
            };
            wallet.bet(&http, &wallet_base, "t-held").await
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let third = loop {
        let mut found = None;
        for member in group.live().filter(|m| m.id != second) {
            if let Some(status) = group.status(member).await
                && status["role"] == "leader"
            {
                found = Some(member.id);
            }
        }
        if let Some(id) = found {
            break id;
        }
        assert!(
            Instant::now() < deadline,
            "no new leader while node {second} was frozen"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut base = group.member(third).api();
    let reply = wallet.bet_until_acknowledged(&group, &mut base, "t-new-office").await;
    acknowledged.insert("t-new-office".to_owned(), reply);
    signal(&group, second, "CONT");
    match held.await.unwrap() {
        Sent::Retry(_) => {}
        Sent::Acknowledged(body) => panic!(
            "the deposed leader acknowledged a bet: {}",
            String::from_utf8_lossy(&body)
        ),
    }
    let reply = wallet.bet_until_acknowledged(&group, &mut base, "t-held").await;
    acknowledged.insert("t-held".to_owned(), reply);

    // Every acknowledged bet once, the same ledger everywhere, and the
    // same journal, byte for byte, on every node.
    check_group(&group, &wallet, &acknowledged).await;
    let journals: Vec<_> = group.members.iter().map(|m| journal_of(&group, m.id)).collect();
    assert!(journals[0].len() > 10, "{} batches", journals[0].len());
    for (member, journal) in group.members.iter().zip(&journals).skip(1) {
        assert!(
            journal == &journals[0],
            "node {}'s journal differs from node 1's",
            member.id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_is_added_while_writes_go_on_and_the_leader_is_removed() {
    use reqwest::Method;
    let mut group = Group::start().await;
    let first = group.leader(Duration::from_secs(10)).await.unwrap();
    let mut base = group.member(first).api();
    let wallet = Wallet::set_up(&group, &base).await;
    let mut acknowledged = BTreeMap::new();
    for n in 0..5 {
        let id = format!("t-three-{n}");
        let reply = wallet.bet_until_acknowledged(&group, &mut base, &id).await;
        acknowledged.insert(id, reply);
    }

    // Node 4 starts to join: it waits, and the group goes on without it.
    let root = group.member(1).dir.parent().unwrap().to_path_buf();
    group.members.push(Member {
        id: 4,
        api_port: free_port(),
        raft_port: free_port(),
        dir: root.join("node-4"),
        child: None,
        joining: true,
    });
    group.spawn(3);
    let request = json!({"id": 4, "raft_addr": format!("127.0.0.1:{}", group.member(4).raft_port),
        "api_url": group.member(4).api()});

    // Bad requests and the wrong node change nothing.
    let follower = group.members[..3].iter().map(|m| m.id).find(|&id| id != first).unwrap();
    let turned = group
        .op(
            &group.member(follower).api(),
            Method::POST,
            "/operator/v1/cluster/members",
            Some(request.clone()),
        )
        .await;
    assert_eq!(turned.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        named_leader(&turned).as_deref(),
        Some(group.member(first).api().as_str())
    );
    for (bad, why) in [
        (
            json!({"id": 4, "raft_addr": "no-port", "api_url": group.member(4).api()}),
            "raft_addr",
        ),
        (
            json!({"id": 4, "raft_addr": "127.0.0.1:1", "api_url": "ftp://x"}),
            "api_url",
        ),
        (
            json!({"id": 0, "raft_addr": "127.0.0.1:1", "api_url": "http://x"}),
            "node id",
        ),
    ] {
        let refused = group
            .op(&base, Method::POST, "/operator/v1/cluster/members", Some(bad))
            .await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        let answer: Value = serde_json::from_slice(&refused.bytes().await.unwrap()).unwrap();
        assert!(answer["error"]["message"].as_str().unwrap().contains(why), "{answer}");
    }
    let unknown = group
        .op(&base, Method::DELETE, "/operator/v1/cluster/members/9", None)
        .await;
    assert_eq!(unknown.status(), StatusCode::CONFLICT);
    let answer: Value = serde_json::from_slice(&unknown.bytes().await.unwrap()).unwrap();
    assert_eq!(answer["error"]["code"], "membership_refused", "{answer}");

    // Added while bets keep coming: it receives the whole log, then votes.
    let adding = {
        let (http, base, admin) = (group.http.clone(), base.clone(), group.admin.clone());
        let request = request.clone();
        tokio::spawn(async move {
            let reply = http
                .post(format!("{base}/operator/v1/cluster/members"))
                .bearer_auth(admin)
                .timeout(Duration::from_secs(70))
                .header("content-type", "application/json")
                .body(request.to_string())
                .send()
                .await
                .unwrap();
            let status = reply.status();
            let answer: Value = serde_json::from_slice(&reply.bytes().await.unwrap()).unwrap();
            (status, answer)
        })
    };
    for n in 0..5 {
        let id = format!("t-adding-{n}");
        let reply = wallet.bet_until_acknowledged(&group, &mut base, &id).await;
        acknowledged.insert(id, reply);
    }
    let (status, added) = adding.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{added}");
    assert_eq!(added["voters"], json!([1, 2, 3, 4]));
    let again = group
        .op(&base, Method::POST, "/operator/v1/cluster/members", Some(request))
        .await;
    assert_eq!(again.status(), StatusCode::OK, "adding a voter again changes nothing");
    group.converged().await;
    let seen = group.status_within(group.member(4)).await;
    assert_eq!(seen["role"], "follower", "{seen}");
    let listed = seen["members"].as_array().unwrap();
    assert_eq!(listed.len(), 4, "{seen}");
    let four = listed.iter().find(|m| m["id"] == 4).unwrap();
    assert_eq!(four["api_url"], group.member(4).api().as_str());

    // The leader removes itself: it steps down, and the other three go on.
    let removed = group
        .op(
            &base,
            Method::DELETE,
            &format!("/operator/v1/cluster/members/{first}"),
            None,
        )
        .await;
    assert_eq!(removed.status(), StatusCode::OK);
    let answer: Value = serde_json::from_slice(&removed.bytes().await.unwrap()).unwrap();
    let voters: Vec<u64> = answer["voters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(voters.len(), 3, "{answer}");
    assert!(!voters.contains(&first), "{answer}");
    group.kill(first);
    let mut base = group.live().next().unwrap().api();
    for n in 0..5 {
        let id = format!("t-after-removal-{n}");
        let reply = wallet.bet_until_acknowledged(&group, &mut base, &id).await;
        acknowledged.insert(id, reply);
    }
    let new_leader = group.leader(Duration::from_secs(10)).await.unwrap();
    assert_ne!(new_leader, first);
    let status = group.status_within(group.member(new_leader)).await;
    let ids: Vec<u64> = status["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .collect();
    assert!(!ids.contains(&first), "{status}");

    // Every acknowledged bet once, one ledger, and node 4's journal the
    // same bytes as the others'.
    check_group(&group, &wallet, &acknowledged).await;
    let journals: Vec<_> = group.live().map(|m| journal_of(&group, m.id)).collect();
    assert!(
        journals.windows(2).all(|pair| pair[0] == pair[1]),
        "the journals differ"
    );
}

/// `chattr +i` on a directory (even root can then create no file in it),
/// undone when dropped.
struct Immutable(PathBuf);

impl Immutable {
    /// `None` where the file system or the container does not allow it.
    fn set(dir: &std::path::Path) -> Option<Immutable> {
        let done = Command::new("chattr").arg("+i").arg(dir).stderr(Stdio::null()).status();
        done.is_ok_and(|status| status.success())
            .then(|| Immutable(dir.to_path_buf()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_whose_raft_storage_fails_exits_and_rejoins_once_restarted() {
    let mut group = Group::start().await;
    let leader = group.leader(Duration::from_secs(10)).await.unwrap();
    let mut base = group.member(leader).api();
    let wallet = Wallet::set_up(&group, &base).await;
    let mut acknowledged = BTreeMap::new();
    let reply = wallet.bet_until_acknowledged(&group, &mut base, "t-before").await;
    acknowledged.insert("t-before".to_owned(), reply);
    group.converged().await;

    // The follower's raft directory takes no new file: its next vote cannot
    // be saved, a storage error openraft treats as fatal.
    let follower = group.members.iter().map(|m| m.id).find(|&id| id != leader).unwrap();
    let Some(frozen) = Immutable::set(&group.member(follower).dir.join("raft")) else {
        eprintln!("chattr +i is not allowed here: the fault cannot be injected, skipped");
        return;
    };
    group.kill(leader);
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        let child = group.members[(follower - 1) as usize].child.as_mut().unwrap();
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "node {follower} lives on with a failed Raft");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    drop(frozen);
    assert!(!exit.success(), "node {follower} exited with {exit}");
    group.members[(follower - 1) as usize].child = None;

    // Restarted, both come back; nothing acknowledged is lost.
    group.spawn((follower - 1) as usize);
    group.spawn((leader - 1) as usize);
    let mut base = group.live().next().unwrap().api();
    let reply = wallet.bet_until_acknowledged(&group, &mut base, "t-after").await;
    acknowledged.insert("t-after".to_owned(), reply);
    check_group(&group, &wallet, &acknowledged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_follower_is_sent_a_snapshot_and_its_journal_starts_there() {
    let extra = ["--cluster-snapshot-every-entries", "8"].map(str::to_owned).to_vec();
    let mut group = Group::start_with(extra).await;
    let leader = group.leader(Duration::from_secs(10)).await.unwrap();
    let mut base = group.member(leader).api();
    let wallet = Wallet::set_up(&group, &base).await;
    let mut acknowledged = BTreeMap::new();
    for n in 0..10 {
        let id = format!("t-first-{n}");
        let reply = wallet.bet_until_acknowledged(&group, &mut base, &id).await;
        acknowledged.insert(id, reply);
    }
    // A player with a profile: its data key is outside the journal.
    let profile = json!({
        "name": "Grace Hopper", "email": "grace@example.org", "phone": "+447700900456",
        "date_of_birth": "1985-12-09",
        "address": {"line": "1 Harbour Row", "city": "Whitby", "postcode": "YO22 4AB"},
        "country": "GB", "language": "en-GB",
        "marketing": {"email": false, "sms": false, "phone": false, "post": false}
    });
    let (status, reply) = group
        .write(
            &base,
            reqwest::Method::POST,
            "/operator/v1/registrations",
            json!({"currency": "GBP", "jurisdiction": "GB", "profile": profile}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let player = reply["player"].as_u64().unwrap();
    // The data key is on a majority before the registration is answered,
    // whichever member led it (an election under a loaded machine may have
    // moved the lead since `leader` was read).
    let keys: Vec<Vec<String>> = group.members.iter().map(|m| key_files(&group, m.id)).collect();
    let key = keys.iter().find(|files| !files.is_empty()).cloned().unwrap_or_default();
    assert_eq!(key.len(), 1, "{keys:?}");
    assert!(keys.iter().filter(|files| **files == key).count() >= 2, "{keys:?}");
    group.converged().await;

    // A follower loses its disk; the group goes on well past a snapshot.
    let leader = group.leader(Duration::from_secs(10)).await.unwrap();
    base = group.member(leader).api();
    let wiped = group.members.iter().map(|m| m.id).find(|&id| id != leader).unwrap();
    group.kill(wiped);
    std::fs::remove_dir_all(&group.member(wiped).dir).unwrap();
    for n in 0..40 {
        let id = format!("t-while-wiped-{n}");
        let reply = wallet.bet_until_acknowledged(&group, &mut base, &id).await;
        acknowledged.insert(id, reply);
    }

    // Back on an empty directory, it is sent the newest snapshot and the
    // log after it: the same ledger, the same balances in its read model.
    group.spawn((wiped - 1) as usize);
    let reply = wallet.bet_until_acknowledged(&group, &mut base, "t-back").await;
    acknowledged.insert("t-back".to_owned(), reply);
    check_group(&group, &wallet, &acknowledged).await;
    let rebuilt = journal::verify(&group.member(wiped).dir).unwrap();
    assert!(rebuilt.is_ok(), "{rebuilt:?}");
    assert!(
        rebuilt.first_seq > 1,
        "node {wiped} replayed the whole log: {rebuilt:?}"
    );
    assert!(!engine::snapshot::list(&group.member(wiped).dir).unwrap().is_empty());
    // The snapshot names the player's data key: the member fetches it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while key_files(&group, wiped) != key {
        assert!(Instant::now() < deadline, "node {wiped} did not fetch the data key");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let read = profile_at(&group, &group.member(wiped).api(), player).await;
    assert_eq!(read["profile"]["name"], "Grace Hopper");
    for member in group.live() {
        let report = journal::verify(&member.dir).unwrap();
        assert!(report.is_ok(), "node {}: {report:?}", member.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_go_on_on_the_other_majority_while_a_follower_is_frozen() {
    let group = Group::start().await;
    let leader = group.leader(Duration::from_secs(10)).await.unwrap();
    let mut base = group.member(leader).api();
    let wallet = Wallet::set_up(&group, &base).await;
    let mut acknowledged = BTreeMap::new();
    // A follower stops answering (SIGSTOP: a stalled disk or machine); the
    // leader and the other follower are a majority and go on.
    let slow = group.members.iter().map(|m| m.id).find(|&id| id != leader).unwrap();
    signal(&group, slow, "STOP");
    for n in 0..10 {
        let id = format!("t-slow-{n}");
        match wallet.bet(&group.http, &base, &id).await {
            Sent::Acknowledged(reply) => {
                acknowledged.insert(id, reply);
            }
            Sent::Retry(_) => {
                // Only an election (a loaded machine) may turn a bet away.
                let reply = wallet.bet_until_acknowledged(&group, &mut base, &id).await;
                acknowledged.insert(id, reply);
            }
        }
    }
    let status = group.status_within(group.member(leader)).await;
    let lagging = status["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == slow)
        .cloned()
        .unwrap();
    if status["role"] == "leader" {
        assert!(lagging["lag_entries"].as_u64().unwrap() > 0, "{lagging}");
    }
    // Resumed, it catches up to the same ledger.
    signal(&group, slow, "CONT");
    check_group(&group, &wallet, &acknowledged).await;
}

/// The data key files in member `id`'s key store.
fn key_files(group: &Group, id: u64) -> Vec<String> {
    let dir = group.member(id).dir.join(pam::vault::KEY_DIR);
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".key"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Player `player`'s profile read at `base`, asked again until it is 200
/// (the read model may be a moment behind a new leader's ledger), within 10 s.
async fn profile_at(group: &Group, base: &str, player: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let path = format!("/operator/v1/players/{player}/profile");
        let reply = group.op(base, reqwest::Method::GET, &path, None).await;
        let status = reply.status();
        let body: Value = serde_json::from_slice(&reply.bytes().await.unwrap()).unwrap_or(Value::Null);
        if status == StatusCode::OK && !body["profile"].is_null() {
            return body;
        }
        assert!(Instant::now() < deadline, "no profile at {base}: {status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_open_on_a_new_leader_duplicates_stay_refused_and_erasure_destroys_every_copy_of_the_key() {
    use reqwest::Method;
    let mut group = Group::start().await;
    let first = group.leader(Duration::from_secs(10)).await.unwrap();
    let profile = json!({
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "phone": "+447700900123",
        "date_of_birth": "1990-05-17",
        "address": {"line": "12 Quayside Lane", "city": "Whitby", "postcode": "YO21 3PU"},
        "country": "GB",
        "language": "en-GB",
        "marketing": {"email": true, "sms": false, "phone": false, "post": true}
    });
    let registration = json!({"currency": "GBP", "jurisdiction": "GB", "profile": profile});
    // A follower is down while the player registers.
    let late = (1..=3).find(|&id| id != first).unwrap();
    group.kill(late);
    let (status, reply) = group
        .write_keyed(
            &group.member(first).api(),
            Method::POST,
            "/operator/v1/registrations",
            registration.clone(),
            "reg-ada",
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let player = reply["player"].as_u64().unwrap();
    // Acknowledged: the key is stored on a majority (the leader and at
    // least one other member), under one id everywhere.
    let on_leader = key_files(&group, first);
    assert_eq!(on_leader.len(), 1, "{on_leader:?}");
    let holders: Vec<u64> = (1..=3).filter(|&id| key_files(&group, id) == on_leader).collect();
    assert_eq!(holders.len(), 2, "the key is on {holders:?}");
    // Back, the follower fetches the key its ledger now names.
    group.spawn((late - 1) as usize);
    let deadline = Instant::now() + Duration::from_secs(15);
    while key_files(&group, late) != on_leader {
        assert!(Instant::now() < deadline, "node {late} did not fetch the key");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A member that lacks the key when a profile must be opened fetches it then.
    let key_dir = group.member(late).dir.join(pam::vault::KEY_DIR);
    std::fs::remove_file(key_dir.join(&on_leader[0])).unwrap();
    let read = profile_at(&group, &group.member(late).api(), player).await;
    assert_eq!(read["profile"]["name"], "Ada Lovelace");
    assert_eq!(key_files(&group, late), on_leader);

    // The leader dies: the new one opens the profile and still refuses the
    // same person twice (the blind indexes are the group's).
    group.kill(first);
    let second = group.leader(Duration::from_secs(10)).await.expect("a new leader");
    let base = group.member(second).api();
    let read = profile_at(&group, &base, player).await;
    assert_eq!(read["profile"]["name"], "Ada Lovelace");
    assert_eq!(read["profile"]["email"], "ada@example.org");
    assert_eq!(read["profile"]["address"]["postcode"], "YO21 3PU");
    let (status, reply) = group
        .write(&base, Method::POST, "/operator/v1/registrations", registration.clone())
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    assert_eq!(reply["error"]["code"], "duplicate_player");
    // Every live member can open it.
    for id in (1..=3).filter(|&id| id != first) {
        let read = profile_at(&group, &group.member(id).api(), player).await;
        assert_eq!(read["profile"]["name"], "Ada Lovelace", "node {id}");
        assert!(key_files(&group, id).contains(&on_leader[0]), "node {id}");
    }

    // A member started with another master key is refused, with an error
    // naming the file, before it touches its data directory's Raft state.
    let root = group.master_key.parent().unwrap().to_path_buf();
    let stranger_key = root.join("stranger-master-key");
    write_master_key(&stranger_key, 0x33);
    let index = (first - 1) as usize;
    let mut stranger = group.command(index, &stranger_key, &root.join("stranger"));
    let output = stranger
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("croupier serve runs");
    assert!(!output.status.success(), "a member with another master key started");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        printed.contains("differs from the group's") && printed.contains("stranger-master-key"),
        "{printed}"
    );
    assert!(
        !root.join("stranger").join("raft").exists(),
        "its Raft state was not made"
    );

    // The old leader comes back (the group's key) and catches up.
    group.spawn(index);
    group.converged().await;

    // A leader that lacks the key a retried registration's id derives
    // fetches the group's (a new one made in its place would overwrite the
    // copies the profile opens with): the retry gets the same player.
    let key_path = |id: u64| group.member(id).dir.join(pam::vault::KEY_DIR).join(&on_leader[0]);
    let wrapped = std::fs::read(key_path(second)).unwrap();
    let third = (1..=3).find(|&id| id != second && id != first).unwrap();
    std::fs::remove_file(key_path(third)).unwrap();
    let asked = group
        .op(
            &base,
            Method::POST,
            "/operator/v1/cluster/transfer-leader",
            Some(json!({"to": third})),
        )
        .await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    await_leader(&group, third).await;
    let base = group.member(third).api();
    let (status, reply) = group
        .write_keyed(
            &base,
            Method::POST,
            "/operator/v1/registrations",
            registration.clone(),
            "reg-ada",
        )
        .await;
    assert_eq!(
        (status, reply["player"].as_u64()),
        (StatusCode::CREATED, Some(player)),
        "{reply}"
    );
    for id in 1..=3 {
        assert_eq!(
            std::fs::read(key_path(id)).ok().as_ref(),
            Some(&wrapped),
            "node {id}'s key"
        );
        let read = profile_at(&group, &group.member(id).api(), player).await;
        assert_eq!(read["profile"]["name"], "Ada Lovelace", "node {id}");
    }

    // Erasure, journaled, destroys the key on every member as it applies.
    let (status, reply) = group
        .write(
            &base,
            Method::POST,
            &format!("/operator/v1/players/{player}/erasure"),
            json!({"reason": "GDPR request 11"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["data_key_destroyed"], true);
    group.converged().await;
    for id in 1..=3 {
        // (The refused duplicate's key, derived from its Idempotency-Key,
        // stays for a retry: it seals nothing the ledger holds.)
        assert!(
            !key_files(&group, id).contains(&on_leader[0]),
            "node {id} keeps the key"
        );
    }
    let path = format!("/operator/v1/players/{player}/profile");
    let read: Value =
        serde_json::from_slice(&group.op(&base, Method::GET, &path, None).await.bytes().await.unwrap()).unwrap();
    assert_eq!((read["erased"].as_bool(), &read["profile"]), (Some(true), &Value::Null));
}

/// A follower answers every contract's wallet call 503 `not_leader` (as
/// its engine would) before authenticating: its view may not hold an
/// aggregator or a session the leader has just made, and a 401 or a
/// partner's "invalid token" for one that exists would be final for the
/// aggregator, where a 503 naming the leader is retried there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_answers_wallet_calls_not_leader_before_authenticating() {
    let group = Group::start().await;
    let leader = group.leader(Duration::from_secs(10)).await.unwrap();
    let follower = group.members.iter().find(|m| m.id != leader).unwrap().api();
    // Aggregator 999 exists nowhere: the leader would refuse it, the
    // follower must not be the one to say so.
    let calls = [
        ("/wallet/v1/bet", "application/json", r#"{"token":"t"}"#),
        ("/hub88/999/transaction/bet", "application/json", "{}"),
        (
            "/pragmatic/999/bet.html",
            "application/x-www-form-urlencoded",
            "userId=u&hash=x",
        ),
        ("/evolution/999/debit?authToken=x", "application/json", "{}"),
    ];
    for (path, content_type, body) in calls {
        let reply = group
            .http
            .post(format!("{follower}{path}"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        // The native API names the leader; a partner's reply has its own
        // shape (its retryable error), and a load balancer retries it.
        if path.starts_with("/wallet/") {
            assert!(named_leader(&reply).is_some(), "{path}: the leader is named");
        }
    }
    // The leader itself refuses the unknown aggregator (once its
    // sequencer runs: elected is a moment before leading).
    let leader_api = group.member(leader).api();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = group
            .http
            .post(format!("{leader_api}/wallet/v1/bet"))
            .header("content-type", "application/json")
            .body(r#"{"token":"t"}"#)
            .send()
            .await
            .unwrap();
        if reply.status() != StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
            break;
        }
        assert!(Instant::now() < deadline, "the leader never led");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
