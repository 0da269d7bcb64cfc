//! The Pragmatic Play seamless-wallet adapter end to end, written from
//! Pragmatic Play's integration documentation (Seamless Wallet API): a real
//! server on a loopback port, an aggregator registered with a secret key,
//! form-encoded requests hashed as the documentation says (MD5 of the
//! parameters sorted by name as `key=value&…`, followed by the key), over
//! HTTP/1.1, HTTP/2 and HTTP/3. Refusals are checked not to grow the journal.

use crate::support;

use md5::{Digest, Md5};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{ALL, Http, Reply, TestServer, World};

const KEY: &str = "testKey";
const DAY: u64 = 86_400_000;

/// A world with a Pragmatic Play aggregator and a session of the player for it.
struct Pp {
    w: World,
    partner: u32,
    token: String,
}

impl Pp {
    /// A world in a fresh temporary directory (kept alive by the caller).
    async fn start() -> (tempfile::TempDir, Pp) {
        let dir = tempfile::tempdir().unwrap();
        let pp = Pp::new(dir.path()).await;
        (dir, pp)
    }

    async fn new(dir: &std::path::Path) -> Pp {
        Pp::on(World::new(dir).await).await
    }

    /// A Pragmatic Play aggregator and a session on the world `w`.
    async fn on(w: World) -> Pp {
        let body = json!({"name": "pragmatic", "pragmatic_secret_key": KEY});
        let created = w.create_aggregator(Http::V1, body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        let partner = created.json()["aggregator"].as_u64().unwrap() as u32;
        assert_eq!(
            created.text(),
            format!(r#"{{"aggregator":{partner},"name":"pragmatic","signature":"md5"}}"#)
        );
        let mut pp = Pp {
            w,
            partner,
            token: String::new(),
        };
        pp.token = pp.issue_token(60_000).await;
        pp
    }

    async fn issue_token(&self, ttl_ms: u64) -> String {
        let body = json!({"player": self.w.player, "currency": "EUR", "aggregator": self.partner, "ttl_ms": ttl_ms});
        let path = "/operator/v1/sessions";
        let issued = self
            .w
            .server
            .op(Http::V1, &self.w.admin, Method::POST, path, Some(body))
            .await;
        assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text());
        issued.json()["token"].as_str().unwrap().to_owned()
    }

    /// Posts `body` as a form to `/pragmatic/{partner}/{method}.html`.
    async fn post(&self, http: Http, partner: &str, method: &str, content_type: &str, body: String) -> Reply {
        let path = format!("/pragmatic/{partner}/{method}.html");
        let headers = [("content-type", content_type.to_owned())];
        let reply = self
            .w
            .server
            .send(http, Method::POST, &path, &headers, Some(body.into_bytes()))
            .await;
        assert_eq!(
            reply.content_type.as_deref(),
            Some("application/json"),
            "{}",
            reply.text()
        );
        reply
    }

    /// A call hashed with `key` (`None`: no hash parameter).
    async fn call_with(&self, http: Http, method: &str, params: &[(&str, &str)], key: Option<&str>) -> Reply {
        let body = form(params, key);
        let partner = self.partner.to_string();
        self.post(http, &partner, method, "application/x-www-form-urlencoded", body)
            .await
    }

    /// A correctly hashed call; its JSON answer (always HTTP 200).
    async fn call(&self, http: Http, method: &str, params: &[(&str, &str)]) -> Value {
        let reply = self.call_with(http, method, params, Some(KEY)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.json()
    }

    fn user(&self) -> String {
        format!("player-{}", self.w.player)
    }

    /// The documented parameters of a bet (a `result` takes the same).
    fn bet_params<'a>(&'a self, user: &'a str, reference: &'a str, amount: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("userId", user),
            ("gameId", "vs20doghouse"),
            ("roundId", "5103188801"),
            ("amount", amount),
            ("reference", reference),
            ("providerId", "PragmaticPlay"),
            ("timestamp", "1470911565345"),
            ("roundDetails", "spin"),
            ("platform", "WEB"),
            ("token", &self.token),
        ]
    }

    async fn bet(&self, http: Http, reference: &str, amount: &str) -> Value {
        let user = self.user();
        self.call(http, "bet", &self.bet_params(&user, reference, amount)).await
    }

    async fn result(&self, http: Http, reference: &str, amount: &str) -> Value {
        let user = self.user();
        self.call(http, "result", &self.bet_params(&user, reference, amount))
            .await
    }

