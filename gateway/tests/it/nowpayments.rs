//! The second payment provider end to end: NOWPayments (crypto) through
//! its loopback sandbox, beside the Stripe sandbox. Deposits named to
//! NOWPayments follow its signed IPNs (duplicated, reordered, forged,
//! partially paid, refunded); the adapter's payouts are one per
//! withdrawal however often they are retried, a restart in the middle of
//! one included (the retry names the same `unique_external_id`); a
//! withdrawal is paid back through the provider the player deposited with
//! (closed loop).

use crate::support;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use gateway::config::ServeConfig;
use payments::providers::nowpayments::{NowPaymentsClient, NowPaymentsConfig, signature};
use payments::providers::{PaymentKey, PaymentProvider, PayoutStart, ProviderError, Settlement};
use payments::sandbox::{Sandbox, SandboxConfig};
use payments::sandbox_nowpayments::{NowPaymentsSandbox, NowPaymentsSandboxConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Reply, T0, TestServer};

pub(crate) const API_KEY: &str = "np_test_key";
const IPN_SECRET: &str = "np_ipn_secret";
const EMAIL: &str = "cashier@casino.example";
const PASSWORD: &str = "np-password";
const IPN_PATH: &str = "/webhooks/v1/payments/nowpayments";

fn sandbox_config() -> NowPaymentsSandboxConfig {
    NowPaymentsSandboxConfig {
        api_key: API_KEY.into(),
        ipn_secret: IPN_SECRET.into(),
        email: EMAIL.into(),
        password: PASSWORD.into(),
        webhook_url: None,
    }
}

/// The server's settings: both providers, NOWPayments the default, payout
/// retries `retry_ms` apart, AML cases holding withdrawals or not.
fn both_config(dir: &std::path::Path, crypto: &str, cards: &str, retry_ms: u64, hold_on_case: bool) -> ServeConfig {
    ServeConfig {
        risk_hold_withdrawals_on_case: hold_on_case,
        stripe_api_url: Some(cards.to_owned()),
        stripe_secret_key: Some("sk_test_both".into()),
        stripe_webhook_secret: Some("whsec_both".into()),
        nowpayments_api_url: Some(crypto.to_owned()),
        nowpayments_api_key: Some(API_KEY.into()),
        nowpayments_ipn_secret: Some(IPN_SECRET.into()),
        nowpayments_email: Some(EMAIL.into()),
        nowpayments_password: Some(PASSWORD.into()),
        cashier_default_provider: Some("nowpayments".into()),
        cashier_tick_ms: 20,
        cashier_retry_base_ms: retry_ms,
        cashier_retry_max_ms: retry_ms,
        cashier_provider_timeout_ms: 1_000,
        ..support::config(dir)
    }
}

/// A server with both providers (NOWPayments the default), an admin, a
/// finance operator, a front end and a player with 100.00 EUR.
pub(crate) struct Both {
    pub(crate) server: TestServer,
    pub(crate) crypto: NowPaymentsSandbox,
    pub(crate) cards: Sandbox,
    http: reqwest::Client,
    pub(crate) admin: String,
    pub(crate) finance: String,
    pub(crate) front: String,
    pub(crate) player: u64,
}

impl Both {
    pub(crate) async fn start(dir: &std::path::Path) -> Both {
        Both::start_with(dir, 20).await
    }

    /// As [`Both::start`], the payout retries `retry_ms` apart.
    pub(crate) async fn start_with(dir: &std::path::Path, retry_ms: u64) -> Both {
        Both::start_configured(dir, retry_ms, true).await
    }

