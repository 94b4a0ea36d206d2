//! One HTTP POST path for everything ferrule sends out: a blocking reqwest client (HTTP/1.1,
//! rustls with the `TlsFiles` roots and client certificate), extra headers, optional gzip of the
//! body, a timeout. It answers with the status or a classified failure, and the caller decides
//! about retries: a TLS failure is not retried (a certificate does not fix itself in a second),
//! a refused connection, 408, 429 and 5xx are.

use super::tls::{tls_problem, TlsFiles};
use flate2::write::GzEncoder;
use std::io::Write as _;
use std::time::Duration;

/// Request body compression (`OTEL_EXPORTER_OTLP_COMPRESSION`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Compression {
    #[default]
    None,
    Gzip,
}

impl Compression {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "none" => Some(Self::None),
            "gzip" => Some(Self::Gzip),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The TLS handshake failed (certificate, protocol, client certificate).
    Tls,
    /// No answer: DNS, refused, reset, timeout.
    Network,
    /// An HTTP answer outside 2xx.
    Status(u16),
}

impl FailureKind {
    /// The `error_type` label of `ferrule_errors_total{component="connect"}`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Tls => "tls",
            Self::Network => "network",
            Self::Status(_) => "status",
        }
    }

    pub fn retryable(&self) -> bool {
        match self {
            Self::Tls => false,
            Self::Network => true,
            Self::Status(s) => *s >= 500 || *s == 429 || *s == 408,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Where and how to POST; `client()` builds the connection pool once per target.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpTarget {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub compression: Compression,
    pub timeout: Duration,
    pub tls: TlsFiles,
}

impl HttpTarget {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            headers: Vec::new(),
            compression: Compression::None,
            timeout: Duration::from_secs(10),
            tls: TlsFiles::default(),
        }
    }

    /// `Err((param, value, allowed))` for a URL that is not http(s)://host..., a header that
    /// cannot be sent, or certificate files that do not load.
    pub fn check(&self) -> Result<(), (&'static str, String, String)> {
        let rest = self
            .url
            .strip_prefix("https://")
            .or_else(|| self.url.strip_prefix("http://"));
        match rest {
            Some(r) if !r.is_empty() && !r.starts_with('/') => {}
            _ => {
                return Err((
                    "url",
                    format!("{:?}", self.url),
                    "an http:// or https:// URL with a host".into(),
                ))
            }
        }
        if self.url.parse::<reqwest::Url>().is_err() {
            return Err(("url", format!("{:?}", self.url), "a valid URL".into()));
        }
        for (k, v) in &self.headers {
            if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err()
                || reqwest::header::HeaderValue::from_str(v).is_err()
            {
                return Err((
                    "headers",
                    format!("{k:?}"),
                    "header names without ':' or spaces, values without line breaks".into(),
                ));
            }
        }
        self.tls.check()
    }

    /// The client for this target. Built once per exporter or sink, not per request.
    pub fn client(&self) -> Result<reqwest::blocking::Client, String> {
        let tls = self
            .tls
            .client_config()
            .map_err(|(p, v, a)| format!("{p}={v}: {a}"))?;
        reqwest::blocking::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .user_agent(concat!("ferrule/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client for {}: {e}", self.url))
    }

    /// One POST; `Ok(status)` for a 2xx answer.
    pub fn post(
        &self,
        client: &reqwest::blocking::Client,
        content_type: &str,
        body: &[u8],
    ) -> Result<u16, Failure> {
        let mut req = client
            .post(&self.url)
            .header("Content-Type", content_type)
            .timeout(self.timeout);
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let req = match self.compression {
            Compression::None => req.body(body.to_vec()),
            Compression::Gzip => {
                let mut gz = GzEncoder::new(
                    Vec::with_capacity(body.len() / 4 + 64),
                    flate2::Compression::fast(),
                );
                // Writing into a Vec cannot fail.
                let _ = gz.write_all(body);
                req.header("Content-Encoding", "gzip")
                    .body(gz.finish().unwrap_or_default())
            }
        };
        match req.send() {
            Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
            Ok(r) => {
                let st = r.status().as_u16();
                Err(Failure {
                    kind: FailureKind::Status(st),
                    message: format!("{} answered {st}", self.url),
                })
            }
            Err(e) => match tls_problem(&e) {
                Some(t) => Err(Failure {
                    kind: FailureKind::Tls,
                    message: format!("cannot reach {}: {t}", self.url),
                }),
                None => Err(Failure {
                    kind: FailureKind::Network,
                    message: format!("cannot reach {}: {}", self.url, chain(&e)),
                }),
            },
        }
    }
}

/// An error with its causes, `a: b: c` (reqwest's own Display stops at the first).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}
