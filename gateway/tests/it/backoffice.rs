//! The web back office through the real server, over HTTP like a browser
//! without JavaScript: enrolment over the bearer-token API, login with a
//! password and a TOTP code computed here, the login form's and the
//! session's CSRF tokens enforced, failed logins rate-limited, pages by
//! role, and a withdrawal approved from the back office's session through
//! the operator API, changing the queue, the balance and the audit trail.
//!
//! The cashier runs on the Stripe sandbox (a loopback server, as in
//! `payments.rs`), whose worker is slowed down here so approved payouts
//! stay where the test looks.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gateway::config::ServeConfig;
use payments::sandbox::{Sandbox, SandboxConfig};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{T0, TestServer, World};

const SECRET_KEY: &str = "sk_test_croupier";
const WEBHOOK_SECRET: &str = "whsec_croupier";
pub(crate) const PASSWORD: &str = "a long enough password";

/// A server with the cashier on the sandbox, an admin, an aggregator with
/// a game session and a funded player (the support's [`World`]).
pub(crate) struct Office {
    pub world: World,
    _sandbox: Sandbox,
    pub http: reqwest::Client,
}

/// What a login form or page answered.
pub(crate) struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub cookies: Vec<String>,
    pub body: String,
}

impl Page {
    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.iter().find_map(|line| {
            let pair = line.split(';').next()?;
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| value.to_owned())
        })
    }
}

/// The hidden `csrf` field of a form in `html`.
fn csrf_field(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_owned()
}

impl Office {
    pub async fn start(dir: &std::path::Path) -> Office {
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
        let config = ServeConfig {
            stripe_api_url: Some(sandbox.url()),
            stripe_secret_key: Some(SECRET_KEY.into()),
            stripe_webhook_secret: Some(WEBHOOK_SECRET.into()),
            cashier_tick_ms: 3_600_000,
            ..support::config(dir)
        };
        let world = World::on(TestServer::start_at(config, clock).await).await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Office {
            world,
            _sandbox: sandbox,
            http,
        }
    }

    pub fn server(&self) -> &TestServer {
        &self.world.server
    }

    pub fn admin(&self) -> &str {
        &self.world.admin
    }

    pub fn player(&self) -> u64 {
        self.world.player
    }

    /// An operator API call with a bearer token.
    pub async fn api(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let reply = self.server().op(self.server().h1(), token, method, path, body).await;
        let json = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        (reply.status, json)
    }

