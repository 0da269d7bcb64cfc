//! `croupier-loadtest run` against a real server on a loopback port: every
//! scenario sets up its players through the operator API, plays for a
//! second (closed and open loop, HTTP/1.1, 2 and 3), passes the money
//! check, and writes reports that `compare` reads.

use std::path::Path;
use std::process::{Command, Output};

use gateway::config::ServeConfig;
use gateway::server::Running;

/// Runs the load tester with `args`; its output.
async fn loadtest(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_croupier-loadtest"))
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn stdout_of(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The count on the line starting `prefix`.
fn count(stdout: &str, prefix: &str) -> u64 {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(prefix))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("no '{prefix}' count in {stdout}"))
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

/// A server to load, on loopback ports, its data in `dir`.
async fn server(dir: &Path) -> Running {
    let config = ServeConfig {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        // Tests run side by side: no fixed QUIC port.
        quic_listen: "127.0.0.1:0".parse().unwrap(),
        journal_segment_bytes: 1 << 20,
        log: "warn".into(),
        // The scenarios fund players far past the shipped profiles'
        // due-diligence threshold: a load test measures the wallet
        // unregulated, as `--ship-jurisdiction-profiles=false` does.
        ship_jurisdiction_profiles: false,
        ..ServeConfig::default()
    };
    gateway::server::start(config).await.expect("server starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_plays_and_passes_the_money_check() {
    let dir = tempfile::tempdir().unwrap();
    let running = server(dir.path()).await;
    let url = format!("http://{}", running.addr());
    let token_file = running.first_token_path().display().to_string();
    let quic_addr = running.quic_addr().expect("QUIC is on").to_string();
    let reports = tempfile::tempdir().unwrap();
    let base = |scenario: &str, extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "run",
            "--url",
            &url,
            "--token-file",
            &token_file,
            "--scenario",
            scenario,
        ]
        .map(str::to_owned)
        .to_vec();
        args.extend(["--connections", "2", "--seconds", "1", "--warmup-seconds", "0"].map(str::to_owned));
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    for (scenario, extra) in [
        ("rounds", &[][..]),
        // More players than connections: each plays its own in turn.
        ("rounds", &["--players", "7"][..]),
        ("wallet", &["--players", "5"][..]),
        ("rounds", &["--http", "http2"][..]),
        // The certificate is found beside the token file.
        ("rounds", &["--http", "http3", "--quic-addr", &quic_addr][..]),
        ("wallet", &["--http", "http3", "--quic-addr", &quic_addr][..]),
        ("wallet", &[][..]),
        ("hot-player", &[][..]),
        ("cashier", &[][..]),
        ("hub88", &[][..]),
        ("pragmatic", &[][..]),
        ("evolution", &[][..]),
        ("noop", &[][..]),
        ("wallet-balance", &[][..]),
        ("operator-balance", &[][..]),
    ] {
        let stdout = stdout_of(&loadtest(base(scenario, extra)).await);
        assert!(count(&stdout, "requests ") > 0, "{scenario}: {stdout}");
        assert!(stdout.contains("all requests, request to reply: p50"), "{stdout}");
        assert!(stdout.contains("0 mismatch(es)"), "{scenario}: {stdout}");
        if scenario != "noop" && !scenario.ends_with("balance") {
            assert!(
                count(&stdout, "consistency: ") > 0,
                "{scenario} checks its players: {stdout}"
            );
            let players = extra
                .iter()
                .position(|arg| *arg == "--players")
                .map_or(if scenario == "hot-player" { 1 } else { 2 }, |at| {
                    extra[at + 1].parse().unwrap()
                });
            assert_eq!(count(&stdout, "consistency: "), players, "{scenario}: {stdout}");
            let movements = stdout.split(" player(s), ").nth(1).unwrap();
            assert!(!movements.starts_with("0 "), "{scenario} moved money: {stdout}");
        }
        if scenario == "wallet" {
            for kind in ["bet", "win", "retry", "refused-bet"] {
                assert!(
                    stdout.contains(&format!("\n{kind}: p50")),
                    "{kind} in the mix: {stdout}"
                );
            }
        }
    }

    // Open loop, with reports: 200 req/s for a second is about 200 requests.
    let (a, b) = (reports.path().join("a"), reports.path().join("b"));
    for (out, rate) in [(&a, "200"), (&b, "100")] {
        let mut args = base("rounds", &["--rate", rate, "--out"]);
        args.push(out.display().to_string());
        let stdout = stdout_of(&loadtest(args).await);
        assert!(stdout.contains("open loop send lag"), "{stdout}");
        let summary = summary(out);
        let requests = summary["requests"].as_u64().unwrap();
        let rate: u64 = rate.parse().unwrap();
        assert!(
            requests <= rate && requests >= rate * 8 / 10,
            "a schedule of {rate} sends about {rate}: {requests}"
        );
        assert_eq!(summary["consistency"]["mismatches"].as_array().unwrap().len(), 0);
        assert!(summary["curve"].as_array().unwrap().len() > 5);
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        assert_eq!(html.matches("<svg").count(), 3, "three charts");
    }
    let compared = Command::new(env!("CARGO_BIN_EXE_croupier-loadtest"))
        .arg("compare")
        .arg(a.join("summary.json"))
        .arg(b.join("summary.json"))
        .output()
        .unwrap();
    let compared = stdout_of(&compared);
    let ratio: f64 = compared
        .lines()
        .find_map(|line| line.strip_prefix("req/s"))
        .and_then(|rest| rest.split_whitespace().nth(2))
        .and_then(|ratio| ratio.parse().ok())
        .unwrap_or_else(|| panic!("{compared}"));
    assert!((0.3..0.8).contains(&ratio), "100 over 200 req/s: {compared}");
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_money_mismatch_fails_the_run_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let running = server(dir.path()).await;
    let url = format!("http://{}", running.addr());
    let token_file = running.first_token_path();
    let admin = std::fs::read_to_string(token_file).unwrap().trim().to_owned();
    let run = tokio::spawn(loadtest(
        [
            "run",
            "--url",
            &url,
            "--token-file",
            &token_file.display().to_string(),
            "--connections",
            "1",
            "--seconds",
            "3",
            "--warmup-seconds",
            "0",
        ]
        .map(str::to_owned)
        .to_vec(),
    ));
    // While it plays, money the load tester did not move: an operator's
    // deposit to its player (the first one registered on this server).
    let client = reqwest::Client::new();
    let mut tries = 0;
    while !client
        .get(format!("{url}/operator/v1/players/1/balance?currency=EUR"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .status()
        .is_success()
    {
        tries += 1;
        assert!(tries < 200, "the load tester registered no player");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let deposit = client
        .post(format!("{url}/operator/v1/players/1/deposits"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(r#"{"deposit_id":"not-the-load-tester","currency":"EUR","amount":"10.00"}"#)
        .send()
        .await
        .unwrap();
    assert!(deposit.status().is_success(), "{}", deposit.text().await.unwrap());
    let output = run.await.unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("1 mismatch(es)"), "{stdout}");
    assert!(
        stderr.contains("MONEY MISMATCH: 1 player(s)") && stderr.contains("player 1 holds"),
        "{stderr}"
    );
    running.stop().await.unwrap();
}

#[test]
fn a_stalled_server_ends_the_run_by_itself() {
    // Accepts connections, never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for socket in listener.incoming() {
            held.push(socket);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("operator-token");
    std::fs::write(&token_file, "token").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_croupier-loadtest"))
        .args(["run", "--url", &format!("http://{addr}"), "--token-file"])
        .arg(&token_file)
        .args(["--seconds", "1", "--warmup-seconds", "0", "--request-timeout-ms", "200"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("the run against a silent server did not end by itself");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no reply within 200 ms"), "{stderr}");
}

#[test]
fn the_loadtest_refuses_a_non_loopback_target_and_bad_options() {
    for args in [
        &["run", "--url", "http://192.0.2.1:8080", "--seconds", "1"][..],
        &["run", "--rate", "0"][..],
        &["run", "--connections", "0"][..],
        &["run", "--connections", "4", "--players", "3"][..],
        &["run", "--request-timeout-ms", "0"][..],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_croupier-loadtest"))
            .args(args)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("loopback")
                || stderr.contains("--rate")
                || stderr.contains("--connections")
                || stderr.contains("--players")
                || stderr.contains("--request-timeout-ms"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn compare_refuses_what_is_not_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let not = dir.path().join("not.json");
    std::fs::write(&not, "{}").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_croupier-loadtest"))
        .arg("compare")
        .arg(&not)
        .arg(&not)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a croupier-loadtest summary"));
}
