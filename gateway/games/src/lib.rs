//! The game catalogue over the operator API (issue 14, its first slice).
//!
//! The catalogue is ledger state ([`engine::games::Catalogue`]): the
//! providers (studios) with the aggregators that carry them, and the games
//! keyed by aggregator and that aggregator's code, which every bet is
//! checked against once the catalogue holds a game. This crate only turns
//! it into HTTP:
//!
//! - [`catalogue`]: list, show and set providers and games, enable and
//!   disable a game. Reads come from the gateway's view of the ledger (kept
//!   in step by [`engine::games::Catalogue::follow`], the ledger's own
//!   code), so they need neither the ring nor a read-model table; changes
//!   are ledger commands.
//! - [`import`]: a provider's game list as a JSON array or CSV, checked
//!   whole (every row by the ledger's own rules, against the catalogue as
//!   it stands) before anything is submitted, then one command per game
//!   that is new or changed.
//! - [`jackpots`]: progressive jackpot pools listed, shown (balance,
//!   contributions, last win), created and awarded; admins and finance
//!   change them (they move money), every role reads them.
//! - [`performance`]: live performance per game and per provider (rounds,
//!   players, turnover, GGR, bonus cost, actual vs configured RTP with a
//!   statistical alert, refusal rates, each aggregator's wallet calls and
//!   latency) from the read model's monitoring projection, on the API and
//!   in `/metrics`; admins, finance, compliance, read-only and marketing
//!   read it.
//! - [`alerts`]: the RTP alerts' history (each crossing into alert and
//!   back, with the figures of that moment), recorded by an evaluator a
//!   worker runs every minute and the history route runs on demand; the
//!   same roles read it.
//! - [`forms`]: the JSON and CSV forms of a game and their validation,
//!   naming the field at fault.
//!
//! It keeps no state of its own and knows nothing of the server or of
//! other modules.

#![deny(missing_docs)]

pub mod alerts;
pub mod catalogue;
pub mod forms;
pub mod import;
pub mod jackpots;
pub mod performance;

use edge::route::{Access, Route, route};
use engine::Role;
use utoipa::OpenApi;

/// Who manages the catalogue: its RTPs, stake limits and jurisdictions are
/// regulated settings, which compliance keeps (beside admins).
const MANAGERS: &[Role] = &[Role::Admin, Role::Compliance];
/// Who creates and awards jackpot pools: they move money.
const JACKPOT_MANAGERS: &[Role] = &[Role::Admin, Role::Finance];
/// Who reads it: every enabled role.
const READERS: &[Role] = &Role::ALL;
/// Who reads the games' performance: business figures (turnover, GGR),
/// read as the reports are (support works on players, not on figures).
const FIGURES: &[Role] = &[
    Role::Admin,
    Role::Finance,
    Role::Compliance,
    Role::ReadOnly,
    Role::Marketing,
];

/// This module's routes, each with the roles it admits.
pub fn routes() -> Vec<Route> {
    use Access::Operator;
    use catalogue as c;
    use performance as p;
    vec![
        route::<p::__path_games_performance, _>(Operator(FIGURES), p::games_performance),
        route::<p::__path_alerts, _>(Operator(FIGURES), p::alerts),
        route::<alerts::__path_history, _>(Operator(FIGURES), alerts::history),
        route::<p::__path_providers_performance, _>(Operator(FIGURES), p::providers_performance),
        route::<p::__path_game_performance, _>(Operator(FIGURES), p::game_performance),
        route::<c::__path_list_providers, _>(Operator(READERS), c::list_providers),
        route::<c::__path_show_provider, _>(Operator(READERS), c::show_provider),
        route::<c::__path_put_provider, _>(Operator(MANAGERS), c::put_provider),
        route::<c::__path_list_games, _>(Operator(READERS), c::list_games),
        route::<c::__path_show_game, _>(Operator(READERS), c::show_game),
        route::<c::__path_put_game, _>(Operator(MANAGERS), c::put_game),
        route::<c::__path_enable_game, _>(Operator(MANAGERS), c::enable_game),
        route::<c::__path_disable_game, _>(Operator(MANAGERS), c::disable_game),
        route::<import::__path_import, _>(Operator(MANAGERS), import::import),
        route::<jackpots::__path_list, _>(Operator(READERS), jackpots::list),
        route::<jackpots::__path_show, _>(Operator(READERS), jackpots::show),
        route::<jackpots::__path_create, _>(Operator(JACKPOT_MANAGERS), jackpots::create),
        route::<jackpots::__path_award, _>(Operator(JACKPOT_MANAGERS), jackpots::award),
    ]
}

/// The tag of this module's operations.
#[derive(OpenApi)]
#[openapi(tags((name = "games", description = "The game catalogue: providers, games (RTP variants, stake limits per currency, allowed jurisdictions, enabled flag), imports of a provider's game list, and progressive jackpot pools (create, list, show, award; admins and finance change them). Once the catalogue holds a game, every bet's game must be in it, enabled, allowed in the player's jurisdiction, and the stake within its limits. Operators: Authorization: Bearer <token>; admins and compliance change it, every role reads it.")))]
pub struct Doc;
