//! Live game performance (issue 14's monitoring): after known bets, wins,
//! a rollback and refused bets, the per-game, per-hour and per-provider
//! figures equal the hand computation; the RTP alert fires for a rigged
//! sequence and not for a fair one (nor before the minimum volume);
//! `/metrics` shows the bounded series; the roles that may read it; the
//! alert history records one row per crossing (not per read), and its
//! filters and errors.

use crate::support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Http, Reply, World};

async fn op(w: &World, token: &str, path: &str) -> Reply {
    w.server.op(Http::V1, token, Method::GET, path, None).await
}

/// Puts provider "studio" on the world's aggregator and `codes` in it: low
/// volatility, 96 % everywhere but GB (94 %), EUR stakes 0.10 to 50.00.
async fn catalogue(w: &World, codes: &[&str]) {
    let provider = json!({"name": "Studio One", "aggregators": [w.aggregator.id]});
    let put = w
        .server
        .op(
            Http::V1,
            &w.admin,
            Method::PUT,
            "/operator/v1/games/providers/studio",
            Some(provider),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    for code in codes {
        let game = json!({"provider": "studio", "name": format!("Game {code}"), "type": "slot", "volatility": "low",
            "rtp_variants_bp": [9400, 9600], "rtp_default_bp": 9600, "rtp_by_jurisdiction": {"GB": 9400},
            "limits": [{"currency": "EUR", "min": "0.10", "max": "50.00"}], "jurisdictions": ["MT", "GB"]});
        let path = format!("/operator/v1/games/{}/{code}", w.aggregator.id);
        let put = w.server.op(Http::V1, &w.admin, Method::PUT, &path, Some(game)).await;
        assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    }
}

async fn bet(w: &World, game: &str, id: &str, amount: &str, round: &str) -> Reply {
    let body = json!({"token": w.token, "transaction_id": id, "round_id": round, "game": game,
        "currency": "EUR", "amount": amount});
    w.wallet(Http::V1, "bet", body).await
}

async fn win(w: &World, game: &str, id: &str, amount: &str, round: &str) -> Reply {
    let body = json!({"token": w.token, "transaction_id": id, "round_id": round, "game": game,
        "currency": "EUR", "amount": amount, "close_round": true});
    w.wallet(Http::V1, "win", body).await
}

async fn operator(w: &World, role: &str) -> String {
    let body = json!({"name": format!("{role}-op"), "role": role});
    let reply = w
        .server
        .op(Http::V1, &w.admin, Method::POST, "/operator/v1/operators", Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.json()["token"].as_str().unwrap().to_owned()
}

fn find<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|item| item[key] == json!(value))
        .unwrap_or_else(|| panic!("no {key} = {value} in {list}"))
}

