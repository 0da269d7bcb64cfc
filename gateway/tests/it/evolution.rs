//! The Evolution One Wallet adapter end to end: a real server on a loopback
//! port, an aggregator registered for Evolution (its `authToken` made by the
//! server), JSON calls with `?authToken=` over HTTP/1.1, HTTP/2 and HTTP/3:
//! settlements, retransmissions, cancels before debits, refusals.
//! Refusals before the ledger are checked not to grow the journal.

use crate::support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{ALL, Http, Reply, TestServer, World};

const DAY: u64 = 86_400_000;

/// A world with an Evolution aggregator and a session of the player for it.
struct Evo {
    w: World,
    partner: u32,
    auth_token: String,
    sid: String,
}

impl Evo {
    async fn start() -> (tempfile::TempDir, Evo) {
        let dir = tempfile::tempdir().unwrap();
        let evo = Evo::on(World::new(dir.path()).await).await;
        (dir, evo)
    }

    /// An Evolution aggregator and a session on the world `w`.
    async fn on(w: World) -> Evo {
        let created = w
            .create_aggregator(Http::V1, json!({"name": "evolution", "evolution": true}))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        let created = created.json();
        assert_eq!(created["signature"], "token");
        let partner = created["aggregator"].as_u64().unwrap() as u32;
        let auth_token = created["secret"].as_str().unwrap().to_owned();
        let body = json!({"player": w.player, "currency": "EUR", "aggregator": partner, "ttl_ms": 60_000});
        let issued = w
            .server
            .op(Http::V1, &w.admin, Method::POST, "/operator/v1/sessions", Some(body))
            .await;
        let sid = issued.json()["token"].as_str().unwrap().to_owned();
        Evo {
            w,
            partner,
            auth_token,
            sid,
        }
    }

    /// Posts `body` to `/evolution/{partner}/{call}?authToken={token}`:
    /// the reply, whatever its status.
    async fn send(&self, http: Http, call: &str, token: &str, body: &Value) -> Reply {
        let path = format!("/evolution/{}/{call}?authToken={token}", self.partner);
        let headers = [("content-type", "application/json".to_owned())];
        let bytes = body.to_string().into_bytes();
        self.w
            .server
            .send(http, Method::POST, &path, &headers, Some(bytes))
            .await
    }

    /// [`Evo::send`], answered HTTP 200: its JSON.
    async fn post(&self, http: Http, call: &str, token: &str, body: &Value) -> Value {
        let reply = self.send(http, call, token, body).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.json()
    }

    async fn call(&self, http: Http, call: &str, body: &Value) -> Value {
        self.post(http, call, &self.auth_token, body).await
    }

    /// A body as Evolution's documentation shows it, with a transaction.
    fn money(&self, uuid: &str, id: &str, ref_id: &str, amount: f64) -> Value {
        json!({"sid": self.sid, "userId": format!("player-{}", self.w.player), "currency": "EUR",
            "game": {"id": "round-1", "type": "blackjack", "details": {"table": {"id": "t1", "vid": null}}},
            "transaction": {"id": id, "refId": ref_id, "amount": amount}, "uuid": uuid})
    }

    async fn cash(&self) -> String {
        self.w.balance().await["cash"].as_str().unwrap().to_owned()
    }
}

fn status(reply: &Value) -> &str {
    reply["status"].as_str().unwrap_or("<none>")
}

