//! Server configuration: built-in defaults < TOML file < `CROUPIER_*`
//! environment variables < command-line flags.
//!
//! [`ServeArgs`] is the clap view (every flag optional, each with its
//! environment variable, so clap resolves flag over env); [`FileConfig`] the
//! TOML view (every key optional, unknown keys refused); [`ServeConfig`] the
//! resolved result with every value set.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The resolved configuration of `croupier serve`.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Journal directory; also holds the first operator token.
    pub data_dir: PathBuf,
    /// TCP address for HTTP/1.1 and HTTP/2 (cleartext with prior
    /// knowledge, or TLS with ALPN when [`ServeConfig::tls`] is on).
    pub listen: SocketAddr,
    /// TLS on the TCP listener.
    pub tls: bool,
    /// The operator's PEM certificate chain; `None`: `<data_dir>/tls/cert.pem`,
    /// self-signed on first start.
    pub tls_cert: Option<PathBuf>,
    /// The operator's PEM private key (set together with `tls_cert`).
    pub tls_key: Option<PathBuf>,
    /// HTTP/3 over QUIC.
    pub quic: bool,
    /// UDP address for HTTP/3.
    pub quic_listen: SocketAddr,
    /// How far a signed request's timestamp may be from the server's clock.
    pub signature_window_ms: u64,
    /// Largest request body accepted.
    pub body_limit_bytes: usize,
    /// Longest a request may take, end to end.
    pub request_timeout_ms: u64,
    /// Lifetime of a game-launch token when the operator names none.
    pub session_ttl_ms: u64,
    /// Requests the sequencer's ring holds before the server answers 503.
    pub ring_capacity: usize,
    /// Most requests the sequencer applies and flushes as one batch.
    pub batch_len_max: usize,
    /// How long the sequencer, finding its ring empty and no batch being
    /// flushed, spins for the next request before it sleeps, µs (only while
    /// requests have lately come close together); 0: it sleeps at once
    /// ([`engine::sequencer::SequencerConfig::idle_spin`]).
    pub sequencer_spin_us: u64,
    /// Threads serving HTTP (the async runtime's workers); 0: one fewer
    /// than the machine's CPUs, at least one ([`ServeConfig::http_worker_threads`]).
    pub http_workers: usize,
    /// `Retry-After` of a 503, in seconds.
    pub retry_after_s: u64,
    /// Size of each pre-allocated journal segment file.
    pub journal_segment_bytes: u64,
    /// Take a snapshot every this many durable commands (0: never).
    pub snapshot_every_commands: u64,
    /// Most connections open at once, per transport (TCP, QUIC); beyond it
    /// new ones are closed at once, so a flood cannot exhaust the server.
    pub max_connections: usize,
    /// Most connections open at once from one client address, per transport
    /// (an IPv6 client counts per /64): one client cannot take every place
    /// under [`ServeConfig::max_connections`].
    pub max_connections_per_ip: usize,
    /// TCP: longest a client may take to send a request's head, counted
    /// from the connection's start (after the TLS handshake) or, on
    /// HTTP/1.1, from the previous reply, which makes it HTTP/1.1's
    /// keep-alive idle limit too. A connection that sends nothing, or its
    /// head too slowly, is closed.
    pub header_read_timeout_ms: u64,
    /// HTTP/2 and HTTP/3: a connection with no request in flight for this
    /// long is closed (GOAWAY first); also QUIC's transport idle timeout.
    pub idle_timeout_ms: u64,
    /// HTTP/2: the server pings a connection this often (0: never) ...
    pub http2_keep_alive_interval_ms: u64,
    /// ... and closes it if a ping is not answered within this.
    pub http2_keep_alive_timeout_ms: u64,
    /// What happens to journal segments behind the snapshots kept.
    pub snapshot_retire: SnapshotRetire,
    /// Log filter (tracing-subscriber `EnvFilter` syntax).
    pub log: String,
    /// How log lines are written: text for people, JSON for collectors.
    pub log_format: LogFormat,
    /// The operator's RSA private key (PEM) that signs Hub88 responses;
    /// `None`: `<data_dir>/operator-rsa-key.pem`. Generated where it is
    /// missing, reused afterwards.
    pub rsa_key_file: Option<PathBuf>,
    /// The PAM master key (64 hex digits, mode 0600) that wraps the
    /// players' data keys; `None`: `<data_dir>/pam-master-key`, made on the
    /// first start. A configured file is never made: it must exist.
    pub pam_master_key_file: Option<PathBuf>,
    /// The KYC provider's base URL; `None`: no provider (starting a check
    /// answers 503 `kyc_provider_not_configured`). The four `kyc_*`
    /// secrets and the level must then be set too.
    pub kyc_provider_url: Option<String>,
    /// The app token given by the KYC provider.
    pub kyc_app_token: Option<String>,
    /// The secret key requests to the KYC provider are signed with.
    pub kyc_secret_key: Option<String>,
    /// The secret the KYC provider signs webhooks with.
    pub kyc_webhook_secret: Option<String>,
    /// The KYC provider's verification level [default: basic-kyc-level].
    pub kyc_level_name: String,
    /// The self-exclusion register's single-check URL (GAMSTOP API v2:
    /// `https://api.gamstop.io/v2`); `None`: no register, nobody is checked.
    /// Needs `self_exclusion_registry_api_key`.
    pub self_exclusion_registry_url: Option<String>,
    /// The register's batch URL (`https://batch.gamstop.io/v2`); `None`:
    /// batches cannot be sent.
    pub self_exclusion_registry_batch_url: Option<String>,
    /// The API key the register gave this operator.
    pub self_exclusion_registry_api_key: Option<String>,
    /// The jurisdictions whose players are checked at registration and
    /// login [default: GB]; nobody else's data is sent to the register.
    pub self_exclusion_registry_jurisdictions: Vec<String>,
    /// The checked jurisdictions where an unreachable register lets a
    /// registration or login through (fail-open) [default: none: every
    /// checked jurisdiction fails closed, as the UK requires].
    pub self_exclusion_registry_fail_open: Vec<String>,
    /// At start, submit the jurisdiction profiles this release ships (UK,
    /// Malta, default) for each the ledger has none of (journaled, so later
    /// releases change nothing an old journal replays to) [default: true].
    pub ship_jurisdiction_profiles: bool,
    /// Opening an AML case holds the player's withdrawals in the ledger
    /// until the case is resolved [default: true].
    pub risk_hold_withdrawals_on_case: bool,
    /// Export every committed journal record and the report figures to
    /// this PostgreSQL database (`postgres://user:password@host:port/db`),
    /// exactly once by sequence number (`croupier-export`); `None`: no
    /// export [default: none].
    pub export_postgres_url: Option<String>,
    /// Most journal records the export writes in one PostgreSQL
    /// transaction [default: 2000].
    pub export_batch_records: u64,
    /// Zendesk's webhook signing secret; `None`: the support webhook
    /// (`/webhooks/v1/support/zendesk`) answers 404.
    pub zendesk_webhook_secret: Option<String>,
    /// Zendesk's account URL (`https://<subdomain>.zendesk.com`) tickets
    /// made here are pushed to (the outbound sync); `None`: they are not.
    /// Needs `zendesk_email` and `zendesk_api_token`.
    pub zendesk_api_url: Option<String>,
    /// The Zendesk agent the API token belongs to.
    pub zendesk_email: Option<String>,
    /// The Zendesk API token (HTTP Basic as `{email}/token`).
    pub zendesk_api_token: Option<String>,
    /// The email provider's (SendGrid v3 API) base URL for campaign
    /// messages; `None`: no email channel (a campaign naming it is refused
    /// with 400 `channel_unavailable`). Needs `sendgrid_api_key` and
    /// `campaign_from_email`.
    pub sendgrid_api_url: Option<String>,
    /// The SendGrid API key (sent as a Bearer token).
    pub sendgrid_api_key: Option<String>,
    /// The sender address of campaign emails.
    pub campaign_from_email: Option<String>,
    /// The SMS provider's (Twilio Programmable Messaging API) base URL
    /// for campaign messages; `None`: no SMS channel. Needs
    /// `twilio_account_sid`, `twilio_auth_token` and `campaign_sms_from`.
    pub twilio_api_url: Option<String>,
    /// The Twilio Account SID (`AC…`; the HTTP Basic user).
    pub twilio_account_sid: Option<String>,
    /// The Twilio Auth Token (the HTTP Basic password).
    pub twilio_auth_token: Option<String>,
    /// The sender of campaign SMS: a Twilio number (E.164), an
    /// alphanumeric sender id, or a Messaging Service SID (`MG…`).
    pub campaign_sms_from: Option<String>,
    /// The push provider's (Firebase Cloud Messaging HTTP v1 API) base
    /// URL for campaign messages; `None`: no push channel. Needs
    /// `fcm_project_id` and `fcm_access_token`.
    pub fcm_api_url: Option<String>,
    /// The Firebase project's id.
    pub fcm_project_id: Option<String>,
    /// The OAuth 2.0 access token sent as a Bearer token (a service
    /// account's, with the `firebase.messaging` scope; refreshed by
    /// whatever deploys the gateway: the gateway does not mint it).
    pub fcm_access_token: Option<String>,
    /// Pragmatic Play's Free Rounds Bonus API base URL; `None`: free spins
    /// are recorded and credited from the winnings given (no free-rounds
    /// call). Needs the three settings below.
    pub pragmatic_frb_api_url: Option<String>,
    /// The operator's `secureLogin` at Pragmatic Play.
    pub pragmatic_frb_secure_login: Option<String>,
    /// The secret key the FRB calls' hash is made with.
    pub pragmatic_frb_secret_key: Option<String>,
    /// The aggregator (its source id, `croupier-admin aggregators`) whose
    /// games the FRB API serves: a free-spins template whose every game
    /// it carries is granted through the API.
    pub pragmatic_frb_aggregator: Option<u32>,
    /// The payment provider's (Stripe API) base URL; `None`: no provider (the cashier routes answer 503 `payment_provider_not_configured`). Needs `stripe_secret_key` and `stripe_webhook_secret`.
    pub stripe_api_url: Option<String>,
    /// The provider's secret API key (`sk_…`).
    pub stripe_secret_key: Option<String>,
    /// The provider's webhook signing secret (`whsec_…`).
    pub stripe_webhook_secret: Option<String>,
    /// The NOWPayments (crypto) API base URL; `None`: not configured. Needs `nowpayments_api_key` and `nowpayments_ipn_secret` (and `nowpayments_email` and `nowpayments_password` for payouts).
    pub nowpayments_api_url: Option<String>,
    /// The NOWPayments API key (`x-api-key`).
    pub nowpayments_api_key: Option<String>,
    /// The NOWPayments IPN secret (verifies `x-nowpayments-sig`).
    pub nowpayments_ipn_secret: Option<String>,
    /// The NOWPayments account e-mail (payouts authenticate with it).
    pub nowpayments_email: Option<String>,
    /// The NOWPayments account password.
    pub nowpayments_password: Option<String>,
    /// Where NOWPayments sends IPNs (this server's public `/webhooks/v1/payments/nowpayments`).
    pub nowpayments_ipn_callback_url: Option<String>,
    /// The provider a deposit without one goes to (`stripe` or `nowpayments`) [default: stripe if configured, else nowpayments].
    pub cashier_default_provider: Option<String>,
    /// Withdrawals above this amount (a decimal in each currency's major units) need two approvals by different operators [default: 1000].
    pub cashier_four_eyes_above: String,
    /// How long an initiated deposit may wait for its provider before it expires [default: 3600].
    pub cashier_deposit_ttl_s: u64,
    /// How long a call to the payment provider may take before it counts as a timeout (then retried) [default: 10000].
    pub cashier_provider_timeout_ms: u64,
    /// How often the cashier's worker looks at the payout outbox and for stale deposits [default: 1000].
    pub cashier_tick_ms: u64,
    /// The first delay before a failed payout call is retried, doubled per failure [default: 500].
    pub cashier_retry_base_ms: u64,
    /// The longest delay between payout retries [default: 60000].
    pub cashier_retry_max_ms: u64,
    /// How often a payout sent but not settled is asked about, in case a webhook was lost [default: 60000].
    pub cashier_status_every_ms: u64,
    /// The replication group this server is a member of; `None`: a single
    /// node (the journal sink, as before).
    pub cluster: Option<ClusterConfig>,
}

