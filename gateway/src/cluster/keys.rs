//! The PAM key store in a replication group: one master key and the same
//! data keys on every member.
//!
//! Data keys live outside the journal (so erasure can destroy them), so
//! Raft does not carry them; this module does, over the raft listener's
//! signed calls ([`super::transport`]):
//!
//! - **One master key.** Every call carries the sender's master-key check
//!   value and a member with another is refused; at start a member asks the
//!   others it can reach (`pam-key-check`) and refuses to start if more of
//!   them hold another key than its own ([`check_master_key`]).
//! - **Shared before acknowledged.** Before the leader submits a command
//!   naming a new data key, [`GroupKeys::replicate`] stores the wrapped key
//!   on a majority of the voters, this node counted (`pam-key-store`: the
//!   receiver checks it opens under its master key, writes and fsyncs it).
//! - **Caught up later.** A member that lacks a key a live profile names
//!   (it was down) fetches it from the others (`pam-key-fetch`): on demand
//!   when a profile must be opened, and for every missing key at start,
//!   after a snapshot install and after applying a record that names a key
//!   not stored here ([`spawn_sync`]).
//! - **Never resurrected.** The state machine tells [`KeyTracker`] of every
//!   applied record: an erasure (journaled) destroys the erased player's key
//!   on every member as it applies it, and a key is fetched and stored only
//!   while a live profile in this member's ledger names it, checked and
//!   stored under the same lock the erasure destroys under.
//!
//! Keys stored for a registration that never landed stay (no start-up
//! sweep on a member: a key stored ahead of its registration's commit is
//! indistinguishable from one whose registration failed); they open no
//! profile anyone holds.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use edge::error::ApiError;
use engine::players::Command as PlayerCommand;
use engine::sequencer::Committed;
use engine::{Command, KeyId, Ledger, Outcome};
use replication::node::Node;
use tokio::sync::Notify;

use super::transport::HttpTransport;
use crate::bootstrap::ServeError;
use crate::config::ClusterConfig;

/// The key store's calls on the raft listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyCall {
    /// Answers 200: the transport already checked the master keys match.
    Check,
    /// Stores a wrapped data key: 16 bytes of key id, then the key file.
    Store,
    /// The key file of a key id (16 bytes), or 404.
    Fetch,
}

impl KeyCall {
    /// The call's name in `/raft/v1/{name}`.
    pub fn name(self) -> &'static str {
        match self {
            KeyCall::Check => "pam-key-check",
            KeyCall::Store => "pam-key-store",
            KeyCall::Fetch => "pam-key-fetch",
        }
    }

    /// The call named `name`, if it is one.
    pub fn from_name(name: &str) -> Option<KeyCall> {
        [KeyCall::Check, KeyCall::Store, KeyCall::Fetch]
            .into_iter()
            .find(|call| call.name() == name)
    }
}

fn key_id(bytes: &[u8]) -> Option<KeyId> {
    bytes.first_chunk::<16>().map(|id| KeyId(*id))
}

/// Answers an authenticated key-store call.
pub async fn answer(vault: &Arc<pam::Vault>, call: KeyCall, body: &[u8]) -> Response {
    let Some(id) = key_id(body).filter(|_| call != KeyCall::Check) else {
        return match call {
            KeyCall::Check => StatusCode::OK.into_response(),
            _ => ApiError::bad_request("refused", "the body starts with a 16-byte key id").into_response(),
        };
    };
    let vault = Arc::clone(vault);
    let wrapped = body[16..].to_vec();
    let done = tokio::task::spawn_blocking(move || match call {
        KeyCall::Store => vault.store_wrapped(id, &wrapped).map(|()| Some(Vec::new())),
        _ => vault.wrapped(id),
    })
    .await;
    match done {
        Ok(Ok(Some(bytes))) => (StatusCode::OK, bytes).into_response(),
        Ok(Ok(None)) => ApiError::not_found("unknown_key", "no such data key here").into_response(),
        Ok(Err(pam::VaultError::DamagedKey { .. })) => {
            tracing::warn!(
                ?id,
                "refused a data key that does not open under this node's master key"
            );
            ApiError::bad_request("refused", "the key does not open under this node's master key").into_response()
        }
        Ok(Err(error)) => ApiError::internal(error).into_response(),
        Err(error) => ApiError::internal(error).into_response(),
    }
}

