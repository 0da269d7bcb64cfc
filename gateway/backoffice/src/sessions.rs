//! Signed-in browser sessions, kept in memory: a random id in an HttpOnly,
//! SameSite=Strict cookie names a server-side session (its operator, its
//! CSRF token, its expiry); plus the per-username count of failed logins
//! that rate-limits guessing, and each operator's last TOTP step used,
//! so a code is accepted once.
//!
//! Nothing here is durable on purpose: a restart signs everyone out, which
//! costs a login; the credentials themselves are in the journal. Every
//! table is bounded ([`Limits`]).

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{HeaderMap, Method, StatusCode, header};
use edge::browser::{BrowserSessions, CSRF_HEADER};
use edge::error::ApiError;
use engine::OperatorId;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "croupier_bo";
/// The login form's anti-forgery cookie (double-submitted in the form).
pub const LOGIN_COOKIE: &str = "croupier_bo_login";

/// How long sessions live and how much is remembered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A session ends this long after its last use.
    pub idle_ms: u64,
    /// Most sessions at once (expired ones are dropped first).
    pub sessions_max: usize,
    /// Failed logins per username within [`Limits::failure_window_ms`]
    /// before further attempts are refused.
    pub failures_max: u32,
    /// The window failed logins are counted in.
    pub failure_window_ms: u64,
    /// Most usernames whose failures are remembered.
    pub tracked_names_max: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            idle_ms: 30 * 60 * 1000,
            sessions_max: 10_000,
            failures_max: 5,
            failure_window_ms: 15 * 60 * 1000,
            tracked_names_max: 10_000,
        }
    }
}

/// A signed-in operator's session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Who signed in.
    pub operator: OperatorId,
    /// The token every state-changing request of the session must carry.
    pub csrf: String,
    /// When it ends unless used again, ms since the epoch.
    pub expires_ms: u64,
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    since_ms: u64,
}

#[derive(Default)]
struct Tables {
    sessions: HashMap<String, Session>,
    failures: HashMap<String, Failures>,
    last_totp_step: HashMap<OperatorId, u64>,
}

/// Why a session could not be opened.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Every place is taken by a live session.
    Full,
    /// The system's random source failed.
    Random,
}

/// The sessions, failed-login counts and used TOTP steps.
pub struct SessionStore {
    limits: Limits,
    tables: Mutex<Tables>,
}

impl SessionStore {
    /// An empty store.
    pub fn new(limits: Limits) -> SessionStore {
        SessionStore {
            limits,
            tables: Mutex::new(Tables::default()),
        }
    }

    /// The limits it applies.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Opens a session for `operator`; returns its cookie id and the session.
    pub fn open(&self, operator: OperatorId, now_ms: u64) -> Result<(String, Session), OpenError> {
        let id = random_hex().ok_or(OpenError::Random)?;
        let csrf = random_hex().ok_or(OpenError::Random)?;
        let mut tables = self.tables();
        if tables.sessions.len() >= self.limits.sessions_max {
            tables.sessions.retain(|_, session| session.expires_ms > now_ms);
            if tables.sessions.len() >= self.limits.sessions_max {
                return Err(OpenError::Full);
            }
        }
        let session = Session {
            operator,
            csrf,
            expires_ms: now_ms.saturating_add(self.limits.idle_ms),
        };
        tables.sessions.insert(id.clone(), session.clone());
        Ok((id, session))
    }

    /// The live session of the request's cookie, its expiry moved on.
    pub fn current(&self, headers: &HeaderMap, now_ms: u64) -> Option<Session> {
        let id = cookie(headers, SESSION_COOKIE)?;
        let mut tables = self.tables();
        let session = tables.sessions.get_mut(id)?;
        if session.expires_ms <= now_ms {
            tables.sessions.remove(id);
            return None;
        }
        session.expires_ms = now_ms.saturating_add(self.limits.idle_ms);
        Some(session.clone())
    }

    /// Ends the request's session.
    pub fn close(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, SESSION_COOKIE) {
            self.tables().sessions.remove(id);
        }
    }

    /// Whether `username` may try to log in now (fewer than the allowed
    /// failures within the window).
    pub fn may_try(&self, username: &str, now_ms: u64) -> bool {
        let tables = self.tables();
        match tables.failures.get(username) {
            Some(failures) if now_ms.saturating_sub(failures.since_ms) < self.limits.failure_window_ms => {
                failures.count < self.limits.failures_max
            }
            _ => true,
        }
    }

    /// Counts a failed login of `username`.
    pub fn record_failure(&self, username: &str, now_ms: u64) {
        let window = self.limits.failure_window_ms;
        let mut tables = self.tables();
        if tables.failures.len() >= self.limits.tracked_names_max && !tables.failures.contains_key(username) {
            tables
                .failures
                .retain(|_, failures| now_ms.saturating_sub(failures.since_ms) < window);
            if tables.failures.len() >= self.limits.tracked_names_max {
                // Forget one: bounded memory beats remembering every name
                // an attacker makes up.
                if let Some(name) = tables.failures.keys().next().cloned() {
                    tables.failures.remove(&name);
                }
            }
        }
        let entry = tables.failures.entry(username.to_owned()).or_insert(Failures {
            count: 0,
            since_ms: now_ms,
        });
        if now_ms.saturating_sub(entry.since_ms) >= window {
            *entry = Failures {
                count: 0,
                since_ms: now_ms,
            };
        }
        entry.count = entry.count.saturating_add(1);
    }

    /// Forgets `username`'s failures (after a successful login).
    pub fn clear_failures(&self, username: &str) {
        self.tables().failures.remove(username);
    }

    /// Takes TOTP step `step` for `operator` if it is later than the last
    /// one used: a code opens at most one session.
    pub fn take_totp_step(&self, operator: OperatorId, step: u64) -> bool {
        let mut tables = self.tables();
        match tables.last_totp_step.get(&operator) {
            Some(last) if *last >= step => false,
            _ => {
                tables.last_totp_step.insert(operator, step);
                true
            }
        }
    }
}

