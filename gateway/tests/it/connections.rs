//! Connections a client holds without using them (issue #9, item 2): the
//! server closes a TCP connection that sends nothing, or its request head
//! too slowly; an HTTP/1.1 connection that stays idle after a reply; an
//! HTTP/2 connection that sent only its preface, or has no request in
//! flight (GOAWAY first, cut if the client never acknowledges); an HTTP/3
//! connection with no request in flight, even while its client pings. And
//! one address at its connection limit does not lock out another, on TCP
//! and on QUIC.
//!
//! The timeouts are set small through the configuration; every wait for
//! the server to act is bounded by [`LIMIT`].

use crate::support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway::config::ServeConfig;
use reqwest::StatusCode;
use support::{H3Client, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Longest a test waits for the server to close something.
const LIMIT: Duration = Duration::from_secs(10);

/// Small timeouts; the request timeout bounds an unacknowledged graceful
/// close (it plus 2 s).
fn small_timeouts(dir: &std::path::Path) -> ServeConfig {
    ServeConfig {
        header_read_timeout_ms: 300,
        idle_timeout_ms: 300,
        request_timeout_ms: 1_000,
        ..support::config(dir)
    }
}

async fn start(config: ServeConfig) -> TestServer {
    TestServer::start_at(config, Arc::new(support::T0.into())).await
}

/// Reads until the server closes the connection (end of stream or reset);
/// returns what it sent. Panics if it stays open longer than [`LIMIT`].
async fn read_until_closed(stream: &mut TcpStream, what: &str) -> Vec<u8> {
    let mut received = Vec::new();
    let read = async {
        let mut buffer = [0; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(LIMIT, read)
        .await
        .unwrap_or_else(|_| panic!("{what}: still open after {LIMIT:?}"));
    received
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n";

/// Sends a keep-alive GET /healthz and reads its whole reply.
async fn healthz_h1(stream: &mut TcpStream) -> Option<String> {
    stream.write_all(HEALTHZ).await.ok()?;
    let mut reply = Vec::new();
    let mut buffer = [0; 4096];
    while !reply.ends_with(br#"{"status":"ok"}"#) {
        match tokio::time::timeout(LIMIT, stream.read(&mut buffer))
            .await
            .expect("a reply")
        {
            Ok(0) | Err(_) => return None,
            Ok(n) => reply.extend_from_slice(&buffer[..n]),
        }
    }
    Some(String::from_utf8(reply).unwrap())
}

/// A TCP connection to `server` from the loopback address `from`.
async fn connect_from(from: [u8; 4], server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(server).await.unwrap()
}

/// Polls `condition` every 10 ms for up to [`LIMIT`].
async fn eventually(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while started.elapsed() < LIMIT {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("gave up waiting until {what}");
}

#[tokio::test]
async fn tcp_connections_that_send_nothing_or_too_slowly_or_stay_idle_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(small_timeouts(dir.path())).await;

    let mut silent = TcpStream::connect(server.addr()).await.unwrap();
    let received = read_until_closed(&mut silent, "a connection that sends nothing").await;
    assert!(received.is_empty(), "{}", String::from_utf8_lossy(&received));

    let mut slow = TcpStream::connect(server.addr()).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n").await.unwrap();
    let received = read_until_closed(&mut slow, "a head that never ends").await;
    assert!(received.is_empty(), "{}", String::from_utf8_lossy(&received));

    let mut kept = TcpStream::connect(server.addr()).await.unwrap();
    let reply = healthz_h1(&mut kept).await.expect("served");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let received = read_until_closed(&mut kept, "an idle HTTP/1.1 keep-alive connection").await;
    assert!(received.is_empty(), "{}", String::from_utf8_lossy(&received));

    // The server still serves whoever asks in time.
    let mut prompt = TcpStream::connect(server.addr()).await.unwrap();
    assert!(
        healthz_h1(&mut prompt)
            .await
            .is_some_and(|r| r.starts_with("HTTP/1.1 200"))
    );
    server.stop().await;
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame.
const H2_SETTINGS: [u8; 9] = [0, 0, 0, 4, 0, 0, 0, 0, 0];
const H2_GOAWAY: u8 = 7;
const H2_PING: u8 = 6;

/// Reads HTTP/2 frames until the server closes the connection, answering
/// its PINGs if `answer_pings`; returns the types of the frames received.
async fn h2_frames_until_closed(stream: &mut TcpStream, answer_pings: bool) -> Vec<u8> {
    let mut types = Vec::new();
    let read = async {
        loop {
            let mut head = [0; 9];
            if stream.read_exact(&mut head).await.is_err() {
                break;
            }
            let length = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
            let mut payload = vec![0; length];
            if stream.read_exact(&mut payload).await.is_err() {
                break;
            }
            types.push(head[3]);
            let ack = head[4] & 1 == 1;
            if head[3] == H2_PING && !ack && answer_pings {
                let mut pong = vec![0, 0, 8, H2_PING, 1, 0, 0, 0, 0];
                pong.extend_from_slice(&payload);
                if stream.write_all(&pong).await.is_err() {
                    break;
                }
            }
        }
    };
    tokio::time::timeout(LIMIT, read)
        .await
        .expect("the HTTP/2 connection is closed in time");
    types
}

#[tokio::test]
async fn http2_connections_without_requests_get_goaway_and_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    // Idle long enough after a request for the gauge to be read before it fires.
    let config = ServeConfig {
        idle_timeout_ms: 1_000,
        ..small_timeouts(dir.path())
    };
    let server = start(config).await;

    // A real client's connection, idle after its request, is closed while
    // the client still holds it (the gauge is read over HTTP/3).
    let open = r#"croupier_connections_open{transport="tcp"}"#;
    assert_eq!(server.metric(open).await, Some(0));
    let client = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    let reply = client.get(format!("{}/healthz", server.base)).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    assert_eq!(server.metric(open).await, Some(1));
    eventually("the idle HTTP/2 connection is closed", async || {
        server.metric(open).await == Some(0)
    })
    .await;

    // A client that sent only the preface and acknowledges the GOAWAY's
    // ping: closed gracefully.
    let mut polite = TcpStream::connect(server.addr()).await.unwrap();
    polite.write_all(&[H2_PREFACE, &H2_SETTINGS].concat()).await.unwrap();
    let frames = h2_frames_until_closed(&mut polite, true).await;
    assert!(frames.contains(&H2_GOAWAY), "frames {frames:?}");

    // One that never answers: cut once the graceful close has had its time.
    let mut deaf = TcpStream::connect(server.addr()).await.unwrap();
    deaf.write_all(&[H2_PREFACE, &H2_SETTINGS].concat()).await.unwrap();
    let frames = h2_frames_until_closed(&mut deaf, false).await;
    assert!(frames.contains(&H2_GOAWAY), "frames {frames:?}");
    drop(client);
    server.stop().await;
}

#[tokio::test]
async fn an_idle_http3_connection_is_closed_even_while_its_client_pings() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(small_timeouts(dir.path())).await;
    // Pings every 50 ms keep QUIC itself alive: only the HTTP/3 idle check can close these.
    let ping = Duration::from_millis(50);
    let from = "127.0.0.1:0".parse().unwrap();
    let used = H3Client::connect_from(from, server.quic_addr(), server.cert_pem(), ping)
        .await
        .unwrap();
    assert_eq!(used.get("/healthz").await, Some(StatusCode::OK));
    let unused = H3Client::connect_from(from, server.quic_addr(), server.cert_pem(), ping)
        .await
        .unwrap();
    for (what, client) in [("after a request", &used), ("without a request", &unused)] {
        let closed = tokio::time::timeout(LIMIT, client.connection.closed())
            .await
            .unwrap_or_else(|_| panic!("{what}: still open after {LIMIT:?}"));
        assert!(
            matches!(&closed, quinn::ConnectionError::ApplicationClosed(close) if close.error_code.into_inner() == 0x100),
            "{what}: {closed}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn one_address_at_its_limit_does_not_lock_out_another() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        max_connections_per_ip: 2,
        ..support::config(dir.path())
    };
    let server = start(config).await;

    // TCP: 127.0.0.1 holds its two places with served keep-alive connections.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = connect_from([127, 0, 0, 1], server.addr()).await;
        assert!(healthz_h1(&mut stream).await.is_some(), "served within the limit");
        held.push(stream);
    }
    let mut third = connect_from([127, 0, 0, 1], server.addr()).await;
    let _ = third.write_all(HEALTHZ).await;
    let received = read_until_closed(&mut third, "a connection over the per-address limit").await;
    assert!(received.is_empty(), "{}", String::from_utf8_lossy(&received));
    let mut other = connect_from([127, 0, 0, 2], server.addr()).await;
    let reply = healthz_h1(&mut other).await.expect("another address is served");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let refused = r#"croupier_connections_refused_total{reason="per_ip",transport="tcp"}"#;
    assert_eq!(server.metric(refused).await, Some(1));
    // A place given back is taken again.
    drop(held.pop());
    eventually("127.0.0.1 is served again", async || {
        let mut stream = connect_from([127, 0, 0, 1], server.addr()).await;
        healthz_h1(&mut stream).await.is_some()
    })
    .await;

    // QUIC: the same, by the client's UDP address.
    let (addr, pem, ping) = (server.quic_addr(), server.cert_pem(), Duration::from_secs(2));
    let one = "127.0.0.1:0".parse().unwrap();
    let two = "127.0.0.2:0".parse().unwrap();
    // The test server's own HTTP/3 client (for the metrics) holds one place.
    let first = H3Client::connect_from(one, addr, pem, ping).await.unwrap();
    let refused = H3Client::connect_from(one, addr, pem, ping).await.err();
    assert!(
        matches!(refused, Some(quinn::ConnectionError::ConnectionClosed(_))),
        "{refused:?}"
    );
    let other = H3Client::connect_from(two, addr, pem, ping).await.unwrap();
    assert_eq!(other.get("/healthz").await, Some(StatusCode::OK));
    assert_eq!(first.get("/healthz").await, Some(StatusCode::OK));
    let refused = r#"croupier_connections_refused_total{reason="per_ip",transport="quic"}"#;
    assert_eq!(server.metric(refused).await, Some(1));
    server.stop().await;
}
