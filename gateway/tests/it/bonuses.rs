//! The bonus engine over the operator API: templates journaled and kept by
//! the read model, grants from a template or a claim code queued behind
//! the active bonus, the wagering multiple capped by the jurisdiction, the
//! max bet on the wallet, forfeits; every refusal changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{self, Reply, T0, TestServer, World};

const DAY_MS: u64 = 86_400_000;

fn welcome() -> Value {
    json!({"name": "Welcome match", "kind": "deposit_match", "currency": "EUR", "percent": 100,
        "cap": "100.00", "min_deposit": "10.00", "wagering_x": 30, "expiry_days": 30,
        "contributions": [{"game": "roulette", "pct": 10}], "max_bet": "5.00",
        "claim_code": "WELCOME", "automatic": true})
}

fn no_deposit() -> Value {
    json!({"name": "Free five", "kind": "no_deposit", "currency": "EUR", "amount": "5.00",
        "wagering_x": 20, "expiry_days": 7, "conversion_cap": "50.00"})
}

async fn put_template(s: &TestServer, token: &str, code: &str, body: Value) -> Reply {
    let path = format!("/operator/v1/bonus-templates/{code}");
    s.op(s.h1(), token, Method::PUT, &path, Some(body)).await
}

async fn bonuses_of(s: &TestServer, token: &str, player: u64) -> Reply {
    let path = format!("/operator/v1/players/{player}/bonuses");
    s.op(s.h1(), token, Method::GET, &path, None).await
}

async fn post(s: &TestServer, token: &str, path: &str, body: Value) -> Reply {
    s.op(s.h1(), token, Method::POST, path, Some(body)).await
}

