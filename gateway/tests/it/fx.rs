//! The FX rate table over the operator API: rates set with their
//! effective times are journaled and kept as history; bad rates change
//! nothing.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{self, T0, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rates_are_journaled_with_their_effective_times_and_kept_as_history() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_at(support::config(dir.path()), Arc::new(AtomicU64::new(T0))).await;
    let admin = server.first_token();
    let made = server
        .op(
            server.h1(),
            &admin,
            Method::POST,
            "/operator/v1/operators",
            Some(json!({"name": "desk", "role": "support"})),
        )
        .await;
    let support_token = made.json()["token"].as_str().unwrap().to_owned();
    let put = |token: String, path: &'static str, body: serde_json::Value| {
        let server = &server;
        async move { server.op(server.h1(), &token, Method::PUT, path, Some(body)).await }
    };
    let first = put(
        admin.clone(),
        "/operator/v1/fx/EUR/GBP",
        json!({"rate": "0.85", "effective_at_ms": 1_000}),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(first.json()["rate"], "0.85");
    let later = put(
        admin.clone(),
        "/operator/v1/fx/EUR/GBP",
        json!({"rate": "0.8612", "effective_at_ms": 2_000}),
    )
    .await;
    assert_eq!(later.status, StatusCode::OK, "{}", later.text());
    let btc = put(
        admin.clone(),
        "/operator/v1/fx/BTC/EUR",
        json!({"rate": "60000.12345678"}),
    )
    .await;
    assert_eq!(btc.json()["effective_at_ms"], T0);

    let applied = server.commands_applied().await;
    for (body, code) in [
        (json!({"rate": "0"}), "invalid_request"),
        (json!({"rate": "0.123456789"}), "invalid_request"),
        (json!({"rate": 0.85}), "invalid_request"),
    ] {
        let refused = put(admin.clone(), "/operator/v1/fx/EUR/GBP", body).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text());
        assert_eq!(refused.json()["error"]["code"], code);
    }
    let forbidden = put(support_token, "/operator/v1/fx/EUR/GBP", json!({"rate": "1"})).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(server.commands_applied().await, applied);
    let itself = put(admin.clone(), "/operator/v1/fx/EUR/EUR", json!({"rate": "1"})).await;
    assert_eq!(itself.status, StatusCode::BAD_REQUEST);
    assert_eq!(itself.json()["error"]["code"], "invalid_fx_rate");

    let history = server
        .op(
            server.h1(),
            &admin,
            Method::GET,
            "/operator/v1/fx?base=EUR&quote=GBP",
            None,
        )
        .await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.text());
    let rates: Vec<(String, u64)> = history.json()["rates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rate"].as_str().unwrap().to_owned(),
                r["effective_at_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rates, vec![("0.8612".to_owned(), 2_000), ("0.85".to_owned(), 1_000)]);
    server.stop().await;
}