#[tokio::test]
async fn figures_equal_the_hand_computation_per_game_hour_and_provider() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    catalogue(&w, &["slots"]).await;
    let ok = |reply: Reply| assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    // Round r1: 1.00 staked, 0.50 won. Round r2: two bets (2.00, 1.00),
    // 5.00 won. Round r3: 3.00 staked and rolled back. Two bets refused
    // (above the game's maximum, below its minimum).
    ok(bet(&w, "slots", "b1", "1.00", "r1").await);
    ok(win(&w, "slots", "w1", "0.50", "r1").await);
    ok(bet(&w, "slots", "b2", "2.00", "r2").await);
    ok(bet(&w, "slots", "b3", "1.00", "r2").await);
    ok(win(&w, "slots", "w2", "5.00", "r2").await);
    ok(bet(&w, "slots", "b4", "3.00", "r3").await);
    ok(w.rollback(Http::V1, "rb4", "b4").await);
    let refused = bet(&w, "slots", "b5", "60.00", "r4").await;
    assert_ne!(refused.status, StatusCode::OK, "{}", refused.text());
    let refused = bet(&w, "slots", "b6", "0.05", "r5").await;
    assert_ne!(refused.status, StatusCode::OK, "{}", refused.text());

    let reply = op(&w, &w.admin, "/operator/v1/games/performance").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let games = reply.json()["games"].clone();
    assert_eq!(games.as_array().unwrap().len(), 1, "{games}");
    let game = &games[0];
    assert_eq!(game["code"], json!("slots"));
    assert_eq!(game["provider"], json!("studio"));
    assert_eq!(game["aggregator_name"], json!("acme"));
    assert_eq!(game["volatility"], json!("low"));
    assert_eq!((game["rounds"].clone(), game["bets"].clone()), (json!(3), json!(4)));
    assert_eq!(game["refused"], json!(2));
    assert_eq!(game["refusal_rate"].as_f64().unwrap(), 2.0 / 6.0);
    assert_eq!(game["unique_players"], json!(1));
    let refusals: u64 = game["refusals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(refusals, 2, "{}", game["refusals"]);
    let eur = &game["currencies"][0];
    assert_eq!(eur["currency"], json!("EUR"));
    // Turnover 1 + 2 + 1 + 3 − 3 = 4.00; prizes 5.50; GGR −1.50.
    assert_eq!(eur["turnover"], json!("4.00"));
    assert_eq!(eur["prizes"], json!("5.50"));
    assert_eq!(eur["ggr"], json!("-1.50"));
    assert_eq!(eur["bonus_cost"], json!("0.00"));
    assert_eq!(eur["ngr"], json!("-1.50"));
    assert_eq!(eur["rtp_actual"].as_f64().unwrap(), 5.5 / 4.0);
    // The player is in Malta: the default 96 %.
    assert_eq!(eur["rtp_configured"].as_f64().unwrap(), 0.96);
    // z = (550 − 0.96·400) / (4 · √(100² + 200² + 100² + 300² − 300²)).
    let z = (550.0 - 384.0) / (4.0 * (10_000.0_f64 + 40_000.0 + 10_000.0).sqrt());
    assert!((eur["z"].as_f64().unwrap() - z).abs() < 1e-9, "{eur}");
    assert_eq!(eur["alert"], json!(false), "4 bets are too few to tell");

    let path = format!("/operator/v1/games/{}/slots/performance", w.aggregator.id);
    let detail = op(&w, &w.admin, &path).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.text());
    let detail = detail.json();
    let hours = detail["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 1, "{hours:?}");
    assert_eq!(
        hours[0]["hour_ms"].as_u64().unwrap(),
        w.server.now() / 3_600_000 * 3_600_000
    );
    assert_eq!(
        (hours[0]["bets"].clone(), hours[0]["refused"].clone()),
        (json!(4), json!(2))
    );
    assert_eq!(hours[0]["turnover"], json!("4.00"));
    assert_eq!(detail["game"]["bets"], json!(4));
    let acme = op(&w, &w.admin, "/operator/v1/games/acme/slots/performance").await;
    assert_eq!(acme.json()["game"]["bets"], json!(4), "the aggregator by name");

    let providers = op(&w, &w.admin, "/operator/v1/providers/performance").await;
    assert_eq!(providers.status, StatusCode::OK, "{}", providers.text());
    let studio = find(&providers.json()["providers"], "provider", "studio").clone();
    assert_eq!((studio["games"].clone(), studio["bets"].clone()), (json!(1), json!(4)));
    assert_eq!(studio["unique_players"], json!(1));
    assert_eq!(studio["currencies"][0]["ggr"], json!("-1.50"));
    let calls = find(&studio["aggregators"], "name", "acme");
    // Every wallet call of the aggregator reached the ledger: 6 bets, 2
    // wins and a rollback; the 2 refused are counted as refusals.
    assert_eq!(calls["calls"], json!(9), "{calls}");
    assert_eq!(
        (calls["refused"].clone(), calls["errors"].clone()),
        (json!(2), json!(0))
    );
    assert!(calls["latency_us_mean"].is_u64(), "{calls}");

    // A period is whole hours ending now: two hours later, the last hour
    // is empty and the last day is not.
    w.server.advance(2 * 3_600_000);
    let last_hour = op(&w, &w.admin, "/operator/v1/games/performance?period=1h").await;
    assert_eq!(last_hour.json()["games"], json!([]));
    let day = op(
        &w,
        &w.admin,
        "/operator/v1/games/performance?period=24h&provider=studio",
    )
    .await;
    assert_eq!(day.json()["games"][0]["bets"], json!(4));
    let idle = op(&w, &w.admin, &format!("{path}?period=1h")).await;
    assert_eq!(
        (idle.status, idle.json()["game"]["bets"].clone()),
        (StatusCode::OK, json!(0))
    );

    for (query, status, code) in [
        (
            "/operator/v1/games/performance?period=2h",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "/operator/v1/games/performance?colour=red",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "/operator/v1/games/performance?provider=nobody",
            StatusCode::NOT_FOUND,
            "unknown_provider",
        ),
        (
            "/operator/v1/providers/performance?period=week",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "/operator/v1/games/acme/nothing/performance",
            StatusCode::NOT_FOUND,
            "unknown_game",
        ),
        (
            "/operator/v1/games/nobody/slots/performance",
            StatusCode::NOT_FOUND,
            "unknown_aggregator",
        ),
    ] {
        let reply = op(&w, &w.admin, query).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code.into()),
            "{query}: {}",
            reply.text()
        );
    }

    let metrics = w.server.send(Http::V1, Method::GET, "/metrics", &[], None).await.text();
    for line in [
        "provider_bets_24h{provider=\"studio\"} 4",
        "provider_refused_bets_24h{provider=\"studio\"} 2",
        "provider_turnover_24h{provider=\"studio\",currency=\"EUR\"} 4.00",
        "provider_ggr_24h{provider=\"studio\",currency=\"EUR\"} -1.50",
        "game_bets_24h{provider=\"studio\",game=\"slots\"} 4",
        "wallet_calls_total{aggregator=\"acme\"} 9",
        "wallet_calls_refused_total{aggregator=\"acme\"} 2",
        "wallet_call_latency_seconds_count{aggregator=\"acme\"} 9",
        "wallet_call_latency_seconds_bucket{aggregator=\"acme\",le=\"+Inf\"} 9",
    ] {
        assert!(metrics.lines().any(|l| l == line), "no `{line}` in\n{metrics}");
    }
    w.server.stop().await;
}

