//! The wallet contracts aggregators speak, one module each: each parses its
//! own wire, checks its own signatures and renders its own replies around
//! the shared core ([`crate::seamless`]), so every contract submits the same
//! commands. A new aggregator contract is a new module here and its rows in
//! [`crate::routes`].

/// A route of a partner contract mounted at `/<contract>/{aggregator}/...`:
/// one handler per path (so each has its own OpenAPI operation), which
/// reads the aggregator segment and hands it, the extractors listed
/// (`name: Type`) and the call to the contract's `serve`.
macro_rules! partner_route {
    ($serve:ident($($arg:ident: $ty:ty),*) $(#[$attribute:meta])* $name:ident => $call:expr) => {
        $(#[$attribute])*
        pub async fn $name(
            ::axum::extract::State(state): ::axum::extract::State<::edge::AppState>,
            aggregator: Result<
                ::axum::extract::Path<String>,
                ::axum::extract::rejection::PathRejection,
            >,
            $($arg: $ty),*
        ) -> ::axum::response::Response {
            // A segment that is not text (bad UTF-8) names no partner either.
            let aggregator = aggregator.map(|::axum::extract::Path(aggregator)| aggregator).unwrap_or_default();
            $serve(state, &aggregator, $($arg),*, $call).await
        }
    };
}

use edge::ApiError;
use engine::Balances;

/// A partner's own refusal code (Hub88's status, Pragmatic Play's error,
/// Evolution's status).
pub trait Refusal {}

/// Why a partner call ended without a success reply.
pub enum Stop<R> {
    /// The partner's refusal (HTTP 200), with the wallet's balances if the
    /// ledger gave them.
    Refused(R, Option<Balances>),
    /// The engine gave no outcome: busy, stopping, or in doubt.
    Engine(ApiError),
}

impl<R: Refusal> From<R> for Stop<R> {
    fn from(refusal: R) -> Stop<R> {
        Stop::Refused(refusal, None)
    }
}

impl<R> From<ApiError> for Stop<R> {
    fn from(error: ApiError) -> Stop<R> {
        Stop::Engine(error)
    }
}

pub mod evolution;
pub mod hub88;
pub mod json;
pub mod native;
pub mod pragmatic;
