//! The key vault: the master key, the per-player data keys it wraps, the
//! sealing of profiles under them, and the blind indexes.
//!
//! Personal data never reaches the ledger in clear. A player's profile is
//! sealed with AES-256-GCM (`ring`) under the player's own 256-bit data
//! key; the ledger, the journal, snapshots and the read model hold only
//! that ciphertext. Data keys live in a key store outside the journal,
//! `<data dir>/keys/<key id>.key`, one file per key, wrapped (AES-256-GCM)
//! by a key derived from the master key: the journal is immutable, so
//! erasure works by destroying the data key (crypto-shredding). A file is
//! written and fsynced, with its directory, before the command that names
//! it is submitted, and removed (directory fsynced) after the erasure is
//! durable; [`Vault::sweep`] at start-up removes every key no live profile
//! names (a crash between an erasure and the removal, a registration that
//! never landed).
//!
//! The master key is 32 random bytes, hex, in a 0600 file: the data
//! directory's `pam-master-key`, made on the first start, or one the
//! operator names (say, a secret mounted from a key manager). Two keys are
//! derived from it (HMAC-SHA256 with fixed labels): one wraps data keys,
//! one keys the blind indexes. Losing it loses every profile.
//!
//! In a replication group every member holds the same master key (the
//! members compare its check value, [`Vault::key_check`], at start and on
//! every call) and the same data keys: the server gives the vault a
//! [`KeyShare`] (`gateway/src/cluster/keys.rs`) that stores a new data key
//! on a majority of the group before the command naming it is submitted,
//! fetches a key this member lacks when a profile must be opened, and
//! stores keys other members send only once they open under this master
//! key ([`Vault::store_wrapped`]). There, the start-up sweep is not run
//! (a key stored ahead of its registration's commit would look orphaned):
//! erasures destroy keys on every member as the state machine applies them.
//!
//! Operators' secrets that the journal must carry but not reveal (a TOTP
//! secret) are sealed with AES-256-GCM under a third derived key, with a
//! random nonce and the secret's owner as associated data
//! ([`edge::secrets::SecretSealer`]); they name [`SECRETS_KEY_ID`], which
//! is no data key, so no erasure or sweep touches them.
//!
//! Blind indexes are HMAC-SHA256 of normalized values under the index key,
//! truncated to 16 bytes: equal data gives equal indexes, so the ledger can
//! refuse duplicates atomically, while the journal learns nothing it could
//! test a guess against without the key.
//!
//! Nonces: a data key is wrapped once, with a random nonce. A profile's
//! nonce is synthetic (HMAC-SHA256 of the plaintext under a key derived
//! from the data key, as in SIV modes): the same profile sealed twice gives
//! the same bytes, so a retried request is the identical command and gets
//! its recorded outcome, and two different profiles never share a nonce.

use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use engine::players::SealedProfile;
use engine::{BlindIndex, ExtId, KeyId, SourceId};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// The master key's file name in the data directory (when none is configured).
pub const MASTER_KEY_FILE: &str = "pam-master-key";
/// The key store's directory in the data directory.
pub const KEY_DIR: &str = "keys";
/// The sealing scheme of [`DataKey::seal`]: AES-256-GCM over the JSON profile.
pub const SCHEME_AES_GCM_JSON: u8 = 1;
/// The sealing scheme of [`Vault::seal_secret`]: AES-256-GCM over the raw
/// secret, under the master key's secrets key.
pub const SCHEME_AES_GCM_SECRET: u8 = 2;
/// The key id a sealed secret names: the master key's secrets key, not a
/// data key in the key store.
pub const SECRETS_KEY_ID: KeyId = KeyId([0; 16]);

const KEY_FILE_MAGIC: &[u8; 6] = b"CRPDK1";
const KEY_FILE_LEN: usize = KEY_FILE_MAGIC.len() + 12 + 32 + 16;
const KEY_EXTENSION: &str = "key";

