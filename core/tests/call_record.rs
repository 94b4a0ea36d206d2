//! The call record: one `record` feeds the profile (templates by fingerprint), and the observer's
//! watchers fire on injected windows and stay quiet before them, on a manual clock.

use ferrule_core::call::observe::{ObserveConfig, Observer, OutageConfig};
use ferrule_core::call::{record, ErrorInfo, LlmCall, Message, Outcome, Recorded, Tokens};
use ferrule_core::store::dead_letter::memory::MemoryDeadLetterStore;
use ferrule_core::telemetry::profile;
use ferrule_core::watch::event::{Event, EventState, Severity};
use ferrule_core::{DeadLetterConfig, DeadLetterQueue, ManualClock};
use std::sync::Arc;
use std::time::Duration;

fn call<'a>(
    model: &'a str,
    messages: Vec<Message<'a>>,
    ms: u64,
    error: Option<ErrorInfo<'a>>,
) -> LlmCall<'a> {
    LlmCall {
        provider: "openai",
        operation: "chat",
        request_model: model,
        messages,
        tokens: Tokens {
            input: Some(20),
            output: Some(10),
            ..Default::default()
        },
        duration: Duration::from_millis(ms),
        error,
        ..Default::default()
    }
}

const BOOM: ErrorInfo<'static> = ErrorInfo {
    type_name: "InternalServerError",
    code: None,
    is_timeout: false,
};

#[test]
fn a_thousand_calls_from_three_templates_are_three_profile_rows() {
    let systems = [
        "You are the triage bot of ticket 4411 for \"ACME\".",
        "Summarise the document id 9f8e7d6c5b4a3f2e in 3 bullet points.",
        "Translate the user's text to French.",
    ];
    let model = "fingerprint-test-model";
    for i in 0..1000 {
        let which = i % 3;
        let sys = systems[which]
            .replace("4411", &format!("{}", 1000 + i))
            .replace("ACME", &format!("customer {i}"))
            .replace(
                "9f8e7d6c5b4a3f2e",
                &format!("{:016x}", 0xdead_beef_u64 + i as u64),
            );
        let user = format!("question number {i}: why?");
        let c = call(
            model,
            vec![
                Message {
                    role: "system",
                    text: &sys,
                },
                Message {
                    role: "user",
                    text: &user,
                },
            ],
            100,
            None,
        );
        record(&c);
    }
    let rows: Vec<_> = profile::global()
        .rows(ferrule_core::SortBy::Calls)
        .into_iter()
        .filter(|r| {
            r.template.starts_with("You are the triage")
                || r.template.starts_with("Summarise the document")
                || r.template.starts_with("Translate the user")
        })
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    let mut calls: Vec<u64> = rows.iter().map(|r| r.calls).collect();
    calls.sort();
    assert_eq!(calls, vec![333, 333, 334]);
}

#[test]
fn outcome_is_classified_once() {
    let mut c = call("outcome-model", vec![], 5, None);
    assert_eq!(record(&c).outcome, Outcome::Success);
    c.fell_back = true;
    assert_eq!(record(&c).outcome, Outcome::Fallback);
    c.error = Some(ErrorInfo {
        type_name: "CircuitOpenError",
        code: Some("FERRULE_CIRCUIT_OPEN"),
        is_timeout: false,
    });
    assert_eq!(record(&c).outcome, Outcome::Rejected);
}

fn recorded(c: &LlmCall<'_>, cost: f64) -> Recorded {
    Recorded {
        cost_usd: cost,
        outcome: c.outcome(),
        template: Arc::from("t"),
    }
}

fn firing(events: &[Event], name: &str) -> usize {
    events
        .iter()
        .filter(|e| e.name == name && e.state == EventState::Firing)
        .count()
}