/// A member of the replication group: `id=raft_addr=api_url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// Its node id.
    pub id: u64,
    /// Where its raft listener is (`host:port`).
    pub raft_addr: String,
    /// Its API's base URL, given to clients a follower turns away.
    pub api_url: String,
}

impl std::str::FromStr for Peer {
    type Err = String;

    fn from_str(text: &str) -> Result<Peer, String> {
        let mut parts = text.splitn(3, '=');
        let (Some(id), Some(raft_addr), Some(api_url)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("{text:?}: a peer is id=raft_addr=api_url"));
        };
        let id = id
            .trim()
            .parse()
            .map_err(|_| format!("{text:?}: the node id is a number"))?;
        if raft_addr.trim().is_empty() || !(api_url.starts_with("http://") || api_url.starts_with("https://")) {
            return Err(format!("{text:?}: a peer is id=host:port=http(s)://api"));
        }
        Ok(Peer {
            id,
            raft_addr: raft_addr.trim().to_owned(),
            api_url: api_url.trim().trim_end_matches('/').to_owned(),
        })
    }
}

impl<'de> Deserialize<'de> for Peer {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Peer, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The replication group (`[cluster]`), resolved.
#[derive(Clone)]
pub struct ClusterConfig {
    /// This node's id (one of the peers').
    pub node_id: u64,
    /// The group's name: requests from another group's nodes are refused.
    pub name: String,
    /// Where this node's raft listener binds.
    pub raft_listen: SocketAddr,
    /// Every member, this node included.
    pub peers: Vec<Peer>,
    /// The shared secret every RPC between members is signed with.
    pub secret: Vec<u8>,
    /// How often the leader sends heartbeats [default: 100].
    pub heartbeat_ms: u64,
    /// Election timeout range; the leader's lease is the upper bound
    /// [default: 1000..2000].
    pub election_timeout_min_ms: u64,
    /// See `election_timeout_min_ms`.
    pub election_timeout_max_ms: u64,
    /// Longest a batch may wait for a majority before the leader gives up
    /// on it (fail-stop, outcome in doubt) [default: 4000].
    pub commit_timeout_ms: u64,
    /// This node joins a running group (it waits to be added) rather than
    /// initializing a new one [default: false].
    pub join: bool,
    /// A snapshot every this many log entries (batches); the journal before
    /// the log kept after it is retired to `archive/` [default: 10000; 0: never].
    pub snapshot_every_entries: u64,
}

impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("node_id", &self.node_id)
            .field("name", &self.name)
            .field("raft_listen", &self.raft_listen)
            .field("peers", &self.peers)
            .finish_non_exhaustive()
    }
}

impl ClusterConfig {
    /// This node's own peer entry.
    pub fn me(&self) -> &Peer {
        // `resolve` checked that the peers name this node.
        self.peers
            .iter()
            .find(|peer| peer.id == self.node_id)
            .expect("the peers name this node")
    }

    /// The API URL of node `id`, if it is a member.
    pub fn api_url(&self, id: u64) -> Option<&str> {
        self.peers
            .iter()
            .find(|peer| peer.id == id)
            .map(|peer| peer.api_url.as_str())
    }
}

/// The `[cluster]` table of the TOML file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ClusterFile {
    pub node_id: Option<u64>,
    pub name: Option<String>,
    pub raft_listen: Option<SocketAddr>,
    pub peers: Option<Vec<Peer>>,
    pub secret: Option<String>,
    pub secret_file: Option<PathBuf>,
    pub heartbeat_ms: Option<u64>,
    pub election_timeout_min_ms: Option<u64>,
    pub election_timeout_max_ms: Option<u64>,
    pub commit_timeout_ms: Option<u64>,
    pub join: Option<bool>,
    pub snapshot_every_entries: Option<u64>,
}

/// Shortest cluster secret accepted.
const CLUSTER_SECRET_MIN_BYTES: usize = 16;

/// Resolves `[cluster]` (flags over the file); `None` when no node id is given.
fn resolve_cluster(args: &ServeArgs, file: ClusterFile) -> Result<Option<ClusterConfig>, ConfigError> {
    let Some(node_id) = args.cluster_node_id.or(file.node_id) else {
        return Ok(None);
    };
    let raft_listen = args
        .cluster_raft_listen
        .or(file.raft_listen)
        .ok_or(ConfigError::Invalid("a cluster node needs cluster raft_listen"))?;
    let peers = if args.cluster_peers.is_empty() {
        file.peers.unwrap_or_default()
    } else {
        args.cluster_peers.clone()
    };
    if !peers.iter().any(|peer| peer.id == node_id) {
        return Err(ConfigError::Invalid(
            "the cluster peers must name this node (id=raft_addr=api_url)",
        ));
    }
    let join = args.cluster_join.or(file.join).unwrap_or(false);
    let mut ids: Vec<u64> = peers.iter().map(|peer| peer.id).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() != peers.len() {
        return Err(ConfigError::Invalid("the cluster peers need distinct ids"));
    }
    // A new group starts with an odd number of voters; a joining node lists
    // the members it knows and itself, whatever their number.
    if !join && !matches!(peers.len(), 1 | 3 | 5) {
        return Err(ConfigError::Invalid(
            "a new cluster has 1, 3 or 5 peers (or this node joins one: cluster join)",
        ));
    }
    if join && peers.len() < 2 {
        return Err(ConfigError::Invalid(
            "a joining node lists at least one member of the group besides itself",
        ));
    }
    let secret = match (
        args.cluster_secret.clone().or(file.secret),
        args.cluster_secret_file.clone().or(file.secret_file),
    ) {
        (Some(secret), _) => secret.into_bytes(),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read { path, source })?;
            text.trim().as_bytes().to_vec()
        }
        (None, None) => {
            return Err(ConfigError::Invalid(
                "a cluster node needs cluster secret or secret_file",
            ));
        }
    };
    if secret.len() < CLUSTER_SECRET_MIN_BYTES {
        return Err(ConfigError::Invalid("the cluster secret must be at least 16 bytes"));
    }
    let config = ClusterConfig {
        node_id,
        name: args
            .cluster_name
            .clone()
            .or(file.name)
            .unwrap_or_else(|| "croupier".into()),
        raft_listen,
        peers,
        secret,
        heartbeat_ms: args.cluster_heartbeat_ms.or(file.heartbeat_ms).unwrap_or(100),
        election_timeout_min_ms: args
            .cluster_election_timeout_min_ms
            .or(file.election_timeout_min_ms)
            .unwrap_or(1_000),
        election_timeout_max_ms: args
            .cluster_election_timeout_max_ms
            .or(file.election_timeout_max_ms)
            .unwrap_or(2_000),
        commit_timeout_ms: file.commit_timeout_ms.unwrap_or(4_000),
        join,
        snapshot_every_entries: args
            .cluster_snapshot_every_entries
            .or(file.snapshot_every_entries)
            .unwrap_or(10_000),
    };
    if config.name.is_empty()
        || config.heartbeat_ms == 0
        || config.election_timeout_min_ms <= config.heartbeat_ms
        || config.election_timeout_max_ms <= config.election_timeout_min_ms
        || config.commit_timeout_ms == 0
    {
        return Err(ConfigError::Invalid(
            "cluster: a name, and 0 < heartbeat_ms < election_timeout_min_ms < election_timeout_max_ms, commit_timeout_ms > 0",
        ));
    }
    Ok(Some(config))
}

