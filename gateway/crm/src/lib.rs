//! The bonus engine over the operator API (issue 14, its bonus section).
//!
//! The bonuses themselves are ledger state: each wallet's active bonus and
//! the queue behind it ([`engine::bonus`]). This crate turns them into
//! HTTP, and adds the one thing the ledger does not keep, the templates:
//!
//! - [`templates`]: bonus templates (deposit match, no-deposit, cashback,
//!   free spins) with their rules (wagering multiple, game contributions,
//!   max bet, expiry, conversion cap), an optional claim code and the
//!   automatic flag. Setting one is a ledger command
//!   ([`engine::bonus::Command::SetTemplate`]) that the ledger checks and
//!   the read model keeps (`readmodel::bonuses`), so the templates are
//!   rebuilt from the journal like every other table.
//! - [`grants`]: a player's bonuses in queue order (read through the ring,
//!   so they agree with the next bet), a grant from a template or by its
//!   claim code (the amount worked out from the template and what it is
//!   based on, the wagering multiple capped by the player's jurisdiction
//!   profile), and forfeits of the active or a queued bonus.
//! - [`triggers`]: the worker that grants the automatic templates (a
//!   deposit match on each confirmed deposit, a no-deposit bonus at
//!   registration) from the read model's outbox of owed grants.
//! - [`free_rounds`]: free spins granted through the aggregator's
//!   free-rounds call where the template's games are carried by one that
//!   has it: the award journaled first (a durable outbox), the worker that
//!   creates and cancels the rounds with retries, the winnings credited as
//!   the template's bonus when the aggregator reports them, and the
//!   player's awards over the API; [`frb`], the client of Pragmatic Play's
//!   Free Rounds Bonus API and the sandbox that speaks it;
//!   [`free_round_wins`], the winnings credited and the wallet's view.
//! - [`loyalty`]: the loyalty programme (points per game type from the
//!   read model's history of bets, redemptions into bonus money, VIP
//!   tiers with their benefits and history) and the promotion rules per
//!   jurisdiction (the mixed-product ban, checked at every grant).
//! - [`rewards`]: the worker that reviews VIP tiers and grants cashback
//!   at the end of each period, from the read model's history.
//! - [`segments`]: marketing segments (rules over country, age, deposits,
//!   GGR, last activity, game types, VIP tier, RG history; AND, with an
//!   OR group), journaled like templates, and their live members.
//! - [`campaigns`]: campaigns (an offer and a message to a segment over a
//!   channel, scheduled or triggered, with a control group) and their
//!   measured uplift; [`outreach`], the worker that launches them and
//!   delivers through the journal's outbox; [`notify`], the
//!   `NotificationProvider` adapters (email: SendGrid's v3 Mail Send;
//!   SMS: Twilio's Messages API; push: FCM HTTP v1) and the sandboxes
//!   that speak them.
//!
//! - [`affiliates`]: affiliate accounts with their tracking codes and
//!   commission plans (revenue share of NGR with an admin fee and
//!   negative carry-over, CPA), journaled as definitions
//!   ([`engine::marketing::Command`]) the read model keeps; the monthly
//!   commission is a report (`croupier-reports`).
//! - [`brands`]: brands (currencies, jurisdictions) and each brand's lobby
//!   (categories, featured games, theme), served to the front end at
//!   `GET /lobby/v1/{brand}`.
//!
//! It keeps no state of its own and knows nothing of the server or of
//! other modules.

#![deny(missing_docs)]

pub mod affiliates;
pub mod brands;
pub mod campaigns;
pub mod frb;
pub mod free_round_wins;
pub mod free_rounds;
pub mod grants;
pub mod loyalty;
pub mod notify;
pub mod outreach;
pub mod rewards;
pub mod segments;
pub mod templates;
pub mod triggers;

use edge::route::{Access, Route, route};
use engine::Role;
use utoipa::OpenApi;

/// Who defines templates, segments and campaigns and grants or forfeits
/// bonuses: admins and marketing (the ledger caps every grant by the template's rules and the
/// player's jurisdiction).
const MANAGERS: &[Role] = &[Role::Admin, Role::Marketing];
/// Who sets promotion rules: admins and compliance (a regulator's rule).
const RULE_SETTERS: &[Role] = &[Role::Admin, Role::Compliance];
/// Who reads affiliates and commission plans: those who manage them, and
/// finance and read-only (who pay and audit the commission).
const AFFILIATE_READERS: &[Role] = &[Role::Admin, Role::Marketing, Role::Finance, Role::ReadOnly];
/// Who reads them: every enabled role.
const READERS: &[Role] = &Role::ALL;

