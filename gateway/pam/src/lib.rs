//! Player account management (PAM): registration with a profile, profile
//! changes, account status with a reason, erasure, KYC (provider checks,
//! manual decisions, documents, the provider's webhook), and the front
//! end's login and logout reports with the sessions, devices and risk flags
//! drawn from them ([`logins`]), jurisdiction profiles with their effective
//! dates and due diligence ([`jurisdictions`]), and players' payment
//! methods by tokenized reference, the holder's name checked against the
//! sealed profile ([`methods`]), and the device's push registration token
//! kept in the sealed profile ([`push`]), over the operator API.
//!
//! Personal data stays in this module: profiles are validated here and
//! sealed under a per-player data key ([`vault`]) before the command that
//! carries them is built, so the ledger, the journal, snapshots and the
//! read model hold ciphertext and blind indexes only. What must hold
//! atomically with other players' state (no duplicate email or
//! name + date of birth + postcode, no change after erasure) is the
//! ledger's; erasure destroys the data key (crypto-shredding).
//!
//! The server opens the [`Vault`] at start-up (after recovery, sweeping
//! keys no live profile names) and hands it to the handlers through
//! `AppState::modules`. This crate knows nothing of the server or of other
//! modules.

#![deny(missing_docs)]

pub mod directory;
pub mod exclusion;
pub mod jurisdictions;
pub mod kyc;
pub mod logins;
pub mod methods;
pub mod players;
pub mod profile;
pub mod push;
pub mod vault;

use edge::route::{Access, Route, route};
use engine::Role;
use utoipa::OpenApi;

pub use vault::{KeyShare, Vault, VaultError};

/// Who registers players and changes their profiles.
const SUPPORT: &[Role] = &[Role::Admin, Role::Support];
/// Who may read personal data.
const PROFILE_READERS: &[Role] = &[Role::Admin, Role::Support, Role::Compliance];
/// Who suspends, closes and reopens accounts.
const STATUS: &[Role] = &[Role::Admin, Role::Compliance, Role::Support];
/// Who reads the risk lists across players.
const RISK: &[Role] = &[Role::Admin, Role::Compliance];
/// Who erases personal data.
const ERASURE: &[Role] = &[Role::Admin, Role::Compliance];
/// Who reads KYC state.
const KYC_READERS: &[Role] = &[Role::Admin, Role::Compliance, Role::Support];
/// Who starts checks, decides KYC, records documents and sets KYC gates.
const KYC_DECIDERS: &[Role] = &[Role::Admin, Role::Compliance];
/// Who sets jurisdiction profiles and records due diligence.
const COMPLIANCE: &[Role] = &[Role::Admin, Role::Compliance];
/// Who reads jurisdiction profiles (regulatory data, no personal data).
const PROFILE_VIEWERS: &[Role] = &Role::ALL;
/// Who records, disables and removes players' payment methods.
const METHOD_WRITERS: &[Role] = &[Role::Admin, Role::Finance, Role::Support];
/// Who reads players' payment methods.
const METHOD_READERS: &[Role] = &[Role::Admin, Role::Finance, Role::Compliance, Role::Support];

/// This module's routes, each with the roles it admits.
pub fn routes() -> Vec<Route> {
    use Access::{Operator, Public};
    vec![
        route::<players::__path_register, _>(Operator(SUPPORT), players::register),
        route::<players::__path_get_profile, _>(Operator(PROFILE_READERS), players::get_profile),
        route::<players::__path_patch_profile, _>(Operator(SUPPORT), players::patch_profile),
        route::<players::__path_set_status, _>(Operator(STATUS), players::set_status),
        route::<players::__path_erase, _>(Operator(ERASURE), players::erase),
        route::<push::__path_set_push_token, _>(Operator(SUPPORT), push::set_push_token),
        route::<kyc::routes::__path_start_check, _>(Operator(KYC_DECIDERS), kyc::routes::start_check),
        route::<kyc::routes::__path_get_kyc, _>(Operator(KYC_READERS), kyc::routes::get_kyc),
        route::<kyc::routes::__path_decide, _>(Operator(KYC_DECIDERS), kyc::routes::decide),
        route::<kyc::routes::__path_record_document, _>(Operator(KYC_DECIDERS), kyc::routes::record_document),
        route::<kyc::routes::__path_set_gates, _>(Operator(KYC_DECIDERS), kyc::routes::set_gates),
        // Authenticated by the provider's signature over the body.
        route::<kyc::routes::__path_webhook, _>(Public, kyc::routes::webhook),
        route::<logins::__path_login, _>(Operator(SUPPORT), logins::login),
        route::<logins::__path_logout, _>(Operator(SUPPORT), logins::logout),
        route::<logins::__path_sessions, _>(Operator(PROFILE_READERS), logins::sessions),
        route::<logins::__path_devices, _>(Operator(PROFILE_READERS), logins::devices),
        route::<logins::__path_flags, _>(Operator(PROFILE_READERS), logins::flags),
        route::<logins::__path_shared, _>(Operator(RISK), logins::shared),
        route::<jurisdictions::__path_list, _>(Operator(PROFILE_VIEWERS), jurisdictions::list),
        route::<jurisdictions::__path_show, _>(Operator(PROFILE_VIEWERS), jurisdictions::show),
        route::<jurisdictions::__path_set_profile, _>(Operator(COMPLIANCE), jurisdictions::set_profile),
        route::<jurisdictions::__path_record_due_diligence, _>(
            Operator(COMPLIANCE),
            jurisdictions::record_due_diligence,
        ),
        route::<methods::__path_add, _>(Operator(METHOD_WRITERS), methods::add),
        route::<methods::__path_list, _>(Operator(METHOD_READERS), methods::list),
        route::<methods::__path_change_state, _>(Operator(METHOD_WRITERS), methods::change_state),
        route::<methods::__path_remove, _>(Operator(METHOD_WRITERS), methods::remove),
    ]
}

/// The tag of this module's operations.
#[derive(OpenApi)]
#[openapi(tags((name = "pam", description = "Player accounts and profiles, for operators: Authorization: Bearer <token>; roles per route. Personal data is sealed at rest.")))]
pub struct Doc;
