//! One connection's HTTP client, and signing each request the way its
//! contract wants: HMAC for the native wallet API, RSA for Hub88, the
//! bearer token for the operator API.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use protocol::rsa_signature::RsaSigner;
use protocol::signature::{AGGREGATOR_HEADER, SIGNATURE_HEADER, Secret, TIMESTAMP_HEADER, sign};
use reqwest::{Client, RequestBuilder, StatusCode};

/// The HTTP version a run speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Http {
    /// HTTP/1.1 on keep-alive connections.
    Http1,
    /// HTTP/2 with prior knowledge (cleartext), one stream at a time per connection.
    Http2,
}

/// How the aggregator signs.
#[derive(Clone)]
pub enum Credential {
    /// The native API's shared secret.
    Hmac(Secret),
    /// Hub88's RSA key pair (ours; the server holds the public half).
    Rsa(RsaSigner),
}

/// A reply, read whole.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }

    /// The body as text, for error messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One connection to the server, with what it needs to sign.
pub struct Wire {
    client: Client,
    base: String,
    admin: String,
    aggregator: u32,
    credential: Credential,
}

/// What a request goes to.
#[derive(Clone, Debug)]
pub enum Call {
    /// `POST /wallet/v1/{route}`, HMAC-signed.
    Native { route: &'static str, body: Vec<u8> },
    /// `POST /hub88/{aggregator}/transaction/{route}` (or `user/{route}`), RSA-signed.
    Hub88 { route: &'static str, body: Vec<u8> },
    /// `POST` on the operator API with the bearer token.
    OperatorPost { path: String, body: Vec<u8> },
    /// `GET` on the operator API with the bearer token.
    OperatorGet { path: String },
    /// A public `GET` (no engine work).
    Get { path: &'static str },
}

impl Wire {
    /// A client that keeps one connection to `base`.
    pub fn new(http: Http, base: &str, admin: &str, aggregator: u32, credential: Credential) -> Result<Wire> {
        let client = match http {
            Http::Http1 => Client::builder().http1_only().pool_max_idle_per_host(1).build()?,
            Http::Http2 => Client::builder().http2_prior_knowledge().build()?,
        };
        Ok(Wire {
            client,
            base: base.trim_end_matches('/').to_owned(),
            admin: admin.to_owned(),
            aggregator,
            credential,
        })
    }

    /// Sends `call` and reads the whole reply. A transport failure is an
    /// error; any HTTP status is a reply.
    pub async fn send(&self, call: &Call) -> Result<Reply> {
        let request = self.request(call)?;
        let response = request.send().await.with_context(|| format!("{call:?}"))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .with_context(|| format!("reading the reply to {call:?}"))?;
        Ok(Reply {
            status,
            body: body.to_vec(),
        })
    }

    fn request(&self, call: &Call) -> Result<RequestBuilder> {
        let json = |builder: RequestBuilder, body: &[u8]| {
            builder.header("content-type", "application/json").body(body.to_vec())
        };
        Ok(match call {
            Call::Native { route, body } => {
                let Credential::Hmac(secret) = &self.credential else {
                    anyhow::bail!("the native API needs an HMAC aggregator");
                };
                let timestamp_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64;
                let builder = self
                    .client
                    .post(format!("{}/wallet/v1/{route}", self.base))
                    .header(AGGREGATOR_HEADER, self.aggregator)
                    .header(TIMESTAMP_HEADER, timestamp_ms)
                    .header(SIGNATURE_HEADER, sign(secret, timestamp_ms, body));
                json(builder, body)
            }
            Call::Hub88 { route, body } => {
                let Credential::Rsa(signer) = &self.credential else {
                    anyhow::bail!("Hub88 needs an RSA aggregator");
                };
                let builder = self
                    .client
                    .post(format!("{}/hub88/{}/{route}", self.base, self.aggregator))
                    .header(protocol::hub88::SIGNATURE_HEADER, signer.sign(body)?);
                json(builder, body)
            }
            Call::OperatorPost { path, body } => json(
                self.client
                    .post(format!("{}{path}", self.base))
                    .bearer_auth(&self.admin),
                body,
            ),
            Call::OperatorGet { path } => self.client.get(format!("{}{path}", self.base)).bearer_auth(&self.admin),
            Call::Get { path } => self.client.get(format!("{}{path}", self.base)),
        })
    }
}

/// Cents from a decimal string of a two-decimal currency ("-12.30" → -1230).
pub fn cents(decimal: &str) -> Option<i64> {
    let (negative, digits) = match decimal.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, decimal),
    };
    let (units, fraction) = digits.split_once('.').unwrap_or((digits, "00"));
    if fraction.len() != 2 || units.is_empty() || !units.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = units
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(fraction.parse::<i64>().ok()?)?;
    Some(if negative { -value } else { value })
}

/// A decimal string from cents (1230 → "12.30").
pub fn decimal(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.unsigned_abs() / 100, cents.unsigned_abs() % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_and_decimals_round_trip_and_refuse_what_is_not_two_decimals() {
        for value in [0, 1, 99, 100, 1230, -1230, 100_000_000] {
            assert_eq!(cents(&decimal(value)), Some(value));
        }
        assert_eq!(cents("7"), Some(700));
        for bad in ["", "1.2", "1.234", "a.00", ".50", "1.-5", "--1.00"] {
            assert_eq!(cents(bad), None, "{bad}");
        }
    }
}
