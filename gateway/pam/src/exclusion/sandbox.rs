//! A sandbox self-exclusion register: a real HTTP server on loopback that
//! speaks the GAMSTOP API v2 protocol the adapter speaks (`gamstop.rs`),
//! for tests and local use (`croupier sandbox gamstop`).
//!
//! Its register side answers as GAMSTOP does: `POST /v2` (a form) with
//! `X-Exclusion` and `X-Unique-Id`, `POST /batch/v2` (a JSON array); 403
//! for a wrong `X-API-Key`, 405 for another method, 400 for a missing
//! field, 429 with `Retry-After` past its rate limit (if one is set). Its
//! control side, under `/sandbox/`, is what a person registering at
//! GAMSTOP would do: `POST /sandbox/exclusions` with the person's fields
//! and `"exclusion": "Y"` (excluded now) or `"P"` (excluded before) adds
//! them, `PUT /sandbox/exclusions/{n}` with `{"exclusion": ...}` changes
//! one (an exclusion ending), and `GET /sandbox/checks` counts the checks
//! received (no personal data), so a test can see who was not asked about.
//!
//! Matching: GAMSTOP's own rule is not published. The sandbox matches a
//! person on the email address, on the mobile number with the date of
//! birth, or on the first and last names with the date of birth and the
//! postcode; each field compared without case and spaces.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use edge::sandbox::LoopbackServer;
use serde::Deserialize;
use serde_json::json;

use super::gamstop::{
    API_KEY_HEADER, BATCH_BODY_MAX_BYTES, BATCH_LEN_MAX, BatchPerson, BatchResult, EXCLUSION_HEADER, FIELDS,
    UNIQUE_ID_HEADER,
};
use super::{Exclusion, PersonDetails};

/// Milliseconds since the epoch: the sandbox's clock (its rate limit's).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Most people registered: a sandbox, not a database.
const RECORDS_MAX: usize = 10_000;

/// The sandbox's key and limits.
#[derive(Clone)]
pub struct SandboxConfig {
    /// The API key clients must present.
    pub api_key: String,
    /// Most requests (checks and batches) a second; `None`: no limit.
    pub requests_per_second_max: Option<u32>,
    /// The clock.
    pub clock: Clock,
}

/// A person as the sandbox compares them: fields lower-cased, spaces out.
#[derive(Clone, PartialEq, Eq)]
struct Key {
    first_name: String,
    last_name: String,
    date_of_birth: String,
    email: String,
    postcode: String,
    mobile: String,
}

impl Key {
    fn of(person: &PersonDetails) -> Key {
        let fold = |text: &str| -> String {
            text.chars()
                .filter(|c| !c.is_whitespace())
                .flat_map(char::to_lowercase)
                .collect()
        };
        Key {
            first_name: fold(&person.first_name),
            last_name: fold(&person.last_name),
            date_of_birth: fold(&person.date_of_birth),
            email: fold(&person.email),
            postcode: fold(&person.postcode),
            mobile: fold(&person.mobile),
        }
    }

    fn matches(&self, other: &Key) -> bool {
        let set = |a: &str, b: &str| !a.is_empty() && a == b;
        set(&self.email, &other.email)
            || (set(&self.mobile, &other.mobile) && set(&self.date_of_birth, &other.date_of_birth))
            || (set(&self.first_name, &other.first_name)
                && set(&self.last_name, &other.last_name)
                && set(&self.date_of_birth, &other.date_of_birth)
                && set(&self.postcode, &other.postcode))
    }
}

struct Inner {
    config: SandboxConfig,
    register: Vec<(Key, Exclusion)>,
    checks: u64,
    batches: u64,
    /// The current rate-limit second and the requests seen in it.
    window: (u64, u32),
}

impl Inner {
    /// The answer about `person`: the first registered match's, else `N`.
    fn answer(&self, person: &PersonDetails) -> Exclusion {
        let key = Key::of(person);
        self.register
            .iter()
            .find(|(known, _)| known.matches(&key))
            .map_or(Exclusion::NotExcluded, |(_, exclusion)| *exclusion)
    }

    /// A reference for the next answer.
    fn reference(&self) -> String {
        format!("sandbox-{:08}", self.checks + self.batches)
    }
}

