//! The SMS adapter: Twilio's Programmable Messaging API, the Message
//! resource's create (`POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`,
//! HTTP Basic with the Account SID and Auth Token, a form of `To`, `From`
//! or `MessagingServiceSid`, and `Body`), answered `201 Created` with the
//! message as JSON (`sid` `SM…`, `status` `queued`). Errors are JSON
//! `{code, message, more_info, status}`: a 4xx (21211 an invalid `To`,
//! 21610 an unsubscribed recipient) is a refusal, never retried; a 429 or
//! 5xx is retried. A sandbox speaking the same subset is in [`sandbox`]
//! (`croupier sandbox twilio`).
//!
//! Twilio has no field to carry the campaign's key back: its records are
//! matched to the journal's `CampaignSent` by recipient and time.

use std::time::Duration;

use engine::bonus::Channel;
use serde::{Deserialize, Serialize};

use super::{Message, NotificationProvider, NotifyError, SendFuture};

pub mod sandbox;

/// Who the messages come from: a Twilio number (or alphanumeric sender
/// id), or a Messaging Service that picks the number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sender {
    /// `From`: an E.164 number or an alphanumeric sender id.
    From(String),
    /// `MessagingServiceSid`: `MG…`.
    MessagingService(String),
}

impl Sender {
    /// The sender of a configured value: a Messaging Service SID (`MG`
    /// and 32 hex digits) or else a `From`.
    pub fn parse(value: &str) -> Sender {
        let hex = value.strip_prefix("MG").unwrap_or("");
        if hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Sender::MessagingService(value.to_owned())
        } else {
            Sender::From(value.to_owned())
        }
    }
}

/// How to reach Twilio.
#[derive(Clone)]
pub struct TwilioConfig {
    /// Base URL (`https://api.twilio.com`, or a sandbox's).
    pub base_url: String,
    /// The Account SID (`AC…`): the path's account and the Basic user.
    pub account_sid: String,
    /// The Auth Token: the Basic password.
    pub auth_token: String,
    /// The sender.
    pub sender: Sender,
    /// How long a request may take.
    pub timeout: Duration,
}

/// Without the Auth Token: a config may be logged.
impl std::fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("base_url", &self.base_url)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<hidden>")
            .field("sender", &self.sender)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The Twilio Programmable Messaging adapter (SMS).
pub struct Twilio {
    config: TwilioConfig,
    http: reqwest::Client,
}

/// The created Message resource (the fields read).
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Created {
    /// The message's SID (`SM…`).
    pub sid: String,
    /// Its status (`queued`, `accepted`, …).
    pub status: String,
}

/// Twilio's error body.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TwilioError {
    /// Twilio's error code (21211, 21610, …).
    pub code: u32,
    /// What went wrong.
    pub message: String,
    /// The error's documentation page.
    #[serde(default)]
    pub more_info: String,
    /// The HTTP status, repeated.
    pub status: u16,
}

/// An invalid `To` phone number.
pub const INVALID_TO: u32 = 21211;
/// The recipient replied STOP: Twilio refuses to message it.
pub const UNSUBSCRIBED: u32 = 21610;

/// The form fields of a Message create for `message` from `sender`.
pub fn form(message: &Message, sender: &Sender) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("To", &message.to);
    match sender {
        Sender::From(from) => form.append_pair("From", from),
        Sender::MessagingService(sid) => form.append_pair("MessagingServiceSid", sid),
    };
    form.append_pair("Body", &message.text);
    form.finish()
}

/// The message's SID from Twilio's answer (`status`, `body`), or why it
/// did not leave: a 429 or 5xx may pass later, any other error will not.
pub fn answer(status: u16, body: &[u8]) -> Result<String, NotifyError> {
    if (200..300).contains(&status) {
        let created: Created = serde_json::from_slice(body)
            .map_err(|e| NotifyError::Unavailable(format!("an unreadable answer to a created message: {e}")))?;
        return Ok(created.sid);
    }
    let detail = match serde_json::from_slice::<TwilioError>(body) {
        Ok(error) => format!("{status}: Twilio error {}: {}", error.code, error.message),
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

impl Twilio {
    /// A client for `config`.
    pub fn new(config: TwilioConfig) -> Result<Twilio, NotifyError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| NotifyError::Unavailable(e.to_string()))?;
        Ok(Twilio { config, http })
    }

    async fn post(&self, message: &Message) -> Result<String, NotifyError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.config.base_url, self.config.account_sid
        );
        let response = self
            .http
            .post(url)
            .basic_auth(&self.config.account_sid, Some(&self.config.auth_token))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(message, &self.config.sender))
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

impl NotificationProvider for Twilio {
    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a> {
        Box::pin(self.post(message))
    }
}

