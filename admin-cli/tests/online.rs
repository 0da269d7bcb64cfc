//! `croupier-admin` online, against a real server on a loopback port: every
//! command, tables and `--json` (parsed back), the 0600 login file, a
//! statement's CSV export, reports written as JSON, CSV and HTML, and the failures a person meets (a wrong or disabled token, an unknown player, a
//! refused change, a server that is down, https without its certificate),
//! each one line on stderr with its documented exit code. `kyc start` and
//! `kyc show` against the KYC sandbox (a real loopback server speaking the
//! provider's protocol): the player's link, and the verdicts its signed
//! webhooks bring. The CRM commands (segments, campaigns, affiliates,
//! brands and lobbies, analytics), the games' performance and RTP alerts,
//! FX, reconciliation and `cluster` on a single node: each happy path and
//! its errors (unknown codes, refused input, bad flags).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Arc;

use gateway::config::ServeConfig;
use pam::kyc::sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

/// Starts a server with `config`.
async fn start(config: ServeConfig) -> gateway::server::Running {
    gateway::server::start(config).await.expect("server starts")
}

/// Runs `croupier-admin` with the login file `config`.
async fn admin(config: &Path, args: &[&str]) -> Output {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_croupier-admin"))
        .args(args)
        .env("CROUPIER_ADMIN_CONFIG", config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a command that must succeed; its stdout.
async fn ok(config: &Path, args: &[&str]) -> String {
    let output = admin(config, args).await;
    assert!(
        output.status.success(),
        "{args:?}: {}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// Runs a command with `--json` that must succeed; its output parsed.
async fn json(config: &Path, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    let stdout = ok(config, &args).await;
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
}

/// Runs a command that must fail with exit code `code`; its one stderr line.
async fn fails(config: &Path, args: &[&str], code: i32) -> String {
    let output = admin(config, args).await;
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "{args:?}: {stderr}{}",
        text(&output.stdout)
    );
    assert_eq!(stderr.lines().count(), 1, "{args:?}: one line, not {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    stderr.trim().to_owned()
}

/// Runs a command with arguments clap refuses: exit 2 and clap's message.
async fn usage(config: &Path, args: &[&str]) -> String {
    let output = admin(config, args).await;
    assert_eq!(output.status.code(), Some(2), "{args:?}");
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with("error:"), "{stderr}");
    stderr
}

/// What the operator's front end or a payment provider would send: a
/// POST straight to the server, as JSON.
async fn post(url: &str, token: &str, path: &str, body: Value) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(format!("{url}{path}"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
}

fn config(dir: &Path, tls: bool) -> ServeConfig {
    ServeConfig {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        tls,
        quic: false,
        quic_listen: "127.0.0.1:0".parse().unwrap(),
        journal_segment_bytes: 1 << 20,
        log: "warn".into(),
        ..ServeConfig::default()
    }
}

fn first_token(running: &gateway::server::Running) -> String {
    std::fs::read_to_string(running.first_token_path())
        .unwrap()
        .trim()
        .to_owned()
}

const REGISTER: &[&str] = &[
    "players",
    "register",
    "--currency",
    "EUR",
    "--jurisdiction",
    "MT",
    "--name",
    "Ada Lovelace",
    "--email",
    "ada@example.com",
    "--phone",
    "+442079460001",
    "--date-of-birth",
    "1990-05-17",
    "--address",
    "12 Quayside Lane",
    "--city",
    "Whitby",
    "--postcode",
    "YO21 1AA",
    "--country",
    "GB",
    "--language",
    "en-GB",
    "--marketing",
    "email,post",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_online_command_against_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let running = start(config(dir.path(), false)).await;
    let url = format!("http://{}", running.addr());
    let admin_token = first_token(&running);
    let login_file: PathBuf = home.path().join("croupier").join("admin.toml");
    let cfg = login_file.as_path();

    // Not logged in; a wrong token stores nothing.
    assert!(fails(cfg, &["operators", "list"], 3).await.contains("not logged in"));
    let wrong = fails(cfg, &["login", "--server", &url, "--token", "op_wrong"], 3).await;
    assert!(wrong.contains("invalid_token"), "{wrong}");
    assert!(!login_file.exists());
    assert!(
        fails(cfg, &["login", "--server", "ftp://x", "--token", "t"], 2)
            .await
            .contains("http")
    );

    // Login: a 0600 file with the server and the token.
    let login = ok(cfg, &["login", "--server", &url, "--token", &admin_token]).await;
    assert!(login.contains("logged in"), "{login}");
    let mode = std::fs::metadata(&login_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let stored = std::fs::read_to_string(&login_file).unwrap();
    assert!(stored.contains(&url) && stored.contains(&admin_token), "{stored}");

    // Operators.
    let list = json(cfg, &["operators", "list"]).await;
    assert_eq!(list["operators"][0]["name"], "admin");
    assert!(ok(cfg, &["operators", "list"]).await.contains("admin"));
    let created = json(cfg, &["operators", "create", "--name", "sam", "--role", "support"]).await;
    assert_eq!(created["operator"], 2);
    let sam_token = created["token"].as_str().unwrap().to_owned();
    let role = json(cfg, &["operators", "role", "2", "compliance"]).await;
    assert_eq!(
        (&role["role_before"], &role["role"]),
        (&Value::from("support"), &Value::from("compliance"))
    );
    assert!(
        ok(cfg, &["operators", "role", "2", "support"])
            .await
            .contains("compliance -> support")
    );
    let rotated = json(cfg, &["operators", "rotate", "2"]).await;
    let sam_new = rotated["token"].as_str().unwrap().to_owned();
    assert_ne!(sam_new, sam_token);
    assert!(
        fails(cfg, &["operators", "role", "2", "root"], 2)
            .await
            .contains("invalid_request")
    );
    assert!(
        fails(cfg, &["operators", "role", "9", "support"], 4)
            .await
            .contains("unknown_operator")
    );
    assert!(
        fails(cfg, &["operators", "disable", "1"], 5)
            .await
            .contains("cannot_disable_self")
    );
    assert!(
        fails(cfg, &["operators", "role", "1", "finance"], 5)
            .await
            .contains("last_admin")
    );

    // Players.
    let registered = json(cfg, REGISTER).await;
    let player = registered["player"].as_u64().unwrap().to_string();
    let p = player.as_str();
    let shown = ok(cfg, &["players", "show", p]).await;
    assert!(shown.contains("Ada Lovelace") && shown.contains("active"), "{shown}");
    assert!(
        ok(cfg, &["players", "status", p, "suspended", "--reason", "fraud check"])
            .await
            .contains("suspended")
    );
    assert_eq!(json(cfg, &["players", "show", p]).await["status"], "suspended");
    ok(cfg, &["players", "status", p, "active", "--reason", "cleared"]).await;
    assert!(
        fails(cfg, &["players", "show", "999"], 4)
            .await
            .contains("unknown_player")
    );
    assert!(
        fails(cfg, &["players", "status", p, "asleep", "--reason", "x"], 2)
            .await
            .contains("invalid_request")
    );
    assert!(
        usage(cfg, &["players", "register", "--currency", "EUR"])
            .await
            .contains("required")
    );

    // KYC: show, decide, documents; no provider configured here.
    let kyc = json(cfg, &["kyc", "show", p]).await;
    assert_eq!(kyc["level"], "none");
    assert!(
        ok(cfg, &["kyc", "set-level", p, "verified", "--reason", "passport seen"])
            .await
            .contains("verified")
    );
    let kyc = json(cfg, &["kyc", "show", p]).await;
    assert_eq!(
        (&kyc["level"], &kyc["reason"], &kyc["by"]["operator"]),
        (&Value::from("verified"), &Value::from("passport seen"), &Value::from(1))
    );
    let shown = ok(cfg, &["kyc", "show", p]).await;
    assert!(
        shown.contains("passport seen") && shown.contains("operator 1"),
        "{shown}"
    );
    let documents = json(cfg, &["kyc", "documents", p]).await;
    assert_eq!(documents["documents"], Value::Array(Vec::new()));
    assert!(ok(cfg, &["kyc", "documents", p]).await.contains("number_hash"));
    assert!(
        fails(cfg, &["kyc", "set-level", p, "golden", "--reason", "x"], 2)
            .await
            .contains("invalid_request")
    );
    assert!(fails(cfg, &["kyc", "show", "999"], 4).await.contains("unknown_player"));
    assert!(
        fails(cfg, &["kyc", "start", p], 1)
            .await
            .contains("kyc_provider_not_configured")
    );

    // Money and a login, as the payment side and the front end report them.
    let deposit = json!({"deposit_id": "dep-1", "currency": "EUR", "amount": "25.00"});
    let path = format!("/operator/v1/players/{p}/deposits");
    assert!(post(&url, &admin_token, &path, deposit).await.is_success());
    let device = json!({"device_id": "laptop-1", "ip": "192.0.2.7", "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0"});
    let path = format!("/operator/v1/players/{p}/logins");
    assert!(post(&url, &admin_token, &path, device).await.is_success());

    // Statements and balances at a moment.
    let statement = json(cfg, &["statement", p]).await;
    let line = &statement["lines"][0];
    assert_eq!(
        (&line["kind"], &line["cash_delta"], &line["balance"]),
        (&Value::from("deposit"), &Value::from("25.00"), &Value::from("25.00"))
    );
    assert!(ok(cfg, &["statement", p, "--currency", "EUR"]).await.contains("25.00"));
    let export = home.path().join("statement.csv");
    let export_arg = export.to_str().unwrap();
    ok(cfg, &["statement", p, "--csv", export_arg, "--limit", "1"]).await;
    let csv = std::fs::read_to_string(&export).unwrap();
    assert!(csv.starts_with("seq,time,time_ms,currency,kind"), "{csv}");
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(ok(cfg, &["statement", p, "--csv", "-"]).await.contains(",deposit,"));
    assert!(
        fails(cfg, &["statement", p, "--from", "yesterday"], 2)
            .await
            .contains("invalid_request")
    );
    assert!(fails(cfg, &["statement", "999"], 4).await.contains("unknown_player"));
    assert!(
        fails(cfg, &["statement", p, "--csv", "-", "--json"], 2)
            .await
            .contains("choose one")
    );
    let then = json(cfg, &["balances", p, "--at", "2000-01-01T00:00:00Z"]).await;
    assert_eq!(then["balances"][0]["cash"], "0.00");
    let now = json(cfg, &["balances", p]).await;
    assert_eq!(now["balances"][0]["cash"], "25.00");
    assert!(ok(cfg, &["balances", p]).await.contains("25.00"));
    assert!(
        fails(cfg, &["balances", p, "--at", "soon"], 2)
            .await
            .contains("invalid_request")
    );

    // Sessions and devices.
    let sessions = json(cfg, &["sessions", p]).await;
    let session = &sessions["sessions"][0];
    assert_eq!(
        (&session["browser"], &session["os"]),
        (&Value::from("firefox"), &Value::from("linux"))
    );
    assert!(ok(cfg, &["sessions", p]).await.contains("firefox"));
    let devices = json(cfg, &["devices", p]).await;
    assert_eq!(devices["devices"].as_array().unwrap().len(), 1);
    assert_eq!(devices["addresses"].as_array().unwrap().len(), 1);
    let table = ok(cfg, &["devices", p]).await;
    assert!(table.contains("device") && table.contains("ip"), "{table}");
    assert!(
        !table.contains("192.0.2.7") && !table.contains("laptop-1"),
        "hashes only: {table}"
    );
    assert!(fails(cfg, &["sessions", p, "--limit", "0"], 2).await.contains("limit"));
    assert!(fails(cfg, &["devices", "999"], 4).await.contains("unknown_player"));

    // Responsible gambling.
    let limit = json(
        cfg,
        &[
            "limits",
            p,
            "--currency",
            "EUR",
            "--metric",
            "deposit",
            "--period",
            "day",
            "--amount",
            "100",
        ],
    )
    .await;
    assert_eq!(limit["status"], "accepted");
    assert!(ok(cfg, &["time-out", p, "--hours", "2"]).await.contains("in force"));
    assert!(
        fails(cfg, &["self-exclude", p, "--until-ms", "1"], 2)
            .await
            .contains("time_not_in_future")
    );
    // Malta's shipped profile: at least six months (181 days).
    assert!(
        fails(cfg, &["self-exclude", p, "--days", "30"], 5)
            .await
            .contains("self_exclusion_too_short")
    );
    assert_eq!(
        json(cfg, &["self-exclude", p, "--days", "183"]).await["status"],
        "accepted"
    );

    // Jurisdiction profiles: the shipped ones, a scheduled version, refusals.
    let listed = json(cfg, &["jurisdictions", "list"]).await;
    let codes: Vec<&str> = listed["jurisdictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["default", "GB", "MT", "UK"]);
    let table = ok(cfg, &["jurisdictions", "list"]).await;
    assert!(
        table.contains("GBP 5.00 (2.00 young)")
            && table.contains("10x")
            && table.contains("60 min, everyone, idle end 30 min"),
        "{table}"
    );
    let malta = json(cfg, &["jurisdictions", "show", "MT"]).await;
    let mut profile = malta["in_force"]["profile"].clone();
    assert_eq!(profile["self_exclusion_min_days"], 181);
    profile["reality_check_interval_min"] = Value::from(30);
    let file = home.path().join("mt.json");
    std::fs::write(&file, profile.to_string()).unwrap();
    let file = file.to_str().unwrap();
    let later = "2099-01-01T00:00:00Z";
    let set = ok(
        cfg,
        &["jurisdictions", "set", "MT", "--file", file, "--effective-from", later],
    )
    .await;
    assert!(set.contains("MT: profile scheduled from 2099-01-01T00:00:00Z"), "{set}");
    let shown = json(cfg, &["jurisdictions", "show", "MT"]).await;
    assert_eq!(shown["scheduled"][0]["profile"]["reality_check_interval_min"], 30);
    assert_eq!(shown["history"].as_array().unwrap().len(), 2);
    assert!(ok(cfg, &["jurisdictions", "show", "MT"]).await.contains("scheduled"));
    assert!(
        fails(
            cfg,
            &["jurisdictions", "set", "MT", "--file", file, "--effective-from", "1"],
            2
        )
        .await
        .contains("time_not_in_future")
    );
    profile["stake_caps"] = serde_json::json!([{"currency": "XXX", "adult": "1.00", "young_adult": "1.00"}]);
    let bad = home.path().join("bad.json");
    std::fs::write(&bad, profile.to_string()).unwrap();
    let bad = bad.to_str().unwrap();
    assert!(
        fails(cfg, &["jurisdictions", "set", "MT", "--file", bad], 2)
            .await
            .contains("unknown_currency")
    );
    assert!(
        fails(cfg, &["jurisdictions", "set", "MT", "--file", "/nonexistent.json"], 2)
            .await
            .contains("reading")
    );
    assert!(
        fails(cfg, &["jurisdictions", "show", "SE"], 4)
            .await
            .contains("unknown_jurisdiction")
    );
    // Reality checks, session time limits, limit reviews, the RG read.
    let set = ok(cfg, &["rg", "reality-check", p, "--minutes", "60"]).await;
    assert!(set.contains("in force"), "{set}");
    let zero = fails(cfg, &["rg", "reality-check", p, "--minutes", "0"], 2).await;
    assert!(zero.contains("invalid_duration"), "{zero}");
    // The login reported above opened a play session, so there is a check
    // to acknowledge (acknowledging with no session open is refused with
    // `no_play_session`: `gateway/tests/it/operator.rs`).
    let acknowledged = ok(cfg, &["rg", "acknowledge", p]).await;
    assert!(acknowledged.contains("acknowledged"), "{acknowledged}");
    let limit = json(cfg, &["rg", "session-limit", p, "--minutes", "120"]).await;
    assert_eq!(limit["status"], "accepted");
    let removal = json(cfg, &["rg", "session-limit", p, "--none"]).await;
    assert_eq!(removal["status"], "scheduled");
    assert!(ok(cfg, &["rg", "review", p]).await.contains("recorded"));
    let shown = json(cfg, &["rg", "show", p]).await;
    assert_eq!(shown["session"]["reality_check_interval_minutes"], 60);
    assert_eq!(shown["session"]["time_limit_minutes"], 120);
    assert_eq!(shown["session"]["time_limit_pending"]["limit_minutes"], Value::Null);
    assert_eq!(shown["prompts"]["due"], Value::Null);
    assert!(shown["self_excluded_until_ms"].as_u64().is_some(), "{shown}");
    let table = ok(cfg, &["rg", "show", p]).await;
    assert!(
        table.contains("session limit minutes") && table.contains("day deposit limit"),
        "{table}"
    );
    // An intervention sent to the player shows in the RG read, not answered.
    let sent = json(cfg, &["analytics", "intervene", p, "reality_check"]).await;
    let table = ok(cfg, &["rg", "show", p]).await;
    assert!(
        table.contains(&format!("intervention {}", sent["id"])) && table.contains("reality_check at"),
        "{table}"
    );
    assert!(table.contains("not answered"), "{table}");
    usage(cfg, &["rg", "session-limit", p]).await;
    assert!(fails(cfg, &["rg", "show", "99"], 4).await.contains("unknown_player"));

    // Lookups.
    let balance = json(cfg, &["balance", p, "--currency", "EUR"]).await;
    assert_eq!(balance["cash"], "25.00");
    let history = json(cfg, &["history", p]).await;
    assert_eq!(history["movements"].as_array().unwrap().len(), 1);
    assert!(ok(cfg, &["history", p, "--currency", "EUR"]).await.contains("seq"));

    // The audit trail: everything above, in the journal's order.
    let trail = json(cfg, &["audit", "--limit", "1000"]).await;
    let kinds: Vec<&str> = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "create_operator",
        "set_operator_role",
        "rotate_operator_token",
        "register_profiled",
        "set_status",
        "set_limit",
        "time_out",
        "self_exclude",
        "set_reality_check_interval",
        "set_session_time_limit",
        "record_limit_review",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let statuses = json(cfg, &["audit", "--player", p, "--kind", "set_status"]).await;
    let first = &statuses["entries"][0];
    assert_eq!(
        (&first["before"], &first["after"]),
        (&Value::from("active"), &Value::from("suspended"))
    );
    let profile = &json(cfg, &["audit", "--kind", "register_profiled"]).await["entries"][0];
    assert!(
        !profile.to_string().contains("Ada"),
        "no personal data in the trail: {profile}"
    );
    let csv = ok(cfg, &["audit", "--csv", "--operator", "1"]).await;
    assert!(csv.starts_with("seq,time_ms,operator,operator_name"), "{csv}");
    assert!(
        csv.contains(",set_operator_role,operator,2,role,support,compliance,"),
        "{csv}"
    );
    assert!(ok(cfg, &["audit", "--kind", "set_limit"]).await.contains("100.00 EUR"));
    assert!(fails(cfg, &["audit", "--limit", "0"], 2).await.contains("limit"));

    // Another operator's login: a disabled one is refused at once.
    let sam_file = home.path().join("sam.toml");
    ok(&sam_file, &["login", "--server", &url, "--token", &sam_new]).await;
    assert!(fails(&sam_file, &["operators", "list"], 3).await.contains("forbidden"));
    ok(cfg, &["operators", "disable", "2"]).await;
    assert!(fails(&sam_file, &["history", p], 3).await.contains("operator_disabled"));
    for command in [&["statement", p][..], &["sessions", p], &["kyc", "show", p]] {
        assert!(
            fails(&sam_file, command, 3).await.contains("operator_disabled"),
            "{command:?}"
        );
    }
    let wrong_file = home.path().join("wrong.toml");
    std::fs::write(&wrong_file, format!("server = \"{url}\"\ntoken = \"op_wrong\"\n")).unwrap();
    assert!(fails(&wrong_file, &["devices", p], 3).await.contains("invalid_token"));

    // Completions and help.
    for shell in ["bash", "zsh", "fish"] {
        let script = ok(cfg, &["completions", shell]).await;
        assert!(script.contains("croupier-admin"), "{shell}");
        for command in [
            "kyc",
            "set-level",
            "statement",
            "balances",
            "sessions",
            "devices",
            "withdrawals",
            "deposits",
        ] {
            assert!(script.contains(command), "{shell}: {command}");
        }
    }
    assert!(ok(cfg, &["--help"]).await.contains("6 server unreachable"));
    usage(cfg, &["completions", "tcsh"]).await;

    // The server is down: one line, exit 6.
    running.stop().await.unwrap();
    let down = fails(cfg, &["players", "show", p], 6).await;
    assert!(down.contains("cannot reach"), "{down}");
    for command in [
        &["kyc", "show", p][..],
        &["statement", p],
        &["balances", p],
        &["sessions", p],
        &["devices", p],
    ] {
        assert!(fails(cfg, command, 6).await.contains("cannot reach"), "{command:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_and_the_withdrawal_queue_over_the_cashier() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let clock = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    };
    let sandbox = payments::sandbox::Sandbox::start(
        payments::sandbox::SandboxConfig {
            secret_key: "sk_test_admin".into(),
            webhook_secret: "whsec_admin".into(),
            webhook_url: None,
            stall: std::time::Duration::from_secs(1),
            clock: std::sync::Arc::new(clock),
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let running = gateway::server::start(ServeConfig {
        stripe_api_url: Some(sandbox.url()),
        stripe_secret_key: Some("sk_test_admin".into()),
        stripe_webhook_secret: Some("whsec_admin".into()),
        cashier_four_eyes_above: "50".into(),
        cashier_tick_ms: 20,
        ship_jurisdiction_profiles: false,
        ..config(dir.path(), false)
    })
    .await
    .expect("server starts");
    let url = format!("http://{}", running.addr());
    let hook = json!({"url": format!("{url}/webhooks/v1/payments/stripe")});
    let set = reqwest::Client::new()
        .put(format!("{}/sandbox/webhook", sandbox.url()))
        .header("content-type", "application/json")
        .body(hook.to_string())
        .send()
        .await
        .unwrap();
    assert!(set.status().is_success());
    let admin_token = first_token(&running);
    let cfg = &home.path().join("admin.toml");
    ok(cfg, &["login", "--server", &url, "--token", &admin_token]).await;
    // The front end's side: a player, funded, asking for three withdrawals.
    let front = |path: String, body: Value| {
        let (url, token) = (url.clone(), admin_token.clone());
        async move {
            let reply = reqwest::Client::new()
                .post(format!("{url}{path}"))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            assert!(reply.status().is_success(), "{path}: {}", reply.status());
            serde_json::from_str::<Value>(&reply.text().await.unwrap()).unwrap()
        }
    };
    let player = front(
        "/operator/v1/players".into(),
        json!({"currency": "EUR", "jurisdiction": "MT"}),
    )
    .await["player"]
        .as_u64()
        .unwrap();
    let fund = json!({"deposit_id": "fund", "currency": "EUR", "amount": "100.00"});
    front(format!("/operator/v1/players/{player}/deposits"), fund).await;
    let mut names = Vec::new();
    for (id, amount) in [("w-1", "10.00"), ("w-2", "60.00"), ("w-3", "5.00")] {
        let body = json!({"withdrawal_id": id, "currency": "EUR", "amount": amount});
        let made = front(format!("/cashier/v1/players/{player}/withdrawals"), body).await;
        names.push(made["payment"].as_str().unwrap().to_owned());
    }
    let [w1, w2, w3] = [names[0].as_str(), names[1].as_str(), names[2].as_str()];
    let source = w1.split(':').next().unwrap();

    let deposits = json(cfg, &["deposits", "--player", &player.to_string()]).await;
    assert_eq!(deposits["payments"][0]["provider"], "manual");
    assert_eq!(deposits["payments"][0]["state"], "confirmed");
    let queue = json(cfg, &["withdrawals", "list", "--state", "requested"]).await;
    let listed: Vec<&str> = queue["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["payment"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [w1, w2, w3]);
    assert!(ok(cfg, &["withdrawals", "list"]).await.contains(w2));
    assert!(
        ok(cfg, &["withdrawals", "approve", w1])
            .await
            .contains(&format!("{w1}: approved"))
    );
    // Above the four-eyes amount the admin's approval is the first of two.
    let first = ok(cfg, &["withdrawals", "approve", w2]).await;
    assert!(first.contains("another operator must approve"), "{first}");
    assert!(
        ok(cfg, &["withdrawals", "reject", w3])
            .await
            .contains(&format!("{w3}: rejected"))
    );
    // Rejecting again is a retry (the same answer); approving it now is refused.
    assert!(
        ok(cfg, &["withdrawals", "reject", w3])
            .await
            .contains(&format!("{w3}: rejected"))
    );
    assert!(
        fails(cfg, &["withdrawals", "approve", w3], 5)
            .await
            .contains("wrong_payment_state")
    );
    let nobody = format!("{source}:nobody");
    assert!(
        fails(cfg, &["withdrawals", "approve", &nobody], 4)
            .await
            .contains("unknown_withdrawal")
    );
    assert!(
        fails(cfg, &["withdrawals", "approve", "w-1"], 2)
            .await
            .contains("invalid_request")
    );
    assert!(
        fails(cfg, &["deposits", "--limit", "0"], 2)
            .await
            .contains("invalid_request")
    );
    // The approved one is paid out by the server's worker through the sandbox.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let done = json(cfg, &["withdrawals", "list", "--state", "completed"]).await;
        if done["payments"].as_array().unwrap().len() == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "w-1 was not paid out");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The configured provider, with what went through it; the withdrawals
    // no provider was chosen for (the queue, the rejected one) beside it.
    let providers = json(cfg, &["providers"]).await;
    let stripe = &providers["providers"][0];
    assert_eq!(providers["providers"].as_array().unwrap().len(), 1, "{providers}");
    assert_eq!(stripe["name"], "stripe");
    assert_eq!(stripe["kind"], "card");
    assert_eq!(stripe["default"], true);
    let host = sandbox
        .url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    assert_eq!(stripe["api_host"], host.as_str());
    assert_eq!(stripe["webhook_path"], "/webhooks/v1/payments/stripe");
    assert_eq!(stripe["withdrawals"], json!({"completed": 1}));
    assert_eq!(stripe["payouts_owed"], 0);
    assert_eq!(
        providers["unassigned_withdrawals"],
        json!({"rejected": 1, "requested": 1})
    );
    let table = ok(cfg, &["providers"]).await;
    for shown in ["stripe", "card", "/webhooks/v1/payments/stripe", "completed=1"] {
        assert!(table.contains(shown), "{shown}: {table}");
    }
    running.stop().await.unwrap();
    sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_the_servers_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let running = start(config(dir.path(), true)).await;
    let url = format!("https://localhost:{}", running.addr().port());
    let token = first_token(&running);
    let cert = running.cert_path().expect("a certificate").display().to_string();
    let cfg = home.path().join("admin.toml");

    let untrusted = fails(&cfg, &["login", "--server", &url, "--token", &token], 6).await;
    assert!(untrusted.contains("cannot reach"), "{untrusted}");
    ok(
        &cfg,
        &["login", "--server", &url, "--token", &token, "--ca-cert", &cert],
    )
    .await;
    assert_eq!(
        json(&cfg, &["operators", "list"]).await["operators"][0]["role"],
        "admin"
    );
    let missing = home.path().join("none.pem").display().to_string();
    assert!(
        fails(
            &cfg,
            &["login", "--server", &url, "--token", &token, "--ca-cert", &missing],
            2
        )
        .await
        .contains("--ca-cert")
    );
    running.stop().await.unwrap();
}

// ---------------------------------------------------------------------------
// KYC at the provider: the sandbox (a real loopback server speaking the
// provider's protocol, `croupier sandbox kyc`) beside the server.
// ---------------------------------------------------------------------------

const KYC_APP_TOKEN: &str = "admin-test-app-token";
const KYC_SECRET_KEY: &str = "admin-test-secret-key";
const KYC_WEBHOOK_SECRET: &str = "admin-test-webhook-secret";

/// The wall clock in ms: the sandbox's, as `croupier sandbox kyc` runs it
/// (the server reads the same one).
fn system_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Registers a player as `REGISTER` does, under another name and email
/// (not a duplicate); the player's id.
async fn register_as(cfg: &Path, name: &str, email: &str) -> String {
    let mut args = REGISTER.to_vec();
    for (flag, value) in [("--name", name), ("--email", email)] {
        let at = args.iter().position(|a| *a == flag).unwrap() + 1;
        args[at] = value;
    }
    let registered = json(cfg, &args).await;
    registered["player"].as_u64().unwrap().to_string()
}

/// The sandbox's reviewer decides `check` with `answer` (GREEN, RED) and
/// its labels; the status the server answered the signed webhook with.
async fn sandbox_decides(sandbox: &Sandbox, check: &str, answer: &str, labels: &[&str]) -> Value {
    let reply = reqwest::Client::new()
        .post(format!("{}/sandbox/applicants/{check}/review", sandbox.url()))
        .header("content-type", "application/json")
        .body(json!({"answer": answer, "rejectLabels": labels}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), reqwest::StatusCode::OK, "{check}");
    let reply: Value = serde_json::from_slice(&reply.bytes().await.unwrap()).unwrap();
    reply["delivered"].clone()
}

/// A player's KYC state as `kyc show --json` prints it, without the read's
/// sequence number.
async fn kyc_state(cfg: &Path, player: &str) -> Value {
    let mut state = json(cfg, &["kyc", "show", player]).await;
    state.as_object_mut().unwrap().remove("as_of_seq");
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kyc_checks_started_at_the_sandbox_provider_and_decided_by_its_webhooks() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(
        SandboxConfig {
            app_token: KYC_APP_TOKEN.into(),
            secret_key: KYC_SECRET_KEY.into(),
            webhook_secret: KYC_WEBHOOK_SECRET.into(),
            webhook_url: None,
            clock: Arc::new(system_ms),
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("the sandbox starts");
    let running = start(ServeConfig {
        kyc_provider_url: Some(sandbox.url()),
        kyc_app_token: Some(KYC_APP_TOKEN.into()),
        kyc_secret_key: Some(KYC_SECRET_KEY.into()),
        kyc_webhook_secret: Some(KYC_WEBHOOK_SECRET.into()),
        ..config(dir.path(), false)
    })
    .await;
    let url = format!("http://{}", running.addr());
    // The sandbox signs its webhooks and sends them to this server.
    let target = json!({"url": format!("{url}/webhooks/v1/kyc")});
    let set = reqwest::Client::new()
        .put(format!("{}/sandbox/webhook", sandbox.url()))
        .header("content-type", "application/json")
        .body(target.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), reqwest::StatusCode::NO_CONTENT);
    let cfg_file = home.path().join("admin.toml");
    let cfg = cfg_file.as_path();
    ok(cfg, &["login", "--server", &url, "--token", &first_token(&running)]).await;
    let ada = register_as(cfg, "Ada Lovelace", "ada@example.com").await;
    let grace = register_as(cfg, "Grace Hopper", "grace@example.com").await;

    // Started: one line with the provider's check, the pending level and
    // the link the player opens at the provider; the server recorded that
    // check, started by operator 1, no verdict yet.
    let started = ok(cfg, &["kyc", "start", &ada]).await;
    let pending = kyc_state(cfg, &ada).await;
    let check = pending["check"]["reference"].as_str().unwrap().to_owned();
    assert_eq!(
        (
            &pending["level"],
            &pending["check"]["started_by"],
            &pending["check"]["last_event_ms"]
        ),
        (&Value::from("pending"), &Value::from(1), &Value::from(0)),
        "{pending}"
    );
    assert_eq!(started.lines().count(), 1, "{started}");
    assert!(
        started.starts_with(&format!("check {check} started for player {ada} (level pending)")),
        "{started}"
    );
    let link = started.trim_end().rsplit(' ').next().unwrap();
    assert!(link.starts_with(&format!("{}/websdk/p/", sandbox.url())), "{started}");
    let table = ok(cfg, &["kyc", "show", &ada]).await;
    assert!(
        table.contains(&check) && table.contains("pending") && table.contains("none yet"),
        "{table}"
    );

    // The provider's reviewer says GREEN; its signed webhook reaches the
    // server, which verifies the player, the provider's check as the source.
    assert_eq!(sandbox_decides(&sandbox, &check, "GREEN", &[]).await, json!(200));
    let verified = kyc_state(cfg, &ada).await;
    assert_eq!(
        (&verified["level"], &verified["reason"], &verified["by"]),
        (
            &Value::from("verified"),
            &Value::from("verified by the provider"),
            &json!({"kind": "provider", "check": check})
        ),
        "{verified}"
    );
    assert!(verified["check"]["last_event_ms"].as_u64().unwrap() > 0, "{verified}");
    let table = ok(cfg, &["kyc", "show", &ada]).await;
    assert!(
        table.contains("verified by the provider")
            && table.contains(&format!("provider {check}"))
            && !table.contains("none yet"),
        "{table}"
    );

    // Another player, for a script (`--json`), rejected with the labels as
    // the reason.
    let started = json(cfg, &["kyc", "start", &grace]).await;
    let grace_check = started["check"].as_str().unwrap().to_owned();
    assert_ne!(grace_check, check);
    assert_eq!(
        (&started["player"], &started["level"]),
        (&Value::from(grace.parse::<u64>().unwrap()), &Value::from("pending"))
    );
    assert!(
        started["url"].as_str().unwrap().starts_with(&sandbox.url()),
        "{started}"
    );
    let labels = ["FORGERY", "SELFIE_MISMATCH"];
    assert_eq!(
        sandbox_decides(&sandbox, &grace_check, "RED", &labels).await,
        json!(200)
    );
    let rejected = kyc_state(cfg, &grace).await;
    assert_eq!(
        (&rejected["level"], &rejected["reason"], &rejected["by"]["check"]),
        (
            &Value::from("rejected"),
            &Value::from("rejected by the provider: FORGERY, SELFIE_MISMATCH"),
            &Value::from(grace_check.as_str())
        ),
        "{rejected}"
    );
    assert!(
        ok(cfg, &["kyc", "show", &grace])
            .await
            .contains("rejected by the provider: FORGERY, SELFIE_MISMATCH")
    );
    assert_eq!(kyc_state(cfg, &ada).await, verified, "one player's verdict only");

    // Bad input: one line and its exit code, nothing changed.
    let unknown = fails(cfg, &["kyc", "start", "999"], 4).await;
    assert!(unknown.contains("unknown_player"), "{unknown}");
    usage(cfg, &["kyc", "start", "ada"]).await;
    ok(cfg, &["players", "erase", &grace, "--reason", "GDPR request 7"]).await;
    let before = kyc_state(cfg, &grace).await;
    let erased = fails(cfg, &["kyc", "start", &grace], 5).await;
    assert!(erased.contains("player_erased"), "{erased}");
    assert_eq!(kyc_state(cfg, &grace).await, before);

    // The provider is down: the server's 502, one line, exit 1; the
    // player keeps the verdict and the check they had.
    sandbox.stop().await;
    let down = fails(cfg, &["kyc", "start", &ada], 1).await;
    assert!(down.contains("kyc_provider_error"), "{down}");
    assert_eq!(kyc_state(cfg, &ada).await, verified);
    running.stop().await.unwrap();
}

/// `alerts` and `cases`: deposits structured below the threshold raise
/// alerts; a case is opened from them, assigned, annotated, acted on
/// (the player suspended through the ledger), resolved and exported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_and_cases_over_the_risk_routes() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let running = start(ServeConfig {
        ship_jurisdiction_profiles: false,
        ..config(dir.path(), false)
    })
    .await;
    let url = format!("http://{}", running.addr());
    let admin_token = first_token(&running);
    let cfg = &home.path().join("admin.toml");
    ok(cfg, &["login", "--server", &url, "--token", &admin_token]).await;
    let p = register_as(cfg, "Ada Lovelace", "ada@example.com").await;
    let player: u64 = p.parse().unwrap();
    for n in 1..=3 {
        let body = json!({"deposit_id": format!("s-{n}"), "currency": "EUR", "amount": "1950.00"});
        let status = post(
            &url,
            &admin_token,
            &format!("/operator/v1/players/{player}/deposits"),
            body,
        )
        .await;
        assert!(status.is_success(), "{status}");
    }
    let alerts = json(cfg, &["alerts", "list", "--player", &p, "--state", "queued"]).await;
    let rules: Vec<&str> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["cumulative_deposits", "structuring"]);
    let structuring = alerts["alerts"][1]["id"].as_u64().unwrap().to_string();
    let table = ok(cfg, &["alerts", "show", &structuring]).await;
    assert!(
        table.contains("structuring") && table.contains("evidence seq") && table.contains("1950.00"),
        "{table}"
    );

    let opened = json(
        cfg,
        &["cases", "open", "--summary", "structured deposits", &structuring],
    )
    .await;
    let case = opened["case"]["id"].as_u64().unwrap().to_string();
    ok(cfg, &["cases", "assign", &case, "1"]).await;
    ok(cfg, &["cases", "note", &case, "three deposits in a row"]).await;
    let acted = json(cfg, &["cases", "act", &case, "suspend", "--reason", "under review"]).await;
    // Opening held the player's withdrawals (the first action), then the
    // suspension.
    assert_eq!(acted["notes"][1]["kind"], "action");
    assert_eq!(acted["notes"][4]["kind"], "action");
    assert!(acted["notes"][4]["journal_seq"].is_u64());
    let shown = json(cfg, &["cases", "show", &case]).await;
    let action = &shown["notes"][4];
    assert!(
        action["text"]
            .as_str()
            .unwrap()
            .starts_with("suspended the player: risk case"),
        "{shown}"
    );
    assert_eq!(action["journal_seq"], acted["notes"][4]["journal_seq"]);
    assert!(ok(cfg, &["cases", "show", &case]).await.contains("action at"));
    let listed = json(cfg, &["cases", "list", "--state", "open"]).await;
    assert_eq!(listed["cases"].as_array().unwrap().len(), 1);
    ok(cfg, &["cases", "resolve", &case, "reported", "--text", "SAR filed"]).await;
    let csv = ok(cfg, &["cases", "export", &case, "--csv"]).await;
    assert_eq!(csv.lines().count(), 1 + 3, "{csv}");
    let report = json(cfg, &["cases", "export", &case]).await;
    assert_eq!(report["case_file"]["case"]["outcome"], "reported");

    let refused = fails(cfg, &["cases", "note", &case, "late"], 5).await;
    assert!(refused.contains("resolved"), "{refused}");
    fails(cfg, &["cases", "show", "99"], 4).await;
    fails(cfg, &["cases", "resolve", &case, "shrug", "--text", "x"], 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn games_list_show_import_enable_and_disable() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let running = start(config(dir.path(), false)).await;
    let url = format!("http://{}", running.addr());
    let admin_token = first_token(&running);
    let cfg = &home.path().join("admin.toml");
    ok(cfg, &["login", "--server", &url, "--token", &admin_token]).await;
    let aggregator = reqwest::Client::new()
        .post(format!("{url}/operator/v1/aggregators"))
        .bearer_auth(&admin_token)
        .header("content-type", "application/json")
        .body(json!({"name": "acme"}).to_string())
        .send()
        .await
        .unwrap();
    assert!(aggregator.status().is_success());
    let provider = reqwest::Client::new()
        .put(format!("{url}/operator/v1/games/providers/studio"))
        .bearer_auth(&admin_token)
        .header("content-type", "application/json")
        .body(json!({"name": "Studio", "aggregators": ["acme"]}).to_string())
        .send()
        .await
        .unwrap();
    assert!(provider.status().is_success());
    assert_eq!(json(cfg, &["games", "list"]).await, json!({"games": []}));

    let files = tempfile::tempdir().unwrap();
    let csv = files.path().join("studio.csv");
    std::fs::write(
        &csv,
        "aggregator,code,provider,name,type,volatility,rtp_variants_bp,rtp_default_bp,rtp_by_jurisdiction,limits,jurisdictions,enabled\n\
         acme,g1,studio,One,slot,low,9600,9600,,EUR:0.10:10.00,MT,true\n\
         acme,g2,studio,Two,live,unrated,9700,9700,,EUR:1.00:500.00,MT;GB,true\n",
    )
    .unwrap();
    let out = ok(cfg, &["games", "import", csv.to_str().unwrap()]).await;
    assert!(out.contains("2 created, 0 updated, 0 unchanged"), "{out}");
    let bad = files.path().join("bad.json");
    std::fs::write(&bad, json!([{"aggregator": "acme", "code": "g3"}]).to_string()).unwrap();
    let refused = fails(cfg, &["games", "import", bad.to_str().unwrap()], 2).await;
    assert!(refused.contains("invalid_import: row 1, field record"), "{refused}");

    let table = ok(cfg, &["games", "list", "--type", "live"]).await;
    assert!(table.contains("g2") && !table.contains("g1"), "{table}");
    let shown = json(cfg, &["games", "show", "acme", "g1"]).await;
    assert_eq!(
        shown["limits"],
        json!([{"currency": "EUR", "min": "0.10", "max": "10.00"}])
    );
    let out = ok(cfg, &["games", "disable", "acme", "g1"]).await;
    assert_eq!(out.trim(), "game acme/g1: disabled");
    let disabled = json(cfg, &["games", "list", "--enabled", "false"]).await;
    assert_eq!(disabled["games"].as_array().unwrap().len(), 1);
    assert_eq!(
        json(cfg, &["games", "enable", "acme", "g1"]).await["enabled"],
        json!(true)
    );
    let missing = fails(cfg, &["games", "show", "acme", "nope"], 4).await;
    assert!(missing.contains("unknown_game"), "{missing}");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn jackpots_create_list_show_and_award() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let running = start(config(dir.path(), false)).await;
    let url = format!("http://{}", running.addr());
    let admin_token = first_token(&running);
    let cfg = &home.path().join("admin.toml");
    ok(cfg, &["login", "--server", &url, "--token", &admin_token]).await;
    let aggregator = post(&url, &admin_token, "/operator/v1/aggregators", json!({"name": "acme"})).await;
    assert!(aggregator.is_success());
    let player = post(
        &url,
        &admin_token,
        "/operator/v1/players",
        json!({"currency": "EUR", "jurisdiction": "MT"}),
    )
    .await;
    assert!(player.is_success());
    assert_eq!(json(cfg, &["jackpots", "list"]).await, json!({"jackpots": []}));
    let create = [
        "jackpots",
        "create",
        "mega",
        "--name",
        "Mega Slots",
        "--currency",
        "EUR",
        "--game",
        "acme:slots",
        "--game",
        "acme:books",
        "--contribution-bp",
        "100",
        "--seed",
        "10.00",
        "--must-drop",
        "50.00",
    ];
    let out = ok(cfg, &create).await;
    assert_eq!(out.trim(), "created jackpot mega at 10.00 EUR");
    let refused = fails(cfg, &create, 5).await;
    assert!(refused.contains("jackpot_exists"), "{refused}");
    let bad = fails(
        cfg,
        &[
            "jackpots",
            "create",
            "x",
            "--name",
            "X",
            "--currency",
            "EUR",
            "--game",
            "slots",
            "--contribution-bp",
            "100",
            "--seed",
            "1.00",
        ],
        2,
    )
    .await;
    assert!(bad.contains("AGGREGATOR:CODE"), "{bad}");
    let table = ok(cfg, &["jackpots", "list"]).await;
    assert!(table.contains("mega") && table.contains("10.00"), "{table}");
    let shown = json(cfg, &["jackpots", "show", "mega"]).await;
    assert_eq!(shown["games"].as_array().unwrap().len(), 2);
    assert_eq!(shown["must_drop"], json!("50.00"));
    let out = ok(cfg, &["jackpots", "award", "mega", "--player", "1"]).await;
    assert_eq!(
        out.trim(),
        "awarded 10.00 from jackpot mega to player 1; reseeded with 10.00"
    );
    assert_eq!(json(cfg, &["jackpots", "show", "mega"]).await["wins"], json!(1));
    let missing = fails(cfg, &["jackpots", "show", "nope"], 4).await;
    assert!(missing.contains("unknown_jackpot"), "{missing}");
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_methods_list_add_disable_enable_and_remove() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let running = start(ServeConfig {
        ship_jurisdiction_profiles: false,
        ..config(dir.path(), false)
    })
    .await;
    let url = format!("http://{}", running.addr());
    let cfg = &home.path().join("admin.toml");
    ok(cfg, &["login", "--server", &url, "--token", &first_token(&running)]).await;
    let p = register_as(cfg, "Ada Lovelace", "ada@example.com").await;
    let added = ok(
        cfg,
        &[
            "methods",
            "add",
            &p,
            "visa",
            "card",
            "pm_card_visa",
            "--holder-name",
            "Ada Lovelace",
        ],
    )
    .await;
    assert!(added.contains("card visa recorded (holder matches)"), "{added}");
    let third = json(
        cfg,
        &[
            "methods",
            "add",
            &p,
            "wallet",
            "ewallet",
            "skrill_1",
            "--holder-name",
            "Someone Else",
        ],
    )
    .await;
    assert_eq!(third["holder"], "mismatch");
    let refused = fails(cfg, &["methods", "add", &p, "pan", "card", "4111111111111111"], 5).await;
    assert!(refused.contains("card number"), "{refused}");
    ok(cfg, &["methods", "disable", &p, "visa", "--reason", "lost"]).await;
    let listed = ok(cfg, &["methods", "list", &p]).await;
    assert!(listed.contains("disabled") && listed.contains("skrill_1"), "{listed}");
    ok(cfg, &["methods", "enable", &p, "visa", "--reason", "found"]).await;
    ok(cfg, &["methods", "remove", &p, "wallet"]).await;
    let listed = json(cfg, &["methods", "list", &p]).await;
    assert_eq!(listed["methods"].as_array().unwrap().len(), 1);
    assert_eq!(listed["methods"][0]["state"], "active");
    let all = json(cfg, &["methods", "list", &p, "--removed"]).await;
    assert_eq!(all["methods"][1]["state"], "removed");
    fails(cfg, &["methods", "disable", &p, "nope", "--reason", "x"], 4).await;
    fails(cfg, &["methods", "enable", &p, "wallet", "--reason", "x"], 5).await;
    usage(cfg, &["methods", "disable", &p, "visa"]).await;
}

/// `YYYY-MM-DD` of today (UTC), from the system clock the server stamps with.
fn today() -> String {
    // Days since the epoch to a civil date (Howard Hinnant's algorithm).
    let z = (system_ms() / 86_400_000) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[tokio::test]
async fn reports_written_as_json_csv_and_html() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let running = start(config(dir.path(), false)).await;
    let url = format!("http://{}", running.addr());
    let admin_token = first_token(&running);
    let cfg = &home.path().join("admin.toml");
    ok(cfg, &["login", "--server", &url, "--token", &admin_token]).await;
    let player = post(
        &url,
        &admin_token,
        "/operator/v1/players",
        json!({"currency": "EUR", "jurisdiction": "MT"}),
    )
    .await;
    assert!(player.is_success());
    let deposit = json!({"deposit_id": "d-1", "currency": "EUR", "amount": "42.50"});
    assert!(
        post(&url, &admin_token, "/operator/v1/players/1/deposits", deposit)
            .await
            .is_success()
    );
    // The deposit was stamped today (the server's clock is the system's).
    let (from, to) = (today(), today());
    let report = json(cfg, &["reports", "business", "--from", &from, "--to", &to]).await;
    assert_eq!(report["report"], "business");
    let payments = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "payments_by_provider")
        .unwrap();
    assert_eq!(
        payments["rows"],
        json!([["deposit", "manual", "confirmed", "EUR", "native", "1", "42.50", "0.00"]])
    );
    let file = home.path().join("business.csv");
    let file_arg = file.to_str().unwrap();
    let args = [
        "reports", "business", "--from", &from, "--to", &to, "--format", "csv", "--out", file_arg,
    ];
    ok(cfg, &args).await;
    let csv = std::fs::read_to_string(&file).unwrap();
    assert!(
        csv.contains("payments_by_provider,deposit,manual,confirmed,EUR,native,1,42.50,0.00\n"),
        "{csv}"
    );
    let html = ok(
        cfg,
        &[
            "reports",
            "ukgc-quarterly",
            "--from",
            &from,
            "--to",
            &to,
            "--format",
            "html",
        ],
    )
    .await;
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("42.50"), "{html}");
    let unknown = fails(cfg, &["reports", "pnl", "--month", "2026-01"], 4).await;
    assert!(unknown.contains("unknown_report"), "{unknown}");
    let bad = fails(cfg, &["reports", "business", "--from", &from], 2).await;
    assert!(bad.contains("invalid_period"), "{bad}");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn bonuses_templates_grant_list_and_forfeit() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let running = start(config(dir.path(), false)).await;
    let url = format!("http://{}", running.addr());
    let admin_token = first_token(&running);
    let cfg = &home.path().join("admin.toml");
    ok(cfg, &["login", "--server", &url, "--token", &admin_token]).await;
    let player = post(
        &url,
        &admin_token,
        "/operator/v1/players",
        json!({"currency": "EUR", "jurisdiction": "MT"}),
    )
    .await;
    assert!(player.is_success());
    assert_eq!(
        json(cfg, &["bonuses", "templates", "list"]).await["templates"],
        json!([])
    );
    let create = [
        "bonuses",
        "templates",
        "create",
        "welcome",
        "--name",
        "Welcome",
        "--kind",
        "deposit_match",
        "--currency",
        "EUR",
        "--percent",
        "100",
        "--cap",
        "100.00",
        "--min-deposit",
        "10.00",
        "--wagering-x",
        "30",
        "--expiry-days",
        "30",
        "--contribution",
        "roulette:10",
        "--max-bet",
        "5.00",
        "--claim-code",
        "WELCOME",
    ];
    let out = ok(cfg, &create).await;
    assert_eq!(out.trim(), "set bonus template welcome (deposit_match)");
    let free = [
        "bonuses",
        "templates",
        "create",
        "free",
        "--name",
        "Free five",
        "--kind",
        "no_deposit",
        "--currency",
        "EUR",
        "--amount",
        "5.00",
        "--wagering-x",
        "20",
        "--expiry-days",
        "7",
    ];
    ok(cfg, &free).await;
    let shown = json(cfg, &["bonuses", "templates", "show", "welcome"]).await;
    assert_eq!(shown["contributions"], json!([{"game": "roulette", "pct": 10}]));
    assert_eq!(shown["max_bet"], json!("5.00"));
    let table = ok(cfg, &["bonuses", "templates", "list"]).await;
    assert!(table.contains("welcome") && table.contains("free"), "{table}");
    let bad = fails(
        cfg,
        &[
            "bonuses",
            "templates",
            "create",
            "x",
            "--name",
            "X",
            "--kind",
            "no_deposit",
            "--currency",
            "EUR",
            "--amount",
            "1.00",
            "--wagering-x",
            "1",
            "--expiry-days",
            "1",
            "--contribution",
            "slots",
        ],
        2,
    )
    .await;
    assert!(bad.contains("GAME:PCT"), "{bad}");
    let invalid = fails(
        cfg,
        &[
            "bonuses",
            "templates",
            "create",
            "x",
            "--name",
            "X",
            "--kind",
            "lottery",
            "--currency",
            "EUR",
            "--wagering-x",
            "1",
            "--expiry-days",
            "1",
        ],
        2,
    )
    .await;
    assert!(invalid.contains("invalid_template"), "{invalid}");

    let out = ok(
        cfg,
        &["bonuses", "grant", "1", "--template", "welcome", "--deposit", "50.00"],
    )
    .await;
    assert_eq!(out.trim(), "granted bonus 1 (50.00 EUR) to player 1: active");
    let out = ok(cfg, &["bonuses", "grant", "1", "--template", "free"]).await;
    assert_eq!(out.trim(), "granted bonus 2 (5.00 EUR) to player 1: queued");
    let listed = json(cfg, &["bonuses", "list", "1"]).await;
    let serials: Vec<(u64, &str)> = listed["bonuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["serial"].as_u64().unwrap(), b["state"].as_str().unwrap()))
        .collect();
    assert_eq!(serials, [(1, "active"), (2, "queued")]);
    let missing = fails(cfg, &["bonuses", "grant", "1", "--template", "nope"], 4).await;
    assert!(missing.contains("unknown_template"), "{missing}");
    let out = ok(cfg, &["bonuses", "forfeit", "1"]).await;
    assert_eq!(
        out.trim(),
        "forfeited the active bonus of player 1; bonus money now 5.00 EUR"
    );
    let unknown = fails(cfg, &["bonuses", "forfeit", "1", "--serial", "9"], 4).await;
    assert!(unknown.contains("unknown_bonus"), "{unknown}");
    let table = ok(cfg, &["bonuses", "list", "1", "--currency", "EUR"]).await;
    assert!(table.contains("active") && table.contains("5.00"), "{table}");
    // No free-rounds API configured: no awards, and none to cancel.
    let awards = json(cfg, &["bonuses", "free-rounds", "list", "1"]).await;
    assert_eq!((&awards["player"], &awards["free_rounds"]), (&json!(1), &json!([])));
    let none = fails(
        cfg,
        &["bonuses", "free-rounds", "cancel", "1", "cr-0000000000000000"],
        4,
    )
    .await;
    assert!(none.contains("unknown_free_rounds"), "{none}");
    let stranger = fails(cfg, &["bonuses", "free-rounds", "list", "99"], 4).await;
    assert!(stranger.contains("unknown_player"), "{stranger}");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn loyalty_programme_points_tiers_and_promotion_rules() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let running = start(config(dir.path(), false)).await;
    let url = format!("http://{}", running.addr());
    let admin_token = first_token(&running);
    let cfg = &home.path().join("admin.toml");
    ok(cfg, &["login", "--server", &url, "--token", &admin_token]).await;
    let player = post(
        &url,
        &admin_token,
        "/operator/v1/players",
        json!({"currency": "EUR", "jurisdiction": "MT"}),
    )
    .await;
    assert!(player.is_success());
    let unset = fails(cfg, &["loyalty", "config"], 5).await;
    assert!(unset.contains("loyalty_not_configured"), "{unset}");
    let file = home.path().join("loyalty.json");
    let programme = json!({"rates": {"slot": "1", "live": "0.25"}, "default_rate": "0.5", "currency": "EUR",
        "redeem_points": 100, "redeem_amount": "1.00", "redeem_wagering_x": 1, "redeem_expiry_days": 30,
        "review_days": 30, "tiers": [{"code": "gold", "name": "Gold", "min_points": 1000, "cashback_pct": 20}]});
    std::fs::write(&file, programme.to_string()).unwrap();
    let file_arg = file.to_str().unwrap();
    let out = ok(cfg, &["loyalty", "set-config", file_arg]).await;
    assert!(out.starts_with("set the loyalty programme (seq "), "{out}");
    let shown = json(cfg, &["loyalty", "config"]).await;
    assert_eq!(shown["rates"], json!({"live": "0.25", "slot": "1"}));
    assert_eq!(shown["tiers"][0]["cashback_pct"], 20);
    std::fs::write(&file, json!({"rates": {}}).to_string()).unwrap();
    let bad = fails(cfg, &["loyalty", "set-config", file_arg], 2).await;
    assert!(bad.contains("invalid_request"), "{bad}");
    std::fs::write(&file, "not json").unwrap();
    let garbled = fails(cfg, &["loyalty", "set-config", file_arg], 2).await;
    assert!(garbled.contains("not JSON"), "{garbled}");

    let standing = json(cfg, &["loyalty", "show", "1"]).await;
    assert_eq!(standing["points_available"], 0);
    let table = ok(cfg, &["loyalty", "show", "1"]).await;
    assert!(table.contains("points_available"), "{table}");
    let broke = fails(cfg, &["loyalty", "redeem", "1", "--points", "10", "--id", "r1"], 5).await;
    assert!(broke.contains("insufficient_points"), "{broke}");
    fails(cfg, &["loyalty", "show", "9"], 4).await;
    let out = ok(cfg, &["loyalty", "tier", "1", "gold"]).await;
    assert_eq!(out.trim(), "player 1's tier is now gold");
    assert_eq!(json(cfg, &["loyalty", "show", "1"]).await["tier"]["code"], "gold");
    let unknown = fails(cfg, &["loyalty", "tier", "1", "platinum"], 5).await;
    assert!(unknown.contains("unknown_tier"), "{unknown}");
    let out = ok(cfg, &["loyalty", "tier", "1"]).await;
    assert_eq!(out.trim(), "player 1's tier is now none");

    let out = ok(cfg, &["loyalty", "set-rules", "MT"]).await;
    assert_eq!(out.trim(), "mixed-product promotions banned in MT");
    let out = ok(cfg, &["loyalty", "set-rules", "default", "--allow"]).await;
    assert_eq!(out.trim(), "mixed-product promotions allowed in default");
    let table = ok(cfg, &["loyalty", "rules"]).await;
    assert!(table.contains("MT") && table.contains("true"), "{table}");
    let bad = fails(cfg, &["loyalty", "set-rules", "Malta"], 2).await;
    assert!(bad.contains("invalid_request"), "{bad}");
    running.stop().await.unwrap();
}

/// `tickets`, `notes` and `timeline`: a ticket opened with the player's
/// message, answered, assigned, prioritised, listed by filter, closed
/// (then refused); notes added and listed; the player's timeline holds
/// the registration, the ticket and the note, filtered by kind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_notes_and_timeline_over_the_support_routes() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let running = start(ServeConfig {
        ship_jurisdiction_profiles: false,
        ..config(dir.path(), false)
    })
    .await;
    let url = format!("http://{}", running.addr());
    let admin_token = first_token(&running);
    let cfg = &home.path().join("admin.toml");
    ok(cfg, &["login", "--server", &url, "--token", &admin_token]).await;
    let p = register_as(cfg, "Grace Hopper", "grace@example.com").await;

    let opened = json(
        cfg,
        &[
            "tickets",
            "open",
            &p,
            "Withdrawal late",
            "--priority",
            "high",
            "--message",
            "Where is it?",
            "--from",
            "player",
        ],
    )
    .await;
    let ticket = opened["ticket"]["id"].as_u64().unwrap().to_string();
    assert_eq!(opened["events"][1]["author"], "player");
    ok(cfg, &["tickets", "message", &ticket, "Looking into it"]).await;
    let assigned = json(cfg, &["tickets", "assign", &ticket, "1"]).await;
    assert_eq!(assigned["ticket"]["assignee"], 1);
    let unassigned = json(cfg, &["tickets", "assign", &ticket, "--nobody"]).await;
    assert_eq!(unassigned["ticket"]["assignee"], Value::Null);
    json(cfg, &["tickets", "priority", &ticket, "urgent"]).await;
    json(cfg, &["tickets", "status", &ticket, "pending"]).await;
    let listed = json(
        cfg,
        &[
            "tickets",
            "list",
            "--status",
            "pending",
            "--priority",
            "urgent",
            "--player",
            &p,
        ],
    )
    .await;
    assert_eq!(listed["tickets"].as_array().unwrap().len(), 1);
    assert_eq!(
        json(cfg, &["tickets", "list", "--status", "open"]).await["tickets"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let table = ok(cfg, &["tickets", "show", &ticket]).await;
    assert!(
        table.contains("Where is it?") && table.contains("Looking into it"),
        "{table}"
    );
    json(cfg, &["tickets", "status", &ticket, "closed"]).await;
    let refused = fails(cfg, &["tickets", "message", &ticket, "late"], 5).await;
    assert!(refused.contains("closed"), "{refused}");
    fails(cfg, &["tickets", "show", "99999"], 4).await;
    fails(cfg, &["tickets", "status", &ticket, "reopened"], 2).await;

    let note = json(cfg, &["notes", "add", &p, "Prefers email"]).await;
    assert_eq!(note["text"], "Prefers email");
    let notes = json(cfg, &["notes", "list", &p]).await;
    assert_eq!(notes["notes"][0]["text"], "Prefers email");
    fails(cfg, &["notes", "add", "99999", "x"], 4).await;

    let timeline = json(cfg, &["timeline", &p]).await;
    let kinds: Vec<&str> = timeline["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"registration"), "{timeline}");
    assert_eq!(kinds.last(), Some(&"note"), "{timeline}");
    let filtered = json(cfg, &["timeline", &p, "--kinds", "note"]).await;
    assert_eq!(filtered["entries"].as_array().unwrap().len(), 1);
    assert!(ok(cfg, &["timeline", &p]).await.contains("registration"));
    running.stop().await.unwrap();
}

/// A started server and `croupier-admin` logged in to it as the first
/// admin: the server, its URL, the admin's token, and the login file.
async fn logged_in(dir: &Path, home: &Path) -> (gateway::server::Running, String, String, PathBuf) {
    let running = start(config(dir, false)).await;
    let url = format!("http://{}", running.addr());
    let admin_token = first_token(&running);
    let cfg = home.join("admin.toml");
    ok(&cfg, &["login", "--server", &url, "--token", &admin_token]).await;
    (running, url, admin_token, cfg)
}

/// Writes `value` as JSON into `dir/name`; its path.
fn json_file(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_and_campaigns_over_the_crm_routes() {
    let (dir, home, files) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let (running, _url, _admin, cfg) = logged_in(dir.path(), home.path()).await;
    let cfg = &cfg;
    let p = register_as(cfg, "Grace Hopper", "grace@example.com").await;

    let gb = json_file(
        files.path(),
        "gb.json",
        &json!({"name": "GB", "all": [{"country": ["GB"]}]}),
    );
    let out = ok(cfg, &["segments", "set", "gb", &gb]).await;
    assert!(out.starts_with("set segment gb (seq "), "{out}");
    let listed = json(cfg, &["segments", "list"]).await;
    assert_eq!(listed["segments"][0]["code"], "gb", "{listed}");
    assert!(ok(cfg, &["segments", "list"]).await.contains("gb"));
    let shown = json(cfg, &["segments", "show", "gb"]).await;
    assert_eq!(shown["all"], json!([{"country": ["GB"]}]));
    let members = json(cfg, &["segments", "members", "gb"]).await;
    assert_eq!(members["members"], json!([p.parse::<u64>().unwrap()]), "{members}");
    assert_eq!(members["count"], 1);
    assert!(ok(cfg, &["segments", "members", "gb"]).await.contains("(1 members)"));
    let mt = json_file(
        files.path(),
        "mt.json",
        &json!({"name": "MT", "all": [{"country": ["MT"]}]}),
    );
    ok(cfg, &["segments", "set", "mt", &mt]).await;
    assert_eq!(json(cfg, &["segments", "members", "mt"]).await["members"], json!([]));

    let missing = fails(cfg, &["segments", "show", "nope"], 4).await;
    assert!(missing.contains("unknown_segment"), "{missing}");
    fails(cfg, &["segments", "members", "nope"], 4).await;
    let lower = json_file(
        files.path(),
        "bad.json",
        &json!({"name": "x", "all": [{"country": ["gb"]}]}),
    );
    let refused = fails(cfg, &["segments", "set", "bad", &lower], 2).await;
    assert!(refused.contains("invalid_segment"), "{refused}");
    let garbage = files.path().join("garbage.json");
    std::fs::write(&garbage, "{not json").unwrap();
    let refused = fails(cfg, &["segments", "set", "bad", garbage.to_str().unwrap()], 2).await;
    assert!(refused.contains("not JSON"), "{refused}");
    fails(cfg, &["segments", "set", "bad", "/no/such/file.json"], 2).await;
    fails(cfg, &["segments", "members", "gb", "--limit", "0"], 2).await;
    usage(cfg, &["segments", "members"]).await;
    usage(cfg, &["segments", "members", "gb", "--limit", "many"]).await;
    assert_eq!(
        json(cfg, &["segments", "list"]).await["segments"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let create = [
        "bonuses",
        "templates",
        "create",
        "gift",
        "--name",
        "Gift",
        "--kind",
        "no_deposit",
        "--currency",
        "EUR",
        "--amount",
        "5.00",
        "--wagering-x",
        "1",
        "--expiry-days",
        "30",
    ];
    ok(cfg, &create).await;
    let welcome = json!({"name": "Welcome", "segment": "gb", "offer": "gift", "channel": "none",
        "message": "Welcome", "trigger": "registration"});
    let welcome = json_file(files.path(), "welcome.json", &welcome);
    let set = json(cfg, &["campaigns", "set", "welcome", &welcome]).await;
    assert_eq!(
        (set["trigger"].clone(), set["channel"].clone()),
        (json!("registration"), json!("none"))
    );
    let listed = json(cfg, &["campaigns", "list"]).await;
    assert_eq!(listed["campaigns"][0]["code"], "welcome", "{listed}");
    assert!(ok(cfg, &["campaigns", "list"]).await.contains("welcome"));
    let shown = json(cfg, &["campaigns", "show", "welcome"]).await;
    assert_eq!(
        (shown["segment"].clone(), shown["offer"].clone()),
        (json!("gb"), json!("gift"))
    );
    assert!(
        ok(cfg, &["campaigns", "show", "welcome"])
            .await
            .contains("registration")
    );
    let targets = json(cfg, &["campaigns", "targets", "welcome"]).await;
    assert!(targets["targets"].is_array(), "{targets}");
    let uplift = json(cfg, &["campaigns", "uplift", "welcome"]).await;
    assert_eq!(uplift["currency"], "EUR", "the offer's currency: {uplift}");
    ok(cfg, &["campaigns", "uplift", "welcome", "--currency", "EUR"]).await;

    for args in [
        &["campaigns", "show", "other"][..],
        &["campaigns", "targets", "other"],
        &["campaigns", "uplift", "other"],
    ] {
        let missing = fails(cfg, args, 4).await;
        assert!(missing.contains("unknown_campaign"), "{missing}");
    }
    let no_segment = json!({"name": "Lost", "segment": "nowhere", "offer": "gift", "channel": "none",
        "message": "x", "trigger": "registration"});
    let no_segment = json_file(files.path(), "lost.json", &no_segment);
    fails(cfg, &["campaigns", "set", "lost", &no_segment], 4).await;
    let fax = json!({"name": "Fax", "segment": "gb", "offer": "gift", "channel": "fax",
        "message": "x", "trigger": "registration"});
    let fax = json_file(files.path(), "fax.json", &fax);
    let refused = fails(cfg, &["campaigns", "set", "fax", &fax], 2).await;
    assert!(refused.contains("invalid_campaign"), "{refused}");
    let refused = fails(cfg, &["campaigns", "uplift", "welcome", "--currency", "XXX"], 2).await;
    assert!(refused.contains("unknown_currency"), "{refused}");
    fails(cfg, &["campaigns", "targets", "welcome", "--limit", "0"], 2).await;
    usage(cfg, &["campaigns", "launch", "welcome"]).await;
    assert_eq!(
        json(cfg, &["campaigns", "list"]).await["campaigns"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn affiliates_plans_brands_and_lobbies() {
    let (dir, home, files) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let (running, url, admin_token, cfg) = logged_in(dir.path(), home.path()).await;
    let cfg = &cfg;

    let plan = [
        "affiliates",
        "plans",
        "set",
        "rs25",
        "--name",
        "Rev share 25 %",
        "--currency",
        "EUR",
        "--revenue-share-bp",
        "2500",
        "--admin-fee-bp",
        "1000",
        "--cpa-amount",
        "50.00",
        "--cpa-threshold",
        "20.00",
    ];
    ok(cfg, &plan).await;
    let shown = json(cfg, &["affiliates", "plans", "show", "rs25"]).await;
    assert_eq!(
        (shown["revenue_share_bp"].clone(), shown["cpa_amount"].clone()),
        (json!(2500), json!("50.00"))
    );
    assert!(ok(cfg, &["affiliates", "plans", "list"]).await.contains("rs25"));
    let set = [
        "affiliates",
        "set",
        "acme-media",
        "--name",
        "Acme Media",
        "--contact",
        "ops@acme.example",
        "--tracking-code",
        "am-1",
        "--tracking-code",
        "am-2",
        "--plan",
        "rs25",
    ];
    let made = json(cfg, &set).await;
    assert_eq!(made["tracking_codes"], json!(["am-1", "am-2"]));
    assert!(ok(cfg, &["affiliates", "list"]).await.contains("acme-media"));
    assert_eq!(json(cfg, &["affiliates", "show", "acme-media"]).await["plan"], "rs25");

    let mut register = REGISTER.to_vec();
    register.extend(["--affiliate-code", "am-2"]);
    let player = json(cfg, &register).await["player"].as_u64().unwrap();
    let players = json(cfg, &["affiliates", "players", "acme-media"]).await;
    let attributed: Vec<u64> = players["players"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["player"].as_u64().unwrap_or_else(|| p.as_u64().unwrap()))
        .collect();
    assert_eq!(attributed, [player], "{players}");
    let month = &today()[..7];
    let report = json(cfg, &["affiliates", "commission", "acme-media", "--month", month]).await;
    assert!(report.is_object(), "{report}");
    let csv = files.path().join("commission.csv");
    let csv_arg = csv.to_str().unwrap();
    let args = [
        "affiliates",
        "commission",
        "acme-media",
        "--month",
        month,
        "--format",
        "csv",
        "--out",
        csv_arg,
    ];
    ok(cfg, &args).await;
    assert!(std::fs::read_to_string(&csv).unwrap().contains("acme-media"));

    let missing = fails(cfg, &["affiliates", "show", "nobody"], 4).await;
    assert!(missing.contains("unknown_affiliate"), "{missing}");
    fails(cfg, &["affiliates", "plans", "show", "nothing"], 4).await;
    fails(cfg, &["affiliates", "players", "nobody"], 4).await;
    let bad_plan = [
        "affiliates",
        "plans",
        "set",
        "bad",
        "--name",
        "Bad",
        "--currency",
        "EUR",
        "--revenue-share-bp",
        "10001",
    ];
    let refused = fails(cfg, &bad_plan, 2).await;
    assert!(refused.contains("invalid_plan"), "{refused}");
    let taken = [
        "affiliates",
        "set",
        "other",
        "--name",
        "Other",
        "--contact",
        "x",
        "--tracking-code",
        "am-2",
    ];
    fails(cfg, &taken, 5).await;
    fails(
        cfg,
        &["affiliates", "commission", "acme-media", "--month", "2026-13"],
        2,
    )
    .await;
    usage(cfg, &["affiliates", "set", "nameless", "--contact", "x"]).await;
    usage(
        cfg,
        &[
            "affiliates",
            "plans",
            "set",
            "x",
            "--name",
            "X",
            "--currency",
            "EUR",
            "--revenue-share-bp",
            "-1",
        ],
    )
    .await;

    // Brands and a lobby naming a catalogued game.
    let brands = json(cfg, &["brands", "list"]).await;
    let default_brands = brands["brands"].as_array().unwrap().len();
    let lucky = [
        "brands",
        "set",
        "lucky",
        "--name",
        "Lucky",
        "--currency",
        "EUR",
        "--jurisdiction",
        "MT",
    ];
    assert_eq!(json(cfg, &lucky).await["jurisdictions"], json!(["MT"]));
    assert_eq!(
        json(cfg, &["brands", "list"]).await["brands"].as_array().unwrap().len(),
        default_brands + 1
    );
    assert_eq!(
        json(cfg, &["brands", "show", "lucky"]).await["currencies"],
        json!(["EUR"])
    );
    let aggregator = post(&url, &admin_token, "/operator/v1/aggregators", json!({"name": "acme"})).await;
    assert!(aggregator.is_success());
    let client = reqwest::Client::new();
    let provider = client
        .put(format!("{url}/operator/v1/games/providers/studio"))
        .bearer_auth(&admin_token)
        .header("content-type", "application/json")
        .body(json!({"name": "Studio", "aggregators": ["acme"]}).to_string())
        .send()
        .await
        .unwrap();
    assert!(provider.status().is_success());
    let games = files.path().join("games.csv");
    std::fs::write(
        &games,
        "aggregator,code,provider,name,type,volatility,rtp_variants_bp,rtp_default_bp,rtp_by_jurisdiction,limits,jurisdictions,enabled\n\
         acme,book,studio,Book,slot,low,9600,9600,,EUR:0.10:10.00,MT,true\n",
    )
    .unwrap();
    ok(cfg, &["games", "import", games.to_str().unwrap()]).await;
    let aggregator_id = json(cfg, &["games", "show", "acme", "book"]).await["aggregator"].clone();
    let lobby = json!({
        "categories": [{"code": "slots", "name": "Slots", "games": [{"aggregator": aggregator_id, "game": "book"}]}],
        "featured": [{"aggregator": aggregator_id, "game": "book"}],
        "theme": {"primary_colour": "#0a7d3b", "secondary_colour": "#FFCC00", "logo_url": "https://cdn.example/lucky.svg"}
    });
    let lobby_file = json_file(files.path(), "lobby.json", &lobby);
    ok(cfg, &["brands", "set-lobby", "lucky", "--file", &lobby_file]).await;
    let served = json(cfg, &["brands", "lobby", "lucky"]).await;
    assert_eq!(served["featured"][0]["game"], "book", "{served}");
    assert!(
        ok(cfg, &["brands", "lobby", "lucky", "--jurisdiction", "MT"])
            .await
            .contains("book")
    );

    fails(cfg, &["brands", "show", "nowhere"], 4).await;
    fails(cfg, &["brands", "lobby", "nowhere"], 4).await;
    let mut ghost = lobby.clone();
    ghost["featured"][0]["game"] = json!("ghost");
    let ghost = json_file(files.path(), "ghost.json", &ghost);
    let missing = fails(cfg, &["brands", "set-lobby", "lucky", "--file", &ghost], 4).await;
    assert!(missing.contains("unknown_game"), "{missing}");
    let mut green = lobby.clone();
    green["theme"]["primary_colour"] = json!("green");
    let green = json_file(files.path(), "green.json", &green);
    let refused = fails(cfg, &["brands", "set-lobby", "lucky", "--file", &green], 2).await;
    assert!(refused.contains("invalid_lobby"), "{refused}");
    let served = json(cfg, &["brands", "lobby", "lucky"]).await;
    assert_eq!(served["theme"]["primary_colour"], "#0a7d3b", "refusals changed nothing");
    let refused = fails(cfg, &["brands", "set", "odd", "--name", "Odd", "--currency", "XXX"], 2).await;
    assert!(refused.contains("unknown_currency"), "{refused}");
    usage(cfg, &["brands", "set-lobby", "lucky"]).await;
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_markers_interventions_and_churn() {
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (running, _url, _admin, cfg) = logged_in(dir.path(), home.path()).await;
    let cfg = &cfg;
    let p = register_as(cfg, "Alan Turing", "alan@example.com").await;

    let markers = json(cfg, &["analytics", "markers", &p]).await;
    assert_eq!(markers["player"].to_string(), p, "{markers}");
    assert_eq!(markers["score"], 0, "a new player shows no marker: {markers}");
    assert!(ok(cfg, &["analytics", "markers", &p]).await.contains("score"));
    let scan = json(cfg, &["analytics", "scan"]).await;
    assert_eq!(scan["alerts"], json!([]), "{scan}");
    assert!(ok(cfg, &["analytics", "scan"]).await.contains("players assessed"));
    assert_eq!(json(cfg, &["analytics", "alerts", "--all"]).await["alerts"], json!([]));

    let sent = json(cfg, &["analytics", "intervene", &p, "reality_check"]).await;
    let id = sent["id"].as_u64().unwrap();
    let out = ok(
        cfg,
        &[
            "analytics",
            "intervene",
            &p,
            "limit_prompt",
            "--message",
            "Set a limit?",
        ],
    )
    .await;
    assert!(out.contains("intervention") && out.contains("sent"), "{out}");
    let listed = json(cfg, &["analytics", "interventions", &p]).await;
    let ids: Vec<u64> = listed["interventions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{listed}");
    assert!(ids.contains(&id));
    let pending = json(cfg, &["analytics", "interventions", &p, "--pending"]).await;
    assert_eq!(pending["interventions"].as_array().unwrap().len(), 2);
    assert!(
        ok(cfg, &["analytics", "interventions", &p])
            .await
            .contains("Set a limit?")
    );

    fails(cfg, &["analytics", "markers", "99999"], 4).await;
    fails(cfg, &["analytics", "intervene", "99999", "reality_check"], 4).await;
    fails(cfg, &["analytics", "intervene", &p, "lecture"], 2).await;
    fails(
        cfg,
        &["analytics", "intervene", &p, "reality_check", "--alert", "99999"],
        4,
    )
    .await;
    let missing = fails(cfg, &["analytics", "close", "99999", "--finding", "nothing"], 4).await;
    assert!(missing.contains("unknown_alert"), "{missing}");
    fails(cfg, &["analytics", "interventions", "99999"], 4).await;
    fails(cfg, &["analytics", "alerts", "--limit", "0"], 2).await;
    usage(cfg, &["analytics", "close", "1"]).await;
    usage(cfg, &["analytics", "markers", "someone"]).await;

    // No model yet; one player is too short a history to train on.
    let untrained = fails(cfg, &["analytics", "churn"], 5).await;
    assert!(untrained.contains("churn_model_untrained"), "{untrained}");
    fails(cfg, &["analytics", "churn-player", &p], 5).await;
    let short = fails(cfg, &["analytics", "train"], 5).await;
    assert!(short.contains("churn_history_too_short"), "{short}");
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn games_performance_alerts_and_providers_performance() {
    let (dir, home, files) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let (running, url, admin_token, cfg) = logged_in(dir.path(), home.path()).await;
    let cfg = &cfg;
    let aggregator = post(&url, &admin_token, "/operator/v1/aggregators", json!({"name": "acme"})).await;
    assert!(aggregator.is_success());
    let provider = reqwest::Client::new()
        .put(format!("{url}/operator/v1/games/providers/studio"))
        .bearer_auth(&admin_token)
        .header("content-type", "application/json")
        .body(json!({"name": "Studio One", "aggregators": ["acme"]}).to_string())
        .send()
        .await
        .unwrap();
    assert!(provider.status().is_success());
    let games = files.path().join("games.csv");
    std::fs::write(
        &games,
        "aggregator,code,provider,name,type,volatility,rtp_variants_bp,rtp_default_bp,rtp_by_jurisdiction,limits,jurisdictions,enabled\n\
         acme,g1,studio,One,slot,low,9600,9600,,EUR:0.10:10.00,MT,true\n",
    )
    .unwrap();
    ok(cfg, &["games", "import", games.to_str().unwrap()]).await;

    // No bets yet: every figure is empty, and still answers.
    let performance = json(cfg, &["games", "performance"]).await;
    assert_eq!(performance["games"], json!([]), "{performance}");
    assert!(performance["to_ms"].as_u64().unwrap() > performance["from_ms"].as_u64().unwrap());
    let week = json(cfg, &["games", "performance", "--period", "7d", "--provider", "studio"]).await;
    assert_eq!(
        week["to_ms"].as_u64().unwrap() - week["from_ms"].as_u64().unwrap(),
        7 * 24 * 3_600_000
    );
    let one = json(cfg, &["games", "performance", "--game", "acme/g1", "--period", "1h"]).await;
    assert_eq!(
        (one["game"]["code"].clone(), one["game"]["bets"].clone()),
        (json!("g1"), json!(0))
    );
    assert_eq!(one["game"]["provider"], "studio");
    let table = ok(cfg, &["games", "performance", "--game", "acme/g1"]).await;
    assert!(table.contains("g1") && table.contains("hour_ms"), "{table}");
    assert!(ok(cfg, &["games", "performance"]).await.contains("turnover"));
    let alerts = json(cfg, &["games", "alerts"]).await;
    assert_eq!(
        (alerts["alerts"].clone(), alerts["min_bets"].clone()),
        (json!([]), json!(200))
    );
    let history = json(cfg, &["games", "alerts", "--history", "--game", "g1", "--limit", "10"]).await;
    assert_eq!(history["events"], json!([]));
    assert!(ok(cfg, &["games", "alerts", "--history"]).await.contains("kind"));
    let providers = json(cfg, &["providers", "performance", "--period", "24h"]).await;
    let studio = &providers["providers"][0];
    assert_eq!(
        (
            studio["provider"].clone(),
            studio["name"].clone(),
            studio["bets"].clone()
        ),
        (json!("studio"), json!("Studio One"), json!(0))
    );
    assert!(ok(cfg, &["providers", "performance"]).await.contains("studio"));
    // `providers` alone still lists the payment providers.
    ok(cfg, &["providers"]).await;

    let missing = fails(cfg, &["games", "performance", "--game", "acme/nope"], 4).await;
    assert!(missing.contains("unknown_game"), "{missing}");
    let missing = fails(cfg, &["games", "performance", "--game", "nobody/g1"], 4).await;
    assert!(missing.contains("unknown_aggregator"), "{missing}");
    let missing = fails(cfg, &["games", "performance", "--provider", "nobody"], 4).await;
    assert!(missing.contains("unknown_provider"), "{missing}");
    let bad = fails(cfg, &["games", "performance", "--game", "g1"], 2).await;
    assert!(bad.contains("AGGREGATOR/CODE"), "{bad}");
    let bad = fails(cfg, &["games", "performance", "--period", "2h"], 2).await;
    assert!(bad.contains("invalid_request"), "{bad}");
    fails(cfg, &["games", "alerts", "--period", "week"], 2).await;
    fails(cfg, &["providers", "performance", "--period", "week"], 2).await;
    fails(cfg, &["games", "alerts", "--history", "--limit", "0"], 2).await;
    fails(
        cfg,
        &["games", "alerts", "--history", "--from-ms", "10", "--to-ms", "5"],
        2,
    )
    .await;
    usage(cfg, &["games", "alerts", "--game", "g1"]).await;
    usage(cfg, &["games", "alerts", "--history", "--period", "1h"]).await;
    usage(
        cfg,
        &["games", "performance", "--game", "acme/g1", "--provider", "studio"],
    )
    .await;
    usage(cfg, &["providers", "profits"]).await;
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fx_rates_the_reconciliation_queue_and_cluster_on_a_single_node() {
    let (dir, home, files) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    // A Stripe provider configured (its API never called: reconciliation
    // compares a file with the ledger).
    let running = start(ServeConfig {
        stripe_api_url: Some("http://127.0.0.1:9".into()),
        stripe_secret_key: Some("sk_test_admin".into()),
        stripe_webhook_secret: Some("whsec_admin".into()),
        ship_jurisdiction_profiles: false,
        ..config(dir.path(), false)
    })
    .await;
    let url = format!("http://{}", running.addr());
    let cfg = &home.path().join("admin.toml");
    ok(cfg, &["login", "--server", &url, "--token", &first_token(&running)]).await;

    let out = ok(cfg, &["fx", "set", "EUR", "GBP", "0.85", "--effective-at-ms", "1000"]).await;
    assert_eq!(out.trim(), "EUR/GBP: 0.85");
    json(cfg, &["fx", "set", "EUR", "GBP", "0.8612", "--effective-at-ms", "2000"]).await;
    let listed = json(cfg, &["fx", "list", "--base", "EUR", "--quote", "GBP"]).await;
    let rates: Vec<(&str, u64)> = listed["rates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rate"].as_str().unwrap(), r["effective_at_ms"].as_u64().unwrap()))
        .collect();
    assert_eq!(rates, [("0.8612", 2_000), ("0.85", 1_000)]);
    assert!(ok(cfg, &["fx", "list"]).await.contains("0.8612"));
    for rate in ["0", "0.123456789", "lots"] {
        fails(cfg, &["fx", "set", "EUR", "GBP", rate], 2).await;
    }
    let itself = fails(cfg, &["fx", "set", "EUR", "EUR", "1"], 2).await;
    assert!(itself.contains("invalid_fx_rate"), "{itself}");
    fails(cfg, &["fx", "list", "--limit", "0"], 2).await;
    usage(cfg, &["fx", "set", "EUR", "GBP"]).await;
    assert_eq!(json(cfg, &["fx", "list"]).await["rates"].as_array().unwrap().len(), 2);

    // A settlement file naming a payment the ledger never had.
    let csv = files.path().join("stripe.csv");
    std::fs::write(&csv, "reference,currency,amount\npi_unknown,EUR,5.00\n").unwrap();
    let imported = json(cfg, &["reconcile", "stripe", csv.to_str().unwrap()]).await;
    let gap = &imported["differences"][0];
    assert_eq!(
        (gap["reference"].clone(), gap["gap"].clone(), gap["file_amount"].clone()),
        (json!("pi_unknown"), json!("missing_in_ledger"), json!("5.00")),
        "{imported}"
    );
    let file = imported["file"].as_str().unwrap().to_owned();
    let open = json(cfg, &["reconciliation", "list", "--state", "open"]).await;
    assert_eq!(open["differences"].as_array().unwrap().len(), 1, "{open}");
    assert!(ok(cfg, &["reconciliation", "list"]).await.contains("pi_unknown"));
    let args = [
        "reconciliation",
        "resolve",
        "stripe",
        "pi_unknown",
        "--file",
        &file,
        "--reason",
        "refunded there",
    ];
    let resolved = json(cfg, &args).await;
    assert_eq!(resolved["state"], "resolved", "{resolved}");
    fails(cfg, &args, 5).await;
    let done = json(
        cfg,
        &["reconciliation", "list", "--state", "resolved", "--provider", "stripe"],
    )
    .await;
    assert_eq!(done["differences"][0]["reason"], "refunded there");

    let nowhere = [
        "reconciliation",
        "resolve",
        "stripe",
        "pi_other",
        "--file",
        &file,
        "--reason",
        "x",
    ];
    fails(cfg, &nowhere, 4).await;
    fails(cfg, &["reconcile", "paypal", csv.to_str().unwrap()], 4).await;
    let short = files.path().join("short.csv");
    std::fs::write(&short, "reference,currency\n1,EUR\n").unwrap();
    fails(cfg, &["reconcile", "stripe", short.to_str().unwrap()], 2).await;
    fails(cfg, &["reconcile", "stripe", "/no/such/file.csv"], 2).await;
    fails(cfg, &["reconciliation", "list", "--limit", "0"], 2).await;
    usage(
        cfg,
        &["reconciliation", "resolve", "stripe", "pi_unknown", "--file", &file],
    )
    .await;

    // A single node is in no replication group: every cluster command says so.
    for args in [
        &["cluster", "status"][..],
        &["cluster", "transfer-leader", "2"],
        &["cluster", "remove", "2"],
    ] {
        let refused = fails(cfg, args, 5).await;
        assert!(refused.contains("not_clustered"), "{args:?}: {refused}");
    }
    usage(cfg, &["cluster", "transfer-leader"]).await;
    running.stop().await.unwrap();
}
