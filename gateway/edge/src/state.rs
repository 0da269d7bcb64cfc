//! What every handler can reach: [`AppState`], cheap to clone, built once
//! by the server at start-up. It holds handles, not policy: the sequencer,
//! the read copy of access state, the read models, the durable sequence,
//! the operator's RSA signer, the modules' own start-up state, and the
//! API's limits ([`ApiConfig`]), a subset
//! of the server's configuration so that modules need not know the rest.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use protocol::rsa_signature::RsaSigner;

use crate::submit::Engine;
use crate::view::SharedView;

/// Milliseconds since the epoch. The server reads time only through this
/// (the sequencer included), so tests can move it.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The operating system's clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    })
}

/// The limits and defaults the API modules apply to requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiConfig {
    /// How far a signed request's timestamp may be from the server's clock.
    pub signature_window_ms: u64,
    /// Largest request body.
    pub body_limit_bytes: usize,
    /// Longest a request may take in the router.
    pub request_timeout_ms: u64,
    /// Lifetime of a game-launch token when its request names none.
    pub session_ttl_ms: u64,
    /// `Retry-After` of busy answers.
    pub retry_after_s: u64,
    /// The KYC provider; `None`: not configured (checks cannot be started,
    /// manual decisions still work).
    pub kyc_provider: Option<KycProviderConfig>,
}

/// Where the KYC provider is and the secrets shared with it.
#[derive(Clone, PartialEq, Eq)]
pub struct KycProviderConfig {
    /// The provider API's base URL (`https://api.sumsub.com`, or the
    /// sandbox's `http://127.0.0.1:<port>`).
    pub base_url: String,
    /// The app token that names this operator to the provider.
    pub app_token: String,
    /// The secret key requests to the provider are signed with.
    pub secret_key: String,
    /// The secret the provider signs its webhooks with.
    pub webhook_secret: String,
    /// The provider's verification level (its list of required checks).
    pub level_name: String,
}

impl std::fmt::Debug for KycProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KycProviderConfig")
            .field("base_url", &self.base_url)
            .field("level_name", &self.level_name)
            .finish_non_exhaustive()
    }
}

impl ApiConfig {
    /// The request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

/// What every handler can reach.
pub struct Shared {
    /// The sequencer.
    pub engine: Engine,
    /// The read copy of access state.
    pub view: SharedView,
    /// The read models (history, balances, transaction lookups), off the
    /// sequencer.
    pub readmodel: readmodel::ReadModel,
    /// The last durable sequence number: what a read must reflect to see
    /// every write acknowledged before it.
    pub durable: engine::durable::DurableSeq,
    /// The API's limits.
    pub config: ApiConfig,
    /// The ledger's configuration.
    pub ledger_config: engine::Config,
    /// The operator's RSA key: signs the responses of RSA contracts (Hub88).
    pub rsa_signer: Arc<RsaSigner>,
    /// The clock.
    pub clock: Clock,
    /// True between start-up and the beginning of shutdown.
    pub ready: AtomicBool,
    /// Wallet calls per aggregator (counts, refusals, errors, latency),
    /// recorded by the wallet module, read by the game monitoring.
    pub wallet_calls: crate::calls::WalletCalls,
    /// What a module made at start-up for its own handlers (the PAM
    /// module's key vault), by type: the edge knows no module's types.
    pub modules: axum::http::Extensions,
}

/// Handler state: cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Now, by the server's clock.
    pub fn now_ms(&self) -> u64 {
        (self.clock)()
    }
}
