//! Support: what support staff work with, over the operator API.
//!
//! - [`tickets`]: a player's tickets (subject, status open → pending →
//!   solved → closed, priority, assignee, messages from the player, an
//!   operator or an external agent), listed with filters, shown with
//!   their history.
//! - [`notes`]: operators' internal notes on a player, never shown to the
//!   player.
//! - [`timeline`]: every event of a player in time order (registration,
//!   logins, payments, round summaries, bonuses, RG changes, KYC, operator
//!   actions, tickets, notes), paged, with kind filters.
//! - [`zendesk`]: the inbound adapter for Zendesk's webhooks (signed,
//!   idempotent, order-tolerant) that opens and updates tickets from
//!   there; [`sandbox`] is a loopback server speaking that protocol, for
//!   tests and local use.
//! - [`outbound`]: the sync that pushes every ticket change made here
//!   (never those that came from the helpdesk) to an external helpdesk,
//!   in order per ticket, behind the [`outbound::Helpdesk`] trait;
//!   [`zendesk_api`] is Zendesk's, over its Ticketing API.
//!
//! Every ticket change and note is a journaled ledger command
//! (`engine::support`, tags 106–109; the sync's progress 123) that the
//! read model (`readmodel::support`) derives the tickets, notes and timeline from,
//! so a rebuild loses none and the audit trail names who did each. The
//! routes check the read model first (the ticket exists, is not closed)
//! and answer once it holds the change. This crate knows nothing of the
//! server or of other modules.

#![deny(missing_docs)]

pub mod notes;
pub mod outbound;
pub mod sandbox;
mod shared;
pub mod tickets;
pub mod timeline;
pub mod zendesk;
pub mod zendesk_api;

use edge::route::{Access, Route, route};
use engine::Role;
use utoipa::OpenApi;

/// Who works tickets and writes notes.
const MANAGERS: &[Role] = &[Role::Admin, Role::Support];
/// Who reads tickets, notes and timelines.
const READERS: &[Role] = &[Role::Admin, Role::Compliance, Role::Support];

/// The module's settings, set at start-up.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Zendesk's webhook signing secret; `None`: the webhook answers 404.
    pub zendesk_webhook_secret: Option<String>,
    /// Where and as whom tickets made here are pushed to Zendesk; `None`:
    /// they are not (they stay owed, and are pushed once it is set).
    pub zendesk_api: Option<zendesk_api::ZendeskApiConfig>,
}

/// This module's routes, each with the roles it admits.
pub fn routes() -> Vec<Route> {
    use Access::{Operator, Public};
    vec![
        route::<tickets::__path_list, _>(Operator(READERS), tickets::list),
        route::<tickets::__path_open, _>(Operator(MANAGERS), tickets::open),
        route::<tickets::__path_show, _>(Operator(READERS), tickets::show),
        route::<tickets::__path_message, _>(Operator(MANAGERS), tickets::message),
        route::<tickets::__path_assign, _>(Operator(MANAGERS), tickets::assign),
        route::<tickets::__path_status, _>(Operator(MANAGERS), tickets::status),
        route::<tickets::__path_priority, _>(Operator(MANAGERS), tickets::priority),
        route::<notes::__path_list, _>(Operator(READERS), notes::list),
        route::<notes::__path_add, _>(Operator(MANAGERS), notes::add),
        route::<timeline::__path_timeline, _>(Operator(READERS), timeline::timeline),
        route::<zendesk::__path_webhook, _>(Public, zendesk::webhook),
    ]
}

/// The tag of this module's operations.
#[derive(OpenApi)]
#[openapi(tags((name = "support", description = "Player tickets, internal notes on players and the player timeline, for support: Authorization: Bearer <token>; support and admins change, compliance reads too. Zendesk's webhook is authenticated by its signature.")))]
pub struct Doc;
