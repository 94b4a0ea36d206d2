//! Prompt performance profiling: per prompt template (an explicit name, or a hash of the template
//! text), the calls, errors, input/output tokens, latency p50/p95/p99 and cost. Read as a table by
//! `ferrule.profile()`, sorted by what the user asks.

use super::builtin;
use super::float_cell::FloatCell;
use super::quantile_sketch::QuantileSketch;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

/// The profile key of calls that name no template.
pub const UNNAMED: &str = "(unnamed)";
/// The profile key past the template cap.
pub const OTHER: &str = "(other)";
pub const DEFAULT_MAX_TEMPLATES: usize = 1000;

/// The key a template is profiled under: its explicit name, else `tmpl:` and 12 hex digits of a
/// stable 64-bit FNV-1a hash of its text (stable across processes and versions, unlike `hash()`).
pub fn template_key(name: Option<&str>, text: Option<&str>) -> String {
    match (name, text) {
        (Some(n), _) => n.to_string(),
        (None, Some(t)) => {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in t.bytes() {
                h ^= b as u64;
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            format!("tmpl:{:012x}", h >> 16)
        }
        (None, None) => UNNAMED.to_string(),
    }
}

/// One finished call, for the profile.
#[derive(Debug, Clone)]
pub struct Sample<'a> {
    pub template: &'a str,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub latency_nanos: u64,
    pub error: bool,
    pub cost_usd: f64,
}

/// Per-template totals. Plain atomics, not striped: one update per LLM call, which takes
/// milliseconds, so contention on these lines is negligible.
struct TemplateStats {
    calls: AtomicU64,
    errors: AtomicU64,
    input_tokens: AtomicU64,
    output_tokens: AtomicU64,
    latency_nanos: AtomicU64,
    /// The extremes seen, so percentile estimates never leave the observed range (one sample reads
    /// back exactly).
    min_nanos: AtomicU64,
    max_nanos: AtomicU64,
    cost: FloatCell,
    latency: QuantileSketch,
}

impl Default for TemplateStats {
    fn default() -> Self {
        Self {
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            input_tokens: AtomicU64::new(0),
            output_tokens: AtomicU64::new(0),
            latency_nanos: AtomicU64::new(0),
            min_nanos: AtomicU64::new(u64::MAX),
            max_nanos: AtomicU64::new(0),
            cost: FloatCell::new(0.0),
            latency: QuantileSketch::new(),
        }
    }
}

/// A row of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateRow {
    pub template: String,
    pub calls: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub mean_latency_seconds: f64,
    pub p50_seconds: f64,
    pub p95_seconds: f64,
    pub p99_seconds: f64,
    pub cost_usd: f64,
}

impl TemplateRow {
    pub fn tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Cost,
    /// p95 latency
    Latency,
    /// input + output tokens
    Tokens,
    Calls,
    Errors,
}

impl SortBy {
    pub const NAMES: &'static str = "cost, latency, tokens, calls, errors";

    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "cost" => SortBy::Cost,
            "latency" => SortBy::Latency,
            "tokens" => SortBy::Tokens,
            "calls" => SortBy::Calls,
            "errors" => SortBy::Errors,
            _ => {
                return Err(Error::out_of_range(
                    "profile.top",
                    "by",
                    format!("{s:?}"),
                    Self::NAMES,
                ))
            }
        })
    }

    fn key(self, r: &TemplateRow) -> f64 {
        match self {
            SortBy::Cost => r.cost_usd,
            SortBy::Latency => r.p95_seconds,
            SortBy::Tokens => r.tokens() as f64,
            SortBy::Calls => r.calls as f64,
            SortBy::Errors => r.errors as f64,
        }
    }
}

pub struct Profiler {
    // A lock, but only to find a template's stats (a hash lookup under a read lock, once per LLM
    // call) and to add a new template or read the report.
    templates: RwLock<HashMap<String, Arc<TemplateStats>>>,
    max_templates: usize,
    overflow_warned: AtomicBool,
}

impl Default for Profiler {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_TEMPLATES)
    }
}