    async fn cash(&self) -> String {
        self.w.balance().await["cash"].as_str().unwrap().to_owned()
    }
}

/// The documentation's hash: the parameters but `hash`, sorted by name,
/// `key=value` joined with `&`, then the secret key; MD5 in hex.
fn pp_hash(params: &[(&str, &str)], key: &str) -> String {
    let mut sorted: Vec<_> = params.iter().filter(|(name, _)| *name != "hash").collect();
    sorted.sort();
    let joined: Vec<String> = sorted.iter().map(|(name, value)| format!("{name}={value}")).collect();
    let digest = Md5::digest(format!("{}{key}", joined.join("&")).as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The form body of `params`, with `hash` under `key` if one is given.
fn form(params: &[(&str, &str)], key: Option<&str>) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    serializer.extend_pairs(params.iter());
    if let Some(key) = key {
        serializer.append_pair("hash", &pp_hash(params, key));
    }
    serializer.finish()
}

/// A form's parameters, owned.
type Form = Vec<(String, String)>;

fn error(reply: &Value) -> u64 {
    reply["error"].as_u64().unwrap_or(u64::MAX)
}

#[tokio::test]
async fn a_game_from_authenticate_to_end_round_on_every_transport() {
    for http in ALL {
        let (_dir, pp) = Pp::start().await;
        let auth_params = [
            ("token", pp.token.as_str()),
            ("providerId", "PragmaticPlay"),
            ("gameId", "vs20doghouse"),
        ];
        let auth = pp.call(http, "authenticate", &auth_params).await;
        let token = &pp.token;
        assert_eq!(
            auth,
            json!({"userId": "player-1", "token": token, "currency": "EUR", "cash": 100.0, "bonus": 0.0,
                "country": "MT", "error": 0, "description": "Success"})
        );
        let user = pp.user();
        let balance_params = [
            ("userId", user.as_str()),
            ("providerId", "PragmaticPlay"),
            ("token", token),
        ];
        let balance = pp.call(http, "balance", &balance_params).await;
        assert_eq!(
            balance,
            json!({"currency": "EUR", "cash": 100.0, "bonus": 0.0, "totalBalance": 100.0, "error": 0,
                "description": "Success"})
        );
        let bet = pp
            .call_with(http, "bet", &pp.bet_params(&user, "1001", "10.50"), Some(KEY))
            .await;
        // Amounts are exact decimals in major units.
        let transaction = bet.json()["transactionId"].as_u64().unwrap();
        assert_eq!(
            bet.text(),
            format!(
                r#"{{"currency":"EUR","cash":89.50,"bonus":0.00,"transactionId":{transaction},"usedPromo":0.00,"error":0,"description":"Success"}}"#
            )
        );
        let result = pp.result(http, "1002", "25.00").await;
        assert_eq!((error(&result), result["cash"].clone()), (0, json!(114.5)));
        let end = [
            ("userId", user.as_str()),
            ("gameId", "vs20doghouse"),
            ("roundId", "5103188801"),
            ("providerId", "PragmaticPlay"),
            ("token", token),
        ];
        for _ in 0..2 {
            // A repeated endRound succeeds.
            let ended = pp.call(http, "endRound", &end).await;
            assert_eq!(
                ended,
                json!({"currency": "EUR", "cash": 114.5, "bonus": 0.0, "error": 0, "description": "Success"})
            );
        }
        // The round is closed: a late result on it is refused, not paid.
        assert_eq!(error(&pp.result(http, "1003", "1.00").await), 120);
        let games = [
            ("userId", user.as_str()),
            ("providerId", "PragmaticPlay"),
            ("gameIdList", "vs20doghouse,vs25wolfgold"),
        ];
        let per_game = pp.call(http, "getBalancePerGame", &games).await;
        assert_eq!(
            per_game["gamesBalances"],
            json!([{"gameID": "vs20doghouse", "cash": 114.5, "bonus": 0.0},
                {"gameID": "vs25wolfgold", "cash": 114.5, "bonus": 0.0}])
        );
        assert_eq!(pp.cash().await, "114.50");
        pp.w.server.stop().await;
    }
}

#[tokio::test]
async fn the_hash_and_the_partner_are_checked_before_anything_else() {
    let (_dir, pp) = Pp::start().await;
    let user = pp.user();
    let params = pp.bet_params(&user, "2001", "1.00");
    let applied = pp.w.server.commands_applied().await;
    let good = form(&params, Some(KEY));
    let partner = pp.partner.to_string();
    let native = pp.w.aggregator.id.to_string();
    let form_type = "application/x-www-form-urlencoded";
    let cases: Vec<(&str, &str, String, &str, u64)> = vec![
        ("no hash", &partner, form(&params, None), form_type, 5),
        ("another key", &partner, form(&params, Some("otherKey")), form_type, 5),
        (
            "a changed amount",
            &partner,
            good.replace("amount=1.00", "amount=9.00"),
            form_type,
            5,
        ),
        (
            "an added parameter",
            &partner,
            format!("{good}&bonusCode=x"),
            form_type,
            5,
        ),
        ("unknown partner", "99", good.clone(), form_type, 5),
        ("a native aggregator", &native, good.clone(), form_type, 5),
        ("a partner that is no number", "pp", good.clone(), form_type, 5),
        ("not a form", &partner, good.clone(), "application/json", 7),
    ];
    for (http, (name, partner, body, content_type, expected)) in ALL.into_iter().cycle().zip(cases) {
        let reply = pp.post(http, partner, "bet", content_type, body).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}");
        assert_eq!(error(&reply.json()), expected, "{name}: {}", reply.text());
        assert!(reply.json().get("cash").is_none(), "{name}");
    }
    assert_eq!(
        pp.w.server.commands_applied().await,
        applied,
        "the journal did not grow"
    );
    // The hash's hex digits may come in upper case.
    let upper = good.replace(&pp_hash(&params, KEY), &pp_hash(&params, KEY).to_uppercase());
    let reply = pp.post(Http::V1, &partner, "bet", form_type, upper).await;
    assert_eq!(error(&reply.json()), 0, "{}", reply.text());
    assert_eq!(pp.cash().await, "99.00");
    pp.w.server.stop().await;
}

