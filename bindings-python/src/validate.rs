//! JSON validation for the Python host layer (`ferrule/validate.py`): `JsonValidatorCore` (parse,
//! repair, schema check in one call), `repair_json`, the outcome counters, and the conversion of a
//! parsed value and of a refusal into Python objects. Only conversion here.

use crate::error::guard;
use crate::gil::without_gil;
use crate::json_to_python::{tape_to_python, to_python};
use ferrule_core::validate::{
    self, stats, Failure, JsonValidator, Limits, Repair as CoreRepair, RepairKind, RepairMode,
    Schema, Verdict,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyType};

const C: &str = "JsonValidator";
/// Inputs at least this long are parsed with the GIL released: below it, releasing costs more
/// than it frees.
const DETACH_BYTES: usize = 64 * 1024;

static VALIDATION_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// One repair applied to a model's output.
#[pyclass(frozen, eq, name = "Repair", module = "ferrule._ferrule")]
#[derive(PartialEq)]
pub struct Repair {
    #[pyo3(get)]
    kind: &'static str,
    #[pyo3(get)]
    detail: String,
    #[pyo3(get)]
    line: u32,
    #[pyo3(get)]
    column: u32,
    #[pyo3(get)]
    offset: usize,
}

#[pymethods]
impl Repair {
    fn __repr__(&self) -> String {
        format!(
            "Repair(kind={:?}, line={}, column={}, detail={:?})",
            self.kind, self.line, self.column, self.detail
        )
    }
}

fn repairs_list<'py>(py: Python<'py>, repairs: &[CoreRepair]) -> PyResult<Bound<'py, PyList>> {
    let items = repairs
        .iter()
        .map(|r| {
            Py::new(
                py,
                Repair {
                    kind: r.kind.as_str(),
                    detail: r.detail.clone(),
                    line: r.line,
                    column: r.column,
                    offset: r.offset,
                },
            )
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

/// `ferrule.ValidationError` for a refused output; `raw` is the text as the model wrote it.
pub fn validation_error(py: Python<'_>, f: &Failure, raw: Option<&str>) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let errors = PyList::empty(py);
        for v in &f.violations {
            let d = PyDict::new(py);
            d.set_item("path", &v.path)?;
            d.set_item("message", &v.message)?;
            errors.append(d)?;
        }
        let cls = VALIDATION_ERROR.import(py, "ferrule.errors", "ValidationError")?;
        let e = cls.call1((
            f.summary(),
            errors,
            repairs_list(py, &f.repairs)?,
            raw,
            f.kind.as_str(),
            f.line,
            f.column,
        ))?;
        Ok(PyErr::from_value(e))
    };
    build().unwrap_or_else(|e| e)
}

fn limits(max_input_bytes: i64, max_depth: i64) -> ferrule_core::Result<Limits> {
    Limits::new(C, max_input_bytes as i128, max_depth as i128)
}

/// Parse, repair (if allowed) and schema check of model output, with options fixed at construction.
#[pyclass(frozen, name = "JsonValidatorCore", module = "ferrule._ferrule")]
pub struct JsonValidatorCore {
    inner: JsonValidator,
    /// Host callbacks that log (the host owns logging): `on_repaired(repairs, raw)` after a repair,
    /// `on_refused(error)` before a `ValidationError` is raised.
    on_repaired: Option<Py<PyAny>>,
    on_refused: Option<Py<PyAny>>,
}

#[pymethods]
impl JsonValidatorCore {
    #[new]
    #[pyo3(signature = (schema_json=None, *, repair=true, repair_mode="safe", max_input_bytes=10_485_760, max_depth=128, name=None, on_repaired=None, on_refused=None))]
    #[allow(clippy::too_many_arguments)] // keyword-only options, as the host passes them
    fn new(
        py: Python<'_>,
        schema_json: Option<&str>,
        repair: bool,
        repair_mode: &str,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] max_input_bytes: i64,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] max_depth: i64,
        name: Option<&str>,
        on_repaired: Option<Py<PyAny>>,
        on_refused: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let build = || -> ferrule_core::Result<JsonValidator> {
            let limits = limits(max_input_bytes, max_depth)?;
            let mode = RepairMode::from_param(C, "repair_mode", repair_mode)?;
            let schema = schema_json.map(Schema::from_json).transpose()?;
            let name = name.unwrap_or(validate::validator::DEFAULT_NAME);
            Ok(JsonValidator::named(name, schema, repair, limits).with_mode(mode))
        };
        let inner = guard(py, build)?.map_err(|e| crate::error::to_py(py, e))?;
        Ok(Self {
            inner,
            on_repaired,
            on_refused,
        })
    }

    /// Returns the value (Python objects, built once). Raises `ValidationError` when the text is
    /// refused. Counts the outcome; calls `on_repaired` / `on_refused` to log.
    fn validate<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'py, PyString>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s = text.to_str()?; // borrowed UTF-8 view (abi3-py310): no copy
        let inner = &self.inner;
        // The steady path: the core checks the text in place (syntax, limits, schema) and counts
        // it; the objects are built once, from that same check (the text is read once).
        let tape = if s.len() >= DETACH_BYTES {
            guard(py, || without_gil(py, || inner.accept_tape(s)))?
        } else {
            guard(py, || inner.accept_tape(s))?
        };
        if let Some(tape) = tape {
            return tape_to_python(py, &tape);
        }
        let r = if s.len() >= DETACH_BYTES {
            guard(py, || without_gil(py, || inner.validate(s)))?
        } else {
            guard(py, || inner.validate(s))?
        };
        match r {
            Ok(v) => {
                let value = to_python(py, &v.value)?;
                if !v.repairs.is_empty() {
                    if let Some(cb) = &self.on_repaired {
                        cb.call1(py, (repairs_list(py, &v.repairs)?, text))?;
                    }
                }
                Ok(value)
            }
            Err(f) => {
                let err = validation_error(py, &f, Some(s));
                if let Some(cb) = &self.on_refused {
                    cb.call1(py, (err.value(py),))?;
                }
                Err(err)
            }
        }
    }

    /// Counts an outcome decided in the host (a pydantic model's own validation, a re-ask) under
    /// this validator's name: `verdict` is `valid`, `repaired`, `invalid` or `reasked`.
    #[pyo3(signature = (verdict, repair_kinds=None))]
    fn record(&self, verdict: &str, repair_kinds: Option<Vec<String>>) -> PyResult<()> {
        let v = Verdict::parse(verdict).ok_or_else(|| {
            PyValueError::new_err(format!(
                "record: verdict={verdict:?} is not allowed; allowed: valid, repaired, invalid, reasked"
            ))
        })?;
        let kinds: Vec<RepairKind> = repair_kinds
            .unwrap_or_default()
            .iter()
            .filter_map(|k| RepairKind::ALL.iter().copied().find(|r| r.as_str() == k))
            .collect();
        self.inner.record(v, &kinds);
        Ok(())
    }

    /// Counts one output the host found valid as given (pydantic's own validation): `record`
    /// without its argument parsing, on the steady path of `parse_json(schema=Model)`.
    fn record_valid(&self) {
        self.inner.record(Verdict::Valid, &[]);
    }

    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    #[getter]
    fn repair(&self) -> bool {
        self.inner.repairs()
    }

    #[getter]
    fn repair_mode(&self) -> &'static str {
        self.inner.mode().as_str()
    }

    #[getter]
    fn max_input_bytes(&self) -> usize {
        self.inner.limits().max_input_bytes
    }

    #[getter]
    fn max_depth(&self) -> usize {
        self.inner.limits().max_depth
    }
}

