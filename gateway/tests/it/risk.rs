//! Risk end to end through the real server: crafted histories (deposits
//! structured below the threshold, a burst of deposits, deposits past the
//! cumulative threshold, a large win, a withdrawal with little play, made
//! through the operator, wallet and cashier routes, the cashier on its
//! Stripe sandbox) raise each rule's alert with its journal evidence; a
//! case is opened from them, assigned, annotated, acts on the player
//! through a journaled command, is resolved and exported; the metrics
//! count them. Rule settings change what is flagged; shared devices raise
//! the fraud score; bad input changes nothing.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use payments::sandbox::{Sandbox, SandboxConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Http, Reply, T0, TestServer, World};

/// A world (admin, aggregator, funded MT player) on a server whose cashier
/// pays out through the Stripe sandbox, with a compliance operator and a
/// read-only one.
struct Desk {
    w: World,
    _sandbox: Sandbox,
    compliance: String,
    compliance_id: u64,
    reader: String,
}

impl Desk {
    async fn start(dir: &std::path::Path) -> Desk {
        let clock = Arc::new(AtomicU64::new(T0));
        let read = clock.clone();
        let sandbox = Sandbox::start(
            SandboxConfig {
                secret_key: "sk_test_risk".into(),
                webhook_secret: "whsec_risk".into(),
                webhook_url: None,
                stall: Duration::from_millis(1_500),
                clock: Arc::new(move || read.load(Ordering::SeqCst)),
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .expect("the sandbox starts");
        let config = gateway::config::ServeConfig {
            stripe_api_url: Some(sandbox.url()),
            stripe_secret_key: Some("sk_test_risk".into()),
            stripe_webhook_secret: Some("whsec_risk".into()),
            cashier_tick_ms: 60_000,
            ..support::config(dir)
        };
        let w = World::on(TestServer::start_at(config, clock).await).await;
        let (compliance, compliance_id) = operator(&w, "aml-desk", "compliance").await;
        let (reader, _) = operator(&w, "auditor", "read-only").await;
        Desk {
            w,
            _sandbox: sandbox,
            compliance,
            compliance_id,
            reader,
        }
    }

    async fn op(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.w.server.op(self.w.server.h1(), token, method, path, body).await
    }

    async fn ok(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Value {
        let reply = self.op(token, method, path, body).await;
        assert!(reply.status.is_success(), "{path}: {} {}", reply.status, reply.text());
        reply.json()
    }

    async fn deposit(&self, player: u64, id: &str, amount: &str) -> u64 {
        let body = json!({"deposit_id": id, "currency": "EUR", "amount": amount});
        let path = format!("/operator/v1/players/{player}/deposits");
        self.ok(&self.w.admin, Method::POST, &path, Some(body)).await["transaction"]
            .as_u64()
            .unwrap()
    }

    async fn alerts(&self, query: &str) -> Vec<Value> {
        let path = format!("/operator/v1/risk/alerts?{query}");
        self.ok(&self.reader, Method::GET, &path, None).await["alerts"]
            .as_array()
            .unwrap()
            .clone()
    }
}

async fn operator(w: &World, name: &str, role: &str) -> (String, u64) {
    let made = w
        .server
        .op(
            w.server.h1(),
            &w.admin,
            Method::POST,
            "/operator/v1/operators",
            Some(json!({"name": name, "role": role})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let made = made.json();
    (
        made["token"].as_str().unwrap().to_owned(),
        made["operator"].as_u64().unwrap(),
    )
}

fn evidence(alert: &Value) -> Vec<(u64, String, String)> {
    alert["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["seq"].as_u64().unwrap(),
                e["kind"].as_str().unwrap().to_owned(),
                e["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn only<'a>(alerts: &'a [Value], rule: &str) -> &'a Value {
    let found: Vec<&Value> = alerts.iter().filter(|a| a["rule"] == rule).collect();
    assert_eq!(found.len(), 1, "{rule}: {alerts:?}");
    found[0]
}

#[tokio::test]
async fn crafted_histories_raise_each_rule_and_a_case_works_them_through_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let d = Desk::start(dir.path()).await;
    let (p, admin) = (d.w.player, d.w.admin.clone());
    // The world's player deposited 100.00 (dep-1). Due diligence lifts the
    // jurisdiction's block on deposits past EUR 2,000.
    let path = format!("/operator/v1/players/{p}/due-diligence");
    d.ok(
        &d.compliance,
        Method::POST,
        &path,
        Some(json!({"reason": "source of funds seen"})),
    )
    .await;
    assert_eq!(
        d.alerts("").await,
        Vec::<Value>::new(),
        "a first deposit of 100.00 is not suspicious"
    );

    // Three deposits of 1,950.00, just below the EUR 2,000 threshold: the
    // first crosses the cumulative threshold, the third is structuring.
    let s1 = d.deposit(p, "s-1", "1950.00").await;
    let s2 = d.deposit(p, "s-2", "1950.00").await;
    let s3 = d.deposit(p, "s-3", "1950.00").await;
    // A fifth deposit within the hour: velocity.
    let v1 = d.deposit(p, "v-1", "10.00").await;
    // A win of 2,500.00 (the threshold applies to winnings).
    assert_eq!(d.w.bet(Http::V1, "bet-1", "1.00", "r-1").await.status, StatusCode::OK);
    let win = d.w.win(Http::V1, "win-1", "2500.00", "r-1").await;
    assert_eq!(win.status, StatusCode::OK, "{}", win.text());
    let win_seq = win.json()["transaction"].as_u64().unwrap();
    // Then a withdrawal with 1.00 wagered on 5,960.00 deposited.
    let body = json!({"withdrawal_id": "w-1", "currency": "EUR", "amount": "5000.00"});
    let path = format!("/cashier/v1/players/{p}/withdrawals");
    d.ok(&admin, Method::POST, &path, Some(body)).await;

    let alerts = d.alerts(&format!("player={p}")).await;
    assert_eq!(alerts.len(), 5, "{alerts:#?}");
    let cumulative = only(&alerts, "cumulative_deposits");
    assert_eq!(cumulative["seq"], s1);
    assert_eq!(cumulative["amount"], "2050.00");
    let structuring = only(&alerts, "structuring");
    let in_band: Vec<(u64, String, String)> = [s1, s2, s3]
        .into_iter()
        .map(|seq| (seq, "deposit".to_owned(), "1950.00".to_owned()))
        .collect();
    assert_eq!(evidence(structuring), in_band);
    let velocity = only(&alerts, "deposit_velocity");
    assert_eq!(velocity["seq"], v1);
    assert_eq!(evidence(velocity).len(), 5);
    let large = only(&alerts, "large_win");
    assert_eq!(evidence(large), [(win_seq, "win".to_owned(), "2500.00".to_owned())]);
    let little = only(&alerts, "little_play");
    let kinds: Vec<String> = evidence(little).into_iter().map(|(_, kind, _)| kind).collect();
    assert_eq!(
        kinds,
        ["deposit"; 5]
            .into_iter()
            .chain(["withdrawal_request"])
            .collect::<Vec<_>>()
    );
    assert!(little["summary"].as_str().unwrap().contains("100 wagered"), "{little}");
    let one = d
        .ok(
            &d.reader,
            Method::GET,
            &format!("/operator/v1/risk/alerts/{}", little["id"]),
            None,
        )
        .await;
    assert_eq!(&one, little);

    // A case from two alerts: the queue no longer holds them.
    let ids = json!([structuring["id"], little["id"]]);
    let body = json!({"alerts": ids, "summary": "structured deposits withdrawn unplayed"});
    let refused = d
        .op(&d.reader, Method::POST, "/operator/v1/risk/cases", Some(body.clone()))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "read-only reads, never writes");
    let opened = d
        .op(
            &d.compliance,
            Method::POST,
            "/operator/v1/risk/cases",
            Some(body.clone()),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text());
    let case = opened.json()["case"]["id"].as_u64().unwrap();
    assert_eq!(d.alerts("state=queued").await.len(), 3);
    let again = d
        .op(&d.compliance, Method::POST, "/operator/v1/risk/cases", Some(body))
        .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, "alert_in_case".into())
    );

    let base = format!("/operator/v1/risk/cases/{case}");
    let assignee = json!({"operator": d.compliance_id});
    d.ok(&d.compliance, Method::PUT, &format!("{base}/assignee"), Some(assignee))
        .await;
    let note = json!({"text": "deposits from three cards in one evening"});
    d.ok(&d.compliance, Method::POST, &format!("{base}/notes"), Some(note))
        .await;
    let action = json!({"action": "suspend", "reason": "structuring under review"});
    let acted = d
        .ok(&d.compliance, Method::POST, &format!("{base}/actions"), Some(action))
        .await;
    assert_eq!(acted["case"]["assignee"], d.compliance_id);
    let notes = acted["notes"].as_array().unwrap();
    let kinds: Vec<&str> = notes.iter().map(|n| n["kind"].as_str().unwrap()).collect();
    // Opening the case held the player's withdrawals in the ledger (the
    // first action, with its journal record), then the suspension.
    assert_eq!(kinds, ["opened", "action", "assigned", "note", "action"]);
    assert!(
        notes[1]["text"]
            .as_str()
            .unwrap()
            .contains("held the player's withdrawals"),
        "{}",
        notes[1]
    );
    assert!(notes[1]["journal_seq"].as_u64().is_some());
    let action_seq = notes[4]["journal_seq"].as_u64().unwrap();
    // The action went through the ledger: the player is suspended, and the
    // audit trail has it under the compliance operator with the case.
    let blocked = d
        .op(
            &admin,
            Method::POST,
            &format!("/operator/v1/players/{p}/deposits"),
            Some(json!({"deposit_id": "after", "currency": "EUR", "amount": "5.00"})),
        )
        .await;
    assert_eq!(
        (blocked.status, blocked.code()),
        (StatusCode::FORBIDDEN, "player_blocked".into())
    );
    let audit = d
        .ok(&admin, Method::GET, &format!("/operator/v1/audit?player={p}"), None)
        .await;
    let entry = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["seq"] == action_seq)
        .unwrap_or_else(|| panic!("the action's record is audited: {audit}"));
    assert_eq!(entry["operator"], d.compliance_id);
    assert!(
        entry
            .to_string()
            .contains(&format!("risk case {case}: structuring under review")),
        "{entry}"
    );

    let resolution = json!({"outcome": "reported", "text": "SAR filed with the FIU"});
    let resolved = d
        .ok(
            &d.compliance,
            Method::POST,
            &format!("{base}/resolution"),
            Some(resolution),
        )
        .await;
    assert_eq!(
        (resolved["case"]["state"].clone(), resolved["case"]["outcome"].clone()),
        (json!("resolved"), json!("reported"))
    );
    let late = d
        .op(
            &d.compliance,
            Method::POST,
            &format!("{base}/notes"),
            Some(json!({"text": "late"})),
        )
        .await;
    assert_eq!(
        (late.status, late.code()),
        (StatusCode::CONFLICT, "case_resolved".into())
    );

    // The report: JSON and CSV (one row per journal record of evidence).
    let report = d.ok(&d.reader, Method::GET, &format!("{base}/export"), None).await;
    assert_eq!(report["report"], "suspicious_activity_report");
    assert_eq!(report["case_file"]["alerts"].as_array().unwrap().len(), 2);
    assert!(report["score"]["score"].as_u64().unwrap() >= 10, "{}", report["score"]);
    let csv = d
        .op(&d.reader, Method::GET, &format!("{base}/export?format=csv"), None)
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    let text = csv.text();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("case,player,alert,rule,currency,alert_seq,evidence_seq"));
    assert_eq!(lines.len(), 1 + 3 + 6, "{text}");
    assert!(
        lines[1].starts_with(&format!(
            "{case},{p},{},structuring,EUR,{s3},{s1},deposit,1950.00,",
            structuring["id"]
        )),
        "{text}"
    );

    assert_eq!(
        d.w.server.metric("risk_alerts_total{rule=\"structuring\"}").await,
        Some(1)
    );
    assert_eq!(
        d.w.server.metric("risk_alerts_total{rule=\"bonus_abuse\"}").await,
        Some(0)
    );
    assert_eq!(d.w.server.metric("risk_cases_open").await, Some(0));
}

#[tokio::test]
async fn rule_settings_change_what_is_flagged_and_shared_devices_raise_the_score() {
    let dir = tempfile::tempdir().unwrap();
    let d = Desk::start(dir.path()).await;
    let p = d.w.player;
    let rules = d.ok(&d.reader, Method::GET, "/operator/v1/risk/rules", None).await;
    let large = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "large_win")
        .unwrap()
        .clone();
    assert_eq!(large["amounts"][0], json!({"currency": "EUR", "amount": "2000.00"}));
    assert_eq!(large["set_by"], Value::Null, "shipped");

