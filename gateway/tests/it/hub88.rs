//! The Hub88-compatible wallet adapter end to end: a real server on a
//! loopback port, an aggregator registered with an RSA public key, requests
//! signed with its private key and every response's signature checked
//! against the operator's public key, over HTTP/1.1, HTTP/2 and HTTP/3. Refusals
//! before the ledger are checked not to grow the journal.

use crate::support;

use std::sync::OnceLock;

use engine::RsaPublicKeyDer;
use gateway::rsa_signature::{self, RsaSigner};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{ALL, Http, Reply, TestServer, World};

const DAY: u64 = 86_400_000;
/// One euro in Hub88 units (1/100,000).
const EUR: i64 = 100_000;

/// The aggregator's key pair, made once per test binary.
fn aggregator_key() -> &'static RsaSigner {
    static KEY: OnceLock<RsaSigner> = OnceLock::new();
    KEY.get_or_init(|| RsaSigner::from_pem(&RsaSigner::generate_pem().unwrap()).unwrap())
}

/// A world with a Hub88 aggregator and a session of the player for it.
struct Hub {
    w: World,
    partner: u32,
    token: String,
    /// The operator's public key, which every response must verify with.
    operator_key: RsaPublicKeyDer,
}

impl Hub {
    async fn new(dir: &std::path::Path) -> Hub {
        Hub::on(World::new(dir).await).await
    }

    /// A Hub88 aggregator and a session on the world `w`.
    async fn on(w: World) -> Hub {
        let rsa = json!({"name": "hub88", "rsa_public_key": aggregator_key().public_key_pem()});
        let created = w.create_aggregator(Http::V1, rsa).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        let partner = created.json()["aggregator"].as_u64().unwrap() as u32;
        assert_eq!(
            created.text(),
            format!(r#"{{"aggregator":{partner},"name":"hub88","signature":"rsa"}}"#)
        );
        let mut hub = Hub {
            operator_key: fetch_operator_key(&w).await,
            w,
            partner,
            token: String::new(),
        };
        hub.token = hub.issue_token(60_000).await;
        hub
    }

    async fn issue_token(&self, ttl_ms: u64) -> String {
        let body = json!({"player": self.w.player, "currency": "EUR", "aggregator": self.partner, "ttl_ms": ttl_ms});
        let issued = self
            .w
            .server
            .op(
                Http::V1,
                &self.w.admin,
                Method::POST,
                "/operator/v1/sessions",
                Some(body),
            )
            .await;
        assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text());
        issued.json()["token"].as_str().unwrap().to_owned()
    }

    /// Sends raw bytes with these headers to `/hub88/{partner}/{route}`.
    async fn send_unchecked(
        &self,
        http: Http,
        partner: &str,
        route: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Reply {
        let path = format!("/hub88/{partner}/{route}");
        self.w
            .server
            .send(http, Method::POST, &path, headers, Some(body.to_vec()))
            .await
    }

    /// Sends raw bytes with these headers to `/hub88/{partner}/{route}` and
    /// checks the response's signature.
    async fn send(&self, http: Http, partner: &str, route: &str, headers: &[(&str, String)], body: &[u8]) -> Reply {
        let reply = self.send_unchecked(http, partner, route, headers, body).await;
        let signature = reply.hub88_signature.as_deref().expect("a signed response");
        assert_eq!(
            rsa_signature::verify(&self.operator_key, &reply.body, signature),
            Ok(()),
            "{}",
            reply.text()
        );
        reply
    }

    /// A correctly signed call with raw bytes.
    async fn call_raw(&self, http: Http, route: &str, body: &[u8]) -> Reply {
        let headers = signed_headers(aggregator_key(), body);
        self.send(http, &self.partner.to_string(), route, &headers, body).await
    }

    async fn call(&self, http: Http, route: &str, body: &Value) -> Reply {
        self.call_raw(http, route, body.to_string().as_bytes()).await
    }

    fn user(&self) -> String {
        format!("player-{}", self.w.player)
    }

    fn bet_body(&self, uuid: &str, amount: i64, round: &str) -> Value {
        json!({"user": self.user(), "transaction_uuid": uuid, "supplier_transaction_id": format!("s-{uuid}"),
            "token": self.token, "round_closed": false, "round": round, "reward_uuid": null,
            "request_uuid": format!("rq-{uuid}"), "is_free": false, "is_aggregated": false, "game_id": 7,
            "game_code": "clt_dragonrising", "currency": "EUR", "bet": "zero", "amount": amount,
            "meta": {"selection": "home_team", "odds": 2.5}})
    }

    fn win_body(&self, uuid: &str, amount: i64, round: &str, bet: &str) -> Value {
        json!({"user": self.user(), "transaction_uuid": uuid, "supplier_transaction_id": format!("s-{uuid}"),
            "token": self.token, "round_closed": false, "round": round, "reward_uuid": null,
            "request_uuid": format!("rq-{uuid}"), "reference_transaction_uuid": bet, "is_free": false,
            "is_aggregated": false, "game_id": 7, "game_code": "clt_dragonrising", "currency": "EUR",
            "bet": "zero", "amount": amount, "meta": null})
    }

    fn rollback_body(&self, uuid: &str, bet: &str) -> Value {
        json!({"user": self.user(), "transaction_uuid": uuid, "supplier_transaction_id": format!("s-{uuid}"),
            "token": self.token, "round_closed": true, "round": "r-1", "request_uuid": format!("rq-{uuid}"),
            "reference_transaction_uuid": bet, "game_id": 7, "game_code": "clt_dragonrising", "meta": null})
    }

    async fn bet(&self, http: Http, uuid: &str, amount: i64, round: &str) -> Reply {
        self.call(http, "transaction/bet", &self.bet_body(uuid, amount, round))
            .await
    }

    async fn win(&self, http: Http, uuid: &str, amount: i64, round: &str) -> Reply {
        self.call(http, "transaction/win", &self.win_body(uuid, amount, round, "b-1"))
            .await
    }

    async fn rollback(&self, http: Http, uuid: &str, bet: &str) -> Reply {
        self.call(http, "transaction/rollback", &self.rollback_body(uuid, bet))
            .await
    }
}

async fn fetch_operator_key(w: &World) -> RsaPublicKeyDer {
    let path = "/operator/v1/hub88/public-key";
    let reply = w.server.op(Http::V2, &w.admin, Method::GET, path, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    rsa_signature::public_key_der_from_pem(&reply.text()).unwrap()
}

fn signed_headers(key: &RsaSigner, body: &[u8]) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".into()),
        ("x-hub88-signature", key.sign(body).unwrap()),
    ]
}