/// Repairs `text` into strict JSON: `(text, repairs, omitted)`. `mode` is `"safe"` (refuses where
/// the text admits two readings) or `"lenient"` (guesses there, reporting each guess). Raises
/// `ValidationError` (kind `parse` or `limit`) when it cannot. Counts nothing: the caller decides
/// what a repair means for its validation.
#[pyfunction]
#[pyo3(signature = (text, *, mode="safe", max_input_bytes=10_485_760, max_depth=128))]
pub fn repair_json<'py>(
    py: Python<'py>,
    text: &Bound<'py, PyString>,
    mode: &str,
    #[pyo3(from_py_with = crate::arg::value::<i64>)] max_input_bytes: i64,
    #[pyo3(from_py_with = crate::arg::value::<i64>)] max_depth: i64,
) -> PyResult<(String, Bound<'py, PyList>, u64)> {
    let (lim, mode) = limits(max_input_bytes, max_depth)
        .and_then(|lim| Ok((lim, RepairMode::from_option("repair_json", mode)?)))
        .map_err(|e| crate::error::to_py(py, e))?;
    let s = text.to_str()?; // borrowed UTF-8 view (abi3-py310): no copy
    let r = if s.len() >= DETACH_BYTES {
        guard(py, || {
            without_gil(py, || validate::repair_with(s, &lim, mode))
        })?
    } else {
        guard(py, || validate::repair_with(s, &lim, mode))?
    };
    match r {
        Ok(r) => Ok((r.text, repairs_list(py, &r.repairs)?, r.omitted)),
        Err(f) => Err(validation_error(py, &f, Some(s))),
    }
}

/// The process-wide validation counts.
#[pyfunction]
pub fn validation_stats(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let s = stats::snapshot();
    let d = PyDict::new(py);
    d.set_item("valid", s.valid)?;
    d.set_item("repaired", s.repaired)?;
    d.set_item("invalid", s.invalid)?;
    d.set_item("reasked", s.reasked)?;
    let by_kind = PyDict::new(py);
    for (k, n) in s.repairs {
        by_kind.set_item(k.as_str(), n)?;
    }
    d.set_item("repairs", by_kind)?;
    Ok(d)
}
