//! The game catalogue over the operator API: providers and games set,
//! shown and listed with filters, enabled and disabled, the roles that may
//! do each, and imports (JSON and CSV) that land whole or not at all.

use crate::support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Http, Reply, World};

async fn op(w: &World, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
    w.server.op(Http::V1, token, method, path, body).await
}

fn game(provider: &str, kind: &str, jurisdictions: &[&str]) -> Value {
    json!({"provider": provider, "name": "Gates of Olympus", "type": kind, "volatility": "very-high",
        "rtp_variants_bp": [9450, 9650], "rtp_default_bp": 9650, "rtp_by_jurisdiction": {"GB": 9450},
        "limits": [{"currency": "EUR", "min": "0.20", "max": "100.00"}], "jurisdictions": jurisdictions})
}

async fn read_only(w: &World) -> String {
    let body = json!({"name": "auditor", "role": "read-only"});
    let reply = op(w, &w.admin, Method::POST, "/operator/v1/operators", Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.json()["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn providers_and_games_are_set_shown_listed_and_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let agg = w.aggregator.id;
    let provider = json!({"name": "Pragmatic Play", "aggregators": ["acme"]});
    let put = op(
        &w,
        &w.admin,
        Method::PUT,
        "/operator/v1/games/providers/pragmatic",
        Some(provider),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    assert_eq!(
        put.json(),
        json!({"code": "pragmatic", "name": "Pragmatic Play", "aggregators": [{"id": agg, "name": "acme"}], "games": 0})
    );
    let path = format!("/operator/v1/games/{agg}/vs20olympgate");
    let put = op(
        &w,
        &w.admin,
        Method::PUT,
        &path,
        Some(game("pragmatic", "slot", &["MT", "GB"])),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    let live = game("pragmatic", "live", &["GB"]);
    let put = op(
        &w,
        &w.admin,
        Method::PUT,
        "/operator/v1/games/acme/live-roulette",
        Some(live),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());

    let shown = op(&w, &w.admin, Method::GET, "/operator/v1/games/acme/vs20olympgate", None).await;
    assert_eq!(
        shown.json(),
        json!({"aggregator": agg, "aggregator_name": "acme", "code": "vs20olympgate", "provider": "pragmatic",
            "name": "Gates of Olympus", "type": "slot", "volatility": "very-high", "rtp_variants_bp": [9450, 9650],
            "rtp_default_bp": 9650, "rtp_by_jurisdiction": {"GB": 9450},
            "limits": [{"currency": "EUR", "min": "0.20", "max": "100.00"}], "jurisdictions": ["MT", "GB"],
            "enabled": true})
    );
    let codes = |reply: Reply| -> Vec<String> {
        reply.json()["games"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["code"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = |query: &str| {
        let path = format!("/operator/v1/games{query}");
        let w = &w;
        async move { op(w, &w.admin, Method::GET, &path, None).await }
    };
    assert_eq!(codes(list("").await), ["live-roulette", "vs20olympgate"]);
    assert_eq!(codes(list("?type=live").await), ["live-roulette"]);
    assert_eq!(codes(list("?jurisdiction=MT").await), ["vs20olympgate"]);
    assert_eq!(codes(list("?provider=pragmatic&jurisdiction=GB").await).len(), 2);
    assert_eq!(codes(list("?provider=netent").await).len(), 0);
    let disabled = op(&w, &w.admin, Method::POST, &format!("{path}/disable"), None).await;
    assert_eq!(disabled.json()["enabled"], json!(false));
    assert_eq!(codes(list("?enabled=false").await), ["vs20olympgate"]);
    assert_eq!(codes(list("?enabled=true").await), ["live-roulette"]);
    for bad in ["?type=pachinko", "?jurisdiction=Malta", "?enabled=maybe", "?colour=red"] {
        let reply = list(bad).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "invalid_request".into()),
            "{bad}"
        );
    }
    let providers = op(&w, &w.admin, Method::GET, "/operator/v1/games/providers", None).await;
    assert_eq!(providers.json()["providers"][0]["games"], json!(2));
    w.server.stop().await;
}

#[tokio::test]
async fn bad_records_and_unknown_names_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let provider = json!({"name": "Studio", "aggregators": [w.aggregator.id]});
    let put = op(
        &w,
        &w.admin,
        Method::PUT,
        "/operator/v1/games/providers/studio",
        Some(provider),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK);
    let applied = w.server.commands_applied().await;
    let mut bad_rtp = game("studio", "slot", &["MT"]);
    bad_rtp["rtp_default_bp"] = json!(9000);
    let mut bad_limit = game("studio", "slot", &["MT"]);
    bad_limit["limits"][0]["min"] = json!("200.00");
    let mut bad_type = game("studio", "slot", &["MT"]);
    bad_type["type"] = json!("pachinko");
    let cases: Vec<(&str, Option<Value>, StatusCode, &str)> = vec![
        (
            "/operator/v1/games/acme/g1",
            Some(game("nobody", "slot", &["MT"])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_catalogue_entry",
        ),
        (
            "/operator/v1/games/acme/g1",
            Some(bad_rtp),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_catalogue_entry",
        ),
        (
            "/operator/v1/games/acme/g1",
            Some(bad_limit),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_catalogue_entry",
        ),
        (
            "/operator/v1/games/acme/g1",
            Some(bad_type),
            StatusCode::BAD_REQUEST,
            "invalid_game",
        ),
        (
            "/operator/v1/games/acme/g1",
            Some(game("studio", "slot", &["Malta"])),
            StatusCode::BAD_REQUEST,
            "invalid_game",
        ),
        (
            "/operator/v1/games/nobody/g1",
            Some(game("studio", "slot", &["MT"])),
            StatusCode::NOT_FOUND,
            "unknown_aggregator",
        ),
        (
            "/operator/v1/games/acme/g1",
            Some(json!({"provider": "studio"})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "/operator/v1/games/providers/other",
            Some(json!({"name": "X", "aggregators": [999]})),
            StatusCode::BAD_REQUEST,
            "invalid_provider",
        ),
        (
            "/operator/v1/games/providers/other",
            Some(json!({"name": "X", "aggregators": []})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_catalogue_entry",
        ),
    ];
    for (path, body, status, code) in cases {
        let reply = op(&w, &w.admin, Method::PUT, path, body).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code.into()),
            "{path}: {}",
            reply.text()
        );
    }
    for (method, path) in [
        (Method::GET, "/operator/v1/games/acme/g1"),
        (Method::POST, "/operator/v1/games/acme/g1/enable"),
        (Method::GET, "/operator/v1/games/providers/nobody"),
    ] {
        let reply = op(&w, &w.admin, method, path, None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    // The four the ledger refused are journaled as refusals (as every
    // refused command is); the others never reached it. Nothing changed.
    assert_eq!(w.server.commands_applied().await, applied + 4);
    let list = op(&w, &w.admin, Method::GET, "/operator/v1/games", None).await;
    assert_eq!(list.json(), json!({"games": []}));
    // Read-only operators read, and change nothing.
    let auditor = read_only(&w).await;
    let reply = op(&w, &auditor, Method::GET, "/operator/v1/games/providers/studio", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = op(
        &w,
        &auditor,
        Method::PUT,
        "/operator/v1/games/acme/g1",
        Some(game("studio", "slot", &["MT"])),
    )
    .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::FORBIDDEN, "forbidden".into())
    );
    w.server.stop().await;
}

const CSV_HEADER: &str = "aggregator,code,provider,name,type,volatility,rtp_variants_bp,rtp_default_bp,rtp_by_jurisdiction,limits,jurisdictions,enabled";

async fn import_csv(w: &World, csv: &str) -> Reply {
    let headers = [
        ("authorization", format!("Bearer {}", w.admin)),
        ("content-type", "text/csv".to_owned()),
    ];
    w.server
        .send(
            Http::V1,
            Method::POST,
            "/operator/v1/games/import",
            &headers,
            Some(csv.as_bytes().to_vec()),
        )
        .await
}

#[tokio::test]
async fn imports_land_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let provider = json!({"name": "Studio", "aggregators": ["acme"]});
    op(
        &w,
        &w.admin,
        Method::PUT,
        "/operator/v1/games/providers/studio",
        Some(provider),
    )
    .await;
    let applied = w.server.commands_applied().await;
    // JSON: the second row's limit is no amount.
    let mut second = game("studio", "table", &["MT"]);
    second["limits"][0]["max"] = json!("lots");
    let rows = json!([
        {"aggregator": "acme", "code": "g1", "provider": "studio", "name": "One", "type": "slot", "volatility": "low",
         "rtp_variants_bp": [9600], "rtp_default_bp": 9600, "limits": [{"currency": "EUR", "min": "0.10", "max": "10.00"}],
         "jurisdictions": ["MT"]},
        {"aggregator": w.aggregator.id, "code": "g2", "provider": second["provider"], "name": second["name"],
         "type": "table", "volatility": "unrated", "rtp_variants_bp": [9650], "rtp_default_bp": 9650,
         "limits": second["limits"], "jurisdictions": ["MT"]},
    ]);
    let reply = op(
        &w,
        &w.admin,
        Method::POST,
        "/operator/v1/games/import",
        Some(rows.clone()),
    )
    .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "invalid_import".into())
    );
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("row 2, field limits[0].max"),
        "{}",
        reply.text()
    );
    // CSV: the third row repeats the first; the second's RTP is no variant (the ledger's rule).
    let csv = format!(
        "{CSV_HEADER}\nacme,g1,studio,One,slot,low,9600,9600,,EUR:0.10:10.00,MT,true\n\
         acme,g2,studio,\"Two, Deluxe\",slot,low,9600,9700,,EUR:0.10:10.00,MT,true\n\
         acme,g1,studio,One,slot,low,9600,9600,,EUR:0.10:10.00,MT,true\n"
    );
    let reply = import_csv(&w, &csv).await;
    assert_eq!(reply.code(), "invalid_import");
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("row 2: "),
        "{}",
        reply.text()
    );
    let reply = import_csv(&w, "aggregator,code\nacme,g1\n").await;
    assert_eq!(reply.code(), "invalid_import");
    assert_eq!(w.server.commands_applied().await, applied, "nothing was journaled");

    let csv = format!(
        "{CSV_HEADER}\nacme,g1,studio,One,slot,low,9600,9600,,EUR:0.10:10.00,MT,true\n\
         acme,g2,studio,\"Two, Deluxe\",slot,high,9500;9700,9700,GB:9500,EUR:0.10:10.00;GBP:0.10:8,MT;GB,false\n"
    );
    let reply = import_csv(&w, &csv).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        (reply.json()["created"].clone(), reply.json()["updated"].clone()),
        (json!(2), json!(0))
    );
    assert_eq!(w.server.commands_applied().await, applied + 2);
    let shown = op(&w, &w.admin, Method::GET, "/operator/v1/games/acme/g2", None)
        .await
        .json();
    assert_eq!(
        (shown["name"].clone(), shown["enabled"].clone()),
        (json!("Two, Deluxe"), json!(false))
    );
    assert_eq!(
        shown["limits"][1],
        json!({"currency": "GBP", "min": "0.10", "max": "8.00"})
    );
    // Again, with one row changed: one update, one unchanged, one command.
    let csv = csv.replace("acme,g1,studio,One,slot,low", "acme,g1,studio,One,slot,medium");
    let reply = import_csv(&w, &csv).await;
    let reply = reply.json();
    assert_eq!(
        (
            reply["created"].clone(),
            reply["updated"].clone(),
            reply["unchanged"].clone()
        ),
        (json!(0), json!(1), json!(1))
    );
    assert_eq!(
        reply["games"][0],
        json!({"row": 1, "aggregator": w.aggregator.id, "code": "g1", "result": "updated"})
    );
    assert_eq!(w.server.commands_applied().await, applied + 3);
    w.server.stop().await;
}

