//! The cashier end to end, through the Stripe sandbox (a real HTTP server
//! on loopback, started here) and the server's operator API and webhook:
//! deposits that succeed, fail, expire and are charged back; duplicated
//! and reordered webhooks; withdrawals with four-eyes approval, paid out
//! through a provider that fails (5xx) and times out, and a restart in
//! the middle of a payout; forged webhooks and bad input that change
//! nothing.
//!
//! The worker runs on its own (every 20 ms here); the tests wait for what
//! it does by reading the cashier's views with a deadline, never by a
//! fixed sleep.

use crate::support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gateway::config::ServeConfig;
use payments::providers::stripe::signature_header;
use payments::sandbox::{Sandbox, SandboxConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Reply, T0, TestServer};

const SECRET_KEY: &str = "sk_test_croupier";
const WEBHOOK_SECRET: &str = "whsec_croupier";
const WEBHOOK_PATH: &str = "/webhooks/v1/payments/stripe";
const TTL_S: u64 = 900;

/// A server with the cashier on the sandbox, an admin, two finance
/// operators, a support operator (the front end) and a funded MT player.
pub(crate) struct Cashier {
    pub(crate) server: TestServer,
    pub(crate) sandbox: Sandbox,
    http: reqwest::Client,
    pub(crate) admin: String,
    pub(crate) finance: [String; 2],
    front: String,
    pub(crate) player: u64,
}

fn cashier_config(dir: &Path, sandbox: &Sandbox, retry_base_ms: u64) -> ServeConfig {
    ServeConfig {
        stripe_api_url: Some(sandbox.url()),
        stripe_secret_key: Some(SECRET_KEY.into()),
        stripe_webhook_secret: Some(WEBHOOK_SECRET.into()),
        cashier_four_eyes_above: "30".into(),
        cashier_deposit_ttl_s: TTL_S,
        cashier_provider_timeout_ms: 300,
        cashier_tick_ms: 20,
        cashier_retry_base_ms: retry_base_ms,
        cashier_retry_max_ms: retry_base_ms,
        cashier_status_every_ms: 60_000,
        ..support::config(dir)
    }
}

impl Cashier {
    async fn start(dir: &Path) -> Cashier {
        Cashier::start_with(dir, 20, |config| config).await
    }

