//! The HTTP edge every API module of the croupier server stands on: what a
//! route needs before and around its handler, and nothing about any one API.
//!
//! A module crate (`croupier-wallet`, `croupier-operator`, the ones later
//! issues add) depends on this crate, never on the server binary or on
//! another module, so modules can be read, tested and changed alone and the
//! server merely merges them:
//!
//! - [`error`]: the one error shape, `{"error": {"code", "message"}}`;
//! - [`body`]: JSON request bodies, bounded and parsed strictly;
//! - [`caller`]: the authenticated operator ([`Caller`]), found by bearer
//!   token (or a browser session, [`browser`]) and checked against the
//!   route's roles before the handler runs;
//! - [`route`]: a route table row (handler, access, OpenAPI operation, all
//!   in one place) and the router built from rows;
//! - [`state`]: [`AppState`], what every handler can reach (the sequencer,
//!   the access view, the read models, the API's limits);
//! - [`change`]: request ids (`Idempotency-Key`), path player ids and
//!   refusals of operator changes;
//! - [`calls`]: wallet calls per aggregator (counts, refusals, errors,
//!   a latency histogram), lock-free, for the game monitoring;
//! - [`sandbox`]: the loopback server every third-party sandbox runs on;
//! - [`secrets`], [`directory`]: what the PAM module lends other modules
//!   without their depending on it (sealing secrets, facts about players);
//! - [`submit`], [`reads`], [`view`], [`tokens`], [`wire`], [`openapi`]:
//!   ring submission, reads from the read models, the read copy of access
//!   state, tokens and digests, amounts and rejections on the wire, the
//!   error groups of the API description;
//! - [`player_locks`]: per-player locks for a read-then-submit check;
//! - [`worker`]: how a background worker's round ends ([`worker::TickError`])
//!   and what its log says about a read model that trails the journal.

#![deny(missing_docs)]

pub mod body;
pub mod browser;
pub mod caller;
pub mod calls;
pub mod change;
pub mod directory;
pub mod error;
pub mod free_rounds;
pub mod openapi;
pub mod player_locks;
pub mod reads;
pub mod route;
pub mod sandbox;
pub mod secrets;
pub mod state;
pub mod submit;
pub mod tokens;
pub mod view;
pub mod wire;
pub mod worker;

pub use caller::Caller;
pub use error::ApiError;
pub use route::{Access, Route};
pub use state::AppState;
