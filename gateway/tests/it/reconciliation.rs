//! Reconciliation end to end: a NOWPayments settlement file (CSV) posted
//! to the operator API is matched against the deposits the ledger settled
//! through the sandbox; the differences land in the queue, an operator
//! resolves one with a reason, and no balance moves at any step.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::nowpayments::Both;
use crate::support::Reply;

async fn import(c: &Both, token: &str, provider: &str, content_type: &str, csv: &str) -> Reply {
    let headers = [
        ("authorization", format!("Bearer {token}")),
        ("content-type", content_type.to_owned()),
    ];
    let path = format!("/operator/v1/reconciliation/{provider}");
    c.server
        .send(
            c.server.h1(),
            Method::POST,
            &path,
            &headers,
            Some(csv.as_bytes().to_vec()),
        )
        .await
}

async fn settled(c: &Both, id: &str, amount: &str) -> String {
    let started = c.deposit(id, amount, Some("nowpayments")).await;
    let reference = started["reference"].as_str().unwrap().to_owned();
    c.move_payment(&reference, json!({"status": "finished"})).await;
    reference
}

async fn queue(c: &Both, query: &str) -> Vec<Value> {
    let path = format!("/operator/v1/reconciliation?{query}");
    let read = c.op(&c.finance, Method::GET, &path, None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text());
    read.json()["differences"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settlement_file_queues_its_differences_and_moves_no_money() {
    let dir = tempfile::tempdir().unwrap();
    let c = Both::start(dir.path()).await;
    let first = settled(&c, "r1", "50.00").await;
    let second = settled(&c, "r2", "20.00").await;
    let unfiled = settled(&c, "r3", "7.00").await;
    assert_eq!(c.cash().await, "177.00");
    let applied = c.server.commands_applied().await;

    // Refused files change nothing.
    let bad = import(&c, &c.finance, "nowpayments", "text/csv", "reference,currency\n1,EUR\n").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text());
    let json = import(&c, &c.finance, "nowpayments", "application/json", "[]").await;
    assert_eq!(json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let unknown = import(&c, &c.finance, "paypal", "text/csv", "reference,currency,amount\n").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(c.server.commands_applied().await, applied);

    // The provider's file: one match, one short amount, one payment the
    // ledger never settled; the ledger's third deposit is not in it.
    let csv = format!(
        "payment_id,reference,currency,amount,fee\n1,{first},eur,50.00,0.5\n2,{second},EUR,19.00,0.2\n3,999,EUR,5.00,0\n"
    );
    let imported = import(&c, &c.finance, "nowpayments", "text/csv", &csv).await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.text());
    let reply = imported.json();
    assert_eq!(reply["matched"], 1);
    let gaps: Vec<(String, String, String, String)> = reply["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let text = |k: &str| d[k].as_str().unwrap().to_owned();
            (
                text("reference"),
                text("gap"),
                text("file_amount"),
                text("ledger_amount"),
            )
        })
        .collect();
    let expected = |r: &str, g: &str, f: &str, l: &str| (r.to_owned(), g.to_owned(), f.to_owned(), l.to_owned());
    let mut wanted = vec![
        expected(&second, "amount_mismatch", "19.00", "20.00"),
        expected("999", "missing_in_ledger", "5.00", "0.00"),
        expected(&unfiled, "missing_in_file", "0.00", "7.00"),
    ];
    wanted.sort();
    assert_eq!(gaps, wanted);
    let file = reply["file"].as_str().unwrap().to_owned();
    // The same file again is a retry: the same answer, nothing new.
    let again = import(&c, &c.finance, "nowpayments", "text/csv", &csv).await;
    assert_eq!(again.json(), reply);
    assert_eq!(queue(&c, "state=open").await.len(), 3);
    assert_eq!(c.cash().await, "177.00");

    // Resolved with a reason (journaled), once.
    let path = "/operator/v1/reconciliation/nowpayments/999/resolve";
    let body = json!({"file": file, "reason": "test payment on the provider's side, refunded there"});
    let resolved = c.op(&c.finance, Method::POST, path, Some(body.clone())).await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.text());
    assert_eq!(resolved.json()["state"], "resolved");
    let twice = c.op(&c.finance, Method::POST, path, Some(body)).await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.text());
    assert_eq!(queue(&c, "state=open").await.len(), 2);
    let done = queue(&c, "state=resolved&provider=nowpayments").await;
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["reason"], "test payment on the provider's side, refunded there");
    let nowhere = c
        .op(
            &c.finance,
            Method::POST,
            "/operator/v1/reconciliation/nowpayments/123/resolve",
            Some(json!({"file": file, "reason": "x"})),
        )
        .await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert_eq!(c.cash().await, "177.00");
    c.server.stop().await;
}
