//! The seamless-wallet APIs that game aggregators call: authenticate, read
//! the balance, bet, win, roll back, end a round.
//!
//! [`seamless`] is what every contract shares (the aggregator's credential,
//! the game session of a launch token, the in-session command); each
//! contract in [`contracts`] is a translation of its wire onto it, so
//! idempotency, sessions, limits and money rules stay the ledger's alone.
//!
//! [`routes`] is this module's part of the server's route table: each route
//! once, with its access, its handler and (through the handler's
//! annotation) its OpenAPI operation; [`Doc`] adds the tags and schemas the
//! operations refer to by name. The server merges both; this crate knows
//! nothing of the server or of other modules.

#![deny(missing_docs)]

pub mod contracts;
pub mod seamless;

use edge::route::{Access, Route, route};
use utoipa::OpenApi;

use crate::contracts::hub88::{self, wire as hub88_wire};
use crate::contracts::native::{self, WalletRefusal};
use crate::contracts::{evolution, pragmatic};

/// This module's routes. Aggregators are checked by the handlers, which
/// need the signed body; no route here takes a bearer token.
pub fn routes() -> Vec<Route> {
    use Access::Aggregator;
    vec![
        route::<native::__path_authenticate, _>(Aggregator, native::authenticate),
        route::<native::__path_balance, _>(Aggregator, native::balance),
        route::<native::__path_bet, _>(Aggregator, native::bet),
        route::<native::__path_win, _>(Aggregator, native::win),
        route::<native::__path_rollback, _>(Aggregator, native::rollback),
        route::<native::__path_end_round, _>(Aggregator, native::end_round),
        route::<hub88::__path_user_info_route, _>(Aggregator, hub88::user_info_route),
        route::<hub88::__path_balance_route, _>(Aggregator, hub88::balance_route),
        route::<hub88::__path_bet_route, _>(Aggregator, hub88::bet_route),
        route::<hub88::__path_win_route, _>(Aggregator, hub88::win_route),
        route::<hub88::__path_rollback_route, _>(Aggregator, hub88::rollback_route),
        route::<pragmatic::__path_authenticate_route, _>(Aggregator, pragmatic::authenticate_route),
        route::<pragmatic::__path_balance_route, _>(Aggregator, pragmatic::balance_route),
        route::<pragmatic::__path_bet_route, _>(Aggregator, pragmatic::bet_route),
        route::<pragmatic::__path_result_route, _>(Aggregator, pragmatic::result_route),
        route::<pragmatic::__path_bonus_win_route, _>(Aggregator, pragmatic::bonus_win_route),
        route::<pragmatic::__path_jackpot_win_route, _>(Aggregator, pragmatic::jackpot_win_route),
        route::<pragmatic::__path_promo_win_route, _>(Aggregator, pragmatic::promo_win_route),
        route::<pragmatic::__path_refund_route, _>(Aggregator, pragmatic::refund_route),
        route::<pragmatic::__path_end_round_route, _>(Aggregator, pragmatic::end_round_route),
        route::<pragmatic::__path_adjustment_route, _>(Aggregator, pragmatic::adjustment_route),
        route::<pragmatic::__path_balance_per_game_route, _>(Aggregator, pragmatic::balance_per_game_route),
        route::<evolution::__path_check_route, _>(Aggregator, evolution::check_route),
        route::<evolution::__path_balance_route, _>(Aggregator, evolution::balance_route),
        route::<evolution::__path_debit_route, _>(Aggregator, evolution::debit_route),
        route::<evolution::__path_credit_route, _>(Aggregator, evolution::credit_route),
        route::<evolution::__path_cancel_route, _>(Aggregator, evolution::cancel_route),
        route::<evolution::__path_promo_payout_route, _>(Aggregator, evolution::promo_payout_route),
    ]
}

/// The tags of this module's operations and the schemas their error groups
/// name without the operations referring to them directly.
#[derive(OpenApi)]
#[openapi(
    components(schemas(WalletRefusal, hub88_wire::Reply, pragmatic::ReplyDoc, evolution::ReplyDoc)),
    tags(
        (name = "wallet", description = "For aggregators: HMAC-SHA256 over \"{timestamp}.{body}\" with the aggregator's secret, hex in x-croupier-signature; x-croupier-aggregator and x-croupier-timestamp (ms) beside it."),
        (name = "hub88", description = "Hub88's seamless-wallet contract for aggregators registered with an RSA public key: base URL /hub88/{aggregator}; x-hub88-signature is the base64 RSA-SHA256 (PKCS#1 v1.5) of the raw body with the aggregator's key, and responses are signed with the operator's key (GET /operator/v1/hub88/public-key). Amounts are integers in 1/100,000 of the currency; answers are HTTP 200 with a status."),
        (name = "pragmatic", description = "Pragmatic Play's seamless-wallet contract for aggregators registered with Pragmatic Play's secret key: base URL /pragmatic/{aggregator}; form-encoded POSTs whose hash parameter is the MD5 (hex) of the other parameters sorted by name as k=v&..., followed by the key. Answers are JSON with error (0 success) and description; amounts are decimals in major units."),
        (name = "evolution", description = "Evolution's One Wallet for aggregators registered with evolution: true: base URL /evolution/{aggregator}; every call carries ?authToken= (the token shown when the aggregator was registered) and a JSON body; answers are HTTP 200 with a status; amounts are JSON numbers in major units."),
    )
)]
pub struct Doc;