/// The exact JSON of a reply with a balance.
fn answer(status: &str, uuid: &str, balance: i64) -> String {
    format!(
        r#"{{"user":"player-1","status":"{status}","request_uuid":"rq-{uuid}","currency":"EUR","balance":{balance}}}"#
    )
}

/// Asserts the exact JSON of a reply with a balance.
fn expect(reply: &Reply, status: &str, uuid: &str, balance: i64) {
    assert_eq!(reply.text(), answer(status, uuid, balance));
}

fn status(reply: &Reply) -> String {
    reply.json()["status"].as_str().unwrap_or("<none>").to_owned()
}

#[tokio::test]
async fn a_full_round_over_http1_http2_and_http3_with_signed_requests_and_responses() {
    for http in ALL {
        let dir = tempfile::tempdir().unwrap();
        let h = Hub::new(dir.path()).await;
        let info = h
            .call(
                http,
                "user/info",
                &json!({"user": "player-1", "request_uuid": "rq-info"}),
            )
            .await;
        assert_eq!(
            (info.status, info.text()),
            (
                StatusCode::OK,
                // No profile: the jurisdiction's code as the country, its
                // regulator, and the day the test clock registered the player.
                r#"{"user":"player-1","status":"RS_OK","request_uuid":"rq-info","country":"MT","jurisdiction":"MGA","registration_date":"2026-01-01"}"#.into()
            )
        );
        let body =
            json!({"user": "player-1", "token": h.token, "request_uuid": "rq-bal", "game_code": "clt_dragonrising"});
        let balance = h.call(http, "user/balance", &body).await;
        expect(&balance, "RS_OK", "bal", 100 * EUR);
        let bet = h.bet(http, "b-1", 1_050_000, "r-1").await;
        assert_eq!(
            (bet.status, bet.text()),
            (StatusCode::OK, answer("RS_OK", "b-1", 8_950_000))
        );
        let win = h.win(http, "w-1", 25 * EUR, "r-1").await;
        expect(&win, "RS_OK", "w-1", 11_450_000);
        expect(&h.bet(http, "b-2", 450_000, "r-1").await, "RS_OK", "b-2", 11_000_000);
        let rollback = h.rollback(http, "rb-2", "b-2").await;
        expect(&rollback, "RS_OK", "rb-2", 11_450_000);
        let mut closing = h.win_body("w-2", 0, "r-1", "b-1");
        closing["round_closed"] = json!(true);
        let closing = h.call(http, "transaction/win", &closing).await;
        expect(&closing, "RS_OK", "w-2", 11_450_000);
        let late = h.win(http, "w-3", EUR, "r-1").await;
        expect(&late, "RS_ERROR_TRANSACTION_DOES_NOT_EXIST", "w-3", 11_450_000);
        assert_eq!(h.w.balance().await["cash"], "114.50");
        h.w.server.stop().await;
    }
}

#[tokio::test]
async fn retries_get_the_recorded_outcome_and_a_changed_payload_is_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let h = Hub::new(dir.path()).await;
    let first = h.bet(Http::V1, "b-1", 10 * EUR, "r-1").await;
    expect(&first, "RS_OK", "b-1", 90 * EUR);
    expect(&h.win(Http::V2, "w-1", 5 * EUR, "r-1").await, "RS_OK", "w-1", 95 * EUR);
    for http in ALL {
        // The same bytes get the same bytes, signature included.
        assert_eq!(h.bet(http, "b-1", 10 * EUR, "r-1").await, first);
        // Hub88 retries with a new request_uuid: the recorded outcome, its own uuid.
        let mut retry = h.bet_body("b-1", 10 * EUR, "r-1");
        retry["request_uuid"] = json!("rq-retry");
        retry["meta"] = json!({"attempt": 2});
        let again = h.call(http, "transaction/bet", &retry).await;
        assert_eq!(
            again.text(),
            answer("RS_OK", "b-1", 90 * EUR).replace("rq-b-1", "rq-retry")
        );
    }
    let duplicates = [
        h.bet_body("b-1", 10 * EUR + 1_000, "r-1"),
        h.bet_body("b-1", 10 * EUR, "r-2"),
        h.win_body("b-1", 10 * EUR, "r-1", "b-1"),
    ];
    for (n, body) in duplicates.iter().enumerate() {
        let route = if n == 2 { "transaction/win" } else { "transaction/bet" };
        let duplicate = h.call(Http::V2, route, body).await;
        let expected = r#"{"user":"player-1","status":"RS_ERROR_DUPLICATE_TRANSACTION","request_uuid":"rq-b-1"}"#;
        assert_eq!(duplicate.text(), expected, "case {n}");
    }
    assert_eq!(h.w.balance().await["cash"], "95.00");
    h.w.server.stop().await;
}

