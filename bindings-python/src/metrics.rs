//! `Counter`, `Gauge`, `Histogram` and their per-label-set handles, over the core's default
//! registry, plus `metrics_text`. Conversion only: naming rules, caps and formats live in the core.

use crate::error::{guard, to_py};
use crate::gil::without_gil;
use ferrule_core::telemetry::{counter, gauge, histogram};
use ferrule_core::{default_registry, metrics_text as core_text, Error, MetricsFormat};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyString, PyTuple};
use std::borrow::Cow;

fn text<'a>(v: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, str>> {
    match v.cast::<PyString>() {
        Ok(s) => Ok(s.to_string_lossy()),
        Err(_) => Ok(Cow::Owned(v.str()?.to_string_lossy().into_owned())),
    }
}

/// Label values in declaration order, from positional values or keyword label names.
fn label_values(
    py: Python<'_>,
    component: &'static str,
    names: &[String],
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Vec<String>> {
    let kw = kwargs.filter(|k| !k.is_empty());
    match kw {
        Some(_) if !args.is_empty() => Err(to_py(
            py,
            Error::conflict(
                component,
                "labels",
                "positional and keyword values",
                "one or the other",
            ),
        )),
        Some(kw) => {
            let mut out = Vec::with_capacity(names.len());
            for n in names {
                match kw.get_item(n)? {
                    Some(v) => out.push(text(&v)?.into_owned()),
                    None => {
                        return Err(to_py(
                            py,
                            Error::conflict(
                                component,
                                "labels",
                                format!("{:?}", kw.keys().to_string()),
                                format!("exactly the label names ({})", names.join(", ")),
                            ),
                        ))
                    }
                }
            }
            if kw.len() != names.len() {
                return Err(to_py(
                    py,
                    Error::conflict(
                        component,
                        "labels",
                        kw.keys().to_string(),
                        format!("exactly the label names ({})", names.join(", ")),
                    ),
                ));
            }
            Ok(out)
        }
        None => args.iter().map(|v| text(&v).map(Cow::into_owned)).collect(),
    }
}

fn names(labels: &[String]) -> Vec<&str> {
    labels.iter().map(String::as_str).collect()
}

fn max_series(py: Python<'_>, component: &'static str, v: Option<i64>) -> PyResult<Option<usize>> {
    v.map(|n| {
        ferrule_core::error::check::int(component, "max_series", n as i128, 1, 1_000_000)
            .map(|n| n as usize)
            .map_err(|e| to_py(py, e))
    })
    .transpose()
}

// ---- counter --------------------------------------------------------------------------------------

#[pyclass(frozen, name = "CounterChild", module = "ferrule._ferrule")]
pub struct CounterChild {
    h: counter::CounterHandle,
}

#[inline]
fn counter_add(
    py: Python<'_>,
    h: &counter::CounterHandle,
    amount: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    match amount {
        None => {
            h.inc();
            Ok(())
        }
        Some(a) if a.is_exact_instance_of::<PyInt>() => match a.extract::<u64>() {
            Ok(n) => {
                h.add(n);
                Ok(())
            }
            Err(_) => h.add_f64(a.extract::<f64>()?).map_err(|e| to_py(py, e)),
        },
        Some(a) => h.add_f64(a.extract::<f64>()?).map_err(|e| to_py(py, e)),
    }
}

#[pymethods]
impl CounterChild {
    /// Adds `amount` (default 1; must be >= 0).
    #[pyo3(signature = (amount=None))]
    #[inline]
    fn inc(&self, py: Python<'_>, amount: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        counter_add(py, &self.h, amount)
    }

    #[getter]
    fn value(&self) -> f64 {
        self.h.get()
    }
}

#[pyclass(frozen, name = "Counter", module = "ferrule._ferrule")]
pub struct Counter {
    inner: counter::Counter,
    label_names: Vec<String>,
    /// The one series of an unlabelled counter, so `inc()` on the family skips the lookup.
    only: Option<counter::CounterHandle>,
}

#[pymethods]
impl Counter {
    #[new]
    #[pyo3(signature = (name, help, labels=Vec::new(), *, max_series=None))]
    fn new(
        py: Python<'_>,
        #[pyo3(from_py_with = crate::arg::value::<String>)] name: String,
        #[pyo3(from_py_with = crate::arg::value::<String>)] help: String,
        #[pyo3(from_py_with = crate::arg::value::<Vec<String>>)] labels: Vec<String>,
        #[pyo3(from_py_with = crate::arg::optional::<i64>)] max_series: Option<i64>,
    ) -> PyResult<Self> {
        let cap = self::max_series(py, "Counter", max_series)?;
        let inner = guard(py, || {
            default_registry().counter_with(&name, &help, &names(&labels), cap)
        })?
        .map_err(|e| to_py(py, e))?;
        let only = labels.is_empty().then(|| inner.handle().ok()).flatten();
        Ok(Self {
            inner,
            label_names: labels,
            only,
        })
    }

    /// The handle of one label set: `counter.labels("gpt-4o")` or `counter.labels(model="gpt-4o")`.
    /// Keep it and call `.inc()` on it on the hot path.
    #[pyo3(signature = (*args, **kwargs))]
    fn labels(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<CounterChild> {
        let v = label_values(py, "Counter", &self.label_names, args, kwargs)?;
        let h = guard(py, || self.inner.labels(&names(&v)))?.map_err(|e| to_py(py, e))?;
        Ok(CounterChild { h })
    }

    /// Adds `amount` to an unlabelled counter.
    #[pyo3(signature = (amount=None))]
    fn inc(&self, py: Python<'_>, amount: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        match &self.only {
            Some(h) => counter_add(py, h, amount),
            None => Err(unlabelled_only(py, "Counter", &self.label_names)),
        }
    }

    #[getter]
    fn name(&self) -> String {
        format!("{}_total", self.inner.desc().name)
    }

    #[getter]
    fn label_names(&self) -> Vec<String> {
        self.label_names.clone()
    }
}

fn unlabelled_only(py: Python<'_>, component: &'static str, names: &[String]) -> PyErr {
    to_py(
        py,
        Error::conflict(
            component,
            "labels",
            format!("({})", names.join(", ")),
            "a labelled metric is updated through .labels(...)",
        ),
    )
}

// ---- gauge ----------------------------------------------------------------------------------------

#[pyclass(frozen, name = "GaugeChild", module = "ferrule._ferrule")]
pub struct GaugeChild {
    h: gauge::GaugeHandle,
}

#[pymethods]
impl GaugeChild {
    fn set(&self, value: f64) {
        self.h.set(value);
    }

    #[pyo3(signature = (amount=1.0))]
    fn inc(&self, amount: f64) {
        self.h.add(amount);
    }

    #[pyo3(signature = (amount=1.0))]
    fn dec(&self, amount: f64) {
        self.h.add(-amount);
    }

    #[getter]
    fn value(&self) -> f64 {
        self.h.get()
    }
}

#[pyclass(frozen, name = "Gauge", module = "ferrule._ferrule")]
pub struct Gauge {
    inner: gauge::Gauge,
    label_names: Vec<String>,
    only: Option<gauge::GaugeHandle>,
}

impl Gauge {
    fn only(&self, py: Python<'_>) -> PyResult<&gauge::GaugeHandle> {
        self.only
            .as_ref()
            .ok_or_else(|| unlabelled_only(py, "Gauge", &self.label_names))
    }
}

#[pymethods]
impl Gauge {
    #[new]
    #[pyo3(signature = (name, help, labels=Vec::new(), *, max_series=None))]
    fn new(
        py: Python<'_>,
        #[pyo3(from_py_with = crate::arg::value::<String>)] name: String,
        #[pyo3(from_py_with = crate::arg::value::<String>)] help: String,
        #[pyo3(from_py_with = crate::arg::value::<Vec<String>>)] labels: Vec<String>,
        #[pyo3(from_py_with = crate::arg::optional::<i64>)] max_series: Option<i64>,
    ) -> PyResult<Self> {
        let cap = self::max_series(py, "Gauge", max_series)?;
        let inner = guard(py, || {
            default_registry().gauge_with(&name, &help, &names(&labels), cap)
        })?
        .map_err(|e| to_py(py, e))?;
        let only = labels.is_empty().then(|| inner.handle().ok()).flatten();
        Ok(Self {
            inner,
            label_names: labels,
            only,
        })
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn labels(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<GaugeChild> {
        let v = label_values(py, "Gauge", &self.label_names, args, kwargs)?;
        let h = guard(py, || self.inner.labels(&names(&v)))?.map_err(|e| to_py(py, e))?;
        Ok(GaugeChild { h })
    }

    fn set(&self, py: Python<'_>, value: f64) -> PyResult<()> {
        self.only(py)?.set(value);
        Ok(())
    }

    #[pyo3(signature = (amount=1.0))]
    fn inc(&self, py: Python<'_>, amount: f64) -> PyResult<()> {
        self.only(py)?.add(amount);
        Ok(())
    }

    #[pyo3(signature = (amount=1.0))]
    fn dec(&self, py: Python<'_>, amount: f64) -> PyResult<()> {
        self.only(py)?.add(-amount);
        Ok(())
    }

    #[getter]
    fn name(&self) -> String {
        self.inner.desc().name.clone()
    }

    #[getter]
    fn label_names(&self) -> Vec<String> {
        self.label_names.clone()
    }
}

// ---- histogram ------------------------------------------------------------------------------------

/// Default buckets: prometheus_client's, so a switch keeps dashboards.
const DEFAULT_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

#[inline]
fn observe(
    h: &histogram::HistogramHandle,
    value: f64,
    exemplar: Option<&Bound<'_, PyDict>>,
) -> PyResult<()> {
    match exemplar {
        None => h.observe(value),
        Some(d) => {
            let mut pairs: Vec<(String, String)> = Vec::with_capacity(d.len());
            for (k, v) in d.iter() {
                pairs.push((text(&k)?.into_owned(), text(&v)?.into_owned()));
            }
            let refs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            h.observe_with_exemplar(value, &refs);
        }
    }
    Ok(())
}

#[pyclass(frozen, name = "HistogramChild", module = "ferrule._ferrule")]
pub struct HistogramChild {
    h: histogram::HistogramHandle,
}

#[pymethods]
impl HistogramChild {
    /// Records `value`; `exemplar={"trace_id": ...}` keeps ids on the bucket (OpenMetrics), never as labels.
    #[pyo3(signature = (value, exemplar=None))]
    #[inline]
    fn observe(&self, value: f64, exemplar: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
        observe(&self.h, value, exemplar)
    }

    #[getter]
    fn count(&self) -> u64 {
        self.h.snapshot().count
    }

    #[getter]
    fn sum(&self) -> f64 {
        self.h.snapshot().sum
    }
}

#[pyclass(frozen, name = "Histogram", module = "ferrule._ferrule")]
pub struct Histogram {
    inner: histogram::Histogram,
    label_names: Vec<String>,
    only: Option<histogram::HistogramHandle>,
}

#[pymethods]
impl Histogram {
    #[new]
    #[pyo3(signature = (name, help, labels=Vec::new(), *, buckets=None, max_series=None))]
    fn new(
        py: Python<'_>,
        #[pyo3(from_py_with = crate::arg::value::<String>)] name: String,
        #[pyo3(from_py_with = crate::arg::value::<String>)] help: String,
        #[pyo3(from_py_with = crate::arg::value::<Vec<String>>)] labels: Vec<String>,
        #[pyo3(from_py_with = crate::arg::optional::<Vec<f64>>)] buckets: Option<Vec<f64>>,
        #[pyo3(from_py_with = crate::arg::optional::<i64>)] max_series: Option<i64>,
    ) -> PyResult<Self> {
        let cap = self::max_series(py, "Histogram", max_series)?;
        let mut b = buckets.unwrap_or_else(|| DEFAULT_BUCKETS.to_vec());
        if b.last() == Some(&f64::INFINITY) {
            b.pop(); // prometheus_client style lists end with +Inf; it is implied here
        }
        let inner = guard(py, || {
            default_registry().histogram_with(&name, &help, &names(&labels), &b, cap)
        })?
        .map_err(|e| to_py(py, e))?;
        let only = labels.is_empty().then(|| inner.handle().ok()).flatten();
        Ok(Self {
            inner,
            label_names: labels,
            only,
        })
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn labels(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<HistogramChild> {
        let v = label_values(py, "Histogram", &self.label_names, args, kwargs)?;
        let h = guard(py, || self.inner.labels(&names(&v)))?.map_err(|e| to_py(py, e))?;
        Ok(HistogramChild { h })
    }

    #[pyo3(signature = (value, exemplar=None))]
    fn observe(
        &self,
        py: Python<'_>,
        value: f64,
        exemplar: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        match &self.only {
            Some(h) => observe(h, value, exemplar),
            None => Err(unlabelled_only(py, "Histogram", &self.label_names)),
        }
    }

    #[getter]
    fn name(&self) -> String {
        self.inner.desc().name.clone()
    }

    #[getter]
    fn label_names(&self) -> Vec<String> {
        self.label_names.clone()
    }

    #[getter]
    fn buckets(&self) -> Vec<f64> {
        self.inner.bounds().to_vec()
    }
}

/// The default registry as Prometheus text 0.0.4, or OpenMetrics 1.0 when `openmetrics`.
#[pyfunction]
#[pyo3(signature = (openmetrics=false))]
pub fn metrics_text(py: Python<'_>, openmetrics: bool) -> PyResult<String> {
    let fmt = if openmetrics {
        MetricsFormat::OpenMetrics
    } else {
        MetricsFormat::Prometheus
    };
    // Rendering thousands of series takes a while and touches no Python object.
    guard(py, || without_gil(py, || core_text(fmt)))
}

/// The series cap for metrics declared from now on without their own `max_series`.
#[pyfunction]
pub fn set_default_max_series(
    py: Python<'_>,
    #[pyo3(from_py_with = crate::arg::value::<i64>)] n: i64,
) -> PyResult<()> {
    let n = ferrule_core::error::check::int("set_default_max_series", "n", n as i128, 1, 1_000_000)
        .map_err(|e| to_py(py, e))?;
    default_registry()
        .set_default_max_series(n as usize)
        .map_err(|e| to_py(py, e))
}