#[tokio::test]
async fn a_repeated_reference_moves_nothing_and_answers_the_current_balance() {
    let (_dir, pp) = Pp::start().await;
    let first = pp.bet(Http::V1, "3001", "10.00").await;
    assert_eq!((error(&first), first["cash"].clone()), (0, json!(90.0)));
    let result = pp.result(Http::V2, "3002", "5.00").await;
    assert_eq!(result["cash"], json!(95.0));
    let applied = pp.w.server.commands_applied().await;
    for http in ALL {
        let repeat = pp.bet(http, "3001", "10.00").await;
        // The same transaction, today's balance.
        assert_eq!(repeat["transactionId"], first["transactionId"]);
        assert_eq!((error(&repeat), repeat["cash"].clone()), (0, json!(95.0)));
        let repeat_result = pp.result(http, "3002", "5.00").await;
        assert_eq!(repeat_result["transactionId"], result["transactionId"]);
    }
    assert_eq!(pp.w.server.commands_applied().await, applied, "no second transaction");
    // The same reference with another amount is not a repeat.
    assert_eq!(error(&pp.bet(Http::V1, "3001", "20.00").await), 7);
    assert_eq!(pp.cash().await, "95.00");
    pp.w.server.stop().await;
}

/// A refund's documented parameters: it names the bet by its reference.
fn refund_params<'a>(user: &'a str, token: &'a str, reference: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("userId", user),
        ("reference", reference),
        ("providerId", "PragmaticPlay"),
        ("token", token),
    ]
}

#[tokio::test]
async fn a_refund_before_its_bet_succeeds_and_the_late_bet_is_refused() {
    let (_dir, pp) = Pp::start().await;
    let user = pp.user();
    for http in ALL {
        // Unknown: success and nothing moves; repeated: the same.
        let early = pp.call(http, "refund", &refund_params(&user, &pp.token, "4001")).await;
        assert_eq!((error(&early), early["cash"].clone()), (0, json!(100.0)));
    }
    let late = pp.bet(Http::V1, "4001", "5.00").await;
    assert_eq!(error(&late), 3, "the refunded bet is not taken: {late}");
    assert_eq!(pp.bet(Http::V2, "4002", "5.00").await["cash"], json!(95.0));
    for http in ALL {
        let refunded = pp.call(http, "refund", &refund_params(&user, &pp.token, "4002")).await;
        assert_eq!((error(&refunded), refunded["cash"].clone()), (0, json!(100.0)));
    }
    assert_eq!(pp.cash().await, "100.00");
    pp.w.server.stop().await;
}

