//! Free spins through Pragmatic Play's Free Rounds Bonus API end to end: a
//! real server and the FRB sandbox on loopback. A grant of a free-spins
//! template whose games the configured aggregator carries awards the
//! rounds there once (through two 503s, a repeated grant, and a server
//! restart between the award and its confirmation); the player plays them
//! through the seamless wallet and `bonusWin` with the bonus code credits
//! the winnings as the template's bonus; a cancel reaches the sandbox; a
//! wrong secret key is a refusal (the award fails, nothing retried);
//! templates on games the aggregator does not carry keep the older way;
//! the routes' error paths and roles.

use std::path::Path;
use std::time::{Duration, Instant};

use crm::frb::sandbox::{Held, Sandbox};
use engine::HashKey;
use gateway::config::ServeConfig;
use md5::{Digest, Md5};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{self, Http, Reply, TestServer, World};

const LOGIN: &str = "casino";
const FRB_KEY: &str = "frbKey";
const WALLET_KEY: &str = "walletKey";
const GAME: &str = "vs20olympgate";

fn frb_config(dir: &Path, sandbox: &Sandbox, key: &str, aggregator: u32) -> ServeConfig {
    ServeConfig {
        pragmatic_frb_api_url: Some(sandbox.url()),
        pragmatic_frb_secure_login: Some(LOGIN.into()),
        pragmatic_frb_secret_key: Some(key.into()),
        pragmatic_frb_aggregator: Some(aggregator),
        ..support::config(dir)
    }
}

