//! The operator API over HTTP(S): one blocking request at a time with the
//! stored bearer token, each answer turned into JSON or a [`Failure`] that
//! says in one line what went wrong (the server's error code and message,
//! or why it could not be reached).

use std::time::Duration;

use reqwest::Method;
use reqwest::blocking::{RequestBuilder, Response};
use serde_json::Value;

use super::config::{self, Config};

/// How long a request may take, connecting included.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Why an online command failed; each kind has its exit code.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// Bad arguments, or input the server refused as invalid (400).
    Usage(String),
    /// Not logged in, a wrong or disabled token, a role that may not (401/403).
    Auth(String),
    /// An unknown player, operator … (404).
    NotFound(String),
    /// The server refused the change (409, 410, 422 …).
    Refused(String),
    /// The server could not be reached.
    Unreachable(String),
    /// Anything else (a server error, a local file).
    Other(String),
}

impl Failure {
    /// The process exit code (`super::EXIT_CODES`).
    pub fn code(&self) -> u8 {
        match self {
            Failure::Other(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Auth(_) => 3,
            Failure::NotFound(_) => 4,
            Failure::Refused(_) => 5,
            Failure::Unreachable(_) => 6,
        }
    }

    /// The one line to print.
    pub fn message(&self) -> &str {
        match self {
            Failure::Usage(m)
            | Failure::Auth(m)
            | Failure::NotFound(m)
            | Failure::Refused(m)
            | Failure::Unreachable(m)
            | Failure::Other(m) => m,
        }
    }
}

/// A logged-in client.
pub struct Client {
    server: String,
    token: String,
    http: reqwest::blocking::Client,
}

impl Client {
    /// The client of the stored login.
    pub fn from_config() -> Result<Client, Failure> {
        Client::new(&config::load()?)
    }

    /// A client for `config`.
    pub fn new(config: &Config) -> Result<Client, Failure> {
        let url = reqwest::Url::parse(&config.server)
            .map_err(|error| Failure::Usage(format!("server {:?}: {error}", config.server)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Failure::Usage(format!(
                "server {:?}: the URL must start with http:// or https://",
                config.server
            )));
        }
        let mut builder = reqwest::blocking::Client::builder()
            .timeout(TIMEOUT)
            .tls_built_in_root_certs(false);
        if let Some(path) = &config.ca_cert {
            let pem = std::fs::read(path)
                .map_err(|error| Failure::Usage(format!("--ca-cert {}: {error}", path.display())))?;
            let certificate = reqwest::Certificate::from_pem(&pem)
                .map_err(|_| Failure::Usage(format!("--ca-cert {}: not a PEM certificate", path.display())))?;
            builder = builder.add_root_certificate(certificate);
        }
        let http = builder
            .build()
            .map_err(|error| Failure::Other(format!("HTTP client: {error}")))?;
        Ok(Client {
            server: config.server.trim_end_matches('/').to_owned(),
            token: config.token.clone(),
            http,
        })
    }

    /// GETs `path` (with its query); the JSON answer.
    pub fn get(&self, path: &str) -> Result<Value, Failure> {
        self.json(self.request(Method::GET, path))
    }

    /// GETs `path`; the answer as text (CSV, PEM).
    pub fn get_text(&self, path: &str) -> Result<String, Failure> {
        let response = self.send(self.request(Method::GET, path))?;
        response
            .text()
            .map_err(|error| Failure::Unreachable(format!("reading the answer from {}: {}", self.server, root(&error))))
    }

    /// GETs a page of CSV at `path`; its text and the cursor of the next
    /// page (`x-next-cursor`), if there is one.
    pub fn get_csv(&self, path: &str) -> Result<(String, Option<String>), Failure> {
        let response = self.send(
            self.request(Method::GET, path)
                .header(reqwest::header::ACCEPT, "text/csv"),
        )?;
        let next = response
            .headers()
            .get("x-next-cursor")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().map_err(|error| {
            Failure::Unreachable(format!("reading the answer from {}: {}", self.server, root(&error)))
        })?;
        Ok((text, next))
    }

    /// Sends `body` (JSON, if any) with `method` to `path`; the JSON answer.
    pub fn send_json(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, Failure> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        self.json(request)
    }

    /// Sends raw `bytes` of `content_type` (a file) with `method` to `path`;
    /// the JSON answer.
    pub fn send_bytes(&self, method: Method, path: &str, content_type: &str, bytes: Vec<u8>) -> Result<Value, Failure> {
        let request = self
            .request(method, path)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes);
        self.json(request)
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.server))
            .bearer_auth(&self.token)
    }

    fn json(&self, request: RequestBuilder) -> Result<Value, Failure> {
        let response = self.send(request)?;
        let bytes = response.bytes().map_err(|error| {
            Failure::Unreachable(format!("reading the answer from {}: {}", self.server, root(&error)))
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|_| Failure::Other(format!("{} answered something that is not JSON", self.server)))
    }

    /// Sends the request; a non-success status becomes its [`Failure`].
    fn send(&self, request: RequestBuilder) -> Result<Response, Failure> {
        let response = request
            .send()
            .map_err(|error| Failure::Unreachable(format!("cannot reach {}: {}", self.server, root(&error))))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body: Value = response
            .bytes()
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or(Value::Null);
        let code = body["error"]["code"].as_str().unwrap_or("error");
        let message = body["error"]["message"].as_str().unwrap_or_else(|| status.as_str());
        let line = format!("{code}: {message} (HTTP {})", status.as_u16());
        Err(match status.as_u16() {
            400 | 413 | 415 => Failure::Usage(line),
            401 | 403 => Failure::Auth(line),
            404 => Failure::NotFound(line),
            409 | 410 | 422 | 423 => Failure::Refused(line),
            _ => Failure::Other(line),
        })
    }
}

/// The innermost cause of an error: "Connection refused (os error 111)"
/// rather than reqwest's "error sending request for url (...)".
fn root(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// `value` with the characters a URL query must escape escaped.
pub fn query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A query string (`?a=1&b=2`) of the pairs that have a value.
pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| format!("{name}={}", query_value(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}
