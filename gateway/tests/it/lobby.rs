//! Brands and their lobbies end to end: brands set and listed (the default
//! one always there), a lobby naming catalogued games set by marketing,
//! served publicly at `/lobby/v1/{brand}` in order with the theme, leaving
//! out games disabled since and games not allowed in the jurisdiction
//! asked for; every refusal (unknown brand or game, bad colour or URL,
//! a role that may not) changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Http, Reply, World};

async fn op(w: &World, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
    w.server.op(Http::V1, token, method, path, body).await
}

async fn public(w: &World, path: &str) -> Reply {
    w.server.send(Http::V1, Method::GET, path, &[], None).await
}

/// Puts game `code` in the catalogue, allowed in `jurisdictions`.
async fn game(w: &World, code: &str, kind: &str, jurisdictions: &[&str]) {
    let body = json!({"provider": "studio", "name": format!("Game {code}"), "type": kind, "volatility": "low",
        "rtp_variants_bp": [9600], "rtp_default_bp": 9600,
        "limits": [{"currency": "EUR", "min": "0.10", "max": "50.00"}], "jurisdictions": jurisdictions});
    let path = format!("/operator/v1/games/{}/{code}", w.aggregator.id);
    let put = op(w, &w.admin, Method::PUT, &path, Some(body)).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
}

fn lobby(aggregator: u32) -> Value {
    json!({
        "categories": [
            {"code": "slots", "name": "Slots", "games": [
                {"aggregator": aggregator, "game": "gb-slot"},
                {"aggregator": aggregator, "game": "slots"},
                {"aggregator": aggregator, "game": "book"}]},
            {"code": "live", "name": "Live casino", "games": [{"aggregator": aggregator, "game": "roulette"}]}
        ],
        "featured": [{"aggregator": aggregator, "game": "book"}, {"aggregator": aggregator, "game": "roulette"}],
        "theme": {"primary_colour": "#0a7d3b", "secondary_colour": "#FFCC00", "logo_url": "https://cdn.example/lucky.svg"}
    })
}

