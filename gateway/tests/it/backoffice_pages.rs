//! The back office's queues and management pages through the real server,
//! over HTTP: the dashboard's NGR and open-alerts figures against the
//! business report, the KYC review and AML queues worked from a
//! compliance session through the operator API (and refused to a
//! read-only one), the rest of the player 360 (risk score, bonuses,
//! statement, timeline), the games page's live performance and the
//! dashboard's hourly charts, the games, bonuses, reports and operators pages,
//! each showing its buttons only to the roles the API lets use them.

use crate::backoffice::Office;
use crate::support::Http;

use reqwest::header::COOKIE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A JSON call as the pages' script sends it: the session cookie, its CSRF
/// token, a JSON body.
async fn send(
    office: &Office,
    session: &str,
    csrf: &str,
    method: Method,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let response = office
        .http
        .request(method, format!("{}{path}", office.server().base))
        .header(COOKIE, format!("croupier_bo={session}"))
        .header("x-csrf-token", csrf)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The text between `data-figure="{name}"` and the next tag's end.
fn figure(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("data-figure=\"{name}\""))
        .unwrap_or_else(|| panic!("no {name}: {html}"));
    let rest = &html[at..];
    let text: String = rest[rest.find('>').unwrap() + 1..]
        .split("</")
        .next()
        .unwrap()
        .rsplit('>')
        .next()
        .unwrap()
        .to_owned();
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_reports_ngr_and_open_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let office = Office::start(dir.path()).await;
    let (_, _, totp) = office.enrolled("aml", "compliance").await;
    let (session, _) = office.session("aml", &totp).await;
    let dashboard = office.page(&session, "/backoffice").await;
    assert_eq!(figure(&dashboard.body, "open_alerts"), "0");
    // A 5.00 bonus without wagering, credited as cash.
    let gift = json!({"name": "Gift", "kind": "no_deposit", "currency": "EUR", "amount": "5.00",
        "wagering_x": 0, "expiry_days": 7});
    let (status, reply) = office
        .api(
            office.admin(),
            Method::PUT,
            "/operator/v1/bonus-templates/gift",
            Some(gift),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let grants = format!("/operator/v1/players/{}/bonuses", office.player());
    let (status, reply) = office
        .api(office.admin(), Method::POST, &grants, Some(json!({"template": "gift"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    // Two bets of 1.00, then a win of 2,500.00: GGR −2,498.00, a large-win alert.
    for (id, round) in [("bet-1", "r-1"), ("bet-2", "r-2")] {
        let bet = office.world.bet(Http::V1, id, "1.00", round).await;
        assert_eq!(bet.status, StatusCode::OK, "{}", bet.text());
    }
    let win = office.world.win(Http::V1, "win-1", "2500.00", "r-1").await;
    assert_eq!(win.status, StatusCode::OK, "{}", win.text());
    let dashboard = office.page(&session, "/backoffice").await;
    assert_eq!(figure(&dashboard.body, "ggr_EUR"), "-2498.00 EUR");
    assert_eq!(figure(&dashboard.body, "open_alerts"), "1");
    // The same figures as the business report's, to the cent.
    let day = time::OffsetDateTime::from_unix_timestamp((office.server().now() / 1000) as i64)
        .unwrap()
        .date();
    let path = format!("/operator/v1/reports/business?from={day}&to={day}");
    let (status, report) = office.api(office.admin(), Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let table = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ggr_by_day")
        .unwrap();
    let column = |name: &str| {
        table["columns"]
            .as_array()
            .unwrap()
            .iter()
            .position(|c| c == name)
            .unwrap()
    };
    let row = &table["rows"][0];
    for figure_name in ["ggr", "ngr"] {
        let reported = row[column(figure_name)].as_str().unwrap();
        assert_eq!(
            figure(&dashboard.body, &format!("{figure_name}_EUR")),
            format!("{reported} EUR"),
            "{figure_name}: {report}"
        );
    }
    let templates = office.page(&session, "/backoffice/bonuses").await;
    assert!(templates.body.contains("1 bonus templates"), "{}", templates.body);
    assert!(templates.body.contains("data-template=\"gift\""), "{}", templates.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_games_page_shows_live_performance_and_the_dashboard_hourly_charts() {
    let dir = tempfile::tempdir().unwrap();
    let office = Office::start(dir.path()).await;
    let (_, _, fin_totp) = office.enrolled("fin", "finance").await;
    let (_, _, desk_totp) = office.enrolled("desk", "support").await;
    let (fin, _) = office.session("fin", &fin_totp).await;
    let (desk, _) = office.session("desk", &desk_totp).await;
    // 2.00 staked, 0.50 won in the game "slots" (not catalogued).
    let bet = office.world.bet(Http::V1, "bet-1", "2.00", "r-1").await;
    assert_eq!(bet.status, StatusCode::OK, "{}", bet.text());
    let win = office.world.win(Http::V1, "win-1", "0.50", "r-1").await;
    assert_eq!(win.status, StatusCode::OK, "{}", win.text());

    let page = office.page(&fin, "/backoffice/games").await;
    assert_eq!(page.status, StatusCode::OK);
    let table = page
        .body
        .split("id=\"performance\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no performance table: {}", page.body));
    assert!(table.contains("Live performance, last 24 hours (1)"), "{table}");
    assert!(table.contains("data-performance=\"slots/EUR\""), "{table}");
    assert!(table.contains("data-label=\"Turnover\">2.00 EUR<"), "{table}");
    assert!(table.contains("data-label=\"GGR\">1.50 EUR<"), "{table}");
    assert!(table.contains("data-label=\"RTP actual\">25.00 %<"), "{table}");
    // Not in the catalogue: no configured RTP, so no test.
    assert!(table.contains("data-rtp=\"few\""), "{table}");
    let support = office.page(&desk, "/backoffice/games").await;
    assert_eq!(support.status, StatusCode::OK);
    assert!(!support.body.contains("id=\"performance\""), "support reads no figures");

    let dashboard = office.page(&fin, "/backoffice").await;
    for chart in ["deposits_EUR", "ggr_EUR"] {
        assert!(
            dashboard.body.contains(&format!("data-chart=\"{chart}\"")),
            "{chart}: {}",
            dashboard.body
        );
    }
    assert!(
        dashboard
            .body
            .contains("aria-label=\"GGR in EUR per hour, last 24 hours\""),
        "{}",
        dashboard.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kyc_and_aml_queues_are_worked_through_the_operator_api_by_role() {
    let dir = tempfile::tempdir().unwrap();
    let office = Office::start(dir.path()).await;
    let player = office.player();
    let (_, _, aml_totp) = office.enrolled("aml", "compliance").await;
    let (_, _, support_totp) = office.enrolled("desk", "support").await;
    let (_, _, viewer_totp) = office.enrolled("viewer", "read-only").await;
    let (aml, aml_csrf) = office.session("aml", &aml_totp).await;
    let (desk, _) = office.session("desk", &support_totp).await;
    let (viewer, viewer_csrf) = office.session("viewer", &viewer_totp).await;

    // KYC: a pending player is in the queue; compliance decides there.
    office.server().advance(1_000);
    let kyc = format!("/operator/v1/players/{player}/kyc");
    let (status, reply) = send(
        &office,
        &aml,
        &aml_csrf,
        Method::PUT,
        &kyc,
        json!({"level": "pending", "reason": "documents asked"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let queue = office.page(&aml, "/backoffice/kyc").await;
    assert!(queue.body.contains("1 awaiting a decision"), "{}", queue.body);
    assert!(queue.body.contains(&format!("data-submit=\"{kyc}\"")), "{}", queue.body);
    let read_only = office.page(&desk, "/backoffice/kyc").await;
    assert_eq!(read_only.status, StatusCode::OK);
    assert!(read_only.body.contains("documents asked"), "{}", read_only.body);
    assert!(
        !read_only.body.contains("data-submit"),
        "support may not decide: {}",
        read_only.body
    );
    let refused = office.page(&viewer, "/backoffice/kyc").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        !refused.body.contains("href=\"/backoffice/kyc\""),
        "not in the navigation"
    );
    // Verifying needs a date of birth: the API's refusal, nothing changes.
    let (status, reply) = send(
        &office,
        &aml,
        &aml_csrf,
        Method::PUT,
        &kyc,
        json!({"level": "verified", "reason": "looked fine"}),
    )
    .await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("age_unknown"))
    );
    assert!(
        office
            .page(&aml, "/backoffice/kyc")
            .await
            .body
            .contains("1 awaiting a decision")
    );
    let (status, _) = send(
        &office,
        &aml,
        &aml_csrf,
        Method::PUT,
        &kyc,
        json!({"level": "rejected", "reason": "document forged"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        office
            .page(&aml, "/backoffice/kyc")
            .await
            .body
            .contains("0 awaiting a decision")
    );

    // AML: a large win raises an alert in the queue.
    office.server().advance(1_000);
    assert_eq!(
        office.world.bet(Http::V1, "bet-1", "1.00", "r-1").await.status,
        StatusCode::OK
    );
    assert_eq!(
        office.world.win(Http::V1, "win-1", "2500.00", "r-1").await.status,
        StatusCode::OK
    );
    let page = office.page(&aml, "/backoffice/aml").await;
    assert!(page.body.contains("1 alerts in the queue"), "{}", page.body);
    assert!(page.body.contains("large_win"), "{}", page.body);
    assert!(
        page.body.contains("data-submit=\"/operator/v1/risk/cases\""),
        "{}",
        page.body
    );
    let alert = page
        .body
        .split("data-alert=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    // The read-only operator sees the queue, no forms, and is refused by the API.
    let seen = office.page(&viewer, "/backoffice/aml").await;
    assert!(seen.body.contains("large_win"), "{}", seen.body);
    assert!(!seen.body.contains("data-submit"), "{}", seen.body);
    let (status, reply) = send(
        &office,
        &viewer,
        &viewer_csrf,
        Method::POST,
        "/operator/v1/risk/cases",
        json!({"alerts": [alert], "summary": "forced"}),
    )
    .await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    assert_eq!(
        office.page(&desk, "/backoffice/aml").await.status,
        StatusCode::FORBIDDEN
    );

    // Compliance opens, assigns, annotates and resolves a case.
    let (status, file) = send(
        &office,
        &aml,
        &aml_csrf,
        Method::POST,
        "/operator/v1/risk/cases",
        json!({"alerts": [alert], "summary": "large win on player"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    let case = file["case"]["id"].as_u64().unwrap();
    let page = office.page(&aml, "/backoffice/aml").await;
    assert!(page.body.contains("0 alerts in the queue"), "{}", page.body);
    assert!(page.body.contains(&format!("data-case=\"{case}\"")), "{}", page.body);
    assert!(
        page.body
            .contains(&format!("data-submit=\"/operator/v1/risk/cases/{case}/resolution\"")),
        "{}",
        page.body
    );
    let base = format!("/operator/v1/risk/cases/{case}");
    let (_, me) = office
        .api(office.admin(), Method::GET, "/operator/v1/operators", None)
        .await;
    let aml_id = me["operators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "aml")
        .unwrap()["operator"]
        .clone();
    let steps = [
        (Method::PUT, format!("{base}/assignee"), json!({"operator": aml_id})),
        (
            Method::POST,
            format!("{base}/notes"),
            json!({"text": "source of funds asked"}),
        ),
    ];
    for (method, path, body) in steps {
        let (status, reply) = send(&office, &aml, &aml_csrf, method, &path, body).await;
        assert_eq!(status, StatusCode::OK, "{path}: {reply}");
    }
    let page = office.page(&aml, "/backoffice/aml").await;
    assert!(page.body.contains("source of funds asked"), "{}", page.body);
    assert!(page.body.contains("data-field=\"assignee\">aml<"), "{}", page.body);
    let dashboard = office.page(&aml, "/backoffice").await;
    assert_eq!(figure(&dashboard.body, "open_alerts"), "1", "in an open case");
    // An action from the case is a journaled command on the player.
    assert!(
        page.body.contains(&format!("data-submit=\"{base}/actions\"")),
        "{}",
        page.body
    );
    let (status, reply) = send(
        &office,
        &aml,
        &aml_csrf,
        Method::POST,
        &format!("{base}/actions"),
        json!({"action": "suspend", "reason": "pending source of funds"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let account = office.page(&aml, &format!("/backoffice/players/{player}")).await;
    assert!(
        account.body.contains("data-field=\"status\">suspended"),
        "{}",
        account.body
    );
    let audit = office.page(&aml, "/backoffice/audit").await;
    let row = audit
        .body
        .split("<tr")
        .find(|row| row.contains("data-kind=\"set_status\""))
        .unwrap_or_else(|| panic!("the action's audit row: {}", audit.body));
    assert!(row.contains(">aml<") && row.contains("active → suspended"), "{row}");
    assert!(row.contains("pending source of funds"), "the reason: {row}");
    let (status, _) = send(
        &office,
        &aml,
        &aml_csrf,
        Method::POST,
        &format!("{base}/resolution"),
        json!({"outcome": "no_action", "text": "winnings from play"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let page = office.page(&aml, "/backoffice/aml").await;
    assert!(page.body.contains("Open cases (0)"), "{}", page.body);
    assert!(page.body.contains("no_action"), "{}", page.body);
    let dashboard = office.page(&aml, "/backoffice").await;
    assert_eq!(figure(&dashboard.body, "open_alerts"), "0");

    // The 360's timeline is the support module's: every journaled record
    // about the player, newest first, a round one row; the risk score is
    // for risk readers.
    let path = format!("/backoffice/players/{player}");
    let page = office.page(&aml, &path).await;
    let whats: Vec<&str> = page
        .body
        .split("data-what=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    for what in [
        "register_player",
        "deposit",
        "set_kyc_level",
        "round",
        "risk_case_open",
        "set_status",
    ] {
        assert!(whats.contains(&what), "{what}: {whats:?}");
    }
    let at = |what: &str| whats.iter().position(|w| *w == what).unwrap();
    assert!(at("set_status") < at("risk_case_open"), "newest first: {whats:?}");
    assert!(at("risk_case_open") < at("round"));
    assert!(at("round") < at("deposit"));
    assert!(at("deposit") < at("register_player"));
    assert!(page.body.contains("staked "), "the round's stake: {}", page.body);
    assert!(page.body.contains("/risk/players/"), "{}", page.body);
    assert!(!page.body.contains("bonuses/forfeit"), "compliance may not forfeit");
    let support_view = office.page(&desk, &path).await;
    assert!(!support_view.body.contains("/risk/players/"), "{}", support_view.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_games_bonuses_reports_and_operators_pages_follow_roles() {
    let dir = tempfile::tempdir().unwrap();
    let office = Office::start(dir.path()).await;
    let player = office.player();
    let (boss_id, _, boss_totp) = office.enrolled("boss", "admin").await;
    let (fin_id, _, fin_totp) = office.enrolled("fin", "finance").await;
    let (_, _, desk_totp) = office.enrolled("desk", "support").await;
    let (boss, boss_csrf) = office.session("boss", &boss_totp).await;
    let (fin, _) = office.session("fin", &fin_totp).await;
    let (desk, _) = office.session("desk", &desk_totp).await;

    // The statement: a period's CSV through the operator API.
    let day = time::OffsetDateTime::from_unix_timestamp((office.server().now() / 1000) as i64)
        .unwrap()
        .date();
    let asked = office
        .page(
            &fin,
            &format!("/backoffice/players/{player}/statement?from={day}&to={day}&format=csv"),
        )
        .await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER);
    let location = asked.location.unwrap();
    assert!(
        location.starts_with(&format!("/operator/v1/players/{player}/statement?from=")),
        "{location}"
    );
    let csv = office.page(&fin, &location).await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.body);
    assert!(csv.body.starts_with("seq,time,"), "{}", csv.body);
    assert!(csv.body.contains("100.00"), "the deposit: {}", csv.body);
    for bad in [
        "from=2026-13-01&to=2026-12-01",
        "from=2026-12-02&to=2026-12-01",
        "from=&to=",
    ] {
        let refused = office
            .page(&fin, &format!("/backoffice/players/{player}/statement?{bad}"))
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
    }

    // Games: a catalogued game, disabled from the page's button by an admin.
    let agg = office.world.aggregator.id;
    let (status, reply) = office
        .api(
            office.admin(),
            Method::PUT,
            "/operator/v1/games/providers/studio",
            Some(json!({"name": "Studio", "aggregators": [agg]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let game = json!({"provider": "studio", "name": "Lucky Sevens", "type": "slot", "volatility": "high",
        "rtp_variants_bp": [9600], "rtp_default_bp": 9600, "rtp_by_jurisdiction": {},
        "limits": [{"currency": "EUR", "min": "0.10", "max": "50.00"}], "jurisdictions": ["MT"]});
    let (status, reply) = office
        .api(
            office.admin(),
            Method::PUT,
            &format!("/operator/v1/games/{agg}/sevens"),
            Some(game),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let disable = format!("/operator/v1/games/{agg}/sevens/disable");
    let page = office.page(&boss, "/backoffice/games?type=slot&jurisdiction=mt").await;
    assert!(page.body.contains("1 games"), "{}", page.body);
    assert!(
        page.body.contains(&format!("data-action=\"{disable}\"")),
        "{}",
        page.body
    );
    let filtered = office.page(&boss, "/backoffice/games?type=live").await;
    assert!(filtered.body.contains("0 games"), "{}", filtered.body);
    let fin_page = office.page(&fin, "/backoffice/games").await;
    assert!(fin_page.body.contains("Lucky Sevens"), "{}", fin_page.body);
    assert!(
        !fin_page.body.contains("data-action"),
        "finance may not: {}",
        fin_page.body
    );
    let (status, _) = send(&office, &boss, &boss_csrf, Method::POST, &disable, Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let page = office.page(&boss, "/backoffice/games?enabled=false").await;
    assert!(page.body.contains("data-field=\"state\">disabled<"), "{}", page.body);
    assert!(
        page.body.contains(&format!("/operator/v1/games/{agg}/sevens/enable")),
        "{}",
        page.body
    );

    // Bonuses: the templates list for everyone.
    let bonuses = office.page(&desk, "/backoffice/bonuses").await;
    assert_eq!(bonuses.status, StatusCode::OK);
    assert!(bonuses.body.contains("0 bonus templates"), "{}", bonuses.body);
    // The forfeit button on the 360 is an admin's.
    let path = format!("/backoffice/players/{player}");
    assert!(office.page(&boss, &path).await.body.contains("bonuses/forfeit"));
    assert!(!office.page(&fin, &path).await.body.contains("bonuses/forfeit"));

    // Reports: the form leads to the operator API's report; support has none.
    let form = office.page(&fin, "/backoffice/reports").await;
    assert!(form.body.contains("value=\"ukgc-quarterly\""), "{}", form.body);
    // Every report the form offers is one the API serves.
    let select = form
        .body
        .split("<select id=\"report\"")
        .nth(1)
        .unwrap()
        .split("</select>")
        .next()
        .unwrap();
    let offered: Vec<&str> = select
        .split("value=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert_eq!(offered.len(), 5, "{select}");
    for report in offered {
        let (period, value) = if report == "ukgc-quarterly" {
            ("quarter", "2026Q1")
        } else {
            ("month", "2026-01")
        };
        let opened = office
            .page(
                &fin,
                &format!("/backoffice/reports/open?report={report}&period={period}&{period}={value}&format=json"),
            )
            .await;
        let location = opened.location.unwrap_or_else(|| panic!("{report}: {}", opened.body));
        let served = office.page(&fin, &location).await;
        assert_eq!(served.status, StatusCode::OK, "{report}: {}", served.body);
    }
    let opened = office
        .page(
            &fin,
            "/backoffice/reports/open?report=business&period=month&month=2026-11&currency=eur&format=csv",
        )
        .await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER);
    let location = opened.location.unwrap();
    assert_eq!(
        location,
        "/operator/v1/reports/business?month=2026-11&currency=EUR&format=csv"
    );
    let report = office.page(&fin, &location).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    let missing = office
        .page(&fin, "/backoffice/reports/open?report=business&period=quarter&quarter=")
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        office
            .page(&fin, "/backoffice/reports/open?report=nope&period=month&month=2026-11")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        office.page(&desk, "/backoffice/reports").await.status,
        StatusCode::FORBIDDEN
    );

    // Operators: an admin's page; a role change through it is journaled.
    assert_eq!(
        office.page(&fin, "/backoffice/operators").await.status,
        StatusCode::FORBIDDEN
    );
    let page = office.page(&boss, "/backoffice/operators").await;
    assert!(
        page.body.contains(&format!("/operator/v1/operators/{fin_id}/role")),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains(&format!("/operator/v1/operators/{boss_id}/disable")),
        "no disabling oneself: {}",
        page.body
    );
    let (status, reply) = send(
        &office,
        &boss,
        &boss_csrf,
        Method::PUT,
        &format!("/operator/v1/operators/{fin_id}/role"),
        json!({"role": "read-only"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let page = office.page(&boss, "/backoffice/operators").await;
    let row = page
        .body
        .split("<tr")
        .find(|row| row.contains(&format!("data-operator=\"{fin_id}\"")))
        .unwrap();
    assert!(row.contains("data-field=\"role\">read-only<"), "{row}");
    let audit = office.page(&boss, "/backoffice/audit").await;
    assert!(audit.body.contains("boss"), "{}", audit.body);
}

/// The player 360's notes and tickets: support adds a note through the
/// form's API call and sees it with the player's tickets; compliance reads
/// both without the form; read-only sees neither and is refused by the API
/// if it forces the note.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_player_360_shows_notes_and_tickets_by_role() {
    let dir = tempfile::tempdir().unwrap();
    let office = Office::start(dir.path()).await;
    let player = office.player();
    let (_, _, desk_totp) = office.enrolled("desk", "support").await;
    let (_, _, aml_totp) = office.enrolled("aml", "compliance").await;
    let (_, _, viewer_totp) = office.enrolled("viewer", "read-only").await;
    let (desk, desk_csrf) = office.session("desk", &desk_totp).await;
    let (aml, _) = office.session("aml", &aml_totp).await;
    let (viewer, viewer_csrf) = office.session("viewer", &viewer_totp).await;
    let path = format!("/backoffice/players/{player}");
    let notes = format!("/operator/v1/players/{player}/notes");

    let empty = office.page(&desk, &path).await;
    assert!(
        empty.body.contains("No notes.") && empty.body.contains("No tickets."),
        "{}",
        empty.body
    );
    assert!(
        empty.body.contains(&format!("data-submit=\"{notes}\"")),
        "support has the form"
    );

    // The form's call, as the page's script sends it.
    let (status, note) = send(
        &office,
        &desk,
        &desk_csrf,
        Method::POST,
        &notes,
        json!({"text": "Prefers email <b>"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    let (status, ticket) = office
        .api(
            office.admin(),
            Method::POST,
            "/operator/v1/tickets",
            Some(json!({"player": player, "subject": "Withdrawal late", "priority": "high"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    let id = ticket["ticket"]["id"].as_u64().unwrap();

    let page = office.page(&desk, &path).await;
    assert!(
        page.body.contains(&format!("data-note=\"{}\"", note["id"])),
        "{}",
        page.body
    );
    assert!(page.body.contains("Prefers email &lt;b&gt;"), "escaped: {}", page.body);
    assert!(page.body.contains(&format!("data-ticket=\"{id}\"")), "{}", page.body);
    assert!(page.body.contains("Withdrawal late"));
    let compliance = office.page(&aml, &path).await;
    assert!(compliance.body.contains("Prefers email"), "compliance reads notes");
    assert!(compliance.body.contains("Withdrawal late"));
    assert!(
        !compliance.body.contains(&format!("data-submit=\"{notes}\"")),
        "no form for compliance"
    );
    let read_only = office.page(&viewer, &path).await;
    assert!(
        !read_only.body.contains("Prefers email"),
        "read-only does not read notes"
    );
    assert!(!read_only.body.contains("aria-label=\"Tickets\""));
    let (status, _) = send(
        &office,
        &viewer,
        &viewer_csrf,
        Method::POST,
        &notes,
        json!({"text": "forced"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, listed) = office.api(office.admin(), Method::GET, &notes, None).await;
    assert_eq!(
        listed["notes"].as_array().unwrap().len(),
        1,
        "the forced note changed nothing"
    );
}

/// A launched campaign with figures on both sides: a no-deposit gift
/// offered to every depositor (five more players than the office's),
/// half held back as the control group, then a deposit of a different
/// amount from each. Returns the API's uplift.
pub(crate) async fn campaign_with_uplift(office: &Office) -> Value {
    let admin = office.admin();
    let gift = json!({"name": "Gift", "kind": "no_deposit", "currency": "EUR", "amount": "5.00",
        "wagering_x": 0, "expiry_days": 7});
    let (status, reply) = office
        .api(admin, Method::PUT, "/operator/v1/bonus-templates/gift", Some(gift))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let mut players = vec![office.player()];
    for n in 1..=5 {
        let body = json!({"currency": "EUR", "jurisdiction": "MT"});
        let (status, made) = office
            .api(admin, Method::POST, "/operator/v1/players", Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let player = made["player"].as_u64().unwrap();
        deposit(office, player, &format!("seed-{n}"), "10.00").await;
        players.push(player);
    }
    let segment = json!({"name": "Depositors", "all": [
        {"deposits": {"currency": "EUR", "window_days": 30, "min_total": "1.00"}}]});
    let (status, reply) = office
        .api(admin, Method::PUT, "/operator/v1/segments/depositors", Some(segment))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let campaign = json!({"name": "Welcome back", "segment": "depositors", "offer": "gift", "channel": "none",
        "message": "A gift awaits you", "start_at_ms": office.server().now(), "control_pct": 50});
    let (status, reply) = office
        .api(admin, Method::PUT, "/operator/v1/campaigns/welcome", Some(campaign))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, shown) = office
            .api(admin, Method::GET, "/operator/v1/campaigns/welcome", None)
            .await;
        // Launched, and every target's grant delivered or failed: the
        // outbox drains in the background, so a page and an API read
        // compared before then could see two different counts.
        let settled = shown["delivered"].as_u64().unwrap_or(0) + shown["failed"].as_u64().unwrap_or(0);
        if shown["launched_seq"].is_u64() && shown["targets"].as_u64() == Some(settled) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not launched and delivered: {shown}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    office.server().advance(1_000);
    for (n, player) in players.iter().enumerate() {
        let amount = format!("{}.00", 5 * (n + 1));
        deposit(office, *player, &format!("after-{player}"), &amount).await;
    }
    let (status, uplift) = office
        .api(admin, Method::GET, "/operator/v1/campaigns/welcome/uplift", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{uplift}");
    assert!(uplift["targets"]["players"].as_u64().unwrap() > 0, "{uplift}");
    assert!(uplift["control"]["players"].as_u64().unwrap() > 0, "{uplift}");
    uplift
}

async fn deposit(office: &Office, player: u64, id: &str, amount: &str) {
    let path = format!("/operator/v1/players/{player}/deposits");
    let body = json!({"deposit_id": id, "currency": "EUR", "amount": amount});
    let (status, reply) = office.api(office.admin(), Method::POST, &path, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
}

/// The text of the `data-field="{field}"` cell in the uplift row `arm`.
fn uplift_cell(html: &str, arm: &str, field: &str) -> String {
    let table = &html[html.find("data-uplift=\"welcome\"").expect("the uplift table")..];
    let row = &table[table.find(&format!("data-arm=\"{arm}\"")).unwrap()..];
    figure_field(row, field)
}

fn figure_field(html: &str, field: &str) -> String {
    let at = html
        .find(&format!("data-field=\"{field}\""))
        .unwrap_or_else(|| panic!("no {field}: {html}"));
    let rest = &html[at..];
    rest[rest.find('>').unwrap() + 1..]
        .split('<')
        .next()
        .unwrap()
        .to_owned()
}

/// The campaigns page shows a campaign's counts and its uplift as the API
/// computes it; it is marketing's and admins', not read-only's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_campaigns_page_shows_the_apis_uplift_to_marketing_only() {
    let dir = tempfile::tempdir().unwrap();
    let office = Office::start(dir.path()).await;
    let (_, _, mkt_totp) = office.enrolled("mkt", "marketing").await;
    let (_, _, viewer_totp) = office.enrolled("viewer", "read-only").await;
    let (mkt, _) = office.session("mkt", &mkt_totp).await;
    let (viewer, _) = office.session("viewer", &viewer_totp).await;
    let uplift = campaign_with_uplift(&office).await;
    let page = office.page(&mkt, "/backoffice/campaigns").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("href=\"/backoffice/campaigns\""), "the nav row");
    let (_, shown) = office
        .api(office.admin(), Method::GET, "/operator/v1/campaigns/welcome", None)
        .await;
    let row = &page.body[page.body.find("data-campaign=\"welcome\"").expect("the campaign's row")..];
    for field in ["targets", "delivered", "failed", "controls", "skipped"] {
        assert_eq!(figure_field(row, field), shown[field].to_string(), "{field}");
    }
    assert_eq!(figure_field(row, "state"), "launched");
    for (arm, key) in [("targets", "targets"), ("control", "control")] {
        assert_eq!(
            uplift_cell(&page.body, arm, "players"),
            uplift[key]["players"].to_string()
        );
        for field in ["deposits_per_player", "ggr_per_player"] {
            assert_eq!(
                uplift_cell(&page.body, arm, field),
                format!("{} EUR", uplift[key][field].as_str().unwrap()),
                "{arm} {field}"
            );
        }
    }
    for field in ["deposits_uplift_per_player", "ggr_uplift_per_player"] {
        assert_eq!(
            uplift_cell(&page.body, "uplift", field),
            format!("{} EUR", uplift[field].as_str().unwrap()),
            "{field}"
        );
    }
    // The segment's member count is the API's (loaded by the script).
    assert!(
        page.body
            .contains("data-api=\"/operator/v1/segments/depositors/members?limit=1\" data-pick=\"count\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("data-submit=\"/operator/v1/campaigns/\""));
    let refused = office.page(&viewer, "/backoffice/campaigns").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(!refused.body.contains("data-campaign="));
    let home = office.page(&viewer, "/backoffice").await;
    assert!(!home.body.contains("href=\"/backoffice/campaigns\""));
}

/// The player 360's analytics panels follow the analytics API's roles:
/// markers and interventions (with the buttons) for compliance, churn for
/// read-only; the timeline is the support module's, round folded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_player_360_shows_analytics_panels_by_role_and_the_support_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let office = Office::start(dir.path()).await;
    let player = office.player();
    let (_, _, aml_totp) = office.enrolled("aml", "compliance").await;
    let (_, _, viewer_totp) = office.enrolled("viewer", "read-only").await;
    let (aml, _) = office.session("aml", &aml_totp).await;
    let (viewer, _) = office.session("viewer", &viewer_totp).await;
    for (id, amount) in [("bet-1", "1.00"), ("bet-2", "2.00")] {
        let bet = office.world.bet(Http::V1, id, amount, "r-1").await;
        assert_eq!(bet.status, StatusCode::OK, "{}", bet.text());
    }
    let path = format!("/backoffice/players/{player}");
    let page = office.page(&aml, &path).await;
    assert!(page.body.contains("id=\"markers\""), "{}", page.body);
    assert!(page.body.contains("id=\"interventions\""));
    assert!(
        page.body
            .contains(&format!("data-submit=\"/operator/v1/players/{player}/interventions\""))
    );
    assert!(!page.body.contains("id=\"churn\""), "compliance reads no churn");
    let seen = office.page(&viewer, &path).await;
    assert!(!seen.body.contains("id=\"markers\""));
    assert!(!seen.body.contains("id=\"interventions\""));
    assert!(seen.body.contains("id=\"churn\""), "{}", seen.body);
    // The timeline: the API's entries, newest first, the round one row.
    let (status, api) = office
        .api(
            office.admin(),
            Method::GET,
            &format!("/operator/v1/players/{player}/timeline?limit=1000"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{api}");
    let mut expected: Vec<u64> = api["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    expected.reverse();
    let shown: Vec<u64> = page
        .body
        .split("data-seq=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(shown, expected);
    let rounds = page.body.matches("data-what=\"round\"").count();
    assert_eq!(rounds, 1, "{}", page.body);
    assert!(page.body.contains("staked 3.00 EUR, won 0.00 EUR"), "{}", page.body);
}