#[tokio::test]
async fn the_rtp_alert_fires_for_a_rigged_game_and_not_for_a_fair_one() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    catalogue(&w, &["fair", "rigged"]).await;
    // 200 bets of 1.00 each. The fair game pays 3.84 every fourth round
    // (96 %); the rigged one 6.00 every second round (300 %).
    let play = |game: &'static str, from: usize, to: usize| {
        let w = &w;
        async move {
            for i in from..to {
                let round = format!("{game}-{i}");
                let placed = bet(w, game, &format!("{game}-b{i}"), "1.00", &round).await;
                assert_eq!(placed.status, StatusCode::OK, "{}", placed.text());
                let prize = match game {
                    "fair" if i % 4 == 3 => "3.84",
                    "rigged" if i % 2 == 1 => "6.00",
                    _ => "0.00",
                };
                let paid = win(w, game, &format!("{game}-w{i}"), prize, &round).await;
                assert_eq!(paid.status, StatusCode::OK, "{}", paid.text());
            }
        }
    };
    play("fair", 0, 200).await;
    play("rigged", 0, 100).await;
    let alerts = op(&w, &w.admin, "/operator/v1/games/performance/alerts").await;
    assert_eq!(alerts.status, StatusCode::OK, "{}", alerts.text());
    assert_eq!(
        alerts.json()["alerts"],
        json!([]),
        "100 bets are below the minimum volume"
    );
    assert_eq!(alerts.json()["min_bets"], json!(200));
    play("rigged", 100, 200).await;

    let alerts = op(&w, &w.admin, "/operator/v1/games/performance/alerts").await.json();
    let list = alerts["alerts"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{alerts}");
    assert_eq!(list[0]["code"], json!("rigged"));
    assert_eq!(list[0]["direction"], json!("high"));
    assert_eq!(list[0]["bets"], json!(200));
    assert_eq!(list[0]["rtp_actual"].as_f64().unwrap(), 3.0);
    // (600 − 192) / (4 · √(200 · 100²)), in minor units.
    let z = (60_000.0 - 19_200.0) / (4.0 * (200.0_f64 * 10_000.0).sqrt());
    assert!((list[0]["z"].as_f64().unwrap() - z).abs() < 1e-9, "{alerts}");

    let games = op(&w, &w.admin, "/operator/v1/games/performance").await.json();
    let fair = find(&games["games"], "code", "fair");
    assert_eq!(fair["currencies"][0]["rtp_actual"].as_f64().unwrap(), 0.96);
    assert_eq!(fair["currencies"][0]["z"].as_f64().unwrap(), 0.0);
    assert_eq!(fair["alert"], json!(false));
    assert_eq!(find(&games["games"], "code", "rigged")["alert"], json!(true));
    let providers = op(&w, &w.admin, "/operator/v1/providers/performance").await.json();
    assert_eq!(find(&providers["providers"], "provider", "studio")["alerts"], json!(1));
    let metrics = w.server.send(Http::V1, Method::GET, "/metrics", &[], None).await.text();
    assert!(
        metrics
            .lines()
            .any(|l| l == "provider_rtp_alerts{provider=\"studio\"} 1"),
        "{metrics}"
    );
    w.server.stop().await;
}

#[tokio::test]
async fn business_roles_read_the_figures_and_support_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    catalogue(&w, &["slots"]).await;
    let paths = [
        "/operator/v1/games/performance".to_owned(),
        "/operator/v1/games/performance/alerts".to_owned(),
        "/operator/v1/providers/performance".to_owned(),
        format!("/operator/v1/games/{}/slots/performance", w.aggregator.id),
    ];
    for role in ["finance", "compliance", "read-only", "marketing"] {
        let token = operator(&w, role).await;
        for path in &paths {
            let reply = op(&w, &token, path).await;
            assert_eq!(reply.status, StatusCode::OK, "{role} {path}: {}", reply.text());
        }
    }
    let support = operator(&w, "support").await;
    for path in &paths {
        let reply = op(&w, &support, path).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "support {path}: {}", reply.text());
    }
    let nobody = op(&w, "not-a-token", &paths[0]).await;
    assert_eq!(nobody.status, StatusCode::UNAUTHORIZED);
    w.server.stop().await;
}