#[derive(Clone)]
struct Shared(Arc<Mutex<Inner>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A handler that panicked left plain data behind: still usable.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running sandbox.
pub struct Sandbox {
    server: LoopbackServer,
}

impl Sandbox {
    /// Binds `listen` (loopback) and serves until stopped.
    pub async fn start(config: SandboxConfig, listen: SocketAddr) -> std::io::Result<Sandbox> {
        let listener = LoopbackServer::bind("the self-exclusion sandbox", listen).await?;
        let shared = Shared(Arc::new(Mutex::new(Inner {
            config,
            register: Vec::new(),
            checks: 0,
            batches: 0,
            window: (0, 0),
        })));
        let router = axum::Router::new()
            .route("/v2", any(check))
            .route("/batch/v2", any(batch))
            .route("/sandbox/exclusions", post(register))
            .route("/sandbox/exclusions/{n}", put(change))
            .route("/sandbox/checks", get(counts))
            .with_state(shared);
        Ok(Sandbox {
            server: LoopbackServer::serve("the self-exclusion sandbox", listener, router)?,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Its base URL (`http://127.0.0.1:<port>`).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Its single-check URL (`<base>/v2`).
    pub fn check_url(&self) -> String {
        format!("{}/v2", self.url())
    }

    /// Its batch URL (`<base>/batch/v2`).
    pub fn batch_url(&self) -> String {
        format!("{}/batch/v2", self.url())
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

/// A plain-text refusal, as the register answers.
fn refuse(status: StatusCode, text: &'static str) -> Response {
    (status, text).into_response()
}

/// Method, key and rate limit, checked as the register does.
// The refusal is the answer itself, sent at once: not worth a box.
#[allow(clippy::result_large_err)]
fn admit(inner: &mut Inner, method: &Method, headers: &HeaderMap) -> Result<(), Response> {
    if method != Method::POST {
        return Err(refuse(StatusCode::METHOD_NOT_ALLOWED, "use POST"));
    }
    let key = headers.get(API_KEY_HEADER).and_then(|v| v.to_str().ok());
    if key != Some(inner.config.api_key.as_str()) {
        return Err(refuse(StatusCode::FORBIDDEN, "invalid API key or address not allowed"));
    }
    if let Some(max) = inner.config.requests_per_second_max {
        let second = (inner.config.clock)() / 1_000;
        if inner.window.0 != second {
            inner.window = (second, 0);
        }
        if inner.window.1 >= max {
            let mut refused = refuse(StatusCode::TOO_MANY_REQUESTS, "too many requests");
            refused
                .headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
            return Err(refused);
        }
        inner.window.1 += 1;
    }
    Ok(())
}

/// The six fields of a form body; `None` if one is missing or empty.
fn person_of_form(body: &[u8]) -> Option<PersonDetails> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .filter(|value| !value.trim().is_empty())
    };
    let [first, last, born, email, postcode, mobile] = FIELDS;
    Some(PersonDetails {
        first_name: field(first)?,
        last_name: field(last)?,
        date_of_birth: field(born)?,
        email: field(email)?,
        postcode: field(postcode)?,
        mobile: field(mobile)?,
    })
}

async fn check(State(shared): State<Shared>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    let mut inner = shared.lock();
    if let Err(refused) = admit(&mut inner, &method, &headers) {
        return refused;
    }
    let Some(person) = person_of_form(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "missing data: all six fields are required");
    };
    let exclusion = inner.answer(&person);
    let reference = inner.reference();
    inner.checks += 1;
    let mut reply = StatusCode::OK.into_response();
    let headers = reply.headers_mut();
    headers.insert(EXCLUSION_HEADER, HeaderValue::from_static(exclusion.letter()));
    if let Ok(value) = HeaderValue::from_str(&reference) {
        headers.insert(UNIQUE_ID_HEADER, value);
    }
    reply
}

async fn batch(State(shared): State<Shared>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    let mut inner = shared.lock();
    if let Err(refused) = admit(&mut inner, &method, &headers) {
        return refused;
    }
    if body.len() >= BATCH_BODY_MAX_BYTES {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, "the batch must be under 256 KB");
    }
    let Ok(people) = serde_json::from_slice::<Vec<BatchPerson>>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "a JSON array of people is required");
    };
    if people.len() > BATCH_LEN_MAX {
        return refuse(StatusCode::BAD_REQUEST, "at most 1000 people per batch");
    }
    let reference = inner.reference();
    inner.batches += 1;
    let results: Vec<BatchResult> = people
        .iter()
        .enumerate()
        .map(|(n, person)| BatchResult {
            correlation_id: person.correlation_id.clone(),
            exclusion: inner.answer(&person.details()).letter().to_owned(),
            ms_request_id: format!("{reference}-{n}"),
        })
        .collect();
    let mut reply = Json(results).into_response();
    if let Ok(value) = HeaderValue::from_str(&reference) {
        reply.headers_mut().insert(UNIQUE_ID_HEADER, value);
    }
    reply
}

