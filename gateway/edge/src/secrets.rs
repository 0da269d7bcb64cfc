//! Sealing secrets that must be journaled but not readable there (an
//! operator's TOTP secret), without depending on the module that keeps the
//! keys: the PAM module registers its key vault as a [`SecretSealer`] in
//! `AppState::modules` at start-up, and the back office asks it.

use std::sync::Arc;

use engine::players::SealedProfile;

use crate::state::AppState;

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The operating system's random source failed (a nonce).
    #[error("the random source failed")]
    Random,
    /// The sealed bytes do not open: damaged, sealed for another context,
    /// or under another master key.
    #[error("the sealed secret does not open under this key and context")]
    Unsealable,
}

/// Seals short secrets under a key the journal never holds.
pub trait SecretSealer: Send + Sync {
    /// Seals `secret`, bound to `context` (what it belongs to: a sealed
    /// secret moved to another context does not open).
    fn seal_secret(&self, context: &[u8], secret: &[u8]) -> Result<SealedProfile, SealError>;
    /// Opens what [`SecretSealer::seal_secret`] sealed for `context`.
    fn open_secret(&self, context: &[u8], sealed: &SealedProfile) -> Result<Vec<u8>, SealError>;
}

/// The sealer a module registered, as `AppState::modules` holds it.
#[derive(Clone)]
pub struct Sealer(pub Arc<dyn SecretSealer>);

impl AppState {
    /// The secret sealer, if a module registered one.
    pub fn sealer(&self) -> Option<Arc<dyn SecretSealer>> {
        self.modules.get::<Sealer>().map(|sealer| Arc::clone(&sealer.0))
    }
}
