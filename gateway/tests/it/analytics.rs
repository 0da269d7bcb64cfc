//! Analytics end to end through the real server: a crafted history (night
//! play from midnight UTC, deposits right after losing bets, a stake
//! doubled after a loss, deposits rising) raises a marker alert with its
//! evidence and a suggested intervention, and a benign player's does not;
//! interventions are journaled (they survive a rebuild of the read model),
//! idempotent, polled and answered; the churn model trains on the
//! history, scores players with their reasons; roles and bad input are
//! refused and change nothing.

use crate::support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Http, Reply, T0, World};

const MINUTE: u64 = 60_000;

/// A call refused: token, method, path, body, status, code.
type Refusal<'a> = (&'a str, Method, String, Option<Value>, StatusCode, &'a str);
const DAY: u64 = 86_400_000;

async fn op(w: &World, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
    w.server.op(w.server.h1(), token, method, path, body).await
}

async fn ok(w: &World, token: &str, method: Method, path: &str, body: Option<Value>) -> Value {
    let reply = op(w, token, method, path, body).await;
    assert!(reply.status.is_success(), "{path}: {} {}", reply.status, reply.text());
    reply.json()
}

async fn operator(w: &World, name: &str, role: &str) -> String {
    let body = json!({"name": name, "role": role});
    ok(w, &w.admin, Method::POST, "/operator/v1/operators", Some(body)).await["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn register(w: &World) -> u64 {
    let body = json!({"currency": "EUR", "jurisdiction": "MT"});
    ok(w, &w.admin, Method::POST, "/operator/v1/players", Some(body)).await["player"]
        .as_u64()
        .unwrap()
}

async fn deposit(w: &World, player: u64, id: &str, amount: &str) {
    let body = json!({"deposit_id": id, "currency": "EUR", "amount": amount});
    ok(
        w,
        &w.admin,
        Method::POST,
        &format!("/operator/v1/players/{player}/deposits"),
        Some(body),
    )
    .await;
}

/// A game session for `player`, valid for a year of the test's clock.
async fn session(w: &World, player: u64) -> String {
    let body = json!({"player": player, "currency": "EUR", "aggregator": w.aggregator.id, "ttl_ms": 365 * DAY});
    ok(w, &w.admin, Method::POST, "/operator/v1/sessions", Some(body)).await["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn bet(w: &World, token: &str, id: &str, amount: &str) {
    let body = json!({"token": token, "transaction_id": id, "round_id": format!("r-{id}"), "game": "slots",
        "currency": "EUR", "amount": amount});
    let reply = w.wallet(Http::V1, "bet", body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

async fn win(w: &World, token: &str, id: &str, bet_id: &str, amount: &str) {
    let body = json!({"token": token, "transaction_id": id, "round_id": format!("r-{bet_id}"), "game": "slots",
        "currency": "EUR", "amount": amount});
    let reply = w.wallet(Http::V1, "win", body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

fn names(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m[field].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn markers_fire_on_a_crafted_history_not_on_a_benign_one_and_interventions_are_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let compliance = operator(&w, "rg-desk", "compliance").await;
    let support_token = operator(&w, "front-end", "support").await;
    let marketing = operator(&w, "crm", "marketing").await;
    let reader = operator(&w, "auditor", "read-only").await;
    // The world's player deposited 100.00 at T0, midnight UTC. Three
    // rounds of eight bets a minute apart; a deposit ten minutes after
    // each of the first two; the third round at twice the stake.
    let a = w.player;
    let token = session(&w, a).await;
    for round in 0..3u64 {
        for n in 0..8 {
            w.server.advance(MINUTE);
            let stake = if round == 2 { "2.00" } else { "1.00" };
            bet(&w, &token, &format!("a-{round}-{n}"), stake).await;
        }
        if round < 2 {
            w.server.advance(2 * MINUTE);
            deposit(&w, a, &format!("chase-{round}"), "50.00").await;
        }
    }
    // A steady player at noon: one deposit, then 25 bets of 0.50 with a
    // win now and then.
    w.server.advance(12 * 3_600_000);
    let b = register(&w).await;
    deposit(&w, b, "b-dep", "50.00").await;
    let b_token = session(&w, b).await;
    for n in 0..25 {
        w.server.advance(MINUTE);
        bet(&w, &b_token, &format!("b-{n}"), "0.50").await;
        if n % 4 == 0 {
            win(&w, &b_token, &format!("b-win-{n}"), &format!("b-{n}"), "1.00").await;
        }
    }

    // What compliance sees before any scan: the markers, measured now.
    let seen = ok(
        &w,
        &compliance,
        Method::GET,
        &format!("/operator/v1/players/{a}/markers"),
        None,
    )
    .await;
    assert_eq!(seen["score"], 60, "{seen}");
    assert_eq!(
        names(&seen["markers"], "marker"),
        ["loss_chasing", "rising_deposits", "night_play"]
    );
    let chasing = &seen["markers"][0];
    assert!(
        chasing["detail"]
            .as_str()
            .unwrap()
            .starts_with("2 deposits within an hour of losing play, 1 stakes"),
        "{chasing}"
    );
    // The evidence: the two deposits (50.00) and the doubled stake (2.00).
    let amounts: Vec<i64> = chasing["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["amount_minor"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, [5_000, 5_000, 200]);
    assert!(chasing["evidence"][0]["seq"].as_u64().unwrap() > 0);
    assert_eq!(
        seen["markers"][2]["detail"],
        "24 of 24 bets (100 %) placed 00:00-06:00 UTC"
    );
    assert_eq!(seen["flagged"], false);
    let benign = ok(
        &w,
        &compliance,
        Method::GET,
        &format!("/operator/v1/players/{b}/markers"),
        None,
    )
    .await;
    assert_eq!(
        (benign["score"].clone(), benign["markers"].clone()),
        (json!(0), json!([]))
    );

    // The scan raises one alert, for the crafted player only, and
    // suggests a limit prompt (score 60: at least 50).
    let scanned = ok(
        &w,
        &compliance,
        Method::POST,
        "/operator/v1/analytics/markers/scan",
        None,
    )
    .await;
    assert_eq!(scanned["players"], 2, "{scanned}");
    assert_eq!(scanned["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(scanned["interventions"].as_array().unwrap().len(), 1);
    let alert = scanned["alerts"][0].as_u64().unwrap();
    let suggested = scanned["interventions"][0].as_u64().unwrap();
    // Scanning again raises nothing: the player has an open alert.
    let again = ok(
        &w,
        &compliance,
        Method::POST,
        "/operator/v1/analytics/markers/scan",
        None,
    )
    .await;
    assert_eq!(
        (again["alerts"].clone(), again["interventions"].clone()),
        (json!([]), json!([]))
    );

    let queue = ok(
        &w,
        &compliance,
        Method::GET,
        "/operator/v1/analytics/markers?min_score=60",
        None,
    )
    .await;
    let alerts = queue["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0]["id"].as_u64(), alerts[0]["player"].as_u64()),
        (Some(alert), Some(a))
    );
    assert_eq!(names(&alerts[0]["markers"], "marker").len(), 3);
    assert!(
        alerts[0]["summary"]
            .as_str()
            .unwrap()
            .contains("night_play: 24 of 24 bets")
    );
    let above = ok(
        &w,
        &compliance,
        Method::GET,
        "/operator/v1/analytics/markers?min_score=61",
        None,
    )
    .await;
    assert_eq!(above["alerts"], json!([]));
    let seen = ok(
        &w,
        &compliance,
        Method::GET,
        &format!("/operator/v1/players/{a}/markers"),
        None,
    )
    .await;
    assert_eq!(seen["flagged"], true);
    assert_eq!(seen["alerts"][0]["id"].as_u64(), Some(alert));

    // The front end polls the suggestion and the player accepts it.
    let path = format!("/operator/v1/players/{a}/interventions?pending=true");
    let pending = ok(&w, &support_token, Method::GET, &path, None).await;
    let listed = &pending["interventions"][0];
    assert_eq!(listed["id"].as_u64(), Some(suggested));
    assert_eq!(
        (listed["kind"].as_str(), listed["alert"].as_u64()),
        (Some("limit_prompt"), Some(alert))
    );
    assert_eq!(listed["operator"], 0);
    let answer_path = format!("/operator/v1/players/{a}/interventions/{suggested}/answer");
    let answered = ok(
        &w,
        &support_token,
        Method::POST,
        &answer_path,
        Some(json!({"answer": "accepted"})),
    )
    .await;
    assert_eq!(answered["answer"], "accepted");
    // The same answer again is answered as the first; another is refused.
    let same = ok(
        &w,
        &support_token,
        Method::POST,
        &answer_path,
        Some(json!({"answer": "accepted"})),
    )
    .await;
    assert_eq!(same["answered_ms"], answered["answered_ms"]);
    let other = op(
        &w,
        &support_token,
        Method::POST,
        &answer_path,
        Some(json!({"answer": "declined"})),
    )
    .await;
    assert_eq!(
        (other.status, other.code()),
        (StatusCode::CONFLICT, "intervention_answered".into())
    );
    let pending = ok(&w, &support_token, Method::GET, &path, None).await;
    assert_eq!(pending["interventions"], json!([]));

    // Compliance sends a reality check to the steady player; a retry with
    // the same key is the same intervention.
    let send = |key: &'static str| {
        let w = &w;
        let compliance = compliance.clone();
        async move {
            let headers = [
                ("idempotency-key", key.to_owned()),
                ("authorization", format!("Bearer {compliance}")),
                ("content-type", "application/json".to_owned()),
            ];
            let body = json!({"kind": "reality_check", "message": "You have played for an hour."});
            let path = format!("/operator/v1/players/{b}/interventions");
            w.server
                .send(
                    Http::V1,
                    Method::POST,
                    &path,
                    &headers,
                    Some(body.to_string().into_bytes()),
                )
                .await
        }
    };
    let first = send("rc-1").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let retried = send("rc-1").await;
    assert_eq!(retried.status, StatusCode::CREATED);
    assert_eq!(first.json()["id"], retried.json()["id"]);
    let sent = first.json()["id"].as_u64().unwrap();

    // Compliance closes the alert: the player is no longer flagged.
    let close_path = format!("/operator/v1/analytics/markers/{alert}/close");
    let closed = ok(
        &w,
        &compliance,
        Method::POST,
        &close_path,
        Some(json!({"finding": "called the player"})),
    )
    .await;
    assert_eq!(closed["state"], "closed");
    let twice = op(
        &w,
        &compliance,
        Method::POST,
        &close_path,
        Some(json!({"finding": "something else"})),
    )
    .await;
    assert_eq!(
        (twice.status, twice.code()),
        (StatusCode::CONFLICT, "alert_closed".into())
    );

    // Journaled: a read model rebuilt from the journal has them all.
    let w = w.restart_rebuilt(dir.path()).await;
    let path = format!("/operator/v1/players/{b}/interventions");
    let listed = ok(&w, &support_token, Method::GET, &path, None).await;
    assert_eq!(listed["interventions"].as_array().unwrap().len(), 1);
    assert_eq!(listed["interventions"][0]["id"].as_u64(), Some(sent));
    assert_eq!(listed["interventions"][0]["message"], "You have played for an hour.");
    let path = format!("/operator/v1/players/{a}/interventions");
    let listed = ok(&w, &compliance, Method::GET, &path, None).await;
    assert_eq!(listed["interventions"][0]["answer"], "accepted");
    let all = ok(
        &w,
        &compliance,
        Method::GET,
        "/operator/v1/analytics/markers?state=all",
        None,
    )
    .await;
    assert_eq!(all["alerts"][0]["finding"], "called the player");
    let seen = ok(
        &w,
        &compliance,
        Method::GET,
        &format!("/operator/v1/players/{a}/markers"),
        None,
    )
    .await;
    assert_eq!(seen["flagged"], false);

    // The RG interventions report counts them for the day.
    let report = ok(
        &w,
        &compliance,
        Method::GET,
        "/operator/v1/reports/rg-interventions?from=2026-01-01&to=2026-01-01",
        None,
    )
    .await;
    let rows = |name: &str| -> Vec<Vec<String>> {
        let table = report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap();
        serde_json::from_value(table["rows"].clone()).unwrap()
    };
    let row = |cells: &[&str]| cells.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        rows("interventions"),
        [
            row(&["limit_prompt", "accepted", "EUR", "native", "1"]),
            row(&["reality_check", "pending", "EUR", "native", "1"])
        ]
    );
    assert_eq!(rows("marker_alerts"), [row(&["closed", "EUR", "native", "1"])]);
    assert_eq!(
        rows("markers"),
        [
            row(&["loss_chasing", "EUR", "native", "1"]),
            row(&["night_play", "EUR", "native", "1"]),
            row(&["rising_deposits", "EUR", "native", "1"])
        ]
    );
    for format in ["csv", "html"] {
        let path = format!("/operator/v1/reports/rg-interventions?month=2026-01&format={format}");
        let reply = op(&w, &compliance, Method::GET, &path, None).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.text().contains("reality_check"), "{}", reply.text());
    }
    let next_month = ok(
        &w,
        &compliance,
        Method::GET,
        "/operator/v1/reports/rg-interventions?month=2026-02",
        None,
    )
    .await;
    assert!(
        next_month["tables"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["rows"] == json!([]))
    );

    // Refused, changing nothing: roles, unknown ids, bad input.
    let refusals: Vec<Refusal> = vec![
        (
            &marketing,
            Method::GET,
            format!("/operator/v1/players/{a}/markers"),
            None,
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            &reader,
            Method::POST,
            format!("/operator/v1/players/{b}/interventions"),
            Some(json!({"kind": "reality_check"})),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            &support_token,
            Method::POST,
            "/operator/v1/analytics/markers/scan".into(),
            None,
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            &compliance,
            Method::GET,
            "/operator/v1/players/99/markers".into(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_player",
        ),
        (
            &compliance,
            Method::GET,
            "/operator/v1/analytics/markers?min_score=101".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &compliance,
            Method::GET,
            "/operator/v1/analytics/markers?state=shut".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &compliance,
            Method::POST,
            format!("/operator/v1/players/{b}/interventions"),
            Some(json!({"kind": "nap"})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &compliance,
            Method::POST,
            format!("/operator/v1/players/{b}/interventions"),
            Some(json!({"kind": "limit_prompt", "message": " "})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &compliance,
            Method::POST,
            format!("/operator/v1/players/{b}/interventions"),
            Some(json!({"kind": "limit_prompt", "alert": alert})),
            StatusCode::NOT_FOUND,
            "unknown_alert",
        ),
        (
            &support_token,
            Method::POST,
            format!("/operator/v1/players/{b}/interventions/{suggested}/answer"),
            Some(json!({"answer": "accepted"})),
            StatusCode::NOT_FOUND,
            "unknown_intervention",
        ),
        (
            &support_token,
            Method::POST,
            format!("/operator/v1/players/{b}/interventions/{sent}/answer"),
            Some(json!({"answer": "maybe"})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &compliance,
            Method::POST,
            "/operator/v1/analytics/markers/12345/close".into(),
            Some(json!({"finding": "x"})),
            StatusCode::NOT_FOUND,
            "unknown_alert",
        ),
    ];
    for (token, method, path, body, status, code) in refusals {
        let reply = op(&w, token, method, &path, body).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code.to_owned()),
            "{path}: {}",
            reply.text()
        );
    }
    let path = format!("/operator/v1/players/{b}/interventions");
    let listed = ok(&w, &compliance, Method::GET, &path, None).await;
    assert_eq!(listed["interventions"].as_array().unwrap().len(), 1);
    assert_eq!(listed["interventions"][0]["answer"], Value::Null);
}

#[tokio::test]
async fn the_churn_model_trains_on_the_history_and_explains_each_score() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let marketing = operator(&w, "crm", "marketing").await;
    let reader = operator(&w, "auditor", "read-only").await;
    let compliance = operator(&w, "rg-desk", "compliance").await;
    let p = w.player;

    // No model yet; too little history to train one.
    let list = op(&w, &marketing, Method::GET, "/operator/v1/analytics/churn", None).await;
    assert_eq!(
        (list.status, list.code()),
        (StatusCode::CONFLICT, "churn_model_untrained".into())
    );
    let one = op(
        &w,
        &reader,
        Method::GET,
        &format!("/operator/v1/players/{p}/churn"),
        None,
    )
    .await;
    assert_eq!(one.status, StatusCode::CONFLICT);
    let train = op(
        &w,
        &marketing,
        Method::POST,
        "/operator/v1/analytics/churn/training",
        None,
    )
    .await;
    assert_eq!(
        (train.status, train.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "churn_history_too_short".into())
    );

    // Twelve players play on day 0; six of them come back on days 10,
    // 14, 20 and 40, six never do.
    let mut players = Vec::new();
    for n in 0..12u64 {
        let player = register(&w).await;
        deposit(&w, player, &format!("churn-dep-{n}"), "20.00").await;
        let token = session(&w, player).await;
        for k in 0..3 + n % 3 {
            bet(&w, &token, &format!("p{n}-d0-{k}"), "0.50").await;
        }
        players.push((player, token, n % 2 == 0));
    }
    let mut today = 0;
    for day in [10, 14, 20, 40] {
        w.server.advance((day - today) * DAY);
        today = day;
        for (n, (_, token, stays)) in players.iter().enumerate() {
            if *stays {
                for k in 0..4 {
                    bet(&w, token, &format!("p{n}-d{day}-{k}"), "0.50").await;
                }
            }
        }
    }
    w.server.advance(5 * DAY);

    let model = ok(
        &w,
        &marketing,
        Method::POST,
        "/operator/v1/analytics/churn/training",
        None,
    )
    .await;
    // Day 45: the cut is day 15; every player bet in the 60 days before
    // it (the stayers the day before), half of them not since.
    assert_eq!(
        (model["examples"].as_u64(), model["churners"].as_u64()),
        (Some(12), Some(6)),
        "{model}"
    );
    assert_eq!(model["training_auc"], 1.0);
    assert_eq!(model["weights"].as_array().unwrap().len(), 7);

    let list = ok(
        &w,
        &reader,
        Method::GET,
        "/operator/v1/analytics/churn?min_score=0",
        None,
    )
    .await;
    let scored = list["players"].as_array().unwrap();
    // Only those who played in the last 60 days are listed: the world's
    // player (a deposit at day 0, no bet) is not.
    assert_eq!(scored.len(), 12, "{list}");
    let churner_ids: Vec<u64> = players.iter().filter(|(_, _, s)| !s).map(|(p, _, _)| *p).collect();
    for top in &scored[..6] {
        assert!(churner_ids.contains(&top["player"].as_u64().unwrap()), "{list}");
        let reasons = top["reasons"].as_array().unwrap();
        assert!(!reasons.is_empty() && reasons.len() <= 3);
        assert!(reasons[0]["contribution"].as_f64().unwrap() > 0.0, "{top}");
    }
    let (churner, stayer) = (churner_ids[0], players[0].0);
    let gone = ok(
        &w,
        &marketing,
        Method::GET,
        &format!("/operator/v1/players/{churner}/churn"),
        None,
    )
    .await;
    let kept = ok(
        &w,
        &marketing,
        Method::GET,
        &format!("/operator/v1/players/{stayer}/churn"),
        None,
    )
    .await;
    assert!(gone["score"].as_f64().unwrap() > 0.5, "{gone}");
    assert!(kept["score"].as_f64().unwrap() < 0.5, "{kept}");
    assert!(gone["score"].as_f64() > kept["score"].as_f64());
    let features = [
        "days_since_last_bet",
        "active_days_30",
        "bets_30",
        "stake_30",
        "bets_trend",
        "stake_trend",
        "deposits_30",
    ];
    for reason in gone["reasons"].as_array().unwrap() {
        assert!(features.contains(&reason["feature"].as_str().unwrap()), "{gone}");
    }
    // 45 days since the churner's last bet (the feature's value).
    let since = gone["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["feature"] == "days_since_last_bet")
        .expect("the time since the last bet explains a churner's score");
    assert_eq!(since["value"].as_f64(), Some(45.0));
    let high = ok(
        &w,
        &marketing,
        Method::GET,
        "/operator/v1/analytics/churn?min_score=0.5",
        None,
    )
    .await;
    assert_eq!(high["players"].as_array().unwrap().len(), 6);

    for (token, path, status, code) in [
        (
            &compliance,
            "/operator/v1/analytics/churn".to_owned(),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            &reader,
            "/operator/v1/analytics/churn?min_score=2".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &reader,
            "/operator/v1/analytics/churn?limit=0".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &reader,
            "/operator/v1/players/999/churn".to_owned(),
            StatusCode::NOT_FOUND,
            "unknown_player",
        ),
    ] {
        let reply = op(&w, token, Method::GET, &path, None).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code.to_owned()),
            "{path}: {}",
            reply.text()
        );
    }
    let refused = op(&w, &reader, Method::POST, "/operator/v1/analytics/churn/training", None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let _ = T0;
}