    /// Creates an operator with `role` and enrols it; returns (id, token, TOTP).
    pub async fn enrolled(&self, name: &str, role: &str) -> (u32, String, totp_rs::TOTP) {
        let (status, made) = self
            .api(
                self.admin(),
                Method::POST,
                "/operator/v1/operators",
                Some(json!({"name": name, "role": role})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let id = made["operator"].as_u64().unwrap() as u32;
        let token = made["token"].as_str().unwrap().to_owned();
        let totp = self.enrol(&token, id, PASSWORD).await;
        (id, token, totp)
    }

    /// Sets operator `id`'s password with `token`; returns the TOTP it got.
    pub async fn enrol(&self, token: &str, id: u32, password: &str) -> totp_rs::TOTP {
        let path = format!("/operator/v1/operators/{id}/credentials");
        let (status, reply) = self
            .api(token, Method::POST, &path, Some(json!({"password": password})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        assert_eq!(reply["operator"], id);
        let uri = reply["otpauth_uri"].as_str().unwrap();
        let totp = totp_rs::TOTP::from_url(uri).expect("an otpauth URI");
        assert_eq!(totp.get_secret_base32(), reply["totp_secret"].as_str().unwrap());
        totp
    }

    /// The current code, by the server's clock.
    pub fn code(&self, totp: &totp_rs::TOTP) -> String {
        totp.generate(self.server().now() / 1000)
    }

    /// A request as a browser sends it, with `cookies` and form `fields`.
    pub async fn browse(
        &self,
        method: Method,
        path: &str,
        cookies: &[(&str, &str)],
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut request = self.http.request(method, format!("{}{path}", self.server().base));
        if !cookies.is_empty() {
            let line: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header(COOKIE, line.join("; "));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if !fields.is_empty() {
            let body: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields)
                .finish();
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let location = response.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_owned());
        let cookies = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let body = response.text().await.unwrap();
        Page {
            status,
            location,
            cookies,
            body,
        }
    }

    /// Posts the login form with a fresh form cookie.
    pub async fn login(&self, username: &str, password: &str, code: &str) -> Page {
        let form = self.browse(Method::GET, "/backoffice/login", &[], &[], &[]).await;
        assert_eq!(form.status, StatusCode::OK);
        let nonce = form.cookie("croupier_bo_login").expect("the form's cookie");
        assert_eq!(csrf_field(&form.body), nonce);
        let fields = [
            ("csrf", nonce.as_str()),
            ("username", username),
            ("password", password),
            ("totp", code),
        ];
        self.browse(
            Method::POST,
            "/backoffice/login",
            &[("croupier_bo_login", &nonce)],
            &fields,
            &[],
        )
        .await
    }

    /// Logs in and returns the session cookie and its CSRF token.
    pub async fn session(&self, username: &str, totp: &totp_rs::TOTP) -> (String, String) {
        let signed_in = self.login(username, PASSWORD, &self.code(totp)).await;
        assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{}", signed_in.body);
        assert_eq!(signed_in.location.as_deref(), Some("/backoffice"));
        let session = signed_in.cookie("croupier_bo").expect("a session cookie");
        let dashboard = self.page(&session, "/backoffice").await;
        assert_eq!(dashboard.status, StatusCode::OK, "{}", dashboard.body);
        (session, csrf_field(&dashboard.body))
    }

    pub async fn page(&self, session: &str, path: &str) -> Page {
        self.browse(Method::GET, path, &[("croupier_bo", session)], &[], &[])
            .await
    }

    /// Requests a withdrawal for the player; returns its `<source>:<id>`.
    pub async fn withdrawal(&self, id: &str, amount: &str) -> String {
        let body = json!({"withdrawal_id": id, "currency": "EUR", "amount": amount});
        let path = format!("/cashier/v1/players/{}/withdrawals", self.player());
        let (status, made) = self.api(self.admin(), Method::POST, &path, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        made["payment"].as_str().unwrap().to_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_is_an_admins_or_the_operators_own_and_bad_requests_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let office = Office::start(dir.path()).await;
    let (fin, fin_token, fin_totp) = office.enrolled("fin", "finance").await;
    let (viewer, viewer_token, _) = office.enrolled("viewer", "read-only").await;
    // Anyone may set their own; only an admin another's.
    office.enrol(&viewer_token, viewer, "another long password").await;
    // The secret is sealed before it is journaled: no file of the data
    // directory (journal, read model) holds it, and the login still opens it.
    assert_eq!(fin_totp.secret.len(), 32);
    let mut files = vec![dir.path().to_path_buf()];
    let mut searched = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|entry| entry.unwrap().path()));
        } else if let Ok(bytes) = std::fs::read(&path) {
            searched += 1;
            let found = bytes.windows(32).any(|window| window == &fin_totp.secret[..]);
            assert!(!found, "{} holds the TOTP secret in the clear", path.display());
        }
    }
    assert!(searched >= 3, "the journal and the read model were searched");
    office.session("fin", &fin_totp).await;
    let applied = office.server().commands_applied().await;
    let path = format!("/operator/v1/operators/{fin}/credentials");
    let (status, refused) = office
        .api(&viewer_token, Method::POST, &path, Some(json!({"password": PASSWORD})))
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let cases = [
        (json!({"password": "short"}), StatusCode::BAD_REQUEST),
        (json!({"password": "x".repeat(129)}), StatusCode::BAD_REQUEST),
        (json!({"pass": PASSWORD}), StatusCode::BAD_REQUEST),
    ];
    for (body, expected) in cases {
        let (status, reply) = office.api(&fin_token, Method::POST, &path, Some(body.clone())).await;
        assert_eq!(status, expected, "{body}: {reply}");
        assert!(reply["error"]["code"].is_string(), "{reply}");
    }
    let (status, _) = office
        .api(
            office.admin(),
            Method::POST,
            "/operator/v1/operators/99/credentials",
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = office
        .api("", Method::POST, &path, Some(json!({"password": PASSWORD})))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The refused one was journaled as refused; the bad ones not at all.
    assert_eq!(office.server().commands_applied().await, applied + 1);
    // The audit trail names the credential changes, never their values.
    let (_, trail) = office
        .api(
            office.admin(),
            Method::GET,
            "/operator/v1/audit?kind=set_operator_credential",
            None,
        )
        .await;
    let text = trail.to_string();
    assert!(text.contains("\"credential\""), "{text}");
    assert!(!text.contains("argon2"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_needs_password_and_a_fresh_totp_code_fails_alike_and_is_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let office = Office::start(dir.path()).await;
    let (_, _, totp) = office.enrolled("fin", "finance").await;
    let (_, _, guessed) = office.enrolled("guessed", "support").await;

    let to_login = office.browse(Method::GET, "/backoffice", &[], &[], &[]).await;
    assert_eq!(
        (to_login.status, to_login.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/backoffice/login"))
    );

    let wrong_password = office.login("fin", "not the password!", &office.code(&totp)).await;
    let wrong_code = office.login("fin", PASSWORD, "000000").await;
    let unknown = office.login("nobody", PASSWORD, &office.code(&totp)).await;
    for failed in [&wrong_password, &wrong_code, &unknown] {
        assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
        assert!(
            failed.body.starts_with("<!DOCTYPE html>"),
            "a page for a person: {}",
            failed.body
        );
        assert!(
            failed.body.contains("Wrong username, password or code."),
            "{}",
            failed.body
        );
        assert!(failed.cookie("croupier_bo").is_none());
    }

    // The form's own cookie must come back with it.
    let form = office.browse(Method::GET, "/backoffice/login", &[], &[], &[]).await;
    let nonce = form.cookie("croupier_bo_login").unwrap();
    let code = office.code(&totp);
    let fields = [
        ("csrf", nonce.as_str()),
        ("username", "fin"),
        ("password", PASSWORD),
        ("totp", code.as_str()),
    ];
    let forged = office
        .browse(Method::POST, "/backoffice/login", &[], &fields, &[])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let signed_in = office.login("fin", PASSWORD, &code).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{}", signed_in.body);
    let line = signed_in
        .cookies
        .iter()
        .find(|c| c.starts_with("croupier_bo="))
        .unwrap();
    assert!(line.contains("HttpOnly") && line.contains("SameSite=Strict"), "{line}");
    assert!(
        !line.contains("Secure"),
        "cleartext: a Secure cookie would never come back: {line}"
    );
    // The same code again opens nothing.
    let replayed = office.login("fin", PASSWORD, &code).await;
    assert_eq!(replayed.status, StatusCode::UNAUTHORIZED);
    // The next period's code does.
    office.server().advance(30_000);
    assert_eq!(
        office.login("fin", PASSWORD, &office.code(&totp)).await.status,
        StatusCode::SEE_OTHER
    );

    // Five failures lock the name out, even with the right password and code.
    for _ in 0..5 {
        assert_eq!(
            office.login("guessed", "wrong password!!", "123456").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = office.login("guessed", PASSWORD, &office.code(&guessed)).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{}", locked.body);
    office.server().advance(15 * 60_000);
    assert_eq!(
        office.login("guessed", PASSWORD, &office.code(&guessed)).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finance_session_approves_through_the_operator_api_and_a_read_only_one_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let office = Office::start(dir.path()).await;
    let (_, _, fin_totp) = office.enrolled("fin", "finance").await;
    let (_, _, viewer_totp) = office.enrolled("viewer", "read-only").await;
    let payment = office.withdrawal("wd-1", "25.00").await;
    let approve = format!("/cashier/v1/withdrawals/{payment}/approve");

    let (viewer, viewer_csrf) = office.session("viewer", &viewer_totp).await;
    let queue = office.page(&viewer, "/backoffice/withdrawals").await;
    assert!(queue.body.contains(&payment), "{}", queue.body);
    assert!(
        !queue.body.contains("data-action"),
        "read-only sees no buttons: {}",
        queue.body
    );
    let forced = office
        .browse(
            Method::POST,
            &approve,
            &[("croupier_bo", &viewer)],
            &[],
            &[("x-csrf-token", &viewer_csrf)],
        )
        .await;
    assert_eq!(forced.status, StatusCode::FORBIDDEN, "{}", forced.body);
    assert!(forced.body.contains("\"forbidden\""), "{}", forced.body);

    let (fin, fin_csrf) = office.session("fin", &fin_totp).await;
    let queue = office.page(&fin, "/backoffice/withdrawals").await;
    assert!(
        queue.body.contains(&format!("data-action=\"{approve}\"")),
        "{}",
        queue.body
    );
    let dashboard = office.page(&fin, "/backoffice").await;
    assert!(
        dashboard.body.contains("data-figure=\"queue_depth\""),
        "{}",
        dashboard.body
    );
    // A cookie alone, or a wrong token, changes nothing.
    let applied = office.server().commands_applied().await;
    for token in ["", "0123"] {
        let headers: Vec<(&str, &str)> = if token.is_empty() {
            vec![]
        } else {
            vec![("x-csrf-token", token)]
        };
        let refused = office
            .browse(Method::POST, &approve, &[("croupier_bo", &fin)], &[], &headers)
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.body.contains("csrf_token_invalid"), "{}", refused.body);
    }
    assert_eq!(office.server().commands_applied().await, applied);

    let approved = office
        .browse(
            Method::POST,
            &approve,
            &[("croupier_bo", &fin)],
            &[],
            &[("x-csrf-token", &fin_csrf)],
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert!(approved.body.contains("\"approved\""), "{}", approved.body);
    let queue = office.page(&fin, "/backoffice/withdrawals").await;
    assert!(!queue.body.contains(&payment), "left the queue: {}", queue.body);
    let player = office
        .page(&fin, &format!("/backoffice/players/{}", office.player()))
        .await;
    assert!(
        player.body.contains("75.00 EUR"),
        "cash after the withdrawal: {}",
        player.body
    );
    assert!(player.body.contains("approved"), "{}", player.body);
    let audit = office.page(&fin, "/backoffice/audit").await;
    let row = audit
        .body
        .split("<tr")
        .find(|row| row.contains("withdrawal_approve"))
        .expect("the approval's row");
    assert!(row.contains(">fin<"), "by fin: {row}");

    // Search and a missing player.
    let found = office
        .page(&fin, &format!("/backoffice/players?q={}", office.player()))
        .await;
    assert!(
        found.body.contains(&format!("/backoffice/players/{}", office.player())),
        "{}",
        found.body
    );
    assert_eq!(
        office.page(&fin, "/backoffice/players/999").await.status,
        StatusCode::NOT_FOUND
    );
    // Reads through the API with the session need no CSRF token.
    let profile = office
        .page(&fin, &format!("/operator/v1/players/{}/rg", office.player()))
        .await;
    assert_eq!(profile.status, StatusCode::OK, "{}", profile.body);

    // Logout needs the session's token, then the cookie opens nothing.
    let refused = office
        .browse(
            Method::POST,
            "/backoffice/logout",
            &[("croupier_bo", &fin)],
            &[("csrf", "x")],
            &[],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let out = office
        .browse(
            Method::POST,
            "/backoffice/logout",
            &[("croupier_bo", &fin)],
            &[("csrf", &fin_csrf)],
            &[],
        )
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(office.page(&fin, "/backoffice").await.status, StatusCode::SEE_OTHER);
    let after = office
        .page(&fin, &format!("/operator/v1/players/{}/rg", office.player()))
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_streams_figures_that_follow_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let office = Office::start(dir.path()).await;
    let (_, _, totp) = office.enrolled("fin", "finance").await;
    let (session, _) = office.session("fin", &totp).await;
    let unauthenticated = office
        .browse(Method::GET, "/backoffice/dashboard/events", &[], &[], &[])
        .await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
    let response = office
        .http
        .get(format!("{}/backoffice/dashboard/events", office.server().base))
        .header(COOKIE, format!("croupier_bo={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut response = response;
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = response.chunk().await.unwrap().expect("an event");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.starts_with("event: figures\n"), "{text}");
    assert!(text.contains("100.00 EUR"), "the deposit: {text}");
    // A withdrawal requested now shows in the next event's queue depth.
    office.withdrawal("wd-1", "10.00").await;
    let mut next = String::new();
    while !next.contains("data-figure=\"queue_depth\"><a href=\"/backoffice/withdrawals\">1<") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("an event within the interval")
            .unwrap()
            .expect("an event");
        next.push_str(&String::from_utf8_lossy(&chunk));
    }
    // Assets are embedded.
    let css = office
        .browse(Method::GET, "/backoffice/assets/app.css", &[], &[], &[])
        .await;
    assert_eq!(css.status, StatusCode::OK);
    let htmx = office
        .browse(Method::GET, "/backoffice/assets/htmx.min.js", &[], &[], &[])
        .await;
    assert!(htmx.body.starts_with("var htmx="), "{}", &htmx.body[..40]);
}