/// A responsible-gambling limit reached answers 50 (bet limit) and a due
/// reality check 210 (reality check warning), each with the balance, and
/// neither moves money.
#[tokio::test]
async fn a_limit_answers_50_and_a_due_reality_check_210() {
    let (_dir, mut pp) = Pp::start().await;
    // A session that outlives the reality check's minute.
    pp.token = pp.issue_token(DAY).await;
    let (s, admin) = (&pp.w.server, &pp.w.admin);
    let limit = json!({"currency": "EUR", "metric": "wager", "period": "day", "amount": "20.00"});
    let path = format!("/operator/v1/players/{}/limits", pp.w.player);
    let set = s.op(Http::V1, admin, Method::PUT, &path, Some(limit)).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    assert_eq!(error(&pp.bet(Http::V1, "7001", "15.00").await), 0);
    let over = pp.bet(Http::V2, "7002", "10.00").await;
    assert_eq!((error(&over), over["cash"].clone()), (50, json!(85.0)));

    let path = format!("/operator/v1/players/{}/reality-check", pp.w.player);
    let every_minute = json!({"interval_minutes": 1});
    let set = s.op(Http::V1, admin, Method::PUT, &path, Some(every_minute)).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    // The first bet opens the play session; a minute later a check is due.
    assert_eq!(error(&pp.bet(Http::V1, "7003", "1.00").await), 0);
    s.advance(60_000);
    let due = pp.bet(Http::V3, "7004", "1.00").await;
    assert_eq!((error(&due), due["cash"].clone()), (210, json!(84.0)));
    assert_eq!(pp.cash().await, "84.00", "refusals moved nothing");
    pp.w.server.stop().await;
}

/// An outcome in doubt (the bet held in the sequencer past the request
/// timeout) answers 100, the retryable internal error, with HTTP 503.
/// Pragmatic Play's retry of the same reference learns the outcome: the
/// bet is taken once.
#[tokio::test]
async fn an_outcome_in_doubt_answers_100_and_the_retry_lands_once() {
    let dir = tempfile::tempdir().unwrap();
    let (server, gate) = TestServer::start_gated_timing_out(dir.path(), 300).await;
    let pp = Pp::on(World::on(server).await).await;
    let user = pp.user();
    gate.set(true);
    let held = pp
        .call_with(Http::V1, "bet", &pp.bet_params(&user, "6001", "10.00"), Some(KEY))
        .await;
    assert_eq!(held.status, StatusCode::SERVICE_UNAVAILABLE, "{}", held.text());
    assert_eq!(error(&held.json()), 100, "{}", held.text());
    gate.set(false);
    let retried = pp.bet(Http::V1, "6001", "10.00").await;
    assert_eq!((error(&retried), retried["cash"].clone()), (0, json!(90.0)));
    let again = pp.bet(Http::V2, "6001", "10.00").await;
    assert_eq!(again["transactionId"], retried["transactionId"]);
    assert_eq!(pp.cash().await, "90.00", "taken once");
    pp.w.server.stop().await;
}

