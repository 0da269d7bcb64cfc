//! SMS and push campaigns end to end: the campaign worker sending through
//! the Twilio and FCM sandboxes on loopback (the right text to the right
//! number or device, the control group and the opted-out getting nothing,
//! a 503 retried, a number or device the provider refuses recorded as
//! failed and not retried), and the front end's push-token route with its
//! errors and roles.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crm::notify::fcm::sandbox::{Received as Push, Sandbox as FcmSandbox};
use crm::notify::twilio::sandbox::{Received as Sms, Sandbox as TwilioSandbox};
use engine::bonus::in_control_group;
use gateway::config::ServeConfig;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::support::{self, Reply, T0, TestServer, World};

const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN: &str = "twilio-test-token";
const SMS_FROM: &str = "+15005550006";
const PROJECT: &str = "croupier-test";
const ACCESS_TOKEN: &str = "ya29.test-token";

async fn op(s: &TestServer, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
    s.op(s.h1(), token, method, path, body).await
}

async fn get(s: &TestServer, token: &str, path: &str) -> Value {
    let reply = op(s, token, Method::GET, path, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
    reply.json()
}

async fn token_of(s: &TestServer, admin: &str, role: &str) -> String {
    let body = json!({"name": format!("{role}-desk"), "role": role});
    let made = op(s, admin, Method::POST, "/operator/v1/operators", Some(body)).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    made.json()["token"].as_str().unwrap().to_owned()
}

/// Registers an MT player with a profile (the phone and the SMS and push
/// consents given) and a 10.00 EUR deposit; returns the player.
async fn register(s: &TestServer, admin: &str, n: u32, phone: &str, sms: bool, push: bool) -> u64 {
    let profile = json!({
        "name": format!("Player {n}"),
        "email": format!("p{n}@example.com"),
        "phone": phone,
        "date_of_birth": "1990-01-01",
        "address": {"line": "1 Main Street", "city": "Valletta", "postcode": format!("VLT {n}")},
        "country": "MT",
        "language": "en",
        "marketing": {"email": false, "sms": sms, "phone": false, "post": false, "push": push}
    });
    let body = json!({"currency": "EUR", "jurisdiction": "MT", "profile": profile});
    let made = op(s, admin, Method::POST, "/operator/v1/registrations", Some(body)).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let player = made.json()["player"].as_u64().unwrap();
    let path = format!("/operator/v1/players/{player}/deposits");
    let body = json!({"deposit_id": format!("first-{player}"), "currency": "EUR", "amount": "10.00"});
    let paid = op(s, admin, Method::POST, &path, Some(body)).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.text());
    player
}

/// Every depositor is a member; a scheduled campaign on `channel` starts
/// a minute after T0.
async fn campaign(s: &TestServer, marketing: &str, code: &str, channel: &str, control_pct: u8) {
    let segment = json!({"name": "Everyone", "all": [
        {"deposits": {"currency": "EUR", "window_days": 30, "min_total": "1.00"}}]});
    let made = op(
        s,
        marketing,
        Method::PUT,
        "/operator/v1/segments/everyone",
        Some(segment),
    )
    .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    let body = json!({"name": "Spring", "segment": "everyone", "channel": channel,
        "message": "A gift of 5 EUR awaits you", "start_at_ms": T0 + 60_000, "control_pct": control_pct});
    let made = op(
        s,
        marketing,
        Method::PUT,
        &format!("/operator/v1/campaigns/{code}"),
        Some(body),
    )
    .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
}

