//! The OpenTelemetry exporter variables, read as the specification defines them: a per-signal
//! `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_*` wins over the general `OTEL_EXPORTER_OTLP_*`; the
//! general endpoint is a base URL to which `/v1/{signal}` is appended, a per-signal endpoint is used
//! as is; headers are `key=value` pairs separated by commas with percent-encoded values; compression
//! is `gzip` or `none`; the timeout is in milliseconds; certificate variables name PEM files.

use super::post::{Compression, HttpTarget};
use super::tls::TlsFiles;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpSignal {
    Traces,
    Metrics,
    Logs,
}

impl OtlpSignal {
    pub fn path(&self) -> &'static str {
        match self {
            Self::Traces => "/v1/traces",
            Self::Metrics => "/v1/metrics",
            Self::Logs => "/v1/logs",
        }
    }

    fn var(&self) -> &'static str {
        match self {
            Self::Traces => "TRACES",
            Self::Metrics => "METRICS",
            Self::Logs => "LOGS",
        }
    }
}

/// `OTEL_EXPORTER_OTLP_ENDPOINT` semantics: a base URL to which the signal's path is appended
/// (unless it already ends with it).
pub fn signal_url(base: &str, signal: OtlpSignal) -> String {
    let b = base.trim_end_matches('/');
    if b.ends_with(signal.path()) {
        b.to_string()
    } else {
        format!("{b}{}", signal.path())
    }
}

/// What the environment says about one signal's exporter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OtlpTarget {
    /// The full URL to POST to, when an endpoint variable is set.
    pub url: Option<String>,
    pub headers: Vec<(String, String)>,
    pub compression: Compression,
    pub timeout: Option<Duration>,
    pub tls: TlsFiles,
}

impl OtlpTarget {
    pub fn from_env(signal: OtlpSignal) -> (Self, Vec<String>) {
        Self::from_vars(signal, |k| {
            std::env::var(k).ok().filter(|v| !v.trim().is_empty())
        })
    }

    /// Reads through `get`, so tests need not touch the process environment. Unusable values are
    /// returned as problems (to be logged) and ignored.
    pub fn from_vars(
        signal: OtlpSignal,
        get: impl Fn(&str) -> Option<String>,
    ) -> (Self, Vec<String>) {
        let sig = signal.var();
        let pick = |suffix: &str| -> Option<(String, String)> {
            let specific = format!("OTEL_EXPORTER_OTLP_{sig}_{suffix}");
            if let Some(v) = get(&specific) {
                return Some((specific, v));
            }
            let general = format!("OTEL_EXPORTER_OTLP_{suffix}");
            get(&general).map(|v| (general, v))
        };
        let mut t = OtlpTarget::default();
        let mut problems = Vec::new();
        if let Some(v) = get(&format!("OTEL_EXPORTER_OTLP_{sig}_ENDPOINT")) {
            t.url = Some(v.trim().to_string());
        } else if let Some(v) = get("OTEL_EXPORTER_OTLP_ENDPOINT") {
            t.url = Some(signal_url(v.trim(), signal));
        }
        if let Some((name, v)) = pick("HEADERS") {
            match parse_headers(&v) {
                Ok(h) => t.headers = h,
                Err(e) => problems.push(format!("{name}: {e}; headers ignored")),
            }
        }
        if let Some((name, v)) = pick("COMPRESSION") {
            match Compression::parse(&v) {
                Some(c) => t.compression = c,
                None => problems.push(format!(
                    "{name}={v} is not gzip or none; sending uncompressed"
                )),
            }
        }
        if let Some((name, v)) = pick("TIMEOUT") {
            match v.trim().parse::<f64>() {
                Ok(ms) if ms > 0.0 && ms <= 300_000.0 => {
                    t.timeout = Some(Duration::from_secs_f64(ms / 1000.0))
                }
                _ => problems.push(format!(
                    "{name}={v} is not milliseconds in (0, 300000]; using the default"
                )),
            }
        }
        if let Some((name, v)) = pick("PROTOCOL") {
            if v.trim() != "http/protobuf" {
                problems.push(format!(
                    "{name}={v}: ferrule exports http/protobuf only (point it at the collector's HTTP port, 4318)"
                ));
            }
        }
        t.tls.ca_file = pick("CERTIFICATE").map(|(_, v)| PathBuf::from(v.trim()));
        t.tls.client_cert_file = pick("CLIENT_CERTIFICATE").map(|(_, v)| PathBuf::from(v.trim()));
        t.tls.client_key_file = pick("CLIENT_KEY").map(|(_, v)| PathBuf::from(v.trim()));
        (t, problems)
    }

