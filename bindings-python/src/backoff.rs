//! `Backoff`: a validated backoff for `ferrule.Retry`, built by its static constructors. The formulas
//! and their checks are the core's; this only converts.

use crate::error::{guard, to_py};
use ferrule_core::random::Random;
use ferrule_core::{Backoff as CoreBackoff, Jitter};
use pyo3::prelude::*;

#[pyclass(frozen, name = "Backoff", module = "ferrule._ferrule")]
#[derive(Clone)]
pub struct Backoff {
    pub inner: CoreBackoff,
}

fn jitter(py: Python<'_>, s: &str) -> PyResult<Jitter> {
    Jitter::parse("Backoff", s).map_err(|e| to_py(py, e))
}

#[pymethods]
impl Backoff {
    /// The same `delay` seconds before every retry.
    #[staticmethod]
    #[pyo3(signature = (delay=1.0, *, jitter="none"))]
    fn constant(
        py: Python<'_>,
        #[pyo3(from_py_with = crate::arg::value::<f64>)] delay: f64,
        #[pyo3(from_py_with = crate::arg::value::<&str>)] jitter: &str,
    ) -> PyResult<Self> {
        let j = self::jitter(py, jitter)?;
        CoreBackoff::constant(delay, j)
            .map(|inner| Self { inner })
            .map_err(|e| to_py(py, e))
    }

    /// `initial + increment × (n − 1)` seconds before retry n, capped at `max`.
    #[staticmethod]
    #[pyo3(signature = (initial=0.1, increment=0.1, max=10.0, *, jitter="none"))]
    fn linear(
        py: Python<'_>,
        #[pyo3(from_py_with = crate::arg::value::<f64>)] initial: f64,
        #[pyo3(from_py_with = crate::arg::value::<f64>)] increment: f64,
        #[pyo3(from_py_with = crate::arg::value::<f64>)] max: f64,
        #[pyo3(from_py_with = crate::arg::value::<&str>)] jitter: &str,
    ) -> PyResult<Self> {
        let j = self::jitter(py, jitter)?;
        CoreBackoff::linear(initial, increment, max, j)
            .map(|inner| Self { inner })
            .map_err(|e| to_py(py, e))
    }

    /// `initial × multiplier^(n − 1)` seconds before retry n, capped at `max`.
    #[staticmethod]
    #[pyo3(signature = (initial=0.1, multiplier=2.0, max=10.0, *, jitter="full"))]
    fn exponential(
        py: Python<'_>,
        #[pyo3(from_py_with = crate::arg::value::<f64>)] initial: f64,
        #[pyo3(from_py_with = crate::arg::value::<f64>)] multiplier: f64,
        #[pyo3(from_py_with = crate::arg::value::<f64>)] max: f64,
        #[pyo3(from_py_with = crate::arg::value::<&str>)] jitter: &str,
    ) -> PyResult<Self> {
        let j = self::jitter(py, jitter)?;
        CoreBackoff::exponential(initial, multiplier, max, j)
            .map(|inner| Self { inner })
            .map_err(|e| to_py(py, e))
    }

    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind().as_str()
    }

    #[getter]
    fn jitter(&self) -> &'static str {
        self.inner.jitter().as_str()
    }

    #[getter]
    fn initial(&self) -> f64 {
        self.inner.initial_seconds()
    }

    #[getter]
    fn max(&self) -> f64 {
        self.inner.max_seconds()
    }

    /// The unjittered delay before retry `n` (1 = the first retry), in seconds.
    fn nominal(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = crate::arg::value::<u32>)] n: u32,
    ) -> PyResult<f64> {
        guard(py, || self.inner.nominal_seconds(n))
    }

    /// A sample of the first `n` jittered delays, seeded: to see what a configuration does.
    #[pyo3(signature = (n, *, seed=0))]
    fn sample(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = crate::arg::value::<u32>)] n: u32,
        #[pyo3(from_py_with = crate::arg::value::<u64>)] seed: u64,
    ) -> PyResult<Vec<f64>> {
        guard(py, || {
            let r = Random::seeded(seed);
            let mut prev = 0.0;
            (1..=n.min(10_000))
                .map(|i| {
                    prev = self.inner.delay_seconds(i, prev, &r);
                    prev
                })
                .collect()
        })
    }

    fn __repr__(&self) -> String {
        let b = &self.inner;
        format!(
            "Backoff.{}(initial={}, step={}, max={}, jitter={:?})",
            b.kind().as_str(),
            b.initial_seconds(),
            b.step(),
            b.max_seconds(),
            b.jitter().as_str()
        )
    }
}
