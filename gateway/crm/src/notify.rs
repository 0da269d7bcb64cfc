//! How campaign messages leave: the [`NotificationProvider`] adapter trait,
//! one adapter per channel, each with a sandbox speaking its subset on
//! loopback:
//!
//! - email: SendGrid's v3 Mail Send API ([`SendGrid`]: `POST
//!   /v3/mail/send` with a Bearer API key, a JSON body of
//!   personalizations, sender, subject and content, answered `202
//!   Accepted` with the message's id in `X-Message-Id`; [`sandbox`],
//!   `croupier sandbox sendgrid`);
//! - SMS: Twilio's Programmable Messaging API ([`twilio`], `croupier
//!   sandbox twilio`);
//! - push: Firebase Cloud Messaging's HTTP v1 API ([`fcm`], `croupier
//!   sandbox fcm`).
//!
//! The campaign worker gives every message the key of its campaign and
//! player (as a SendGrid `custom_args` entry), so a provider's records
//! can be matched to the journal's `CampaignSent`. The provider itself has
//! no idempotency: a crash between its `202` and the journal resends once
//! (at least once, never lost).

use std::sync::Arc;
use std::time::Duration;

use engine::bonus::Channel;
use serde::{Deserialize, Serialize};

pub mod fcm;
pub mod sandbox;
pub mod twilio;

/// Why a message did not leave.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Unreachable, timed out or a 5xx/429: try again later.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the message (a 4xx other than 429): retrying
    /// the same message fails again.
    #[error("provider refused the message: {0}")]
    Refused(String),
}

impl NotifyError {
    /// Whether a later attempt may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, NotifyError::Unavailable(_))
    }
}

/// One message to one player.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Where: an email address (email), a phone number (SMS, E.164) or a
    /// device's registration token (push).
    pub to: String,
    /// A title, where the channel shows one (push): the campaign's name.
    pub title: String,
    /// The text (and an email's subject).
    pub text: String,
    /// The campaign and player it is for (`campaign:player`).
    pub key: String,
}

/// A future of a send: the provider's message id.
pub type SendFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, NotifyError>> + Send + 'a>>;

/// A notification provider for one channel.
pub trait NotificationProvider: Send + Sync {
    /// The channel it serves.
    fn channel(&self) -> Channel;
    /// Sends one message.
    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a>;
}

/// The providers configured, as `AppState::modules` holds them.
#[derive(Clone, Default)]
pub struct Providers(pub Vec<Arc<dyn NotificationProvider>>);

impl Providers {
    /// The provider of `channel`, if one is configured.
    pub fn of(&self, channel: Channel) -> Option<Arc<dyn NotificationProvider>> {
        self.0.iter().find(|p| p.channel() == channel).cloned()
    }
}

/// How to reach SendGrid.
#[derive(Clone, Debug)]
pub struct SendGridConfig {
    /// Base URL (`https://api.sendgrid.com`, or a sandbox's).
    pub base_url: String,
    /// The API key, sent as a Bearer token.
    pub api_key: String,
    /// The sender address.
    pub from: String,
    /// How long a request may take.
    pub timeout: Duration,
}

/// The SendGrid v3 Mail Send adapter (email).
pub struct SendGrid {
    config: SendGridConfig,
    http: reqwest::Client,
}

/// The Mail Send request body (the subset sent).
#[derive(Debug, Serialize, Deserialize)]
pub struct MailSend {
    /// One personalization per recipient (one here).
    pub personalizations: Vec<Personalization>,
    /// The sender.
    pub from: Address,
    /// The subject.
    pub subject: String,
    /// The body, `text/plain`.
    pub content: Vec<Content>,
}

/// A personalization: the recipients and custom arguments.
#[derive(Debug, Serialize, Deserialize)]
pub struct Personalization {
    /// Recipients.
    pub to: Vec<Address>,
    /// Custom arguments, echoed in the provider's events.
    #[serde(default)]
    pub custom_args: std::collections::BTreeMap<String, String>,
}

/// An email address.
#[derive(Debug, Serialize, Deserialize)]
pub struct Address {
    /// The address.
    pub email: String,
}

/// A body part.
#[derive(Debug, Serialize, Deserialize)]
pub struct Content {
    /// MIME type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The text.
    pub value: String,
}

/// The header SendGrid names the accepted message in.
pub const MESSAGE_ID_HEADER: &str = "x-message-id";
/// The custom argument that carries the campaign and player.
pub const KEY_ARG: &str = "croupier_key";

impl SendGrid {
    /// A client for `config`.
    pub fn new(config: SendGridConfig) -> Result<SendGrid, NotifyError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| NotifyError::Unavailable(e.to_string()))?;
        Ok(SendGrid { config, http })
    }

    async fn post(&self, message: &Message) -> Result<String, NotifyError> {
        let body = MailSend {
            personalizations: vec![Personalization {
                to: vec![Address {
                    email: message.to.clone(),
                }],
                custom_args: [(KEY_ARG.to_owned(), message.key.clone())].into(),
            }],
            from: Address {
                email: self.config.from.clone(),
            },
            subject: message.text.clone(),
            content: vec![Content {
                kind: "text/plain".into(),
                value: message.text.clone(),
            }],
        };
        let url = format!("{}/v3/mail/send", self.config.base_url);
        let response = self
            .http
            .post(url)
            .bearer_auth(&self.config.api_key)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).map_err(|e| NotifyError::Refused(e.to_string()))?)
            .send()
            .await
            .map_err(|e| NotifyError::Unavailable(e.to_string()))?;
        let status = response.status();
        if status.is_success() {
            let id = response
                .headers()
                .get(MESSAGE_ID_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            return Ok(id);
        }
        let text = response.text().await.unwrap_or_default();
        let detail = format!("{status}: {}", text.chars().take(200).collect::<String>());
        if status.is_server_error() || status.as_u16() == 429 {
            Err(NotifyError::Unavailable(detail))
        } else {
            Err(NotifyError::Refused(detail))
        }
    }
}

impl NotificationProvider for SendGrid {
    fn channel(&self) -> Channel {
        Channel::Email
    }

    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a> {
        Box::pin(self.post(message))
    }
}
