//! TLS to PostgreSQL, as libpq's `sslmode` and `sslrootcert` ask for it.
//!
//! tokio-postgres parses a connection string but knows only `disable`,
//! `prefer` and `require`, and no root certificate: so both parameters are
//! taken out of the URL (or key-value string) here, the rest is left to
//! tokio-postgres, and the rustls configuration (the workspace's one crypto
//! provider, ring, passed explicitly) does what libpq would do:
//!
//! | `sslmode` | TLS | chain checked | host name checked |
//! |---|---|---|---|
//! | `disable` | never | | |
//! | `prefer` (default) | if the server offers it | only with `sslrootcert` | no |
//! | `require` | always | only with `sslrootcert` | no |
//! | `verify-ca` | always | yes | no |
//! | `verify-full` | always | yes | yes |
//!
//! A chain is checked against the PEM file `sslrootcert` names, or, for
//! `verify-ca`/`verify-full` without one, against the Mozilla roots bundled
//! in the binary (`webpki-roots`; libpq would look for
//! `~/.postgresql/root.crt`, which a server process should not depend on).
//! `prefer` and `require` without a root certificate encrypt but accept any
//! certificate, exactly as libpq does: an active attacker can read them.
//! libpq's `allow` (cleartext first, TLS if refused) is refused at start:
//! tokio-postgres cannot try cleartext first, and nobody should want to.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::ExportError;

/// libpq's `sslmode` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// Cleartext only.
    Disable,
    /// TLS if the server offers it (libpq's default).
    Prefer,
    /// TLS or no connection.
    Require,
    /// TLS, and the server's chain checked.
    VerifyCa,
    /// TLS, the server's chain checked and its name matched.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, ExportError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => return Err(ExportError::SslMode(other.to_owned())),
        })
    }
}

/// A connection string with its TLS parameters taken out.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Split {
    /// What tokio-postgres is given.
    pub rest: String,
    pub sslmode: Option<String>,
    pub sslrootcert: Option<String>,
}

/// Takes `sslmode` and `sslrootcert` out of a URL's query or a key-value
/// string; leaves anything it does not understand to tokio-postgres.
pub(crate) fn split(url: &str) -> Split {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        split_url(url)
    } else {
        split_key_values(url)
    }
}

fn split_url(url: &str) -> Split {
    let Some((base, query)) = url.split_once('?') else {
        return Split {
            rest: url.to_owned(),
            ..Split::default()
        };
    };
    let mut split = Split::default();
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => split.sslmode = Some(percent_decode(value)),
            "sslrootcert" => split.sslrootcert = Some(percent_decode(value)),
            _ => kept.push(pair),
        }
    }
    split.rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    split
}

/// `%XX` escapes decoded (a malformed one is kept as written).
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// libpq's key-value syntax: `key = value` pairs, a value single-quoted
/// (backslash escapes) when it holds spaces.
fn split_key_values(text: &str) -> Split {
    let mut split = Split::default();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key_start = i;
        while i < bytes.len() && bytes[i] != b'=' && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = &text[key_start..i];
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == bytes.len() || bytes[i] != b'=' {
            // Not a pair: tokio-postgres says what is wrong with it.
            split.rest.push_str(&text[start..]);
            break;
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = Vec::new();
        let quoted = bytes.get(i) == Some(&b'\'');
        if quoted {
            i += 1;
        }
        while i < bytes.len() {
            match bytes[i] {
                b'\\' if i + 1 < bytes.len() => {
                    value.push(bytes[i + 1]);
                    i += 2;
                    continue;
                }
                b'\'' if quoted => {
                    i += 1;
                    break;
                }
                b if !quoted && b.is_ascii_whitespace() => break,
                b => value.push(b),
            }
            i += 1;
        }
        let value = String::from_utf8_lossy(&value).into_owned();
        match key {
            "sslmode" => split.sslmode = Some(value),
            "sslrootcert" => split.sslrootcert = Some(value),
            _ => split.rest.push_str(&text[start..i]),
        }
    }
    split.rest = split.rest.trim().to_owned();
    split
}

/// How the export connects: cleartext, or rustls configured for the mode.
#[derive(Clone)]
pub(crate) enum Tls {
    /// `sslmode=disable`.
    Off,
    /// Any other mode (tokio-postgres' own `ssl_mode` says whether a
    /// server without TLS is accepted).
    Rustls(tokio_postgres_rustls::MakeRustlsConnect),
}

