//! One connection's HTTP client (HTTP/1.1 and HTTP/2 on one hyper
//! connection, or through reqwest over TLS; HTTP/3 through quinn + h3), and
//! signing each request the way its contract wants: HMAC for the native
//! wallet API, RSA for Hub88, the bearer token for the operator API.
//!
//! The generator shares the server's machine, so what it spends a request
//! is taken from the server: a cleartext connection is hyper's own
//! connection, with none of reqwest's per-request work (parsing the URL,
//! checking a pool out and in, cloning its connector).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use bytes::{Buf, Bytes};
use http_body_util::{BodyExt, Full};
use protocol::rsa_signature::RsaSigner;
use protocol::signature::{AGGREGATOR_HEADER, SIGNATURE_HEADER, Secret, TIMESTAMP_HEADER, sign};
use reqwest::{Client, Method, StatusCode};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The HTTP version a run speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Http {
    /// HTTP/1.1 on keep-alive connections.
    Http1,
    /// HTTP/2 with prior knowledge (cleartext), one stream at a time per connection.
    Http2,
    /// HTTP/3 over QUIC (TLS 1.3), one stream at a time per connection.
    Http3,
}

/// Where and how to reach the server's HTTP/3 port.
#[derive(Clone, Debug)]
pub struct Quic {
    pub addr: SocketAddr,
    /// The PEM certificate to trust (the server's, self-signed by default).
    pub cert_pem: Vec<u8>,
}

impl Quic {
    /// `addr`, trusting the certificate in `cert`.
    pub fn new(addr: SocketAddr, cert: &Path) -> Result<Quic> {
        let cert_pem = std::fs::read(cert).with_context(|| {
            format!(
                "reading the server certificate {} (for HTTP/3; see --ca-cert)",
                cert.display()
            )
        })?;
        Ok(Quic { addr, cert_pem })
    }
}

/// How the aggregator signs.
#[derive(Clone)]
pub enum Credential {
    /// The native API's shared secret.
    Hmac(Secret),
    /// Hub88's RSA key pair (ours; the server holds the public half).
    Rsa(RsaSigner),
    /// Pragmatic Play's secret key (MD5 over the sorted parameters and the key).
    HashKey(String),
    /// Evolution's `authToken` (in the query of every call).
    AuthToken(String),
}

/// A reply, read whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }

    /// The body as text, for error messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One connection to the server, with what it needs to sign.
pub struct Wire {
    transport: Transport,
    /// How long a request may wait for its whole reply (connecting
    /// included) before it is a transport failure: a stalled server never
    /// holds a run up.
    timeout: Duration,
    /// The URL before each request's path (for reqwest).
    base: String,
    admin: String,
    aggregator: u32,
    credential: Credential,
}