/// A person registered at the sandbox.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Registration {
    first_name: String,
    last_name: String,
    date_of_birth: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    postcode: String,
    #[serde(default)]
    mobile: String,
    /// `Y` or `P`.
    exclusion: String,
}

fn control_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

/// `Y` or `P`: what a registration may say (`N` is everyone else).
fn registered_exclusion(letter: &str) -> Option<Exclusion> {
    Exclusion::from_letter(letter).filter(|e| *e != Exclusion::NotExcluded)
}

async fn register(State(shared): State<Shared>, Json(registration): Json<Registration>) -> Response {
    let Some(exclusion) = registered_exclusion(&registration.exclusion) else {
        return control_error(StatusCode::BAD_REQUEST, "exclusion: Y or P");
    };
    let person = PersonDetails {
        first_name: registration.first_name,
        last_name: registration.last_name,
        date_of_birth: registration.date_of_birth,
        email: registration.email,
        postcode: registration.postcode,
        mobile: registration.mobile,
    };
    let mut inner = shared.lock();
    if inner.register.len() >= RECORDS_MAX {
        return control_error(StatusCode::TOO_MANY_REQUESTS, "the sandbox is full");
    }
    inner.register.push((Key::of(&person), exclusion));
    let n = inner.register.len() - 1;
    (StatusCode::CREATED, Json(json!({"exclusion": n}))).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Change {
    exclusion: String,
}

async fn change(State(shared): State<Shared>, Path(n): Path<usize>, Json(change): Json<Change>) -> Response {
    let Some(exclusion) = registered_exclusion(&change.exclusion) else {
        return control_error(StatusCode::BAD_REQUEST, "exclusion: Y or P");
    };
    let mut inner = shared.lock();
    let Some(entry) = inner.register.get_mut(n) else {
        return control_error(StatusCode::NOT_FOUND, "no such exclusion");
    };
    entry.1 = exclusion;
    StatusCode::NO_CONTENT.into_response()
}

async fn counts(State(shared): State<Shared>) -> Response {
    let inner = shared.lock();
    Json(json!({"checks": inner.checks, "batches": inner.batches})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exclusion::gamstop::{GamstopClient, GamstopConfig};
    use crate::exclusion::{BatchEntry, ExclusionRegistry, RegistryError};

    fn ada() -> PersonDetails {
        PersonDetails {
            first_name: "Ada".into(),
            last_name: "King".into(),
            date_of_birth: "1990-05-17".into(),
            email: "ada@example.org".into(),
            postcode: "YO1 7HH".into(),
            mobile: "07700900461".into(),
        }
    }

    async fn sandbox(requests_per_second_max: Option<u32>) -> Sandbox {
        let config = SandboxConfig {
            api_key: "key".into(),
            requests_per_second_max,
            clock: Arc::new(|| 1_767_225_600_000),
        };
        Sandbox::start(config, "127.0.0.1:0".parse().unwrap()).await.unwrap()
    }

    fn client(sandbox: &Sandbox, api_key: &str) -> GamstopClient {
        GamstopClient::new(GamstopConfig {
            url: sandbox.check_url(),
            batch_url: Some(sandbox.batch_url()),
            api_key: api_key.into(),
        })
        .unwrap()
    }

    async fn control(sandbox: &Sandbox, method: reqwest::Method, path: &str, body: serde_json::Value) -> u16 {
        reqwest::Client::new()
            .request(method, format!("{}{path}", sandbox.url()))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    #[tokio::test]
    async fn the_client_reads_y_n_and_p_from_the_sandbox_over_loopback() {
        let sandbox = sandbox(None).await;
        let gamstop = client(&sandbox, "key");
        let answer = gamstop.check(&ada()).await.unwrap();
        assert_eq!(answer.exclusion, Exclusion::NotExcluded);
        assert_eq!(answer.reference, "sandbox-00000000");
        // Registered by email only; another spelling of the same address matches.
        let registered = json!({"firstName": "A", "lastName": "K", "dateOfBirth": "1990-05-17",
            "email": "ADA@example.org ", "exclusion": "Y"});
        assert_eq!(
            control(&sandbox, reqwest::Method::POST, "/sandbox/exclusions", registered).await,
            201
        );
        assert_eq!(gamstop.check(&ada()).await.unwrap().exclusion, Exclusion::Excluded);
        // Names, date of birth and postcode match too, without case or spaces.
        let other = PersonDetails {
            email: "other@example.org".into(),
            mobile: "07700900999".into(),
            ..ada()
        };
        assert_eq!(gamstop.check(&other).await.unwrap().exclusion, Exclusion::NotExcluded);
        let by_name = json!({"firstName": "ada", "lastName": "KING", "dateOfBirth": "1990-05-17",
            "postcode": "yo17hh", "exclusion": "P"});
        assert_eq!(
            control(&sandbox, reqwest::Method::POST, "/sandbox/exclusions", by_name).await,
            201
        );
        assert_eq!(
            gamstop.check(&other).await.unwrap().exclusion,
            Exclusion::PreviouslyExcluded
        );
        // The exclusion ends: P.
        let ended = json!({"exclusion": "P"});
        assert_eq!(
            control(&sandbox, reqwest::Method::PUT, "/sandbox/exclusions/0", ended).await,
            204
        );
        assert_eq!(
            gamstop.check(&ada()).await.unwrap().exclusion,
            Exclusion::PreviouslyExcluded
        );
        let bad = json!({"exclusion": "N"});
        assert_eq!(
            control(&sandbox, reqwest::Method::PUT, "/sandbox/exclusions/0", bad).await,
            400
        );
        sandbox.stop().await;
    }

    #[tokio::test]
    async fn a_wrong_key_a_missing_field_another_method_and_the_rate_limit_are_refused() {
        let sandbox = sandbox(Some(3)).await;
        let refused = client(&sandbox, "wrong").check(&ada()).await;
        assert!(
            matches!(refused, Err(RegistryError::Refused { status: 403, .. })),
            "{refused:?}"
        );
        let http = reqwest::Client::new();
        let no_mobile = "firstName=Ada&lastName=King&dateOfBirth=1990-05-17&email=a%40b.c&postcode=X1";
        let reply = http
            .post(sandbox.check_url())
            .header(API_KEY_HEADER, "key")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(no_mobile)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status().as_u16(), 400);
        assert!(reply.headers().get(EXCLUSION_HEADER).is_none());
        let reply = http
            .get(sandbox.check_url())
            .header(API_KEY_HEADER, "key")
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status().as_u16(), 405);
        // Three requests a second go in (the 400 counted, the 403 and 405
        // not); the fourth waits.
        for _ in 0..2 {
            assert!(client(&sandbox, "key").check(&ada()).await.is_ok());
        }
        let limited = client(&sandbox, "key").check(&ada()).await;
        assert!(
            matches!(limited, Err(RegistryError::RateLimited { retry_after_s: Some(1) })),
            "{limited:?}"
        );
        sandbox.stop().await;
    }

    #[tokio::test]
    async fn a_batch_answers_each_person_by_correlation_id() {
        let sandbox = sandbox(None).await;
        let registered = json!({"firstName": "Ada", "lastName": "King", "dateOfBirth": "1990-05-17",
            "mobile": "07700 900461", "exclusion": "Y"});
        assert_eq!(
            control(&sandbox, reqwest::Method::POST, "/sandbox/exclusions", registered).await,
            201
        );
        let people = vec![
            BatchEntry {
                correlation_id: "player-1".into(),
                person: ada(),
            },
            BatchEntry {
                correlation_id: "player-2".into(),
                person: PersonDetails {
                    email: "bob@example.org".into(),
                    mobile: "07700900000".into(),
                    first_name: "Bob".into(),
                    ..ada()
                },
            },
        ];
        let answers = client(&sandbox, "key").check_batch(&people).await.unwrap();
        let got: Vec<(&str, Exclusion)> = answers
            .iter()
            .map(|a| (a.correlation_id.as_str(), a.exclusion))
            .collect();
        assert_eq!(
            got,
            [("player-1", Exclusion::Excluded), ("player-2", Exclusion::NotExcluded)]
        );
        assert!(answers.iter().all(|a| a.reference.starts_with("sandbox-")));
        let too_many = vec![people[0].clone(); BATCH_LEN_MAX + 1];
        let refused = client(&sandbox, "key").check_batch(&too_many).await;
        assert!(matches!(refused, Err(RegistryError::Refused { status: 400, .. })));
        let counts: serde_json::Value = serde_json::from_slice(
            &reqwest::get(format!("{}/sandbox/checks", sandbox.url()))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(counts, json!({"checks": 0, "batches": 1}));
        sandbox.stop().await;
    }
}