#[tokio::test]
async fn a_session_from_check_to_settlement_on_every_transport() {
    for http in ALL {
        let (_dir, evo) = Evo::start().await;
        let user = format!("player-{}", evo.w.player);
        let check = json!({"sid": evo.sid, "userId": user, "channel": {"type": "P"}, "uuid": "u-check"});
        assert_eq!(
            evo.call(http, "check", &check).await,
            json!({"status": "OK", "sid": evo.sid, "uuid": "u-check"})
        );
        let balance = json!({"sid": evo.sid, "userId": user, "currency": "EUR", "game": null, "uuid": "u-bal"});
        assert_eq!(
            evo.call(http, "balance", &balance).await,
            json!({"status": "OK", "balance": 100.0, "bonus": 0.0, "uuid": "u-bal"})
        );
        let debit = evo.call(http, "debit", &evo.money("u-d1", "D1", "R1", 5.5)).await;
        assert_eq!(
            debit,
            json!({"status": "OK", "balance": 94.5, "bonus": 0.0, "uuid": "u-d1"})
        );
        let credit = evo.call(http, "credit", &evo.money("u-c1", "C1", "R1", 11.0)).await;
        assert_eq!((status(&credit), credit["balance"].clone()), ("OK", json!(105.5)));
        let promo = json!({"sid": evo.sid, "userId": user, "currency": "EUR", "game": null, "uuid": "u-p1",
            "promoTransaction": {"type": "FreeRoundPlayableSpent", "id": "P1", "amount": 2.25}});
        assert_eq!(evo.call(http, "promo_payout", &promo).await["balance"], json!(107.75));
        assert_eq!(evo.cash().await, "107.75");
        evo.w.server.stop().await;
    }
}

#[tokio::test]
async fn one_settlement_per_bet_and_retransmissions_move_nothing() {
    let (_dir, evo) = Evo::start().await;
    assert_eq!(
        status(&evo.call(Http::V1, "debit", &evo.money("u1", "D1", "R1", 10.0)).await),
        "OK"
    );
    assert_eq!(
        status(&evo.call(Http::V1, "debit", &evo.money("u2", "D2", "R2", 10.0)).await),
        "OK"
    );
    let credit = evo.call(Http::V2, "credit", &evo.money("u3", "C1", "R1", 30.0)).await;
    assert_eq!(credit["balance"], json!(110.0));
    let applied = evo.w.server.commands_applied().await;
    for http in ALL {
        // A retransmission: the same answer with today's balance, nothing moves.
        let again = evo.call(http, "credit", &evo.money("u3", "C1", "R1", 30.0)).await;
        assert_eq!((status(&again), again["balance"].clone()), ("OK", json!(110.0)));
        let debit_again = evo.call(http, "debit", &evo.money("u1", "D1", "R1", 10.0)).await;
        assert_eq!(
            (status(&debit_again), debit_again["balance"].clone()),
            ("OK", json!(110.0))
        );
    }
    assert_eq!(evo.w.server.commands_applied().await, applied, "no second transaction");
    // A second settlement of a settled bet, of either kind.
    let other_credit = evo.call(Http::V1, "credit", &evo.money("u4", "C2", "R1", 5.0)).await;
    assert_eq!(status(&other_credit), "BET_ALREADY_SETTLED");
    let cancel_settled = evo.call(Http::V2, "cancel", &evo.money("u5", "X1", "R1", 10.0)).await;
    assert_eq!(status(&cancel_settled), "BET_ALREADY_SETTLED");
    // A cancel settles R2 (the stake comes back); a credit after it is refused.
    let cancel = evo.call(Http::V3, "cancel", &evo.money("u6", "X2", "R2", 10.0)).await;
    assert_eq!((status(&cancel), cancel["balance"].clone()), ("OK", json!(120.0)));
    let late_credit = evo.call(Http::V1, "credit", &evo.money("u7", "C3", "R2", 50.0)).await;
    assert_eq!(status(&late_credit), "BET_ALREADY_SETTLED");
    assert_eq!(evo.cash().await, "120.00");
    evo.w.server.stop().await;
}

/// An outcome in doubt (the debit held in the sequencer past the request
/// timeout) answers `TEMPORARY_ERROR` with HTTP 503, the status on which
/// Evolution retransmits; the retransmission learns the outcome, and the
/// debit is taken once.
#[tokio::test]
async fn an_outcome_in_doubt_is_a_temporary_error_and_the_retransmission_lands_once() {
    let dir = tempfile::tempdir().unwrap();
    let (server, gate) = TestServer::start_gated_timing_out(dir.path(), 300).await;
    let evo = Evo::on(World::on(server).await).await;
    let debit = evo.money("u-held", "d-held", "ref-held", 10.0);
    gate.set(true);
    let held = evo.send(Http::V1, "debit", &evo.auth_token, &debit).await;
    assert_eq!(held.status, StatusCode::SERVICE_UNAVAILABLE, "{}", held.text());
    assert_eq!(
        (status(&held.json()), held.json()["uuid"].clone()),
        ("TEMPORARY_ERROR", json!("u-held"))
    );
    gate.set(false);
    let retransmitted = evo.call(Http::V2, "debit", &debit).await;
    assert_eq!(status(&retransmitted), "OK", "{retransmitted}");
    assert_eq!(retransmitted["balance"], json!(90.0));
    assert_eq!(evo.cash().await, "90.00", "taken once");
    evo.w.server.stop().await;
}