/// This module's routes, each with the roles it admits.
pub fn routes() -> Vec<Route> {
    use Access::{Operator, Public};
    use affiliates as a;
    use brands as b;
    use campaigns as c;
    use free_rounds as f;
    use grants as g;
    use loyalty as l;
    use segments as s;
    use templates as t;
    vec![
        route::<t::__path_list, _>(Operator(READERS), t::list),
        route::<t::__path_show, _>(Operator(READERS), t::show),
        route::<t::__path_put, _>(Operator(MANAGERS), t::put),
        route::<g::__path_list, _>(Operator(READERS), g::list),
        route::<g::__path_grant, _>(Operator(MANAGERS), g::grant),
        route::<g::__path_claim, _>(Operator(MANAGERS), g::claim),
        route::<g::__path_forfeit, _>(Operator(MANAGERS), g::forfeit),
        route::<f::__path_list, _>(Operator(READERS), f::list),
        route::<f::__path_cancel, _>(Operator(MANAGERS), f::cancel),
        route::<l::__path_show_config, _>(Operator(READERS), l::show_config),
        route::<l::__path_put_config, _>(Operator(MANAGERS), l::put_config),
        route::<l::__path_player_loyalty, _>(Operator(READERS), l::player_loyalty),
        route::<l::__path_redeem, _>(Operator(MANAGERS), l::redeem),
        route::<l::__path_set_tier, _>(Operator(MANAGERS), l::set_tier),
        route::<l::__path_list_promotion_rules, _>(Operator(READERS), l::list_promotion_rules),
        route::<l::__path_put_promotion_rules, _>(Operator(RULE_SETTERS), l::put_promotion_rules),
        route::<a::__path_list, _>(Operator(AFFILIATE_READERS), a::list),
        route::<a::__path_show, _>(Operator(AFFILIATE_READERS), a::show),
        route::<a::__path_players, _>(Operator(AFFILIATE_READERS), a::players),
        route::<a::__path_put, _>(Operator(MANAGERS), a::put),
        route::<a::__path_list_plans, _>(Operator(AFFILIATE_READERS), a::list_plans),
        route::<a::__path_show_plan, _>(Operator(AFFILIATE_READERS), a::show_plan),
        route::<a::__path_put_plan, _>(Operator(MANAGERS), a::put_plan),
        route::<b::__path_list, _>(Operator(READERS), b::list),
        route::<b::__path_show, _>(Operator(READERS), b::show),
        route::<b::__path_put, _>(Operator(MANAGERS), b::put),
        route::<b::__path_show_lobby, _>(Operator(READERS), b::show_lobby),
        route::<b::__path_put_lobby, _>(Operator(MANAGERS), b::put_lobby),
        route::<b::__path_public_lobby, _>(Public, b::public_lobby),
        route::<s::__path_list, _>(Operator(READERS), s::list),
        route::<s::__path_show, _>(Operator(READERS), s::show),
        route::<s::__path_put, _>(Operator(MANAGERS), s::put),
        route::<s::__path_list_members, _>(Operator(READERS), s::list_members),
        route::<c::__path_list, _>(Operator(READERS), c::list),
        route::<c::__path_show, _>(Operator(READERS), c::show),
        route::<c::__path_put, _>(Operator(MANAGERS), c::put),
        route::<c::__path_targets, _>(Operator(READERS), c::targets),
        route::<c::__path_uplift, _>(Operator(READERS), c::uplift),
    ]
}

/// The tag of this module's operations.
#[derive(OpenApi)]
#[openapi(tags((name = "crm", description = "The bonus engine: templates (deposit match, no-deposit, cashback, free spins) with wagering, game contributions, max bet, expiry and conversion cap; grants from a template or a claim code; each player's bonuses (one active, the rest queued in grant order); forfeits; free spins on games an aggregator with a free-rounds call carries (Pragmatic Play's FRB API) awarded through it, each player's awards and their cancel. Loyalty: points per game type from the history of bets, redemptions into bonus money, VIP tiers (reviewed each period, with cashback %, withdrawal limit, account manager) and their history; promotion rules per jurisdiction (the mixed-product ban). Segments (rules over country, age, deposits, GGR, last activity, game types, VIP tier, RG history) with live members; campaigns (an offer and a message to a segment, scheduled or triggered, with a control group), their targets and measured uplift. Affiliates with tracking codes and commission plans (revenue share of NGR, CPA); brands and their lobbies (categories, featured games, theme; served publicly at /lobby/v1/{brand}). Admins and marketing change them (compliance too for promotion rules); every role reads them but affiliates and plans, which admins, marketing, finance and read-only read. Operators: Authorization: Bearer <token>.")))]
pub struct Doc;