    /// The POST target for `url`, with these headers, compression, timeout and certificates.
    pub fn http_target(&self, url: String, default_timeout: Duration) -> HttpTarget {
        HttpTarget {
            url,
            headers: self.headers.clone(),
            compression: self.compression,
            timeout: self.timeout.unwrap_or(default_timeout),
            tls: self.tls.clone(),
        }
    }
}

/// `key1=value1,key2=value2` with percent-encoded values (the W3C baggage form the spec uses).
pub fn parse_headers(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not key=value"))?;
        let k = percent_decode(k.trim())?;
        if k.is_empty() {
            return Err(format!("{part:?} has an empty key"));
        }
        out.push((k, percent_decode(v.trim())?));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("{s:?} has a malformed %-escape"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} is not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn general_endpoint_gets_the_signal_path_specific_is_used_as_is() {
        let g = vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c.example:4318/")]);
        let (t, p) = OtlpTarget::from_vars(OtlpSignal::Logs, &g);
        assert!(p.is_empty());
        assert_eq!(t.url.as_deref(), Some("https://c.example:4318/v1/logs"));
        let s = vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c.example:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://t.example/custom",
            ),
        ]);
        assert_eq!(
            OtlpTarget::from_vars(OtlpSignal::Traces, &s)
                .0
                .url
                .as_deref(),
            Some("https://t.example/custom")
        );
        assert_eq!(
            OtlpTarget::from_vars(OtlpSignal::Metrics, &s)
                .0
                .url
                .as_deref(),
            Some("https://c.example:4318/v1/metrics")
        );
    }

    #[test]
    fn per_signal_variables_win_and_values_are_decoded() {
        let v = vars(&[
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-honeycomb-team=abc,x-dataset=d%20s",
            ),
            (
                "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
                "authorization=Basic%20Zm9v",
            ),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/ca.pem"),
            ("OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE", "/logs-ca.pem"),
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/c.pem"),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/k.pem"),
        ]);
        let (t, p) = OtlpTarget::from_vars(OtlpSignal::Traces, &v);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(
            t.headers,
            vec![
                ("x-honeycomb-team".to_string(), "abc".to_string()),
                ("x-dataset".to_string(), "d s".to_string())
            ]
        );
        assert_eq!(t.compression, Compression::Gzip);
        assert_eq!(t.timeout, Some(Duration::from_millis(2500)));
        assert_eq!(t.tls.ca_file, Some(PathBuf::from("/ca.pem")));
        assert_eq!(t.tls.client_cert_file, Some(PathBuf::from("/c.pem")));
        assert_eq!(t.tls.client_key_file, Some(PathBuf::from("/k.pem")));
        let (m, _) = OtlpTarget::from_vars(OtlpSignal::Metrics, &v);
        assert_eq!(
            m.headers,
            vec![("authorization".to_string(), "Basic Zm9v".to_string())]
        );
        let (l, _) = OtlpTarget::from_vars(OtlpSignal::Logs, &v);
        assert_eq!(l.tls.ca_file, Some(PathBuf::from("/logs-ca.pem")));
    }

    #[test]
    fn unusable_values_are_problems_not_settings() {
        let v = vars(&[
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "-1"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        let (t, p) = OtlpTarget::from_vars(OtlpSignal::Traces, &v);
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(t.headers.is_empty());
        assert_eq!(t.compression, Compression::None);
        assert_eq!(t.timeout, None);
    }
}
