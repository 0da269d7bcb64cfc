//! The KYC provider adapter over Sumsub's HTTP protocol, and the pieces of
//! that protocol the sandbox shares (request signing, webhook digests,
//! event times, the JSON shapes).
//!
//! It follows Sumsub's public API documentation:
//! - authentication (<https://docs.sumsub.com/reference/authentication>):
//!   every request carries `X-App-Token`, `X-App-Access-Ts` (seconds since
//!   the epoch) and `X-App-Access-Sig`, the lowercase hex HMAC-SHA256, under
//!   the secret key, of timestamp + upper-case method + path with query +
//!   body;
//! - applicants: `POST /resources/applicants?levelName=…` with
//!   `{"externalUserId": …}` creates one (409 if that user has one; then
//!   `GET /resources/applicants/-;externalUserId=…/one` finds it), and
//!   `GET /resources/applicants/{id}/status` gives its review
//!   (`reviewStatus`, `reviewResult.reviewAnswer` GREEN or RED,
//!   `rejectLabels`);
//! - the WebSDK link the player opens
//!   (<https://docs.sumsub.com/reference/generate-websdk-external-link>):
//!   `POST /resources/sdkIntegrations/levels/-/websdkLink` with
//!   `{"levelName", "userId", "ttlInSecs"}` answers `{"url"}`;
//! - webhooks (<https://docs.sumsub.com/docs/webhooks>): a JSON body with
//!   `applicantId`, `type` (`applicantReviewed`, `applicantPending` …),
//!   `reviewStatus`, `reviewResult` and `createdAtMs`
//!   (`yyyy-MM-dd HH:mm:ss.SSS`, UTC), signed with `X-Payload-Digest`, the
//!   hex HMAC of the raw body under the webhook secret
//!   (`X-Payload-Digest-Alg: HMAC_SHA256_HEX`). Sumsub's documentation
//!   says to order events by `createdAtMs`, which is what the ledger does.
//!
//! The digest covers the body, and the body carries the event time, so the
//! time cannot be moved without breaking the signature; the window accepts
//! events up to a day old because Sumsub resends failed webhooks for up to
//! 18 hours.

use axum::http::HeaderMap;
use edge::state::KycProviderConfig;
use ring::hmac;
use serde::{Deserialize, Serialize};

use super::{KycProvider, ProviderError, ProviderFuture, Started, Verdict, WebhookError, WebhookEvent};
use crate::profile::Date;

/// The app-token header.
pub const APP_TOKEN_HEADER: &str = "x-app-token";
/// The request-time header (seconds since the epoch).
pub const ACCESS_TS_HEADER: &str = "x-app-access-ts";
/// The request-signature header.
pub const ACCESS_SIG_HEADER: &str = "x-app-access-sig";
/// The webhook digest header.
pub const DIGEST_HEADER: &str = "x-payload-digest";
/// The webhook digest algorithm header.
pub const DIGEST_ALG_HEADER: &str = "x-payload-digest-alg";
/// The one digest algorithm accepted.
pub const DIGEST_ALG: &str = "HMAC_SHA256_HEX";
/// How long the WebSDK link stays valid.
const LINK_TTL_S: u64 = 1_800;
/// Oldest accepted webhook event: Sumsub resends for 18 hours after the
/// first attempt (5 min, 1 h, 5 h, 18 h), plus margin.
pub const WEBHOOK_AGE_MAX_MS: u64 = 25 * 3_600_000;
/// Furthest in the future an event time may be (clock difference).
pub const WEBHOOK_AHEAD_MAX_MS: u64 = 5 * 60_000;
/// Longest a provider call may take.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// An applicant as the provider returns it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Applicant {
    /// The provider's id.
    pub id: String,
    /// The operator's id of the user.
    pub external_user_id: String,
    /// The verification level.
    #[serde(default)]
    pub level_name: String,
    /// Its review.
    #[serde(default)]
    pub review: Review,
}

/// A review: its status and, once completed, its result.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    /// `init`, `pending`, `queued`, `onHold` or `completed`.
    pub review_status: String,
    /// The result, once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_result: Option<ReviewResult>,
}

/// A completed review's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewResult {
    /// `GREEN` (verified) or `RED` (refused).
    pub review_answer: String,
    /// Why refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reject_labels: Vec<String>,
    /// `FINAL` or `RETRY`, for a refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_reject_type: Option<String>,
}