/// Plays `rounds` rounds of 1.00 in `game`, each paying `prize` every
/// `every` rounds (the rest pay nothing).
async fn rounds(w: &World, game: &str, from: usize, to: usize, every: usize, prize: &str) {
    for i in from..to {
        let round = format!("{game}-{i}");
        let placed = bet(w, game, &format!("{game}-b{i}"), "1.00", &round).await;
        assert_eq!(placed.status, StatusCode::OK, "{}", placed.text());
        let paid = if i % every == every - 1 { prize } else { "0.00" };
        let won = win(w, game, &format!("{game}-w{i}"), paid, &round).await;
        assert_eq!(won.status, StatusCode::OK, "{}", won.text());
    }
}

const HISTORY: &str = "/operator/v1/games/performance/alerts/history";

#[tokio::test]
async fn an_rtp_alert_is_recorded_once_when_raised_and_once_when_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    catalogue(&w, &["fair", "rigged"]).await;
    rounds(&w, "fair", 0, 200, 4, "3.84").await;
    rounds(&w, "rigged", 0, 200, 2, "6.00").await;
    let raised_at = w.server.now();

    // Read three times: one row, not one per read.
    for _ in 0..3 {
        let reply = op(&w, &w.admin, HISTORY).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let events = reply.json()["events"].clone();
        assert_eq!(events.as_array().unwrap().len(), 1, "{events}");
        let row = &events[0];
        assert_eq!(
            (row["kind"].clone(), row["code"].clone(), row["provider"].clone()),
            (json!("raised"), json!("rigged"), json!("studio"))
        );
        assert_eq!(
            (row["currency"].clone(), row["bets"].clone()),
            (json!("EUR"), json!(200))
        );
        assert_eq!(row["turnover"], json!("200.00"));
        assert_eq!(row["rtp_actual"].as_f64().unwrap(), 3.0);
        assert_eq!(row["rtp_configured"].as_f64().unwrap(), 0.96);
        let z = (60_000.0 - 19_200.0) / (4.0 * (200.0_f64 * 10_000.0).sqrt());
        assert!((row["z"].as_f64().unwrap() - z).abs() < 1e-9, "{row}");
        assert_eq!(row["time_ms"].as_u64().unwrap(), raised_at);
    }
    let metrics = w.server.send(Http::V1, Method::GET, "/metrics", &[], None).await.text();
    assert!(
        metrics.lines().any(|l| l == "game_rtp_alerts_raised_total 1"),
        "{metrics}"
    );

    // A day later the game has left the window: the alert clears, once.
    w.server.advance(25 * 3_600_000);
    let cleared_at = w.server.now();
    for _ in 0..2 {
        let events = op(&w, &w.admin, HISTORY).await.json()["events"].clone();
        let kinds: Vec<&Value> = events.as_array().unwrap().iter().map(|e| &e["kind"]).collect();
        assert_eq!(kinds, [&json!("cleared"), &json!("raised")], "{events}");
        assert_eq!(events[0]["bets"], json!(0));
        assert_eq!(events[0]["time_ms"].as_u64().unwrap(), cleared_at);
    }

    // Filters: by game, by time, by count.
    let of = |query: String| {
        let w = &w;
        async move {
            let reply = op(w, &w.admin, &format!("{HISTORY}?{query}")).await;
            assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text());
            reply.json()["events"].as_array().unwrap().len()
        }
    };
    assert_eq!(of("game=rigged".into()).await, 2);
    assert_eq!(of("game=fair".into()).await, 0);
    assert_eq!(of(format!("from_ms={}", raised_at + 1)).await, 1);
    assert_eq!(of(format!("from_ms={raised_at}&to_ms={}", raised_at + 1)).await, 1);
    assert_eq!(of("limit=1".into()).await, 1);
    let newest = op(&w, &w.admin, &format!("{HISTORY}?limit=1")).await.json();
    assert_eq!(newest["events"][0]["kind"], json!("cleared"));

    for query in [
        "limit=0",
        "limit=1001",
        "from_ms=10&to_ms=10",
        "game=",
        "colour=red",
        "from_ms=yesterday",
    ] {
        let reply = op(&w, &w.admin, &format!("{HISTORY}?{query}")).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "invalid_request".into()),
            "{query}: {}",
            reply.text()
        );
    }
    let support = operator(&w, "support").await;
    assert_eq!(op(&w, &support, HISTORY).await.status, StatusCode::FORBIDDEN);
    let compliance = operator(&w, "compliance").await;
    assert_eq!(op(&w, &compliance, HISTORY).await.status, StatusCode::OK);
    w.server.stop().await;
}