impl Default for ServeConfig {
    fn default() -> ServeConfig {
        ServeConfig {
            data_dir: PathBuf::from("./croupier-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls: false,
            tls_cert: None,
            tls_key: None,
            quic: true,
            quic_listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            signature_window_ms: 300_000,
            body_limit_bytes: 64 * 1024,
            request_timeout_ms: 10_000,
            session_ttl_ms: 4 * 3_600_000,
            ring_capacity: 65_536,
            batch_len_max: 4_096,
            sequencer_spin_us: engine::sequencer::IDLE_SPIN_DEFAULT.as_micros() as u64,
            http_workers: 0,
            retry_after_s: 1,
            journal_segment_bytes: journal::SEGMENT_SIZE_DEFAULT_BYTES,
            snapshot_every_commands: 5_000_000,
            max_connections: 10_000,
            max_connections_per_ip: 256,
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            http2_keep_alive_interval_ms: 30_000,
            http2_keep_alive_timeout_ms: 10_000,
            snapshot_retire: SnapshotRetire::Archive,
            log: "info".into(),
            log_format: LogFormat::Text,
            rsa_key_file: None,
            pam_master_key_file: None,
            kyc_provider_url: None,
            kyc_app_token: None,
            kyc_secret_key: None,
            kyc_webhook_secret: None,
            kyc_level_name: "basic-kyc-level".into(),
            self_exclusion_registry_url: None,
            self_exclusion_registry_batch_url: None,
            self_exclusion_registry_api_key: None,
            self_exclusion_registry_jurisdictions: vec!["GB".into()],
            self_exclusion_registry_fail_open: Vec::new(),
            ship_jurisdiction_profiles: true,
            risk_hold_withdrawals_on_case: true,
            export_postgres_url: None,
            export_batch_records: export::RECORDS_PER_TX,
            zendesk_webhook_secret: None,
            zendesk_api_url: None,
            zendesk_email: None,
            zendesk_api_token: None,
            sendgrid_api_url: None,
            sendgrid_api_key: None,
            campaign_from_email: None,
            twilio_api_url: None,
            twilio_account_sid: None,
            twilio_auth_token: None,
            campaign_sms_from: None,
            fcm_api_url: None,
            fcm_project_id: None,
            fcm_access_token: None,
            pragmatic_frb_api_url: None,
            pragmatic_frb_secure_login: None,
            pragmatic_frb_secret_key: None,
            pragmatic_frb_aggregator: None,
            stripe_api_url: None,
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            nowpayments_api_url: None,
            nowpayments_api_key: None,
            nowpayments_ipn_secret: None,
            nowpayments_email: None,
            nowpayments_password: None,
            nowpayments_ipn_callback_url: None,
            cashier_default_provider: None,
            cashier_four_eyes_above: "1000".into(),
            cashier_deposit_ttl_s: 3_600,
            cashier_provider_timeout_ms: 10_000,
            cashier_tick_ms: 1_000,
            cashier_retry_base_ms: 500,
            cashier_retry_max_ms: 60_000,
            cashier_status_every_ms: 60_000,
            cluster: None,
        }
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Text,
    /// One JSON object per line, span fields included (request id, route).
    Json,
}

/// What happens to journal segments that the kept snapshots cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotRetire {
    /// Move them to `archive/` in the data directory (still verifiable).
    Archive,
    /// Delete them.
    Remove,
    /// Leave them where they are.
    Keep,
}

impl SnapshotRetire {
    /// The journal's retirement, if any.
    pub fn retirement(self) -> Option<journal::Retirement> {
        match self {
            SnapshotRetire::Archive => Some(journal::Retirement::Archive),
            SnapshotRetire::Remove => Some(journal::Retirement::Remove),
            SnapshotRetire::Keep => None,
        }
    }
}

impl ServeConfig {
    /// Where the operator's RSA signing key lives.
    pub fn rsa_key_path(&self) -> PathBuf {
        self.rsa_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join(crate::rsa_signature::KEY_FILE))
    }

    /// The request timeout as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// The limits and defaults the API modules apply to requests.
    pub fn api(&self) -> edge::state::ApiConfig {
        edge::state::ApiConfig {
            signature_window_ms: self.signature_window_ms,
            body_limit_bytes: self.body_limit_bytes,
            request_timeout_ms: self.request_timeout_ms,
            session_ttl_ms: self.session_ttl_ms,
            retry_after_s: self.retry_after_s,
            kyc_provider: self.kyc_provider(),
        }
    }

    /// The KYC provider's settings, if a provider is configured.
    fn kyc_provider(&self) -> Option<edge::state::KycProviderConfig> {
        Some(edge::state::KycProviderConfig {
            base_url: self.kyc_provider_url.clone()?.trim_end_matches('/').to_owned(),
            app_token: self.kyc_app_token.clone()?,
            secret_key: self.kyc_secret_key.clone()?,
            webhook_secret: self.kyc_webhook_secret.clone()?,
            level_name: self.kyc_level_name.clone(),
        })
    }

    /// How long a graceful stop waits for requests in flight: the longest a
    /// request may take in the router, plus time to write its reply.
    pub fn drain_timeout(&self) -> Duration {
        self.request_timeout() + DRAIN_MARGIN
    }

    /// [`ServeConfig::header_read_timeout_ms`] as a duration.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }

    /// How many threads serve HTTP: [`ServeConfig::http_workers`], or
    /// when it is 0, one fewer than `cpus` (at least one). The sequencer,
    /// the journal's commit thread and the read models' projection each
    /// have a thread of their own, busy whenever the wallet is; a worker
    /// per CPU beside them mostly adds switches between threads (measured
    /// on 2 CPUs, BENCHMARKS.md: fewer switches a request, the wallet's
    /// closed-loop throughput 1.16×).
    pub fn http_worker_threads(&self, cpus: usize) -> usize {
        match self.http_workers {
            0 => cpus.saturating_sub(1).max(1),
            n => n,
        }
    }

    /// [`ServeConfig::idle_timeout_ms`] as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }

    /// The HTTP/2 ping interval, if pings are on.
    pub fn http2_keep_alive_interval(&self) -> Option<Duration> {
        (self.http2_keep_alive_interval_ms > 0).then(|| Duration::from_millis(self.http2_keep_alive_interval_ms))
    }

    /// [`ServeConfig::http2_keep_alive_timeout_ms`] as a duration.
    pub fn http2_keep_alive_timeout(&self) -> Duration {
        Duration::from_millis(self.http2_keep_alive_timeout_ms)
    }

    /// True if some transport needs a certificate.
    pub fn needs_certificate(&self) -> bool {
        self.tls || self.quic
    }

    /// Where the certificate comes from.
    pub fn tls_source(&self) -> crate::tls::Source {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => crate::tls::Source::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            // `resolve` refuses one without the other.
            _ => crate::tls::Source::DataDir {
                data_dir: self.data_dir.clone(),
                addresses: vec![self.listen.ip(), self.quic_listen.ip()],
            },
        }
    }
}

/// Most HTTP worker threads (far beyond any machine's useful count).
const HTTP_WORKERS_MAX: usize = 1024;

/// Longest idle timeout: a day (QUIC needs it to fit its variable-length integers).
const IDLE_TIMEOUT_MAX_MS: u64 = 86_400_000;

/// Longest `sequencer_spin_us`: 10 ms is already far past any gap a spin
/// can usefully bridge (the default is 100 µs).
const SEQUENCER_SPIN_US_MAX: u64 = 10_000;

/// What a graceful stop adds to the request timeout for replies to be written.
const DRAIN_MARGIN: Duration = Duration::from_secs(2);