#[tokio::test]
async fn a_rollback_before_its_bet_answers_ok_and_the_late_bet_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let h = Hub::new(dir.path()).await;
    let rollback = h.rollback(Http::V3, "rb-1", "b-late").await;
    expect(&rollback, "RS_OK", "rb-1", 100 * EUR);
    let late = h.bet(Http::V1, "b-late", 5 * EUR, "r-1").await;
    let refused = r#"{"user":"player-1","status":"RS_ERROR_TRANSACTION_ROLLED_BACK","request_uuid":"rq-b-late"}"#;
    assert_eq!(late.text(), refused);
    assert_eq!(h.rollback(Http::V1, "rb-1", "b-late").await, rollback);
    // A second rollback of a bet already rolled back says so.
    expect(&h.bet(Http::V1, "b-2", 5 * EUR, "r-1").await, "RS_OK", "b-2", 95 * EUR);
    expect(&h.rollback(Http::V1, "rb-2", "b-2").await, "RS_OK", "rb-2", 100 * EUR);
    let twice = h.rollback(Http::V2, "rb-3", "b-2").await;
    expect(&twice, "RS_ERROR_TRANSACTION_ROLLED_BACK", "rb-3", 100 * EUR);
    assert_eq!(h.w.balance().await["cash"], "100.00");
    h.w.server.stop().await;
}

#[tokio::test]
async fn not_enough_money_wrong_currency_and_free_and_jackpot_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let h = Hub::new(dir.path()).await;
    let broke = h.bet(Http::V1, "b-big", 500 * EUR, "r-1").await;
    expect(&broke, "RS_ERROR_NOT_ENOUGH_MONEY", "b-big", 100 * EUR);
    let mut usd = h.bet_body("b-usd", EUR, "r-1");
    usd["currency"] = json!("USD");
    let usd = h.call(Http::V2, "transaction/bet", &usd).await;
    expect(&usd, "RS_ERROR_WRONG_CURRENCY", "b-usd", 100 * EUR);
    // The currency is checked before the amount's granularity, which
    // depends on it: 1.5 JPY is no amount in yen, but the yen is the wrong
    // currency first. Neither a currency we do not know nor these reach the ledger.
    let applied = h.w.server.commands_applied().await;
    for (uuid, currency, amount) in [("b-jpy", "JPY", 150_000), ("b-xyz", "XYZ", EUR), ("b-btc", "BTC", 1)] {
        let mut body = h.bet_body(uuid, amount, "r-1");
        body["currency"] = json!(currency);
        let reply = h.call(Http::V1, "transaction/bet", &body).await;
        expect(&reply, "RS_ERROR_WRONG_CURRENCY", uuid, 100 * EUR);
    }
    assert_eq!(h.w.server.commands_applied().await, applied);
    // A free-round bet takes no stake; its winnings land as a promotional win.
    let mut free = h.bet_body("b-free", EUR, "r-free");
    free["is_free"] = json!(true);
    free["reward_uuid"] = json!("reward-1");
    let free = h.call(Http::V1, "transaction/bet", &free).await;
    expect(&free, "RS_OK", "b-free", 100 * EUR);
    let mut free_win = h.win_body("w-free", 3 * EUR, "r-free", "b-free");
    free_win["is_free"] = json!(true);
    let free_win = h.call(Http::V2, "transaction/win", &free_win).await;
    expect(&free_win, "RS_OK", "w-free", 103 * EUR);
    // A jackpot win needs no open round, nor a bet.
    let mut jackpot = h.win_body("w-jp", 1_000 * EUR, "r-jackpot", "b-x");
    jackpot["jackpot_win"] = json!(true);
    jackpot.as_object_mut().unwrap().remove("reference_transaction_uuid");
    let jackpot = h.call(Http::V1, "transaction/win", &jackpot).await;
    expect(&jackpot, "RS_OK", "w-jp", 1_103 * EUR);
    h.w.server.stop().await;
}

#[tokio::test]
async fn after_expiry_bets_are_refused_and_wins_and_rollbacks_land() {
    let dir = tempfile::tempdir().unwrap();
    let h = Hub::new(dir.path()).await;
    assert_eq!(status(&h.bet(Http::V1, "b-1", 10 * EUR, "r-1").await), "RS_OK");
    assert_eq!(status(&h.bet(Http::V1, "b-2", 20 * EUR, "r-1").await), "RS_OK");
    h.w.server.advance(60_001);
    let bet = h.bet(Http::V2, "b-3", EUR, "r-1").await;
    expect(&bet, "RS_ERROR_TOKEN_EXPIRED", "b-3", 70 * EUR);
    expect(&h.win(Http::V2, "w-1", 3 * EUR, "r-1").await, "RS_OK", "w-1", 73 * EUR);
    let rollback = h.rollback(Http::V1, "rb-2", "b-2").await;
    expect(&rollback, "RS_OK", "rb-2", 93 * EUR);
    let body = json!({"user": "player-1", "token": h.token, "request_uuid": "rq-bal"});
    expect(&h.call(Http::V1, "user/balance", &body).await, "RS_OK", "bal", 93 * EUR);
    h.w.server.stop().await;
}