/// Why the vault could not do something.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The master key is missing, malformed, too widely readable, or does
    /// not open the key store.
    #[error("PAM master key {}: {what}", path.display())]
    MasterKey {
        /// Its file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A data key file is damaged, or does not open under the master key.
    #[error("data key {}: damaged or not wrapped by this master key", path.display())]
    DamagedKey {
        /// Its file.
        path: PathBuf,
    },
    /// The operating system's random source failed.
    #[error("the random source failed")]
    Random,
    /// A sealed profile did not open under its key (damaged, or another key's).
    #[error("the sealed profile does not open under its data key")]
    Unsealable,
}

impl VaultError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> VaultError + '_ {
        move |source| VaultError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What a replication group does with the key store
/// (`gateway/src/cluster/keys.rs`): every member holds the same data keys.
pub trait KeyShare: Send + Sync {
    /// Stores the wrapped key `id` (its file's bytes) on a majority of the
    /// group, this node counted, before a command naming it is submitted.
    fn replicate(&self, id: KeyId, wrapped: Vec<u8>) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
    /// Fetches the key `id`, missing here, from the other members and
    /// stores it, if a live profile in this node's ledger names it (an
    /// erased key is never brought back); true if it is stored now, false
    /// if no live profile names it, an error if one does but no member
    /// gave it.
    fn recover(&self, id: KeyId) -> Pin<Box<dyn Future<Output = Result<bool, String>> + Send + '_>>;
}

/// The master key's derived keys and the key store.
pub struct Vault {
    wrap: LessSafeKey,
    secrets: LessSafeKey,
    index: hmac::Key,
    /// HMAC-SHA256 of a fixed label under the master key: equal on two
    /// nodes exactly when their master keys are (it reveals nothing of it).
    check: [u8; 32],
    master_path: PathBuf,
    dir: PathBuf,
    random: SystemRandom,
    share: OnceLock<Arc<dyn KeyShare>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// One player's data key, unwrapped (in memory only while a request uses it).
pub struct DataKey {
    id: KeyId,
    key: [u8; 32],
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKey({:?})", self.id)
    }
}