/// The data keys live profiles in this member's ledger name, and the lock
/// a key is destroyed or fetched under.
pub struct LiveKeys {
    live: Mutex<HashSet<KeyId>>,
    vault: Arc<pam::Vault>,
}

impl LiveKeys {
    /// The live keys of `ledger`.
    pub fn new(vault: Arc<pam::Vault>, ledger: &Ledger) -> LiveKeys {
        LiveKeys {
            live: Mutex::new(ledger.profile_keys().into_iter().collect()),
            vault,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<KeyId>> {
        self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a live profile names `id`.
    pub fn is_live(&self, id: KeyId) -> bool {
        self.lock().contains(&id)
    }

    /// The live keys not stored here.
    pub fn missing(&self) -> Vec<KeyId> {
        let live: Vec<KeyId> = self.lock().iter().copied().collect();
        live.into_iter().filter(|id| !self.vault.has(*id)).collect()
    }

    /// Stores `wrapped` as key `id` if a live profile still names it.
    fn store_if_live(&self, id: KeyId, wrapped: &[u8]) -> Result<bool, pam::VaultError> {
        let live = self.lock();
        if !live.contains(&id) {
            return Ok(false);
        }
        self.vault.store_wrapped(id, wrapped)?;
        drop(live);
        Ok(true)
    }
}

/// What the state machine's observer does for the key store: it learns the
/// keys the applied records name and destroys the keys of erased players.
pub struct KeyTracker {
    live: Arc<LiveKeys>,
    named: Vec<KeyId>,
    erased: Vec<KeyId>,
    /// Wakes the sync (it fetches what is missing): after a snapshot
    /// install, and after a batch named a key not stored here.
    installed: Arc<Notify>,
}

impl KeyTracker {
    /// A tracker of `live`, waking `installed` after a snapshot install.
    pub fn new(live: Arc<LiveKeys>, installed: Arc<Notify>) -> KeyTracker {
        KeyTracker {
            live,
            named: Vec::new(),
            erased: Vec::new(),
            installed,
        }
    }

    /// Before `committed` is applied to `ledger`.
    pub fn applying(&mut self, ledger: &Ledger, committed: &Committed) {
        let Command::Players(command) = &committed.envelope.request.command else {
            return;
        };
        let landed = matches!(committed.outcome, Outcome::Registered { .. } | Outcome::Accepted);
        match command {
            PlayerCommand::RegisterProfiled { profile, .. }
            | PlayerCommand::RegisterAged { profile, .. }
            | PlayerCommand::UpdateProfile { profile, .. }
                if landed =>
            {
                self.named.push(profile.key_id);
            }
            PlayerCommand::ErasePlayer { player, .. } if landed => {
                if let Ok(Some(record)) = ledger.profile(*player)
                    && let Some(sealed) = &record.sealed
                {
                    self.erased.push(sealed.profile.key_id);
                }
            }
            _ => {}
        }
    }

    /// After a batch was applied: the keys it named are live (the sync is
    /// woken for any not stored here: this member was down or slow when the
    /// leader stored it on a majority), and the keys of the players it
    /// erased are destroyed here.
    pub fn applied(&mut self) {
        if self.named.is_empty() && self.erased.is_empty() {
            return;
        }
        let lacking = self.named.iter().any(|&id| !self.live.vault.has(id));
        let mut live = self.live.lock();
        live.extend(self.named.drain(..));
        for id in self.erased.drain(..) {
            live.remove(&id);
            match self.live.vault.destroy(id) {
                Ok(_) => tracing::info!(?id, "PAM: destroyed the data key of an erased player"),
                Err(error) => tracing::error!(?id, %error, "PAM: could not destroy an erased player's data key"),
            }
        }
        drop(live);
        if lacking {
            self.installed.notify_one();
        }
    }

    /// After a snapshot install: the live keys are the snapshot's ledger's.
    pub fn installed(&mut self, ledger: &Ledger) {
        self.named.clear();
        self.erased.clear();
        let keys: HashSet<KeyId> = ledger.profile_keys().into_iter().collect();
        let mut live = self.live.lock();
        // Keys the snapshot no longer names were erased meanwhile.
        let gone: Vec<KeyId> = live.difference(&keys).copied().collect();
        for id in gone {
            if let Err(error) = self.live.vault.destroy(id) {
                tracing::error!(?id, %error, "PAM: could not destroy an erased player's data key");
            }
        }
        *live = keys;
        drop(live);
        self.installed.notify_one();
    }
}

/// The group's key sharing ([`pam::KeyShare`]).
pub struct GroupKeys {
    node: Node,
    transport: HttpTransport,
    live: Arc<LiveKeys>,
    me: u64,
}

impl GroupKeys {
    /// Key sharing for `node` over `transport`.
    pub fn new(node: Node, transport: HttpTransport, live: Arc<LiveKeys>, me: u64) -> GroupKeys {
        GroupKeys {
            node,
            transport,
            live,
            me,
        }
    }

    /// The other members: (id, raft address, votes).
    fn others(&self) -> Vec<(u64, String, bool)> {
        self.node
            .status()
            .members
            .into_iter()
            .filter(|member| member.id != self.me)
            .map(|member| (member.id, member.raft_addr, member.voter))
            .collect()
    }

    async fn store_on_majority(&self, id: KeyId, wrapped: Vec<u8>) -> Result<(), String> {
        let voters = self.node.member_ids();
        let need = voters.len() / 2 + 1;
        let mut stored = usize::from(voters.contains(&self.me));
        if stored >= need {
            return Ok(());
        }
        let mut body = id.0.to_vec();
        body.extend_from_slice(&wrapped);
        let mut calls = tokio::task::JoinSet::new();
        for (target, addr, voter) in self.others() {
            let (transport, body) = (self.transport.clone(), body.clone());
            calls.spawn(async move {
                let done = transport.post(target, &addr, KeyCall::Store.name(), body).await;
                (voter, done)
            });
        }
        let mut failures = Vec::new();
        while let Some(joined) = calls.join_next().await {
            match joined {
                Ok((voter, Ok(_))) => {
                    stored += usize::from(voter);
                    if stored >= need {
                        // The others finish on their own.
                        calls.detach_all();
                        return Ok(());
                    }
                }
                Ok((_, Err(error))) => failures.push(error.to_string()),
                Err(error) => failures.push(error.to_string()),
            }
        }
        Err(format!(
            "stored on {stored} of {} voters: {}",
            voters.len(),
            failures.join("; ")
        ))
    }

    async fn fetch(&self, id: KeyId) -> Result<bool, String> {
        if !self.live.is_live(id) {
            return Ok(false);
        }
        let mut failures = Vec::new();
        for (target, addr, _) in self.others() {
            match self
                .transport
                .post(target, &addr, KeyCall::Fetch.name(), id.0.to_vec())
                .await
            {
                Ok(wrapped) => {
                    let live = Arc::clone(&self.live);
                    return tokio::task::spawn_blocking(move || live.store_if_live(id, &wrapped))
                        .await
                        .map_err(|error| error.to_string())?
                        .map_err(|error| error.to_string());
                }
                Err(error) if error.not_found() => {}
                Err(error) => failures.push(error.to_string()),
            }
        }
        if failures.is_empty() {
            failures.push("every member answered it has none".into());
        }
        Err(format!(
            "no member gave the data key a live profile names: {}",
            failures.join("; ")
        ))
    }

    /// Fetches every live key missing here; how many are still missing.
    pub async fn sync(&self) -> usize {
        let live = Arc::clone(&self.live);
        let Ok(missing) = tokio::task::spawn_blocking(move || live.missing()).await else {
            return usize::MAX;
        };
        let mut left = 0;
        for id in missing {
            match self.fetch(id).await {
                Ok(true) => tracing::info!(?id, "PAM: fetched a missing data key from the group"),
                Ok(false) => {}
                Err(error) => {
                    left += 1;
                    tracing::warn!(?id, %error, "PAM: a missing data key could not be fetched yet");
                }
            }
        }
        left
    }
}

impl pam::KeyShare for GroupKeys {
    fn replicate(
        &self,
        id: KeyId,
        wrapped: Vec<u8>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(self.store_on_majority(id, wrapped))
    }

    fn recover(&self, id: KeyId) -> std::pin::Pin<Box<dyn Future<Output = Result<bool, String>> + Send + '_>> {
        Box::pin(self.fetch(id))
    }
}

/// How long the sync waits before its first round, and between rounds
/// while keys are still missing (doubling up to [`SYNC_RETRY_MAX`]).
const SYNC_RETRY: Duration = Duration::from_secs(2);
/// The longest wait between two rounds of the sync.
const SYNC_RETRY_MAX: Duration = Duration::from_secs(60);

/// Fetches the missing live keys once the node has started, after every
/// snapshot install and after a batch that named a key not stored here
/// (`wake`, from [`KeyTracker`]), retrying while some are missing (a
/// member down).
pub fn spawn_sync(keys: Arc<GroupKeys>, wake: Arc<Notify>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut wait = SYNC_RETRY;
        loop {
            // A leader known: the log is flowing, so the ledger (and with it
            // the live keys) is catching up.
            while keys.node.status().leader.is_none() {
                tokio::time::sleep(SYNC_RETRY).await;
            }
            tokio::time::sleep(wait).await;
            let left = keys.sync().await;
            if left == 0 {
                wait = SYNC_RETRY;
                wake.notified().await;
            } else {
                tracing::warn!(left, "PAM: live profiles' data keys still missing here; trying again");
                wait = (wait * 2).min(SYNC_RETRY_MAX);
            }
        }
    })
}