    let body = json!({"enabled": true, "window_minutes": 0, "count": 1, "percent": 0,
        "amounts": [{"currency": "EUR", "amount": "5000.00"}]});
    let set = d
        .ok(
            &d.compliance,
            Method::PUT,
            "/operator/v1/risk/rules/large_win",
            Some(body),
        )
        .await;
    assert_eq!(set["set_by"], d.compliance_id);
    assert_eq!(d.w.bet(Http::V1, "bet-1", "1.00", "r-1").await.status, StatusCode::OK);
    assert_eq!(
        d.w.win(Http::V1, "win-1", "2500.00", "r-1").await.status,
        StatusCode::OK
    );
    assert_eq!(
        d.alerts("rule=large_win").await,
        Vec::<Value>::new(),
        "under the new amount"
    );
    assert_eq!(
        d.w.win(Http::V1, "win-2", "5000.00", "r-1").await.status,
        StatusCode::OK
    );
    assert_eq!(d.alerts("rule=large_win").await.len(), 1);

    // Two other players log in from the player's device.
    let score_path = format!("/operator/v1/risk/players/{p}/score");
    let clean = d.ok(&d.reader, Method::GET, &score_path, None).await;
    assert_eq!(
        clean["reasons"].as_array().unwrap().len(),
        1,
        "the large win only: {clean}"
    );
    for player in [p, register(&d).await, register(&d).await] {
        let login = json!({"device_id": "dev-shared-9f2c", "ip": format!("198.51.100.{player}"), "user_agent": ""});
        d.ok(
            &d.w.admin,
            Method::POST,
            &format!("/operator/v1/players/{player}/logins"),
            Some(login),
        )
        .await;
    }
    let scored = d.ok(&d.reader, Method::GET, &score_path, None).await;
    assert_eq!(scored["score"], 25 + 5, "{scored}");
    assert_eq!(scored["reasons"][0]["signal"], "shared_device");
    assert!(
        scored["reasons"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("up to 3 players"),
        "{scored}"
    );
}

async fn register(d: &Desk) -> u64 {
    let body = json!({"currency": "EUR", "jurisdiction": "MT"});
    d.ok(&d.w.admin, Method::POST, "/operator/v1/players", Some(body)).await["player"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = Desk::start(dir.path()).await;
    let applied = d.w.server.commands_applied().await;
    let before = d.ok(&d.reader, Method::GET, "/operator/v1/risk/rules", None).await;
    let good = json!({"enabled": true, "window_minutes": 60, "count": 5, "percent": 0, "amounts": []});
    let mut cases: Vec<(String, Value, StatusCode, &str)> = Vec::new();
    let rule = "/operator/v1/risk/rules/deposit_velocity".to_owned();
    for (patch, why) in [
        (json!({"window_minutes": 0}), "no window"),
        (json!({"window_minutes": 600_000}), "past 366 days"),
        (json!({"count": 0}), "count 0"),
        (json!({"percent": 101}), "percent"),
        (json!({"amounts": [{"currency": "EUR", "amount": "-1"}]}), "negative"),
        (json!({"amounts": [{"currency": "XXX", "amount": "1"}]}), "currency"),
        (
            json!({"amounts": [{"currency": "EUR", "amount": "1"}, {"currency": "EUR", "amount": "2"}]}),
            "twice",
        ),
        (json!({"extra": 1}), "unknown field"),
    ] {
        let mut body = good.clone();
        for (key, value) in patch.as_object().unwrap() {
            body[key] = value.clone();
        }
        cases.push((rule.clone(), body, StatusCode::BAD_REQUEST, why));
    }
    for (path, body, status, why) in cases {
        let reply = d.op(&d.compliance, Method::PUT, &path, Some(body)).await;
        assert_eq!(reply.status, status, "{why}: {}", reply.text());
        assert!(reply.json()["error"]["code"].is_string(), "{why}: the error shape");
    }
    let unknown = d
        .op(
            &d.compliance,
            Method::PUT,
            "/operator/v1/risk/rules/nope",
            Some(good.clone()),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "unknown_rule".into())
    );
    let forbidden = d.op(&d.reader, Method::PUT, &rule, Some(good)).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(
        d.ok(&d.reader, Method::GET, "/operator/v1/risk/rules", None).await["rules"],
        before["rules"]
    );

    let open = "/operator/v1/risk/cases";
    for (body, status, code) in [
        (
            json!({"alerts": [], "summary": "x"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"alerts": [999], "summary": "x"}),
            StatusCode::NOT_FOUND,
            "unknown_alert",
        ),
        (
            json!({"alerts": [1], "summary": " "}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"alerts": "1", "summary": "x"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ] {
        let reply = d.op(&d.compliance, Method::POST, open, Some(body.clone())).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code.to_owned()),
            "{body}: {}",
            reply.text()
        );
    }
    for (method, path, status, code) in [
        (
            Method::GET,
            "/operator/v1/risk/cases/0",
            StatusCode::NOT_FOUND,
            "unknown_case",
        ),
        (
            Method::GET,
            "/operator/v1/risk/cases/abc",
            StatusCode::NOT_FOUND,
            "unknown_case",
        ),
        (
            Method::GET,
            "/operator/v1/risk/alerts/7",
            StatusCode::NOT_FOUND,
            "unknown_alert",
        ),
        (
            Method::GET,
            "/operator/v1/risk/alerts?state=lost",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::GET,
            "/operator/v1/risk/alerts?rule=nope",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::GET,
            "/operator/v1/risk/cases?limit=0",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::GET,
            "/operator/v1/risk/players/999/score",
            StatusCode::NOT_FOUND,
            "unknown_player",
        ),
    ] {
        let reply = d.op(&d.reader, method, path, None).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code.to_owned()),
            "{path}: {}",
            reply.text()
        );
    }
    let action = json!({"action": "suspend", "reason": "x"});
    let reply = d
        .op(
            &d.compliance,
            Method::POST,
            "/operator/v1/risk/cases/1/actions",
            Some(action),
        )
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::NOT_FOUND, "unknown_case".into())
    );
    let cases = d.ok(&d.reader, Method::GET, "/operator/v1/risk/cases", None).await;
    assert_eq!(cases["cases"], json!([]));
    assert_eq!(d.w.server.metric("risk_cases_open").await, Some(0));
    assert_eq!(d.w.server.commands_applied().await, applied, "nothing journaled");
}

