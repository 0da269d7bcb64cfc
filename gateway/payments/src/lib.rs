//! The cashier: money in and out of players' wallets through payment
//! providers, over the operator API.
//!
//! - [`providers`]: the [`PaymentProvider`] adapter interface and its
//!   Stripe-protocol and NOWPayments-protocol implementations; [`sandbox`]
//!   and [`sandbox_nowpayments`] loopback servers speaking those protocols
//!   (`croupier sandbox stripe|nowpayments`). Several providers may be
//!   configured: a deposit names its provider or takes the default.
//! - Closed-loop payouts ([`worker`]): a withdrawal is paid out through
//!   the provider of the player's latest deposit in its currency that a
//!   provider settled and that started before the withdrawal (fixed once
//!   the withdrawal exists, so every retry goes to the same provider),
//!   when that provider is configured and can pay back to it; otherwise
//!   through the default provider. NOWPayments pays to an address: the
//!   player's crypto payment method (PAM's, in the read model), the one
//!   the withdrawal named (then a provider that pays to addresses is
//!   chosen) or else the latest; without one, its deposits are paid back
//!   through the default provider.
//! - [`deposits`]: a deposit is initiated in the ledger first (account,
//!   KYC gates, due diligence and deposit limits checked there), then
//!   started at the provider, whose reference is journaled; the front end
//!   gets the redirect URL or client secret. The provider's verified
//!   webhook ([`webhook`]) confirms or fails it, or charges it back. The
//!   confirmation checks the initiation's gates again
//!   (`DepositConfirmChecked`); a deposit a gate refuses is held, and
//!   finance releases or refuses it. A deposit or withdrawal may name the
//!   player's payment method (`payment_method_id`, journaled beside it).
//! - Withdrawals are held while an AML case on the player is open: the
//!   risk module places a hold in the ledger, which refuses the approval
//!   (`withdrawal_held`) in the same step as the money would move; the
//!   queue says which case holds it.
//! - [`provider_list`]: the configured providers for operators (kind,
//!   default, API host, webhook path, payments by state, payouts owed).
//! - [`withdrawals`]: a request reserves the funds; finance approves (two
//!   different operators above the four-eyes amount: the ledger checks
//!   that the second approval names an accepted first one by someone
//!   else), rejects, or the player takes it back where the jurisdiction
//!   allows it.
//! - [`reconciliation`]: a provider's settlement file (CSV) matched
//!   against the ledger; differences queued for operators to resolve with
//!   a reason; nothing changes money.
//! - [`fx`]: the FX rate table (journaled settings with effective times,
//!   history kept; integer rates scaled by 10^8).
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
pub mod fx;
pub mod metrics;
pub mod provider_list;
pub mod providers;
pub mod reconciliation;
pub mod sandbox;
pub mod sandbox_nowpayments;
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

/// The cashier's settings and its providers, set up by the server and
/// handed to the handlers and the worker through `AppState::modules`.
#[derive(Clone)]
pub struct Cashier {
    /// The payment providers configured, the default first.
    pub providers: Vec<Arc<dyn PaymentProvider>>,
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

impl Cashier {
    /// The default provider (the first configured).
    pub fn default_provider(&self) -> Option<&Arc<dyn PaymentProvider>> {
        self.providers.first()
    }

    /// The provider named `name`, if configured.
    pub fn provider(&self, name: &str) -> Option<&Arc<dyn PaymentProvider>> {
        self.providers.iter().find(|p| p.name() == name)
    }

    /// The names of the providers configured, the default first.
    pub fn names(&self) -> Vec<&'static str> {
        self.providers.iter().map(|p| p.name()).collect()
    }
}

/// This module's routes, each with the roles it admits.
pub fn routes() -> Vec<Route> {
    use Access::{Operator, Public};
    vec![
        route::<deposits::__path_initiate, _>(Operator(FRONT_END), deposits::initiate),
        route::<deposits::__path_list, _>(Operator(READERS), deposits::list),
        route::<deposits::__path_release, _>(Operator(FINANCE), deposits::release),
        route::<deposits::__path_refuse, _>(Operator(FINANCE), deposits::refuse),
        route::<withdrawals::__path_request, _>(Operator(FRONT_END), withdrawals::request),
        route::<withdrawals::__path_list, _>(Operator(READERS), withdrawals::list),
        route::<withdrawals::__path_approve, _>(Operator(FINANCE), withdrawals::approve),
        route::<withdrawals::__path_reject, _>(Operator(FINANCE), withdrawals::reject),
        route::<withdrawals::__path_reverse, _>(Operator(FRONT_END), withdrawals::reverse),
        // Authenticated by the provider's signature over the body.
        route::<provider_list::__path_list, _>(Operator(FINANCE), provider_list::list),
        route::<fx::__path_set, _>(Operator(FINANCE), fx::set),
        route::<fx::__path_list, _>(Operator(READERS), fx::list),
        route::<reconciliation::__path_import, _>(Operator(FINANCE), reconciliation::import),
        route::<reconciliation::__path_list, _>(Operator(READERS), reconciliation::list),
        route::<reconciliation::__path_resolve, _>(Operator(FINANCE), reconciliation::resolve),
        route::<webhook::__path_stripe, _>(Public, webhook::stripe),
        route::<webhook::__path_nowpayments, _>(Public, webhook::nowpayments),
    ]
}

/// The tag of this module's operations.
#[derive(OpenApi)]
#[openapi(tags((name = "cashier", description = "Deposits through payment providers and withdrawals with approvals, for operators: Authorization: Bearer <token>; roles per route. The provider's webhooks are authenticated by its signature.")))]
pub struct Doc;
