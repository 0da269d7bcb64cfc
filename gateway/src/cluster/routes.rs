//! The replication group's operator routes: `GET /operator/v1/cluster`
//! (members, roles, term, commit and applied positions, lag),
//! `POST /operator/v1/cluster/transfer-leader`, and adding and removing
//! members (`POST /operator/v1/cluster/members`,
//! `DELETE /operator/v1/cluster/members/{id}`); and its Prometheus lines.
//! On a single node they answer 409 `not_clustered`.

use std::fmt::Write as _;

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use edge::AppState;
use edge::body::{JsonBody, decode};
use edge::error::{ApiError, ErrorBody, json_response, to_json};
use edge::openapi::{BodyErrors, RoleErrors};
use edge::route::{Access, Route, route};
use engine::Role;
use replication::MemberAddress;
use replication::node::{MemberStatus, MembershipError, Role as NodeRole};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ClusterHandle;

const ADMIN: &[Role] = &[Role::Admin];

/// The group's routes.
pub fn routes() -> Vec<Route> {
    vec![
        route::<__path_cluster_status, _>(Access::Operator(ADMIN), cluster_status),
        route::<__path_transfer_leader, _>(Access::Operator(ADMIN), transfer_leader),
        route::<__path_add_member, _>(Access::Operator(ADMIN), add_member),
        route::<__path_remove_member, _>(Access::Operator(ADMIN), remove_member),
    ]
}

/// Where the group stands, as the answering node sees it.
#[derive(Serialize, ToSchema)]
pub struct ClusterStatus {
    /// The group's name.
    pub cluster: String,
    /// The answering node's id.
    pub node_id: u64,
    /// Its role: leader, follower, candidate, learner, shutdown.
    pub role: &'static str,
    /// The current term.
    pub term: u64,
    /// The leader's id, if known.
    pub leader: Option<u64>,
    /// The leader's API URL, if known.
    pub leader_api_url: Option<String>,
    /// The last index in the answering node's log.
    pub last_log_index: Option<u64>,
    /// The last index a majority committed, as it knows.
    pub committed_index: Option<u64>,
    /// The last index applied to its ledger.
    pub applied_index: Option<u64>,
    /// The ledger's last sequence number.
    pub applied_seq: u64,
    /// The ledger's digest (hex): equal on nodes at the same `applied_seq`.
    pub digest: String,
    /// Milliseconds since a quorum last acknowledged it (the leader only).
    pub quorum_ack_ms: Option<u64>,
    /// Every member.
    pub members: Vec<MemberReply>,
}

/// One member.
#[derive(Serialize, ToSchema)]
pub struct MemberReply {
    /// Its id.
    pub id: u64,
    /// Its raft address.
    pub raft_addr: String,
    /// Its API URL.
    pub api_url: Option<String>,
    /// Leader, follower (a voter) or learner (receiving the log while it
    /// catches up, without a vote), as far as the answering node knows.
    pub role: &'static str,
    /// The last log index known on it (the leader knows).
    pub matched_index: Option<u64>,
    /// Log entries (batches) it lacks of the leader's log (the leader knows).
    pub lag_entries: Option<u64>,
    /// Journal bytes of the batches it lacks (the leader knows).
    pub lag_bytes: Option<u64>,
    /// Milliseconds since the oldest batch it lacks was appended on the
    /// leader; 0 when it lacks none (the leader knows).
    pub lag_ms: Option<u64>,
    /// Milliseconds since it last acknowledged the leader (the leader knows).
    pub last_ack_ms: Option<u64>,
}

fn clustered(state: &AppState) -> Result<ClusterHandle, ApiError> {
    state.modules.get::<ClusterHandle>().cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "not_clustered",
            "this server runs as a single node (no [cluster] configured)",
        )
    })
}

/// The status of `handle`'s node.
pub fn status(handle: &ClusterHandle) -> ClusterStatus {
    let status = handle.node.status();
    let api_url = |id: u64| handle.api_url(id);
    ClusterStatus {
        cluster: handle.config.name.clone(),
        node_id: status.id,
        role: status.role.name(),
        term: status.term,
        leader: status.leader,
        leader_api_url: status.leader.and_then(api_url),
        last_log_index: status.last_log_index,
        committed_index: status.committed_index,
        applied_index: status.applied_index,
        applied_seq: status.applied_seq,
        digest: format!("{:016x}", status.digest),
        quorum_ack_ms: status.quorum_ack_ms,
        members: status
            .members
            .into_iter()
            .map(|member| MemberReply {
                role: if Some(member.id) == status.leader {
                    NodeRole::Leader.name()
                } else if member.voter {
                    NodeRole::Follower.name()
                } else {
                    NodeRole::Learner.name()
                },
                api_url: member
                    .api_url
                    .or_else(|| handle.config.api_url(member.id).map(str::to_owned)),
                id: member.id,
                raft_addr: member.raft_addr,
                matched_index: member.matched_index,
                lag_entries: member.lag_entries,
                lag_bytes: member.lag_bytes,
                lag_ms: member.lag_ms,
                last_ack_ms: member.last_ack_ms,
            })
            .collect(),
    }
}