/// An operator call with an `Idempotency-Key`.
async fn keyed(w: &World, token: &str, method: Method, path: &str, key: &str, body: Value) -> Reply {
    let headers = [
        ("authorization", format!("Bearer {token}")),
        ("content-type", "application/json".to_owned()),
        ("idempotency-key", key.to_owned()),
    ];
    let body = Some(body.to_string().into_bytes());
    w.server.send(w.server.h1(), method, path, &headers, body).await
}

/// What the read model shows of the cases and rules, without the
/// sequence numbers answers are current to.
async fn risk_state(w: &World, token: &str, cases: &[u64]) -> Vec<Value> {
    let get = |path: String| async move {
        let reply = w.server.op(w.server.h1(), token, Method::GET, &path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
        let mut value = reply.json();
        value.as_object_mut().unwrap().remove("as_of_seq");
        value
    };
    let mut state = vec![
        get("/operator/v1/risk/rules".into()).await,
        get("/operator/v1/risk/cases".into()).await,
    ];
    for case in cases {
        state.push(get(format!("/operator/v1/risk/cases/{case}")).await);
    }
    state
}

#[tokio::test]
async fn cases_and_rule_settings_are_journaled_and_survive_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let d = Desk::start(dir.path()).await;
    let (compliance, compliance_id) = (d.compliance.clone(), d.compliance_id);
    let w = &d.w;
    // Two wins past EUR 2,000: two large-win alerts.
    assert_eq!(w.bet(Http::V1, "bet-1", "1.00", "r-1").await.status, StatusCode::OK);
    for (id, amount) in [("win-1", "2500.00"), ("win-2", "2600.00")] {
        assert_eq!(w.win(Http::V1, id, amount, "r-1").await.status, StatusCode::OK);
    }
    let alerts = d.alerts("rule=large_win").await;
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let (a1, a2) = (alerts[0]["id"].as_u64().unwrap(), alerts[1]["id"].as_u64().unwrap());

    // A rule change, retried with its key: one change, the same answer.
    let rule = json!({"enabled": true, "window_minutes": 0, "count": 1, "percent": 0,
        "amounts": [{"currency": "EUR", "amount": "3000.00"}]});
    let path = "/operator/v1/risk/rules/large_win";
    let set = keyed(w, &compliance, Method::PUT, path, "rule-1", rule.clone()).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    let again = keyed(w, &compliance, Method::PUT, path, "rule-1", rule).await;
    assert_eq!((again.status, again.json()), (StatusCode::OK, set.json()));
    assert_eq!(set.json()["set_by"], compliance_id);
    assert_eq!(set.json()["amounts"][0]["amount"], "3000.00");

    // A case opened, retried with its key: the same case.
    let open = json!({"alerts": [a1], "summary": "large win after one bet"});
    let opened = keyed(
        w,
        &compliance,
        Method::POST,
        "/operator/v1/risk/cases",
        "open-1",
        open.clone(),
    )
    .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text());
    let case = opened.json()["case"]["id"].as_u64().unwrap();
    let retried = keyed(w, &compliance, Method::POST, "/operator/v1/risk/cases", "open-1", open).await;
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.text());
    assert_eq!(retried.json()["case"], opened.json()["case"]);
    // The alert is taken: another opening on it is refused, nothing opened.
    let taken = d
        .op(
            &compliance,
            Method::POST,
            "/operator/v1/risk/cases",
            Some(json!({"alerts": [a1, a2], "summary": "again"})),
        )
        .await;
    assert_eq!(
        (taken.status, taken.code()),
        (StatusCode::CONFLICT, "alert_in_case".into())
    );

    let base = format!("/operator/v1/risk/cases/{case}");
    let assignee = json!({"operator": compliance_id});
    d.ok(&compliance, Method::PUT, &format!("{base}/assignee"), Some(assignee))
        .await;
    let note = json!({"text": "win checked against the game's log\nlooks genuine"});
    let noted = keyed(
        w,
        &compliance,
        Method::POST,
        &format!("{base}/notes"),
        "note-1",
        note.clone(),
    )
    .await;
    assert_eq!(noted.status, StatusCode::OK, "{}", noted.text());
    let noted_again = keyed(w, &compliance, Method::POST, &format!("{base}/notes"), "note-1", note).await;
    assert_eq!(
        noted_again.json()["notes"],
        noted.json()["notes"],
        "one note for a retry"
    );
    let resolution = json!({"outcome": "false_positive", "text": "a genuine jackpot-sized win"});
    let resolved = d
        .ok(
            &compliance,
            Method::POST,
            &format!("{base}/resolution"),
            Some(resolution),
        )
        .await;
    assert_eq!(resolved["case"]["state"], "resolved");
    let kinds: Vec<&str> = resolved["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    // The withdrawal hold placed at the opening and lifted at the
    // resolution are noted as actions (holds are on by default).
    assert_eq!(kinds, ["opened", "action", "assigned", "note", "action", "resolved"]);
    // Error paths as before: a resolved case takes no more, bad input is 400.
    let late = d
        .op(
            &compliance,
            Method::POST,
            &format!("{base}/notes"),
            Some(json!({"text": "late"})),
        )
        .await;
    assert_eq!(
        (late.status, late.code()),
        (StatusCode::CONFLICT, "case_resolved".into())
    );
    let bad = d
        .op(
            &compliance,
            Method::POST,
            &format!("{base}/resolution"),
            Some(json!({"outcome": "maybe", "text": "x"})),
        )
        .await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    // A second case, left open with a note.
    let second = d
        .ok(
            &compliance,
            Method::POST,
            "/operator/v1/risk/cases",
            Some(json!({"alerts": [a2], "summary": "second win"})),
        )
        .await;
    let second = second["case"]["id"].as_u64().unwrap();
    let path = format!("/operator/v1/risk/cases/{second}/notes");
    d.ok(
        &compliance,
        Method::POST,
        &path,
        Some(json!({"text": "waiting for the provider"})),
    )
    .await;

    // The work is in the audit trail, under the compliance operator.
    let audit = d
        .ok(
            &d.w.admin,
            Method::GET,
            &format!("/operator/v1/audit?operator={compliance_id}"),
            None,
        )
        .await;
    let kinds: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in ["risk_rule", "risk_case_open", "risk_case_update"] {
        assert!(kinds.contains(&kind), "{kind} audited: {kinds:?}");
    }
    assert_eq!(kinds.iter().filter(|k| **k == "risk_case_open").count(), 2, "{kinds:?}");

    let before = risk_state(w, &d.reader, &[case, second]).await;
    assert_eq!(before[2]["case"]["outcome"], "false_positive");
    // Opened, its withdrawal hold noted, the operator's note.
    assert_eq!(before[3]["notes"].as_array().unwrap().len(), 3);
    // The read-model file is lost: the rebuild from the journal gives the
    // same cases, notes and rule settings.
    let Desk {
        w, reader, _sandbox, ..
    } = d;
    let w = w.restart_rebuilt(dir.path()).await;
    let after = risk_state(&w, &reader, &[case, second]).await;
    assert_eq!(after, before);
}
