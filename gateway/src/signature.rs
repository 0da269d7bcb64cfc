//! Aggregator request signatures: HMAC-SHA256 with the aggregator's secret
//! over `"{timestamp}.{raw body}"`, sent as hex in `X-Croupier-Signature`,
//! with the aggregator's id in `X-Croupier-Aggregator` and the timestamp (ms
//! since the epoch) in `X-Croupier-Timestamp`.
//!
//! The timestamp is inside the signed bytes so that it cannot be changed to
//! bring an old request back into the window. Comparison is constant-time
//! (`hmac`'s `verify_slice`, built on `subtle`).

use axum::http::HeaderMap;
use engine::{Secret, SourceId};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::ApiError;

/// Header naming the aggregator (its numeric id).
pub const AGGREGATOR_HEADER: &str = "x-croupier-aggregator";
/// Header with the signing time, ms since the epoch.
pub const TIMESTAMP_HEADER: &str = "x-croupier-timestamp";
/// Header with the hex HMAC-SHA256.
pub const SIGNATURE_HEADER: &str = "x-croupier-signature";

/// The signature headers of a request, parsed.
#[derive(Clone, Debug)]
pub struct Signed {
    /// The aggregator claimed.
    pub aggregator: SourceId,
    /// When it was signed.
    pub timestamp_ms: u64,
    /// The HMAC bytes.
    pub mac: Vec<u8>,
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, ApiError> {
    let value = headers
        .get(name)
        .ok_or_else(|| ApiError::unauthorized("missing_signature", format!("header {name} is required")))?;
    value
        .to_str()
        .map_err(|_| ApiError::unauthorized("bad_signature", format!("header {name} is not ASCII")))
}

/// Reads the three signature headers.
pub fn parse(headers: &HeaderMap) -> Result<Signed, ApiError> {
    let aggregator = header(headers, AGGREGATOR_HEADER)?
        .parse::<u32>()
        .map_err(|_| ApiError::unauthorized("unknown_aggregator", "x-croupier-aggregator must be an aggregator id"))?;
    let timestamp_ms = header(headers, TIMESTAMP_HEADER)?
        .parse::<u64>()
        .map_err(|_| ApiError::unauthorized("bad_timestamp", "x-croupier-timestamp must be ms since the epoch"))?;
    let mac = hex::decode(header(headers, SIGNATURE_HEADER)?)
        .map_err(|_| ApiError::unauthorized("bad_signature", "x-croupier-signature must be hex"))?;
    Ok(Signed {
        aggregator: SourceId(aggregator),
        timestamp_ms,
        mac,
    })
}

/// Checks the timestamp window and the MAC.
pub fn verify(signed: &Signed, secret: &Secret, body: &[u8], now_ms: u64, window_ms: u64) -> Result<(), ApiError> {
    if signed.timestamp_ms.abs_diff(now_ms) > window_ms {
        return Err(ApiError::unauthorized(
            "stale_timestamp",
            format!("x-croupier-timestamp is more than {window_ms} ms away from the server's clock"),
        ));
    }
    mac(secret, signed.timestamp_ms, body)
        .verify_slice(&signed.mac)
        .map_err(|_| ApiError::unauthorized("bad_signature", "the signature does not match the body"))
}

fn mac(secret: &Secret, timestamp_ms: u64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&secret.0).expect("HMAC takes any key length");
    mac.update(timestamp_ms.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The hex signature of `body` at `timestamp_ms`: what an aggregator sends.
pub fn sign(secret: &Secret, timestamp_ms: u64, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp_ms, body).finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_secret_body_and_time() {
        let secret = Secret([1; 32]);
        let signature = sign(&secret, 1_000, b"{}");
        let signed = Signed {
            aggregator: SourceId(2),
            timestamp_ms: 1_000,
            mac: hex::decode(&signature).unwrap(),
        };
        assert_eq!(verify(&signed, &secret, b"{}", 1_000, 10), Ok(()));
        assert_eq!(
            verify(&signed, &secret, b"{} ", 1_000, 10).unwrap_err().code,
            "bad_signature"
        );
        assert_eq!(
            verify(&signed, &Secret([2; 32]), b"{}", 1_000, 10).unwrap_err().code,
            "bad_signature"
        );
        assert_eq!(
            verify(&signed, &secret, b"{}", 1_011, 10).unwrap_err().code,
            "stale_timestamp"
        );
        let moved = Signed {
            timestamp_ms: 1_005,
            ..signed
        };
        assert_eq!(
            verify(&moved, &secret, b"{}", 1_000, 10).unwrap_err().code,
            "bad_signature"
        );
    }
}
