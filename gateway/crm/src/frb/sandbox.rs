//! A sandbox of Pragmatic Play's Free Rounds Bonus API: a real HTTP server
//! on loopback that speaks what the client speaks ([`super`]), for tests
//! and local use (`croupier sandbox pragmatic-frb`).
//!
//! `createFRB`, `cancelFRB` and `getPlayersFRB` check `secureLogin` and the
//! hash (error 5, as the seamless wallet's invalid hash), then the
//! parameters (error 7). It remembers every bonus code: a second
//! `createFRB` of a code answers error 120 "Bonus code already exists",
//! a `cancelFRB` of a code it never made error 121 "Bonus not found" (the
//! codes 120 and 121 are the sandbox's own: see the client's notes).
//! Its control side: `GET /sandbox/bonuses` lists what it holds (with the
//! calls each code received), `POST /sandbox/faults` `{"errors": n}` makes
//! the next n calls answer 503.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use edge::sandbox::LoopbackServer;
use engine::HashKey;
use serde::{Deserialize, Serialize};

use super::{Answer, PATH, PlayerBonus};

/// Most bonuses kept: a sandbox, not a database.
const BONUSES_MAX: usize = 100_000;

/// A call's form parameters.
pub struct Form(Vec<(String, String)>);

impl Form {
    /// Parses a form body.
    pub fn parse(body: &[u8]) -> Form {
        Form(form_urlencoded::parse(body).into_owned().collect())
    }

    /// A parameter, if given and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }

    /// Whether its `hash` is Pragmatic Play's hash of the rest with `key`
    /// (a parameter given twice never matches: which one was signed would
    /// be a guess).
    pub fn hash_matches(&self, key: &HashKey) -> bool {
        let mut names: Vec<&str> = self.0.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|pair| pair[0] == pair[1]) {
            return false;
        }
        let params = self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        self.get("hash")
            .is_some_and(|given| protocol::pragmatic::hash_matches(params, given, key))
    }
}

/// A bonus the sandbox holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    /// Its code.
    pub bonus_code: String,
    /// The player.
    pub player_id: String,
    /// The currency.
    pub currency: String,
    /// The games, separated by commas.
    pub game_id_list: String,
    /// Rounds given.
    pub rounds: u32,
    /// The stake sent (`coinValue`), if any.
    pub coin_value: Option<String>,
    /// Expiry, seconds since the epoch.
    pub expiration_date: u64,
    /// Whether it was cancelled.
    pub cancelled: bool,
    /// `createFRB` calls that named it and passed the checks.
    pub creates: u32,
    /// `cancelFRB` calls that named it and passed the checks.
    pub cancels: u32,
}

#[derive(Default)]
struct Inner {
    bonuses: BTreeMap<String, Held>,
    errors_left: u32,
}

#[derive(Clone)]
struct Shared {
    secure_login: Arc<str>,
    key: HashKey,
    inner: Arc<Mutex<Inner>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sandbox, serving until stopped.
pub struct Sandbox {
    server: LoopbackServer,
}

impl Sandbox {
    /// Binds `listen` (loopback) and serves, accepting `secure_login` with
    /// hashes made with `secret_key`.
    pub async fn start(secure_login: &str, secret_key: &HashKey, listen: SocketAddr) -> std::io::Result<Sandbox> {
        let listener = LoopbackServer::bind("the Pragmatic Play FRB sandbox", listen).await?;
        let shared = Shared {
            secure_login: secure_login.into(),
            key: secret_key.clone(),
            inner: Arc::default(),
        };
        let router = axum::Router::new()
            .route(&format!("{PATH}/{{method}}"), post(api))
            .route("/sandbox/bonuses", get(bonuses))
            .route("/sandbox/faults", post(faults))
            .with_state(shared);
        Ok(Sandbox {
            server: LoopbackServer::serve("the Pragmatic Play FRB sandbox", listener, router)?,
        })
    }

    /// Its base URL (`http://127.0.0.1:<port>`).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Serves until the process ends.
    pub async fn wait(self) {
        self.server.wait().await
    }