/// The replication group as this node sees it.
#[utoipa::path(get, path = "/operator/v1/cluster", tag = "cluster", security(("bearer" = [])),
    responses((status = 200, body = ClusterStatus),
        (status = 401, body = ErrorBody, description = "unauthorized"),
        (status = 403, body = ErrorBody, description = "forbidden (admins only)"),
        (status = 409, body = ErrorBody, description = "not_clustered")))]
pub async fn cluster_status(State(state): State<AppState>) -> Result<Response, ApiError> {
    let handle = clustered(&state)?;
    Ok(json_response(StatusCode::OK, to_json(&status(&handle))))
}

/// Whom to hand leadership to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// A member's node id, not the leader's.
    pub to: u64,
}

/// A transfer under way.
#[derive(Serialize, ToSchema)]
pub struct TransferReply {
    /// The leader handing over.
    pub from: u64,
    /// The member asked to take over (it stands for election at once; the
    /// old leader turns writes away from then on).
    pub to: u64,
}

/// Hands leadership to another member, for maintenance (asked of the leader).
#[utoipa::path(post, path = "/operator/v1/cluster/transfer-leader", tag = "cluster", request_body = TransferRequest,
    security(("bearer" = [])),
    responses((status = 202, body = TransferReply), BodyErrors, RoleErrors,
        (status = 400, body = ErrorBody, description = "malformed_json, invalid_request, unknown_member (not a member, or the leader itself)"),
        (status = 409, body = ErrorBody, description = "not_clustered"),
        (status = 503, body = ErrorBody, description = "not_leader: ask the leader (its API URL in x-croupier-leader)")))]
pub async fn transfer_leader(State(state): State<AppState>, JsonBody(body): JsonBody) -> Result<Response, ApiError> {
    let handle = clustered(&state)?;
    let request: TransferRequest = decode(&body)?;
    let status = handle.node.status();
    if status.role != NodeRole::Leader || status.leader != Some(status.id) {
        let leader = status.leader.and_then(|id| handle.api_url(id));
        return Err(ApiError::not_leader(leader, state.config.retry_after_s));
    }
    if request.to == status.id || !status.members.iter().any(|member| member.id == request.to) {
        return Err(ApiError::bad_request(
            "unknown_member",
            format!("node {} is not another member of the group", request.to),
        ));
    }
    handle
        .node
        .transfer_leader(request.to)
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(from = status.id, to = request.to, "leadership transfer asked");
    Ok(json_response(
        StatusCode::ACCEPTED,
        to_json(&TransferReply {
            from: status.id,
            to: request.to,
        }),
    ))
}

/// Longest `add` waits for the new member to receive the log before it
/// gives it a vote.
const CATCH_UP_WITHIN: Duration = Duration::from_secs(60);

/// A member to add.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    /// Its node id (not a member's).
    pub id: u64,
    /// Where its raft listener is (`host:port`).
    pub raft_addr: String,
    /// Its API's base URL, given to clients when it leads.
    pub api_url: String,
}

/// A change of the group's members, made.
#[derive(Serialize, ToSchema)]
pub struct MembershipReply {
    /// The member added or removed.
    pub id: u64,
    /// The voters now.
    pub voters: Vec<u64>,
}

/// The error for a membership change refused at `handle`'s node.
fn membership_refusal(handle: &ClusterHandle, state: &AppState, error: MembershipError) -> ApiError {
    match error {
        MembershipError::NotLeader { leader } => {
            ApiError::not_leader(leader.and_then(|id| handle.api_url(id)), state.config.retry_after_s)
        }
        MembershipError::Refused(why) => ApiError::new(StatusCode::CONFLICT, "membership_refused", why),
        timeout @ MembershipError::Timeout { .. } => {
            ApiError::new(StatusCode::GATEWAY_TIMEOUT, "not_caught_up", timeout.to_string())
        }
        MembershipError::Raft(why) => ApiError::internal(why),
    }
}

fn membership_reply(handle: &ClusterHandle, id: u64) -> Response {
    let voters = handle.node.member_ids().into_iter().collect();
    json_response(StatusCode::OK, to_json(&MembershipReply { id, voters }))
}

fn leader_only(handle: &ClusterHandle, state: &AppState) -> Result<(), ApiError> {
    let status = handle.node.status();
    if status.role != NodeRole::Leader || status.leader != Some(status.id) {
        return Err(ApiError::not_leader(
            status.leader.and_then(|id| handle.api_url(id)),
            state.config.retry_after_s,
        ));
    }
    Ok(())
}

/// Adds a member (asked of the leader): the new node, started with
/// `cluster join`, first receives the log as a learner, then gets a vote.
/// Answers once it votes; adding a voter again changes nothing.
#[utoipa::path(post, path = "/operator/v1/cluster/members", tag = "cluster", request_body = AddMemberRequest,
    security(("bearer" = [])),
    responses((status = 200, body = MembershipReply), BodyErrors, RoleErrors,
        (status = 400, body = ErrorBody, description = "malformed_json, invalid_request (a raft address host:port and an http(s) API URL)"),
        (status = 409, body = ErrorBody, description = "not_clustered, membership_refused (e.g. a change already under way)"),
        (status = 503, body = ErrorBody, description = "not_leader: ask the leader (its API URL in x-croupier-leader)"),
        (status = 504, body = ErrorBody, description = "not_caught_up: the node did not receive the log in time; it stays a learner")))]
