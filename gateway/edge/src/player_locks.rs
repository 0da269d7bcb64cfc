//! Per-player locks for checks made against the read model before a
//! command is submitted (a redemption's points, a withdrawal's daily
//! limit): holding the player's lock from the read to the acknowledgement
//! keeps two concurrent requests from both passing the same check. The
//! locks live in this process; in a replication group only the leader's
//! process submits.

use engine::PlayerId;
use tokio::sync::{Mutex, MutexGuard};

/// Locks striped by player: bounded, and two players sharing a stripe only
/// wait for each other.
pub struct PlayerLocks([Mutex<()>; PlayerLocks::STRIPES]);

impl PlayerLocks {
    const STRIPES: usize = 64;

    /// Every stripe free (usable in a `static`).
    pub const fn new() -> PlayerLocks {
        PlayerLocks([const { Mutex::const_new(()) }; PlayerLocks::STRIPES])
    }

    /// Waits for `player`'s lock; released when the guard drops.
    pub async fn lock(&self, player: PlayerId) -> MutexGuard<'_, ()> {
        self.0[(player.0 % PlayerLocks::STRIPES as u64) as usize].lock().await
    }
}

impl Default for PlayerLocks {
    fn default() -> PlayerLocks {
        PlayerLocks::new()
    }
}