/// The TOML file: the same keys as [`ServeConfig`], each optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub tls: Option<bool>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub quic: Option<bool>,
    pub quic_listen: Option<SocketAddr>,
    pub signature_window_ms: Option<u64>,
    pub body_limit_bytes: Option<usize>,
    pub request_timeout_ms: Option<u64>,
    pub session_ttl_ms: Option<u64>,
    pub ring_capacity: Option<usize>,
    pub batch_len_max: Option<usize>,
    pub sequencer_spin_us: Option<u64>,
    pub http_workers: Option<usize>,
    pub retry_after_s: Option<u64>,
    pub journal_segment_bytes: Option<u64>,
    pub snapshot_every_commands: Option<u64>,
    pub max_connections: Option<usize>,
    pub max_connections_per_ip: Option<usize>,
    pub header_read_timeout_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
    pub http2_keep_alive_interval_ms: Option<u64>,
    pub http2_keep_alive_timeout_ms: Option<u64>,
    pub snapshot_retire: Option<SnapshotRetire>,
    pub log: Option<String>,
    pub log_format: Option<LogFormat>,
    pub rsa_key_file: Option<PathBuf>,
    pub pam_master_key_file: Option<PathBuf>,
    pub kyc_provider_url: Option<String>,
    pub kyc_app_token: Option<String>,
    pub kyc_secret_key: Option<String>,
    pub kyc_webhook_secret: Option<String>,
    pub kyc_level_name: Option<String>,
    pub self_exclusion_registry_url: Option<String>,
    pub self_exclusion_registry_batch_url: Option<String>,
    pub self_exclusion_registry_api_key: Option<String>,
    pub self_exclusion_registry_jurisdictions: Option<Vec<String>>,
    pub self_exclusion_registry_fail_open: Option<Vec<String>>,
    pub ship_jurisdiction_profiles: Option<bool>,
    pub risk_hold_withdrawals_on_case: Option<bool>,
    pub export_postgres_url: Option<String>,
    pub export_batch_records: Option<u64>,
    pub zendesk_webhook_secret: Option<String>,
    pub zendesk_api_url: Option<String>,
    pub zendesk_email: Option<String>,
    pub zendesk_api_token: Option<String>,
    pub sendgrid_api_url: Option<String>,
    pub sendgrid_api_key: Option<String>,
    pub campaign_from_email: Option<String>,
    pub twilio_api_url: Option<String>,
    pub twilio_account_sid: Option<String>,
    pub twilio_auth_token: Option<String>,
    pub campaign_sms_from: Option<String>,
    pub fcm_api_url: Option<String>,
    pub fcm_project_id: Option<String>,
    pub fcm_access_token: Option<String>,
    pub pragmatic_frb_api_url: Option<String>,
    pub pragmatic_frb_secure_login: Option<String>,
    pub pragmatic_frb_secret_key: Option<String>,
    pub pragmatic_frb_aggregator: Option<u32>,
    pub stripe_api_url: Option<String>,
    pub stripe_secret_key: Option<String>,
    pub stripe_webhook_secret: Option<String>,
    pub nowpayments_api_url: Option<String>,
    pub nowpayments_api_key: Option<String>,
    pub nowpayments_ipn_secret: Option<String>,
    pub nowpayments_email: Option<String>,
    pub nowpayments_password: Option<String>,
    pub nowpayments_ipn_callback_url: Option<String>,
    pub cashier_default_provider: Option<String>,
    pub cashier_four_eyes_above: Option<String>,
    pub cashier_deposit_ttl_s: Option<u64>,
    pub cashier_provider_timeout_ms: Option<u64>,
    pub cashier_tick_ms: Option<u64>,
    pub cashier_retry_base_ms: Option<u64>,
    pub cashier_retry_max_ms: Option<u64>,
    pub cashier_status_every_ms: Option<u64>,
    pub cluster: Option<ClusterFile>,
}

