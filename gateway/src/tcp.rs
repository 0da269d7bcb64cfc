//! The TCP transport: HTTP/1.1 and HTTP/2 on one port, in cleartext (HTTP/2
//! by prior knowledge, "h2c") or over TLS (rustls; HTTP/2 or HTTP/1.1 by
//! ALPN), handing every request to the one router.
//!
//! Each connection is served on its own task by hyper-util's auto builder,
//! which tells HTTP/2 from HTTP/1.1 by the connection preface, so cleartext
//! and TLS share every line after the handshake. A stop closes the
//! listener, asks each connection to finish (HTTP/1.1: after the reply in
//! progress; HTTP/2: GOAWAY, then the open streams) and waits for them, up
//! to a bound after which the stragglers are cut.
//!
//! Nothing a client does holds a connection open for free:
//! - [`Admission`] turns a connection away at once when the transport, or
//!   the client's address, holds its maximum;
//! - a connection must have started a request within the header-read
//!   timeout: the auto builder waits for the first bytes before hyper sees
//!   the connection, so hyper's own timer cannot cover that wait, and the
//!   watchdog here ([`idle`]) does;
//! - HTTP/1.1: hyper's header-read timer covers each head, and after a
//!   reply it is armed at once for the next, so it is also the keep-alive
//!   idle limit (hyper 1.x `Conn::poll_read_head` and `State::idle`);
//! - HTTP/2: hyper has no idle timeout, so the watchdog counts the
//!   requests in flight (the service is wrapped per connection) and closes
//!   the connection (GOAWAY) once none has been for the idle timeout;
//!   keep-alive pings close a connection whose peer stopped answering.
//!
//! A watchdog's graceful close is bounded too: a client that never
//! acknowledges the GOAWAY's ping is cut after the drain timeout.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::Request;
use axum::response::Response;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower::Service;

use crate::admission::{Admission, Permit, Refusal};
use crate::app::Envelope;
use crate::log_limit::LogLimit;

/// Longest a client may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after an accept error that is not about one connection (e.g. out
/// of file descriptors), so that the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How long a connection may wait for what.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// Until a request's head is in: from the connection's start (after the
    /// TLS handshake), and on HTTP/1.1 from the previous reply.
    pub header_read: Duration,
    /// HTTP/2: with no request in flight after the first one.
    pub idle: Duration,
    /// HTTP/2 ping interval (`None`: no pings).
    pub http2_keep_alive_interval: Option<Duration>,
    /// HTTP/2: longest a ping may go unanswered.
    pub http2_keep_alive_timeout: Duration,
}

/// How the TCP listener serves its connections.
pub struct TcpTransport {
    /// The bound listener.
    pub listener: TcpListener,
    /// `Some`: connections speak TLS (ALPN `h2`, `http/1.1`) with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Longest a stop waits for connections to finish their requests; also
    /// how long an idle connection's graceful close may take.
    pub drain_timeout: Duration,
    /// Which connections are let in.
    pub admission: Admission,
    /// The connections' timeouts.
    pub timeouts: Timeouts,
}

impl TcpTransport {
    /// Serves `router` until `shutdown` completes and every connection has
    /// finished (or the drain timeout passed).
    pub async fn serve(self, router: Envelope, shutdown: impl Future<Output = ()>) {
        let TcpTransport {
            listener,
            tls,
            drain_timeout,
            admission,
            timeouts,
        } = self;
        let tls = tls.map(TlsAcceptor::from);
        let builder = builder(&timeouts);
        let (stop, stopping) = watch::channel(false);
        let mut connections = JoinSet::new();
        let refusals = LogLimit::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(joined) = connections.join_next(), if !connections.is_empty() => log_join(joined),
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => match admission.admit(peer.ip()) {
                        Ok(permit) => {
                            let connection = Connection {
                                builder: builder.clone(),
                                router: router.clone(),
                                stopping: stopping.clone(),
                                peer,
                                timeouts,
                                close_timeout: drain_timeout,
                                _permit: permit,
                            };
                            connections.spawn(connection.serve(stream, tls.clone()));
                        }
                        // Dropping the stream closes it.
                        Err(refusal) => log_refusal(&refusals, peer, refusal),
                    },
                    Err(error) if is_connection_error(&error) => {
                        tracing::debug!(%error, "TCP accept: connection failed before it was accepted");
                    }
                    Err(error) => {
                        tracing::error!(%error, "TCP accept failed; pausing");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                },
            }
        }
        drop(listener);
        let _ = stop.send(true);
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
                "TCP connections still busy after the drain timeout: closing them"
            );
        }
        connections.shutdown().await;
    }
}

/// The connection builder: HTTP/1.1 and HTTP/2 with their timers.
fn builder(timeouts: &Timeouts) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(timeouts.http2_keep_alive_interval)
        .keep_alive_timeout(timeouts.http2_keep_alive_timeout);
    builder
}

/// A refused connection: a debug line each, and a warning at most once a
/// second (one client can cause any number of them).
fn log_refusal(limit: &LogLimit, peer: SocketAddr, refusal: Refusal) {
    tracing::debug!(%peer, ?refusal, "TCP connection turned away");
    if let Some(suppressed) = limit.admit() {
        tracing::warn!(%peer, ?refusal, suppressed, "TCP connection turned away at a connection limit (suppressed: refusals not logged in the last second)");
    }
}

