//! The operator API and the server's own routes: roles per route, funding
//! retries, transaction lookups, health, readiness, metrics, OpenAPI, and
//! the first operator token file.

use crate::support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Http, TestServer, World};

async fn create_operator(w: &World, role: &str) -> String {
    let body = json!({"name": format!("{role}-1"), "role": role});
    let reply = w
        .server
        .op(Http::V1, &w.admin, Method::POST, "/operator/v1/operators", Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.json()["role"], role);
    reply.json()["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn each_route_admits_only_its_roles() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let mut tokens = vec![("admin", w.admin.clone())];
    for role in ["finance", "compliance", "support", "read-only", "marketing"] {
        tokens.push((role, create_operator(&w, role).await));
    }
    let p = w.player;
    let agg = w.aggregator.id;
    // (method, path, body, roles allowed)
    let routes: Vec<(Method, String, Option<Value>, &[&str])> = vec![
        (
            Method::POST,
            "/operator/v1/operators".into(),
            Some(json!({"name": "x", "role": "support"})),
            &["admin"],
        ),
        (
            Method::POST,
            "/operator/v1/aggregators".into(),
            Some(json!({"name": "y"})),
            &["admin"],
        ),
        (
            Method::POST,
            "/operator/v1/players".into(),
            Some(json!({"currency": "EUR", "jurisdiction": "MT"})),
            &["admin", "support"],
        ),
        (
            Method::POST,
            format!("/operator/v1/players/{p}/deposits"),
            Some(json!({"deposit_id": "d-2", "currency": "EUR", "amount": "1.00"})),
            &["admin", "finance"],
        ),
        (
            Method::PUT,
            format!("/operator/v1/players/{p}/limits"),
            Some(json!({"currency": "EUR", "metric": "loss", "period": "week", "amount": "500"})),
            &["admin", "compliance"],
        ),
        (
            Method::POST,
            format!("/operator/v1/players/{p}/self-exclusion"),
            Some(json!({"until_ms": support::T0 + 86_400_000})),
            &["admin", "compliance", "support"],
        ),
        (
            Method::POST,
            "/operator/v1/sessions".into(),
            Some(json!({"player": p, "currency": "EUR", "aggregator": agg})),
            &["admin", "support"],
        ),
        (
            Method::GET,
            format!("/operator/v1/players/{p}/balance?currency=EUR"),
            None,
            &["admin", "finance", "compliance", "support", "read-only", "marketing"],
        ),
        (
            Method::GET,
            "/operator/v1/hub88/public-key".into(),
            None,
            &["admin", "finance", "compliance", "support", "read-only", "marketing"],
        ),
        (
            Method::POST,
            format!("/operator/v1/players/{p}/time-out"),
            Some(json!({"until_ms": support::T0 + 3_600_000})),
            &["admin", "compliance", "support"],
        ),
        (
            Method::PUT,
            format!("/operator/v1/players/{p}/reality-check"),
            Some(json!({"interval_minutes": 60})),
            &["admin", "compliance", "support"],
        ),
        (
            Method::PUT,
            format!("/operator/v1/players/{p}/session-time-limit"),
            Some(json!({"limit_minutes": 120})),
            &["admin", "compliance", "support"],
        ),
        (
            Method::POST,
            format!("/operator/v1/players/{p}/limit-review"),
            Some(json!({})),
            &["admin", "support"],
        ),
        (
            Method::GET,
            format!("/operator/v1/players/{p}/rg"),
            None,
            &["admin", "finance", "compliance", "support", "read-only", "marketing"],
        ),
        (Method::GET, "/operator/v1/operators".into(), None, &["admin"]),
        (Method::GET, "/operator/v1/audit".into(), None, &["admin", "compliance"]),
        (
            Method::GET,
            "/operator/v1/audit/export?format=json".into(),
            None,
            &["admin", "compliance"],
        ),
    ];
    for (method, path, body, allowed) in routes {
        for (role, token) in &tokens {
            // Creations need fresh names: only the first allowed role succeeds with a name.
            let body = body.clone().map(|mut b| {
                if b.get("name").is_some() {
                    b["name"] = json!(format!("n-{role}-{}", path.len()));
                }
                b
            });
            let reply = w.server.op(Http::V2, token, method.clone(), &path, body).await;
            if allowed.contains(role) {
                assert!(reply.status.is_success(), "{role} {method} {path}: {}", reply.text());
            } else {
                let expected = (StatusCode::FORBIDDEN, "forbidden".to_owned());
                assert_eq!((reply.status, reply.code()), expected, "{role} {method} {path}");
            }
        }
    }
    w.server.stop().await;
}

#[tokio::test]
async fn funding_is_idempotent_per_deposit_id_and_transactions_can_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let path = format!("/operator/v1/players/{}/deposits", w.player);
    let fund = json!({"deposit_id": "dep-2", "currency": "EUR", "amount": "0.50"});
    let first = w
        .server
        .op(Http::V1, &w.admin, Method::POST, &path, Some(fund.clone()))
        .await;
    let expected = r#"{"player":1,"currency":"EUR","cash":"100.50","bonus":"0.00","reserved":"0.00","transaction":6}"#;
    assert_eq!(first.text(), expected);
    assert_eq!(
        w.server.op(Http::V2, &w.admin, Method::POST, &path, Some(fund)).await,
        first
    );
    let changed = json!({"deposit_id": "dep-2", "currency": "EUR", "amount": "0.60"});
    let conflict = w
        .server
        .op(Http::V1, &w.admin, Method::POST, &path, Some(changed))
        .await;
    assert_eq!(
        (conflict.status, conflict.code()),
        (StatusCode::CONFLICT, "conflict".into())
    );
    assert_eq!(w.balance().await["cash"], "100.50");

    // The admin is operator 1 with source 1: its deposit, and a rolled-back bet.
    let tx = |source: u32, id: &str| format!("/operator/v1/transactions/{source}/{id}");
    let deposit = w
        .server
        .op(Http::V1, &w.admin, Method::GET, &tx(1, "dep-2"), None)
        .await;
    assert_eq!(deposit.json()["state"], "confirmed");
    assert_eq!(deposit.json()["seq"], 6);
    w.bet(Http::V1, "b-1", "1.00", "r-1").await;
    w.rollback(Http::V1, "rb-1", "b-1").await;
    let bet = w
        .server
        .op(Http::V2, &w.admin, Method::GET, &tx(w.aggregator.id, "b-1"), None)
        .await;
    assert_eq!(
        (bet.json()["state"].clone(), bet.json()["ok"].clone()),
        (json!("rolled_back"), json!(true))
    );
    let missing = w.server.op(Http::V1, &w.admin, Method::GET, &tx(1, "nope"), None).await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::NOT_FOUND, "unknown_transaction".into())
    );
    w.server.stop().await;
}

/// Issue #9 items 3 and 4: funding is one command under the caller's own id.
/// Before, it was an initiate under `deposit_id` and a confirm under
/// `deposit_id + "/confirm"`: a deposit named `x/confirm` blocked `x`, and a
/// refused confirm left an initiated deposit open for ever.
#[tokio::test]
async fn funding_is_one_command_in_the_callers_id_space() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let path = format!("/operator/v1/players/{}/deposits", w.player);
    let fund = |id: &str, amount: &str| json!({"deposit_id": id, "currency": "EUR", "amount": amount});
    let tx = |id: &str| format!("/operator/v1/transactions/1/{id}");
    let post = |body| w.server.op(Http::V1, &w.admin, Method::POST, &path, Some(body));
    assert_eq!(post(fund("x/confirm", "1.00")).await.status, StatusCode::OK);
    let x = post(fund("x", "3.00")).await;
    assert_eq!((x.status, x.json()["cash"].clone()), (StatusCode::OK, json!("104.00")));
    assert_eq!(post(fund("x", "3.00")).await, x, "a retry, not a conflict");
    for id in ["x", "x%2Fconfirm"] {
        let lookup = w.server.op(Http::V1, &w.admin, Method::GET, &tx(id), None).await;
        assert_eq!(lookup.json()["state"], "confirmed", "{id}");
    }

    let applied = w.server.commands_applied().await;
    let big = post(fund("big", "92233720368547758.07")).await;
    assert_eq!(
        (big.status, big.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "overflow".into())
    );
    assert_eq!(w.server.commands_applied().await, applied + 1, "one command");
    let lookup = w.server.op(Http::V1, &w.admin, Method::GET, &tx("big"), None).await;
    assert_eq!(
        (lookup.json()["state"].clone(), lookup.json()["ok"].clone()),
        (json!("done"), json!(false)),
        "refused, not initiated: {}",
        lookup.text()
    );
    assert_eq!(w.balance().await["cash"], "104.00");
    w.server.stop().await;
}

