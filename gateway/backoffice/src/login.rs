//! `GET/POST /backoffice/login` and `POST /backoffice/logout`.
//!
//! A login needs the operator's name, password (argon2id, checked against
//! the hash the read model projected from the journal) and a current TOTP
//! code, each code usable once. Every failure gets the same answer, and
//! the same work is done for an unknown name (a hash is verified anyway),
//! so the form tells nobody which part was wrong; a username with too many
//! failures in the window is refused (429) until it passes. The form is
//! protected against cross-site posting by a double-submitted cookie.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use edge::AppState;
use engine::{OperatorId, Role};
use maud::{DOCTYPE, html};

use crate::credentials::{self, verify_password};
use crate::layout::{head, html_response};
use crate::sessions::{LOGIN_COOKIE, SESSION_COOKIE, cookie, random_hex, same};

/// The one message for every failed login.
const GENERIC_FAILURE: &str = "Wrong username, password or code.";

/// A verified hash of a password nobody has: an unknown name costs the
/// same argon2 work as a known one.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$XxTfrgq2I1oG6tZpBx1P4wXl7Z2M1d9p3yN1b1uY3tE";

/// `GET /backoffice/login`: the form, with a fresh anti-forgery cookie.
pub async fn form(State(state): State<AppState>) -> Response {
    render(&state, StatusCode::OK, None, "")
}

fn render(state: &AppState, status: StatusCode, error: Option<&str>, username: &str) -> Response {
    let Some(nonce) = random_hex() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no random source").into_response();
    };
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head("Sign in"))
            body.login {
                main #main {
                    h1 { "Croupier back office" }
                    form.card method="post" action="/backoffice/login" {
                        input type="hidden" name="csrf" value=(nonce);
                        @if let Some(error) = error {
                            p.error role="alert" { (error) }
                        }
                        label for="username" { "Username" }
                        input #username name="username" autocomplete="username" required value=(username);
                        label for="password" { "Password" }
                        input #password type="password" name="password" autocomplete="current-password" required;
                        label for="totp" { "Authenticator code" }
                        input #totp name="totp" inputmode="numeric" pattern="[0-9]{6}" maxlength="6"
                            autocomplete="one-time-code" required;
                        button type="submit" { "Sign in" }
                    }
                }
            }
        }
    };
    let mut response = html_response(status, markup);
    let secure = crate::of(state).is_ok_and(|bo| bo.settings.secure_cookies);
    set_cookie(&mut response, LOGIN_COOKIE, &nonce, 600, secure);
    response
}

/// Sets a cookie scoped to the back office: HttpOnly, SameSite=Strict,
/// Secure over TLS.
fn set_cookie(response: &mut Response, name: &str, value: &str, max_age_s: u64, secure: bool) {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}");
    if let Ok(value) = HeaderValue::from_str(&text) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// The fields of a form body (`application/x-www-form-urlencoded`).
fn fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map_or("", |(_, value)| value.as_str())
}

/// `POST /backoffice/login`.
pub async fn submit(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(back_office) = crate::of(&state) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "the back office is not installed").into_response();
    };
    let form = fields(&body);
    let (username, password, code) = (field(&form, "username"), field(&form, "password"), field(&form, "totp"));
    let nonce_ok = cookie(&headers, LOGIN_COOKIE).is_some_and(|nonce| same(nonce, field(&form, "csrf")));
    if !nonce_ok {
        let message = "The form expired or came from another site: please sign in again.";
        return render(&state, StatusCode::FORBIDDEN, Some(message), "");
    }
    if username.is_empty() || username.len() > engine::Name::MAX_LEN || password.len() > 1024 || code.len() > 16 {
        return render(&state, StatusCode::BAD_REQUEST, Some(GENERIC_FAILURE), "");
    }
    let now_ms = state.now_ms();
    let sessions = &back_office.sessions;
    if !sessions.may_try(username, now_ms) {
        let message = "Too many failed attempts for this username: try again later.";
        return render(&state, StatusCode::TOO_MANY_REQUESTS, Some(message), username);
    }
    match check(&state, username, password, code, now_ms).await {
        Some(operator) => {
            sessions.clear_failures(username);
            match sessions.open(operator, now_ms) {
                Ok((id, _)) => {
                    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/backoffice")]).into_response();
                    let ttl_s = sessions.limits().idle_ms / 1000;
                    let secure = back_office.settings.secure_cookies;
                    set_cookie(&mut response, SESSION_COOKIE, &id, ttl_s, secure);
                    set_cookie(&mut response, LOGIN_COOKIE, "", 0, secure);
                    response
                }
                Err(_) => {
                    let message = "The back office cannot open more sessions now: try again later.";
                    render(&state, StatusCode::SERVICE_UNAVAILABLE, Some(message), username)
                }
            }
        }
        None => {
            sessions.record_failure(username, now_ms);
            render(&state, StatusCode::UNAUTHORIZED, Some(GENERIC_FAILURE), username)
        }
    }
}

/// The operator `username` names if the password and code are right and
/// the operator is enabled; the argon2 work is done in every case.
async fn check(state: &AppState, username: &str, password: &str, code: &str, now_ms: u64) -> Option<OperatorId> {
    let found = {
        let view = state.view.read();
        (1..=view.access.operators_len() as u32)
            .map(OperatorId)
            .find(|id| view.access.operator(*id).is_some_and(|o| o.name.as_str() == username))
            .map(|id| (id, view.access.operator(id).map(|o| o.role)))
    };
    let credential = match found {
        Some((id, _)) => state
            .readmodel
            .query(move |c| readmodel::credentials::credential(c, id))
            .await
            .ok()
            .and_then(|(credential, _)| credential),
        None => None,
    };
    let hash = credential
        .as_ref()
        .map_or_else(|| DUMMY_HASH.to_owned(), |c| c.password_hash.clone());
    let password = password.to_owned();
    let password_ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let (id, role) = found?;
    let credential = credential?;
    if !password_ok || role.is_none_or(|role| role == Role::Disabled) {
        return None;
    }
    let secret = credentials::totp_secret(state, &credential)?;
    let totp = credentials::totp(&secret, username).ok()?;
    let step = credentials::totp_step(&totp, code, now_ms / 1000)?;
    let back_office = crate::of(state).ok()?;
    back_office.sessions.take_totp_step(id, step).then_some(id)
}

/// `POST /backoffice/logout`: ends the session (the form carries its CSRF
/// token) and returns to the login form.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(back_office) = crate::of(&state) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "the back office is not installed").into_response();
    };
    let form = fields(&body);
    if let Some(session) = back_office.sessions.current(&headers, state.now_ms()) {
        if !same(&session.csrf, field(&form, "csrf")) {
            return (StatusCode::FORBIDDEN, "the form did not carry this session's token").into_response();
        }
        back_office.sessions.close(&headers);
    }
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/backoffice/login")]).into_response();
    set_cookie(
        &mut response,
        SESSION_COOKIE,
        "",
        0,
        back_office.settings.secure_cookies,
    );
    response
}