#[tokio::test]
async fn limits_and_self_exclusion_block_bets_but_not_wins() {
    let dir = tempfile::tempdir().unwrap();
    let h = Hub::new(dir.path()).await;
    let (s, admin, player) = (&h.w.server, &h.w.admin, h.w.player);
    let limit = json!({"currency": "EUR", "metric": "wager", "period": "day", "amount": "20.00"});
    let path = format!("/operator/v1/players/{player}/limits");
    assert_eq!(
        s.op(Http::V1, admin, Method::PUT, &path, Some(limit)).await.status,
        StatusCode::OK
    );
    assert_eq!(status(&h.bet(Http::V1, "b-1", 15 * EUR, "r-1").await), "RS_OK");
    let over = h.bet(Http::V2, "b-2", 10 * EUR, "r-1").await;
    expect(&over, "RS_ERROR_LIMIT_REACHED", "b-2", 85 * EUR);
    expect(
        &h.win(Http::V2, "w-1", 30 * EUR, "r-1").await,
        "RS_OK",
        "w-1",
        115 * EUR,
    );
    let path = format!("/operator/v1/players/{player}/self-exclusion");
    let until = json!({"until_ms": s.now() + DAY});
    assert_eq!(
        s.op(Http::V1, admin, Method::POST, &path, Some(until)).await.status,
        StatusCode::OK
    );
    let blocked = h.bet(Http::V1, "b-3", EUR, "r-1").await;
    expect(&blocked, "RS_ERROR_USER_DISABLED", "b-3", 115 * EUR);
    expect(&h.win(Http::V1, "w-2", EUR, "r-1").await, "RS_OK", "w-2", 116 * EUR);
    h.w.server.stop().await;
}

/// An outcome in doubt (the bet held in the sequencer past the request
/// timeout) answers `RS_ERROR_UNKNOWN`, signed, with HTTP 503; Hub88's
/// retry of the same transaction learns the outcome, and the bet is taken
/// once.
#[tokio::test]
async fn an_outcome_in_doubt_is_rs_error_unknown_and_the_retry_lands_once() {
    let dir = tempfile::tempdir().unwrap();
    let (server, gate) = TestServer::start_gated_timing_out(dir.path(), 300).await;
    let h = Hub::on(World::on(server).await).await;
    gate.set(true);
    let held = h.bet(Http::V1, "b-held", 10 * EUR, "r-1").await;
    assert_eq!(held.status, StatusCode::SERVICE_UNAVAILABLE, "{}", held.text());
    assert_eq!(
        held.text(),
        r#"{"status":"RS_ERROR_UNKNOWN","request_uuid":"rq-b-held"}"#
    );
    gate.set(false);
    expect(
        &h.bet(Http::V2, "b-held", 10 * EUR, "r-1").await,
        "RS_OK",
        "b-held",
        90 * EUR,
    );
    h.w.server.stop().await;
}

/// (name, partner path segment, headers, expected status).
type PartnerCase<'a> = (&'a str, &'a str, Vec<(&'a str, String)>, &'a str);

