//! Analytics off the hot path: what the read models say about players
//! that no single record does, for compliance and marketing.
//!
//! - [`markers`]: the problem-gambling markers (loss chasing, rising
//!   deposits, night play, limit increases, failed deposits, cancelled
//!   withdrawals), each with its evidence, and the score they sum to.
//!   Pure, tested on crafted histories.
//! - [`churn`]: churn risk, a logistic regression (linfa) on recency,
//!   frequency, monetary value and trends, trained on the platform's own
//!   history and explained by each feature's contribution; evaluated on
//!   `engine::workload::churn_cohort`'s synthetic players with known
//!   churners.
//! - [`worker`]: the scheduled work: a marker scan that raises alerts for
//!   compliance and suggests interventions (journaled commands,
//!   `engine::analytics`, tags 117–120), and the churn model's retraining.
//! - [`routes`]: the operator API over them: markers and alerts,
//!   interventions (issued by compliance, polled and answered by the front
//!   end), churn scores with their reasons.
//!
//! Alerts and interventions are journaled and kept by the read model
//! (`readmodel::analytics`), so a rebuild loses none; the churn model is
//! derived, kept in memory and retrained after a restart.
//! `readmodel::analytics::problem_gambling_flagged` tells CRM whom not
//! to market to. This crate knows nothing of the server or other modules.

#![deny(missing_docs)]

pub mod churn;
pub mod markers;
pub mod routes;
pub mod worker;

use edge::route::{Access, Route, route};
use engine::Role;
use utoipa::OpenApi;

pub use worker::{ChurnState, install, spawn};

/// Who reads markers and works alerts and interventions.
const COMPLIANCE: &[Role] = &[Role::Admin, Role::Compliance];
/// The front end: polls a player's interventions and records the answers.
const FRONT_END: &[Role] = &[Role::Admin, Role::Compliance, Role::Support];
/// Who reads churn scores.
const CHURN_READERS: &[Role] = &[Role::Admin, Role::Marketing, Role::ReadOnly];
/// Who retrains the churn model on demand.
const CHURN_TRAINERS: &[Role] = &[Role::Admin, Role::Marketing];

/// This module's routes, each with the roles it admits.
pub fn routes() -> Vec<Route> {
    use Access::Operator;
    vec![
        route::<routes::__path_player_markers, _>(Operator(COMPLIANCE), routes::player_markers),
        route::<routes::__path_alerts, _>(Operator(COMPLIANCE), routes::alerts),
        route::<routes::__path_scan, _>(Operator(COMPLIANCE), routes::scan),
        route::<routes::__path_close, _>(Operator(COMPLIANCE), routes::close),
        route::<routes::__path_intervene, _>(Operator(COMPLIANCE), routes::intervene),
        route::<routes::__path_interventions, _>(Operator(FRONT_END), routes::interventions),
        route::<routes::__path_answer, _>(Operator(FRONT_END), routes::answer),
        route::<routes::__path_churn_list, _>(Operator(CHURN_READERS), routes::churn_list),
        route::<routes::__path_player_churn, _>(Operator(CHURN_READERS), routes::player_churn),
        route::<routes::__path_train, _>(Operator(CHURN_TRAINERS), routes::train),
    ]
}

/// The tag of this module's operations.
#[derive(OpenApi)]
#[openapi(tags((name = "analytics", description = "Problem-gambling markers with evidence and alerts, interventions (journaled), churn risk with its reasons: Authorization: Bearer <token>; compliance and admins for markers and interventions (support too for the front end's polling and answers), marketing, read-only and admins for churn.")))]
pub struct Doc;
