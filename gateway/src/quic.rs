//! The QUIC transport: HTTP/3 (quinn + h3) handing every request to the one
//! router, so that a request gets the same answer as over TCP.
//!
//! One task per connection and one per request. A request's body is
//! streamed into the router as it arrives ([`RequestBody`]), so the
//! router's content-type check, body limit (413) and request timeout apply
//! exactly as over TCP; nothing is buffered here. A stop refuses new
//! connections, sends GOAWAY on each open one, lets the requests in flight
//! finish (up to a bound), closes the connections and waits, briefly, for
//! the endpoint to go idle.
//!
//! As over TCP, [`Admission`] turns a connection away at once when the
//! transport, or the client's address, holds its maximum, and a connection
//! with no request in flight is closed (GOAWAY, then CONNECTION_CLOSE) after
//! the header-read timeout before its first request and the idle timeout
//! after; QUIC's own idle timeout (set by the server) closes one whose peer
//! went silent. Client keep-alive PINGs keep the QUIC connection alive, not
//! the HTTP/3 one.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderValue, Request, Response, header};
use bytes::Buf;
use h3::error::{Code, StreamError};
use h3::server::{RequestResolver, RequestStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::admission::{Admission, Permit, Refusal};
use crate::app::Envelope;
use crate::log_limit::LogLimit;

/// Most bytes of a request's headers (HTTP/3's SETTINGS_MAX_FIELD_SECTION_SIZE):
/// a head is buffered whole before the router sees it.
const HEAD_BYTES_MAX: u64 = 16 * 1024;
/// Longest a request's head may take to arrive once its stream is open
/// (the router's request timeout starts only after it).
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// What a connection's close waits beyond three round trips for the peer to
/// acknowledge the last replies (twice QUIC's default 25 ms ACK delay).
const ACK_GRACE: Duration = Duration::from_millis(50);
/// Longest a stop waits for closed connections to be acknowledged.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Headers that name properties of an HTTP/1.1 connection; HTTP/3 forbids them.
const CONNECTION_HEADERS: [header::HeaderName; 5] = [
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::HeaderName::from_static("keep-alive"),
    header::HeaderName::from_static("proxy-connection"),
];

/// The QUIC endpoint and how long a stop waits for requests in flight.
pub struct QuicTransport {
    /// The bound endpoint, with the HTTP/3 server configuration.
    pub endpoint: quinn::Endpoint,
    /// Longest a stop waits for connections to finish their requests.
    pub drain_timeout: Duration,
    /// Which connections are let in.
    pub admission: Admission,
    /// Longest a connection may go without a request before its first one.
    pub header_read_timeout: Duration,
    /// Longest a connection may go without a request in flight after its first.
    pub idle_timeout: Duration,
}

impl QuicTransport {
    /// Serves `router` over HTTP/3 until `shutdown` completes and every
    /// connection has finished (or the drain timeout passed).
    pub async fn serve(self, router: Envelope, shutdown: impl Future<Output = ()>) {
        let QuicTransport {
            endpoint,
            drain_timeout,
            admission,
            header_read_timeout,
            idle_timeout,
        } = self;
        let (stop, stopping) = watch::channel(());
        let mut connections = JoinSet::new();
        let refusals = LogLimit::new();
        let idle = Idle {
            first: header_read_timeout,
            then: idle_timeout,
        };
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(joined) = connections.join_next(), if !connections.is_empty() => log_join(joined),
                incoming = endpoint.accept() => match incoming {
                    Some(incoming) => match admission.admit(incoming.remote_address().ip()) {
                        Ok(permit) => {
                            connections.spawn(connection(incoming, router.clone(), stopping.clone(), idle, permit));
                        }
                        Err(refusal) => {
                            log_refusal(&refusals, incoming.remote_address(), refusal);
                            incoming.refuse();
                        }
                    },
                    None => break,
                },
            }
        }
        // Refuse new handshakes, then tell every connection to wind down.
        endpoint.set_server_config(None);
        let _ = stop.send(());
        let drained = tokio::time::timeout(drain_timeout, async {
            while let Some(joined) = connections.join_next().await {
                log_join(joined);
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                connections = connections.len(),
                timeout_ms = drain_timeout.as_millis() as u64,
                "QUIC connections still busy after the drain timeout: closing them"
            );
            connections.shutdown().await;
        }
        endpoint.close(no_error(), b"server stopping");
        if tokio::time::timeout(CLOSE_TIMEOUT, endpoint.wait_idle()).await.is_err() {
            tracing::debug!("QUIC endpoint not idle after closing; stopping anyway");
        }
    }
}