#[tokio::test]
async fn partners_signatures_and_tokens_are_checked_before_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let h = Hub::new(dir.path()).await;
    let body = h.bet_body("b-1", EUR, "r-1").to_string().into_bytes();
    let good = signed_headers(aggregator_key(), &body);
    let stranger = RsaSigner::from_pem(&RsaSigner::generate_pem().unwrap()).unwrap();
    let hmac_partner = h.w.aggregator.id.to_string();
    let partner = h.partner.to_string();
    let cases: Vec<PartnerCase> = vec![
        ("unknown aggregator", "99", good.clone(), "RS_ERROR_INVALID_PARTNER"),
        ("not a number", "hub", good.clone(), "RS_ERROR_INVALID_PARTNER"),
        (
            "an HMAC aggregator",
            &hmac_partner,
            good.clone(),
            "RS_ERROR_INVALID_PARTNER",
        ),
        ("an operator's source", "1", good.clone(), "RS_ERROR_INVALID_PARTNER"),
        (
            "another key",
            &partner,
            signed_headers(&stranger, &body),
            "RS_ERROR_INVALID_SIGNATURE",
        ),
        (
            "no signature",
            &partner,
            good[..1].to_vec(),
            "RS_ERROR_INVALID_SIGNATURE",
        ),
        (
            "not base64",
            &partner,
            vec![good[0].clone(), ("x-hub88-signature", "%%%".into())],
            "RS_ERROR_INVALID_SIGNATURE",
        ),
        (
            "signature of another body",
            &partner,
            signed_headers(aggregator_key(), b"{}"),
            "RS_ERROR_INVALID_SIGNATURE",
        ),
    ];
    let applied = h.w.server.commands_applied().await;
    for (http, (name, partner, headers, expected)) in ALL.into_iter().cycle().zip(cases) {
        let reply = h
            .send_unchecked(http, partner, "transaction/bet", &headers, &body)
            .await;
        // Before authentication nothing is signed, nor request_uuid echoed.
        assert_eq!(
            (reply.status, reply.text(), reply.hub88_signature),
            (StatusCode::OK, format!(r#"{{"status":"{expected}"}}"#), None),
            "{name}"
        );
    }
    // The native API does not take an RSA aggregator's requests either.
    let native = support::Aggregator {
        id: h.partner,
        secret: engine::Secret([0; 32]),
    };
    let bet = json!({"token": h.token, "transaction_id": "b-1", "round_id": "r-1", "game": "slots",
        "currency": "EUR", "amount": "1.00"});
    let native =
        h.w.wallet_as(&native, Http::V1, "bet", bet.to_string().as_bytes())
            .await;
    assert_eq!(
        (native.status, native.code()),
        (StatusCode::UNAUTHORIZED, "wrong_contract".into())
    );
    assert_eq!(h.w.server.commands_applied().await, applied, "the journal did not grow");
    h.w.server.stop().await;
}

const SYNTAX: &str = "RS_ERROR_WRONG_SYNTAX";
const TYPES: &str = "RS_ERROR_WRONG_TYPES";
const TOKEN: &str = "RS_ERROR_INVALID_TOKEN";

/// What a case changes about a correctly signed bet body.
fn edited(mut body: Value, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Vec<u8> {
    edit(body.as_object_mut().unwrap());
    body.to_string().into_bytes()
}

#[tokio::test]
async fn bad_input_gets_the_contract_status_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let h = Hub::new(dir.path()).await;
    let bet = h.bet_body("b-1", EUR, "r-1");
    let set = |key: &'static str, value: Value| {
        edited(bet.clone(), move |b| {
            b.insert(key.into(), value);
        })
    };
    let unset = |key: &'static str| {
        edited(bet.clone(), move |b| {
            b.remove(key);
        })
    };
    let other_session = h.w.token.clone();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("malformed JSON", b"{\"user\": ".to_vec(), SYNTAX),
        ("not an object", b"[1, 2]".to_vec(), SYNTAX),
        ("missing amount", unset("amount"), SYNTAX),
        ("missing transaction_uuid", unset("transaction_uuid"), SYNTAX),
        ("missing request_uuid", unset("request_uuid"), SYNTAX),
        ("amount as a string", set("amount", json!("100000")), TYPES),
        ("amount as a float", set("amount", json!(1.5)), TYPES),
        ("round_closed as a string", set("round_closed", json!("yes")), TYPES),
        ("user as a number", set("user", json!(1)), TYPES),
        ("game_id as text", set("game_id", json!("7")), TYPES),
        ("negative amount", set("amount", json!(-100_000)), SYNTAX),
        ("zero stake", set("amount", json!(0)), SYNTAX),
        ("a thousandth of a cent", set("amount", json!(100_001)), SYNTAX),
        (
            "beyond 64 bits",
            set("amount", json!(9_223_372_036_854_775_808_u64)),
            SYNTAX,
        ),
        (
            "bad game code",
            set("game_code", json!("a game")),
            "RS_ERROR_INVALID_GAME",
        ),
        ("uuid too long", set("transaction_uuid", json!("x".repeat(65))), SYNTAX),
        (
            "a bet naming a bet",
            set("reference_transaction_uuid", json!("b-0")),
            SYNTAX,
        ),
        ("unknown token", set("token", json!("clt_nope")), TOKEN),
        ("another aggregator's token", set("token", json!(other_session)), TOKEN),
        ("another user", set("user", json!("player-2")), TOKEN),
        ("a user not in our form", set("user", json!("player-01")), TOKEN),
    ];
    let mut no_bet = h.win_body("w-1", EUR, "r-1", "b-1");
    no_bet.as_object_mut().unwrap().remove("reference_transaction_uuid");
    let mut no_rollback_bet = h.rollback_body("rb-1", "b-1");
    no_rollback_bet
        .as_object_mut()
        .unwrap()
        .remove("reference_transaction_uuid");
    let unknown_user = json!({"user": "player-9", "request_uuid": "rq-b-1"});
    let other_routes = [
        ("a win naming no bet", "transaction/win", no_bet, SYNTAX),
        (
            "a rollback naming no bet",
            "transaction/rollback",
            no_rollback_bet,
            SYNTAX,
        ),
        ("unknown user", "user/info", unknown_user, "RS_ERROR_UNKNOWN"),
    ];
    let cases = cases
        .into_iter()
        .map(|(name, body, expected)| (name, "transaction/bet", body, expected))
        .chain(
            other_routes
                .into_iter()
                .map(|(name, route, body, expected)| (name, route, body.to_string().into_bytes(), expected)),
        );
    let applied = h.w.server.commands_applied().await;
    for (http, (name, route, body, expected)) in ALL.into_iter().cycle().zip(cases) {
        let reply = h.call_raw(http, route, &body).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}");
        assert_eq!(status(&reply), expected, "{name}: {}", reply.text());
        assert!(reply.json().get("balance").is_none(), "{name}");
    }
    // A body that cannot even be checked is refused before authentication: unsigned.
    let body = bet.to_string().into_bytes();
    let wrong_type = [
        ("content-type", "text/plain".to_owned()),
        ("x-hub88-signature", aggregator_key().sign(&body).unwrap()),
    ];
    let oversized = set("meta", json!("x".repeat(5_000)));
    let oversized_headers = signed_headers(aggregator_key(), &oversized);
    for (name, headers, body) in [
        ("wrong content type", &wrong_type[..], &body),
        ("oversized body", &oversized_headers[..], &oversized),
    ] {
        for http in ALL {
            let reply = h
                .send_unchecked(http, &h.partner.to_string(), "transaction/bet", headers, body)
                .await;
            assert_eq!(
                (reply.status, reply.text(), reply.hub88_signature),
                (StatusCode::OK, r#"{"status":"RS_ERROR_WRONG_SYNTAX"}"#.to_owned(), None),
                "{name}"
            );
        }
    }
    assert_eq!(h.w.server.commands_applied().await, applied, "the journal did not grow");
    assert_eq!(h.w.balance().await["cash"], "100.00");
    h.w.server.stop().await;
}

