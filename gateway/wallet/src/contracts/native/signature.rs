//! Aggregator request signatures as the server checks them: the three
//! headers read from a request, and the HMAC-SHA256 of
//! [`protocol::signature`] (`"{timestamp}.{raw body}"`, re-exported here)
//! verified with its refusals in the API's error shape.

use axum::http::HeaderMap;
use engine::{Secret, SourceId};
pub use protocol::signature::{AGGREGATOR_HEADER, HmacError, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};

use edge::ApiError;

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

/// Checks the timestamp window and the MAC ([`protocol::signature::verify`]).
pub fn verify(signed: &Signed, secret: &Secret, body: &[u8], now_ms: u64, window_ms: u64) -> Result<(), ApiError> {
    protocol::signature::verify(secret, signed.timestamp_ms, body, &signed.mac, now_ms, window_ms).map_err(|error| {
        match error {
            HmacError::Stale { window_ms } => ApiError::unauthorized(
                "stale_timestamp",
                format!("x-croupier-timestamp is more than {window_ms} ms away from the server's clock"),
            ),
            HmacError::Mismatch => ApiError::unauthorized("bad_signature", "the signature does not match the body"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_get_the_api_codes() {
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