    /// As [`Both::start_with`], opening an AML case holding the player's
    /// withdrawals (`hold_on_case`) or not.
    pub(crate) async fn start_configured(dir: &std::path::Path, retry_ms: u64, hold_on_case: bool) -> Both {
        let clock = Arc::new(AtomicU64::new(T0));
        let crypto = NowPaymentsSandbox::start(sandbox_config(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let cards = Sandbox::start(
            SandboxConfig {
                secret_key: "sk_test_both".into(),
                webhook_secret: "whsec_both".into(),
                webhook_url: None,
                stall: Duration::from_millis(1_500),
                clock: Arc::new(|| T0),
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let config = both_config(dir, &crypto.url(), &cards.url(), retry_ms, hold_on_case);
        let server = TestServer::start_at(config, clock).await;
        let admin = server.first_token();
        let mut both = Both {
            server,
            crypto,
            cards,
            http: reqwest::Client::new(),
            admin,
            finance: String::new(),
            front: String::new(),
            player: 0,
        };
        both.point_webhooks().await;
        both.finance = both.operator("fin", "finance").await;
        both.front = both.operator("front", "support").await;
        let made = both
            .op(
                &both.admin.clone(),
                Method::POST,
                "/operator/v1/players",
                Some(json!({"currency": "EUR", "jurisdiction": "MT"})),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
        both.player = made.json()["player"].as_u64().unwrap();
        let funded = both
            .op(
                &both.admin.clone(),
                Method::POST,
                &format!("/operator/v1/players/{}/deposits", both.player),
                Some(json!({"deposit_id": "fund", "currency": "EUR", "amount": "100.00"})),
            )
            .await;
        assert_eq!(funded.status, StatusCode::OK, "{}", funded.text());
        both
    }

    /// Both sandboxes send their webhooks to this server.
    async fn point_webhooks(&self) {
        for (sandbox, path) in [
            (self.crypto.url(), IPN_PATH),
            (self.cards.url(), "/webhooks/v1/payments/stripe"),
        ] {
            let url = format!("http://{}{path}", self.server.addr());
            let set = self
                .http
                .put(format!("{sandbox}/sandbox/webhook"))
                .header("content-type", "application/json")
                .body(json!({ "url": url }).to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(set.status(), StatusCode::NO_CONTENT);
        }
    }

    /// Stops the server and starts it again on the same data directory and
    /// sandboxes, the payout retries `retry_ms` apart.
    async fn restart(self, dir: &std::path::Path, retry_ms: u64) -> Both {
        self.restart_configured(dir, retry_ms, true).await
    }

    /// As [`Both::restart`], with cases holding withdrawals or not.
    pub(crate) async fn restart_configured(self, dir: &std::path::Path, retry_ms: u64, hold_on_case: bool) -> Both {
        let clock = self.server.clock.clone();
        self.server.stop().await;
        let config = both_config(dir, &self.crypto.url(), &self.cards.url(), retry_ms, hold_on_case);
        let server = TestServer::start_at(config, clock).await;
        let both = Both { server, ..self };
        both.point_webhooks().await;
        both
    }

    pub(crate) async fn op(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.server.op(self.server.h1(), token, method, path, body).await
    }

    pub(crate) async fn operator(&self, name: &str, role: &str) -> String {
        let body = json!({"name": name, "role": role});
        let made = self
            .op(&self.admin, Method::POST, "/operator/v1/operators", Some(body))
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
        made.json()["token"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn cash(&self) -> String {
        let path = format!("/operator/v1/players/{}/balance?currency=EUR", self.player);
        let read = self.op(&self.admin, Method::GET, &path, None).await;
        read.json()["cash"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn deposit(&self, id: &str, amount: &str, provider: Option<&str>) -> Value {
        let mut body = json!({"deposit_id": id, "currency": "EUR", "amount": amount, "payment_method": "btc"});
        if let Some(provider) = provider {
            body["provider"] = json!(provider);
        }
        let path = format!("/cashier/v1/players/{}/deposits", self.player);
        let made = self.op(&self.front, Method::POST, &path, Some(body)).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
        made.json()
    }

    pub(crate) async fn state(&self, kind: &str, payment: &str) -> Value {
        let list = self
            .op(
                &self.admin,
                Method::GET,
                &format!("/cashier/v1/{kind}?limit=1000"),
                None,
            )
            .await;
        list.json()["payments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["payment"] == payment)
            .cloned()
            .unwrap_or(Value::Null)
    }

    async fn control(&self, url: String, body: Value) -> Value {
        let reply = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(reply.status().is_success());
        serde_json::from_str(&reply.text().await.unwrap()).unwrap_or(Value::Null)
    }

    /// Moves a NOWPayments payment; the sandbox's answer (`ipn`, `delivered`).
    pub(crate) async fn move_payment(&self, reference: &str, body: Value) -> Value {
        let url = format!("{}/sandbox/payments/{reference}/status", self.crypto.url());
        self.control(url, body).await
    }

    async fn redeliver(&self, ipn: &Value) -> Value {
        let url = format!("{}/sandbox/ipns/{}/deliver", self.crypto.url(), ipn.as_u64().unwrap());
        self.control(url, json!({})).await
    }

    async fn ipn(&self, body: &[u8], sig: &str) -> Reply {
        let headers = [
            ("content-type", "application/json".to_owned()),
            ("x-nowpayments-sig", sig.to_owned()),
        ];
        self.server
            .send(self.server.h1(), Method::POST, IPN_PATH, &headers, Some(body.to_vec()))
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nowpayments_deposits_follow_signed_ipns_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let c = Both::start(dir.path()).await;

    // A deposit that names no provider goes to the default, NOWPayments:
    // the front end gets the address the player pays to.
    let started = c.deposit("c1", "50.00", None).await;
    assert_eq!(started["provider"], "nowpayments");
    assert_eq!(started["provider_status"], "waiting");
    assert_eq!(started["state"], "initiated");
    let reference = started["reference"].as_str().unwrap().to_owned();
    assert_eq!(started["pay_address"], format!("sbx-address-{reference}").as_str());
    let c1 = started["payment"].as_str().unwrap().to_owned();

    // A forged IPN (signed with another secret) and an unsigned one
    // change nothing.
    let applied = c.server.commands_applied().await;
    let forged = serde_json::to_vec(&json!({
        "payment_id": reference.parse::<u64>().unwrap(), "payment_status": "finished",
        "price_amount": 50.00, "price_currency": "eur", "pay_currency": "btc", "order_id": started["payment"],
    }))
    .unwrap();
    let refused = c.ipn(&forged, &signature("not-the-secret", &forged).unwrap()).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text());
    assert_eq!(c.ipn(&forged, "").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(c.server.commands_applied().await, applied);
    assert_eq!(c.cash().await, "100.00");

    // Partially paid: pending, nothing credited (the deposit has one amount).
    let partial = c
        .move_payment(&reference, json!({"status": "partially_paid", "actually_paid": 0.0004}))
        .await;
    assert_eq!(partial["delivered"], 200);
    assert_eq!(c.state("deposits", &c1).await["state"], "initiated");
    assert_eq!(c.server.commands_applied().await, applied);

    // Recorded out of order: `finished` delivered before `confirming`.
    let confirming = c
        .move_payment(&reference, json!({"status": "confirming", "deliver": false}))
        .await;
    let finished = c
        .move_payment(&reference, json!({"status": "finished", "deliver": false}))
        .await;
    assert_eq!(c.redeliver(&finished["ipn"]).await["delivered"], 200);
    assert_eq!(c.state("deposits", &c1).await["state"], "confirmed");
    assert_eq!(c.cash().await, "150.00");
    let applied = c.server.commands_applied().await;
    assert_eq!(c.redeliver(&confirming["ipn"]).await["delivered"], 200);
    // The duplicate `finished` is the same request: answered, not re-applied.
    assert_eq!(c.redeliver(&finished["ipn"]).await["delivered"], 200);
    assert_eq!(c.server.commands_applied().await, applied);
    assert_eq!(c.cash().await, "150.00");

    // Expired: the deposit fails. Refunded after confirmation: the whole
    // deposit is taken back.
    let c2 = c.deposit("c2", "20.00", Some("nowpayments")).await;
    let c2_ref = c2["reference"].as_str().unwrap();
    c.move_payment(c2_ref, json!({"status": "expired"})).await;
    assert_eq!(
        c.state("deposits", c2["payment"].as_str().unwrap()).await["state"],
        "failed"
    );
    c.move_payment(&reference, json!({"status": "refunded"})).await;
    let view = c.state("deposits", &c1).await;
    assert_eq!(view["state"], "charged_back");
    assert_eq!(view["charged_back"], "50.00");
    assert_eq!(c.cash().await, "100.00");

    // A provider that is not configured is refused before anything starts.
    let path = format!("/cashier/v1/players/{}/deposits", c.player);
    let body = json!({"deposit_id": "c3", "currency": "EUR", "amount": "1.00", "provider": "paypal"});
    let unknown = c.op(&c.front, Method::POST, &path, Some(body)).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text());
    assert_eq!(unknown.json()["error"]["code"], "unknown_provider");
    c.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawals_go_back_through_the_provider_the_player_deposited_with() {
    let dir = tempfile::tempdir().unwrap();
    let c = Both::start(dir.path()).await;
    // The player deposits by card (Stripe, not the default provider).
    c.control(
        format!("{}/sandbox/next_intent", c.cards.url()),
        json!({"outcome": "succeeded"}),
    )
    .await;
    let path = format!("/cashier/v1/players/{}/deposits", c.player);
    let body = json!({"deposit_id": "card-1", "currency": "EUR", "amount": "30.00",
        "payment_method": "pm_card_visa", "provider": "stripe"});
    let card = c.op(&c.front, Method::POST, &path, Some(body)).await;
    assert_eq!(card.status, StatusCode::CREATED, "{}", card.text());
    assert_eq!(c.cash().await, "130.00");

    // Withdrawn and approved: the payout goes to Stripe, the card's
    // provider, though NOWPayments is the default.
    c.control(
        format!("{}/sandbox/next_payout", c.cards.url()),
        json!({"outcome": "paid"}),
    )
    .await;
    let path = format!("/cashier/v1/players/{}/withdrawals", c.player);
    let body = json!({"withdrawal_id": "w1", "currency": "EUR", "amount": "25.00"});
    let made = c.op(&c.front, Method::POST, &path, Some(body)).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let w1 = made.json()["payment"].as_str().unwrap().to_owned();
    let approve = format!("/cashier/v1/withdrawals/{w1}/approve");
    let approved = c.op(&c.finance, Method::POST, &approve, None).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let view = loop {
        let view = c.state("withdrawals", &w1).await;
        if view["state"] == "completed" || tokio::time::Instant::now() > deadline {
            break view;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(view["state"], "completed", "{view}");
    assert_eq!(view["provider"], "stripe");
    c.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapter_pays_out_once_per_withdrawal_and_reads_where_it_stands() {
    let sandbox = NowPaymentsSandbox::start(sandbox_config(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = |api_key: &str| {
        NowPaymentsClient::new(NowPaymentsConfig {
            base_url: sandbox.url(),
            api_key: api_key.into(),
            ipn_secret: IPN_SECRET.into(),
            email: EMAIL.into(),
            password: PASSWORD.into(),
            ipn_callback_url: None,
            timeout: Duration::from_secs(5),
        })
        .unwrap()
    };
    let good = client(API_KEY);
    let payout = PayoutStart {
        key: PaymentKey {
            source: 3,
            id: "w-1".into(),
        },
        amount_minor: 150_000_000,
        currency: "BTC".into(),
        destination: Some("bc1qexampleaddress".into()),
    };
    let first = good.payout(&payout).await.unwrap();
    assert_eq!(first.settlement, Settlement::Pending);
    assert_eq!(first.key, Some(payout.key.clone()));
    // Retried (after a timeout, a 5xx, a restart): the same batch.
    let http = reqwest::Client::new();
    let fault = http
        .post(format!("{}/sandbox/faults", sandbox.url()))
        .header("content-type", "application/json")
        .body(json!({"errors": 1}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(fault.status(), StatusCode::NO_CONTENT);
    let failed = good.payout(&payout).await.unwrap_err();
    assert!(failed.is_transient(), "{failed}");
    let again = good.payout(&payout).await.unwrap();
    assert_eq!(again.reference, first.reference);
    let batch = http
        .get(format!("{}/v1/payout/{}", sandbox.url(), first.reference))
        .header("x-api-key", API_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let batch: Value = serde_json::from_str(&batch).unwrap();
    assert_eq!(batch["withdrawals"][0]["amount"], json!(1.5));
    assert_eq!(batch["withdrawals"][0]["currency"], "btc");
    // Settled at the provider: the status read says so.
    let settled = http
        .post(format!("{}/sandbox/payouts/{}/status", sandbox.url(), first.reference))
        .header("content-type", "application/json")
        .body(json!({"status": "FINISHED", "deliver": false}).to_string())
        .send()
        .await
        .unwrap();
    assert!(settled.status().is_success());
    let read = good.payout_status(&first.reference).await.unwrap();
    assert_eq!(read.settlement, Settlement::Succeeded);
    // Without an address, or with a wrong key: refused, not retried.
    let nowhere = PayoutStart {
        destination: None,
        ..payout.clone()
    };
    assert!(matches!(
        good.payout(&nowhere).await,
        Err(ProviderError::Refused { .. })
    ));
    let wrong = client("not-the-key").payout_status(&first.reference).await.unwrap_err();
    assert!(!wrong.is_transient(), "{wrong}");
    sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_a_nowpayments_payout_pays_once() {
    const ADDRESS: &str = "TEmGwPeRTPiLFLVfBxXkSP91yc5GMNQhfS";
    let dir = tempfile::tempdir().unwrap();
    // Retries far apart: the lost first attempt is not retried before the
    // restart.
    let c = Both::start_with(dir.path(), 600_000).await;
    let path = format!("/operator/v1/players/{}/payment-methods", c.player);
    let body = json!({"method_id": "tron", "kind": "crypto", "reference": ADDRESS});
    let added = c.op(&c.front, Method::POST, &path, Some(body)).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    c.control(format!("{}/sandbox/faults", c.crypto.url()), json!({"lost": 1}))
        .await;
    let path = format!("/cashier/v1/players/{}/withdrawals", c.player);
    let body = json!({"withdrawal_id": "w-np", "currency": "EUR", "amount": "25.00", "payment_method_id": "tron"});
    let made = c.op(&c.front, Method::POST, &path, Some(body)).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let payment = made.json()["payment"].as_str().unwrap().to_owned();
    let approve = format!("/cashier/v1/withdrawals/{payment}/approve");
    let approved = c.op(&c.finance, Method::POST, &approve, None).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
    // NOWPayments made the payout, but its answer never arrived.
    let batches = |c: &Both| {
        let url = format!("{}/sandbox/payouts", c.crypto.url());
        let http = c.http.clone();
        async move {
            let text = http.get(url).send().await.unwrap().text().await.unwrap();
            serde_json::from_str::<Value>(&text).unwrap()
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while batches(&c).await.as_array().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no payout was attempted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let view = c.state("withdrawals", &payment).await;
    assert_eq!(view["state"], "approved", "{view}");
    assert!(view["reference"].is_null(), "the answer was lost: {view}");

    let c = c.restart(dir.path(), 20).await;
    // The outbox is found again; the retry names the same
    // unique_external_id, and NOWPayments answers with the batch it made.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let reference = loop {
        let view = c.state("withdrawals", &payment).await;
        if let Some(reference) = view["reference"].as_str() {
            break reference.to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the payout was not retried after the restart"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let made = batches(&c).await;
    assert_eq!(made.as_array().unwrap().len(), 1, "exactly one payout: {made}");
    assert_eq!(made[0]["id"], reference.as_str());
    assert!(made[0]["withdrawals"][0]["unique_external_id"].is_string(), "{made}");
    assert_eq!(made[0]["withdrawals"][0]["address"], ADDRESS);
    assert_eq!(c.cash().await, "75.00");
    let url = format!("{}/sandbox/payouts/{reference}/status", c.crypto.url());
    c.control(url, json!({"status": "FINISHED"})).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while c.state("withdrawals", &payment).await["state"] != "completed" {
        assert!(tokio::time::Instant::now() < deadline, "the payout did not complete");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Money conserved: 100 in, 25 out, 75 left, nothing reserved.
    let read = c
        .op(
            &c.admin,
            Method::GET,
            &format!("/operator/v1/players/{}/balance?currency=EUR", c.player),
            None,
        )
        .await
        .json();
    assert_eq!(
        (read["cash"].as_str(), read["reserved"].as_str()),
        (Some("75.00"), Some("0.00"))
    );
    c.server.stop().await;
}