/// A webhook body.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    /// The applicant it is about.
    pub applicant_id: String,
    /// The operator's id of the user.
    #[serde(default)]
    pub external_user_id: String,
    /// The event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The review status after the event.
    #[serde(default)]
    pub review_status: String,
    /// The review's answer, for `applicantReviewed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_result: Option<ReviewResult>,
    /// When the event happened, `yyyy-MM-dd HH:mm:ss.SSS` UTC.
    pub created_at_ms: String,
}

/// The verdict a review gives.
pub fn verdict(review_status: &str, result: Option<&ReviewResult>) -> Result<Verdict, String> {
    match (review_status, result) {
        ("completed", Some(result)) => match result.review_answer.as_str() {
            "GREEN" => Ok(Verdict::Verified),
            "RED" => Ok(Verdict::Rejected {
                labels: result.reject_labels.clone(),
            }),
            other => Err(format!("unknown reviewAnswer {other:?}")),
        },
        ("completed", None) => Err("a completed review without a reviewResult".into()),
        _ => Ok(Verdict::Pending),
    }
}

/// Lowercase hex HMAC-SHA256 of `parts` under `key`.
pub fn hmac_hex(key: &str, parts: &[&[u8]]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    let mut context = hmac::Context::with_key(&key);
    for part in parts {
        context.update(part);
    }
    hex::encode(context.sign().as_ref())
}

/// True if `signature` (hex) is the HMAC-SHA256 of `parts` under `key`;
/// compared in constant time (`ring::hmac::verify`).
pub fn hmac_matches(key: &str, parts: &[&[u8]], signature: &str) -> bool {
    let Ok(tag) = hex::decode(signature) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    let message: Vec<u8> = parts.concat();
    hmac::verify(&key, &message, &tag).is_ok()
}

/// The request signature: timestamp + method + path with query + body.
pub fn request_signature(secret: &str, ts_s: u64, method: &str, path_and_query: &str, body: &[u8]) -> String {
    hmac_hex(
        secret,
        &[
            ts_s.to_string().as_bytes(),
            method.as_bytes(),
            path_and_query.as_bytes(),
            body,
        ],
    )
}

/// An event time as Sumsub writes it: `yyyy-MM-dd HH:mm:ss.SSS`, UTC.
pub fn format_event_time(ms: u64) -> String {
    let in_day = ms % 86_400_000;
    format!(
        "{} {:02}:{:02}:{:02}.{:03}",
        Date::from_epoch_ms(ms),
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1_000 % 60,
        in_day % 1_000
    )
}

/// Parses [`format_event_time`]'s text back to ms since the epoch.
pub fn parse_event_time(text: &str) -> Option<u64> {
    let (date, time) = text.split_once(' ')?;
    let days = u64::try_from(Date::parse(date)?.days_since_epoch()).ok()?;
    let bytes = time.as_bytes();
    if bytes.len() != 12 || bytes[2] != b':' || bytes[5] != b':' || bytes[8] != b'.' {
        return None;
    }
    let number = |range: std::ops::Range<usize>, max: u64| -> Option<u64> {
        let part = time.get(range)?;
        let value: u64 = part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok())??;
        (value <= max).then_some(value)
    };
    let (hours, minutes, seconds, millis) = (
        number(0..2, 23)?,
        number(3..5, 59)?,
        number(6..8, 59)?,
        number(9..12, 999)?,
    );
    Some(days * 86_400_000 + hours * 3_600_000 + minutes * 60_000 + seconds * 1_000 + millis)
}

