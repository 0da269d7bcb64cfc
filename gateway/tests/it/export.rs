//! The PostgreSQL export end to end, against a real PostgreSQL server
//! (`support::postgres`, installed by `scripts/install-postgres`): every
//! journal record arrives as a row with its movement and report figures;
//! a server killed mid-export and started again resumes from the
//! checkpoint with neither duplicates nor gaps; a PostgreSQL outage (at
//! start and mid-stream) is survived with nothing lost; a bad URL stops
//! the start with a clear error. The shipped Grafana dashboard
//! (`docs/grafana/croupier.json`) names only metrics `/metrics` exposes,
//! and its PostgreSQL queries run on the exported tables.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use gateway::config::ServeConfig;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use support::postgres::Postgres;
use support::{Http, T0, TestServer, World};

fn config(dir: &std::path::Path, pg: &Postgres) -> ServeConfig {
    ServeConfig {
        export_postgres_url: Some(pg.url()),
        ..support::config(dir)
    }
}

/// Waits until the export has committed what the server's read model holds
/// (the journal's durable end), and returns that sequence number.
async fn exported(server: &TestServer) -> u64 {
    for _ in 0..600 {
        let durable = server.metric("croupier_journal_durable_seq").await.unwrap_or(0);
        let applied = server.metric("croupier_readmodel_applied_seq").await.unwrap_or(0);
        let exported = server.metric("croupier_export_seq").await.unwrap_or(-1);
        if durable > 0 && applied == durable && exported == durable {
            return durable as u64;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the export did not catch up");
}

/// The PostgreSQL checkpoint.
async fn checkpoint(client: &tokio_postgres::Client) -> i64 {
    client
        .query_one("SELECT seq FROM croupier_export_checkpoint WHERE id = 1", &[])
        .await
        .unwrap()
        .get(0)
}

/// Checks the journal table holds exactly the sequence numbers 1..=`last`,
/// once each, and that the checkpoint is `last`.
async fn assert_exactly_once(client: &tokio_postgres::Client, last: u64) {
    let row = client
        .query_one(
            "SELECT count(*), count(DISTINCT seq), coalesce(min(seq), 0), coalesce(max(seq), 0) FROM croupier_journal",
            &[],
        )
        .await
        .unwrap();
    let (count, distinct, min, max): (i64, i64, i64, i64) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!((count, distinct, min, max), (last as i64, last as i64, 1, last as i64));
    assert_eq!(checkpoint(client).await, last as i64);
    let gaps: i64 = client
        .query_one("SELECT count(*) FROM croupier_export_gaps", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(gaps, 0);
}

/// Bets and wins of `n` rounds (1.00 each, every other round won 2.50).
async fn play(w: &World, prefix: &str, n: usize) {
    for i in 0..n {
        let round = format!("{prefix}-r{i}");
        let bet = w.bet(Http::V1, &format!("{prefix}-b{i}"), "1.00", &round).await;
        assert_eq!(bet.status, StatusCode::OK, "{}", bet.text());
        if i % 2 == 0 {
            let win = w.win(Http::V1, &format!("{prefix}-w{i}"), "2.50", &round).await;
            assert_eq!(win.status, StatusCode::OK, "{}", win.text());
        }
    }
}

#[tokio::test]
async fn every_record_arrives_with_its_movement_and_report_figures() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let w = World::new_with(config(dir.path(), &pg)).await;
    play(&w, "a", 4).await;
    // A refused bet (more than the balance) is a journal record too.
    let refused = w.bet(Http::V1, "too-much", "100000.00", "a-big").await;
    assert_ne!(refused.status, StatusCode::OK);
    let last = exported(&w.server).await;
    let client = pg.client().await;
    assert_exactly_once(&client, last).await;

    // The journal rows name the command, the player and the outcome.
    let rows = client
        .query(
            "SELECT kind, player, accepted, rejection FROM croupier_journal WHERE player = $1 ORDER BY seq",
            &[&(w.player as i64)],
        )
        .await
        .unwrap();
    let kinds: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "bet").count(), 5, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "win").count(), 2, "{kinds:?}");
    let refused: Vec<(String, Option<String>)> = rows
        .iter()
        .filter(|r| !r.get::<_, bool>(2))
        .map(|r| (r.get(0), r.get(3)))
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0, "bet");
    assert!(refused[0].1.as_deref().is_some_and(|r| !r.is_empty()));

    // The movements carry the deltas, balances and report figures, equal
    // to what the read model holds.
    let row = client
        .query_one(
            "SELECT sum(stake)::BIGINT, sum(prize)::BIGINT, sum(cash_delta)::BIGINT, count(*) FILTER (WHERE kind = 'bet'),
                    (SELECT cash FROM croupier_movements WHERE player = $1 ORDER BY seq DESC LIMIT 1)
             FROM croupier_movements WHERE player = $1",
            &[&(w.player as i64)],
        )
        .await
        .unwrap();
    let (stake, prize, cash_delta, bets, cash): (i64, i64, i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    assert_eq!((stake, prize, bets), (400, 500, 4));
    // The 100.00 deposit, then −4.00 + 5.00.
    assert_eq!(cash_delta, 10_000 - 400 + 500);
    assert_eq!(cash, 10_100);
    assert_eq!(w.balance().await["cash"], "101.00");
    let games: i64 = client
        .query_one(
            "SELECT count(*) FROM croupier_movements WHERE game = 'slots' AND round LIKE 'a-r%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(games, 6);

    // The daily GGR view adds them up.
    let row = client
        .query_one(
            "SELECT turnover::BIGINT, prizes::BIGINT, ggr::BIGINT, active_players FROM croupier_ggr_daily WHERE currency = 'EUR'",
            &[],
        )
        .await
        .unwrap();
    let figures: (i64, i64, i64, i64) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(figures, (400, 500, -100, 1));
    assert_eq!(w.server.metric("croupier_export_connected").await, Some(1));
    w.server.stop().await;
}

#[tokio::test]
async fn a_killed_server_resumes_from_the_checkpoint_without_duplicates_or_gaps() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    // A backlog, made with no export.
    let w = World::new(dir.path()).await;
    for batch in 0..6 {
        play(&w, &format!("k{batch}"), 40).await;
    }
    let World {
        server,
        admin,
        aggregator,
        player,
        token,
    } = w;
    let clock = server.clock.clone();
    server.stop().await;

    // The binary exports it and is killed (SIGKILL) once PostgreSQL holds
    // a first committed part.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_croupier"))
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.path())
        .args([
            "--listen",
            "127.0.0.1:0",
            "--quic=false",
            "--ship-jurisdiction-profiles=false",
        ])
        .arg("--export-postgres-url")
        .arg(pg.url())
        // One record per transaction: many commits, so the kill lands
        // between two of them (or inside one).
        .arg("--export-batch-records=1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts");
    let client = pg.client().await;
    let mut seen = 0;
    for _ in 0..1200 {
        // The tables exist once the export has connected.
        if let Ok(row) = client
            .query_one("SELECT seq FROM croupier_export_checkpoint WHERE id = 1", &[])
            .await
        {
            seen = row.get::<_, i64>(0);
            if seen > 0 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(seen > 0, "the killed server exported nothing");
    let at_kill = checkpoint(&client).await;
    let rows: i64 = client
        .query_one("SELECT count(*) FROM croupier_journal", &[])
        .await
        .unwrap()
        .get(0);
    // What was committed is whole: rows up to the checkpoint, no more.
    assert_eq!(rows, at_kill);

    // Started again: it resumes from the checkpoint, and what it takes
    // after arrives too.
    let w = World {
        server: TestServer::start_at(config(dir.path(), &pg), clock).await,
        admin,
        aggregator,
        player,
        token,
    };
    play(&w, "after", 3).await;
    let last = exported(&w.server).await;
    assert!(last as i64 > at_kill);
    assert_exactly_once(&client, last).await;
    let bets: i64 = client
        .query_one("SELECT count(*) FROM croupier_movements WHERE kind = 'bet'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(bets, 6 * 40 + 3);
    w.server.stop().await;
}

#[tokio::test]
async fn a_postgres_outage_is_survived_and_nothing_is_lost() {
    let mut pg = Postgres::start();
    // Down before the server starts: the start does not wait for it.
    pg.halt();
    let dir = tempfile::tempdir().unwrap();
    let w = World::new_with(config(dir.path(), &pg)).await;
    play(&w, "down", 3).await;
    for _ in 0..600 {
        if w.server.metric("croupier_export_errors_total").await.unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(w.server.metric("croupier_export_errors_total").await.unwrap() > 0);
    assert_eq!(w.server.metric("croupier_export_connected").await, Some(0));
    assert_eq!(w.server.metric("croupier_export_seq").await, Some(0));

    // Back: the backlog arrives.
    pg.resume();
    let first = exported(&w.server).await;
    let errors = w.server.metric("croupier_export_errors_total").await.unwrap();

    // Down again mid-stream, while bets keep coming: the wallet does not
    // wait for it.
    pg.halt();
    play(&w, "mid", 5).await;
    for _ in 0..600 {
        if w.server.metric("croupier_export_errors_total").await.unwrap() > errors {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(w.server.metric("croupier_export_errors_total").await.unwrap() > errors);
    assert_eq!(w.server.metric("croupier_export_seq").await, Some(first as i64));
    pg.resume();
    let last = exported(&w.server).await;
    assert!(last > first);
    let client = pg.client().await;
    assert_exactly_once(&client, last).await;
    let bets: i64 = client
        .query_one("SELECT count(*) FROM croupier_movements WHERE kind = 'bet'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(bets, 8);
    w.server.stop().await;
}

#[tokio::test]
async fn a_bad_url_stops_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["not a url", "postgres://", "postgres://h:notaport/db"] {
        let config = ServeConfig {
            export_postgres_url: Some(url.into()),
            ..support::config(dir.path())
        };
        let read = Arc::new(AtomicU64::new(T0));
        let clock: gateway::app::Clock = Arc::new(move || read.load(std::sync::atomic::Ordering::SeqCst));
        let Err(error) = gateway::server::start_with(config, engine::Config::default(), clock).await else {
            panic!("{url}: the server started");
        };
        let text = error.to_string();
        assert!(text.contains("--export-postgres-url"), "{url}: {text}");
        assert!(text.contains("postgres://user"), "{url}: {text}");
    }
    // Nothing ran: no journal was written.
    assert!(std::fs::read_dir(dir.path()).map_or(true, |mut entries| entries.next().is_none()));
}

/// Words of the dashboard's PromQL that are not metric names.
const PROMQL_WORDS: &[&str] = &["rate", "sum", "by", "le", "route", "histogram_quantile"];

/// The metric names a PromQL expression reads.
fn metric_names(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|word| word.starts_with(|c: char| c.is_ascii_alphabetic()) && !PROMQL_WORDS.contains(word))
        .map(str::to_owned)
        .collect()
}

/// Whether the exposition `text` has the metric `name` (a histogram's
/// series by their family's name).
fn exposed(text: &str, name: &str) -> bool {
    let typed = |family: &str, kind: Option<&str>| {
        text.lines().any(|line| {
            let mut parts = line.strip_prefix("# TYPE ").unwrap_or("").split(' ');
            parts.next() == Some(family) && kind.is_none_or(|kind| parts.next() == Some(kind))
        })
    };
    typed(name, None)
        || ["_bucket", "_sum", "_count"].iter().any(|suffix| {
            name.strip_suffix(suffix)
                .is_some_and(|family| typed(family, Some("histogram")))
        })
}

#[tokio::test]
async fn the_grafana_dashboard_reads_real_metrics_and_exported_tables() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/grafana/croupier.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let targets: Vec<&Value> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|panel| panel["targets"].as_array())
        .flatten()
        .collect();
    let exprs: Vec<&str> = targets.iter().filter_map(|t| t["expr"].as_str()).collect();
    let queries: Vec<&str> = targets.iter().filter_map(|t| t["rawSql"].as_str()).collect();
    assert!(
        exprs.len() >= 8 && queries.len() >= 6,
        "{} metrics, {} queries",
        exprs.len(),
        queries.len()
    );

    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let w = World::new_with(config(dir.path(), &pg)).await;
    play(&w, "g", 3).await;
    exported(&w.server).await;
    let text = w
        .server
        .send(w.server.h1(), Method::GET, "/metrics", &[], None)
        .await
        .text();
    let mut names = 0;
    for expr in &exprs {
        for name in metric_names(expr) {
            assert!(exposed(&text, &name), "{name} (in {expr}) is not in /metrics:\n{text}");
            names += 1;
        }
    }
    assert!(names >= exprs.len());
    // Every PostgreSQL panel's query runs on the exported tables.
    let client = pg.client().await;
    for sql in &queries {
        client.query(*sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    // The view the business panels read adds up the rounds played.
    let all: i64 = client
        .query_one("SELECT ggr::BIGINT FROM croupier_ggr_daily", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(all, 300 - 500);
    w.server.stop().await;
}
