//! RSA-SHA256 signatures (RSASSA-PKCS1-v1_5, base64), as the aggregator
//! contracts that sign with key pairs use them (Hub88's `X-Hub88-Signature`).
//!
//! Two keys are involved. The aggregator's public key checks its requests:
//! an operator registers it as PEM, it is validated here (2048 to 8192
//! bits) and stored by the ledger as SubjectPublicKeyInfo DER
//! (`engine_core::RsaPublicKeyDer`); a check walks that DER to the key (no
//! big-number work) and verifies. The operator's own private key signs our
//! responses: generated (2048 bits) into the data directory on the first
//! start (by the server, which owns the file), and reused afterwards; its
//! public half is what the operator hands the aggregator. A load tester
//! signs its requests with an aggregator key the same way.
//!
//! The arithmetic is `ring`'s (already in the build for TLS): constant-time,
//! blinded, and 3.7× faster to sign and 3.1× faster to verify than the `rsa`
//! crate (`cargo bench -p croupier-benches --bench signatures`: 0.42 ms and
//! 16 µs). Signing still costs a fraction of a millisecond of CPU per
//! response, so handlers sign on the blocking pool. The `rsa` crate is kept
//! for what `ring` does not do: generating keys and reading PEM forms.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use engine_core::RsaPublicKeyDer;
use std::sync::Arc;

use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, UnparsedPublicKey};
use rsa::pkcs8::spki::SubjectPublicKeyInfoRef;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::rand_core::{TryCryptoRng, TryRng};
use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey, PublicKey};

/// Size of the keys [`RsaSigner::generate_pem`] makes.
pub const KEY_BITS: usize = 2048;
/// Smallest aggregator key accepted.
pub const MIN_BITS: usize = 2048;
/// Largest aggregator key accepted.
pub const MAX_BITS: usize = 8192;

/// Why a key could not be read, made or stored.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The text is not an RSA key in a form we read.
    #[error("not an RSA {what} in PEM form: {reason}")]
    Pem {
        /// "public key" or "private key".
        what: &'static str,
        /// What the parser said.
        reason: String,
    },
    /// The key's DER is longer than the ledger stores.
    #[error("the public key is {len} bytes of DER; at most {max} are accepted")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Generating or encoding a key failed.
    #[error("generating an RSA key: {0}")]
    Generate(String),
    /// Reading or writing the key file failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// "reading" or "writing".
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Why a signature did not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Not base64.
    #[error("the signature is not base64")]
    NotBase64,
    /// The stored key does not parse (cannot happen for keys validated on registration).
    #[error("the aggregator's key is unusable")]
    BadKey,
    /// Well-formed, but not a signature of these bytes by this key.
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Validates an aggregator's public key, given as PEM: a `PUBLIC KEY`
/// (SubjectPublicKeyInfo) or an `RSA PUBLIC KEY` (PKCS#1) block, of 2048 to
/// 8192 bits (shorter keys are no longer safe, and `ring` refuses them).
/// Returns the SubjectPublicKeyInfo DER the ledger stores.
pub fn public_key_der_from_pem(pem: &str) -> Result<RsaPublicKeyDer, KeyError> {
    let pem = pem.trim();
    let parsed = PublicKey::from_public_key_pem(pem).or_else(|spki_error| {
        use rsa::pkcs1::DecodeRsaPublicKey;
        PublicKey::from_pkcs1_pem(pem).map_err(|_| spki_error.to_string())
    });
    let key = parsed.map_err(|reason| KeyError::Pem {
        what: "public key",
        reason,
    })?;
    let bits = key.n().bit_width() as usize;
    if !(MIN_BITS..=MAX_BITS).contains(&bits) {
        return Err(KeyError::Pem {
            what: "public key",
            reason: format!("a {bits}-bit key; {MIN_BITS} to {MAX_BITS} bits are accepted"),
        });
    }
    let der = key.to_public_key_der().map_err(|error| KeyError::Pem {
        what: "public key",
        reason: error.to_string(),
    })?;
    let bytes = der.as_bytes();
    RsaPublicKeyDer::new(bytes).map_err(|_| KeyError::TooLong {
        len: bytes.len(),
        max: RsaPublicKeyDer::MAX_LEN,
    })
}

/// Checks `signature_base64` over `body` with the aggregator's key.
pub fn verify(key: &RsaPublicKeyDer, body: &[u8], signature_base64: &str) -> Result<(), SignatureError> {
    let signature = BASE64
        .decode(signature_base64.trim())
        .map_err(|_| SignatureError::NotBase64)?;
    // ring takes the PKCS#1 RSAPublicKey inside the SubjectPublicKeyInfo.
    let info = SubjectPublicKeyInfoRef::try_from(key.as_bytes()).map_err(|_| SignatureError::BadKey)?;
    let pkcs1 = info.subject_public_key.raw_bytes();
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pkcs1)
        .verify(body, &signature)
        .map_err(|_| SignatureError::Mismatch)
}

