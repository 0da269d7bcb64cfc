//! The PostgreSQL export end to end, against a real PostgreSQL server
//! (`support::postgres`, installed by `scripts/install-postgres`): every
//! journal record arrives as a row with its movement and report figures;
//! a server killed mid-export and started again resumes from the
//! checkpoint with neither duplicates nor gaps; a PostgreSQL outage (at
//! start and mid-stream) is survived with nothing lost; a bad URL stops
//! the start with a clear error. Payments follow the cashier's states,
//! the audit trail the operators' actions, and players their profiles (country filled from the vault, blanked on
//! erasure), equal to the read model; a database exported by a release
//! without those tables gains them, filled, on the next start. TLS as
//! `sslmode` says: `verify-full` with the right CA exports, a wrong CA and
//! `disable` against a TLS-only server are refused and retried, and
//! nothing is lost; `verify-full` checks the host name and `verify-ca`
//! does not; `require` with a root certificate checks the chain. The shipped Grafana dashboard
//! (`docs/grafana/croupier.json`) names only metrics `/metrics` exposes,
//! and its PostgreSQL queries run on the exported tables.

use crate::payments::Cashier;
use crate::support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use gateway::config::ServeConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::postgres::{Postgres, TestCa};
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
    // A mode libpq does not know, or a root certificate that is not one.
    let missing = dir.path().join("no-such-ca.pem");
    for (url, expected) in [
        ("postgres://u@h/db?sslmode=verify_full".to_owned(), "verify-full"),
        ("host=h user=u sslmode=on".to_owned(), "sslmode"),
        (
            format!(
                "postgres://u@h/db?sslmode=verify-full&sslrootcert={}",
                missing.display()
            ),
            "sslrootcert",
        ),
    ] {
        let config = ServeConfig {
            export_postgres_url: Some(url.clone()),
            ..support::config(dir.path())
        };
        let read = Arc::new(AtomicU64::new(T0));
        let clock: gateway::app::Clock = Arc::new(move || read.load(std::sync::atomic::Ordering::SeqCst));
        let Err(error) = gateway::server::start_with(config, engine::Config::default(), clock).await else {
            panic!("{url}: the server started");
        };
        let text = error.to_string();
        assert!(
            text.contains("--export-postgres-url") && text.contains(expected),
            "{url}: {text}"
        );
    }
    // Nothing ran: no journal was written.
    assert!(std::fs::read_dir(dir.path()).map_or(true, |mut entries| entries.next().is_none()));
}

/// A profile for a registration (country of residence `country`).
fn profile(n: u32, country: &str) -> Value {
    json!({"name": format!("Player Number{n}"), "email": format!("p{n}@example.com"),
        "phone": "+35621234567", "date_of_birth": "1990-01-01",
        "address": {"line": "1 Road", "city": "Valletta", "postcode": format!("VLT {n}")},
        "country": country, "language": "en",
        "marketing": {"email": false, "sms": false, "phone": false, "post": false}})
}

/// Registers a player with a profile; returns its id.
async fn register(server: &TestServer, token: &str, n: u32, country: &str) -> u64 {
    let body = json!({"currency": "EUR", "jurisdiction": "MT", "profile": profile(n, country)});
    let made = server
        .op(Http::V1, token, Method::POST, "/operator/v1/registrations", Some(body))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    made.json()["player"].as_u64().unwrap()
}

/// An operator's one-step deposit.
async fn fund(server: &TestServer, token: &str, player: u64, id: &str, amount: &str) {
    let body = json!({"deposit_id": id, "currency": "EUR", "amount": amount});
    let path = format!("/operator/v1/players/{player}/deposits");
    let funded = server.op(Http::V1, token, Method::POST, &path, Some(body)).await;
    assert_eq!(funded.status, StatusCode::OK, "{}", funded.text());
}

/// Payments by (kind, provider, state): count and amount; players: id,
/// brand, affiliate, country, status, erased, in id order; the audit
/// trail: seq, kind, field, after, accepted.
type Reports = (
    Vec<(String, String, String, i64, i64)>,
    Vec<(i64, String, Option<String>, Option<String>, String, bool)>,
    Vec<(i64, String, Option<String>, Option<String>, bool)>,
);

