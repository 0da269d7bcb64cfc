//! The native wallet API end to end: a real server on loopback ports with a
//! journal in a temporary directory, driven over HTTP/1.1, HTTP/2 and HTTP/3
//! (and, for the full round, HTTP/1.1 and HTTP/2 over TLS). Replies are
//! compared byte for byte.

use crate::support;

use gateway::config::ServeConfig;
use reqwest::{Method, StatusCode};
use serde_json::json;
use support::{ALL, EVERY, Http, World, wallet_ok};

const DAY: u64 = 86_400_000;

/// The first bet of a fresh world gets sequence number 6: operator,
/// aggregator, player, deposit and session (queries and retries take none).
const FIRST: u64 = 6;

#[tokio::test]
async fn a_full_round_on_every_transport() {
    for http in EVERY {
        let dir = tempfile::tempdir().unwrap();
        let w = World::new_for(dir.path(), http).await;
        let auth = w.wallet(http, "authenticate", json!({"token": w.token})).await;
        assert_eq!(
            (auth.status, auth.text()),
            (StatusCode::OK, wallet_ok(1, "100.00", None))
        );
        let bet = w.bet(http, "b-1", "10.50", "r-1").await;
        assert_eq!(
            (bet.status, bet.text()),
            (StatusCode::OK, wallet_ok(1, "89.50", Some(FIRST)))
        );
        let win = w.win(http, "w-1", "25", "r-1").await;
        assert_eq!(win.text(), wallet_ok(1, "114.50", Some(FIRST + 1)));
        let bet = w.bet(http, "b-2", "4.50", "r-1").await;
        assert_eq!(bet.text(), wallet_ok(1, "110.00", Some(FIRST + 2)));
        let rollback = w.rollback(http, "rb-2", "b-2").await;
        assert_eq!(rollback.text(), wallet_ok(1, "114.50", Some(FIRST + 3)));
        let end = json!({"token": w.token, "transaction_id": "end-1", "round_id": "r-1", "game": "slots"});
        let end = w.wallet(http, "end-round", end).await;
        assert_eq!((end.status, end.text()), (StatusCode::OK, wallet_ok(1, "114.50", None)));
        let late = w.win(http, "w-2", "1.00", "r-1").await;
        assert_eq!(
            (late.status, late.code()),
            (StatusCode::NOT_FOUND, "unknown_round".into())
        );
        let balance = w.wallet(http, "balance", json!({"token": w.token})).await;
        assert_eq!(balance.text(), wallet_ok(1, "114.50", None));
        // The operator's view, from the read model: current to every write
        // acknowledged before it (the end-round at seq 11 included).
        let expected = json!({"player": 1, "currency": "EUR", "cash": "114.50", "bonus": "0.00", "reserved": "0.00",
            "as_of_seq": 11});
        assert_eq!(w.balance().await, expected);
        w.server.stop().await;
    }
}

#[tokio::test]
async fn retries_get_the_original_bytes_on_every_transport_and_changed_payloads_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let first = w.bet(Http::V1, "b-1", "10.00", "r-1").await;
    assert_eq!(first.text(), wallet_ok(1, "90.00", Some(FIRST)));
    let refused = w.bet(Http::V2, "b-big", "500.00", "r-1").await;
    let insufficient = r#"{"error":{"code":"insufficient_funds","message":"insufficient funds: 90.00 EUR available"},"player":1,"currency":"EUR","cash":"90.00","bonus":"0.00"}"#;
    assert_eq!(
        (refused.status, refused.text()),
        (StatusCode::UNPROCESSABLE_ENTITY, insufficient.into())
    );
    // The balance moves on; retries still answer what was answered then.
    assert_eq!(w.win(Http::V1, "w-1", "5.00", "r-1").await.status, StatusCode::OK);
    for http in ALL {
        assert_eq!(w.bet(http, "b-1", "10.00", "r-1").await, first);
        assert_eq!(w.bet(http, "b-big", "500.00", "r-1").await, refused);
    }
    let conflicts = [
        w.bet(Http::V1, "b-1", "10.01", "r-1").await,
        w.bet(Http::V2, "b-1", "10.00", "r-2").await,
        w.win(Http::V3, "b-1", "10.00", "r-1").await,
        w.bet(Http::V3, "b-big", "500.01", "r-1").await,
    ];
    let conflict = r#"{"error":{"code":"conflict","message":"this id was used before with a different request"}}"#;
    for reply in conflicts {
        assert_eq!((reply.status, reply.text()), (StatusCode::CONFLICT, conflict.into()));
    }
    assert_eq!(w.balance().await["cash"], "95.00");
    w.server.stop().await;
}

