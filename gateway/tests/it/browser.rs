//! The back office in a real browser: headless Chromium driven over
//! WebDriver (Debian's `chromium` and `chromium-driver`, installed by
//! `scripts/install-browser`). One browser session walks the main flows:
//! log in with a TOTP code, watch the dashboard count bets as they arrive,
//! find a player and open their 360, approve a withdrawal and see the
//! queue, the balance and the audit trail change, check every main page at
//! 1280 and 375 px for horizontal overflow, and a read-only operator who
//! sees no approve button and is refused when forcing the API. Screenshots
//! land in `target/backoffice-screenshots/`.
//!
//! Without chromedriver the test fails in CI (`CI` set) and is skipped
//! with a notice elsewhere.

use crate::backoffice::{Office, PASSWORD};
use crate::support::Http;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !value.is_empty() && value != "false" && value != "0")
}

/// chromedriver: `CROUPIER_CHROMEDRIVER`, or on the `PATH`.
fn chromedriver() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CROUPIER_CHROMEDRIVER") {
        return Some(PathBuf::from(path));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("chromedriver"))
        .find(|path| path.is_file())
}

/// The target directory this test was built into (`<target>/debug/deps/<exe>`).
fn screenshots_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let target = exe.ancestors().nth(3).expect("<target>/<profile>/deps/<exe>");
    let dir = target.join("backoffice-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A chromedriver process, stopped on drop.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_driver(path: &PathBuf) -> (Driver, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (driver, port)
}

/// A browser session: a desktop window (1280 × 900), or a phone's viewport
/// (375 × 812, Chromium's device emulation) with `phone`.
async fn browser(port: u16, phone: bool) -> Client {
    let mut options = json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,900", "--hide-scrollbars"]
    });
    if phone {
        options["mobileEmulation"] = json!({"deviceMetrics": {"width": 375, "height": 812, "pixelRatio": 2.0}});
    }
    for binary in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if std::path::Path::new(binary).exists() {
            options["binary"] = json!(binary);
            break;
        }
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), options);
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session")
}

/// Waits until `selector` matches, up to 10 s.
async fn wait_for(client: &Client, selector: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .every(Duration::from_millis(50))
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|e| panic!("{selector} did not appear: {e}"))
}