impl BrowserSessions for SessionStore {
    fn operator(&self, headers: &HeaderMap, method: &Method, now_ms: u64) -> Result<Option<OperatorId>, ApiError> {
        if cookie(headers, SESSION_COOKIE).is_none() {
            return Ok(None);
        }
        let session = self
            .current(headers, now_ms)
            .ok_or_else(|| ApiError::unauthorized("session_expired", "the back-office session ended: sign in again"))?;
        if *method != Method::GET && *method != Method::HEAD {
            let sent = headers
                .get(CSRF_HEADER)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("");
            if !same(sent, &session.csrf) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf_token_invalid",
                    format!("a browser session's change must carry its {CSRF_HEADER} header"),
                ));
            }
        }
        Ok(Some(session.operator))
    }
}

/// The value of cookie `name` in the request, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// Compares two tokens in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 32 random bytes as hex.
pub fn random_hex() -> Option<String> {
    edge::tokens::random_bytes().ok().map(hex::encode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn a_session_is_found_by_its_cookie_moves_its_expiry_and_ends() {
        let store = SessionStore::new(Limits::default());
        let (id, session) = store.open(OperatorId(3), 1_000).unwrap();
        let headers = with_cookie(&format!("other=1; {SESSION_COOKIE}={id}"));
        let found = store.current(&headers, 2_000).unwrap();
        assert_eq!((found.operator, found.csrf), (OperatorId(3), session.csrf));
        assert_eq!(found.expires_ms, 2_000 + Limits::default().idle_ms);
        assert_eq!(store.current(&headers, found.expires_ms), None, "expired");
        let (id, _) = store.open(OperatorId(3), 1_000).unwrap();
        let headers = with_cookie(&format!("{SESSION_COOKIE}={id}"));
        store.close(&headers);
        assert_eq!(store.current(&headers, 1_001), None, "closed");
    }

    #[test]
    fn changes_need_the_csrf_token_and_reads_do_not() {
        let store = SessionStore::new(Limits::default());
        let (id, session) = store.open(OperatorId(1), 0).unwrap();
        let mut headers = with_cookie(&format!("{SESSION_COOKIE}={id}"));
        assert_eq!(store.operator(&headers, &Method::GET, 1).unwrap(), Some(OperatorId(1)));
        let refused = store.operator(&headers, &Method::POST, 1).unwrap_err();
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        headers.insert(CSRF_HEADER, HeaderValue::from_str("0").unwrap());
        assert!(store.operator(&headers, &Method::POST, 1).is_err());
        headers.insert(CSRF_HEADER, HeaderValue::from_str(&session.csrf).unwrap());
        assert_eq!(store.operator(&headers, &Method::POST, 1).unwrap(), Some(OperatorId(1)));
        assert_eq!(store.operator(&HeaderMap::new(), &Method::POST, 1).unwrap(), None);
        let unknown = with_cookie(&format!("{SESSION_COOKIE}=feed"));
        assert_eq!(
            store.operator(&unknown, &Method::GET, 1).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn failures_rate_limit_a_username_within_the_window() {
        let limits = Limits {
            failures_max: 2,
            failure_window_ms: 100,
            ..Limits::default()
        };
        let store = SessionStore::new(limits);
        store.record_failure("ann", 0);
        assert!(store.may_try("ann", 1));
        store.record_failure("ann", 1);
        assert!(!store.may_try("ann", 2));
        assert!(store.may_try("bob", 2), "per username");
        assert!(store.may_try("ann", 100), "after the window");
        store.clear_failures("ann");
        assert!(store.may_try("ann", 3));
    }

    #[test]
    fn a_totp_step_opens_one_session_and_sessions_are_bounded() {
        let store = SessionStore::new(Limits {
            sessions_max: 1,
            ..Limits::default()
        });
        assert!(store.take_totp_step(OperatorId(1), 10));
        assert!(!store.take_totp_step(OperatorId(1), 10));
        assert!(!store.take_totp_step(OperatorId(1), 9));
        assert!(store.take_totp_step(OperatorId(2), 10));
        store.open(OperatorId(1), 0).unwrap();
        assert_eq!(store.open(OperatorId(1), 1).unwrap_err(), OpenError::Full);
        let later = Limits::default().idle_ms + 1;
        assert!(store.open(OperatorId(1), later).is_ok(), "the expired one made room");
    }
}
