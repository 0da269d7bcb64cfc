//! Reports end to end: a real server takes bets, wins and rollbacks on
//! catalogued games (slot, table, live) from a GB player (GBP) and two
//! non-GB players (EUR), deposits and withdrawals (one paid out through the
//! Stripe sandbox, one left pending), a GBP/EUR rate, and a bet in the next
//! quarter. Every figure of the UKGC, business and MGA reports is checked
//! to the cent against the flows this test sent and the server
//! acknowledged, in JSON, CSV, tab-delimited and HTML; then the error
//! paths: bad periods, an unknown report, format or currency, a missing
//! rate, and a role that may not read reports.

use crate::support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use engine::{Amount, Currency};
use gateway::config::ServeConfig;
use payments::sandbox::{Sandbox, SandboxConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Http, Reply, T0, TestServer, World};

const DAY_MS: u64 = 86_400_000;

async fn op(w: &World, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
    w.server.op(Http::V1, token, method, path, body).await
}

/// Minor units of a decimal text in `currency`.
fn minor(text: &str, currency: Currency) -> i64 {
    Amount::parse(text, currency).unwrap().minor()
}

fn money(minor: i64, currency: Currency) -> String {
    Amount::from_minor(minor).to_decimal(currency).to_string()
}

/// What the test sent and the server acknowledged, one entry per bet, win
/// or rollback: who (player, segment), where (product, game type), the
/// currency, and the signed stake or prize.
#[derive(Default)]
struct Books {
    entries: Vec<Entry>,
}

#[derive(Clone)]
struct Entry {
    player: u64,
    segment: &'static str,
    kind: &'static str,
    currency: Currency,
    /// A bet's stake (a rollback's is negative); zero for a win.
    stake: i64,
    /// A win's amount.
    prize: i64,
    bet: bool,
}

impl Books {
    fn sum(&self, filter: impl Fn(&Entry) -> bool) -> (i64, i64, u64) {
        self.entries
            .iter()
            .filter(|e| filter(e))
            .fold((0, 0, 0), |(s, p, b), e| {
                (s + e.stake, p + e.prize, b + u64::from(e.bet))
            })
    }

    fn players(&self, filter: impl Fn(&Entry) -> bool) -> u64 {
        let mut players: Vec<u64> = self
            .entries
            .iter()
            .filter(|e| e.bet && filter(e))
            .map(|e| e.player)
            .collect();
        players.sort_unstable();
        players.dedup();
        players.len() as u64
    }
}

/// A player as the test plays them.
struct Player {
    id: u64,
    token: String,
    currency: Currency,
    segment: &'static str,
}

const GAMES: &[(&str, &str)] = &[("slots", "slot"), ("blackjack", "table"), ("roulette-live", "live")];

fn kind_of(game: &str) -> &'static str {
    GAMES
        .iter()
        .find(|(code, _)| *code == game)
        .map(|(_, kind)| *kind)
        .unwrap()
}

/// Sends a bet, win or rollback and records it once the server acknowledged
/// it, checking that the cash moved by exactly the amount.
#[allow(clippy::too_many_arguments)]
async fn play(
    w: &World,
    books: &mut Books,
    p: &Player,
    route: &str,
    id: &str,
    round: &str,
    game: &str,
    amount: &str,
    bet_id: Option<&str>,
) {
    let before = cash(w, p).await;
    let body = match bet_id {
        Some(bet) => json!({"token": p.token, "transaction_id": id, "bet_transaction_id": bet}),
        None => json!({"token": p.token, "transaction_id": id, "round_id": round, "game": game,
            "currency": p.currency.code(), "amount": amount}),
    };
    let reply = w.wallet(Http::V1, route, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{route} {id}: {}", reply.text());
    let after = minor(reply.json()["cash"].as_str().unwrap(), p.currency);
    let amount = minor(amount, p.currency);
    let (stake, prize, delta) = match route {
        "bet" => (amount, 0, -amount),
        "win" => (0, amount, amount),
        _ => (-amount, 0, amount),
    };
    assert_eq!(after - before, delta, "{route} {id} moved the cash by its amount");
    books.entries.push(Entry {
        player: p.id,
        segment: p.segment,
        kind: kind_of(game),
        currency: p.currency,
        stake,
        prize,
        bet: route == "bet",
    });
}

async fn cash(w: &World, p: &Player) -> i64 {
    let path = format!("/operator/v1/players/{}/balance?currency={}", p.id, p.currency.code());
    let reply = op(w, &w.admin, Method::GET, &path, None).await;
    minor(reply.json()["cash"].as_str().unwrap(), p.currency)
}

async fn session(w: &World, player: u64, currency: Currency) -> String {
    let body = json!({"player": player, "currency": currency.code(), "aggregator": w.aggregator.id, "ttl_ms": 60_000});
    let issued = op(w, &w.admin, Method::POST, "/operator/v1/sessions", Some(body)).await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text());
    issued.json()["token"].as_str().unwrap().to_owned()
}