/// A world with a Pragmatic Play aggregator carrying [`GAME`], restarted
/// with the FRB API configured (hashing with `key`), and a free-spins
/// template `spins` on that game.
async fn world(dir: &Path, sandbox: &Sandbox, key: &str) -> (World, u32) {
    let w = World::new(dir).await;
    let body = json!({"name": "pragmatic", "pragmatic_secret_key": WALLET_KEY});
    let created = w.create_aggregator(Http::V1, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let partner = created.json()["aggregator"].as_u64().unwrap() as u32;
    w.catalogue(partner, GAME).await;
    let w = restart(w, dir, sandbox, key, partner).await;
    let template = json!({"name": "Spins", "kind": "free_spins", "currency": "EUR", "count": 10,
        "bet_value": "0.20", "games": [GAME], "wagering_x": 5, "expiry_days": 7});
    let put = op(
        &w,
        &w.admin,
        Method::PUT,
        "/operator/v1/bonus-templates/spins",
        Some(template),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    (w, partner)
}

async fn restart(w: World, dir: &Path, sandbox: &Sandbox, key: &str, partner: u32) -> World {
    let clock = w.server.clock.clone();
    w.server.stop().await;
    let server = TestServer::start_at(frb_config(dir, sandbox, key, partner), clock).await;
    World { server, ..w }
}

async fn op(w: &World, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
    w.server.op(Http::V1, token, method, path, body).await
}

/// Grants `template` under the Idempotency-Key `key`.
async fn grant(w: &World, template: &str, key: &str, winnings: Option<&str>) -> Reply {
    let mut body = json!({"template": template});
    if let Some(winnings) = winnings {
        body["winnings"] = json!(winnings);
    }
    let path = format!("/operator/v1/players/{}/bonuses", w.player);
    let headers = [
        ("authorization", format!("Bearer {}", w.admin)),
        ("content-type", "application/json".to_owned()),
        ("idempotency-key", key.to_owned()),
    ];
    let bytes = serde_json::to_vec(&body).unwrap();
    w.server
        .send(Http::V1, Method::POST, &path, &headers, Some(bytes))
        .await
}

async fn awards(w: &World) -> Vec<Value> {
    let path = format!("/operator/v1/players/{}/free-rounds", w.player);
    let reply = op(w, &w.admin, Method::GET, &path, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()["free_rounds"].as_array().unwrap().clone()
}

/// The award of `code`, once its state is `state` (the worker's calls
/// are asynchronous; a deadline stops a test that would hang).
async fn award_in(w: &World, code: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = awards(w).await.into_iter().find(|a| a["bonus_code"] == json!(code));
        if let Some(award) = &found
            && award["state"] == json!(state)
        {
            return award.clone();
        }
        assert!(Instant::now() < deadline, "{code} never became {state}: {found:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn held(sandbox: &Sandbox) -> Vec<Held> {
    let text = reqwest::get(format!("{}/sandbox/bonuses", sandbox.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

async fn faults(sandbox: &Sandbox, errors: u32) {
    let reply = reqwest::Client::new()
        .post(format!("{}/sandbox/faults", sandbox.url()))
        .header("content-type", "application/json")
        .body(json!({ "errors": errors }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::NO_CONTENT);
}

/// A seamless-wallet call of the Pragmatic Play contract, hashed.
async fn wallet(w: &World, partner: u32, method: &str, params: &[(&str, &str)]) -> Value {
    let mut sorted: Vec<_> = params.to_vec();
    sorted.sort();
    let joined: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let hash: String = Md5::digest(format!("{}{WALLET_KEY}", joined.join("&")).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.extend_pairs(params.iter());
    form.append_pair("hash", &hash);
    let headers = [("content-type", "application/x-www-form-urlencoded".to_owned())];
    let path = format!("/pragmatic/{partner}/{method}.html");
    let reply = w
        .server
        .send(
            Http::V1,
            Method::POST,
            &path,
            &headers,
            Some(form.finish().into_bytes()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let answer = reply.json();
    assert_eq!(answer["error"], json!(0), "{method}: {answer}");
    answer
}

fn as_refs<'a>(params: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    params.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn bonuses(w: &World) -> Vec<Value> {
    let path = format!("/operator/v1/players/{}/bonuses", w.player);
    let reply = op(w, &w.admin, Method::GET, &path, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()["bonuses"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_award_reaches_the_aggregator_once_and_its_winnings_become_the_bonus() {
    let dir = tempfile::tempdir().unwrap();
    let key = HashKey::new(FRB_KEY).unwrap();
    let sandbox = Sandbox::start(LOGIN, &key, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (w, partner) = world(dir.path(), &sandbox, FRB_KEY).await;

    // Two 503s: retried with backoff, then confirmed.
    faults(&sandbox, 2).await;
    let granted = grant(&w, "spins", "grant-1", None).await;
    assert_eq!(granted.status, StatusCode::ACCEPTED, "{}", granted.text());
    let reply = granted.json();
    let code = reply["bonus_code"].as_str().unwrap().to_owned();
    assert_eq!(reply["state"], json!("awarded"));
    assert_eq!(
        (
            &reply["rounds"],
            &reply["bet_value"],
            &reply["games"],
            &reply["aggregator"]
        ),
        (&json!(10), &json!("0.20"), &json!([GAME]), &json!(partner))
    );
    assert_eq!(reply["expires_at_ms"], json!(support::T0 + 7 * 86_400_000));
    let confirmed = award_in(&w, &code, "confirmed").await;
    assert_eq!(confirmed["attempts"], json!(3), "two 503s, then the call");
    // The same grant again: the ledger's duplicate, no second call.
    let again = grant(&w, "spins", "grant-1", None).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.text());
    assert_eq!(again.json()["bonus_code"], json!(code));
    assert_eq!(again.json()["state"], json!("confirmed"));
    let sent = held(&sandbox).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let user = format!("player-{}", w.player);
    assert_eq!(
        (
            sent[0].bonus_code.as_str(),
            sent[0].player_id.as_str(),
            sent[0].game_id_list.as_str(),
            sent[0].rounds,
            sent[0].coin_value.as_deref(),
            sent[0].creates
        ),
        (code.as_str(), user.as_str(), GAME, 10, Some("0.20"), 1)
    );
    assert_eq!(sent[0].expiration_date, (support::T0 + 7 * 86_400_000) / 1000);

    // A second award, every call failing until the server restarts: the
    // outbox row survives, the new worker makes the call once.
    faults(&sandbox, 1_000).await;
    let second = grant(&w, "spins", "grant-2", None).await;
    assert_eq!(second.status, StatusCode::ACCEPTED, "{}", second.text());
    let second = second.json()["bonus_code"].as_str().unwrap().to_owned();
    assert_ne!(second, code);
    let w = restart(w, dir.path(), &sandbox, FRB_KEY, partner).await;
    assert_eq!(
        awards(&w)
            .await
            .iter()
            .find(|a| a["bonus_code"] == json!(second))
            .unwrap()["state"],
        json!("awarded")
    );
    faults(&sandbox, 2).await;
    award_in(&w, &second, "confirmed").await;
    let sent = held(&sandbox).await;
    assert_eq!(sent.iter().map(|h| h.creates).collect::<Vec<_>>(), [1, 1], "{sent:?}");

    // The player plays the first award's rounds: they stake nothing and
    // their results pay nothing; bonusWin credits the total as the bonus.
    let session = op(
        &w,
        &w.admin,
        Method::POST,
        "/operator/v1/sessions",
        Some(json!({"player": w.player, "currency": "EUR", "aggregator": partner, "ttl_ms": 60_000})),
    )
    .await;
    assert_eq!(session.status, StatusCode::CREATED, "{}", session.text());
    let token = session.json()["token"].as_str().unwrap().to_owned();
    let round = |reference: &'static str, amount: &'static str| {
        vec![
            ("userId", user.clone()),
            ("gameId", GAME.to_owned()),
            ("roundId", "free-1".to_owned()),
            ("amount", amount.to_owned()),
            ("reference", reference.to_owned()),
            ("providerId", "PragmaticPlay".to_owned()),
            ("timestamp", "1470911565345".to_owned()),
            ("token", token.clone()),
            ("bonusCode", code.clone()),
        ]
    };
    let bet = round("f-1", "0.20");
    assert_eq!(wallet(&w, partner, "bet", &as_refs(&bet)).await["cash"], json!(100.0));
    let result = round("f-2", "4.00");
    assert_eq!(
        wallet(&w, partner, "result", &as_refs(&result)).await["cash"],
        json!(100.0)
    );
    assert!(bonuses(&w).await.is_empty(), "nothing credited before bonusWin");
    // Another provider's free round (a code we did not grant) keeps the
    // older way: its result pays cash.
    let mut other = round("o-1", "1.50");
    other[8].1 = "theirs-1".into();
    assert_eq!(
        wallet(&w, partner, "result", &as_refs(&other)).await["cash"],
        json!(101.5)
    );
    let bonus_win = [
        ("userId", user.as_str()),
        ("amount", "4.00"),
        ("reference", "f-3"),
        ("providerId", "PragmaticPlay"),
        ("timestamp", "1470911565345"),
        ("bonusCode", code.as_str()),
    ];
    let won = wallet(&w, partner, "bonusWin", &bonus_win).await;
    assert_eq!((won["cash"].clone(), won["bonus"].clone()), (json!(101.5), json!(4.0)));
    // Reported again: credited once.
    wallet(&w, partner, "bonusWin", &bonus_win).await;
    let list = bonuses(&w).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(
        (&list[0]["amount"], &list[0]["wagering_required"], &list[0]["state"]),
        (&json!("4.00"), &json!("20.00"), &json!("active")),
        "the template's wagering multiple"
    );
    let won = award_in(&w, &code, "won").await;
    assert_eq!(won["winnings"], json!("4.00"));

    // Cancel the second award: the sandbox is asked, the award says so.
    let path = format!("/operator/v1/players/{}/free-rounds/{second}/cancel", w.player);
    let cancel = op(&w, &w.admin, Method::POST, &path, None).await;
    assert_eq!(cancel.status, StatusCode::ACCEPTED, "{}", cancel.text());
    assert_eq!(cancel.json()["state"], json!("cancelling"));
    award_in(&w, &second, "cancelled").await;
    let sent = held(&sandbox).await;
    let cancelled = sent.iter().find(|h| h.bonus_code == second).unwrap();
    assert!(cancelled.cancelled && cancelled.cancels == 1, "{cancelled:?}");
    // Its error paths.
    let again = op(&w, &w.admin, Method::POST, &path, None).await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, "free_rounds_not_cancellable".into())
    );
    let won_path = format!("/operator/v1/players/{}/free-rounds/{code}/cancel", w.player);
    let won = op(&w, &w.admin, Method::POST, &won_path, None).await;
    assert_eq!(
        (won.status, won.code()),
        (StatusCode::CONFLICT, "free_rounds_not_cancellable".into())
    );
    let unknown = format!("/operator/v1/players/{}/free-rounds/cr-nothing/cancel", w.player);
    let unknown = op(&w, &w.admin, Method::POST, &unknown, None).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "unknown_free_rounds".into())
    );
    let stranger = format!("/operator/v1/players/999/free-rounds/{code}/cancel");
    let stranger = op(&w, &w.admin, Method::POST, &stranger, None).await;
    assert_eq!(
        (stranger.status, stranger.code()),
        (StatusCode::NOT_FOUND, "unknown_player".into())
    );
    let listed = op(&w, &w.admin, Method::GET, "/operator/v1/players/999/free-rounds", None).await;
    assert_eq!(
        (listed.status, listed.code()),
        (StatusCode::NOT_FOUND, "unknown_player".into())
    );
    // Support reads, but does not cancel.
    let made = op(
        &w,
        &w.admin,
        Method::POST,
        "/operator/v1/operators",
        Some(json!({"name": "desk", "role": "support"})),
    )
    .await;
    let support = made.json()["token"].as_str().unwrap().to_owned();
    let list_path = format!("/operator/v1/players/{}/free-rounds", w.player);
    assert_eq!(
        op(&w, &support, Method::GET, &list_path, None).await.status,
        StatusCode::OK
    );
    let denied = op(&w, &support, Method::POST, &won_path, None).await;
    assert_eq!(
        (denied.status, denied.code()),
        (StatusCode::FORBIDDEN, "forbidden".into())
    );
    // Newest first.
    let states: Vec<_> = awards(&w).await.iter().map(|a| a["state"].clone()).collect();
    assert_eq!(states, [json!("cancelled"), json!("won")]);
    w.server.stop().await;
    sandbox.stop().await;
}

#[tokio::test]
async fn a_refusal_fails_the_award_and_uncarried_games_keep_the_older_way() {
    let dir = tempfile::tempdir().unwrap();
    let key = HashKey::new(FRB_KEY).unwrap();
    let sandbox = Sandbox::start(LOGIN, &key, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    // The server hashes with the wrong key: the sandbox refuses (error 5).
    let (w, _) = world(dir.path(), &sandbox, "wrongKey").await;
    let granted = grant(&w, "spins", "grant-1", None).await;
    assert_eq!(granted.status, StatusCode::ACCEPTED, "{}", granted.text());
    let code = granted.json()["bonus_code"].as_str().unwrap().to_owned();
    let failed = award_in(&w, &code, "failed").await;
    assert_eq!(failed["attempts"], json!(1), "a refusal is not retried");
    assert!(held(&sandbox).await.is_empty());
    // A failed award cannot be cancelled.
    let path = format!("/operator/v1/players/{}/free-rounds/{code}/cancel", w.player);
    let cancel = op(&w, &w.admin, Method::POST, &path, None).await;
    assert_eq!(
        (cancel.status, cancel.code()),
        (StatusCode::CONFLICT, "free_rounds_not_cancellable".into())
    );

    // A template on a game the aggregator does not carry: the winnings
    // given are credited, as before; without them the grant is refused.
    let template = json!({"name": "Other", "kind": "free_spins", "currency": "EUR", "count": 5,
        "bet_value": "0.10", "games": ["elsewhere"], "wagering_x": 2, "expiry_days": 7});
    let put = op(
        &w,
        &w.admin,
        Method::PUT,
        "/operator/v1/bonus-templates/other",
        Some(template),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    let refused = grant(&w, "other", "grant-2", None).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    let credited = grant(&w, "other", "grant-3", Some("3.00")).await;
    assert_eq!(credited.status, StatusCode::CREATED, "{}", credited.text());
    assert_eq!(credited.json()["amount"], json!("3.00"));
    // Winnings given to the aggregator's template take the older way too.
    let given = grant(&w, "spins", "grant-4", Some("1.00")).await;
    assert_eq!(given.status, StatusCode::CREATED, "{}", given.text());
    assert_eq!(awards(&w).await.len(), 1, "no award for a grant with winnings");
    assert!(held(&sandbox).await.is_empty());
    w.server.stop().await;
    sandbox.stop().await;
}