#[tokio::test]
async fn the_operator_key_and_idempotency_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let h = Hub::new(dir.path()).await;
    let bet = h.bet(Http::V1, "b-1", 10 * EUR, "r-1").await;
    let key_file = dir.path().join(rsa_signature::KEY_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let Hub {
        w,
        partner,
        token,
        operator_key,
    } = h;
    let w = w.restart(dir.path()).await;
    assert_eq!(fetch_operator_key(&w).await, operator_key, "the key is reused");
    let h = Hub {
        w,
        partner,
        token,
        operator_key,
    };
    for http in ALL {
        assert_eq!(h.bet(http, "b-1", 10 * EUR, "r-1").await, bet);
    }
    h.w.server.stop().await;
}

#[tokio::test]
async fn operators_register_rsa_aggregators_only_with_a_valid_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let applied = w.server.commands_applied().await;
    let cases = [
        json!({"name": "bad", "rsa_public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"}),
        json!({"name": "bad", "rsa_public_key": "hello"}),
        json!({"name": "bad", "rsa_public_key": 5}),
    ];
    for (n, body) in cases.into_iter().enumerate() {
        let reply = w.create_aggregator(Http::V2, body).await;
        let code = if n == 2 {
            "invalid_request"
        } else {
            "invalid_public_key"
        };
        assert_eq!(
            (reply.status, reply.code().as_str()),
            (StatusCode::BAD_REQUEST, code),
            "case {n}"
        );
    }
    assert_eq!(w.server.commands_applied().await, applied, "the journal did not grow");
    // A PKCS#1 "RSA PUBLIC KEY" is accepted as well as an SPKI "PUBLIC KEY".
    let pkcs1 = {
        use rsa::pkcs1::EncodeRsaPublicKey;
        use rsa::pkcs8::DecodePublicKey;
        let key = rsa::PublicKey::from_public_key_pem(aggregator_key().public_key_pem()).unwrap();
        key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap()
    };
    let body = json!({"name": "pkcs1", "rsa_public_key": pkcs1});
    let reply = w.create_aggregator(Http::V1, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    w.server.stop().await;
}

#[tokio::test]
async fn a_win_pays_only_a_live_bet_and_rounds_down_to_the_cent() {
    let dir = tempfile::tempdir().unwrap();
    let h = Hub::new(dir.path()).await;
    // A bet rolled back (its stake refunded) can no longer be paid.
    expect(&h.bet(Http::V1, "b-1", 10 * EUR, "r-1").await, "RS_OK", "b-1", 90 * EUR);
    expect(&h.rollback(Http::V2, "rb-1", "b-1").await, "RS_OK", "rb-1", 100 * EUR);
    let paid_twice = h
        .call(Http::V3, "transaction/win", &h.win_body("w-1", 25 * EUR, "r-1", "b-1"))
        .await;
    expect(&paid_twice, "RS_ERROR_TRANSACTION_ROLLED_BACK", "w-1", 100 * EUR);
    // Nor a bet whose rollback came first, nor a bet never seen.
    expect(
        &h.rollback(Http::V1, "rb-2", "b-late").await,
        "RS_OK",
        "rb-2",
        100 * EUR,
    );
    let late = h
        .call(Http::V1, "transaction/win", &h.win_body("w-2", EUR, "r-1", "b-late"))
        .await;
    expect(&late, "RS_ERROR_TRANSACTION_ROLLED_BACK", "w-2", 100 * EUR);
    let unknown = h
        .call(Http::V2, "transaction/win", &h.win_body("w-3", EUR, "r-1", "b-never"))
        .await;
    expect(&unknown, "RS_ERROR_TRANSACTION_DOES_NOT_EXIST", "w-3", 100 * EUR);
    // A live bet is paid; a win finer than a cent is paid rounded down, not refused.
    expect(&h.bet(Http::V1, "b-4", 10 * EUR, "r-1").await, "RS_OK", "b-4", 90 * EUR);
    let fine = h.win_body("w-4", 13_700, "r-1", "b-4");
    expect(
        &h.call(Http::V2, "transaction/win", &fine).await,
        "RS_OK",
        "w-4",
        90 * EUR + 13_000,
    );
    assert_eq!(
        h.call(Http::V3, "transaction/win", &fine).await.text(),
        answer("RS_OK", "w-4", 90 * EUR + 13_000)
    );
    // The bet a win names is part of its payload.
    let other_bet = h.win_body("w-4", 13_700, "r-1", "b-1");
    let duplicate = h.call(Http::V1, "transaction/win", &other_bet).await;
    assert_eq!(status(&duplicate), "RS_ERROR_DUPLICATE_TRANSACTION");
    assert_eq!(h.w.balance().await["cash"], "90.13");
    h.w.server.stop().await;
}

