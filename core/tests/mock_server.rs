//! The mock server over real loopback sockets: routes, faults with their headers, streaming,
//! truncation, resets, hangs released by stop, and the loopback-only rule.
#![cfg(feature = "mock-server")]

use ferrule_core::mock::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn post(port: u16, path: &str, body: &str, extra: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nconnection: close\r\n{extra}content-length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

const CHAT: &str =
    r#"{"model":"mock-gpt-4o-mini","messages":[{"role":"user","content":"hello there"}]}"#;

fn server(plan: &str) -> MockServer {
    MockServer::start(MockConfig {
        plan: FaultPlan::from_json(plan).unwrap(),
        hang_ms: 60_000,
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn chat_completion_with_usage_and_recorded_request() {
    let s = server("[]");
    let r = post(
        s.port(),
        "/v1/chat/completions",
        CHAT,
        "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n",
    )
    .unwrap();
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.contains("\"prompt_tokens\""));
    assert!(r.contains("Mock answer to: hello there"));
    let reqs = s.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].header("traceparent").unwrap(),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    );
    assert!(s.url().starts_with("http://127.0.0.1:"));
}

#[test]
fn script_gives_429_with_retry_hints_then_500_then_503() {
    let s = server(
        r#"{"script": ["429", "500", "503", "ok"], "rules": [{"kind": "429", "rate": 0, "retry_after_ms": 2500}]}"#,
    );
    let r = post(s.port(), "/v1/chat/completions", CHAT, "").unwrap();
    assert!(r.starts_with("HTTP/1.1 429"), "{r}");
    assert!(r.contains("retry-after: 3\r\n"));
    assert!(r.contains("retry-after-ms: 2500\r\n"));
    assert!(r.contains("x-ratelimit-reset-requests: 2500ms\r\n"));
    assert!(r.contains("rate_limit_exceeded"));
    assert!(post(s.port(), "/v1/chat/completions", CHAT, "")
        .unwrap()
        .starts_with("HTTP/1.1 500"));
    assert!(post(s.port(), "/v1/chat/completions", CHAT, "")
        .unwrap()
        .starts_with("HTTP/1.1 503"));
    assert!(post(s.port(), "/v1/chat/completions", CHAT, "")
        .unwrap()
        .starts_with("HTTP/1.1 200"));
    let st = s.stats();
    assert_eq!(st.requests, 4);
    assert!(st.by_fault.contains(&("rate_limit", 1)));
}

#[test]
fn streaming_and_truncated_streams() {
    let s = server(r#"{"script": ["ok", "truncated_stream"]}"#);
    let body = r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"stream me please"}]}"#;
    let full = post(s.port(), "/v1/chat/completions", body, "").unwrap();
    assert!(full.contains("text/event-stream"));
    assert!(full.contains("data: [DONE]"));
    assert!(full.contains("\"usage\""));
    let cut = post(s.port(), "/v1/chat/completions", body, "").unwrap();
    assert!(cut.contains("chat.completion.chunk"));
    assert!(!cut.contains("[DONE]"), "a truncated stream never finishes");
}

#[test]
fn malformed_json_content_is_broken_but_the_envelope_is_valid() {
    let s = server(r#"{"script": ["malformed_json"]}"#);
    let r = post(s.port(), "/v1/chat/completions", CHAT, "").unwrap();
    assert!(r.starts_with("HTTP/1.1 200"));
    assert!(r.contains("```json"));
}

#[test]
fn reset_and_header_forced_faults() {
    let s = server("[]");
    let err_or_empty = post(
        s.port(),
        "/v1/chat/completions",
        CHAT,
        "x-mock-fault: reset\r\n",
    );
    match err_or_empty {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
        Ok(text) => assert!(text.is_empty(), "a reset answers nothing: {text}"),
    }
    let r = post(
        s.port(),
        "/v1/chat/completions",
        CHAT,
        "x-mock-fault: 503\r\n",
    )
    .unwrap();
    assert!(r.starts_with("HTTP/1.1 503"));
}

#[test]
fn stop_releases_a_hung_connection_promptly() {
    let mut s = server(r#"{"script": ["hang"]}"#);
    let port = s.port();
    let t = std::thread::spawn(move || post(port, "/v1/chat/completions", CHAT, ""));
    while s.stats().requests == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let t0 = Instant::now();
    s.stop();
    let r = t.join().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(
        r.map(|b| b.is_empty()).unwrap_or(true),
        "a hung request gets no answer"
    );
}

#[test]
fn embeddings_models_responses_and_unknown_routes() {
    let s = server("[]");
    let r = post(
        s.port(),
        "/v1/embeddings",
        r#"{"model":"e","input":["a","b"]}"#,
        "",
    )
    .unwrap();
    assert!(r.contains("\"embedding\"") && r.contains("\"index\":1"));
    let r = post(
        s.port(),
        "/v1/responses",
        r#"{"model":"m","input":"hi"}"#,
        "",
    )
    .unwrap();
    assert!(r.contains("output_text"));
    let r = post(s.port(), "/v1/nothing", "{}", "").unwrap();
    assert!(r.starts_with("HTTP/1.1 404"));
    let r = post(s.port(), "/v1/chat/completions", "{not json", "").unwrap();
    assert!(r.starts_with("HTTP/1.1 400"));
}

#[test]
fn only_loopback_unless_allowed() {
    let e = MockServer::start(MockConfig {
        host: "0.0.0.0".into(),
        ..Default::default()
    })
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("host=0.0.0.0 is out of range; allowed: a loopback address"),
        "{e}"
    );
}

fn wait_for(s: &MockServer, what: impl Fn(&ServerStats) -> bool) -> ServerStats {
    let end = Instant::now() + Duration::from_secs(3);
    loop {
        let st = s.stats();
        if what(&st) || Instant::now() > end {
            return st;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn idle_keep_alive_connections_are_counted_apart_from_busy_ones() {
    let s = server(
        r#"{"rules": [{"kind": "stall_stream", "rate": 0, "after_chunks": 1, "latency_ms": 20000}]}"#,
    );
    // A connection opened ahead of any request (as a client's pool may) is open and idle.
    let idle = TcpStream::connect(("127.0.0.1", s.port())).unwrap();
    let st = wait_for(&s, |st| {
        st.open_connections == 1 && st.idle_connections == 1
    });
    assert_eq!((st.open_connections, st.idle_connections), (1, 1));
    // A stalled stream's connection is busy until the client closes it.
    let mut busy = TcpStream::connect(("127.0.0.1", s.port())).unwrap();
    let body = r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    write!(
        busy,
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-mock-fault: stall_stream\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut first = [0u8; 64];
    busy.read_exact(&mut first).unwrap();
    let st = wait_for(&s, |st| st.open_connections == 2);
    assert_eq!((st.open_connections, st.idle_connections), (2, 1));
    drop(busy);
    let st = wait_for(&s, |st| st.open_connections == 1);
    assert_eq!((st.open_connections, st.idle_connections), (1, 1));
    drop(idle);
    let st = wait_for(&s, |st| st.open_connections == 0);
    assert_eq!((st.open_connections, st.idle_connections), (0, 0));
}