async fn register(w: &World, country: &str, jurisdiction: &str, currency: Currency, born: &str) -> u64 {
    let profile = json!({"name": "Ada Player", "email": format!("{country}@example.com"), "phone": "+441234567890",
        "date_of_birth": born, "address": {"line": "1 Road", "city": "Town", "postcode": "AB1 2CD"},
        "country": country, "language": "en-GB", "marketing": {"email": false, "sms": false, "phone": false, "post": false}});
    let body = json!({"currency": currency.code(), "jurisdiction": jurisdiction, "profile": profile});
    let made = op(w, &w.admin, Method::POST, "/operator/v1/registrations", Some(body)).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    made.json()["player"].as_u64().unwrap()
}

async fn fund(w: &World, player: u64, id: &str, currency: Currency, amount: &str) {
    let body = json!({"deposit_id": id, "currency": currency.code(), "amount": amount});
    let path = format!("/operator/v1/players/{player}/deposits");
    let funded = op(w, &w.admin, Method::POST, &path, Some(body)).await;
    assert_eq!(funded.status, StatusCode::OK, "{}", funded.text());
}

async fn report(w: &World, token: &str, path: &str) -> Reply {
    op(w, token, Method::GET, &format!("/operator/v1/reports/{path}"), None).await
}

async fn report_json(w: &World, path: &str) -> Value {
    let reply = report(w, &w.admin, path).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
    reply.json()
}

/// The row of `table` whose leading columns are `key`, as column → value.
fn row(report: &Value, table: &str, key: &[&str]) -> BTreeMap<String, String> {
    let table = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == table)
        .unwrap_or_else(|| panic!("no table {table}"));
    let columns: Vec<String> = serde_json::from_value(table["columns"].clone()).unwrap();
    let rows: Vec<Vec<String>> = serde_json::from_value(table["rows"].clone()).unwrap();
    let found = rows
        .iter()
        .find(|r| r.iter().zip(key).all(|(a, b)| a == b))
        .unwrap_or_else(|| panic!("no row {key:?} in {table}: {rows:?}"));
    columns.into_iter().zip(found.iter().cloned()).collect()
}

fn rows_of(report: &Value, table: &str) -> usize {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == table)
        .map_or(0, |t| t["rows"].as_array().unwrap().len())
}

/// Every record of a delimited report, keyed by table: the header first.
fn delimited(text: &str, delimiter: u8) -> BTreeMap<String, Vec<Vec<String>>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut tables: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for record in reader.records() {
        let record: Vec<String> = record.unwrap().iter().map(str::to_owned).collect();
        let name = if record[0] == "table" {
            "header".to_owned()
        } else {
            record[0].clone()
        };
        tables.entry(name).or_default().push(record);
    }
    tables
}