/// Authenticates and parses a webhook body (the protocol's rules, shared
/// by the client and the sandbox's own tests).
pub fn parse_webhook(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now_ms: u64,
) -> Result<WebhookEvent, WebhookError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header(DIGEST_ALG_HEADER).is_some_and(|alg| alg != DIGEST_ALG) {
        return Err(WebhookError::BadSignature);
    }
    let digest = header(DIGEST_HEADER).ok_or(WebhookError::BadSignature)?;
    if !hmac_matches(secret, &[body], digest) {
        return Err(WebhookError::BadSignature);
    }
    let webhook: Webhook = serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    let event_ms = parse_event_time(&webhook.created_at_ms)
        .ok_or_else(|| WebhookError::Malformed("createdAtMs: yyyy-MM-dd HH:mm:ss.SSS".into()))?;
    if event_ms > now_ms.saturating_add(WEBHOOK_AHEAD_MAX_MS) || event_ms < now_ms.saturating_sub(WEBHOOK_AGE_MAX_MS) {
        return Err(WebhookError::Stale { event_ms });
    }
    if webhook.applicant_id.is_empty() {
        return Err(WebhookError::Malformed("applicantId: required".into()));
    }
    let verdict = match webhook.kind.as_str() {
        "applicantReviewed" | "applicantPending" | "applicantOnHold" | "applicantReset" => {
            Some(verdict(&webhook.review_status, webhook.review_result.as_ref()).map_err(WebhookError::Malformed)?)
        }
        _ => None,
    };
    Ok(WebhookEvent {
        check: webhook.applicant_id,
        event_ms,
        kind: webhook.kind,
        verdict,
    })
}

/// The KYC provider over Sumsub's HTTP API.
pub struct SumsubClient {
    config: KycProviderConfig,
    http: reqwest::Client,
}

impl SumsubClient {
    /// A client for the provider `config` names.
    pub fn new(config: KycProviderConfig) -> Result<SumsubClient, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .map_err(|e| ProviderError::Unreachable(e.to_string()))?;
        Ok(SumsubClient { config, http })
    }

    /// Sends a signed request; the answer's status and body.
    async fn call(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
        now_ms: u64,
    ) -> Result<(u16, Vec<u8>), ProviderError> {
        let ts_s = now_ms / 1_000;
        let bytes = body.unwrap_or_default();
        let signature = request_signature(&self.config.secret_key, ts_s, method.as_str(), path_and_query, &bytes);
        let url = format!("{}{path_and_query}", self.config.base_url);
        let mut request = self
            .http
            .request(method, url)
            .header(APP_TOKEN_HEADER, &self.config.app_token)
            .header(ACCESS_TS_HEADER, ts_s.to_string())
            .header(ACCESS_SIG_HEADER, signature)
            .header("accept", "application/json");
        if !bytes.is_empty() {
            request = request.header("content-type", "application/json").body(bytes);
        }
        let reply = request
            .send()
            .await
            .map_err(|e| ProviderError::Unreachable(e.to_string()))?;
        let status = reply.status().as_u16();
        let body = reply
            .bytes()
            .await
            .map_err(|e| ProviderError::Unreachable(e.to_string()))?;
        Ok((status, body.to_vec()))
    }

    /// The body of a 2xx answer, parsed; a refusal otherwise.
    fn parse<T: serde::de::DeserializeOwned>((status, body): (u16, Vec<u8>)) -> Result<T, ProviderError> {
        if !(200..300).contains(&status) {
            let body = String::from_utf8_lossy(&body).chars().take(300).collect();
            return Err(ProviderError::Refused { status, body });
        }
        serde_json::from_slice(&body).map_err(|e| ProviderError::Malformed(e.to_string()))
    }

    async fn applicant(&self, external_user_id: &str, now_ms: u64) -> Result<Applicant, ProviderError> {
        let level = encode(&self.config.level_name);
        let body = serde_json::to_vec(&serde_json::json!({ "externalUserId": external_user_id }))
            .map_err(|e| ProviderError::Malformed(e.to_string()))?;
        let path = format!("/resources/applicants?levelName={level}");
        let created = self.call(reqwest::Method::POST, &path, Some(body), now_ms).await?;
        if created.0 != 409 {
            return Self::parse(created);
        }
        // The user has an applicant already: reuse it.
        let path = format!(
            "/resources/applicants/-;externalUserId={}/one",
            encode(external_user_id)
        );
        Self::parse(self.call(reqwest::Method::GET, &path, None, now_ms).await?)
    }

    async fn link(&self, external_user_id: &str, now_ms: u64) -> Result<String, ProviderError> {
        #[derive(Deserialize)]
        struct Link {
            url: String,
        }
        let body = serde_json::to_vec(&serde_json::json!({
            "levelName": self.config.level_name,
            "userId": external_user_id,
            "ttlInSecs": LINK_TTL_S,
        }))
        .map_err(|e| ProviderError::Malformed(e.to_string()))?;
        let path = "/resources/sdkIntegrations/levels/-/websdkLink";
        let link: Link = Self::parse(self.call(reqwest::Method::POST, path, Some(body), now_ms).await?)?;
        Ok(link.url)
    }
}

