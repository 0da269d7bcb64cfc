//! The run's fixture, made through the operator API like any operator
//! would: one aggregator, and the players (each funded with
//! [`START_CENTS`]) with their game-launch tokens.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use protocol::rsa_signature::RsaSigner;
use protocol::signature::Secret;
use reqwest::Client;
use serde_json::{Value, json};

use crate::client::{Credential, decimal};

/// Every player's cash at the start: 1,000,000.00 EUR.
pub const START_CENTS: i64 = 100_000_000;

/// A funded player and its game session.
#[derive(Clone, Debug)]
pub struct Seat {
    pub player: u64,
    pub token: String,
}

/// The operator side of the set-up.
pub struct Setup {
    client: Client,
    base: String,
    admin: String,
}

impl Setup {
    pub fn new(base: &str, admin: &str) -> Setup {
        Setup {
            client: Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            admin: admin.to_owned(),
        }
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
            .with_context(|| format!("POST {path}"))?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("POST {path}: {status}: {text}");
        }
        serde_json::from_str(&text).with_context(|| format!("POST {path}: not JSON: {text}"))
    }

    /// A new aggregator: its id and how it signs (`rsa`: Hub88's scheme).
    pub async fn aggregator(&self, rsa: bool) -> Result<(u32, Credential)> {
        let millis = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
        let name = format!("loadtest-{}-{millis}", std::process::id());
        if rsa {
            let signer = RsaSigner::from_pem(&RsaSigner::generate_pem()?)?;
            let body = json!({ "name": name, "rsa_public_key": signer.public_key_pem() });
            let created = self.post("/operator/v1/aggregators", body).await?;
            let id = created["aggregator"].as_u64().context("aggregator id")?;
            return Ok((u32::try_from(id)?, Credential::Rsa(signer)));
        }
        let created = self.post("/operator/v1/aggregators", json!({ "name": name })).await?;
        let id = created["aggregator"].as_u64().context("aggregator id")?;
        let secret = hex::decode(created["secret"].as_str().context("aggregator secret")?)?;
        let secret: [u8; 32] = secret
            .try_into()
            .map_err(|_| anyhow::anyhow!("secret is not 32 bytes"))?;
        Ok((u32::try_from(id)?, Credential::Hmac(Secret(secret))))
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