/// The JSON, CSV, tab-delimited and HTML forms hold the same rows.
async fn same_in_every_format(w: &World, path: &str) {
    let json = report_json(w, path).await;
    for (format, delimiter) in [("csv", b','), ("tsv", b'\t')] {
        let reply = report(w, &w.admin, &format!("{path}&format={format}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let records = delimited(&reply.text(), delimiter);
        for table in json["tables"].as_array().unwrap() {
            let name = table["name"].as_str().unwrap();
            let rows: Vec<Vec<String>> = serde_json::from_value(table["rows"].clone()).unwrap();
            let found: Vec<Vec<String>> = records
                .get(name)
                .map(|r| r.iter().map(|r| r[1..].to_vec()).collect())
                .unwrap_or_default();
            assert_eq!(found, rows, "{path} {format} {name}");
        }
        let headers = &records["header"];
        assert_eq!(headers.len(), json["tables"].as_array().unwrap().len());
    }
    let page = report(w, &w.admin, &format!("{path}&format=html")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.content_type.as_deref(), Some("text/html; charset=utf-8"));
    let page = page.text();
    assert!(page.starts_with("<!DOCTYPE html>") && !page.contains("<script"));
    for table in json["tables"].as_array().unwrap() {
        assert!(page.contains(&format!("<table id=\"{}\">", table["name"].as_str().unwrap())));
        for row in table["rows"].as_array().unwrap() {
            let cells: String = row
                .as_array()
                .unwrap()
                .iter()
                .map(|c| format!("<td>{}</td>", c.as_str().unwrap()))
                .collect();
            assert!(page.contains(&cells), "{path} html lacks {cells}");
        }
    }
}

fn cashier_config(dir: &std::path::Path, sandbox: &Sandbox) -> ServeConfig {
    ServeConfig {
        stripe_api_url: Some(sandbox.url()),
        stripe_secret_key: Some("sk_test_croupier".into()),
        stripe_webhook_secret: Some("whsec_croupier".into()),
        cashier_tick_ms: 20,
        cashier_retry_base_ms: 20,
        cashier_retry_max_ms: 20,
        ..support::config(dir)
    }
}

/// The world: three players on three catalogued games, deposits, a paid
/// and a pending withdrawal, a GBP/EUR rate, and the books of every
/// acknowledged bet, win and rollback.
struct Casino {
    w: World,
    _sandbox: Sandbox,
    books: Books,
    players: Vec<Player>,
}

async fn casino(dir: &std::path::Path) -> Casino {
    let clock = Arc::new(AtomicU64::new(T0));
    let read = clock.clone();
    let sandbox = Sandbox::start(
        SandboxConfig {
            secret_key: "sk_test_croupier".into(),
            webhook_secret: "whsec_croupier".into(),
            webhook_url: None,
            stall: Duration::from_millis(1_500),
            clock: Arc::new(move || read.load(Ordering::SeqCst)),
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("the sandbox starts");
    let server = TestServer::start_at(cashier_config(dir, &sandbox), clock).await;
    let w = World::on(server).await;
    // Payouts complete on the provider's signed webhook.
    let url = format!("http://{}/webhooks/v1/payments/stripe", w.server.addr());
    let set = reqwest::Client::new()
        .put(format!("{}/sandbox/webhook", sandbox.url()))
        .header("content-type", "application/json")
        .body(json!({ "url": url }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::NO_CONTENT);
    let provider = json!({"name": "Studio", "aggregators": ["acme"]});
    let put = op(
        &w,
        &w.admin,
        Method::PUT,
        "/operator/v1/games/providers/studio",
        Some(provider),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    for (code, kind) in GAMES {
        let game = json!({"provider": "studio", "name": "A game", "type": kind, "volatility": "medium",
            "rtp_variants_bp": [9600], "rtp_default_bp": 9600, "rtp_by_jurisdiction": {},
            "limits": [{"currency": "EUR", "min": "0.10", "max": "500.00"}, {"currency": "GBP", "min": "0.10", "max": "500.00"}],
            "jurisdictions": ["MT", "GB"]});
        let put = op(
            &w,
            &w.admin,
            Method::PUT,
            &format!("/operator/v1/games/acme/{code}"),
            Some(game),
        )
        .await;
        assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    }
    // World's player: MT, EUR, no profile (its country is its jurisdiction),
    // funded 100.00 by a manual deposit.
    let mt = Player {
        id: w.player,
        token: w.token.clone(),
        currency: Currency::EUR,
        segment: "non_gb",
    };
    let gb_id = register(&w, "GB", "GB", Currency::GBP, "1990-05-17").await;
    fund(&w, gb_id, "gb-dep-1", Currency::GBP, "200.00").await;
    let gb = Player {
        id: gb_id,
        token: session(&w, gb_id, Currency::GBP).await,
        currency: Currency::GBP,
        segment: "gb",
    };
    let de_id = register(&w, "DE", "MT", Currency::EUR, "1985-11-02").await;
    fund(&w, de_id, "de-dep-1", Currency::EUR, "50.00").await;
    let de = Player {
        id: de_id,
        token: session(&w, de_id, Currency::EUR).await,
        currency: Currency::EUR,
        segment: "non_gb",
    };
    let mut books = Books::default();
    let b = &mut books;
    play(&w, b, &mt, "bet", "b1", "r1", "slots", "10.00", None).await;
    play(&w, b, &mt, "win", "w1", "r1", "slots", "25.50", None).await;
    play(&w, b, &mt, "bet", "b2", "r2", "roulette-live", "5.00", None).await;
    play(&w, b, &mt, "bet", "b3", "r3", "slots", "7.25", None).await;
    play(&w, b, &mt, "rollback", "rb3", "r3", "slots", "7.25", Some("b3")).await;
    play(&w, b, &gb, "bet", "g1", "r4", "slots", "20.00", None).await;
    play(&w, b, &gb, "win", "g1w", "r4", "slots", "4.10", None).await;
    play(&w, b, &gb, "bet", "g2", "r5", "blackjack", "3.00", None).await;
    play(&w, b, &gb, "win", "g2w", "r5", "blackjack", "6.00", None).await;
    play(&w, b, &de, "bet", "d1", "r6", "roulette-live", "1.00", None).await;
    // A jackpot pool on the slots, seeded with 10.00 and awarded to the MT
    // player: a prize outside any game (product other).
    let pool = json!({"code": "mega", "name": "Mega", "currency": "EUR",
        "games": [{"aggregator": "acme", "code": "slots"}], "contribution_bp": 100, "seed": "10.00"});
    let created = op(&w, &w.admin, Method::POST, "/operator/v1/jackpots", Some(pool)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let before = cash(&w, &mt).await;
    let award = json!({"player": mt.id});
    let awarded = op(
        &w,
        &w.admin,
        Method::POST,
        "/operator/v1/jackpots/mega/award",
        Some(award),
    )
    .await;
    assert_eq!(awarded.status, StatusCode::OK, "{}", awarded.text());
    let paid = minor(awarded.json()["paid"].as_str().unwrap(), Currency::EUR);
    assert_eq!((paid, cash(&w, &mt).await - before), (1_000, 1_000));
    b.entries.push(Entry {
        player: mt.id,
        segment: "non_gb",
        kind: "award",
        currency: Currency::EUR,
        stake: 0,
        prize: paid,
        bet: false,
    });
    // The GB player's login, which the player-data export shows.
    let login = json!({"device_id": "phone-1", "ip": "203.0.113.7", "user_agent": ""});
    let path = format!("/operator/v1/players/{gb_id}/logins");
    let logged = op(&w, &w.admin, Method::POST, &path, Some(login)).await;
    assert!(logged.status.is_success(), "{}", logged.text());

    // Two withdrawals of the MT player: one approved and paid out through
    // the sandbox, one left requested.
    let withdraw = |id: &'static str, amount: &'static str| {
        let w = &w;
        async move {
            let body = json!({"withdrawal_id": id, "currency": "EUR", "amount": amount});
            let path = format!("/cashier/v1/players/{}/withdrawals", w.player);
            let made = op(w, &w.admin, Method::POST, &path, Some(body)).await;
            assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
            made.json()["payment"].as_str().unwrap().to_owned()
        }
    };
    let paid = withdraw("wd-paid", "20.00").await;
    let approve = format!("/cashier/v1/withdrawals/{paid}/approve");
    let approved = op(&w, &w.admin, Method::POST, &approve, None).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let list = op(&w, &w.admin, Method::GET, "/cashier/v1/withdrawals?limit=1000", None).await;
        let state = list.json()["payments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["payment"] == paid.as_str())
            .map(|p| p["state"].clone());
        if state == Some(json!("completed")) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the payout stayed {state:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    withdraw("wd-pending", "5.00").await;
    let rate = json!({"rate": "1.17", "effective_at_ms": T0});
    let set = op(&w, &w.admin, Method::PUT, "/operator/v1/fx/GBP/EUR", Some(rate)).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    Casino {
        w,
        _sandbox: sandbox,
        books,
        players: vec![mt, gb, de],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_figure_matches_the_acknowledged_flows_to_the_cent() {
    let dir = tempfile::tempdir().unwrap();
    let Casino {
        w,
        _sandbox,
        books,
        players,
    } = casino(dir.path()).await;
    // A bet in the second quarter, which no Q1 figure may count.
    w.server.advance(91 * DAY_MS);
    let ids: Vec<u64> = players.iter().map(|p| p.id).collect();
    let mt = Player {
        token: session(&w, w.player, Currency::EUR).await,
        ..players.into_iter().next().unwrap()
    };
    let mut later = Books::default();
    play(&w, &mut later, &mt, "bet", "q2-bet", "r7", "slots", "2.00", None).await;

    // UKGC, Q1 2026: GGY per product and segment from the books.
    let ukgc = report_json(&w, "ukgc-quarterly?quarter=2026Q1").await;
    assert_eq!(
        (ukgc["from"].as_str(), ukgc["to"].as_str()),
        (Some("2026-01-01"), Some("2026-03-31"))
    );
    let product = |kind: &str| match kind {
        "slot" => "casino_slots",
        "table" => "casino_table",
        _ => "live_casino",
    };
    let mut checked = 0;
    for segment in ["gb", "non_gb"] {
        for (_, kind) in GAMES {
            for currency in [Currency::EUR, Currency::GBP] {
                let only = |e: &Entry| e.segment == segment && e.kind == *kind && e.currency == currency;
                let (stakes, prizes, bets) = books.sum(only);
                if bets == 0 {
                    continue;
                }
                let line = row(
                    &ukgc,
                    "ggy_by_product",
                    &[product(kind), segment, currency.code(), "native"],
                );
                assert_eq!(line["stakes"], money(stakes, currency), "{segment} {kind}");
                assert_eq!(line["prizes"], money(prizes, currency));
                assert_eq!(line["ggy"], money(stakes - prizes, currency));
                assert_eq!(line["bets"], bets.to_string());
                assert_eq!(line["active_customers"], books.players(only).to_string());
                assert_eq!(line["bonus_stakes"], money(0, currency));
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 4, "slots and live for non-GB, slots and table for GB");
    let (_, awarded, _) = books.sum(|e| e.kind == "award");
    let other = row(&ukgc, "ggy_by_product", &["other", "non_gb", "EUR", "native"]);
    assert_eq!((other["prizes"].as_str(), other["ggy"].as_str()), ("10.00", "-10.00"));
    assert_eq!(minor(&other["prizes"], Currency::EUR), awarded);
    assert_eq!((other["bets"].as_str(), other["active_customers"].as_str()), ("0", "0"));
    assert_eq!(rows_of(&ukgc, "ggy_by_product"), 5, "nothing from Q2");
    // The figures by hand, for the reader: 10.00 − 25.50 on slots (the
    // rolled-back 7.25 nets out), and 20.00 − 4.10 for the GB player.
    assert_eq!(
        row(&ukgc, "ggy_by_product", &["casino_slots", "non_gb"])["ggy"],
        "-15.50"
    );
    assert_eq!(row(&ukgc, "ggy_by_product", &["casino_slots", "gb"])["ggy"], "15.90");
    let customers = row(&ukgc, "customers", &["non_gb", "EUR"]);
    assert_eq!(
        (
            customers["active_customers"].as_str(),
            customers["depositing_customers"].as_str()
        ),
        ("2", "2")
    );
    let deposits = row(&ukgc, "deposits", &["non_gb", "EUR"]);
    assert_eq!(
        (
            deposits["deposits"].as_str(),
            deposits.get("charged_back").map(String::as_str)
        ),
        ("150.00", Some("0.00"))
    );
    assert_eq!(row(&ukgc, "deposits", &["gb", "GBP"])["deposits"], "200.00");
    assert!(
        ukgc["definitions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["figure"] == "stakes")
    );

    // Converted into EUR at the GBP/EUR rate in force at the quarter's end.
    let converted = report_json(&w, "ukgc-quarterly?quarter=2026Q1&currency=EUR").await;
    assert_eq!(
        converted["rates"],
        json!([{"currency": "EUR", "reporting_currency": "EUR", "rate": "1", "effective_ms": 0},
            {"currency": "GBP", "reporting_currency": "EUR", "rate": "1.17", "effective_ms": T0}])
    );
    let gb_slots = row(
        &converted,
        "ggy_by_product",
        &["casino_slots", "gb", "EUR", "converted"],
    );
    // 20.00 GBP × 1.17 = 23.40; 4.10 × 1.17 = 4.797 → 4.79; 15.90 × 1.17 = 18.603 → 18.60.
    assert_eq!(
        (gb_slots["stakes"].as_str(), gb_slots["prizes"].as_str()),
        ("23.40", "4.79")
    );
    assert_eq!(gb_slots["ggy"], "18.60");
    let eur_slots = row(
        &converted,
        "ggy_by_product",
        &["casino_slots", "non_gb", "EUR", "converted"],
    );
    assert_eq!(eur_slots["ggy"], "-15.50", "EUR converts at 1");
    same_in_every_format(&w, "ukgc-quarterly?quarter=2026Q1&currency=EUR").await;

    // Q2 holds only the later bet.
    let q2 = report_json(&w, "ukgc-quarterly?quarter=2026Q2").await;
    let line = row(&q2, "ggy_by_product", &["casino_slots", "non_gb", "EUR"]);
    assert_eq!((line["stakes"].as_str(), line["bets"].as_str()), ("2.00", "1"));
    assert_eq!(rows_of(&q2, "deposits"), 0);
    assert_eq!(later.sum(|_| true).0, minor("2.00", Currency::EUR));

    // Business: GGR by day, game, provider, country; payments by provider.
    let business = report_json(&w, "business?from=2026-01-01&to=2026-01-31").await;
    let day = row(&business, "ggr_by_day", &["2026-01-01", "EUR"]);
    assert_eq!(
        (day["stakes"].as_str(), day["prizes"].as_str(), day["ggr"].as_str()),
        ("16.00", "35.50", "-19.50")
    );
    assert_eq!((day["bonus_cost"].as_str(), day["ngr"].as_str()), ("0.00", "-19.50"));
    assert_eq!(day["jackpot_paid"], "10.00");
    let (stakes, prizes, _) = books.sum(|e| e.currency == Currency::EUR);
    assert_eq!(minor(&day["ggr"], Currency::EUR), stakes - prizes);
    assert_eq!((day["bets"].as_str(), day["players"].as_str()), ("4", "2"));
    let gbp_day = row(&business, "ggr_by_day", &["2026-01-01", "GBP"]);
    assert_eq!(
        (gbp_day["stakes"].as_str(), gbp_day["ggr"].as_str()),
        ("23.00", "12.90")
    );
    let agg = w.aggregator.id.to_string();
    let live = row(
        &business,
        "ggr_by_game",
        &[&agg, "roulette-live", "studio", "live", "EUR"],
    );
    assert_eq!((live["stakes"].as_str(), live["players"].as_str()), ("6.00", "2"));
    assert_eq!(row(&business, "ggr_by_provider", &["studio", "GBP"])["prizes"], "10.10");
    assert_eq!(
        row(&business, "ggr_by_provider", &["none", "EUR"])["jackpot_paid"],
        "10.00"
    );
    for (country, currency) in [("MT", Currency::EUR), ("DE", Currency::EUR), ("GB", Currency::GBP)] {
        let line = row(&business, "ggr_by_country", &[country, currency.code()]);
        let expected = match country {
            "MT" => ("15.00", "35.50"),
            "DE" => ("1.00", "0.00"),
            _ => ("23.00", "10.10"),
        };
        assert_eq!(
            (line["stakes"].as_str(), line["prizes"].as_str()),
            expected,
            "{country}"
        );
    }
    let manual = row(
        &business,
        "payments_by_provider",
        &["deposit", "manual", "confirmed", "EUR"],
    );
    assert_eq!(
        (manual["payments"].as_str(), manual["amount"].as_str()),
        ("2", "150.00")
    );
    let paid = row(
        &business,
        "payments_by_provider",
        &["withdrawal", "stripe", "completed", "EUR"],
    );
    assert_eq!((paid["payments"].as_str(), paid["amount"].as_str()), ("1", "20.00"));
    let pending = row(
        &business,
        "payments_by_provider",
        &["withdrawal", "none", "requested", "EUR"],
    );
    assert_eq!(pending["amount"], "5.00");
    let bonus = row(&business, "bonus_cost", &["EUR"]);
    assert_eq!(
        (bonus["bonus_granted"].as_str(), bonus["bonus_cost"].as_str()),
        ("0.00", "0.00")
    );
    same_in_every_format(&w, "business?from=2026-01-01&to=2026-01-31&currency=EUR").await;

    // MGA tax for January, per game type.
    let tax = report_json(&w, "mga-tax?month=2026-01").await;
    let slot = row(&tax, "tax_by_game_type", &["slot", "EUR"]);
    assert_eq!(
        (
            slot["wagers"].as_str(),
            slot["winnings"].as_str(),
            slot["revenue"].as_str()
        ),
        ("10.00", "25.50", "-15.50")
    );
    assert_eq!(row(&tax, "tax_by_game_type", &["none", "EUR"])["winnings"], "10.00");
    let table = row(&tax, "tax_by_game_type", &["table", "GBP"]);
    assert_eq!(
        (table["wagers"].as_str(), table["cash_winnings"].as_str()),
        ("3.00", "6.00")
    );
    same_in_every_format(&w, "mga-tax?month=2026-01").await;

    // Player funds at the end of 1 January: the MT player's 95.50 cash and
    // 5.00 reserved for the pending withdrawal, the DE player's 49.00; the
    // two live rounds without a win are open bets (6.00); the pool is back
    // at its seed.
    let funds = report_json(&w, "mga-player-funds?from=2026-01-01&to=2026-01-01").await;
    let eur = row(&funds, "player_funds", &["EUR"]);
    assert_eq!(
        (
            eur["cash"].as_str(),
            eur["reserved"].as_str(),
            eur["pending_withdrawals"].as_str()
        ),
        ("144.50", "5.00", "5.00")
    );
    assert_eq!(
        (eur["open_bets"].as_str(), eur["player_funds"].as_str()),
        ("6.00", "149.50")
    );
    // The pool as it stands now (the read model keeps no history of pool
    // balances): reseeded at 10.00, plus 1 % of the second quarter's bet.
    assert_eq!(eur["jackpot_funds"], "10.02");
    assert_eq!(row(&funds, "player_funds", &["GBP"])["cash"], "187.10");
    same_in_every_format(&w, "mga-player-funds?month=2026-01").await;

    // The player-data export, tab-delimited.
    let export = report(&w, &w.admin, "mga-player-data?month=2026-01&format=tsv").await;
    assert_eq!(
        export.content_type.as_deref(),
        Some("text/tab-separated-values; charset=utf-8")
    );
    let records = delimited(&export.text(), b'\t');
    assert_eq!(
        records["header"][0],
        [
            "table",
            "player",
            "registration_country",
            "date_of_birth",
            "last_login",
            "currency",
            "basis",
            "bets_in_month",
            "month_end_balance",
            "pending_transfers"
        ]
    );
    let lines = &records["player_data"];
    assert_eq!(lines.len(), 3);
    let of = |player: u64| lines.iter().find(|l| l[1] == player.to_string()).unwrap().clone();
    assert_eq!(of(w.player)[2..], ["MT", "", "", "EUR", "native", "3", "95.50", "5.00"]);
    assert_eq!(
        of(ids[1])[2..],
        [
            "GB",
            "1990-05-17",
            "2026-01-01T00:00:00Z",
            "GBP",
            "native",
            "2",
            "187.10",
            "0.00"
        ]
    );
    assert_eq!(
        of(ids[2])[2..],
        ["DE", "1985-11-02", "", "EUR", "native", "1", "49.00", "0.00"]
    );
    w.server.stop().await;
}

#[tokio::test]
async fn bad_periods_unknown_reports_and_forbidden_roles_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let bad = [
        (
            "ukgc-quarterly?quarter=2026Q5",
            StatusCode::BAD_REQUEST,
            "invalid_period",
        ),
        ("ukgc-quarterly", StatusCode::BAD_REQUEST, "invalid_period"),
        (
            "ukgc-quarterly?quarter=2026Q1&month=2026-01",
            StatusCode::BAD_REQUEST,
            "invalid_period",
        ),
        (
            "business?from=2026-02-01&to=2026-01-01",
            StatusCode::BAD_REQUEST,
            "invalid_period",
        ),
        (
            "business?from=2026-02-30&to=2026-03-01",
            StatusCode::BAD_REQUEST,
            "invalid_period",
        ),
        ("business?from=2026-01-01", StatusCode::BAD_REQUEST, "invalid_period"),
        (
            "business?from=2020-01-01&to=2026-01-01",
            StatusCode::BAD_REQUEST,
            "invalid_period",
        ),
        ("mga-tax?month=2026-13", StatusCode::BAD_REQUEST, "invalid_period"),
        (
            "mga-tax?month=2026-01&format=pdf",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "mga-tax?month=2026-01&region=x",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        ("mga-tax?month=2026-01&brand=x", StatusCode::NOT_FOUND, "unknown_brand"),
        (
            "mga-tax?month=2026-01&currency=XXX",
            StatusCode::BAD_REQUEST,
            "unknown_currency",
        ),
        ("profit-and-loss?month=2026-01", StatusCode::NOT_FOUND, "unknown_report"),
    ];
    for (path, status, code) in bad {
        let reply = report(&w, &w.admin, path).await;
        assert_eq!((reply.status, reply.code()), (status, code.to_owned()), "{path}");
    }
    // The world's deposit is EUR: no EUR/USD rate, so no USD report.
    let missing = report(&w, &w.admin, "business?month=2026-01&currency=USD").await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "fx_rate_missing".to_owned())
    );
    assert!(missing.text().contains("EUR/USD"));
    // Read-only operators read reports; support does not.
    for (role, status) in [
        ("read-only", StatusCode::OK),
        ("finance", StatusCode::OK),
        ("compliance", StatusCode::OK),
        ("support", StatusCode::FORBIDDEN),
        ("marketing", StatusCode::FORBIDDEN),
    ] {
        let made = op(
            &w,
            &w.admin,
            Method::POST,
            "/operator/v1/operators",
            Some(json!({"name": format!("{role}-desk"), "role": role})),
        )
        .await;
        let token = made.json()["token"].as_str().unwrap().to_owned();
        let reply = report(&w, &token, "business?month=2026-01").await;
        assert_eq!(reply.status, status, "{role}: {}", reply.text());
        if status == StatusCode::FORBIDDEN {
            assert_eq!(reply.code(), "forbidden");
        }
    }
    let anonymous = report(&w, "not-a-token", "business?month=2026-01").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    w.server.stop().await;
}
