//! Support end to end through the real server (`croupier-support`):
//! tickets opened, messaged, assigned, moved through their statuses and
//! priorities, listed with filters, closed for good; internal notes on
//! players; the player timeline in journal order, filtered and paged,
//! the same after a rebuild of the read model; roles and bad input that
//! change nothing; and Zendesk's webhooks through the Zendesk sandbox:
//! verified, idempotent, order-tolerant, forged ones refused and logged.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use helpdesk::sandbox::{Sandbox, SandboxConfig};
use helpdesk::zendesk::{SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Reply, World};

const SECRET: &str = "zendesk-webhook-secret";

/// A world with support, compliance, read-only and marketing operators.
struct Desk {
    w: World,
    support: String,
    support_id: u64,
    compliance: String,
    reader: String,
    marketing: String,
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

impl Desk {
    async fn start(dir: &std::path::Path, secret: Option<&str>) -> Desk {
        let config = gateway::config::ServeConfig {
            zendesk_webhook_secret: secret.map(str::to_owned),
            ..support::config(dir)
        };
        Desk::on(World::new_with(config).await).await
    }

    async fn on(w: World) -> Desk {
        let (support, support_id) = operator(&w, "helpdesk", "support").await;
        let (compliance, _) = operator(&w, "aml", "compliance").await;
        let (reader, _) = operator(&w, "auditor", "read-only").await;
        let (marketing, _) = operator(&w, "crm", "marketing").await;
        Desk {
            w,
            support,
            support_id,
            compliance,
            reader,
            marketing,
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

    /// A change with an `Idempotency-Key`.
    async fn keyed(&self, token: &str, method: Method, path: &str, key: &str, body: Value) -> Reply {
        let headers = [
            ("authorization", format!("Bearer {token}")),
            ("content-type", "application/json".to_owned()),
            ("idempotency-key", key.to_owned()),
        ];
        let body = Some(body.to_string().into_bytes());
        self.w
            .server
            .send(self.w.server.h1(), method, path, &headers, body)
            .await
    }

    fn expect(&self, reply: &Reply, status: StatusCode, code: &str) {
        assert_eq!(reply.status, status, "{}", reply.text());
        assert_eq!(reply.code(), code, "{}", reply.text());
    }
}

fn ids(list: &Value, key: &str) -> Vec<u64> {
    list[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_u64().unwrap())
        .collect()
}

fn kinds(file: &Value) -> Vec<String> {
    file["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn tickets_are_opened_worked_listed_and_closed_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let d = Desk::start(dir.path(), None).await;
    let p = d.w.player;
    let body = json!({"player": p, "subject": "Withdrawal not received", "priority": "high",
        "message": "I asked for 50 EUR on Monday", "from": "player"});
    let opened = d
        .keyed(
            &d.support,
            Method::POST,
            "/operator/v1/tickets",
            "t-open-1",
            body.clone(),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text());
    let opened = opened.json();
    let id = opened["ticket"]["id"].as_u64().unwrap();
    assert_eq!(opened["ticket"]["status"], "open");
    assert_eq!(opened["ticket"]["priority"], "high");
    assert_eq!(opened["ticket"]["player"], p);
    assert_eq!(opened["ticket"]["opened_by"], d.support_id);
    assert_eq!(kinds(&opened), ["opened", "message"]);
    assert_eq!(opened["events"][1]["author"], "player");
    assert_eq!(opened["events"][1]["text"], "I asked for 50 EUR on Monday");

    // A retry with the same key opens nothing more and sends no second message.
    let retried = d
        .keyed(&d.support, Method::POST, "/operator/v1/tickets", "t-open-1", body)
        .await;
    assert_eq!(retried.status, StatusCode::CREATED);
    assert_eq!(retried.json()["ticket"]["id"], id);
    assert_eq!(kinds(&retried.json()), ["opened", "message"]);

    let path = format!("/operator/v1/tickets/{id}");
    let answered = d
        .ok(
            &d.support,
            Method::POST,
            &format!("{path}/messages"),
            Some(json!({"text": "Checking with finance"})),
        )
        .await;
    assert_eq!(answered["events"][2]["author"], "operator");
    assert_eq!(answered["events"][2]["author_operator"], d.support_id);
    let assigned = d
        .ok(
            &d.support,
            Method::PUT,
            &format!("{path}/assignee"),
            Some(json!({"operator": d.support_id})),
        )
        .await;
    assert_eq!(assigned["ticket"]["assignee"], d.support_id);
    let pending = d
        .ok(
            &d.support,
            Method::PUT,
            &format!("{path}/status"),
            Some(json!({"status": "pending"})),
        )
        .await;
    assert_eq!(pending["ticket"]["status"], "pending");
    let urgent = d
        .ok(
            &d.w.admin,
            Method::PUT,
            &format!("{path}/priority"),
            Some(json!({"priority": "urgent"})),
        )
        .await;
    assert_eq!(urgent["ticket"]["priority"], "urgent");
    assert_eq!(
        kinds(&urgent),
        ["opened", "message", "message", "assigned", "status", "priority"]
    );
    assert_eq!(urgent["events"][4]["text"], "status open -> pending");

    // A second ticket, unassigned, normal.
    let other = d
        .ok(
            &d.support,
            Method::POST,
            "/operator/v1/tickets",
            Some(json!({"player": p, "subject": "Bonus question"})),
        )
        .await;
    let other_id = other["ticket"]["id"].as_u64().unwrap();
    assert_eq!(other["ticket"]["priority"], "normal");
    assert_eq!(kinds(&other), ["opened"]);

    let list = |query: &str| format!("/operator/v1/tickets{query}");
    let all = d.ok(&d.compliance, Method::GET, &list(""), None).await;
    assert_eq!(ids(&all, "tickets"), [id, other_id]);
    for (query, expect) in [
        ("?status=pending", vec![id]),
        ("?status=open", vec![other_id]),
        ("?status=closed", vec![]),
        (&format!("?assignee={}", d.support_id) as &str, vec![id]),
        (&format!("?player={p}") as &str, vec![id, other_id]),
        ("?player=999", vec![]),
        ("?priority=urgent", vec![id]),
        ("?priority=normal", vec![other_id]),
        (&format!("?after={id}") as &str, vec![other_id]),
        ("?limit=1", vec![id]),
    ] {
        let found = d.ok(&d.support, Method::GET, &list(query), None).await;
        assert_eq!(ids(&found, "tickets"), expect, "{query}");
    }

    // Unassigned, solved, closed: then it changes no more.
    let unassigned = d
        .ok(
            &d.support,
            Method::PUT,
            &format!("{path}/assignee"),
            Some(json!({"operator": null})),
        )
        .await;
    assert_eq!(unassigned["ticket"]["assignee"], Value::Null);
    d.ok(
        &d.support,
        Method::PUT,
        &format!("{path}/status"),
        Some(json!({"status": "solved"})),
    )
    .await;
    let closed = d
        .ok(
            &d.support,
            Method::PUT,
            &format!("{path}/status"),
            Some(json!({"status": "closed"})),
        )
        .await;
    assert_eq!(closed["ticket"]["status"], "closed");
    let applied = d.w.server.commands_applied().await;
    for (method, tail, body) in [
        (Method::POST, "messages", json!({"text": "late"})),
        (Method::PUT, "status", json!({"status": "open"})),
        (Method::PUT, "priority", json!({"priority": "low"})),
        (Method::PUT, "assignee", json!({"operator": d.support_id})),
    ] {
        let refused = d.op(&d.support, method, &format!("{path}/{tail}"), Some(body)).await;
        d.expect(&refused, StatusCode::CONFLICT, "ticket_closed");
    }
    assert_eq!(
        d.w.server.commands_applied().await,
        applied,
        "a closed ticket changes nothing"
    );
    let shown = d.ok(&d.support, Method::GET, &path, None).await;
    assert_eq!(shown["ticket"]["status"], "closed");
    assert_eq!(shown["events"].as_array().unwrap().len(), 9);

    // The audit trail names the ticket on each change.
    let audit = d
        .ok(
            &d.w.admin,
            Method::GET,
            &format!("/operator/v1/audit?operator={}", d.support_id),
            None,
        )
        .await;
    let text = audit.to_string();
    assert!(text.contains(&format!("ticket:{id}")), "{text}");
}

#[tokio::test]
async fn roles_and_bad_input_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = Desk::start(dir.path(), None).await;
    let p = d.w.player;
    let ticket = d
        .ok(
            &d.support,
            Method::POST,
            "/operator/v1/tickets",
            Some(json!({"player": p, "subject": "Login"})),
        )
        .await["ticket"]["id"]
        .as_u64()
        .unwrap();
    let applied = d.w.server.commands_applied().await;
    let t = format!("/operator/v1/tickets/{ticket}");
    let notes = format!("/operator/v1/players/{p}/notes");
    let timeline = format!("/operator/v1/players/{p}/timeline");

    // Roles: support and admins change; compliance reads; read-only and marketing neither.
    for token in [&d.reader, &d.marketing] {
        for path in ["/operator/v1/tickets", &t as &str, &notes, &timeline] {
            d.expect(
                &d.op(token, Method::GET, path, None).await,
                StatusCode::FORBIDDEN,
                "forbidden",
            );
        }
    }
    for token in [&d.compliance, &d.reader, &d.marketing] {
        let open = json!({"player": p, "subject": "x"});
        let refused = d.op(token, Method::POST, "/operator/v1/tickets", Some(open)).await;
        d.expect(&refused, StatusCode::FORBIDDEN, "forbidden");
        let refused = d.op(token, Method::POST, &notes, Some(json!({"text": "x"}))).await;
        d.expect(&refused, StatusCode::FORBIDDEN, "forbidden");
        let refused = d
            .op(
                token,
                Method::PUT,
                &format!("{t}/status"),
                Some(json!({"status": "solved"})),
            )
            .await;
        d.expect(&refused, StatusCode::FORBIDDEN, "forbidden");
    }
    d.expect(
        &d.op("", Method::GET, "/operator/v1/tickets", None).await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    );
    for path in ["/operator/v1/tickets", &t as &str, &notes, &timeline] {
        d.ok(&d.compliance, Method::GET, path, None).await;
    }

    // Bad input.
    let s = &d.support;
    let bad = StatusCode::BAD_REQUEST;
    for (method, path, body, status, code) in [
        (
            Method::POST,
            "/operator/v1/tickets".to_owned(),
            json!({"player": 999, "subject": "x"}),
            StatusCode::NOT_FOUND,
            "unknown_player",
        ),
        (
            Method::POST,
            "/operator/v1/tickets".to_owned(),
            json!({"player": p, "subject": "  "}),
            bad,
            "invalid_request",
        ),
        (
            Method::POST,
            "/operator/v1/tickets".to_owned(),
            json!({"player": p, "subject": "s".repeat(201)}),
            bad,
            "invalid_request",
        ),
        (
            Method::POST,
            "/operator/v1/tickets".to_owned(),
            json!({"player": p, "subject": "x", "priority": "asap"}),
            bad,
            "invalid_request",
        ),
        (
            Method::POST,
            "/operator/v1/tickets".to_owned(),
            json!({"player": p, "subject": "x", "message": ""}),
            bad,
            "invalid_request",
        ),
        (
            Method::POST,
            "/operator/v1/tickets".to_owned(),
            json!({"player": p, "subject": "x", "message": "m", "from": "bot"}),
            bad,
            "invalid_request",
        ),
        (
            Method::POST,
            "/operator/v1/tickets".to_owned(),
            json!({"player": p, "subject": "x", "colour": "red"}),
            bad,
            "invalid_request",
        ),
        (
            Method::POST,
            format!("{t}/messages"),
            json!({"text": "bell\u{7}"}),
            bad,
            "invalid_request",
        ),
        (
            Method::POST,
            format!("{t}/messages"),
            json!({"text": "m".repeat(8_001)}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            Method::POST,
            "/operator/v1/tickets/999999/messages".to_owned(),
            json!({"text": "hi"}),
            StatusCode::NOT_FOUND,
            "unknown_ticket",
        ),
        (
            Method::POST,
            "/operator/v1/tickets/abc/messages".to_owned(),
            json!({"text": "hi"}),
            StatusCode::NOT_FOUND,
            "unknown_ticket",
        ),
        (
            Method::PUT,
            format!("{t}/status"),
            json!({"status": "new"}),
            bad,
            "invalid_request",
        ),
        (
            Method::PUT,
            format!("{t}/priority"),
            json!({"priority": "HIGH"}),
            bad,
            "invalid_request",
        ),
        (
            Method::PUT,
            format!("{t}/assignee"),
            json!({"operator": 4242}),
            StatusCode::NOT_FOUND,
            "unknown_operator",
        ),
        (
            Method::PUT,
            "/operator/v1/tickets/0/status".to_owned(),
            json!({"status": "solved"}),
            StatusCode::NOT_FOUND,
            "unknown_ticket",
        ),
        (Method::POST, notes.clone(), json!({"text": ""}), bad, "invalid_request"),
        (
            Method::POST,
            notes.clone(),
            json!({"text": "tab\there"}),
            bad,
            "invalid_request",
        ),
        (
            Method::POST,
            "/operator/v1/players/999/notes".to_owned(),
            json!({"text": "x"}),
            StatusCode::NOT_FOUND,
            "unknown_player",
        ),
    ] {
        let reply = d.op(s, method, &path, Some(body)).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.text());
        assert_eq!(reply.code(), code, "{path}: {}", reply.text());
    }
    for path in [
        "/operator/v1/tickets?status=new".to_owned(),
        "/operator/v1/tickets?priority=top".to_owned(),
        "/operator/v1/tickets?limit=0".to_owned(),
        "/operator/v1/tickets?colour=red".to_owned(),
        format!("{timeline}?kinds=payment,gossip"),
        format!("{timeline}?limit=1001"),
        format!("{notes}?limit=501"),
    ] {
        let reply = d.op(s, Method::GET, &path, None).await;
        d.expect(&reply, bad, "invalid_request");
    }
    for path in ["/operator/v1/tickets/999999", "/operator/v1/tickets/x"] {
        d.expect(
            &d.op(s, Method::GET, path, None).await,
            StatusCode::NOT_FOUND,
            "unknown_ticket",
        );
    }
    for path in ["/operator/v1/players/999/notes", "/operator/v1/players/999/timeline"] {
        d.expect(
            &d.op(s, Method::GET, path, None).await,
            StatusCode::NOT_FOUND,
            "unknown_player",
        );
    }
    // Without a secret the webhook is not there.
    let hook =
        d.w.server
            .send(
                d.w.server.h1(),
                Method::POST,
                "/webhooks/v1/support/zendesk",
                &[("content-type", "application/json".to_owned())],
                Some(b"{}".to_vec()),
            )
            .await;
    d.expect(&hook, StatusCode::NOT_FOUND, "support_webhook_not_configured");
    assert_eq!(d.w.server.commands_applied().await, applied, "nothing was journaled");
    let file = d.ok(s, Method::GET, &t, None).await;
    assert_eq!(kinds(&file), ["opened"]);
}

#[tokio::test]
async fn notes_are_journaled_listed_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let d = Desk::start(dir.path(), None).await;
    let path = format!("/operator/v1/players/{}/notes", d.w.player);
    let first = d
        .keyed(
            &d.support,
            Method::POST,
            &path,
            "note-1",
            json!({"text": "Prefers email"}),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let first = first.json();
    assert_eq!(first["operator"], d.support_id);
    assert_eq!(first["text"], "Prefers email");
    let again = d
        .keyed(
            &d.support,
            Method::POST,
            &path,
            "note-1",
            json!({"text": "Prefers email"}),
        )
        .await;
    assert_eq!(again.json()["id"], first["id"], "a retry names the same note");
    let second = d
        .ok(
            &d.w.admin,
            Method::POST,
            &path,
            Some(json!({"text": "Called about a withdrawal\nall fine"})),
        )
        .await;
    let listed = d.ok(&d.compliance, Method::GET, &path, None).await;
    assert_eq!(
        ids(&listed, "notes"),
        [first["id"].as_u64().unwrap(), second["id"].as_u64().unwrap()]
    );
    assert_eq!(listed["notes"][1]["text"], "Called about a withdrawal\nall fine");
    let paged = d
        .ok(
            &d.support,
            Method::GET,
            &format!("{path}?after={}&limit=5", first["id"]),
            None,
        )
        .await;
    assert_eq!(ids(&paged, "notes"), [second["id"].as_u64().unwrap()]);
    let one = d.ok(&d.support, Method::GET, &format!("{path}?limit=1"), None).await;
    assert_eq!(ids(&one, "notes"), [first["id"].as_u64().unwrap()]);
    // Notes are never on a player-facing route: the wallet API has none,
    // and the player's own statement does not carry them.
    let statement = d
        .ok(
            &d.w.admin,
            Method::GET,
            &format!("/operator/v1/players/{}/statement?currency=EUR", d.w.player),
            None,
        )
        .await;
    assert!(!statement.to_string().contains("Prefers email"));
}

fn entries(page: &Value) -> Vec<(u64, String, String)> {
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["seq"].as_u64().unwrap(),
                e["kind"].as_str().unwrap().to_owned(),
                e["event"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_timeline_orders_every_event_filters_pages_and_survives_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let d = Desk::start(dir.path(), None).await;
    let (p, h) = (d.w.player, d.w.server.h1());
    // Play: a round of a bet and a win, a second round with a bet rolled back.
    assert_eq!(d.w.bet(h, "b1", "5.00", "r1").await.status, StatusCode::OK);
    assert_eq!(d.w.win(h, "w1", "12.50", "r1").await.status, StatusCode::OK);
    assert_eq!(d.w.bet(h, "b2", "3.00", "r2").await.status, StatusCode::OK);
    assert_eq!(d.w.rollback(h, "rb2", "b2").await.status, StatusCode::OK);
    // A limit (RG), a ticket, a note.
    let limit = json!({"currency": "EUR", "metric": "deposit", "period": "day", "amount": "50.00"});
    d.ok(
        &d.w.admin,
        Method::PUT,
        &format!("/operator/v1/players/{p}/limits"),
        Some(limit),
    )
    .await;
    let ticket = d
        .ok(
            &d.support,
            Method::POST,
            "/operator/v1/tickets",
            Some(json!({"player": p, "subject": "Limits"})),
        )
        .await["ticket"]["id"]
        .as_u64()
        .unwrap();
    d.ok(
        &d.support,
        Method::PUT,
        &format!("/operator/v1/tickets/{ticket}/status"),
        Some(json!({"status": "solved"})),
    )
    .await;
    d.ok(
        &d.support,
        Method::POST,
        &format!("/operator/v1/players/{p}/notes"),
        Some(json!({"text": "Set a limit"})),
    )
    .await;
    // Another player's events are not in this one's timeline.
    let other = d
        .ok(
            &d.w.admin,
            Method::POST,
            "/operator/v1/players",
            Some(json!({"currency": "EUR", "jurisdiction": "MT"})),
        )
        .await["player"]
        .as_u64()
        .unwrap();

    let path = format!("/operator/v1/players/{p}/timeline");
    let all = d.ok(&d.support, Method::GET, &path, None).await;
    let found = entries(&all);
    let kinds: Vec<&str> = found.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "registration",
            "payment",
            "session",
            "round",
            "round",
            "rg",
            "ticket",
            "ticket",
            "note"
        ],
        "{all}"
    );
    assert!(found.windows(2).all(|w| w[0].0 < w[1].0), "in journal order: {found:?}");
    let times: Vec<u64> = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["time_ms"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
    let rounds: Vec<&Value> = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "round")
        .collect();
    assert_eq!(rounds[0]["staked"], "5.00");
    assert_eq!(rounds[0]["won"], "12.50");
    assert_eq!(rounds[0]["round"], "slots/r1");
    assert_eq!(rounds[1]["staked"], "0.00", "the rollback took the stake back");
    assert_eq!(rounds[1]["won"], "0.00");
    assert!(rounds[1]["last_seq"].as_u64() > rounds[1]["seq"].as_u64());
    assert_eq!(all["entries"][1]["event"], "deposit");
    assert_eq!(all["entries"][1]["detail"], "100.00 EUR");
    let rg = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "rg")
        .unwrap();
    assert!(rg["operator"].is_u64(), "an operator's action names the operator: {rg}");
    assert!(rounds[0]["operator"].is_null(), "an aggregator's bet names none");
    assert_eq!(all["entries"][7]["detail"], format!("ticket {ticket} solved"));
    assert_eq!(all["next_after"], Value::Null);

