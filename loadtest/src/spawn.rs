//! `--spawn`: a `croupier serve` of our own on a fresh temporary data
//! directory and a free loopback port, stopped and removed when the run
//! ends (also when it fails).

use std::ffi::OsString;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A server this run started.
pub struct Spawned {
    child: Child,
    pub url: String,
    /// Its HTTP/3 address (its certificate is `tls/cert.pem` beside the token file).
    pub quic_addr: SocketAddr,
    pub token_file: PathBuf,
    // Removed on drop, after the server stopped.
    _dir: tempfile::TempDir,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `croupier` binary: `--server-bin`, or the one next to this program.
fn server_binary(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = given {
        return Ok(path.to_path_buf());
    }
    let me = std::env::current_exe().context("locating croupier-loadtest")?;
    let sibling = me.with_file_name(format!("croupier{}", std::env::consts::EXE_SUFFIX));
    if sibling.is_file() {
        return Ok(sibling);
    }
    bail!(
        "no croupier binary next to {} (build it with `cargo build --release -p croupier-gateway`, or pass --server-bin)",
        me.display()
    )
}

/// Loopback TCP and UDP ports free at the time of asking.
fn free_ports() -> Result<(u16, u16)> {
    let tcp = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let udp = UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
    Ok((tcp, udp))
}

/// Connections from this program besides the run's own: the fixture's and
/// the final check's clients.
const OWN_CLIENTS: usize = 16;

/// `croupier serve`'s arguments for a run of `connections` connections on
/// the data directory `dir`, HTTP on `port` and QUIC on `quic_port`.
fn serve_args(dir: &Path, port: u16, quic_port: u16, connections: usize) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["serve".into(), "--data-dir".into(), dir.into()];
    args.extend(["--listen".into(), format!("127.0.0.1:{port}").into()]);
    args.extend(["--quic-listen".into(), format!("127.0.0.1:{quic_port}").into()]);
    args.extend(["--log".into(), "warn".into()]);
    // The scenarios fund each player far past the shipped profiles'
    // due-diligence threshold: a load test measures the wallet unregulated.
    args.push("--ship-jurisdiction-profiles=false".into());
    // Every connection comes from 127.0.0.1: past the default per-address
    // limit (256), the server would refuse the run's own connections.
    let per_ip = (connections + OWN_CLIENTS).max(256);
    args.extend(["--max-connections-per-ip".into(), per_ip.to_string().into()]);
    args
}

/// Starts the server, admitting `connections` from loopback, and waits
/// until it is ready (at most 30 s).
pub async fn spawn(server_bin: Option<&Path>, connections: usize) -> Result<Spawned> {
    let binary = server_binary(server_bin)?;
    let dir = tempfile::Builder::new().prefix("croupier-loadtest-").tempdir()?;
    let (port, quic_port) = free_ports()?;
    let child = Command::new(&binary)
        .args(serve_args(dir.path(), port, quic_port, connections))
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let mut spawned = Spawned {
        child,
        url: format!("http://127.0.0.1:{port}"),
        quic_addr: SocketAddr::from(([127, 0, 0, 1], quic_port)),
        token_file: dir.path().join("operator-token"),
        _dir: dir,
    };
    // Each probe bounded too: a server that accepts and never answers
    // must not hold the start-up past its deadline.
    let client = reqwest::Client::builder().timeout(Duration::from_secs(1)).build()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = spawned.child.try_wait()? {
            bail!("the spawned server exited at start-up ({status})");
        }
        let ready = client
            .get(format!("{}/readyz", spawned.url))
            .send()
            .await
            .is_ok_and(|response| response.status().is_success());
        if ready && spawned.token_file.is_file() {
            return Ok(spawned);
        }
        if Instant::now() >= deadline {
            bail!("the spawned server was not ready within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value following `flag` in `args`.
    fn value_of<'a>(args: &'a [OsString], flag: &str) -> &'a str {
        let at = args.iter().position(|arg| arg == flag).unwrap();
        args[at + 1].to_str().unwrap()
    }

    #[test]
    fn the_spawned_server_admits_every_connection_of_the_run() {
        let dir = Path::new("/tmp/croupier-loadtest-x");
        let args = serve_args(dir, 8080, 8443, 1024);
        assert_eq!(value_of(&args, "--max-connections-per-ip"), "1040");
        assert_eq!(value_of(&args, "--listen"), "127.0.0.1:8080");
        assert_eq!(value_of(&args, "--data-dir"), "/tmp/croupier-loadtest-x");
        // Never below the server's own default.
        let args = serve_args(dir, 8080, 8443, 4);
        assert_eq!(value_of(&args, "--max-connections-per-ip"), "256");
    }
}
