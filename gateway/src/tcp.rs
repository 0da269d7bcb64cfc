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

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// Longest a client may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after an accept error that is not about one connection (e.g. out
/// of file descriptors), so that the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How the TCP listener serves its connections.
pub struct TcpTransport {
    /// The bound listener.
    pub listener: TcpListener,
    /// `Some`: connections speak TLS (ALPN `h2`, `http/1.1`) with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Longest a stop waits for connections to finish their requests.
    pub drain_timeout: Duration,
    /// Most connections served at once; later ones are turned away.
    pub max_connections: usize,
}

impl TcpTransport {
    /// Serves `router` until `shutdown` completes and every connection has
    /// finished (or the drain timeout passed).
    pub async fn serve(self, router: Router, shutdown: impl Future<Output = ()>) {
        let TcpTransport {
            listener,
            tls,
            drain_timeout,
            max_connections,
        } = self;
        let tls = tls.map(TlsAcceptor::from);
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // A timer lets hyper bound how long an HTTP/1.1 client takes to send its headers.
        builder.http1().timer(TokioTimer::new());
        builder.http2().timer(TokioTimer::new());
        let graceful = GracefulShutdown::new();
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(joined) = connections.join_next(), if !connections.is_empty() => log_join(joined),
                accepted = listener.accept() => match accepted {
                    Ok((_, peer)) if connections.len() >= max_connections => {
                        // Dropping the stream closes it.
                        tracing::debug!(%peer, max_connections, "TCP connection turned away: at the limit");
                    }
                    Ok((stream, peer)) => {
                        let connection = Connection {
                            builder: builder.clone(),
                            service: TowerToHyperService::new(router.clone()),
                            watcher: graceful.watcher(),
                            peer,
                        };
                        connections.spawn(connection.serve(stream, tls.clone()));
                    }
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
        if tokio::time::timeout(drain_timeout, graceful.shutdown()).await.is_err() {
            tracing::warn!(
                connections = connections.len(),
                timeout_ms = drain_timeout.as_millis() as u64,
                "TCP connections still busy after the drain timeout: closing them"
            );
        }
        connections.shutdown().await;
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
    service: TowerToHyperService<Router>,
    watcher: Watcher,
    peer: SocketAddr,
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

    async fn serve_io<I>(self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let connection = self.builder.serve_connection(TokioIo::new(io), self.service);
        if let Err(error) = self.watcher.watch(connection).await {
            // Clients that vanish mid-request end up here; nothing to answer.
            tracing::debug!(peer = %self.peer, %error, "connection ended with an error");
        }
    }
}
