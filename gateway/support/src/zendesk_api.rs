//! The Zendesk adapter, outbound: the [`Helpdesk`] the sync pushes
//! tickets made here through, over Zendesk's Ticketing API
//! (<https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/>).
//!
//! - **Auth**: API token, HTTP Basic with `{email}/token` as the user and
//!   the token as the password.
//! - **Find**: `GET {base}/api/v2/tickets.json?external_id=…` (the List
//!   Tickets filter on `external_id`), the first ticket's `id`.
//! - **Create**: `POST {base}/api/v2/tickets.json`
//!   `{"ticket": {"subject", "comment": {"body", "public": false},
//!   "priority", "status", "external_id"}}`, answered 201 with
//!   `ticket.id`. The requester is the API user: a player's contact
//!   details stay sealed in the PAM, the player's id is in the comment.
//! - **Update**: `PUT {base}/api/v2/tickets/{id}.json` with a `comment`
//!   (internal: `public: false`, so the requester is not mailed and the
//!   inbound webhook, which ignores private comments, takes nothing back),
//!   `status` or `priority`.
//!
//! Answers: 2xx is done; 429 (with its `Retry-After`, seconds), 5xx, a
//! transport error, 401 and 403 (the credentials: no ticket's fault) are
//! retried; any other 4xx is a refusal of that ticket's push.

use std::time::Duration;

use engine::support::{TicketPriority, TicketStatus};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use serde_json::{Value, json};

use crate::outbound::{Helpdesk, NewTicket, PushError, TicketUpdate};
use crate::sandbox::basic_auth;

/// How long a call may take.
const TIMEOUT: Duration = Duration::from_secs(15);
/// The longest excerpt of an answer kept in a refusal.
const EXCERPT_MAX: usize = 300;

/// Where and as whom the adapter calls Zendesk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZendeskApiConfig {
    /// The account's URL, `https://<subdomain>.zendesk.com` (plain
    /// `http://` only on loopback, for the sandbox).
    pub base_url: String,
    /// The agent the API token belongs to.
    pub email: String,
    /// The API token.
    pub api_token: String,
}

/// Zendesk's Ticketing API.
pub struct ZendeskApi {
    base: String,
    auth: String,
    http: reqwest::Client,
}

impl ZendeskApi {
    /// A client for `config`; an error for a URL that is not https (or
    /// http on loopback).
    pub fn new(config: &ZendeskApiConfig) -> Result<ZendeskApi, String> {
        let base = config.base_url.trim_end_matches('/').to_owned();
        let secure = base.starts_with("https://") && base.len() > "https://".len();
        if !secure && edge::sandbox::check_loopback(&base).is_err() {
            return Err(format!(
                "{base}: the Zendesk URL must be https:// (http:// only on loopback)"
            ));
        }
        if config.email.trim().is_empty() || config.api_token.trim().is_empty() {
            return Err("the Zendesk email and API token must both be set".to_owned());
        }
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(ZendeskApi {
            base,
            auth: basic_auth(&config.email, &config.api_token),
            http,
        })
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> Result<Value, PushError> {
        let response = request
            .header(AUTHORIZATION, &self.auth)
            .send()
            .await
            .map_err(|e| PushError::Retry {
                after: None,
                reason: format!("Zendesk unreachable: {e}"),
            })?;
        let status = response.status();
        let after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.text().await.unwrap_or_default();
        if status.is_success() {
            return serde_json::from_str(&body).map_err(|e| PushError::Retry {
                after: None,
                reason: format!("Zendesk answered {status} with no JSON: {e}"),
            });
        }
        let reason = format!("Zendesk answered {}: {}", status.as_u16(), excerpt(&body));
        let retried = status == StatusCode::TOO_MANY_REQUESTS
            || status.is_server_error()
            || status == StatusCode::UNAUTHORIZED
            || status == StatusCode::FORBIDDEN;
        if retried {
            Err(PushError::Retry { after, reason })
        } else {
            Err(PushError::Refused { reason })
        }
    }
}

fn json_body(request: reqwest::RequestBuilder, body: &Value) -> reqwest::RequestBuilder {
    request.header(CONTENT_TYPE, "application/json").body(body.to_string())
}

fn excerpt(body: &str) -> String {
    body.chars().take(EXCERPT_MAX).collect()
}

/// Zendesk's id of a ticket in an answer (a number).
fn ticket_id(ticket: &Value) -> Option<String> {
    match &ticket["id"] {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn status_word(status: TicketStatus) -> &'static str {
    // Zendesk's four of its six (new and hold have no counterpart here).
    status.name()
}

fn priority_word(priority: TicketPriority) -> &'static str {
    priority.name()
}

impl Helpdesk for ZendeskApi {
    fn name(&self) -> &'static str {
        "zendesk"
    }

    async fn find(&self, external_id: &str) -> Result<Option<String>, PushError> {
        let url = format!("{}/api/v2/tickets.json", self.base);
        let found = self
            .call(self.http.get(url).query(&[("external_id", external_id)]))
            .await?;
        Ok(found["tickets"]
            .as_array()
            .and_then(|tickets| tickets.iter().find_map(ticket_id)))
    }