#[test]
fn the_outage_pages_after_its_duration_and_not_before_then_resolves() {
    let clock = ManualClock::new();
    let cfg = ObserveConfig {
        slo_objective: None,
        anomaly: None,
        predictor: None,
        outage: Some(OutageConfig::default()),
        ..ObserveConfig::default()
    };
    let o = Observer::new(cfg, clock.clone()).unwrap();
    let ok = call("m", vec![], 100, None);
    let bad = call("m", vec![], 100, Some(BOOM));
    let mut events = Vec::new();
    // Healthy traffic: 10 calls a second for a minute.
    for _ in 0..600 {
        clock.advance(Duration::from_millis(100));
        events.extend(o.feed(&ok, &recorded(&ok, 0.0)));
    }
    assert!(events.is_empty(), "{events:?}");
    // The outage starts: every call fails. The 60 s window is half bad after about 30 s, then the
    // rate must hold 30 s more before the page.
    let mut paged_at = None;
    for i in 0..600 {
        clock.advance(Duration::from_millis(100));
        for e in o.feed(&bad, &recorded(&bad, 0.0)) {
            if e.name == "upstream_outage" && e.state == EventState::Firing {
                assert_eq!(e.severity, Severity::Page);
                assert_eq!(
                    e.labels,
                    vec![("provider".to_string(), "openai".to_string())]
                );
                paged_at.get_or_insert(i);
            }
        }
    }
    let at = paged_at.expect("the outage paged");
    assert!((550..600).contains(&at), "paged after {at} calls");
    // Recovery: resolves once the window's error rate is below half the threshold.
    let mut resolved = false;
    for _ in 0..600 {
        clock.advance(Duration::from_millis(100));
        resolved |= o
            .feed(&ok, &recorded(&ok, 0.0))
            .iter()
            .any(|e| e.name == "upstream_outage" && e.state == EventState::Resolved);
    }
    assert!(resolved);
}

#[test]
fn a_rejected_call_is_not_an_upstream_failure() {
    let clock = ManualClock::new();
    let o = Observer::new(
        ObserveConfig {
            outage: Some(OutageConfig {
                for_seconds: 0.0,
                ..OutageConfig::default()
            }),
            ..ObserveConfig::default()
        },
        clock.clone(),
    )
    .unwrap();
    let rejected = call(
        "m",
        vec![],
        0,
        Some(ErrorInfo {
            type_name: "CircuitOpenError",
            code: Some("FERRULE_CIRCUIT_OPEN"),
            is_timeout: false,
        }),
    );
    let mut events = Vec::new();
    for _ in 0..200 {
        clock.advance(Duration::from_millis(100));
        events.extend(o.feed(&rejected, &recorded(&rejected, 0.0)));
    }
    assert_eq!(firing(&events, "upstream_outage"), 0);
}

#[test]
fn the_slo_pages_on_a_sustained_error_burst() {
    let clock = ManualClock::new();
    let o = Observer::new(
        ObserveConfig {
            anomaly: None,
            predictor: None,
            outage: None,
            ..ObserveConfig::default()
        },
        clock.clone(),
    )
    .unwrap();
    let ok = call("slo-model", vec![], 100, None);
    let bad = call("slo-model", vec![], 100, Some(BOOM));
    let mut before = Vec::new();
    for _ in 0..3600 {
        clock.advance(Duration::from_secs(1));
        before.extend(o.feed(&ok, &recorded(&ok, 0.0)));
    }
    assert!(before.is_empty(), "{before:?}");
    let mut after = Vec::new();
    for _ in 0..600 {
        clock.advance(Duration::from_secs(1));
        after.extend(o.feed(&bad, &recorded(&bad, 0.0)));
    }
    assert!(
        after
            .iter()
            .any(|e| e.state == EventState::Firing && e.source.contains("slo-model")),
        "{after:?}"
    );
}

#[test]
fn the_latency_anomaly_fires_on_a_slowdown_and_not_before() {
    let clock = ManualClock::new();
    let o = Observer::new(
        ObserveConfig {
            slo_objective: None,
            predictor: None,
            outage: None,
            ..ObserveConfig::default()
        },
        clock.clone(),
    )
    .unwrap();
    let mut before = Vec::new();
    for i in 0..500u64 {
        clock.advance(Duration::from_secs(1));
        let c = call("anomaly-model", vec![], 100 + (i % 7) * 3, None);
        before.extend(o.feed(&c, &recorded(&c, 0.0)));
    }
    assert_eq!(firing(&before, "anomaly.ewma"), 0, "{before:?}");
    let mut after = Vec::new();
    for _ in 0..120 {
        clock.advance(Duration::from_secs(1));
        let c = call("anomaly-model", vec![], 900, None);
        after.extend(o.feed(&c, &recorded(&c, 0.0)));
    }
    assert!(
        after.iter().any(|e| e.state == EventState::Firing
            && e.labels.iter().any(|(_, v)| v == "latency_seconds")),
        "{after:?}"
    );
}

