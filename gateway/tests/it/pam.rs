//! The PAM routes end to end: registration with a profile, reading and
//! changing it, account status with a reason, erasure; bad input refused
//! with nothing changed; duplicates by email or by name, date of birth and
//! postcode; the status blocking money; no personal data in clear anywhere
//! in the data directory, the erased player's data key gone, and all of it
//! through a restart (from the journal and from a snapshot). KYC: a check
//! started at the sandbox provider (a real loopback server speaking the
//! provider's protocol), decided there and reported by signed webhooks
//! (duplicates, out of order, forged, stale, unknown), the jurisdiction's
//! gates refusing then allowing a bet and a deposit; manual decisions with
//! the age check; documents with hashed numbers; bad input changing
//! nothing; no document number in clear in the data directory. The
//! self-exclusion register (a sandbox speaking GAMSTOP's protocol on
//! loopback) at registration and login, failing closed or open.

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gateway::config::ServeConfig;
use pam::exclusion::sandbox::{Sandbox as ExclusionSandbox, SandboxConfig as ExclusionSandboxConfig};
use pam::kyc::sandbox::{Sandbox, SandboxConfig};
use pam::kyc::sumsub;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Http, Reply, T0, TestServer, World};

/// A valid profile (the clock is 2026-01-01: born 2008-01-01 is just 18).
fn profile(name: &str, email: &str, phone: &str, postcode: &str) -> Value {
    json!({
        "name": name,
        "email": email,
        "phone": phone,
        "date_of_birth": "1990-05-17",
        "address": {"line": "12 Quayside Lane", "city": "Whitby", "postcode": postcode},
        "country": "GB",
        "language": "en-GB",
        "marketing": {"email": true, "sms": false, "phone": false, "post": true},
        "affiliate_code": "aff-42"
    })
}

fn registration(profile: Value) -> Value {
    json!({"currency": "GBP", "jurisdiction": "GB", "profile": profile})
}

async fn op(s: &TestServer, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
    s.op(Http::V1, token, method, path, body).await
}

async fn register(s: &TestServer, token: &str, profile: Value) -> Reply {
    let body = registration(profile);
    op(s, token, Method::POST, "/operator/v1/registrations", Some(body)).await
}

async fn register_ok(s: &TestServer, token: &str, profile: Value) -> u64 {
    let reply = register(s, token, profile).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.json()["player"].as_u64().unwrap()
}

async fn get_profile(s: &TestServer, token: &str, player: u64) -> Value {
    let path = format!("/operator/v1/players/{player}/profile");
    let reply = op(s, token, Method::GET, &path, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()
}

fn key_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(pam::vault::KEY_DIR))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
}

/// Every file under `dir` that holds one of `needles`, with the needle.
fn files_holding(dir: &Path, needles: &[&str]) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for needle in needles {
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push((path.clone(), needle.to_string()));
            }
        }
    }
    found
}

#[tokio::test]
async fn a_profile_is_registered_read_changed_suspended_and_erased() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let s = &w.server;
    let player = register_ok(
        s,
        &w.admin,
        profile("Ada Lovelace", "ada@example.org", "+44 20 7946 0001", "W1 2AB"),
    )
    .await;
    let read = get_profile(s, &w.admin, player).await;
    assert_eq!(read["status"], "active");
    assert_eq!(read["jurisdiction"], "GB");
    assert_eq!(read["profile"]["email"], "ada@example.org");
    assert_eq!(read["profile"]["phone"], "+442079460001");
    assert_eq!(read["profile"]["address"]["postcode"], "W1 2AB");
    assert_eq!(read["profile"]["marketing"]["post"], true);
    assert_eq!(read["profile_by"], 1);
    assert_eq!(read["erased"], false);

    let path = format!("/operator/v1/players/{player}/profile");
    let changed = op(
        s,
        &w.admin,
        Method::PATCH,
        &path,
        Some(json!({"phone": "+44 20 7946 0002"})),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    let read = get_profile(s, &w.admin, player).await;
    assert_eq!(read["profile"]["phone"], "+442079460002");
    assert_eq!(read["profile"]["name"], "Ada Lovelace");

    let status = format!("/operator/v1/players/{player}/status");
    let body = json!({"status": "suspended", "reason": "chargeback under review"});
    let suspended = op(s, &w.admin, Method::PUT, &status, Some(body)).await;
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.text());
    let read = get_profile(s, &w.admin, player).await;
    assert_eq!(
        (read["status"].as_str(), read["status_reason"].as_str()),
        (Some("suspended"), Some("chargeback under review"))
    );
    assert_eq!(read["status_by"], 1);

    assert_eq!(key_files(dir.path()).len(), 1);
    let erasure = format!("/operator/v1/players/{player}/erasure");
    let erased = op(
        s,
        &w.admin,
        Method::POST,
        &erasure,
        Some(json!({"reason": "GDPR request 7"})),
    )
    .await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.text());
    assert_eq!(erased.json()["data_key_destroyed"], true);
    assert_eq!(
        key_files(dir.path()),
        Vec::<PathBuf>::new(),
        "the data key is destroyed"
    );
    let read = get_profile(s, &w.admin, player).await;
    assert_eq!(
        (read["erased"].as_bool(), read["status"].as_str()),
        (Some(true), Some("closed"))
    );
    assert_eq!(read["profile"], Value::Null);
    assert_eq!(read["erasure"]["reason"], "GDPR request 7");
    // Erased is final.
    let again = op(s, &w.admin, Method::POST, &erasure, Some(json!({"reason": "again"}))).await;
    assert_eq!((again.status, again.code()), (StatusCode::GONE, "player_erased".into()));
    let reopen = op(
        s,
        &w.admin,
        Method::PUT,
        &status,
        Some(json!({"status": "active", "reason": "x"})),
    )
    .await;
    assert_eq!(
        (reopen.status, reopen.code()),
        (StatusCode::GONE, "player_erased".into())
    );
    let patch = op(s, &w.admin, Method::PATCH, &path, Some(json!({"name": "Someone Else"}))).await;
    assert_eq!((patch.status, patch.code()), (StatusCode::GONE, "player_erased".into()));
    // A player registered without a profile reads without one, and gets
    // one with a complete patch.
    let legacy = get_profile(s, &w.admin, w.player).await;
    assert_eq!(
        (legacy["profile"].clone(), legacy["jurisdiction"].as_str()),
        (Value::Null, Some("MT"))
    );
    let legacy_path = format!("/operator/v1/players/{}/profile", w.player);
    let partial = op(
        s,
        &w.admin,
        Method::PATCH,
        &legacy_path,
        Some(json!({"name": "Grace Hopper"})),
    )
    .await;
    assert_eq!(partial.status, StatusCode::BAD_REQUEST, "{}", partial.text());
    let full = profile("Grace Hopper", "grace@example.org", "+1 202 555 0101", "20500");
    let given = op(s, &w.admin, Method::PATCH, &legacy_path, Some(full)).await;
    assert_eq!(given.status, StatusCode::OK, "{}", given.text());
    assert_eq!(
        get_profile(s, &w.admin, w.player).await["profile"]["name"],
        "Grace Hopper"
    );
    w.server.stop().await;
}

/// A consent change names the channels it changes: the others, push among
/// them, stay as they were (a client that predates push must not withdraw
/// it by leaving it out); an unknown channel changes nothing; a player
/// without a profile must give the four original channels.
#[tokio::test]
async fn a_consent_patch_changes_only_the_channels_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let s = &w.server;
    let mut given = profile("Ada Lovelace", "ada@example.org", "+44 20 7946 0001", "W1 2AB");
    given["marketing"]["push"] = json!(true);
    let player = register_ok(s, &w.admin, given).await;
    let path = format!("/operator/v1/players/{player}/profile");
    let consents = |read: &Value| {
        let m = &read["profile"]["marketing"];
        [&m["email"], &m["sms"], &m["phone"], &m["post"], &m["push"]].map(|v| v.as_bool().unwrap())
    };
    assert_eq!(
        consents(&get_profile(s, &w.admin, player).await),
        [true, false, false, true, true]
    );

    let patch = json!({"marketing": {"email": false, "sms": true}});
    let reply = op(s, &w.admin, Method::PATCH, &path, Some(patch)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        consents(&get_profile(s, &w.admin, player).await),
        [false, true, false, true, true],
        "push kept"
    );
    let patch = json!({"marketing": {"push": false}});
    let reply = op(s, &w.admin, Method::PATCH, &path, Some(patch)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        consents(&get_profile(s, &w.admin, player).await),
        [false, true, false, true, false]
    );
    let patch = json!({"marketing": {"fax": true}});
    let reply = op(s, &w.admin, Method::PATCH, &path, Some(patch)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert_eq!(
        consents(&get_profile(s, &w.admin, player).await),
        [false, true, false, true, false]
    );

    // No profile yet: every original channel is required, push is optional.
    let legacy_path = format!("/operator/v1/players/{}/profile", w.player);
    let mut partial = profile("Grace Hopper", "grace@example.org", "+1 202 555 0101", "20500");
    partial["marketing"] = json!({"email": true, "phone": false, "post": false});
    let reply = op(s, &w.admin, Method::PATCH, &legacy_path, Some(partial.clone())).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert!(reply.text().contains("marketing.sms"), "{}", reply.text());
    assert_eq!(get_profile(s, &w.admin, w.player).await["profile"], Value::Null);
    partial["marketing"]["sms"] = json!(true);
    let reply = op(s, &w.admin, Method::PATCH, &legacy_path, Some(partial)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        consents(&get_profile(s, &w.admin, w.player).await),
        [true, true, false, false, false]
    );
    w.server.stop().await;
}