#[tokio::test]
async fn a_rollback_before_its_bet_refuses_the_late_bet() {
    for http in ALL {
        let dir = tempfile::tempdir().unwrap();
        let w = World::new(dir.path()).await;
        let rollback = w.rollback(http, "rb-1", "b-late").await;
        let unknown = r#"{"error":{"code":"unknown_transaction","message":"no such transaction"},"player":1,"currency":"EUR","cash":"100.00","bonus":"0.00"}"#;
        assert_eq!(
            (rollback.status, rollback.text()),
            (StatusCode::NOT_FOUND, unknown.into())
        );
        let late = w.bet(http, "b-late", "5.00", "r-1").await;
        assert_eq!(
            (late.status, late.code()),
            (StatusCode::CONFLICT, "bet_rolled_back".into())
        );
        assert_eq!(w.rollback(http, "rb-1", "b-late").await, rollback);
        assert_eq!(w.balance().await["cash"], "100.00");
        w.server.stop().await;
    }
}

#[tokio::test]
async fn a_win_naming_its_bet_is_refused_once_the_bet_was_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let paying = |id: &str, bet: &str| {
        json!({"token": w.token, "transaction_id": id, "round_id": "r-1", "game": "slots",
            "currency": "EUR", "amount": "25.00", "bet_transaction_id": bet})
    };
    assert_eq!(w.bet(Http::V1, "b-1", "10.00", "r-1").await.status, StatusCode::OK);
    assert_eq!(w.rollback(Http::V2, "rb-1", "b-1").await.status, StatusCode::OK);
    let too_long = "x".repeat(65);
    let cases = [
        (Http::V1, "w-1", "b-1", StatusCode::CONFLICT, "bet_rolled_back"),
        (Http::V2, "w-2", "b-never", StatusCode::NOT_FOUND, "unknown_transaction"),
        (
            Http::V3,
            "w-3",
            too_long.as_str(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (http, id, bet, status, code) in cases {
        let refused = w.wallet(http, "win", paying(id, bet)).await;
        assert_eq!((refused.status, refused.code()), (status, code.to_owned()), "{id}");
    }
    assert_eq!(
        w.balance().await["cash"],
        "100.00",
        "a refunded stake is not also paid out"
    );
    assert_eq!(w.bet(Http::V1, "b-2", "10.00", "r-1").await.status, StatusCode::OK);
    let paid = w.wallet(Http::V3, "win", paying("w-4", "b-2")).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.text());
    assert_eq!(w.balance().await["cash"], "115.00");
    w.server.stop().await;
}

#[tokio::test]
async fn limits_and_self_exclusion_block_bets_but_not_wins() {
    for http in ALL {
        let dir = tempfile::tempdir().unwrap();
        let w = World::new(dir.path()).await;
        let (s, admin, player) = (&w.server, &w.admin, w.player);
        let limit = json!({"currency": "EUR", "metric": "wager", "period": "day", "amount": "20.00"});
        let path = format!("/operator/v1/players/{player}/limits");
        let set = s.op(http, admin, Method::PUT, &path, Some(limit)).await;
        assert_eq!(set.text(), r#"{"status":"accepted"}"#);
        assert_eq!(w.bet(http, "b-1", "15.00", "r-1").await.status, StatusCode::OK);
        let over = w.bet(http, "b-2", "10.00", "r-1").await;
        let exceeded = r#"{"error":{"code":"limit_exceeded","message":"the day wager limit would be exceeded: 5.00 EUR left"},"player":1,"currency":"EUR","cash":"85.00","bonus":"0.00"}"#;
        assert_eq!((over.status, over.text()), (StatusCode::FORBIDDEN, exceeded.into()));
        let win = w.win(http, "w-1", "30.00", "r-1").await;
        assert_eq!(win.text(), wallet_ok(1, "115.00", Some(FIRST + 3)));
        let until = s.now() + DAY;
        let path = format!("/operator/v1/players/{player}/self-exclusion");
        let excluded = s
            .op(http, admin, Method::POST, &path, Some(json!({"until_ms": until})))
            .await;
        assert_eq!(excluded.text(), r#"{"status":"accepted"}"#);
        let blocked = w.bet(http, "b-3", "1.00", "r-1").await;
        assert_eq!(
            (blocked.status, blocked.code()),
            (StatusCode::FORBIDDEN, "player_blocked".into())
        );
        assert_eq!(blocked.json()["cash"], "115.00");
        let win = w.win(http, "w-2", "1.00", "r-1").await;
        assert_eq!(win.text(), wallet_ok(1, "116.00", Some(FIRST + 6)));
        w.server.stop().await;
    }
}

#[tokio::test]
async fn after_the_session_expires_bets_are_refused_and_wins_and_rollbacks_land() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    assert_eq!(w.bet(Http::V1, "b-1", "10.00", "r-1").await.status, StatusCode::OK);
    assert_eq!(w.bet(Http::V1, "b-2", "20.00", "r-1").await.status, StatusCode::OK);
    w.server.advance(60_001);
    let auth = w.wallet(Http::V2, "authenticate", json!({"token": w.token})).await;
    assert_eq!(
        (auth.status, auth.code()),
        (StatusCode::UNAUTHORIZED, "session_expired".into())
    );
    let bet = w.bet(Http::V3, "b-3", "1.00", "r-1").await;
    assert_eq!(
        (bet.status, bet.code()),
        (StatusCode::UNAUTHORIZED, "session_expired".into())
    );
    assert_eq!(bet.json()["cash"], "70.00");
    assert_eq!(w.win(Http::V2, "w-1", "3.00", "r-1").await.json()["cash"], "73.00");
    assert_eq!(w.rollback(Http::V1, "rb-2", "b-2").await.json()["cash"], "93.00");
    // A bet placed before expiry still gets its original answer.
    assert_eq!(
        w.bet(Http::V2, "b-1", "10.00", "r-1").await.text(),
        wallet_ok(1, "90.00", Some(FIRST))
    );
    w.server.stop().await;
}

#[tokio::test]
async fn a_restart_mid_session_keeps_state_tokens_and_idempotency() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let first_token = w.server.first_token();
    let bet = w.bet(Http::V1, "b-1", "10.00", "r-1").await;
    assert_eq!(bet.status, StatusCode::OK);
    let refused = w.bet(Http::V1, "b-big", "1000.00", "r-1").await;
    let w = w.restart(dir.path()).await;
    assert_eq!(w.server.first_token(), first_token, "no second first operator");
    for http in ALL {
        assert_eq!(w.bet(http, "b-1", "10.00", "r-1").await, bet);
        assert_eq!(w.bet(http, "b-big", "1000.00", "r-1").await, refused);
        assert_eq!(w.bet(http, "b-1", "11.00", "r-1").await.code(), "conflict");
    }
    let win = w.win(Http::V3, "w-1", "2.50", "r-1").await;
    assert_eq!(win.json()["cash"], "92.50");
    let auth = w.wallet(Http::V1, "authenticate", json!({"token": w.token})).await;
    assert_eq!(auth.text(), wallet_ok(1, "92.50", None));
    assert_eq!(w.balance().await["cash"], "92.50");
    w.server.stop().await;
}

#[tokio::test]
async fn a_graceful_stop_finishes_the_request_in_flight_and_keeps_it() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let body = json!({"token": w.token, "transaction_id": "b-1", "round_id": "r-1", "game": "slots",
        "currency": "EUR", "amount": "10.00"})
    .to_string();
    let mut head = format!(
        "POST /wallet/v1/bet HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in w.aggregator.headers(body.as_bytes(), w.server.now()) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(w.server.base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // "100 Continue" comes once the handler reads the body: the request is in flight.
    let mut buffer = vec![0; 4096];
    let n = stream.read(&mut buffer).await.unwrap();
    assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 100"));
    let World { server, .. } = w;
    let clock = server.clock.clone();
    let stopping = tokio::spawn(server.stop());
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    let reply = String::from_utf8_lossy(&reply).into_owned();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let answered = wallet_ok(1, "90.00", Some(FIRST));
    assert!(reply.ends_with(&answered), "{reply}");
    stopping.await.unwrap();
    // The acknowledged bet survived the stop.
    let server = support::TestServer::start_at(support::config(dir.path()), clock).await;
    let path = "/operator/v1/players/1/balance?currency=EUR";
    let balance = server
        .op(Http::V1, &server.first_token(), Method::GET, path, None)
        .await;
    assert_eq!(balance.json()["cash"], "90.00");
    server.stop().await;
}

#[tokio::test]
async fn a_session_serves_only_its_aggregator_and_currency() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let body = json!({"token": w.token, "transaction_id": "b-1", "round_id": "r-1", "game": "slots",
        "currency": "USD", "amount": "1.00"});
    let usd = w.wallet(Http::V2, "bet", body).await;
    let mismatch = r#"{"error":{"code":"currency_mismatch","message":"the wallet or session does not hold USD"},"player":1,"currency":"EUR","cash":"100.00","bonus":"0.00"}"#;
    assert_eq!(
        (usd.status, usd.text()),
        (StatusCode::UNPROCESSABLE_ENTITY, mismatch.into())
    );
    // Another aggregator cannot use this aggregator's token.
    let other = w.create_aggregator(Http::V1, json!({"name": "zeta"})).await.json();
    let other = support::Aggregator {
        id: other["aggregator"].as_u64().unwrap() as u32,
        secret: engine::Secret(
            hex::decode(other["secret"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap(),
        ),
    };
    let body = json!({"token": w.token}).to_string();
    let reply = w.wallet_as(&other, Http::V1, "authenticate", body.as_bytes()).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::UNAUTHORIZED, "unknown_token".into())
    );
    w.server.stop().await;
}

