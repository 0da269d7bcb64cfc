//! Pragmatic Play's request hash, shared by every API of theirs we speak:
//! the seamless wallet they call (`croupier-wallet`) and the Free Rounds
//! Bonus API we call (`croupier-crm`). The MD5, in lower-case hex, of the
//! parameters but `hash`, sorted by name and joined as `key=value&…`,
//! followed by the secret key.

use std::fmt::Write as _;

use engine_core::HashKey;
use md5::{Digest, Md5};

/// Pragmatic Play's hash of `params` (a `hash` parameter left out), lower
/// case hex.
pub fn hash<'p>(params: impl Iterator<Item = (&'p str, &'p str)>, key: &HashKey) -> String {
    let mut sorted: Vec<_> = params.filter(|(name, _)| *name != "hash").collect();
    sorted.sort_unstable();
    let mut text = String::new();
    for (index, (name, value)) in sorted.iter().enumerate() {
        if index > 0 {
            text.push('&');
        }
        let _ = write!(text, "{name}={value}");
    }
    text.push_str(key.as_str());
    hex::encode(Md5::digest(text.as_bytes()))
}

/// Whether `given` is the hash of `params` with `key` (in either case),
/// compared without an early exit, so timing tells nothing of the hash.
pub fn hash_matches<'p>(params: impl Iterator<Item = (&'p str, &'p str)>, given: &str, key: &HashKey) -> bool {
    let expected = hash(params, key);
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0, |diff, (a, b)| diff | (a.to_ascii_lowercase() ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_md5_of_the_sorted_parameters_then_the_key() {
        let key = HashKey::new("testKey").unwrap();
        let params = [("userId", "p1"), ("hash", "ignored"), ("amount", "1.00")];
        let expected = hex::encode(Md5::digest(b"amount=1.00&userId=p1testKey"));
        assert_eq!(hash(params.into_iter(), &key), expected);
        assert!(hash_matches(params.into_iter(), &expected.to_uppercase(), &key));
        assert!(!hash_matches(params.into_iter(), "00", &key));
    }
}
