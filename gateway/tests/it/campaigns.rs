//! Segments and campaigns over the operator API: segments journaled and
//! kept by the read model with live members (behavioural rules, profile
//! rules, the OR group, paging); campaigns run end to end through the
//! SendGrid sandbox on loopback (messages received there, the control
//! group getting nothing, opted-out, self-excluded and timed-out players
//! never messaged, a provider outage retried, nothing lost or sent twice
//! across a restart); a registration-triggered bonus; uplift checked
//! against a hand computation; every route's error paths and roles.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use crm::notify::sandbox::{Received, Sandbox};
use engine::bonus::in_control_group;
use gateway::config::ServeConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{self, Reply, T0, TestServer, World};

const API_KEY: &str = "SG.test-key";
const FROM: &str = "offers@casino.example";

fn config(dir: &Path, sandbox: &Sandbox) -> ServeConfig {
    ServeConfig {
        sendgrid_api_url: Some(sandbox.url()),
        sendgrid_api_key: Some(API_KEY.into()),
        campaign_from_email: Some(FROM.into()),
        ..support::config(dir)
    }
}

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

/// Registers an MT player with a profile, funded with `deposit` EUR;
/// returns the player.
async fn register(
    s: &TestServer,
    admin: &str,
    n: u32,
    country: &str,
    born: &str,
    email_ok: bool,
    deposit: &str,
) -> u64 {
    let profile = json!({
        "name": format!("Player {n}"),
        "email": format!("p{n}@example.com"),
        "phone": format!("+35699000{n:03}"),
        "date_of_birth": born,
        "address": {"line": "1 Main Street", "city": "Valletta", "postcode": format!("VLT {n}")},
        "country": country,
        "language": "en",
        "marketing": {"email": email_ok, "sms": false, "phone": false, "post": false}
    });
    let body = json!({"currency": "EUR", "jurisdiction": "MT", "profile": profile});
    let made = op(s, admin, Method::POST, "/operator/v1/registrations", Some(body)).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let player = made.json()["player"].as_u64().unwrap();
    deposit_to(s, admin, player, &format!("first-{player}"), deposit).await;
    player
}

async fn deposit_to(s: &TestServer, admin: &str, player: u64, id: &str, amount: &str) {
    let path = format!("/operator/v1/players/{player}/deposits");
    let body = json!({"deposit_id": id, "currency": "EUR", "amount": amount});
    let paid = op(s, admin, Method::POST, &path, Some(body)).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.text());
}

async fn put(s: &TestServer, token: &str, path: &str, body: Value) -> Reply {
    op(s, token, Method::PUT, path, Some(body)).await
}

