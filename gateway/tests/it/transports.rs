//! The transports themselves: the same requests get the same bytes over
//! HTTP/1.1 and HTTP/2 (cleartext and TLS) and HTTP/3; the certificate is
//! made once and reused, or taken from the operator; a TLS port refuses
//! cleartext; HTTP/3 is advertised over TCP and can be turned off; a stop
//! lets HTTP/3 requests in flight finish.

use crate::support;

use std::sync::Arc;

use bytes::{Buf, Bytes};
use reqwest::{Method, StatusCode};
use serde_json::json;
use support::{EVERY, Http, Reply, TestServer, World, wallet_ok};

/// Authenticate, bet, its retry, a conflict, a refusal for funds, a win,
/// the balance, an inexact amount, an unknown route, the operator's view.
async fn transcript(w: &World, http: Http) -> Vec<Reply> {
    let balance_path = format!("/operator/v1/players/{}/balance?currency=EUR", w.player);
    vec![
        w.wallet(http, "authenticate", json!({"token": w.token})).await,
        w.bet(http, "b-1", "10.00", "r-1").await,
        w.bet(http, "b-1", "10.00", "r-1").await,
        w.bet(http, "b-1", "10.01", "r-1").await,
        w.bet(http, "b-big", "500.00", "r-1").await,
        w.win(http, "w-1", "5.00", "r-1").await,
        w.wallet(http, "balance", json!({"token": w.token})).await,
        w.bet(http, "b-2", "1.001", "r-1").await,
        w.server.send(http, Method::GET, "/wallet/v1/nope", &[], None).await,
        w.server.op(http, &w.admin, Method::GET, &balance_path, None).await,
    ]
}

#[tokio::test]
async fn the_same_requests_get_the_same_bytes_on_every_transport() {
    let mut transcripts = Vec::new();
    for http in EVERY {
        let dir = tempfile::tempdir().unwrap();
        let w = World::new_for(dir.path(), http).await;
        let replies = transcript(&w, http).await;
        if http == Http::V2Tls {
            // A retry over any transport the server speaks gets the original bytes.
            for other in [Http::V1Tls, Http::V3] {
                assert_eq!(w.bet(other, "b-1", "10.00", "r-1").await, replies[1], "{other:?}");
                assert_eq!(w.bet(other, "b-big", "500.00", "r-1").await, replies[4], "{other:?}");
            }
        }
        w.server.stop().await;
        transcripts.push((http, replies));
    }
    let (_, first) = &transcripts[0];
    let statuses: Vec<u16> = first.iter().map(|reply| reply.status.as_u16()).collect();
    assert_eq!(statuses, [200, 200, 200, 409, 422, 200, 200, 400, 404, 200]);
    assert_eq!(first[1].text(), wallet_ok(1, "90.00", Some(6)));
    assert_eq!(first[2], first[1], "a retry gets the original bytes");
    assert_eq!(first[4].json()["cash"], "90.00");
    assert_eq!(first[7].code(), "too_many_decimals");
    assert_eq!(first[8].code(), "not_found");
    for (http, replies) in &transcripts[1..] {
        for (index, (reply, expected)) in replies.iter().zip(first).enumerate() {
            assert_eq!(reply, expected, "{http:?}, request {index}: {}", reply.text());
        }
    }
}

