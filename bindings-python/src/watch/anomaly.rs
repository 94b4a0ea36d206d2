//! `AnomalyCore`: the core anomaly detector for `ferrule/watch/anomaly.py`.

use super::{at_nanos, clock_of, event};
use crate::clock::ManualClock;
use crate::error::{guard, to_py};
use ferrule_core::error::check;
use ferrule_core::watch::ewma::EwmaConfig;
use ferrule_core::watch::hysteresis::HysteresisConfig;
use ferrule_core::watch::mad::MadConfig;
use ferrule_core::watch::seasonal::SeasonalConfig;
use ferrule_core::{
    AnomalyConfig, AnomalyDetector, ClockRef, Direction, Method, SeriesKey, Severity,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

const C: &str = "AnomalyDetector";

#[pyclass(frozen, name = "AnomalyCore", module = "ferrule._ferrule")]
pub struct AnomalyCore {
    inner: std::sync::Arc<AnomalyDetector>,
    clock: ClockRef,
}

#[pymethods]
impl AnomalyCore {
    /// What a scrape shows for this watcher: `(name, labels, value)` rows.
    fn gauges<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyList>> {
        super::gauge_rows::gauge_rows(py, &*self.inner)
    }

    #[new]
    #[pyo3(signature = (name, metric, *, method="ewma", direction=None, threshold=None, warm_up=None,
        baseline_seconds=1800.0, smoothing=0.25, clip_sigmas=4.0, window=None, sample_seconds=30.0,
        recent=7, hysteresis_window=None, fire_count=None, resolve_count=None,
        min_duration_seconds=None, severity="warning", max_series=1000, clock=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: String,
        metric: String,
        method: &str,
        direction: Option<&str>,
        threshold: Option<f64>,
        #[pyo3(from_py_with = crate::arg::optional::<i64>)] warm_up: Option<i64>,
        baseline_seconds: f64,
        smoothing: f64,
        clip_sigmas: f64,
        #[pyo3(from_py_with = crate::arg::optional::<i64>)] window: Option<i64>,
        sample_seconds: f64,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] recent: i64,
        #[pyo3(from_py_with = crate::arg::optional::<i64>)] hysteresis_window: Option<i64>,
        #[pyo3(from_py_with = crate::arg::optional::<i64>)] fire_count: Option<i64>,
        #[pyo3(from_py_with = crate::arg::optional::<i64>)] resolve_count: Option<i64>,
        min_duration_seconds: Option<f64>,
        severity: &str,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] max_series: i64,
        clock: Option<PyRef<'_, ManualClock>>,
    ) -> PyResult<Self> {
        let clock = clock_of(clock);
        let build = || -> ferrule_core::Result<AnomalyDetector> {
            // Unset parameters take the method's own defaults (the seasonal detector's differ).
            let sc = SeasonalConfig::default();
            let int = |param: &'static str, v: Option<i64>, default: u32, lo: u64, hi: u64| {
                v.map_or(Ok(default), |v| {
                    check::int(C, param, v as i128, lo, hi).map(|v| v as u32)
                })
            };
            let warm = |default| int("warm_up", warm_up, default, 2, 1_000_000);
            // Checked whatever the method: a value the chosen method ignores is still a mistake
            // the caller should hear about, not a silent no-op.
            if let Some(w) = window {
                check::int(C, "window", w as i128, 8, 256)?;
            }
            let recent = check::int(C, "recent", recent as i128, 1, 31)? as u32;
            check::finite_positive(C, "sample_seconds", sample_seconds)?;
            let method = match method {
                "seasonal" => Method::Seasonal(SeasonalConfig {
                    window: int("window", window, sc.window, 8, 256)?,
                    warm_up: warm(sc.warm_up)?,
                    sample_seconds,
                    ..sc
                }),
                "ewma" => Method::Ewma(EwmaConfig {
                    baseline_seconds,
                    lambda: smoothing,
                    warm_up: warm(EwmaConfig::default().warm_up)?,
                    clip_sigmas,
                    ..EwmaConfig::default()
                }),
                "mad" => Method::Mad(MadConfig {
                    window: int("window", window, MadConfig::default().window, 8, 256)?,
                    warm_up: warm(MadConfig::default().warm_up)?,
                    sample_seconds,
                    recent,
                }),
                m => {
                    return Err(ferrule_core::Error::out_of_range(
                        C,
                        "method",
                        format!("{m:?}"),
                        "\"ewma\", \"mad\", \"seasonal\"",
                    ))
                }
            };
            let mut cfg = AnomalyConfig::new(name, metric, method);
            if let Some(d) = direction {
                cfg.direction = Direction::parse(d)?;
            }
            if let Some(t) = threshold {
                cfg.threshold = t;
            }
            let h = cfg.hysteresis;
            let min_duration_seconds =
                min_duration_seconds.unwrap_or(h.min_duration_nanos as f64 / 1e9);
            if !(min_duration_seconds.is_finite() && min_duration_seconds >= 0.0) {
                return Err(ferrule_core::Error::out_of_range(
                    C,
                    "min_duration_seconds",
                    min_duration_seconds,
                    "a finite number >= 0",
                ));
            }
            cfg.hysteresis = HysteresisConfig {
                window: int("hysteresis_window", hysteresis_window, h.window, 1, 64)?,
                fire_count: int("fire_count", fire_count, h.fire_count, 1, 64)?,
                resolve_count: int("resolve_count", resolve_count, h.resolve_count, 0, 63)?,
                min_duration_nanos: (min_duration_seconds * 1e9) as u64,
                ..h
            };
            cfg.severity = Severity::parse(C, "severity", severity)?;
            cfg.max_series = check::int(C, "max_series", max_series as i128, 2, 1_000_000)? as u32;
            AnomalyDetector::new(cfg, clock.clone())
        };
        let inner = build().map_err(|e| to_py(py, e))?;
        let inner = std::sync::Arc::new(inner);
        ferrule_core::watch::gauges::export(&inner);
        Ok(Self { inner, clock })
    }

    #[pyo3(signature = (value, model, template, at=None))]
    #[inline]
    fn observe<'py>(
        &self,
        py: Python<'py>,
        value: f64,
        model: &str,
        template: &str,
        at: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        let at = at_nanos(&self.clock, at)?;
        let key = SeriesKey::new(model, template);
        let ev = guard(py, || self.inner.observe_at(&key, value, at))?;
        event::list(py, ev)
    }

    #[getter]
    fn name(&self) -> &str {
        &self.inner.config().name
    }

    #[getter]
    fn metric(&self) -> &str {
        &self.inner.config().metric
    }

    #[getter]
    fn method(&self) -> &'static str {
        self.inner.config().method.as_str()
    }

    #[getter]
    fn threshold(&self) -> f64 {
        self.inner.config().threshold
    }

    fn series<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let snap = guard(py, || self.inner.snapshot())?;
        let l = PyList::empty(py);
        for s in snap {
            let d = PyDict::new(py);
            d.set_item("model", s.key.model)?;
            d.set_item("template", s.key.template)?;
            d.set_item("baseline", s.baseline)?;
            d.set_item("spread", s.spread)?;
            d.set_item("score", s.last_score)?;
            d.set_item("firing", s.firing)?;
            d.set_item("observations", s.observations)?;
            d.set_item("fired", s.fired)?;
            l.append(d)?;
        }
        Ok(l)
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("name", &self.inner.config().name)?;
        d.set_item("metric", &self.inner.config().metric)?;
        d.set_item("method", self.inner.config().method.as_str())?;
        d.set_item("series", self.inner.series_count())?;
        d.set_item("max_series", self.inner.config().max_series)?;
        d.set_item("overflowed", self.inner.overflowed())?;
        d.set_item("non_finite", self.inner.non_finite())?;
        d.set_item("bytes_per_series", self.inner.bytes_per_series())?;
        Ok(d)
    }

    fn reset(&self) {
        self.inner.reset();
    }
}
