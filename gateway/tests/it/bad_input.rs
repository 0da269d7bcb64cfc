//! Bad input gets a clear 4xx JSON error and changes nothing (DESIGN.md
//! invariant 8): one case per kind of mistake, each checked for its status
//! and code, and the journal checked not to have grown (the sequencer's
//! applied-command count is the journal's record count).

use crate::support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Aggregator, Http, World};

fn bet_body(token: &str) -> Value {
    json!({"token": token, "transaction_id": "b-1", "round_id": "r-1", "game": "slots", "currency": "EUR", "amount": "1.00"})
}

fn with(mut body: Value, key: &str, value: Value) -> Vec<u8> {
    body[key] = value;
    body.to_string().into_bytes()
}

fn without(mut body: Value, key: &str) -> Vec<u8> {
    body.as_object_mut().unwrap().remove(key);
    body.to_string().into_bytes()
}

/// What a case changes about a correctly signed bet.
#[derive(Clone)]
enum Tamper {
    Body(Vec<u8>),
    /// Sign with this aggregator instead.
    SignAs(Aggregator),
    /// Sign at now + this offset.
    Skew(i64),
    DropHeader(&'static str),
    ContentType(&'static str),
}

#[tokio::test]
async fn bad_wallet_requests_are_refused_with_a_code_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let body = bet_body(&w.token);
    let stranger = Aggregator {
        id: w.aggregator.id,
        secret: engine::Secret([9; 32]),
    };
    let unknown = Aggregator {
        id: 99,
        secret: w.aggregator.secret,
    };
    let cases: Vec<(&str, Tamper, StatusCode, &str)> = vec![
        (
            "malformed JSON",
            Tamper::Body(b"{\"token\": ".to_vec()),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "not JSON at all",
            Tamper::Body(b"bet=1".to_vec()),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "amount as a number",
            Tamper::Body(with(body.clone(), "amount", json!(1.5))),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "close_round as a string",
            Tamper::Body(with(body.clone(), "close_round", json!("yes"))),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "unknown field",
            Tamper::Body(with(body.clone(), "bonus", json!("1.00"))),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "missing amount",
            Tamper::Body(without(body.clone(), "amount")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "missing token",
            Tamper::Body(without(body.clone(), "token")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "negative amount",
            Tamper::Body(with(body.clone(), "amount", json!("-1.00"))),
            StatusCode::BAD_REQUEST,
            "invalid_amount",
        ),
        (
            "zero amount",
            Tamper::Body(with(body.clone(), "amount", json!("0.00"))),
            StatusCode::BAD_REQUEST,
            "invalid_amount",
        ),
        (
            "exponent",
            Tamper::Body(with(body.clone(), "amount", json!("1e2"))),
            StatusCode::BAD_REQUEST,
            "invalid_amount",
        ),
        (
            "three decimals of EUR",
            Tamper::Body(with(body.clone(), "amount", json!("1.001"))),
            StatusCode::BAD_REQUEST,
            "too_many_decimals",
        ),
        (
            "overflow",
            Tamper::Body(with(body.clone(), "amount", json!("92233720368547758.08"))),
            StatusCode::BAD_REQUEST,
            "amount_overflow",
        ),
        (
            "unknown currency",
            Tamper::Body(with(body.clone(), "currency", json!("XYZ"))),
            StatusCode::BAD_REQUEST,
            "unknown_currency",
        ),
        (
            "id with a space",
            Tamper::Body(with(body.clone(), "transaction_id", json!("b 1"))),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "unknown token",
            Tamper::Body(with(body.clone(), "token", json!("clt_nope"))),
            StatusCode::UNAUTHORIZED,
            "unknown_token",
        ),
        (
            "oversized body",
            Tamper::Body(with(body.clone(), "game", json!("x".repeat(5_000)))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            "wrong content type",
            Tamper::ContentType("text/plain"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "wrong secret",
            Tamper::SignAs(stranger),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        (
            "unknown aggregator",
            Tamper::SignAs(unknown),
            StatusCode::UNAUTHORIZED,
            "unknown_aggregator",
        ),
        (
            "no signature",
            Tamper::DropHeader("x-croupier-signature"),
            StatusCode::UNAUTHORIZED,
            "missing_signature",
        ),
        (
            "no timestamp",
            Tamper::DropHeader("x-croupier-timestamp"),
            StatusCode::UNAUTHORIZED,
            "missing_signature",
        ),
        (
            "timestamp too old",
            Tamper::Skew(-60_001),
            StatusCode::UNAUTHORIZED,
            "stale_timestamp",
        ),
        (
            "timestamp too new",
            Tamper::Skew(60_001),
            StatusCode::UNAUTHORIZED,
            "stale_timestamp",
        ),
    ];
    let applied = w.server.commands_applied().await;
    // Every case over every transport: the router answers, whatever carried the request.
    let cases = cases
        .iter()
        .flat_map(|case| support::ALL.map(|http| (http, case.clone())));
    for (http, (name, tamper, status, code)) in cases {
        let mut bytes = body.to_string().into_bytes();
        let mut signer = w.aggregator.clone();
        let mut at = w.server.now();
        let mut drop = None;
        let mut content_type = None;
        match tamper {
            Tamper::Body(b) => bytes = b,
            Tamper::SignAs(a) => signer = a,
            Tamper::Skew(ms) => at = at.checked_add_signed(ms).unwrap(),
            Tamper::DropHeader(h) => drop = Some(h),
            Tamper::ContentType(t) => content_type = Some(t),
        }
        let headers: Vec<(&str, String)> = signer
            .headers(&bytes, at)
            .into_iter()
            .filter(|(h, _)| Some(*h) != drop)
            .map(|(h, v)| match (h, content_type) {
                ("content-type", Some(t)) => (h, t.to_owned()),
                _ => (h, v),
            })
            .collect();
        let reply = w
            .server
            .send(http, Method::POST, "/wallet/v1/bet", &headers, Some(bytes))
            .await;
        assert_eq!(
            (reply.status, reply.code().as_str()),
            (status, code),
            "{name}: {}",
            reply.text()
        );
        let error = reply.json();
        assert_eq!(error.as_object().unwrap().len(), 1, "{name}: only the error");
        assert!(
            error["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{name}"
        );
    }
    assert_eq!(w.server.commands_applied().await, applied, "the journal did not grow");
    assert_eq!(w.balance().await["cash"], "100.00");
    w.server.stop().await;
}

/// (name, bearer token, method, path, body, status, code).
type OperatorCase<'a> = (&'a str, &'a str, Method, String, Option<Value>, StatusCode, &'a str);

#[tokio::test]
async fn bad_operator_requests_are_refused_with_a_code_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let (s, admin) = (&w.server, w.admin.as_str());
    let fund = |amount: &str, currency: &str| json!({"deposit_id": "d-9", "currency": currency, "amount": amount});
    let session = |player: u64, aggregator: u32| json!({"player": player, "currency": "EUR", "aggregator": aggregator});
    let cases: Vec<OperatorCase> = vec![
        (
            "no token",
            "",
            Method::GET,
            "/operator/v1/players/1/balance?currency=EUR".into(),
            None,
            StatusCode::UNAUTHORIZED,
            "missing_token",
        ),
        (
            "bad token",
            "cop_nope",
            Method::GET,
            "/operator/v1/players/1/balance?currency=EUR".into(),
            None,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            "unknown player",
            admin,
            Method::POST,
            "/operator/v1/players/7/deposits".into(),
            Some(fund("1.00", "EUR")),
            StatusCode::NOT_FOUND,
            "unknown_player",
        ),
        (
            "player zero",
            admin,
            Method::GET,
            "/operator/v1/players/0/balance?currency=EUR".into(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_player",
        ),
        (
            "player not a number",
            admin,
            Method::PUT,
            "/operator/v1/players/x/limits".into(),
            Some(json!({"currency": "EUR", "metric": "loss", "period": "day", "amount": null})),
            StatusCode::NOT_FOUND,
            "unknown_player",
        ),
        (
            "too many decimals",
            admin,
            Method::POST,
            "/operator/v1/players/1/deposits".into(),
            Some(fund("1.001", "EUR")),
            StatusCode::BAD_REQUEST,
            "too_many_decimals",
        ),
        (
            "negative deposit",
            admin,
            Method::POST,
            "/operator/v1/players/1/deposits".into(),
            Some(fund("-5", "EUR")),
            StatusCode::BAD_REQUEST,
            "invalid_amount",
        ),
        (
            "unknown currency",
            admin,
            Method::POST,
            "/operator/v1/players/1/deposits".into(),
            Some(fund("1.00", "EURO")),
            StatusCode::BAD_REQUEST,
            "unknown_currency",
        ),
        (
            "unknown session player",
            admin,
            Method::POST,
            "/operator/v1/sessions".into(),
            Some(session(5, w.aggregator.id)),
            StatusCode::NOT_FOUND,
            "unknown_player",
        ),
        (
            "unknown aggregator",
            admin,
            Method::POST,
            "/operator/v1/sessions".into(),
            Some(session(1, 77)),
            StatusCode::NOT_FOUND,
            "unknown_aggregator",
        ),
        (
            "unknown role",
            admin,
            Method::POST,
            "/operator/v1/operators".into(),
            Some(json!({"name": "x", "role": "boss"})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "unknown metric",
            admin,
            Method::PUT,
            "/operator/v1/players/1/limits".into(),
            Some(json!({"currency": "EUR", "metric": "fun", "period": "day", "amount": "1"})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "unknown field",
            admin,
            Method::POST,
            "/operator/v1/players".into(),
            Some(json!({"currency": "EUR", "jurisdiction": "MT", "vip": true})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "bad jurisdiction",
            admin,
            Method::POST,
            "/operator/v1/players".into(),
            Some(json!({"currency": "EUR", "jurisdiction": "malta"})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "no currency query",
            admin,
            Method::GET,
            "/operator/v1/players/1/balance".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "unknown route",
            admin,
            Method::GET,
            "/operator/v1/nothing".into(),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    let applied = s.commands_applied().await;
    for (name, token, method, path, body, status, code) in cases {
        let reply = s.op(Http::V2, token, method, &path, body).await;
        assert_eq!(
            (reply.status, reply.code().as_str()),
            (status, code),
            "{name}: {}",
            reply.text()
        );
    }
    assert_eq!(s.commands_applied().await, applied, "the journal did not grow");
    w.server.stop().await;
}

/// (name, method, path, status, code, allow header).
type RoutingCase<'a> = (&'a str, Method, &'a str, StatusCode, &'a str, Option<&'a str>);

#[tokio::test]
async fn what_the_router_refuses_by_itself_is_json_too() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let auth = [("authorization", format!("Bearer {}", w.admin))];
    let cases: Vec<RoutingCase> = vec![
        (
            "a method a POST route does not take",
            Method::GET,
            "/wallet/v1/bet",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            Some("POST"),
        ),
        (
            "a method a GET route does not take",
            Method::DELETE,
            "/operator/v1/players/1/balance",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            Some("GET,HEAD"),
        ),
        (
            "a source id that is not a number",
            Method::GET,
            "/operator/v1/transactions/abc/x",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            None,
        ),
        (
            "a source id beyond 32 bits",
            Method::GET,
            "/operator/v1/transactions/4294967296/x",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            None,
        ),
        (
            "an id that is not UTF-8",
            Method::GET,
            "/operator/v1/transactions/1/%FF",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            None,
        ),
        (
            "a player that is not UTF-8",
            Method::GET,
            "/operator/v1/players/%FF/balance?currency=EUR",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            None,
        ),
        (
            "an unknown route",
            Method::GET,
            "/nope",
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        ),
    ];
    let applied = w.server.commands_applied().await;
    for http in support::ALL {
        for (name, method, path, status, code, allow) in &cases {
            let reply = w.server.send(http, method.clone(), path, &auth, None).await;
            let what = format!("{name}, {http:?}: {}", reply.text());
            assert_eq!((reply.status, reply.code().as_str()), (*status, *code), "{what}");
            assert_eq!(reply.content_type.as_deref(), Some("application/json"), "{what}");
            assert_eq!(reply.allow.as_deref(), *allow, "{what}");
            let error = reply.json();
            assert_eq!(error.as_object().unwrap().len(), 1, "{what}: only the error");
            let message = error["error"]["message"].as_str().unwrap_or_default();
            assert!(!message.is_empty(), "{what}");
        }
    }
    // The parse failure is explained, not just named.
    let reply = w
        .server
        .send(Http::V1, Method::GET, "/operator/v1/transactions/abc/x", &auth, None)
        .await;
    assert!(
        reply.json()["error"]["message"].as_str().unwrap().contains("abc"),
        "{}",
        reply.text()
    );
    assert_eq!(w.server.commands_applied().await, applied, "the journal did not grow");
    w.server.stop().await;
}
