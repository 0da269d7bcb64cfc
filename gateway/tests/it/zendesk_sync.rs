//! The outbound Zendesk sync end to end (`helpdesk::outbound`), through
//! the real server and the Zendesk sandbox: tickets opened and answered
//! here appear once in Zendesk with their comments, status and priority,
//! also when the sandbox fails the first calls and across a restart whose
//! create was never linked; what Zendesk sends back is not pushed again;
//! a refused push shows on the ticket and does not hold the others.

use crate::support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gateway::config::ServeConfig;
use helpdesk::sandbox::{Sandbox, SandboxConfig, basic_auth};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{TestServer, World};

const SECRET: &str = "zendesk-webhook-secret";
const EMAIL: &str = "sync@example.com";
const TOKEN: &str = "zd-sync-token";

fn config(dir: &Path, sandbox: &Sandbox) -> ServeConfig {
    ServeConfig {
        zendesk_webhook_secret: Some(SECRET.into()),
        zendesk_api_url: Some(sandbox.url()),
        zendesk_email: Some(EMAIL.into()),
        zendesk_api_token: Some(TOKEN.into()),
        ..support::config(dir)
    }
}

/// The sandbox (its clock the world's, once started) and a server pushing
/// to it; the sandbox's webhooks go to the server.
async fn start(dir: &Path) -> (World, Sandbox, reqwest::Client) {
    let clock = Arc::new(AtomicU64::new(support::T0));
    let read = clock.clone();
    let sandbox = Sandbox::start(
        SandboxConfig {
            email: EMAIL.into(),
            api_token: TOKEN.into(),
            webhook_secret: SECRET.into(),
            webhook_url: None,
            clock: Arc::new(move || read.load(Ordering::SeqCst)),
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("the sandbox starts");
    let w = World::on(TestServer::start_at(config(dir, &sandbox), clock).await).await;
    let http = reqwest::Client::new();
    webhook_to(&http, &sandbox, &w).await;
    (w, sandbox, http)
}

async fn webhook_to(http: &reqwest::Client, sandbox: &Sandbox, w: &World) {
    let url = format!("{}/webhooks/v1/support/zendesk", w.server.base);
    control(http, Method::PUT, sandbox, "/sandbox/webhook", json!({ "url": url })).await;
}

async fn control(http: &reqwest::Client, method: Method, sandbox: &Sandbox, path: &str, body: Value) -> Value {
    let response = http
        .request(method, format!("{}{path}", sandbox.url()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("the sandbox answers");
    assert!(response.status().is_success(), "{path}: {}", response.status());
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

/// The next `count` API calls answer `status`.
async fn fail(http: &reqwest::Client, sandbox: &Sandbox, count: u32, status: u16, retry_after: Option<u64>) {
    let body = json!({"count": count, "status": status, "retry_after": retry_after});
    control(http, Method::PUT, sandbox, "/sandbox/failures", body).await;
}

/// A Zendesk API call as the agent; its status and body.
async fn zd(
    http: &reqwest::Client,
    sandbox: &Sandbox,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = http
        .request(method, format!("{}{path}", sandbox.url()))
        .header("authorization", basic_auth(EMAIL, TOKEN));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("the sandbox answers");
    let status = response.status();
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null);
    (status, body)
}

/// The Zendesk tickets carrying `external_id`.
async fn in_zendesk(http: &reqwest::Client, sandbox: &Sandbox, external_id: &str) -> Vec<Value> {
    let path = format!("/api/v2/tickets.json?external_id={external_id}");
    let (status, body) = zd(http, sandbox, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["tickets"].as_array().unwrap().clone()
}

async fn comments(http: &reqwest::Client, sandbox: &Sandbox, zid: &str) -> Vec<Value> {
    let path = format!("/api/v2/tickets/{zid}/comments.json");
    let (status, body) = zd(http, sandbox, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["comments"].as_array().unwrap().clone()
}

async fn op(w: &World, method: Method, path: &str, body: Option<Value>) -> Value {
    let reply = w.server.op(w.server.h1(), &w.admin, method, path, body).await;
    assert!(reply.status.is_success(), "{path}: {} {}", reply.status, reply.text());
    reply.json()
}

async fn open(w: &World, subject: &str, message: &str) -> u64 {
    let body = json!({"player": w.player, "subject": subject, "priority": "high", "message": message});
    op(w, Method::POST, "/operator/v1/tickets", Some(body)).await["ticket"]["id"]
        .as_u64()
        .unwrap()
}

async fn ticket(w: &World, id: u64) -> Value {
    op(w, Method::GET, &format!("/operator/v1/tickets/{id}"), None).await
}

/// The ticket once its sync is in `state` (the worker runs on its own).
async fn sync_state(w: &World, id: u64, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let file = ticket(w, id).await;
        if file["ticket"]["sync"]["state"] == state {
            return file;
        }
        assert!(Instant::now() < deadline, "ticket {id}: still {}", file["ticket"]);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kinds(file: &Value) -> Vec<String> {
    file["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn bodies(comments: &[Value]) -> Vec<String> {
    comments
        .iter()
        .map(|c| c["body"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn tickets_made_here_reach_zendesk_once_through_failures_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (w, sandbox, http) = start(dir.path()).await;

    // Zendesk down for the first two calls: the push is retried.
    fail(&http, &sandbox, 2, 503, None).await;
    let id = open(&w, "Withdrawal stuck", "Your withdrawal is being checked").await;
    let path = format!("/operator/v1/tickets/{id}");
    op(
        &w,
        Method::PUT,
        &format!("{path}/status"),
        Some(json!({"status": "pending"})),
    )
    .await;
    let file = sync_state(&w, id, "synced").await;
    let found = in_zendesk(&http, &sandbox, &format!("croupier-{id}")).await;
    assert_eq!(found.len(), 1, "one Zendesk ticket: {found:?}");
    let zid = found[0]["id"].to_string();
    assert_eq!(file["ticket"]["external"], zid.as_str());
    assert_eq!(found[0]["subject"], "Withdrawal stuck");
    assert_eq!(found[0]["status"], "pending");
    assert_eq!(found[0]["priority"], "high");
    let said = comments(&http, &sandbox, &zid).await;
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(said.iter().all(|c| c["public"] == false), "internal comments: {said:?}");
    assert!(bodies(&said)[0].contains(&format!("player {}", w.player)), "{said:?}");
    assert!(
        bodies(&said)[1].ends_with("Your withdrawal is being checked"),
        "{said:?}"
    );

    // Zendesk's webhooks of those pushes came back, and changed nothing
    // here: no ticket opened, no message, no status recorded twice.
    let events = control(&http, Method::GET, &sandbox, "/sandbox/events", Value::Null).await;
    let events = events["events"].as_array().unwrap().clone();
    assert!(events.len() >= 3, "created, comments, status: {events:?}");
    assert!(events.iter().all(|e| e["delivered"] == 200), "{events:?}");
    let list = op(&w, Method::GET, "/operator/v1/tickets", None).await;
    assert_eq!(list["tickets"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(kinds(&ticket(&w, id).await), ["opened", "message", "status"]);

    // An agent answers in Zendesk: the answer arrives here, and is not
    // pushed back (the ticket stays synced, Zendesk has one more comment).
    let answer = json!({"ticket": {"comment": {"body": "Approved now"}}});
    let (status, _) = zd(
        &http,
        &sandbox,
        Method::PUT,
        &format!("/api/v2/tickets/{zid}.json"),
        Some(answer),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let file = ticket(&w, id).await;
    assert_eq!(kinds(&file), ["opened", "message", "status", "message"]);
    assert_eq!(file["events"][3]["author"], "external");
    assert_eq!(file["ticket"]["sync"]["state"], "synced");
    // A later change made here is pushed after it: only it is new there.
    op(
        &w,
        Method::PUT,
        &format!("{path}/priority"),
        Some(json!({"priority": "urgent"})),
    )
    .await;
    sync_state(&w, id, "synced").await;
    assert_eq!(comments(&http, &sandbox, &zid).await.len(), 3);
    assert_eq!(
        in_zendesk(&http, &sandbox, &format!("croupier-{id}")).await[0]["priority"],
        "urgent"
    );

    // A ticket opened in Zendesk comes here and is owed nothing back.
    let theirs = json!({"ticket": {"subject": "From the help centre", "external_id": w.player.to_string(),
        "comment": {"body": "Hello"}}});
    let (status, _) = zd(&http, &sandbox, Method::POST, "/api/v2/tickets.json", Some(theirs)).await;
    assert_eq!(status, StatusCode::CREATED);
    let list = op(&w, Method::GET, "/operator/v1/tickets", None).await;
    let from_zendesk = &list["tickets"][1];
    assert_eq!(from_zendesk["subject"], "From the help centre");
    assert_eq!(from_zendesk["sync"]["state"], "none");

    // Zendesk down for good; a second ticket is opened; the server stops
    // after the create was made there but before its link was journaled
    // (made here by hand, as the crashed worker would have).
    fail(&http, &sandbox, 1_000_000, 503, None).await;
    let second = open(&w, "Bonus missing", "Checking the bonus").await;
    assert_eq!(ticket(&w, second).await["ticket"]["sync"]["state"], "pending");
    let clock = w.server.clock.clone();
    w.server.stop().await;
    fail(&http, &sandbox, 0, 503, None).await;
    let crashed = json!({"ticket": {"subject": "Bonus missing", "external_id": format!("croupier-{second}"),
        "comment": {"body": "Opened in Croupier", "public": false}}});
    let (status, created) = zd(&http, &sandbox, Method::POST, "/api/v2/tickets.json", Some(crashed)).await;
    assert_eq!(status, StatusCode::CREATED);
    let second_zid = created["ticket"]["id"].to_string();
    // Rate-limited twice after the restart.
    fail(&http, &sandbox, 2, 429, Some(1)).await;
    let server = TestServer::start_at(config(dir.path(), &sandbox), clock).await;
    let w = World { server, ..w };
    webhook_to(&http, &sandbox, &w).await;
    let file = sync_state(&w, second, "synced").await;
    let found = in_zendesk(&http, &sandbox, &format!("croupier-{second}")).await;
    assert_eq!(found.len(), 1, "the create found, not made again: {found:?}");
    assert_eq!(file["ticket"]["external"], second_zid.as_str());
    assert_eq!(bodies(&comments(&http, &sandbox, &second_zid).await).len(), 2);
    assert!(bodies(&comments(&http, &sandbox, &second_zid).await)[1].ends_with("Checking the bonus"));
    // The first ticket was not pushed again.
    assert_eq!(comments(&http, &sandbox, &zid).await.len(), 3);
    assert_eq!(in_zendesk(&http, &sandbox, &format!("croupier-{id}")).await.len(), 1);
    assert_eq!(ticket(&w, id).await["ticket"]["sync"]["state"], "synced");
}

#[tokio::test]
async fn a_refused_push_shows_on_its_ticket_and_holds_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let (w, sandbox, http) = start(dir.path()).await;
    let first = open(&w, "Account locked", "Unlocking it").await;
    let file = sync_state(&w, first, "synced").await;
    let zid = file["ticket"]["external"].as_str().unwrap().to_owned();
    // Closed in Zendesk while its webhooks are held: Zendesk refuses any
    // update of it from now on (422).
    control(
        &http,
        Method::PUT,
        &sandbox,
        "/sandbox/delivery",
        json!({"deliver": false}),
    )
    .await;
    let close = json!({"ticket": {"status": "closed"}});
    let (status, _) = zd(
        &http,
        &sandbox,
        Method::PUT,
        &format!("/api/v2/tickets/{zid}.json"),
        Some(close),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let path = format!("/operator/v1/tickets/{first}/messages");
    op(&w, Method::POST, &path, Some(json!({"text": "Unlocked"}))).await;
    let second = open(&w, "Deposit question", "Looking into it").await;

    let failed = sync_state(&w, first, "failed").await;
    let error = failed["ticket"]["sync"]["error"].as_str().unwrap();
    assert!(error.contains("422"), "{error}");
    assert!(
        failed["ticket"]["sync"]["through_seq"].as_u64().unwrap()
            < failed["ticket"]["sync"]["last_seq"].as_u64().unwrap()
    );
    // The other ticket is pushed all the same.
    let synced = sync_state(&w, second, "synced").await;
    let other = synced["ticket"]["external"].as_str().unwrap();
    assert_eq!(comments(&http, &sandbox, other).await.len(), 2);
    // Zendesk kept the closed ticket as it was.
    assert_eq!(comments(&http, &sandbox, &zid).await.len(), 2);
    // The ticket's next change made here tries again (and is refused
    // again, at that change).
    let again = format!("/operator/v1/tickets/{first}/priority");
    op(&w, Method::PUT, &again, Some(json!({"priority": "low"}))).await;
    let failed_again = sync_state(&w, first, "failed").await;
    assert_eq!(
        failed_again["ticket"]["sync"]["last_seq"].as_u64().unwrap(),
        failed_again["events"].as_array().unwrap().last().unwrap()["seq"]
            .as_u64()
            .unwrap()
    );
}
