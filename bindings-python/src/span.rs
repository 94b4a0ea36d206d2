//! `Span`: a span as a Python context manager. Entering makes it the current span (a contextvar
//! set), exiting restores the previous one and ends it in the core, where it is masked, sampled and
//! recorded. Only conversion here; names, ids, sampling and masking are the core's.

use crate::context::CallContext;
use crate::context_vars::{call_one, current, vars};
use crate::error::{config_error, guard};
use ferrule_core::telemetry::context::ContextRef;
use ferrule_core::telemetry::ids::TraceParent;
use ferrule_core::telemetry::pipeline::Pipeline;
use ferrule_core::telemetry::span::{keys, AttrValue, Attributes, SpanRole, Status};
use ferrule_core::telemetry::tracer::{SpanStart, Tracer};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

#[pyclass(name = "Span", module = "ferrule._ferrule")]
pub struct Span {
    pub start: SpanStart,
    name: String,
    role: SpanRole,
    attributes: Attributes,
    status: Option<Status>,
    pub context: Option<ContextRef>,
    token: Option<Py<PyAny>>,
    /// The OpenTelemetry context token while entered (interop on).
    otel_token: Option<Py<PyAny>>,
    ended: bool,
}

pub fn to_attr(key: &str, v: &Bound<'_, PyAny>) -> PyResult<AttrValue> {
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(AttrValue::Str(s.to_string_lossy().into_owned()));
    }
    if v.is_instance_of::<PyBool>() {
        return Ok(AttrValue::Bool(v.extract()?));
    }
    if v.is_instance_of::<PyInt>() {
        return Ok(match v.extract::<i64>() {
            Ok(i) => AttrValue::Int(i),
            Err(_) => AttrValue::Str(v.str()?.to_string_lossy().into_owned()),
        });
    }
    if v.is_instance_of::<PyFloat>() {
        return Ok(AttrValue::Float(v.extract()?));
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        if let Ok(l) = v.extract::<Vec<String>>() {
            return Ok(AttrValue::StrList(l));
        }
    }
    Err(PyTypeError::new_err(format!(
        "span attribute {key}={} is not allowed; allowed: str, int, float, bool or a list of str",
        v.get_type().name()?
    )))
}

fn error_type(exc_type: &Bound<'_, PyAny>) -> String {
    let py = exc_type.py();
    let q = exc_type
        .getattr(pyo3::intern!(py, "__qualname__"))
        .and_then(|q| q.extract::<String>())
        .unwrap_or_else(|_| "Exception".into());
    match exc_type
        .getattr(pyo3::intern!(py, "__module__"))
        .and_then(|m| m.extract::<String>())
    {
        Ok(m) if m != "builtins" => format!("{m}.{q}"),
        _ => q,
    }
}

impl Span {
    fn finish(&mut self, py: Python<'_>) -> PyResult<()> {
        if self.ended {
            return Ok(());
        }
        self.ended = true;
        let attributes = std::mem::take(&mut self.attributes);
        let name = std::mem::take(&mut self.name);
        let status = self.status.take().unwrap_or_default();
        let (start, role, ctx) = (self.start, self.role, self.context.clone());
        let rec = guard(py, || {
            Pipeline::global().end_span(&start, name, role, status, attributes, ctx)
        })?;
        if let (Some(r), Some(h)) = (rec, crate::otel_hooks::hooks()) {
            if let Some(f) = &h.on_end {
                let res = crate::telemetry::span_dict(py, &r).and_then(|d| f.call1(py, (d,)));
                if let Err(e) = res {
                    crate::otel_hooks::report(py, "on_end", e);
                }
            }
        }
        Ok(())
    }
}