/// Errors of one connection that has already gone: accept the next.
fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

fn log_join(joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined
        && error.is_panic()
    {
        tracing::error!(%error, "a connection task panicked");
    }
}

/// One accepted connection and what it needs to be served.
struct Connection {
    builder: auto::Builder<TokioExecutor>,
    router: Envelope,
    stopping: watch::Receiver<bool>,
    peer: SocketAddr,
    timeouts: Timeouts,
    /// Longest a graceful close started by the watchdog may take.
    close_timeout: Duration,
    /// The connection's place under the limits, given back when it ends.
    _permit: Permit,
}

/// Why a connection is being closed.
#[derive(Debug)]
enum Closing {
    Stop,
    Idle,
}

impl Connection {
    async fn serve(self, stream: TcpStream, tls: Option<TlsAcceptor>) {
        // Replies are small and latency matters more than packet count.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(peer = %self.peer, %error, "TCP_NODELAY not set");
        }
        let Some(acceptor) = tls else {
            return self.serve_io(stream).await;
        };
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => self.serve_io(stream).await,
            Ok(Err(error)) => tracing::debug!(peer = %self.peer, %error, "TLS handshake failed"),
            Err(_) => tracing::debug!(peer = %self.peer, "TLS handshake timed out"),
        }
    }

    async fn serve_io<I>(mut self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::new());
        let service = TowerToHyperService::new(Counted {
            router: self.router.clone(),
            activity: activity.clone(),
        });
        let connection = self.builder.serve_connection(TokioIo::new(io), service);
        tokio::pin!(connection);
        let closing = tokio::select! {
            ended = connection.as_mut() => return log_end(self.peer, ended),
            _ = self.stopping.wait_for(|stopping| *stopping) => Closing::Stop,
            () = idle(&activity, self.timeouts) => Closing::Idle,
        };
        tracing::debug!(peer = %self.peer, ?closing, "closing the connection");
        // HTTP/1.1: close after the reply in progress (at once if none);
        // HTTP/2: GOAWAY, then the open streams; not yet HTTP: close.
        connection.as_mut().graceful_shutdown();
        match closing {
            // The transport bounds a stop's drain.
            Closing::Stop => log_end(self.peer, connection.await),
            Closing::Idle => match tokio::time::timeout(self.close_timeout, connection).await {
                Ok(ended) => log_end(self.peer, ended),
                Err(_) => tracing::debug!(peer = %self.peer, "idle connection did not close in time: cut"),
            },
        }
    }
}

fn log_end(peer: SocketAddr, ended: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(error) = ended {
        // Clients that vanish mid-request, or are timed out, end up here; nothing to answer.
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}

/// The requests in flight on one connection, and since when it has had none.
struct Activity {
    state: Mutex<ActivityState>,
    /// Woken whenever a request starts or ends.
    changed: Notify,
}

struct ActivityState {
    in_flight: usize,
    /// When the last request ended (or the connection started).
    idle_since: Instant,
    /// A request has started on this connection.
    served: bool,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            state: Mutex::new(ActivityState {
                in_flight: 0,
                idle_since: Instant::now(),
                served: false,
            }),
            changed: Notify::new(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut ActivityState) -> T) -> T {
        // Counting cannot panic halfway, so a poisoned lock is still consistent.
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut state)
    }
}

/// The router, counting the requests in flight on one connection.
#[derive(Clone)]
struct Counted {
    router: Envelope,
    activity: Arc<Activity>,
}

impl<B> Service<Request<B>> for Counted
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // A router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let in_flight = InFlight::enter(&self.activity);
        let reply = self.router.call(request.map(axum::body::Body::new));
        Box::pin(async move {
            let reply = reply.await;
            drop(in_flight);
            reply
        })
    }
}

/// A request in flight; dropped when its reply is ready.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn enter(activity: &Arc<Activity>) -> InFlight {
        activity.with(|state| {
            state.in_flight += 1;
            state.served = true;
        });
        activity.changed.notify_waiters();
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.with(|state| {
            assert!(state.in_flight > 0, "a request left twice");
            state.in_flight -= 1;
            if state.in_flight == 0 {
                state.idle_since = Instant::now();
            }
        });
        self.0.changed.notify_waiters();
    }
}

/// Completes once the connection has had no request in flight for long
/// enough: the header-read timeout before its first request, the idle
/// timeout after.
async fn idle(activity: &Activity, timeouts: Timeouts) {
    loop {
        // Registered before reading the state, so no change is missed.
        let changed = activity.changed.notified();
        let deadline = activity.with(|state| {
            let limit = if state.served {
                timeouts.idle
            } else {
                timeouts.header_read
            };
            (state.in_flight == 0).then(|| state.idle_since + limit)
        });
        match deadline {
            Some(deadline) if Instant::now() >= deadline => return,
            Some(deadline) => {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => {}
                    () = changed => {}
                }
            }
            None => changed.await,
        }
    }
}
