//! The money check that ends every run: each player's cash on the server
//! must equal the start plus every movement the server acknowledged. A
//! lost, doubled or invented movement shows up here, whatever the latency
//! figures say.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::client::{Call, Wire, cents};
use crate::fixture::START_CENTS;

/// What the check found.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Consistency {
    /// Players checked.
    pub players: usize,
    /// Movements acknowledged in total (all players).
    pub acknowledged: u64,
    /// Players whose balance differs, with both figures.
    pub mismatches: Vec<Mismatch>,
    /// How long the check waited for the server's read model to catch up
    /// with the run's writes, in milliseconds (absent in older reports).
    #[serde(default)]
    pub read_model_wait_ms: u64,
}

/// One player whose server balance is not the implied one.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Mismatch {
    pub player: u64,
    /// Cents the acknowledged replies imply.
    pub implied: i64,
    /// Cents the server holds.
    pub server: i64,
}

/// Acknowledged movements per player, in cents.
#[derive(Default)]
pub struct Implied {
    pub deltas: BTreeMap<u64, i64>,
    pub acknowledged: u64,
}

impl Implied {
    /// An acknowledged movement of `delta` cents.
    pub fn add(&mut self, player: u64, delta: i64) {
        *self.deltas.entry(player).or_default() += delta;
        self.acknowledged += 1;
    }

    /// Another connection's movements.
    pub fn merge(&mut self, other: Implied) {
        for (player, delta) in other.deltas {
            *self.deltas.entry(player).or_default() += delta;
        }
        self.acknowledged += other.acknowledged;
    }
}

/// How long the check waits for the server's read model to catch up with
/// the acknowledged writes: after a run at the wallet's maximum the
/// projection can be tens of thousands of records behind, and the balance
/// route answers `503 view_behind` (after waiting 2 s itself) until it
/// has caught up.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(300);

/// Reads every player in `players` (each started with [`START_CENTS`]) and
/// compares it with `implied`.
pub async fn check(wire: &Wire, players: &[u64], implied: &Implied) -> Result<Consistency> {
    let mut found = Consistency {
        players: players.len(),
        acknowledged: implied.acknowledged,
        mismatches: Vec::new(),
        read_model_wait_ms: 0,
    };
    let started = Instant::now();
    let deadline = started + CATCH_UP_LIMIT;
    for &player in players {
        let path = format!("/operator/v1/players/{player}/balance?currency=EUR");
        let mut reply = wire.send(&Call::OperatorGet { path: path.clone() }).await?;
        while reply.status.as_u16() == 503
            && reply.json()["error"]["code"] == "view_behind"
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(200)).await;
            reply = wire.send(&Call::OperatorGet { path: path.clone() }).await?;
            found.read_model_wait_ms = started.elapsed().as_millis() as u64;
        }
        if !reply.status.is_success() {
            anyhow::bail!("GET {path}: {} {}", reply.status, reply.text());
        }
        let server = reply.json()["cash"]
            .as_str()
            .and_then(cents)
            .with_context(|| format!("GET {path}: no cash in {}", reply.text()))?;
        let implied = START_CENTS + implied.deltas.get(&player).copied().unwrap_or(0);
        if server != implied {
            found.mismatches.push(Mismatch {
                player,
                implied,
                server,
            });
        }
    }
    Ok(found)
}