pub async fn add_member(State(state): State<AppState>, JsonBody(body): JsonBody) -> Result<Response, ApiError> {
    let handle = clustered(&state)?;
    let request: AddMemberRequest = decode(&body)?;
    let raft_addr = request.raft_addr.trim();
    let api_url = request.api_url.trim().trim_end_matches('/');
    if raft_addr.is_empty() || raft_addr.contains(char::is_whitespace) || !raft_addr.contains(':') {
        return Err(ApiError::bad_request("invalid_request", "raft_addr is host:port"));
    }
    if !(api_url.starts_with("http://") || api_url.starts_with("https://")) || api_url.contains(char::is_whitespace) {
        return Err(ApiError::bad_request("invalid_request", "api_url is an http(s) URL"));
    }
    if request.id == 0 {
        return Err(ApiError::bad_request(
            "invalid_request",
            "a node id is a positive number",
        ));
    }
    leader_only(&handle, &state)?;
    let address = MemberAddress {
        raft_addr: raft_addr.to_owned(),
        api_url: Some(api_url.to_owned()),
    };
    tracing::info!(id = request.id, raft_addr, api_url, "adding a member");
    handle
        .node
        .add_member(request.id, &address, CATCH_UP_WITHIN)
        .await
        .map_err(|error| membership_refusal(&handle, &state, error))?;
    tracing::info!(id = request.id, "member added");
    Ok(membership_reply(&handle, request.id))
}

/// Removes a member (asked of the leader). Removing the leader itself is
/// allowed: it steps down once the change is committed.
#[utoipa::path(delete, path = "/operator/v1/cluster/members/{id}", tag = "cluster",
    params(("id" = u64, Path, description = "the member's node id")), security(("bearer" = [])),
    responses((status = 200, body = MembershipReply), RoleErrors,
        (status = 409, body = ErrorBody, description = "not_clustered, membership_refused (not a member, the last voter, a change under way)"),
        (status = 503, body = ErrorBody, description = "not_leader: ask the leader (its API URL in x-croupier-leader)")))]
pub async fn remove_member(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, ApiError> {
    let handle = clustered(&state)?;
    leader_only(&handle, &state)?;
    tracing::info!(id, "removing a member");
    handle
        .node
        .remove_member(id)
        .await
        .map_err(|error| membership_refusal(&handle, &state, error))?;
    tracing::info!(id, "member removed");
    Ok(membership_reply(&handle, id))
}

/// One per-member figure of [`MemberStatus`] (`None`: unknown here).
type MemberFigure = fn(&MemberStatus) -> Option<u64>;

/// The group's Prometheus lines (text exposition) for `/metrics`.
pub fn render_metrics(handle: &ClusterHandle) -> String {
    let status = handle.node.status();
    let mut text = String::new();
    let mut gauge = |name: &str, help: &str, value: u64| {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
    };
    gauge("croupier_cluster_term", "The current Raft term.", status.term);
    gauge(
        "croupier_cluster_is_leader",
        "1 while this node leads the replication group.",
        u64::from(status.role == NodeRole::Leader),
    );
    gauge(
        "croupier_cluster_leader_id",
        "The leader's node id as this node knows it (0: none).",
        status.leader.unwrap_or(0),
    );
    gauge(
        "croupier_cluster_last_log_index",
        "The last index in this node's Raft log.",
        status.last_log_index.unwrap_or(0),
    );
    gauge(
        "croupier_cluster_committed_index",
        "The last Raft index committed by a majority, as this node knows.",
        status.committed_index.unwrap_or(0),
    );
    gauge(
        "croupier_cluster_applied_index",
        "The last Raft index applied to this node's ledger.",
        status.applied_index.unwrap_or(0),
    );
    gauge(
        "croupier_cluster_applied_seq",
        "The last sequence number applied to this node's ledger.",
        status.applied_seq,
    );
    let lags: [(&str, &str, MemberFigure); 3] = [
        (
            "croupier_cluster_member_lag_entries",
            "Log entries a member lacks of the leader's log (on the leader).",
            |member| member.lag_entries,
        ),
        (
            "croupier_cluster_member_lag_bytes",
            "Journal bytes of the batches a member lacks (on the leader).",
            |member| member.lag_bytes,
        ),
        (
            "croupier_cluster_member_lag_ms",
            "Milliseconds since the oldest batch a member lacks was appended on the leader (on the leader).",
            |member| member.lag_ms,
        ),
    ];
    for (name, help, value) in lags {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} gauge");
        for member in &status.members {
            if let Some(lag) = value(member) {
                let _ = writeln!(text, "{name}{{member=\"{}\"}} {lag}", member.id);
            }
        }
    }
    text
}