/// What a request goes to.
#[derive(Clone, Debug)]
pub enum Call {
    /// `POST /wallet/v1/{route}`, HMAC-signed.
    Native { route: &'static str, body: Vec<u8> },
    /// `POST /hub88/{aggregator}/transaction/{route}` (or `user/{route}`), RSA-signed.
    Hub88 { route: &'static str, body: Vec<u8> },
    /// `POST /pragmatic/{aggregator}/{method}.html`, a form with its `hash`.
    Pragmatic {
        method: &'static str,
        params: Vec<(&'static str, String)>,
    },
    /// `POST /evolution/{aggregator}/{route}?authToken=…` with a JSON body.
    Evolution { route: &'static str, body: Vec<u8> },
    /// `POST` on the operator API with the bearer token.
    OperatorPost { path: String, body: Vec<u8> },
    /// `GET` on the operator API with the bearer token.
    OperatorGet { path: String },
    /// A public `GET` (no engine work).
    Get { path: &'static str },
}

/// What an error names: the call and its body as text (a `Debug` of the
/// body would print its bytes as numbers).
impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = |body: &[u8]| String::from_utf8_lossy(body).into_owned();
        match self {
            Call::Native { route, body } => write!(f, "native {route} {}", text(body)),
            Call::Hub88 { route, body } => write!(f, "Hub88 {route} {}", text(body)),
            Call::Pragmatic { method, params } => {
                write!(f, "Pragmatic Play {method}")?;
                for (name, value) in params {
                    write!(f, " {name}={value}")?;
                }
                Ok(())
            }
            Call::Evolution { route, body } => write!(f, "Evolution {route} {}", text(body)),
            Call::OperatorPost { path, body } => write!(f, "POST {path} {}", text(body)),
            Call::OperatorGet { path } => write!(f, "GET {path}"),
            Call::Get { path } => write!(f, "GET {path}"),
        }
    }
}

/// How requests travel.
enum Transport {
    /// HTTP/1.1 or HTTP/2 in clear: one hyper connection, opened again
    /// after the server closes it.
    Plain(Plain),
    /// HTTP/1.1 or HTTP/2 over TLS.
    Tls(Client),
    /// HTTP/3: the QUIC connection's request sender (and its endpoint,
    /// which must live as long).
    H3 {
        send: h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
        _endpoint: quinn::Endpoint,
    },
}

/// A request ready to go out on any transport.
struct Prepared {
    method: Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
}

impl Wire {
    /// A client that keeps one connection to `base` (for HTTP/3: to `quic`),
    /// each request answered within `timeout` or failed.
    pub async fn new(
        http: Http,
        base: &str,
        quic: Option<&Quic>,
        admin: &str,
        aggregator: u32,
        credential: Credential,
        timeout: Duration,
    ) -> Result<Wire> {
        let uri: http::Uri = base.parse().with_context(|| format!("the server URL {base}"))?;
        let tls = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let transport = match http {
            Http::Http3 => {
                let quic = quic.context("HTTP/3 needs the server's QUIC address")?;
                within(timeout, h3_connect(quic))
                    .await
                    .with_context(|| format!("QUIC handshake with {}", quic.addr))?
            }
            Http::Http1 if tls => Transport::Tls(
                Client::builder()
                    .http1_only()
                    .pool_max_idle_per_host(1)
                    .timeout(timeout)
                    .build()?,
            ),
            Http::Http2 if tls => Transport::Tls(Client::builder().http2_prior_knowledge().timeout(timeout).build()?),
            Http::Http1 | Http::Http2 => Transport::Plain(Plain::new(http, &uri)?),
        };
        Ok(Wire {
            transport,
            timeout,
            base: base.trim_end_matches('/').to_owned(),
            admin: admin.to_owned(),
            aggregator,
            credential,
        })
    }

    /// Sends `call` and reads the whole reply. A transport failure is an
    /// error; any HTTP status is a reply.
    pub async fn send(&self, call: &Call) -> Result<Reply> {
        let prepared = self.prepare(call)?;
        let reply = match &self.transport {
            Transport::Plain(plain) => plain
                .send(prepared, self.timeout)
                .await
                .with_context(|| format!("{call}"))?,
            Transport::Tls(client) => {
                let mut request = client.request(prepared.method, format!("{}{}", self.base, prepared.path));
                for (name, value) in prepared.headers {
                    request = request.header(name, value);
                }
                if let Some(body) = prepared.body {
                    request = request.body(body);
                }
                let response = request
                    .send()
                    .await
                    .map_err(|error| reqwest_failure(error, self.timeout))
                    .with_context(|| format!("{call}"))?;
                let status = response.status();
                let body = response
                    .bytes()
                    .await
                    .map_err(|error| reqwest_failure(error, self.timeout))
                    .with_context(|| format!("reading the reply to {call}"))?;
                Reply {
                    status,
                    body: body.to_vec(),
                }
            }
            Transport::H3 { send, .. } => within(self.timeout, h3_send(send.clone(), prepared))
                .await
                .with_context(|| format!("{call} over HTTP/3"))?,
        };
        Ok(reply)
    }

    fn prepare(&self, call: &Call) -> Result<Prepared> {
        let json = |method: Method, path: String, mut headers: Vec<(&'static str, String)>, body: &[u8]| {
            headers.push(("content-type", "application/json".to_owned()));
            Prepared {
                method,
                path,
                headers,
                body: Some(body.to_vec()),
            }
        };
        let bearer = || vec![("authorization", format!("Bearer {}", self.admin))];
        Ok(match call {
            Call::Native { route, body } => {
                let Credential::Hmac(secret) = &self.credential else {
                    anyhow::bail!("the native API needs an HMAC aggregator");
                };
                let timestamp_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64;
                let headers = vec![
                    (AGGREGATOR_HEADER, self.aggregator.to_string()),
                    (TIMESTAMP_HEADER, timestamp_ms.to_string()),
                    (SIGNATURE_HEADER, sign(secret, timestamp_ms, body)),
                ];
                json(Method::POST, format!("/wallet/v1/{route}"), headers, body)
            }
            Call::Hub88 { route, body } => {
                let Credential::Rsa(signer) = &self.credential else {
                    anyhow::bail!("Hub88 needs an RSA aggregator");
                };
                let headers = vec![(protocol::hub88::SIGNATURE_HEADER, signer.sign(body)?)];
                json(
                    Method::POST,
                    format!("/hub88/{}/{route}", self.aggregator),
                    headers,
                    body,
                )
            }
            Call::Pragmatic { method, params } => {
                let Credential::HashKey(key) = &self.credential else {
                    anyhow::bail!("Pragmatic Play needs a hash-key aggregator");
                };
                let mut form = form_urlencoded::Serializer::new(String::new());
                for (name, value) in params {
                    form.append_pair(name, value);
                }
                form.append_pair("hash", &pragmatic_hash(params, key));
                Prepared {
                    method: Method::POST,
                    path: format!("/pragmatic/{}/{method}.html", self.aggregator),
                    headers: vec![("content-type", "application/x-www-form-urlencoded".to_owned())],
                    body: Some(form.finish().into_bytes()),
                }
            }
            Call::Evolution { route, body } => {
                let Credential::AuthToken(token) = &self.credential else {
                    anyhow::bail!("Evolution needs an authToken aggregator");
                };
                let path = format!("/evolution/{}/{route}?authToken={token}", self.aggregator);
                json(Method::POST, path, Vec::new(), body)
            }
            Call::OperatorPost { path, body } => json(Method::POST, path.clone(), bearer(), body),
            Call::OperatorGet { path } => Prepared {
                method: Method::GET,
                path: path.clone(),
                headers: bearer(),
                body: None,
            },
            Call::Get { path } => Prepared {
                method: Method::GET,
                path: (*path).to_owned(),
                headers: Vec::new(),
                body: None,
            },
        })
    }
}

/// Pragmatic Play's `hash`: MD5 (hex) of the parameters sorted by name as
/// `key=value&…`, followed by the secret key.
pub fn pragmatic_hash(params: &[(&str, String)], key: &str) -> String {
    use md5::{Digest, Md5};
    let mut sorted: Vec<_> = params.iter().collect();
    sorted.sort_by_key(|(name, _)| *name);
    let joined: Vec<String> = sorted.iter().map(|(name, value)| format!("{name}={value}")).collect();
    hex::encode(Md5::digest(format!("{}{key}", joined.join("&"))))
}

/// A cleartext HTTP/1.1 or HTTP/2 connection (prior knowledge) to one
/// server. It carries one request at a time, as a wire does.
struct Plain {
    http: Http,
    /// The URL's `host[:port]`, named in each request.
    authority: http::uri::Authority,
    /// `host:port` to connect to (port 80 when the URL names none).
    address: String,
    /// The URL's path before each request's own (usually empty).
    prefix: String,
    sender: tokio::sync::Mutex<Option<Sender>>,
}

/// hyper's handle on an open connection.
enum Sender {
    Http1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    Http2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

impl Plain {
    fn new(http: Http, uri: &http::Uri) -> Result<Plain> {
        let authority = uri
            .authority()
            .with_context(|| format!("the server URL {uri} has no host"))?
            .clone();
        let address = format!("{}:{}", authority.host(), authority.port_u16().unwrap_or(80));
        Ok(Plain {
            http,
            authority,
            address,
            prefix: uri.path().trim_end_matches('/').to_owned(),
            sender: tokio::sync::Mutex::new(None),
        })
    }

    /// Sends one request, opening the connection first if there is none
    /// (the first request, or the server closed it); a failed request, or
    /// one not answered within `timeout`, drops the connection, so the
    /// caller's retry opens a new one.
    async fn send(&self, prepared: Prepared, timeout: Duration) -> Result<Reply> {
        let mut sender = self.sender.lock().await;
        let result = within(timeout, self.send_on(&mut sender, prepared)).await;
        if result.is_err() {
            *sender = None;
        }
        result
    }

    async fn send_on(&self, sender: &mut Option<Sender>, prepared: Prepared) -> Result<Reply> {
        let open = match sender.as_mut() {
            Some(Sender::Http1(send)) => send.ready().await.is_ok(),
            Some(Sender::Http2(send)) => send.ready().await.is_ok(),
            None => false,
        };
        if !open {
            *sender = Some(self.connect().await?);
        }
        let Some(current) = sender.as_mut() else {
            anyhow::bail!("no connection");
        };
        self.exchange(current, prepared).await
    }

    async fn exchange(&self, sender: &mut Sender, prepared: Prepared) -> Result<Reply> {
        // HTTP/1.1 names the server in `host`; HTTP/2 in the URI's authority.
        let uri = match sender {
            Sender::Http1(_) => format!("{}{}", self.prefix, prepared.path),
            Sender::Http2(_) => format!("http://{}{}{}", self.authority, self.prefix, prepared.path),
        };
        let mut request = http::Request::builder().method(prepared.method).uri(uri);
        if let Sender::Http1(_) = sender {
            request = request.header(http::header::HOST, self.authority.as_str());
        }
        for (name, value) in prepared.headers {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(Bytes::from(prepared.body.unwrap_or_default())))?;
        let response = match sender {
            Sender::Http1(send) => send.send_request(request).await?,
            Sender::Http2(send) => send.send_request(request).await?,
        };
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Reply {
            status,
            body: body.to_vec(),
        })
    }

    async fn connect(&self) -> Result<Sender> {
        let stream = tokio::net::TcpStream::connect(&self.address)
            .await
            .with_context(|| format!("connecting to {}", self.address))?;
        // Small requests and replies: each goes out at once.
        stream.set_nodelay(true)?;
        let io = hyper_util::rt::TokioIo::new(stream);
        if self.http == Http::Http2 {
            let executor = hyper_util::rt::TokioExecutor::new();
            let (send, connection) = hyper::client::conn::http2::handshake(executor, io).await?;
            tokio::spawn(connection);
            Ok(Sender::Http2(send))
        } else {
            let (send, connection) = hyper::client::conn::http1::handshake(io).await?;
            tokio::spawn(connection);
            Ok(Sender::Http1(send))
        }
    }
}

/// A request that was not answered within `timeout`, as every transport
/// says it.
fn no_reply(timeout: Duration) -> anyhow::Error {
    anyhow!("no reply within {} ms", timeout.as_millis())
}

/// `work`'s result, or an error once `timeout` has passed without one.
async fn within<T>(timeout: Duration, work: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_| Err(no_reply(timeout)))
}

/// A reqwest failure, a timeout said as the other transports say it.
pub fn reqwest_failure(error: reqwest::Error, timeout: Duration) -> anyhow::Error {
    if error.is_timeout() {
        no_reply(timeout)
    } else {
        error.into()
    }
}

/// One QUIC connection to the server, trusting its certificate only.
async fn h3_connect(quic: &Quic) -> Result<Transport> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&quic.cert_pem) {
        roots.add(cert.context("the server certificate is not PEM")?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)?;
    let mut endpoint = quinn::Endpoint::client(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
    let connection = endpoint.connect(quic.addr, "localhost")?.await?;
    let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(connection))
        .await
        .map_err(|error| anyhow!("HTTP/3 connection: {error}"))?;
    tokio::spawn(async move {
        let _ = driver.wait_idle().await;
    });
    Ok(Transport::H3 {
        send,
        _endpoint: endpoint,
    })
}

/// One request on a new HTTP/3 stream; the whole reply.
async fn h3_send(mut send: h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>, prepared: Prepared) -> Result<Reply> {
    let mut request = http::Request::builder()
        .method(prepared.method)
        .uri(format!("https://localhost{}", prepared.path));
    for (name, value) in prepared.headers {
        request = request.header(name, value);
    }
    if let Some(body) = &prepared.body {
        request = request.header("content-length", body.len());
    }
    let mut stream = send.send_request(request.body(())?).await?;
    if let Some(body) = prepared.body {
        stream.send_data(Bytes::from(body)).await?;
    }
    stream.finish().await?;
    let response = stream.recv_response().await?;
    let mut body = Vec::new();
    while let Some(mut chunk) = stream.recv_data().await? {
        while chunk.has_remaining() {
            let bytes = chunk.chunk();
            body.extend_from_slice(bytes);
            let read = bytes.len();
            chunk.advance(read);
        }
    }
    Ok(Reply {
        status: response.status(),
        body,
    })
}

/// Cents from a decimal string of a two-decimal currency ("-12.30" → -1230).
pub fn cents(decimal: &str) -> Option<i64> {
    let (negative, digits) = match decimal.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, decimal),
    };
    let (units, fraction) = digits.split_once('.').unwrap_or((digits, "00"));
    if fraction.len() != 2 || units.is_empty() || !units.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = units
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(fraction.parse::<i64>().ok()?)?;
    Some(if negative { -value } else { value })
}