/// What the read model in `dir` holds.
fn readmodel_reports(dir: &Path) -> Reports {
    let c =
        rusqlite::Connection::open_with_flags(dir.join("readmodel.sqlite"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut statement = c
        .prepare(
            "SELECT kind, coalesce(provider, ''), state, count(*), sum(amount_minor) FROM cashier_payments
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        )
        .unwrap();
    let payments = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut statement = c
        .prepare(
            "SELECT p.player, coalesce(a.brand, 'default'), a.affiliate, p.country, p.status,
                    p.erased_at_ms IS NOT NULL
             FROM profiles p LEFT JOIN attributions a ON a.player = p.player ORDER BY p.player",
        )
        .unwrap();
    let players = statement
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut statement = c
        .prepare("SELECT seq, kind, field, after, ok FROM audit ORDER BY seq")
        .unwrap();
    let audit = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    (payments, players, audit)
}

/// What PostgreSQL holds (`None` before the tables exist, or while a
/// country is owed).
async fn exported_reports(client: &tokio_postgres::Client) -> Option<Reports> {
    let pending: i64 = client
        .query_one("SELECT count(*) FROM croupier_players WHERE country_pending", &[])
        .await
        .ok()?
        .get(0);
    if pending > 0 {
        return None;
    }
    let payments = client
        .query(
            "SELECT kind, coalesce(provider, ''), state, count(*), sum(amount)::BIGINT FROM croupier_payments
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            &[],
        )
        .await
        .ok()?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let players = client
        .query(
            "SELECT player, brand, affiliate, country, status, erased FROM croupier_players ORDER BY player",
            &[],
        )
        .await
        .ok()?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect();
    let audit = client
        .query(
            "SELECT seq, kind, field, after, accepted FROM croupier_audit ORDER BY seq",
            &[],
        )
        .await
        .ok()?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    Some((payments, players, audit))
}

/// Waits until PostgreSQL's payments and players equal the read model's
/// (the back-fill and the countries filled from the vault come a little
/// after the checkpoint), and that no row is newer than the checkpoint.
/// Waits until the export marked the report tables filled.
async fn back_filled(client: &tokio_postgres::Client) {
    for _ in 0..400 {
        let filled: bool = client
            .query_one("SELECT report_tables FROM croupier_export_checkpoint WHERE id = 1", &[])
            .await
            .unwrap()
            .get(0);
        if filled {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the back-fill did not finish");
}

async fn assert_reports_match(client: &tokio_postgres::Client, dir: &Path) {
    let mut last = None;
    for _ in 0..200 {
        let (exported, held) = (exported_reports(client).await, readmodel_reports(dir));
        if exported.as_ref() == Some(&held) {
            let newest: i64 = client
                .query_one(
                    "SELECT greatest((SELECT max(seq) FROM croupier_payments), (SELECT max(seq) FROM croupier_players))",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            assert!(newest <= checkpoint(client).await);
            return;
        }
        last = Some((exported, held));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (exported, held) = last.unwrap();
    assert_eq!(exported, Some(held), "PostgreSQL (left) against the read model (right)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_and_players_arrive_and_follow_their_changes() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let url = pg.url();
    let c = Cashier::start_with(dir.path(), 20, move |config| ServeConfig {
        export_postgres_url: Some(url),
        ..config
    })
    .await;
    // Deposits at the provider: one confirmed, one declined, one open; a
    // withdrawal approved and paid out.
    let complete = |reference: &str, outcome: &str| {
        let path = format!("/sandbox/payment_intents/{reference}/complete");
        let c = &c;
        let outcome = outcome.to_owned();
        async move { c.sandbox_post(&path, json!({ "outcome": outcome })).await }
    };
    let d1 = c.deposit("x1", "50.00").await.json();
    complete(d1["reference"].as_str().unwrap(), "succeeded").await;
    let d2 = c.deposit("x2", "20.00").await.json();
    complete(d2["reference"].as_str().unwrap(), "failed").await;
    let d3 = c.deposit("x3", "5.00").await;
    assert_eq!(d3.status, StatusCode::CREATED, "{}", d3.text());
    let w1 = c.withdraw("xw1", "20.00").await;
    let path = format!("/cashier/v1/withdrawals/{w1}/approve");
    let approved = c.op(&c.finance[0], Method::POST, &path, None).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
    c.wait_for("withdrawals", &w1, "completed").await;
    // A player with a profile, and the cashier's player suspended.
    let profiled = register(&c.server, &c.admin, 1, "MT").await;
    let path = format!("/operator/v1/players/{}/status", c.player);
    let body = json!({"status": "suspended", "reason": "review"});
    let suspended = c.op(&c.admin, Method::PUT, &path, Some(body)).await;
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.text());

    exported(&c.server).await;
    let client = pg.client().await;
    assert_reports_match(&client, dir.path()).await;
    let deposits: Vec<(String, String, i64)> = client
        .query(
            "SELECT provider, state, amount FROM croupier_payments WHERE kind = 'deposit' ORDER BY created_at, id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let expected = [
        ("manual", "confirmed", 10_000),
        ("stripe", "confirmed", 5_000),
        ("stripe", "failed", 2_000),
        ("stripe", "initiated", 500),
    ];
    let expected: Vec<(String, String, i64)> = expected
        .iter()
        .map(|(p, s, a)| (p.to_string(), s.to_string(), *a))
        .collect();
    assert_eq!(deposits, expected);
    let withdrawal: (String, i64) = {
        let r = client
            .query_one(
                "SELECT state, amount FROM croupier_payments WHERE kind = 'withdrawal'",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(withdrawal, ("completed".into(), 2_000));
    let player = |id: u64| {
        let client = &client;
        async move {
            let r = client
                .query_one(
                    "SELECT country, status, erased, brand FROM croupier_players WHERE player = $1",
                    &[&(id as i64)],
                )
                .await
                .unwrap();
            let row: (Option<String>, String, bool, String) = (r.get(0), r.get(1), r.get(2), r.get(3));
            row
        }
    };
    assert_eq!(
        player(profiled).await,
        (Some("MT".into()), "active".into(), false, "default".into())
    );
    assert_eq!(
        player(c.player).await,
        (None, "suspended".into(), false, "default".into())
    );
    // The operators' actions, the suspension among them.
    let suspension: (Option<String>, Option<String>) = {
        let r = client
            .query_one(
                "SELECT before, after FROM croupier_audit WHERE field = 'status' AND target = $1",
                &[&(c.player as i64)],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(suspension, (Some("active".into()), Some("suspended".into())));

    // An erasure blanks the country.
    let path = format!("/operator/v1/players/{profiled}/erasure");
    let erased = c
        .op(&c.admin, Method::POST, &path, Some(json!({"reason": "GDPR"})))
        .await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.text());
    exported(&c.server).await;
    assert_eq!(player(profiled).await, (None, "closed".into(), true, "default".into()));
    assert_reports_match(&client, dir.path()).await;
    c.server.stop().await;
}

#[tokio::test]
async fn an_older_export_database_gains_the_new_tables_filled_without_loss_or_duplicates() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let w = World::new_with(config(dir.path(), &pg)).await;
    let first = register(&w.server, &w.admin, 1, "MT").await;
    fund(&w.server, &w.admin, first, "f-1", "30.00").await;
    play(&w, "u", 3).await;
    exported(&w.server).await;
    let World {
        server,
        admin,
        aggregator,
        player,
        token,
    } = w;
    let clock = server.clock.clone();
    server.stop().await;
    // What a release before the payments and players tables left.
    let client = pg.client().await;
    client
        .batch_execute(
            "DROP VIEW croupier_ggr_daily_by_player_segment;
             DROP TABLE croupier_audit, croupier_payments, croupier_players;
             ALTER TABLE croupier_export_checkpoint DROP COLUMN report_tables",
        )
        .await
        .unwrap();

    // Back-filled at the start in runs of 3 records (several
    // transactions), then followed.
    let small_runs = || ServeConfig {
        export_batch_records: 3,
        ..config(dir.path(), &pg)
    };
    let server = TestServer::start_at(small_runs(), clock).await;
    assert_reports_match(&client, dir.path()).await;
    // A back-fill cut short starts again from the first run, over the rows
    // it wrote: nothing doubled, nothing refused.
    let clock = server.clock.clone();
    server.stop().await;
    client
        .batch_execute("UPDATE croupier_export_checkpoint SET report_tables = false WHERE id = 1")
        .await
        .unwrap();
    let w = World {
        server: TestServer::start_at(small_runs(), clock).await,
        admin,
        aggregator,
        player,
        token,
    };
    back_filled(&client).await;
    assert_reports_match(&client, dir.path()).await;
    let second = register(&w.server, &w.admin, 2, "GB").await;
    fund(&w.server, &w.admin, second, "f-2", "12.34").await;
    fund(&w.server, &w.admin, first, "f-3", "1.00").await;
    play(&w, "v", 2).await;
    let last = exported(&w.server).await;
    assert_exactly_once(&client, last).await;
    assert_reports_match(&client, dir.path()).await;
    let (count, sum): (i64, i64) = {
        let r = client
            .query_one("SELECT count(*), sum(amount)::BIGINT FROM croupier_payments", &[])
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((count, sum), (4, 10_000 + 3_000 + 1_234 + 100));
    let countries: Vec<Option<String>> = client
        .query("SELECT country FROM croupier_players ORDER BY player", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(countries, [None, Some("MT".into()), Some("GB".into())]);
    w.server.stop().await;
}

/// `w` stopped and started again exporting to `url`.
async fn restart_exporting_to(w: World, dir: &Path, url: String) -> World {
    let World {
        server,
        admin,
        aggregator,
        player,
        token,
    } = w;
    let clock = server.clock.clone();
    server.stop().await;
    let config = ServeConfig {
        export_postgres_url: Some(url),
        ..support::config(dir)
    };
    World {
        server: TestServer::start_at(config, clock).await,
        admin,
        aggregator,
        player,
        token,
    }
}

/// Waits for the export to fail and checks it exported nothing past `at`.
async fn assert_refused(server: &TestServer, client: &tokio_postgres::Client, at: u64) {
    for _ in 0..600 {
        if server.metric("croupier_export_errors_total").await.unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(server.metric("croupier_export_errors_total").await.unwrap() > 0);
    assert_eq!(server.metric("croupier_export_connected").await, Some(0));
    // Never connected: it reports nothing exported, and PostgreSQL's
    // checkpoint has not moved.
    assert_eq!(server.metric("croupier_export_seq").await, Some(0));
    assert_eq!(checkpoint(client).await, at as i64);
}

#[tokio::test]
async fn tls_to_postgres_checks_the_server_as_sslmode_says_and_loses_nothing() {
    let ca = TestCa::new("croupier test CA");
    let pg = Postgres::start_tls(&ca);
    let certs = tempfile::tempdir().unwrap();
    let (good, wrong) = (certs.path().join("ca.pem"), certs.path().join("wrong.pem"));
    std::fs::write(&good, &ca.pem).unwrap();
    std::fs::write(&wrong, TestCa::new("another CA").pem).unwrap();
    let url = |mode: &str, root: Option<&Path>| match root {
        Some(root) => pg.url_with(&format!("sslmode={mode}&sslrootcert={}", root.display())),
        None => pg.url_with(&format!("sslmode={mode}")),
    };

    // verify-full with the CA that signed the server's certificate.
    let dir = tempfile::tempdir().unwrap();
    let w = World::new_with(ServeConfig {
        export_postgres_url: Some(url("verify-full", Some(&good))),
        ..support::config(dir.path())
    })
    .await;
    play(&w, "t", 2).await;
    let first = exported(&w.server).await;
    let client = pg.client().await;
    assert_exactly_once(&client, first).await;
    let encrypted: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.client_addr IS NOT NULL AND s.ssl",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(encrypted >= 1, "the export's connection is not encrypted");

    // Another CA: the certificate is refused, retried, nothing written.
    let w = restart_exporting_to(w, dir.path(), url("verify-full", Some(&wrong))).await;
    play(&w, "u", 2).await;
    assert_refused(&w.server, &client, first).await;
    // Cleartext to a server that takes TLS only: refused.
    let w = restart_exporting_to(w, dir.path(), url("disable", None)).await;
    assert_refused(&w.server, &client, first).await;
    // `require` without a root certificate encrypts and checks nothing
    // (libpq's meaning): the backlog arrives, once.
    let w = restart_exporting_to(w, dir.path(), url("require", None)).await;
    play(&w, "v", 1).await;
    let last = exported(&w.server).await;
    assert!(last > first);
    assert_exactly_once(&client, last).await;
    let bets: i64 = client
        .query_one("SELECT count(*) FROM croupier_movements WHERE kind = 'bet'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(bets, 5);
    w.server.stop().await;
}

#[tokio::test]
async fn verify_full_checks_the_host_name_and_a_root_certificate_makes_require_check_the_chain() {
    // The server's certificate names another host than the one dialled.
    let ca = TestCa::new("croupier test CA");
    let pg = Postgres::start_tls_for(&ca, &["db.example"]);
    let certs = tempfile::tempdir().unwrap();
    let (good, wrong) = (certs.path().join("ca.pem"), certs.path().join("wrong.pem"));
    std::fs::write(&good, &ca.pem).unwrap();
    std::fs::write(&wrong, TestCa::new("another CA").pem).unwrap();
    let url = |mode: &str, root: &Path| pg.url_with(&format!("sslmode={mode}&sslrootcert={}", root.display()));

    // verify-ca checks the chain only: the name does not matter.
    let dir = tempfile::tempdir().unwrap();
    let w = World::new_with(ServeConfig {
        export_postgres_url: Some(url("verify-ca", &good)),
        ..support::config(dir.path())
    })
    .await;
    play(&w, "t", 1).await;
    let first = exported(&w.server).await;
    let client = pg.client().await;
    assert_exactly_once(&client, first).await;
    // verify-full checks the name too: refused.
    let w = restart_exporting_to(w, dir.path(), url("verify-full", &good)).await;
    play(&w, "u", 1).await;
    assert_refused(&w.server, &client, first).await;
    // require with a root certificate checks the chain (libpq's rule):
    // another CA is refused.
    let w = restart_exporting_to(w, dir.path(), url("require", &wrong)).await;
    assert_refused(&w.server, &client, first).await;
    // prefer (the default) without one encrypts and checks nothing.
    let w = restart_exporting_to(w, dir.path(), pg.url()).await;
    let last = exported(&w.server).await;
    assert!(last > first);
    assert_exactly_once(&client, last).await;
    w.server.stop().await;
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