#[tokio::test]
async fn insufficient_funds_a_blocked_player_and_an_expired_token() {
    let (_dir, pp) = Pp::start().await;
    let broke = pp.bet(Http::V1, "5001", "500.00").await;
    assert_eq!((error(&broke), broke["cash"].clone()), (1, json!(100.0)));
    assert_eq!(pp.bet(Http::V1, "5002", "10.00").await["cash"], json!(90.0));
    let s = &pp.w.server;
    let path = format!("/operator/v1/players/{}/self-exclusion", pp.w.player);
    let until = json!({"until_ms": s.now() + DAY});
    assert_eq!(
        s.op(Http::V1, &pp.w.admin, Method::POST, &path, Some(until))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(error(&pp.bet(Http::V2, "5003", "1.00").await), 6);
    // Money owed lands all the same.
    assert_eq!(pp.result(Http::V3, "5004", "2.00").await["cash"], json!(92.0));
    s.advance(60_001);
    assert_eq!(error(&pp.bet(Http::V1, "5005", "1.00").await), 4);
    let auth = [("token", pp.token.as_str()), ("providerId", "PragmaticPlay")];
    assert_eq!(error(&pp.call(Http::V1, "authenticate", &auth).await), 4);
    assert_eq!(pp.result(Http::V1, "5006", "1.00").await["cash"], json!(93.0));
    assert_eq!(pp.cash().await, "93.00");
    pp.w.server.stop().await;
}

#[tokio::test]
async fn zero_wins_promotions_free_rounds_jackpots_and_adjustments() {
    let (_dir, pp) = Pp::start().await;
    let user = pp.user();
    assert_eq!(pp.bet(Http::V1, "6001", "10.00").await["cash"], json!(90.0));
    let zero = pp.result(Http::V2, "6002", "0.00").await;
    assert_eq!((error(&zero), zero["cash"].clone()), (0, json!(90.0)));
    // A campaign prize comes without a token, in the given currency, to cash.
    let promo = [
        ("providerId", "PragmaticPlay"),
        ("timestamp", "1470911565345"),
        ("userId", user.as_str()),
        ("campaignId", "77"),
        ("campaignType", "Tournament"),
        ("amount", "15.00"),
        ("currency", "EUR"),
        ("reference", "6003"),
    ];
    let won = pp.call(Http::V3, "promoWin", &promo).await;
    assert_eq!((error(&won), won["cash"].clone()), (0, json!(105.0)));
    assert_eq!(pp.cash().await, "105.00");
    // A free round stakes nothing; its result pays; the bonus total moves nothing.
    let mut free = pp.bet_params(&user, "6004", "1.00");
    free[2] = ("roundId", "free-1");
    free.push(("bonusCode", "frb-9"));
    assert_eq!(pp.call(Http::V1, "bet", &free).await["cash"], json!(105.0));
    free[4] = ("reference", "6005");
    free[3] = ("amount", "4.00");
    assert_eq!(pp.call(Http::V2, "result", &free).await["cash"], json!(109.0));
    let bonus_win = [
        ("userId", user.as_str()),
        ("amount", "4.00"),
        ("reference", "6006"),
        ("providerId", "PragmaticPlay"),
        ("timestamp", "1470911565345"),
        ("bonusCode", "frb-9"),
    ];
    let reported = pp.call(Http::V3, "bonusWin", &bonus_win).await;
    assert_eq!((error(&reported), reported["cash"].clone()), (0, json!(109.0)));
    let mut jackpot = pp.bet_params(&user, "6007", "50.00");
    jackpot.push(("jackpotId", "jp-1"));
    assert_eq!(pp.call(Http::V1, "jackpotWin", &jackpot).await["cash"], json!(159.0));
    // An adjustment stakes when negative and pays when positive.
    let mut adjust = pp.bet_params(&user, "6008", "-9.00");
    adjust.push(("validBetAmount", "9.00"));
    assert_eq!(pp.call(Http::V2, "adjustment", &adjust).await["cash"], json!(150.0));
    adjust[4] = ("reference", "6009");
    adjust[3] = ("amount", "2.50");
    assert_eq!(pp.call(Http::V3, "adjustment", &adjust).await["cash"], json!(152.5));
    assert_eq!(pp.cash().await, "152.50");
    pp.w.server.stop().await;
}

#[tokio::test]
async fn bad_parameters_and_strangers_get_their_codes_and_change_nothing() {
    let (_dir, pp) = Pp::start().await;
    let user = pp.user();
    let other_session = pp.w.token.clone();
    let bet = pp.bet_params(&user, "7001", "1.00");
    let with = |key: &'static str, value: &'static str| -> Form {
        let mut params: Form = bet.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        params.retain(|(k, _)| k != key);
        if !value.is_empty() {
            params.push((key.to_owned(), value.to_owned()));
        }
        params
    };
    let mut cases: Vec<(&str, Form, u64)> = vec![
        ("missing amount", with("amount", ""), 7),
        ("missing reference", with("reference", ""), 7),
        ("missing providerId", with("providerId", ""), 7),
        ("missing timestamp", with("timestamp", ""), 7),
        ("a tenth of a cent", with("amount", "1.001"), 7),
        ("an exponent", with("amount", "1e3"), 7),
        ("a negative stake", with("amount", "-1.00"), 7),
        ("a comma", with("amount", "1,00"), 7),
        (
            "a reference too long",
            with(
                "reference",
                "r-that-is-far-too-long-for-a-reference-of-ours-0123456789-0123456789",
            ),
            7,
        ),
        ("a game id that is no code", with("gameId", "vs 20"), 8),
        ("userId in another case", with("userId", "Player-1"), 2),
        ("an unknown player", with("userId", "player-9"), 2),
        ("not our name", with("userId", "1"), 2),
        ("an unknown token", with("token", "clt_nope"), 4),
        ("a bet without a token", with("token", ""), 4),
    ];
    cases.push((
        "another aggregator's token",
        with("token", "")
            .into_iter()
            .chain([("token".to_owned(), other_session)])
            .collect(),
        4,
    ));
    let applied = pp.w.server.commands_applied().await;
    for (http, (name, params, expected)) in ALL.into_iter().cycle().zip(cases) {
        let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let reply = pp.call(http, "bet", &borrowed).await;
        assert_eq!(error(&reply), expected, "{name}: {reply}");
    }
    // A parameter given twice: which one was hashed is a guess.
    let twice = format!("{}&amount=1.00", form(&bet, Some(KEY)));
    let partner = pp.partner.to_string();
    let reply = pp
        .post(Http::V1, &partner, "bet", "application/x-www-form-urlencoded", twice)
        .await;
    assert_eq!(error(&reply.json()), 7);
    let promo = [
        ("providerId", "PragmaticPlay"),
        ("timestamp", "1"),
        ("userId", user.as_str()),
        ("campaignId", "77"),
        ("campaignType", "Tournament"),
        ("amount", "1.00"),
        ("currency", "XYZ"),
        ("reference", "7002"),
    ];
    assert_eq!(error(&pp.call(Http::V2, "promoWin", &promo).await), 7);
    assert_eq!(
        pp.w.server.commands_applied().await,
        applied,
        "the journal did not grow"
    );
    assert_eq!(pp.cash().await, "100.00");
    pp.w.server.stop().await;
}

/// A tolerant reader: every call with parameters the documentation does
/// not list (Pragmatic Play adds some over time) is answered error 0.
#[tokio::test]
async fn unknown_parameters_are_ignored_on_every_call() {
    let (_dir, pp) = Pp::start().await;
    let user = pp.user();
    let token = pp.token.as_str();
    let common = [
        ("userId", user.as_str()),
        ("providerId", "PragmaticPlay"),
        ("token", token),
    ];
    let round = [("gameId", "vs20doghouse"), ("roundId", "8"), ("timestamp", "1")];
    let money = |reference, amount| [("reference", reference), ("amount", amount)];
    let calls: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("authenticate", vec![("token", token), ("providerId", "PragmaticPlay")]),
        ("balance", common.to_vec()),
        ("bet", [&common[..], &round, &money("8001", "2.00")].concat()),
        ("result", [&common[..], &round, &money("8002", "1.00")].concat()),
        (
            "jackpotWin",
            [&common[..], &round, &money("8003", "1.00"), &[("jackpotId", "j")]].concat(),
        ),
        (
            "bonusWin",
            [&common[..], &money("8004", "1.00"), &[("timestamp", "1")]].concat(),
        ),
        (
            "promoWin",
            [
                &common[..2],
                &money("8005", "1.00"),
                &[
                    ("timestamp", "1"),
                    ("campaignId", "c"),
                    ("campaignType", "Tournament"),
                    ("currency", "EUR"),
                ],
            ]
            .concat(),
        ),
        ("adjustment", [&common[..], &round, &money("8006", "1.00")].concat()),
        ("refund", [&common[..], &[("reference", "8001")]].concat()),
        ("endRound", [&common[..], &round[..2]].concat()),
        (
            "getBalancePerGame",
            [&common[..], &[("gameIdList", "vs20doghouse")]].concat(),
        ),
    ];
    for (http, (method, mut params)) in ALL.into_iter().cycle().zip(calls) {
        params.extend([
            ("aNewParameter", "x"),
            ("specPrizes[0].specPrizeCode", "y"),
            ("empty", ""),
        ]);
        let reply = pp.call(http, method, &params).await;
        assert_eq!(error(&reply), 0, "{method}: {reply}");
    }
    // 100 - 2 (bet) + 1 (result) + 1 (jackpot) + 1 (promotion) + 1 (adjustment) + 2 (refund)
    assert_eq!(pp.cash().await, "104.00");
    pp.w.server.stop().await;
}