impl Vault {
    /// Opens the vault of `data_dir`: reads the master key from
    /// `master_key_file` (which must exist), or from
    /// `<data_dir>/pam-master-key` (made if it is missing and the key store
    /// is empty), and checks that it opens a stored key.
    pub fn open(data_dir: &Path, master_key_file: Option<&Path>) -> Result<Vault, VaultError> {
        let dir = data_dir.join(KEY_DIR);
        fs::create_dir_all(&dir).map_err(VaultError::io(&dir))?;
        // The key directory's own entry must be durable before a key in it
        // is relied on.
        fs::File::open(data_dir)
            .and_then(|parent| parent.sync_all())
            .map_err(VaultError::io(data_dir))?;
        let path = master_key_file.map_or_else(|| data_dir.join(MASTER_KEY_FILE), Path::to_path_buf);
        let master = read_or_make_master(&path, &dir, master_key_file.is_none())?;
        let derive = |label: &str| hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &master), label.as_bytes());
        let wrap = UnboundKey::new(&AES_256_GCM, derive("croupier-pam wrap key v1").as_ref())
            .map_err(|_| VaultError::Random)?;
        let secrets = UnboundKey::new(&AES_256_GCM, derive("croupier operator secrets key v1").as_ref())
            .map_err(|_| VaultError::Random)?;
        let mut check = [0; 32];
        check.copy_from_slice(derive("croupier key check").as_ref());
        let vault = Vault {
            wrap: LessSafeKey::new(wrap),
            secrets: LessSafeKey::new(secrets),
            index: hmac::Key::new(hmac::HMAC_SHA256, derive("croupier-pam blind index key v1").as_ref()),
            check,
            master_path: path.clone(),
            dir,
            random: SystemRandom::new(),
            share: OnceLock::new(),
        };
        if let Some(id) = vault.stored_keys()?.first() {
            vault.key(*id)?.ok_or_else(|| VaultError::MasterKey {
                path: path.clone(),
                what: "a stored data key vanished while checking".into(),
            })?;
        }
        Ok(vault)
    }

    /// The master key's check value: HMAC-SHA256 of "croupier key check"
    /// under it. The members of a group compare theirs.
    pub fn key_check(&self) -> [u8; 32] {
        self.check
    }

    /// The master key's file (for errors that name it).
    pub fn master_key_path(&self) -> &Path {
        &self.master_path
    }

    /// Makes `share` the group's key sharing (once; later calls change nothing).
    pub fn set_share(&self, share: Arc<dyn KeyShare>) {
        let _ = self.share.set(share);
    }

    /// The group's key sharing, on a member of a replication group.
    pub fn share(&self) -> Option<&Arc<dyn KeyShare>> {
        self.share.get()
    }

    /// Whether the key `id` is stored.
    pub fn has(&self, id: KeyId) -> bool {
        self.path(id).exists()
    }

    /// The stored key `id` as its file's bytes (still wrapped), if there is one.
    pub fn wrapped(&self, id: KeyId) -> Result<Option<Vec<u8>>, VaultError> {
        let path = self.path(id);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(VaultError::io(&path)(error)),
        }
    }

    /// Stores the wrapped key `id` another member sent (written and fsynced
    /// with its directory before this returns), once it is known to open
    /// under this master key as that id: a file from another master key,
    /// damaged, or renamed is refused and nothing is written.
    pub fn store_wrapped(&self, id: KeyId, wrapped: &[u8]) -> Result<(), VaultError> {
        let path = self.path(id);
        self.unwrap_file(id, wrapped)
            .ok_or_else(|| VaultError::DamagedKey { path: path.clone() })?;
        if self.wrapped(id)?.as_deref() == Some(wrapped) {
            return Ok(());
        }
        edge::tokens::write_private_file(&path, wrapped).map_err(VaultError::io(&path))
    }

    /// Opens a wrapped key file's bytes as the key `id`.
    fn unwrap_file(&self, id: KeyId, bytes: &[u8]) -> Option<[u8; 32]> {
        if bytes.len() != KEY_FILE_LEN || !bytes.starts_with(KEY_FILE_MAGIC) {
            return None;
        }
        let (nonce, sealed) = bytes[KEY_FILE_MAGIC.len()..].split_at(12);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .wrap
            .open_in_place(nonce, Aad::from(wrap_aad(id)), &mut sealed)
            .ok()?;
        <[u8; 32]>::try_from(&plain[..]).ok()
    }

    /// Seals a secret for `context` (its owner): AES-256-GCM under the
    /// secrets key, a random nonce, `context` as associated data.
    pub fn seal_secret(&self, context: &[u8], secret: &[u8]) -> Result<SealedProfile, VaultError> {
        let mut nonce = [0; 12];
        self.random.fill(&mut nonce).map_err(|_| VaultError::Random)?;
        let mut sealed = secret.to_vec();
        self.secrets
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context), &mut sealed)
            .map_err(|_| VaultError::Unsealable)?;
        SealedProfile::new(SECRETS_KEY_ID, SCHEME_AES_GCM_SECRET, nonce, &sealed).map_err(|_| VaultError::Unsealable)
    }

    /// Opens a secret [`Vault::seal_secret`] sealed for `context`.
    pub fn open_secret(&self, context: &[u8], sealed: &SealedProfile) -> Result<Vec<u8>, VaultError> {
        if sealed.key_id != SECRETS_KEY_ID || sealed.scheme != SCHEME_AES_GCM_SECRET {
            return Err(VaultError::Unsealable);
        }
        let mut bytes = sealed.ciphertext().to_vec();
        let len = self
            .secrets
            .open_in_place(
                Nonce::assume_unique_for_key(sealed.nonce),
                Aad::from(context),
                &mut bytes,
            )
            .map_err(|_| VaultError::Unsealable)?
            .len();
        bytes.truncate(len);
        Ok(bytes)
    }

    /// The ids of every stored data key.
    pub fn stored_keys(&self) -> Result<Vec<KeyId>, VaultError> {
        let mut ids = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(VaultError::io(&self.dir))? {
            let entry = entry.map_err(VaultError::io(&self.dir))?;
            let path = entry.path();
            if path.extension().is_some_and(|e| e == KEY_EXTENSION)
                && let Some(id) = path.file_stem().and_then(|s| s.to_str()).and_then(parse_key_id)
            {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Destroys every stored key not in `live` (the ledger's
    /// `profile_keys`); returns how many. Run at start-up, before requests.
    pub fn sweep(&self, live: &[KeyId]) -> Result<usize, VaultError> {
        let mut destroyed = 0;
        for id in self.stored_keys()? {
            if !live.contains(&id) && self.destroy(id)? {
                destroyed += 1;
            }
        }
        Ok(destroyed)
    }

    /// A fresh random key id.
    pub fn random_key_id(&self) -> Result<KeyId, VaultError> {
        let mut id = [0; 16];
        self.random.fill(&mut id).map_err(|_| VaultError::Random)?;
        Ok(KeyId(id))
    }

    /// The key id of a request that carries the caller's idempotency id:
    /// the same for a retry, so the retry seals under the same key.
    pub fn request_key_id(&self, source: SourceId, request: &ExtId) -> KeyId {
        let mut input = source.0.to_le_bytes().to_vec();
        input.extend_from_slice(request.as_str().as_bytes());
        KeyId(self.mac16("data key id", &input))
    }

    /// The blind index of a normalized value in `domain` ("email", "identity").
    pub fn blind_index(&self, domain: &str, normalized: &str) -> BlindIndex {
        BlindIndex(self.mac16(domain, normalized.as_bytes()))
    }

    fn mac16(&self, domain: &str, value: &[u8]) -> [u8; 16] {
        let mut context = hmac::Context::with_key(&self.index);
        context.update(domain.as_bytes());
        context.update(&[0]);
        context.update(value);
        let mut out = [0; 16];
        out.copy_from_slice(&context.sign().as_ref()[..16]);
        out
    }

    fn path(&self, id: KeyId) -> PathBuf {
        self.dir.join(format!("{}.{KEY_EXTENSION}", hex::encode(id.0)))
    }

    /// The stored key `id`, if there is one.
    pub fn key(&self, id: KeyId) -> Result<Option<DataKey>, VaultError> {
        let path = self.path(id);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(VaultError::io(&path)(error)),
        };
        let key = self
            .unwrap_file(id, &bytes)
            .ok_or_else(|| VaultError::DamagedKey { path: path.clone() })?;
        Ok(Some(DataKey { id, key }))
    }

    /// The stored key `id`, or a new random one stored under that id
    /// (written and fsynced with its directory before this returns).
    pub fn key_or_create(&self, id: KeyId) -> Result<DataKey, VaultError> {
        if let Some(key) = self.key(id)? {
            return Ok(key);
        }
        let mut key = [0; 32];
        let mut nonce = [0; 12];
        self.random.fill(&mut key).map_err(|_| VaultError::Random)?;
        self.random.fill(&mut nonce).map_err(|_| VaultError::Random)?;
        let mut sealed = key.to_vec();
        self.wrap
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(wrap_aad(id)),
                &mut sealed,
            )
            .map_err(|_| VaultError::Random)?;
        let mut file = KEY_FILE_MAGIC.to_vec();
        file.extend_from_slice(&nonce);
        file.extend_from_slice(&sealed);
        let path = self.path(id);
        edge::tokens::write_private_file(&path, &file).map_err(VaultError::io(&path))?;
        Ok(DataKey { id, key })
    }

    /// Destroys the key `id` (the file removed, the directory fsynced);
    /// false if there was none.
    pub fn destroy(&self, id: KeyId) -> Result<bool, VaultError> {
        let path = self.path(id);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(error) => return Err(VaultError::io(&path)(error)),
        }
        fs::File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(VaultError::io(&self.dir))?;
        Ok(true)
    }
}

