//! The metrics registry: exact concurrent counts, the series cap, both exposition formats, naming
//! rules, the scrape endpoint, the circuit breaker's metrics, and the prompt profile.

use ferrule_core::telemetry::exposition::{render, Format};
use ferrule_core::telemetry::price::PriceTable;
use ferrule_core::telemetry::profile::{template_key, Sample};
use ferrule_core::*;
use proptest::prelude::*;
use std::io::{Read, Write};
use std::sync::{Arc, Barrier};
use std::time::Duration;

/// The value of the sample line `series` (name and labels exactly as exported).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?.strip_prefix(' ')?;
        rest.split(' ').next()?.parse().ok()
    })
}

#[test]
fn eight_threads_times_a_million_increments_lose_none() {
    let r = Registry::new();
    let c = r
        .counter("t_requests_total", "requests", &["model"])
        .unwrap();
    let h = c.labels(&["gpt-4o"]).unwrap();
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (h, start) = (h.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                for _ in 0..1_000_000 {
                    h.inc();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(h.cell().whole(), 8_000_000);
    let text = render(&r, Format::Prometheus);
    assert_eq!(
        value(&text, "t_requests_total{model=\"gpt-4o\"}"),
        Some(8e6)
    );
}

#[test]
fn eight_threads_observing_a_histogram_lose_none() {
    let r = Registry::new();
    let hist = r
        .histogram("t_latency_seconds", "latency", &[], &[1.0, 10.0, 100.0])
        .unwrap();
    let h = hist.handle().unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let h = h.clone();
            std::thread::spawn(move || {
                for i in 0..100_000u64 {
                    h.observe(((i + t) % 200) as f64);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = h.snapshot();
    assert_eq!(s.count, 800_000);
    // Every value 0..200 appears 4000 times; <=1: {0,1}, <=10: 0..=10, <=100: 0..=100.
    assert_eq!(s.cumulative, vec![2 * 4000, 11 * 4000, 101 * 4000, 800_000]);
    assert_eq!(s.sum, (0..200u64).sum::<u64>() as f64 * 4000.0);
}

#[test]
fn the_series_cap_folds_new_label_sets_into_other_and_counts_them() {
    let r = Registry::new();
    let c = r
        .counter_with("t_calls_total", "calls", &["model", "route"], Some(3))
        .unwrap();
    for i in 0..5 {
        c.labels(&[&format!("m{i}"), "a"]).unwrap().inc();
    }
    // A known label set still resolves to its own series after the cap.
    c.labels(&["m0", "a"]).unwrap().add(10);
    c.labels(&["m4", "a"]).unwrap().inc();
    assert_eq!(c.series().len(), 4, "three series and other");
    assert_eq!(c.series().overflowed(), 3, "m3, m4, m4 again");
    let text = render(&r, Format::Prometheus);
    assert_eq!(
        value(&text, "t_calls_total{model=\"m0\",route=\"a\"}"),
        Some(11.0)
    );
    assert_eq!(
        value(&text, "t_calls_total{model=\"other\",route=\"other\"}"),
        Some(3.0)
    );
    assert_eq!(
        value(&text, "t_calls_total{model=\"m3\",route=\"a\"}"),
        None
    );
    assert_eq!(
        value(
            &text,
            "ferrule_metric_series_overflow_total{metric=\"t_calls\"}"
        ),
        Some(3.0)
    );
}

#[test]
fn the_registry_default_cap_applies_to_families_declared_after_it() {
    let r = Registry::new();
    r.set_default_max_series(2).unwrap();
    let g = r.gauge("t_g", "g", &["k"]).unwrap();
    for k in ["a", "b", "c"] {
        g.labels(&[k]).unwrap().set(1.0);
    }
    assert_eq!(g.series().overflowed(), 1);
    let e = r.set_default_max_series(0).unwrap_err();
    assert!(e.to_string().contains("max_series=0"), "{e}");
}

#[test]
fn prometheus_text_is_exact() {
    let r = Registry::new();
    let c = r
        .counter("app_calls_total", "Calls made.", &["model"])
        .unwrap();
    c.labels(&["gpt-4o"]).unwrap().add(3);
    c.labels(&["a\"b\\c\nd"]).unwrap().add_f64(0.5).unwrap();
    let g = r.gauge("app_queue", "Queue\ndepth.", &[]).unwrap();
    g.handle().unwrap().set(-2.5);
    let h = r
        .histogram("app_latency_seconds", "Latency.", &["model"], &[0.1, 1.0])
        .unwrap();
    let hh = h.labels(&["gpt-4o"]).unwrap();
    hh.observe(0.05);
    hh.observe_with_exemplar(0.5, &[("trace_id", "abc123")]);
    hh.observe(7.0);
    let want = "\
# HELP app_calls_total Calls made.
# TYPE app_calls_total counter
app_calls_total{model=\"gpt-4o\"} 3
app_calls_total{model=\"a\\\"b\\\\c\\nd\"} 0.5
# HELP app_queue Queue\\ndepth.
# TYPE app_queue gauge
app_queue -2.5
# HELP app_latency_seconds Latency.
# TYPE app_latency_seconds histogram
app_latency_seconds_bucket{model=\"gpt-4o\",le=\"0.1\"} 1
app_latency_seconds_bucket{model=\"gpt-4o\",le=\"1.0\"} 2
app_latency_seconds_bucket{model=\"gpt-4o\",le=\"+Inf\"} 3
app_latency_seconds_count{model=\"gpt-4o\"} 3
app_latency_seconds_sum{model=\"gpt-4o\"} 7.55
# HELP ferrule_metric_series_overflow_total Label sets folded into the \"other\" series because a metric reached its series cap.
# TYPE ferrule_metric_series_overflow_total counter
";
    assert_eq!(render(&r, Format::Prometheus), want);
}

#[test]
fn openmetrics_names_counter_families_without_total_carries_exemplars_and_ends_with_eof() {
    let r = Registry::new();
    r.counter("app_calls_total", "Calls.", &[])
        .unwrap()
        .handle()
        .unwrap()
        .inc();
    let h = r
        .histogram("app_latency_seconds", "Latency.", &[], &[0.1, 1.0])
        .unwrap()
        .handle()
        .unwrap();
    h.observe_with_exemplar(0.5, &[("trace_id", "4bf92f3577b34da6")]);
    let text = render(&r, Format::OpenMetrics);
    assert!(
        text.contains("# TYPE app_calls counter\napp_calls_total 1\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "app_latency_seconds_bucket{le=\"1.0\"} 1 # {trace_id=\"4bf92f3577b34da6\"} 0.5\n"
        ),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    // The Prometheus format carries no exemplars.
    assert!(!render(&r, Format::Prometheus).contains("# {"));
}

#[test]
fn exemplars_longer_than_openmetrics_allows_are_dropped_and_counted() {
    let r = Registry::new();
    let h = r
        .histogram("t_ex_seconds", "x", &[], &[1.0])
        .unwrap()
        .handle()
        .unwrap();
    let before = value(
        &metrics_text(MetricsFormat::Prometheus),
        "ferrule_telemetry_dropped_total{kind=\"exemplar_too_long\"}",
    )
    .unwrap_or(0.0);
    let long = "x".repeat(200);
    h.observe_with_exemplar(0.5, &[("trace_id", &long)]);
    assert_eq!(h.snapshot().count, 1, "the observation itself is kept");
    assert!(h.snapshot().exemplars.iter().all(Option::is_none));
    let after = value(
        &metrics_text(MetricsFormat::Prometheus),
        "ferrule_telemetry_dropped_total{kind=\"exemplar_too_long\"}",
    )
    .unwrap();
    assert!(after >= before + 1.0);
}

#[test]
fn bad_declarations_fail_naming_the_parameter_and_the_value() {
    let r = Registry::new();
    let msg = |e: Error| e.to_string();
    assert!(msg(r.counter("1bad", "h", &[]).err().unwrap()).contains("name=\"1bad\""));
    assert!(msg(r.counter("ok_total", " ", &[]).err().unwrap()).contains("help=\" \" conflicts"));
    assert!(msg(r.counter("ok_total", "h", &["le"]).err().unwrap()).contains("labels=\"le\""));
    let e = msg(r.counter("ok_total", "h", &["trace_id"]).err().unwrap());
    assert!(
        e.contains("labels=\"trace_id\"") && e.contains("exemplar"),
        "{e}"
    );
    assert!(msg(r.gauge("ok", "h", &["a", "a"]).err().unwrap()).contains("unique"));
    let e = msg(r
        .histogram("h_seconds", "h", &[], &[1.0, 0.5])
        .err()
        .unwrap());
    assert!(e.contains("buckets=[1.0, 0.5]"), "{e}");
    assert!(r
        .histogram("h_seconds", "h", &[], &[1.0, f64::INFINITY])
        .is_err());
    assert!(r.counter_with("c_total", "h", &[], Some(0)).is_err());
    let c = r.counter("c_total", "h", &["a"]).unwrap();
    c.labels(&["x"]).unwrap().inc();
    // Declaring the same thing again returns the same series (a re-run notebook cell)...
    let again = r.counter("c_total", "h", &["a"]).unwrap();
    assert_eq!(again.labels(&["x"]).unwrap().get(), 1.0);
    // ...declaring something different under the name is refused.
    let e = msg(r.gauge("c", "h", &["a"]).err().unwrap());
    assert!(e.contains("already registered as a counter"), "{e}");
    assert!(msg(r.counter("c_total", "h", &["b"]).err().unwrap())
        .contains("already registered as a counter with labels (a)"));
    // Wrong number of label values.
    assert!(msg(c.labels(&[]).err().unwrap()).contains("exactly 1 values, for (a)"));
    assert!(c.labels(&["x"]).unwrap().add_f64(-1.0).is_err());
    assert!(c.labels(&["x"]).unwrap().add_f64(f64::NAN).is_err());
}

#[test]
fn nan_observations_are_refused_and_counted() {
    let r = Registry::new();
    let h = r
        .histogram("t_nan", "x", &[], &[1.0])
        .unwrap()
        .handle()
        .unwrap();
    h.observe(f64::NAN);
    h.observe(2.0);
    let s = h.snapshot();
    assert_eq!((s.count, s.sum), (1, 2.0));
    assert!(
        value(
            &metrics_text(MetricsFormat::Prometheus),
            "ferrule_telemetry_dropped_total{kind=\"nan_observation\"}"
        )
        .unwrap()
            >= 1.0
    );
}

fn breaker_cfg(name: &str) -> BreakerConfig {
    BreakerConfig {
        name: name.into(),
        failure_rate: None,
        consecutive_failures: Some(2),
        window: WindowSpec::Count(10),
        min_calls: 1,
        open_seconds: 10.0,
        half_open_calls: 1,
        ..BreakerConfig::default()
    }
}

#[test]
fn the_breaker_reports_state_transitions_calls_and_rejections() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::with_clock(breaker_cfg("wired"), clock.clone()).unwrap();
    let m = |s: &str| value(&metrics_text(MetricsFormat::Prometheus), s);
    assert_eq!(
        m("ferrule_breaker_state{name=\"wired\",state=\"closed\"}"),
        Some(1.0)
    );
    assert_eq!(
        m("ferrule_breaker_state{name=\"wired\",state=\"open\"}"),
        Some(0.0)
    );
    for o in [
        Outcome::Success,
        Outcome::Success,
        Outcome::Success,
        Outcome::Failure,
        Outcome::Failure,
    ] {
        let (p, _) = b.acquire().unwrap();
        b.record(p, o);
    }
    assert_eq!(b.state(), State::Open);
    for _ in 0..4 {
        assert!(b.acquire().is_err());
    }
    let text = metrics_text(MetricsFormat::Prometheus);
    let m = |s: &str| value(&text, s);
    assert_eq!(
        m("ferrule_breaker_state{name=\"wired\",state=\"open\"}"),
        Some(1.0)
    );
    assert_eq!(
        m("ferrule_breaker_state{name=\"wired\",state=\"closed\"}"),
        Some(0.0)
    );
    assert_eq!(
        m("ferrule_breaker_transitions_total{name=\"wired\",from=\"closed\",to=\"open\"}"),
        Some(1.0)
    );
    assert_eq!(
        m("ferrule_calls_total{component=\"breaker\",name=\"wired\",outcome=\"success\"}"),
        Some(3.0)
    );
    assert_eq!(
        m("ferrule_calls_total{component=\"breaker\",name=\"wired\",outcome=\"failure\"}"),
        Some(2.0)
    );
    assert_eq!(m("ferrule_rejections_total{component=\"breaker\",name=\"wired\",reason=\"breaker_open\"}"), Some(4.0));

    clock.advance(Duration::from_secs(10));
    let (p, t) = b.acquire().unwrap();
    assert_eq!(t.unwrap().to, State::HalfOpen);
    b.record(p, Outcome::Success);
    let text = metrics_text(MetricsFormat::Prometheus);
    let m = |s: &str| value(&text, s);
    assert_eq!(
        m("ferrule_breaker_transitions_total{name=\"wired\",from=\"open\",to=\"half_open\"}"),
        Some(1.0)
    );
    assert_eq!(
        m("ferrule_breaker_transitions_total{name=\"wired\",from=\"half_open\",to=\"closed\"}"),
        Some(1.0)
    );
    assert_eq!(
        m("ferrule_breaker_state{name=\"wired\",state=\"closed\"}"),
        Some(1.0)
    );
    assert_eq!(
        m("ferrule_calls_total{component=\"breaker\",name=\"wired\",outcome=\"success\"}"),
        Some(4.0)
    );

    // Once the breaker is gone its scrape-time series go too.
    drop(b);
    let text = metrics_text(MetricsFormat::Prometheus);
    assert_eq!(
        value(
            &text,
            "ferrule_calls_total{component=\"breaker\",name=\"wired\",outcome=\"success\"}"
        ),
        None
    );
}

#[test]
fn two_breakers_with_one_name_export_one_summed_series() {
    let a = CircuitBreaker::new(breaker_cfg("twin")).unwrap();
    let b = CircuitBreaker::new(breaker_cfg("twin")).unwrap();
    for br in [&a, &b] {
        let (p, _) = br.acquire().unwrap();
        br.record(p, Outcome::Success);
    }
    let text = metrics_text(MetricsFormat::Prometheus);
    let line = "ferrule_calls_total{component=\"breaker\",name=\"twin\",outcome=\"success\"}";
    assert_eq!(text.matches(&format!("{line} ")).count(), 1);
    assert_eq!(value(&text, line), Some(2.0));
}

#[test]
fn builtin_api_reaches_its_series() {
    use ferrule_core::telemetry::builtin;
    builtin::retry("bi");
    builtin::retry("bi");
    builtin::retry_budget_denied("bi");
    builtin::rejection("rate_limit", "bi", "rate_limited");
    builtin::rate_limit_wait("bi", Duration::from_millis(250));
    builtin::fallback("bi", "timeout");
    builtin::validation("bi", "repaired");
    builtin::call("retry", "bi", "success");
    builtin::error("retry", "bi", "TimeoutError");
    let text = metrics_text(MetricsFormat::Prometheus);
    let m = |s: &str| value(&text, s);
    assert_eq!(m("ferrule_retries_total{name=\"bi\"}"), Some(2.0));
    assert_eq!(
        m("ferrule_retry_budget_denials_total{name=\"bi\"}"),
        Some(1.0)
    );
    assert_eq!(m("ferrule_rejections_total{component=\"rate_limit\",name=\"bi\",reason=\"rate_limited\"}"), Some(1.0));
    assert_eq!(m("ferrule_rate_limit_waits_total{name=\"bi\"}"), Some(1.0));
    assert_eq!(
        m("ferrule_rate_limit_wait_seconds_total{name=\"bi\"}"),
        Some(0.25)
    );
    assert_eq!(
        m("ferrule_fallbacks_total{name=\"bi\",reason=\"timeout\"}"),
        Some(1.0)
    );
    assert_eq!(
        m("ferrule_validations_total{name=\"bi\",outcome=\"repaired\"}"),
        Some(1.0)
    );
    assert_eq!(
        m("ferrule_calls_total{component=\"retry\",name=\"bi\",outcome=\"success\"}"),
        Some(1.0)
    );
    assert_eq!(
        m("ferrule_errors_total{component=\"retry\",name=\"bi\",error_type=\"TimeoutError\"}"),
        Some(1.0)
    );
}

#[test]
fn an_llm_call_feeds_genai_histograms_cost_and_the_profile() {
    use ferrule_core::telemetry::{builtin, profile};
    let cost = builtin::llm_call(&builtin::LlmCall {
        operation: "chat",
        provider: "openai",
        model: "gpt-4o-mini-2024-07-18",
        duration: Duration::from_millis(300),
        input_tokens: Some(1000),
        output_tokens: Some(500),
        template: Some("llm-test-summary"),
        trace_id: Some("trace-1"),
        ..Default::default()
    });
    // gpt-4o-mini: $0.15 / 1M input, $0.60 / 1M output (the longer prefix wins over gpt-4o).
    assert!(
        (cost - (1000.0 * 0.15 + 500.0 * 0.60) / 1e6).abs() < 1e-12,
        "{cost}"
    );
    let text = metrics_text(MetricsFormat::OpenMetrics);
    let l = "gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"openai\",gen_ai_request_model=\"gpt-4o-mini-2024-07-18\"";
    assert!(text.contains(&format!(
        "gen_ai_client_operation_duration_seconds_bucket{{{l},error_type=\"\",le=\"0.32\"}} 1 # {{trace_id=\"trace-1\"}} 0.3\n"
    )), "{text}");
    assert_eq!(
        value(
            &text,
            &format!(
                "gen_ai_client_token_usage_bucket{{{l},gen_ai_token_type=\"input\",le=\"1024.0\"}}"
            )
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            &format!("gen_ai_client_token_usage_sum{{{l},gen_ai_token_type=\"output\"}}")
        ),
        Some(500.0)
    );
    assert!(value(&text, "ferrule_cost_usd_total{gen_ai_provider_name=\"openai\",gen_ai_request_model=\"gpt-4o-mini-2024-07-18\"}").unwrap() > 0.0);
    let row = profile::global()
        .rows(SortBy::Cost)
        .into_iter()
        .find(|r| r.template == "llm-test-summary")
        .unwrap();
    assert_eq!(
        (row.calls, row.input_tokens, row.output_tokens),
        (1, 1000, 500)
    );
}

#[test]
fn the_profile_ranks_templates_by_cost_latency_and_tokens() {
    let p = Profiler::new(3);
    let rec = |t: &str, ms: u64, tin: u64, tout: u64, err: bool, cost: f64| {
        p.record(&Sample {
            template: t,
            input_tokens: tin,
            output_tokens: tout,
            latency_nanos: ms * 1_000_000,
            error: err,
            cost_usd: cost,
        })
    };
    for i in 1..=100u64 {
        rec("slow", 1000 + i * 10, 10, 10, false, 0.001);
    }
    for i in 0..10u64 {
        rec("costly", 50, 5000, 2000, i < 5, 0.5);
    }
    rec("chatty", 10, 100_000, 100_000, false, 0.01);
    rec("overflow-a", 1, 1, 1, false, 0.0);
    rec("overflow-b", 1, 1, 1, false, 0.0);
    assert_eq!(p.top(1, SortBy::Cost)[0].template, "costly");
    assert_eq!(p.top(1, SortBy::Latency)[0].template, "slow");
    assert_eq!(p.top(1, SortBy::Tokens)[0].template, "chatty");
    assert_eq!(p.top(1, SortBy::Calls)[0].template, "slow");
    let rows = p.rows(SortBy::Cost);
    assert_eq!(rows.len(), 4, "three templates and (other)");
    let other = rows.iter().find(|r| r.template == "(other)").unwrap();
    assert_eq!(other.calls, 2);
    let costly = rows.iter().find(|r| r.template == "costly").unwrap();
    assert_eq!((costly.errors, costly.error_rate), (5, 0.5));
    assert!((costly.cost_usd - 5.0).abs() < 1e-9);
    let slow = rows.iter().find(|r| r.template == "slow").unwrap();
    for (got, want) in [
        (slow.p50_seconds, 1.5),
        (slow.p95_seconds, 1.95),
        (slow.p99_seconds, 1.99),
    ] {
        assert!((got - want).abs() / want <= 0.0625, "got {got} want {want}");
    }
    let chatty = rows.iter().find(|r| r.template == "chatty").unwrap();
    assert_eq!(chatty.p99_seconds, 0.01, "one sample reads back exactly");
    assert!(SortBy::parse("price")
        .unwrap_err()
        .to_string()
        .contains("by=\"price\""));
}

#[test]
fn template_keys_are_names_or_stable_hashes_and_prices_match_the_longest_prefix() {
    assert_eq!(template_key(Some("summary"), Some("ignored")), "summary");
    let k = template_key(None, Some("Summarise {text}"));
    assert_eq!(k, template_key(None, Some("Summarise {text}")));
    assert_ne!(k, template_key(None, Some("Summarise {text}!")));
    assert!(k.starts_with("tmpl:") && k.len() == 17, "{k}");
    let t = PriceTable::with_defaults();
    assert_eq!(
        t.lookup("gpt-4o-2024-08-06").unwrap().input_per_million,
        2.5
    );
    assert_eq!(t.lookup("gpt-4o-mini").unwrap().input_per_million, 0.15);
    assert!(t.lookup("my-local-llama").is_none());
    t.set("my-local-llama", 0.0, 0.1).unwrap();
    assert_eq!(t.cost("my-local-llama-8b", 10, 1_000_000), Some(0.1));
    t.set("gpt-4o", 5.0, 20.0).unwrap();
    assert_eq!(t.cost("gpt-4o", 1_000_000, 0), Some(5.0));
    assert!(t
        .set("x", -1.0, 0.0)
        .unwrap_err()
        .to_string()
        .contains("input_per_million=-1"));
}

fn http_get(port: u16, path: &str, accept: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn the_endpoint_serves_both_formats_on_loopback_and_stops() {
    let r: &'static Registry = Box::leak(Box::new(Registry::new()));
    r.counter("srv_hits_total", "hits", &[])
        .unwrap()
        .handle()
        .unwrap()
        .add(42);
    let mut srv = MetricsServer::start(r, "127.0.0.1", 0).unwrap();
    assert!(srv.port() > 0 && srv.addr().ip().is_loopback());
    let plain = http_get(srv.port(), "/metrics", "*/*");
    assert!(plain.starts_with("HTTP/1.1 200 OK\r\n"), "{plain}");
    assert!(plain.contains("Content-Type: text/plain; version=0.0.4"));
    assert!(plain.contains("\nsrv_hits_total 42\n"));
    let om = http_get(
        srv.port(),
        "/metrics",
        "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
    );
    assert!(
        om.contains("application/openmetrics-text") && om.ends_with("# EOF\n"),
        "{om}"
    );
    assert!(http_get(srv.port(), "/nope", "*/*").starts_with("HTTP/1.1 404"));
    assert_eq!(srv.scrapes(), 3);
    // The port is taken while it runs.
    let e = MetricsServer::start(r, "127.0.0.1", srv.port()).unwrap_err();
    assert!(
        e.to_string().contains(&format!("port={}", srv.port())),
        "{e}"
    );
    let port = srv.port();
    srv.stop();
    assert!(!srv.is_running());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    srv.stop(); // idempotent
}

proptest! {
    #[test]
    fn histogram_buckets_are_cumulative_and_agree_with_a_naive_count(
        values in proptest::collection::vec(-1e3f64..1e3, 0..300),
        bounds in proptest::collection::btree_set(-1000i32..1000, 1..12),
    ) {
        let bounds: Vec<f64> = bounds.into_iter().map(|b| b as f64).collect();
        let r = Registry::new();
        let h = r.histogram("p_h", "x", &[], &bounds).unwrap().handle().unwrap();
        for &v in &values {
            h.observe(v);
        }
        let s = h.snapshot();
        prop_assert_eq!(s.count, values.len() as u64);
        prop_assert_eq!(*s.cumulative.last().unwrap(), s.count);
        for (i, b) in bounds.iter().enumerate() {
            prop_assert_eq!(s.cumulative[i], values.iter().filter(|v| **v <= *b).count() as u64);
        }
        let sum: f64 = values.iter().sum();
        prop_assert!((s.sum - sum).abs() <= 1e-6 * (1.0 + sum.abs()));
    }

    #[test]
    fn a_streams_chunk_gaps_merge_into_the_histogram_as_if_each_was_observed(
        gaps in proptest::collection::vec(0f64..4.0, 0..300),
    ) {
        use ferrule_core::call::chunk_times::{ChunkTimes, TIME_PER_CHUNK_BUCKETS};
        let r = Registry::new();
        let merged = r.histogram("p_gaps", "x", &[], &TIME_PER_CHUNK_BUCKETS).unwrap().handle().unwrap();
        let each = r.histogram("p_each", "x", &[], &TIME_PER_CHUNK_BUCKETS).unwrap().handle().unwrap();
        let mut t = ChunkTimes::default();
        let mut prev = 100.0;
        t.arrived(prev);
        for &g in &gaps {
            let now = prev + g;
            t.arrived(now);
            each.observe(now - prev); // the gap the stream computed
            prev = now;
        }
        merged.observe_counts(t.counts(), t.sum());
        let (a, b) = (merged.snapshot(), each.snapshot());
        prop_assert_eq!(a.count, gaps.len() as u64);
        prop_assert_eq!(&a.cumulative, &b.cumulative);
        prop_assert!((a.sum - b.sum).abs() <= 1e-9 * (1.0 + b.sum));
    }

    #[test]
    fn counters_sum_whole_and_fractional_adds(adds in proptest::collection::vec(0u32..1000, 0..100), frac in 0.0f64..10.0) {
        let r = Registry::new();
        let h = r.counter("p_c_total", "x", &[]).unwrap().handle().unwrap();
        for &a in &adds {
            h.add(a as u64);
        }
        h.add_f64(frac).unwrap();
        let want = adds.iter().map(|&a| a as f64).sum::<f64>() + frac;
        prop_assert!((h.get() - want).abs() < 1e-9);
    }
}
