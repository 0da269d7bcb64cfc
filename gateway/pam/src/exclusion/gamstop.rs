//! The self-exclusion register adapter over GAMSTOP's API v2, and the
//! pieces of that protocol the sandbox shares (header names, the form
//! fields, the batch's JSON shapes, its limits).
//!
//! GAMSTOP's API documentation is given to licensed operators; what this
//! follows is its public description as operators' integrations use it:
//! - one check: `POST https://api.gamstop.io/v2` (staging
//!   `api.stage.gamstop.io`) with the `X-API-Key` header and an
//!   `application/x-www-form-urlencoded` body of `firstName`, `lastName`,
//!   `dateOfBirth` (`YYYY-MM-DD`), `email`, `postcode` and `mobile`. The
//!   answer is `200` with no body: `X-Exclusion` says `Y` (excluded), `N`
//!   (not found) or `P` (previously excluded), and `X-Unique-Id` names the
//!   check for GAMSTOP's support. `400` means data missing, `403` a wrong
//!   key or an address not on GAMSTOP's allow list, `405` a method other
//!   than POST, `429` too many requests;
//! - a batch: `POST https://batch.gamstop.io/v2` with a JSON array of at
//!   most 1,000 people (the same fields, plus an optional `correlationId`)
//!   and a body under 256 KB, at about one request a second on average
//!   over five minutes; the answer is a JSON array of `{"correlationId",
//!   "exclusion", "msRequestId"}`, and `X-Unique-Id` names the batch.
//!
//! A `429` becomes [`RegistryError::RateLimited`] with its `Retry-After`;
//! the caller's policy decides what an unanswered check means.

use serde::{Deserialize, Serialize};

use super::{
    BatchAnswer, BatchEntry, Exclusion, ExclusionRegistry, PersonDetails, RegistryAnswer, RegistryError, RegistryFuture,
};

/// The API key header.
pub const API_KEY_HEADER: &str = "x-api-key";
/// The answer header: `Y`, `N` or `P`.
pub const EXCLUSION_HEADER: &str = "x-exclusion";
/// The check's reference header.
pub const UNIQUE_ID_HEADER: &str = "x-unique-id";
/// The form fields of a check, in the documented order.
pub const FIELDS: [&str; 6] = ["firstName", "lastName", "dateOfBirth", "email", "postcode", "mobile"];
/// Most people in one batch request.
pub const BATCH_LEN_MAX: usize = 1_000;
/// Largest batch request body.
pub const BATCH_BODY_MAX_BYTES: usize = 256 * 1024;
/// Longest a register call may take: a login or registration waits for it.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Where the register is and the key that names this operator to it.
#[derive(Clone, PartialEq, Eq)]
pub struct GamstopConfig {
    /// The single-check URL (`https://api.gamstop.io/v2`, or the sandbox's
    /// `http://127.0.0.1:<port>/v2`).
    pub url: String,
    /// The batch URL (`https://batch.gamstop.io/v2`, or the sandbox's
    /// `http://127.0.0.1:<port>/batch/v2`); `None`: batches cannot be sent.
    pub batch_url: Option<String>,
    /// The API key.
    pub api_key: String,
}

impl std::fmt::Debug for GamstopConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GamstopConfig")
            .field("url", &self.url)
            .field("batch_url", &self.batch_url)
            .finish_non_exhaustive()
    }
}

/// One person of a batch request, as the protocol spells it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchPerson {
    /// The caller's id of the person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// Email address.
    pub email: String,
    /// Postcode.
    pub postcode: String,
    /// Phone number.
    pub mobile: String,
}

impl BatchPerson {
    /// The person's details.
    pub fn details(&self) -> PersonDetails {
        PersonDetails {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            date_of_birth: self.date_of_birth.clone(),
            email: self.email.clone(),
            postcode: self.postcode.clone(),
            mobile: self.mobile.clone(),
        }
    }
}

/// One answer of a batch, as the protocol spells it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResult {
    /// The caller's id of the person, echoed.
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// `Y`, `N` or `P`.
    pub exclusion: String,
    /// The register's reference of this person's check.
    #[serde(default)]
    pub ms_request_id: String,
}

/// The form body of a single check.
pub fn form(person: &PersonDetails) -> String {
    let values = [
        &person.first_name,
        &person.last_name,
        &person.date_of_birth,
        &person.email,
        &person.postcode,
        &person.mobile,
    ];
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (field, value) in FIELDS.iter().zip(values) {
        form.append_pair(field, value);
    }
    form.finish()
}

/// The register over GAMSTOP's HTTP API.
pub struct GamstopClient {
    config: GamstopConfig,
    http: reqwest::Client,
}

impl GamstopClient {
    /// A client for the register `config` names.
    pub fn new(config: GamstopConfig) -> Result<GamstopClient, RegistryError> {
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .map_err(|e| RegistryError::Unreachable(e.to_string()))?;
        Ok(GamstopClient { config, http })
    }

    /// Sends `body` to `url`; the answer, or the error its status means.
    async fn post(&self, url: &str, content_type: &str, body: Vec<u8>) -> Result<reqwest::Response, RegistryError> {
        let reply = self
            .http
            .post(url)
            .header(API_KEY_HEADER, &self.config.api_key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| RegistryError::Unreachable(e.to_string()))?;
        let status = reply.status().as_u16();
        if status == 429 {
            let retry_after_s = reply
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
            return Err(RegistryError::RateLimited { retry_after_s });
        }
        if status != 200 {
            let text = reply.text().await.unwrap_or_default();
            let body = text.chars().take(300).collect();
            return Err(RegistryError::Refused { status, body });
        }
        Ok(reply)
    }
}