/// The flags of `croupier serve`; each can also come from its environment variable.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// TOML configuration file (keys as the long flags, with underscores).
    #[arg(long, env = "CROUPIER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory [default: ./croupier-data].
    #[arg(long, env = "CROUPIER_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// HTTP/1.1 and HTTP/2 address (TCP) [default: 127.0.0.1:8080].
    #[arg(long, env = "CROUPIER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// TLS on the TCP address, HTTP/2 and HTTP/1.1 by ALPN (`--tls` or `--tls=false`) [default: false].
    #[arg(long, env = "CROUPIER_TLS", num_args = 0..=1, require_equals = true, default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new())]
    pub tls: Option<bool>,
    /// PEM certificate chain [default: <data-dir>/tls/cert.pem, self-signed on first start].
    #[arg(long, env = "CROUPIER_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert [default: <data-dir>/tls/key.pem].
    #[arg(long, env = "CROUPIER_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// HTTP/3 over QUIC (`--quic` or `--quic=false`) [default: true].
    #[arg(long, env = "CROUPIER_QUIC", num_args = 0..=1, require_equals = true, default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new())]
    pub quic: Option<bool>,
    /// No HTTP/3 (the same as --quic=false).
    #[arg(long)]
    pub no_quic: bool,
    /// HTTP/3 address (UDP) [default: 127.0.0.1:8443].
    #[arg(long, env = "CROUPIER_QUIC_LISTEN")]
    pub quic_listen: Option<SocketAddr>,
    /// Accepted clock difference of signed requests, ms [default: 300000].
    #[arg(long, env = "CROUPIER_SIGNATURE_WINDOW_MS")]
    pub signature_window_ms: Option<u64>,
    /// Largest request body, bytes [default: 65536].
    #[arg(long, env = "CROUPIER_BODY_LIMIT_BYTES")]
    pub body_limit_bytes: Option<usize>,
    /// Request timeout, ms [default: 10000].
    #[arg(long, env = "CROUPIER_REQUEST_TIMEOUT_MS")]
    pub request_timeout_ms: Option<u64>,
    /// Default game-launch token lifetime, ms [default: 14400000].
    #[arg(long, env = "CROUPIER_SESSION_TTL_MS")]
    pub session_ttl_ms: Option<u64>,
    /// Sequencer ring capacity [default: 65536].
    #[arg(long, env = "CROUPIER_RING_CAPACITY")]
    pub ring_capacity: Option<usize>,
    /// Most requests per sequencer batch [default: 4096].
    #[arg(long, env = "CROUPIER_BATCH_LEN_MAX")]
    pub batch_len_max: Option<usize>,
    /// How long the sequencer spins for the next request before it sleeps, µs; 0: at once; at most 10000 [default: 100].
    #[arg(long, env = "CROUPIER_SEQUENCER_SPIN_US")]
    pub sequencer_spin_us: Option<u64>,
    /// Threads serving HTTP, 0 for one fewer than the CPUs (at least one) [default: 0].
    #[arg(long, env = "CROUPIER_HTTP_WORKERS")]
    pub http_workers: Option<usize>,
    /// Retry-After of a busy answer, s [default: 1].
    #[arg(long, env = "CROUPIER_RETRY_AFTER_S")]
    pub retry_after_s: Option<u64>,
    /// Journal segment size, bytes [default: 67108864].
    #[arg(long, env = "CROUPIER_JOURNAL_SEGMENT_BYTES")]
    pub journal_segment_bytes: Option<u64>,
    /// Snapshot every this many durable commands, 0 for never [default: 5000000].
    #[arg(long, env = "CROUPIER_SNAPSHOT_EVERY_COMMANDS")]
    pub snapshot_every_commands: Option<u64>,
    /// Most connections open at once, per transport [default: 10000].
    #[arg(long, env = "CROUPIER_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Most connections open at once from one client address (IPv6: one /64), per transport [default: 256].
    #[arg(long, env = "CROUPIER_MAX_CONNECTIONS_PER_IP")]
    pub max_connections_per_ip: Option<usize>,
    /// Longest until a request's head is in (from connect, or on HTTP/1.1 from the last reply), ms [default: 10000].
    #[arg(long, env = "CROUPIER_HEADER_READ_TIMEOUT_MS")]
    pub header_read_timeout_ms: Option<u64>,
    /// HTTP/2 and HTTP/3 connections with no request in flight are closed after this, ms [default: 60000].
    #[arg(long, env = "CROUPIER_IDLE_TIMEOUT_MS")]
    pub idle_timeout_ms: Option<u64>,
    /// HTTP/2 ping interval, ms, 0 for none [default: 30000].
    #[arg(long, env = "CROUPIER_HTTP2_KEEP_ALIVE_INTERVAL_MS")]
    pub http2_keep_alive_interval_ms: Option<u64>,
    /// HTTP/2: close a connection whose ping is not answered within this, ms [default: 10000].
    #[arg(long, env = "CROUPIER_HTTP2_KEEP_ALIVE_TIMEOUT_MS")]
    pub http2_keep_alive_timeout_ms: Option<u64>,
    /// Journal segments behind the kept snapshots: archive, remove or keep [default: archive].
    #[arg(long, env = "CROUPIER_SNAPSHOT_RETIRE", value_enum)]
    pub snapshot_retire: Option<SnapshotRetire>,
    /// Log filter, e.g. "info" or "gateway=debug" [default: info].
    #[arg(long, env = "CROUPIER_LOG")]
    pub log: Option<String>,
    /// Log lines as text or json [default: text].
    #[arg(long, env = "CROUPIER_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Operator RSA private key (PEM) signing Hub88 responses; made if missing
    /// [default: <data dir>/operator-rsa-key.pem].
    #[arg(long, env = "CROUPIER_RSA_KEY_FILE")]
    pub rsa_key_file: Option<PathBuf>,
    /// PAM master key file (64 hex digits, mode 0600) wrapping the players'
    /// data keys; must exist if given [default: <data dir>/pam-master-key,
    /// made on the first start].
    #[arg(long, env = "CROUPIER_PAM_MASTER_KEY_FILE")]
    pub pam_master_key_file: Option<PathBuf>,
    /// KYC provider base URL (Sumsub-style API; `croupier sandbox kyc` for a
    /// local one) [default: none: KYC checks cannot be started].
    #[arg(long, env = "CROUPIER_KYC_PROVIDER_URL")]
    pub kyc_provider_url: Option<String>,
    /// KYC provider app token (with --kyc-provider-url).
    #[arg(long, env = "CROUPIER_KYC_APP_TOKEN")]
    pub kyc_app_token: Option<String>,
    /// KYC provider secret key signing our requests (with --kyc-provider-url).
    #[arg(long, env = "CROUPIER_KYC_SECRET_KEY")]
    pub kyc_secret_key: Option<String>,
    /// Secret the KYC provider signs webhooks with (with --kyc-provider-url).
    #[arg(long, env = "CROUPIER_KYC_WEBHOOK_SECRET")]
    pub kyc_webhook_secret: Option<String>,
    /// KYC provider verification level [default: basic-kyc-level].
    #[arg(long, env = "CROUPIER_KYC_LEVEL_NAME")]
    pub kyc_level_name: Option<String>,
    /// Self-exclusion register single-check URL (GAMSTOP API v2; `croupier
    /// sandbox gamstop` for a local one) [default: none: nobody is checked].
    #[arg(long, env = "CROUPIER_SELF_EXCLUSION_REGISTRY_URL")]
    pub self_exclusion_registry_url: Option<String>,
    /// Self-exclusion register batch URL [default: none].
    #[arg(long, env = "CROUPIER_SELF_EXCLUSION_REGISTRY_BATCH_URL")]
    pub self_exclusion_registry_batch_url: Option<String>,
    /// Self-exclusion register API key (with --self-exclusion-registry-url).
    #[arg(long, env = "CROUPIER_SELF_EXCLUSION_REGISTRY_API_KEY")]
    pub self_exclusion_registry_api_key: Option<String>,
    /// Jurisdictions whose players are checked, comma-separated [default: GB].
    #[arg(long, env = "CROUPIER_SELF_EXCLUSION_REGISTRY_JURISDICTIONS", value_delimiter = ',')]
    pub self_exclusion_registry_jurisdictions: Option<Vec<String>>,
    /// Checked jurisdictions let through when the register does not answer
    /// (fail-open), comma-separated [default: none: all fail closed].
    #[arg(long, env = "CROUPIER_SELF_EXCLUSION_REGISTRY_FAIL_OPEN", value_delimiter = ',')]
    pub self_exclusion_registry_fail_open: Option<Vec<String>>,
    /// Submit the shipped jurisdiction profiles (UK, MT, default) the ledger
    /// has none of, at start (`--ship-jurisdiction-profiles=false`: do not)
    /// [default: true].
    #[arg(long, env = "CROUPIER_SHIP_JURISDICTION_PROFILES", num_args = 0..=1, require_equals = true,
        default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub ship_jurisdiction_profiles: Option<bool>,
    /// Opening an AML case holds the player's withdrawals in the ledger
    /// until it is resolved (`--risk-hold-withdrawals-on-case=false`: cases
    /// hold nothing unless compliance acts) [default: true].
    #[arg(long, env = "CROUPIER_RISK_HOLD_WITHDRAWALS_ON_CASE", num_args = 0..=1, require_equals = true,
        default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub risk_hold_withdrawals_on_case: Option<bool>,
    /// Export the journal and the report figures to this PostgreSQL
    /// database, postgres://user:password@host:port/db [default: none: no export].
    #[arg(long, env = "CROUPIER_EXPORT_POSTGRES_URL")]
    pub export_postgres_url: Option<String>,
    /// Most journal records per PostgreSQL transaction of the export [default: 2000].
    #[arg(long, env = "CROUPIER_EXPORT_BATCH_RECORDS")]
    pub export_batch_records: Option<u64>,
    /// Zendesk's webhook signing secret (the support webhook `/webhooks/v1/support/zendesk` answers 404 without one).
    #[arg(long, env = "CROUPIER_ZENDESK_WEBHOOK_SECRET")]
    pub zendesk_webhook_secret: Option<String>,
    /// Zendesk account URL tickets made here are pushed to (https://<subdomain>.zendesk.com; `croupier sandbox zendesk` for a local one) [default: none: no outbound sync].
    #[arg(long, env = "CROUPIER_ZENDESK_API_URL")]
    pub zendesk_api_url: Option<String>,
    /// The Zendesk agent the API token belongs to (needed with --zendesk-api-url).
    #[arg(long, env = "CROUPIER_ZENDESK_EMAIL")]
    pub zendesk_email: Option<String>,
    /// Zendesk API token (needed with --zendesk-api-url).
    #[arg(long, env = "CROUPIER_ZENDESK_API_TOKEN")]
    pub zendesk_api_token: Option<String>,
    /// Email provider base URL for campaign messages (SendGrid v3 API: https://api.sendgrid.com; `croupier sandbox sendgrid` for a local one) [default: none: no email channel].
    #[arg(long, env = "CROUPIER_SENDGRID_API_URL")]
    pub sendgrid_api_url: Option<String>,
    /// SendGrid API key (with --sendgrid-api-url).
    #[arg(long, env = "CROUPIER_SENDGRID_API_KEY")]
    pub sendgrid_api_key: Option<String>,
    /// The sender address of campaign emails (with --sendgrid-api-url).
    #[arg(long, env = "CROUPIER_CAMPAIGN_FROM_EMAIL")]
    pub campaign_from_email: Option<String>,
    /// SMS provider base URL for campaign messages (Twilio API: https://api.twilio.com; `croupier sandbox twilio` for a local one) [default: none: no SMS channel].
    #[arg(long, env = "CROUPIER_TWILIO_API_URL")]
    pub twilio_api_url: Option<String>,
    /// Twilio Account SID, AC... (with --twilio-api-url).
    #[arg(long, env = "CROUPIER_TWILIO_ACCOUNT_SID")]
    pub twilio_account_sid: Option<String>,
    /// Twilio Auth Token (with --twilio-api-url).
    #[arg(long, env = "CROUPIER_TWILIO_AUTH_TOKEN")]
    pub twilio_auth_token: Option<String>,
    /// The sender of campaign SMS: a Twilio number, an alphanumeric sender id or a Messaging Service SID, MG... (with --twilio-api-url).
    #[arg(long, env = "CROUPIER_CAMPAIGN_SMS_FROM")]
    pub campaign_sms_from: Option<String>,
    /// Push provider base URL for campaign messages (FCM HTTP v1 API: https://fcm.googleapis.com; `croupier sandbox fcm` for a local one) [default: none: no push channel].
    #[arg(long, env = "CROUPIER_FCM_API_URL")]
    pub fcm_api_url: Option<String>,
    /// The Firebase project id (with --fcm-api-url).
    #[arg(long, env = "CROUPIER_FCM_PROJECT_ID")]
    pub fcm_project_id: Option<String>,
    /// The OAuth 2.0 access token for FCM, a service account's (with --fcm-api-url).
    #[arg(long, env = "CROUPIER_FCM_ACCESS_TOKEN")]
    pub fcm_access_token: Option<String>,
    /// Pragmatic Play's Free Rounds Bonus API base URL (`croupier sandbox pragmatic-frb` for a local one) [default: none: free spins are credited from the winnings given].
    #[arg(long, env = "CROUPIER_PRAGMATIC_FRB_API_URL")]
    pub pragmatic_frb_api_url: Option<String>,
    /// The operator's secureLogin at Pragmatic Play (with --pragmatic-frb-api-url).
    #[arg(long, env = "CROUPIER_PRAGMATIC_FRB_SECURE_LOGIN")]
    pub pragmatic_frb_secure_login: Option<String>,
    /// The FRB API's secret key (with --pragmatic-frb-api-url).
    #[arg(long, env = "CROUPIER_PRAGMATIC_FRB_SECRET_KEY")]
    pub pragmatic_frb_secret_key: Option<String>,
    /// The aggregator source id whose games the FRB API serves (with --pragmatic-frb-api-url).
    #[arg(long, env = "CROUPIER_PRAGMATIC_FRB_AGGREGATOR")]
    pub pragmatic_frb_aggregator: Option<u32>,
    /// Payment provider base URL (Stripe API: https://api.stripe.com; `croupier sandbox stripe` for a local one) [default: none: no cashier].
    #[arg(long, env = "CROUPIER_STRIPE_API_URL")]
    pub stripe_api_url: Option<String>,
    /// Stripe secret API key, sk_... (with --stripe-api-url).
    #[arg(long, env = "CROUPIER_STRIPE_SECRET_KEY")]
    pub stripe_secret_key: Option<String>,
    /// Stripe webhook signing secret, whsec_... (with --stripe-api-url).
    #[arg(long, env = "CROUPIER_STRIPE_WEBHOOK_SECRET")]
    pub stripe_webhook_secret: Option<String>,
    /// NOWPayments API base URL (https://api.nowpayments.io; `croupier sandbox nowpayments` for a local one) [default: none].
    #[arg(long, env = "CROUPIER_NOWPAYMENTS_API_URL")]
    pub nowpayments_api_url: Option<String>,
    /// NOWPayments API key (with --nowpayments-api-url).
    #[arg(long, env = "CROUPIER_NOWPAYMENTS_API_KEY")]
    pub nowpayments_api_key: Option<String>,
    /// NOWPayments IPN secret (with --nowpayments-api-url).
    #[arg(long, env = "CROUPIER_NOWPAYMENTS_IPN_SECRET")]
    pub nowpayments_ipn_secret: Option<String>,
    /// NOWPayments account e-mail, for payouts.
    #[arg(long, env = "CROUPIER_NOWPAYMENTS_EMAIL")]
    pub nowpayments_email: Option<String>,
    /// NOWPayments account password, for payouts.
    #[arg(long, env = "CROUPIER_NOWPAYMENTS_PASSWORD")]
    pub nowpayments_password: Option<String>,
    /// Where NOWPayments sends IPNs (this server's /webhooks/v1/payments/nowpayments, as reachable from the internet).
    #[arg(long, env = "CROUPIER_NOWPAYMENTS_IPN_CALLBACK_URL")]
    pub nowpayments_ipn_callback_url: Option<String>,
    /// The provider of deposits that name none: stripe or nowpayments [default: stripe if configured].
    #[arg(long, env = "CROUPIER_CASHIER_DEFAULT_PROVIDER")]
    pub cashier_default_provider: Option<String>,
    /// Withdrawals above this amount (decimal, in the withdrawal's currency) need two approvers [default: 1000].
    #[arg(long, env = "CROUPIER_CASHIER_FOUR_EYES_ABOVE")]
    pub cashier_four_eyes_above: Option<String>,
    /// Seconds an initiated deposit may wait for its provider before it expires [default: 3600].
    #[arg(long, env = "CROUPIER_CASHIER_DEPOSIT_TTL_S")]
    pub cashier_deposit_ttl_s: Option<u64>,
    /// Milliseconds a payment provider call may take [default: 10000].
    #[arg(long, env = "CROUPIER_CASHIER_PROVIDER_TIMEOUT_MS")]
    pub cashier_provider_timeout_ms: Option<u64>,
    /// Milliseconds between the cashier worker's rounds (payout outbox, deposit expiry) [default: 1000].
    #[arg(long, env = "CROUPIER_CASHIER_TICK_MS")]
    pub cashier_tick_ms: Option<u64>,
    /// First retry delay of a failed payout call, doubled per failure, in ms [default: 500].
    #[arg(long, env = "CROUPIER_CASHIER_RETRY_BASE_MS")]
    pub cashier_retry_base_ms: Option<u64>,
    /// Longest delay between payout retries, in ms [default: 60000].
    #[arg(long, env = "CROUPIER_CASHIER_RETRY_MAX_MS")]
    pub cashier_retry_max_ms: Option<u64>,
    /// How often an unsettled payout's status is read, in ms [default: 60000].
    #[arg(long, env = "CROUPIER_CASHIER_STATUS_EVERY_MS")]
    pub cashier_status_every_ms: Option<u64>,
    /// This node's id in a replication group [default: none: a single node].
    #[arg(long, env = "CROUPIER_CLUSTER_NODE_ID")]
    pub cluster_node_id: Option<u64>,
    /// The group's name; nodes of another group are refused [default: croupier].
    #[arg(long, env = "CROUPIER_CLUSTER_NAME")]
    pub cluster_name: Option<String>,
    /// Where this node's raft listener binds (HTTP/2 between the members).
    #[arg(long, env = "CROUPIER_CLUSTER_RAFT_LISTEN")]
    pub cluster_raft_listen: Option<SocketAddr>,
    /// A member, id=raft_addr=api_url (repeat, or comma-separate in the env), this node included.
    #[arg(long = "cluster-peer", env = "CROUPIER_CLUSTER_PEERS", value_delimiter = ',')]
    pub cluster_peers: Vec<Peer>,
    /// The secret RPCs between members are signed with (at least 16 bytes).
    #[arg(long, env = "CROUPIER_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<String>,
    /// A file holding the cluster secret.
    #[arg(long, env = "CROUPIER_CLUSTER_SECRET_FILE")]
    pub cluster_secret_file: Option<PathBuf>,
    /// Leader heartbeat interval, ms [default: 100].
    #[arg(long, env = "CROUPIER_CLUSTER_HEARTBEAT_MS")]
    pub cluster_heartbeat_ms: Option<u64>,
    /// Shortest election timeout, ms [default: 1000].
    #[arg(long, env = "CROUPIER_CLUSTER_ELECTION_TIMEOUT_MIN_MS")]
    pub cluster_election_timeout_min_ms: Option<u64>,
    /// Longest election timeout, ms; also the leader's lease [default: 2000].
    #[arg(long, env = "CROUPIER_CLUSTER_ELECTION_TIMEOUT_MAX_MS")]
    pub cluster_election_timeout_max_ms: Option<u64>,
    /// Join a running group: wait to be added (`croupier-admin cluster add`)
    /// instead of initializing a new group with the peers.
    #[arg(long, env = "CROUPIER_CLUSTER_JOIN", num_args = 0..=1, default_missing_value = "true")]
    pub cluster_join: Option<bool>,
    /// A Raft snapshot every this many log entries; the journal before the
    /// log kept after it is retired to archive/ [default: 10000; 0: never].
    #[arg(long, env = "CROUPIER_CLUSTER_SNAPSHOT_EVERY_ENTRIES")]
    pub cluster_snapshot_every_entries: Option<u64>,
}

