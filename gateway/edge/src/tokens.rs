//! Random tokens and secrets, their digests, and private files (the first
//! operator token, the operator's signing key).
//!
//! Tokens are 32 random bytes from the operating system, written as 64 hex
//! digits after a prefix that says what they are (`cop_` operator, `clt_`
//! game launch). The ledger only ever sees their SHA-256 digests.

use std::io::Write;
use std::path::{Path, PathBuf};

use engine::{Secret, TokenHash};
use sha2::{Digest, Sha256};

/// Prefix of operator bearer tokens.
pub const OPERATOR_PREFIX: &str = "cop_";
/// Prefix of game-launch tokens.
pub const LAUNCH_PREFIX: &str = "clt_";
/// Name of the first operator token's file in the data directory.
pub const FIRST_TOKEN_FILE: &str = "operator-token";

/// 32 random bytes.
pub fn random_bytes() -> Result<[u8; 32], getrandom::Error> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

/// A fresh token with `prefix`.
pub fn new_token(prefix: &str) -> Result<String, getrandom::Error> {
    Ok(format!("{prefix}{}", hex::encode(random_bytes()?)))
}

/// A fresh aggregator signing secret.
pub fn new_secret() -> Result<Secret, getrandom::Error> {
    random_bytes().map(Secret)
}

/// The digest the ledger knows a token by.
pub fn digest(token: &str) -> TokenHash {
    TokenHash(Sha256::digest(token.as_bytes()).into())
}

/// Writes the first operator token to `dir/operator-token`, readable only by
/// the owner, and flushes it to disk before the operator is created, so that
/// a crash in between leaves a file and no operator (the next start replaces
/// it) rather than an operator nobody can use.
pub fn write_first_token(dir: &Path, token: &str) -> std::io::Result<PathBuf> {
    let path = dir.join(FIRST_TOKEN_FILE);
    write_private_file(&path, format!("{token}\n").as_bytes())?;
    Ok(path)
}

/// Writes a file readable only by its owner (mode 0600) atomically: a temp
/// file beside it, written and synced, renamed into place, then the
/// directory synced. A crash leaves the old file or the new one, never a
/// torn one, and whoever reads the path finds a complete file.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    let temp = PathBuf::from(temp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temp)?;
    #[cfg(unix)]
    {
        // `mode` applies only when the file is created: tighten a stale one too.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, path)?;
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_hex_and_digests_are_sha256() {
        let a = new_token(OPERATOR_PREFIX).unwrap();
        let b = new_token(OPERATOR_PREFIX).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert!(a.starts_with("cop_"));
        // SHA-256("abc")
        assert_eq!(
            hex::encode(digest("abc").0),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_first_token_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = write_first_token(dir.path(), "cop_x").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "cop_x\n");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