    pub(crate) async fn start_with(
        dir: &Path,
        retry_base_ms: u64,
        adjust: impl FnOnce(ServeConfig) -> ServeConfig,
    ) -> Cashier {
        let clock = Arc::new(AtomicU64::new(T0));
        let read = clock.clone();
        let sandbox = Sandbox::start(
            SandboxConfig {
                secret_key: SECRET_KEY.into(),
                webhook_secret: WEBHOOK_SECRET.into(),
                webhook_url: None,
                stall: Duration::from_millis(1_500),
                clock: Arc::new(move || read.load(Ordering::SeqCst)),
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .expect("the sandbox starts");
        let config = adjust(cashier_config(dir, &sandbox, retry_base_ms));
        let server = TestServer::start_at(config, clock).await;
        let admin = server.first_token();
        let mut c = Cashier {
            server,
            sandbox,
            http: reqwest::Client::new(),
            admin,
            finance: [String::new(), String::new()],
            front: String::new(),
            player: 0,
        };
        c.point_webhooks().await;
        c.finance = [
            c.operator("fin-a", "finance").await,
            c.operator("fin-b", "finance").await,
        ];
        c.front = c.operator("front-end", "support").await;
        c.player = c.register("MT").await;
        let funded = c
            .op(
                &c.admin.clone(),
                Method::POST,
                &format!("/operator/v1/players/{}/deposits", c.player),
                Some(json!({"deposit_id": "fund-1", "currency": "EUR", "amount": "100.00"})),
            )
            .await;
        assert_eq!(funded.status, StatusCode::OK, "{}", funded.text());
        c
    }

    async fn point_webhooks(&self) {
        let url = format!("http://{}{WEBHOOK_PATH}", self.server.addr());
        let set = self
            .http
            .put(format!("{}/sandbox/webhook", self.sandbox.url()))
            .header("content-type", "application/json")
            .body(json!({ "url": url }).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(set.status(), StatusCode::NO_CONTENT);
    }

    pub(crate) async fn op(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.server.op(self.server.h1(), token, method, path, body).await
    }

    async fn operator(&self, name: &str, role: &str) -> String {
        let made = self
            .op(
                &self.admin,
                Method::POST,
                "/operator/v1/operators",
                Some(json!({"name": name, "role": role})),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
        made.json()["token"].as_str().unwrap().to_owned()
    }

    async fn register(&self, jurisdiction: &str) -> u64 {
        let made = self
            .op(
                &self.admin,
                Method::POST,
                "/operator/v1/players",
                Some(json!({"currency": "EUR", "jurisdiction": jurisdiction})),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
        made.json()["player"].as_u64().unwrap()
    }

    async fn balance(&self, player: u64) -> (String, String) {
        let read = self
            .op(
                &self.admin,
                Method::GET,
                &format!("/operator/v1/players/{player}/balance?currency=EUR"),
                None,
            )
            .await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.text());
        let json = read.json();
        (
            json["cash"].as_str().unwrap().to_owned(),
            json["reserved"].as_str().unwrap().to_owned(),
        )
    }

    pub(crate) async fn deposit(&self, id: &str, amount: &str) -> Reply {
        let body = json!({
            "deposit_id": id, "currency": "EUR", "amount": amount,
            "payment_method": "pm_card_visa", "return_url": "https://casino.example/cashier/back",
        });
        let path = format!("/cashier/v1/players/{}/deposits", self.player);
        self.op(&self.front, Method::POST, &path, Some(body)).await
    }

    pub(crate) async fn withdraw(&self, id: &str, amount: &str) -> String {
        let body = json!({"withdrawal_id": id, "currency": "EUR", "amount": amount});
        let path = format!("/cashier/v1/players/{}/withdrawals", self.player);
        let made = self.op(&self.front, Method::POST, &path, Some(body)).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
        made.json()["payment"].as_str().unwrap().to_owned()
    }

    /// The cashier's view of one payment (`kind`: deposits or withdrawals).
    pub(crate) async fn payment(&self, kind: &str, payment: &str) -> Value {
        let list = self
            .op(
                &self.admin,
                Method::GET,
                &format!("/cashier/v1/{kind}?limit=1000"),
                None,
            )
            .await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text());
        list.json()["payments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["payment"] == payment)
            .cloned()
            .unwrap_or_else(|| panic!("{payment} not listed"))
    }

    /// Waits (at most 10 s) until the payment reaches `state`.
    pub(crate) async fn wait_for(&self, kind: &str, payment: &str, state: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let found = self.payment(kind, payment).await;
            if found["state"] == state {
                return found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{payment} stayed {} instead of {state}",
                found["state"]
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) async fn sandbox_post(&self, path: &str, body: Value) -> Value {
        let reply = self
            .http
            .post(format!("{}{path}", self.sandbox.url()))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = reply.status();
        let text = reply.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn sandbox_get(&self, path: &str) -> Value {
        let reply = self
            .http
            .get(format!("{}{path}", self.sandbox.url()))
            .bearer_auth(SECRET_KEY)
            .send()
            .await
            .unwrap();
        serde_json::from_str(&reply.text().await.unwrap()).unwrap()
    }

    /// Sends a raw webhook to the server.
    async fn webhook(&self, body: &[u8], signature: Option<String>) -> Reply {
        let mut headers = vec![("content-type", "application/json".to_owned())];
        if let Some(signature) = signature {
            headers.push(("stripe-signature", signature));
        }
        self.server
            .send(
                self.server.h1(),
                Method::POST,
                WEBHOOK_PATH,
                &headers,
                Some(body.to_vec()),
            )
            .await
    }

    async fn restart(self, dir: &Path, retry_base_ms: u64) -> Cashier {
        let clock = self.server.clock.clone();
        self.server.stop().await;
        let server = TestServer::start_at(cashier_config(dir, &self.sandbox, retry_base_ms), clock).await;
        let c = Cashier { server, ..self };
        c.point_webhooks().await;
        c
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_succeed_fail_and_webhooks_are_idempotent_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cashier::start(dir.path()).await;

    // A deposit with a tokenized method asks for a redirect to the provider.
    let started = c.deposit("d1", "50.00").await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text());
    let started = started.json();
    let reference = started["reference"].as_str().unwrap().to_owned();
    assert_eq!(started["state"], "initiated");
    assert_eq!(started["provider"], "stripe");
    assert_eq!(started["provider_status"], "requires_action");
    let redirect = format!("{}/sandbox/redirect/{reference}", c.sandbox.url());
    assert_eq!(started["redirect_url"], redirect.as_str());
    assert!(
        started["client_secret"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{reference}_secret_"))
    );
    let d1 = started["payment"].as_str().unwrap().to_owned();
    assert_eq!(c.payment("deposits", &d1).await["reference"], reference.as_str());
    // Retrying the route starts nothing new at the provider.
    let again = c.deposit("d1", "50.00").await;
    assert_eq!(again.json()["reference"], reference.as_str());
    assert_eq!(c.balance(c.player).await.0, "100.00");

    // The player completes the redirect: the signed webhook confirms it.
    let done = c
        .sandbox_post(
            &format!("/sandbox/payment_intents/{reference}/complete"),
            json!({"outcome": "succeeded"}),
        )
        .await;
    assert_eq!(done["delivered"], json!([200]));
    assert_eq!(c.balance(c.player).await.0, "150.00");
    assert_eq!(c.payment("deposits", &d1).await["state"], "confirmed");
    // Delivered again: the same event id is a retry, nothing moves.
    let applied = c.server.commands_applied().await;
    let event = done["events"][0].as_u64().unwrap();
    let redelivered = c
        .sandbox_post(&format!("/sandbox/events/{event}/deliver"), json!({}))
        .await;
    assert_eq!(redelivered["delivered"], 200);
    assert_eq!(c.server.commands_applied().await, applied);
    assert_eq!(c.balance(c.player).await.0, "150.00");

    // A declined attempt: the intent is canceled at the provider and the
    // deposit fails.
    let d2 = c.deposit("d2", "20.00").await.json();
    let reference2 = d2["reference"].as_str().unwrap();
    c.sandbox_post(
        &format!("/sandbox/payment_intents/{reference2}/complete"),
        json!({"outcome": "failed"}),
    )
    .await;
    assert_eq!(
        c.payment("deposits", d2["payment"].as_str().unwrap()).await["state"],
        "failed"
    );
    let intent = c.sandbox_get(&format!("/v1/payment_intents/{reference2}")).await;
    assert_eq!(intent["status"], "canceled");
    assert_eq!(c.balance(c.player).await.0, "150.00");

    // Reordered: the decline and the success recorded, the success
    // delivered first, then the decline: the decline changes nothing.
    let d3 = c.deposit("d3", "7.00").await.json();
    let reference3 = d3["reference"].as_str().unwrap();
    let path = format!("/sandbox/payment_intents/{reference3}/complete");
    let failed = c
        .sandbox_post(&path, json!({"outcome": "failed", "deliver": false}))
        .await;
    let succeeded = c
        .sandbox_post(&path, json!({"outcome": "succeeded", "deliver": false}))
        .await;
    for recorded in [&succeeded, &failed] {
        let n = recorded["events"][0].as_u64().unwrap();
        let sent = c.sandbox_post(&format!("/sandbox/events/{n}/deliver"), json!({})).await;
        assert_eq!(sent["delivered"], 200);
    }
    assert_eq!(
        c.payment("deposits", d3["payment"].as_str().unwrap()).await["state"],
        "confirmed"
    );
    assert_eq!(c.balance(c.player).await.0, "157.00");

    // A provider that succeeds at once (no redirect) confirms by webhook
    // before the route answers.
    c.sandbox_post("/sandbox/next_intent", json!({"outcome": "succeeded"}))
        .await;
    let d4 = c.deposit("d4", "3.00").await;
    assert_eq!(d4.status, StatusCode::CREATED, "{}", d4.text());
    assert_eq!(
        c.payment("deposits", d4.json()["payment"].as_str().unwrap()).await["state"],
        "confirmed"
    );
    assert_eq!(c.balance(c.player).await.0, "160.00");
    c.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_deposits_expire_and_chargebacks_take_the_money_back() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cashier::start(dir.path()).await;
    let stale = c.deposit("stale", "40.00").await.json();
    let reference = stale["reference"].as_str().unwrap().to_owned();
    let payment = stale["payment"].as_str().unwrap().to_owned();
    // Not stale yet: nothing happens however often the worker looks.
    c.server.advance(TTL_S * 1_000 - 1_000);
    let disputed = c.deposit("disputed", "30.00").await.json();
    assert_eq!(c.payment("deposits", &payment).await["state"], "initiated");
    // Past the time to live: canceled at the provider, then expired.
    c.server.advance(1_001);
    c.wait_for("deposits", &payment, "expired").await;
    let intent = c.sandbox_get(&format!("/v1/payment_intents/{reference}")).await;
    assert_eq!(intent["status"], "canceled");
    let late = c
        .http
        .post(format!(
            "{}/sandbox/payment_intents/{reference}/complete",
            c.sandbox.url()
        ))
        .header("content-type", "application/json")
        .body(json!({"outcome": "succeeded"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        late.status(),
        StatusCode::BAD_REQUEST,
        "a canceled intent cannot succeed"
    );
    assert_eq!(c.balance(c.player).await.0, "100.00");

    // The second deposit succeeds; the player asks to withdraw most of
    // the money, then the cardholder disputes the whole deposit: only the
    // cash left can be taken back, the rest is the operator's shortfall.
    let disputed_ref = disputed["reference"].as_str().unwrap().to_owned();
    let disputed_payment = disputed["payment"].as_str().unwrap().to_owned();
    c.sandbox_post(
        &format!("/sandbox/payment_intents/{disputed_ref}/complete"),
        json!({"outcome": "succeeded"}),
    )
    .await;
    assert_eq!(c.balance(c.player).await, ("130.00".into(), "0.00".into()));
    c.withdraw("w-before-dispute", "120.00").await;
    let dispute = c
        .sandbox_post(&format!("/sandbox/payment_intents/{disputed_ref}/dispute"), json!({}))
        .await;
    assert_eq!(dispute["delivered"], json!([200]));
    assert_eq!(c.balance(c.player).await, ("0.00".into(), "120.00".into()));
    let view = c.payment("deposits", &disputed_payment).await;
    assert_eq!(view["state"], "charged_back");
    assert_eq!(view["charged_back"], "30.00");
    assert_eq!(view["shortfall"], "20.00");
    // A second dispute of the same payment takes nothing more.
    let applied = c.server.commands_applied().await;
    let again = c
        .sandbox_post(
            &format!("/sandbox/payment_intents/{disputed_ref}/dispute"),
            json!({"amount": 500}),
        )
        .await;
    assert_eq!(again["delivered"], json!([200]));
    assert_eq!(c.server.commands_applied().await, applied + 1, "journaled as refused");
    assert_eq!(c.balance(c.player).await, ("0.00".into(), "120.00".into()));
    c.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawals_take_four_eyes_above_the_amount_and_are_paid_out_once() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cashier::start(dir.path()).await;
    let [fin_a, fin_b] = c.finance.clone();
    let approve = |token: &str, payment: &str| {
        let (token, path) = (token.to_owned(), format!("/cashier/v1/withdrawals/{payment}/approve"));
        let c = &c;
        async move { c.op(&token, Method::POST, &path, None).await }
    };

    // Under the four-eyes amount: one approval, then the payout is paid.
    let small = c.withdraw("w-small", "20.00").await;
    assert_eq!(c.balance(c.player).await, ("80.00".into(), "20.00".into()));
    assert_eq!(c.server.metric("cashier_approval_queue_depth").await, Some(1));
    let approved = approve(&fin_a, &small).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
    assert_eq!(approved.json()["state"], "approved");
    let paid = c.wait_for("withdrawals", &small, "completed").await;
    assert!(paid["reference"].as_str().unwrap().starts_with("po_"));
    assert_eq!(c.balance(c.player).await, ("80.00".into(), "0.00".into()));

    // Above it: the same operator twice is still one approval; a second
    // operator approves it.
    let big = c.withdraw("w-big", "40.00").await;
    for _ in 0..2 {
        let first = approve(&fin_a, &big).await;
        assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text());
        assert_eq!(first.json()["state"], "awaiting_second_approval");
    }
    let view = c.payment("withdrawals", &big).await;
    assert_eq!(view["state"], "requested");
    assert!(view["first_approval_by_source"].is_u64());
    let support = approve(&c.front, &big).await;
    assert_eq!(support.status, StatusCode::FORBIDDEN, "support does not approve");
    let second = approve(&fin_b, &big).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text());
    c.wait_for("withdrawals", &big, "completed").await;
    assert_eq!(c.balance(c.player).await, ("40.00".into(), "0.00".into()));
    for token in [&fin_a, &fin_b] {
        let again = approve(token, &big).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text());
        assert_eq!(again.code(), "wrong_payment_state");
    }

    // A payout the bank refuses: the funds come back.
    c.sandbox_post("/sandbox/next_payout", json!({"outcome": "failed"}))
        .await;
    let bounced = c.withdraw("w-bounced", "5.00").await;
    approve(&fin_a, &bounced).await;
    c.wait_for("withdrawals", &bounced, "rejected").await;
    assert_eq!(c.balance(c.player).await, ("40.00".into(), "0.00".into()));

    // The provider fails twice (5xx), then pays: one payout.
    c.sandbox_post("/sandbox/faults", json!({"errors": 2})).await;
    let retried = c.withdraw("w-retried", "6.00").await;
    approve(&fin_b, &retried).await;
    let paid = c.wait_for("withdrawals", &retried, "completed").await;
    let payouts = c.sandbox_get("/sandbox/payouts").await;
    let reference = paid["reference"].as_str().unwrap();
    let same: Vec<&Value> = payouts
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["id"] == reference)
        .collect();
    assert_eq!(same.len(), 1);
    assert_eq!(same[0]["amount"], 600);
    assert_eq!(
        payouts.as_array().unwrap().len(),
        4,
        "one payout per paid or bounced withdrawal"
    );

    // Rejected by finance; taken back by the player (Malta allows it).
    let rejected = c.withdraw("w-rejected", "1.00").await;
    let path = format!("/cashier/v1/withdrawals/{rejected}/reject");
    assert_eq!(c.op(&fin_a, Method::POST, &path, None).await.status, StatusCode::OK);
    let reversed = c.withdraw("w-reversed", "2.00").await;
    let path = format!("/cashier/v1/withdrawals/{reversed}/reverse");
    let other = c
        .op(&c.front, Method::POST, &path, Some(json!({"player": c.player + 99})))
        .await;
    assert_eq!(other.status, StatusCode::CONFLICT, "{}", other.text());
    assert_eq!(other.code(), "wrong_transaction_kind");
    let back = c
        .op(&c.front, Method::POST, &path, Some(json!({"player": c.player})))
        .await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.text());
    assert_eq!(back.json()["state"], "reversed");
    assert_eq!(c.balance(c.player).await, ("34.00".into(), "0.00".into()));
    assert_eq!(c.server.metric("cashier_approval_queue_depth").await, Some(0));
    let queue = c
        .op(&c.admin, Method::GET, "/cashier/v1/withdrawals?state=completed", None)
        .await
        .json();
    assert_eq!(queue["payments"].as_array().unwrap().len(), 3);
    c.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uk_player_cannot_take_a_withdrawal_back() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cashier::start_with(dir.path(), 20, |config| ServeConfig {
        ship_jurisdiction_profiles: true,
        ..config
    })
    .await;
    // The UK's rule on reversals, on an otherwise Maltese profile (the
    // shipped UK profile also wants the identity verified first).
    let malta = c
        .op(&c.admin, Method::GET, "/operator/v1/jurisdictions/MT", None)
        .await
        .json();
    let mut profile = malta["in_force"]["profile"].clone();
    profile["withdrawal_reversal_allowed"] = json!(false);
    profile["kyc_gates"] = json!({"before_deposit": false, "before_bet": false, "before_withdrawal": false});
    let set = c
        .op(
            &c.admin,
            Method::PUT,
            "/operator/v1/jurisdictions/GB/profile",
            Some(json!({"profile": profile})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    let uk = c.register("GB").await;
    let funded = c
        .op(
            &c.admin,
            Method::POST,
            &format!("/operator/v1/players/{uk}/deposits"),
            Some(json!({"deposit_id": "uk-1", "currency": "EUR", "amount": "50.00"})),
        )
        .await;
    assert_eq!(funded.status, StatusCode::OK, "{}", funded.text());
    let body = json!({"withdrawal_id": "uk-w", "currency": "EUR", "amount": "10.00"});
    let made = c
        .op(
            &c.front,
            Method::POST,
            &format!("/cashier/v1/players/{uk}/withdrawals"),
            Some(body),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let payment = made.json()["payment"].as_str().unwrap().to_owned();
    let applied = c.server.commands_applied().await;
    let path = format!("/cashier/v1/withdrawals/{payment}/reverse");
    let refused = c.op(&c.front, Method::POST, &path, Some(json!({"player": uk}))).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    assert_eq!(refused.code(), "withdrawal_reversal_forbidden");
    assert_eq!(c.server.commands_applied().await, applied + 1, "journaled as refused");
    assert_eq!(c.balance(uk).await, ("40.00".into(), "10.00".into()));
    c.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_a_payout_pays_once() {
    let dir = tempfile::tempdir().unwrap();
    // Retries far apart: the first attempt times out and is not retried
    // before the restart.
    let c = Cashier::start_with(dir.path(), 600_000, |config| config).await;
    c.sandbox_post("/sandbox/next_payout", json!({"outcome": "pending"}))
        .await;
    c.sandbox_post("/sandbox/faults", json!({"timeouts": 1})).await;
    let payment = c.withdraw("w-restart", "25.00").await;
    let approved = c
        .op(
            &c.finance[0],
            Method::POST,
            &format!("/cashier/v1/withdrawals/{payment}/approve"),
            None,
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
    // The provider made the payout, but its answer never arrived.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while c.sandbox_get("/sandbox/payouts").await.as_array().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no payout was attempted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let view = c.payment("withdrawals", &payment).await;
    assert_eq!(view["state"], "approved");
    assert!(
        view["reference"].is_null(),
        "the answer was lost: no reference journaled"
    );

    let c = c.restart(dir.path(), 20).await;
    // The outbox is found again; the retry finds the same payout.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let reference = loop {
        let view = c.payment("withdrawals", &payment).await;
        if let Some(reference) = view["reference"].as_str() {
            break reference.to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the payout was not retried after the restart"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let payouts = c.sandbox_get("/sandbox/payouts").await;
    assert_eq!(payouts.as_array().unwrap().len(), 1, "exactly one payout");
    assert_eq!(payouts[0]["id"], reference.as_str());
    assert_eq!(c.balance(c.player).await, ("75.00".into(), "25.00".into()));
    c.sandbox_post(
        &format!("/sandbox/payouts/{reference}/settle"),
        json!({"outcome": "paid"}),
    )
    .await;
    c.wait_for("withdrawals", &payment, "completed").await;
    // Money conserved: 100 in, 25 out, 75 left.
    assert_eq!(c.balance(c.player).await, ("75.00".into(), "0.00".into()));
    c.server.stop().await;
}

/// A refused request: token, method, path, body, status and error code.
type BadRequest<'a> = (&'a str, Method, String, Option<Value>, StatusCode, &'a str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_webhooks_and_bad_input_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cashier::start(dir.path()).await;
    let started = c.deposit("d-forged", "10.00").await.json();
    let reference = started["reference"].as_str().unwrap().to_owned();
    let applied = c.server.commands_applied().await;
    let now_s = c.server.now() / 1_000;
    let event = |id: &str, metadata: Value| {
        serde_json::to_vec(&json!({
            "id": id, "object": "event", "type": "payment_intent.succeeded", "created": now_s,
            "data": {"object": {
                "id": reference, "object": "payment_intent", "amount": 1000, "currency": "eur",
                "status": "succeeded", "metadata": metadata,
            }},
        }))
        .unwrap()
    };
    let genuine = event(
        "evt_forged_1",
        json!({"croupier_source": "0", "croupier_payment": "nope"}),
    );
    let ours = json!({"croupier_source": started["payment"].as_str().unwrap().split(':').next().unwrap(), "croupier_payment": "d-forged"});
    let body = event("evt_forged_2", ours);
    let cases: Vec<(Vec<u8>, Option<String>, StatusCode, &str)> = vec![
        (body.clone(), None, StatusCode::UNAUTHORIZED, "bad_signature"),
        (
            body.clone(),
            Some(signature_header("whsec_wrong", now_s, &body)),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        (
            body.clone(),
            Some(signature_header(WEBHOOK_SECRET, now_s, &event("evt_other", json!({})))),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        (
            body.clone(),
            Some(signature_header(WEBHOOK_SECRET, now_s - 301, &body)),
            StatusCode::BAD_REQUEST,
            "stale_webhook",
        ),
        (
            b"{}".to_vec(),
            Some(signature_header(WEBHOOK_SECRET, now_s, b"{}")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            genuine.clone(),
            Some(signature_header(WEBHOOK_SECRET, now_s, &genuine)),
            StatusCode::NOT_FOUND,
            "unknown_payment",
        ),
    ];
    for (body, signature, status, code) in cases {
        let reply = c.webhook(&body, signature).await;
        assert_eq!(reply.status, status, "{}", reply.text());
        assert_eq!(reply.code(), code);
    }
    assert_eq!(c.server.commands_applied().await, applied);
    assert_eq!(c.balance(c.player).await.0, "100.00");

    let deposits = format!("/cashier/v1/players/{}/deposits", c.player);
    let withdrawals = format!("/cashier/v1/players/{}/withdrawals", c.player);
    let good = json!({"deposit_id": "x", "currency": "EUR", "amount": "1.00"});
    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    let bad: Vec<BadRequest> = vec![
        (
            &c.front,
            Method::POST,
            deposits.clone(),
            Some(with("amount", json!("1.001"))),
            StatusCode::BAD_REQUEST,
            "too_many_decimals",
        ),
        (
            &c.front,
            Method::POST,
            deposits.clone(),
            Some(with("amount", json!("-1"))),
            StatusCode::BAD_REQUEST,
            "invalid_amount",
        ),
        (
            &c.front,
            Method::POST,
            deposits.clone(),
            Some(with("currency", json!("XXX"))),
            StatusCode::BAD_REQUEST,
            "unknown_currency",
        ),
        (
            &c.front,
            Method::POST,
            deposits.clone(),
            Some(with("payment_method", json!("4242 4242 4242 4242"))),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &c.front,
            Method::POST,
            deposits.clone(),
            Some(with("return_url", json!("javascript:alert(1)"))),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &c.front,
            Method::POST,
            deposits.clone(),
            Some(with("surprise", json!(1))),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &c.front,
            Method::POST,
            "/cashier/v1/players/999/deposits".into(),
            Some(good.clone()),
            StatusCode::NOT_FOUND,
            "unknown_player",
        ),
        (
            &c.admin,
            Method::POST,
            withdrawals.clone(),
            Some(json!({"withdrawal_id": "w", "currency": "EUR", "amount": "1000.00"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "insufficient_funds",
        ),
        (
            &c.finance[0],
            Method::POST,
            "/cashier/v1/withdrawals/nonsense/approve".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &c.finance[0],
            Method::POST,
            "/cashier/v1/withdrawals/1:nobody/approve".into(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_withdrawal",
        ),
        (
            &c.front,
            Method::GET,
            "/cashier/v1/withdrawals?limit=0".into(),
            None,
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            &c.admin,
            Method::GET,
            "/cashier/v1/withdrawals?limit=0".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &c.admin,
            Method::GET,
            "/cashier/v1/deposits?from_ms=5&to_ms=4".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "",
            Method::GET,
            "/cashier/v1/deposits".into(),
            None,
            StatusCode::UNAUTHORIZED,
            "missing_token",
        ),
    ];
    for (token, method, path, body, status, code) in bad {
        let reply = c.op(token, method, &path, body).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.text());
        assert_eq!(reply.code(), code, "{path}");
    }
    assert_eq!(
        c.server.commands_applied().await,
        applied + 1,
        "only the refused withdrawal was journaled"
    );
    assert_eq!(c.balance(c.player).await, ("100.00".into(), "0.00".into()));
    c.server.stop().await;

    // Without a provider the cashier answers 503 and the webhook 404.
    let dir = tempfile::tempdir().unwrap();
    let w = support::World::new(dir.path()).await;
    let path = format!("/cashier/v1/players/{}/deposits", w.player);
    let reply = w
        .server
        .op(w.server.h1(), &w.admin, Method::POST, &path, Some(good))
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.text());
    assert_eq!(reply.code(), "payment_provider_not_configured");
    w.server.stop().await;
}

/// A loyalty programme whose tier `gold` limits withdrawals to 50.00 EUR a day.
async fn gold_tier_programme(c: &Cashier) {
    let programme = json!({"rates": {}, "default_rate": "1", "currency": "EUR",
        "redeem_points": 100, "redeem_amount": "1.00", "redeem_wagering_x": 1, "redeem_expiry_days": 30,
        "review_days": 30,
        "tiers": [{"code": "gold", "name": "Gold", "min_points": 1000000, "withdrawal_limit": "50.00"}]});
    let set = c
        .op(&c.admin, Method::PUT, "/operator/v1/loyalty/config", Some(programme))
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
}

/// Puts `c`'s player in the tier `gold`.
async fn promote_to_gold(c: &Cashier) {
    let tier = format!("/operator/v1/players/{}/loyalty/tier", c.player);
    let gold = c.op(&c.admin, Method::PUT, &tier, Some(json!({"tier": "gold"}))).await;
    assert_eq!(gold.status, StatusCode::OK, "{}", gold.text());
}

/// A VIP tier's withdrawal limit is enforced by the cashier per UTC day:
/// a request that would pass it is refused with `tier_withdrawal_limit`
/// and changes nothing; a retry of an accepted request, a rejected
/// withdrawal's amount and the next day are not held against the player.
#[tokio::test]
async fn withdrawals_over_the_vip_tiers_daily_limit_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cashier::start(dir.path()).await;
    gold_tier_programme(&c).await;
    // No tier yet: no tier limit.
    let first = c.withdraw("w-1", "30.00").await;
    promote_to_gold(&c).await;

    let path = format!("/cashier/v1/players/{}/withdrawals", c.player);
    let over = c
        .op(
            &c.front,
            Method::POST,
            &path,
            Some(json!({"withdrawal_id": "w-2", "currency": "EUR", "amount": "20.01"})),
        )
        .await;
    assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", over.text());
    assert_eq!(over.code(), "tier_withdrawal_limit");
    let message = over.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("gold") && message.contains("50.00") && message.contains("20.00 left"),
        "{message}"
    );
    assert_eq!(c.balance(c.player).await, ("70.00".into(), "30.00".into()));
    // A retry of the accepted request is answered as before.
    let retried = c
        .op(
            &c.front,
            Method::POST,
            &path,
            Some(json!({"withdrawal_id": "w-1", "currency": "EUR", "amount": "30.00"})),
        )
        .await;
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.text());
    assert_eq!(retried.json()["payment"], first.as_str());
    // Up to the limit exactly is allowed.
    c.withdraw("w-3", "20.00").await;
    assert_eq!(c.balance(c.player).await, ("50.00".into(), "50.00".into()));
    // A rejected withdrawal no longer counts.
    let reject = format!("/cashier/v1/withdrawals/{first}/reject");
    let rejected = c.op(&c.finance[0], Method::POST, &reject, None).await;
    assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.text());
    c.withdraw("w-4", "30.00").await;
    let full = c
        .op(
            &c.front,
            Method::POST,
            &path,
            Some(json!({"withdrawal_id": "w-5", "currency": "EUR", "amount": "0.01"})),
        )
        .await;
    assert_eq!(full.code(), "tier_withdrawal_limit");
    // The next day starts afresh.
    c.server.advance(86_400_000);
    c.withdraw("w-6", "40.00").await;
    assert_eq!(c.balance(c.player).await, ("10.00".into(), "90.00".into()));
    c.server.stop().await;
}

/// Requests sent at once cannot together pass the tier's daily limit: the
/// cashier checks and submits one player's requests one at a time.
#[tokio::test]
async fn concurrent_withdrawals_cannot_together_pass_the_vip_tiers_daily_limit() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cashier::start(dir.path()).await;
    gold_tier_programme(&c).await;
    promote_to_gold(&c).await;

    let path = format!("/cashier/v1/players/{}/withdrawals", c.player);
    let request = |n: u32| {
        let body = json!({"withdrawal_id": format!("race-{n}"), "currency": "EUR", "amount": "20.00"});
        c.op(&c.front, Method::POST, &path, Some(body))
    };
    let (a, b, d, e) = tokio::join!(request(0), request(1), request(2), request(3));
    let replies = [a, b, d, e];
    let accepted = replies.iter().filter(|r| r.status == StatusCode::CREATED).count();
    for reply in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text());
        assert_eq!(reply.code(), "tier_withdrawal_limit");
    }
    assert_eq!(accepted, 2, "two of 20.00 fit in 50.00");
    assert_eq!(c.balance(c.player).await, ("60.00".into(), "40.00".into()));
    c.server.stop().await;
}
