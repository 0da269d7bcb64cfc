//! The run's fixture, made through the operator API like any operator
//! would: one aggregator, and the players (each funded with
//! [`START_CENTS`]) with their game-launch tokens.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use protocol::rsa_signature::RsaSigner;
use protocol::signature::Secret;
use reqwest::Client;
use serde_json::{Value, json};

use crate::client::{Credential, decimal, reqwest_failure};

/// Every player's cash at the start: 1,000,000.00 EUR.
pub const START_CENTS: i64 = 100_000_000;

/// How an aggregator authenticates its calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// The native API's HMAC secret.
    Hmac,
    /// Hub88's RSA keys.
    Rsa,
    /// Pragmatic Play's hash key.
    HashKey,
    /// Evolution's authToken.
    AuthToken,
}

/// A funded player and its game session.
#[derive(Clone, Debug)]
pub struct Seat {
    pub player: u64,
    pub token: String,
}

/// The operator side of the set-up.
#[derive(Clone)]
pub struct Setup {
    client: Client,
    base: String,
    admin: String,
    timeout: Duration,
}

impl Setup {
    /// The operator API at `base` with the token `admin`; each call
    /// answered within `timeout` or failed.
    pub fn new(base: &str, admin: &str, timeout: Duration) -> Result<Setup> {
        Ok(Setup {
            client: Client::builder().timeout(timeout).build()?,
            base: base.trim_end_matches('/').to_owned(),
            admin: admin.to_owned(),
            timeout,
        })
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|error| reqwest_failure(error, self.timeout))
            .with_context(|| format!("POST {path}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|error| reqwest_failure(error, self.timeout))
            .with_context(|| format!("POST {path}"))?;
        if !status.is_success() {
            bail!("POST {path}: {status}: {text}");
        }
        serde_json::from_str(&text).with_context(|| format!("POST {path}: not JSON: {text}"))
    }

    /// A new aggregator: its id and how it signs.
    pub async fn aggregator(&self, scheme: Scheme) -> Result<(u32, Credential)> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
        let name = format!("loadtest-{}-{nanos}", std::process::id());
        let id = |created: &Value| -> Result<u32> {
            Ok(u32::try_from(created["aggregator"].as_u64().context("aggregator id")?)?)
        };
        let secret = |created: &Value| -> Result<String> {
            Ok(created["secret"].as_str().context("aggregator secret")?.to_owned())
        };
        match scheme {
            Scheme::Rsa => {
                let signer = RsaSigner::from_pem(&RsaSigner::generate_pem()?)?;
                let body = json!({ "name": name, "rsa_public_key": signer.public_key_pem() });
                let created = self.post("/operator/v1/aggregators", body).await?;
                Ok((id(&created)?, Credential::Rsa(signer)))
            }
            Scheme::HashKey => {
                // A key of our own making: the partner and the operator agree on it.
                let key = format!("lt{nanos:x}");
                let body = json!({ "name": name, "pragmatic_secret_key": key });
                let created = self.post("/operator/v1/aggregators", body).await?;
                Ok((id(&created)?, Credential::HashKey(key)))
            }
            Scheme::AuthToken => {
                let body = json!({ "name": name, "evolution": true });
                let created = self.post("/operator/v1/aggregators", body).await?;
                Ok((id(&created)?, Credential::AuthToken(secret(&created)?)))
            }
            Scheme::Hmac => {
                let created = self.post("/operator/v1/aggregators", json!({ "name": name })).await?;
                let bytes: [u8; 32] = hex::decode(secret(&created)?)?
                    .try_into()
                    .map_err(|_| anyhow::anyhow!("secret is not 32 bytes"))?;
                Ok((id(&created)?, Credential::Hmac(Secret(bytes))))
            }
        }
    }

    /// `count` new players ([`Setup::seat`]), set up 32 at a time, in the
    /// order they were made.
    pub async fn seats(&self, aggregator: u32, count: usize) -> Result<Vec<Seat>> {
        let mut seats = Vec::with_capacity(count);
        let mut made = 0;
        while made < count {
            let mut tasks = tokio::task::JoinSet::new();
            for _ in made..count.min(made + 32) {
                let setup = self.clone();
                tasks.spawn(async move { setup.seat(aggregator).await });
            }
            made = count.min(made + 32);
            while let Some(seat) = tasks.join_next().await {
                seats.push(seat??);
            }
        }
        seats.sort_by_key(|seat| seat.player);
        Ok(seats)
    }

    /// A new player with [`START_CENTS`] EUR and a day-long game-launch token.
    pub async fn seat(&self, aggregator: u32) -> Result<Seat> {
        let player = self
            .post("/operator/v1/players", json!({"currency": "EUR", "jurisdiction": "MT"}))
            .await?["player"]
            .as_u64()
            .context("player id")?;
        self.post(
            &format!("/operator/v1/players/{player}/deposits"),
            json!({"deposit_id": format!("loadtest-{player}"), "currency": "EUR", "amount": decimal(START_CENTS)}),
        )
        .await?;
        let session = self
            .post(
                "/operator/v1/sessions",
                json!({"player": player, "currency": "EUR", "aggregator": aggregator, "ttl_ms": 86_400_000}),
            )
            .await?;
        let token = session["token"].as_str().context("session token")?.to_owned();
        Ok(Seat { player, token })
    }
}