/// Starting, entering and leaving a span from Rust: `Span(...)` / `with` and a wrapped call's
/// one crossing (`wrapped_call.rs`) share these.
impl Span {
    /// A started span. Its parent is `parent`, else the remote `traceparent`, else the current
    /// span (the context variable), else the application's OpenTelemetry span when the bridge is
    /// on. `context`: the `ferrule.context(...)` ids, when the caller already read them (`None`:
    /// read the context variable).
    pub(crate) fn begin(
        py: Python<'_>,
        name: String,
        role: SpanRole,
        attributes: Attributes,
        parent: Option<SpanStart>,
        traceparent: Option<&str>,
        context: Option<Option<ContextRef>>,
    ) -> PyResult<Span> {
        let (mut parent_start, mut ctx) = (parent, None);
        if let Some(v) = vars(py) {
            if parent_start.is_none() && traceparent.is_none() {
                if let Some(p) = current(py, &v.span_get)? {
                    parent_start = Some(p.cast::<Span>()?.borrow().start);
                }
            }
            if context.is_none() && crate::context_vars::contexts_in_use() {
                if let Some(c) = current(py, &v.context_get)? {
                    ctx = Some(c.cast::<CallContext>()?.get().inner.clone());
                }
            }
        }
        if let Some(c) = context {
            ctx = c;
        }
        // No ferrule parent: the application's current OpenTelemetry span, when the bridge is on.
        let mut app_parent: Option<String> = None;
        if parent_start.is_none() && traceparent.is_none() {
            if let Some(f) =
                crate::otel_hooks::hooks().and_then(|h| h.parent.as_ref().map(|p| p.clone_ref(py)))
            {
                match f.call0(py).and_then(|v| v.extract::<Option<String>>(py)) {
                    Ok(tp) => app_parent = tp,
                    Err(e) => crate::otel_hooks::report(py, "parent", e),
                }
            }
        }
        let traceparent = traceparent.or(app_parent.as_deref());
        let tracer = &Pipeline::global().tracer;
        let start = match (parent_start, traceparent.and_then(TraceParent::parse)) {
            (Some(p), _) => tracer.start(Some(&p)),
            (None, Some(remote)) => tracer.start_remote(&remote),
            (None, None) => tracer.start(None),
        };
        Ok(Span {
            start,
            name,
            role,
            attributes,
            status: None,
            context: ctx,
            token: None,
            otel_token: None,
            ended: false,
        })
    }

    /// What `with span:` does on entry: the span becomes the current one (and the application's
    /// current OpenTelemetry span, when the bridge is on).
    pub(crate) fn enter(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        if let Some(v) = vars(py) {
            let token = call_one(py, &v.span_set, slf.as_any())?;
            slf.borrow_mut().token = Some(token.unbind());
        }
        if let Some(f) =
            crate::otel_hooks::hooks().and_then(|h| h.enter.as_ref().map(|e| e.clone_ref(py)))
        {
            let s = slf.borrow().start;
            match f.call1(
                py,
                (s.trace_id.to_string(), s.span_id.to_string(), s.sampled),
            ) {
                Ok(t) => slf.borrow_mut().otel_token = Some(t),
                Err(e) => crate::otel_hooks::report(py, "enter", e),
            }
        }
        Ok(())
    }

    /// What leaving `with span:` does: the previous span is current again, and the span ends,
    /// failed when `exc_type` is set (status error with `exc`'s text, `error.type` its class).
    pub(crate) fn exit(
        &mut self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        exc: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        if let Some(t) = self.otel_token.take() {
            if let Some(f) =
                crate::otel_hooks::hooks().and_then(|h| h.exit.as_ref().map(|e| e.clone_ref(py)))
            {
                if let Err(e) = f.call1(py, (t,)) {
                    crate::otel_hooks::report(py, "exit", e);
                }
            }
        }
        if let (Some(t), Some(v)) = (self.token.take(), vars(py)) {
            call_one(py, &v.span_reset, t.bind(py))?;
        }
        if let Some(t) = exc_type {
            if !matches!(self.status, Some(Status::Error(_))) {
                let msg = exc.map(|e| e.str().map(|s| s.to_string())).transpose()?;
                self.status = Some(Status::Error(msg.unwrap_or_default()));
            }
            if !self.attributes.iter().any(|(k, _)| k == keys::ERROR_TYPE) {
                self.attributes
                    .push((keys::ERROR_TYPE.into(), AttrValue::Str(error_type(t))));
            }
        }
        self.finish(py)
    }
}

