//! `croupier-loadtest wallet` against a real server on a loopback port,
//! over the native API and the Hub88 adapter: it sets up its players
//! through the operator API, plays, and reports what it measured.

use std::process::Command;

use gateway::config::ServeConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_mode_plays_rounds_against_a_running_server() {
    plays_rounds(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_mode_plays_rounds_through_the_hub88_adapter() {
    plays_rounds(&["--contract", "hub88"]).await;
}

/// Runs the wallet mode for a second with `extra` flags; asserts it played.
async fn plays_rounds(extra: &'static [&'static str]) {
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        // Tests run side by side: no fixed QUIC port.
        quic: false,
        journal_segment_bytes: 1 << 20,
        log: "warn".into(),
        ..ServeConfig::default()
    };
    let running = gateway::server::start(config).await.expect("server starts");
    let url = format!("http://{}", running.addr());
    let token_file = running.first_token_path().to_path_buf();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_croupier-loadtest"))
            .args(["wallet", "--url", &url, "--connections", "2", "--seconds", "1"])
            .args(["--warmup-seconds", "0"])
            .args(extra)
            .arg("--token-file")
            .arg(token_file)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let requests: u64 = stdout
        .lines()
        .find_map(|line| line.strip_prefix("requests "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in {stdout}"));
    assert!(requests > 0, "{stdout}");
    assert!(stdout.contains("bet and win, request to reply: p50"), "{stdout}");
    running.stop().await.unwrap();
}

#[test]
fn wallet_mode_refuses_a_non_loopback_target() {
    let output = Command::new(env!("CARGO_BIN_EXE_croupier-loadtest"))
        .args(["wallet", "--url", "http://192.0.2.1:8080", "--seconds", "1"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("loopback"), "{stderr}");
}