/// (serial, state, amount) of each bonus listed.
fn listed(reply: &Reply) -> Vec<(u64, String, String)> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()["bonuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["serial"].as_u64().unwrap(),
                b["state"].as_str().unwrap().to_owned(),
                b["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn support_token(s: &TestServer, admin: &str) -> String {
    let made = post(
        s,
        admin,
        "/operator/v1/operators",
        json!({"name": "desk", "role": "support"}),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    made.json()["token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_are_journaled_listed_and_bad_ones_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let (s, admin) = (&w.server, w.admin.as_str());
    let set = put_template(s, admin, "welcome", welcome()).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    let body = set.json();
    assert_eq!(body["code"], "welcome");
    assert_eq!(body["kind"], "deposit_match");
    assert_eq!(body["percent"], 100);
    assert_eq!(body["cap"], "100.00");
    assert_eq!(body["min_deposit"], "10.00");
    assert_eq!(body["max_bet"], "5.00");
    assert_eq!(body["claim_code"], "WELCOME");
    assert_eq!(body["contributions"], json!([{"game": "roulette", "pct": 10}]));
    assert_eq!(body["default_contribution_pct"], 100);
    assert_eq!(body["enabled"], true);
    assert!(body.get("amount").is_none());
    let free = put_template(s, admin, "free-five", no_deposit()).await;
    assert_eq!(free.status, StatusCode::OK, "{}", free.text());
    assert_eq!(free.json()["conversion_cap"], "50.00");
    let spins = json!({"name": "Spins", "kind": "free_spins", "currency": "EUR", "count": 10,
        "bet_value": "0.20", "games": ["slots"], "wagering_x": 10, "expiry_days": 3});
    let spins = put_template(s, admin, "spins", spins).await;
    assert_eq!(spins.status, StatusCode::OK, "{}", spins.text());
    assert_eq!(spins.json()["games"], json!(["slots"]));
    // Setting a code again replaces its template.
    let mut renamed = no_deposit();
    renamed["name"] = json!("Free five, renamed");
    let replaced = put_template(s, admin, "free-five", renamed).await;
    assert_eq!(replaced.json()["name"], "Free five, renamed");

    let list = s
        .op(s.h1(), admin, Method::GET, "/operator/v1/bonus-templates", None)
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    let codes: Vec<&str> = list.json()["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap().to_owned().leak() as &str)
        .collect();
    assert_eq!(codes, ["free-five", "spins", "welcome"]);
    let shown = s
        .op(s.h1(), admin, Method::GET, "/operator/v1/bonus-templates/welcome", None)
        .await;
    assert_eq!(shown.json()["name"], "Welcome match");
    let unknown = s
        .op(s.h1(), admin, Method::GET, "/operator/v1/bonus-templates/nope", None)
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "unknown_template".into())
    );

    let applied = s.commands_applied().await;
    let spoil = |field: &str, value: Value| {
        let mut body = welcome();
        body[field] = value;
        body
    };
    let mut no_cap = welcome();
    no_cap.as_object_mut().unwrap().remove("cap");
    for (body, code, names) in [
        (spoil("kind", json!("lottery")), "invalid_template", "kind"),
        (no_cap, "invalid_template", "cap"),
        (spoil("percent", json!(0)), "invalid_template", "percent"),
        (spoil("wagering_x", json!(500)), "invalid_template", "wagering_x"),
        (spoil("expiry_days", json!(0)), "invalid_template", "expiry_days"),
        (
            spoil("contributions", json!([{"game": "slots", "pct": 101}])),
            "invalid_template",
            "contributions[0].pct",
        ),
        (
            spoil("default_contribution_pct", json!(120)),
            "invalid_template",
            "default_contribution_pct",
        ),
        (spoil("max_bet", json!("0")), "invalid_amount", "max_bet"),
        (spoil("currency", json!("XXX")), "unknown_currency", ""),
        (spoil("name", json!("")), "invalid_template", "name"),
    ] {
        let refused = put_template(s, admin, "broken", body).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text());
        assert_eq!(refused.code(), code, "{}", refused.text());
        assert!(refused.text().contains(names), "{}", refused.text());
    }
    let unknown_field = put_template(s, admin, "broken", spoil("colour", json!("red"))).await;
    assert_eq!(
        unknown_field.status,
        StatusCode::BAD_REQUEST,
        "{}",
        unknown_field.text()
    );
    // A claim code is one template's.
    let taken = put_template(s, admin, "other", spoil("name", json!("Another"))).await;
    assert_eq!(
        (taken.status, taken.code()),
        (StatusCode::CONFLICT, "claim_code_taken".into())
    );
    let support = support_token(s, admin).await;
    let forbidden = put_template(s, &support, "broken", no_deposit()).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(
        s.commands_applied().await,
        applied + 1,
        "only the support operator was made"
    );
    // Every role reads them.
    let read = s
        .op(s.h1(), &support, Method::GET, "/operator/v1/bonus-templates", None)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    w.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bonuses_are_granted_queued_listed_and_forfeited() {
    let dir = tempfile::tempdir().unwrap();
    let config = gateway::config::ServeConfig {
        ship_jurisdiction_profiles: true,
        ..support::config(dir.path())
    };
    let w = World::new_with(config).await;
    let (s, admin, p) = (&w.server, w.admin.as_str(), w.player);
    for (code, body) in [("welcome", welcome()), ("free-five", no_deposit())] {
        let set = put_template(s, admin, code, body).await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    }
    let grants = format!("/operator/v1/players/{p}/bonuses");
    let first = post(s, admin, &grants, json!({"template": "welcome", "deposit": "50.00"})).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let first = first.json();
    assert_eq!(
        (&first["serial"], &first["position"], &first["state"]),
        (&json!(1), &json!(0), &json!("active"))
    );
    assert_eq!(
        (&first["amount"], &first["wagering_required"]),
        (&json!("50.00"), &json!("1500.00"))
    );
    assert_eq!((&first["cash"], &first["bonus"]), (&json!("100.00"), &json!("50.00")));
    assert_eq!(first["expires_at_ms"], T0 + 30 * DAY_MS);
    let second = post(s, admin, &grants, json!({"template": "free-five"})).await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text());
    assert_eq!(
        (&second.json()["serial"], &second.json()["state"]),
        (&json!(2), &json!("queued"))
    );
    assert_eq!(second.json()["bonus"], "50.00", "a queued bonus pays nothing yet");
    let claim = format!("/operator/v1/players/{p}/bonuses/claim");
    let third = post(s, admin, &claim, json!({"code": "WELCOME", "deposit": "20.00"})).await;
    assert_eq!(third.status, StatusCode::CREATED, "{}", third.text());
    assert_eq!(
        (&third.json()["serial"], &third.json()["position"]),
        (&json!(3), &json!(2))
    );
    let all = bonuses_of(s, admin, p).await;
    assert_eq!(
        listed(&all),
        [
            (1, "active".into(), "50.00".into()),
            (2, "queued".into(), "5.00".into()),
            (3, "queued".into(), "20.00".into())
        ]
    );
    assert_eq!(all.json()["bonuses"][0]["max_bet"], "5.00");
    assert_eq!(all.json()["bonuses"][1]["conversion_cap"], "50.00");
    assert_eq!(all.json()["bonuses"][0]["conversion_cap"], Value::Null);

    // The active bonus's max bet holds on the wallet.
    let big = w.bet(s.h1(), "big-bet", "6.00", "r1").await;
    assert_eq!(big.status, StatusCode::FORBIDDEN, "{}", big.text());
    assert_eq!(big.code(), "bonus_max_bet_exceeded");
    let small = w.bet(s.h1(), "small-bet", "5.00", "r1").await;
    assert_eq!(small.status, StatusCode::OK, "{}", small.text());

    // Refusals change nothing.
    let applied = s.commands_applied().await;
    for (path, body, status, code) in [
        (
            &grants,
            json!({"template": "nope"}),
            StatusCode::NOT_FOUND,
            "unknown_template",
        ),
        (
            &grants,
            json!({"template": "welcome"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &grants,
            json!({"template": "welcome", "deposit": "5.00"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "deposit_below_minimum",
        ),
        (
            &claim,
            json!({"code": "NOPE"}),
            StatusCode::NOT_FOUND,
            "unknown_bonus_code",
        ),
        (
            &grants,
            json!({"template": "welcome", "colour": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ] {
        let refused = post(s, admin, path, body).await;
        assert_eq!(
            (refused.status, refused.code()),
            (status, code.to_owned()),
            "{}",
            refused.text()
        );
    }
    let nobody = post(
        s,
        admin,
        "/operator/v1/players/999/bonuses",
        json!({"template": "welcome"}),
    )
    .await;
    assert_eq!(
        (nobody.status, nobody.code()),
        (StatusCode::NOT_FOUND, "unknown_player".into())
    );
    let support = support_token(s, admin).await;
    let forbidden = post(s, &support, &grants, json!({"template": "free-five"})).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(
        bonuses_of(s, &support, p).await.status,
        StatusCode::OK,
        "every role reads"
    );
    let mut disabled = no_deposit();
    disabled["enabled"] = json!(false);
    assert_eq!(put_template(s, admin, "off", disabled).await.status, StatusCode::OK);
    let off = post(s, admin, &grants, json!({"template": "off"})).await;
    assert_eq!(
        (off.status, off.code()),
        (StatusCode::CONFLICT, "template_disabled".into())
    );
    assert_eq!(
        s.commands_applied().await,
        applied + 2,
        "the support operator and the template"
    );

    // The queue is bounded: 8 wait behind the active one.
    for n in 0..6 {
        let queued = post(s, admin, &grants, json!({"template": "free-five"})).await;
        assert_eq!(queued.status, StatusCode::CREATED, "{n}: {}", queued.text());
    }
    let full = post(s, admin, &grants, json!({"template": "free-five"})).await;
    assert_eq!(
        (full.status, full.code()),
        (StatusCode::CONFLICT, "bonus_queue_full".into())
    );

    // Forfeits: a queued one by serial, then the active one.
    let forfeit = format!("/operator/v1/players/{p}/bonuses/forfeit");
    let queued = post(s, admin, &forfeit, json!({"serial": 3})).await;
    assert_eq!(queued.status, StatusCode::OK, "{}", queued.text());
    assert_eq!(queued.json()["bonus"], "50.00");
    let unknown = post(s, admin, &forfeit, json!({"serial": 3})).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "unknown_bonus".into())
    );
    let active = post(s, admin, &forfeit, json!({})).await;
    assert_eq!(active.status, StatusCode::OK, "{}", active.text());
    assert_eq!(active.json()["bonus"], "5.00", "the next one became active");
    let after = listed(&bonuses_of(s, admin, p).await);
    assert_eq!(after[0], (2, "active".into(), "5.00".into()));
    assert_eq!(after.len(), 7);
    let usd = post(s, admin, &forfeit, json!({"currency": "USD"})).await;
    assert_eq!(usd.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", usd.text());

    // A UK player's wagering is capped at 10 times the bonus.
    let uk = post(
        s,
        admin,
        "/operator/v1/players",
        json!({"currency": "EUR", "jurisdiction": "GB"}),
    )
    .await;
    assert_eq!(uk.status, StatusCode::CREATED, "{}", uk.text());
    let uk = uk.json()["player"].as_u64().unwrap();
    let path = format!("/operator/v1/players/{uk}/bonuses");
    let capped = post(s, admin, &path, json!({"template": "welcome", "deposit": "50.00"})).await;
    assert_eq!(capped.status, StatusCode::CREATED, "{}", capped.text());
    assert_eq!(capped.json()["wagering_required"], "500.00");
    w.server.stop().await;
}

/// Waits (at most 10 s) until the player's bonus list has `len` bonuses.
async fn wait_for_bonuses(s: &TestServer, token: &str, player: u64, len: usize) -> Vec<(u64, String, String)> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let found = listed(&bonuses_of(s, token, player).await);
        if found.len() >= len {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "player {player} has {found:?}, not {len} bonuses"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_templates_grant_on_deposit_and_registration() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let (s, admin) = (&w.server, w.admin.as_str());
    let matched = json!({"name": "Reload", "kind": "deposit_match", "currency": "EUR", "percent": 50,
        "cap": "20.00", "min_deposit": "10.00", "wagering_x": 10, "expiry_days": 30, "automatic": true});
    let mut free = no_deposit();
    free["automatic"] = json!(true);
    let mut off = no_deposit();
    off["automatic"] = json!(true);
    off["enabled"] = json!(false);
    for (code, body) in [("reload", matched), ("signup", free), ("off", off)] {
        let set = put_template(s, admin, code, body).await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    }
    let p = w.player;
    let deposit = |id: &str, amount: &str| {
        let body = json!({"deposit_id": id, "currency": "EUR", "amount": amount});
        async move { post(s, admin, &format!("/operator/v1/players/{p}/deposits"), body).await }
    };
    // Below the minimum: nothing owed. Then 30.00: 50 % is 15.00.
    assert_eq!(deposit("small", "5.00").await.status, StatusCode::OK);
    assert_eq!(deposit("reload-1", "30.00").await.status, StatusCode::OK);
    let granted = wait_for_bonuses(s, admin, p, 1).await;
    assert_eq!(granted, [(1, "active".into(), "15.00".into())]);
    // 100.00: 50.00 capped at 20.00, queued behind the first.
    assert_eq!(deposit("reload-2", "100.00").await.status, StatusCode::OK);
    let granted = wait_for_bonuses(s, admin, p, 2).await;
    assert_eq!(granted[1], (2, "queued".into(), "20.00".into()));
    let all = bonuses_of(s, admin, p).await.json();
    assert_eq!(all["bonuses"][0]["wagering_required"], "150.00");

    // A new player gets the enabled no-deposit template, once.
    let made = post(
        s,
        admin,
        "/operator/v1/players",
        json!({"currency": "EUR", "jurisdiction": "MT"}),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let newcomer = made.json()["player"].as_u64().unwrap();
    let granted = wait_for_bonuses(s, admin, newcomer, 1).await;
    assert_eq!(granted, [(1, "active".into(), "5.00".into())]);
    // A later deposit of the newcomer's is matched too; the no-deposit
    // bonus is not granted again.
    let body = json!({"deposit_id": "nc-1", "currency": "EUR", "amount": "10.00"});
    let paid = post(s, admin, &format!("/operator/v1/players/{newcomer}/deposits"), body).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.text());
    let granted = wait_for_bonuses(s, admin, newcomer, 2).await;
    assert_eq!(
        granted,
        [(1, "active".into(), "5.00".into()), (2, "queued".into(), "5.00".into())]
    );
    assert_eq!(listed(&bonuses_of(s, admin, p).await).len(), 2);
    w.server.stop().await;
}
