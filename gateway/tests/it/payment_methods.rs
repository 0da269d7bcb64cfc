//! Players' payment methods end to end, on a server with both payment
//! sandboxes (NOWPayments the default, Stripe beside it): methods are
//! recorded by token only (a card number is refused and nothing is
//! journaled), the holder's name is checked against the sealed profile (a
//! mismatch raises the third-party alert with its record as evidence),
//! four methods raise the many-methods alert, methods are disabled,
//! enabled and removed with every error path; deposits and withdrawals
//! name a method, and a crypto withdrawal is paid out to the address of
//! the player's crypto method; a withdrawal is held while an AML case on
//! the player is open, and the queue shows it.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::nowpayments::{API_KEY, Both};
use crate::support::Reply;

const ADDRESS: &str = "TEmGwPeRTPiLFLVfBxXkSP91yc5GMNQhfS";

fn profile(name: &str, email: &str) -> Value {
    json!({
        "name": name,
        "email": email,
        "phone": "+356 2122 3344",
        "date_of_birth": "1990-05-17",
        "address": {"line": "12 Triq il-Kbira", "city": "Valletta", "postcode": "VLT 1010"},
        "country": "MT",
        "language": "en",
        "marketing": {"email": false, "sms": false, "phone": false, "post": false}
    })
}

struct Desk {
    c: Both,
    compliance: String,
    reader: String,
}

impl Desk {
    async fn start(dir: &std::path::Path) -> Desk {
        Desk::start_configured(dir, true).await
    }

    /// As [`Desk::start`], AML cases holding withdrawals (`hold_on_case`) or not.
    async fn start_configured(dir: &std::path::Path, hold_on_case: bool) -> Desk {
        let c = Both::start_configured(dir, 20, hold_on_case).await;
        let compliance = c.operator("aml", "compliance").await;
        let reader = c.operator("auditor", "read-only").await;
        Desk { c, compliance, reader }
    }

    async fn op(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.c.op(token, method, path, body).await
    }

    /// A player with a sealed profile held in `name`, funded with 100.00.
    async fn register(&self, name: &str, email: &str) -> u64 {
        let body = json!({"currency": "EUR", "jurisdiction": "MT", "profile": profile(name, email)});
        let made = self
            .op(&self.c.admin, Method::POST, "/operator/v1/registrations", Some(body))
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
        let player = made.json()["player"].as_u64().unwrap();
        let body = json!({"deposit_id": format!("fund-{player}"), "currency": "EUR", "amount": "100.00"});
        let path = format!("/operator/v1/players/{player}/deposits");
        let funded = self.op(&self.c.admin, Method::POST, &path, Some(body)).await;
        assert_eq!(funded.status, StatusCode::OK, "{}", funded.text());
        player
    }

    async fn add(&self, player: u64, body: Value) -> Reply {
        let path = format!("/operator/v1/players/{player}/payment-methods");
        self.op(&self.c.front, Method::POST, &path, Some(body)).await
    }

