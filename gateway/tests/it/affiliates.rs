//! Affiliates end to end: commission plans and affiliate accounts set
//! (journaled, kept by the read model) with every refusal changing
//! nothing; registration attributing players by the profile's tracking
//! code (an unknown or disabled code records the player unattributed,
//! never refuses them); brands at registration and as a report filter;
//! and three months of play whose commission (revenue share of NGR after
//! the admin fee, negative carry-over, CPA on qualifying first deposits)
//! is checked to the cent against a hand computation from the flows the
//! server acknowledged, and against the business report's GGR; the cohort
//! retention report over the same players; roles on every route.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Http, Reply, World};

const DAY_MS: u64 = 86_400_000;

async fn op(w: &World, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
    w.server.op(Http::V1, token, method, path, body).await
}

async fn token(w: &World, name: &str, role: &str) -> String {
    let made = op(
        w,
        &w.admin,
        Method::POST,
        "/operator/v1/operators",
        Some(json!({"name": name, "role": role})),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    made.json()["token"].as_str().unwrap().to_owned()
}

fn plan() -> Value {
    json!({"name": "Rev share 25 % + CPA", "currency": "EUR", "revenue_share_bp": 2500, "admin_fee_bp": 1000,
        "negative_carry_over": true, "cpa_amount": "50.00", "cpa_threshold": "20.00"})
}

fn profile(n: u32, tracking: Option<&str>) -> Value {
    let mut profile = json!({"name": format!("Player Number{n}"), "email": format!("p{n}@example.com"),
        "phone": "+35621234567", "date_of_birth": "1990-01-01",
        "address": {"line": "1 Road", "city": "Valletta", "postcode": format!("VLT {n}")},
        "country": "MT", "language": "en", "marketing": {"email": false, "sms": false, "phone": false, "post": false}});
    if let Some(code) = tracking {
        profile["affiliate_code"] = json!(code);
    }
    profile
}

async fn register(w: &World, n: u32, tracking: Option<&str>, brand: Option<&str>) -> Reply {
    let mut body = json!({"currency": "EUR", "jurisdiction": "MT", "profile": profile(n, tracking)});
    if let Some(brand) = brand {
        body["brand"] = json!(brand);
    }
    op(w, &w.admin, Method::POST, "/operator/v1/registrations", Some(body)).await
}

async fn registered(w: &World, n: u32, tracking: Option<&str>, brand: Option<&str>) -> Value {
    let made = register(w, n, tracking, brand).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    made.json()
}

async fn fund(w: &World, player: u64, id: &str, amount: &str) {
    let body = json!({"deposit_id": id, "currency": "EUR", "amount": amount});
    let path = format!("/operator/v1/players/{player}/deposits");
    let funded = op(w, &w.admin, Method::POST, &path, Some(body)).await;
    assert_eq!(funded.status, StatusCode::OK, "{}", funded.text());
}

/// A bet and, if `win` is given, its win, in a fresh session.
async fn round(w: &World, player: u64, id: &str, stake: &str, win: Option<&str>) {
    let body = json!({"player": player, "currency": "EUR", "aggregator": w.aggregator.id, "ttl_ms": 60_000});
    let issued = op(w, &w.admin, Method::POST, "/operator/v1/sessions", Some(body)).await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text());
    let token = issued.json()["token"].as_str().unwrap().to_owned();
    let bet = json!({"token": token, "transaction_id": format!("{id}-b"), "round_id": id, "game": "slots",
        "currency": "EUR", "amount": stake});
    let reply = w.wallet(Http::V1, "bet", bet).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    if let Some(win) = win {
        let body = json!({"token": token, "transaction_id": format!("{id}-w"), "round_id": id, "game": "slots",
            "currency": "EUR", "amount": win});
        let reply = w.wallet(Http::V1, "win", body).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
}

/// The row of `table` whose leading columns are `key`, as column → value.
fn row(report: &Value, table: &str, key: &[&str]) -> Option<std::collections::BTreeMap<String, String>> {
    let table = report["tables"].as_array()?.iter().find(|t| t["name"] == table)?;
    let columns: Vec<String> = serde_json::from_value(table["columns"].clone()).unwrap();
    let rows: Vec<Vec<String>> = serde_json::from_value(table["rows"].clone()).unwrap();
    let found = rows.iter().find(|r| r.iter().zip(key).all(|(a, b)| a == b))?;
    Some(columns.into_iter().zip(found.iter().cloned()).collect())
}

fn rows(report: &Value, table: &str) -> usize {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == table)
        .map_or(0, |t| t["rows"].as_array().unwrap().len())
}