async fn members(s: &TestServer, token: &str, segment: &str) -> (u64, Vec<u64>) {
    let page = get(s, token, &format!("/operator/v1/segments/{segment}/members?limit=1000")).await;
    let ids = page["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_u64().unwrap())
        .collect();
    (page["count"].as_u64().unwrap(), ids)
}

/// Polls `get` (at most 20 s) until `done` holds for its value.
async fn wait_until<F, Fut, T: std::fmt::Debug>(what: &str, mut get: F, done: impl Fn(&T) -> bool) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let value = get().await;
        if done(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: still {value:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn received(sandbox_url: &str) -> Vec<Received> {
    let text = reqwest::get(format!("{sandbox_url}/sandbox/messages"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Makes the sandbox's next `errors` sends answer 503.
async fn faults(sandbox_url: &str, errors: u64) {
    let reply = reqwest::Client::new()
        .post(format!("{sandbox_url}/sandbox/faults"))
        .header("content-type", "application/json")
        .body(json!({"errors": errors}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::NO_CONTENT);
}

async fn bonus_count(s: &TestServer, admin: &str, player: u64) -> usize {
    let bonuses = get(s, admin, &format!("/operator/v1/players/{player}/bonuses")).await;
    bonuses["bonuses"].as_array().unwrap().len()
}

fn gift() -> Value {
    json!({"name": "Free five", "kind": "no_deposit", "currency": "EUR", "amount": "5.00",
        "wagering_x": 1, "expiry_days": 30})
}

#[tokio::test]
async fn segments_routes_members_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(API_KEY, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let w = World::new_with(config(dir.path(), &sandbox)).await;
    let (s, admin) = (&w.server, w.admin.as_str());
    let marketing = token_of(s, admin, "marketing").await;
    let support_token = token_of(s, admin, "support").await;
    let reader = token_of(s, admin, "read-only").await;
    // World's player: no profile, 100.00 deposited. Ages on 2026-01-01.
    let a = register(s, admin, 1, "GB", "1990-06-01", true, "50.00").await; // 35
    let b = register(s, admin, 2, "MT", "2000-03-01", false, "20.00").await; // 25
    let c = register(s, admin, 3, "GB", "1985-01-01", true, "5.00").await; // 41

    let depositors = json!({"name": "Depositors", "all": [
        {"deposits": {"currency": "EUR", "window_days": 30, "min_total": "10.00", "min_count": 1}}]});
    let made = put(s, &marketing, "/operator/v1/segments/depositors", depositors).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    let made = made.json();
    assert_eq!(made["code"], "depositors");
    assert_eq!(made["all"][0]["deposits"]["min_total"], "10.00");
    assert_eq!(members(s, &reader, "depositors").await, (3, vec![w.player, a, b]));

    // Country and age: the profiles' plain columns, filled from the vault.
    let gb = json!({"name": "GB adults", "all": [{"country": ["GB"]}, {"age": {"min": 30, "max": 40}}]});
    assert_eq!(
        put(s, admin, "/operator/v1/segments/gb", gb).await.status,
        StatusCode::OK
    );
    assert_eq!(members(s, admin, "gb").await, (1, vec![a]));

    // The OR group: young, or big depositors.
    let either = json!({"name": "Young or big", "any": [{"age": {"min": 18, "max": 29}},
        {"deposits": {"currency": "EUR", "window_days": 30, "min_total": "80.00"}}]});
    assert_eq!(
        put(s, admin, "/operator/v1/segments/either", either).await.status,
        StatusCode::OK
    );
    assert_eq!(members(s, admin, "either").await, (2, vec![w.player, b]));

    // Last activity, GGR (nobody played: 0 for everyone), RG history.
    let quiet = json!({"name": "Quiet", "all": [{"last_activity": {"min": 0, "max": 1}},
        {"ggr": {"currency": "EUR", "window_days": 7, "max": "0.00"}}, {"rg_status": "never_restricted"}]});
    assert_eq!(
        put(s, admin, "/operator/v1/segments/quiet", quiet).await.status,
        StatusCode::OK
    );
    assert_eq!(members(s, admin, "quiet").await.0, 4);
    let excluded = json!({"until_ms": T0 + 86_400_000});
    let path = format!("/operator/v1/players/{c}/self-exclusion");
    let done = op(s, admin, Method::POST, &path, Some(excluded)).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert_eq!(members(s, admin, "quiet").await, (3, vec![w.player, a, b]));
    let vip = json!({"name": "No tier", "all": [{"vip_tier": {"none_too": true}}]});
    assert_eq!(
        put(s, admin, "/operator/v1/segments/untiered", vip).await.status,
        StatusCode::OK
    );
    assert_eq!(members(s, admin, "untiered").await.0, 4);

    // Paging, with the count on every page.
    let page = get(s, admin, "/operator/v1/segments/depositors/members?limit=2").await;
    assert_eq!(page["count"], 3);
    assert_eq!(page["members"], json!([w.player, a]));
    assert_eq!(page["next_after"], json!(a));
    let path = format!("/operator/v1/segments/depositors/members?limit=2&after={a}");
    let page = get(s, admin, &path).await;
    assert_eq!(
        (page["members"].clone(), page["next_after"].clone()),
        (json!([b]), Value::Null)
    );

    // Listing and showing.
    let list = get(s, &support_token, "/operator/v1/segments").await;
    let codes: Vec<&str> = list["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["depositors", "either", "gb", "quiet", "untiered"]);
    let shown = get(s, &reader, "/operator/v1/segments/gb").await;
    assert_eq!(
        shown["all"],
        json!([{"country": ["GB"]}, {"age": {"min": 30, "max": 40}}])
    );

    // Errors change nothing.
    for (body, code) in [
        (json!({"name": "x", "all": [{"country": ["gb"]}]}), "invalid_segment"),
        (json!({"name": "x", "all": [{"country": []}]}), "invalid_segment"),
        (
            json!({"name": "x", "all": [{"deposits": {"currency": "EUR", "window_days": 0}}]}),
            "invalid_segment",
        ),
        (
            json!({"name": "x", "all": [{"deposits": {"currency": "EUR", "window_days": 5,
            "min_total": "9.00", "max_total": "1.00"}}]}),
            "invalid_segment",
        ),
        (
            json!({"name": "x", "all": [{"ggr": {"currency": "EUR", "window_days": 5, "min": "2", "max": "1"}}]}),
            "invalid_segment",
        ),
        (
            json!({"name": "x", "all": [{"age": {"min": 40, "max": 30}}]}),
            "invalid_segment",
        ),
        (
            json!({"name": "x", "all": [{"game_types": {"types": ["bingo"], "window_days": 5}}]}),
            "invalid_segment",
        ),
        (json!({"name": "x", "all": [{"vip_tier": {}}]}), "invalid_segment"),
        (
            json!({"name": "x", "all": [{"rg_status": "sometimes"}]}),
            "invalid_segment",
        ),
        (json!({"name": "", "all": []}), "invalid_segment"),
        (
            json!({"name": "x", "all": [{"deposits": {"currency": "XXX", "window_days": 5}}]}),
            "unknown_currency",
        ),
        (json!({"name": "x", "all": [{"height": 3}]}), "invalid_request"),
        (json!({"name": "x", "all": [], "extra": 1}), "invalid_request"),
    ] {
        let reply = put(s, admin, "/operator/v1/segments/gb", body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {}", reply.text());
        assert_eq!(reply.code(), code, "{body}");
    }
    let many: Vec<Value> = (0..33).map(|_| json!({"rg_status": "never_restricted"})).collect();
    let reply = put(
        s,
        admin,
        "/operator/v1/segments/many",
        json!({"name": "x", "all": many}),
    )
    .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "invalid_segment".into())
    );
    assert_eq!(get(s, admin, "/operator/v1/segments/gb").await["all"], shown["all"]);
    let forbidden = put(s, &support_token, "/operator/v1/segments/gb", json!({"name": "x"})).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let missing = op(s, admin, Method::GET, "/operator/v1/segments/nope", None).await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::NOT_FOUND, "unknown_segment".into())
    );
    let missing = op(s, admin, Method::GET, "/operator/v1/segments/nope/members", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let bad = op(s, admin, Method::GET, "/operator/v1/segments/gb/members?limit=0", None).await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    let bad = op(s, admin, Method::GET, "/operator/v1/segments/gb/members?page=2", None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    sandbox.stop().await;
}

/// A scheduled email campaign through the SendGrid sandbox: members
/// split deterministically into targets and a control group, the
/// suppressed skipped; two provider outages retried; each target gets the
/// bonus and one message; a restart with sends pending loses and repeats
/// nothing; uplift matches the hand computation.
#[tokio::test]
async fn campaign_end_to_end_through_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(API_KEY, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let w = World::new_with(config(dir.path(), &sandbox)).await;
    let s = &w.server;
    let admin = w.admin.clone();
    let marketing = token_of(s, &admin, "marketing").await;
    let mut eligible = Vec::new();
    for n in 1..=10 {
        eligible.push(register(s, &admin, n, "MT", "1990-01-01", true, "10.00").await);
    }
    let opted_out = register(s, &admin, 11, "MT", "1990-01-01", false, "10.00").await;
    let excluded = register(s, &admin, 12, "MT", "1990-01-01", true, "10.00").await;
    let timed_out = register(s, &admin, 13, "MT", "1990-01-01", true, "10.00").await;
    for (player, route, until) in [
        (excluded, "self-exclusion", T0 + 30 * 86_400_000),
        (timed_out, "time-out", T0 + 86_400_000),
    ] {
        let path = format!("/operator/v1/players/{player}/{route}");
        let done = op(s, &admin, Method::POST, &path, Some(json!({"until_ms": until}))).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    }
    let template = put(s, &marketing, "/operator/v1/bonus-templates/gift", gift()).await;
    assert_eq!(template.status, StatusCode::OK, "{}", template.text());
    // Every depositor: the suppressed are members too, and skipped.
    let segment = json!({"name": "Everyone", "all": [
        {"deposits": {"currency": "EUR", "window_days": 30, "min_total": "1.00"}}]});
    assert_eq!(
        put(s, &marketing, "/operator/v1/segments/everyone", segment)
            .await
            .status,
        StatusCode::OK
    );
    let start_at = T0 + 60_000;
    let body = json!({"name": "Spring", "segment": "everyone", "offer": "gift", "channel": "email",
        "message": "A gift of 5 EUR awaits you", "start_at_ms": start_at, "control_pct": 40});
    let made = put(s, &marketing, "/operator/v1/campaigns/spring", body).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    assert_eq!(made.json()["launched_seq"], Value::Null);

    // The control group by the documented hash: the test's hand split.
    let control: BTreeSet<u64> = eligible
        .iter()
        .copied()
        .filter(|&p| in_control_group("spring", p, 40))
        .collect();
    let targets: BTreeSet<u64> = eligible.iter().copied().filter(|p| !control.contains(p)).collect();
    assert!(!control.is_empty() && !targets.is_empty(), "{control:?} {targets:?}");

    // Nothing before the start; the provider down for the first two sends.
    faults(&sandbox.url(), 2).await;
    tokio::time::sleep(crm::outreach::TICK * 3).await;
    assert_eq!(get(s, &admin, "/operator/v1/campaigns/spring").await["targets"], 0);
    s.advance(60_000);
    let done = wait_until(
        "delivered",
        || get(s, &admin, "/operator/v1/campaigns/spring"),
        |c| c["delivered"].as_u64() == Some(targets.len() as u64),
    )
    .await;
    assert_eq!(done["targets"], targets.len());
    assert_eq!(done["controls"], control.len());
    // Skipped: the opted-out, the excluded, the timed out, and the World's
    // player without a profile (no address, no consent).
    assert_eq!(done["skipped"], 4);
    assert_eq!(done["failed"], 0);
    assert!(done["launched_seq"].as_u64().is_some());

    let messages = received(&sandbox.url()).await;
    let keys: BTreeSet<String> = messages.iter().map(|m| m.key.clone().unwrap()).collect();
    let expected: BTreeSet<String> = targets.iter().map(|p| format!("spring:{p}")).collect();
    assert_eq!(keys, expected);
    assert_eq!(messages.len(), targets.len(), "one message each");
    assert!(
        messages
            .iter()
            .all(|m| m.from == FROM && m.subject == "A gift of 5 EUR awaits you")
    );
    for never in [opted_out, excluded, timed_out] {
        assert!(
            !messages
                .iter()
                .any(|m| m.to == format!("p{}@example.com", never - w.player))
        );
    }
    for &p in &targets {
        assert_eq!(bonus_count(s, &admin, p).await, 1, "target {p}");
    }
    for &p in control.iter().chain([opted_out, excluded, timed_out].iter()) {
        assert_eq!(bonus_count(s, &admin, p).await, 0, "not a target: {p}");
    }
    let page = get(s, &admin, "/operator/v1/campaigns/spring/targets?limit=1000").await;
    let states: Vec<(u64, String)> = page["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["player"].as_u64().unwrap(), t["state"].as_str().unwrap().to_owned()))
        .collect();
    for (player, state) in &states {
        let want = if targets.contains(player) {
            "delivered"
        } else if control.contains(player) {
            "control"
        } else {
            "skipped"
        };
        assert_eq!(state, want, "player {player}");
    }
    assert_eq!(states.len(), 14);

    // Uplift: after the launch, target t1 deposits 30.00 and t2 20.00,
    // control c1 deposits 12.00; t1 bets 8.00 and wins 3.00 (GGR 5.00).
    s.advance(1_000);
    let (t1, t2) = (
        *targets.iter().next().unwrap(),
        *targets.iter().nth(1).unwrap_or(targets.iter().next().unwrap()),
    );
    let c1 = *control.iter().next().unwrap();
    deposit_to(s, &admin, t1, "after-t1", "30.00").await;
    if t2 != t1 {
        deposit_to(s, &admin, t2, "after-t2", "20.00").await;
    }
    deposit_to(s, &admin, c1, "after-c1", "12.00").await;
    let session = json!({"player": t1, "currency": "EUR", "aggregator": w.aggregator.id, "ttl_ms": 86_400_000});
    let issued = op(s, &admin, Method::POST, "/operator/v1/sessions", Some(session)).await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text());
    let token = issued.json()["token"].as_str().unwrap().to_owned();
    for (kind, id, amount) in [("bet", "u-bet", "8.00"), ("win", "u-win", "3.00")] {
        let body = json!({"token": token, "transaction_id": id, "round_id": "u-round", "game": "slots",
            "currency": "EUR", "amount": amount});
        let reply = w.wallet(s.h1(), kind, body).await;
        assert_eq!(reply.status, StatusCode::OK, "{kind}: {}", reply.text());
    }
    let uplift = get(s, &marketing, "/operator/v1/campaigns/spring/uplift").await;
    // By hand, minor units: targets deposit 3000 (+ 2000 if t2 is another
    // player) over targets.len() players; GGR 500; control 1200 over
    // control.len().
    let n_t = targets.len() as i64;
    let n_c = control.len() as i64;
    let deposits_t = 3000 + if t2 != t1 { 2000 } else { 0 };
    let eur = |minor: i64| format!("{}.{:02}", minor / 100, minor % 100);
    assert_eq!(uplift["currency"], "EUR");
    assert_eq!(uplift["targets"]["players"], n_t);
    assert_eq!(uplift["targets"]["deposits"], eur(deposits_t));
    assert_eq!(uplift["targets"]["ggr"], "5.00");
    assert_eq!(uplift["targets"]["deposits_per_player"], eur(deposits_t / n_t));
    assert_eq!(uplift["targets"]["ggr_per_player"], eur(500 / n_t));
    assert_eq!(uplift["control"]["players"], n_c);
    assert_eq!(uplift["control"]["deposits"], "12.00");
    assert_eq!(uplift["control"]["deposits_per_player"], eur(1200 / n_c));
    assert_eq!(uplift["control"]["ggr"], "0.00");
    let diff = deposits_t / n_t - 1200 / n_c;
    let signed = |minor: i64| {
        if minor < 0 {
            format!("-{}", eur(-minor))
        } else {
            eur(minor)
        }
    };
    assert_eq!(uplift["deposits_uplift_per_player"], signed(diff));
    assert_eq!(uplift["ggr_uplift_per_player"], signed(500 / n_t));

    // A second campaign with the provider down throughout: its sends stay
    // pending; after a restart (provider back) each goes exactly once.
    faults(&sandbox.url(), 1_000_000).await;
    let body = json!({"name": "Autumn", "segment": "everyone", "channel": "email",
        "message": "Autumn news", "start_at_ms": s.now()});
    assert_eq!(
        put(s, &marketing, "/operator/v1/campaigns/autumn", body).await.status,
        StatusCode::OK
    );
    let launched = wait_until(
        "launched",
        || get(s, &admin, "/operator/v1/campaigns/autumn"),
        |c| c["launched_seq"].as_u64().is_some(),
    )
    .await;
    assert_eq!(launched["delivered"], 0);
    let pending = launched["targets"].as_u64().unwrap();
    assert!(pending > 0);
    let clock = s.clock.clone();
    let World { server, .. } = w;
    server.stop().await;
    faults(&sandbox.url(), 0).await;
    let s = TestServer::start_at(config(dir.path(), &sandbox), clock).await;
    let done = wait_until(
        "delivered after the restart",
        || get(&s, &admin, "/operator/v1/campaigns/autumn"),
        |c| c["delivered"].as_u64() == Some(pending),
    )
    .await;
    assert_eq!(done["failed"], 0);
    let autumn: Vec<Received> = received(&sandbox.url())
        .await
        .into_iter()
        .filter(|m| m.subject == "Autumn news")
        .collect();
    let unique: BTreeSet<_> = autumn.iter().map(|m| m.key.clone()).collect();
    assert_eq!((autumn.len() as u64, unique.len() as u64), (pending, pending));
    // The spring campaign was not sent again.
    let spring = received(&sandbox.url())
        .await
        .into_iter()
        .filter(|m| m.subject != "Autumn news")
        .count();
    assert_eq!(spring, targets.len());
    s.stop().await;
    sandbox.stop().await;
}

/// A registration-triggered bonus (channel none), and every campaign
/// route's errors and roles.
#[tokio::test]
async fn triggered_bonus_and_campaign_errors() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(API_KEY, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let w = World::new_with(config(dir.path(), &sandbox)).await;
    let (s, admin) = (&w.server, w.admin.as_str());
    let support_token = token_of(s, admin, "support").await;
    let reader = token_of(s, admin, "read-only").await;
    assert_eq!(
        put(s, admin, "/operator/v1/bonus-templates/gift", gift()).await.status,
        StatusCode::OK
    );
    let matcher = json!({"name": "Match", "kind": "deposit_match", "currency": "EUR", "percent": 100,
        "cap": "50.00", "wagering_x": 1, "expiry_days": 30});
    assert_eq!(
        put(s, admin, "/operator/v1/bonus-templates/match", matcher)
            .await
            .status,
        StatusCode::OK
    );
    let segment = json!({"name": "GB", "all": [{"country": ["GB"]}]});
    assert_eq!(
        put(s, admin, "/operator/v1/segments/gb", segment).await.status,
        StatusCode::OK
    );
    let body = json!({"name": "Welcome", "segment": "gb", "offer": "gift", "channel": "none",
        "message": "Welcome", "trigger": "registration"});
    let made = put(s, admin, "/operator/v1/campaigns/welcome", body.clone()).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    assert_eq!(
        (made.json()["trigger"].clone(), made.json()["channel"].clone()),
        (json!("registration"), json!("none"))
    );

    let gb = register(s, admin, 1, "GB", "1990-01-01", false, "10.00").await;
    let mt = register(s, admin, 2, "MT", "1990-01-01", true, "10.00").await;
    let done = wait_until(
        "granted",
        || get(s, admin, "/operator/v1/campaigns/welcome"),
        |c| c["delivered"] == 1 && c["skipped"] == 1,
    )
    .await;
    assert_eq!(done["targets"], 1);
    assert_eq!(bonus_count(s, admin, gb).await, 1);
    assert_eq!(bonus_count(s, admin, mt).await, 0);
    assert!(received(&sandbox.url()).await.is_empty(), "channel none sends nothing");

    // Errors: each a 4xx that records nothing.
    let with = |key: &str, value: Value| {
        let mut b = body.clone();
        b[key] = value;
        b
    };
    let without = |key: &str| {
        let mut b = body.clone();
        b.as_object_mut().unwrap().remove(key);
        b
    };
    for (bad, status, code) in [
        (with("segment", json!("nope")), StatusCode::NOT_FOUND, "unknown_segment"),
        (with("offer", json!("nope")), StatusCode::NOT_FOUND, "unknown_template"),
        (
            with("offer", json!("match")),
            StatusCode::BAD_REQUEST,
            "invalid_campaign",
        ),
        (
            with("channel", json!("sms")),
            StatusCode::BAD_REQUEST,
            "channel_unavailable",
        ),
        (
            with("channel", json!("fax")),
            StatusCode::BAD_REQUEST,
            "invalid_campaign",
        ),
        (
            with("control_pct", json!(95)),
            StatusCode::BAD_REQUEST,
            "invalid_campaign",
        ),
        (
            with("start_at_ms", json!(T0)),
            StatusCode::BAD_REQUEST,
            "invalid_campaign",
        ),
        (
            with("trigger", json!("login")),
            StatusCode::BAD_REQUEST,
            "invalid_campaign",
        ),
        (without("trigger"), StatusCode::BAD_REQUEST, "invalid_campaign"),
        (without("offer"), StatusCode::BAD_REQUEST, "invalid_campaign"),
        (with("message", json!("")), StatusCode::BAD_REQUEST, "invalid_campaign"),
        (with("colour", json!("red")), StatusCode::BAD_REQUEST, "invalid_request"),
    ] {
        let reply = put(s, admin, "/operator/v1/campaigns/other", bad.clone()).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code.to_owned()),
            "{bad}: {}",
            reply.text()
        );
    }
    let forbidden = put(s, &support_token, "/operator/v1/campaigns/other", body.clone()).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let list = get(s, &reader, "/operator/v1/campaigns").await;
    assert_eq!(
        list["campaigns"].as_array().unwrap().len(),
        1,
        "nothing refused was recorded"
    );
    for path in [
        "/operator/v1/campaigns/other",
        "/operator/v1/campaigns/other/uplift",
        "/operator/v1/campaigns/other/targets",
    ] {
        let missing = op(s, admin, Method::GET, path, None).await;
        assert_eq!(
            (missing.status, missing.code()),
            (StatusCode::NOT_FOUND, "unknown_campaign".into()),
            "{path}"
        );
    }
    let bad = op(
        s,
        admin,
        Method::GET,
        "/operator/v1/campaigns/welcome/targets?limit=0",
        None,
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let bad = op(
        s,
        admin,
        Method::GET,
        "/operator/v1/campaigns/welcome/uplift?currency=XXX",
        None,
    )
    .await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "unknown_currency".into())
    );
    // A message-only campaign has no offer to take a currency from.
    let news = json!({"name": "News", "segment": "gb", "channel": "email", "message": "News",
        "start_at_ms": T0 + 86_400_000});
    assert_eq!(
        put(s, admin, "/operator/v1/campaigns/news", news).await.status,
        StatusCode::OK
    );
    let bad = op(s, admin, Method::GET, "/operator/v1/campaigns/news/uplift", None).await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    let fine = get(s, &reader, "/operator/v1/campaigns/news/uplift?currency=EUR").await;
    assert_eq!(
        (
            fine["targets"]["players"].clone(),
            fine["deposits_uplift_per_player"].clone()
        ),
        (json!(0), Value::Null)
    );
    sandbox.stop().await;
}

type Attributes = (Option<String>, Option<i32>, bool);

/// A player's plain marketing attributes in the server's read model:
/// (country, birth year, still owed), if it has the player yet.
fn attributes(dir: &Path, player: u64) -> Option<Attributes> {
    let c = readmodel::store::open_reader(&readmodel::store::path(dir)).unwrap();
    readmodel::profiles::attributes(&c, engine::PlayerId(player)).unwrap()
}

/// Waits until the read model (which follows the journal a moment
/// behind) shows `wanted` for `player`.
async fn attributes_become(dir: &Path, player: u64, wanted: (Option<&str>, Option<i32>, bool)) {
    let wanted = Some((wanted.0.map(str::to_owned), wanted.1, wanted.2));
    wait_until("attributes", || async { attributes(dir, player) }, |a| *a == wanted).await;
}

/// Country and age rules read the read model's plain columns: filled from
/// the vault once at start-up for players registered before (the
/// backfill), refilled after each profile change before a segment is
/// evaluated, blanked by an erasure.
#[tokio::test]
async fn country_and_age_rules_follow_profile_changes_erasure_and_the_backfill() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new_with(support::config(dir.path())).await;
    let a = register(&w.server, &w.admin, 1, "GB", "1990-06-01", true, "10.00").await; // 36 in 2026
    let b = register(&w.server, &w.admin, 2, "MT", "2000-03-01", true, "10.00").await; // 26
    // No segment evaluated yet: both owed, nothing in clear.
    attributes_become(dir.path(), a, (None, None, true)).await;
    attributes_become(dir.path(), b, (None, None, true)).await;
    // The start-up job fills them from the vault, with no segment asked.
    let w = w.restart(dir.path()).await;
    let (s, admin) = (&w.server, w.admin.as_str());
    attributes_become(dir.path(), a, (Some("GB"), Some(1990), false)).await;
    attributes_become(dir.path(), b, (Some("MT"), Some(2000), false)).await;
    assert_eq!(
        attributes(dir.path(), w.player),
        Some((None, None, false)),
        "no profile, nothing owed"
    );

    let mt = json!({"name": "MT 30s", "all": [{"country": ["MT"]}, {"age": {"min": 30, "max": 40}}]});
    assert_eq!(
        put(s, admin, "/operator/v1/segments/mt30", mt).await.status,
        StatusCode::OK
    );
    let gb = json!({"name": "GB", "all": [{"country": ["GB"]}]});
    assert_eq!(
        put(s, admin, "/operator/v1/segments/gb", gb).await.status,
        StatusCode::OK
    );
    assert_eq!(members(s, admin, "mt30").await, (0, vec![]));
    assert_eq!(members(s, admin, "gb").await, (1, vec![a]));

    // A move and a corrected birth date: the next evaluation sees both.
    let patch = |player: u64, body: Value| async move {
        let path = format!("/operator/v1/players/{player}/profile");
        let changed = op(s, admin, Method::PATCH, &path, Some(body)).await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    };
    patch(a, json!({"country": "MT"})).await;
    attributes_become(dir.path(), a, (None, None, true)).await;
    assert_eq!(members(s, admin, "mt30").await, (1, vec![a]));
    assert_eq!(members(s, admin, "gb").await, (0, vec![]));
    assert_eq!(attributes(dir.path(), a), Some((Some("MT".into()), Some(1990), false)));
    patch(b, json!({"date_of_birth": "1991-02-02"})).await;
    assert_eq!(members(s, admin, "mt30").await, (2, vec![a, b]));

    // Erasure blanks them for good.
    let path = format!("/operator/v1/players/{a}/erasure");
    let erased = op(s, admin, Method::POST, &path, Some(json!({"reason": "GDPR 9"}))).await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.text());
    assert_eq!(members(s, admin, "mt30").await, (1, vec![b]));
    assert_eq!(attributes(dir.path(), a), Some((None, None, false)));
}
