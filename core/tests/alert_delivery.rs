//! Alert delivery against real receivers on loopback: a webhook receiver that answers 500 first and
//! sees the retried delivery, and a real Prometheus Alertmanager (Debian `prometheus-alertmanager`)
//! that receives an alert and its resolution, read back through its own API.

use ferrule_core::watch::alert::Alert;
use ferrule_core::watch::alert_router::{AlertRouter, RouterConfig};
use ferrule_core::watch::alert_sink::AlertSink;
use ferrule_core::watch::alertmanager;
use ferrule_core::watch::event::Severity;
use ferrule_core::watch::webhook::{Body, WebhookConfig, WebhookSink};
use ferrule_core::ManualClock;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const S: u64 = 1_000_000_000;

/// Reads one HTTP request (head + Content-Length body); returns the body.
fn read_request(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).unwrap_or(0);
        if n == 0 {
            return buf;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < i + 4 + len {
                let n = s.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return buf[i + 4..].to_vec();
        }
    }
}

#[test]
fn webhook_is_retried_after_a_500() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<Mutex<Vec<(u16, Vec<u8>)>>> = Arc::default();
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for (i, conn) in listener.incoming().enumerate() {
            let Ok(mut c) = conn else { continue };
            let body = read_request(&mut c);
            let status = if i == 0 { 500 } else { 200 };
            seen2.lock().unwrap().push((status, body));
            let reason = if status == 200 {
                "OK"
            } else {
                "Internal Server Error"
            };
            let _ = c.write_all(
                format!(
                    "HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                .as_bytes(),
            );
        }
    });
    let mut cfg = WebhookConfig::new(format!("http://127.0.0.1:{port}/hook"));
    cfg.backoff_initial = Duration::from_millis(50);
    let hook = Arc::new(WebhookSink::new("hook", cfg, Body::Json).unwrap());
    let clock = ManualClock::new();
    let router = AlertRouter::new(
        RouterConfig::default(),
        vec![hook.clone() as Arc<dyn AlertSink>],
        clock.clone(),
    )
    .unwrap();
    router.push_at(
        Alert::new(
            "ProviderDown",
            Severity::Critical,
            [("model".to_string(), "gpt".to_string())],
            "5xx",
        ),
        S,
    );
    let t0 = Instant::now();
    assert_eq!(router.tick_at(31 * S).len(), 1);
    assert!(
        t0.elapsed() < Duration::from_millis(50),
        "delivery never blocks the router"
    );
    assert!(hook.flush(Duration::from_secs(10)), "{:?}", hook.stats());
    let st = hook.stats();
    assert_eq!(
        (st.enqueued, st.delivered, st.retries, st.failed, st.dropped),
        (1, 1, 1, 0, 0)
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].0, 500);
    assert_eq!(seen[1].0, 200);
    assert_eq!(seen[0].1, seen[1].1, "the same notification, retried");
    let j: serde_json::Value = serde_json::from_slice(&seen[1].1).unwrap();
    assert_eq!(j["name"], "ProviderDown");
    assert_eq!(j["severity"], "critical");
    assert_eq!(j["status"], "firing");
    assert_eq!(j["labels"]["model"], "gpt");
    assert_eq!(j["count"], 1);
}

#[test]
fn webhook_gives_up_and_counts_when_nobody_listens() {
    // A port nobody listens on: connection refused on every attempt.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = WebhookConfig::new(format!("http://127.0.0.1:{port}/"));
    cfg.backoff_initial = Duration::from_millis(5);
    cfg.max_attempts = 3;
    let hook = WebhookSink::new("dead", cfg.clone(), Body::Json).unwrap();
    let n = ferrule_core::watch::notification::Notification {
        sink: "dead".into(),
        route: "r".into(),
        group_key: "g".into(),
        kind: ferrule_core::watch::notification::Kind::Group,
        name: "X".into(),
        severity: Severity::Info,
        labels: vec![],
        status: ferrule_core::watch::alert::Status::Firing,
        summary: "x".into(),
        starts_at: S,
        count: 1,
        at: S,
        alerts: vec![],
    };
    hook.deliver(&n);
    assert!(hook.flush(Duration::from_secs(10)));
    let st = hook.stats();
    assert_eq!((st.delivered, st.retries, st.failed), (0, 2, 1));
    assert_eq!(cfg.retry_delay(2), Duration::from_millis(5));
    assert_eq!(cfg.retry_delay(4), Duration::from_millis(20));
    assert!(WebhookSink::new("x", WebhookConfig::new("ftp://example.com"), Body::Json).is_err());
}

