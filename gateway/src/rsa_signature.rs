//! The operator's RSA signing key on disk, over the pure RSA-SHA256
//! signatures of [`protocol::rsa_signature`] (re-exported here): the key is
//! generated (2048 bits) into the data directory on the first start,
//! written atomically with mode 0600, and reused afterwards.
//!
//! The file belongs to the server, not to the protocol: the tools sign with
//! keys they are given and never write one.

use std::path::Path;

pub use protocol::rsa_signature::*;

use edge::tokens;

/// Name of the operator's signing key in the data directory (PKCS#8 PEM).
pub const KEY_FILE: &str = "operator-rsa-key.pem";

/// The key in `path`, or a new one written there first (mode 0600,
/// atomically: a crash leaves no half-written key). Blocking: key
/// generation takes a fraction of a second in a release build.
pub fn load_or_generate(path: &Path) -> Result<RsaSigner, KeyError> {
    let io = |what, source| KeyError::Io {
        what,
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(pem) => RsaSigner::from_pem(&pem),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let pem = RsaSigner::generate_pem()?;
            tokens::write_private_file(path, pem.as_bytes()).map_err(|source| io("writing", source))?;
            tracing::info!(path = %path.display(), "generated the operator's RSA signing key");
            RsaSigner::from_pem(&pem)
        }
        Err(source) => Err(io("reading", source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_made_once_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let made = load_or_generate(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let again = load_or_generate(&path).unwrap();
        assert_eq!(made.public_key_pem(), again.public_key_pem());
        assert!(made.public_key_pem().starts_with("-----BEGIN PUBLIC KEY-----"));
    }
}