impl DataKey {
    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    fn aead(&self) -> LessSafeKey {
        // A 32-byte key is always a valid AES-256 key.
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.key).expect("32 bytes"))
    }

    /// Seals `plaintext` (the serialized profile).
    pub fn seal(&self, plaintext: &[u8]) -> Result<SealedProfile, VaultError> {
        let nonce_key = hmac::Key::new(
            hmac::HMAC_SHA256,
            hmac::sign(
                &hmac::Key::new(hmac::HMAC_SHA256, &self.key),
                b"croupier-pam nonce key v1",
            )
            .as_ref(),
        );
        let mut nonce = [0; 12];
        nonce.copy_from_slice(&hmac::sign(&nonce_key, plaintext).as_ref()[..12]);
        let mut sealed = plaintext.to_vec();
        self.aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(profile_aad(self.id)),
                &mut sealed,
            )
            .map_err(|_| VaultError::Unsealable)?;
        SealedProfile::new(self.id, SCHEME_AES_GCM_JSON, nonce, &sealed).map_err(|_| VaultError::Unsealable)
    }

    /// Opens a profile sealed under this key.
    pub fn open(&self, sealed: &SealedProfile) -> Result<Vec<u8>, VaultError> {
        if sealed.key_id != self.id || sealed.scheme != SCHEME_AES_GCM_JSON {
            return Err(VaultError::Unsealable);
        }
        let mut bytes = sealed.ciphertext().to_vec();
        let len = self
            .aead()
            .open_in_place(
                Nonce::assume_unique_for_key(sealed.nonce),
                Aad::from(profile_aad(self.id)),
                &mut bytes,
            )
            .map_err(|_| VaultError::Unsealable)?
            .len();
        bytes.truncate(len);
        Ok(bytes)
    }
}