    // Filters and pages.
    let filtered = d
        .ok(&d.support, Method::GET, &format!("{path}?kinds=round,note"), None)
        .await;
    let kinds: Vec<String> = entries(&filtered).into_iter().map(|(_, k, _)| k).collect();
    assert_eq!(kinds, ["round", "round", "note"]);
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = d
            .ok(&d.support, Method::GET, &format!("{path}?limit=3&after={after}"), None)
            .await;
        paged.extend(entries(&page));
        match page["next_after"].as_u64() {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(paged, found, "pages add up to the whole");
    let other_timeline = d
        .ok(
            &d.support,
            Method::GET,
            &format!("/operator/v1/players/{other}/timeline"),
            None,
        )
        .await;
    let kinds: Vec<String> = entries(&other_timeline).into_iter().map(|(_, k, _)| k).collect();
    assert_eq!(kinds, ["registration"]);

    // The read model rebuilt from the journal holds the same timeline,
    // tickets and notes.
    let tickets = d.ok(&d.support, Method::GET, "/operator/v1/tickets", None).await;
    let notes = d
        .ok(
            &d.support,
            Method::GET,
            &format!("/operator/v1/players/{p}/notes"),
            None,
        )
        .await;
    let (support, admin) = (d.support.clone(), d.w.admin.clone());
    let w = d.w.restart_rebuilt(dir.path()).await;
    let again = w
        .server
        .op(w.server.h1(), &support, Method::GET, &path, None)
        .await
        .json();
    assert_eq!(again["entries"], all["entries"]);
    let tickets_again = w
        .server
        .op(w.server.h1(), &admin, Method::GET, "/operator/v1/tickets", None)
        .await
        .json();
    assert_eq!(tickets_again["tickets"], tickets["tickets"]);
    let notes_again = w
        .server
        .op(
            w.server.h1(),
            &admin,
            Method::GET,
            &format!("/operator/v1/players/{p}/notes"),
            None,
        )
        .await
        .json();
    assert_eq!(notes_again["notes"], notes["notes"]);
}

/// A server with the Zendesk secret and the sandbox sending it webhooks.
async fn zendesk(dir: &std::path::Path) -> (Desk, Sandbox, reqwest::Client) {
    let d = Desk::start(dir, Some(SECRET)).await;
    let clock = d.w.server.clock.clone();
    let sandbox = Sandbox::start(
        SandboxConfig {
            email: "agent@example.com".into(),
            api_token: "zd-token".into(),
            webhook_secret: SECRET.into(),
            webhook_url: Some(format!("{}/webhooks/v1/support/zendesk", d.w.server.base)),
            clock: Arc::new(move || clock.load(Ordering::SeqCst)),
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("the sandbox starts");
    (d, sandbox, reqwest::Client::new())
}

/// A Zendesk API call as the agent.
async fn zd(http: &reqwest::Client, sandbox: &Sandbox, method: Method, path: &str, body: Option<Value>) -> Value {
    let auth = helpdesk::sandbox::basic_auth("agent@example.com", "zd-token");
    let mut request = http
        .request(method, format!("{}{path}", sandbox.url()))
        .header("authorization", auth);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("the sandbox answers");
    assert!(response.status().is_success(), "{path}: {}", response.status());
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

/// A call to the sandbox's control side.
async fn control(http: &reqwest::Client, method: Method, url: String, body: Option<Value>) -> Value {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("the sandbox answers");
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

async fn sandbox_events(http: &reqwest::Client, sandbox: &Sandbox) -> Vec<Value> {
    let events = control(http, Method::GET, format!("{}/sandbox/events", sandbox.url()), None).await;
    events["events"].as_array().unwrap().clone()
}

async fn redeliver(http: &reqwest::Client, sandbox: &Sandbox, n: usize) -> u64 {
    let reply = control(
        http,
        Method::POST,
        format!("{}/sandbox/events/{n}/deliver", sandbox.url()),
        None,
    )
    .await;
    reply["delivered"].as_u64().unwrap()
}

async fn delivery(http: &reqwest::Client, sandbox: &Sandbox, deliver: bool) {
    let url = format!("{}/sandbox/delivery", sandbox.url());
    control(http, Method::PUT, url, Some(json!({"deliver": deliver}))).await;
}

#[tokio::test]
async fn zendesk_webhooks_open_and_update_tickets_once_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (d, sandbox, http) = zendesk(dir.path()).await;
    let p = d.w.player;
    // The player writes to support in Zendesk: the ticket arrives here.
    let created = zd(
        &http,
        &sandbox,
        Method::POST,
        "/api/v2/tickets.json",
        Some(
            json!({"ticket": {"subject": "Cannot log in", "priority": "high", "external_id": p.to_string(),
            "comment": {"body": "My password does not work"}}}),
        ),
    )
    .await;
    let zid = created["ticket"]["id"].as_u64().unwrap();
    let events = sandbox_events(&http, &sandbox).await;
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e["delivered"] == 200), "{events:?}");
    let list = d
        .ok(
            &d.support,
            Method::GET,
            &format!("/operator/v1/tickets?player={p}"),
            None,
        )
        .await;
    assert_eq!(list["tickets"].as_array().unwrap().len(), 1);
    let ticket = &list["tickets"][0];
    let id = ticket["id"].as_u64().unwrap();
    assert_eq!(ticket["external"], zid.to_string());
    assert_eq!(ticket["priority"], "high");
    assert_eq!(ticket["subject"], "Cannot log in");
    assert_eq!(ticket["opened_by"], 0);
    let path = format!("/operator/v1/tickets/{id}");
    let file = d.ok(&d.support, Method::GET, &path, None).await;
    assert_eq!(kinds(&file), ["opened", "message"]);
    assert_eq!(file["events"][1]["author"], "player");

    // Redelivered events are duplicates: nothing more is journaled.
    let applied = d.w.server.commands_applied().await;
    assert_eq!(redeliver(&http, &sandbox, 0).await, 200);
    assert_eq!(redeliver(&http, &sandbox, 1).await, 200);
    assert_eq!(d.w.server.commands_applied().await, applied);
    assert_eq!(
        kinds(&d.ok(&d.support, Method::GET, &path, None).await),
        ["opened", "message"]
    );

    // An agent answers and sets it pending in Zendesk; the player answers back.
    zd(
        &http,
        &sandbox,
        Method::PUT,
        &format!("/api/v2/tickets/{zid}.json"),
        Some(json!({"ticket": {"status": "pending", "comment": {"body": "Try a reset link"}}})),
    )
    .await;
    let url = format!("{}/sandbox/tickets/{zid}/requester_comment", sandbox.url());
    let answered = control(&http, Method::POST, url, Some(json!({"body": "It worked, thanks"}))).await;
    assert_eq!(answered["recorded"], true);
    let file = d.ok(&d.support, Method::GET, &path, None).await;
    assert_eq!(file["ticket"]["status"], "pending");
    assert_eq!(kinds(&file), ["opened", "message", "status", "message", "message"]);
    assert_eq!(file["events"][3]["author"], "external");
    assert_eq!(file["events"][3]["author_name"], "agent@example.com");
    assert_eq!(file["events"][4]["author"], "player");
    // A private agent comment stays in Zendesk.
    zd(
        &http,
        &sandbox,
        Method::PUT,
        &format!("/api/v2/tickets/{zid}.json"),
        Some(json!({"ticket": {"comment": {"body": "internal: VIP", "public": false}}})),
    )
    .await;
    assert_eq!(kinds(&d.ok(&d.support, Method::GET, &path, None).await).len(), 5);

    // Out of order: solved at t, then open again at t + 1 s, delivered
    // newest first. The older one is stale and changes nothing.
    delivery(&http, &sandbox, false).await;
    d.w.server.advance(1_000);
    zd(
        &http,
        &sandbox,
        Method::PUT,
        &format!("/api/v2/tickets/{zid}.json"),
        Some(json!({"ticket": {"status": "solved"}})),
    )
    .await;
    d.w.server.advance(1_000);
    zd(
        &http,
        &sandbox,
        Method::PUT,
        &format!("/api/v2/tickets/{zid}.json"),
        Some(json!({"ticket": {"status": "open"}})),
    )
    .await;
    let events = sandbox_events(&http, &sandbox).await;
    let (solved, reopened) = (events.len() - 2, events.len() - 1);
    assert_eq!(redeliver(&http, &sandbox, reopened).await, 200);
    let applied = d.w.server.commands_applied().await;
    assert_eq!(redeliver(&http, &sandbox, solved).await, 200);
    assert_eq!(
        d.w.server.commands_applied().await,
        applied,
        "the stale change sent nothing"
    );
    let file = d.ok(&d.support, Method::GET, &path, None).await;
    assert_eq!(file["ticket"]["status"], "open");
    assert_eq!(
        kinds(&file),
        ["opened", "message", "status", "message", "message", "status"]
    );

    // A change delivered before its ticket's creation: 409 (Zendesk
    // retries), then it lands after the creation.
    let second = zd(
        &http,
        &sandbox,
        Method::POST,
        "/api/v2/tickets.json",
        Some(json!({"ticket": {"subject": "Bonus", "external_id": p.to_string()}})),
    )
    .await;
    let second_zid = second["ticket"]["id"].as_u64().unwrap();
    zd(
        &http,
        &sandbox,
        Method::PUT,
        &format!("/api/v2/tickets/{second_zid}.json"),
        Some(json!({"ticket": {"priority": "urgent"}})),
    )
    .await;
    let events = sandbox_events(&http, &sandbox).await;
    let (opening, change) = (events.len() - 2, events.len() - 1);
    assert_eq!(redeliver(&http, &sandbox, change).await, 409);
    assert_eq!(redeliver(&http, &sandbox, opening).await, 200);
    assert_eq!(redeliver(&http, &sandbox, change).await, 200);
    let list = d
        .ok(
            &d.support,
            Method::GET,
            &format!("/operator/v1/tickets?player={p}&priority=urgent"),
            None,
        )
        .await;
    assert_eq!(list["tickets"].as_array().unwrap().len(), 1);
    assert_eq!(list["tickets"][0]["external"], second_zid.to_string());
}

#[tokio::test]
async fn forged_and_replayed_zendesk_webhooks_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (d, _sandbox, _http) = zendesk(dir.path()).await;
    let p = d.w.player;
    let now = d.w.server.now();
    let timestamp = |ms: u64| {
        time::OffsetDateTime::from_unix_timestamp((ms / 1_000) as i64)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let body = json!({"type": "zen:event-type:ticket.created", "account_id": 1, "id": "forged-1",
        "time": timestamp(now), "detail": {"id": "777", "subject": "Refund me", "external_id": p.to_string()},
        "event": {}})
    .to_string()
    .into_bytes();
    let send = |signed: Option<String>, at: Option<String>, body: Vec<u8>| {
        let mut headers = vec![("content-type", "application/json".to_owned())];
        if let Some(signed) = signed {
            headers.push((SIGNATURE_HEADER, signed));
        }
        if let Some(at) = at {
            headers.push((TIMESTAMP_HEADER, at));
        }
        let server = &d.w.server;
        async move {
            server
                .send(
                    server.h1(),
                    Method::POST,
                    "/webhooks/v1/support/zendesk",
                    &headers,
                    Some(body),
                )
                .await
        }
    };
    let applied = d.w.server.commands_applied().await;
    let at = timestamp(now);
    for (signed, at, status, code) in [
        (None, Some(at.clone()), StatusCode::UNAUTHORIZED, "bad_signature"),
        (
            Some(signature(SECRET, &at, &body)),
            None,
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        (
            Some(signature("another-secret", &at, &body)),
            Some(at.clone()),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        (
            Some("not base64!".to_owned()),
            Some(at.clone()),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        // Signed for another timestamp than the one sent.
        (
            Some(signature(SECRET, &timestamp(now - 1_000), &body)),
            Some(at.clone()),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        // Genuinely signed, but ten minutes old: a replay.
        (
            Some(signature(SECRET, &timestamp(now - 600_000), &body)),
            Some(timestamp(now - 600_000)),
            StatusCode::BAD_REQUEST,
            "stale_webhook",
        ),
    ] {
        let reply = send(signed, at, body.clone()).await;
        assert_eq!(reply.status, status, "{}", reply.text());
        assert_eq!(reply.code(), code);
    }
    // A body changed after signing.
    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("Refund me", "Refund all")
        .into_bytes();
    let reply = send(Some(signature(SECRET, &at, &body)), Some(at.clone()), tampered).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(d.w.server.commands_applied().await, applied, "nothing was journaled");
    let list = d.ok(&d.support, Method::GET, "/operator/v1/tickets", None).await;
    assert_eq!(list["tickets"].as_array().unwrap().len(), 0);

    // Signed but unreadable, or naming no player: refused, nothing journaled.
    let junk = b"{\"type\": 1}".to_vec();
    let reply = send(Some(signature(SECRET, &at, &junk)), Some(at.clone()), junk).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let nobody = String::from_utf8(body.clone())
        .unwrap()
        .replace(&format!("\"{p}\""), "\"999\"")
        .into_bytes();
    let reply = send(Some(signature(SECRET, &at, &nobody)), Some(at.clone()), nobody).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text());
    assert_eq!(reply.code(), "unknown_player");
    // An event type this adapter does not act on is acknowledged.
    let other = String::from_utf8(body.clone())
        .unwrap()
        .replace("ticket.created", "ticket.tags_changed")
        .into_bytes();
    let reply = send(Some(signature(SECRET, &at, &other)), Some(at.clone()), other).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["applied"], false);
    assert_eq!(reply.json()["reason"], "ignored_event");
    assert_eq!(d.w.server.commands_applied().await, applied);

    // The genuine one, signed now, opens the ticket once.
    let reply = send(Some(signature(SECRET, &at, &body)), Some(at.clone()), body.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["applied"], true);
    let again = send(Some(signature(SECRET, &at, &body)), Some(at.clone()), body.clone()).await;
    assert_eq!(again.json()["applied"], false);
    assert_eq!(again.json()["reason"], "duplicate");
    let list = d.ok(&d.support, Method::GET, "/operator/v1/tickets", None).await;
    assert_eq!(list["tickets"].as_array().unwrap().len(), 1);
    assert_eq!(list["tickets"][0]["subject"], "Refund me");
}
