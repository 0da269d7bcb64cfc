//! Loyalty and VIP over the operator API: the programme journaled and kept
//! by the read model, points per game type from the history of bets,
//! redemptions into bonus money (never beyond the points, never twice),
//! VIP tiers reviewed at each period's end and set by operators with their
//! history, cashback granted at the period end (the tier's percent
//! overriding), promotion rules and the mixed-product ban at the grant;
//! every refusal changes nothing.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use gateway::config::ServeConfig;

use crate::support::{self, Reply, T0, TestServer, World};

const DAY_MS: u64 = 86_400_000;

fn programme() -> Value {
    json!({"rates": {"slot": "2", "table": "0.5"}, "default_rate": "0.5", "currency": "EUR",
    "redeem_points": 100, "redeem_amount": "1.00", "redeem_wagering_x": 1, "redeem_expiry_days": 30,
    "review_days": 1,
    "tiers": [
        {"code": "silver", "name": "Silver", "min_points": 10, "cashback_pct": 15},
        {"code": "gold", "name": "Gold", "min_points": 1000000, "min_turnover": "1000.00",
         "cashback_pct": 20, "withdrawal_limit": "5000.00", "account_manager": true}
    ]})
}

async fn op(s: &TestServer, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
    s.op(s.h1(), token, method, path, body).await
}

async fn put_programme(s: &TestServer, token: &str, body: Value) -> Reply {
    op(s, token, Method::PUT, "/operator/v1/loyalty/config", Some(body)).await
}

async fn standing(s: &TestServer, token: &str, player: u64) -> Value {
    let path = format!("/operator/v1/players/{player}/loyalty");
    let reply = op(s, token, Method::GET, &path, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()
}

async fn redeem(s: &TestServer, token: &str, player: u64, id: &str, points: u64) -> Reply {
    let path = format!("/operator/v1/players/{player}/loyalty/redemptions");
    let body = json!({"redemption_id": id, "points": points});
    op(s, token, Method::POST, &path, Some(body)).await
}

async fn token_of(s: &TestServer, admin: &str, role: &str) -> String {
    let body = json!({"name": format!("{role}-desk"), "role": role});
    let made = op(s, admin, Method::POST, "/operator/v1/operators", Some(body)).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    made.json()["token"].as_str().unwrap().to_owned()
}

/// Polls `get` (at most 10 s) until `done` holds for its value.
async fn wait_until<F, Fut>(what: &str, mut get: F, done: impl Fn(&Value) -> bool) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let value = get().await;
        if done(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: still {value}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Registers a player of `jurisdiction` with 100.00 EUR and a game-launch
/// token; returns (player, token).
async fn funded_player(w: &World, jurisdiction: &str) -> (u64, String) {
    let s = &w.server;
    let body = json!({"currency": "EUR", "jurisdiction": jurisdiction});
    let made = op(s, &w.admin, Method::POST, "/operator/v1/players", Some(body)).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let player = made.json()["player"].as_u64().unwrap();
    let path = format!("/operator/v1/players/{player}/deposits");
    let body = json!({"deposit_id": format!("fund-{player}"), "currency": "EUR", "amount": "100.00"});
    let paid = op(s, &w.admin, Method::POST, &path, Some(body)).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.text());
    let body = json!({"player": player, "currency": "EUR", "aggregator": w.aggregator.id, "ttl_ms": 10 * DAY_MS});
    let issued = op(s, &w.admin, Method::POST, "/operator/v1/sessions", Some(body)).await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text());
    (player, issued.json()["token"].as_str().unwrap().to_owned())
}

async fn play(w: &World, token: &str, kind: &str, id: &str, amount: &str) {
    play_on(w, token, "slots", kind, id, amount).await;
}

async fn win(w: &World, token: &str, id: &str, round: &str, amount: &str) {
    let body = json!({"token": token, "transaction_id": id, "round_id": round, "game": "slots",
        "currency": "EUR", "amount": amount});
    let reply = w.wallet(w.server.h1(), "win", body).await;
    assert_eq!(reply.status, StatusCode::OK, "win {id}: {}", reply.text());
}