/// Whether `number` is E.164: `+`, a country code not starting with 0,
/// 15 digits at most.
pub fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message {
            to: "+447700900123".into(),
            title: "Spring".into(),
            text: "A gift & 5 EUR".into(),
            key: "spring:7".into(),
        }
    }

    #[test]
    fn the_form_names_the_recipient_the_sender_and_the_body() {
        let from = form(&message(), &Sender::parse("+15005550006"));
        assert_eq!(from, "To=%2B447700900123&From=%2B15005550006&Body=A+gift+%26+5+EUR");
        let service = Sender::parse("MG9752274e9e519418a7406176694466fa");
        assert!(matches!(service, Sender::MessagingService(_)));
        let pairs: Vec<(String, String)> = form_urlencoded::parse(form(&message(), &service).as_bytes())
            .into_owned()
            .collect();
        assert_eq!(
            pairs,
            [
                ("To".to_owned(), "+447700900123".to_owned()),
                (
                    "MessagingServiceSid".to_owned(),
                    "MG9752274e9e519418a7406176694466fa".to_owned()
                ),
                ("Body".to_owned(), "A gift & 5 EUR".to_owned()),
            ]
        );
        // Not 32 hex digits after MG: an alphanumeric sender id.
        assert_eq!(Sender::parse("MGCasino"), Sender::From("MGCasino".into()));
    }

    #[test]
    fn a_created_message_gives_its_sid() {
        let body = br#"{"account_sid":"ACxx","api_version":"2010-04-01","body":"Hi","date_created":"Thu, 24 Aug 2023 05:01:45 +0000",
            "direction":"outbound-api","error_code":null,"from":"+15557122661","num_segments":"0","sid":"SM3f1b2c","status":"queued",
            "to":"+15558675310","uri":"/2010-04-01/Accounts/ACxx/Messages/SM3f1b2c.json"}"#;
        assert_eq!(answer(201, body).unwrap(), "SM3f1b2c");
        assert!(answer(201, b"not json").unwrap_err().is_transient());
    }

    #[test]
    fn errors_are_refused_or_retried_by_status() {
        let invalid = br#"{"code": 21211, "message": "The 'To' number +0123 is not a valid phone number.",
            "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        let refused = answer(400, invalid).unwrap_err();
        assert!(!refused.is_transient());
        assert!(refused.to_string().contains("21211"), "{refused}");
        let unsubscribed = br#"{"code": 21610, "message": "Attempt to send to unsubscribed recipient",
            "more_info": "https://www.twilio.com/docs/errors/21610", "status": 400}"#;
        assert!(!answer(400, unsubscribed).unwrap_err().is_transient());
        let auth = br#"{"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}"#;
        assert!(!answer(401, auth).unwrap_err().is_transient());
        let busy = br#"{"code": 20429, "message": "Too Many Requests", "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429}"#;
        assert!(answer(429, busy).unwrap_err().is_transient());
        assert!(
            answer(503, b"<html>Service Unavailable</html>")
                .unwrap_err()
                .is_transient()
        );
    }

    #[test]
    fn the_debug_form_of_the_config_hides_the_token() {
        let config = TwilioConfig {
            base_url: "https://api.twilio.com".into(),
            account_sid: "ACxx".into(),
            auth_token: "s3cret-token".into(),
            sender: Sender::parse("+15005550006"),
            timeout: Duration::from_secs(5),
        };
        let text = format!("{config:?}");
        assert!(text.contains("ACxx") && !text.contains("s3cret-token"), "{text}");
    }

    /// The adapter against its sandbox: each documented answer maps to a
    /// sent message, a refusal or a retry.
    #[tokio::test]
    async fn the_adapter_and_the_sandbox_agree() {
        let sandbox = sandbox::Sandbox::start("ACtest", "token", "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let config = |auth_token: &str| TwilioConfig {
            base_url: sandbox.url(),
            account_sid: "ACtest".into(),
            auth_token: auth_token.into(),
            sender: Sender::parse("MG9752274e9e519418a7406176694466fa"),
            timeout: Duration::from_secs(5),
        };
        let twilio = Twilio::new(config("token")).unwrap();
        let sid = twilio.send(&message()).await.unwrap();
        assert!(sid.starts_with("SM"), "{sid}");
        let wrong = Twilio::new(config("wrong"))
            .unwrap()
            .send(&message())
            .await
            .unwrap_err();
        assert!(!wrong.is_transient() && wrong.to_string().contains("20003"), "{wrong}");
        let bad = Message {
            to: "+0447700900".into(),
            ..message()
        };
        let refused = twilio.send(&bad).await.unwrap_err();
        assert!(
            !refused.is_transient() && refused.to_string().contains("21211"),
            "{refused}"
        );
        let http = reqwest::Client::new();
        for (path, body) in [
            ("/sandbox/unsubscribed", r#"{"numbers": ["+447700900123"]}"#),
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
        assert!(twilio.send(&message()).await.unwrap_err().is_transient());
        let stopped = twilio.send(&message()).await.unwrap_err();
        assert!(
            !stopped.is_transient() && stopped.to_string().contains("21610"),
            "{stopped}"
        );
        let kept: Vec<sandbox::Received> = serde_json::from_str(
            &http
                .get(format!("{}/sandbox/messages", sandbox.url()))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(
            (kept[0].sid.as_str(), kept[0].from.as_str(), kept[0].body.as_str()),
            (sid.as_str(), "MG9752274e9e519418a7406176694466fa", "A gift & 5 EUR")
        );
        sandbox.stop().await;
    }

    #[test]
    fn e164_numbers() {
        for good in ["+447700900123", "+15005550006", "+35699000001"] {
            assert!(is_e164(good), "{good}");
        }
        for bad in [
            "447700900123",
            "+0447700900",
            "+44 7700 900123",
            "+",
            "+1234567890123456",
            "+44-7700",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }
}
