//! The web back office, served by `croupier serve` itself under
//! `/backoffice`: server-rendered HTML (maud) with htmx for partial
//! updates and server-sent events for the live dashboard, every asset
//! embedded in the binary ([`assets`]), so it works offline and over the
//! same TLS, HTTP/2 and HTTP/3 as the APIs.
//!
//! - [`credentials`]: enrolment over the operator API (bearer token):
//!   an argon2id password hash and a TOTP secret, journaled.
//! - [`login`]: the login form (username, password, TOTP code), logout.
//! - [`sessions`]: the in-memory browser sessions (cookie, CSRF token,
//!   expiry), failed-login counting, TOTP steps used once; it is the
//!   edge's [`edge::browser::BrowserSessions`], so the pages' buttons
//!   call the operator API itself with the session's operator: the same
//!   handlers, roles and journaled audit as a script with a token.
//! - [`pages`]: the dashboard, player search and 360, the withdrawal
//!   queue, the audit trail; [`dashboard`] the figures and their SSE feed.
//! - [`queues`]: the KYC review and AML alert and case queues.
//! - [`manage`]: games and jackpot pools, bonus templates, the reports
//!   form, operators.
//! - [`campaigns`]: campaigns with their uplift, segments with their
//!   member counts, and the forms that define them.
//!
//! The pages only read (the read model, the access view); every change
//! goes through an operator API route. This crate knows nothing of the
//! server or of other modules.

#![deny(missing_docs)]

pub mod assets;
pub mod campaigns;
pub mod credentials;
pub mod dashboard;
mod layout;
pub mod login;
pub mod manage;
pub mod pages;
pub mod queues;
pub mod sessions;

use std::sync::Arc;

use axum::routing::{get, post};
use edge::AppState;
use edge::route::{Access, Route, route};
use engine::Role;
use utoipa::OpenApi;

pub use sessions::{Limits, SessionStore};

/// The back office's settings, set up by the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Mark the session cookie `Secure` (the server speaks TLS).
    pub secure_cookies: bool,
    /// Sessions and failed-login limits.
    pub limits: Limits,
    /// How often the dashboard's figures are sent to open pages, ms.
    pub dashboard_every_ms: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            secure_cookies: false,
            limits: Limits::default(),
            dashboard_every_ms: 1_000,
        }
    }
}

/// What the back office keeps while the server runs, in `AppState::modules`.
#[derive(Clone)]
pub struct BackOffice {
    /// Its settings.
    pub settings: Settings,
    /// The signed-in sessions.
    pub sessions: Arc<SessionStore>,
}

/// Registers the back office in the modules' state: its sessions (also as
/// the edge's browser sessions, so its pages may call the operator API).
pub fn install(modules: &mut axum::http::Extensions, settings: Settings) {
    let sessions = Arc::new(SessionStore::new(settings.limits));
    modules.insert(edge::browser::Sessions(sessions.clone()));
    modules.insert(BackOffice { settings, sessions });
}

/// The back office of the running server.
pub(crate) fn of(state: &AppState) -> Result<BackOffice, edge::ApiError> {
    state
        .modules
        .get::<BackOffice>()
        .cloned()
        .ok_or_else(|| edge::ApiError::internal("the back office is not installed"))
}

/// Every role: the ledger decides whose credential each may set.
const ANY_ROLE: &[Role] = &Role::ALL;

/// This module's API routes (enrolment), each with the roles it admits.
pub fn routes() -> Vec<Route> {
    vec![route::<credentials::__path_set_credential, _>(
        Access::Operator(ANY_ROLE),
        credentials::set_credential,
    )]
}

/// The pages and assets under `/backoffice`: a browser's HTML, not API
/// operations, so they are not in the route table or `/openapi.json`.
pub fn pages() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/backoffice", get(pages::dashboard))
        .route("/backoffice/login", get(login::form).post(login::submit))
        .route("/backoffice/logout", post(login::logout))
        .route("/backoffice/dashboard/events", get(dashboard::events))
        .route("/backoffice/players", get(pages::players))
        .route("/backoffice/players/{player}", get(pages::player))
        .route("/backoffice/players/{player}/statement", get(pages::statement))
        .route("/backoffice/withdrawals", get(pages::withdrawals))
        .route("/backoffice/kyc", get(queues::kyc))
        .route("/backoffice/aml", get(queues::aml_page))
        .route("/backoffice/games", get(manage::games))
        .route("/backoffice/bonuses", get(manage::bonuses))
        .route("/backoffice/campaigns", get(campaigns::campaigns))
        .route("/backoffice/reports", get(manage::reports))
        .route("/backoffice/reports/open", get(manage::open_report))
        .route("/backoffice/operators", get(manage::operators))
        .route("/backoffice/audit", get(pages::audit))
        .route("/backoffice/assets/{name}", get(assets::asset))
}

/// The module's part of the API description.
#[derive(OpenApi)]
#[openapi(
    components(schemas(credentials::CredentialRequest, credentials::CredentialReply)),
    tags((name = "backoffice", description = "Back-office enrolment: an operator's password and TOTP second factor for the web back office at /backoffice."))
)]
pub struct Doc;
