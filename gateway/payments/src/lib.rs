//! The cashier: money in and out of players' wallets through payment
//! providers, over the operator API.
//!
//! - [`providers`]: the [`PaymentProvider`] adapter interface and its
//!   Stripe-protocol implementation; [`sandbox`] a loopback server
//!   speaking that protocol (`croupier sandbox stripe`).
//! - [`deposits`]: a deposit is initiated in the ledger first (account,
//!   KYC gates, due diligence and deposit limits checked there), then
//!   started at the provider, whose reference is journaled; the front end
//!   gets the redirect URL or client secret. The provider's verified
//!   webhook ([`webhook`]) confirms or fails it, or charges it back.
//! - [`withdrawals`]: a request reserves the funds; finance approves (two
//!   different operators above the four-eyes amount: the ledger checks
//!   that the second approval names an accepted first one by someone
//!   else), rejects, or the player takes it back where the jurisdiction
//!   allows it.
//! - [`worker`]: the payout outbox and the deposit expiry sweep. The
//!   outbox is the journal itself: an approved withdrawal is a payout
//!   owed until a completion or a failure is journaled, so a restart finds
//!   it again in the read model; the payout call carries an idempotency
//!   key derived from the withdrawal's id, so a retry after a timeout, a
//!   5xx or a restart finds the payout the first attempt made.
//!
//! Every state change is a ledger command; this crate keeps no durable
//! state of its own (the retry backoff is in memory: after a restart the
//! outbox is retried at once, which the idempotency key makes safe). It
//! knows nothing of the server or of other modules.

#![deny(missing_docs)]

pub mod deposits;
pub mod metrics;
pub mod providers;
pub mod sandbox;
mod shared;
pub mod webhook;
pub mod withdrawals;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use edge::route::{Access, Route, route};
use engine::Role;
use utoipa::OpenApi;

pub use providers::PaymentProvider;

/// Who starts deposits and withdrawals for players (their front end).
const FRONT_END: &[Role] = &[Role::Admin, Role::Finance, Role::Support];
/// Who approves and rejects withdrawals.
const FINANCE: &[Role] = &[Role::Admin, Role::Finance];
/// Who reads the cashier's queues.
const READERS: &[Role] = &[Role::Admin, Role::Finance, Role::Compliance, Role::ReadOnly];

/// The cashier's settings and its provider, set up by the server and
/// handed to the handlers and the worker through `AppState::modules`.
#[derive(Clone)]
pub struct Cashier {
    /// The payment provider.
    pub provider: Arc<dyn PaymentProvider>,
    /// Withdrawals above this amount (in each currency's major units, a
    /// decimal) need two approvals by different operators.
    pub four_eyes_above: String,
    /// How long an initiated deposit may wait for its provider.
    pub deposit_ttl: Duration,
    /// How often the worker looks at the outbox and for stale deposits.
    pub tick: Duration,
    /// The first retry delay of a failed payout call (doubled per failure).
    pub retry_base: Duration,
    /// The longest retry delay.
    pub retry_max: Duration,
    /// How often a payout sent but not settled is asked about.
    pub status_every: Duration,
}

/// This module's routes, each with the roles it admits.
pub fn routes() -> Vec<Route> {
    use Access::{Operator, Public};
    vec![
        route::<deposits::__path_initiate, _>(Operator(FRONT_END), deposits::initiate),
        route::<deposits::__path_list, _>(Operator(READERS), deposits::list),
        route::<withdrawals::__path_request, _>(Operator(FRONT_END), withdrawals::request),
        route::<withdrawals::__path_list, _>(Operator(READERS), withdrawals::list),
        route::<withdrawals::__path_approve, _>(Operator(FINANCE), withdrawals::approve),
        route::<withdrawals::__path_reject, _>(Operator(FINANCE), withdrawals::reject),
        route::<withdrawals::__path_reverse, _>(Operator(FRONT_END), withdrawals::reverse),
        // Authenticated by the provider's signature over the body.
        route::<webhook::__path_stripe, _>(Public, webhook::stripe),
    ]
}

/// The tag of this module's operations.
#[derive(OpenApi)]
#[openapi(tags((name = "cashier", description = "Deposits through payment providers and withdrawals with approvals, for operators: Authorization: Bearer <token>; roles per route. The provider's webhooks are authenticated by its signature.")))]
pub struct Doc;