/// The tokio-postgres mode and the TLS connector for `mode`, with the
/// roots of the PEM file `root_cert` if given.
pub(crate) fn configure(
    mode: SslMode,
    root_cert: Option<&str>,
) -> Result<(tokio_postgres::config::SslMode, Tls), ExportError> {
    use tokio_postgres::config::SslMode as Pg;
    let pg = match mode {
        SslMode::Disable => return Ok((Pg::Disable, Tls::Off)),
        SslMode::Prefer => Pg::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Pg::Require,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = match root_cert {
        Some(path) => Some(read_roots(path)?),
        None if matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) => Some(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }),
        None => None,
    };
    let verifier: Arc<dyn ServerCertVerifier> = match roots {
        None => Arc::new(AnyCertificate(provider.clone())),
        Some(roots) => {
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| ExportError::Tls(e.to_string()))?;
            if mode == SslMode::VerifyFull {
                webpki
            } else {
                Arc::new(ChainOnly(webpki))
            }
        }
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ExportError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok((pg, Tls::Rustls(tokio_postgres_rustls::MakeRustlsConnect::new(config))))
}

/// The certificates of a PEM file, as trust anchors.
fn read_roots(path: &str) -> Result<RootCertStore, ExportError> {
    let bad = |reason: String| ExportError::RootCert {
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(bad("no usable certificate in it".into()));
    }
    Ok(roots)
}

/// `prefer`/`require` without a root certificate: encryption only (the
/// handshake's signatures are still checked, so the session key is the
/// certificate's, whoever holds it).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca` (and `prefer`/`require` with a root certificate): the chain
/// must lead to a root, whatever name the certificate is for. webpki
/// checks the chain before the name, so a name mismatch means the chain
/// was good.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Parses `sslmode` (libpq's default, `prefer`, when absent).
pub(crate) fn mode(value: Option<&str>) -> Result<SslMode, ExportError> {
    value.map_or(Ok(SslMode::Prefer), SslMode::parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, rest: &str, sslmode: Option<&str>, sslrootcert: Option<&str>) {
        let split = split(url);
        assert_eq!(
            (
                split.rest.as_str(),
                split.sslmode.as_deref(),
                split.sslrootcert.as_deref()
            ),
            (rest, sslmode, sslrootcert),
            "{url}"
        );
    }

    #[test]
    fn tls_parameters_are_taken_out_of_urls_and_key_value_strings() {
        check("postgres://u@h/db", "postgres://u@h/db", None, None);
        check(
            "postgres://u@h:5432/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca%20x.pem",
            "postgres://u@h:5432/db",
            Some("verify-full"),
            Some("/tmp/ca x.pem"),
        );
        check(
            "postgresql://u@h/db?connect_timeout=5&sslmode=require&application_name=x",
            "postgresql://u@h/db?connect_timeout=5&application_name=x",
            Some("require"),
            None,
        );
        check(
            "host=h user=u sslmode=verify-ca sslrootcert='/a b/c\\'s.pem' dbname=d",
            "host=h user=u dbname=d",
            Some("verify-ca"),
            Some("/a b/c's.pem"),
        );
        check("host = h sslmode = disable", "host = h", Some("disable"), None);
        check("not a url", "not a url", None, None);
    }

    #[test]
    fn modes_parse_as_libpq_names_them_and_default_to_prefer() {
        assert_eq!(mode(None).unwrap(), SslMode::Prefer);
        for (name, expected) in [
            ("disable", SslMode::Disable),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ] {
            assert_eq!(mode(Some(name)).unwrap(), expected);
        }
        for bad in ["allow", "VERIFY-FULL", "", "verify_full"] {
            let error = mode(Some(bad)).unwrap_err().to_string();
            assert!(error.contains("sslmode") && error.contains("verify-full"), "{error}");
        }
    }

    #[test]
    fn a_missing_or_empty_root_certificate_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.pem");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        for path in [&missing, &empty] {
            let Err(error) = configure(SslMode::VerifyFull, path.to_str()) else {
                panic!("{} was accepted", path.display());
            };
            assert!(error.to_string().contains("sslrootcert"), "{error}");
        }
        assert!(configure(SslMode::VerifyFull, None).is_ok());
        assert!(configure(SslMode::Require, None).is_ok());
    }
}
