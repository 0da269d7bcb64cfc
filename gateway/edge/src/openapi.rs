//! The API description's shared parts: the error groups every module's
//! routes list by cause, and the helpers modules use to declare their own.
//!
//! Error answers are documented by cause rather than route by route: each
//! group ([`BodyErrors`], [`BearerErrors`], [`RoleErrors`], [`LedgerErrors`]
//! here; modules add their own with [`responses!`](crate::responses)) is the
//! set of statuses one step of request handling can answer, and a route
//! lists the groups of the steps it takes plus the few statuses of its own.
//! `gateway/tests/it/openapi_check.rs` runs schemathesis against a live server
//! to check that the result covers every status and body the server
//! actually sends.

use utoipa::PartialSchema;
use utoipa::openapi::response::{Response as ApiResponse, ResponseBuilder};
use utoipa::openapi::schema::{AnyOfBuilder, Ref};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, RefOr, Schema};

/// A response whose JSON body is `schema`.
pub fn json(schema: impl Into<RefOr<Schema>>, description: &str) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(schema)).build())
}

/// A reference to the error body's schema.
pub fn error_body() -> Ref {
    Ref::from_schema_name("ErrorBody")
}

/// Declares an [`utoipa::IntoResponses`] group: statuses, each with its
/// body (a function of the description, such as [`error`]) and what it means.
#[macro_export]
macro_rules! responses {
    ($(#[$doc:meta])* $name:ident { $($status:literal => $body:expr, $description:literal;)+ }) => {
        $(#[$doc])*
        pub struct $name;

        impl ::utoipa::IntoResponses for $name {
            fn responses(
            ) -> ::std::collections::BTreeMap<String, ::utoipa::openapi::RefOr<::utoipa::openapi::response::Response>> {
                ::std::collections::BTreeMap::from([$(($status.to_string(), ::utoipa::openapi::RefOr::T($body($description)))),+])
            }
        }
    };
}

/// A partner contract's answer without an outcome (busy, stopping, in
/// doubt): the partner's own reply (schema `reply`) or, when the router
/// answered a timeout, the error body.
pub fn partner_failure(reply: &str, description: &str) -> ApiResponse {
    let schema: Schema = AnyOfBuilder::new()
        .item(Ref::from_schema_name(reply))
        .item(error_body())
        .build()
        .into();
    json(schema, description).build()
}

/// An error answer with the error body.
pub fn error(description: &str) -> ApiResponse {
    json(error_body(), description).build()
}

/// An answer without an outcome: `busy` and `shutting_down` carry
/// `Retry-After` (seconds).
pub fn unavailable(description: &str) -> ApiResponse {
    let retry_after = HeaderBuilder::new()
        .schema(u64::schema())
        .description(Some("seconds to wait before retrying (busy, shutting_down)"))
        .build();
    json(error_body(), description)
        .header("retry-after", retry_after)
        .build()
}

crate::responses! {
    /// A JSON request body ([`crate::body`]): refused before anything else.
    BodyErrors {
        400 => error, "malformed_json, invalid_request (wrong shape, type or value), unknown_currency, invalid_amount, too_many_decimals, amount_overflow …";
        413 => error, "body_too_large";
        415 => error, "unsupported_media_type: the body must be application/json";
    }
}

crate::responses! {
    /// An operator route any role may call.
    BearerErrors {
        401 => error, "missing_token or invalid_token (a back-office session: session_expired)";
    }
}

crate::responses! {
    /// An operator route limited to some roles.
    RoleErrors {
        401 => error, "missing_token or invalid_token (a back-office session: session_expired)";
        403 => error, "forbidden: the operator's role may not do this; operator_disabled; csrf_token_invalid (a back-office session's change without its x-csrf-token)";
    }
}

crate::responses! {
    /// A request that goes through the sequencer (and any request that
    /// runs past the request timeout).
    LedgerErrors {
        500 => error, "commit_failed (the outcome is in doubt: retry with the same id) or internal";
        503 => unavailable, "busy, shutting_down, timeout (retry with the same id), capacity_reached";
    }
}