async fn json_ok(w: &World, token: &str, path: &str) -> Value {
    let reply = op(w, token, Method::GET, path, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
    reply.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn affiliates_and_plans_are_journaled_and_refusals_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let marketing = token(&w, "growth", "marketing").await;
    let finance = token(&w, "books", "finance").await;
    let support = token(&w, "desk", "support").await;
    let put = |token: String, path: &'static str, body: Value| {
        let w = &w;
        async move { op(w, &token, Method::PUT, path, Some(body)).await }
    };

    // A plan first: an affiliate may only name a plan that exists.
    let early = put(
        marketing.clone(),
        "/operator/v1/affiliates/acme-media",
        json!({"name": "Acme Media", "contact": "ops@acme.example", "plan": "rs25"}),
    )
    .await;
    assert_eq!(
        (early.status, early.code()),
        (StatusCode::NOT_FOUND, "unknown_plan".into())
    );
    let set = put(marketing.clone(), "/operator/v1/affiliate-plans/rs25", plan()).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    let body = set.json();
    assert_eq!(body["revenue_share_bp"], 2500);
    assert_eq!(body["admin_fee_bp"], 1000);
    assert_eq!(body["negative_carry_over"], true);
    assert_eq!(body["cpa_amount"], "50.00");
    assert_eq!(body["cpa_threshold"], "20.00");
    for (field, value, code) in [
        ("revenue_share_bp", json!(10_001), "invalid_plan"),
        ("admin_fee_bp", json!(20_000), "invalid_plan"),
        ("currency", json!("XXX"), "unknown_currency"),
        ("cpa_amount", json!("-1.00"), "invalid_amount"),
        ("cpa_threshold", json!("1.001"), "too_many_decimals"),
        ("name", json!(""), "invalid_plan"),
    ] {
        let mut bad = plan();
        bad[field] = value;
        let refused = put(marketing.clone(), "/operator/v1/affiliate-plans/bad", bad).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{field}: {}", refused.text());
        assert_eq!(refused.code(), code, "{field}");
    }

    let acme = json!({"name": "Acme Media", "contact": "ops@acme.example",
        "tracking_codes": ["am-1", "am-2"], "plan": "rs25"});
    let set = put(marketing.clone(), "/operator/v1/affiliates/acme-media", acme.clone()).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    assert_eq!(set.json()["status"], "active");
    assert_eq!(set.json()["tracking_codes"], json!(["am-1", "am-2"]));
    // Another affiliate may not take a code Acme has; Acme may keep it.
    let taken = put(
        w.admin.clone(),
        "/operator/v1/affiliates/other",
        json!({"name": "Other", "contact": "x", "tracking_codes": ["am-2"]}),
    )
    .await;
    assert_eq!(
        (taken.status, taken.code()),
        (StatusCode::CONFLICT, "tracking_code_taken".into())
    );
    let again = put(w.admin.clone(), "/operator/v1/affiliates/acme-media", acme.clone()).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    for (field, value) in [
        ("status", json!("paused")),
        ("tracking_codes", json!(["dup", "dup"])),
        ("tracking_codes", json!([""])),
        ("contact", json!("")),
    ] {
        let mut bad = acme.clone();
        bad[field] = value;
        let refused = put(marketing.clone(), "/operator/v1/affiliates/bad", bad).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{field}: {}", refused.text());
        assert_eq!(refused.code(), "invalid_affiliate", "{field}");
    }
    let unknown_field = put(
        marketing.clone(),
        "/operator/v1/affiliates/bad",
        json!({"name": "x", "contact": "y", "colour": "red"}),
    )
    .await;
    assert_eq!(unknown_field.status, StatusCode::BAD_REQUEST);

    // Nothing refused was recorded.
    let list = json_ok(&w, &finance, "/operator/v1/affiliates").await;
    let codes: Vec<&str> = list["affiliates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["acme-media"]);
    let plans = json_ok(&w, &finance, "/operator/v1/affiliate-plans").await;
    assert_eq!(plans["plans"].as_array().unwrap().len(), 1);
    let shown = json_ok(&w, &finance, "/operator/v1/affiliates/acme-media").await;
    assert_eq!(shown["plan"], "rs25");
    assert_eq!(shown["contact"], "ops@acme.example");
    let shown = json_ok(&w, &finance, "/operator/v1/affiliate-plans/rs25").await;
    assert_eq!(shown["currency"], "EUR");
    for path in [
        "/operator/v1/affiliates/nobody",
        "/operator/v1/affiliates/nobody/players",
        "/operator/v1/affiliate-plans/none",
    ] {
        let missing = op(&w, &finance, Method::GET, path, None).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{path}");
    }

    // Roles: support reads none of it; finance reads but does not write.
    for path in [
        "/operator/v1/affiliates",
        "/operator/v1/affiliates/acme-media",
        "/operator/v1/affiliate-plans",
        "/operator/v1/affiliates/acme-media/players",
    ] {
        let refused = op(&w, &support, Method::GET, path, None).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}");
    }
    let refused = put(finance.clone(), "/operator/v1/affiliate-plans/rs25", plan()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = put(support.clone(), "/operator/v1/affiliates/acme-media", acme.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let anonymous = w
        .server
        .send(Http::V1, Method::GET, "/operator/v1/affiliates", &[], None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

/// Player `n`'s id from a registration reply.
fn id(reply: &Value) -> u64 {
    reply["player"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_attributes_and_the_commission_reconciles_to_the_cent() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let marketing = token(&w, "growth", "marketing").await;
    let finance = token(&w, "books", "finance").await;
    let support = token(&w, "desk", "support").await;
    let put = |path: String, body: Value| {
        let (w, token) = (&w, marketing.clone());
        async move {
            let reply = op(w, &token, Method::PUT, &path, Some(body)).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
        }
    };
    put("/operator/v1/affiliate-plans/rs25".into(), plan()).await;
    put(
        "/operator/v1/affiliates/acme-media".into(),
        json!({"name": "Acme Media", "contact": "ops@acme.example", "tracking_codes": ["am-1"], "plan": "rs25"}),
    )
    .await;
    put(
        "/operator/v1/affiliates/old".into(),
        json!({"name": "Old Partner", "contact": "old@example.com", "status": "disabled",
            "tracking_codes": ["old-1"], "plan": "rs25"}),
    )
    .await;
    put(
        "/operator/v1/brands/lucky".into(),
        json!({"name": "Lucky", "currencies": ["EUR"], "jurisdictions": ["MT"]}),
    )
    .await;
    put(
        "/operator/v1/brands/uk-only".into(),
        json!({"name": "UK only", "currencies": ["GBP"], "jurisdictions": ["GB"]}),
    )
    .await;

    // Attribution: an active affiliate's code attributes; a disabled or
    // unknown one is recorded unattributed, and the registration goes on.
    let a = registered(&w, 1, Some("am-1"), Some("lucky")).await;
    assert_eq!(
        (a["brand"].clone(), a["affiliate"].clone()),
        (json!("lucky"), json!("acme-media"))
    );
    assert_eq!(a["attribution"], "attributed");
    let d = registered(&w, 2, Some("am-1"), None).await;
    assert_eq!(
        (d["brand"].clone(), d["affiliate"].clone()),
        (json!("default"), json!("acme-media"))
    );
    let b = registered(&w, 3, Some("old-1"), Some("lucky")).await;
    assert_eq!(
        (b["affiliate"].clone(), b["attribution"].clone()),
        (json!(null), json!("affiliate_disabled"))
    );
    let c = registered(&w, 4, Some("nobody"), None).await;
    assert_eq!(
        (c["affiliate"].clone(), c["attribution"].clone()),
        (json!(null), json!("unknown_tracking_code"))
    );
    let plain = registered(&w, 5, None, None).await;
    assert_eq!(plain["brand"], "default");
    assert!(plain.get("attribution").is_none());
    // A brand that does not exist, or does not take the player, refuses
    // the registration and records nothing.
    let before = json_ok(&w, &w.admin, "/operator/v1/brands").await;
    let unknown = register(&w, 6, None, Some("nowhere")).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "unknown_brand".into())
    );
    let mismatch = register(&w, 6, None, Some("uk-only")).await;
    assert_eq!(
        (mismatch.status, mismatch.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "brand_mismatch".into())
    );
    let next = registered(&w, 6, None, Some("default")).await;
    assert_eq!(id(&next), id(&plain) + 1, "the refused registrations made no player");
    assert_eq!(
        json_ok(&w, &w.admin, "/operator/v1/brands").await["brands"],
        before["brands"]
    );
    let (a, d, b, c) = (id(&a), id(&d), id(&b), id(&c));
    let referred = json_ok(&w, &finance, "/operator/v1/affiliates/acme-media/players").await;
    assert_eq!(referred["players"], json!([a, d]));
    let referred = json_ok(&w, &finance, "/operator/v1/affiliates/old/players").await;
    assert_eq!(referred["players"], json!([]));

    // January: A's first deposit (30.00) qualifies for the CPA, D's
    // (10.00) is under the 20.00 threshold. A loses 20.00; D stakes 5.00
    // and wins 15.00. B and C play too, for nobody.
    fund(&w, a, "a-1", "30.00").await;
    fund(&w, d, "d-1", "10.00").await;
    fund(&w, b, "b-1", "50.00").await;
    fund(&w, c, "c-1", "50.00").await;
    round(&w, a, "jan-a", "20.00", None).await;
    round(&w, d, "jan-d", "5.00", Some("15.00")).await;
    round(&w, b, "jan-b", "7.00", None).await;
    round(&w, c, "jan-c", "3.00", None).await;
    // February: A stakes 10.00 and wins 40.00: a negative month.
    w.server.advance(31 * DAY_MS);
    round(&w, a, "feb-a", "10.00", Some("40.00")).await;
    // March: D loses 50.00 after a second deposit, and A is granted a
    // 4.00 bonus without wagering, converted at once: a bonus cost.
    w.server.advance(28 * DAY_MS);
    fund(&w, d, "d-2", "60.00").await;
    round(&w, d, "mar-d", "50.00", None).await;
    let template = json!({"name": "Gift", "kind": "no_deposit", "currency": "EUR", "amount": "4.00",
        "wagering_x": 0, "expiry_days": 7});
    put("/operator/v1/bonus-templates/gift".into(), template).await;
    let granted = op(
        &w,
        &w.admin,
        Method::POST,
        &format!("/operator/v1/players/{a}/bonuses"),
        Some(json!({"template": "gift"})),
    )
    .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.text());

    // The hand computation, minor units (admin fee 10 %, share 25 %):
    // Jan: GGR = 20 + 5 − 15 = 10.00, fee 1.00, NGR 9.00, share 2.25,
    //      CPA 50.00 (A), commission 52.25.
    // Feb: GGR = 10 − 40 = −30.00, fee 0, NGR −30.00, share 0, carried −30.00.
    // Mar: GGR 50.00, bonus 4.00, fee 5.00, NGR 41.00, with −30.00 carried
    //      in: 11.00, share 2.75, nothing carried out.
    let expect = [
        (
            "2026-01",
            [
                "20.00", "15.00", "10.00", "0.00", "1.00", "9.00", "0.00", "2.25", "50.00", "52.25", "0.00",
            ],
            ["2", "2", "1"],
        ),
        (
            "2026-02",
            [
                "10.00", "40.00", "-30.00", "0.00", "0.00", "-30.00", "0.00", "0.00", "0.00", "0.00", "-30.00",
            ],
            ["2", "0", "0"],
        ),
        (
            "2026-03",
            [
                "50.00", "0.00", "50.00", "4.00", "5.00", "41.00", "-30.00", "2.75", "0.00", "2.75", "0.00",
            ],
            ["2", "0", "0"],
        ),
    ];
    let money = [
        "stakes",
        "prizes",
        "ggr",
        "bonus_cost",
        "admin_fee",
        "ngr",
        "carried_in",
        "revenue_share",
        "cpa",
        "commission",
        "carried_out",
    ];
    // January's stakes are 25.00: A's 20.00 and D's 5.00.
    let mut expect = expect;
    expect[0].1[0] = "25.00";
    for (month, figures, counts) in expect {
        let path = format!("/operator/v1/affiliates/acme-media/commission?month={month}");
        let report = json_ok(&w, &finance, &path).await;
        let line = row(&report, "commission", &["acme-media", "rs25", "EUR", "native"]).unwrap();
        for (column, value) in money.iter().zip(figures) {
            assert_eq!(line[*column], value, "{month} {column}");
        }
        for (column, value) in ["players", "first_deposits", "cpa_qualifying"].iter().zip(counts) {
            assert_eq!(line[*column], value, "{month} {column}");
        }
        assert_eq!(rows(&report, "commission"), 1, "only the affiliate asked for");
    }
    // The per-player lines add up to January's figures.
    let january = json_ok(
        &w,
        &finance,
        "/operator/v1/affiliates/acme-media/commission?month=2026-01",
    )
    .await;
    let line_a = row(&january, "commission_players", &["acme-media", &a.to_string()]).unwrap();
    assert_eq!(
        (line_a["ggr"].as_str(), line_a["cpa_qualifying"].as_str()),
        ("20.00", "1")
    );
    let line_d = row(&january, "commission_players", &["acme-media", &d.to_string()]).unwrap();
    assert_eq!(
        (line_d["ggr"].as_str(), line_d["cpa_qualifying"].as_str()),
        ("-10.00", "0")
    );
    // Reconciled with the business report's GGR by tracking code.
    let business = json_ok(&w, &finance, "/operator/v1/reports/business?month=2026-01").await;
    let by_code = row(&business, "ggr_by_affiliate", &["am-1", "EUR"]).unwrap();
    assert_eq!(by_code["ggr"], "10.00");
    let by_code = row(&business, "ggr_by_affiliate", &["old-1", "EUR"]).unwrap();
    assert_eq!(by_code["ggr"], "7.00");

    // Every affiliate with a plan, through the reports route, and as CSV.
    let all = json_ok(&w, &finance, "/operator/v1/reports/affiliate-commission?month=2026-01").await;
    assert_eq!(rows(&all, "commission"), 2);
    let old = row(&all, "commission", &["old", "rs25"]).unwrap();
    assert_eq!((old["players"].as_str(), old["commission"].as_str()), ("0", "0.00"));
    let csv = op(
        &w,
        &finance,
        Method::GET,
        "/operator/v1/affiliates/acme-media/commission?month=2026-01&format=csv",
        None,
    )
    .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.content_type.as_deref(), Some("text/csv; charset=utf-8"));
    assert!(
        csv.text().contains(
            "commission,acme-media,rs25,EUR,native,2,2,1,25.00,15.00,10.00,0.00,1.00,9.00,0.00,2.25,50.00,52.25,0.00"
        ),
        "{}",
        csv.text()
    );
    let marketing_reads = op(
        &w,
        &marketing,
        Method::GET,
        "/operator/v1/affiliates/acme-media/commission?month=2026-01",
        None,
    )
    .await;
    assert_eq!(marketing_reads.status, StatusCode::OK);

    // Its error paths.
    for (path, status, code) in [
        (
            "/operator/v1/affiliates/nobody/commission?month=2026-01",
            StatusCode::NOT_FOUND,
            "unknown_affiliate",
        ),
        (
            "/operator/v1/affiliates/acme-media/commission?quarter=2026Q1",
            StatusCode::BAD_REQUEST,
            "invalid_period",
        ),
        (
            "/operator/v1/affiliates/acme-media/commission",
            StatusCode::BAD_REQUEST,
            "invalid_period",
        ),
        (
            "/operator/v1/affiliates/acme-media/commission?month=2026-01&brand=lucky",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "/operator/v1/reports/affiliate-commission?month=2026-01&brand=lucky",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "/operator/v1/reports/business?month=2026-01&affiliate=acme-media",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "/operator/v1/reports/business?month=2026-01&brand=nowhere",
            StatusCode::NOT_FOUND,
            "unknown_brand",
        ),
    ] {
        let reply = op(&w, &finance, Method::GET, path, None).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code.to_owned()),
            "{path}: {}",
            reply.text()
        );
    }
    let refused = op(
        &w,
        &support,
        Method::GET,
        "/operator/v1/affiliates/acme-media/commission?month=2026-01",
        None,
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // The brand filter: lucky holds A and B; default holds the rest (the
    // world's first player too, registered before any brand).
    let lucky = json_ok(&w, &finance, "/operator/v1/reports/business?month=2026-01&brand=lucky").await;
    let day = row(&lucky, "ggr_by_day", &["2026-01-01", "EUR"]).unwrap();
    assert_eq!((day["stakes"].as_str(), day["ggr"].as_str()), ("27.00", "27.00"));
    let default = json_ok(
        &w,
        &finance,
        "/operator/v1/reports/business?month=2026-01&brand=default",
    )
    .await;
    let day = row(&default, "ggr_by_day", &["2026-01-01", "EUR"]).unwrap();
    assert_eq!((day["stakes"].as_str(), day["ggr"].as_str()), ("8.00", "-7.00"));
    let whole = json_ok(&w, &finance, "/operator/v1/reports/business?month=2026-01").await;
    let day = row(&whole, "ggr_by_day", &["2026-01-01", "EUR"]).unwrap();
    assert_eq!(day["stakes"], "35.00", "the brands partition the players");

    // Cohort retention: seven players registered in January (the world's
    // first and six here); active in January: A, D, B, C; in February: A;
    // in March: D.
    let cohorts = json_ok(&w, &finance, "/operator/v1/reports/cohort-retention?month=2026-01").await;
    for (since, active, share) in [("000", "4", "5714"), ("001", "1", "1428"), ("002", "1", "1428")] {
        let line = row(&cohorts, "cohort_retention", &["2026-01", since, "EUR"]).unwrap_or_else(|| panic!("{cohorts}"));
        assert_eq!(line["cohort_players"], "7", "{since}");
        assert_eq!(
            (line["active_players"].as_str(), line["active_share_bp"].as_str()),
            (active, share),
            "{since}"
        );
    }
    assert_eq!(rows(&cohorts, "cohort_retention"), 3);
    let lucky = json_ok(
        &w,
        &finance,
        "/operator/v1/reports/cohort-retention?month=2026-01&brand=lucky",
    )
    .await;
    let line = row(&lucky, "cohort_retention", &["2026-01", "001", "EUR"]).unwrap();
    assert_eq!(
        (line["cohort_players"].as_str(), line["active_players"].as_str()),
        ("2", "1")
    );
    let csv = op(
        &w,
        &finance,
        Method::GET,
        "/operator/v1/reports/cohort-retention?month=2026-01&format=csv",
        None,
    )
    .await;
    assert!(
        csv.text().contains("cohort_retention,2026-01,000,EUR,native,7,4,5714"),
        "{}",
        csv.text()
    );
    let html = op(
        &w,
        &finance,
        Method::GET,
        "/operator/v1/reports/cohort-retention?month=2026-01&format=html",
        None,
    )
    .await;
    assert!(html.text().contains("<table id=\"cohort_retention\">"));
}