#[test]
fn a_dead_letter_backlog_fires_and_resolves() {
    let clock = ManualClock::new();
    let o = Observer::new(
        ObserveConfig {
            dead_letter: Some(ferrule_core::call::DeadLetterAlert {
                max_depth: 3,
                ..Default::default()
            }),
            ..ObserveConfig::default()
        },
        clock.clone(),
    )
    .unwrap();
    let q = Arc::new(
        DeadLetterQueue::new(
            Arc::new(MemoryDeadLetterStore::new()),
            DeadLetterConfig {
                name: "orders".into(),
                ..DeadLetterConfig::default()
            },
        )
        .unwrap(),
    );
    o.watch_dead_letters("orders", &q);
    for i in 0..3 {
        q.push(&format!("k{i}"), "{}", vec!["boom".into()], 3, None, None)
            .unwrap();
    }
    assert!(o.check().is_empty());
    q.push("k3", "{}", vec!["boom".into()], 3, None, None)
        .unwrap();
    let fired = o.check();
    assert_eq!(firing(&fired, "dead_letter_backlog"), 1, "{fired:?}");
    assert!(o.check().is_empty(), "fires once");
}

const QUESTIONS: [&str; 4] = [
    "what is my balance on the {} account",
    "how do I change the billing date for plan {}",
    "can I get an invoice for order {} please",
    "why was card {} declined yesterday",
];
const OFF_TOPIC: &str =
    "Write a long poem about volcanoes, dragons and the stormy sea, verse {} with rhymes";

/// The mock's echo of question `i`; the number cycles through two-digit values so that one
/// template's answers keep one distribution of lengths and words.
fn answer(question: &str, i: usize) -> String {
    let n = 10 + (i * 7) % 90;
    format!("Mock answer to: {}", question.replace("{}", &n.to_string()))
}

fn drift_only() -> ObserveConfig {
    ObserveConfig {
        slo_objective: None,
        anomaly: None,
        predictor: None,
        outage: None,
        dead_letter: None,
        ..ObserveConfig::default()
    }
}

#[test]
fn drift_samples_one_answer_in_n() {
    let mut cfg = drift_only();
    cfg.drift.as_mut().unwrap().sample_every = 4;
    let o = Observer::new(cfg, ManualClock::new()).unwrap();
    assert_eq!((0..400).filter(|_| o.sample_answer()).count(), 100);
    let mut off = drift_only();
    off.drift = None;
    let o = Observer::new(off, ManualClock::new()).unwrap();
    assert!(!(0..10).any(|_| o.sample_answer()));
}

#[test]
fn drift_fires_only_for_the_template_whose_answers_changed_and_not_before() {
    let clock = ManualClock::new();
    let o = Observer::new(drift_only(), clock.clone()).unwrap();
    let mut fired = Vec::new();
    for i in 0..300 {
        clock.advance(Duration::from_secs(1));
        let billing = o.feed_answer("billing", &answer(QUESTIONS[i % 4], i), Some(12));
        let q = if i < 100 {
            QUESTIONS[(i + 1) % 4]
        } else {
            OFF_TOPIC
        };
        let support = o.feed_answer("support", &answer(q, i), Some(12));
        if i < 100 {
            assert!(support.is_empty(), "{support:?}");
        }
        for e in billing.iter().chain(&support) {
            if e.state == EventState::Firing {
                fired.push((e.name, e.source.clone(), i));
            }
        }
    }
    assert_eq!(fired.len(), 1, "{fired:?}");
    let (name, source, at) = &fired[0];
    assert_eq!(
        (*name, source.as_str()),
        ("drift.output", "template:support")
    );
    assert!((150..300).contains(at), "fired after {at} answers");
    assert_eq!(
        o.drift_templates(),
        vec![
            ("billing".to_string(), false),
            ("support".to_string(), true)
        ]
    );
}

#[test]
fn drift_detectors_are_capped_and_the_skips_counted() {
    let mut cfg = drift_only();
    cfg.drift.as_mut().unwrap().max_templates = 2;
    let o = Observer::new(cfg, ManualClock::new()).unwrap();
    for t in ["a", "b", "c", "c", "a"] {
        o.feed_answer(t, "an answer", Some(3));
    }
    assert_eq!(o.drift_templates().len(), 2);
    assert_eq!(o.drift_skipped(), 2);
}

#[test]
fn drift_options_are_checked() {
    let mut cfg = drift_only();
    cfg.drift.as_mut().unwrap().sample_every = 0;
    let e = Observer::new(cfg, ManualClock::new()).err().unwrap();
    assert!(e.to_string().contains("drift_sample_every"), "{e}");
}