/// A refused connection: a debug line each, and a warning at most once a
/// second (one client can cause any number of them).
fn log_refusal(limit: &LogLimit, peer: SocketAddr, refusal: Refusal) {
    tracing::debug!(%peer, ?refusal, "QUIC connection refused");
    if let Some(suppressed) = limit.admit() {
        tracing::warn!(%peer, ?refusal, suppressed, "QUIC connection refused at a connection limit (suppressed: refusals not logged in the last second)");
    }
}

/// How long a connection may go without a request in flight.
#[derive(Clone, Copy, Debug)]
struct Idle {
    /// Before its first request.
    first: Duration,
    /// After.
    then: Duration,
}

/// H3_NO_ERROR as a QUIC application error code.
fn no_error() -> quinn::VarInt {
    quinn::VarInt::from_u32(Code::H3_NO_ERROR.value() as u32)
}

fn log_join(joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined
        && error.is_panic()
    {
        tracing::error!(%error, "an HTTP/3 task panicked");
    }
}

/// Serves one QUIC connection: accepts its request streams until the peer
/// goes away, the server stops or the connection has been idle too long,
/// then waits for the requests in flight. `_permit` is its place under the
/// connection limits, given back when it ends.
async fn connection(
    incoming: quinn::Incoming,
    router: Envelope,
    mut stopping: watch::Receiver<()>,
    idle: Idle,
    _permit: Permit,
) {
    let peer = incoming.remote_address();
    let connection = tokio::select! {
        handshake = incoming => match handshake {
            Ok(connection) => connection,
            Err(error) => return tracing::debug!(%peer, %error, "QUIC handshake failed"),
        },
        _ = stopping.changed() => return,
    };
    let mut h3 = match h3::server::builder()
        .max_field_section_size(HEAD_BYTES_MAX)
        .build(h3_quinn::Connection::new(connection.clone()))
        .await
    {
        Ok(h3) => h3,
        Err(error) => return tracing::debug!(%peer, %error, "HTTP/3 connection set-up failed"),
    };
    let mut requests = JoinSet::new();
    let (mut idle_since, mut served) = (Instant::now(), false);
    loop {
        let idle_until = idle_since + if served { idle.then } else { idle.first };
        tokio::select! {
            biased;
            _ = stopping.changed() => {
                // GOAWAY: requests already accepted finish, later ones are
                // refused. The id sent is the first one not processed (RFC
                // 9114 §5.2), so it must be past the last accepted request.
                if let Err(error) = h3.shutdown(1).await {
                    tracing::debug!(%peer, %error, "HTTP/3 GOAWAY not sent");
                }
                break;
            }
            Some(joined) = requests.join_next(), if !requests.is_empty() => {
                log_join(joined);
                if requests.is_empty() {
                    idle_since = Instant::now();
                }
            }
            () = tokio::time::sleep_until(idle_until), if requests.is_empty() => {
                tracing::debug!(%peer, served, "closing an idle HTTP/3 connection");
                if let Err(error) = h3.shutdown(1).await {
                    tracing::debug!(%peer, %error, "HTTP/3 GOAWAY not sent");
                }
                break;
            }
            accepted = h3.accept() => match accepted {
                Ok(Some(resolver)) => {
                    served = true;
                    requests.spawn(request(resolver, router.clone(), peer));
                }
                Ok(None) => break,
                Err(error) => {
                    if !error.is_h3_no_error() {
                        tracing::debug!(%peer, %error, "HTTP/3 connection ended with an error");
                    }
                    break;
                }
            },
        }
    }
    while let Some(joined) = requests.join_next().await {
        log_join(joined);
    }
    // A finished reply is only queued: closing now would discard what the
    // peer has not acknowledged yet (seen once in CI: a bet answered during
    // a stop never reached the client). Give the last packets a few round
    // trips plus the ACK delay, or less if the peer closes first.
    let grace = (connection.rtt() * 3 + ACK_GRACE).min(CLOSE_TIMEOUT);
    let _ = tokio::time::timeout(grace, connection.closed()).await;
    connection.close(no_error(), b"");
}