async fn play_on(w: &World, token: &str, game: &str, kind: &str, id: &str, amount: &str) {
    let body = json!({"token": token, "transaction_id": id, "round_id": id, "game": game,
        "currency": "EUR", "amount": amount});
    let reply = w.wallet(w.server.h1(), kind, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{kind} {id}: {}", reply.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_accrue_per_game_type_and_are_redeemed_once() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let (s, admin, p) = (&w.server, w.admin.as_str(), w.player);
    let support = token_of(s, admin, "support").await;

    let none = op(s, admin, Method::GET, "/operator/v1/loyalty/config", None).await;
    assert_eq!(
        (none.status, none.code()),
        (StatusCode::CONFLICT, "loyalty_not_configured".into())
    );
    let early = redeem(s, admin, p, "early", 1).await;
    assert_eq!(early.code(), "loyalty_not_configured", "{}", early.text());
    // Bad programmes are refused, the field named; nothing is set.
    let spoil = |field: &str, value: Value| {
        let mut body = programme();
        body[field] = value;
        body
    };
    for (body, field) in [
        (spoil("rates", json!({"poker": "1"})), "rates.poker"),
        (spoil("rates", json!({"slot": "1.2345"})), "rates.slot"),
        (spoil("default_rate", json!("-1")), "default_rate"),
        (spoil("redeem_points", json!(0)), "redeem_points"),
        (spoil("review_days", json!(0)), "review_days"),
        (spoil("redeem_wagering_x", json!(201)), "redeem_wagering_x"),
        (
            spoil(
                "tiers",
                json!([{"code": "b", "name": "B", "min_points": 5},
            {"code": "a", "name": "A", "min_points": 1}]),
            ),
            "tiers",
        ),
        (
            spoil(
                "tiers",
                json!([{"code": "b", "name": "B", "min_points": 5, "cashback_pct": 0}]),
            ),
            "tiers[0].cashback_pct",
        ),
    ] {
        let refused = put_programme(s, admin, body).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text());
        assert_eq!(refused.code(), "invalid_loyalty");
        assert!(
            refused.json()["error"]["message"].as_str().unwrap().starts_with(field),
            "{}",
            refused.text()
        );
    }
    let currency = put_programme(s, admin, spoil("currency", json!("XXX"))).await;
    assert_eq!(currency.code(), "unknown_currency");
    let forbidden = put_programme(s, &support, programme()).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let still = op(s, admin, Method::GET, "/operator/v1/loyalty/config", None).await;
    assert_eq!(still.status, StatusCode::CONFLICT);

    // A bet before the programme earns nothing.
    play(&w, &w.token, "bet", "before", "10.00").await;
    let set = put_programme(s, admin, programme()).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    assert_eq!(set.json()["rates"], json!({"slot": "2", "table": "0.5"}));
    assert_eq!(set.json()["tiers"][1]["withdrawal_limit"], "5000.00");
    let shown = op(s, &support, Method::GET, "/operator/v1/loyalty/config", None).await;
    assert_eq!(shown.json()["redeem_amount"], "1.00");

    // A game that is not in the catalogue: the default rate (0.5 a
    // euro); then a slot in it: 2 a euro. Wins earn nothing; a rollback takes its bet's back.
    play_on(&w, &w.token, "classic", "bet", "default-rate", "10.00").await;
    w.catalogue(w.aggregator.id, "slots").await;
    play(&w, &w.token, "bet", "slot-rate", "20.00").await;
    win(&w, &w.token, "slot-win", "slot-rate", "3.00").await;
    play(&w, &w.token, "bet", "undone", "5.00").await;
    let body = json!({"token": w.token, "transaction_id": "undo", "bet_transaction_id": "undone"});
    let undone = w.wallet(s.h1(), "rollback", body).await;
    assert_eq!(undone.status, StatusCode::OK, "{}", undone.text());
    let now = standing(s, &support, p).await;
    assert_eq!(now["points_earned"], 45, "{now}");
    assert_eq!(now["points_available"], 45);
    assert_eq!(now["tier"], Value::Null);

    // Redemptions: never past the points, never twice.
    let zero = redeem(s, admin, p, "zero", 0).await;
    assert_eq!(
        (zero.status, zero.code()),
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    let too_many = redeem(s, admin, p, "greedy", 46).await;
    assert_eq!(too_many.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", too_many.text());
    assert_eq!(too_many.code(), "insufficient_points");
    let by_support = redeem(s, &support, p, "desk", 1).await;
    assert_eq!(by_support.status, StatusCode::FORBIDDEN);
    let unknown = redeem(s, admin, 999, "who", 1).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "unknown_player".into())
    );
    let first = redeem(s, admin, p, "r1", 40).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    assert_eq!(first.json()["amount"], "0.40");
    assert_eq!(first.json()["points_available"], 5);
    let again = redeem(s, admin, p, "r1", 40).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text());
    assert_eq!(again.json()["seq"], first.json()["seq"]);
    assert_eq!(again.json()["points_available"], 5);
    let bonuses = op(
        s,
        admin,
        Method::GET,
        &format!("/operator/v1/players/{p}/bonuses"),
        None,
    )
    .await;
    let listed = bonuses.json()["bonuses"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["amount"], "0.40");
    assert_eq!(listed[0]["wagering_required"], "0.40");
    // Two at once for the last 5 points: one gets them.
    let (a, b) = tokio::join!(redeem(s, admin, p, "race-a", 5), redeem(s, admin, p, "race-b", 5));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::UNPROCESSABLE_ENTITY],
        "{} / {}",
        a.text(),
        b.text()
    );
    let small = redeem(s, admin, p, "tiny", 0).await;
    assert_eq!(small.status, StatusCode::BAD_REQUEST);
    let after = standing(s, &support, p).await;
    assert_eq!(after["points_redeemed"], 45);
    assert_eq!(after["points_available"], 0);
    assert_eq!(after["redemptions"].as_array().unwrap().len(), 2);
    assert_eq!(after["redemptions"][1]["id"], format!("loyalty:{p}:r1"));
    let missing = op(s, admin, Method::GET, "/operator/v1/players/999/loyalty", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiers_are_reviewed_each_period_and_set_by_operators() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let (s, admin, p) = (&w.server, w.admin.as_str(), w.player);
    let support = token_of(s, admin, "support").await;
    let set = put_programme(s, admin, programme()).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    let unset = op(
        s,
        admin,
        Method::PUT,
        &format!("/operator/v1/players/{p}/loyalty/tier"),
        Some(json!({"tier": "platinum"})),
    )
    .await;
    assert_eq!(
        (unset.status, unset.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_tier".into())
    );

    // 10.00 at the default rate: 5 points, no tier; a second player's
    // 1,000.00 of turnover (over 50.00 bets) reaches gold.
    play(&w, &w.token, "bet", "small", "10.00").await;
    let (big, big_token) = funded_player(&w, "MT").await;
    let path = format!("/operator/v1/players/{big}/deposits");
    let body = json!({"deposit_id": "more", "currency": "EUR", "amount": "1000.00"});
    assert_eq!(
        op(s, admin, Method::POST, &path, Some(body)).await.status,
        StatusCode::OK
    );
    for n in 0..20 {
        play(&w, &big_token, "bet", &format!("big-{n}"), "50.00").await;
    }
    s.advance(DAY_MS);
    let period = T0 / DAY_MS;
    let reviewed = wait_until("gold", || standing(s, &support, big), |v| v["tier"]["code"] == "gold").await;
    assert_eq!(reviewed["tier"]["account_manager"], true);
    assert_eq!(reviewed["tier"]["cashback_pct"], 20);
    assert_eq!(reviewed["tier_history"][0]["period"], period);
    assert_eq!(reviewed["tier_history"][0]["operator"], 0);
    assert_eq!(standing(s, &support, p).await["tier"], Value::Null);

    // An operator's decision, journaled with who made it.
    let tier = format!("/operator/v1/players/{p}/loyalty/tier");
    let forbidden = op(s, &support, Method::PUT, &tier, Some(json!({"tier": "silver"}))).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let decided = op(s, admin, Method::PUT, &tier, Some(json!({"tier": "silver"}))).await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.text());
    assert_eq!(decided.json()["tier"], "silver");
    assert_eq!(decided.json()["period"], 0);
    assert_ne!(decided.json()["operator"], 0);
    let audit = op(
        s,
        admin,
        Method::GET,
        &format!("/operator/v1/audit?player={p}&kind=vip_tier"),
        None,
    )
    .await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.text());
    assert_eq!(audit.json()["entries"][0]["after"], "silver", "{}", audit.text());
    let now = standing(s, &support, p).await;
    assert_eq!(now["tier"]["code"], "silver");
    assert_eq!(now["tier"]["cashback_pct"], 15);

    // A period without play: both lose their tiers at the next review.
    s.advance(DAY_MS);
    let dropped = wait_until("silver dropped", || standing(s, &support, p), |v| v["tier"].is_null()).await;
    let history: Vec<Value> = dropped["tier_history"].as_array().unwrap().clone();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["period"], period + 1);
    assert_eq!(history[1]["tier"], "silver");
    wait_until("gold dropped", || standing(s, &support, big), |v| v["tier"].is_null()).await;
}