#[tokio::test]
async fn operators_register_pragmatic_aggregators_only_with_a_valid_key() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    for (body, code) in [
        (
            json!({"name": "pp-2", "pragmatic_secret_key": "a key"}),
            "invalid_secret_key",
        ),
        (
            json!({"name": "pp-3", "pragmatic_secret_key": ""}),
            "invalid_secret_key",
        ),
        (
            json!({"name": "pp-4", "pragmatic_secret_key": "k", "rsa_public_key": "x"}),
            "invalid_request",
        ),
    ] {
        let refused = w.create_aggregator(Http::V1, body).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text());
        assert_eq!(refused.json()["error"]["code"], code);
    }
    w.server.stop().await;
}

#[tokio::test]
async fn the_catalogues_refusals_are_8_310_and_3() {
    let (_dir, pp) = Pp::start().await;
    pp.w.catalogue(pp.partner, "vs20doghouse").await;
    assert_eq!(pp.bet(Http::V1, "6001", "1.00").await["cash"], json!(99.0));
    let over = pp.bet(Http::V1, "6002", "60.00").await;
    assert_eq!((error(&over), over["cash"].clone()), (310, json!(99.0)));
    assert_eq!(error(&pp.bet(Http::V2, "6003", "0.05").await), 310);
    let user = pp.user();
    let mut params = pp.bet_params(&user, "6004", "1.00");
    params[1] = ("gameId", "vs_not_catalogued");
    assert_eq!(error(&pp.call(Http::V1, "bet", &params).await), 8);
    pp.w.set_game_enabled(pp.partner, "vs20doghouse", false).await;
    assert_eq!(error(&pp.bet(Http::V1, "6005", "1.00").await), 8);
    pp.w.set_game_enabled(pp.partner, "vs20doghouse", true).await;
    // A game Malta's players may not play: the game allowed in Sweden only.
    let game = json!({"provider": "studio", "name": "A Game", "type": "slot", "volatility": "high",
        "rtp_variants_bp": [9650], "rtp_default_bp": 9650,
        "limits": [{"currency": "EUR", "min": "0.10", "max": "50.00"}], "jurisdictions": ["SE"]});
    let path = format!("/operator/v1/games/{}/vs20doghouse", pp.partner);
    let put =
        pp.w.server
            .op(Http::V1, &pp.w.admin, Method::PUT, &path, Some(game))
            .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    assert_eq!(error(&pp.bet(Http::V1, "6006", "1.00").await), 3);
    assert_eq!(pp.cash().await, "99.00");
    pp.w.server.stop().await;
}

