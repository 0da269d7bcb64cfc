//! Back-pressure end to end (DESIGN.md invariant 7): when the sequencer's
//! ring is full, a request over HTTP/1.1, HTTP/2 or HTTP/3 is answered 503 with `Retry-After` and
//! changes nothing; the same request retried once there is room is applied
//! exactly once.
//!
//! To fill the ring without depending on timing, the server's clock blocks
//! when the sequencer thread reads it (it reads the clock once per batch,
//! before applying): the first request is then held inside the sequencer,
//! the second waits in the one-slot ring, and the third finds it full.
//! The same gate holds a request past its timeout once it is in the ring:
//! its outcome is then unknown (503, retry with the same id), unlike a
//! request that timed out before it was submitted (408, in `operator.rs`).

use crate::support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use support::{Http, TestServer, World, wallet_ok};

/// Polls `condition` every few milliseconds for up to 30 s.
async fn eventually(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    for _ in 0..6_000 {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("gave up waiting until {what}");
}

async fn ring_depth(server: &TestServer) -> u64 {
    let text = server.send(Http::V1, Method::GET, "/metrics", &[], None).await.text();
    text.lines()
        .find_map(|line| line.strip_prefix("croupier_ring_depth "))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[tokio::test]
async fn a_full_ring_answers_503_with_retry_after_over_http_and_the_retry_lands_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::config(dir.path());
    config.ring_capacity = 1;
    config.batch_len_max = 1;
    config.retry_after_s = 3;
    let (server, gate) = TestServer::start_gated(config).await;
    let w = Arc::new(World::on(server).await);
    let applied = w.server.commands_applied().await;

    gate.set(true);
    let held = tokio::spawn({
        let w = w.clone();
        async move { w.bet(Http::V2, "b-held", "1.00", "r-1").await }
    });
    eventually("the sequencer holds the first bet", async || {
        gate.held.load(Ordering::SeqCst) == 1
    })
    .await;
    let queued = tokio::spawn({
        let w = w.clone();
        async move { w.bet(Http::V1, "b-queued", "2.00", "r-1").await }
    });
    eventually("the second bet waits in the ring", async || {
        ring_depth(&w.server).await == 1
    })
    .await;

    for http in [Http::V1, Http::V2, Http::V3] {
        let refused = w.bet(http, "b-refused", "4.00", "r-1").await;
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE, "{}", refused.text());
        assert_eq!(refused.retry_after.as_deref(), Some("3"));
        assert_eq!(refused.code(), "busy");
    }
    assert_eq!(w.server.commands_applied().await, applied, "nothing applied while held");

    gate.set(false);
    let held = held.await.unwrap();
    let queued = queued.await.unwrap();
    assert_eq!((held.status, queued.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(
        w.server.commands_applied().await,
        applied + 2,
        "the refused bet changed nothing"
    );

    let retried = w.bet(Http::V1, "b-refused", "4.00", "r-1").await;
    assert_eq!(retried.text(), wallet_ok(1, "93.00", Some(applied + 3)));
    let again = w.bet(Http::V2, "b-refused", "4.00", "r-1").await;
    assert_eq!(again.text(), retried.text(), "a retry answers from the record");
    assert_eq!(w.balance().await["cash"], "93.00", "applied once");

    Arc::into_inner(w).expect("no other owner").server.stop().await;
}

#[tokio::test]
async fn a_request_that_times_out_after_it_was_submitted_has_an_unknown_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let (server, gate) = TestServer::start_gated_timing_out(dir.path(), 300).await;
    let w = World::on(server).await;
    gate.set(true);
    let timed_out = w.bet(Http::V1, "b-held", "1.00", "r-1").await;
    assert_eq!(
        timed_out.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        timed_out.text()
    );
    assert_eq!(
        timed_out.text(),
        r#"{"error":{"code":"timeout","message":"the request took too long; its outcome is unknown: retry with the same id"}}"#
    );
    assert!(timed_out.retry_after.is_some(), "a bounded wait says when to retry");
    gate.set(false);
    // The retry learns the outcome: the held bet was applied.
    let retried = w.bet(Http::V1, "b-held", "1.00", "r-1").await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.text());
    assert_eq!(w.balance().await["cash"], "99.00", "applied once");
    w.server.stop().await;
}