/// A pool over the world's "slots" at acme: 1 % of each stake, seeded with
/// 10.00, dropping once it holds 10.30.
fn mega_pool() -> Value {
    json!({"code": "mega", "name": "Mega Slots", "currency": "EUR",
        "games": [{"aggregator": "acme", "code": "slots"}], "contribution_bp": 100,
        "seed": "10.00", "must_drop": "10.30"})
}

async fn jackpot(w: &World) -> Value {
    op(w, &w.admin, Method::GET, "/operator/v1/jackpots/mega", None)
        .await
        .json()
}

#[tokio::test]
async fn jackpot_pools_take_contributions_drop_pay_and_conserve_money() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let created = op(&w, &w.admin, Method::POST, "/operator/v1/jackpots", Some(mega_pool())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(
        created.json(),
        json!({"code": "mega", "name": "Mega Slots", "currency": "EUR",
            "games": [{"aggregator": w.aggregator.id, "code": "slots"}], "contribution_bp": 100,
            "seed": "10.00", "must_drop": "10.30", "balance": "10.00", "contributions": "0.00",
            "wins": 0, "last_win": null})
    );
    // Three bets of 10.00 bring the pool to its cap; the fourth (1.00)
    // contributes 0.01 and wins the 10.31.
    for (n, id) in ["b1", "b2", "b3"].into_iter().enumerate() {
        let reply = w.bet(Http::V1, id, "10.00", &format!("r{n}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    assert_eq!(jackpot(&w).await["balance"], json!("10.30"));
    let dropped = w.bet(Http::V1, "b4", "1.00", "r4").await;
    assert_eq!(dropped.status, StatusCode::OK, "{}", dropped.text());
    assert_eq!(dropped.json()["cash"], json!("79.31"));
    assert_eq!(
        dropped.json()["jackpot"],
        json!({"pool": "mega", "paid": "10.31", "how": "drop"})
    );
    let shown = jackpot(&w).await;
    assert_eq!(
        (
            shown["balance"].clone(),
            shown["contributions"].clone(),
            shown["wins"].clone()
        ),
        (json!("10.00"), json!("0.31"), json!(1))
    );
    assert_eq!(shown["last_win"]["player"], json!(w.player));
    assert_eq!(shown["last_win"]["amount"], json!("10.31"));
    // A rolled-back bet's contribution stays in the pool; the stake comes back.
    w.bet(Http::V1, "b5", "5.00", "r5").await;
    let rolled = w.rollback(Http::V1, "rb5", "b5").await;
    assert_eq!(rolled.json()["cash"], json!("79.31"));
    assert_eq!(jackpot(&w).await["balance"], json!("10.05"));
    // A jackpot win (the native contract's `kind`) is paid from the pool,
    // which is topped up to its seed.
    let body = json!({"token": w.token, "transaction_id": "jw1", "round_id": "r5", "game": "slots",
        "currency": "EUR", "amount": "2.00", "kind": "jackpot"});
    let won = w.wallet(Http::V1, "win", body).await;
    assert_eq!(won.json()["cash"], json!("81.31"), "{}", won.text());
    assert_eq!(
        won.json()["jackpot"],
        json!({"pool": "mega", "paid": "2.00", "how": "win"})
    );
    assert_eq!(jackpot(&w).await["balance"], json!("10.00"));
    // An award pays the whole pool and reseeds it.
    let path = "/operator/v1/jackpots/mega/award";
    let awarded = op(&w, &w.admin, Method::POST, path, Some(json!({"player": w.player}))).await;
    assert_eq!(awarded.status, StatusCode::OK, "{}", awarded.text());
    let awarded = awarded.json();
    assert_eq!(
        (
            awarded["paid"].clone(),
            awarded["reseed"].clone(),
            awarded["cash"].clone()
        ),
        (json!("10.00"), json!("10.00"), json!("91.31"))
    );
    assert_eq!(awarded["jackpot"]["wins"], json!(3));
    assert_eq!(
        w.server
            .metric("jackpot_pool_balance_minor{pool=\"mega\",currency=\"EUR\"}")
            .await,
        Some(10_00)
    );
    let list = op(&w, &w.admin, Method::GET, "/operator/v1/jackpots", None).await;
    assert_eq!(list.json()["jackpots"][0]["balance"], json!("10.00"));
    w.server.stop().await;

    // The journal replays to the same pool, and money is conserved with
    // the pool counted: 100.00 deposited, 91.31 in the wallet.
    let (ledger, _) = engine::durable::replay(dir.path(), engine::Config::default()).unwrap();
    assert_eq!(ledger.check_conservation(), Ok(()));
    let pool = ledger.jackpots().pool("mega").unwrap();
    assert_eq!((pool.balance.minor(), pool.wins), (10_00, 3));
    let flows = ledger.jackpots().flows(engine::Currency::EUR);
    assert_eq!(
        (flows.contributed, flows.seeded, flows.paid),
        (36, 10_00 + 10_00 + 1_95 + 10_00, 10_31 + 2_00 + 10_00)
    );
}

#[tokio::test]
async fn jackpot_mistakes_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let created = op(&w, &w.admin, Method::POST, "/operator/v1/jackpots", Some(mega_pool())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let applied = w.server.commands_applied().await;
    let mut zero = mega_pool();
    zero["code"] = json!("other");
    zero["games"][0]["code"] = json!("roulette");
    zero["contribution_bp"] = json!(0);
    let mut low_cap = zero.clone();
    low_cap["contribution_bp"] = json!(50);
    low_cap["must_drop"] = json!("5.00");
    let mut overlap = mega_pool();
    overlap["code"] = json!("again");
    let mut bad_seed = mega_pool();
    bad_seed["seed"] = json!("1.001");
    let mut no_aggregator = mega_pool();
    no_aggregator["games"][0]["aggregator"] = json!("nobody");
    let cases = [
        (mega_pool(), StatusCode::CONFLICT, "jackpot_exists"),
        (zero, StatusCode::UNPROCESSABLE_ENTITY, "invalid_jackpot"),
        (low_cap, StatusCode::UNPROCESSABLE_ENTITY, "invalid_jackpot"),
        (overlap, StatusCode::UNPROCESSABLE_ENTITY, "invalid_jackpot"),
        (bad_seed, StatusCode::BAD_REQUEST, "too_many_decimals"),
        (no_aggregator, StatusCode::NOT_FOUND, "unknown_aggregator"),
    ];
    for (body, status, code) in cases {
        let reply = op(&w, &w.admin, Method::POST, "/operator/v1/jackpots", Some(body)).await;
        assert_eq!((reply.status, reply.code()), (status, code.into()), "{}", reply.text());
    }
    let award = |path: &'static str, player: u64| {
        let w = &w;
        async move { op(w, &w.admin, Method::POST, path, Some(json!({"player": player}))).await }
    };
    let reply = award("/operator/v1/jackpots/nope/award", w.player).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::NOT_FOUND, "unknown_jackpot".into())
    );
    let reply = award("/operator/v1/jackpots/mega/award", 999).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::NOT_FOUND, "unknown_player".into())
    );
    // Four refusals reached the ledger (journaled as refusals); the rest never did.
    assert_eq!(w.server.commands_applied().await, applied + 4);
    let auditor = read_only(&w).await;
    let reply = op(&w, &auditor, Method::GET, "/operator/v1/jackpots/mega", None).await;
    assert_eq!(reply.json()["balance"], json!("10.00"));
    let reply = op(
        &w,
        &auditor,
        Method::POST,
        "/operator/v1/jackpots/mega/award",
        Some(json!({"player": w.player})),
    )
    .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::FORBIDDEN, "forbidden".into())
    );
    w.server.stop().await;
}