type Resolver = RequestResolver<h3_quinn::Connection, Bytes>;
type SendHalf = RequestStream<h3_quinn::SendStream<Bytes>, Bytes>;
type RecvHalf = RequestStream<h3_quinn::RecvStream, Bytes>;

/// Reads one request's head, runs it through the router with its body
/// streaming in, and sends the reply.
async fn request(resolver: Resolver, router: Envelope, peer: SocketAddr) {
    let (head, stream) = match tokio::time::timeout(HEAD_TIMEOUT, resolver.resolve_request()).await {
        Ok(Ok(resolved)) => resolved,
        Ok(Err(error)) => return tracing::debug!(%peer, %error, "HTTP/3 request head unreadable"),
        Err(_) => return tracing::debug!(%peer, "HTTP/3 request head not sent in time"),
    };
    let (mut send, recv) = stream.split();
    let request: Request<Body> = head.map(|()| Body::new(RequestBody::new(recv)));
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(infallible) => match infallible {},
    };
    tracing::debug!(%peer, status = response.status().as_u16(), "HTTP/3 request answered");
    if let Err(error) = respond(&mut send, response).await {
        tracing::debug!(%peer, %error, "HTTP/3 reply not sent");
    }
}

/// Sends the head, the body frames and the end of the reply.
async fn respond(send: &mut SendHalf, response: Response<Body>) -> Result<(), StreamError> {
    let (mut parts, mut body) = response.into_parts();
    for name in CONNECTION_HEADERS {
        parts.headers.remove(name);
    }
    // hyper writes content-length from the body's size over TCP; so do we.
    if !parts.headers.contains_key(header::CONTENT_LENGTH)
        && let Some(length) = body.size_hint().exact()
    {
        parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    send.send_response(Response::from_parts(parts, ())).await?;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(error) => {
                tracing::debug!(%error, "HTTP/3 reply body failed; resetting the stream");
                send.stop_stream(Code::H3_INTERNAL_ERROR);
                return Ok(());
            }
        };
        match frame.into_data() {
            Ok(data) => send.send_data(data).await?,
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    send.send_trailers(trailers).await?;
                }
            }
        }
    }
    send.finish().await
}

/// The receiving half of a request stream as an HTTP body.
struct RequestBody {
    recv: RecvHalf,
    /// The client finished its body (or the stream failed).
    finished: bool,
    /// A read is in progress: the QUIC stream is lent to it.
    reading: bool,
}

impl RequestBody {
    fn new(recv: RecvHalf) -> RequestBody {
        RequestBody {
            recv,
            finished: false,
            reading: false,
        }
    }
}

impl HttpBody for RequestBody {
    type Data = Bytes;
    type Error = StreamError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, StreamError>>> {
        if self.finished {
            return Poll::Ready(None);
        }
        self.reading = true;
        let polled = ready!(self.recv.poll_recv_data(cx));
        self.reading = false;
        match polled {
            Ok(Some(mut data)) => Poll::Ready(Some(Ok(http_body::Frame::data(data.copy_to_bytes(data.remaining()))))),
            Ok(None) => {
                self.finished = true;
                Poll::Ready(None)
            }
            Err(error) => {
                self.finished = true;
                Poll::Ready(Some(Err(error)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished
    }
}

impl Drop for RequestBody {
    /// A route that answers without reading the whole body tells the client
    /// to stop sending it, without error (RFC 9114 §4.1). Not while a read
    /// is in progress: the stream is then inside that read, and dropping it
    /// stops it anyway.
    fn drop(&mut self) {
        if !self.finished && !self.reading {
            self.recv.stop_sending(Code::H3_NO_ERROR);
        }
    }
}
