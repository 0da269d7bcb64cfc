//! Typed identifiers.
//!
//! Players get dense numeric ids from the ledger; everything named by the
//! outside world (transaction ids, round ids, game codes) is a bounded,
//! validated string, so the engine never sees an empty or unbounded key.

use std::fmt;

/// A player, numbered by the ledger from 1 in registration order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlayerId(pub u64);

impl fmt::Display for PlayerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Who originated a request: an aggregator, a payment provider, the
/// operator back office … Idempotency keys are scoped by source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceId(pub u32);

/// An operator (a member of staff) acting through the operator API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OperatorId(pub u32);

impl OperatorId {
    /// The server itself, for the one action no operator can do: creating
    /// the first operator of an empty ledger. Operators are numbered from 1.
    pub const SYSTEM: OperatorId = OperatorId(0);
}

impl fmt::Display for OperatorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The SHA-256 digest of a bearer token (an operator token or a game-launch
/// token). The ledger stores and compares only digests: whoever reads the
/// journal learns no token that would let them act.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A prefix is enough to tell digests apart in logs.
        write!(
            f,
            "TokenHash({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// A shared secret an aggregator signs its requests with (HMAC-SHA256).
/// Unlike tokens it must be kept in the clear to verify signatures, so it is
/// in the journal: protect the data directory accordingly. `Debug` never
/// prints it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Secret(pub [u8; 32]);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// An aggregator's RSA public key as DER `SubjectPublicKeyInfo` bytes (what
/// a PEM "PUBLIC KEY" block holds), 1..=[`RsaPublicKeyDer::MAX_LEN`] bytes.
/// The engine only stores and bounds it: the gateway parses and validates
/// the key before submitting it, and verifies signatures with it, so no
/// cryptography runs inside the ledger. Public, so `Debug` shows only its
/// length.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RsaPublicKeyDer(Box<[u8]>);

impl RsaPublicKeyDer {
    /// Longest accepted key, in bytes: a 8192-bit key's `SubjectPublicKeyInfo`
    /// is about 1,060 bytes.
    pub const MAX_LEN: usize = 2048;

    /// Bounds `der`: 1..=`MAX_LEN` bytes (its content is the gateway's to check).
    pub fn new(der: &[u8]) -> Result<RsaPublicKeyDer, IdError> {
        match der.len() {
            0 => Err(IdError::Empty),
            len if len > Self::MAX_LEN => Err(IdError::TooLong { max: Self::MAX_LEN }),
            _ => Ok(RsaPublicKeyDer(der.into())),
        }
    }

    /// The DER bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for RsaPublicKeyDer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaPublicKeyDer({} bytes)", self.0.len())
    }
}

/// A key an aggregator shares with us in the clear and mixes into a hash
/// of each request (Pragmatic Play's secret key: MD5 over the sorted
/// parameters followed by the key). The partner usually chooses it, so it
/// is text: 1..=[`HashKey::MAX_LEN`] bytes of printable ASCII. Like
/// [`Secret`] it is in the journal (verifying needs it); `Debug` never
/// prints it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HashKey(Box<str>);

impl HashKey {
    /// Longest accepted key, in bytes.
    pub const MAX_LEN: usize = 128;

    /// Validates `text`: 1..=`MAX_LEN` bytes of printable ASCII.
    pub fn new(text: &str) -> Result<HashKey, IdError> {
        check_id_text(text, Self::MAX_LEN).map(|()| HashKey(text.into()))
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashKey(…)")
    }
}

/// A blind index: a keyed hash (the gateway's HMAC-SHA256 under a key
/// derived from its master key, truncated to 16 bytes) of normalized
/// personal data. Equal data gives equal indexes, so the ledger can refuse
/// a duplicate player atomically without ever holding the data itself.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlindIndex(pub [u8; 16]);

impl fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlindIndex({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

/// The id of a player's data key in the gateway's key store (random, made
/// with the key). The ledger keeps it beside the sealed profile so that the
/// key store can tell live keys from ones to destroy.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub [u8; 16]);

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KeyId({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// Why a text could not become an identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty text.
    #[error("identifier must not be empty")]
    Empty,
    /// Longer than the identifier's limit.
    #[error("identifier longer than {max} bytes")]
    TooLong {
        /// The limit in bytes.
        max: usize,
    },
    /// Contains control characters or whitespace.
    #[error("identifier must be printable ASCII without spaces")]
    NotPrintable,
}

macro_rules! bounded_text_id {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Box<str>);

        impl $name {
            /// Longest accepted text, in bytes.
            pub const MAX_LEN: usize = $max;

            /// Validates `text`: 1..=`MAX_LEN` bytes of printable ASCII.
            pub fn new(text: &str) -> Result<Self, IdError> {
                check_id_text(text, Self::MAX_LEN).map(|()| Self(text.into()))
            }

            /// The identifier's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

bounded_text_id!(
    /// An externally chosen id (transaction, request, deposit …), unique per source.
    ExtId,
    64
);
bounded_text_id!(
    /// An aggregator's round id.
    RoundId,
    64
);
bounded_text_id!(
    /// A game's code as the aggregator names it.
    GameCode,
    64
);

bounded_text_id!(
    /// A game provider's (studio's) code in the catalogue ("pragmatic-play").
    ProviderCode,
    64
);

bounded_text_id!(
    /// A jackpot pool's code ("mega-eur").
    JackpotCode,
    64
);

bounded_text_id!(
    /// A bonus template's code, or the code a player claims one with
    /// ("welcome-100").
    BonusCode,
    64
);

bounded_text_id!(
    /// A display name of an operator or an aggregator.
    Name,
    64
);
bounded_text_id!(
    /// An operator's back-office password as a PHC string (argon2id: the
    /// algorithm, its parameters, the salt and the hash). The gateway hashes;
    /// the ledger only stores it, bounded, and never sees the password.
    PasswordHash,
    128
);

fn check_id_text(text: &str, max: usize) -> Result<(), IdError> {
    if text.is_empty() {
        return Err(IdError::Empty);
    }
    if text.len() > max {
        return Err(IdError::TooLong { max });
    }
    if !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(IdError::NotPrintable);
    }
    Ok(())
}

/// Checks free text an operator types (a reason, a title): not blank, at
/// most `max` bytes, no control characters.
fn free_text(text: &str, max: usize) -> Result<(), IdError> {
    if text.trim().is_empty() {
        return Err(IdError::Empty);
    }
    if text.len() > max {
        return Err(IdError::TooLong { max });
    }
    if text.chars().any(char::is_control) {
        return Err(IdError::NotPrintable);
    }
    Ok(())
}

/// A free-text reason an operator gives for an action (1..=256 bytes, UTF-8).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reason(Box<str>);

impl Reason {
    /// Longest accepted reason, in bytes.
    pub const MAX_LEN: usize = 256;

    /// Validates `text`: not blank, at most `MAX_LEN` bytes, no control characters.
    pub fn new(text: &str) -> Result<Reason, IdError> {
        free_text(text, Self::MAX_LEN)?;
        Ok(Reason(text.into()))
    }

    /// The reason's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display title of a game or a provider (1..=128 bytes, UTF-8, spaces
/// allowed, no control characters): "Gates of Olympus".
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Title(Box<str>);

impl Title {
    /// Longest accepted title, in bytes.
    pub const MAX_LEN: usize = 128;

    /// Validates `text`: not blank, at most `MAX_LEN` bytes, no control characters.
    pub fn new(text: &str) -> Result<Title, IdError> {
        free_text(text, Self::MAX_LEN)?;
        Ok(Title(text.into()))
    }

    /// The title's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Title {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A licensing jurisdiction: an upper-case two-letter code ("MT", "SE", "GB").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Jurisdiction([u8; 2]);

impl Jurisdiction {
    /// Validates a two-letter upper-case code.
    pub fn new(code: &str) -> Result<Jurisdiction, IdError> {
        match code.as_bytes() {
            [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Ok(Jurisdiction([*a, *b])),
            [] => Err(IdError::Empty),
            _ => Err(IdError::NotPrintable),
        }
    }

    /// The two-letter code.
    pub fn as_str(&self) -> &str {
        // Constructed only from ASCII upper-case letters.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for Jurisdiction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_ids_are_bounded_and_printable() {
        assert!(ExtId::new("tx-0001").is_ok());
        assert_eq!(ExtId::new(""), Err(IdError::Empty));
        assert_eq!(ExtId::new(&"x".repeat(65)), Err(IdError::TooLong { max: 64 }));
        assert!(ExtId::new(&"x".repeat(64)).is_ok());
        assert_eq!(ExtId::new("a b"), Err(IdError::NotPrintable));
        assert_eq!(GameCode::new("slot\n"), Err(IdError::NotPrintable));
        assert_eq!(RoundId::new("é"), Err(IdError::NotPrintable));
    }

    #[test]
    fn reasons_and_jurisdictions_validate() {
        assert!(Reason::new("goodwill after outage").is_ok());
        assert_eq!(Reason::new("   "), Err(IdError::Empty));
        assert_eq!(Reason::new("a\u{7}"), Err(IdError::NotPrintable));
        assert_eq!(Jurisdiction::new("MT").map(|j| j.to_string()), Ok("MT".to_string()));
        assert!(Jurisdiction::new("mt").is_err());
        assert!(Jurisdiction::new("MLT").is_err());
    }

    #[test]
    fn rsa_public_keys_are_bounded_and_debug_shows_only_their_length() {
        assert_eq!(RsaPublicKeyDer::new(&[]), Err(IdError::Empty));
        let longest = vec![1; RsaPublicKeyDer::MAX_LEN];
        assert_eq!(RsaPublicKeyDer::new(&longest).map(|k| k.as_bytes().len()), Ok(2048));
        assert_eq!(
            RsaPublicKeyDer::new(&[1; RsaPublicKeyDer::MAX_LEN + 1]),
            Err(IdError::TooLong { max: 2048 })
        );
        let key = RsaPublicKeyDer::new(&[0x30, 0x82]).unwrap();
        assert_eq!(format!("{:?}", HashKey::new("testKey").unwrap()), "HashKey(…)");
        assert_eq!(HashKey::new("a key"), Err(IdError::NotPrintable));
        assert_eq!(HashKey::new(&"k".repeat(129)), Err(IdError::TooLong { max: 128 }));
        assert_eq!(format!("{key:?}"), "RsaPublicKeyDer(2 bytes)");
    }
}