/// Why the configuration could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<toml::de::Error>,
    },
    /// A value is out of range.
    #[error("{0}")]
    Invalid(&'static str),
}

impl FileConfig {
    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source: Box::new(source),
        })
    }
}

impl ServeArgs {
    /// Resolves flags (and env) over the file over the defaults.
    pub fn resolve(&self) -> Result<ServeConfig, ConfigError> {
        let file = match &self.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        resolve(self, file)
    }
}

/// Layers `args` over `file` over [`ServeConfig::default`].
pub fn resolve(args: &ServeArgs, file: FileConfig) -> Result<ServeConfig, ConfigError> {
    let d = ServeConfig::default();
    let quic_flag = if args.no_quic { Some(false) } else { args.quic };
    // Each setting: the flag (or env), else the file, else the default.
    macro_rules! layer {
        ($field:ident) => {
            args.$field.clone().or(file.$field).unwrap_or(d.$field)
        };
    }
    let config = ServeConfig {
        data_dir: layer!(data_dir),
        listen: layer!(listen),
        tls: layer!(tls),
        tls_cert: args.tls_cert.clone().or(file.tls_cert),
        tls_key: args.tls_key.clone().or(file.tls_key),
        quic: quic_flag.or(file.quic).unwrap_or(d.quic),
        quic_listen: layer!(quic_listen),
        signature_window_ms: layer!(signature_window_ms),
        body_limit_bytes: layer!(body_limit_bytes),
        request_timeout_ms: layer!(request_timeout_ms),
        session_ttl_ms: layer!(session_ttl_ms),
        ring_capacity: layer!(ring_capacity),
        batch_len_max: layer!(batch_len_max),
        sequencer_spin_us: layer!(sequencer_spin_us),
        http_workers: layer!(http_workers),
        retry_after_s: layer!(retry_after_s),
        journal_segment_bytes: layer!(journal_segment_bytes),
        snapshot_every_commands: layer!(snapshot_every_commands),
        snapshot_retire: layer!(snapshot_retire),
        max_connections: layer!(max_connections),
        max_connections_per_ip: layer!(max_connections_per_ip),
        header_read_timeout_ms: layer!(header_read_timeout_ms),
        idle_timeout_ms: layer!(idle_timeout_ms),
        http2_keep_alive_interval_ms: layer!(http2_keep_alive_interval_ms),
        http2_keep_alive_timeout_ms: layer!(http2_keep_alive_timeout_ms),
        log: layer!(log),
        log_format: layer!(log_format),
        rsa_key_file: args.rsa_key_file.clone().or(file.rsa_key_file),
        pam_master_key_file: args.pam_master_key_file.clone().or(file.pam_master_key_file),
        kyc_provider_url: args.kyc_provider_url.clone().or(file.kyc_provider_url),
        kyc_app_token: args.kyc_app_token.clone().or(file.kyc_app_token),
        kyc_secret_key: args.kyc_secret_key.clone().or(file.kyc_secret_key),
        kyc_webhook_secret: args.kyc_webhook_secret.clone().or(file.kyc_webhook_secret),
        kyc_level_name: layer!(kyc_level_name),
        self_exclusion_registry_url: args
            .self_exclusion_registry_url
            .clone()
            .or(file.self_exclusion_registry_url),
        self_exclusion_registry_batch_url: args
            .self_exclusion_registry_batch_url
            .clone()
            .or(file.self_exclusion_registry_batch_url),
        self_exclusion_registry_api_key: args
            .self_exclusion_registry_api_key
            .clone()
            .or(file.self_exclusion_registry_api_key),
        self_exclusion_registry_jurisdictions: layer!(self_exclusion_registry_jurisdictions),
        self_exclusion_registry_fail_open: layer!(self_exclusion_registry_fail_open),
        ship_jurisdiction_profiles: layer!(ship_jurisdiction_profiles),
        risk_hold_withdrawals_on_case: layer!(risk_hold_withdrawals_on_case),
        export_postgres_url: args.export_postgres_url.clone().or(file.export_postgres_url),
        export_batch_records: layer!(export_batch_records),
        zendesk_webhook_secret: args.zendesk_webhook_secret.clone().or(file.zendesk_webhook_secret),
        zendesk_api_url: args.zendesk_api_url.clone().or(file.zendesk_api_url),
        zendesk_email: args.zendesk_email.clone().or(file.zendesk_email),
        zendesk_api_token: args.zendesk_api_token.clone().or(file.zendesk_api_token),
        sendgrid_api_url: args.sendgrid_api_url.clone().or(file.sendgrid_api_url),
        sendgrid_api_key: args.sendgrid_api_key.clone().or(file.sendgrid_api_key),
        campaign_from_email: args.campaign_from_email.clone().or(file.campaign_from_email),
        twilio_api_url: args.twilio_api_url.clone().or(file.twilio_api_url),
        twilio_account_sid: args.twilio_account_sid.clone().or(file.twilio_account_sid),
        twilio_auth_token: args.twilio_auth_token.clone().or(file.twilio_auth_token),
        campaign_sms_from: args.campaign_sms_from.clone().or(file.campaign_sms_from),
        fcm_api_url: args.fcm_api_url.clone().or(file.fcm_api_url),
        fcm_project_id: args.fcm_project_id.clone().or(file.fcm_project_id),
        fcm_access_token: args.fcm_access_token.clone().or(file.fcm_access_token),
        pragmatic_frb_api_url: args.pragmatic_frb_api_url.clone().or(file.pragmatic_frb_api_url),
        pragmatic_frb_secure_login: args
            .pragmatic_frb_secure_login
            .clone()
            .or(file.pragmatic_frb_secure_login),
        pragmatic_frb_secret_key: args.pragmatic_frb_secret_key.clone().or(file.pragmatic_frb_secret_key),
        pragmatic_frb_aggregator: args.pragmatic_frb_aggregator.or(file.pragmatic_frb_aggregator),
        stripe_api_url: args.stripe_api_url.clone().or(file.stripe_api_url),
        stripe_secret_key: args.stripe_secret_key.clone().or(file.stripe_secret_key),
        stripe_webhook_secret: args.stripe_webhook_secret.clone().or(file.stripe_webhook_secret),
        nowpayments_api_url: args.nowpayments_api_url.clone().or(file.nowpayments_api_url),
        nowpayments_api_key: args.nowpayments_api_key.clone().or(file.nowpayments_api_key),
        nowpayments_ipn_secret: args.nowpayments_ipn_secret.clone().or(file.nowpayments_ipn_secret),
        nowpayments_email: args.nowpayments_email.clone().or(file.nowpayments_email),
        nowpayments_password: args.nowpayments_password.clone().or(file.nowpayments_password),
        nowpayments_ipn_callback_url: args
            .nowpayments_ipn_callback_url
            .clone()
            .or(file.nowpayments_ipn_callback_url),
        cashier_default_provider: args.cashier_default_provider.clone().or(file.cashier_default_provider),
        cashier_four_eyes_above: layer!(cashier_four_eyes_above),
        cashier_deposit_ttl_s: layer!(cashier_deposit_ttl_s),
        cashier_provider_timeout_ms: layer!(cashier_provider_timeout_ms),
        cashier_tick_ms: layer!(cashier_tick_ms),
        cashier_retry_base_ms: layer!(cashier_retry_base_ms),
        cashier_retry_max_ms: layer!(cashier_retry_max_ms),
        cashier_status_every_ms: layer!(cashier_status_every_ms),
        cluster: resolve_cluster(args, file.cluster.unwrap_or_default())?,
    };
    if config.self_exclusion_registry_url.is_some() && config.self_exclusion_registry_api_key.is_none() {
        return Err(ConfigError::Invalid(
            "self_exclusion_registry_url needs self_exclusion_registry_api_key",
        ));
    }
    let two_letters = |j: &String| j.len() == 2 && j.bytes().all(|b| b.is_ascii_uppercase());
    if !config.self_exclusion_registry_jurisdictions.iter().all(two_letters)
        || !config.self_exclusion_registry_fail_open.iter().all(two_letters)
    {
        return Err(ConfigError::Invalid(
            "self_exclusion_registry_jurisdictions and _fail_open are jurisdictions: two upper-case letters each",
        ));
    }
    if config.kyc_provider_url.is_some()
        && (config.kyc_app_token.is_none() || config.kyc_secret_key.is_none() || config.kyc_webhook_secret.is_none())
    {
        return Err(ConfigError::Invalid(
            "kyc_provider_url needs kyc_app_token, kyc_secret_key and kyc_webhook_secret",
        ));
    }
    if config.zendesk_api_url.is_some() && (config.zendesk_email.is_none() || config.zendesk_api_token.is_none()) {
        return Err(ConfigError::Invalid(
            "zendesk_api_url needs zendesk_email and zendesk_api_token",
        ));
    }
    if config.sendgrid_api_url.is_some() && (config.sendgrid_api_key.is_none() || config.campaign_from_email.is_none())
    {
        return Err(ConfigError::Invalid(
            "sendgrid_api_url needs sendgrid_api_key and campaign_from_email",
        ));
    }
    if config.twilio_api_url.is_some()
        && (config.twilio_account_sid.is_none()
            || config.twilio_auth_token.is_none()
            || config.campaign_sms_from.is_none())
    {
        return Err(ConfigError::Invalid(
            "twilio_api_url needs twilio_account_sid, twilio_auth_token and campaign_sms_from",
        ));
    }
    if config.fcm_api_url.is_some() && (config.fcm_project_id.is_none() || config.fcm_access_token.is_none()) {
        return Err(ConfigError::Invalid(
            "fcm_api_url needs fcm_project_id and fcm_access_token",
        ));
    }
    if config.pragmatic_frb_api_url.is_some()
        && (config.pragmatic_frb_secure_login.is_none()
            || config.pragmatic_frb_secret_key.is_none()
            || config.pragmatic_frb_aggregator.is_none())
    {
        return Err(ConfigError::Invalid(
            "pragmatic_frb_api_url needs pragmatic_frb_secure_login, pragmatic_frb_secret_key and pragmatic_frb_aggregator",
        ));
    }
    if config
        .pragmatic_frb_secret_key
        .as_deref()
        .is_some_and(|key| engine::HashKey::new(key).is_err())
    {
        return Err(ConfigError::Invalid(
            "pragmatic_frb_secret_key is 1 to 128 bytes of printable ASCII",
        ));
    }
    if config.stripe_api_url.is_some() && (config.stripe_secret_key.is_none() || config.stripe_webhook_secret.is_none())
    {
        return Err(ConfigError::Invalid(
            "stripe_api_url needs stripe_secret_key and stripe_webhook_secret",
        ));
    }
    if config.nowpayments_api_url.is_some()
        && (config.nowpayments_api_key.is_none() || config.nowpayments_ipn_secret.is_none())
    {
        return Err(ConfigError::Invalid(
            "nowpayments_api_url needs nowpayments_api_key and nowpayments_ipn_secret",
        ));
    }
    let configured = |name: &str| match name {
        "stripe" => config.stripe_api_url.is_some(),
        "nowpayments" => config.nowpayments_api_url.is_some(),
        _ => false,
    };
    if config
        .cashier_default_provider
        .as_deref()
        .is_some_and(|name| !configured(name))
    {
        return Err(ConfigError::Invalid(
            "cashier_default_provider names a provider that is not configured (stripe or nowpayments)",
        ));
    }
    let (whole, fraction) = config
        .cashier_four_eyes_above
        .split_once('.')
        .unwrap_or((&config.cashier_four_eyes_above, "0"));
    let digits = |s: &str| !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return Err(ConfigError::Invalid(
            "cashier_four_eyes_above is a decimal amount, zero or more",
        ));
    }
    if config.export_batch_records == 0 {
        return Err(ConfigError::Invalid("export_batch_records must be at least 1"));
    }
    if config.cashier_tick_ms == 0 || config.cashier_retry_base_ms == 0 || config.cashier_provider_timeout_ms == 0 {
        return Err(ConfigError::Invalid(
            "cashier_tick_ms, cashier_retry_base_ms and cashier_provider_timeout_ms must be at least 1",
        ));
    }
    if config.ring_capacity == 0 || config.batch_len_max == 0 || config.max_connections == 0 {
        return Err(ConfigError::Invalid(
            "ring_capacity, batch_len_max and max_connections must be at least 1",
        ));
    }
    if config.sequencer_spin_us > SEQUENCER_SPIN_US_MAX {
        return Err(ConfigError::Invalid(
            "sequencer_spin_us is at most 10000 (a longer spin only burns CPU between requests)",
        ));
    }
    if config.body_limit_bytes == 0 || config.request_timeout_ms == 0 || config.session_ttl_ms == 0 {
        return Err(ConfigError::Invalid(
            "body_limit_bytes, request_timeout_ms and session_ttl_ms must be at least 1",
        ));
    }
    if config.max_connections_per_ip == 0
        || config.header_read_timeout_ms == 0
        || config.idle_timeout_ms == 0
        || config.http2_keep_alive_timeout_ms == 0
    {
        return Err(ConfigError::Invalid(
            "max_connections_per_ip, header_read_timeout_ms, idle_timeout_ms and http2_keep_alive_timeout_ms must be at least 1",
        ));
    }
    if config.http_workers > HTTP_WORKERS_MAX {
        return Err(ConfigError::Invalid(
            "http_workers must be at most 1024 (0: one fewer than the CPUs)",
        ));
    }
    if config.idle_timeout_ms > IDLE_TIMEOUT_MAX_MS {
        return Err(ConfigError::Invalid("idle_timeout_ms must be at most 86400000 (a day)"));
    }
    if config.tls_cert.is_some() != config.tls_key.is_some() {
        return Err(ConfigError::Invalid("tls_cert and tls_key must be set together"));
    }
    let segment = journal::SEGMENT_SIZE_MIN_BYTES..=journal::SEGMENT_SIZE_MAX_BYTES;
    if !segment.contains(&config.journal_segment_bytes) || !config.journal_segment_bytes.is_multiple_of(8) {
        return Err(ConfigError::Invalid(
            "journal_segment_bytes must be a multiple of 8 from 4 KiB to 1 GiB",
        ));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_group_has_an_odd_size_and_a_joining_node_any_size() {
        let file = |peers: &str, join: bool| -> FileConfig {
            let text = format!(
                "[cluster]\nnode_id = 4\nraft_listen = \"127.0.0.1:7404\"\nsecret = \"0123456789abcdef0123\"\njoin = {join}\npeers = [{peers}]"
            );
            toml::from_str(&text).unwrap()
        };
        let four = (1..=4)
            .map(|id| format!("\"{id}=127.0.0.1:740{id}=http://127.0.0.1:808{id}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let refused = resolve(&ServeArgs::default(), file(&four, false)).unwrap_err();
        assert!(refused.to_string().contains("1, 3 or 5"), "{refused}");
        let joining = resolve(&ServeArgs::default(), file(&four, true)).unwrap();
        let cluster = joining.cluster.unwrap();
        assert!(cluster.join);
        assert_eq!(cluster.peers.len(), 4);
        let alone = "\"4=127.0.0.1:7404=http://127.0.0.1:8084\"";
        let refused = resolve(&ServeArgs::default(), file(alone, true)).unwrap_err();
        assert!(refused.to_string().contains("at least one member"), "{refused}");
        let twice = "\"4=127.0.0.1:7404=http://127.0.0.1:8084\", \"4=127.0.0.1:7405=http://127.0.0.1:8085\"";
        let refused = resolve(&ServeArgs::default(), file(twice, true)).unwrap_err();
        assert!(refused.to_string().contains("distinct ids"), "{refused}");
    }

    #[test]
    fn flags_beat_the_file_which_beats_the_defaults() {
        let file: FileConfig =
            toml::from_str("listen = \"127.0.0.1:9000\"\nbody_limit_bytes = 1000\nlog = \"debug\"").unwrap();
        let args = ServeArgs {
            body_limit_bytes: Some(2000),
            ..ServeArgs::default()
        };
        let config = resolve(&args, file).unwrap();
        assert_eq!(config.listen, SocketAddr::from(([127, 0, 0, 1], 9000)));
        assert_eq!(config.body_limit_bytes, 2000);
        assert_eq!(config.log, "debug");
        assert_eq!(config.data_dir, PathBuf::from("./croupier-data"));
    }

    #[test]
    fn http_workers_default_to_one_fewer_than_the_cpus_and_refuse_absurd_counts() {
        let automatic = resolve(&ServeArgs::default(), FileConfig::default()).unwrap();
        assert_eq!(automatic.http_workers, 0);
        assert_eq!(automatic.http_worker_threads(1), 1);
        assert_eq!(automatic.http_worker_threads(2), 1);
        assert_eq!(automatic.http_worker_threads(16), 15);
        let file: FileConfig = toml::from_str("http_workers = 3").unwrap();
        let chosen = resolve(&ServeArgs::default(), file).unwrap();
        assert_eq!(chosen.http_worker_threads(2), 3);
        let args = ServeArgs {
            http_workers: Some(5000),
            ..ServeArgs::default()
        };
        let refused = resolve(&args, FileConfig::default()).unwrap_err();
        assert!(refused.to_string().contains("http_workers"), "{refused}");
    }

    #[test]
    fn the_log_format_layers_and_refuses_unknown_values() {
        assert_eq!(
            resolve(&ServeArgs::default(), FileConfig::default())
                .unwrap()
                .log_format,
            LogFormat::Text
        );
        let file: FileConfig = toml::from_str("log_format = \"json\"").unwrap();
        assert_eq!(
            resolve(&ServeArgs::default(), file).unwrap().log_format,
            LogFormat::Json
        );
        let file: FileConfig = toml::from_str("log_format = \"json\"").unwrap();
        let args = ServeArgs {
            log_format: Some(LogFormat::Text),
            ..ServeArgs::default()
        };
        assert_eq!(resolve(&args, file).unwrap().log_format, LogFormat::Text);
        assert!(toml::from_str::<FileConfig>("log_format = \"xml\"").is_err());
    }

    #[test]
    fn sms_and_push_providers_need_all_their_settings() {
        let file: FileConfig = toml::from_str(
            "twilio_api_url = \"https://api.twilio.com\"\ntwilio_account_sid = \"ACfile\"\n\
             twilio_auth_token = \"t\"\ncampaign_sms_from = \"+15005550006\"\n\
             fcm_api_url = \"https://fcm.googleapis.com\"\nfcm_project_id = \"p\"\nfcm_access_token = \"ya29.x\"",
        )
        .unwrap();
        let args = ServeArgs {
            twilio_account_sid: Some("ACflag".into()),
            ..ServeArgs::default()
        };
        let config = resolve(&args, file.clone()).unwrap();
        assert_eq!(config.twilio_account_sid.as_deref(), Some("ACflag"));
        assert_eq!(config.campaign_sms_from.as_deref(), Some("+15005550006"));
        assert_eq!(config.fcm_project_id.as_deref(), Some("p"));
        let no_sender = FileConfig {
            campaign_sms_from: None,
            ..file.clone()
        };
        let refused = resolve(&ServeArgs::default(), no_sender).unwrap_err();
        assert!(refused.to_string().contains("twilio_api_url needs"), "{refused}");
        let no_token = FileConfig {
            fcm_access_token: None,
            ..file
        };
        let refused = resolve(&ServeArgs::default(), no_token).unwrap_err();
        assert!(refused.to_string().contains("fcm_api_url needs"), "{refused}");
    }

    #[test]
    fn transports_layer_like_every_other_option() {
        let file: FileConfig = toml::from_str("tls = true\nquic = false\nquic_listen = \"127.0.0.1:9443\"").unwrap();
        let config = resolve(&ServeArgs::default(), file.clone()).unwrap();
        assert!(config.tls && !config.quic);
        assert_eq!(config.quic_listen, SocketAddr::from(([127, 0, 0, 1], 9443)));
        let args = ServeArgs {
            tls: Some(false),
            quic: Some(true),
            ..ServeArgs::default()
        };
        let config = resolve(&args, file).unwrap();
        assert!(!config.tls && config.quic);
        let defaults = resolve(&ServeArgs::default(), FileConfig::default()).unwrap();
        assert!(!defaults.tls && defaults.quic && defaults.needs_certificate());
        assert_eq!(defaults.quic_listen, SocketAddr::from(([127, 0, 0, 1], 8443)));
        let off = ServeArgs {
            no_quic: true,
            ..ServeArgs::default()
        };
        assert!(!resolve(&off, FileConfig::default()).unwrap().needs_certificate());
    }

    #[test]
    fn the_transport_flags_parse() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: ServeArgs,
        }
        let parse = |line: &[&str]| Cli::try_parse_from([&["serve"], line].concat()).map(|cli| cli.args);
        let args = parse(&["--tls", "--no-quic"]).unwrap();
        assert_eq!((args.tls, args.no_quic), (Some(true), true));
        assert!(!resolve(&args, FileConfig::default()).unwrap().quic);
        let args = parse(&["--tls=false", "--quic=yes", "--quic-listen", "127.0.0.1:0"]).unwrap();
        assert_eq!((args.tls, args.quic), (Some(false), Some(true)));
        let half = parse(&["--tls-cert", "/x/cert.pem"]).unwrap();
        assert!(resolve(&half, FileConfig::default()).is_err());
    }

    #[test]
    fn connection_limits_and_timeouts_layer_and_refuse_zero() {
        let defaults = resolve(&ServeArgs::default(), FileConfig::default()).unwrap();
        assert_eq!(
            (
                defaults.max_connections_per_ip,
                defaults.header_read_timeout_ms,
                defaults.idle_timeout_ms
            ),
            (256, 10_000, 60_000)
        );
        assert_eq!(defaults.http2_keep_alive_interval(), Some(Duration::from_secs(30)));
        let file: FileConfig = toml::from_str(
            "max_connections_per_ip = 8\nheader_read_timeout_ms = 2000\nidle_timeout_ms = 5000\nhttp2_keep_alive_interval_ms = 0",
        )
        .unwrap();
        let args = ServeArgs {
            idle_timeout_ms: Some(7_000),
            ..ServeArgs::default()
        };
        let config = resolve(&args, file).unwrap();
        assert_eq!(
            (
                config.max_connections_per_ip,
                config.header_read_timeout(),
                config.idle_timeout()
            ),
            (8, Duration::from_secs(2), Duration::from_secs(7))
        );
        assert_eq!(config.http2_keep_alive_interval(), None, "0 turns pings off");
        for zero in [
            "max_connections_per_ip = 0",
            "header_read_timeout_ms = 0",
            "idle_timeout_ms = 0",
        ] {
            let file: FileConfig = toml::from_str(zero).unwrap();
            assert!(resolve(&ServeArgs::default(), file).is_err(), "{zero}");
        }
        let file: FileConfig = toml::from_str("idle_timeout_ms = 86400001").unwrap();
        assert!(resolve(&ServeArgs::default(), file).is_err(), "longer than a day");
    }

    #[test]
    fn the_self_exclusion_registry_layers_needs_its_key_and_takes_jurisdictions() {
        let defaults = resolve(&ServeArgs::default(), FileConfig::default()).unwrap();
        assert_eq!(defaults.self_exclusion_registry_url, None);
        assert_eq!(defaults.self_exclusion_registry_jurisdictions, ["GB"]);
        assert!(defaults.self_exclusion_registry_fail_open.is_empty());
        let file: FileConfig = toml::from_str(
            "self_exclusion_registry_url = \"http://127.0.0.1:1/v2\"\n\
             self_exclusion_registry_api_key = \"k\"\n\
             self_exclusion_registry_jurisdictions = [\"GB\", \"MT\"]",
        )
        .unwrap();
        let args = ServeArgs {
            self_exclusion_registry_fail_open: Some(vec!["MT".into()]),
            ..ServeArgs::default()
        };
        let config = resolve(&args, file.clone()).unwrap();
        assert_eq!(config.self_exclusion_registry_jurisdictions, ["GB", "MT"]);
        assert_eq!(config.self_exclusion_registry_fail_open, ["MT"]);
        let keyless = FileConfig {
            self_exclusion_registry_api_key: None,
            ..file.clone()
        };
        assert!(resolve(&ServeArgs::default(), keyless).is_err());
        let lower = ServeArgs {
            self_exclusion_registry_jurisdictions: Some(vec!["gb".into()]),
            ..ServeArgs::default()
        };
        assert!(resolve(&lower, file).is_err());
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: ServeArgs,
        }
        let parsed = Cli::try_parse_from(["serve", "--self-exclusion-registry-jurisdictions=GB,MT"]).unwrap();
        assert_eq!(
            parsed.args.self_exclusion_registry_jurisdictions,
            Some(vec!["GB".to_owned(), "MT".to_owned()])
        );
    }

    #[test]
    fn unknown_keys_and_zero_sizes_are_refused() {
        assert!(toml::from_str::<FileConfig>("listne = \"x\"").is_err());
        let args = ServeArgs {
            ring_capacity: Some(0),
            ..ServeArgs::default()
        };
        assert!(resolve(&args, FileConfig::default()).is_err());
    }

    #[test]
    fn the_sequencer_spin_defaults_to_100_us_and_is_bounded() {
        let default = resolve(&ServeArgs::default(), FileConfig::default()).unwrap();
        assert_eq!(default.sequencer_spin_us, 100);
        let file: FileConfig = toml::from_str("sequencer_spin_us = 0").unwrap();
        assert_eq!(resolve(&ServeArgs::default(), file).unwrap().sequencer_spin_us, 0);
        let args = ServeArgs {
            sequencer_spin_us: Some(10_001),
            ..ServeArgs::default()
        };
        let refused = resolve(&args, FileConfig::default()).unwrap_err().to_string();
        assert!(refused.contains("sequencer_spin_us is at most 10000"), "{refused}");
    }
}