impl Profiler {
    pub fn new(max_templates: usize) -> Self {
        Self {
            templates: RwLock::new(HashMap::new()),
            max_templates: max_templates.max(1),
            overflow_warned: AtomicBool::new(false),
        }
    }

    fn stats(&self, template: &str) -> Arc<TemplateStats> {
        if let Some(s) = self
            .templates
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(template)
        {
            return s.clone();
        }
        let mut m = self.templates.write().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = m.get(template) {
            return s.clone();
        }
        let overflow = m.len() >= self.max_templates && template != OTHER;
        let key = if overflow { OTHER } else { template };
        let stats = m.entry(key.to_string()).or_default().clone();
        drop(m);
        // Counted and logged after the lock is released (a logger may block).
        if overflow {
            builtin::dropped("profile_template_overflow", 1);
            if !self.overflow_warned.swap(true, Ordering::Relaxed) {
                log::warn!(
                    "ferrule profile: more than {} prompt templates; new ones are folded into {OTHER:?}",
                    self.max_templates
                );
            }
        }
        stats
    }

    pub fn record(&self, s: &Sample<'_>) {
        let t = self.stats(s.template);
        t.calls.fetch_add(1, Ordering::Relaxed);
        if s.error {
            t.errors.fetch_add(1, Ordering::Relaxed);
        }
        t.input_tokens.fetch_add(s.input_tokens, Ordering::Relaxed);
        t.output_tokens
            .fetch_add(s.output_tokens, Ordering::Relaxed);
        t.latency_nanos
            .fetch_add(s.latency_nanos, Ordering::Relaxed);
        if s.cost_usd > 0.0 {
            t.cost.add(s.cost_usd);
        }
        t.latency.record(s.latency_nanos);
        t.min_nanos.fetch_min(s.latency_nanos, Ordering::Relaxed);
        t.max_nanos.fetch_max(s.latency_nanos, Ordering::Relaxed);
    }

    /// Every template, sorted by `by` (largest first, ties by name).
    pub fn rows(&self, by: SortBy) -> Vec<TemplateRow> {
        let m = self.templates.read().unwrap_or_else(|p| p.into_inner());
        let mut rows: Vec<TemplateRow> = m
            .iter()
            .map(|(name, t)| {
                let calls = t.calls.load(Ordering::Relaxed);
                let errors = t.errors.load(Ordering::Relaxed);
                let q = t.latency.quantiles(&[0.5, 0.95, 0.99]);
                let (lo, hi) = (
                    t.min_nanos.load(Ordering::Relaxed) as f64,
                    t.max_nanos.load(Ordering::Relaxed) as f64,
                );
                let s = |x: Option<f64>| x.map_or(0.0, |v| v.clamp(lo.min(hi), hi) / 1e9);
                TemplateRow {
                    template: name.clone(),
                    calls,
                    errors,
                    error_rate: if calls == 0 {
                        0.0
                    } else {
                        errors as f64 / calls as f64
                    },
                    input_tokens: t.input_tokens.load(Ordering::Relaxed),
                    output_tokens: t.output_tokens.load(Ordering::Relaxed),
                    mean_latency_seconds: if calls == 0 {
                        0.0
                    } else {
                        t.latency_nanos.load(Ordering::Relaxed) as f64 / calls as f64 / 1e9
                    },
                    p50_seconds: s(q[0]),
                    p95_seconds: s(q[1]),
                    p99_seconds: s(q[2]),
                    cost_usd: t.cost.get(),
                }
            })
            .collect();
        drop(m);
        rows.sort_by(|a, b| {
            by.key(b)
                .total_cmp(&by.key(a))
                .then_with(|| a.template.cmp(&b.template))
        });
        rows
    }

    /// The `n` largest templates by `by`.
    pub fn top(&self, n: usize, by: SortBy) -> Vec<TemplateRow> {
        let mut r = self.rows(by);
        r.truncate(n);
        r
    }

    pub fn reset(&self) {
        self.templates
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// The process-wide profile that `builtin::llm_call` feeds.
pub fn global() -> &'static Profiler {
    static G: OnceLock<Profiler> = OnceLock::new();
    G.get_or_init(Profiler::default)
}