    async fn add_ok(&self, player: u64, body: Value) -> Value {
        let reply = self.add(player, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        reply.json()
    }

    async fn list(&self, player: u64, query: &str) -> Vec<Value> {
        let path = format!("/operator/v1/players/{player}/payment-methods{query}");
        let reply = self.op(&self.compliance, Method::GET, &path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.json()["methods"].as_array().unwrap().clone()
    }

    async fn set_state(&self, player: u64, method: &str, body: Value) -> Reply {
        let path = format!("/operator/v1/players/{player}/payment-methods/{method}/state");
        self.op(&self.c.front, Method::PUT, &path, Some(body)).await
    }

    async fn alerts(&self, player: u64, rule: &str) -> Vec<Value> {
        let path = format!("/operator/v1/risk/alerts?player={player}&rule={rule}");
        let reply = self.op(&self.reader, Method::GET, &path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.json()["alerts"].as_array().unwrap().clone()
    }

    async fn withdraw(&self, player: u64, body: Value) -> Reply {
        let path = format!("/cashier/v1/players/{player}/withdrawals");
        self.op(&self.c.front, Method::POST, &path, Some(body)).await
    }

    async fn applied(&self) -> u64 {
        self.c.server.commands_applied().await
    }
}

fn code(reply: &Reply) -> (StatusCode, String) {
    (reply.status, reply.code())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_are_tokens_checked_against_the_profile_and_raise_their_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let d = Desk::start(dir.path()).await;
    let p = d.register("Ada Lovelace", "ada@example.com").await;

    // The holder's name in another order is the player's.
    let visa = d
        .add_ok(
            p,
            json!({"method_id": "visa", "kind": "card", "reference": "pm_card_visa", "holder_name": "LOVELACE ADA"}),
        )
        .await;
    assert_eq!(
        (&visa["method_id"], &visa["kind"], &visa["holder"], &visa["state"]),
        (&json!("visa"), &json!("card"), &json!("matches"), &json!("active"))
    );
    assert_eq!(d.alerts(p, "third_party_method").await, Vec::<Value>::new());
    // The same method again is a retry; the id with another reference is taken.
    let again = d
        .add_ok(
            p,
            json!({"method_id": "visa", "kind": "card", "reference": "pm_card_visa"}),
        )
        .await;
    assert_eq!(again["seq"], visa["seq"]);
    let taken = d
        .add(p, json!({"method_id": "visa", "kind": "card", "reference": "pm_other"}))
        .await;
    assert_eq!(code(&taken), (StatusCode::CONFLICT, "payment_method_taken".into()));

    // Bad input changes nothing: a card number, a bad kind, an unknown
    // player, a bad holder name, a reader or compliance adding.
    let before = d.applied().await;
    for pan in ["4111111111111111", "4111-1111-1111-1111"] {
        let refused = d
            .add(p, json!({"method_id": "pan", "kind": "card", "reference": pan}))
            .await;
        assert_eq!(
            code(&refused),
            (StatusCode::UNPROCESSABLE_ENTITY, "card_number_refused".into()),
            "{pan}"
        );
    }
    let bad_kind = d
        .add(p, json!({"method_id": "x", "kind": "cheque", "reference": "r"}))
        .await;
    assert_eq!(code(&bad_kind), (StatusCode::BAD_REQUEST, "invalid_request".into()));
    let no_holder = d
        .add(
            p,
            json!({"method_id": "x", "kind": "bank", "reference": "r", "holder_name": "  "}),
        )
        .await;
    assert_eq!(code(&no_holder), (StatusCode::BAD_REQUEST, "invalid_request".into()));
    let unknown = d
        .add(9_999, json!({"method_id": "x", "kind": "bank", "reference": "r"}))
        .await;
    assert_eq!(code(&unknown), (StatusCode::NOT_FOUND, "unknown_player".into()));
    let path = format!("/operator/v1/players/{p}/payment-methods");
    let body = json!({"method_id": "x", "kind": "bank", "reference": "r"});
    for token in [&d.reader, &d.compliance] {
        let refused = d.op(token, Method::POST, &path, Some(body.clone())).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }
    let read = d.op(&d.reader, Method::GET, &path, None).await;
    assert_eq!(
        read.status,
        StatusCode::FORBIDDEN,
        "references are for the desks that use them"
    );
    assert_eq!(d.applied().await, before, "nothing was journaled");
    assert_eq!(d.list(p, "").await.len(), 1);

    // Another person's e-wallet: recorded as a mismatch, and the
    // third-party alert rests on the record that added it.
    let wallet = d
        .add_ok(
            p,
            json!({"method_id": "skrill", "kind": "ewallet", "reference": "skrill_8812", "holder_name": "Charles Babbage"}),
        )
        .await;
    assert_eq!(wallet["holder"], "mismatch");
    let third = d.alerts(p, "third_party_method").await;
    assert_eq!(third.len(), 1, "{third:?}");
    assert_eq!(third[0]["seq"], wallet["seq"]);
    assert_eq!(third[0]["evidence"][0]["seq"], wallet["seq"]);
    assert_eq!(third[0]["evidence"][0]["kind"], "payment_method");
    assert!(third[0]["summary"].as_str().unwrap().contains("skrill"), "{}", third[0]);
    let listed = d.list(p, "").await;
    assert!(
        !Value::from(listed.clone()).to_string().contains("Babbage"),
        "the holder's name is never kept: {listed:?}"
    );

    // Four methods within the window: the many-methods alert, with each.
    assert_eq!(d.alerts(p, "payment_methods").await, Vec::<Value>::new());
    d.add_ok(
        p,
        json!({"method_id": "iban", "kind": "bank", "reference": "tok_iban_33"}),
    )
    .await;
    let crypto = d
        .add_ok(p, json!({"method_id": "tron", "kind": "crypto", "reference": ADDRESS}))
        .await;
    assert_eq!(crypto["holder"], "unchecked");
    let many = d.alerts(p, "payment_methods").await;
    assert_eq!(many.len(), 1, "{many:?}");
    assert_eq!(many[0]["evidence"].as_array().unwrap().len(), 4);

    // Disable, enable, remove; every error path.
    let disabled = d
        .set_state(p, "visa", json!({"state": "disabled", "reason": "reported lost"}))
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.text());
    assert_eq!(
        (disabled.json()["state"].clone(), disabled.json()["reason"].clone()),
        (json!("disabled"), json!("reported lost"))
    );
    let enabled = d
        .set_state(p, "visa", json!({"state": "active", "reason": "found"}))
        .await;
    assert_eq!(enabled.json()["state"], "active");
    let bad_state = d.set_state(p, "visa", json!({"state": "frozen", "reason": "x"})).await;
    assert_eq!(code(&bad_state), (StatusCode::BAD_REQUEST, "invalid_request".into()));
    let no_reason = d.set_state(p, "visa", json!({"state": "disabled", "reason": ""})).await;
    assert_eq!(code(&no_reason), (StatusCode::BAD_REQUEST, "invalid_request".into()));
    let missing = d
        .set_state(p, "nope", json!({"state": "disabled", "reason": "x"}))
        .await;
    assert_eq!(code(&missing), (StatusCode::NOT_FOUND, "unknown_payment_method".into()));
    let removed = d
        .op(
            &d.c.front,
            Method::DELETE,
            &format!("/operator/v1/players/{p}/payment-methods/iban"),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text());
    assert_eq!(removed.json()["state"], "removed");
    let revived = d
        .set_state(p, "iban", json!({"state": "active", "reason": "oops"}))
        .await;
    assert_eq!(code(&revived), (StatusCode::CONFLICT, "payment_method_removed".into()));
    let ids = |methods: Vec<Value>| -> Vec<String> {
        methods
            .iter()
            .map(|m| m["method_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(d.list(p, "").await), ["visa", "skrill", "tron"]);
    assert_eq!(
        ids(d.list(p, "?removed=true").await),
        ["visa", "skrill", "iban", "tron"]
    );
    let bad_query = d
        .op(
            &d.compliance,
            Method::GET,
            &format!("/operator/v1/players/{p}/payment-methods?removed=maybe"),
            None,
        )
        .await;
    assert_eq!(code(&bad_query), (StatusCode::BAD_REQUEST, "invalid_request".into()));

    // The rule has no window (each method alone), and off it raises nothing.
    let rule = "/operator/v1/risk/rules/third_party_method";
    let body = |window: u64, enabled: bool| json!({"enabled": enabled, "window_minutes": window, "count": 1, "percent": 0, "amounts": []});
    let windowed = d.op(&d.compliance, Method::PUT, rule, Some(body(5, true))).await;
    assert_eq!(code(&windowed), (StatusCode::BAD_REQUEST, "invalid_request".into()));
    let off = d.op(&d.compliance, Method::PUT, rule, Some(body(0, false))).await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text());
    let other = d
        .add_ok(
            p,
            json!({"method_id": "neteller", "kind": "ewallet", "reference": "nt_77", "holder_name": "Mary Somerville"}),
        )
        .await;
    assert_eq!(other["holder"], "mismatch");
    assert_eq!(d.alerts(p, "third_party_method").await.len(), 1, "the rule is off");

    // The audit trail has each change under the operator who made it.
    let audit = d
        .op(&d.c.admin, Method::GET, &format!("/operator/v1/audit?player={p}"), None)
        .await
        .text();
    assert!(audit.contains("payment_method:iban"), "{audit}");
    d.c.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_name_methods_and_crypto_payouts_go_to_the_methods_address() {
    let dir = tempfile::tempdir().unwrap();
    let d = Desk::start(dir.path()).await;
    let p = d.c.player;
    d.add_ok(p, json!({"method_id": "tron", "kind": "crypto", "reference": ADDRESS}))
        .await;
    d.add_ok(
        p,
        json!({"method_id": "old", "kind": "crypto", "reference": "TOldAddress1"}),
    )
    .await;
    let old = d
        .set_state(p, "old", json!({"state": "disabled", "reason": "retired"}))
        .await;
    assert_eq!(old.status, StatusCode::OK);

    // A method that is not the player's, or not active, is refused first.
    let before = d.applied().await;
    let unknown = d
        .withdraw(
            p,
            json!({"withdrawal_id": "w0", "currency": "EUR", "amount": "5.00", "payment_method_id": "nope"}),
        )
        .await;
    assert_eq!(code(&unknown), (StatusCode::NOT_FOUND, "unknown_payment_method".into()));
    let inactive = d
        .withdraw(
            p,
            json!({"withdrawal_id": "w0", "currency": "EUR", "amount": "5.00", "payment_method_id": "old"}),
        )
        .await;
    assert_eq!(
        code(&inactive),
        (StatusCode::CONFLICT, "payment_method_inactive".into())
    );
    let path = format!("/cashier/v1/players/{p}/deposits");
    let body = json!({"deposit_id": "d0", "currency": "EUR", "amount": "5.00", "payment_method_id": "nope"});
    let deposit = d.op(&d.c.front, Method::POST, &path, Some(body)).await;
    assert_eq!(code(&deposit), (StatusCode::NOT_FOUND, "unknown_payment_method".into()));
    assert_eq!(d.applied().await, before, "nothing was journaled");

    // A deposit paid with the crypto method names it.
    let body = json!({"deposit_id": "d1", "currency": "EUR", "amount": "5.00", "payment_method": "btc",
        "payment_method_id": "tron"});
    let started = d.op(&d.c.front, Method::POST, &path, Some(body)).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text());
    let d1 = started.json()["payment"].as_str().unwrap().to_owned();
    assert_eq!(d.c.state("deposits", &d1).await["payment_method_id"], "tron");

    // A card method's reference is the card provider's token: the deposit
    // through Stripe is confirmed with it (a redirect), not left waiting
    // for a payment method.
    d.add_ok(
        p,
        json!({"method_id": "visa", "kind": "card", "reference": "pm_card_visa"}),
    )
    .await;
    let body = json!({"deposit_id": "d2", "currency": "EUR", "amount": "5.00", "provider": "stripe",
        "payment_method_id": "visa"});
    let carded = d.op(&d.c.front, Method::POST, &path, Some(body)).await;
    assert_eq!(carded.status, StatusCode::CREATED, "{}", carded.text());
    let carded = carded.json();
    assert_eq!(carded["provider_status"], "requires_action", "{carded}");
    assert!(carded["redirect_url"].is_string(), "{carded}");
    let d2 = carded["payment"].as_str().unwrap();
    assert_eq!(d.c.state("deposits", d2).await["payment_method_id"], "visa");

    // A withdrawal to the crypto method is paid out by NOWPayments to its address.
    let made = d
        .withdraw(
            p,
            json!({"withdrawal_id": "w1", "currency": "EUR", "amount": "25.00", "payment_method_id": "tron"}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let w1 = made.json()["payment"].as_str().unwrap().to_owned();
    assert_eq!(d.c.state("withdrawals", &w1).await["payment_method_id"], "tron");
    let approved = d
        .op(
            &d.c.finance,
            Method::POST,
            &format!("/cashier/v1/withdrawals/{w1}/approve"),
            None,
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let view = loop {
        let view = d.c.state("withdrawals", &w1).await;
        if view["reference"].is_string() || tokio::time::Instant::now() > deadline {
            break view;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(view["provider"], "nowpayments", "{view}");
    let reference = view["reference"].as_str().unwrap();
    let batch = reqwest::Client::new()
        .get(format!("{}/v1/payout/{reference}", d.c.crypto.url()))
        .header("x-api-key", API_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let batch: Value = serde_json::from_str(&batch).unwrap();
    assert_eq!(batch["withdrawals"][0]["address"], ADDRESS, "{batch}");
    d.c.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawals_are_held_while_an_aml_case_on_the_player_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let d = Desk::start(dir.path()).await;
    let p = d.register("Grace Hopper", "grace@example.com").await;
    d.add_ok(
        p,
        json!({"method_id": "visa", "kind": "card", "reference": "pm_card_visa", "holder_name": "Alan Turing"}),
    )
    .await;
    let alert = d.alerts(p, "third_party_method").await[0]["id"].clone();
    let made = d
        .withdraw(p, json!({"withdrawal_id": "w1", "currency": "EUR", "amount": "10.00"}))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let w1 = made.json()["payment"].as_str().unwrap().to_owned();
    assert_eq!(d.c.state("withdrawals", &w1).await["hold"], Value::Null);

    let body = json!({"alerts": [alert], "summary": "third-party card"});
    let opened = d
        .op(&d.compliance, Method::POST, "/operator/v1/risk/cases", Some(body))
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text());
    let case = opened.json()["case"]["id"].as_u64().unwrap();

    // The case notes the hold it placed in the ledger, with its record.
    let notes = opened.json()["notes"].clone();
    let hold_note = notes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "action")
        .unwrap_or_else(|| panic!("{notes}"))
        .clone();
    assert!(
        hold_note["text"]
            .as_str()
            .unwrap()
            .contains("held the player's withdrawals"),
        "{hold_note}"
    );
    assert!(hold_note["journal_seq"].as_u64().is_some(), "{hold_note}");

    // The queue shows the hold, and the ledger refuses the approval
    // (single, first and second alike: engine tests); a request is still
    // taken (its amount reserved) and waits.
    let queued = d.c.state("withdrawals", &w1).await;
    assert_eq!(queued["hold"], format!("aml_case:{case}"), "{queued}");
    let approve = format!("/cashier/v1/withdrawals/{w1}/approve");
    let held = d.op(&d.c.finance, Method::POST, &approve, None).await;
    assert_eq!(code(&held), (StatusCode::CONFLICT, "withdrawal_held".into()));
    assert!(held.text().contains("held"), "{}", held.text());
    let big = d
        .withdraw(p, json!({"withdrawal_id": "w2", "currency": "EUR", "amount": "20.00"}))
        .await;
    assert_eq!(
        big.status,
        StatusCode::CREATED,
        "requests are still taken: {}",
        big.text()
    );
    let w2 = big.json()["payment"].as_str().unwrap().to_owned();
    let approve2 = format!("/cashier/v1/withdrawals/{w2}/approve");
    let held2 = d.op(&d.c.finance, Method::POST, &approve2, None).await;
    assert_eq!(code(&held2), (StatusCode::CONFLICT, "withdrawal_held".into()));
    assert_eq!(d.c.state("withdrawals", &w1).await["state"], "requested");
    assert_eq!(d.c.state("withdrawals", &w2).await["state"], "requested");

    // Resolved: the hold lifts and the withdrawal is approved.
    let resolution = json!({"outcome": "no_action", "text": "the card is the spouse's, documented"});
    let resolved = d
        .op(
            &d.compliance,
            Method::POST,
            &format!("/operator/v1/risk/cases/{case}/resolution"),
            Some(resolution),
        )
        .await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.text());
    let lifted = resolved.json()["notes"].to_string();
    assert!(lifted.contains("lifted the case's withdrawal hold"), "{lifted}");
    assert_eq!(d.c.state("withdrawals", &w1).await["hold"], Value::Null);
    let approved = d.op(&d.c.finance, Method::POST, &approve, None).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
    let second = d.op(&d.c.finance, Method::POST, &approve2, None).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text());
    d.c.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_opened_while_cases_held_nothing_is_held_from_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    // Cases hold nothing (as before holds were the ledger's, or configured
    // off): a case is opened and a withdrawal is still approved.
    let d = Desk::start_configured(dir.path(), false).await;
    let p = d.register("Grace Hopper", "grace@example.com").await;
    d.add_ok(
        p,
        json!({"method_id": "visa", "kind": "card", "reference": "pm_card_visa", "holder_name": "Alan Turing"}),
    )
    .await;
    let alert = d.alerts(p, "third_party_method").await[0]["id"].clone();
    let body = json!({"alerts": [alert], "summary": "third-party card"});
    let opened = d
        .op(&d.compliance, Method::POST, "/operator/v1/risk/cases", Some(body))
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text());
    let case = opened.json()["case"]["id"].as_u64().unwrap();
    assert_eq!(opened.json()["notes"].as_array().unwrap().len(), 1, "no hold noted");
    let mut made = Vec::new();
    for id in ["w0", "w1"] {
        let reply = d
            .withdraw(p, json!({"withdrawal_id": id, "currency": "EUR", "amount": "10.00"}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        made.push(reply.json()["payment"].as_str().unwrap().to_owned());
    }
    let approve = |w: &str| format!("/cashier/v1/withdrawals/{w}/approve");
    let first = d.op(&d.c.finance, Method::POST, &approve(&made[0]), None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());

    // Restarted with holds on: the sweep holds the case still open.
    let Desk { c, compliance, reader } = d;
    let c = c.restart_configured(dir.path(), 20, true).await;
    let d = Desk { c, compliance, reader };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let audit = d
            .op(&d.c.admin, Method::GET, &format!("/operator/v1/audit?player={p}"), None)
            .await
            .text();
        if audit.contains(&format!("withdrawal_hold:case-{case}")) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the open case was not held: {audit}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let held = d.op(&d.c.finance, Method::POST, &approve(&made[1]), None).await;
    assert_eq!(code(&held), (StatusCode::CONFLICT, "withdrawal_held".into()));
    let resolution = json!({"outcome": "no_action", "text": "documented"});
    let path = format!("/operator/v1/risk/cases/{case}/resolution");
    let resolved = d.op(&d.compliance, Method::POST, &path, Some(resolution)).await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.text());
    let approved = d.op(&d.c.finance, Method::POST, &approve(&made[1]), None).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
    d.c.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_whose_gates_fail_at_confirmation_is_held_then_released_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = Desk::start(dir.path()).await;
    let p = d.c.player;
    let admin = d.c.admin.clone();
    let status = |s: &'static str| json!({"status": s, "reason": "source of funds review"});
    let status_path = format!("/operator/v1/players/{p}/status");
    // Two card deposits start while the player may deposit.
    let mut started = Vec::new();
    for id in ["h1", "h2"] {
        let body = json!({"deposit_id": id, "currency": "EUR", "amount": "30.00",
            "payment_method": "pm_card_visa", "provider": "stripe"});
        let path = format!("/cashier/v1/players/{p}/deposits");
        let made = d.op(&d.c.front, Method::POST, &path, Some(body)).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
        started.push(made.json());
    }
    // Suspended before the provider confirms them: the confirmation's
    // gates refuse, and each deposit is held with why, nothing credited.
    let suspended = d.op(&admin, Method::PUT, &status_path, Some(status("suspended"))).await;
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.text());
    let client = reqwest::Client::new();
    for deposit in &started {
        let reference = deposit["reference"].as_str().unwrap();
        let url = format!("{}/sandbox/payment_intents/{reference}/complete", d.c.cards.url());
        let done = client
            .post(url)
            .header("content-type", "application/json")
            .body(json!({"outcome": "succeeded"}).to_string())
            .send()
            .await
            .unwrap();
        assert!(done.status().is_success());
    }
    let (h1, h2) = (
        started[0]["payment"].as_str().unwrap().to_owned(),
        started[1]["payment"].as_str().unwrap().to_owned(),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (a, b) = (d.c.state("deposits", &h1).await, d.c.state("deposits", &h2).await);
        if (a["state"] == "held" && b["state"] == "held") || tokio::time::Instant::now() > deadline {
            assert_eq!(
                (&a["state"], &a["held_reason"]),
                (&json!("held"), &json!("player_blocked")),
                "{a}"
            );
            assert_eq!(b["state"], "held", "{b}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(d.c.cash().await, "100.00");

    // Released while still suspended: refused, still held.
    let release = |payment: &str| format!("/cashier/v1/deposits/{payment}/release");
    let refused = d.op(&d.c.finance, Method::POST, &release(&h1), None).await;
    assert_eq!(code(&refused), (StatusCode::FORBIDDEN, "player_blocked".into()));
    assert_eq!(d.c.state("deposits", &h1).await["state"], "held");
    let reader = d.op(&d.reader, Method::POST, &release(&h1), None).await;
    assert_eq!(reader.status, StatusCode::FORBIDDEN);
    // Reopened: released, the cash lands once.
    let active = d.op(&admin, Method::PUT, &status_path, Some(status("active"))).await;
    assert_eq!(active.status, StatusCode::OK, "{}", active.text());
    let released = d.op(&d.c.finance, Method::POST, &release(&h1), None).await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.text());
    assert_eq!(released.json()["state"], "confirmed");
    assert_eq!(d.c.cash().await, "130.00");
    let again = d.op(&d.c.finance, Method::POST, &release(&h1), None).await;
    assert_eq!(code(&again), (StatusCode::CONFLICT, "wrong_payment_state".into()));
    // The other one is refused for good: failed, nothing credited.
    let refuse = format!("/cashier/v1/deposits/{h2}/refuse");
    let failed = d.op(&d.c.finance, Method::POST, &refuse, None).await;
    assert_eq!(failed.status, StatusCode::OK, "{}", failed.text());
    assert_eq!(failed.json()["state"], "failed");
    assert_eq!(d.c.cash().await, "130.00");
    let unknown = d.op(&d.c.finance, Method::POST, &release("2:nope"), None).await;
    assert_eq!(code(&unknown), (StatusCode::NOT_FOUND, "unknown_deposit".into()));
    d.c.server.stop().await;
}
