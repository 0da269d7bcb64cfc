//! A throwaway PostgreSQL server for the export's tests: `initdb` and
//! `pg_ctl` (installed by `scripts/install-postgres`) make a cluster in a
//! temporary directory and run it on a free loopback port, as the
//! `postgres` user when the tests run as root (PostgreSQL refuses to run as
//! root). It can be stopped and started again on the same port (an outage),
//! and is stopped and removed when dropped. [`Postgres::start_tls`] turns
//! TLS on with a certificate for `localhost` and 127.0.0.1 signed by a CA
//! made for the test (rcgen), and accepts TCP connections over TLS only.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    running: bool,
    /// TLS on, TCP connections over TLS only.
    tls: bool,
}

/// Where `initdb` and `pg_ctl` are: `PG_BINDIR`, then PATH, then Debian's
/// versioned directories (newest first).
fn bindir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PG_BINDIR") {
        return PathBuf::from(dir);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").exists() && dir.join("pg_ctl").exists() {
                return dir;
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .expect("PostgreSQL's initdb not found: run scripts/install-postgres")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA made for a test: its PEM certificate and the issuer that signs
/// with it.
pub struct TestCa {
    pub pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        let pem = params.self_signed(&key).unwrap().pem();
        TestCa {
            pem,
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A server certificate and its key (PEM) for `names`.
    fn server(&self, names: &[&str]) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "croupier test postgres");
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

impl Postgres {
    /// Makes a cluster (user `croupier`, trust authentication on loopback)
    /// and starts it.
    pub fn start() -> Postgres {
        Postgres::make()
    }

    /// [`Postgres::start`] with TLS on (a certificate for `localhost` and
    /// 127.0.0.1 signed by `ca`) and TCP connections refused unless over
    /// TLS (`hostssl` only in `pg_hba.conf`); the test's own
    /// [`Postgres::client`] comes through the Unix socket.
    pub fn start_tls(ca: &TestCa) -> Postgres {
        Postgres::start_tls_for(ca, &["localhost", "127.0.0.1"])
    }

    /// [`Postgres::start_tls`] with a certificate for `names` only.
    pub fn start_tls_for(ca: &TestCa, names: &[&str]) -> Postgres {
        let mut pg = Postgres::make();
        pg.halt();
        let (cert, key) = ca.server(names);
        let data = pg.data();
        let hba = "local all all trust\nhostssl all all 127.0.0.1/32 trust\n";
        for (name, text) in [
            ("server.crt", cert.as_str()),
            ("server.key", key.as_str()),
            ("pg_hba.conf", hba),
        ] {
            let path = data.join(name);
            std::fs::write(&path, text).unwrap();
            // PostgreSQL refuses a key others can read, or one it does not own.
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
            if pg.as_postgres {
                let status = Command::new("chown").arg("postgres:").arg(&path).status().unwrap();
                assert!(status.success(), "chown of {name} failed");
            }
        }
        pg.tls = true;
        pg.resume();
        pg
    }

    fn make() -> Postgres {
        let dir = tempfile::Builder::new().prefix("croupier-pg").tempdir().unwrap();
        let as_postgres = is_root();
        if as_postgres {
            let status = Command::new("chown").arg("postgres:").arg(dir.path()).status().unwrap();
            assert!(status.success(), "chown of the cluster's directory failed");
        }
        let mut pg = Postgres {
            dir,
            bin: bindir(),
            port: free_port(),
            as_postgres,
            running: false,
            tls: false,
        };
        let data = pg.data();
        let out = pg
            .tool("initdb")
            .args(["-U", "croupier", "--auth=trust", "-E", "UTF8", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.resume();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn tool(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn pg_ctl(&self, args: &[&str]) -> std::process::Output {
        self.tool("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(args)
            .output()
            .unwrap()
    }

    /// Starts the server again on the same port (after [`Postgres::halt`]).
    pub fn resume(&mut self) {
        let socket_dir: &Path = self.dir.path();
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off",
            self.port,
            socket_dir.display()
        );
        if self.tls {
            options.push_str(" -c ssl=on");
        }
        let log = self.dir.path().join("log");
        let out = self.pg_ctl(&["-w", "-t", "60", "-o", &options, "-l", log.to_str().unwrap(), "start"]);
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        self.running = true;
    }

    /// Stops the server at once, dropping every connection (an outage).
    pub fn halt(&mut self) {
        let out = self.pg_ctl(&["-w", "-m", "immediate", "stop"]);
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.running = false;
    }

    pub fn url(&self) -> String {
        format!("postgres://croupier@127.0.0.1:{}/postgres", self.port)
    }

    /// [`Postgres::url`] with a query (`sslmode=…&sslrootcert=…`).
    pub fn url_with(&self, query: &str) -> String {
        format!("{}?{query}", self.url())
    }

    /// A client connection (its driver runs on the test's runtime), over
    /// the Unix socket when TCP takes TLS only.
    pub async fn client(&self) -> tokio_postgres::Client {
        let url = if self.tls {
            format!(
                "host={} port={} user=croupier dbname=postgres",
                self.dir.path().display(),
                self.port
            )
        } else {
            self.url()
        };
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connects to the test PostgreSQL");
        tokio::spawn(connection);
        client
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            let _ = self.pg_ctl(&["-w", "-m", "immediate", "stop"]);
        }
    }
}