/// What a wrapped data key is bound to: its id (a key file renamed to
/// another id does not open).
fn wrap_aad(id: KeyId) -> Vec<u8> {
    let mut aad = b"croupier-pam data key v1".to_vec();
    aad.extend_from_slice(&id.0);
    aad
}

/// What a sealed profile is bound to: its data key's id. The player id is
/// not known before the ledger assigns it at registration; a key seals one
/// player's profile only (the ledger refuses a second), so a profile moved
/// to another player does not open under that player's key.
fn profile_aad(id: KeyId) -> Vec<u8> {
    let mut aad = b"croupier-pam profile v1".to_vec();
    aad.extend_from_slice(&id.0);
    aad
}

fn parse_key_id(text: &str) -> Option<KeyId> {
    let bytes = hex::decode(text).ok()?;
    <[u8; 16]>::try_from(bytes.as_slice()).ok().map(KeyId)
}

/// Reads the master key, or makes one if the file is missing and no data
/// key exists (a new master key beside existing data keys would make every
/// profile unreadable: refused instead).
fn read_or_make_master(path: &Path, key_dir: &Path, may_make: bool) -> Result<[u8; 32], VaultError> {
    let refuse = |what: String| VaultError::MasterKey {
        path: path.to_path_buf(),
        what,
    };
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && !may_make => {
            return Err(refuse("missing (a configured master key is never made)".into()));
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let stored = fs::read_dir(key_dir).map_err(VaultError::io(key_dir))?.count();
            if stored > 0 {
                return Err(refuse(format!(
                    "missing, but the key store holds {stored} data keys it wrapped"
                )));
            }
            let mut key = [0; 32];
            SystemRandom::new().fill(&mut key).map_err(|_| VaultError::Random)?;
            edge::tokens::write_private_file(path, format!("{}\n", hex::encode(key)).as_bytes())
                .map_err(VaultError::io(path))?;
            tracing::info!(path = %path.display(), "made a PAM master key: back it up; without it no profile can be read");
            return Ok(key);
        }
        Err(error) => return Err(VaultError::io(path)(error)),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).map_err(VaultError::io(path))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(refuse(format!(
                "mode {:o}: must be readable by its owner only (0600)",
                mode & 0o777
            )));
        }
    }
    hex::decode(text.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
        .ok_or_else(|| refuse("must hold 64 hex digits (32 bytes)".into()))
}