#[tokio::test]
async fn a_supplier_promotion_stakes_nothing_and_its_win_needs_no_bet() {
    let dir = tempfile::tempdir().unwrap();
    let h = Hub::new(dir.path()).await;
    let mut promo_bet = h.bet_body("b-promo", 0, "r-promo");
    promo_bet["is_supplier_promo"] = json!(true);
    expect(
        &h.call(Http::V1, "transaction/bet", &promo_bet).await,
        "RS_OK",
        "b-promo",
        100 * EUR,
    );
    let mut promo_win = h.win_body("w-promo", 2 * EUR, "r-promo", "b-x");
    promo_win["is_supplier_promo"] = json!(true);
    promo_win.as_object_mut().unwrap().remove("reference_transaction_uuid");
    expect(
        &h.call(Http::V2, "transaction/win", &promo_win).await,
        "RS_OK",
        "w-promo",
        102 * EUR,
    );
    h.w.server.stop().await;
}

#[tokio::test]
async fn amounts_beyond_64_bits_are_wrong_syntax_however_written() {
    let dir = tempfile::tempdir().unwrap();
    let h = Hub::new(dir.path()).await;
    // serde_json cannot write these numbers: the amount is spliced in as text.
    let placeholder = 424_242_424_242_i64;
    let bet = h.bet_body("b-1", placeholder, "r-1").to_string();
    let cases = [
        ("10^20", "100000000000000000000", SYNTAX),
        ("2^64", "18446744073709551616", SYNTAX),
        ("-10^20", "-100000000000000000000", SYNTAX),
        ("below i64", "-9223372036854775809", SYNTAX),
        ("10^20 with an exponent", "1e20", SYNTAX),
        ("a fraction", "1.5", TYPES),
        ("a small exponent", "1e3", TYPES),
    ];
    let applied = h.w.server.commands_applied().await;
    for (http, (name, amount, expected)) in ALL.into_iter().cycle().zip(cases) {
        let body = bet.replace(&placeholder.to_string(), amount);
        assert!(body.contains(&format!("\"amount\":{amount}")), "{body}");
        let reply = h.call_raw(http, "transaction/bet", body.as_bytes()).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}");
        assert_eq!(status(&reply), expected, "{name}: {}", reply.text());
    }
    assert_eq!(h.w.server.commands_applied().await, applied, "the journal did not grow");
    h.w.server.stop().await;
}

#[tokio::test]
async fn a_partner_segment_that_is_not_text_is_an_invalid_partner() {
    let dir = tempfile::tempdir().unwrap();
    let h = Hub::new(dir.path()).await;
    let body = h.bet_body("b-1", EUR, "r-1").to_string().into_bytes();
    let headers = signed_headers(aggregator_key(), &body);
    for http in ALL {
        let reply = h.send_unchecked(http, "%FF", "transaction/bet", &headers, &body).await;
        assert_eq!(
            (reply.status, reply.text(), reply.hub88_signature),
            (
                StatusCode::OK,
                r#"{"status":"RS_ERROR_INVALID_PARTNER"}"#.to_owned(),
                None
            ),
            "{http:?}"
        );
    }
    h.w.server.stop().await;
}

/// Adds fields Hub88 might send one day: one flat, one nested object, and
/// one inside `meta` (whose content is the supplier's anyway).
fn with_unknown_fields(mut body: Value) -> Value {
    let object = body.as_object_mut().unwrap();
    object.insert("field_added_next_year".into(), json!("x"));
    object.insert(
        "extension".into(),
        json!({"nested": {"deeper": [1, {"flag": true}], "amount": "not ours"}}),
    );
    if let Some(meta) = object.get_mut("meta").filter(|meta| meta.is_object()) {
        meta["unknown_in_meta"] = json!({"nested": 1});
    }
    body
}

/// Hub88's `/user/info` (docs.hub88.io, Operator API reference, Wallet
/// API: "The Operator is expected to return all available details"):
/// `country`, `jurisdiction`, `birth_date` and `registration_date` as
/// `YYYY-MM-DD`, `affiliate_id`, from the player's profile, and
/// `sub_partner_id` ("ID of Operator's sub-partner (brand, whitelabel,
/// site, etc.)") from the brand the player registered with. After an
/// erasure only what is not personal data is left.
#[tokio::test]
async fn user_info_tells_what_the_profile_holds_and_nothing_after_an_erasure() {
    let dir = tempfile::tempdir().unwrap();
    let h = Hub::new(dir.path()).await;
    h.w.server.advance(86_400_000 + 5);
    let brand =
        h.w.server
            .op(
                Http::V1,
                &h.w.admin,
                Method::PUT,
                "/operator/v1/brands/lucky",
                Some(json!({"name": "Lucky", "currencies": ["EUR"], "jurisdictions": ["MT"]})),
            )
            .await;
    assert_eq!(brand.status, StatusCode::OK, "{}", brand.text());
    let profile = json!({"currency": "EUR", "jurisdiction": "MT", "brand": "lucky", "profile": {
        "name": "Grace Hopper", "email": "grace@example.org", "phone": "+356 2123 4567",
        "date_of_birth": "1986-12-09", "address": {"line": "1 Republic Street", "city": "Valletta",
        "postcode": "VLT 1117"}, "country": "IE", "language": "en",
        "marketing": {"email": false, "sms": false, "phone": false, "post": false},
        "affiliate_code": "aff-7"}});
    let registered =
        h.w.server
            .op(
                Http::V1,
                &h.w.admin,
                Method::POST,
                "/operator/v1/registrations",
                Some(profile),
            )
            .await;
    assert_eq!(registered.status, StatusCode::CREATED, "{}", registered.text());
    let user = format!("player-{}", registered.json()["player"]);
    let info = |uuid: &str| json!({"user": user, "request_uuid": uuid});
    let told = h.call(Http::V1, "user/info", &info("rq-1")).await;
    assert_eq!(
        told.text(),
        format!(
            r#"{{"user":"{user}","status":"RS_OK","request_uuid":"rq-1","country":"IE","jurisdiction":"MGA","sub_partner_id":"lucky","birth_date":"1986-12-09","registration_date":"2026-01-02","affiliate_id":"aff-7"}}"#
        )
    );
    let path = format!("/operator/v1/players/{}/erasure", registered.json()["player"]);
    let erased =
        h.w.server
            .op(
                Http::V1,
                &h.w.admin,
                Method::POST,
                &path,
                Some(json!({"reason": "GDPR request"})),
            )
            .await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.text());
    let told = h.call(Http::V1, "user/info", &info("rq-2")).await;
    assert_eq!(
        told.text(),
        format!(
            r#"{{"user":"{user}","status":"RS_OK","request_uuid":"rq-2","country":"MT","jurisdiction":"MGA","sub_partner_id":"lucky","registration_date":"2026-01-02"}}"#
        )
    );
}

