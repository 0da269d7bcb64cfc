//! The server's route table: the rows of every module crate merged with the
//! server's own ([`crate::ops`]). Each row is written once, in its module,
//! with its handler, its access and (through the handler's annotation) its
//! OpenAPI operation; `tests/it/routes.rs` checks the merged table against
//! `/openapi.json` both ways.

pub use edge::route::{Access, Route};

use crate::ops;

/// Every route the server serves.
pub fn routes() -> Vec<Route> {
    let mut routes = wallet::routes();
    routes.extend(operator::routes());
    routes.extend(pam::routes());
    routes.extend(payments::routes());
    routes.extend(risk::routes());
    routes.extend(analytics::routes());
    routes.extend(games::routes());
    routes.extend(reports::routes());
    routes.extend(crm::routes());
    routes.extend(helpdesk::routes());
    routes.extend(backoffice::routes());
    routes.extend(crate::cluster::routes::routes());
    routes.extend(ops::routes());
    routes
}