/// Issue #9 item 5: balance reads, transaction lookups and retries are
/// answered without a journal record (before, each was journaled and flushed).
#[tokio::test]
async fn reads_and_retries_write_nothing_to_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let applied = w.server.commands_applied().await;
    let journal_bytes = || {
        let mut segments: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "seg"))
            .collect();
        segments.sort();
        segments
            .iter()
            .map(|path| std::fs::read(path).unwrap())
            .collect::<Vec<_>>()
    };
    let before = journal_bytes();
    for http in support::ALL {
        let balance = format!("/operator/v1/players/{}/balance?currency=EUR", w.player);
        let balance = w.server.op(http, &w.admin, Method::GET, &balance, None).await;
        assert_eq!(balance.json()["cash"], "100.00");
        let lookup = w
            .server
            .op(http, &w.admin, Method::GET, "/operator/v1/transactions/1/nope", None)
            .await;
        assert_eq!(lookup.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(w.server.commands_applied().await, applied);
    assert_eq!(journal_bytes(), before, "the journal did not change");
    w.server.stop().await;
}

#[tokio::test]
async fn health_readiness_metrics_and_openapi() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    for http in support::ALL {
        let health = w.server.send(http, Method::GET, "/healthz", &[], None).await;
        assert_eq!(
            (health.status, health.text()),
            (StatusCode::OK, r#"{"status":"ok"}"#.into())
        );
        let ready = w.server.send(http, Method::GET, "/readyz", &[], None).await;
        assert_eq!(
            (ready.status, ready.text()),
            (StatusCode::OK, r#"{"status":"ready"}"#.into())
        );
    }
    w.bet(Http::V1, "b-1", "1.00", "r-1").await;
    let metrics = w.server.send(Http::V1, Method::GET, "/metrics", &[], None).await.text();
    for line in [
        r#"croupier_http_requests_total{method="POST",route="/wallet/v1/bet",status="200"} 1"#,
        r#"croupier_http_requests_total{method="POST",route="/operator/v1/aggregators",status="201"} 1"#,
        "croupier_ring_depth 0",
        "croupier_commands_applied_total 6",
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing {line:?} in\n{metrics}");
    }
    for family in [
        "croupier_http_request_duration_seconds_bucket",
        "croupier_batch_len_bucket",
        "croupier_flush_duration_seconds_bucket",
        "croupier_batches_committed_total",
        r#"croupier_sequencer_waits_total{ended="spun"}"#,
        r#"croupier_sequencer_waits_total{ended="parked"}"#,
    ] {
        assert!(metrics.contains(family), "missing {family}");
    }
    let openapi = w
        .server
        .send(Http::V2, Method::GET, "/openapi.json", &[], None)
        .await
        .json();
    let mut paths: Vec<&str> = openapi["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "/cashier/v1/deposits",
            "/cashier/v1/deposits/{payment}/refuse",
            "/cashier/v1/deposits/{payment}/release",
            "/cashier/v1/players/{player}/deposits",
            "/cashier/v1/players/{player}/withdrawals",
            "/cashier/v1/withdrawals",
            "/cashier/v1/withdrawals/{payment}/approve",
            "/cashier/v1/withdrawals/{payment}/reject",
            "/cashier/v1/withdrawals/{payment}/reverse",
            "/evolution/{aggregator}/balance",
            "/evolution/{aggregator}/cancel",
            "/evolution/{aggregator}/check",
            "/evolution/{aggregator}/credit",
            "/evolution/{aggregator}/debit",
            "/evolution/{aggregator}/promo_payout",
            "/healthz",
            "/hub88/{aggregator}/transaction/bet",
            "/hub88/{aggregator}/transaction/rollback",
            "/hub88/{aggregator}/transaction/win",
            "/hub88/{aggregator}/user/balance",
            "/hub88/{aggregator}/user/info",
            "/lobby/v1/{brand}",
            "/metrics",
            "/openapi.json",
            "/operator/v1/affiliate-plans",
            "/operator/v1/affiliate-plans/{code}",
            "/operator/v1/affiliates",
            "/operator/v1/affiliates/{code}",
            "/operator/v1/affiliates/{code}/commission",
            "/operator/v1/affiliates/{code}/players",
            "/operator/v1/aggregators",
            "/operator/v1/analytics/churn",
            "/operator/v1/analytics/churn/training",
            "/operator/v1/analytics/markers",
            "/operator/v1/analytics/markers/scan",
            "/operator/v1/analytics/markers/{alert}/close",
            "/operator/v1/audit",
            "/operator/v1/audit/export",
            "/operator/v1/bonus-templates",
            "/operator/v1/bonus-templates/{code}",
            "/operator/v1/brands",
            "/operator/v1/brands/{brand}",
            "/operator/v1/brands/{brand}/lobby",
            "/operator/v1/campaigns",
            "/operator/v1/campaigns/{code}",
            "/operator/v1/campaigns/{code}/targets",
            "/operator/v1/campaigns/{code}/uplift",
            "/operator/v1/cluster",
            "/operator/v1/cluster/members",
            "/operator/v1/cluster/members/{id}",
            "/operator/v1/cluster/transfer-leader",
            "/operator/v1/fx",
            "/operator/v1/fx/{base}/{quote}",
            "/operator/v1/games",
            "/operator/v1/games/import",
            "/operator/v1/games/performance",
            "/operator/v1/games/performance/alerts",
            "/operator/v1/games/performance/alerts/history",
            "/operator/v1/games/providers",
            "/operator/v1/games/providers/{provider}",
            "/operator/v1/games/{aggregator}/{code}",
            "/operator/v1/games/{aggregator}/{code}/disable",
            "/operator/v1/games/{aggregator}/{code}/enable",
            "/operator/v1/games/{aggregator}/{code}/performance",
            "/operator/v1/hub88/public-key",
            "/operator/v1/jackpots",
            "/operator/v1/jackpots/{code}",
            "/operator/v1/jackpots/{code}/award",
            "/operator/v1/jurisdictions",
            "/operator/v1/jurisdictions/{jurisdiction}",
            "/operator/v1/jurisdictions/{jurisdiction}/kyc-gates",
            "/operator/v1/jurisdictions/{jurisdiction}/profile",
            "/operator/v1/loyalty/config",
            "/operator/v1/operators",
            "/operator/v1/operators/{operator}/credentials",
            "/operator/v1/operators/{operator}/disable",
            "/operator/v1/operators/{operator}/role",
            "/operator/v1/operators/{operator}/token",
            "/operator/v1/payments/providers",
            "/operator/v1/players",
            "/operator/v1/players/{player}/balance",
            "/operator/v1/players/{player}/balances",
            "/operator/v1/players/{player}/bonuses",
            "/operator/v1/players/{player}/bonuses/claim",
            "/operator/v1/players/{player}/bonuses/forfeit",
            "/operator/v1/players/{player}/churn",
            "/operator/v1/players/{player}/deposits",
            "/operator/v1/players/{player}/devices",
            "/operator/v1/players/{player}/due-diligence",
            "/operator/v1/players/{player}/erasure",
            "/operator/v1/players/{player}/free-rounds",
            "/operator/v1/players/{player}/free-rounds/{bonus_code}/cancel",
            "/operator/v1/players/{player}/games",
            "/operator/v1/players/{player}/history",
            "/operator/v1/players/{player}/interventions",
            "/operator/v1/players/{player}/interventions/{intervention}/answer",
            "/operator/v1/players/{player}/kyc",
            "/operator/v1/players/{player}/kyc/checks",
            "/operator/v1/players/{player}/kyc/documents",
            "/operator/v1/players/{player}/limit-review",
            "/operator/v1/players/{player}/limits",
            "/operator/v1/players/{player}/login-flags",
            "/operator/v1/players/{player}/logins",
            "/operator/v1/players/{player}/logouts",
            "/operator/v1/players/{player}/loyalty",
            "/operator/v1/players/{player}/loyalty/redemptions",
            "/operator/v1/players/{player}/loyalty/tier",
            "/operator/v1/players/{player}/markers",
            "/operator/v1/players/{player}/notes",
            "/operator/v1/players/{player}/payment-methods",
            "/operator/v1/players/{player}/payment-methods/{method}",
            "/operator/v1/players/{player}/payment-methods/{method}/state",
            "/operator/v1/players/{player}/profile",
            "/operator/v1/players/{player}/push-token",
            "/operator/v1/players/{player}/reality-check",
            "/operator/v1/players/{player}/reality-check/acknowledgement",
            "/operator/v1/players/{player}/rg",
            "/operator/v1/players/{player}/self-exclusion",
            "/operator/v1/players/{player}/session-time-limit",
            "/operator/v1/players/{player}/sessions",
            "/operator/v1/players/{player}/statement",
            "/operator/v1/players/{player}/status",
            "/operator/v1/players/{player}/time-out",
            "/operator/v1/players/{player}/timeline",
            "/operator/v1/promotion-rules",
            "/operator/v1/promotion-rules/{jurisdiction}",
            "/operator/v1/providers/performance",
            "/operator/v1/reconciliation",
            "/operator/v1/reconciliation/{provider}",
            "/operator/v1/reconciliation/{provider}/{reference}/resolve",
            "/operator/v1/registrations",
            "/operator/v1/reports/{report}",
            "/operator/v1/risk/alerts",
            "/operator/v1/risk/alerts/{alert}",
            "/operator/v1/risk/cases",
            "/operator/v1/risk/cases/{case}",
            "/operator/v1/risk/cases/{case}/actions",
            "/operator/v1/risk/cases/{case}/assignee",
            "/operator/v1/risk/cases/{case}/export",
            "/operator/v1/risk/cases/{case}/notes",
            "/operator/v1/risk/cases/{case}/resolution",
            "/operator/v1/risk/players/{player}/score",
            "/operator/v1/risk/rules",
            "/operator/v1/risk/rules/{rule}",
            "/operator/v1/risk/shared-identifiers",
            "/operator/v1/segments",
            "/operator/v1/segments/{code}",
            "/operator/v1/segments/{code}/members",
            "/operator/v1/sessions",
            "/operator/v1/tickets",
            "/operator/v1/tickets/{ticket}",
            "/operator/v1/tickets/{ticket}/assignee",
            "/operator/v1/tickets/{ticket}/messages",
            "/operator/v1/tickets/{ticket}/priority",
            "/operator/v1/tickets/{ticket}/status",
            "/operator/v1/transactions/{source}/{id}",
            "/pragmatic/{aggregator}/adjustment.html",
            "/pragmatic/{aggregator}/authenticate.html",
            "/pragmatic/{aggregator}/balance.html",
            "/pragmatic/{aggregator}/bet.html",
            "/pragmatic/{aggregator}/bonusWin.html",
            "/pragmatic/{aggregator}/endRound.html",
            "/pragmatic/{aggregator}/getBalancePerGame.html",
            "/pragmatic/{aggregator}/jackpotWin.html",
            "/pragmatic/{aggregator}/promoWin.html",
            "/pragmatic/{aggregator}/refund.html",
            "/pragmatic/{aggregator}/result.html",
            "/readyz",
            "/wallet/v1/authenticate",
            "/wallet/v1/balance",
            "/wallet/v1/bet",
            "/wallet/v1/end-round",
            "/wallet/v1/rollback",
            "/wallet/v1/win",
            "/webhooks/v1/kyc",
            "/webhooks/v1/payments/nowpayments",
            "/webhooks/v1/payments/stripe",
            "/webhooks/v1/support/zendesk",
        ]
    );
    let reply = w.server.send(Http::V1, Method::GET, "/healthz", &[], None).await;
    assert_eq!(reply.status, StatusCode::OK);
    w.server.stop().await;
}

#[tokio::test]
async fn the_first_operator_token_is_private_and_made_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let token = server.first_token();
    assert!(token.starts_with("cop_") && token.len() == 68, "{token}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("operator-token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let clock = server.clock.clone();
    server.stop().await;
    let server = TestServer::start_at(support::config(dir.path()), clock).await;
    assert_eq!(server.first_token(), token);
    let me = server
        .op(
            Http::V1,
            &token,
            Method::POST,
            "/operator/v1/players",
            Some(json!({"currency": "JPY", "jurisdiction": "SE"})),
        )
        .await;
    assert_eq!(me.text(), r#"{"player":1,"currency":"JPY"}"#);
    server.stop().await;
}

#[tokio::test]
async fn a_request_whose_body_never_arrives_gets_a_json_408_saying_nothing_was_submitted() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let config = gateway::config::ServeConfig {
        request_timeout_ms: 50,
        ..support::config(dir.path())
    };
    let server = TestServer::start_at(config, std::sync::Arc::new(support::T0.into())).await;
    let applied = server.commands_applied().await;
    // Operator routes check the token before reading the body (an unknown
    // caller gets 401 at once): this one is the admin's.
    let admin = format!("authorization: Bearer {}\r\n", server.first_token());
    for (path, auth) in [("/wallet/v1/bet", ""), ("/operator/v1/players", admin.as_str())] {
        let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        // A body that never arrives in full.
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\n{auth}content-type: application/json\r\ncontent-length: 100\r\n\r\n{{"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut reply = vec![0; 4096];
        let n = stream.read(&mut reply).await.unwrap();
        let reply = String::from_utf8_lossy(&reply[..n]);
        assert!(reply.starts_with("HTTP/1.1 408"), "{path}: {reply}");
        let body = &reply[reply.find("\r\n\r\n").unwrap() + 4..];
        assert_eq!(
            body,
            r#"{"error":{"code":"request_timeout","message":"the request did not arrive in full within 50 ms; nothing was submitted, so retrying is safe"}}"#,
            "{path}"
        );
    }
    assert_eq!(server.commands_applied().await, applied, "nothing was submitted");
    server.stop().await;
}

/// Issue #10 part 4: operator reads come from the read model, off the
/// sequencer, current to every write acknowledged before them; a player's
/// history holds every movement, payment settlements included.
#[tokio::test]
async fn history_and_lookups_come_from_the_read_model_current_to_acknowledged_writes() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    w.bet(Http::V1, "b-1", "10.00", "r-1").await;
    w.win(Http::V1, "w-1", "2.50", "r-1").await;
    let answered = w.server.metric("croupier_requests_answered_total").await;
    let history = |query: &str| {
        let path = format!("/operator/v1/players/{}/history{query}", w.player);
        let w = &w;
        async move { w.server.op(Http::V2, &w.admin, Method::GET, &path, None).await }
    };
    let page = history("").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let page = page.json();
    let steps: Vec<(String, String, String)> = page["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["kind"].as_str().unwrap().to_owned(),
                m["cash_delta"].as_str().unwrap().to_owned(),
                m["cash"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("deposit".to_owned(), "100.00".to_owned(), "100.00".to_owned()),
            ("bet".to_owned(), "-10.00".to_owned(), "90.00".to_owned()),
            ("win".to_owned(), "2.50".to_owned(), "92.50".to_owned()),
        ]
    );
    let last = page["movements"][2]["seq"].as_u64().unwrap();
    assert!(page["as_of_seq"].as_u64().unwrap() >= last);
    assert!(page.get("next_after_seq").is_none());

    // Paging, one movement at a time.
    let first = history("?limit=1&currency=EUR").await.json();
    assert_eq!(first["movements"].as_array().unwrap().len(), 1);
    let after = first["next_after_seq"].as_u64().unwrap();
    let second = history(&format!("?limit=1&after_seq={after}")).await.json();
    assert_eq!(second["movements"][0]["kind"], "bet");

    // A read right after a write sees it.
    let fund = format!("/operator/v1/players/{}/deposits", w.player);
    let funded = w
        .server
        .op(
            Http::V1,
            &w.admin,
            Method::POST,
            &fund,
            Some(json!({"deposit_id": "dep-9", "currency": "EUR", "amount": "1.00"})),
        )
        .await;
    assert_eq!(funded.status, StatusCode::OK);
    assert_eq!(w.balance().await["cash"], "93.50");
    let lookup = w
        .server
        .op(
            Http::V3,
            &w.admin,
            Method::GET,
            "/operator/v1/transactions/1/dep-9",
            None,
        )
        .await
        .json();
    assert_eq!(
        (
            lookup["state"].clone(),
            lookup["kind"].clone(),
            lookup["player"].clone()
        ),
        (json!("confirmed"), json!("deposit"), json!(w.player))
    );

    // Bad queries, unknown players.
    for (query, code) in [
        ("?limit=0", "invalid_request"),
        ("?limit=1001", "invalid_request"),
        ("?nope=1", "invalid_request"),
        ("?currency=XXX", "unknown_currency"),
    ] {
        let refused = history(query).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::BAD_REQUEST, code.into()),
            "{query}"
        );
    }
    let unknown = w
        .server
        .op(Http::V1, &w.admin, Method::GET, "/operator/v1/players/99/history", None)
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "unknown_player".into())
    );

    // None of these reads went through the sequencer.
    assert_eq!(w.server.metric("croupier_requests_answered_total").await, answered);
    // The read model's lag is visible: none, after the reads above.
    let durable = w.server.metric("croupier_journal_durable_seq").await.unwrap();
    assert!(durable >= last as i64);
    assert_eq!(w.server.metric("croupier_readmodel_applied_seq").await, Some(durable));
    // And how it commits (the reads above waited for it, so they may have
    // cut some of its gatherings short).
    let commits = w.server.metric("croupier_readmodel_commits_total").await.unwrap();
    let hurried = w
        .server
        .metric("croupier_readmodel_commits_hurried_total")
        .await
        .unwrap();
    assert!(commits >= 1 && hurried <= commits, "{hurried} of {commits}");
    w.server.stop().await;

    // A stop closes the read model's file cleanly: synced and marked so, so
    // that a restart of the machine does not rebuild it.
    let file = rusqlite::Connection::open(dir.path().join("readmodel.sqlite")).unwrap();
    let (seq, closed_cleanly): (i64, bool) = file
        .query_row(
            "SELECT checkpoint.seq, open_state.closed_cleanly FROM checkpoint, open_state",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!((seq, closed_cleanly), (durable, true));
}