#[tokio::test]
async fn the_certificate_is_made_once_private_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let cert_path = dir.path().join("tls/cert.pem");
    let key_path = dir.path().join("tls/key.pem");
    assert_eq!(server.running.as_ref().unwrap().cert_path(), Some(cert_path.as_path()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key is private");
    }
    let (cert, key) = (std::fs::read(&cert_path).unwrap(), std::fs::read(&key_path).unwrap());
    assert_eq!(
        server.send(Http::V3, Method::GET, "/healthz", &[], None).await.status,
        StatusCode::OK
    );
    let clock = server.clock.clone();
    server.stop().await;

    let server = TestServer::start_at(support::config_with_tls(dir.path(), true), clock).await;
    assert_eq!(std::fs::read(&cert_path).unwrap(), cert, "the same certificate");
    assert_eq!(std::fs::read(&key_path).unwrap(), key, "the same key");
    // A client that trusted the first start's certificate trusts this one.
    let quic_addr = server.running.as_ref().unwrap().quic_addr().unwrap();
    let h3 = support::H3Client::connect(quic_addr, &cert).await;
    drop(h3);
    for http in [Http::V1Tls, Http::V2Tls, Http::V3] {
        let reply = server.send(http, Method::GET, "/healthz", &[], None).await;
        assert_eq!(reply.status, StatusCode::OK, "{http:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn an_operator_certificate_is_served_instead() {
    let dir = tempfile::tempdir().unwrap();
    let own = tempfile::tempdir().unwrap();
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let made = rcgen::generate_simple_self_signed(names).unwrap();
    let (cert, key) = (own.path().join("operator.crt"), own.path().join("operator.key"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let config = gateway::config::ServeConfig {
        tls_cert: Some(cert.clone()),
        tls_key: Some(key),
        ..support::config_with_tls(dir.path(), true)
    };
    let server = TestServer::start_at(config, Arc::new(support::T0.into())).await;
    assert_eq!(server.running.as_ref().unwrap().cert_path(), Some(cert.as_path()));
    assert!(!dir.path().join("tls").exists(), "nothing generated");
    for http in [Http::V1Tls, Http::V2Tls, Http::V3] {
        let reply = server.send(http, Method::GET, "/healthz", &[], None).await;
        assert_eq!(reply.status, StatusCode::OK, "{http:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_tls_port_refuses_cleartext() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_at(support::config_with_tls(dir.path(), true), Arc::new(support::T0.into())).await;
    let url = format!("http://{}/healthz", server.addr());
    let h1 = reqwest::Client::builder().http1_only().build().unwrap();
    assert!(h1.get(&url).send().await.is_err(), "HTTP/1.1 in cleartext");
    let h2c = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    assert!(h2c.get(&url).send().await.is_err(), "HTTP/2 in cleartext");
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    // The server closes the connection (at most after a TLS alert): never an HTTP answer.
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    assert!(!answer.starts_with(b"HTTP/"), "{}", String::from_utf8_lossy(&answer));
    let reply = server.send(Http::V1Tls, Method::GET, "/healthz", &[], None).await;
    assert_eq!(reply.status, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn http3_is_advertised_over_tcp_and_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let port = server.running.as_ref().unwrap().quic_addr().unwrap().port();
    let client = reqwest::Client::builder().http1_only().build().unwrap();
    let response = client.get(format!("{}/healthz", server.base)).send().await.unwrap();
    let alt_svc = response
        .headers()
        .get("alt-svc")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(alt_svc, Some(format!("h3=\":{port}\"; ma=86400")));
    server.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let config = gateway::config::ServeConfig {
        quic: false,
        ..support::config(dir.path())
    };
    let server = TestServer::start_at(config, Arc::new(support::T0.into())).await;
    let running = server.running.as_ref().unwrap();
    assert_eq!((running.quic_addr(), running.cert_path()), (None, None));
    assert!(!dir.path().join("tls").exists(), "no certificate needed");
    let response = client.get(format!("{}/healthz", server.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("alt-svc").is_none());
    server.stop().await;
}

#[tokio::test]
async fn a_graceful_stop_finishes_http3_requests_in_flight_and_keeps_them() {
    // This test failed once in CI (the server closed the connection before
    // the bet's body was complete) and never locally: if it fails again, the
    // server's HTTP/3 debug lines are printed with the failure.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("gateway::quic=debug,gateway::server=debug,gateway::app=debug")
        .with_test_writer()
        .with_ansi(false)
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path()).await;
    let body = json!({"token": w.token, "transaction_id": "b-1", "round_id": "r-1", "game": "slots",
        "currency": "EUR", "amount": "10.00"})
    .to_string();
    let (head, tail) = body.as_bytes().split_at(body.len() / 2);
    let mut send = w.server.h3_client().await.send.clone();
    let mut request = axum::http::Request::builder()
        .method(Method::POST)
        .uri("https://localhost/wallet/v1/bet")
        .header("content-length", body.len());
    for (name, value) in w.aggregator.headers(body.as_bytes(), w.server.now()) {
        request = request.header(name, value);
    }
    let mut bet = send.send_request(request.body(()).unwrap()).await.unwrap();
    bet.send_data(Bytes::copy_from_slice(head)).await.unwrap();
    // Streams are accepted in order: once a later request is answered, the
    // half-sent bet is in the server's hands.
    assert_eq!(
        w.server.send(Http::V3, Method::GET, "/healthz", &[], None).await.status,
        StatusCode::OK
    );

    let World { server, .. } = w;
    let clock = server.clock.clone();
    let stopping = tokio::spawn(server.stop());
    bet.send_data(Bytes::copy_from_slice(tail)).await.unwrap();
    bet.finish().await.unwrap();
    let response = bet.recv_response().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut answer = Vec::new();
    while let Some(mut chunk) = bet.recv_data().await.unwrap() {
        answer.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
    }
    assert_eq!(String::from_utf8(answer).unwrap(), wallet_ok(1, "90.00", Some(6)));
    stopping.await.unwrap();

    // The acknowledged bet survived the stop.
    let server = TestServer::start_at(support::config(dir.path()), clock).await;
    let path = "/operator/v1/players/1/balance?currency=EUR";
    let balance = server
        .op(Http::V3, &server.first_token(), Method::GET, path, None)
        .await;
    assert_eq!(balance.json()["cash"], "90.00");
    server.stop().await;
}

#[tokio::test]
async fn a_bad_certificate_stops_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let config = gateway::config::ServeConfig {
        tls_cert: Some(garbage.clone()),
        tls_key: Some(garbage),
        ..support::config_with_tls(dir.path(), true)
    };
    let clock: gateway::app::Clock = Arc::new(|| support::T0);
    let started = gateway::server::start_with(config, engine::Config::default(), clock).await;
    let error = started.err().expect("no start on a bad certificate");
    assert!(
        matches!(
            error,
            gateway::server::ServeError::Tls(gateway::tls::TlsError::NoCertificate { .. })
        ),
        "{error}"
    );
    assert!(error.to_string().contains("garbage.pem: no certificate"), "{error}");
    assert!(!dir.path().join("operator-token").exists(), "nothing ran");
}

#[tokio::test]
async fn a_port_in_use_stops_the_start_before_recovery() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = gateway::config::ServeConfig {
        listen: taken.local_addr().unwrap(),
        ..support::config(dir.path())
    };
    let clock: gateway::app::Clock = Arc::new(|| support::T0);
    let started = gateway::server::start_with(config, engine::Config::default(), clock).await;
    let error = started.err().expect("no start on a port in use");
    assert!(error.to_string().starts_with("binding 127.0.0.1:"), "{error}");
    assert!(!dir.path().join("operator-token").exists(), "nothing ran");
    let journal_files = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".seg"))
        .count();
    assert_eq!(journal_files, 0, "no journal opened");
}

#[tokio::test]
async fn connections_beyond_the_limit_are_turned_away_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let config = gateway::config::ServeConfig {
        max_connections: 1,
        ..support::config(dir.path())
    };
    let clock: gateway::app::Clock = Arc::new(|| support::T0);
    let running = gateway::server::start_with(config, engine::Config::default(), clock)
        .await
        .unwrap();
    let url = format!("http://{}/healthz", running.addr());
    let client = || reqwest::Client::builder().http1_only().build().unwrap();
    let first = client();
    assert_eq!(first.get(&url).send().await.unwrap().status(), StatusCode::OK);
    // The first client keeps its connection open: a second one is closed at once.
    assert!(
        client().get(&url).send().await.is_err(),
        "a second connection is served"
    );
    drop(first);
    let mut served = false;
    for _ in 0..200 {
        if client()
            .get(&url)
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
        {
            served = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(served, "a connection is served again once the first closed");
    running.stop().await.unwrap();
}
