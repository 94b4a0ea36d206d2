//! Local HTTPS receivers for the connectivity tests: a throwaway PKI made with rcgen (a CA, a
//! server certificate for 127.0.0.1/localhost, a client certificate, and an unrelated CA), and a
//! small HTTP/1.1-over-rustls server on a free loopback port that hands every request (path,
//! headers, body with gzip undone) to the test and answers with a fixed status.

#![allow(dead_code)]

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};

pub struct Pki {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A CA that signed nothing here: trusting only it must fail verification.
    pub other_ca: PathBuf,
}

fn ca(name: &str) -> (CertificateParams, KeyPair, String) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    let pem = p.self_signed(&key).unwrap().pem();
    (p, key, pem)
}

impl Pki {
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ferrule-pki-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (ca_params, ca_key, ca_pem) = ca("ferrule test CA");
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |sans: Vec<String>, cn: &str| {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(sans).unwrap();
            p.distinguished_name.push(DnType::CommonName, cn);
            let cert = p.signed_by(&key, &issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_pem, server_key) = leaf(
            vec!["127.0.0.1".into(), "localhost".into()],
            "ferrule test server",
        );
        let (client_pem, client_key) =
            leaf(vec!["client.ferrule.test".into()], "ferrule test client");
        let (_, _, other_pem) = ca("some other CA");
        let w = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        Self {
            ca: w("ca.pem", &ca_pem),
            server_cert: w("server.pem", &server_pem),
            server_key: w("server.key", &server_key),
            client_cert: w("client.pem", &client_pem),
            client_key: w("client.key", &client_key),
            other_ca: w("other-ca.pem", &other_pem),
            dir,
        }
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body as sent, gzip undone when `content-encoding: gzip`.
    pub body: Vec<u8>,
    pub gzipped: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

fn certs(p: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(p)
        .unwrap()
        .map(|c| c.unwrap())
        .collect()
}

pub fn server_config(pki: &Pki, require_client_cert: bool) -> ServerConfig {
    let provider = Arc::new(ferrule_core::net::tls::provider());
    let b = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let b = if require_client_cert {
        let mut roots = RootCertStore::empty();
        for c in certs(&pki.ca) {
            roots.add(c).unwrap();
        }
        b.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap(),
        )
    } else {
        b.with_no_client_auth()
    };
    b.with_single_cert(
        certs(&pki.server_cert),
        PrivateKeyDer::from_pem_file(&pki.server_key).unwrap(),
    )
    .unwrap()
}

/// Starts the receiver; `https://127.0.0.1:PORT` and the requests as they arrive. Handshakes
/// that fail are counted in the returned `failed` receiver (one `()` each).
pub fn start(
    pki: &Pki,
    require_client_cert: bool,
    status: u16,
) -> (String, mpsc::Receiver<Request>, mpsc::Receiver<String>) {
    let cfg = Arc::new(server_config(pki, require_client_cert));
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://127.0.0.1:{}", l.local_addr().unwrap().port());
    let (tx, rx) = mpsc::channel();
    let (ftx, frx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(tcp) = conn else { return };
            let (cfg, tx, ftx) = (cfg.clone(), tx.clone(), ftx.clone());
            std::thread::spawn(move || {
                let conn = ServerConnection::new(cfg).unwrap();
                let mut tls = StreamOwned::new(conn, tcp);
                if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
                    let _ = ftx.send(e.to_string());
                    return;
                }
                let mut r = BufReader::new(tls);
                loop {
                    let mut line = String::new();
                    match r.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                    let mut headers = Vec::new();
                    let mut len = 0usize;
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        let (k, v) = h.split_once(':').unwrap();
                        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
                        if k == "content-length" {
                            len = v.parse().unwrap();
                        }
                        headers.push((k, v));
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    let gzipped = headers
                        .iter()
                        .any(|(k, v)| k == "content-encoding" && v == "gzip");
                    if gzipped {
                        let mut out = Vec::new();
                        flate2::read::GzDecoder::new(&body[..])
                            .read_to_end(&mut out)
                            .unwrap();
                        body = out;
                    }
                    let answer = if status == 202 {
                        "{\"status\":\"success\",\"message\":\"Event processed\"}"
                    } else {
                        "ok"
                    };
                    let s = r.get_mut();
                    let _ = write!(
                        s,
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{answer}",
                        answer.len()
                    );
                    let _ = s.flush();
                    let _ = tx.send(Request {
                        path,
                        headers,
                        body,
                        gzipped,
                    });
                }
            });
        }
    });
    (url, rx, frx)
}