#[tokio::test]
async fn a_restart_from_a_snapshot_keeps_state_tokens_and_idempotency() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let bet = w.bet(Http::V1, "b-1", "10.00", "r-1").await;
    assert_eq!(bet.status, StatusCode::OK);
    let clock = w.server.clock.clone();
    w.server.stop().await;
    let with_the_bet = journal::verify(dir.path()).unwrap().last_seq;

    // A server that snapshots after every durable command: the snapshot
    // covers the session, the operator and the bet.
    let snapshotting = || ServeConfig {
        snapshot_every_commands: 1,
        ..support::config(dir.path())
    };
    let server = support::TestServer::start_at(snapshotting(), clock.clone()).await;
    let snapshots = dir.path().join(engine::snapshot::SNAPSHOT_DIR_NAME);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while engine::snapshot::list(dir.path()).unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no snapshot in {}",
            snapshots.display()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    server.stop().await;

    let w = World {
        server: support::TestServer::start_at(snapshotting(), clock).await,
        ..w
    };
    for http in ALL {
        assert_eq!(
            w.bet(http, "b-1", "10.00", "r-1").await,
            bet,
            "the retry gets the original reply"
        );
    }
    let win = w.win(Http::V2, "w-1", "2.50", "r-1").await;
    assert_eq!(win.json()["cash"], "92.50");
    w.server.stop().await;
    // The state came from a snapshot, not from a replay of everything.
    let (_, report) = engine::durable::replay(dir.path(), engine::Config::default()).unwrap();
    assert!(report.skipped_snapshots.is_empty(), "{:?}", report.skipped_snapshots);
    assert!(report.snapshot.is_some_and(|s| s.seq >= with_the_bet));
}