fn alertmanager_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("FERRULE_ALERTMANAGER") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in
        std::env::split_paths(&path).chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
    {
        for name in ["prometheus-alertmanager", "alertmanager"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

struct Am {
    child: Child,
    port: u16,
    _dir: PathBuf,
}

impl Drop for Am {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split_whitespace().nth(1)?.parse().ok()?;
    let body = out
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    // Go answers chunked: keep only the JSON part.
    let body = match (body.find(['[', '{']), body.rfind([']', '}'])) {
        (Some(a), Some(b)) if b >= a => body[a..=b].to_string(),
        _ => body,
    };
    Some((status, body))
}

fn start_alertmanager() -> Option<Am> {
    let Some(bin) = alertmanager_binary() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "prometheus-alertmanager is not installed: `make tools-apt` installs it"
        );
        eprintln!("SKIP: prometheus-alertmanager not installed (make tools-apt)");
        return None;
    };
    let dir = std::env::temp_dir().join(format!(
        "ferrule-am-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let cfg = dir.join("alertmanager.yml");
    std::fs::write(
        &cfg,
        "route:\n  receiver: blackhole\n  group_wait: 1s\nreceivers:\n  - name: blackhole\n",
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&bin)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let am = Am {
        child,
        port,
        _dir: dir,
    };
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        if let Some((200, _)) = http_get(port, "/-/ready") {
            return Some(am);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("alertmanager did not become ready on port {port}");
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
}

fn active_alerts(port: u16) -> Vec<serde_json::Value> {
    let (status, body) = http_get(port, "/api/v2/alerts").expect("GET /api/v2/alerts");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Vec<serde_json::Value>>(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn real_alertmanager_receives_and_resolves_an_alert() {
    let Some(am) = start_alertmanager() else {
        return;
    };
    let sink =
        Arc::new(alertmanager::sink("am", &format!("http://127.0.0.1:{}", am.port)).unwrap());
    let clock = ManualClock::new();
    let router = AlertRouter::new(
        RouterConfig::default(),
        vec![sink.clone() as Arc<dyn AlertSink>],
        clock.clone(),
    )
    .unwrap();
    let a = Alert::new(
        "FerruleProviderDown",
        Severity::Page,
        [("model".to_string(), "gpt-test".to_string())],
        "every call to gpt-test failed for 5 minutes",
    );
    let fp = a.fingerprint.clone();
    router.push_at(a, S);
    assert_eq!(router.tick_at(31 * S).len(), 1);
    assert!(sink.flush(Duration::from_secs(10)), "{:?}", sink.stats());
    assert_eq!(sink.stats().delivered, 1, "{:?}", sink.stats());
    let alerts = active_alerts(am.port);
    let ours: Vec<_> = alerts
        .iter()
        .filter(|a| a["labels"]["alertname"] == "FerruleProviderDown")
        .collect();
    assert_eq!(ours.len(), 1, "{alerts:?}");
    assert_eq!(ours[0]["labels"]["severity"], "page");
    assert_eq!(ours[0]["labels"]["model"], "gpt-test");
    assert_eq!(
        ours[0]["annotations"]["summary"],
        "every call to gpt-test failed for 5 minutes"
    );
    assert_eq!(ours[0]["status"]["state"], "active");
    // Resolve: the router sends endsAt, Alertmanager stops listing the alert as active.
    assert!(router.resolve_at(&fp, 100 * S));
    let n = router.tick_at(331 * S);
    assert_eq!(n.len(), 1);
    assert!(sink.flush(Duration::from_secs(10)));
    assert_eq!(sink.stats().delivered, 2);
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let still: Vec<_> = active_alerts(am.port)
            .into_iter()
            .filter(|a| a["labels"]["alertname"] == "FerruleProviderDown")
            .collect();
        if still.is_empty() {
            break;
        }
        assert!(
            Instant::now() < end,
            "still listed after resolve: {still:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn background_runtime_ticks_a_system_clock_router() {
    use ferrule_core::watch::alert_sink::CallbackSink;
    use ferrule_core::watch::dead_mans_switch::DeadMansSwitch;
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let cb: Arc<dyn AlertSink> = Arc::new(CallbackSink::new(
        "cb",
        move |n: &ferrule_core::watch::notification::Notification| {
            g.lock().unwrap().push((n.name.clone(), n.status.as_str()));
        },
    ));
    let mut cfg = RouterConfig::default();
    cfg.group_wait_nanos = 0;
    cfg.group_interval_nanos = S / 10;
    let router = AlertRouter::new(cfg, vec![cb], ferrule_core::ClockRef::System).unwrap();
    let d = DeadMansSwitch::new(
        "bg",
        S / 5,
        Severity::Critical,
        ferrule_core::ClockRef::System,
    )
    .unwrap();
    // The switch fires on the runtime thread; its event goes to the router by hand here (the
    // installed-router path is tested in the host tests).
    let end = Instant::now() + Duration::from_secs(10);
    while !d.is_firing() {
        assert!(Instant::now() < end, "the runtime never ticked the switch");
        std::thread::sleep(Duration::from_millis(20));
    }
    router.push(Alert::new(
        "Bg",
        Severity::Warning,
        Vec::new(),
        "from a test",
    ));
    while got.lock().unwrap().is_empty() {
        assert!(Instant::now() < end, "the runtime never ticked the router");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(got.lock().unwrap()[0], ("Bg".to_string(), "firing"));
    assert!(d.beat().is_some(), "a beat resolves it");
    let (ticks, alive, panics) = ferrule_core::watch::runtime::stats();
    assert!(ticks > 0 && alive >= 2 && panics == 0);
}