/// What `record_call` needs to fill and end a call's span from Rust.
impl Span {
    pub(crate) fn is_ended(&self) -> bool {
        self.ended
    }
    pub(crate) fn attributes_mut(&mut self) -> &mut Attributes {
        &mut self.attributes
    }
    pub(crate) fn put_content(&mut self, input: Option<&str>, output: Option<&str>, always: bool) {
        self.set_content(input, output, always);
    }
    pub(crate) fn fail(&mut self, exc: &Bound<'_, PyAny>) -> PyResult<()> {
        self.record_exception(exc)
    }
    pub(crate) fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        self.finish(py)
    }
}

impl crate::arg::Allowed for PyRef<'_, Span> {
    const ALLOWED: &'static str = "a Span";
}

/// `attributes=`: a dict (borrowed, not copied) or None; anything else is refused as a wrong type.
fn dict_arg<'a, 'py>(obj: &'a Bound<'py, PyAny>) -> PyResult<Option<&'a Bound<'py, PyDict>>> {
    if obj.is_none() {
        return Ok(None);
    }
    obj.cast::<PyDict>()
        .map(Some)
        .map_err(|e| crate::arg::wrong_type(obj, "a dict", None, true, e.into()))
}

#[pymethods]
impl Span {
    /// A span named `name`, or `"{operation} {model}"` per the GenAI conventions. Its parent is the
    /// current span (or `parent`, or a remote `traceparent` header); its context ids come from the
    /// current `ferrule.context(...)`.
    #[new]
    #[pyo3(signature = (name=None, *, operation=None, model=None, provider=None, role="call",
        attributes=None, parent=None, traceparent=None))]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        py: Python<'_>,
        #[pyo3(from_py_with = crate::arg::optional::<String>)] name: Option<String>,
        #[pyo3(from_py_with = crate::arg::optional::<&str>)] operation: Option<&str>,
        #[pyo3(from_py_with = crate::arg::optional::<&str>)] model: Option<&str>,
        #[pyo3(from_py_with = crate::arg::optional::<&str>)] provider: Option<&str>,
        #[pyo3(from_py_with = crate::arg::value::<&str>)] role: &str,
        #[pyo3(from_py_with = dict_arg)] attributes: Option<&Bound<'_, PyDict>>,
        #[pyo3(from_py_with = crate::arg::optional::<PyRef<'_, Span>>)] parent: Option<
            PyRef<'_, Span>,
        >,
        #[pyo3(from_py_with = crate::arg::optional::<&str>)] traceparent: Option<&str>,
    ) -> PyResult<Self> {
        let Some(role) = SpanRole::parse(role) else {
            return Err(config_error(
                py,
                format!(
                    "span: role={role:?} is out of range; allowed: {}",
                    SpanRole::ALLOWED
                ),
            ));
        };
        let name = match name.or_else(|| Tracer::genai_name(operation, model)) {
            Some(n) => n,
            None => {
                return Err(config_error(
                    py,
                    "span: name=None needs operation= or model= to build the span name".into(),
                ))
            }
        };
        let mut attrs = Tracer::genai_attributes(operation, model, provider);
        if let Some(d) = attributes {
            for (k, v) in d.iter() {
                let k: String = k.extract()?;
                let v = to_attr(&k, &v)?;
                attrs.push((k.into(), v));
            }
        }
        Span::begin(
            py,
            name,
            role,
            attrs,
            parent.map(|p| p.start),
            traceparent,
            None,
        )
    }

    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        Span::enter(&slf)?;
        Ok(slf)
    }

    #[pyo3(signature = (exc_type=None, exc=None, _tb=None))]
    fn __exit__(
        &mut self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.exit(py, exc_type.filter(|t| !t.is_none()), exc)?;
        Ok(false)
    }

    /// Ends the span (for integrations that cannot use `with`); a second call does nothing.
    #[pyo3(signature = (*, status=None, error=None, attributes=None))]
    fn end(
        &mut self,
        py: Python<'_>,
        status: Option<&str>,
        error: Option<&Bound<'_, PyAny>>,
        attributes: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        if let Some(a) = attributes {
            self.set_attributes(a)?;
        }
        if let Some(s) = status {
            self.set_status(py, s, None)?;
        }
        if let Some(e) = error {
            self.record_exception(e)?;
        }
        self.finish(py)
    }

    fn set_attribute(&mut self, key: String, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = to_attr(&key, value)?;
        if let Some(slot) = self.attributes.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = v;
        } else {
            self.attributes.push((key.into(), v));
        }
        Ok(())
    }

    fn set_attributes(&mut self, attributes: &Bound<'_, PyDict>) -> PyResult<()> {
        for (k, v) in attributes.iter() {
            self.set_attribute(k.extract()?, &v)?;
        }
        Ok(())
    }

    /// `gen_ai.usage.input_tokens` / `output_tokens`.
    #[pyo3(signature = (input_tokens=None, output_tokens=None))]
    fn set_usage(&mut self, input_tokens: Option<i64>, output_tokens: Option<i64>) {
        if let Some(n) = input_tokens {
            self.attributes
                .push((keys::INPUT_TOKENS.into(), AttrValue::Int(n)));
        }
        if let Some(n) = output_tokens {
            self.attributes
                .push((keys::OUTPUT_TOKENS.into(), AttrValue::Int(n)));
        }
    }

    /// Prompt and response text: kept only when `configure(capture_content=True)` (or `always`,
    /// for a caller that opted in itself), masked and cut to `content_max_chars`. Returns whether
    /// anything was captured.
    #[pyo3(signature = (input=None, output=None, *, always=false))]
    fn set_content(&mut self, input: Option<&str>, output: Option<&str>, always: bool) -> bool {
        let tracer = &Pipeline::global().tracer;
        let mut any = false;
        for (key, text) in [
            (keys::INPUT_MESSAGES, input),
            (keys::OUTPUT_MESSAGES, output),
        ] {
            let captured = match text {
                Some(t) if always => Some(tracer.masked_content(t)),
                Some(t) => tracer.content(t),
                None => None,
            };
            if let Some(c) = captured {
                self.attributes.push((key.into(), AttrValue::Str(c)));
                any = true;
            }
        }
        any
    }

    /// `"ok"`, `"error"` or `"unset"`, with an optional description for errors.
    #[pyo3(signature = (status, description=None))]
    fn set_status(
        &mut self,
        py: Python<'_>,
        status: &str,
        description: Option<String>,
    ) -> PyResult<()> {
        self.status = Some(match status {
            "ok" => Status::Ok,
            "unset" => Status::Unset,
            "error" => Status::Error(description.unwrap_or_default()),
            other => {
                return Err(config_error(
                    py,
                    format!(
                        "span: status={other:?} is out of range; allowed: one of ok, error, unset"
                    ),
                ))
            }
        });
        Ok(())
    }

    /// Marks the span failed by `exc`: status error and `error.type` = its class name.
    fn record_exception(&mut self, exc: &Bound<'_, PyAny>) -> PyResult<()> {
        let t = exc.get_type();
        self.status = Some(Status::Error(exc.str()?.to_string()));
        self.attributes.retain(|(k, _)| k != keys::ERROR_TYPE);
        self.attributes.push((
            keys::ERROR_TYPE.into(),
            AttrValue::Str(error_type(t.as_any())),
        ));
        Ok(())
    }

    #[getter]
    fn trace_id(&self) -> String {
        self.start.trace_id.to_string()
    }
    #[getter]
    fn span_id(&self) -> String {
        self.start.span_id.to_string()
    }
    #[getter]
    fn parent_span_id(&self) -> Option<String> {
        self.start.parent_span_id.map(|p| p.to_string())
    }
    #[getter]
    fn request_id(&self) -> String {
        self.start.request_id.to_string()
    }
    #[getter]
    fn sampled(&self) -> bool {
        self.start.sampled
    }
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }
    #[getter]
    fn ended(&self) -> bool {
        self.ended
    }
    /// The W3C `traceparent` header value to inject into an outgoing request.
    #[getter]
    fn traceparent(&self) -> String {
        self.start.traceparent().header()
    }

    fn __repr__(&self) -> String {
        format!(
            "<Span {:?} trace_id={} span_id={}>",
            self.name, self.start.trace_id, self.start.span_id
        )
    }
}
