//! What every third-party sandbox shares: a real HTTP server on a loopback
//! port that serves one router until stopped, and the check that keeps its
//! webhooks on loopback too. The sandboxes themselves (the Stripe, KYC and
//! self-exclusion protocols) live with the adapters they test.

use std::net::SocketAddr;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A sandbox serving on loopback: bound by [`LoopbackServer::bind`],
/// started by [`LoopbackServer::serve`],
/// stopped by [`LoopbackServer::stop`] (or served until the process ends
/// with [`LoopbackServer::wait`]).
pub struct LoopbackServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl LoopbackServer {
    /// Binds `listen`, which must be a loopback address; `name` ("the
    /// Stripe sandbox") names the sandbox in the error.
    pub async fn bind(name: &str, listen: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
        if !listen.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{name} listens on loopback only"),
            ));
        }
        tokio::net::TcpListener::bind(listen).await
    }

    /// Serves `router` on `listener` (from [`LoopbackServer::bind`]) until
    /// stopped.
    pub fn serve(
        name: &str,
        listener: tokio::net::TcpListener,
        router: axum::Router,
    ) -> std::io::Result<LoopbackServer> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let name = name.to_owned();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::error!(%error, "{name} stopped");
            }
        });
        Ok(LoopbackServer {
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL (`http://127.0.0.1:<port>`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves until the process ends.
    pub async fn wait(self) {
        let _ = self.task.await;
    }

    /// Stops serving at once: connections still open (a client's idle
    /// keep-alive) would hold a graceful shutdown forever.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Checks that `url` is `http://` on a loopback host: a sandbox sends its
/// webhooks nowhere else.
pub fn check_loopback(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: an http:// URL on loopback"))?;
    let host = rest.split('/').next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(host, _)| host);
    let loopback = host == "localhost"
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(format!("{url}: the sandbox sends webhooks to loopback only"))
    }
}

#[cfg(test)]
mod tests {
    use super::check_loopback;

    #[test]
    fn webhooks_go_to_loopback_only() {
        for url in ["http://127.0.0.1:9/hook", "http://localhost/x", "http://[::1]:80/"] {
            assert_eq!(check_loopback(url), Ok(()), "{url}");
        }
        for url in [
            "https://127.0.0.1/",
            "http://10.0.0.1:80/",
            "http://example.com/",
            "ftp://localhost/",
        ] {
            assert!(check_loopback(url).is_err(), "{url}");
        }
    }
}
