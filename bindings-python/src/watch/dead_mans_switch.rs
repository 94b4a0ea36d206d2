//! `DeadMansSwitchCore` for `ferrule/dead_mans_switch.py`: conversion only.

use super::{at_nanos, clock_of, event};
use crate::clock::ManualClock;
use crate::error::{guard, to_py};
use ferrule_core::watch::dead_mans_switch::DeadMansSwitch;
use ferrule_core::{ClockRef, Severity};
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::sync::Arc;

#[pyclass(frozen, name = "DeadMansSwitchCore", module = "ferrule._ferrule")]
pub struct DeadMansSwitchCore {
    pub(crate) inner: Arc<DeadMansSwitch>,
    clock: ClockRef,
}

#[pymethods]
impl DeadMansSwitchCore {
    /// What a scrape shows for this watcher: `(name, labels, value)` rows.
    fn gauges<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyList>> {
        super::gauge_rows::gauge_rows(py, &*self.inner)
    }

    #[new]
    #[pyo3(signature = (name, within_seconds, severity="critical", clock=None))]
    fn new(
        py: Python<'_>,
        name: String,
        within_seconds: f64,
        severity: &str,
        clock: Option<PyRef<'_, ManualClock>>,
    ) -> PyResult<Self> {
        let clock = clock_of(clock);
        let build = || -> ferrule_core::Result<Arc<DeadMansSwitch>> {
            let sev = Severity::parse_alert("DeadMansSwitch", "severity", severity)?;
            if !(within_seconds.is_finite() && (0.001..=1e9).contains(&within_seconds)) {
                return Err(ferrule_core::Error::out_of_range(
                    "DeadMansSwitch",
                    "within_seconds",
                    within_seconds,
                    "a number of seconds in [0.001, 1e9]",
                ));
            }
            DeadMansSwitch::new(name, (within_seconds * 1e9) as u64, sev, clock.clone())
        };
        let inner = build().map_err(|e| to_py(py, e))?;
        ferrule_core::watch::gauges::export(&inner);
        Ok(Self { inner, clock })
    }

    /// Returns True when this beat resolved a firing switch.
    #[pyo3(signature = (at=None))]
    #[inline]
    fn beat(&self, at: Option<f64>) -> PyResult<bool> {
        let at = match at {
            None => self.clock.now_nanos(),
            Some(_) => at_nanos(&self.clock, at)?,
        };
        Ok(self.inner.beat_at(at).is_some())
    }

    /// Checks for silence now (the runtime does this every 100 ms on the system clock).
    #[pyo3(signature = (at=None))]
    fn tick<'py>(&self, py: Python<'py>, at: Option<f64>) -> PyResult<Option<Bound<'py, PyList>>> {
        let at = at_nanos(&self.clock, at)?;
        let ev = guard(py, || self.inner.tick_at(at))?;
        // `tick_at` already published to the router; the list is for the host's own callbacks.
        let l = PyList::empty(py);
        if let Some(e) = ev {
            l.append(event::to_py(py, &e)?)?;
            return Ok(Some(l));
        }
        Ok(None)
    }

    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    #[getter]
    fn within_seconds(&self) -> f64 {
        self.inner.within_nanos() as f64 / 1e9
    }

    #[getter]
    fn severity(&self) -> &'static str {
        self.inner.severity().as_str()
    }

    #[getter]
    fn firing(&self) -> bool {
        self.inner.is_firing()
    }

    #[getter]
    fn beats(&self) -> u64 {
        self.inner.beats()
    }

    #[getter]
    fn times_fired(&self) -> u64 {
        self.inner.times_fired()
    }

    #[getter]
    fn dedup_key(&self) -> &str {
        self.inner.dedup_key()
    }

    fn silent_seconds(&self) -> f64 {
        self.inner.silent_seconds()
    }
}