    /// Stops serving.
    pub async fn stop(self) {
        self.server.stop().await
    }
}

fn answer(error: &str, description: &str) -> Response {
    let body = Answer {
        error: error.to_owned(),
        description: description.to_owned(),
        bonuses: None,
    };
    (StatusCode::OK, Json(body)).into_response()
}

async fn api(State(shared): State<Shared>, Path(method): Path<String>, body: axum::body::Bytes) -> Response {
    let params = Form::parse(&body);
    if params.get("secureLogin") != Some(&*shared.secure_login) || !params.hash_matches(&shared.key) {
        return answer("5", "Invalid hash code");
    }
    let mut inner = shared.lock();
    if inner.errors_left > 0 {
        inner.errors_left -= 1;
        return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
    }
    match method.as_str() {
        "createFRB" => create(&mut inner, &params),
        "cancelFRB" => cancel(&mut inner, &params),
        "getPlayersFRB" => players(&inner, &params),
        _ => (StatusCode::NOT_FOUND, "no such method").into_response(),
    }
}

fn create(inner: &mut Inner, params: &Form) -> Response {
    let required = [
        "playerId",
        "currency",
        "gameIDList",
        "rounds",
        "bonusCode",
        "expirationDate",
    ];
    let [
        Some(player),
        Some(currency),
        Some(games),
        Some(rounds),
        Some(code),
        Some(expiry),
    ] = required.map(|name| params.get(name))
    else {
        return answer("7", "Bad parameters");
    };
    let (Ok(rounds), Ok(expiry)) = (rounds.parse::<u32>(), expiry.parse::<u64>()) else {
        return answer("7", "Bad parameters");
    };
    if rounds == 0 {
        return answer("7", "Bad parameters");
    }
    if let Some(held) = inner.bonuses.get_mut(code) {
        held.creates += 1;
        return answer("120", "Bonus code already exists");
    }
    if inner.bonuses.len() >= BONUSES_MAX {
        return (StatusCode::TOO_MANY_REQUESTS, "too many bonuses kept").into_response();
    }
    inner.bonuses.insert(
        code.to_owned(),
        Held {
            bonus_code: code.to_owned(),
            player_id: player.to_owned(),
            currency: currency.to_owned(),
            game_id_list: games.to_owned(),
            rounds,
            coin_value: params.get("coinValue").map(str::to_owned),
            expiration_date: expiry,
            cancelled: false,
            creates: 1,
            cancels: 0,
        },
    );
    answer("0", "OK")
}

fn cancel(inner: &mut Inner, params: &Form) -> Response {
    let Some(code) = params.get("bonusCode") else {
        return answer("7", "Bad parameters");
    };
    match inner.bonuses.get_mut(code) {
        Some(held) => {
            held.cancels += 1;
            held.cancelled = true;
            answer("0", "OK")
        }
        None => answer("121", "Bonus not found"),
    }
}

fn players(inner: &Inner, params: &Form) -> Response {
    let Some(player) = params.get("playerId") else {
        return answer("7", "Bad parameters");
    };
    let bonuses = inner
        .bonuses
        .values()
        .filter(|held| held.player_id == player && !held.cancelled)
        .map(|held| PlayerBonus {
            bonus_code: held.bonus_code.clone(),
            game_id_list: held.game_id_list.clone(),
            rounds: held.rounds,
            rounds_remaining: held.rounds,
            expiration_date: held.expiration_date,
        })
        .collect();
    let body = Answer {
        error: "0".into(),
        description: "OK".into(),
        bonuses: Some(bonuses),
    };
    (StatusCode::OK, Json(body)).into_response()
}

async fn bonuses(State(shared): State<Shared>) -> Response {
    let held: Vec<Held> = shared.lock().bonuses.values().cloned().collect();
    Json(held).into_response()
}

#[derive(Deserialize)]
struct Faults {
    errors: u32,
}

async fn faults(State(shared): State<Shared>, Json(faults): Json<Faults>) -> Response {
    shared.lock().errors_left = faults.errors;
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{CreateFrb, FrbClient, FrbConfig, FrbError};
    use super::*;

    fn call(code: &str) -> CreateFrb {
        CreateFrb {
            player_id: "p7".into(),
            currency: "EUR".into(),
            games: vec!["vs20olympgate".into(), "vs10bbbonanza".into()],
            rounds: 10,
            bonus_code: code.into(),
            coin_value: "0.20".into(),
            expiration_s: 1_900_000_000,
        }
    }

    fn client(url: String, key: &str) -> FrbClient {
        FrbClient::new(FrbConfig {
            base_url: url,
            secure_login: "casino".into(),
            secret_key: HashKey::new(key).unwrap(),
            timeout: Duration::from_secs(5),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn the_client_and_the_sandbox_agree() {
        let key = HashKey::new("frbKey").unwrap();
        let sandbox = Sandbox::start("casino", &key, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let good = client(sandbox.url(), "frbKey");
        good.create(&call("cr-1")).await.unwrap();
        // A repeat is the same grant: a success, still one bonus.
        good.create(&call("cr-1")).await.unwrap();
        let listed = good.players_frb("p7").await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].bonus_code, "cr-1");
        assert_eq!(listed[0].game_id_list, "vs20olympgate,vs10bbbonanza");
        assert_eq!(listed[0].rounds, 10);
        good.cancel("cr-1").await.unwrap();
        assert!(good.players_frb("p7").await.unwrap().is_empty());
        // Nothing to cancel is a success too.
        good.cancel("cr-unknown").await.unwrap();
        // A wrong key: a refusal, not a retry.
        let wrong = client(sandbox.url(), "otherKey");
        let refused = wrong.create(&call("cr-2")).await.unwrap_err();
        assert_eq!(
            refused,
            FrbError::Refused {
                code: "5".into(),
                description: "Invalid hash code".into()
            }
        );
        assert!(!refused.is_transient());
        // A 503 is a retry.
        let http = reqwest::Client::new();
        http.post(format!("{}/sandbox/faults", sandbox.url()))
            .header("content-type", "application/json")
            .body(r#"{"errors": 1}"#)
            .send()
            .await
            .unwrap();
        let busy = good.create(&call("cr-3")).await.unwrap_err();
        assert!(busy.is_transient(), "{busy:?}");
        good.create(&call("cr-3")).await.unwrap();
        let text = http
            .get(format!("{}/sandbox/bonuses", sandbox.url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let held: Vec<Held> = serde_json::from_str(&text).unwrap();
        let codes: Vec<_> = held
            .iter()
            .map(|h| (h.bonus_code.as_str(), h.creates, h.cancelled))
            .collect();
        assert_eq!(codes, [("cr-1", 2, true), ("cr-3", 1, false)]);
        assert_eq!(held[0].coin_value.as_deref(), Some("0.20"));
        sandbox.stop().await;
    }
}