#[tokio::test]
async fn a_retried_registration_gets_the_same_player() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let s = &w.server;
    let body = registration(profile("Alan Turing", "alan@example.org", "+44 161 496 0000", "M1 1AA"));
    let headers = [
        ("authorization", format!("Bearer {}", w.admin)),
        ("content-type", "application/json".into()),
        ("idempotency-key", "reg-1".into()),
    ];
    let send = || {
        s.send(
            Http::V2,
            Method::POST,
            "/operator/v1/registrations",
            &headers,
            Some(body.to_string().into_bytes()),
        )
    };
    let first = send().await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    assert_eq!(send().await.text(), first.text());
    assert_eq!(key_files(dir.path()).len(), 1);
    w.server.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_clearly_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let s = &w.server;
    let player = register_ok(
        s,
        &w.admin,
        profile("Mary Somerville", "mary@example.org", "+44 131 496 0000", "EH1 1AA"),
    )
    .await;
    let before_profile = get_profile(s, &w.admin, player).await;
    let applied = s.commands_applied().await;
    let keys = key_files(dir.path());
    let with = |field: &str, value: Value| {
        let mut p = profile("Ann Other", "ann@example.org", "+44 131 496 0001", "EH2 2BB");
        p[field] = value;
        registration(p)
    };
    let without = |field: &str| {
        let mut p = profile("Ann Other", "ann@example.org", "+44 131 496 0001", "EH2 2BB");
        p.as_object_mut().unwrap().remove(field);
        registration(p)
    };
    let mut registrations: Vec<(Value, StatusCode, &str)> = vec![
        (
            with("email", json!("not-an-email")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (with("email", json!("a@b")), StatusCode::BAD_REQUEST, "invalid_request"),
        (with("name", json!("   ")), StatusCode::BAD_REQUEST, "invalid_request"),
        (
            with("phone", json!("12345")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            with("date_of_birth", json!("1990-02-30")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            with("date_of_birth", json!("2030-01-01")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            with("date_of_birth", json!("2008-01-02")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "under_age",
        ),
        (with("country", json!("gb")), StatusCode::BAD_REQUEST, "invalid_request"),
        (
            with("language", json!("English")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            with("address", json!({"line": "x", "city": "y", "postcode": "!!"})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (with("unknown", json!(1)), StatusCode::BAD_REQUEST, "invalid_request"),
        (without("email"), StatusCode::BAD_REQUEST, "invalid_request"),
        (without("marketing"), StatusCode::BAD_REQUEST, "invalid_request"),
    ];
    let mut bad_account = with("email", json!("fine@example.org"));
    bad_account["jurisdiction"] = json!("gb");
    registrations.push((bad_account.clone(), StatusCode::BAD_REQUEST, "invalid_request"));
    bad_account["jurisdiction"] = json!("GB");
    bad_account["currency"] = json!("XXX");
    registrations.push((bad_account, StatusCode::BAD_REQUEST, "unknown_currency"));
    for (body, status, code) in registrations {
        let reply = op(
            s,
            &w.admin,
            Method::POST,
            "/operator/v1/registrations",
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            (reply.status, reply.code().as_str()),
            (status, code),
            "{body}: {}",
            reply.text()
        );
    }
    let path = format!("/operator/v1/players/{player}/profile");
    let status = format!("/operator/v1/players/{player}/status");
    let erasure = format!("/operator/v1/players/{player}/erasure");
    let changes: Vec<(Method, String, Value, StatusCode)> = vec![
        (Method::PATCH, path.clone(), json!({}), StatusCode::BAD_REQUEST),
        (
            Method::PATCH,
            path.clone(),
            json!({"email": "nope"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::PATCH,
            path.clone(),
            json!({"date_of_birth": "2010-01-01"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::PATCH,
            path.clone(),
            json!({"currency": "EUR"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::PUT,
            status.clone(),
            json!({"status": "frozen", "reason": "x"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::PUT,
            status.clone(),
            json!({"status": "suspended", "reason": " "}),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::PUT,
            status.clone(),
            json!({"status": "suspended"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            erasure.clone(),
            json!({"reason": ""}),
            StatusCode::BAD_REQUEST,
        ),
        (Method::POST, erasure.clone(), json!({}), StatusCode::BAD_REQUEST),
        (
            Method::PATCH,
            "/operator/v1/players/999/profile".into(),
            json!({"name": "X Y"}),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PUT,
            "/operator/v1/players/999/status".into(),
            json!({"status": "closed", "reason": "x"}),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "/operator/v1/players/0/erasure".into(),
            json!({"reason": "x"}),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (method, path, body, expected) in changes {
        let reply = op(s, &w.admin, method.clone(), &path, Some(body.clone())).await;
        assert_eq!(reply.status, expected, "{method} {path} {body}: {}", reply.text());
        assert!(!reply.code().is_empty(), "an error code: {}", reply.text());
    }
    let unknown = op(s, &w.admin, Method::GET, "/operator/v1/players/999/profile", None).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "unknown_player".into())
    );
    // Without a token, or with a role that may not: refused before the body is read.
    let unauthenticated = op(s, "", Method::GET, &path, None).await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
    let created = op(
        s,
        &w.admin,
        Method::POST,
        "/operator/v1/operators",
        Some(json!({"name": "fin", "role": "finance"})),
    )
    .await;
    let finance = created.json()["token"].as_str().unwrap().to_owned();
    for (method, path) in [
        (Method::GET, path.as_str()),
        (Method::POST, erasure.as_str()),
        (Method::POST, "/operator/v1/registrations"),
    ] {
        let reply = op(s, &finance, method, path, Some(json!({}))).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
    }

    assert_eq!(s.commands_applied().await, applied + 1, "only the operator was created");
    assert_eq!(key_files(dir.path()), keys, "no data key was made or destroyed");
    assert_eq!(
        get_profile(s, &w.admin, player).await["profile"],
        before_profile["profile"]
    );
    w.server.stop().await;
}

#[tokio::test]
async fn a_second_player_with_the_same_email_or_identity_is_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let s = &w.server;
    let first = register_ok(
        s,
        &w.admin,
        profile("Jane  Doe", "Jane.Doe@Example.org", "+44 20 7946 1000", "SW1A 1AA"),
    )
    .await;
    let duplicate = |reply: Reply| {
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::CONFLICT, "duplicate_player".into()),
            "{}",
            reply.text()
        );
        reply.json()["error"]["message"].as_str().unwrap().to_owned()
    };
    // The same email, in other case and with spaces around it.
    let message = duplicate(
        register(
            s,
            &w.admin,
            profile("John Roe", " jane.doe@example.ORG ", "+44 20 7946 1001", "N1 9GU"),
        )
        .await,
    );
    assert!(message.contains("email"), "{message}");
    // The same name (case, spaces), date of birth and postcode (spacing).
    let message = duplicate(
        register(
            s,
            &w.admin,
            profile("jane doe", "other@example.org", "+44 20 7946 1002", "sw1a-1aa"),
        )
        .await,
    );
    assert!(message.contains("date of birth"), "{message}");
    // Nothing was left behind: no key, no player.
    assert_eq!(key_files(dir.path()).len(), 1);
    let second = register_ok(
        s,
        &w.admin,
        profile("Jane Doe", "jane2@example.org", "+44 20 7946 1003", "SW1A 2AA"),
    )
    .await;
    assert_eq!(second, first + 1);
    // A change to another player's email is a duplicate too.
    let path = format!("/operator/v1/players/{second}/profile");
    duplicate(
        op(
            s,
            &w.admin,
            Method::PATCH,
            &path,
            Some(json!({"email": "jane.doe@example.org"})),
        )
        .await,
    );
    // After an erasure the person may register again.
    let erasure = format!("/operator/v1/players/{first}/erasure");
    let erased = op(
        s,
        &w.admin,
        Method::POST,
        &erasure,
        Some(json!({"reason": "request 9"})),
    )
    .await;
    assert_eq!(erased.status, StatusCode::OK);
    register_ok(
        s,
        &w.admin,
        profile("Jane Doe", "jane.doe@example.org", "+44 20 7946 1000", "SW1A 1AA"),
    )
    .await;
    w.server.stop().await;
}

#[tokio::test]
async fn a_suspended_closed_or_erased_player_cannot_bet_or_deposit() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let s = &w.server;
    let status = format!("/operator/v1/players/{}/status", w.player);
    let deposit = format!("/operator/v1/players/{}/deposits", w.player);
    let blocked = |reply: Reply| {
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::FORBIDDEN, "player_blocked".into()),
            "{}",
            reply.text()
        );
    };
    for (i, state) in ["suspended", "closed"].into_iter().enumerate() {
        let set = op(
            s,
            &w.admin,
            Method::PUT,
            &status,
            Some(json!({"status": state, "reason": "test"})),
        )
        .await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.text());
        blocked(w.bet(Http::V1, &format!("b-{i}"), "1.00", "r-1").await);
        let body = json!({"deposit_id": format!("d-{i}"), "currency": "EUR", "amount": "5.00"});
        blocked(op(s, &w.admin, Method::POST, &deposit, Some(body)).await);
    }
    let active = op(
        s,
        &w.admin,
        Method::PUT,
        &status,
        Some(json!({"status": "active", "reason": "cleared"})),
    )
    .await;
    assert_eq!(active.status, StatusCode::OK);
    let bet = w.bet(Http::V1, "b-ok", "1.00", "r-1").await;
    assert_eq!(bet.status, StatusCode::OK, "{}", bet.text());
    let erasure = format!("/operator/v1/players/{}/erasure", w.player);
    assert_eq!(
        op(s, &w.admin, Method::POST, &erasure, Some(json!({"reason": "gdpr"})))
            .await
            .status,
        StatusCode::OK
    );
    blocked(w.bet(Http::V1, "b-late", "1.00", "r-1").await);
    w.server.stop().await;
}

#[tokio::test]
async fn no_personal_data_rests_in_clear_and_erasure_survives_restarts() {
    let dir = tempfile::tempdir().unwrap();
    // Snapshots after every command: the restart below starts from one.
    let config = || ServeConfig {
        snapshot_every_commands: 1,
        ..support::config(dir.path())
    };
    let w = World::new_with(config()).await;
    let s = &w.server;
    let people = [
        (
            "Zebediah Quuxington",
            "zeb.quux@example.org",
            "+44 7700 900123",
            "ZQ9 8XY",
        ),
        ("Ottilie Fernsby", "ottilie.f@example.net", "+44 7700 900456", "YX8 7QZ"),
    ];
    let mut players = Vec::new();
    for (name, email, phone, postcode) in people {
        players.push(register_ok(s, &w.admin, profile(name, email, phone, postcode)).await);
    }
    let erasure = format!("/operator/v1/players/{}/erasure", players[0]);
    let key_of_erased = key_files(dir.path());
    assert_eq!(key_of_erased.len(), 2);
    let kept = std::fs::read(&key_of_erased[0]).unwrap();
    let erased = op(
        s,
        &w.admin,
        Method::POST,
        &erasure,
        Some(json!({"reason": "GDPR art. 17"})),
    )
    .await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.text());
    let live_keys = key_files(dir.path());
    assert_eq!(live_keys.len(), 1);
    let destroyed = key_of_erased.iter().find(|k| !live_keys.contains(k)).unwrap().clone();
    // Wait for a snapshot that holds the erasure (a format-5 image with
    // the profiles in it).
    let applied = s.commands_applied().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let newest = || {
        engine::snapshot::list(dir.path())
            .unwrap()
            .iter()
            .map(|(seq, _)| *seq)
            .max()
    };
    while newest().is_none_or(|seq| seq < applied) {
        assert!(std::time::Instant::now() < deadline, "no snapshot at {applied}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let clock = w.server.clock.clone();
    w.server.stop().await;

    let mut needles = Vec::new();
    for (name, email, phone, postcode) in people {
        needles.extend([
            name,
            email,
            phone,
            postcode,
            "+447700900123",
            "+447700900456",
            "1990-05-17",
            "Quayside",
        ]);
        let lower = name.to_lowercase();
        assert!(files_holding(dir.path(), &[&lower]).is_empty(), "{lower}");
    }
    let found = files_holding(dir.path(), &needles);
    assert!(found.is_empty(), "personal data in clear: {found:?}");

    // A crash between the erasure and the key's removal: the key is back
    // on disk; the next start destroys it. The other player's key stays.
    std::fs::write(&destroyed, &kept).unwrap();
    let server = TestServer::start_at(config(), clock).await;
    assert_eq!(
        key_files(dir.path()),
        live_keys,
        "the erased player's key is swept at start-up"
    );
    let gone = get_profile(&server, &w.admin, players[0]).await;
    assert_eq!(
        (gone["erased"].as_bool(), gone["profile"].clone()),
        (Some(true), Value::Null)
    );
    let kept = get_profile(&server, &w.admin, players[1]).await;
    assert_eq!(kept["profile"]["email"], "ottilie.f@example.net");
    assert_eq!(kept["status"], "active");
    server.stop().await;
    // The last start came from a snapshot, with the profiles in it.
    let (ledger, report) = engine::durable::replay(dir.path(), engine::Config::default()).unwrap();
    assert!(
        report.snapshot.as_ref().is_some_and(|s| s.seq >= applied),
        "{:?}",
        report.snapshot
    );
    assert!(report.skipped_snapshots.is_empty(), "{:?}", report.skipped_snapshots);
    assert_eq!(ledger.profile_keys().len(), 1);
    assert!(
        ledger
            .profile(engine::PlayerId(players[0]))
            .unwrap()
            .unwrap()
            .is_erased()
    );
}

// ---------------------------------------------------------------------------
// KYC
// ---------------------------------------------------------------------------

const APP_TOKEN: &str = "test-app-token";
const SECRET_KEY: &str = "test-secret-key";
const WEBHOOK_SECRET: &str = "test-webhook-secret";
const WEBHOOK_PATH: &str = "/webhooks/v1/kyc";

/// A world whose server talks to a sandbox provider on loopback, both on
/// one clock, the sandbox sending its webhooks to the server.
async fn kyc_world(dir: &Path) -> (World, Sandbox) {
    let clock = Arc::new(AtomicU64::new(T0));
    let read = clock.clone();
    let sandbox = Sandbox::start(
        SandboxConfig {
            app_token: APP_TOKEN.into(),
            secret_key: SECRET_KEY.into(),
            webhook_secret: WEBHOOK_SECRET.into(),
            webhook_url: None,
            clock: Arc::new(move || read.load(Ordering::SeqCst)),
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("the sandbox starts");
    let config = ServeConfig {
        kyc_provider_url: Some(sandbox.url()),
        kyc_app_token: Some(APP_TOKEN.into()),
        kyc_secret_key: Some(SECRET_KEY.into()),
        kyc_webhook_secret: Some(WEBHOOK_SECRET.into()),
        ..support::config(dir)
    };
    let w = World::on(TestServer::start_at(config, clock).await).await;
    let target = json!({"url": format!("http://{}{WEBHOOK_PATH}", w.server.addr())});
    let set = reqwest::Client::new()
        .put(format!("{}/sandbox/webhook", sandbox.url()))
        .header("content-type", "application/json")
        .body(target.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::NO_CONTENT);
    (w, sandbox)
}

/// A call to the sandbox's control side.
async fn sandbox_post(sandbox: &Sandbox, path: &str, body: Value) -> Value {
    let reply = reqwest::Client::new()
        .post(format!("{}{path}", sandbox.url()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK, "{path}");
    serde_json::from_slice(&reply.bytes().await.unwrap()).unwrap()
}

/// The sandbox decides `check` (and sends the webhook if `deliver`); the
/// webhook's delivery status and event number.
async fn sandbox_decides(sandbox: &Sandbox, check: &str, answer: &str, deliver: bool) -> (Value, u64) {
    let path = format!("/sandbox/applicants/{check}/review");
    let body = json!({"answer": answer, "rejectLabels": [], "deliver": deliver});
    let reply = sandbox_post(sandbox, &path, body).await;
    (reply["delivered"].clone(), reply["event"].as_u64().unwrap())
}

/// Delivers recorded event `n` again, as it was.
async fn sandbox_resends(sandbox: &Sandbox, n: u64) -> Value {
    sandbox_post(sandbox, &format!("/sandbox/events/{n}/deliver"), json!({})).await["delivered"].clone()
}

/// The player's KYC state without the read's sequence number.
async fn kyc_state(s: &TestServer, token: &str, player: u64) -> Value {
    let reply = op(
        s,
        token,
        Method::GET,
        &format!("/operator/v1/players/{player}/kyc"),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let mut state = reply.json();
    state.as_object_mut().unwrap().remove("as_of_seq");
    state
}

/// A webhook sent straight to the server, signed with `secret` (`None`: unsigned).
async fn post_webhook(s: &TestServer, body: &str, secret: Option<&str>) -> Reply {
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(secret) = secret {
        headers.push((sumsub::DIGEST_HEADER, sumsub::hmac_hex(secret, &[body.as_bytes()])));
        headers.push((sumsub::DIGEST_ALG_HEADER, sumsub::DIGEST_ALG.to_owned()));
    }
    s.send(
        Http::V1,
        Method::POST,
        WEBHOOK_PATH,
        &headers,
        Some(body.as_bytes().to_vec()),
    )
    .await
}

fn review_body(check: &str, answer: &str, event_ms: u64) -> String {
    json!({"applicantId": check, "externalUserId": "x", "type": "applicantReviewed", "reviewStatus": "completed",
        "reviewResult": {"reviewAnswer": answer}, "createdAtMs": sumsub::format_event_time(event_ms)})
    .to_string()
}

#[tokio::test]
async fn a_sandbox_check_verifies_the_player_and_opens_the_gates_whatever_the_webhooks_do() {
    let dir = tempfile::tempdir().unwrap();
    let (w, sandbox) = kyc_world(dir.path()).await;
    let s = &w.server;
    let p = w.player;
    // The world's player has no profile: give one (its date of birth is the
    // age check's), then gate everything in its jurisdiction.
    let full = profile("Grace Hopper", "grace@example.org", "+1 202 555 0101", "20500");
    let given = op(
        s,
        &w.admin,
        Method::PATCH,
        &format!("/operator/v1/players/{p}/profile"),
        Some(full),
    )
    .await;
    assert_eq!(given.status, StatusCode::OK, "{}", given.text());
    let gates = json!({"before_deposit": true, "before_bet": true, "before_withdrawal": true});
    let set = op(
        s,
        &w.admin,
        Method::PUT,
        "/operator/v1/jurisdictions/MT/kyc-gates",
        Some(gates),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    let deposit = format!("/operator/v1/players/{p}/deposits");
    let refused = |reply: Reply| {
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::FORBIDDEN, "kyc_required".into()),
            "{}",
            reply.text()
        );
    };
    refused(w.bet(Http::V1, "b-1", "1.00", "r-1").await);
    let body = json!({"deposit_id": "d-1", "currency": "EUR", "amount": "5.00"});
    refused(op(s, &w.admin, Method::POST, &deposit, Some(body)).await);
    assert_eq!(kyc_state(s, &w.admin, p).await["level"], "none");

    let started = op(
        s,
        &w.admin,
        Method::POST,
        &format!("/operator/v1/players/{p}/kyc/checks"),
        None,
    )
    .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text());
    let started = started.json();
    let check = started["check"].as_str().unwrap().to_owned();
    assert_eq!(started["level"], "pending");
    assert!(
        started["url"].as_str().unwrap().starts_with(&sandbox.url()),
        "{started}"
    );
    let state = kyc_state(s, &w.admin, p).await;
    assert_eq!(
        (state["level"].as_str(), state["check"]["reference"].as_str()),
        (Some("pending"), Some(check.as_str()))
    );
    refused(w.bet(Http::V1, "b-2", "1.00", "r-1").await);

    // The provider reviews: pending first (its webhook held back), then green.
    s.advance(1_000);
    assert_eq!(
        sandbox_decides(&sandbox, &check, "PENDING", false).await,
        (Value::Null, 0)
    );
    s.advance(1_000);
    assert_eq!(sandbox_decides(&sandbox, &check, "GREEN", true).await, (json!(200), 1));
    let verified = kyc_state(s, &w.admin, p).await;
    assert_eq!(verified["level"], "verified", "{verified}");
    assert_eq!(verified["by"], json!({"kind": "provider", "check": check}));
    assert_eq!(verified["check"]["last_event_ms"], T0 + 2_000);
    let bet = w.bet(Http::V1, "b-3", "1.00", "r-1").await;
    assert_eq!(bet.status, StatusCode::OK, "{}", bet.text());
    let body = json!({"deposit_id": "d-2", "currency": "EUR", "amount": "5.00"});
    let funded = op(s, &w.admin, Method::POST, &deposit, Some(body)).await;
    assert_eq!(funded.status, StatusCode::OK, "{}", funded.text());

    // The stale pending event arrives now, out of order, then twice; the
    // green one again: 200 each time, and nothing changes.
    assert_eq!(sandbox_resends(&sandbox, 0).await, json!(200));
    assert_eq!(kyc_state(s, &w.admin, p).await, verified);
    let applied = s.commands_applied().await;
    assert_eq!(sandbox_resends(&sandbox, 0).await, json!(200));
    assert_eq!(sandbox_resends(&sandbox, 1).await, json!(200));
    assert_eq!(
        s.commands_applied().await,
        applied,
        "duplicates are answered from memory"
    );
    assert_eq!(kyc_state(s, &w.admin, p).await, verified);

    // Forged, unsigned, stale, unknown, malformed: a 4xx, nothing changes.
    let applied = s.commands_applied().await;
    let red = review_body(&check, "RED", s.now());
    let cases: Vec<(String, Option<&str>, StatusCode, &str)> = vec![
        (
            red.clone(),
            Some("not-the-secret"),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        (red.clone(), None, StatusCode::UNAUTHORIZED, "bad_signature"),
        (
            review_body(&check, "RED", s.now() - sumsub::WEBHOOK_AGE_MAX_MS - 1),
            Some(WEBHOOK_SECRET),
            StatusCode::BAD_REQUEST,
            "stale_webhook",
        ),
        (
            review_body("sbx-unknown", "RED", s.now()),
            Some(WEBHOOK_SECRET),
            StatusCode::NOT_FOUND,
            "unknown_check",
        ),
        (
            "{\"applicantId\": 7}".into(),
            Some(WEBHOOK_SECRET),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            review_body(&check, "BLUE", s.now()),
            Some(WEBHOOK_SECRET),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (body, secret, status, code) in cases {
        let reply = post_webhook(s, &body, secret).await;
        assert_eq!(
            (reply.status, reply.code().as_str()),
            (status, code),
            "{body}: {}",
            reply.text()
        );
    }
    // A genuine event's signature on a body with the answer flipped.
    let genuine = review_body(&check, "GREEN", s.now());
    let headers = [
        ("content-type", "application/json".to_owned()),
        (
            sumsub::DIGEST_HEADER,
            sumsub::hmac_hex(WEBHOOK_SECRET, &[genuine.as_bytes()]),
        ),
    ];
    let flipped = genuine.replace("GREEN", "RED").into_bytes();
    let forged = s
        .send(Http::V1, Method::POST, WEBHOOK_PATH, &headers, Some(flipped))
        .await;
    assert_eq!(
        (forged.status, forged.code()),
        (StatusCode::UNAUTHORIZED, "bad_signature".into())
    );
    assert_eq!(s.commands_applied().await, applied, "nothing reached the ledger");
    assert_eq!(kyc_state(s, &w.admin, p).await, verified);

    // A genuine later rejection closes the gates again.
    s.advance(1_000);
    assert_eq!(sandbox_decides(&sandbox, &check, "RED", true).await.0, json!(200));
    assert_eq!(kyc_state(s, &w.admin, p).await["level"], "rejected");
    refused(w.bet(Http::V1, "b-4", "1.00", "r-1").await);
    w.server.stop().await;
    sandbox.stop().await;
}

#[tokio::test]
async fn manual_decisions_and_documents_keep_reasons_and_hashed_numbers_only() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let s = &w.server;
    let ada = register_ok(
        s,
        &w.admin,
        profile("Ada Lovelace", "ada@example.org", "+44 20 7946 0001", "W1 2AB"),
    )
    .await;
    let kyc = format!("/operator/v1/players/{ada}/kyc");
    let documents = format!("/operator/v1/players/{ada}/kyc/documents");
    let decided = op(
        s,
        &w.admin,
        Method::PUT,
        &kyc,
        Some(json!({"level": "verified", "reason": "passport seen"})),
    )
    .await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.text());
    let state = kyc_state(s, &w.admin, ada).await;
    assert_eq!(
        (state["level"].as_str(), state["reason"].as_str()),
        (Some("verified"), Some("passport seen"))
    );
    assert_eq!(state["by"], json!({"kind": "operator", "operator": 1}));

    let passport = json!({"kind": "passport", "issuing_country": "GB", "number": "925 665 416",
        "expires_on": "2030-06-30", "status": "pending"});
    let recorded = op(s, &w.admin, Method::POST, &documents, Some(passport.clone())).await;
    assert_eq!(recorded.status, StatusCode::CREATED, "{}", recorded.text());
    assert_eq!(recorded.json()["document"], 1);
    let mut checked = passport.clone();
    checked["number"] = json!("925-665-416");
    checked["status"] = json!("verified");
    let again = op(s, &w.admin, Method::POST, &documents, Some(checked)).await;
    assert_eq!(
        (again.status, again.json()["document"].clone()),
        (StatusCode::CREATED, json!(1)),
        "the same document"
    );
    let state = kyc_state(s, &w.admin, ada).await;
    let document = &state["documents"][0];
    assert_eq!(
        (document["status"].as_str(), document["expires_on"].as_str()),
        (Some("verified"), Some("2030-06-30"))
    );
    assert_eq!(document["number_hash"], recorded.json()["number_hash"]);
    assert_eq!(state["documents"].as_array().unwrap().len(), 1);

    // Refusals, each changing nothing.
    let grace = register_ok(
        s,
        &w.admin,
        profile("Grace Hopper", "grace@example.org", "+1 202 555 0101", "20500"),
    )
    .await;
    let before = (kyc_state(s, &w.admin, ada).await, kyc_state(s, &w.admin, grace).await);
    let applied = s.commands_applied().await;
    let support_token = {
        let created = op(
            s,
            &w.admin,
            Method::POST,
            "/operator/v1/operators",
            Some(json!({"name": "desk", "role": "support"})),
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        created.json()["token"].as_str().unwrap().to_owned()
    };
    let applied = applied + 1;
    let with = |field: &str, value: Value| {
        let mut body = passport.clone();
        body[field] = value;
        body
    };
    let grace_documents = format!("/operator/v1/players/{grace}/kyc/documents");
    let legacy_kyc = format!("/operator/v1/players/{}/kyc", w.player);
    let cases: Vec<(&str, Method, String, Value, StatusCode, &str)> = vec![
        (
            &w.admin,
            Method::PUT,
            kyc.clone(),
            json!({"level": "gold", "reason": "x"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &w.admin,
            Method::PUT,
            kyc.clone(),
            json!({"level": "rejected", "reason": " "}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &w.admin,
            Method::PUT,
            kyc.clone(),
            json!({"level": "rejected"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &w.admin,
            Method::PUT,
            legacy_kyc.clone(),
            json!({"level": "verified", "reason": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "age_unknown",
        ),
        (
            &w.admin,
            Method::PUT,
            "/operator/v1/players/999/kyc".into(),
            json!({"level": "rejected", "reason": "x"}),
            StatusCode::NOT_FOUND,
            "unknown_player",
        ),
        (
            &support_token,
            Method::PUT,
            kyc.clone(),
            json!({"level": "rejected", "reason": "x"}),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            &w.admin,
            Method::POST,
            documents.clone(),
            with("kind", json!("visa")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &w.admin,
            Method::POST,
            documents.clone(),
            with("issuing_country", json!("gb")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &w.admin,
            Method::POST,
            documents.clone(),
            with("number", json!("92/56")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &w.admin,
            Method::POST,
            documents.clone(),
            with("expires_on", json!("2030-02-30")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &w.admin,
            Method::POST,
            documents.clone(),
            with("status", json!("rejected")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &w.admin,
            Method::POST,
            documents.clone(),
            with("colour", json!("red")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &w.admin,
            Method::POST,
            grace_documents.clone(),
            passport.clone(),
            StatusCode::CONFLICT,
            "kyc_document_taken",
        ),
        (
            &w.admin,
            Method::POST,
            grace_documents.clone(),
            json!({"kind": "id_card", "issuing_country": "US", "number": "A1", "expires_on": "2025-12-31", "status": "verified"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "kyc_document_expired",
        ),
        (
            &w.admin,
            Method::POST,
            format!("/operator/v1/players/{ada}/kyc/checks"),
            json!({}),
            StatusCode::SERVICE_UNAVAILABLE,
            "kyc_provider_not_configured",
        ),
        (
            &w.admin,
            Method::PUT,
            "/operator/v1/jurisdictions/mt/kyc-gates".into(),
            json!({"before_deposit": true, "before_bet": true, "before_withdrawal": true}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &w.admin,
            Method::PUT,
            "/operator/v1/jurisdictions/MT/kyc-gates".into(),
            json!({"before_bet": true}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (token, method, path, body, status, code) in cases {
        let reply = op(s, token, method.clone(), &path, Some(body.clone())).await;
        assert_eq!(
            (reply.status, reply.code().as_str()),
            (status, code),
            "{method} {path} {body}: {}",
            reply.text()
        );
    }
    let webhook = post_webhook(s, &review_body("x", "GREEN", s.now()), Some(WEBHOOK_SECRET)).await;
    assert_eq!(
        (webhook.status, webhook.code()),
        (StatusCode::NOT_FOUND, "kyc_provider_not_configured".into())
    );
    // Refused by the ledger: two requests reached it (and were journaled as refusals).
    assert_eq!(
        s.commands_applied().await,
        applied + 2,
        "only the taken and the expired document reached the ledger"
    );
    assert_eq!(
        (kyc_state(s, &w.admin, ada).await, kyc_state(s, &w.admin, grace).await),
        before
    );
    assert_eq!(
        kyc_state(s, &support_token, ada).await["level"],
        "verified",
        "support may read"
    );

    // No document number in clear anywhere in the data directory.
    w.server.stop().await;
    let found = files_holding(dir.path(), &["925665416", "925 665 416", "925-665-416"]);
    assert!(found.is_empty(), "document numbers in clear: {found:?}");
}

const FIREFOX_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0 QuokkaBuild/7731";
const SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 \
    (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1 WombatKit/3319";

fn device(device_id: &str, ip: &str, user_agent: &str) -> Value {
    json!({"device_id": device_id, "ip": ip, "user_agent": user_agent})
}

async fn login(s: &TestServer, token: &str, player: u64, body: Value) -> Reply {
    op(
        s,
        token,
        Method::POST,
        &format!("/operator/v1/players/{player}/logins"),
        Some(body),
    )
    .await
}

async fn login_ok(s: &TestServer, token: &str, player: u64, body: Value) -> Value {
    let reply = login(s, token, player, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.json()
}

async fn read_ok(s: &TestServer, token: &str, path: &str) -> Value {
    let reply = op(s, token, Method::GET, path, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
    reply.json()
}

/// Logins and logouts: sessions with their durations, ended by a logout or
/// by the next login from the same device; a login while another device's
/// session is open flagged as concurrent; a device and an IP address
/// shared between players flagged and listed for risk; a blocked player's
/// login recorded with the reason, an erased one's refused; bad input
/// refused with nothing submitted; and the device ids, addresses and user
/// agents nowhere in clear in the data directory.
#[tokio::test]
async fn logins_make_sessions_devices_and_risk_flags_without_personal_data_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let s = &w.server;
    let (p1, admin) = (w.player, w.admin.as_str());
    let registered = op(
        s,
        admin,
        Method::POST,
        "/operator/v1/players",
        Some(json!({"currency": "EUR", "jurisdiction": "MT"})),
    )
    .await;
    let p2 = registered.json()["player"].as_u64().unwrap();
    let (laptop, phone) = ("dev-laptop-4f1c9e2a77", "dev-phone-8b3d0c6e51");
    let (home_ip, cafe_ip) = ("198.51.100.23", "2001:db8:4::beef:17");

    // A login and its logout a minute later.
    let first = login_ok(s, admin, p1, device(laptop, home_ip, FIREFOX_LINUX)).await;
    let session = &first["session"];
    assert_eq!(
        (first["may_play"].as_bool(), session["concurrent_with"].clone()),
        (Some(true), Value::Null)
    );
    assert_eq!(
        (session["browser"].as_str(), session["os"].as_str()),
        (Some("firefox"), Some("linux"))
    );
    let first_id = session["session"].as_u64().unwrap();
    s.advance(60_000);
    let logout = op(
        s,
        admin,
        Method::POST,
        &format!("/operator/v1/players/{p1}/logouts"),
        Some(device(laptop, home_ip, FIREFOX_LINUX)),
    )
    .await;
    assert_eq!(logout.status, StatusCode::OK, "{}", logout.text());
    let ended = &logout.json()["ended"];
    assert_eq!(
        (ended["session"].as_u64(), ended["duration_ms"].as_u64()),
        (Some(first_id), Some(60_000))
    );
    assert_eq!(ended["ended_by"], "logout");
    // A logout with no session open on that device ends nothing.
    let stray = op(
        s,
        admin,
        Method::POST,
        &format!("/operator/v1/players/{p1}/logouts"),
        Some(device(phone, home_ip, "")),
    )
    .await;
    assert_eq!(
        (stray.status, stray.json()["ended"].clone()),
        (StatusCode::OK, Value::Null)
    );

    // The laptop again (left open), then the phone meanwhile: concurrent.
    s.advance(1_000);
    let open = login_ok(s, admin, p1, device(laptop, home_ip, FIREFOX_LINUX)).await["session"]["session"]
        .as_u64()
        .unwrap();
    s.advance(1_000);
    // A retry of the same report gets the same session.
    let body = device(phone, cafe_ip, SAFARI_IOS);
    let path = format!("/operator/v1/players/{p1}/logins");
    let headers = [
        ("authorization", format!("Bearer {admin}")),
        ("content-type", "application/json".to_owned()),
        ("idempotency-key", "login-phone-1".to_owned()),
    ];
    let bytes = body.to_string().into_bytes();
    let concurrent = s
        .send(Http::V1, Method::POST, &path, &headers, Some(bytes.clone()))
        .await;
    assert_eq!(concurrent.status, StatusCode::CREATED, "{}", concurrent.text());
    let retried = s.send(Http::V1, Method::POST, &path, &headers, Some(bytes)).await;
    assert_eq!(retried.json()["session"], concurrent.json()["session"]);
    let concurrent = concurrent.json()["session"].clone();
    assert_eq!(concurrent["concurrent_with"].as_u64(), Some(open));
    assert_eq!(
        (concurrent["browser"].as_str(), concurrent["os"].as_str()),
        (Some("safari"), Some("ios"))
    );
    // The laptop once more without a logout: the open laptop session ends
    // there, and the phone's is still open: concurrent again.
    s.advance(5_000);
    login_ok(s, admin, p1, device(laptop, home_ip, FIREFOX_LINUX)).await;

    let sessions = read_ok(s, admin, &format!("/operator/v1/players/{p1}/sessions")).await;
    let sessions = sessions["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 4);
    let by_id = |id: u64| {
        sessions
            .iter()
            .find(|x| x["session"].as_u64() == Some(id))
            .unwrap()
            .clone()
    };
    assert_eq!(by_id(open)["ended_by"], "next_login");
    assert_eq!(by_id(open)["duration_ms"].as_u64(), Some(6_000));
    assert_eq!(sessions[0]["ended_ms"], Value::Null, "the newest is open");
    // Pages by cursor give the same sessions.
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = read_ok(s, admin, &format!("/operator/v1/players/{p1}/sessions?limit=3{cursor}")).await;
        paged.extend(page["sessions"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(paged, sessions);
    let devices = read_ok(s, admin, &format!("/operator/v1/players/{p1}/devices")).await;
    assert_eq!(devices["devices"].as_array().unwrap().len(), 2);
    assert_eq!(devices["addresses"].as_array().unwrap().len(), 2);
    assert_eq!(devices["devices"][0]["logins"], 3, "the laptop, used last");
    let flags = read_ok(s, admin, &format!("/operator/v1/players/{p1}/login-flags")).await;
    let flagged: Vec<Option<u64>> = flags["concurrent_sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["concurrent_with"].as_u64())
        .collect();
    assert_eq!(flagged, [concurrent["session"].as_u64(), Some(open)]);
    assert_eq!(
        (flags["flagged"].as_bool(), flags["shared"].clone()),
        (Some(true), json!([]))
    );

    // Player 2 on player 1's phone, from player 1's home address written
    // as IPv6: the device and the address are shared.
    login_ok(s, admin, p2, device(phone, "::ffff:198.51.100.23", "CasinoApp/2.0")).await;
    let flags = read_ok(s, admin, &format!("/operator/v1/players/{p2}/login-flags")).await;
    let shared = flags["shared"].as_array().unwrap();
    let kinds: Vec<&str> = shared.iter().map(|x| x["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 2);
    assert!(kinds.contains(&"device") && kinds.contains(&"ip"), "{kinds:?}");
    for identifier in shared {
        assert_eq!(identifier["player_ids"], json!([p1, p2]));
    }
    assert_eq!(flags["concurrent_sessions"], json!([]));
    let risk = read_ok(s, admin, "/operator/v1/risk/shared-identifiers").await;
    assert_eq!(risk["shared"].as_array().unwrap().len(), 2);
    let first_page = read_ok(s, admin, "/operator/v1/risk/shared-identifiers?limit=1").await;
    let next = first_page["next_cursor"].as_str().unwrap();
    let second = read_ok(
        s,
        admin,
        &format!("/operator/v1/risk/shared-identifiers?limit=1&cursor={next}"),
    )
    .await;
    assert_eq!(
        [first_page["shared"][0].clone(), second["shared"][0].clone()],
        risk["shared"].as_array().unwrap()[..]
    );

    // A self-excluded, then closed, player's login is recorded with the reason.
    let until = s.now() + 86_400_000;
    let excluded = op(
        s,
        admin,
        Method::POST,
        &format!("/operator/v1/players/{p2}/self-exclusion"),
        Some(json!({"until_ms": until})),
    )
    .await;
    assert_eq!(excluded.status, StatusCode::OK, "{}", excluded.text());
    let blocked = login_ok(s, admin, p2, device(phone, cafe_ip, "")).await;
    assert_eq!(blocked["may_play"], false);
    assert_eq!(
        blocked["session"]["blocked"],
        json!({"reason": "self_excluded", "until_ms": until})
    );
    let status = json!({"status": "closed", "reason": "player asked"});
    assert_eq!(
        op(
            s,
            admin,
            Method::PUT,
            &format!("/operator/v1/players/{p2}/status"),
            Some(status)
        )
        .await
        .status,
        StatusCode::OK
    );
    let closed = login_ok(s, admin, p2, device(phone, cafe_ip, "")).await;
    assert_eq!(closed["session"]["blocked"], json!({"reason": "closed"}));
    let erasure = op(
        s,
        admin,
        Method::POST,
        &format!("/operator/v1/players/{p2}/erasure"),
        Some(json!({"reason": "gdpr 9"})),
    )
    .await;
    assert_eq!(erasure.status, StatusCode::OK, "{}", erasure.text());
    let gone = login(s, admin, p2, device(phone, cafe_ip, "")).await;
    assert_eq!((gone.status, gone.code()), (StatusCode::GONE, "player_erased".into()));

    // Bad input: a clear 4xx, nothing submitted.
    let applied = s.commands_applied().await;
    let post_refusals: Vec<(String, Value, StatusCode, &str)> = vec![
        (
            "/operator/v1/players/999/logins".to_owned(),
            device(laptop, home_ip, ""),
            StatusCode::NOT_FOUND,
            "unknown_player",
        ),
        (
            "/operator/v1/players/999/logouts".to_owned(),
            device(laptop, home_ip, ""),
            StatusCode::NOT_FOUND,
            "unknown_player",
        ),
        (
            format!("/operator/v1/players/{p1}/logins"),
            device("", home_ip, ""),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!("/operator/v1/players/{p1}/logins"),
            device(&"d".repeat(257), home_ip, ""),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!("/operator/v1/players/{p1}/logins"),
            device(laptop, "300.1.2.3", ""),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!("/operator/v1/players/{p1}/logouts"),
            device(laptop, "home", ""),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!("/operator/v1/players/{p1}/logins"),
            device(laptop, home_ip, &"x".repeat(2049)),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!("/operator/v1/players/{p1}/logins"),
            json!({"device_id": laptop, "ip": home_ip}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!("/operator/v1/players/{p1}/logins"),
            json!({"device_id": laptop, "ip": home_ip, "user_agent": "", "x": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (path, body, status, code) in post_refusals {
        let reply = op(s, admin, Method::POST, &path, Some(body)).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code.to_owned()),
            "{path}: {}",
            reply.text()
        );
    }
    let get_refusals: [(String, StatusCode, &str); 8] = [
        (
            "/operator/v1/players/999/sessions".to_owned(),
            StatusCode::NOT_FOUND,
            "unknown_player",
        ),
        (
            "/operator/v1/players/999/devices".to_owned(),
            StatusCode::NOT_FOUND,
            "unknown_player",
        ),
        (
            "/operator/v1/players/999/login-flags".to_owned(),
            StatusCode::NOT_FOUND,
            "unknown_player",
        ),
        (
            format!("/operator/v1/players/{p1}/sessions?cursor=soon"),
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            format!("/operator/v1/players/{p1}/sessions?limit=0"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!("/operator/v1/players/{p1}/sessions?offset=3"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "/operator/v1/risk/shared-identifiers?cursor=ip:zz".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            "/operator/v1/risk/shared-identifiers?limit=501".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (path, status, code) in get_refusals {
        let reply = op(s, admin, Method::GET, &path, None).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code.to_owned()),
            "{path}: {}",
            reply.text()
        );
    }
    assert_eq!(s.commands_applied().await, applied);
    assert_eq!(
        read_ok(s, admin, &format!("/operator/v1/players/{p1}/sessions")).await["sessions"],
        Value::Array(sessions)
    );

    // Nothing of it in clear in any file of the data directory.
    let w_server = w.server;
    w_server.stop().await;
    let needles = [
        laptop,
        phone,
        home_ip,
        cafe_ip,
        "2001:db8:4::beef:17",
        "QuokkaBuild",
        "WombatKit",
        "CasinoApp",
        "rv:121.0",
    ];
    let found = files_holding(dir.path(), &needles);
    assert!(found.is_empty(), "login data in clear: {found:?}");
}

const REGISTRY_KEY: &str = "test-registry-key";

/// A world whose server asks a sandbox self-exclusion register (a real
/// loopback server speaking GAMSTOP's protocol) about GB and MT players;
/// MT fails open, GB closed.
async fn registry_world(dir: &Path) -> (World, ExclusionSandbox) {
    let sandbox = ExclusionSandbox::start(
        ExclusionSandboxConfig {
            api_key: REGISTRY_KEY.into(),
            requests_per_second_max: None,
            clock: Arc::new(|| T0),
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("the sandbox starts");
    let config = ServeConfig {
        self_exclusion_registry_url: Some(sandbox.check_url()),
        self_exclusion_registry_batch_url: Some(sandbox.batch_url()),
        self_exclusion_registry_api_key: Some(REGISTRY_KEY.into()),
        self_exclusion_registry_jurisdictions: vec!["GB".into(), "MT".into()],
        self_exclusion_registry_fail_open: vec!["MT".into()],
        ..support::config(dir)
    };
    (World::new_with(config).await, sandbox)
}

/// Puts a person on the sandbox register (`Y` or `P`); the entry's number.
async fn exclude_at_register(sandbox: &ExclusionSandbox, fields: Value) -> u64 {
    let reply = reqwest::Client::new()
        .post(format!("{}/sandbox/exclusions", sandbox.url()))
        .header("content-type", "application/json")
        .body(fields.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::CREATED);
    let body: Value = serde_json::from_slice(&reply.bytes().await.unwrap()).unwrap();
    body["exclusion"].as_u64().unwrap()
}

/// How many single checks the sandbox register has answered.
async fn register_checks(sandbox: &ExclusionSandbox) -> u64 {
    let reply = reqwest::get(format!("{}/sandbox/checks", sandbox.url())).await.unwrap();
    let body: Value = serde_json::from_slice(&reply.bytes().await.unwrap()).unwrap();
    body["checks"].as_u64().unwrap()
}

fn registration_in(profile: Value, currency: &str, jurisdiction: &str) -> Value {
    json!({"currency": currency, "jurisdiction": jurisdiction, "profile": profile})
}

/// The self-exclusion register at registration and login: an excluded
/// person's registration refused with nothing recorded (no command, no
/// data key), a previously excluded one and an unknown one registered with
/// the register's answer; a jurisdiction not checked never sent; a player
/// excluded after registering suspended at the next login (reason
/// `registry: …`), the login saying so and money refused; a retried login
/// the same; an unanswering register refusing GB (fail-closed) and letting
/// MT through (fail-open), and a GB player without a profile refused.
#[tokio::test]
async fn the_self_exclusion_register_refuses_registrations_and_suspends_at_login() {
    let dir = tempfile::tempdir().unwrap();
    let (w, sandbox) = registry_world(dir.path()).await;
    let (s, admin) = (&w.server, w.admin.as_str());
    let registrations = "/operator/v1/registrations";
    // Excluded by email (another spelling of it): refused, nothing recorded.
    exclude_at_register(
        &sandbox,
        json!({"firstName": "X", "lastName": "Y", "dateOfBirth": "1970-01-01",
            "email": "Eve@Example.org", "exclusion": "Y"}),
    )
    .await;
    let (applied, keys) = (s.commands_applied().await, key_files(dir.path()).len());
    let eve = profile("Eve Moneypenny", "eve@example.org", "+44 7700 900001", "SW1A 1AA");
    let refused = op(s, admin, Method::POST, registrations, Some(registration(eve))).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::FORBIDDEN, "self_excluded".into()),
        "{}",
        refused.text()
    );
    assert_eq!(s.commands_applied().await, applied);
    assert_eq!(
        key_files(dir.path()).len(),
        keys,
        "no data key made for a refused person"
    );
    // Previously excluded (by names, date of birth and postcode): let in, with the answer.
    exclude_at_register(
        &sandbox,
        json!({"firstName": "bob", "lastName": "CRATCHIT", "dateOfBirth": "1990-05-17",
            "postcode": "EC1A1BB", "exclusion": "P"}),
    )
    .await;
    let bob = profile("Bob Cratchit", "bob@example.org", "+44 7700 900002", "EC1A 1BB");
    let reply = op(s, admin, Method::POST, registrations, Some(registration(bob))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.json()["self_exclusion_registry"]["answer"], "P");
    let carol = profile("Carol Danvers", "carol@example.org", "+44 7700 900003", "M1 1AE");
    let reply = op(s, admin, Method::POST, registrations, Some(registration(carol))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let registered = reply.json();
    assert_eq!(registered["self_exclusion_registry"]["answer"], "N");
    assert!(registered["self_exclusion_registry"]["reference"].is_string());
    let carol_id = registered["player"].as_u64().unwrap();
    // A jurisdiction that is not checked: nobody is asked.
    let checks = register_checks(&sandbox).await;
    let dora = profile("Dora Explorer", "dora@example.org", "+49 30 1234567", "10115");
    let body = registration_in(dora, "EUR", "DE");
    let reply = op(s, admin, Method::POST, registrations, Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert!(reply.json().get("self_exclusion_registry").is_none());
    assert_eq!(register_checks(&sandbox).await, checks);

    // Carol logs in, then excludes herself at the register (by mobile and
    // date of birth): her next login suspends the account.
    let laptop = device("laptop-1", "192.0.2.10", FIREFOX_LINUX);
    let first = login_ok(s, admin, carol_id, laptop.clone()).await;
    assert_eq!(
        (first["may_play"].as_bool(), &first["self_exclusion_registry"]["answer"]),
        (Some(true), &json!("N"))
    );
    exclude_at_register(
        &sandbox,
        json!({"firstName": "C", "lastName": "D", "dateOfBirth": "1990-05-17",
            "mobile": "07700 900003", "exclusion": "Y"}),
    )
    .await;
    let logins = format!("/operator/v1/players/{carol_id}/logins");
    let headers = [
        ("content-type", "application/json".to_owned()),
        ("authorization", format!("Bearer {admin}")),
        ("idempotency-key", "login-carol-2".to_owned()),
    ];
    let body = laptop.to_string().into_bytes();
    let hit = s
        .send(Http::V1, Method::POST, &logins, &headers, Some(body.clone()))
        .await;
    assert_eq!(hit.status, StatusCode::CREATED, "{}", hit.text());
    let hit = hit.json();
    assert_eq!(hit["self_exclusion_registry"]["answer"], "Y");
    assert_eq!(hit["may_play"], false);
    assert_eq!(hit["session"]["blocked"]["reason"], "suspended");
    let carol_profile = get_profile(s, admin, carol_id).await;
    assert_eq!(carol_profile["status"], "suspended");
    assert_eq!(carol_profile["status_reason"], pam::exclusion::REGISTRY_REASON);
    let deposit = format!("/operator/v1/players/{carol_id}/deposits");
    let money = json!({"deposit_id": "d-carol", "currency": "GBP", "amount": "5.00"});
    let refused = op(s, admin, Method::POST, &deposit, Some(money)).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::FORBIDDEN, "player_blocked".into())
    );
    // The same login again: the same answer, the same session.
    let again = s.send(Http::V1, Method::POST, &logins, &headers, Some(body)).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text());
    let again = again.json();
    assert_eq!(again["session"]["session"], hit["session"]["session"]);
    assert_eq!(again["self_exclusion_registry"]["answer"], "Y");

    // A GB player without a profile cannot be checked: GB fails closed.
    let bare = op(
        s,
        admin,
        Method::POST,
        "/operator/v1/players",
        Some(json!({"currency": "GBP", "jurisdiction": "GB"})),
    )
    .await
    .json()["player"]
        .as_u64()
        .unwrap();
    let applied = s.commands_applied().await;
    let refused = login(s, admin, bare, device("d-bare", "192.0.2.11", "")).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "registry_profile_required".into())
    );
    assert_eq!(s.commands_applied().await, applied);
    // The world's player (MT, no profile): MT fails open.
    let open = login_ok(s, admin, w.player, device("d-mt", "192.0.2.12", "")).await;
    assert_eq!(open["self_exclusion_registry"]["answer"], "no_profile");

    // The register goes down: GB refuses, MT lets in and says so.
    sandbox.stop().await;
    let applied = s.commands_applied().await;
    let frank = profile("Frank Castle", "frank@example.org", "+44 7700 900004", "L1 8JQ");
    let down = op(s, admin, Method::POST, registrations, Some(registration(frank.clone()))).await;
    assert_eq!(
        (down.status, down.code()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "self_exclusion_registry_unavailable".into()
        ),
        "{}",
        down.text()
    );
    let down = login(s, admin, carol_id, laptop).await;
    assert_eq!(down.code(), "self_exclusion_registry_unavailable");
    assert_eq!(s.commands_applied().await, applied);
    let body = registration_in(frank, "EUR", "MT");
    let through = op(s, admin, Method::POST, registrations, Some(body)).await;
    assert_eq!(through.status, StatusCode::CREATED, "{}", through.text());
    assert_eq!(through.json()["self_exclusion_registry"]["answer"], "unavailable");
    // The register only ever saw the people of checked jurisdictions, and
    // the data directory holds none of their details in clear.
    let found = files_holding(dir.path(), &["eve@example.org", "Cratchit", "07700900003"]);
    assert!(found.is_empty(), "personal data in clear: {found:?}");
    w.server.stop().await;
}

/// `croupier sandbox gamstop`, as a person runs it locally: it prints where
/// it listens and answers the protocol there.
#[tokio::test]
async fn the_gamstop_sandbox_subcommand_serves_the_protocol_on_loopback() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_croupier"))
        .args([
            "sandbox",
            "gamstop",
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            "local-key",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    // The reader keeps draining: the sandbox prints a second line, and a
    // closed pipe would make that print kill it.
    let (sender, first) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let _ = sender.send(lines.next().and_then(Result::ok).unwrap_or_default());
        for _ in lines {}
    });
    let first = first.await.unwrap();
    let url = first
        .trim()
        .strip_prefix("GAMSTOP sandbox listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    let person = "firstName=Ada&lastName=King&dateOfBirth=1990-05-17&email=ada%40example.org&postcode=YO1+7HH\
                  &mobile=07700900461";
    let check = |key: &'static str| {
        reqwest::Client::new()
            .post(format!("{url}/v2"))
            .header(pam::exclusion::gamstop::API_KEY_HEADER, key)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(person)
            .send()
    };
    let answer = check("local-key").await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["x-exclusion"], "N");
    assert!(answer.headers().contains_key("x-unique-id"));
    assert_eq!(check("other-key").await.unwrap().status(), StatusCode::FORBIDDEN);
    child.kill().unwrap();
    child.wait().unwrap();
}

// ---------------------------------------------------------------------------
// Jurisdiction profiles
// ---------------------------------------------------------------------------

/// The shipped Malta profile with its reality check changed, as JSON.
fn malta_profile(s_profile: &Value) -> Value {
    let mut profile = s_profile.clone();
    profile["reality_check_interval_min"] = json!(30);
    profile
}

async fn jurisdictions(s: &TestServer, token: &str) -> Value {
    read_ok(s, token, "/operator/v1/jurisdictions").await
}

async fn put_profile(s: &TestServer, token: &str, code: &str, body: Value) -> Reply {
    let path = format!("/operator/v1/jurisdictions/{code}/profile");
    op(s, token, Method::PUT, &path, Some(body)).await
}

#[tokio::test]
async fn jurisdiction_profiles_are_shipped_listed_and_set_with_effective_dates_and_bad_ones_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        ship_jurisdiction_profiles: true,
        ..support::config(dir.path())
    };
    let w = World::new_with(config).await;
    let s = &w.server;

    // Shipped at start: the default first, then by code.
    let listed = jurisdictions(s, &w.admin).await;
    let codes: Vec<&str> = listed["jurisdictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["default", "GB", "MT", "UK"]);
    let gb = read_ok(s, &w.admin, "/operator/v1/jurisdictions/GB").await;
    let uk = &gb["in_force"]["profile"];
    assert_eq!(
        uk["stake_caps"],
        json!([{"currency": "GBP", "adult": "5.00", "young_adult": "2.00"}])
    );
    assert_eq!(uk["bonus_wagering_cap_x"], 10);
    assert_eq!(uk["self_exclusion_min_days"], 181);
    assert_eq!(uk["withdrawal_reversal_allowed"], false);
    assert_eq!(gb["in_force"]["set_by"], 0);
    assert_eq!(gb["history"].as_array().unwrap().len(), 1);
    assert!(gb["stake_cap_applies_to"].as_str().unwrap().contains("every bet"));

    // Refusals: each a clear 4xx, nothing submitted, nothing changed.
    let malta = read_ok(s, &w.admin, "/operator/v1/jurisdictions/MT").await;
    let good = malta_profile(&malta["in_force"]["profile"]);
    let support_token = create_operator(s, &w.admin, "sue", "support").await;
    let applied = s.commands_applied().await;
    let with = |field: &str, value: Value| {
        let mut profile = good.clone();
        profile[field] = value;
        json!({"profile": profile})
    };
    let caps = |currency: &str, adult: &str| json!([{"currency": currency, "adult": adult, "young_adult": "1.00"}]);
    let cases = [
        (
            "MT",
            with("stake_caps", caps("XXX", "5.00")),
            StatusCode::BAD_REQUEST,
            "unknown_currency",
        ),
        (
            "MT",
            with("stake_caps", caps("EUR", "-5.00")),
            StatusCode::BAD_REQUEST,
            "invalid_amount",
        ),
        (
            "MT",
            with("stake_caps", caps("EUR", "0.50")),
            StatusCode::BAD_REQUEST,
            "invalid_profile",
        ),
        (
            "MT",
            with("reality_check_interval_min", json!(0)),
            StatusCode::BAD_REQUEST,
            "invalid_profile",
        ),
        (
            "MT",
            with("minimum_age_years", json!(0)),
            StatusCode::BAD_REQUEST,
            "invalid_profile",
        ),
        (
            "MT",
            with("bonus_wagering_cap_x", json!(0)),
            StatusCode::BAD_REQUEST,
            "invalid_profile",
        ),
        (
            "MT",
            json!({"profile": good, "effective_from": T0 - 1}),
            StatusCode::BAD_REQUEST,
            "time_not_in_future",
        ),
        (
            "MT",
            json!({"profile": good, "effective_from": "soon"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "MT",
            json!({"profile": good, "extra": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "malta",
            json!({"profile": good}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (code, body, status, error) in cases {
        let reply = put_profile(s, &w.admin, code, body.clone()).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, error.into()),
            "{body}: {}",
            reply.text()
        );
    }
    let forbidden = put_profile(s, &support_token, "MT", json!({"profile": good})).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN, "{}", forbidden.text());
    assert_eq!(s.commands_applied().await, applied);
    assert_eq!(jurisdictions(s, &w.admin).await, listed);
    let unknown = op(s, &w.admin, Method::GET, "/operator/v1/jurisdictions/SE", None).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "unknown_jurisdiction".into())
    );
    let bad = op(s, &w.admin, Method::GET, "/operator/v1/jurisdictions/se", None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // A version from tomorrow: scheduled, listed, in force from its date.
    let tomorrow = T0 + 86_400_000;
    let set = put_profile(s, &w.admin, "MT", json!({"profile": good, "effective_from": tomorrow})).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    assert_eq!(set.json()["scheduled"], true);
    assert_eq!(set.json()["effective_from"], "2026-01-02T00:00:00Z");
    let shown = read_ok(s, &w.admin, "/operator/v1/jurisdictions/MT").await;
    assert_eq!(shown["in_force"]["profile"]["reality_check_interval_min"], 60);
    assert_eq!(shown["scheduled"][0]["profile"]["reality_check_interval_min"], 30);
    assert_eq!(shown["scheduled"][0]["set_by"], 1);
    s.advance(86_400_000);
    let shown = read_ok(s, &w.admin, "/operator/v1/jurisdictions/MT").await;
    assert_eq!(shown["in_force"]["profile"]["reality_check_interval_min"], 30);
    assert!(shown["scheduled"].as_array().unwrap().is_empty());
    assert_eq!(shown["history"].as_array().unwrap().len(), 2);

    // The old KYC-gates route sets the gates of the profile in force.
    let gates = json!({"before_deposit": true, "before_bet": false, "before_withdrawal": true});
    let set = op(
        s,
        &w.admin,
        Method::PUT,
        "/operator/v1/jurisdictions/MT/kyc-gates",
        Some(gates.clone()),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    let shown = read_ok(s, &w.admin, "/operator/v1/jurisdictions/MT").await;
    assert_eq!(shown["in_force"]["profile"]["kyc_gates"], gates);
    assert_eq!(shown["in_force"]["profile"]["reality_check_interval_min"], 30);

    // Profiles are journaled: a restart (no new shipping: each exists) keeps them.
    let before = jurisdictions(s, &w.admin).await;
    let admin = w.admin.clone();
    let w = w.restart(dir.path()).await;
    assert_eq!(jurisdictions(&w.server, &admin).await, before);
    w.server.stop().await;
}

async fn create_operator(s: &TestServer, admin: &str, name: &str, role: &str) -> String {
    let reply = op(
        s,
        admin,
        Method::POST,
        "/operator/v1/operators",
        Some(json!({"name": name, "role": role})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.json()["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_profile_caps_stakes_blocks_money_past_the_aml_threshold_and_bands_players_by_age() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        ship_jurisdiction_profiles: true,
        ..support::config(dir.path())
    };
    let w = World::new_with(config).await;
    let s = &w.server;
    let refused = |reply: &Reply, status: StatusCode, code: &str| {
        assert_eq!(
            (reply.status, reply.code()),
            (status, code.to_owned()),
            "{}",
            reply.text()
        );
    };

    // Malta with a EUR stake cap (2.00 until 25, as the player's band is
    // not known: registered without a date of birth) and deposit defaults.
    let malta = read_ok(s, &w.admin, "/operator/v1/jurisdictions/MT").await;
    let mut profile = malta["in_force"]["profile"].clone();
    profile["young_adult_until_age_years"] = json!(25);
    profile["stake_caps"] = json!([{"currency": "EUR", "adult": "5.00", "young_adult": "2.00"}]);
    profile["deposit_limit_defaults"] = json!([{"currency": "EUR", "day": "50.00"}]);
    let set = put_profile(s, &w.admin, "MT", json!({"profile": profile})).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    let balance = money(&w).await;
    refused(
        &w.bet(Http::V1, "b-1", "2.01", "r-1").await,
        StatusCode::FORBIDDEN,
        "stake_cap_exceeded",
    );
    assert_eq!(money(&w).await, balance);
    let bet = w.bet(Http::V1, "b-2", "2.00", "r-1").await;
    assert_eq!(bet.status, StatusCode::OK, "{}", bet.text());

    // Deposit-limit defaults: a player registered now starts with them.
    let created = op(
        s,
        &w.admin,
        Method::POST,
        "/operator/v1/players",
        Some(json!({"currency": "EUR", "jurisdiction": "MT"})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let newcomer = created.json()["player"].as_u64().unwrap();
    refused(
        &deposit(s, &w.admin, newcomer, "n-1", "50.01").await,
        StatusCode::FORBIDDEN,
        "limit_exceeded",
    );
    assert_eq!(
        deposit(s, &w.admin, newcomer, "n-2", "50.00").await.status,
        StatusCode::OK
    );

    // The AML threshold (EUR 2,000 cumulative, shipped): reached, then
    // deposits and bets wait for due diligence.
    assert_eq!(
        deposit(s, &w.admin, w.player, "d-1", "1900.00").await.status,
        StatusCode::OK
    );
    let before = money(&w).await;
    refused(
        &deposit(s, &w.admin, w.player, "d-2", "1.00").await,
        StatusCode::FORBIDDEN,
        "due_diligence_required",
    );
    refused(
        &w.bet(Http::V1, "b-3", "1.00", "r-1").await,
        StatusCode::FORBIDDEN,
        "due_diligence_required",
    );
    assert_eq!(money(&w).await, before);
    let path = format!("/operator/v1/players/{}/due-diligence", w.player);
    let applied = s.commands_applied().await;
    let bad = op(s, &w.admin, Method::POST, &path, Some(json!({"reason": ""}))).await;
    refused(&bad, StatusCode::BAD_REQUEST, "invalid_request");
    let bad = op(s, &w.admin, Method::POST, &path, Some(json!({"why": "x"}))).await;
    refused(&bad, StatusCode::BAD_REQUEST, "invalid_request");
    let unknown = op(
        s,
        &w.admin,
        Method::POST,
        "/operator/v1/players/999/due-diligence",
        Some(json!({"reason": "x"})),
    )
    .await;
    refused(&unknown, StatusCode::NOT_FOUND, "unknown_player");
    let support_token = create_operator(s, &w.admin, "sue", "support").await;
    let applied_after_create = s.commands_applied().await;
    assert_eq!(applied_after_create, applied + 1);
    let forbidden = op(s, &support_token, Method::POST, &path, Some(json!({"reason": "x"}))).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(s.commands_applied().await, applied_after_create);
    assert_eq!(money(&w).await, before);
    let recorded = op(
        s,
        &w.admin,
        Method::POST,
        &path,
        Some(json!({"reason": "source of funds: payslips, case 118"})),
    )
    .await;
    assert_eq!(recorded.status, StatusCode::OK, "{}", recorded.text());
    assert_eq!(recorded.json()["due_diligence_recorded"], true);
    assert_eq!(
        deposit(s, &w.admin, w.player, "d-3", "1.00").await.status,
        StatusCode::OK
    );
    assert_eq!(w.bet(Http::V1, "b-4", "1.00", "r-1").await.status, StatusCode::OK);

    // The self-exclusion minimum (Malta: 181 days); a time-out is shorter.
    let exclusion = format!("/operator/v1/players/{}/self-exclusion", w.player);
    let short = json!({"until_ms": s.now() + 30 * 86_400_000});
    let reply = op(s, &w.admin, Method::POST, &exclusion, Some(short)).await;
    refused(&reply, StatusCode::UNPROCESSABLE_ENTITY, "self_exclusion_too_short");
    assert_eq!(w.bet(Http::V1, "b-5", "1.00", "r-1").await.status, StatusCode::OK);

    // Registration: the profile's minimum age, and the age band for the
    // UK's young-adult cap, re-evaluated at login after the birthday.
    let mut young = profile_born("Young Adult", "young@example.org", "2001-01-03");
    let under = register(s, &w.admin, profile_born("Too Young", "kid@example.org", "2009-01-01")).await;
    refused(&under, StatusCode::UNPROCESSABLE_ENTITY, "under_age");
    let player = register_ok(s, &w.admin, young.clone()).await;
    let bands = "/operator/v1/audit?kind=set_age_band";
    login_ok(s, &w.admin, player, device("dev-1", "198.51.100.7", "Mozilla/5.0")).await;
    assert!(
        read_ok(s, &w.admin, bands).await["entries"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    s.advance(2 * 86_400_000);
    login_ok(s, &w.admin, player, device("dev-1", "198.51.100.7", "Mozilla/5.0")).await;
    let entries = read_ok(s, &w.admin, bands).await;
    assert_eq!(entries["entries"][0]["after"], "adult", "{entries}");
    assert_eq!(entries["entries"].as_array().unwrap().len(), 1);
    let gb = read_ok(s, &w.admin, "/operator/v1/jurisdictions/GB").await;
    let mut stricter = gb["in_force"]["profile"].clone();
    stricter["minimum_age_years"] = json!(26);
    stricter["young_adult_until_age_years"] = json!(30);
    let set = put_profile(s, &w.admin, "GB", json!({"profile": stricter})).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    young["email"] = json!("young2@example.org");
    young["address"]["postcode"] = json!("YO1 1AA");
    let refused_now = register(s, &w.admin, young).await;
    refused(&refused_now, StatusCode::UNPROCESSABLE_ENTITY, "under_age");
    assert!(refused_now.text().contains("26"), "{}", refused_now.text());
    w.server.stop().await;
}

/// The player's EUR balances, without the sequence they are current to
/// (a refusal is journaled too, so that one moves).
async fn money(w: &World) -> Value {
    let mut balance = w.balance().await;
    balance.as_object_mut().unwrap().remove("as_of_seq");
    balance
}

/// A EUR deposit, initiated and confirmed at once.
async fn deposit(s: &TestServer, admin: &str, player: u64, id: &str, amount: &str) -> Reply {
    let path = format!("/operator/v1/players/{player}/deposits");
    let body = json!({"deposit_id": id, "currency": "EUR", "amount": amount});
    op(s, admin, Method::POST, &path, Some(body)).await
}

/// A GB profile with this name, email and date of birth.
fn profile_born(name: &str, email: &str, date_of_birth: &str) -> Value {
    let mut profile = profile(name, email, "+44 20 7946 0002", "YO21 1AA");
    profile["date_of_birth"] = json!(date_of_birth);
    profile
}
