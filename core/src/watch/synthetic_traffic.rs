//! Where synthetic traffic is counted: calls a synthetic probe made through a policy or an LLM
//! wrapper stay out of the user's series (`ferrule_calls_total`, the GenAI histograms, cost, the
//! prompt profile) and land in `ferrule_synthetic_calls_total{component,name,outcome}` and
//! `ferrule_synthetic_cost_usd_total` instead, so a probe neither pads nor hides the user's numbers
//! and its own traffic is still visible. The host decides what is synthetic (a context variable /
//! AsyncLocalStorage set while a probe's function runs); the counting rules live here, once.

use crate::telemetry::builtin::LlmCall;
use crate::telemetry::counter::Counter;
use crate::telemetry::price;
use std::sync::OnceLock;

/// The synthetic families, declared in the default registry on first use (watch::gauges declares
/// them too, so a scrape shows them at zero once any watcher exists).
struct Families {
    calls: Counter,
    cost: Counter,
}

fn families() -> Option<&'static Families> {
    static F: OnceLock<Option<Families>> = OnceLock::new();
    F.get_or_init(|| {
        let r = crate::telemetry::registry::global();
        super::gauges::declare(r);
        let calls = r.counter(
            super::gauges::SYNTHETIC_CALLS,
            super::gauges::SYNTHETIC_CALLS_HELP,
            &super::gauges::SYNTHETIC_CALLS_LABELS,
        );
        let cost = r.counter(
            super::gauges::SYNTHETIC_COST,
            super::gauges::SYNTHETIC_COST_HELP,
            &super::gauges::SYNTHETIC_COST_LABELS,
        );
        match (calls, cost) {
            (Ok(calls), Ok(cost)) => Some(Families { calls, cost }),
            (Err(e), _) | (_, Err(e)) => {
                log::warn!(target: "ferrule.watch", "cannot declare the synthetic traffic families: {e}; synthetic calls are not counted");
                None
            }
        }
    })
    .as_ref()
}

/// Counts one synthetic call of `component` (`policy`, `llm`, `router`) named `name`.
pub fn call(component: &str, name: &str, ok: bool) {
    if let Some(f) = families() {
        let outcome = if ok { "success" } else { "failure" };
        match f.calls.labels(&[component, name, outcome]) {
            Ok(h) => h.inc(),
            Err(e) => debug_assert!(false, "synthetic label mismatch: {e}"),
        }
    }
}

/// A finished LLM call made by a synthetic probe: counted and priced here instead of in the GenAI
/// metrics, cost counter and prompt profile. Returns the cost in US dollars (0 when unpriced), as
/// `builtin::llm_call` does.
pub fn llm_call(c: &LlmCall<'_>) -> f64 {
    call("llm", c.model, c.error_type.is_none());
    let (input, output) = (c.input_tokens.unwrap_or(0), c.output_tokens.unwrap_or(0));
    let cost = price::global()
        .call_cost(
            c.provider,
            c.model,
            input,
            output,
            c.cache_read_tokens.unwrap_or(0),
            c.cache_creation_tokens.unwrap_or(0),
        )
        .unwrap_or(0.0);
    if cost > 0.0 {
        if let Some(f) = families() {
            if let Ok(h) = f.cost.labels(&[c.provider, c.model]) {
                let _ = h.add_f64(cost);
            }
        }
    }
    cost
}
