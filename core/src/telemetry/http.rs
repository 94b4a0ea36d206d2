//! A small scrape endpoint: one background thread accepting `GET /metrics` for a registry, Prometheus
//! text or OpenMetrics by the `Accept` header. Loopback by default. Each connection is answered on
//! its own short-lived thread with a deadline for the whole request, so an idle or stalled client
//! (a half-open keep-alive, a port scanner) never delays a scrape; at most `MAX_CONNECTIONS` are
//! served at once, and a connection beyond that is answered 503 at once and counted.

use super::builtin;
use super::exposition::{render, Format};
use super::registry::Registry;
use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

const C: &str = "serve_metrics";
const MAX_REQUEST: usize = 16 * 1024;
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more would only pile up threads for clients that are not scrapers.
pub const MAX_CONNECTIONS: usize = 32;
/// The time a client has to send its whole request head (not per read, so a trickle cannot extend it).
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

struct Shared {
    stop: AtomicBool,
    scrapes: AtomicU64,
    /// Connections being answered now.
    active: AtomicUsize,
}

/// A running endpoint. `stop()` (or dropping it) closes the socket and joins the thread.
pub struct MetricsServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// The process that started the thread: a forked child (gunicorn, multiprocessing) has the
    /// handle but not the thread, and must neither wake nor join it.
    pid: u32,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MetricsServer({})", self.addr)
    }
}

impl MetricsServer {
    /// Binds `host:port` (port 0 picks a free one) and serves `registry` until stopped.
    pub fn start(registry: &'static Registry, host: &str, port: u16) -> Result<Self> {
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|e| {
                Error::out_of_range(
                    C,
                    "host",
                    format!("{host:?}"),
                    format!("a resolvable host name or IP address ({e})"),
                )
            })?
            .next()
            .ok_or_else(|| {
                Error::out_of_range(
                    C,
                    "host",
                    format!("{host:?}"),
                    "a resolvable host name or IP address",
                )
            })?;
        let listener = TcpListener::bind(addr).map_err(|e| {
            Error::conflict(C, "port", port, format!("cannot listen on {addr}: {e}"))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::conflict(C, "port", port, e.to_string()))?;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            scrapes: AtomicU64::new(0),
            active: AtomicUsize::new(0),
        });
        let s2 = shared.clone();
        let thread = std::thread::Builder::new()
            .name("ferrule-metrics".into())
            .spawn(move || serve(listener, registry, s2))
            .map_err(|e| {
                Error::conflict(
                    C,
                    "port",
                    port,
                    format!("cannot start the server thread: {e}"),
                )
            })?;
        Ok(Self {
            addr,
            shared,
            thread: Some(thread),
            pid: std::process::id(),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Requests answered so far.
    pub fn scrapes(&self) -> u64 {
        self.shared.scrapes.load(Ordering::Relaxed)
    }

    /// Serving from this process (false in a forked child: the thread stayed in the parent).
    pub fn is_running(&self) -> bool {
        std::process::id() == self.pid && self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops serving and joins the thread. Idempotent. In a forked child it only lets go of the
    /// handle: the thread and the socket's accept loop belong to the parent.
    pub fn stop(&mut self) {
        let Some(t) = self.thread.take() else { return };
        if std::process::id() != self.pid {
            // No such thread here: joining would wait forever, and a wake-up connection would
            // reach the parent's accept loop. Forget the handle without touching pthreads.
            std::mem::forget(t);
            return;
        }
        self.shared.stop.store(true, Ordering::Release);
        // Wake the blocking accept with a connection of our own.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(if wake.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        let _ = t.join();
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(listener: TcpListener, registry: &'static Registry, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        match conn {
            Ok(stream) => {
                if shared.active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
                    shared.active.fetch_sub(1, Ordering::AcqRel);
                    busy(stream);
                    continue;
                }
                let s2 = shared.clone();
                let spawned = std::thread::Builder::new()
                    .name("ferrule-metrics-conn".into())
                    .spawn(move || {
                        answer(stream, registry, &s2);
                        s2.active.fetch_sub(1, Ordering::AcqRel);
                    });
                if let Err(e) = spawned {
                    shared.active.fetch_sub(1, Ordering::AcqRel);
                    builtin::dropped("scrape_error", 1);
                    super::pipeline::Pipeline::global().warn(
                        "metrics.scrape_failed",
                        format!("metrics endpoint: cannot start a connection thread: {e}"),
                    );
                }
            }
            Err(e) => {
                builtin::dropped("scrape_error", 1);
                log::warn!("ferrule metrics endpoint: accept failed: {e}");
                // e.g. out of file descriptors: back off instead of spinning on the error.
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// More than `MAX_CONNECTIONS` at once: a 503 with a short write timeout, counted as dropped.
fn busy(mut stream: TcpStream) {
    builtin::dropped("scrape_busy", 1);
    super::pipeline::Pipeline::global().warn(
        "metrics.endpoint_busy",
        format!("metrics endpoint: {MAX_CONNECTIONS} connections already open; answered 503"),
    );
    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
    let _ = respond(
        &mut stream,
        "503 Service Unavailable",
        "text/plain",
        b"too many connections\n",
        false,
    );
}

fn answer(mut stream: TcpStream, registry: &Registry, shared: &Shared) {
    match handle(&mut stream, registry) {
        // Counted before the connection closes, so a client that saw the end of its answer also
        // sees it counted.
        Ok(true) => {
            shared.scrapes.fetch_add(1, Ordering::Relaxed);
        }
        Ok(false) => {}
        Err(e) => {
            builtin::dropped("scrape_error", 1);
            super::pipeline::Pipeline::global().warn(
                "metrics.scrape_failed",
                format!("metrics endpoint: a connection failed: {e}"),
            );
        }
    }
}

/// Answers one request; `Ok(false)` when the peer closed without sending one.
fn handle(stream: &mut TcpStream, registry: &Registry) -> std::io::Result<bool> {
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let deadline = std::time::Instant::now() + REQUEST_DEADLINE;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no complete request within 5 s",
            ));
        }
        stream.set_read_timeout(Some(left))?;
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(false); // the peer closed without a request
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_REQUEST {
            return respond(
                stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                b"request too large\n",
                false,
            );
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let (method, target) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    let openmetrics = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("accept:") && l.contains("application/openmetrics-text")
    });
    let path = target.split('?').next().unwrap_or("");
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return respond(
            stream,
            "405 Method Not Allowed",
            "text/plain",
            b"GET /metrics\n",
            false,
        );
    }
    match path {
        "/metrics" => {
            let fmt = if openmetrics {
                Format::OpenMetrics
            } else {
                Format::Prometheus
            };
            let body = render(registry, fmt);
            respond(
                stream,
                "200 OK",
                fmt.content_type(),
                body.as_bytes(),
                head_only,
            )
        }
        "/" => respond(
            stream,
            "200 OK",
            "text/html",
            b"<a href=\"/metrics\">/metrics</a>\n",
            head_only,
        ),
        _ => respond(
            stream,
            "404 Not Found",
            "text/plain",
            b"not found; try /metrics\n",
            head_only,
        ),
    }
}

fn respond(
    s: &mut TcpStream,
    status: &str,
    ctype: &str,
    body: &[u8],
    head_only: bool,
) -> std::io::Result<bool> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    if !head_only {
        s.write_all(body)?;
    }
    s.flush()?;
    Ok(true)
}
