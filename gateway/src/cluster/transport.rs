//! Raft's RPCs between the members of a replication group: HTTP/2
//! (cleartext, prior knowledge) on each node's own raft listener, apart
//! from the API's.
//!
//! Every call is `POST /raft/v1/<rpc>` with the cluster's name, the sender's
//! and the target's node ids and a timestamp in headers, and an HMAC-SHA256
//! (`croupier-protocol`'s signing, keyed with SHA-256 of the cluster
//! secret) over `"{timestamp}.{cluster}.{from}.{to}." + body`. A call from
//! another cluster, a node that is not a member, for another node, out of
//! the time window, or with a wrong signature is refused (403/401, logged at
//! most once a second) and never reaches Raft; so is a body that does not
//! decode or an append carrying a damaged batch (400).

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
    secret: Secret,
}

impl Credentials {
    /// Credentials from the configured secret (any length: SHA-256 makes the key).
    pub fn new(cluster: String, node_id: u64, members: Vec<u64>, secret: &[u8]) -> Credentials {
        Credentials {
            cluster,
            node_id,
            members,
            secret: Secret(Sha256::digest(secret).into()),
        }
    }

    fn signed_bytes(&self, from: u64, to: u64, body: &[u8]) -> Vec<u8> {
        let mut signed = format!("{}.{from}.{to}.", self.cluster).into_bytes();
        signed.extend_from_slice(body);
        signed
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

impl Transport for HttpTransport {
    async fn call(&self, target: u64, addr: &str, rpc: Rpc, body: Vec<u8>) -> io::Result<Vec<u8>> {
        let credentials = &self.credentials;
        let timestamp = now_ms();
        let signed = credentials.signed_bytes(credentials.node_id, target, &body);
        let mac = signature::sign(&credentials.secret, timestamp, &signed);
        let response = self
            .client
            .post(format!("http://{addr}/raft/v1/{}", rpc.name()))
            .header(CLUSTER_HEADER, &credentials.cluster)
            .header(FROM_HEADER, credentials.node_id)
            .header(TO_HEADER, target)
            .header(signature::TIMESTAMP_HEADER, timestamp)
            .header(signature::SIGNATURE_HEADER, mac)
            .body(body)
            .send()
            .await
            .map_err(io::Error::other)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(io::Error::other)?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned();
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("node {target} refused {}: {status} {text}", rpc.name()),
            ));
        }
        Ok(bytes.to_vec())
    }
}

/// What the raft listener's handler needs.
#[derive(Clone)]
struct Receiver {
    node: Node,
    credentials: Arc<Credentials>,
}

/// Serves the raft listener until `stop` completes.
pub async fn serve(
    listener: TcpListener,
    node: Node,
    credentials: Credentials,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let receiver = Receiver {
        node,
        credentials: Arc::new(credentials),
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
    let signed = credentials.signed_bytes(from, credentials.node_id, body);
    signature::verify(
        &credentials.secret,
        timestamp,
        &signed,
        &mac,
        now_ms(),
        SIGNATURE_WINDOW_MS,
    )
    .map_err(|error| refuse(StatusCode::UNAUTHORIZED, "bad_signature", &error.to_string()))
}

async fn receive(
    State(receiver): State<Receiver>,
    Path(rpc): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(rpc) = Rpc::from_name(&rpc) else {
        return ApiError::not_found("not_found", "no such RPC").into_response();
    };
    if let Err(refused) = authenticate(&receiver.credentials, &receiver.node, &headers, &body) {
        return refused.into_response();
    }
    match receiver.node.answer(rpc, &body).await {
        Ok(reply) => (StatusCode::OK, reply).into_response(),
        Err(refused) => {
            log_refused(&refused.to_string(), header(&headers, FROM_HEADER), None);
            ApiError::bad_request("refused", refused.to_string()).into_response()
        }
    }
}
