//! The push adapter: Firebase Cloud Messaging's HTTP v1 API (`POST
//! {base}/v1/projects/{project_id}/messages:send` with `Authorization:
//! Bearer <access token>` and a JSON `{"message": {"token", "notification":
//! {"title", "body"}, "data"}}`), answered `200` with the message's
//! `name` (`projects/{id}/messages/{id}`). Errors are Google's JSON
//! `{"error": {code, message, status, details: [{errorCode}]}}`: 404
//! `UNREGISTERED` (the app was uninstalled) and 400 `INVALID_ARGUMENT`
//! (not a registration token) are refusals, never retried; 429
//! `QUOTA_EXCEEDED` and 5xx `UNAVAILABLE`/`INTERNAL` are retried. A sandbox
//! speaking the same subset is in [`sandbox`] (`croupier sandbox fcm`).
//!
//! The access token is configured as it is (`fcm_access_token`): in
//! production it is a Google OAuth 2.0 token of a service account with the
//! `firebase.messaging` scope, which expires within the hour, so whatever
//! deploys the gateway refreshes it; the JWT exchange is not built here.
//! The campaign's key travels as the data entry `croupier_key`.

use std::collections::BTreeMap;
use std::time::Duration;

use engine::bonus::Channel;
use serde::{Deserialize, Serialize};

use super::{KEY_ARG, Message, NotificationProvider, NotifyError, SendFuture};

pub mod sandbox;

/// How to reach FCM.
#[derive(Clone)]
pub struct FcmConfig {
    /// Base URL (`https://fcm.googleapis.com`, or a sandbox's).
    pub base_url: String,
    /// The Firebase project's id.
    pub project_id: String,
    /// The OAuth 2.0 access token, sent as a Bearer token.
    pub access_token: String,
    /// How long a request may take.
    pub timeout: Duration,
}

/// Without the access token: a config may be logged.
impl std::fmt::Debug for FcmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FcmConfig")
            .field("base_url", &self.base_url)
            .field("project_id", &self.project_id)
            .field("access_token", &"<hidden>")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The FCM HTTP v1 adapter (push).
pub struct Fcm {
    config: FcmConfig,
    http: reqwest::Client,
}

/// The `messages:send` request body.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SendRequest {
    /// The message.
    pub message: FcmMessage,
}

/// A message to one device (the subset sent).
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FcmMessage {
    /// The device's registration token.
    pub token: String,
    /// What the device shows.
    pub notification: Option<Notification>,
    /// Key-value pairs for the app (strings only).
    #[serde(default)]
    pub data: BTreeMap<String, String>,
}

/// What the device shows.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Notification {
    /// The title.
    #[serde(default)]
    pub title: String,
    /// The text.
    #[serde(default)]
    pub body: String,
}

/// The answer to a sent message.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Sent {
    /// `projects/{project_id}/messages/{message_id}`.
    pub name: String,
}

/// Google's error envelope.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorStatus,
}

/// A `google.rpc.Status`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorStatus {
    /// The HTTP status.
    pub code: u16,
    /// What went wrong.
    #[serde(default)]
    pub message: String,
    /// The canonical status (`NOT_FOUND`, `INVALID_ARGUMENT`, …).
    #[serde(default)]
    pub status: String,
    /// Details; FCM's carry an `errorCode` (`UNREGISTERED`, …).
    #[serde(default)]
    pub details: Vec<serde_json::Value>,
}

impl ErrorStatus {
    /// FCM's own error code, if a detail carries one, else the status.
    pub fn fcm_code(&self) -> &str {
        self.details
            .iter()
            .find_map(|d| d.get("errorCode").and_then(|c| c.as_str()))
            .unwrap_or(&self.status)
    }
}

/// The request body of `message`.
pub fn request(message: &Message) -> SendRequest {
    SendRequest {
        message: FcmMessage {
            token: message.to.clone(),
            notification: Some(Notification {
                title: message.title.clone(),
                body: message.text.clone(),
            }),
            data: [(KEY_ARG.to_owned(), message.key.clone())].into(),
        },
    }
}

/// The message's name from FCM's answer (`status`, `body`), or why it
/// did not leave: a 429 or 5xx may pass later, any other error will not.
pub fn answer(status: u16, body: &[u8]) -> Result<String, NotifyError> {
    if (200..300).contains(&status) {
        let sent: Sent = serde_json::from_slice(body)
            .map_err(|e| NotifyError::Unavailable(format!("an unreadable answer to a sent message: {e}")))?;
        return Ok(sent.name);
    }
    let detail = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(error) => format!("{status}: {}: {}", error.error.fcm_code(), error.error.message),
        Err(_) => format!(
            "{status}: {}",
            String::from_utf8_lossy(body).chars().take(200).collect::<String>()
        ),
    };
    if status == 429 || status >= 500 {
        Err(NotifyError::Unavailable(detail))
    } else {
        Err(NotifyError::Refused(detail))
    }
}

