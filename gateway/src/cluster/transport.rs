//! Raft's RPCs between the members of a replication group: HTTP/2
//! (cleartext, prior knowledge) on each node's own raft listener, apart
//! from the API's.
//!
//! Every call is `POST /raft/v1/<rpc>` with the cluster's name, the sender's
//! and the target's node ids, its PAM master-key check value and a
//! timestamp in headers, and an HMAC-SHA256 (`croupier-protocol`'s signing,
//! keyed with SHA-256 of the cluster secret) over
//! `"{timestamp}.{cluster}.{from}.{to}.{key_check}." + body`. A call from
//! another cluster, a node that is not a member, for another node, out of
//! the time window, or with a wrong signature is refused (403/401, logged at
//! most once a second) and never reaches Raft; so is a body that does not
//! decode or an append carrying a damaged batch (400).
//!
//! A signed call whose master-key check value ([`KEY_CHECK_HEADER`]:
//! HMAC-SHA256 of "croupier key check" under the PAM master key) differs
//! from the receiver's is refused (403 `master_key_mismatch`): the sender
//! could neither open the profiles the group sealed nor compute the same
//! blind indexes. The PAM key store's own calls, `pam-key-check`,
//! `pam-key-store` and `pam-key-fetch` ([`super::keys`]), travel the same
//! way, under the same checks.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use edge::error::ApiError;
use protocol::signature::{self, Secret};
use replication::network::{Rpc, Transport};
use replication::node::Node;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use crate::log_limit::LogLimit;

/// Header with the cluster's name.
pub const CLUSTER_HEADER: &str = "x-croupier-cluster";
/// Header with the sending node's id.
pub const FROM_HEADER: &str = "x-croupier-node";
/// Header with the target node's id.
pub const TO_HEADER: &str = "x-croupier-target";
/// Header with the sender's PAM master-key check value (hex).
pub const KEY_CHECK_HEADER: &str = "x-croupier-key-check";
/// The refusal's code for a sender whose PAM master key differs.
pub const KEY_MISMATCH: &str = "master_key_mismatch";

/// How far a call's timestamp may be from the receiver's clock.
const SIGNATURE_WINDOW_MS: u64 = 30_000;
/// Largest RPC body: a snapshot, or an append of many batches.
const RPC_BODY_LIMIT_BYTES: usize = 1 << 30;
/// Longest a call may take before the peer counts as unreachable (Raft
/// retries); a heartbeat is answered in well under a millisecond on a LAN.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Who this node is to its peers, and the secret they share.
#[derive(Clone)]
pub struct Credentials {
    /// The cluster's name.
    pub cluster: String,
    /// This node's id.
    pub node_id: u64,
    /// The members' ids.
    pub members: Vec<u64>,
    /// This node's PAM master-key check value, hex.
    pub key_check: String,
    secret: Secret,
}

impl Credentials {
    /// Credentials from the configured secret (any length: SHA-256 makes
    /// the key) and the PAM master key's check value.
    pub fn new(cluster: String, node_id: u64, members: Vec<u64>, secret: &[u8], key_check: [u8; 32]) -> Credentials {
        Credentials {
            cluster,
            node_id,
            members,
            key_check: hex::encode(key_check),
            secret: Secret(Sha256::digest(secret).into()),
        }
    }

    fn signed_bytes(&self, from: u64, to: u64, key_check: &str, body: &[u8]) -> Vec<u8> {
        let mut signed = format!("{}.{from}.{to}.{key_check}.", self.cluster).into_bytes();
        signed.extend_from_slice(body);
        signed
    }
}

/// Why a call to a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No answer (down, unreachable, timed out).
    #[error("node {target}: {source}")]
    Unreachable {
        /// The peer.
        target: u64,
        /// Why.
        source: reqwest::Error,
    },
    /// The peer answered with an error.
    #[error("node {target} refused {rpc}: {status} {text}")]
    Refused {
        /// The peer.
        target: u64,
        /// The call.
        rpc: String,
        /// Its status.
        status: StatusCode,
        /// Its body (the start of it).
        text: String,
    },
}

impl CallError {
    /// The peer refused the call because its PAM master key differs.
    pub fn master_key_differs(&self) -> bool {
        matches!(self, CallError::Refused { status, text, .. } if *status == StatusCode::FORBIDDEN && text.contains(KEY_MISMATCH))
    }

    /// The peer answered 404 (the key store: no such key).
    pub fn not_found(&self) -> bool {
        matches!(self, CallError::Refused { status, .. } if *status == StatusCode::NOT_FOUND)
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Sends RPCs to peers over HTTP/2.
#[derive(Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
    credentials: Arc<Credentials>,
}

impl HttpTransport {
    /// A transport signing with `credentials`.
    pub fn new(credentials: Credentials) -> Result<HttpTransport, reqwest::Error> {
        let client = reqwest::Client::builder()
            .http2_prior_knowledge()
            .timeout(CALL_TIMEOUT)
            .connect_timeout(Duration::from_secs(1))
            .build()?;
        Ok(HttpTransport {
            client,
            credentials: Arc::new(credentials),
        })
    }
}

impl HttpTransport {
    /// Sends the signed call `POST /raft/v1/{rpc}` to node `target` at
    /// `addr`; its reply's body.
    pub async fn post(&self, target: u64, addr: &str, rpc: &str, body: Vec<u8>) -> Result<Vec<u8>, CallError> {
        let credentials = &self.credentials;
        let timestamp = now_ms();
        let signed = credentials.signed_bytes(credentials.node_id, target, &credentials.key_check, &body);
        let mac = signature::sign(&credentials.secret, timestamp, &signed);
        let unreachable = |source| CallError::Unreachable { target, source };
        let response = self
            .client
            .post(format!("http://{addr}/raft/v1/{rpc}"))
            .header(CLUSTER_HEADER, &credentials.cluster)
            .header(FROM_HEADER, credentials.node_id)
            .header(TO_HEADER, target)
            .header(KEY_CHECK_HEADER, &credentials.key_check)
            .header(signature::TIMESTAMP_HEADER, timestamp)
            .header(signature::SIGNATURE_HEADER, mac)
            .body(body)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            return Err(CallError::Refused {
                target,
                rpc: rpc.to_owned(),
                status,
                text: String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned(),
            });
        }
        Ok(bytes.to_vec())
    }
}