#[tokio::test]
async fn once_the_catalogue_holds_a_game_bets_must_fit_it() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    // Before any game, any game takes bets.
    assert_eq!(w.bet(Http::V1, "b-0", "1.00", "r-0").await.status, StatusCode::OK);
    w.catalogue(w.aggregator.id, "slots").await;
    assert_eq!(w.bet(Http::V1, "b-1", "50.00", "r-1").await.status, StatusCode::OK);
    let refused = |reply: &support::Reply| (reply.status, reply.code(), reply.json()["cash"].clone());
    let over = w.bet(Http::V1, "b-2", "50.01", "r-1").await;
    assert_eq!(
        refused(&over),
        (
            StatusCode::FORBIDDEN,
            "stake_outside_game_limits".into(),
            json!("49.00")
        )
    );
    assert_eq!(
        over.json()["error"]["message"],
        "the game takes stakes from 0.10 EUR to 50.00 EUR in this currency"
    );
    let body = json!({"token": w.token, "transaction_id": "b-3", "round_id": "r-3", "game": "poker",
        "currency": "EUR", "amount": "1.00"});
    let unknown = w.wallet(Http::V2, "bet", body).await;
    assert_eq!(
        refused(&unknown),
        (StatusCode::NOT_FOUND, "unknown_game".into(), json!("49.00"))
    );
    w.set_game_enabled(w.aggregator.id, "slots", false).await;
    let off = w.bet(Http::V1, "b-4", "1.00", "r-1").await;
    assert_eq!(
        refused(&off),
        (StatusCode::FORBIDDEN, "game_disabled".into(), json!("49.00"))
    );
    let win = w.win(Http::V1, "w-1", "5.00", "r-1").await;
    assert_eq!(win.status, StatusCode::OK, "{}", win.text());
    w.server.stop().await;
}