/// A private key that signs with RSA-SHA256: the operator's (responses),
/// or in tests an aggregator's (requests).
#[derive(Clone)]
pub struct RsaSigner {
    key: Arc<RsaKeyPair>,
    random: SystemRandom,
    public_pem: String,
}

impl std::fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaSigner(…)")
    }
}

impl RsaSigner {
    /// A new random key of [`KEY_BITS`], as PKCS#8 PEM.
    pub fn generate_pem() -> Result<String, KeyError> {
        let key = PrivateKey::new(&mut OsRandom, KEY_BITS).map_err(|error| KeyError::Generate(error.to_string()))?;
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|error| KeyError::Generate(error.to_string()))?;
        Ok(pem.as_str().to_owned())
    }

    /// A signer from a PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`) PEM.
    pub fn from_pem(pem: &str) -> Result<RsaSigner, KeyError> {
        let pem = pem.trim();
        let key = PrivateKey::from_pkcs8_pem(pem)
            .or_else(|pkcs8_error| {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                PrivateKey::from_pkcs1_pem(pem).map_err(|_| pkcs8_error.to_string())
            })
            .map_err(|reason| KeyError::Pem {
                what: "private key",
                reason,
            })?;
        let public_pem = key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|error| KeyError::Generate(error.to_string()))?;
        let pkcs8 = key
            .to_pkcs8_der()
            .map_err(|error| KeyError::Generate(error.to_string()))?;
        let key = RsaKeyPair::from_pkcs8(pkcs8.as_bytes()).map_err(|error| KeyError::Pem {
            what: "private key",
            reason: format!("unusable for signing (2048 to 8192 bits are): {error}"),
        })?;
        Ok(RsaSigner {
            key: Arc::new(key),
            random: SystemRandom::new(),
            public_pem,
        })
    }

    /// The public half as a `PUBLIC KEY` PEM: what the aggregator verifies with.
    pub fn public_key_pem(&self) -> &str {
        &self.public_pem
    }

    /// The base64 RSA-SHA256 signature of `bytes`. Fails only if the
    /// operating system's RNG (used for blinding) fails.
    pub fn sign(&self, bytes: &[u8]) -> Result<String, KeyError> {
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.random, bytes, &mut signature)
            .map_err(|error| KeyError::Generate(format!("signing: {error}")))?;
        Ok(BASE64.encode(signature))
    }
}

/// The operating system's RNG (through `getrandom`, as every other random
/// value of the gateway) for `rsa`'s key generation.
struct OsRandom;

/// The operating system's RNG failed.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
struct RngFailed(getrandom::Error);

impl TryRng for OsRandom {
    type Error = RngFailed;

    fn try_next_u32(&mut self) -> Result<u32, RngFailed> {
        getrandom::u32().map_err(RngFailed)
    }

    fn try_next_u64(&mut self) -> Result<u64, RngFailed> {
        getrandom::u64().map_err(RngFailed)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), RngFailed> {
        getrandom::fill(dst).map_err(RngFailed)
    }
}

impl TryCryptoRng for OsRandom {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_key_and_body_and_keys_round_trip_through_pem() {
        let signer = RsaSigner::from_pem(&RsaSigner::generate_pem().unwrap()).unwrap();
        let der = public_key_der_from_pem(signer.public_key_pem()).unwrap();
        let signature = signer.sign(b"{\"a\":1}").unwrap();
        assert_eq!(
            signer.sign(b"{\"a\":1}").unwrap(),
            signature,
            "PKCS#1 v1.5 is deterministic"
        );
        assert_eq!(verify(&der, b"{\"a\":1}", &signature), Ok(()));
        assert_eq!(verify(&der, b"{\"a\":2}", &signature), Err(SignatureError::Mismatch));
        assert_eq!(
            verify(&der, b"{\"a\":1}", "not base64!"),
            Err(SignatureError::NotBase64)
        );
        assert_eq!(verify(&der, b"{\"a\":1}", "AAAA"), Err(SignatureError::Mismatch));
        let other = RsaSigner::from_pem(&RsaSigner::generate_pem().unwrap()).unwrap();
        let other_der = public_key_der_from_pem(other.public_key_pem()).unwrap();
        assert_eq!(
            verify(&other_der, b"{\"a\":1}", &signature),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn bad_public_keys_are_refused() {
        for pem in [
            "",
            "hello",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
        ] {
            assert!(
                matches!(public_key_der_from_pem(pem), Err(KeyError::Pem { .. })),
                "{pem:?}"
            );
        }
    }

    #[test]
    fn keys_shorter_than_2048_bits_are_refused() {
        let short = PrivateKey::new(&mut OsRandom, 1024).unwrap();
        let pem = short.to_public_key().to_public_key_pem(LineEnding::LF).unwrap();
        let refused = public_key_der_from_pem(&pem).unwrap_err();
        assert!(refused.to_string().contains("a 1024-bit key"), "{refused}");
        let pkcs8 = short.to_pkcs8_pem(LineEnding::LF).unwrap();
        assert!(matches!(RsaSigner::from_pem(&pkcs8), Err(KeyError::Pem { .. })));
    }
}