impl Transport for HttpTransport {
    async fn call(&self, target: u64, addr: &str, rpc: Rpc, body: Vec<u8>) -> io::Result<Vec<u8>> {
        self.post(target, addr, rpc.name(), body)
            .await
            .map_err(|error| match error {
                CallError::Unreachable { source, .. } => io::Error::other(source),
                refused @ CallError::Refused { .. } => {
                    io::Error::new(io::ErrorKind::PermissionDenied, refused.to_string())
                }
            })
    }
}

/// What the raft listener's handler needs.
#[derive(Clone)]
struct Receiver {
    node: Node,
    credentials: Arc<Credentials>,
    vault: Arc<pam::Vault>,
}

/// Serves the raft listener until `stop` completes.
pub async fn serve(
    listener: TcpListener,
    node: Node,
    credentials: Credentials,
    vault: Arc<pam::Vault>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let receiver = Receiver {
        node,
        credentials: Arc::new(credentials),
        vault,
    };
    let router = Router::new()
        .route("/raft/v1/{rpc}", axum::routing::post(receive))
        .layer(DefaultBodyLimit::max(RPC_BODY_LIMIT_BYTES))
        .with_state(receiver);
    if let Err(error) = axum::serve(listener, router).with_graceful_shutdown(stop).await {
        tracing::error!(%error, "the raft listener failed");
    }
}

/// Binds the raft listener (before anything starts, so a port in use fails fast).
pub async fn bind(addr: SocketAddr) -> io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    Ok((listener, bound))
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Logs a refused call, at most once a second.
fn log_refused(why: &str, from: Option<&str>, cluster: Option<&str>) {
    static REFUSED: LogLimit = LogLimit::new();
    if let Some(suppressed) = REFUSED.admit() {
        tracing::warn!(
            why,
            from = from.unwrap_or("-"),
            cluster = cluster.unwrap_or("-"),
            suppressed,
            "raft: refused a call from a peer; nothing was applied"
        );
    }
}

/// Checks who sent a call; `Err` is the refusal to send back. The sender
/// must be a configured peer or a node of the group's current membership
/// (one added at run time).
fn authenticate(credentials: &Credentials, node: &Node, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let cluster = header(headers, CLUSTER_HEADER);
    let from = header(headers, FROM_HEADER);
    let refuse = |status: StatusCode, code: &'static str, why: &str| {
        log_refused(why, from, cluster);
        ApiError::new(status, code, why.to_owned())
    };
    if cluster != Some(credentials.cluster.as_str()) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "other_cluster",
            "the call names another cluster",
        ));
    }
    let from = from.and_then(|id| id.parse::<u64>().ok());
    let member = |id: &u64| credentials.members.contains(id) || node.known_node_ids().contains(id);
    let Some(from) = from.filter(|id| *id != credentials.node_id && member(id)) else {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "not_a_member",
            "the sender is not a member of this cluster",
        ));
    };
    let to = header(headers, TO_HEADER).and_then(|id| id.parse::<u64>().ok());
    if to != Some(credentials.node_id) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "other_node",
            "the call is for another node",
        ));
    }

    let timestamp = header(headers, signature::TIMESTAMP_HEADER).and_then(|t| t.parse::<u64>().ok());
    let mac = header(headers, signature::SIGNATURE_HEADER).and_then(|mac| hex::decode(mac).ok());
    let (Some(timestamp), Some(mac)) = (timestamp, mac) else {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "the call is not signed",
        ));
    };
    let key_check = header(headers, KEY_CHECK_HEADER).unwrap_or_default();
    let signed = credentials.signed_bytes(from, credentials.node_id, key_check, body);
    signature::verify(
        &credentials.secret,
        timestamp,
        &signed,
        &mac,
        now_ms(),
        SIGNATURE_WINDOW_MS,
    )
    .map_err(|error| refuse(StatusCode::UNAUTHORIZED, "bad_signature", &error.to_string()))?;
    // Signed by a member: now its master key may be compared with ours.
    if key_check != credentials.key_check {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            KEY_MISMATCH,
            "the sender's PAM master key differs from this node's: every member must use the group's master key",
        ));
    }
    Ok(())
}

async fn receive(
    State(receiver): State<Receiver>,
    Path(rpc): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = match (super::keys::KeyCall::from_name(&rpc), Rpc::from_name(&rpc)) {
        (Some(key_call), _) => Err(key_call),
        (None, Some(rpc)) => Ok(rpc),
        (None, None) => return ApiError::not_found("not_found", "no such RPC").into_response(),
    };
    if let Err(refused) = authenticate(&receiver.credentials, &receiver.node, &headers, &body) {
        return refused.into_response();
    }
    let rpc = match call {
        Ok(rpc) => rpc,
        Err(key_call) => return super::keys::answer(&receiver.vault, key_call, &body).await,
    };
    match receiver.node.answer(rpc, &body).await {
        Ok(reply) => (StatusCode::OK, reply).into_response(),
        Err(refused) => {
            log_refused(&refused.to_string(), header(&headers, FROM_HEADER), None);
            ApiError::bad_request("refused", refused.to_string()).into_response()
        }
    }
}
