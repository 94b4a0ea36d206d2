//! TLS client settings for every outbound connection. Why these crates: rustls is memory safe and
//! needs no system OpenSSL (wheels and npm binaries stay self-contained); its `ring` provider
//! builds with only a C compiler, so `zig cc` cross builds for aarch64 and musl work, where the
//! `aws-lc-rs` provider needs cmake, nasm and clang on some targets. Roots come from the system
//! store through `rustls-native-certs`, which also honours `SSL_CERT_FILE` / `SSL_CERT_DIR`; a
//! custom CA file (`ca_file`, `OTEL_EXPORTER_OTLP_CERTIFICATE`) replaces them, as `curl --cacert`
//! does, and a client certificate + key enable mutual TLS.

use rustls::crypto::ring;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::PathBuf;
use std::sync::{Arc, Once};

/// Certificate files for one connection; all optional. Paths to PEM files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// Trusted CA certificate(s); `None`: the system roots (or `SSL_CERT_FILE`).
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain for mutual TLS (with `client_key_file`).
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
}

impl TlsFiles {
    pub fn is_default(&self) -> bool {
        *self == TlsFiles::default()
    }

    /// Checks the files exist and parse; `Err((param, value, why))` names the offending one, so
    /// a bad path fails at construction instead of at the first export.
    pub fn check(&self) -> Result<(), (&'static str, String, String)> {
        self.client_config().map(|_| ())
    }

    /// The rustls configuration these files describe.
    pub fn client_config(&self) -> Result<ClientConfig, (&'static str, String, String)> {
        install_default_provider();
        let mut roots = RootCertStore::empty();
        match &self.ca_file {
            Some(p) => {
                let shown = p.display().to_string();
                let certs = CertificateDer::pem_file_iter(p)
                    .map_err(|e| {
                        (
                            "ca_file",
                            shown.clone(),
                            format!("a readable PEM file ({e})"),
                        )
                    })?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| ("ca_file", shown.clone(), format!("PEM certificates ({e})")))?;
                if certs.is_empty() {
                    return Err((
                        "ca_file",
                        shown,
                        "a PEM file with at least one CERTIFICATE".into(),
                    ));
                }
                for c in certs {
                    roots.add(c).map_err(|e| {
                        (
                            "ca_file",
                            shown.clone(),
                            format!("CA certificates rustls accepts ({e})"),
                        )
                    })?;
                }
            }
            None => {
                // Certificates the system store holds but rustls cannot parse are skipped: one odd
                // root must not make every HTTPS connection impossible.
                let native = rustls_native_certs::load_native_certs();
                for c in native.certs {
                    let _ = roots.add(c);
                }
            }
        }
        let builder = ClientConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| ("ca_file", String::new(), e.to_string()))?
            .with_root_certificates(roots);
        match (&self.client_cert_file, &self.client_key_file) {
            (None, None) => Ok(builder.with_no_client_auth()),
            (Some(c), Some(k)) => {
                let cs = c.display().to_string();
                let chain = CertificateDer::pem_file_iter(c)
                    .map_err(|e| {
                        (
                            "client_cert_file",
                            cs.clone(),
                            format!("a readable PEM file ({e})"),
                        )
                    })?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| {
                        (
                            "client_cert_file",
                            cs.clone(),
                            format!("PEM certificates ({e})"),
                        )
                    })?;
                if chain.is_empty() {
                    return Err((
                        "client_cert_file",
                        cs,
                        "a PEM file with a CERTIFICATE".into(),
                    ));
                }
                let ks = k.display().to_string();
                let key = PrivateKeyDer::from_pem_file(k).map_err(|e| {
                    (
                        "client_key_file",
                        ks.clone(),
                        format!("a PEM private key ({e})"),
                    )
                })?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    (
                        "client_key_file",
                        ks,
                        format!("the key of client_cert_file ({e})"),
                    )
                })
            }
            (Some(c), None) => Err((
                "client_key_file",
                "None".into(),
                format!("a key file to go with client_cert_file={}", c.display()),
            )),
            (None, Some(k)) => Err((
                "client_cert_file",
                "None".into(),
                format!(
                    "a certificate file to go with client_key_file={}",
                    k.display()
                ),
            )),
        }
    }
}

/// The `ring` provider. rustls 0.23.48 marks it deprecated because it lacks post-quantum key
/// exchange; it is still maintained and is the provider that cross-builds with a C compiler alone
/// (see the module doc), which is why it is chosen here.
#[allow(deprecated)]
pub fn provider() -> rustls::crypto::CryptoProvider {
    ring::default_provider()
}

/// Makes `ring` the process's rustls provider, for code that asks rustls for the default (the
/// Redis client does). Idempotent; an application that installed another provider first keeps it.
pub fn install_default_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = provider().install_default();
    });
}

/// A TLS failure found anywhere in an error's cause chain, as a sentence a user can act on.
pub fn tls_problem(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(describe(r));
        }
        // hyper wraps the handshake error in an io::Error inside another io::Error, and
        // io::Error::source() skips the wrapped error itself: look inside with get_ref.
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if let Some(found) = tls_problem(inner) {
                    return Some(found);
                }
            }
        }
        cur = e.source();
    }
    None
}

fn describe(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => format!(
            "TLS: the server's certificate does not verify ({c:?}); trust its CA with ca_file / OTEL_EXPORTER_OTLP_CERTIFICATE / SSL_CERT_FILE"
        ),
        rustls::Error::AlertReceived(a) => format!(
            "TLS: the server refused the handshake ({a:?}); a server asking for a client certificate needs client_cert_file and client_key_file"
        ),
        other => format!("TLS: {other}"),
    }
}
