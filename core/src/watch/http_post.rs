//! A minimal HTTP/1.1 POST for alert delivery (webhooks, Alertmanager): plain `http://`, one request
//! per connection, bounded by a timeout. Returns the status so the caller decides about retries.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// `http://host[:port]/path` split into (`host:port`, `/path`).
pub fn parse_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("http://")?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if hostport.is_empty() {
        return None;
    }
    let hostport = if hostport
        .rsplit(':')
        .next()
        .is_some_and(|p| p.parse::<u16>().is_ok())
        && !hostport.ends_with(']')
    {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    Some((hostport, path.to_string()))
}

/// POSTs `body` as JSON; `Ok(status)` for any HTTP answer, `Err` when none came.
pub fn post_json(
    hostport: &str,
    path: &str,
    body: &[u8],
    headers: &[(String, String)],
    timeout: Duration,
) -> Result<u16, String> {
    let addr = hostport
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {hostport}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {hostport}"))?;
    let mut s =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: ferrule/{}\r\n",
        body.len(),
        env!("CARGO_PKG_VERSION")
    );
    for (k, v) in headers {
        head.push_str(k);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    s.write_all(body).map_err(|e| format!("send: {e}"))?;
    let mut resp = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    while !resp.windows(2).any(|w| w == b"\r\n") && resp.len() < 8192 {
        let n = s.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        resp.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&resp);
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no HTTP status in {:?}", line.lines().next().unwrap_or("")))
}
