//! How a streamed answer goes wrong on the wire: cut after N events, a silence of S seconds, a
//! malformed event, or an end without `[DONE]`. Any server-sent-events writer (OpenAI's today) hands
//! its events here, so every provider mock faults its streams the same way.

use super::faults::{FaultKind, FaultRule};
use super::http1;
use std::io::{self, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Writes `events` (each a full `data: ...\n\n` frame; the last one `[DONE]` when the protocol has
/// it) as the chunked body `fault` asks for. `Ok(true)`: the body ended cleanly and the connection
/// may serve another request; `Ok(false)`: the body was cut and the connection must close.
/// `stopped` says whether the server is shutting down (a stall ends early then).
pub fn write_events(
    w: &mut TcpStream,
    events: &[String],
    fault: FaultKind,
    rule: &FaultRule,
    stopped: &dyn Fn() -> bool,
) -> io::Result<bool> {
    let n = events.len();
    let at = |default: usize| rule.after_chunks.map_or(default, |k| (k as usize).min(n));
    match fault {
        FaultKind::TruncatedStream => {
            for e in &events[..at(n / 2)] {
                http1::write_chunk(w, e.as_bytes())?;
            }
            // Stop mid-stream: no final chunk, no [DONE]; the connection just ends.
            w.flush()?;
            Ok(false)
        }
        FaultKind::StallStream => {
            let k = at(1);
            for e in &events[..k] {
                http1::write_chunk(w, e.as_bytes())?;
            }
            if !silence(w, Duration::from_millis(rule.latency_ms), stopped) {
                return Ok(false); // the client gave up during the silence
            }
            for e in &events[k..] {
                http1::write_chunk(w, e.as_bytes())?;
            }
            http1::end_chunked(w)?;
            Ok(true)
        }
        FaultKind::MalformedChunk => {
            let k = at(n / 2);
            for (i, e) in events.iter().enumerate() {
                if i == k {
                    http1::write_chunk(w, b"data: {\"choices\": [{\"delta\": \n\n")?;
                }
                http1::write_chunk(w, e.as_bytes())?;
            }
            http1::end_chunked(w)?;
            Ok(true)
        }
        FaultKind::StreamWithoutDone => {
            for e in events.iter().filter(|e| !e.starts_with("data: [DONE]")) {
                http1::write_chunk(w, e.as_bytes())?;
            }
            http1::end_chunked(w)?;
            Ok(true)
        }
        _ => {
            for e in events {
                http1::write_chunk(w, e.as_bytes())?;
            }
            http1::end_chunked(w)?;
            Ok(true)
        }
    }
}

/// Waits `d` without writing, watching the socket: returns false as soon as the client closes its
/// side (so a test can see a deadline release the connection), true when the silence ran out.
fn silence(w: &TcpStream, d: Duration, stopped: &dyn Fn() -> bool) -> bool {
    let end = Instant::now() + d;
    let mut buf = [0u8; 1];
    let restore = w.read_timeout().ok().flatten();
    let mut open = true;
    while !stopped() {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let _ = w.set_read_timeout(Some(left.min(Duration::from_millis(20))));
        match w.peek(&mut buf) {
            Ok(0) => {
                open = false; // orderly close from the client
                break;
            }
            Ok(_) => std::thread::sleep(left.min(Duration::from_millis(20))),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                open = false; // reset
                break;
            }
        }
    }
    let _ = w.set_read_timeout(restore);
    open
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    fn run(fault: FaultKind, rule: FaultRule, events: Vec<String>) -> (bool, String) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let ok = write_events(&mut s, &events, fault, &rule, &|| false).unwrap();
            s.shutdown(std::net::Shutdown::Both).unwrap();
            ok
        });
        let mut c = TcpStream::connect(addr).unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        (h.join().unwrap(), out)
    }

    fn events() -> Vec<String> {
        (0..4)
            .map(|i| format!("data: {{\"n\": {i}}}\n\n"))
            .chain(std::iter::once("data: [DONE]\n\n".to_string()))
            .collect()
    }

    #[test]
    fn truncated_stream_cuts_after_the_asked_events() {
        let mut r = FaultRule::new(FaultKind::TruncatedStream, 1.0);
        r.after_chunks = Some(2);
        let (clean, body) = run(FaultKind::TruncatedStream, r, events());
        assert!(!clean);
        assert!(body.contains("\"n\": 1") && !body.contains("\"n\": 2"));
        assert!(!body.ends_with("0\r\n\r\n"));
    }

    #[test]
    fn stall_then_rest_and_without_done() {
        let mut r = FaultRule::new(FaultKind::StallStream, 1.0);
        r.latency_ms = 60;
        let t = Instant::now();
        let (clean, body) = run(FaultKind::StallStream, r, events());
        assert!(clean && t.elapsed() >= Duration::from_millis(60));
        assert!(body.contains("[DONE]") && body.ends_with("0\r\n\r\n"));
        let r = FaultRule::new(FaultKind::StreamWithoutDone, 1.0);
        let (clean, body) = run(FaultKind::StreamWithoutDone, r, events());
        assert!(clean && !body.contains("[DONE]") && body.contains("\"n\": 3"));
    }

    #[test]
    fn malformed_event_is_inserted_before_the_asked_one() {
        let mut r = FaultRule::new(FaultKind::MalformedChunk, 1.0);
        r.after_chunks = Some(1);
        let (_, body) = run(FaultKind::MalformedChunk, r, events());
        let bad = body.find("\"delta\": \n").unwrap();
        assert!(body.find("\"n\": 0").unwrap() < bad && bad < body.find("\"n\": 1").unwrap());
    }
}