fn codes(games: &Value) -> Vec<&str> {
    games
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["game"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lobbies_serve_enabled_allowed_games_in_order_and_refusals_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let made = op(
        &w,
        &w.admin,
        Method::POST,
        "/operator/v1/operators",
        Some(json!({"name": "growth", "role": "marketing"})),
    )
    .await;
    let marketing = made.json()["token"].as_str().unwrap().to_owned();
    let made = op(
        &w,
        &w.admin,
        Method::POST,
        "/operator/v1/operators",
        Some(json!({"name": "desk", "role": "support"})),
    )
    .await;
    let support = made.json()["token"].as_str().unwrap().to_owned();
    let provider = json!({"name": "Studio", "aggregators": [w.aggregator.id]});
    let put = op(
        &w,
        &w.admin,
        Method::PUT,
        "/operator/v1/games/providers/studio",
        Some(provider),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    game(&w, "slots", "slot", &["MT"]).await;
    game(&w, "book", "slot", &["MT", "GB"]).await;
    game(&w, "gb-slot", "slot", &["GB"]).await;
    game(&w, "roulette", "live", &["MT"]).await;

    // Brands: the default one exists without being set.
    let list = op(&w, &support, Method::GET, "/operator/v1/brands", None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json()["brands"][0]["code"], "default");
    let brand = json!({"name": "Lucky", "currencies": ["EUR"], "jurisdictions": ["MT"]});
    let set = op(
        &w,
        &marketing,
        Method::PUT,
        "/operator/v1/brands/lucky",
        Some(brand.clone()),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    assert_eq!(set.json()["jurisdictions"], json!(["MT"]));
    for (field, value, code) in [
        ("currencies", json!(["XXX"]), "unknown_currency"),
        ("jurisdictions", json!(["mt"]), "invalid_brand"),
        ("name", json!(""), "invalid_brand"),
    ] {
        let mut bad = brand.clone();
        bad[field] = value;
        let refused = op(&w, &marketing, Method::PUT, "/operator/v1/brands/bad", Some(bad)).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::BAD_REQUEST, code.into()),
            "{field}"
        );
    }
    let refused = op(&w, &support, Method::PUT, "/operator/v1/brands/lucky", Some(brand)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let shown = op(&w, &support, Method::GET, "/operator/v1/brands/lucky", None).await;
    assert_eq!(shown.json()["name"], "Lucky");
    let missing = op(&w, &support, Method::GET, "/operator/v1/brands/bad", None).await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::NOT_FOUND, "unknown_brand".into())
    );

    // No lobby yet.
    let none = public(&w, "/lobby/v1/lucky").await;
    assert_eq!((none.status, none.code()), (StatusCode::NOT_FOUND, "no_lobby".into()));
    let none = public(&w, "/lobby/v1/nowhere").await;
    assert_eq!(
        (none.status, none.code()),
        (StatusCode::NOT_FOUND, "unknown_brand".into())
    );

    // Refusals: unknown brand, a game not in the catalogue, a bad colour
    // or logo URL, a category listed twice, a role that may not.
    let path = "/operator/v1/brands/lucky/lobby";
    let good = lobby(w.aggregator.id);
    let refused = op(
        &w,
        &marketing,
        Method::PUT,
        "/operator/v1/brands/nowhere/lobby",
        Some(good.clone()),
    )
    .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::NOT_FOUND, "unknown_brand".into())
    );
    let mut bad = good.clone();
    bad["featured"][0]["game"] = json!("ghost");
    let refused = op(&w, &marketing, Method::PUT, path, Some(bad)).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::NOT_FOUND, "unknown_game".into())
    );
    for (pointer, value) in [
        ("/theme/primary_colour", json!("green")),
        ("/theme/logo_url", json!("http://cdn.example/x.svg")),
        ("/categories/1/code", json!("slots")),
        ("/categories/0/games/0/game", json!("")),
    ] {
        let mut bad = good.clone();
        *bad.pointer_mut(pointer).unwrap() = value;
        let refused = op(&w, &marketing, Method::PUT, path, Some(bad)).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::BAD_REQUEST, "invalid_lobby".into()),
            "{pointer}: {}",
            refused.text()
        );
    }
    let refused = op(&w, &support, Method::PUT, path, Some(good.clone())).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let none = public(&w, "/lobby/v1/lucky").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "nothing refused was recorded");

    let set = op(&w, &marketing, Method::PUT, path, Some(good)).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());

    // Served publicly, in order; the brand is Malta only, so the GB-only
    // game is left out.
    let served = public(&w, "/lobby/v1/lucky").await;
    assert_eq!(served.status, StatusCode::OK, "{}", served.text());
    let body = served.json();
    assert_eq!(codes(&body["categories"][0]["games"]), ["slots", "book"]);
    assert_eq!(codes(&body["categories"][1]["games"]), ["roulette"]);
    assert_eq!(codes(&body["featured"]), ["book", "roulette"]);
    assert_eq!(body["categories"][1]["games"][0]["type"], "live");
    assert_eq!(body["categories"][1]["name"], "Live casino");
    assert_eq!(body["theme"]["secondary_colour"], "#FFCC00");
    assert_eq!(body["theme"]["logo_url"], "https://cdn.example/lucky.svg");
    // Asked for GB: only the games allowed there.
    let gb = public(&w, "/lobby/v1/lucky?jurisdiction=GB").await.json();
    assert_eq!(codes(&gb["categories"][0]["games"]), ["gb-slot", "book"]);
    assert_eq!(codes(&gb["featured"]), ["book"]);
    let bad = public(&w, "/lobby/v1/lucky?jurisdiction=gb").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let bad = public(&w, "/lobby/v1/lucky?colour=red").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // A game disabled since leaves the lobby; enabled again, it is back.
    w.set_game_enabled(w.aggregator.id, "book", false).await;
    let served = public(&w, "/lobby/v1/lucky").await.json();
    assert_eq!(codes(&served["categories"][0]["games"]), ["slots"]);
    assert_eq!(codes(&served["featured"]), ["roulette"]);
    let operators = op(&w, &support, Method::GET, path, None).await;
    assert_eq!(operators.status, StatusCode::OK);
    assert_eq!(codes(&operators.json()["featured"]), ["roulette"]);
    w.set_game_enabled(w.aggregator.id, "book", true).await;
    let served = public(&w, "/lobby/v1/lucky").await.json();
    assert_eq!(codes(&served["featured"]), ["book", "roulette"]);
}
