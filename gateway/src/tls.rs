//! The server's TLS identity: the operator's certificate and key (PEM), or a
//! self-signed pair made in `<data_dir>/tls/` on the first start and reused
//! after, and the two rustls configurations built from it: ALPN `h2` and
//! `http/1.1` for TLS over TCP, ALPN `h3` (TLS 1.3 only) for QUIC.
//!
//! One crypto provider (ring, lighter to build than aws-lc-rs) is handed to
//! every configuration explicitly, so nothing depends on a process-wide
//! default provider being installed, and nothing can panic for lack of one.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// The directory inside the data directory that holds a generated certificate.
pub const TLS_DIR: &str = "tls";
/// File name of the generated certificate (PEM).
pub const CERT_FILE: &str = "cert.pem";
/// File name of the generated private key (PEM, mode 0600).
pub const KEY_FILE: &str = "key.pem";

/// ALPN protocols of TLS over TCP, in the server's order of preference.
pub const TCP_ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];
/// ALPN protocol of HTTP/3.
pub const QUIC_ALPN: &[u8] = b"h3";

/// Why the TLS identity could not be loaded, made or used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not valid PEM.
    #[error("{path}: invalid PEM ({what}): {source}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was being read: "certificate" or "private key".
        what: &'static str,
        /// Why.
        source: rustls::pki_types::pem::Error,
    },
    /// The certificate file holds no `CERTIFICATE` block.
    #[error("{path}: no certificate (expected a PEM `CERTIFICATE` block)")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no private key block.
    #[error("{path}: no private key (expected a PEM PKCS#8, PKCS#1 or SEC1 private key block)")]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The generated certificate's key is gone: generating a new pair would
    /// silently change the identity clients may have pinned.
    #[error("{cert} exists but its key {key} does not: restore the key, or remove both to generate a new pair")]
    MissingKey {
        /// The certificate.
        cert: PathBuf,
        /// The missing key.
        key: PathBuf,
    },
    /// The self-signed certificate could not be made.
    #[error("generating a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A generated file could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// rustls refused the certificate and key (e.g. they do not match, or
    /// the key type is not supported).
    #[error("{cert} with {key}: {source}")]
    Rejected {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// Why.
        source: rustls::Error,
    },
    /// The TLS configuration cannot carry QUIC.
    #[error("QUIC TLS configuration: {0}")]
    Quic(String),
}

/// Where the certificate comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// The operator's own files.
    Files {
        /// PEM certificate chain, leaf first.
        cert: PathBuf,
        /// PEM private key.
        key: PathBuf,
    },
    /// `<data_dir>/tls/`, generated there on first use; `addresses` are
    /// added to the generated certificate's names.
    DataDir {
        /// The data directory.
        data_dir: PathBuf,
        /// Listen addresses to name besides localhost, 127.0.0.1 and ::1.
        addresses: Vec<IpAddr>,
    },
}

/// A loaded certificate chain and its key.
pub struct Identity {
    cert_path: PathBuf,
    key_path: PathBuf,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    generated: bool,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Identity")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .field("generated", &self.generated)
            .finish_non_exhaustive()
    }
}

/// The crypto provider of every configuration.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Identity {
    /// Loads the configured files, or the data directory's pair, generating
    /// that pair first if there is none. Checks that rustls accepts it.
    pub fn load(source: &Source) -> Result<Identity, TlsError> {
        let identity = match source {
            Source::Files { cert, key } => Identity::read(cert, key, false)?,
            Source::DataDir { data_dir, addresses } => {
                let dir = data_dir.join(TLS_DIR);
                let (cert, key) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
                let generated = !cert.exists();
                if generated {
                    generate(&dir, &cert, &key, addresses)?;
                } else if !key.exists() {
                    return Err(TlsError::MissingKey { cert, key });
                }
                Identity::read(&cert, &key, generated)?
            }
        };
        identity.tcp_config()?;
        Ok(identity)
    }

    fn read(cert_path: &Path, key_path: &Path, generated: bool) -> Result<Identity, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                path: path.to_path_buf(),
                source,
            })
        };
        let pem = read(cert_path)?;
        let chain = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| TlsError::Pem {
                path: cert_path.to_path_buf(),
                what: "certificate",
                source,
            })?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate {
                path: cert_path.to_path_buf(),
            });
        }
        let pem = read(key_path)?;
        let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|source| match source {
            rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey {
                path: key_path.to_path_buf(),
            },
            source => TlsError::Pem {
                path: key_path.to_path_buf(),
                what: "private key",
                source,
            },
        })?;
        Ok(Identity {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            chain,
            key,
            generated,
        })
    }

    /// The certificate file.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// The key file.
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// True if this start generated the pair.
    pub fn generated(&self) -> bool {
        self.generated
    }

    /// SHA-256 of the leaf certificate's DER, as colon-separated upper-case
    /// hex (what `openssl x509 -fingerprint -sha256` prints).
    pub fn fingerprint_sha256(&self) -> String {
        let digest = self.chain.first().map(|leaf| Sha256::digest(leaf.as_ref()));
        digest
            .map(|digest| {
                digest
                    .iter()
                    .map(|byte| format!("{byte:02X}"))
                    .collect::<Vec<_>>()
                    .join(":")
            })
            .unwrap_or_default()
    }

    fn server_config(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Result<rustls::ServerConfig, TlsError> {
        let rejected = |source| TlsError::Rejected {
            cert: self.cert_path.clone(),
            key: self.key_path.clone(),
            source,
        };
        rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)
            .map_err(rejected)?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(rejected)
    }

    /// TLS 1.2 and 1.3 over TCP, ALPN `h2` then `http/1.1`.
    pub fn tcp_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut config = self.server_config(rustls::DEFAULT_VERSIONS)?;
        config.alpn_protocols = TCP_ALPN.iter().map(|protocol| protocol.to_vec()).collect();
        Ok(Arc::new(config))
    }

    /// TLS 1.3 for QUIC, ALPN `h3`.
    pub fn quic_config(&self) -> Result<quinn::ServerConfig, TlsError> {
        let mut config = self.server_config(&[&rustls::version::TLS13])?;
        config.alpn_protocols = vec![QUIC_ALPN.to_vec()];
        let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(config)
            .map_err(|error| TlsError::Quic(error.to_string()))?;
        Ok(quinn::ServerConfig::with_crypto(Arc::new(crypto)))
    }
}

