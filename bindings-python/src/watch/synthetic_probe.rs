//! `SyntheticProbeCore` for `ferrule/synthetic_probe.py`: conversion only. The schedule, overlap
//! rule, judgement and alerting are the core's; the host runs the probe function.

use super::dead_mans_switch::DeadMansSwitchCore;
use super::{at_nanos, clock_of, event};
use crate::clock::ManualClock;
use crate::error::{guard, to_py};
use ferrule_core::watch::synthetic_probe::{ProbeConfig, ProbeResult, SyntheticProbe};
use ferrule_core::{ClockRef, Severity};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::sync::Arc;

const C: &str = "SyntheticProbe";

#[pyclass(frozen, name = "SyntheticProbeCore", module = "ferrule._ferrule")]
pub struct SyntheticProbeCore {
    inner: Arc<SyntheticProbe>,
    clock: ClockRef,
}

fn secs(p: &'static str, s: f64) -> ferrule_core::Result<u64> {
    if !(s.is_finite() && s > 0.0) {
        return Err(ferrule_core::Error::out_of_range(
            C,
            p,
            s,
            "a finite number of seconds > 0",
        ));
    }
    Ok((s * 1e9) as u64)
}

#[pymethods]
impl SyntheticProbeCore {
    /// What a scrape shows for this watcher: `(name, labels, value)` rows.
    fn gauges<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyList>> {
        super::gauge_rows::gauge_rows(py, &*self.inner)
    }

    #[new]
    #[pyo3(signature = (name, every_seconds, timeout_seconds, *, jitter=0.1, failures_to_alert=2,
        severity="critical", seed=None, deadman=None, clock=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: String,
        every_seconds: f64,
        timeout_seconds: f64,
        jitter: f64,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] failures_to_alert: i64,
        severity: &str,
        #[pyo3(from_py_with = crate::arg::optional::<u64>)] seed: Option<u64>,
        deadman: Option<PyRef<'_, DeadMansSwitchCore>>,
        clock: Option<PyRef<'_, ManualClock>>,
    ) -> PyResult<Self> {
        let clock = clock_of(clock);
        let build = || -> ferrule_core::Result<SyntheticProbe> {
            let mut cfg = ProbeConfig::new(
                name,
                secs("every_seconds", every_seconds)?,
                secs("timeout_seconds", timeout_seconds)?,
            );
            cfg.jitter = jitter;
            cfg.failures_to_alert = ferrule_core::error::check::int(
                C,
                "failures_to_alert",
                failures_to_alert as i128,
                1,
                1000,
            )? as u32;
            cfg.severity = Severity::parse_alert(C, "severity", severity)?;
            cfg.seed = seed;
            SyntheticProbe::new(
                cfg,
                deadman.as_ref().map(|d| d.inner.clone()),
                clock.clone(),
            )
        };
        let inner = Arc::new(build().map_err(|e| to_py(py, e))?);
        ferrule_core::watch::gauges::export(&inner);
        Ok(Self { inner, clock })
    }

    /// Seconds until the next run is due (0: due now).
    #[pyo3(signature = (at=None))]
    fn due_in(&self, at: Option<f64>) -> PyResult<f64> {
        let at = at_nanos(&self.clock, at)?;
        Ok(self.inner.due_in_at(at) as f64 / 1e9)
    }

    /// Claims the run if due and none is going; False otherwise (an overlapping turn is counted).
    #[pyo3(signature = (at=None))]
    fn try_start(&self, at: Option<f64>) -> PyResult<bool> {
        let at = at_nanos(&self.clock, at)?;
        Ok(self.inner.try_start_at(at))
    }

    /// Ends the claimed run: `result` is `ok`, `failed` or `timeout`.
    #[pyo3(signature = (result, error="", at=None))]
    fn finish<'py>(
        &self,
        py: Python<'py>,
        result: &str,
        error: &str,
        at: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        let at = at_nanos(&self.clock, at)?;
        let r = match result {
            "ok" => ProbeResult::Ok,
            "failed" => ProbeResult::Failed,
            "timeout" => ProbeResult::TimedOut,
            other => {
                return Err(to_py(
                    py,
                    ferrule_core::Error::out_of_range(
                        C,
                        "result",
                        format!("{other:?}"),
                        "\"ok\", \"failed\", \"timeout\"",
                    ),
                ))
            }
        };
        let ev = guard(py, || self.inner.finish_at(at, r, error))?;
        let l = PyList::empty(py);
        for e in &ev {
            l.append(event::to_py(py, e)?)?;
        }
        Ok(if ev.is_empty() { None } else { Some(l) })
    }

    #[getter]
    fn running(&self) -> bool {
        self.inner.is_running()
    }

    #[getter]
    fn name(&self) -> &str {
        &self.inner.config().name
    }

    #[getter]
    fn every_seconds(&self) -> f64 {
        self.inner.config().every_nanos as f64 / 1e9
    }

    #[getter]
    fn timeout_seconds(&self) -> f64 {
        self.inner.config().timeout_nanos as f64 / 1e9
    }

    fn now(&self) -> f64 {
        self.clock.now_nanos() as f64 / 1e9
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("runs", s.runs)?;
        d.set_item("ok", s.ok)?;
        d.set_item("failed", s.failed)?;
        d.set_item("timed_out", s.timed_out)?;
        d.set_item("skipped_overlap", s.skipped_overlap)?;
        d.set_item("consecutive_failures", s.consecutive_failures)?;
        d.set_item("last_latency_seconds", s.last_latency_seconds)?;
        d.set_item("last_error", s.last_error)?;
        d.set_item("firing", s.firing)?;
        d.set_item("synthetic", true)?;
        Ok(d)
    }
}