fn header(reply: &reqwest::Response, name: &str) -> Option<String> {
    reply.headers().get(name)?.to_str().ok().map(str::to_owned)
}

impl ExclusionRegistry for GamstopClient {
    fn check<'a>(&'a self, person: &'a PersonDetails) -> RegistryFuture<'a, RegistryAnswer> {
        Box::pin(async move {
            let body = form(person).into_bytes();
            let reply = self
                .post(&self.config.url, "application/x-www-form-urlencoded", body)
                .await?;
            let letter = header(&reply, EXCLUSION_HEADER)
                .ok_or_else(|| RegistryError::Malformed("no X-Exclusion header".into()))?;
            let exclusion = Exclusion::from_letter(letter.trim())
                .ok_or_else(|| RegistryError::Malformed(format!("X-Exclusion {letter:?}: Y, N or P")))?;
            let reference = header(&reply, UNIQUE_ID_HEADER).unwrap_or_default();
            Ok(RegistryAnswer { exclusion, reference })
        })
    }

    fn check_batch<'a>(&'a self, people: &'a [BatchEntry]) -> RegistryFuture<'a, Vec<BatchAnswer>> {
        Box::pin(async move {
            let Some(url) = &self.config.batch_url else {
                return Err(RegistryError::Unreachable("no batch URL is configured".into()));
            };
            if people.len() > BATCH_LEN_MAX {
                return Err(RegistryError::Refused {
                    status: 400,
                    body: format!("{} people: a batch holds at most {BATCH_LEN_MAX}", people.len()),
                });
            }
            let wire: Vec<BatchPerson> = people
                .iter()
                .map(|entry| BatchPerson {
                    correlation_id: Some(entry.correlation_id.clone()),
                    first_name: entry.person.first_name.clone(),
                    last_name: entry.person.last_name.clone(),
                    date_of_birth: entry.person.date_of_birth.clone(),
                    email: entry.person.email.clone(),
                    postcode: entry.person.postcode.clone(),
                    mobile: entry.person.mobile.clone(),
                })
                .collect();
            let body = serde_json::to_vec(&wire).map_err(|e| RegistryError::Malformed(e.to_string()))?;
            if body.len() >= BATCH_BODY_MAX_BYTES {
                return Err(RegistryError::Refused {
                    status: 413,
                    body: format!("a batch body of {} bytes: under {BATCH_BODY_MAX_BYTES}", body.len()),
                });
            }
            let reply = self.post(url, "application/json", body).await?;
            let bytes = reply
                .bytes()
                .await
                .map_err(|e| RegistryError::Unreachable(e.to_string()))?;
            let results: Vec<BatchResult> =
                serde_json::from_slice(&bytes).map_err(|e| RegistryError::Malformed(e.to_string()))?;
            results
                .into_iter()
                .map(|result| {
                    let exclusion = Exclusion::from_letter(&result.exclusion).ok_or_else(|| {
                        RegistryError::Malformed(format!("exclusion {:?}: Y, N or P", result.exclusion))
                    })?;
                    Ok(BatchAnswer {
                        correlation_id: result.correlation_id.unwrap_or_default(),
                        exclusion,
                        reference: result.ms_request_id,
                    })
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_has_the_documented_fields_in_order_and_encoded() {
        let person = PersonDetails {
            first_name: "Zoë".into(),
            last_name: "O'Neil Smith".into(),
            date_of_birth: "1990-05-17".into(),
            email: "zoe+x@example.org".into(),
            postcode: "YO1 7HH".into(),
            mobile: "07700900461".into(),
        };
        let body = form(&person);
        assert_eq!(
            body,
            "firstName=Zo%C3%AB&lastName=O%27Neil+Smith&dateOfBirth=1990-05-17&email=zoe%2Bx%40example.org\
             &postcode=YO1+7HH&mobile=07700900461"
        );
        let parsed: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
        assert_eq!(parsed.len(), 6);
        assert_eq!(parsed[1], ("lastName".into(), "O'Neil Smith".into()));
    }

    #[test]
    fn batch_people_and_results_use_the_protocols_names() {
        let person = BatchPerson {
            correlation_id: Some("p-7".into()),
            first_name: "A".into(),
            last_name: "B".into(),
            date_of_birth: "1990-01-01".into(),
            email: "a@b.c".into(),
            postcode: "X1".into(),
            mobile: "07700900000".into(),
        };
        let json = serde_json::to_value(&person).unwrap();
        assert_eq!(json["correlationId"], "p-7");
        assert_eq!(json["dateOfBirth"], "1990-01-01");
        let result: BatchResult =
            serde_json::from_str(r#"{"correlationId":"p-7","exclusion":"P","msRequestId":"r1"}"#).unwrap();
        assert_eq!(
            (result.correlation_id.as_deref(), result.exclusion.as_str()),
            (Some("p-7"), "P")
        );
    }

    #[test]
    fn the_debug_form_of_the_config_hides_the_key() {
        let config = GamstopConfig {
            url: "http://127.0.0.1:1/v2".into(),
            batch_url: None,
            api_key: "secret-key".into(),
        };
        assert!(!format!("{config:?}").contains("secret-key"));
    }
}
