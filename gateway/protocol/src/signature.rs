//! Aggregator request signatures: HMAC-SHA256 with the aggregator's secret
//! over `"{timestamp}.{raw body}"`, sent as hex in `X-Croupier-Signature`,
//! with the aggregator's id in `X-Croupier-Aggregator` and the timestamp (ms
//! since the epoch) in `X-Croupier-Timestamp`.
//!
//! The timestamp is inside the signed bytes so that it cannot be changed to
//! bring an old request back into the window. Comparison is constant-time
//! (`hmac`'s `verify_slice`, built on `subtle`).

/// The aggregator's shared secret (the engine's type: it is journaled with
/// the aggregator), re-exported for clients that sign without the engine.
pub use engine_core::Secret;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header naming the aggregator (its numeric id).
pub const AGGREGATOR_HEADER: &str = "x-croupier-aggregator";
/// Header with the signing time, ms since the epoch.
pub const TIMESTAMP_HEADER: &str = "x-croupier-timestamp";
/// Header with the hex HMAC-SHA256.
pub const SIGNATURE_HEADER: &str = "x-croupier-signature";

/// Why a signature was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HmacError {
    /// The timestamp is outside the window around the verifier's clock.
    #[error("the timestamp is more than {window_ms} ms away from the verifier's clock")]
    Stale {
        /// The window allowed.
        window_ms: u64,
    },
    /// Not the MAC of this body at this time with this secret.
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks the timestamp window, then `mac` over `body` at `timestamp_ms`.
pub fn verify(
    secret: &Secret,
    timestamp_ms: u64,
    body: &[u8],
    mac_bytes: &[u8],
    now_ms: u64,
    window_ms: u64,
) -> Result<(), HmacError> {
    if timestamp_ms.abs_diff(now_ms) > window_ms {
        return Err(HmacError::Stale { window_ms });
    }
    mac(secret, timestamp_ms, body)
        .verify_slice(mac_bytes)
        .map_err(|_| HmacError::Mismatch)
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
        let mac = hex::decode(sign(&secret, 1_000, b"{}")).unwrap();
        assert_eq!(verify(&secret, 1_000, b"{}", &mac, 1_000, 10), Ok(()));
        assert_eq!(
            verify(&secret, 1_000, b"{} ", &mac, 1_000, 10),
            Err(HmacError::Mismatch)
        );
        assert_eq!(
            verify(&Secret([2; 32]), 1_000, b"{}", &mac, 1_000, 10),
            Err(HmacError::Mismatch)
        );
        assert_eq!(
            verify(&secret, 1_000, b"{}", &mac, 1_011, 10),
            Err(HmacError::Stale { window_ms: 10 })
        );
        assert_eq!(verify(&secret, 1_005, b"{}", &mac, 1_000, 10), Err(HmacError::Mismatch));
    }
}