fn cashback_template() -> Value {
    json!({"name": "Daily cashback", "kind": "cashback", "currency": "EUR", "percent": 10,
        "period_days": 1, "wagering_x": 1, "expiry_days": 7, "automatic": true})
}

async fn bonus_amounts(s: &TestServer, token: &str, player: u64) -> Vec<String> {
    let reply = op(
        s,
        token,
        Method::GET,
        &format!("/operator/v1/players/{player}/bonuses"),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    let amounts = body["bonuses"].as_array().unwrap().iter();
    amounts.map(|b| b["amount"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cashback_is_granted_at_the_period_end_with_the_tiers_percent() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let (s, admin, p) = (&w.server, w.admin.as_str(), w.player);
    let put = op(
        s,
        admin,
        Method::PUT,
        "/operator/v1/bonus-templates/daily",
        Some(cashback_template()),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    assert_eq!(put_programme(s, admin, programme()).await.status, StatusCode::OK);
    // Player 1 loses 15.00 net; player 2, silver by an operator, 10.00; a
    // third wins more than they stake.
    play(&w, &w.token, "bet", "p1-bet", "20.00").await;
    win(&w, &w.token, "p1-win", "p1-bet", "5.00").await;
    let (second, second_token) = funded_player(&w, "MT").await;
    play(&w, &second_token, "bet", "p2-bet", "10.00").await;
    let path = format!("/operator/v1/players/{second}/loyalty/tier");
    let silver = op(s, admin, Method::PUT, &path, Some(json!({"tier": "silver"}))).await;
    assert_eq!(silver.status, StatusCode::OK, "{}", silver.text());
    let (third, third_token) = funded_player(&w, "MT").await;
    play(&w, &third_token, "bet", "p3-bet", "1.00").await;
    win(&w, &third_token, "p3-win", "p3-bet", "4.00").await;
    // Nothing before the period ends.
    assert!(bonus_amounts(s, admin, p).await.is_empty());

    s.advance(DAY_MS);
    let first = wait_until(
        "cashback 1",
        || async { json!(bonus_amounts(s, admin, p).await) },
        |v| v.as_array().unwrap().len() == 1,
    )
    .await;
    assert_eq!(first, json!(["1.50"]));
    let second_bonus = wait_until(
        "cashback 2",
        || async { json!(bonus_amounts(s, admin, second).await) },
        |v| v.as_array().unwrap().len() == 1,
    )
    .await;
    assert_eq!(second_bonus, json!(["1.50"]), "silver's 15 % of 10.00");
    assert!(bonus_amounts(s, admin, third).await.is_empty());

    // The review after the cashback made player 1 silver and took player
    // 2's silver away (5 points).
    wait_until("silver", || standing(s, admin, p), |v| v["tier"]["code"] == "silver").await;

    // A restart runs the period's cashback again: nothing more is granted
    // under the first template; a template set since grants its own (in
    // code order, after the first), at the tiers held now.
    let admin = admin.to_owned();
    let w = w.restart(dir.path()).await;
    let s = &w.server;
    let mut later = cashback_template();
    later["name"] = json!("Later cashback");
    let put = op(
        s,
        &admin,
        Method::PUT,
        "/operator/v1/bonus-templates/daily2",
        Some(later),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    let both = wait_until(
        "cashback 2 for player 2",
        || async { json!(bonus_amounts(s, &admin, second).await) },
        |v| v.as_array().unwrap().len() >= 2,
    )
    .await;
    assert_eq!(both, json!(["1.50", "1.00"]));
    assert_eq!(
        bonus_amounts(s, &admin, p).await,
        ["1.50", "2.25"],
        "silver's 15 % of 15.00"
    );
    assert!(bonus_amounts(s, &admin, third).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_product_templates_are_refused_where_the_jurisdiction_bans_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        ship_jurisdiction_profiles: true,
        ..support::config(dir.path())
    };
    let w = World::new_with(config).await;
    let (s, admin, p) = (&w.server, w.admin.as_str(), w.player);
    let support = token_of(s, admin, "support").await;
    let compliance = token_of(s, admin, "compliance").await;
    // The UK's ban ships (UKGC SR Code 5.1.1(3b)).
    let shipped = wait_until(
        "shipped rules",
        || async {
            op(s, &support, Method::GET, "/operator/v1/promotion-rules", None)
                .await
                .json()
        },
        |v| v["rules"].as_array().unwrap().len() == 2,
    )
    .await;
    assert_eq!(shipped["rules"][0]["jurisdiction"], "GB");
    assert_eq!(shipped["rules"][0]["mixed_product_banned"], true);
    assert_eq!(shipped["rules"][1]["jurisdiction"], "UK");

    let combo = json!({"name": "Bet and spin", "kind": "no_deposit", "currency": "EUR", "amount": "5.00",
        "wagering_x": 5, "expiry_days": 7, "mixed_product": true});
    let put = op(s, admin, Method::PUT, "/operator/v1/bonus-templates/combo", Some(combo)).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    let body = json!({"currency": "EUR", "jurisdiction": "GB"});
    let uk = op(s, admin, Method::POST, "/operator/v1/players", Some(body))
        .await
        .json()["player"]
        .as_u64()
        .unwrap();
    let grant = |player: u64| async move {
        let path = format!("/operator/v1/players/{player}/bonuses");
        op(s, admin, Method::POST, &path, Some(json!({"template": "combo"}))).await
    };
    let refused = grant(uk).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text());
    assert_eq!(refused.code(), "mixed_product_banned");
    assert!(bonus_amounts(s, admin, uk).await.is_empty());
    let granted = grant(p).await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.text());

    // Malta's rules set by compliance; a bad code and a support operator
    // are refused.
    let rules = |code: &str| format!("/operator/v1/promotion-rules/{code}");
    let banned = json!({"mixed_product_banned": true});
    let bad = op(s, admin, Method::PUT, &rules("Malta"), Some(banned.clone())).await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    let forbidden = op(s, &support, Method::PUT, &rules("MT"), Some(banned.clone())).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let set = op(s, &compliance, Method::PUT, &rules("MT"), Some(banned.clone())).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    assert_eq!(set.json()["jurisdiction"], "MT");
    assert_eq!(grant(p).await.code(), "mixed_product_banned");
    // A jurisdiction with none of its own follows the default's.
    let de = op(
        s,
        admin,
        Method::POST,
        "/operator/v1/players",
        Some(json!({"currency": "EUR", "jurisdiction": "DE"})),
    )
    .await
    .json()["player"]
        .as_u64()
        .unwrap();
    assert_eq!(grant(de).await.status, StatusCode::CREATED);
    let default = op(s, admin, Method::PUT, &rules("default"), Some(banned)).await;
    assert_eq!(default.json()["jurisdiction"], "default");
    assert_eq!(grant(de).await.code(), "mixed_product_banned");
    let lifted = op(
        s,
        admin,
        Method::PUT,
        &rules("MT"),
        Some(json!({"mixed_product_banned": false})),
    )
    .await;
    assert_eq!(lifted.status, StatusCode::OK);
    assert_eq!(grant(p).await.status, StatusCode::CREATED);
}