/// The names of a generated certificate: localhost, the loopback addresses,
/// and every specific listen address.
pub fn subject_names(addresses: &[IpAddr]) -> Vec<String> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    for address in addresses.iter().filter(|address| !address.is_unspecified()) {
        let name = address.to_string();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Makes a self-signed pair. The key is written first and the certificate
/// last, each atomically: a certificate file means a finished generation,
/// and a crash in between leaves only a key, which the next start replaces.
fn generate(dir: &Path, cert: &Path, key: &Path, addresses: &[IpAddr]) -> Result<(), TlsError> {
    let write_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write_error(dir))?;
    let mut params = rcgen::CertificateParams::new(subject_names(addresses))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "croupier self-signed");
    let key_pair = rcgen::KeyPair::generate()?;
    let certificate = params.self_signed(&key_pair)?;
    write_atomically(key, key_pair.serialize_pem().as_bytes(), true).map_err(write_error(key))?;
    write_atomically(cert, certificate.pem().as_bytes(), false).map_err(write_error(cert))?;
    Ok(())
}

/// Writes `bytes` to a temporary file beside `path` (mode 0600 if
/// `private`), flushes it, renames it over `path` and flushes the directory.
fn write_atomically(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary)?;
    #[cfg(unix)]
    if private {
        // `mode` applies only when the file is created: tighten a leftover too.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)?;
    #[cfg(unix)]
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_dir(dir: &Path) -> Source {
        Source::DataDir {
            data_dir: dir.to_path_buf(),
            addresses: vec!["10.1.2.3".parse().unwrap(), "0.0.0.0".parse().unwrap()],
        }
    }

    #[test]
    fn a_generated_pair_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = Identity::load(&data_dir(dir.path())).unwrap();
        assert!(first.generated());
        assert_eq!(first.cert_path(), dir.path().join("tls/cert.pem"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(first.key_path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = Identity::load(&data_dir(dir.path())).unwrap();
        assert!(!again.generated());
        assert_eq!(again.fingerprint_sha256(), first.fingerprint_sha256());
        assert_eq!(first.fingerprint_sha256().len(), 32 * 3 - 1);
        assert!(again.quic_config().is_ok());
    }

    #[test]
    fn names_cover_loopback_and_specific_listen_addresses() {
        let names = subject_names(&[
            "10.1.2.3".parse().unwrap(),
            "0.0.0.0".parse().unwrap(),
            "::1".parse().unwrap(),
        ]);
        assert_eq!(names, ["localhost", "127.0.0.1", "::1", "10.1.2.3"]);
    }

    #[test]
    fn bad_files_get_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let generated = Identity::load(&data_dir(dir.path())).unwrap();
        let files = |cert: &Path, key: &Path| Source::Files {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
        };
        let missing = dir.path().join("nope.pem");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "hello, not PEM\n").unwrap();
        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let other = tempfile::tempdir().unwrap();
        let other = Identity::load(&data_dir(other.path())).unwrap();

        let check = |source: Source, expect: &str| {
            let error = Identity::load(&source).unwrap_err();
            let text = error.to_string();
            assert!(text.contains(expect), "{text:?} lacks {expect:?}");
        };
        check(files(&missing, generated.key_path()), "reading");
        check(files(&garbage, generated.key_path()), "no certificate");
        check(files(&broken, generated.key_path()), "invalid PEM (certificate)");
        check(files(generated.cert_path(), &garbage), "no private key");
        check(files(generated.cert_path(), other.key_path()), "with");
        assert!(Identity::load(&files(generated.cert_path(), generated.key_path())).is_ok());

        std::fs::remove_file(generated.key_path()).unwrap();
        check(data_dir(dir.path()), "remove both");
    }
}