    async fn create(&self, ticket: &NewTicket) -> Result<String, PushError> {
        let url = format!("{}/api/v2/tickets.json", self.base);
        let body = json!({"ticket": {
            "subject": ticket.subject,
            "comment": {"body": ticket.description, "public": false},
            "priority": priority_word(ticket.priority),
            "status": status_word(ticket.status),
            "external_id": ticket.external_id,
        }});
        let created = self.call(json_body(self.http.post(url), &body)).await?;
        ticket_id(&created["ticket"]).ok_or_else(|| PushError::Retry {
            after: None,
            reason: "Zendesk's create answered no ticket id".to_owned(),
        })
    }

    async fn update(&self, id: &str, update: &TicketUpdate) -> Result<(), PushError> {
        let url = format!("{}/api/v2/tickets/{id}.json", self.base);
        let mut ticket = serde_json::Map::new();
        if let Some(comment) = &update.comment {
            ticket.insert("comment".into(), json!({"body": comment, "public": false}));
        }
        if let Some(status) = update.status {
            ticket.insert("status".into(), json!(status_word(status)));
        }
        if let Some(priority) = update.priority {
            ticket.insert("priority".into(), json!(priority_word(priority)));
        }
        self.call(json_body(self.http.put(url), &json!({ "ticket": ticket })))
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base_url: &str) -> ZendeskApiConfig {
        ZendeskApiConfig {
            base_url: base_url.to_owned(),
            email: "agent@example.com".to_owned(),
            api_token: "t".to_owned(),
        }
    }

    #[test]
    fn only_https_or_loopback_http_is_called() {
        assert!(ZendeskApi::new(&config("https://acme.zendesk.com")).is_ok());
        assert!(ZendeskApi::new(&config("http://127.0.0.1:9000/")).is_ok());
        assert!(ZendeskApi::new(&config("http://acme.zendesk.com")).is_err());
        assert!(ZendeskApi::new(&config("https://")).is_err());
        let mut blank = config("https://acme.zendesk.com");
        blank.api_token = " ".to_owned();
        assert!(ZendeskApi::new(&blank).is_err());
    }

    async fn sandbox() -> crate::sandbox::Sandbox {
        let config = crate::sandbox::SandboxConfig {
            email: "agent@example.com".to_owned(),
            api_token: "t".to_owned(),
            webhook_secret: "s".to_owned(),
            webhook_url: None,
            clock: std::sync::Arc::new(|| 1_780_000_000_000),
        };
        crate::sandbox::Sandbox::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("the sandbox starts")
    }

    fn new_ticket(external_id: &str) -> NewTicket {
        NewTicket {
            external_id: external_id.to_owned(),
            subject: "Withdrawal".to_owned(),
            description: "Opened in Croupier".to_owned(),
            status: TicketStatus::Pending,
            priority: TicketPriority::Urgent,
        }
    }

    #[tokio::test]
    async fn zendesk_answers_are_done_retried_or_refused() {
        let sandbox = sandbox().await;
        let api = ZendeskApi::new(&config(&sandbox.url())).unwrap();
        assert_eq!(api.find("croupier-7").await, Ok(None));
        let id = api.create(&new_ticket("croupier-7")).await.unwrap();
        assert_eq!(api.find("croupier-7").await, Ok(Some(id.clone())));
        let update = TicketUpdate {
            comment: Some("hello".to_owned()),
            status: Some(TicketStatus::Closed),
            priority: None,
        };
        assert_eq!(api.update(&id, &update).await, Ok(()));
        // Closed: Zendesk refuses (422), and retrying would not help.
        assert!(matches!(
            api.update(&id, &TicketUpdate::default()).await,
            Err(PushError::Refused { reason }) if reason.contains("422")
        ));
        // No such ticket: refused (404).
        assert!(matches!(
            api.update("999999", &TicketUpdate::default()).await,
            Err(PushError::Refused { .. })
        ));
        // Bad credentials are the operator's to fix: retried, not refused.
        let mut wrong = config(&sandbox.url());
        wrong.api_token = "wrong".to_owned();
        let wrong = ZendeskApi::new(&wrong).unwrap();
        assert!(matches!(wrong.find("croupier-7").await, Err(PushError::Retry { .. })));
        // Rate-limited: retried after Zendesk's Retry-After.
        let http = reqwest::Client::new();
        let failures = http
            .put(format!("{}/sandbox/failures", sandbox.url()))
            .header(CONTENT_TYPE, "application/json")
            .body(json!({"count": 2, "status": 429, "retry_after": 7}).to_string())
            .send()
            .await
            .unwrap();
        assert!(failures.status().is_success());
        let limited = api.create(&new_ticket("croupier-8")).await;
        assert!(
            matches!(&limited, Err(PushError::Retry { after: Some(after), .. }) if *after == Duration::from_secs(7)),
            "{limited:?}"
        );
        assert!(matches!(api.find("croupier-8").await, Err(PushError::Retry { .. })));
        // The failed create made nothing; the next one lands.
        assert_eq!(api.find("croupier-8").await, Ok(None));
        assert!(api.create(&new_ticket("croupier-8")).await.is_ok());
        sandbox.stop().await;
        // Unreachable: retried.
        assert!(matches!(api.find("croupier-8").await, Err(PushError::Retry { .. })));
    }

    #[test]
    fn ticket_ids_are_read_as_numbers_or_strings() {
        assert_eq!(ticket_id(&json!({"id": 35436})), Some("35436".to_owned()));
        assert_eq!(ticket_id(&json!({"id": "35436"})), Some("35436".to_owned()));
        assert_eq!(ticket_id(&json!({"id": null})), None);
    }
}