/// Refuses to start a member whose PAM master key differs from the group's:
/// asks every configured peer it can reach; more of them refusing this
/// node's key than accepting it is a refusal. Peers that do not answer
/// count for nothing (a group starting up), and the check on every call
/// still keeps a member with another key out.
pub async fn check_master_key(
    transport: &HttpTransport,
    cluster: &ClusterConfig,
    vault: &pam::Vault,
) -> Result<(), ServeError> {
    let mut calls = tokio::task::JoinSet::new();
    for peer in cluster.peers.iter().filter(|peer| peer.id != cluster.node_id) {
        let (transport, target, addr) = (transport.clone(), peer.id, peer.raft_addr.clone());
        calls.spawn(async move {
            let answer = tokio::time::timeout(
                Duration::from_secs(2),
                transport.post(target, &addr, KeyCall::Check.name(), Vec::new()),
            )
            .await;
            (target, answer)
        });
    }
    let (mut agree, mut differ) = (Vec::new(), Vec::new());
    while let Some(joined) = calls.join_next().await {
        match joined {
            Ok((target, Ok(Ok(_)))) => agree.push(target),
            Ok((target, Ok(Err(error)))) if error.master_key_differs() => differ.push(target),
            Ok((target, Ok(Err(error)))) => tracing::debug!(target, %error, "master-key check: no answer"),
            _ => {}
        }
    }
    if differ.len() > agree.len() {
        differ.sort_unstable();
        return Err(ServeError::Cluster(format!(
            "PAM master key {}: differs from the group's (nodes {differ:?} hold another): every member must use \
             the same master key (copy the group's key file to this node, or name it with --pam-master-key-file)",
            vault.master_key_path().display()
        )));
    }
    tracing::info!(agree = ?agree, "PAM master key: the same as the reachable members'");
    Ok(())
}
