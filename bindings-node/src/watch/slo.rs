//! `NativeSlo`: the core SLO for the host's `SLO` class.

use super::{at_nanos, clock_of, event, int, secs};
use crate::clock::NativeManualClock;
use crate::error::{config_error, ConfigError, NodeParam};
use ferrule_core::watch::slo::FastBurnConfig;
use ferrule_core::{BurnRule, ClockRef, Error, Severity, SliKind, Slo, SloConfig};
use napi::bindgen_prelude::Either;
use napi_derive::napi;

const C: &str = "SLO";

#[napi(object)]
pub struct BurnRuleOptions {
    pub long_ms: f64,
    pub short_ms: f64,
    pub factor: f64,
    pub severity: String,
}

#[napi(object)]
pub struct SloOptions {
    pub objective: Option<f64>,
    pub window_days: Option<f64>,
    pub kind: Option<String>,
    pub threshold_ms: Option<f64>,
    pub rules: Option<Vec<BurnRuleOptions>>,
    pub min_calls: Option<f64>,
    pub confidence_sigmas: Option<f64>,
    pub fast_burn: Option<bool>,
    pub fast_burn_factor: Option<f64>,
    pub fast_burn_baseline_factor: Option<f64>,
    pub fast_burn_threshold: Option<f64>,
    pub budget_recover: Option<f64>,
    pub resolve_ratio: Option<f64>,
}

impl SloOptions {
    fn params(&self) -> Vec<NodeParam> {
        let p = |core, node, millis, given| NodeParam {
            core,
            node,
            millis,
            given,
        };
        vec![
            p("objective", "objective", false, self.objective),
            p("window_days", "windowDays", false, self.window_days),
            p("threshold_seconds", "thresholdMs", true, self.threshold_ms),
            p("long_seconds", "longMs", true, None),
            p("short_seconds", "shortMs", true, None),
            p("min_calls", "minCalls", false, self.min_calls),
            p(
                "confidence_sigmas",
                "confidenceSigmas",
                false,
                self.confidence_sigmas,
            ),
            p(
                "fast_burn_factor",
                "fastBurnFactor",
                false,
                self.fast_burn_factor,
            ),
            p(
                "fast_burn_baseline_factor",
                "fastBurnBaselineFactor",
                false,
                self.fast_burn_baseline_factor,
            ),
            p("resolve_ratio", "resolveRatio", false, self.resolve_ratio),
            p(
                "fast_burn_threshold",
                "fastBurnThreshold",
                false,
                self.fast_burn_threshold,
            ),
            p(
                "budget_recover",
                "budgetRecover",
                false,
                self.budget_recover,
            ),
        ]
    }

    fn to_config(&self, name: String) -> ferrule_core::Result<SloConfig> {
        let d = SloConfig::availability(name, self.objective.unwrap_or(0.999));
        let kind = match (
            self.kind.as_deref().unwrap_or("availability"),
            self.threshold_ms,
        ) {
            ("availability", None) => SliKind::Availability,
            ("latency", Some(ms)) => SliKind::Latency {
                threshold_seconds: secs(ms),
            },
            ("latency", None) => {
                return Err(Error::conflict(
                    C,
                    "threshold_seconds",
                    "None",
                    "kind=\"latency\" needs threshold_seconds",
                ))
            }
            ("availability", Some(ms)) => {
                return Err(Error::conflict(
                    C,
                    "threshold_seconds",
                    ms,
                    "only kind=\"latency\" takes threshold_seconds",
                ))
            }
            (k, _) => {
                return Err(Error::out_of_range(
                    C,
                    "kind",
                    format!("{k:?}"),
                    "\"availability\", \"latency\"",
                ))
            }
        };
        let rules = match &self.rules {
            None => d.rules.clone(),
            Some(rs) => rs
                .iter()
                .map(|r| {
                    Ok(BurnRule {
                        long_seconds: secs(r.long_ms),
                        short_seconds: secs(r.short_ms),
                        factor: r.factor,
                        severity: Severity::parse(C, "severity", &r.severity)?,
                    })
                })
                .collect::<ferrule_core::Result<_>>()?,
        };
        Ok(SloConfig {
            window_days: self.window_days.map_or(d.window_days, int),
            kind,
            rules,
            min_calls: self.min_calls.map_or(d.min_calls, int),
            confidence_sigmas: self.confidence_sigmas.unwrap_or(d.confidence_sigmas),
            fast_burn: (self.fast_burn != Some(false)).then(|| FastBurnConfig {
                factor: self.fast_burn_factor.unwrap_or(14.4),
                baseline_factor: self.fast_burn_baseline_factor.unwrap_or(6.0),
                threshold: self.fast_burn_threshold.unwrap_or(12.0),
                severity: Severity::Critical,
            }),
            budget_recover: self.budget_recover.unwrap_or(d.budget_recover),
            resolve_ratio: self.resolve_ratio.unwrap_or(d.resolve_ratio),
            ..d
        })
    }
}