/// Percent-encodes a path or query component (RFC 3986 unreserved kept).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl KycProvider for SumsubClient {
    fn start<'a>(&'a self, external_user_id: &'a str, now_ms: u64) -> ProviderFuture<'a, Started> {
        Box::pin(async move {
            let applicant = self.applicant(external_user_id, now_ms).await?;
            let url = self.link(external_user_id, now_ms).await?;
            Ok(Started {
                check: applicant.id,
                url,
            })
        })
    }

    fn status<'a>(&'a self, check: &'a str, now_ms: u64) -> ProviderFuture<'a, Verdict> {
        Box::pin(async move {
            let path = format!("/resources/applicants/{}/status", encode(check));
            let review: Review = Self::parse(self.call(reqwest::Method::GET, &path, None, now_ms).await?)?;
            verdict(&review.review_status, review.review_result.as_ref()).map_err(ProviderError::Malformed)
        })
    }

    fn webhook(&self, headers: &HeaderMap, body: &[u8], now_ms: u64) -> Result<WebhookEvent, WebhookError> {
        parse_webhook(&self.config.webhook_secret, headers, body, now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_times_round_trip_and_bad_ones_are_refused() {
        for ms in [0, 1_767_225_600_000, 1_767_225_600_000 + 86_399_999] {
            assert_eq!(parse_event_time(&format_event_time(ms)), Some(ms));
        }
        assert_eq!(format_event_time(1_767_225_661_002), "2026-01-01 00:01:01.002");
        for bad in [
            "2026-01-01 24:00:00.000",
            "2026-01-01T00:00:00.000",
            "2026-01-01 00:00:00",
            "x",
        ] {
            assert_eq!(parse_event_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn signatures_cover_every_part_and_compare_whole() {
        // Sumsub's documented example string.
        let signature = request_signature("secret", 1_607_551_635, "POST", "/resources/accessTokens?userId=u", b"");
        assert_eq!(signature.len(), 64);
        let parts: [&[u8]; 3] = [b"1607551635", b"POST", b"/resources/accessTokens?userId=u"];
        assert!(hmac_matches("secret", &parts, &signature));
        assert!(!hmac_matches("secret", &parts, &signature[..62]));
        assert!(!hmac_matches("other", &parts, &signature));
        assert!(!hmac_matches("secret", &parts, "not hex"));
    }

    #[test]
    fn webhooks_need_the_digest_and_a_recent_event_time() {
        let now = 1_767_225_600_000;
        let body = |ms: u64| {
            serde_json::json!({"applicantId": "a1", "type": "applicantReviewed", "reviewStatus": "completed",
                "reviewResult": {"reviewAnswer": "GREEN"}, "createdAtMs": format_event_time(ms)})
            .to_string()
        };
        let signed = |body: &str, secret: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(DIGEST_HEADER, hmac_hex(secret, &[body.as_bytes()]).parse().unwrap());
            headers.insert(DIGEST_ALG_HEADER, DIGEST_ALG.parse().unwrap());
            headers
        };
        let good = body(now - 1_000);
        let event = parse_webhook("s", &signed(&good, "s"), good.as_bytes(), now).unwrap();
        assert_eq!((event.check.as_str(), event.event_ms), ("a1", now - 1_000));
        assert_eq!(event.verdict, Some(Verdict::Verified));
        let forged = parse_webhook("s", &signed(&good, "t"), good.as_bytes(), now);
        assert_eq!(forged, Err(WebhookError::BadSignature));
        assert_eq!(
            parse_webhook("s", &HeaderMap::new(), good.as_bytes(), now),
            Err(WebhookError::BadSignature)
        );
        let old = body(now - WEBHOOK_AGE_MAX_MS - 1);
        let stale = parse_webhook("s", &signed(&old, "s"), old.as_bytes(), now);
        assert_eq!(
            stale,
            Err(WebhookError::Stale {
                event_ms: now - WEBHOOK_AGE_MAX_MS - 1
            })
        );
    }
}