/// A decimal string from cents (1230 → "12.30").
pub fn decimal(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.unsigned_abs() / 100, cents.unsigned_abs() % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_named_with_its_body_as_text() {
        let bet = Call::Native {
            route: "bet",
            body: br#"{"amount":"1.00"}"#.to_vec(),
        };
        assert_eq!(bet.to_string(), r#"native bet {"amount":"1.00"}"#);
        let pragmatic = Call::Pragmatic {
            method: "bet",
            params: vec![("userId", "421".to_owned()), ("amount", "1.00".to_owned())],
        };
        assert_eq!(pragmatic.to_string(), "Pragmatic Play bet userId=421 amount=1.00");
    }

    #[test]
    fn the_pragmatic_hash_is_md5_of_the_sorted_parameters_and_the_key() {
        // Pragmatic Play's documented example shape: sorted `key=value&…` then the key.
        let params = [
            ("userId", "421".to_string()),
            ("providerId", "PragmaticPlay".to_string()),
        ];
        use md5::{Digest, Md5};
        let expected = hex::encode(Md5::digest("providerId=PragmaticPlay&userId=421testKey"));
        assert_eq!(pragmatic_hash(&params, "testKey"), expected);
    }

    /// A server that accepts connections and never answers.
    async fn silent_listener() -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_a_transport_failure_within_the_timeout() {
        let addr = silent_listener().await;
        for http in [Http::Http1, Http::Http2] {
            let wire = Wire::new(
                http,
                &format!("http://{addr}"),
                None,
                "token",
                1,
                Credential::AuthToken("x".into()),
                Duration::from_millis(200),
            )
            .await
            .unwrap();
            // Twice: the first failure drops the stalled connection, so the
            // second (the caller's retry) is bounded as well.
            for _ in 0..2 {
                let started = std::time::Instant::now();
                let error = wire.send(&Call::Get { path: "/healthz" }).await.unwrap_err();
                assert!(
                    format!("{error:#}").contains("no reply within 200 ms"),
                    "{http:?}: {error:#}"
                );
                assert!(started.elapsed() < Duration::from_secs(5), "{http:?}");
            }
        }
    }

    #[test]
    fn cents_and_decimals_round_trip_and_refuse_what_is_not_two_decimals() {
        for value in [0, 1, 99, 100, 1230, -1230, 100_000_000] {
            assert_eq!(cents(&decimal(value)), Some(value));
        }
        assert_eq!(cents("7"), Some(700));
        for bad in ["", "1.2", "1.234", "a.00", ".50", "1.-5", "--1.00"] {
            assert_eq!(cents(bad), None, "{bad}");
        }
    }
}
