//! Synthetic traffic: a policy's synthetic twin and a probe's LLM calls are exported as
//! `ferrule_synthetic_calls_total`, never in the user's `ferrule_calls_total` or GenAI series; a
//! watcher's `gauges::rows` are what a scrape shows; a removed alert sink stops receiving.

use ferrule_core::telemetry::builtin::LlmCall;
use ferrule_core::telemetry::collector::Collect;
use ferrule_core::watch::alert::Alert;
use ferrule_core::watch::alert_router::{AlertRouter, RouterConfig};
use ferrule_core::watch::alert_sink::{AlertSink, CallbackSink};
use ferrule_core::watch::dead_mans_switch::DeadMansSwitch;
use ferrule_core::watch::event::Severity;
use ferrule_core::watch::{gauges, synthetic_traffic};
use ferrule_core::{ManualClock, Pipeline, PipelineConfig};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const S: u64 = 1_000_000_000;

fn config(name: &str) -> PipelineConfig {
    PipelineConfig {
        name: name.into(),
        ..PipelineConfig::default()
    }
}

fn row(rows: &[gauges::Row], family: &str, want: &[(&str, &str)]) -> Option<f64> {
    rows.iter().find_map(|(n, labels, v)| {
        (n == family
            && want
                .iter()
                .all(|(k, x)| labels.iter().any(|(a, b)| a == k && b == x)))
        .then_some(*v)
    })
}

#[test]
fn a_synthetic_twin_counts_apart_from_the_user_policy() {
    ferrule_core::telemetry::builtin::families(); // what every binding has declared by then
    let clock = ManualClock::new();
    let user = Arc::new(Pipeline::new(config("twin-test"), None, clock.clone()).unwrap());
    let twin = Arc::new(
        Pipeline::new(config("twin-test"), None, clock.clone())
            .unwrap()
            .into_synthetic(),
    );
    assert!(twin.is_synthetic() && !user.is_synthetic());
    gauges::export(&twin);
    ferrule_core::telemetry::collector::export(&user);
    for _ in 0..3 {
        let _ = user.begin();
        user.success(None);
    }
    let _ = twin.begin();
    twin.success(None);
    let u = gauges::rows(&*user);
    assert!(
        u.is_empty(),
        "a user pipeline is not a watcher family: {u:?}"
    );
    let t = gauges::rows(&*twin);
    assert_eq!(
        row(
            &t,
            "ferrule_synthetic_calls_total",
            &[
                ("component", "policy"),
                ("name", "twin-test"),
                ("outcome", "success")
            ]
        ),
        Some(1.0)
    );
    let text = ferrule_core::telemetry::exposition::render(
        ferrule_core::telemetry::registry::global(),
        ferrule_core::telemetry::exposition::Format::Prometheus,
    );
    assert!(
        text.contains(
            r#"ferrule_calls_total{component="policy",name="twin-test",outcome="success"} 3"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"ferrule_synthetic_calls_total{component="policy",name="twin-test",outcome="success"} 1"#),
        "{text}"
    );
}

#[test]
fn a_synthetic_llm_call_stays_out_of_the_genai_series() {
    let model = "synthetic-traffic-model";
    let call = LlmCall {
        operation: "chat",
        provider: "openai",
        model,
        duration: Duration::from_millis(120),
        input_tokens: Some(10),
        output_tokens: Some(5),
        ..LlmCall::default()
    };
    synthetic_traffic::llm_call(&call);
    synthetic_traffic::llm_call(&LlmCall {
        error_type: Some("APIError"),
        ..call.clone()
    });
    let text = ferrule_core::telemetry::exposition::render(
        ferrule_core::telemetry::registry::global(),
        ferrule_core::telemetry::exposition::Format::Prometheus,
    );
    assert!(
        !text.lines().any(
            |l| l.starts_with("gen_ai_client_operation_duration_seconds") && l.contains(model)
        ),
        "{text}"
    );
    for outcome in ["success", "failure"] {
        let series = format!(
            r#"ferrule_synthetic_calls_total{{component="llm",name="{model}",outcome="{outcome}"}} 1"#
        );
        assert!(text.contains(&series), "{series} missing from {text}");
    }
}

#[test]
fn gauge_rows_name_their_labels_like_the_scrape() {
    let clock = ManualClock::new();
    let d = DeadMansSwitch::new("rows-switch", 60 * S, Severity::Critical, clock.clone()).unwrap();
    let rows = gauges::rows(&*d as &dyn Collect);
    assert_eq!(
        row(
            &rows,
            "ferrule_deadman_firing",
            &[("switch", "rows-switch")]
        ),
        Some(0.0)
    );
    assert!(row(
        &rows,
        "ferrule_deadman_silent_seconds",
        &[("switch", "rows-switch")]
    )
    .is_some());
}

#[test]
fn a_removed_sink_gets_nothing_and_the_others_keep_their_place() {
    let clock = ManualClock::new();
    let counts: Vec<Arc<AtomicUsize>> = (0..3).map(|_| Arc::default()).collect();
    let sink = |i: usize| -> Arc<dyn AlertSink> {
        let c = counts[i].clone();
        Arc::new(CallbackSink::new(format!("s{i}"), move |_| {
            c.fetch_add(1, Ordering::Relaxed);
        }))
    };
    let cfg = RouterConfig {
        group_wait_nanos: 0,
        ..RouterConfig::default()
    };
    let r = AlertRouter::new(cfg, vec![sink(0), sink(1)], clock.clone()).unwrap();
    r.add_sink(sink(2));
    assert!(r.remove_sink("s1"));
    assert!(!r.remove_sink("s1"), "already gone");
    assert!(!r.remove_sink("nobody"));
    r.push_at(
        Alert::new(
            "Down",
            Severity::Critical,
            Vec::<(String, String)>::new(),
            "x",
        ),
        S,
    );
    r.tick_at(2 * S);
    let got: Vec<usize> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    assert_eq!(got, vec![1, 0, 1]);
}