#[tokio::test]
async fn settling_a_debit_never_taken_and_a_cancel_before_its_debit() {
    let (_dir, evo) = Evo::start().await;
    for http in ALL {
        let credit = evo.call(http, "credit", &evo.money("u1", "C9", "R9", 5.0)).await;
        assert_eq!(status(&credit), "BET_DOES_NOT_EXIST");
    }
    let cancel = evo.call(Http::V1, "cancel", &evo.money("u2", "X8", "R8", 5.0)).await;
    assert_eq!(status(&cancel), "BET_DOES_NOT_EXIST");
    // The debit after its cancel is refused: its stake is never taken.
    let late = evo.call(Http::V2, "debit", &evo.money("u3", "D8", "R8", 5.0)).await;
    assert_eq!(status(&late), "BET_ALREADY_SETTLED");
    assert_eq!(evo.cash().await, "100.00");
    evo.w.server.stop().await;
}

#[tokio::test]
async fn insufficient_funds_a_locked_account_and_an_expired_sid() {
    let (_dir, evo) = Evo::start().await;
    let broke = evo.call(Http::V1, "debit", &evo.money("u1", "D1", "R1", 500.0)).await;
    assert_eq!(
        (status(&broke), broke["balance"].clone()),
        ("INSUFFICIENT_FUNDS", json!(100.0))
    );
    assert_eq!(
        status(&evo.call(Http::V1, "debit", &evo.money("u2", "D2", "R2", 10.0)).await),
        "OK"
    );
    let s = &evo.w.server;
    let path = format!("/operator/v1/players/{}/self-exclusion", evo.w.player);
    let until = json!({"until_ms": s.now() + DAY});
    assert_eq!(
        s.op(Http::V1, &evo.w.admin, Method::POST, &path, Some(until))
            .await
            .status,
        StatusCode::OK
    );
    let locked = evo.call(Http::V2, "debit", &evo.money("u3", "D3", "R3", 1.0)).await;
    assert_eq!(status(&locked), "ACCOUNT_LOCKED");
    // Settlements land all the same.
    let credit = evo.call(Http::V3, "credit", &evo.money("u4", "C2", "R2", 4.0)).await;
    assert_eq!((status(&credit), credit["balance"].clone()), ("OK", json!(94.0)));
    s.advance(60_001);
    let expired = evo.call(Http::V1, "debit", &evo.money("u5", "D5", "R5", 1.0)).await;
    assert_eq!(status(&expired), "INVALID_SID");
    let user = format!("player-{}", evo.w.player);
    let check = json!({"sid": evo.sid, "userId": user, "uuid": "u6"});
    assert_eq!(status(&evo.call(Http::V1, "check", &check).await), "INVALID_SID");
    assert_eq!(evo.cash().await, "94.00");
    evo.w.server.stop().await;
}

