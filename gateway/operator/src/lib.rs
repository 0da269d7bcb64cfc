//! The operator API (it grows with the PAM and payments issues): who may
//! use the server ([`access`], [`operators`]), the [`audit`] trail, [`players`], [`payments`], responsible
//! gambling ([`limits`]; [`rg`]: reality checks, session time limits, limit
//! reviews, the RG read), game [`sessions`], and [`lookups`] and
//! [`statements`] (statements, balances at a past moment, game history)
//! served from the read models.
//!
//! Operators present a bearer token. Each route's row in [`routes`] names
//! the roles it admits; the router checks them before the handler runs, and
//! the handler takes the authenticated [`edge::Caller`], under whose own
//! source id every change is submitted, so the journal records who did
//! what. An `Idempotency-Key` header makes a change safe to retry (ids are
//! scoped per operator).
//!
//! This crate knows nothing of the server or of other modules: the server
//! merges [`routes`] and [`Doc`] with the other modules'.

#![deny(missing_docs)]

pub mod access;
pub mod audit;
pub mod limits;
pub mod lookups;
pub mod operators;
pub mod payments;
pub mod players;
pub mod rg;
pub mod sessions;
mod shared;
pub mod statements;

use edge::route::{Access, Route, route};
use engine::Role;
use utoipa::OpenApi;

const ALL: &[Role] = &Role::ALL;
const ADMIN: &[Role] = &[Role::Admin];
const SUPPORT: &[Role] = &[Role::Admin, Role::Support];
const FINANCE: &[Role] = &[Role::Admin, Role::Finance];
const COMPLIANCE: &[Role] = &[Role::Admin, Role::Compliance];
const EXCLUSION: &[Role] = &[Role::Admin, Role::Compliance, Role::Support];
const AUDIT: &[Role] = &[Role::Admin, Role::Compliance];
/// Who reports what the player did in the front end (as logins are reported).
const FRONT_END: &[Role] = &[Role::Admin, Role::Support];

/// This module's routes, each with the roles it admits.
pub fn routes() -> Vec<Route> {
    use Access::Operator;
    vec![
        route::<access::__path_create_operator, _>(Operator(ADMIN), access::create_operator),
        route::<access::__path_create_aggregator, _>(Operator(ADMIN), access::create_aggregator),
        route::<access::__path_rsa_public_key, _>(Operator(ALL), access::rsa_public_key),
        route::<operators::__path_list_operators, _>(Operator(ADMIN), operators::list_operators),
        route::<operators::__path_set_role, _>(Operator(ADMIN), operators::set_role),
        route::<operators::__path_disable, _>(Operator(ADMIN), operators::disable),
        route::<operators::__path_rotate_token, _>(Operator(ADMIN), operators::rotate_token),
        route::<audit::__path_audit, _>(Operator(AUDIT), audit::audit),
        route::<audit::__path_export, _>(Operator(AUDIT), audit::export),
        route::<players::__path_create_player, _>(Operator(SUPPORT), players::create_player),
        route::<payments::__path_fund_player, _>(Operator(FINANCE), payments::fund_player),
        route::<limits::__path_set_limit, _>(Operator(COMPLIANCE), limits::set_limit),
        route::<limits::__path_self_exclude, _>(Operator(EXCLUSION), limits::self_exclude),
        route::<limits::__path_time_out, _>(Operator(EXCLUSION), limits::time_out),
        route::<rg::__path_set_reality_check, _>(Operator(EXCLUSION), rg::set_reality_check),
        route::<rg::__path_acknowledge_reality_check, _>(Operator(FRONT_END), rg::acknowledge_reality_check),
        route::<rg::__path_set_session_time_limit, _>(Operator(EXCLUSION), rg::set_session_time_limit),
        route::<rg::__path_record_limit_review, _>(Operator(FRONT_END), rg::record_limit_review),
        route::<rg::__path_get_rg, _>(Operator(ALL), rg::get_rg),
        route::<sessions::__path_issue_session, _>(Operator(SUPPORT), sessions::issue_session),
        route::<lookups::__path_balance, _>(Operator(ALL), lookups::balance),
        route::<lookups::__path_history, _>(Operator(ALL), lookups::history),
        route::<lookups::__path_transaction, _>(Operator(ALL), lookups::transaction),
        route::<statements::__path_statement, _>(Operator(ALL), statements::statement),
        route::<statements::__path_balances_at, _>(Operator(ALL), statements::balances_at),
        route::<statements::__path_games, _>(Operator(ALL), statements::games),
    ]
}

/// The tag of this module's operations.
#[derive(OpenApi)]
#[openapi(tags((name = "operator", description = "For operators: Authorization: Bearer <token>; roles per route.")))]
pub struct Doc;