impl edge::secrets::SecretSealer for Vault {
    fn seal_secret(&self, context: &[u8], secret: &[u8]) -> Result<SealedProfile, edge::secrets::SealError> {
        Vault::seal_secret(self, context, secret).map_err(|error| match error {
            VaultError::Random => edge::secrets::SealError::Random,
            _ => edge::secrets::SealError::Unsealable,
        })
    }

    fn open_secret(&self, context: &[u8], sealed: &SealedProfile) -> Result<Vec<u8>, edge::secrets::SealError> {
        Vault::open_secret(self, context, sealed).map_err(|_| edge::secrets::SealError::Unsealable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_seal_deterministically_and_open_only_under_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path(), None).unwrap();
        let (a, b) = (vault.random_key_id().unwrap(), vault.random_key_id().unwrap());
        let (key_a, key_b) = (vault.key_or_create(a).unwrap(), vault.key_or_create(b).unwrap());
        let sealed = key_a.seal(b"{\"name\":\"Ada\"}").unwrap();
        assert_eq!(key_a.seal(b"{\"name\":\"Ada\"}").unwrap(), sealed);
        assert_ne!(key_a.seal(b"{\"name\":\"Bob\"}").unwrap().nonce, sealed.nonce);
        assert_eq!(key_a.open(&sealed).unwrap(), b"{\"name\":\"Ada\"}");
        assert!(key_b.open(&sealed).is_err());
        // Reopened with the same master key, the stored key opens it.
        let again = Vault::open(dir.path(), None).unwrap();
        assert_eq!(
            again.key(a).unwrap().unwrap().open(&sealed).unwrap(),
            b"{\"name\":\"Ada\"}"
        );
        assert_eq!(again.sweep(&[a]).unwrap(), 1);
        assert!(again.key(b).unwrap().is_none());
        assert!(again.destroy(a).unwrap());
        assert!(again.key(a).unwrap().is_none());
    }

