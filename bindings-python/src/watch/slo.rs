//! `SloCore`: the core SLO for `ferrule/watch/slo.py`.

use super::{at_nanos, clock_of, event};
use crate::clock::ManualClock;
use crate::error::{guard, to_py};
use ferrule_core::error::check;
use ferrule_core::watch::slo::FastBurnConfig;
use ferrule_core::{BurnRule, ClockRef, Severity, SliKind, Slo, SloConfig};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

const C: &str = "SLO";

#[pyclass(frozen, name = "SloCore", module = "ferrule._ferrule")]
pub struct SloCore {
    inner: std::sync::Arc<Slo>,
    clock: ClockRef,
}

#[pymethods]
impl SloCore {
    /// What a scrape shows for this watcher: `(name, labels, value)` rows.
    fn gauges<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyList>> {
        super::gauge_rows::gauge_rows(py, &*self.inner)
    }

    /// `rules`: (long_seconds, short_seconds, factor, severity) tuples; `None` for the Workbook's.
    #[new]
    #[pyo3(signature = (name, *, objective=0.999, window_days=30, kind="availability",
        threshold_seconds=None, rules=None, min_calls=10, confidence_sigmas=0.0, fast_burn=true,
        fast_burn_factor=14.4, fast_burn_baseline_factor=6.0, fast_burn_threshold=12.0,
        budget_recover=0.05, resolve_ratio=0.5, clock=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: String,
        objective: f64,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] window_days: i64,
        kind: &str,
        threshold_seconds: Option<f64>,
        rules: Option<Vec<(f64, f64, f64, String)>>,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] min_calls: i64,
        confidence_sigmas: f64,
        fast_burn: bool,
        fast_burn_factor: f64,
        fast_burn_baseline_factor: f64,
        fast_burn_threshold: f64,
        budget_recover: f64,
        resolve_ratio: f64,
        clock: Option<PyRef<'_, ManualClock>>,
    ) -> PyResult<Self> {
        let clock = clock_of(clock);
        let build = || -> ferrule_core::Result<Slo> {
            let kind = match (kind, threshold_seconds) {
                ("availability", None) => SliKind::Availability,
                ("latency", Some(t)) => SliKind::Latency {
                    threshold_seconds: t,
                },
                ("latency", None) => {
                    return Err(ferrule_core::Error::conflict(
                        C,
                        "threshold_seconds",
                        "None",
                        "kind=\"latency\" needs threshold_seconds",
                    ))
                }
                ("availability", Some(t)) => {
                    return Err(ferrule_core::Error::conflict(
                        C,
                        "threshold_seconds",
                        t,
                        "only kind=\"latency\" takes threshold_seconds",
                    ))
                }
                (k, _) => {
                    return Err(ferrule_core::Error::out_of_range(
                        C,
                        "kind",
                        format!("{k:?}"),
                        "\"availability\", \"latency\"",
                    ))
                }
            };
            let rules = match rules {
                None => BurnRule::workbook(),
                Some(rs) => rs
                    .into_iter()
                    .map(|(long_seconds, short_seconds, factor, sev)| {
                        Ok(BurnRule {
                            long_seconds,
                            short_seconds,
                            factor,
                            severity: Severity::parse(C, "severity", &sev)?,
                        })
                    })
                    .collect::<ferrule_core::Result<Vec<_>>>()?,
            };
            let cfg = SloConfig {
                name,
                objective,
                window_days: check::int(C, "window_days", window_days as i128, 1, 90)? as u32,
                kind,
                rules,
                min_calls: check::int(C, "min_calls", min_calls as i128, 1, 1_000_000_000)? as u32,
                confidence_sigmas,
                fast_burn: fast_burn.then_some(FastBurnConfig {
                    factor: fast_burn_factor,
                    baseline_factor: fast_burn_baseline_factor,
                    threshold: fast_burn_threshold,
                    severity: Severity::Critical,
                }),
                budget_recover,
                resolve_ratio,
            };
            Slo::new(cfg, clock.clone())
        };
        let inner = build().map_err(|e| to_py(py, e))?;
        let inner = std::sync::Arc::new(inner);
        ferrule_core::watch::gauges::export(&inner);
        Ok(Self { inner, clock })
    }

    #[pyo3(signature = (ok, latency_seconds, synthetic=false, at=None))]
    #[inline]
    fn record<'py>(
        &self,
        py: Python<'py>,
        ok: bool,
        latency_seconds: f64,
        synthetic: bool,
        at: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        let at = at_nanos(&self.clock, at)?;
        let ev = guard(py, || {
            self.inner.record_at(ok, latency_seconds, synthetic, at)
        })?;
        event::list(py, ev)
    }

    #[pyo3(signature = (at=None))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        at: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        let at = at_nanos(&self.clock, at)?;
        let ev = guard(py, || self.inner.evaluate_at(at))?;
        event::list(py, ev)
    }

    #[pyo3(signature = (window_seconds, at=None))]
    fn burn_rate(&self, py: Python<'_>, window_seconds: f64, at: Option<f64>) -> PyResult<f64> {
        let at = at_nanos(&self.clock, at)?;
        guard(py, || self.inner.burn_rate_at(window_seconds, at))?.map_err(|e| to_py(py, e))
    }

    #[pyo3(signature = (at=None))]
    fn budget_remaining(&self, py: Python<'_>, at: Option<f64>) -> PyResult<f64> {
        let at = at_nanos(&self.clock, at)?;
        guard(py, || self.inner.budget_remaining_at(at))
    }

    #[getter]
    fn name(&self) -> &str {
        &self.inner.config().name
    }

    #[getter]
    fn objective(&self) -> f64 {
        self.inner.config().objective
    }

    /// The SLO as Prometheus recording and alerting rules (YAML), for a fleet's Prometheus.
    fn prometheus_rules(&self) -> String {
        self.inner.config().prometheus_rules()
    }

    fn now(&self) -> f64 {
        self.clock.now_nanos() as f64 / 1e9
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = guard(py, || self.inner.snapshot())?;
        let d = PyDict::new(py);
        d.set_item("name", s.name)?;
        d.set_item("objective", s.objective)?;
        d.set_item("total", s.total)?;
        d.set_item("bad", s.bad)?;
        d.set_item("synthetic_excluded", s.synthetic_excluded)?;
        d.set_item("stale_dropped", s.stale_dropped)?;
        d.set_item("budget_remaining", s.budget_remaining)?;
        d.set_item("budget_exhausted", s.budget_exhausted)?;
        d.set_item("budget_basis", s.budget_basis.as_str())?;
        d.set_item("budget_coverage", s.budget_coverage)?;
        d.set_item("page_firing", s.page_firing)?;
        d.set_item("ticket_firing", s.ticket_firing)?;
        let rules = PyList::empty(py);
        for (label, long, short, firing) in s.rules {
            let r = PyDict::new(py);
            r.set_item("window", label)?;
            r.set_item("long_burn_rate", long)?;
            r.set_item("short_burn_rate", short)?;
            r.set_item("firing", firing)?;
            rules.append(r)?;
        }
        d.set_item("rules", rules)?;
        d.set_item("fast_burn_score", s.fast_burn_score)?;
        d.set_item("fast_burn_firing", s.fast_burn_firing)?;
        d.set_item("memory_bytes", self.inner.heap_bytes())?;
        Ok(d)
    }
}