#[tokio::test]
async fn tokens_sids_and_parameters_are_checked_before_the_ledger() {
    let (_dir, evo) = Evo::start().await;
    let good = evo.money("u1", "D1", "R1", 1.0);
    let edit = |path: &[&str], value: Value| {
        let mut body = good.clone();
        let (last, parents) = path.split_last().unwrap();
        let target = parents.iter().fold(&mut body, |node, key| &mut node[*key]);
        match value {
            Value::Null => {
                target.as_object_mut().unwrap().remove(*last);
            }
            value => target[*last] = value,
        }
        body
    };
    let native_sid = evo.w.token.clone();
    let token = evo.auth_token.as_str();
    let cases = [
        ("a wrong authToken", "evo_wrong", good.clone(), "INVALID_TOKEN_ID"),
        ("no authToken", "", good.clone(), "INVALID_TOKEN_ID"),
        (
            "an unknown sid",
            token,
            edit(&["sid"], json!("clt_nope")),
            "INVALID_SID",
        ),
        (
            "another aggregator's sid",
            token,
            edit(&["sid"], json!(native_sid)),
            "INVALID_SID",
        ),
        (
            "another user",
            token,
            edit(&["userId"], json!("player-2")),
            "INVALID_SID",
        ),
        (
            "another currency",
            token,
            edit(&["currency"], json!("USD")),
            "INVALID_PARAMETER",
        ),
        (
            "an amount as text",
            token,
            edit(&["transaction", "amount"], json!("1.00")),
            "INVALID_PARAMETER",
        ),
        (
            "a tenth of a cent",
            token,
            edit(&["transaction", "amount"], json!(1.001)),
            "INVALID_PARAMETER",
        ),
        (
            "a zero stake",
            token,
            edit(&["transaction", "amount"], json!(0)),
            "INVALID_PARAMETER",
        ),
        (
            "a negative stake",
            token,
            edit(&["transaction", "amount"], json!(-1)),
            "INVALID_PARAMETER",
        ),
        (
            "no refId",
            token,
            edit(&["transaction", "refId"], Value::Null),
            "INVALID_PARAMETER",
        ),
        (
            "no round",
            token,
            edit(&["game", "id"], Value::Null),
            "INVALID_PARAMETER",
        ),
        ("no uuid", token, edit(&["uuid"], Value::Null), "INVALID_PARAMETER"),
    ];
    let applied = evo.w.server.commands_applied().await;
    for (http, (name, token, body, expected)) in ALL.into_iter().cycle().zip(cases) {
        let reply = evo.post(http, "debit", token, &body).await;
        assert_eq!(status(&reply), expected, "{name}: {reply}");
        assert!(reply.get("balance").is_none(), "{name}");
    }
    assert_eq!(
        evo.w.server.commands_applied().await,
        applied,
        "the journal did not grow"
    );
    // Fields Evolution may add are ignored.
    let extra = edit(&["transaction", "newField"], json!({"nested": [1]}));
    let extra = {
        let mut extra = extra;
        extra["channel"] = json!({"type": "P", "more": true});
        extra
    };
    assert_eq!(status(&evo.call(Http::V1, "debit", &extra).await), "OK");
    assert_eq!(evo.cash().await, "99.00");
    evo.w.server.stop().await;
}

#[tokio::test]
async fn the_catalogues_refusals_are_invalid_parameter() {
    let (_dir, evo) = Evo::start().await;
    // Evolution names the game by its type.
    evo.w.catalogue(evo.partner, "blackjack").await;
    let ok = evo.call(Http::V1, "debit", &evo.money("u1", "D1", "R1", 1.0)).await;
    assert_eq!((status(&ok), ok["balance"].clone()), ("OK", json!(99.0)));
    let over = evo.call(Http::V1, "debit", &evo.money("u2", "D2", "R2", 60.0)).await;
    assert_eq!(status(&over), "INVALID_PARAMETER");
    let mut unknown = evo.money("u3", "D3", "R3", 1.0);
    unknown["game"]["type"] = json!("baccarat");
    assert_eq!(
        status(&evo.call(Http::V2, "debit", &unknown).await),
        "INVALID_PARAMETER"
    );
    evo.w.set_game_enabled(evo.partner, "blackjack", false).await;
    let off = evo.call(Http::V1, "debit", &evo.money("u4", "D4", "R4", 1.0)).await;
    assert_eq!(status(&off), "INVALID_PARAMETER");
    // The open bet still settles.
    let credit = evo.call(Http::V1, "credit", &evo.money("u5", "C1", "R1", 3.0)).await;
    assert_eq!((status(&credit), credit["balance"].clone()), ("OK", json!(102.0)));
    assert_eq!(evo.cash().await, "102.00");
    evo.w.server.stop().await;
}