/// Polls the campaign (at most 30 s) until `delivered` and `failed` are reached.
async fn settled(s: &TestServer, admin: &str, code: &str, delivered: usize, failed: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let view = get(s, admin, &format!("/operator/v1/campaigns/{code}")).await;
        if view["delivered"].as_u64() == Some(delivered as u64) && view["failed"].as_u64() == Some(failed as u64) {
            return view;
        }
        assert!(Instant::now() < deadline, "{code}: still {view}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sandbox_get<T: DeserializeOwned>(url: &str) -> Vec<T> {
    let text = reqwest::get(format!("{url}/sandbox/messages"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

async fn sandbox_post(url: &str, path: &str, body: Value) {
    let reply = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::NO_CONTENT);
}

/// The targets by the documented control-group hash.
fn split(code: &str, players: &[u64], pct: u8) -> (BTreeSet<u64>, BTreeSet<u64>) {
    players.iter().copied().partition(|&p| !in_control_group(code, p, pct))
}

/// An SMS campaign through the Twilio sandbox: each target's number gets
/// the text once from the configured sender; the control group and the
/// opted-out get nothing; two 503s are retried; a number Twilio refuses
/// (21211, not E.164) is recorded as failed after one refusal.
#[tokio::test]
async fn sms_campaign_end_to_end_through_the_twilio_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = TwilioSandbox::start(ACCOUNT_SID, AUTH_TOKEN, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let config = ServeConfig {
        twilio_api_url: Some(sandbox.url()),
        twilio_account_sid: Some(ACCOUNT_SID.into()),
        twilio_auth_token: Some(AUTH_TOKEN.into()),
        campaign_sms_from: Some(SMS_FROM.into()),
        ..support::config(dir.path())
    };
    let w = World::new_with(config).await;
    let s = &w.server;
    let admin = w.admin.clone();
    let marketing = token_of(s, &admin, "marketing").await;
    // Email has no provider here: an email campaign is refused.
    let body = json!({"name": "Mail", "segment": "everyone", "channel": "email", "message": "Hi",
        "start_at_ms": T0 + 60_000});
    let refused = op(s, &marketing, Method::PUT, "/operator/v1/campaigns/mail", Some(body)).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::BAD_REQUEST, "channel_unavailable".into())
    );

    let mut phones = BTreeMap::new();
    for n in 1..=8 {
        let phone = format!("+35699000{n:03}");
        phones.insert(register(s, &admin, n, &phone, true, false).await, phone);
    }
    let eligible: Vec<u64> = phones.keys().copied().collect();
    let opted_out = register(s, &admin, 9, "+35699000009", false, true).await;
    // A number the profile takes (+ and 8 to 15 digits) but that is not
    // E.164 (a country code cannot start with 0): Twilio answers 21211.
    let bad = register(s, &admin, 10, "+0356990010", true, false).await;
    let code = "sms";
    let (targets, control) = split(code, &eligible, 30);
    assert!(!targets.is_empty() && !control.is_empty(), "{targets:?} {control:?}");
    assert!(!in_control_group(code, bad, 30), "the bad number must be a target");
    campaign(s, &marketing, code, "sms", 30).await;

    sandbox_post(&sandbox.url(), "/sandbox/faults", json!({"errors": 2})).await;
    s.advance(60_000);
    let done = settled(s, &admin, code, targets.len(), 1).await;
    assert_eq!(done["targets"], targets.len() + 1);
    assert_eq!(done["controls"], control.len());
    // The opted-out and the World's player without a profile.
    assert_eq!(done["skipped"], 2);

    let messages: Vec<Sms> = sandbox_get(&sandbox.url()).await;
    let got: BTreeSet<&str> = messages.iter().map(|m| m.to.as_str()).collect();
    let want: BTreeSet<&str> = targets.iter().map(|p| phones[p].as_str()).collect();
    assert_eq!(got, want);
    assert_eq!(messages.len(), targets.len(), "one message each");
    assert!(messages.iter().all(|m| m.from == SMS_FROM
        && m.body == "A gift of 5 EUR awaits you"
        && m.account_sid == ACCOUNT_SID
        && m.sid.starts_with("SM")));
    let page = get(s, &admin, &format!("/operator/v1/campaigns/{code}/targets?limit=1000")).await;
    let states: BTreeMap<u64, String> = page["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["player"].as_u64().unwrap(), t["state"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(states[&bad], "failed");
    assert_eq!(states[&opted_out], "skipped");
    for p in &control {
        assert_eq!(states[p], "control");
    }
    for p in &targets {
        assert_eq!(states[p], "delivered");
    }
    // Refused, not retried: a while later nothing more was sent.
    tokio::time::sleep(crm::outreach::RETRY_BASE * 3).await;
    assert_eq!(sandbox_get::<Sms>(&sandbox.url()).await.len(), targets.len());
    assert_eq!(
        get(s, &admin, &format!("/operator/v1/campaigns/{code}")).await["failed"],
        1
    );
    sandbox.stop().await;
}

async fn set_token(s: &TestServer, token: &str, player: u64, body: Value) -> Reply {
    let path = format!("/operator/v1/players/{player}/push-token");
    op(s, token, Method::PUT, &path, Some(body)).await
}

/// The push-token route: kept in the profile, cleared with null, its
/// errors and roles; then a push campaign through the FCM sandbox: each
/// target's device gets the campaign's title and text with its key; the
/// control group, the opted-out and a player without a device get
/// nothing; a 503 is retried; an uninstalled app (404 UNREGISTERED) is
/// recorded as failed.
#[tokio::test]
async fn push_campaign_end_to_end_through_the_fcm_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = FcmSandbox::start(PROJECT, ACCESS_TOKEN, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let config = ServeConfig {
        fcm_api_url: Some(sandbox.url()),
        fcm_project_id: Some(PROJECT.into()),
        fcm_access_token: Some(ACCESS_TOKEN.into()),
        ..support::config(dir.path())
    };
    let w = World::new_with(config).await;
    let s = &w.server;
    let admin = w.admin.clone();
    let marketing = token_of(s, &admin, "marketing").await;
    let support_token = token_of(s, &admin, "support").await;

    let mut devices = BTreeMap::new();
    for n in 1..=8 {
        let player = register(s, &admin, n, &format!("+35699000{n:03}"), false, true).await;
        let device = format!("fcm-device-{n}:APA91b_x-y.z");
        let set = set_token(s, &support_token, player, json!({"token": device})).await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.text());
        assert_eq!(
            set.json(),
            json!({"player": player, "registered": true, "consent": true})
        );
        devices.insert(player, device);
    }
    let eligible: Vec<u64> = devices.keys().copied().collect();
    // The token is in the sealed profile.
    let profile = get(s, &admin, &format!("/operator/v1/players/{}/profile", eligible[0])).await;
    assert_eq!(profile["profile"]["push_token"], devices[&eligible[0]].as_str());
    assert_eq!(profile["profile"]["marketing"]["push"], true);

    // Consents but no device (set, then cleared); a device but no consent.
    let no_device = register(s, &admin, 9, "+35699000009", true, true).await;
    let set = set_token(s, &support_token, no_device, json!({"token": "short-lived"})).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    let cleared = set_token(s, &support_token, no_device, json!({"token": null})).await;
    assert_eq!(cleared.json()["registered"], false);
    let profile = get(s, &admin, &format!("/operator/v1/players/{no_device}/profile")).await;
    assert_eq!(profile["profile"].get("push_token"), None);
    let opted_out = register(s, &admin, 10, "+35699000010", true, false).await;
    let set = set_token(s, &support_token, opted_out, json!({"token": "device-opted-out"})).await;
    assert_eq!(
        set.json(),
        json!({"player": opted_out, "registered": true, "consent": false})
    );
    // An app uninstalled since: FCM answers 404 UNREGISTERED.
    let gone = register(s, &admin, 11, "+35699000011", false, true).await;
    assert_eq!(
        set_token(s, &support_token, gone, json!({"token": "device-gone"}))
            .await
            .status,
        StatusCode::OK
    );
    sandbox_post(
        &sandbox.url(),
        "/sandbox/unregistered",
        json!({"tokens": ["device-gone"]}),
    )
    .await;

    // The route's errors: nothing changes.
    for (body, status, code) in [
        (
            json!({"token": "has space"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (json!({"token": ""}), StatusCode::BAD_REQUEST, "invalid_request"),
        (
            json!({"token": "a".repeat(1025)}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (json!({"device": "x"}), StatusCode::BAD_REQUEST, "invalid_request"),
    ] {
        let reply = set_token(s, &support_token, gone, body).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code.to_owned()),
            "{}",
            reply.text()
        );
    }
    let reply = set_token(s, &support_token, 999_999, json!({"token": "x"})).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text());
    // The World's player has no profile to keep a token in.
    let reply = set_token(s, &support_token, w.player, json!({"token": "x"})).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::CONFLICT, "no_profile".into())
    );
    let reply = set_token(s, &marketing, gone, json!({"token": "x"})).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let profile = get(s, &admin, &format!("/operator/v1/players/{gone}/profile")).await;
    assert_eq!(profile["profile"]["push_token"], "device-gone");

    let code = "push";
    let (targets, control) = split(code, &eligible, 30);
    assert!(!targets.is_empty() && !control.is_empty(), "{targets:?} {control:?}");
    assert!(
        !in_control_group(code, gone, 30),
        "the uninstalled app must be a target"
    );
    campaign(s, &marketing, code, "push", 30).await;
    sandbox_post(&sandbox.url(), "/sandbox/faults", json!({"errors": 1})).await;
    s.advance(60_000);
    let done = settled(s, &admin, code, targets.len(), 1).await;
    assert_eq!(done["targets"], targets.len() + 1);
    assert_eq!(done["controls"], control.len());
    // No device, no consent, and the World's player without a profile.
    assert_eq!(done["skipped"], 3);

    let messages: Vec<Push> = sandbox_get(&sandbox.url()).await;
    let got: BTreeSet<&str> = messages.iter().map(|m| m.token.as_str()).collect();
    let want: BTreeSet<&str> = targets.iter().map(|p| devices[p].as_str()).collect();
    assert_eq!(got, want);
    assert_eq!(messages.len(), targets.len(), "one message each");
    for m in &messages {
        let player = devices.iter().find(|(_, d)| **d == m.token).map(|(p, _)| *p).unwrap();
        assert_eq!(
            (m.title.as_str(), m.body.as_str()),
            ("Spring", "A gift of 5 EUR awaits you")
        );
        assert_eq!(m.data.get("croupier_key"), Some(&format!("{code}:{player}")));
        assert!(m.name.starts_with(&format!("projects/{PROJECT}/messages/")));
    }
    let page = get(s, &admin, &format!("/operator/v1/campaigns/{code}/targets?limit=1000")).await;
    let states: BTreeMap<u64, String> = page["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["player"].as_u64().unwrap(), t["state"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(states[&gone], "failed");
    assert_eq!(states[&no_device], "skipped");
    assert_eq!(states[&opted_out], "skipped");
    tokio::time::sleep(crm::outreach::RETRY_BASE * 3).await;
    assert_eq!(sandbox_get::<Push>(&sandbox.url()).await.len(), targets.len());
    sandbox.stop().await;
}