/// Hub88's documentation (docs.hub88.io, Operator API reference, Wallet
/// API) lists each request's fields; a tolerant reader ignores any others,
/// at the top level or nested, on every route.
#[tokio::test]
async fn every_request_with_unknown_fields_is_answered_rs_ok() {
    let dir = tempfile::tempdir().unwrap();
    let h = Hub::new(dir.path()).await;
    let user = h.user();
    let calls = [
        ("user/info", json!({"user": user, "request_uuid": "rq-info"}), None),
        (
            "user/balance",
            json!({"user": user, "token": h.token, "request_uuid": "rq-bal", "game_code": "clt_dragonrising",
                "supplier_user": "supplier-1"}),
            Some(("bal", 100 * EUR)),
        ),
        (
            "transaction/bet",
            h.bet_body("b-1", 10 * EUR, "r-1"),
            Some(("b-1", 90 * EUR)),
        ),
        (
            "transaction/win",
            h.win_body("w-1", 15 * EUR, "r-1", "b-1"),
            Some(("w-1", 105 * EUR)),
        ),
        (
            "transaction/bet",
            h.bet_body("b-2", 5 * EUR, "r-1"),
            Some(("b-2", 100 * EUR)),
        ),
        (
            "transaction/rollback",
            h.rollback_body("rb-2", "b-2"),
            Some(("rb-2", 105 * EUR)),
        ),
    ];
    for (http, (route, body, balance)) in ALL.into_iter().cycle().zip(calls) {
        let reply = h.call(http, route, &with_unknown_fields(body)).await;
        assert_eq!(reply.status, StatusCode::OK, "{route}");
        match balance {
            Some((uuid, balance)) => expect(&reply, "RS_OK", uuid, balance),
            None => assert_eq!(
                reply.text(),
                r#"{"user":"player-1","status":"RS_OK","request_uuid":"rq-info","country":"MT","jurisdiction":"MGA","registration_date":"2026-01-01"}"#
            ),
        }
    }
    assert_eq!(h.w.balance().await["cash"], "105.00");
    h.w.server.stop().await;
}

#[tokio::test]
async fn the_catalogues_refusals_are_invalid_game_wrong_currency_and_limit_reached() {
    let dir = tempfile::tempdir().unwrap();
    let h = Hub::new(dir.path()).await;
    h.w.catalogue(h.partner, "clt_dragonrising").await;
    expect(&h.bet(Http::V1, "b-ok", EUR, "r-1").await, "RS_OK", "b-ok", 99 * EUR);
    // 60.00 is above the game's 50.00, 0.05 below its 0.10.
    let over = h.bet(Http::V1, "b-over", 60 * EUR, "r-1").await;
    expect(&over, "RS_ERROR_LIMIT_REACHED", "b-over", 99 * EUR);
    let under = h.bet(Http::V2, "b-under", EUR / 20, "r-1").await;
    expect(&under, "RS_ERROR_LIMIT_REACHED", "b-under", 99 * EUR);
    let mut unknown = h.bet_body("b-unknown", EUR, "r-2");
    unknown["game_code"] = json!("clt_not_catalogued");
    let unknown = h.call(Http::V1, "transaction/bet", &unknown).await;
    expect(&unknown, "RS_ERROR_INVALID_GAME", "b-unknown", 99 * EUR);
    h.w.set_game_enabled(h.partner, "clt_dragonrising", false).await;
    let disabled = h.bet(Http::V1, "b-off", EUR, "r-1").await;
    expect(&disabled, "RS_ERROR_INVALID_GAME", "b-off", 99 * EUR);
    // The round's win still lands on a disabled game.
    let win = h
        .call(Http::V1, "transaction/win", &h.win_body("w-1", 2 * EUR, "r-1", "b-ok"))
        .await;
    expect(&win, "RS_OK", "w-1", 101 * EUR);
    h.w.server.stop().await;
}