impl Fcm {
    /// A client for `config`.
    pub fn new(config: FcmConfig) -> Result<Fcm, NotifyError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| NotifyError::Unavailable(e.to_string()))?;
        Ok(Fcm { config, http })
    }

    async fn post(&self, message: &Message) -> Result<String, NotifyError> {
        let url = format!(
            "{}/v1/projects/{}/messages:send",
            self.config.base_url, self.config.project_id
        );
        let body = serde_json::to_vec(&request(message)).map_err(|e| NotifyError::Refused(e.to_string()))?;
        let response = self
            .http
            .post(url)
            .bearer_auth(&self.config.access_token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| NotifyError::Unavailable(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| NotifyError::Unavailable(e.to_string()))?;
        answer(status, &body)
    }
}

impl NotificationProvider for Fcm {
    fn channel(&self) -> Channel {
        Channel::Push
    }

    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a> {
        Box::pin(self.post(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_carries_the_token_the_notification_and_the_key() {
        let message = Message {
            to: "bk3RNwTe3H0:CI2k_HHwgIpoDKCIZvvDMExUdFQ3P1".into(),
            title: "Spring".into(),
            text: "A gift of 5 EUR".into(),
            key: "spring:7".into(),
        };
        let json = serde_json::to_value(request(&message)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"message": {
                "token": "bk3RNwTe3H0:CI2k_HHwgIpoDKCIZvvDMExUdFQ3P1",
                "notification": {"title": "Spring", "body": "A gift of 5 EUR"},
                "data": {"croupier_key": "spring:7"}
            }})
        );
    }

    #[test]
    fn the_debug_form_of_the_config_hides_the_token() {
        let config = FcmConfig {
            base_url: "https://fcm.googleapis.com".into(),
            project_id: "croupier-prod".into(),
            access_token: "ya29.s3cret".into(),
            timeout: Duration::from_secs(5),
        };
        let text = format!("{config:?}");
        assert!(
            text.contains("croupier-prod") && !text.contains("ya29.s3cret"),
            "{text}"
        );
    }

    /// The adapter against its sandbox: each documented answer maps to a
    /// sent message, a refusal or a retry.
    #[tokio::test]
    async fn the_adapter_and_the_sandbox_agree() {
        let sandbox = sandbox::Sandbox::start("proj", "ya29.ok", "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let config = |access_token: &str| FcmConfig {
            base_url: sandbox.url(),
            project_id: "proj".into(),
            access_token: access_token.into(),
            timeout: Duration::from_secs(5),
        };
        let fcm = Fcm::new(config("ya29.ok")).unwrap();
        let message = |to: &str| Message {
            to: to.into(),
            title: "Spring".into(),
            text: "A gift".into(),
            key: "spring:7".into(),
        };
        assert_eq!(
            fcm.send(&message("device-1")).await.unwrap(),
            "projects/proj/messages/1"
        );
        let wrong = Fcm::new(config("ya29.no"))
            .unwrap()
            .send(&message("device-1"))
            .await
            .unwrap_err();
        assert!(!wrong.is_transient() && wrong.to_string().contains("401"), "{wrong}");
        let invalid = fcm.send(&message("not a token")).await.unwrap_err();
        assert!(
            !invalid.is_transient() && invalid.to_string().contains("INVALID_ARGUMENT"),
            "{invalid}"
        );
        let http = reqwest::Client::new();
        for (path, body) in [
            ("/sandbox/unregistered", r#"{"tokens": ["device-2"]}"#),
            ("/sandbox/faults", r#"{"errors": 1}"#),
        ] {
            let reply = http
                .post(format!("{}{path}", sandbox.url()))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status().as_u16(), 204);
        }
        assert!(fcm.send(&message("device-2")).await.unwrap_err().is_transient());
        let gone = fcm.send(&message("device-2")).await.unwrap_err();
        assert!(
            !gone.is_transient() && gone.to_string().contains("UNREGISTERED"),
            "{gone}"
        );
        sandbox.stop().await;
    }

    #[test]
    fn a_sent_message_gives_its_name() {
        let body = br#"{"name": "projects/myproject-b5ae1/messages/0:1500415314455276%31bd1c9631bd1c96"}"#;
        assert_eq!(
            answer(200, body).unwrap(),
            "projects/myproject-b5ae1/messages/0:1500415314455276%31bd1c9631bd1c96"
        );
        assert!(answer(200, b"{}").unwrap_err().is_transient());
    }

    #[test]
    fn errors_are_refused_or_retried_by_status() {
        let unregistered = br#"{"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]}}"#;
        let refused = answer(404, unregistered).unwrap_err();
        assert!(!refused.is_transient());
        assert!(refused.to_string().contains("UNREGISTERED"), "{refused}");
        let invalid = br#"{"error": {"code": 400, "message": "The registration token is not a valid FCM registration token",
            "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "INVALID_ARGUMENT"}]}}"#;
        assert!(!answer(400, invalid).unwrap_err().is_transient());
        let quota = br#"{"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "QUOTA_EXCEEDED"}]}}"#;
        let busy = answer(429, quota).unwrap_err();
        assert!(
            busy.is_transient() && busy.to_string().contains("QUOTA_EXCEEDED"),
            "{busy}"
        );
        let unavailable =
            br#"{"error": {"code": 503, "message": "The service is currently unavailable.", "status": "UNAVAILABLE"}}"#;
        let down = answer(503, unavailable).unwrap_err();
        assert!(
            down.is_transient() && down.to_string().contains("UNAVAILABLE"),
            "{down}"
        );
        assert!(answer(502, b"Bad Gateway").unwrap_err().is_transient());
    }
}
