//! The FX rate table over the operator API: finance sets the rate of one
//! currency in another from a moment on (journaled, `SetFxRate`), and
//! anyone who reads the cashier lists the history. Rates are decimal
//! strings at the edge (at most eight decimal places) and integers scaled
//! by 10^8 everywhere else: no float ever touches a rate.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::reads::read;
use edge::wire;
use edge::{AppState, Caller};
use engine::payments::{self, FX_RATE_SCALE};
use engine::{Command, Currency, Outcome};
use readmodel::fx::{self, RateView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Most settings in one page.
const PAGE_MAX: usize = 1_000;
/// Decimal places a rate may have.
const RATE_DECIMALS: usize = 8;

/// A rate to set.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateRequest {
    /// Units of the quote currency per unit of the base, a positive
    /// decimal with at most 8 decimal places (`"0.85"`).
    pub rate: String,
    /// In force from this time, ms since the epoch (default: now).
    pub effective_at_ms: Option<u64>,
}

/// A rate setting as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct RateReply {
    /// The currency priced.
    pub base: String,
    /// The currency it is priced in.
    pub quote: String,
    /// The rate, a decimal.
    pub rate: String,
    /// In force from, ms since the epoch.
    pub effective_at_ms: u64,
}

/// Parses a rate: a positive decimal with at most eight decimal places,
/// as an integer scaled by 10^8.
pub fn parse_rate(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > RATE_DECIMALS {
        return None;
    }
    if text.contains('.') && fraction.is_empty() {
        return None;
    }
    let padded = format!("{fraction:0<RATE_DECIMALS$}");
    let scaled = whole
        .parse::<i64>()
        .ok()?
        .checked_mul(FX_RATE_SCALE)?
        .checked_add(padded.parse::<i64>().ok()?)?;
    (scaled > 0).then_some(scaled)
}

/// Prints a scaled rate as a decimal without trailing zeros.
pub fn print_rate(scaled: i64) -> String {
    let (whole, fraction) = (scaled / FX_RATE_SCALE, scaled % FX_RATE_SCALE);
    let fraction = format!("{fraction:08}");
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        whole.to_string()
    } else {
        format!("{whole}.{fraction}")
    }
}

fn reply(view: &RateView) -> RateReply {
    RateReply {
        base: view.base.clone(),
        quote: view.quote.clone(),
        rate: print_rate(view.rate_scaled),
        effective_at_ms: view.effective_ms,
    }
}

/// Sets the rate of `base` in `quote` from a moment on (admins, finance).
#[utoipa::path(put, path = "/operator/v1/fx/{base}/{quote}", tag = "cashier", request_body = RateRequest,
    params(("base" = String, Path), ("quote" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = RateReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad currency or rate), invalid_fx_rate (a currency in itself)")))]
pub async fn set(
    State(state): State<AppState>,
    caller: Caller,
    Path((base, quote)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: RateRequest = decode(&body)?;
    let (base, quote) = (wire::currency(&base)?, wire::currency(&quote)?);
    let rate_scaled = parse_rate(&request.rate).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_request",
            "rate: a positive decimal with at most 8 decimal places",
        )
    })?;
    let effective_at_ms = request.effective_at_ms.unwrap_or_else(|| state.now_ms());
    let command = Command::Payments(payments::Command::SetFxRate {
        base,
        quote,
        rate_scaled,
        effective_at_ms,
        operator: caller.id,
    });
    // One request per (pair, moment, rate): a repeated call is a retry.
    let id = wire::ext_id(
        &format!("fx:{}{}:{effective_at_ms}:{rate_scaled}", base.code(), quote.code()),
        "rate",
    )?;
    match caller.submit(&state, id, command).await? {
        Outcome::Accepted => edge::change::ok(
            StatusCode::OK,
            &RateReply {
                base: base.code().into(),
                quote: quote.code().into(),
                rate: print_rate(rate_scaled),
                effective_at_ms,
            },
        ),
        other => Err(edge::change::refusal(&other, Currency::EUR)),
    }
}

/// Which settings.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RatesQuery {
    /// Only this base currency.
    pub base: Option<String>,
    /// Only this quote currency.
    pub quote: Option<String>,
    /// Most returned, 1 to 1000 (default 100).
    pub limit: Option<usize>,
}

/// The rate settings.
#[derive(Serialize, ToSchema)]
pub struct RatesReply {
    /// By pair, newest first.
    pub rates: Vec<RateReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// The FX rate history, by pair, newest first (admins, finance,
/// compliance, read-only).
#[utoipa::path(get, path = "/operator/v1/fx", tag = "cashier",
    params(RatesQuery), security(("bearer" = [])),
    responses((status = 200, body = RatesReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter)")))]
pub async fn list(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let query = axum::extract::Query::<RatesQuery>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|_| ApiError::bad_request("invalid_request", "query parameters are base, quote and limit"))?;
    let limit = wire::page_limit(query.limit, 100, PAGE_MAX)? as u32;
    let (found, as_of_seq) = read(&state, move |c| {
        fx::history(c, query.base.as_deref(), query.quote.as_deref(), limit)
    })
    .await?;
    edge::change::ok(
        StatusCode::OK,
        &RatesReply {
            rates: found.iter().map(reply).collect(),
            as_of_seq,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_exact_decimals_of_at_most_eight_places() {
        assert_eq!(parse_rate("0.85"), Some(85_000_000));
        assert_eq!(parse_rate("60000.12345678"), Some(6_000_012_345_678));
        assert_eq!(parse_rate("1"), Some(100_000_000));
        for bad in ["0", "0.000000001", "-1", "1.", ".5", "1e3", "", "abc", "99999999999999"] {
            assert_eq!(parse_rate(bad), None, "{bad}");
        }
        assert_eq!(print_rate(85_000_000), "0.85");
        assert_eq!(print_rate(6_000_012_345_678), "60000.12345678");
        assert_eq!(print_rate(100_000_000), "1");
    }
}