/// Waits until the text of `selector` satisfies `ok`, up to 10 s.
async fn wait_text(client: &Client, selector: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = match client.find(Locator::Css(selector)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if ok(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{selector}: {text:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn login(client: &Client, office: &Office, name: &str, totp: &totp_rs::TOTP) {
    client
        .goto(&format!("{}/backoffice/login", office.server().base))
        .await
        .unwrap();
    wait_for(client, "#username").await.send_keys(name).await.unwrap();
    client
        .find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    let code = office.code(totp);
    client
        .find(Locator::Css("#totp"))
        .await
        .unwrap()
        .send_keys(&code)
        .await
        .unwrap();
    client
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(client, "section#figures").await;
}

/// Whether the page is wider than the viewport.
async fn overflows(client: &Client) -> bool {
    let wider = client
        .execute(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .unwrap();
    wider.as_bool().unwrap_or(true)
}

/// Opens each page and checks that the viewport is `width` px wide and the
/// page no wider.
async fn check_widths(client: &Client, base: &str, pages: &[String], width: u64) {
    let inner = client.execute("return window.innerWidth;", vec![]).await.unwrap();
    assert_eq!(inner.as_u64(), Some(width), "the viewport");
    for page in pages {
        client.goto(&format!("{base}{page}")).await.unwrap();
        wait_for(client, "main").await;
        assert!(!overflows(client).await, "{page} overflows at {width} px");
    }
}

async fn shoot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshots_dir().join(format!("{name}.png")), png).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_back_office_works_in_headless_chromium_at_phone_and_desktop_widths() {
    let Some(driver_path) = chromedriver() else {
        assert!(!in_ci(), "chromedriver is missing: run scripts/install-browser");
        eprintln!("skipped: no chromedriver (run scripts/install-browser)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let office = Office::start(dir.path()).await;
    let (_, _, fin_totp) = office.enrolled("fin", "finance").await;
    let (_, _, viewer_totp) = office.enrolled("viewer", "read-only").await;
    let (_driver, port) = start_driver(&driver_path).await;
    let client = browser(port, false).await;
    let base = office.server().base.clone();
    let player = office.player();

    // Log in; the dashboard counts bets as they arrive.
    login(&client, &office, "fin", &fin_totp).await;
    wait_text(&client, "[data-figure=bets]", |t| t == "0").await;
    for n in 1..=3 {
        let bet = office.world.bet(Http::V1, &format!("bet-{n}"), "1.00", "round-1").await;
        assert_eq!(bet.status, reqwest::StatusCode::OK, "{}", bet.text());
    }
    wait_text(&client, "[data-figure=bets]", |t| t == "3").await;
    wait_text(&client, "[data-figure=ggr_EUR]", |t| t == "3.00 EUR").await;
    shoot(&client, "dashboard-desktop").await;

    // Find the player and open their 360.
    client.goto(&format!("{base}/backoffice/players")).await.unwrap();
    wait_for(&client, "#q")
        .await
        .send_keys(&player.to_string())
        .await
        .unwrap();
    client
        .find(Locator::Css("form.search button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let link = format!("#results a[href='/backoffice/players/{player}']");
    wait_text(&client, "#results caption", |t| t == "1 players").await;
    wait_for(&client, &link).await.click().await.unwrap();
    wait_for(&client, "[data-api$='/rg'][data-loaded=true]").await;
    wait_text(&client, "[data-field=cash_EUR]", |t| t == "97.00 EUR").await;
    shoot(&client, "player-360-desktop").await;

    // Approve a withdrawal from the queue.
    let payment = office.withdrawal("wd-1", "20.00").await;
    client.goto(&format!("{base}/backoffice/withdrawals")).await.unwrap();
    let row = format!("tr[data-payment='{payment}']");
    wait_for(&client, &format!("{row} button.approve"))
        .await
        .click()
        .await
        .unwrap();
    wait_text(&client, "#flash", |t| t.contains("approved")).await;
    client.goto(&format!("{base}/backoffice/withdrawals")).await.unwrap();
    wait_text(&client, "#queue caption", |t| t == "0 awaiting approval").await;
    client
        .goto(&format!("{base}/backoffice/players/{player}"))
        .await
        .unwrap();
    wait_text(&client, "[data-field=cash_EUR]", |t| t == "77.00 EUR").await;
    client.goto(&format!("{base}/backoffice/audit")).await.unwrap();
    wait_text(&client, "#audit tr[data-kind=withdrawal_approve]", |t| {
        t.contains("fin")
    })
    .await;

    // Every main page, at desktop and phone widths, without overflow.
    let pages = [
        "/backoffice".to_owned(),
        "/backoffice/players".to_owned(),
        format!("/backoffice/players/{player}"),
        "/backoffice/withdrawals".to_owned(),
        "/backoffice/audit".to_owned(),
    ];
    check_widths(&client, &base, &pages, 1280).await;
    // The phone: its own session (a code of the next period).
    office.server().advance(30_000);
    let phone = browser(port, true).await;
    phone.goto(&format!("{base}/backoffice/login")).await.unwrap();
    wait_for(&phone, "#username").await;
    assert!(!overflows(&phone).await, "the login form overflows at 375 px");
    login(&phone, &office, "fin", &fin_totp).await;
    check_widths(&phone, &base, &pages, 375).await;
    phone.goto(&format!("{base}/backoffice")).await.unwrap();
    wait_for(&phone, "section#figures").await;
    shoot(&phone, "dashboard-phone").await;
    phone
        .goto(&format!("{base}/backoffice/players/{player}"))
        .await
        .unwrap();
    wait_for(&phone, "[data-api$='/rg'][data-loaded=true]").await;
    shoot(&phone, "player-360-phone").await;
    phone.close().await.unwrap();

    // A read-only operator sees no approve button; forcing the API fails.
    client.delete_all_cookies().await.unwrap();
    login(&client, &office, "viewer", &viewer_totp).await;
    let other = office.withdrawal("wd-2", "5.00").await;
    client.goto(&format!("{base}/backoffice/withdrawals")).await.unwrap();
    wait_for(&client, &format!("tr[data-payment='{other}']")).await;
    assert!(
        client
            .find_all(Locator::Css("button.approve"))
            .await
            .unwrap()
            .is_empty()
    );
    let forced = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const token = JSON.parse(document.body.getAttribute('hx-headers'))['x-csrf-token'];
             fetch(arguments[0], {method: 'POST', credentials: 'same-origin', headers: {'x-csrf-token': token}})
               .then(r => r.json().then(b => done([r.status, b.error && b.error.code])));",
            vec![json!(format!("/cashier/v1/withdrawals/{other}/approve"))],
        )
        .await
        .unwrap();
    assert_eq!(forced, json!([403, "forbidden"]));
    client.close().await.unwrap();
}

/// Types `text` into the field `selector` (cleared first).
async fn fill(client: &Client, selector: &str, text: &str) {
    let field = wait_for(client, selector).await;
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Clicks `selector` once it is there.
async fn click(client: &Client, selector: &str) {
    wait_for(client, selector).await.click().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queues_and_management_pages_work_in_headless_chromium_by_role() {
    let Some(driver_path) = chromedriver() else {
        assert!(!in_ci(), "chromedriver is missing: run scripts/install-browser");
        eprintln!("skipped: no chromedriver (run scripts/install-browser)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let office = Office::start(dir.path()).await;
    let (_, _, boss_totp) = office.enrolled("boss", "admin").await;
    let (_, _, aml_totp) = office.enrolled("aml", "compliance").await;
    let (_, _, viewer_totp) = office.enrolled("viewer", "read-only").await;
    let player = office.player();
    // Something in every queue: a KYC decision due, a large-win alert, a game.
    let (status, reply) = office
        .api(
            office.admin(),
            reqwest::Method::PUT,
            &format!("/operator/v1/players/{player}/kyc"),
            Some(json!({"level": "pending", "reason": "documents asked"})),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{reply}");
    let bet = office.world.bet(Http::V1, "bet-1", "1.00", "r-1").await;
    assert_eq!(bet.status, reqwest::StatusCode::OK, "{}", bet.text());
    let win = office.world.win(Http::V1, "win-1", "2500.00", "r-1").await;
    assert_eq!(win.status, reqwest::StatusCode::OK, "{}", win.text());
    let agg = office.world.aggregator.id;
    let (status, _) = office
        .api(
            office.admin(),
            reqwest::Method::PUT,
            "/operator/v1/games/providers/studio",
            Some(json!({"name": "Studio", "aggregators": [agg]})),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK);
    let game = json!({"provider": "studio", "name": "Lucky Sevens Deluxe Megaways Edition", "type": "slot",
        "volatility": "high", "rtp_variants_bp": [9600], "rtp_default_bp": 9600, "rtp_by_jurisdiction": {},
        "limits": [{"currency": "EUR", "min": "0.10", "max": "50.00"}], "jurisdictions": ["MT", "GB"]});
    let (status, _) = office
        .api(
            office.admin(),
            reqwest::Method::PUT,
            &format!("/operator/v1/games/{agg}/sevens"),
            Some(game),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK);

    let (_driver, port) = start_driver(&driver_path).await;
    let base = office.server().base.clone();
    // Every page an admin sees (all of them, with every button), at both widths.
    let pages = [
        "/backoffice".to_owned(),
        format!("/backoffice/players/{player}"),
        "/backoffice/kyc".to_owned(),
        "/backoffice/aml".to_owned(),
        "/backoffice/games".to_owned(),
        "/backoffice/bonuses".to_owned(),
        "/backoffice/campaigns".to_owned(),
        "/backoffice/reports".to_owned(),
        "/backoffice/operators".to_owned(),
        "/backoffice/audit".to_owned(),
    ];
    let desktop = browser(port, false).await;
    login(&desktop, &office, "boss", &boss_totp).await;
    check_widths(&desktop, &base, &pages, 1280).await;
    desktop.goto(&format!("{base}/backoffice/aml")).await.unwrap();
    wait_for(&desktop, "#alerts tr[data-alert]").await;
    shoot(&desktop, "aml-desktop").await;
    office.server().advance(30_000);
    let phone = browser(port, true).await;
    login(&phone, &office, "boss", &boss_totp).await;
    check_widths(&phone, &base, &pages, 375).await;
    for (page, name) in [
        ("/backoffice/aml", "aml-phone"),
        ("/backoffice/kyc", "kyc-phone"),
        ("/backoffice/games", "games-phone"),
    ] {
        phone.goto(&format!("{base}{page}")).await.unwrap();
        wait_for(&phone, "main").await;
        shoot(&phone, name).await;
    }
    phone
        .goto(&format!("{base}/backoffice/players/{player}"))
        .await
        .unwrap();
    wait_for(&phone, "#timeline li[data-what=round]").await;
    phone
        .execute("document.getElementById('timeline').scrollIntoView();", vec![])
        .await
        .unwrap();
    shoot(&phone, "player-360-timeline-phone").await;
    phone.close().await.unwrap();

    // Compliance works the queues: a KYC rejection, then an AML case from
    // the alert to its resolution, each through the operator API.
    desktop.delete_all_cookies().await.unwrap();
    login(&desktop, &office, "aml", &aml_totp).await;
    desktop.goto(&format!("{base}/backoffice/kyc")).await.unwrap();
    let row = format!("#kyc tr[data-player='{player}']");
    fill(&desktop, &format!("{row} input[name=reason]"), "document forged").await;
    click(&desktop, &format!("{row} button[value=rejected]")).await;
    wait_text(&desktop, "#flash", |t| t.contains("KYC decided")).await;
    wait_text(&desktop, "#kyc caption", |t| t == "0 awaiting a decision").await;

    desktop.goto(&format!("{base}/backoffice/aml")).await.unwrap();
    fill(
        &desktop,
        "#alerts tr[data-alert] input[name=summary]",
        "large win to review",
    )
    .await;
    click(&desktop, "#alerts tr[data-alert] button[type=submit]").await;
    wait_text(&desktop, "#flash", |t| t.contains("Case opened")).await;
    wait_text(&desktop, "#alerts caption", |t| t == "0 alerts in the queue").await;
    let case = "#cases article[data-case]";
    click(&desktop, &format!("{case} details.work summary")).await;
    click(&desktop, &format!("{case} form.assign button")).await;
    wait_text(&desktop, &format!("{case} [data-field=assignee]"), |t| t == "aml").await;
    click(&desktop, &format!("{case} details.work summary")).await;
    fill(&desktop, &format!("{case} form.note textarea"), "source of funds asked").await;
    click(&desktop, &format!("{case} form.note button")).await;
    wait_text(&desktop, &format!("{case} ul.notes li[data-kind=note]"), |t| {
        t.contains("source of funds asked")
    })
    .await;
    click(&desktop, &format!("{case} details.work summary")).await;
    shoot(&desktop, "aml-case-desktop").await;
    fill(&desktop, &format!("{case} form.resolve textarea"), "winnings from play").await;
    click(&desktop, &format!("{case} form.resolve button")).await;
    wait_text(&desktop, "#flash", |t| t.contains("resolved")).await;
    wait_text(&desktop, "#resolved tbody", |t| t.contains("no_action")).await;
    assert!(desktop.find_all(Locator::Css(case)).await.unwrap().is_empty());
    // The dashboard's open alerts follow.
    desktop.goto(&format!("{base}/backoffice")).await.unwrap();
    wait_text(&desktop, "[data-figure=open_alerts]", |t| t == "0").await;

    // A read-only operator sees alerts and cases without a button, no
    // KYC page, and is refused by the API when forcing a case open.
    let win = office.world.win(Http::V1, "win-2", "2500.00", "r-1").await;
    assert_eq!(win.status, reqwest::StatusCode::OK, "{}", win.text());
    desktop.delete_all_cookies().await.unwrap();
    login(&desktop, &office, "viewer", &viewer_totp).await;
    desktop.goto(&format!("{base}/backoffice/aml")).await.unwrap();
    wait_text(&desktop, "#alerts caption", |t| t == "1 alerts in the queue").await;
    for selector in ["form[data-submit]", "button[data-action]", "details.work"] {
        assert!(
            desktop.find_all(Locator::Css(selector)).await.unwrap().is_empty(),
            "{selector} shown to read-only"
        );
    }
    assert!(
        desktop
            .find_all(Locator::Css("nav a[href='/backoffice/kyc']"))
            .await
            .unwrap()
            .is_empty()
    );
    let alert = desktop
        .find(Locator::Css("#alerts tr[data-alert]"))
        .await
        .unwrap()
        .attr("data-alert")
        .await
        .unwrap()
        .unwrap();
    let forced = desktop
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const token = JSON.parse(document.body.getAttribute('hx-headers'))['x-csrf-token'];
             fetch('/operator/v1/risk/cases', {method: 'POST', credentials: 'same-origin',
                 headers: {'x-csrf-token': token, 'content-type': 'application/json'},
                 body: JSON.stringify({alerts: [Number(arguments[0])], summary: 'forced'})})
               .then(r => r.json().then(b => done([r.status, b.error && b.error.code])));",
            vec![json!(alert)],
        )
        .await
        .unwrap();
    assert_eq!(forced, json!([403, "forbidden"]));
    desktop.goto(&format!("{base}/backoffice/games")).await.unwrap();
    wait_for(&desktop, "#games tr[data-game]").await;
    assert!(
        desktop
            .find_all(Locator::Css("button[data-action]"))
            .await
            .unwrap()
            .is_empty()
    );
    desktop.close().await.unwrap();
}

/// Reads `selector`'s text once it is there and not "…" (a panel the
/// script fills).
async fn loaded_text(client: &Client, selector: &str) -> String {
    wait_text(client, selector, |t| !t.is_empty() && t != "…").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaigns_and_the_player_360s_analytics_work_in_headless_chromium() {
    let Some(driver_path) = chromedriver() else {
        assert!(!in_ci(), "chromedriver is missing: run scripts/install-browser");
        eprintln!("skipped: no chromedriver (run scripts/install-browser)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let office = Office::start(dir.path()).await;
    let (_, _, mkt_totp) = office.enrolled("mkt", "marketing").await;
    let (_, _, aml_totp) = office.enrolled("aml", "compliance").await;
    let (_, _, viewer_totp) = office.enrolled("viewer", "read-only").await;
    let player = office.player();
    let uplift = crate::backoffice_pages::campaign_with_uplift(&office).await;
    let (_driver, port) = start_driver(&driver_path).await;
    let base = office.server().base.clone();

    // Marketing: the campaign with its uplift as the API has it, the
    // segment's member count, at both widths.
    let desktop = browser(port, false).await;
    login(&desktop, &office, "mkt", &mkt_totp).await;
    let pages = ["/backoffice/campaigns".to_owned()];
    check_widths(&desktop, &base, &pages, 1280).await;
    let table = "table[data-uplift=welcome]";
    for (arm, key) in [("targets", "targets"), ("control", "control")] {
        let row = format!("{table} tr[data-arm={arm}]");
        let players = loaded_text(&desktop, &format!("{row} [data-field=players]")).await;
        assert_eq!(players, uplift[key]["players"].to_string());
        for field in ["deposits_per_player", "ggr_per_player"] {
            let shown = loaded_text(&desktop, &format!("{row} [data-field={field}]")).await;
            assert_eq!(shown, format!("{} EUR", uplift[key][field].as_str().unwrap()));
        }
    }
    let shown = loaded_text(
        &desktop,
        &format!("{table} tr[data-arm=uplift] [data-field=deposits_uplift_per_player]"),
    )
    .await;
    assert_eq!(
        shown,
        format!("{} EUR", uplift["deposits_uplift_per_player"].as_str().unwrap())
    );
    let (_, members) = office
        .api(
            office.admin(),
            reqwest::Method::GET,
            "/operator/v1/segments/depositors/members",
            None,
        )
        .await;
    let count = loaded_text(&desktop, "#segments tr[data-segment=depositors] [data-loaded=true]").await;
    assert_eq!(count, members["count"].to_string());
    shoot(&desktop, "campaigns-desktop").await;
    // A segment defined from the page's form, through the operator API.
    fill(&desktop, "#segment-code", "malta").await;
    fill(&desktop, "#segment-name", "Malta").await;
    fill(&desktop, "#segment-all", "[{\"country\": [\"MT\"]}]").await;
    click(&desktop, "form.segment button[type=submit]").await;
    wait_text(&desktop, "#flash", |t| t.contains("Segment saved")).await;
    wait_for(&desktop, "#segments tr[data-segment=malta]").await;
    let (status, made) = office
        .api(
            office.admin(),
            reqwest::Method::GET,
            "/operator/v1/segments/malta",
            None,
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{made}");
    assert_eq!(made["name"], "Malta");
    // A campaign defined from the page's form: triggered by deposits,
    // the offer alone (no channel).
    fill(&desktop, "#campaign-code", "malta-gift").await;
    fill(&desktop, "#campaign-name", "Malta gift").await;
    fill(&desktop, "#campaign-offer", "gift").await;
    fill(&desktop, "#campaign-message", "A gift for you").await;
    for (select, value) in [
        ("#campaign-segment", "malta"),
        ("#campaign-channel", "none"),
        ("#campaign-trigger", "deposit"),
    ] {
        wait_for(&desktop, select).await.select_by_value(value).await.unwrap();
    }
    click(&desktop, "form.campaign button[type=submit]").await;
    wait_text(&desktop, "#flash", |t| t.contains("Campaign saved")).await;
    let row = "#campaigns tr[data-campaign=malta-gift]";
    assert_eq!(
        loaded_text(&desktop, &format!("{row} [data-field=state]")).await,
        "live"
    );
    let (status, made) = office
        .api(
            office.admin(),
            reqwest::Method::GET,
            "/operator/v1/campaigns/malta-gift",
            None,
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{made}");
    assert_eq!(
        (
            &made["segment"],
            &made["offer"],
            &made["channel"],
            &made["trigger"],
            &made["control_pct"]
        ),
        (
            &json!("malta"),
            &json!("gift"),
            &json!("none"),
            &json!("deposit"),
            &json!(10)
        )
    );
    office.server().advance(30_000);
    let phone = browser(port, true).await;
    login(&phone, &office, "mkt", &mkt_totp).await;
    check_widths(&phone, &base, &pages, 375).await;
    wait_for(&phone, "#segments [data-loaded=true]").await;
    shoot(&phone, "campaigns-phone").await;
    phone.close().await.unwrap();

    // Compliance: markers and interventions on the 360, no churn; an
    // intervention sent from there lands in the timeline and the RG read.
    desktop.delete_all_cookies().await.unwrap();
    login(&desktop, &office, "aml", &aml_totp).await;
    desktop
        .goto(&format!("{base}/backoffice/players/{player}"))
        .await
        .unwrap();
    let (status, markers) = office
        .api(
            office.admin(),
            reqwest::Method::GET,
            &format!("/operator/v1/players/{player}/markers"),
            None,
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{markers}");
    let score = loaded_text(&desktop, "#markers strong[data-loaded=true]").await;
    assert_eq!(score, markers["score"].to_string());
    wait_for(&desktop, "#interventions div[data-loaded=true]").await;
    assert!(desktop.find_all(Locator::Css("#churn")).await.unwrap().is_empty());
    click(&desktop, "#interventions button[value=reality_check]").await;
    wait_text(&desktop, "#flash", |t| t.contains("Intervention sent")).await;
    wait_for(&desktop, "#timeline li[data-what=intervention]").await;
    wait_text(&desktop, "#interventions div[data-loaded=true]", |t| {
        t.contains("reality_check")
    })
    .await;
    desktop
        .execute("document.getElementById('interventions').scrollIntoView();", vec![])
        .await
        .unwrap();
    shoot(&desktop, "player-360-analytics-desktop").await;
    let (status, rg) = office
        .api(
            office.admin(),
            reqwest::Method::GET,
            &format!("/operator/v1/players/{player}/rg"),
            None,
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{rg}");
    assert_eq!(rg["interventions"][0]["kind"], "reality_check");
    assert_eq!(rg["interventions"][0]["answered"], false);

    // Read-only: no markers or interventions (nor a way to force one);
    // the churn panel says plainly that no model is trained yet.
    desktop.delete_all_cookies().await.unwrap();
    login(&desktop, &office, "viewer", &viewer_totp).await;
    desktop
        .goto(&format!("{base}/backoffice/players/{player}"))
        .await
        .unwrap();
    let churn = wait_text(&desktop, "#churn div[data-status='409']", |t| !t.is_empty()).await;
    assert!(churn.contains("no churn model yet"), "{churn}");
    for selector in ["#markers", "#interventions", "form.intervene"] {
        assert!(
            desktop.find_all(Locator::Css(selector)).await.unwrap().is_empty(),
            "{selector} shown to read-only"
        );
    }
    let forced = desktop
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const token = JSON.parse(document.body.getAttribute('hx-headers'))['x-csrf-token'];
             fetch(arguments[0], {method: 'POST', credentials: 'same-origin',
                 headers: {'x-csrf-token': token, 'content-type': 'application/json'},
                 body: JSON.stringify({kind: 'reality_check'})})
               .then(r => r.json().then(b => done([r.status, b.error && b.error.code])));",
            vec![json!(format!("/operator/v1/players/{player}/interventions"))],
        )
        .await
        .unwrap();
    assert_eq!(forced, json!([403, "forbidden"]));
    desktop.close().await.unwrap();
}