#[tokio::test]
async fn a_jackpot_win_on_a_covered_game_is_paid_from_the_operators_pool() {
    let (_dir, pp) = Pp::start().await;
    let user = pp.user();
    let pool = json!({"code": "doghouse", "name": "Dog House Mega", "currency": "EUR",
        "games": [{"aggregator": pp.partner, "code": "vs20doghouse"}], "contribution_bp": 1000, "seed": "20.00"});
    let created =
        pp.w.server
            .op(Http::V1, &pp.w.admin, Method::POST, "/operator/v1/jackpots", Some(pool))
            .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    // 10 % of the 10.00 stake goes to the pool.
    assert_eq!(pp.bet(Http::V1, "7001", "10.00").await["cash"], json!(90.0));
    assert_eq!(doghouse(&pp.w).await["balance"], json!("21.00"));
    // 25.00 won: the pool pays its 21.00, the operator the other 4.00; the
    // pool is reseeded.
    let mut jackpot = pp.bet_params(&user, "7002", "25.00");
    jackpot.push(("jackpotId", "jp-doghouse"));
    let won = pp.call(Http::V2, "jackpotWin", &jackpot).await;
    assert_eq!((error(&won), won["cash"].clone()), (0, json!(115.0)));
    let pool = doghouse(&pp.w).await;
    assert_eq!(
        (
            pool["balance"].clone(),
            pool["wins"].clone(),
            pool["last_win"]["amount"].clone()
        ),
        (json!("20.00"), json!(1), json!("21.00"))
    );
    // A retry pays nothing again.
    let again = pp.call(Http::V2, "jackpotWin", &jackpot).await;
    assert_eq!(again["cash"], json!(115.0));
    assert_eq!(doghouse(&pp.w).await["wins"], json!(1));
    pp.w.server.stop().await;
}

async fn doghouse(w: &World) -> Value {
    let path = "/operator/v1/jackpots/doghouse";
    w.server.op(Http::V1, &w.admin, Method::GET, path, None).await.json()
}
