//! The mock server itself: an accept thread and one thread per connection (bounded), each request
//! numbered in arrival order, its fault decided by the plan, recorded for the test to inspect.

use super::anthropic;
use super::faults::{FaultKind, FaultPlan, FaultRule};
use super::http1::{self, ReadOutcome, Request};
use super::openai;
use super::stream_faults;
use super::tools;
use crate::error::Error;
use serde_json::Value;
use std::collections::{HashSet, VecDeque};
use std::io::{BufReader, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const C: &str = "MockLLMServer";

#[derive(Debug, Clone)]
pub struct MockConfig {
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
    pub plan: FaultPlan,
    /// Added to every answer.
    pub latency_ms: u64,
    /// How long a `hang` holds the connection before closing it.
    pub hang_ms: u64,
    pub max_connections: usize,
    pub max_recorded: usize,
    pub models: Vec<String>,
    /// Binding anything but a loopback address needs this, so a test server is never exposed by
    /// accident.
    pub allow_non_loopback: bool,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 0,
            plan: FaultPlan::default(),
            latency_ms: 0,
            hang_ms: 30_000,
            max_connections: 1024,
            max_recorded: 10_000,
            models: vec![
                "mock-gpt-4o-mini".into(),
                "mock-gpt-4o".into(),
                "mock-embedding".into(),
            ],
            allow_non_loopback: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub index: u64,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub fault: FaultKind,
    pub at_unix_ms: u64,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerStats {
    pub requests: u64,
    pub by_fault: Vec<(&'static str, u64)>,
    pub dropped_records: u64,
    pub rejected_connections: u64,
    /// Connections open right now (a test sees a client release its connection here).
    pub open_connections: u64,
    /// Of those, the ones waiting for a request: a client's keep-alive pool. An HTTP client may
    /// keep (or open ahead) an idle connection it will reuse; `open_connections - idle_connections`
    /// are the connections with a request in progress, which an abandoned stream must not leave.
    pub idle_connections: u64,
}

struct Shared {
    cfg: MockConfig,
    stop: AtomicBool,
    next_index: AtomicU64,
    by_fault: [AtomicU64; FaultKind::ALL.len()],
    // Test tooling, off any caller's hot path: a mutex keeps the recorded list simple and ordered.
    recorded: Mutex<VecDeque<RecordedRequest>>,
    dropped_records: AtomicU64,
    open_connections: AtomicUsize,
    idle_connections: AtomicUsize,
    rejected_connections: AtomicU64,
    // Every live connection, so `stop` can wake handlers blocked in a read or a hang.
    live: Mutex<Vec<(u64, TcpStream)>>,
    next_conn: AtomicU64,
    // Prompt prefixes an Anthropic request marked `cache_control`: the first request writes one,
    // later ones read it (test tooling, like `recorded`).
    cache_prefixes: Mutex<HashSet<String>>,
}

pub struct MockServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MockServer({})", self.url())
    }
}

fn is_loopback(host: &str) -> Result<bool, Error> {
    if host == "localhost" {
        return Ok(true);
    }
    let ip: IpAddr = host
        .trim_matches(|c| c == '[' || c == ']')
        .parse()
        .map_err(|_| Error::out_of_range(C, "host", host, "an IP address or localhost"))?;
    Ok(ip.is_loopback())
}

impl MockServer {
    pub fn start(cfg: MockConfig) -> Result<Self, Error> {
        if !cfg.allow_non_loopback && !is_loopback(&cfg.host)? {
            return Err(Error::out_of_range(
                C,
                "host",
                &cfg.host,
                "a loopback address (127.0.0.0/8, ::1, localhost) unless allow_non_loopback is set",
            ));
        }
        crate::error::check::int(
            C,
            "max_connections",
            cfg.max_connections as i128,
            1,
            100_000,
        )?;
        let addr = (cfg.host.as_str(), cfg.port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| Error::out_of_range(C, "host", &cfg.host, "a resolvable address"))?;
        let listener = TcpListener::bind(addr)
            .map_err(|e| Error::out_of_range(C, "port", cfg.port, format!("a free port ({e})")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::out_of_range(C, "port", cfg.port, e.to_string()))?;
        let shared = Arc::new(Shared {
            cfg,
            stop: AtomicBool::new(false),
            next_index: AtomicU64::new(0),
            by_fault: std::array::from_fn(|_| AtomicU64::new(0)),
            recorded: Mutex::new(VecDeque::new()),
            dropped_records: AtomicU64::new(0),
            open_connections: AtomicUsize::new(0),
            idle_connections: AtomicUsize::new(0),
            rejected_connections: AtomicU64::new(0),
            live: Mutex::new(Vec::new()),
            next_conn: AtomicU64::new(0),
            cache_prefixes: Mutex::new(HashSet::new()),
        });
        let s2 = shared.clone();
        let accept = std::thread::Builder::new()
            .name("ferrule-mock-accept".into())
            .spawn(move || accept_loop(listener, s2))
            .map_err(|e| Error::out_of_range(C, "threads", 1, e.to_string()))?;
        Ok(Self {
            shared,
            addr,
            accept: Some(accept),
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The OpenAI `base_url`: `http://127.0.0.1:PORT/v1`.
    pub fn url(&self) -> String {
        match self.addr.ip() {
            IpAddr::V6(ip) => format!("http://[{ip}]:{}/v1", self.addr.port()),
            IpAddr::V4(ip) => format!("http://{ip}:{}/v1", self.addr.port()),
        }
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .recorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    pub fn clear_requests(&self) {
        self.shared
            .recorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    pub fn stats(&self) -> ServerStats {
        let s = &self.shared;
        ServerStats {
            requests: s.next_index.load(Ordering::Relaxed),
            by_fault: FaultKind::ALL
                .iter()
                .zip(s.by_fault.iter())
                .map(|(k, c)| (k.as_str(), c.load(Ordering::Relaxed)))
                .collect(),
            dropped_records: s.dropped_records.load(Ordering::Relaxed),
            rejected_connections: s.rejected_connections.load(Ordering::Relaxed),
            open_connections: s.open_connections.load(Ordering::Acquire) as u64,
            idle_connections: s.idle_connections.load(Ordering::Acquire) as u64,
        }
    }

    /// Stops accepting, wakes every handler (hung ones included) and waits for the accept thread.
    pub fn stop(&mut self) {
        if self.shared.stop.swap(true, Ordering::SeqCst) {
            return;
        }
        for (_, c) in self
            .shared
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = c.shutdown(Shutdown::Both);
        }
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(mut stream) = conn else { continue };
        if shared.open_connections.fetch_add(1, Ordering::AcqRel) >= shared.cfg.max_connections {
            shared.open_connections.fetch_sub(1, Ordering::AcqRel);
            shared.rejected_connections.fetch_add(1, Ordering::Relaxed);
            let body =
                openai::error_body("mock server connection limit reached", "server_error", None)
                    .to_string();
            let _ = http1::write_response(
                &mut stream,
                503,
                &[],
                "application/json",
                body.as_bytes(),
                false,
            );
            continue;
        }
        let _ = stream.set_nodelay(true);
        let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        if let Ok(c) = stream.try_clone() {
            shared
                .live
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((id, c));
        }
        let s2 = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("ferrule-mock-conn".into())
            .spawn(move || {
                serve_connection(stream, &s2);
                s2.live
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .retain(|(i, _)| *i != id);
                s2.open_connections.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            shared.open_connections.fetch_sub(1, Ordering::AcqRel);
            shared.rejected_connections.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut w = write_half;
    while !shared.stop.load(Ordering::SeqCst) {
        // Between requests the connection is idle: the client's to reuse or close.
        shared.idle_connections.fetch_add(1, Ordering::AcqRel);
        let read = http1::read_request(&mut reader);
        shared.idle_connections.fetch_sub(1, Ordering::AcqRel);
        match read {
            Ok(ReadOutcome::Request(req)) => {
                let keep = req.keep_alive();
                match handle(&req, &mut w, shared) {
                    Ok(true) if keep => continue,
                    _ => break,
                }
            }
            Ok(ReadOutcome::Bad(status, why)) => {
                let body = openai::error_body(why, "invalid_request_error", None).to_string();
                let _ = http1::write_response(
                    &mut w,
                    status,
                    &[],
                    "application/json",
                    body.as_bytes(),
                    false,
                );
                break;
            }
            Ok(ReadOutcome::Closed) | Err(_) => break,
        }
    }
    let _ = w.shutdown(Shutdown::Both);
}

fn now_unix() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn sleep_unless_stopped(shared: &Shared, d: Duration) {
    let end = Instant::now() + d;
    while !shared.stop.load(Ordering::SeqCst) {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}

fn json_response(
    w: &mut TcpStream,
    status: u16,
    headers: &[(&str, String)],
    body: &Value,
) -> std::io::Result<()> {
    http1::write_response(
        w,
        status,
        headers,
        "application/json",
        body.to_string().as_bytes(),
        true,
    )
}

/// Answers one request. `Ok(true)`: the connection may serve another.
fn handle(req: &Request, w: &mut TcpStream, shared: &Shared) -> std::io::Result<bool> {
    let path = req.path.split('?').next().unwrap_or("");
    let index = shared.next_index.fetch_add(1, Ordering::AcqRel);
    let forced = req
        .header("x-mock-fault")
        .and_then(|f| FaultKind::parse(f).ok());
    let (fault, rule) = match forced {
        Some(k) => (k, shared.cfg.plan.rules.iter().find(|r| r.kind == k)),
        None if req.method == "POST" => shared.cfg.plan.decide(index),
        None => (FaultKind::Ok, None),
    };
    let default_rule = FaultRule::new(fault, 1.0);
    let rule = rule.unwrap_or(&default_rule);
    shared.by_fault[FaultKind::ALL.iter().position(|k| *k == fault).unwrap_or(0)]
        .fetch_add(1, Ordering::Relaxed);
    record(shared, req, index, fault);

    let rid = format!("req_mock_{index}");
    let base = vec![
        ("x-request-id", rid.clone()),
        ("openai-processing-ms", shared.cfg.latency_ms.to_string()),
    ];
    if shared.cfg.latency_ms > 0 {
        sleep_unless_stopped(shared, Duration::from_millis(shared.cfg.latency_ms));
    }
    if path == anthropic::MESSAGES_PATH {
        if let Some(done) = anthropic_fault(req, w, fault, rule, &rid) {
            return done;
        }
    }
    match fault {
        FaultKind::RateLimit => {
            let ms = rule.retry_after_ms;
            let mut h = base.clone();
            h.push(("retry-after", ms.div_ceil(1000).to_string()));
            h.push(("retry-after-ms", ms.to_string()));
            h.push(("x-ratelimit-limit-requests", "60".into()));
            h.push(("x-ratelimit-remaining-requests", "0".into()));
            h.push(("x-ratelimit-reset-requests", format!("{ms}ms")));
            h.push(("x-ratelimit-limit-tokens", "150000".into()));
            h.push(("x-ratelimit-remaining-tokens", "0".into()));
            h.push(("x-ratelimit-reset-tokens", format!("{ms}ms")));
            let body = openai::error_body(
                "Rate limit reached (mock)",
                "requests",
                Some("rate_limit_exceeded"),
            );
            return json_response(w, 429, &h, &body).map(|_| true);
        }
        FaultKind::ServerError => {
            let body = openai::error_body("The server had an error (mock)", "server_error", None);
            return json_response(w, 500, &base, &body).map(|_| true);
        }
        FaultKind::Unavailable => {
            let body = openai::error_body(
                "The engine is currently overloaded (mock)",
                "server_error",
                None,
            );
            return json_response(w, 503, &base, &body).map(|_| true);
        }
        FaultKind::Hang => {
            sleep_unless_stopped(shared, Duration::from_millis(shared.cfg.hang_ms));
            return Ok(false);
        }
        FaultKind::Reset => {
            // SO_LINGER 0 makes the close send a TCP reset instead of an orderly FIN.
            let _ = socket2::SockRef::from(&*w).set_linger(Some(Duration::ZERO));
            return Ok(false);
        }
        FaultKind::Slow => sleep_unless_stopped(shared, Duration::from_millis(rule.latency_ms)),
        _ => {}
    }

    let created = now_unix().as_secs();
    match (req.method.as_str(), path) {
        ("GET", "/v1/models") => {
            let names: Vec<&str> = shared.cfg.models.iter().map(String::as_str).collect();
            json_response(w, 200, &base, &openai::models(&names)).map(|_| true)
        }
        ("POST", "/v1/chat/completions") => {
            let body = match parse_body(req) {
                Ok(b) => b,
                Err(e) => return bad_request(w, &base, &e),
            };
            let chat = match openai::parse_chat(&body) {
                Ok(c) => c,
                Err(e) => return bad_request(w, &base, &e),
            };
            let content = match req.header("x-mock-content") {
                Some(c) => c.to_string(),
                None => openai::answer(&chat, fault == FaultKind::MalformedJson),
            };
            // A request that ends with the assistant's own partial answer asks for the rest of it
            // (how a client resumes a stream that broke mid-way).
            let content = match &chat.continue_from {
                Some(p) if !p.is_empty() && content.starts_with(p.as_str()) => {
                    content[p.len()..].to_string()
                }
                _ => content,
            };
            let prompt_tokens = openai::estimate_tokens(&chat.prompt_text);
            let id = format!("chatcmpl-mock-{index}");
            // Tools offered and no fixed content asked for: the answer is a tool call.
            let call = req
                .header("x-mock-content")
                .is_none()
                .then(|| tools::choose(&body, &chat.last_user))
                .flatten();
            if let Some(call) = &call {
                let call_id = format!("call_mock_{index}");
                if chat.stream {
                    let events = openai::chat_tool_stream_events(
                        &id,
                        created,
                        &chat.model,
                        call,
                        &call_id,
                        prompt_tokens,
                        chat.include_usage,
                    );
                    http1::start_chunked(w, 200, &base, "text/event-stream")?;
                    return stream_faults::write_events(w, &events, fault, rule, &|| {
                        shared.stop.load(Ordering::SeqCst)
                    });
                }
                let v = openai::chat_tool_completion(
                    &id,
                    created,
                    &chat.model,
                    call,
                    &call_id,
                    prompt_tokens,
                );
                return json_response(w, 200, &base, &v).map(|_| true);
            }
            if chat.stream {
                let events = openai::chat_stream_events(
                    &id,
                    created,
                    &chat.model,
                    &content,
                    prompt_tokens,
                    chat.include_usage,
                );
                http1::start_chunked(w, 200, &base, "text/event-stream")?;
                stream_faults::write_events(w, &events, fault, rule, &|| {
                    shared.stop.load(Ordering::SeqCst)
                })
            } else {
                let v = openai::chat_completion(&id, created, &chat.model, &content, prompt_tokens);
                if fault == FaultKind::TruncatedStream {
                    let full = v.to_string();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-request-id: {rid}\r\n\r\n",
                        full.len()
                    );
                    w.write_all(head.as_bytes())?;
                    w.write_all(&full.as_bytes()[..full.len() / 2])?;
                    w.flush()?;
                    return Ok(false);
                }
                json_response(w, 200, &base, &v).map(|_| true)
            }
        }
        ("POST", anthropic::MESSAGES_PATH) => {
            serve_messages(req, w, shared, (fault, rule), index, &rid)
        }
        ("POST", "/v1/embeddings") => {
            let body = match parse_body(req) {
                Ok(b) => b,
                Err(e) => return bad_request(w, &base, &e),
            };
            match openai::embeddings(&body) {
                Ok(v) => json_response(w, 200, &base, &v).map(|_| true),
                Err(e) => bad_request(w, &base, &e),
            }
        }
        ("POST", "/v1/responses") => {
            let body = match parse_body(req) {
                Ok(b) => b,
                Err(e) => return bad_request(w, &base, &e),
            };
            let topic: String = openai::responses_input_text(&body)
                .chars()
                .take(80)
                .collect();
            let content = req
                .header("x-mock-content")
                .map(str::to_string)
                .unwrap_or(format!("Mock answer to: {topic}"));
            let v = openai::responses(&format!("resp_mock_{index}"), created, &body, &content);
            json_response(w, 200, &base, &v).map(|_| true)
        }
        (_, p) if p.starts_with("/v1/") => {
            let body = openai::error_body(
                &format!("Unknown route {} {p} (mock)", req.method),
                "invalid_request_error",
                None,
            );
            json_response(w, 404, &base, &body).map(|_| true)
        }
        _ => {
            let body = openai::error_body("Not found (mock)", "invalid_request_error", None);
            json_response(w, 404, &base, &body).map(|_| true)
        }
    }
}

/// An Anthropic request's fault, answered in Anthropic's shapes: 429 `rate_limit_error` with
/// `retry-after` and `anthropic-ratelimit-*` headers, 500 `api_error`, and `unavailable` as 529
/// `overloaded_error`. `None`: the fault is not an error answer (hang, reset and slow are the
/// same for every API).
fn anthropic_fault(
    req: &Request,
    w: &mut TcpStream,
    fault: FaultKind,
    rule: &FaultRule,
    rid: &str,
) -> Option<std::io::Result<bool>> {
    let mut h = vec![("request-id", rid.to_string())];
    let (status, kind, message) = match fault {
        FaultKind::RateLimit => {
            h.extend(anthropic::rate_limit_headers(
                Duration::from_millis(rule.retry_after_ms),
                now_unix(),
                req.header("x-mock-hint"),
            ));
            (
                429,
                "rate_limit_error",
                "Number of requests has exceeded your rate limit (mock)",
            )
        }
        FaultKind::ServerError => (500, "api_error", "Internal server error (mock)"),
        FaultKind::Unavailable => (529, "overloaded_error", "Overloaded (mock)"),
        _ => return None,
    };
    let body = anthropic::error_body(message, kind);
    Some(json_response(w, status, &h, &body).map(|_| true))
}

/// `POST /v1/messages`: a message, or its events when `stream` is set (cut half-way, without
/// `message_stop`, for `truncated_stream`).
fn serve_messages(
    req: &Request,
    w: &mut TcpStream,
    shared: &Shared,
    (fault, rule): (FaultKind, &FaultRule),
    index: u64,
    rid: &str,
) -> std::io::Result<bool> {
    let h = vec![("request-id", rid.to_string())];
    let invalid = |w: &mut TcpStream, msg: &str| {
        let body = anthropic::error_body(msg, "invalid_request_error");
        json_response(w, 400, &h, &body).map(|_| true)
    };
    let body = match parse_body(req) {
        Ok(b) => b,
        Err(e) => return invalid(w, &e),
    };
    let m = match anthropic::parse(&body) {
        Ok(m) => m,
        Err(e) => return invalid(w, &e),
    };
    // Tools offered and no fixed content asked for: the answer is a tool call.
    let content = req.header("x-mock-content");
    let call = content
        .is_none()
        .then(|| tools::choose(&body, &m.last_user))
        .flatten();
    let (text, stop) = match &call {
        Some(c) => (format!("{}{}", c.name, c.arguments_text()), "tool_use"),
        None => anthropic::answer(&m, content),
    };
    let usage = {
        let mut seen = shared
            .cache_prefixes
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        anthropic::usage(&m, &text, &mut seen)
    };
    let id = format!("msg_mock_{index}");
    let call_id = format!("toolu_mock_{index}");
    if !m.stream {
        let v = match &call {
            Some(c) => anthropic::tool_use_message(&id, &m.model, c, &call_id, &usage),
            None => anthropic::message(&id, &m.model, &text, stop, &usage),
        };
        return json_response(w, 200, &h, &v).map(|_| true);
    }
    let events = match &call {
        Some(c) => anthropic::tool_stream_events(&id, &m.model, c, &call_id, &usage),
        None => anthropic::stream_events(&id, &m.model, &text, stop, &usage),
    };
    // The stream faults every provider's stream shares: cut (half-way by default, without
    // `message_stop`), a stall, a malformed event.
    http1::start_chunked(w, 200, &h, "text/event-stream")?;
    stream_faults::write_events(w, &events, fault, rule, &|| {
        shared.stop.load(Ordering::SeqCst)
    })
}

fn parse_body(req: &Request) -> Result<Value, String> {
    serde_json::from_slice(&req.body).map_err(|e| format!("request body is not JSON: {e}"))
}

fn bad_request(w: &mut TcpStream, base: &[(&str, String)], msg: &str) -> std::io::Result<bool> {
    let body = openai::error_body(msg, "invalid_request_error", None);
    json_response(w, 400, base, &body).map(|_| true)
}

fn record(shared: &Shared, req: &Request, index: u64, fault: FaultKind) {
    const MAX_BODY: usize = 64 * 1024;
    let mut body = String::from_utf8_lossy(&req.body[..req.body.len().min(MAX_BODY)]).into_owned();
    if req.body.len() > MAX_BODY {
        body.push_str("…[truncated]");
    }
    let r = RecordedRequest {
        index,
        method: req.method.clone(),
        path: req.path.clone(),
        headers: req.headers.clone(),
        body,
        fault,
        at_unix_ms: now_unix().as_millis() as u64,
    };
    let mut q = shared.recorded.lock().unwrap_or_else(|p| p.into_inner());
    if q.len() >= shared.cfg.max_recorded {
        q.pop_front();
        shared.dropped_records.fetch_add(1, Ordering::Relaxed);
    }
    q.push_back(r);
}