    #[test]
    fn secrets_open_only_for_their_context_and_under_their_master_key() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path(), None).unwrap();
        let secret = [9_u8; 32];
        let sealed = vault.seal_secret(b"totp 2", &secret).unwrap();
        assert_eq!((sealed.key_id, sealed.scheme), (SECRETS_KEY_ID, SCHEME_AES_GCM_SECRET));
        assert!(!sealed.ciphertext().windows(8).any(|w| w == &secret[..8]));
        // A fresh nonce each time: the same secret seals to other bytes.
        assert_ne!(vault.seal_secret(b"totp 2", &secret).unwrap(), sealed);
        assert_eq!(vault.open_secret(b"totp 2", &sealed).unwrap(), secret);
        assert!(vault.open_secret(b"totp 3", &sealed).is_err(), "bound to its owner");
        // Another master key (another data directory) does not open it.
        let other = tempfile::tempdir().unwrap();
        assert!(
            Vault::open(other.path(), None)
                .unwrap()
                .open_secret(b"totp 2", &sealed)
                .is_err()
        );
        // Nor does a profile's data key, nor the secrets key a profile.
        let key = vault.key_or_create(vault.random_key_id().unwrap()).unwrap();
        assert!(key.open(&sealed).is_err());
        assert!(vault.open_secret(b"totp 2", &key.seal(b"{}").unwrap()).is_err());
    }

    #[test]
    fn a_missing_or_wrong_master_key_is_refused_while_keys_exist() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path(), None).unwrap();
        vault.key_or_create(vault.random_key_id().unwrap()).unwrap();
        let master = dir.path().join(MASTER_KEY_FILE);
        fs::remove_file(&master).unwrap();
        assert!(matches!(
            Vault::open(dir.path(), None),
            Err(VaultError::MasterKey { .. })
        ));
        edge::tokens::write_private_file(&master, hex::encode([7u8; 32]).as_bytes()).unwrap();
        assert!(matches!(
            Vault::open(dir.path(), None),
            Err(VaultError::DamagedKey { .. })
        ));
        edge::tokens::write_private_file(&master, b"not hex").unwrap();
        assert!(matches!(
            Vault::open(dir.path(), None),
            Err(VaultError::MasterKey { .. })
        ));
        let elsewhere = dir.path().join("elsewhere");
        assert!(matches!(
            Vault::open(dir.path(), Some(&elsewhere)),
            Err(VaultError::MasterKey { .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let good = hex::encode([7u8; 32]);
            edge::tokens::write_private_file(&master, good.as_bytes()).unwrap();
            fs::set_permissions(&master, fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                Vault::open(dir.path(), None),
                Err(VaultError::MasterKey { .. })
            ));
        }
    }

    #[test]
    fn wrapped_keys_move_only_between_vaults_of_one_master_key() {
        let (a, b, other) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let leader = Vault::open(a.path(), None).unwrap();
        // A second member given the same master key file.
        let shared = a.path().join(MASTER_KEY_FILE);
        let member = Vault::open(b.path(), Some(&shared)).unwrap();
        let stranger = Vault::open(other.path(), None).unwrap();
        assert_eq!(leader.key_check(), member.key_check());
        assert_ne!(leader.key_check(), stranger.key_check());
        assert_eq!(member.master_key_path(), shared);

        let id = leader.random_key_id().unwrap();
        let sealed = leader.key_or_create(id).unwrap().seal(b"{\"name\":\"Ada\"}").unwrap();
        let wrapped = leader.wrapped(id).unwrap().unwrap();
        assert!(!member.has(id));
        member.store_wrapped(id, &wrapped).unwrap();
        assert!(member.has(id));
        assert_eq!(
            member.key(id).unwrap().unwrap().open(&sealed).unwrap(),
            b"{\"name\":\"Ada\"}"
        );
        // Storing it again changes nothing.
        member.store_wrapped(id, &wrapped).unwrap();
        assert_eq!(member.wrapped(id).unwrap().unwrap(), wrapped);

        // Another master key, another id, or damaged bytes: refused, nothing written.
        assert!(matches!(
            stranger.store_wrapped(id, &wrapped),
            Err(VaultError::DamagedKey { .. })
        ));
        assert!(!stranger.has(id));
        let renamed = leader.random_key_id().unwrap();
        assert!(matches!(
            member.store_wrapped(renamed, &wrapped),
            Err(VaultError::DamagedKey { .. })
        ));
        assert!(!member.has(renamed));
        let mut damaged = wrapped.clone();
        damaged[20] ^= 1;
        let fresh = leader.random_key_id().unwrap();
        assert!(member.store_wrapped(fresh, &damaged).is_err());
        assert!(member.store_wrapped(fresh, &wrapped[..10]).is_err());
        assert!(!member.has(fresh));
        assert!(member.wrapped(fresh).unwrap().is_none());
    }

    #[test]
    fn blind_indexes_and_request_key_ids_are_keyed_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path(), None).unwrap();
        let other = tempfile::tempdir().unwrap();
        let other = Vault::open(other.path(), None).unwrap();
        assert_eq!(vault.blind_index("email", "a@b.c"), vault.blind_index("email", "a@b.c"));
        assert_ne!(
            vault.blind_index("email", "a@b.c"),
            vault.blind_index("identity", "a@b.c")
        );
        assert_ne!(vault.blind_index("email", "a@b.c"), other.blind_index("email", "a@b.c"));
        let id = ExtId::new("reg-1").unwrap();
        assert_eq!(
            vault.request_key_id(SourceId(2), &id),
            vault.request_key_id(SourceId(2), &id)
        );
        assert_ne!(
            vault.request_key_id(SourceId(2), &id),
            vault.request_key_id(SourceId(3), &id)
        );
    }
}
