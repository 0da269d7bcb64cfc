//! Risk: anti-money-laundering monitoring and fraud scoring on the read
//! models, and the case queue where compliance works the alerts, over the
//! operator API.
//!
//! - [`rules`]: the AML rules' settings (window, count, percentage, an
//!   amount per currency), read and changed by compliance; the projection
//!   (`readmodel::risk`) evaluates them as it follows the journal, so no
//!   rule ever slows the sequencer.
//! - [`alerts`]: the alerts with their evidence (the journal records and
//!   amounts each rests on), the queue of those in no case, and each
//!   player's fraud score with its reasons.
//! - [`cases`]: a case opened from alerts, assigned, annotated, resolved
//!   with an outcome, and exported as a suspicious-activity report (JSON,
//!   CSV). Actions from a case (suspend the player, require a new KYC
//!   check) are the ledger's own operator commands, sent under the
//!   operator's source: journaled and in the audit trail.
//! - [`holds`]: a case holds the player's withdrawals in the ledger while
//!   it is open (where configured), and the start-up sweep that places the
//!   holds of cases opened before.
//! - Every case change and rule setting is itself a journaled command
//!   (`engine::risk`, tags 98–99) that the read model derives the cases,
//!   notes and settings from, so a rebuild of the read model loses none.
//! - [`metrics`]: alerts per rule and open cases in `/metrics`.
//!
//! Amounts are per currency: exchange rates, and thresholds in a reporting
//! currency, come with the FX slice. This crate knows nothing of the
//! server or of other modules.

#![deny(missing_docs)]

pub mod alerts;
pub mod cases;
pub mod holds;
pub mod metrics;
pub mod rules;
mod shared;

use edge::route::{Access, Route, route};
use engine::Role;
use utoipa::OpenApi;

/// Who changes rule settings and works cases.
const COMPLIANCE: &[Role] = &[Role::Admin, Role::Compliance];
/// Who reads rules, alerts, scores and cases.
const READERS: &[Role] = &[Role::Admin, Role::Compliance, Role::ReadOnly];

/// This module's routes, each with the roles it admits.
pub fn routes() -> Vec<Route> {
    use Access::Operator;
    vec![
        route::<rules::__path_list, _>(Operator(READERS), rules::list),
        route::<rules::__path_set, _>(Operator(COMPLIANCE), rules::set),
        route::<alerts::__path_list, _>(Operator(READERS), alerts::list),
        route::<alerts::__path_show, _>(Operator(READERS), alerts::show),
        route::<alerts::__path_score, _>(Operator(READERS), alerts::score),
        route::<cases::__path_list, _>(Operator(READERS), cases::list),
        route::<cases::__path_open, _>(Operator(COMPLIANCE), cases::open),
        route::<cases::__path_show, _>(Operator(READERS), cases::show),
        route::<cases::__path_assign, _>(Operator(COMPLIANCE), cases::assign),
        route::<cases::__path_note, _>(Operator(COMPLIANCE), cases::note),
        route::<cases::__path_act, _>(Operator(COMPLIANCE), cases::act),
        route::<cases::__path_resolve, _>(Operator(COMPLIANCE), cases::resolve),
        route::<cases::__path_export, _>(Operator(READERS), cases::export),
    ]
}

/// The tag of this module's operations.
#[derive(OpenApi)]
#[openapi(tags((name = "risk", description = "AML rules, alerts with evidence, fraud scores and cases, for compliance: Authorization: Bearer <token>; compliance and admins change, read-only reads. Amounts are per currency until exchange rates exist.")))]
pub struct Doc;