#[napi]
pub struct NativeSlo {
    inner: std::sync::Arc<Slo>,
    clock: ClockRef,
}

#[napi(object)]
pub struct BurnRuleStats {
    pub window: String,
    pub long_burn_rate: f64,
    pub short_burn_rate: f64,
    pub firing: bool,
}

#[napi(object)]
pub struct SloStats {
    pub name: String,
    pub objective: f64,
    pub total: f64,
    pub bad: f64,
    pub synthetic_excluded: f64,
    pub stale_dropped: f64,
    pub budget_remaining: f64,
    /// `window` or `extrapolated` (a history shorter than the SLO window).
    pub budget_basis: String,
    pub budget_coverage: f64,
    pub budget_exhausted: bool,
    pub rules: Vec<BurnRuleStats>,
    pub fast_burn_score: Option<f64>,
    pub fast_burn_firing: bool,
    pub page_firing: bool,
    pub ticket_firing: bool,
    pub memory_bytes: f64,
}

#[napi(catch_unwind)]
pub fn create_slo(
    name: String,
    options: SloOptions,
    clock: Option<&NativeManualClock>,
) -> Either<NativeSlo, ConfigError> {
    let clock = clock_of(clock);
    match options
        .to_config(name)
        .and_then(|c| Slo::new(c, clock.clone()))
    {
        Ok(inner) => {
            let inner = std::sync::Arc::new(inner);
            ferrule_core::watch::gauges::export(&inner);
            Either::A(NativeSlo { inner, clock })
        }
        Err(e) => Either::B(config_error(&e, &options.params())),
    }
}

#[napi]
impl NativeSlo {
    /// What a scrape shows for this watcher: `[name, labels, value]` rows.
    #[napi(catch_unwind)]
    pub fn gauges(&self) -> Vec<crate::watch::gauge_rows::GaugeRow> {
        crate::watch::gauge_rows::gauge_rows(&*self.inner)
    }

    #[napi(catch_unwind)]
    pub fn record(
        &self,
        ok: bool,
        latency_ms: f64,
        synthetic: bool,
        at_ms: Option<f64>,
    ) -> Option<Vec<event::WatchEventObject>> {
        let at = at_nanos(&self.clock, at_ms);
        event::list(self.inner.record_at(ok, secs(latency_ms), synthetic, at))
    }

    #[napi(catch_unwind)]
    pub fn evaluate(&self, at_ms: Option<f64>) -> Option<Vec<event::WatchEventObject>> {
        event::list(self.inner.evaluate_at(at_nanos(&self.clock, at_ms)))
    }

    #[napi(catch_unwind)]
    pub fn burn_rate(&self, window_ms: f64, at_ms: Option<f64>) -> Either<f64, ConfigError> {
        match self
            .inner
            .burn_rate_at(secs(window_ms), at_nanos(&self.clock, at_ms))
        {
            Ok(b) => Either::A(b),
            Err(e) => Either::B(config_error(
                &e,
                &[NodeParam {
                    core: "window_seconds",
                    node: "windowMs",
                    millis: true,
                    given: Some(window_ms),
                }],
            )),
        }
    }

    /// The SLO as Prometheus recording and alerting rules (YAML).
    #[napi(catch_unwind)]
    pub fn prometheus_rules(&self) -> String {
        self.inner.config().prometheus_rules()
    }

    #[napi(catch_unwind)]
    pub fn budget_remaining(&self, at_ms: Option<f64>) -> f64 {
        self.inner.budget_remaining_at(at_nanos(&self.clock, at_ms))
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> SloStats {
        let s = self.inner.snapshot();
        SloStats {
            name: s.name,
            objective: s.objective,
            total: s.total as f64,
            bad: s.bad as f64,
            synthetic_excluded: s.synthetic_excluded as f64,
            stale_dropped: s.stale_dropped as f64,
            budget_remaining: s.budget_remaining,
            budget_basis: s.budget_basis.as_str().into(),
            budget_coverage: s.budget_coverage,
            budget_exhausted: s.budget_exhausted,
            rules: s
                .rules
                .into_iter()
                .map(|(window, l, sh, firing)| BurnRuleStats {
                    window,
                    long_burn_rate: l,
                    short_burn_rate: sh,
                    firing,
                })
                .collect(),
            fast_burn_score: s.fast_burn_score,
            fast_burn_firing: s.fast_burn_firing,
            page_firing: s.page_firing,
            ticket_firing: s.ticket_firing,
            memory_bytes: self.inner.heap_bytes() as f64,
        }
    }
}