/// The operator list as the admin sees it: (id, name, role) rows.
async fn operator_rows(w: &World) -> Vec<(u64, String, String)> {
    let list = w
        .server
        .op(Http::V1, &w.admin, Method::GET, "/operator/v1/operators", None)
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    list.json()["operators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["operator"].as_u64().unwrap(),
                o["name"].as_str().unwrap().to_owned(),
                o["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A refused request: (token, method, path, body, status, code).
type Case<'a> = (&'a str, Method, &'a str, Option<Value>, StatusCode, &'a str);

#[tokio::test]
async fn admins_list_operators_change_roles_disable_and_rotate_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let sam = create_operator(&w, "support").await;
    let reader = create_operator(&w, "read-only").await;
    assert_eq!(
        operator_rows(&w).await,
        vec![
            (1, "admin".into(), "admin".into()),
            (2, "support-1".into(), "support".into()),
            (3, "read-only-1".into(), "read-only".into()),
        ]
    );
    let server = &w.server;
    let op = |token: &str, method: Method, path: &str, body: Option<Value>| {
        let token = token.to_owned();
        let path = path.to_owned();
        async move { server.op(Http::V1, &token, method, &path, body).await }
    };
    let deposit = format!("/operator/v1/players/{}/deposits", w.player);
    let fund = |id: &str| Some(json!({"deposit_id": id, "currency": "EUR", "amount": "1.00"}));
    assert_eq!(op(&sam, Method::POST, &deposit, fund("d-a")).await.code(), "forbidden");

    // A new role is in force at once.
    let role = op(
        &w.admin,
        Method::PUT,
        "/operator/v1/operators/2/role",
        Some(json!({"role": "finance"})),
    )
    .await;
    assert_eq!(role.status, StatusCode::OK, "{}", role.text());
    assert_eq!(role.json()["role_before"], "support");
    assert_eq!(role.json()["role"], "finance");
    assert_eq!(
        op(&sam, Method::POST, &deposit, fund("d-b")).await.status,
        StatusCode::OK
    );

    // A rotated token replaces the old one.
    let rotated = op(&w.admin, Method::POST, "/operator/v1/operators/2/token", None).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text());
    let new_token = rotated.json()["token"].as_str().unwrap().to_owned();
    assert_ne!(new_token, sam);
    let old = op(&sam, Method::POST, &deposit, fund("d-c")).await;
    assert_eq!(
        (old.status, old.code()),
        (StatusCode::UNAUTHORIZED, "invalid_token".into())
    );
    assert_eq!(
        op(&new_token, Method::POST, &deposit, fund("d-d")).await.status,
        StatusCode::OK
    );

    // A disabled operator's token is refused on every route.
    let disabled = op(&w.admin, Method::POST, "/operator/v1/operators/2/disable", None).await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.text());
    assert_eq!(disabled.json()["role_before"], "finance");
    assert_eq!(disabled.json()["role"], "disabled");
    let balance = format!("/operator/v1/players/{}/balance?currency=EUR", w.player);
    for (method, path, body) in [(Method::POST, &deposit, fund("d-e")), (Method::GET, &balance, None)] {
        let refused = op(&new_token, method, path, body).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::FORBIDDEN, "operator_disabled".into()),
            "{path}"
        );
    }
    assert_eq!(operator_rows(&w).await[1].2, "disabled");

    // Refusals: each clear, none changes an operator.
    let before = operator_rows(&w).await;
    let applied = w.server.commands_applied().await;
    let cases: Vec<Case> = vec![
        (
            &w.admin,
            Method::POST,
            "/operator/v1/operators/1/disable",
            None,
            StatusCode::CONFLICT,
            "cannot_disable_self",
        ),
        (
            &w.admin,
            Method::PUT,
            "/operator/v1/operators/1/role",
            Some(json!({"role": "support"})),
            StatusCode::CONFLICT,
            "last_admin",
        ),
    ];
    for (n, (token, method, path, body, status, code)) in cases.into_iter().enumerate() {
        let reply = op(token, method, path, body).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code.to_owned()),
            "ledger case {n}"
        );
    }
    assert_eq!(
        w.server.commands_applied().await,
        applied + 2,
        "refused by the ledger: journaled"
    );
    let applied = w.server.commands_applied().await;
    let cases: Vec<Case> = vec![
        (
            &w.admin,
            Method::PUT,
            "/operator/v1/operators/9/role",
            Some(json!({"role": "support"})),
            StatusCode::NOT_FOUND,
            "unknown_operator",
        ),
        (
            &w.admin,
            Method::POST,
            "/operator/v1/operators/x/disable",
            None,
            StatusCode::NOT_FOUND,
            "unknown_operator",
        ),
        (
            &w.admin,
            Method::POST,
            "/operator/v1/operators/0/token",
            None,
            StatusCode::NOT_FOUND,
            "unknown_operator",
        ),
        (
            &w.admin,
            Method::PUT,
            "/operator/v1/operators/2/role",
            Some(json!({"role": "disabled"})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &w.admin,
            Method::PUT,
            "/operator/v1/operators/2/role",
            Some(json!({"role": "root"})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &w.admin,
            Method::PUT,
            "/operator/v1/operators/2/role",
            Some(json!({"role": "admin", "x": 1})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &reader,
            Method::POST,
            "/operator/v1/operators/2/disable",
            None,
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            &reader,
            Method::GET,
            "/operator/v1/operators",
            None,
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "nope",
            Method::POST,
            "/operator/v1/operators/3/token",
            None,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
    ];
    for (n, (token, method, path, body, status, code)) in cases.into_iter().enumerate() {
        let reply = op(token, method, path, body).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code.to_owned()),
            "edge case {n}: {}",
            reply.text()
        );
    }
    assert_eq!(w.server.commands_applied().await, applied, "refused before the ledger");
    assert_eq!(operator_rows(&w).await, before);

    // Given a role again, the disabled operator is back, with the same token.
    let enabled = op(
        &w.admin,
        Method::PUT,
        "/operator/v1/operators/2/role",
        Some(json!({"role": "support"})),
    )
    .await;
    assert_eq!(enabled.json()["role_before"], "disabled");
    assert_eq!(op(&new_token, Method::GET, &balance, None).await.status, StatusCode::OK);

    // The view is rebuilt from the journal: a restart keeps all of it.
    let w = w.restart(dir.path()).await;
    assert_eq!(operator_rows(&w).await[1].2, "support");
    let after = w.server.op(Http::V1, &sam, Method::GET, &balance, None).await;
    assert_eq!(after.code(), "invalid_token", "the rotated-out token stays out");
    w.server.stop().await;
}

/// Every audit entry of a page, as JSON.
async fn audit(w: &World, token: &str, query: &str) -> (StatusCode, Value) {
    let reply = w
        .server
        .op(
            Http::V1,
            token,
            Method::GET,
            &format!("/operator/v1/audit{query}"),
            None,
        )
        .await;
    (reply.status, reply.json())
}

#[tokio::test]
async fn the_audit_trail_shows_who_did_what_to_whom_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let compliance = create_operator(&w, "compliance").await;
    let support = create_operator(&w, "support").await;
    let p = w.player;
    let server = &w.server;
    let op = |token: &str, method: Method, path: String, body: Value| {
        let token = token.to_owned();
        async move { server.op(Http::V1, &token, method, &path, Some(body)).await }
    };
    let status = op(
        &w.admin,
        Method::PUT,
        format!("/operator/v1/players/{p}/status"),
        json!({"status": "suspended", "reason": "fraud check"}),
    )
    .await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.text());
    let limit = json!({"currency": "EUR", "metric": "deposit", "period": "day", "amount": "500"});
    assert!(
        op(
            &compliance,
            Method::PUT,
            format!("/operator/v1/players/{p}/limits"),
            limit
        )
        .await
        .status
        .is_success()
    );
    let lower = json!({"currency": "EUR", "metric": "deposit", "period": "day", "amount": "200"});
    assert!(
        op(
            &compliance,
            Method::PUT,
            format!("/operator/v1/players/{p}/limits"),
            lower
        )
        .await
        .status
        .is_success()
    );
    let until = support::T0 + 86_400_000;
    let timed_out = op(
        &support,
        Method::POST,
        format!("/operator/v1/players/{p}/time-out"),
        json!({"until_ms": until}),
    )
    .await;
    assert_eq!(timed_out.status, StatusCode::OK, "{}", timed_out.text());
    let role = op(
        &w.admin,
        Method::PUT,
        "/operator/v1/operators/3/role".into(),
        json!({"role": "read-only"}),
    )
    .await;
    let role_seq = role.json()["seq"].as_u64().unwrap();
    let refused = w
        .server
        .op(
            Http::V1,
            &w.admin,
            Method::POST,
            "/operator/v1/operators/1/disable",
            None,
        )
        .await;
    assert_eq!(refused.code(), "cannot_disable_self");

    let (code, page) = audit(&w, &w.admin, "?limit=1000").await;
    assert_eq!(code, StatusCode::OK, "{page}");
    let entries = page["entries"].as_array().unwrap().clone();
    let by_kind = |kind: &str| -> Vec<Value> { entries.iter().filter(|e| e["kind"] == kind).cloned().collect() };
    // The first operator, created by the server itself.
    let first = &entries[0];
    assert_eq!(
        (
            &first["seq"],
            &first["operator"],
            &first["operator_name"],
            &first["kind"]
        ),
        (&json!(1), &json!(0), &json!("system"), &json!("create_operator"))
    );
    assert_eq!(
        (&first["target_type"], &first["target"], &first["after"]),
        (&json!("operator"), &json!(1), &json!("admin"))
    );
    // The funding in World::new: cash before and after from the receipt.
    let deposit = &by_kind("deposit")[0];
    assert_eq!(
        (
            &deposit["target"],
            &deposit["field"],
            &deposit["before"],
            &deposit["after"]
        ),
        (&json!(p), &json!("cash:EUR"), &json!("0.00 EUR"), &json!("100.00 EUR"))
    );
    let status = &by_kind("set_status")[0];
    assert_eq!(
        (
            &status["operator_name"],
            &status["before"],
            &status["after"],
            &status["detail"]
        ),
        (
            &json!("admin"),
            &json!("active"),
            &json!("suspended"),
            &json!("fraud check")
        )
    );
    let limits = by_kind("set_limit");
    assert_eq!(limits[0]["operator_name"], "compliance-1");
    assert_eq!(
        (&limits[0]["before"], &limits[0]["after"]),
        (&json!("none"), &json!("500.00 EUR"))
    );
    assert_eq!(
        (&limits[1]["before"], &limits[1]["after"]),
        (&json!("500.00 EUR"), &json!("200.00 EUR"))
    );
    assert_eq!(limits[1]["field"], "limit:deposit:day:EUR");
    assert_eq!(by_kind("time_out")[0]["after"], format!("until {until}"));
    let role = &by_kind("set_operator_role")[0];
    assert_eq!(role["seq"], role_seq, "the reply names the entry's seq");
    assert_eq!(
        (&role["target_type"], &role["target"], &role["before"], &role["after"]),
        (&json!("operator"), &json!(3), &json!("support"), &json!("read-only"))
    );
    let refusal = &by_kind("disable_operator")[0];
    assert_eq!(
        (&refusal["ok"], &refusal["code"]),
        (&json!(false), &json!("cannot_disable_self"))
    );

    // Each entry is the journal record of its seq.
    let reader = journal::Reader::open(dir.path()).unwrap();
    let mut journal = std::collections::BTreeMap::new();
    for batch in reader.batches() {
        let batch = batch.unwrap();
        for (seq, bytes) in (batch.first_seq..).zip(&batch.records) {
            let committed = engine::record::decode(bytes).unwrap();
            journal.insert(
                seq,
                (committed.envelope.request.command.kind(), committed.outcome.is_ok()),
            );
        }
    }
    for entry in &entries {
        let seq = entry["seq"].as_u64().unwrap();
        assert_eq!(
            journal[&seq],
            (entry["kind"].as_str().unwrap(), entry["ok"].as_bool().unwrap()),
            "seq {seq}"
        );
    }

    // Filters.
    let kinds = |page: &Value| -> Vec<String> {
        page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        kinds(&audit(&w, &w.admin, "?operator=2").await.1),
        ["set_limit", "set_limit"]
    );
    assert_eq!(
        kinds(&audit(&w, &w.admin, &format!("?player={p}&kind=set_status")).await.1),
        ["set_status"]
    );
    let all_for_player = audit(&w, &w.admin, &format!("?player={p}")).await.1;
    assert!(
        all_for_player["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["target"] == p && e["target_type"] == "player")
    );
    let t = status["time_ms"].as_u64().unwrap();
    let window = audit(&w, &w.admin, &format!("?from_ms={t}&to_ms={}&kind=set_status", t + 1))
        .await
        .1;
    assert_eq!(kinds(&window), ["set_status"]);
    assert_eq!(
        kinds(&audit(&w, &w.admin, &format!("?to_ms={t}&kind=set_status")).await.1),
        Vec::<String>::new()
    );
    // Pages of 2 joined are the whole trail.
    let mut paged = Vec::new();
    let mut cursor = 0;
    loop {
        let page = audit(&w, &compliance, &format!("?limit=2&after_seq={cursor}")).await.1;
        paged.extend(page["entries"].as_array().unwrap().iter().cloned());
        match page["next_after_seq"].as_u64() {
            Some(next) => cursor = next,
            None => break,
        }
    }
    assert_eq!(paged, entries);

    // Exports: CSV and JSON of the same entries.
    let admin = w.admin.clone();
    let export = |query: &str| {
        let path = format!("/operator/v1/audit/export{query}");
        let admin = admin.clone();
        async move { server.op(Http::V2, &admin, Method::GET, &path, None).await }
    };
    let csv = export("").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.content_type.as_deref(), Some("text/csv; charset=utf-8"));
    let text = csv.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "seq,time_ms,operator,operator_name,request_id,kind,target_type,target,field,before,after,detail,ok,code"
    );
    assert_eq!(lines.len(), entries.len() + 1);
    assert!(lines[1].starts_with("1,"), "{}", lines[1]);
    assert!(
        text.contains(",set_status,player,1,status,active,suspended,fraud check,true,"),
        "{text}"
    );
    let json_export = export("?format=json&kind=set_limit").await;
    assert_eq!(json_export.json(), json!(limits));

    // Bad queries and roles: clear refusals.
    for query in [
        "?limit=0",
        "?limit=1001",
        "?format=csv",
        "?from_ms=5&to_ms=4",
        "?bogus=1",
        "?kind=DROP%20TABLE",
        "?operator=x",
    ] {
        let (code, body) = audit(&w, &w.admin, query).await;
        assert_eq!(
            (code, body["error"]["code"].clone()),
            (StatusCode::BAD_REQUEST, json!("invalid_request")),
            "{query}"
        );
    }
    for query in ["?format=xml", "?limit=5"] {
        let reply = export(query).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "invalid_request".into()),
            "{query}"
        );
    }
    assert_eq!(audit(&w, &support, "").await.0, StatusCode::FORBIDDEN);
    w.server.stop().await;
}

