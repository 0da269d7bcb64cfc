//! The native wallet API's parts of the API description: its signature
//! headers and the error groups of its steps (signature and session, the
//! ledger's refusals with the wallet's balances).

use edge::openapi::{error, error_body, json};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::Response as ApiResponse;
use utoipa::openapi::schema::{AnyOfBuilder, Ref};
use utoipa::openapi::{RefOr, Required, Schema};
use utoipa::{IntoParams, PartialSchema};

use super::signature;

/// The three signature headers of every native wallet request
/// ([`super::signature`]).
pub struct SignatureHeaders;

impl IntoParams for SignatureHeaders {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let header = |name: &str, schema: RefOr<Schema>, description: &str| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Header)
                .required(Required::True)
                .schema(Some(schema))
                .description(Some(description))
                .build()
        };
        vec![
            header(signature::AGGREGATOR_HEADER, u32::schema(), "the aggregator's id"),
            header(
                signature::TIMESTAMP_HEADER,
                u64::schema(),
                "signing time, ms since the epoch, within the server's signature window",
            ),
            header(
                signature::SIGNATURE_HEADER,
                String::schema(),
                "hex HMAC-SHA256 of \"{timestamp}.{raw body}\" with the aggregator's secret",
            ),
        ]
    }
}

/// A native wallet error: the error alone, or, for a refusal the ledger
/// recorded against the session's wallet, the error with its balances.
fn wallet_error(description: &str) -> ApiResponse {
    let schema: Schema = AnyOfBuilder::new()
        .item(Ref::from_schema_name("WalletRefusal"))
        .item(error_body())
        .build()
        .into();
    json(schema, description).build()
}

edge::responses! {
    /// A native wallet request: signature, aggregator and game session.
    SignedErrors {
        401 => error, "missing_signature, bad_signature, bad_timestamp, stale_timestamp, unknown_aggregator, wrong_contract, unknown_token, session_expired";
    }
}

edge::responses! {
    /// The ledger's refusals of a native wallet command, most of them with
    /// the wallet's balances.
    WalletRefusals {
        400 => wallet_error, "malformed_json, invalid_request, unknown_currency, invalid_amount, too_many_decimals, amount_overflow";
        401 => wallet_error, "missing_signature, bad_signature, bad_timestamp, stale_timestamp, unknown_aggregator, wrong_contract, unknown_token, session_expired (a bet after the session ended, with the balances)";
        403 => wallet_error, "player_blocked, limit_exceeded, kyc_required, session_mismatch";
        404 => wallet_error, "unknown_round, unknown_transaction";
        409 => wallet_error, "conflict (the transaction id was used with another request), bet_rolled_back, already_rolled_back, round_player_mismatch, wrong_transaction_kind";
    }
}