/// An EUR decimal string as minor units.
fn minor(text: &str) -> i64 {
    let (units, cents) = text.split_once('.').unwrap();
    let value = units.trim_start_matches('-').parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap();
    if text.starts_with('-') { -value } else { value }
}

async fn get(w: &World, path: &str) -> support::Reply {
    w.server.op(Http::V1, &w.admin, Method::GET, path, None).await
}

async fn get_ok(w: &World, path: &str) -> Value {
    let reply = get(w, path).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
    reply.json()
}

/// Bets, wins and a rollback in three rounds of two games, a second
/// deposit, each at its own time: the statement adds up line by line, its
/// CSV export reads back to the same lines, the balances at past moments
/// are those the statement shows then, and the game history groups the
/// rounds and filters them by time, game and kind.
#[tokio::test]
async fn statements_balances_at_past_moments_and_game_history() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let p = w.player;
    let t0 = w.server.now();
    w.server.advance(1_000);
    assert_eq!(w.bet(Http::V1, "b-1", "5.00", "r-1").await.status, StatusCode::OK);
    assert_eq!(w.win(Http::V1, "w-1", "7.50", "r-1").await.status, StatusCode::OK);
    w.server.advance(1_000);
    let roulette = json!({"token": w.token, "transaction_id": "b-2", "round_id": "r-2", "game": "roulette",
        "currency": "EUR", "amount": "2.00"});
    assert_eq!(w.wallet(Http::V1, "bet", roulette).await.status, StatusCode::OK);
    assert_eq!(w.rollback(Http::V1, "rb-1", "b-2").await.status, StatusCode::OK);
    w.server.advance(1_000);
    assert_eq!(w.bet(Http::V1, "b-3", "1.25", "r-3").await.status, StatusCode::OK);
    let deposit = json!({"deposit_id": "dep-2", "currency": "EUR", "amount": "20.00"});
    let path = format!("/operator/v1/players/{p}/deposits");
    let funded = w
        .server
        .op(Http::V1, &w.admin, Method::POST, &path, Some(deposit))
        .await;
    assert_eq!(funded.status, StatusCode::OK, "{}", funded.text());

    // The statement: every movement, and balances that add up exactly.
    let statement = get_ok(&w, &format!("/operator/v1/players/{p}/statement")).await;
    let lines = statement["lines"].as_array().unwrap().clone();
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["deposit", "bet", "win", "bet", "rollback", "bet", "deposit"]);
    let (mut cash, mut bonus) = (0, 0);
    for line in &lines {
        cash += minor(line["cash_delta"].as_str().unwrap());
        bonus += minor(line["bonus_delta"].as_str().unwrap());
        assert_eq!(minor(line["cash"].as_str().unwrap()), cash, "{line}");
        assert_eq!(minor(line["bonus"].as_str().unwrap()), bonus, "{line}");
        assert_eq!(minor(line["balance"].as_str().unwrap()), cash + bonus, "{line}");
    }
    assert_eq!(cash, 10_000 - 500 + 750 - 200 + 200 - 125 + 2_000);
    assert_eq!(w.balance().await["cash"], "121.25");
    assert_eq!(lines[4]["round"], "r-2", "a rollback is in its bet's round");
    assert_eq!(lines[4]["game"], "roulette");
    assert_eq!(lines[0]["round"], Value::Null);

    // Pages by cursor give the same lines.
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = get_ok(&w, &format!("/operator/v1/players/{p}/statement?limit=3{cursor}")).await;
        paged.extend(page["lines"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(paged, lines);
    // A time range.
    let ranged = get_ok(
        &w,
        &format!(
            "/operator/v1/players/{p}/statement?from={}&to={}",
            t0 + 1_000,
            t0 + 2_000
        ),
    )
    .await;
    let ranged: Vec<&str> = ranged["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(ranged, ["bet", "win"]);

    // CSV, by parameter and by Accept header, reads back to the JSON lines.
    let csv_path = format!("/operator/v1/players/{p}/statement?format=csv");
    let by_format = get(&w, &csv_path).await;
    assert_eq!(by_format.status, StatusCode::OK);
    assert_eq!(by_format.content_type.as_deref(), Some("text/csv; charset=utf-8"));
    let headers = [
        ("authorization", format!("Bearer {}", w.admin)),
        ("accept", "text/csv".into()),
    ];
    let path = format!("/operator/v1/players/{p}/statement");
    let by_accept = w.server.send(Http::V1, Method::GET, &path, &headers, None).await;
    assert_eq!(by_accept.body, by_format.body);
    let mut reader = csv::Reader::from_reader(&by_format.body[..]);
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), lines.len());
    for (record, line) in records.iter().zip(&lines) {
        for (column, field) in header.iter().zip(record.iter()) {
            let expected = match &line[column.as_str()] {
                Value::Null => String::new(),
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            assert_eq!(field, expected, "{column}");
        }
    }
    let empty = get(
        &w,
        &format!("/operator/v1/players/{p}/statement?format=csv&from={}", t0 + 10_000),
    )
    .await;
    assert_eq!(
        String::from_utf8(empty.body).unwrap().lines().count(),
        1,
        "the header alone"
    );

    // Balances at past moments.
    let at = |t: u64| format!("/operator/v1/players/{p}/balances?at={t}");
    let cash_at = |reply: &Value| reply["balances"][0]["cash"].as_str().unwrap().to_owned();
    assert_eq!(cash_at(&get_ok(&w, &at(t0 - 1)).await), "0.00");
    assert_eq!(get_ok(&w, &at(t0 - 1)).await["balances"][0]["last_seq"], 0);
    assert_eq!(cash_at(&get_ok(&w, &at(t0)).await), "100.00");
    assert_eq!(cash_at(&get_ok(&w, &at(t0 + 1_500)).await), "102.50");
    assert_eq!(cash_at(&get_ok(&w, &at(t0 + 2_000)).await), "102.50");
    let now = get_ok(&w, &at(t0 + 3_000)).await;
    assert_eq!(cash_at(&now), "121.25");
    assert_eq!(now["balances"][0]["balance"], "121.25");
    assert_eq!(now["balances"][0]["currency"], "EUR");
    let rfc = get_ok(
        &w,
        &format!("/operator/v1/players/{p}/balances?at=2026-01-01T00:00:01.500Z"),
    )
    .await;
    assert_eq!(
        (rfc["at_ms"].as_u64(), cash_at(&rfc)),
        (Some(t0 + 1_500), "102.50".into())
    );
    assert_eq!(
        cash_at(&get_ok(&w, &format!("/operator/v1/players/{p}/balances")).await),
        "121.25"
    );

    // Game history: rounds, newest first, whole, with their game and aggregator.
    let games = get_ok(&w, &format!("/operator/v1/players/{p}/games")).await;
    let rounds = games["rounds"].as_array().unwrap();
    let ids: Vec<&str> = rounds.iter().map(|r| r["round"].as_str().unwrap()).collect();
    assert_eq!(ids, ["r-3", "r-2", "r-1"]);
    let r1 = &rounds[2];
    assert_eq!(
        (r1["game"].as_str(), r1["staked"].as_str(), r1["won"].as_str()),
        (Some("slots"), Some("5.00"), Some("7.50"))
    );
    assert_eq!(r1["aggregator"], w.aggregator.id);
    assert_eq!(r1["aggregator_name"], "acme");
    let plays: Vec<&str> = r1["plays"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(plays, ["bet", "win"]);
    assert_eq!(
        (rounds[1]["refunded"].as_str(), rounds[1]["game"].as_str()),
        (Some("2.00"), Some("roulette"))
    );
    let only = |query: &str| {
        let path = format!("/operator/v1/players/{p}/games?{query}");
        let w = &w;
        async move {
            let page = get_ok(w, &path).await;
            page["rounds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["round"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(only("game=roulette").await, ["r-2"]);
    assert_eq!(only("kind=rollback").await, ["r-2"]);
    assert_eq!(only("kind=win").await, ["r-1"]);
    assert_eq!(only(&format!("from={}", t0 + 3_000)).await, ["r-3"]);
    assert_eq!(only(&format!("from={}&to={}", t0, t0 + 2_000)).await, ["r-1"]);
    assert_eq!(only("game=blackjack").await, Vec::<String>::new());
    let first = get_ok(&w, &format!("/operator/v1/players/{p}/games?limit=2")).await;
    assert_eq!(first["rounds"].as_array().unwrap().len(), 2);
    let next = first["next_cursor"].as_str().unwrap();
    assert_eq!(only(&format!("limit=2&cursor={next}")).await, ["r-1"]);

    // Bad input: a clear 4xx, nothing submitted.
    let applied = w.server.commands_applied().await;
    let refused: [(String, StatusCode, &str); 16] = [
        (
            "/operator/v1/players/999/statement".to_owned(),
            StatusCode::NOT_FOUND,
            "unknown_player",
        ),
        (
            "/operator/v1/players/999/balances?at=1".to_owned(),
            StatusCode::NOT_FOUND,
            "unknown_player",
        ),
        (
            "/operator/v1/players/999/games".to_owned(),
            StatusCode::NOT_FOUND,
            "unknown_player",
        ),
        (
            format!("/operator/v1/players/{p}/statement?cursor=abc"),
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            format!("/operator/v1/players/{p}/statement?cursor=0"),
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            format!("/operator/v1/players/{p}/statement?format=xml"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!("/operator/v1/players/{p}/statement?from=yesterday"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!("/operator/v1/players/{p}/statement?from=5&to=4"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!("/operator/v1/players/{p}/statement?limit=0"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!("/operator/v1/players/{p}/statement?currency=XXX"),
            StatusCode::BAD_REQUEST,
            "unknown_currency",
        ),
        (
            format!("/operator/v1/players/{p}/statement?page=2"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!("/operator/v1/players/{p}/balances?at=-5"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!("/operator/v1/players/{p}/balances?at=2026-13-01T00:00:00Z"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!("/operator/v1/players/{p}/games?kind=jackpot"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!("/operator/v1/players/{p}/games?cursor=-1"),
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            format!("/operator/v1/players/{p}/games?limit=201"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (path, status, code) in refused {
        let reply = get(&w, &path).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code.to_owned()),
            "{path}: {}",
            reply.text()
        );
    }
    assert_eq!(w.server.commands_applied().await, applied);
    assert_eq!(
        get_ok(&w, &format!("/operator/v1/players/{p}/statement")).await["lines"],
        Value::Array(lines)
    );
    w.server.stop().await;
}

/// The RG read of the world's player.
async fn rg(w: &World) -> Value {
    get_ok(w, &format!("/operator/v1/players/{}/rg", w.player)).await
}

/// An RG change as the admin: (status, error code or reply status).
async fn rg_change(w: &World, method: Method, route: &str, body: Value) -> (StatusCode, String) {
    let path = format!("/operator/v1/players/{}/{route}", w.player);
    let reply = w.server.op(Http::V1, &w.admin, method, &path, Some(body)).await;
    let code = match reply.status {
        StatusCode::OK => reply.json()["status"].as_str().unwrap().to_owned(),
        _ => reply.code(),
    };
    (reply.status, code)
}

/// The RG read lists the interventions sent to the player (issue #15's
/// markers): kind, when, answered or not, newest first; a refused one is
/// not there, and neither is another player's.
#[tokio::test]
async fn the_rg_read_lists_the_players_interventions_answered_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = World::new(dir.path()).await;
    w.token = w.issue_token(86_400_000).await;
    assert_eq!(rg(&w).await["interventions"], json!([]));
    let path = format!("/operator/v1/players/{}/interventions", w.player);
    let send = |kind: &'static str| {
        w.server
            .op(Http::V1, &w.admin, Method::POST, &path, Some(json!({"kind": kind})))
    };
    let first = send("reality_check").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let first = first.json()["id"].as_u64().unwrap();
    let second = send("time_out_suggestion").await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text());
    let second = second.json()["id"].as_u64().unwrap();
    let refused = send("cold_shower").await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    let answered = w
        .server
        .op(
            Http::V1,
            &w.admin,
            Method::POST,
            &format!("{path}/{first}/answer"),
            Some(json!({"answer": "acknowledged"})),
        )
        .await;
    assert_eq!(answered.status, StatusCode::OK, "{}", answered.text());
    let read = rg(&w).await;
    let listed = read["interventions"].as_array().unwrap();
    let seen: Vec<(u64, &str, bool, &Value)> = listed
        .iter()
        .map(|i| {
            (
                i["id"].as_u64().unwrap(),
                i["kind"].as_str().unwrap(),
                i["answered"].as_bool().unwrap(),
                &i["answer"],
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (second, "time_out_suggestion", false, &Value::Null),
            (first, "reality_check", true, &json!("acknowledged")),
        ]
    );
    assert!(listed[1]["answered_ms"].as_u64().unwrap() >= listed[1]["time_ms"].as_u64().unwrap());
    assert_eq!(listed[0]["answered_ms"], Value::Null);
    // Another player's interventions are theirs.
    let made = w
        .server
        .op(
            Http::V1,
            &w.admin,
            Method::POST,
            "/operator/v1/players",
            Some(json!({"currency": "EUR", "jurisdiction": "MT"})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let other = made.json()["player"].as_u64().unwrap();
    let other_rg = get_ok(&w, &format!("/operator/v1/players/{other}/rg")).await;
    assert_eq!(other_rg["interventions"], json!([]));
    w.server.stop().await;
}

/// Issue #12, responsible gambling: a reality check falls due an interval
/// into the play session; the native wallet's replies say so with the
/// elapsed time and net position; bets are refused until the front end
/// reports the acknowledgement, wins still land. A session time limit
/// refuses bets once reached. Refusals and bad input change nothing.
#[tokio::test]
async fn reality_checks_and_session_limits_over_the_operator_and_wallet_apis() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = World::new(dir.path()).await;
    w.token = w.issue_token(86_400_000).await;
    let registered = rg(&w).await;
    assert_eq!(registered["session"]["reality_check_interval_minutes"], Value::Null);
    assert_eq!(registered["prompts"]["due"]["reason"], "first_deposit");

    // Bad input: a clear 4xx, and the RG state is as before.
    let before = rg(&w).await;
    let bad: Vec<(Method, &str, Value, StatusCode, &str)> = vec![
        (
            Method::PUT,
            "reality-check",
            json!({"interval_minutes": 0}),
            StatusCode::BAD_REQUEST,
            "invalid_duration",
        ),
        (
            Method::PUT,
            "reality-check",
            json!({"interval_minutes": 1441}),
            StatusCode::BAD_REQUEST,
            "invalid_duration",
        ),
        (
            Method::PUT,
            "reality-check",
            json!({"interval": 5}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::PUT,
            "reality-check",
            json!({"interval_minutes": "5"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::PUT,
            "session-time-limit",
            json!({"limit_minutes": 0}),
            StatusCode::BAD_REQUEST,
            "invalid_duration",
        ),
        (
            Method::POST,
            "limit-review",
            json!({"now": true}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        // No play session is open yet: nothing to acknowledge.
        (
            Method::POST,
            "reality-check/acknowledgement",
            json!({}),
            StatusCode::CONFLICT,
            "no_play_session",
        ),
    ];
    for (method, route, body, status, code) in bad {
        assert_eq!(
            rg_change(&w, method, route, body).await,
            (status, code.to_owned()),
            "{route}"
        );
    }
    let unknown = w
        .server
        .op(Http::V1, &w.admin, Method::GET, "/operator/v1/players/99/rg", None)
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "unknown_player".into())
    );
    let mut after = rg(&w).await;
    after["at_ms"] = before["at_ms"].clone();
    assert_eq!(after, before, "refusals changed nothing");

    // A check every minute; the first bet opens the play session.
    let interval = json!({"interval_minutes": 1});
    let set = rg_change(&w, Method::PUT, "reality-check", interval).await;
    assert_eq!(set, (StatusCode::OK, "accepted".into()));
    let started = w.server.now();
    let bet = w.bet(Http::V1, "rc-b1", "10.00", "rc-r1").await;
    assert_eq!(bet.status, StatusCode::OK, "{}", bet.text());
    assert_eq!(
        bet.json()["reality_check"],
        json!({"due": false, "due_at_ms": started + 60_000, "elapsed_ms": 0, "interval_ms": 60_000,
            "session_started_ms": started, "net_position": "-10.00", "currency": "EUR"})
    );

    // Due: the bet is refused with the balances and where the session stands.
    w.server.advance(60_000);
    let balance = w.balance().await;
    let refused = w.bet(Http::V1, "rc-b2", "1.00", "rc-r2").await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::FORBIDDEN, "reality_check_due".into())
    );
    let refused = refused.json();
    assert_eq!(refused["cash"], "90.00");
    assert_eq!(refused["reality_check"]["due"], true);
    assert_eq!(refused["reality_check"]["elapsed_ms"], 60_000);
    assert_eq!(
        w.balance().await["cash"],
        balance["cash"],
        "a refused bet moves nothing"
    );
    // The win of the open round lands, and says the check is due.
    let win = w.win(Http::V1, "rc-w1", "4.00", "rc-r1").await;
    assert_eq!(win.status, StatusCode::OK, "{}", win.text());
    assert_eq!(win.json()["reality_check"]["net_position"], "-6.00");
    assert_eq!(win.json()["reality_check"]["due"], true);
    let token = json!({"token": w.token});
    let read = w.wallet(Http::V1, "balance", token).await.json();
    assert_eq!(
        (read["cash"].clone(), read["reality_check"]["due"].clone()),
        (json!("94.00"), json!(true))
    );
    let seen = rg(&w).await;
    assert_eq!(seen["session"]["bets_refused"]["code"], "reality_check_due");
    assert_eq!(seen["session"]["net_position"], "-6.00");

    // The front end reports the acknowledgement: bets go on (a retry of the
    // refused bet keeps its recorded refusal; a new one is taken).
    let ack = rg_change(&w, Method::POST, "reality-check/acknowledgement", json!({})).await;
    assert_eq!(ack, (StatusCode::OK, "accepted".into()));
    let retried = w.bet(Http::V1, "rc-b2", "1.00", "rc-r2").await;
    assert_eq!(retried.code(), "reality_check_due");
    assert_eq!(w.bet(Http::V1, "rc-b3", "1.00", "rc-r2").await.status, StatusCode::OK);

    // A 30-minute session limit, reached half an hour into the session.
    assert_eq!(
        rg_change(&w, Method::PUT, "reality-check", json!({"interval_minutes": null})).await,
        (StatusCode::OK, "accepted".into())
    );
    let limit = json!({"limit_minutes": 30});
    assert_eq!(
        rg_change(&w, Method::PUT, "session-time-limit", limit).await,
        (StatusCode::OK, "accepted".into())
    );
    w.server.advance(29 * 60_000);
    let reached = w.bet(Http::V1, "rc-b4", "1.00", "rc-r3").await;
    assert_eq!(
        (reached.status, reached.code()),
        (StatusCode::FORBIDDEN, "session_time_limit_reached".into())
    );
    assert!(reached.json().get("reality_check").is_none(), "{}", reached.text());
    let longer = json!({"limit_minutes": 60});
    let scheduled = rg_change(&w, Method::PUT, "session-time-limit", longer).await;
    assert_eq!(scheduled, (StatusCode::OK, "scheduled".into()));
    let seen = rg(&w).await;
    assert_eq!(seen["session"]["time_limit_minutes"], 30);
    assert_eq!(seen["session"]["time_limit_pending"]["limit_minutes"], 60);
    assert_eq!(seen["session"]["bets_refused"]["code"], "session_time_limit_reached");

    // The limit review answers the prompt.
    let reviewed = rg_change(&w, Method::POST, "limit-review", json!({})).await;
    assert_eq!(reviewed, (StatusCode::OK, "accepted".into()));
    let seen = rg(&w).await;
    assert_eq!(seen["prompts"]["due"], Value::Null);
    assert_eq!(seen["prompts"]["last_limit_review_ms"], w.server.now());
    w.server.stop().await;
}
