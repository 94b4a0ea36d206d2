//! `record_call`: one crossing per finished LLM call. Python objects (the SDK's request keywords
//! and response, or a stream's chunks, and the exception) are read through `PyValue`, the core's
//! `call::read::Value` over dicts and attributes; the core reads the fields, builds the record,
//! records it everywhere, and says which attributes the call's span gets. Conversion only.

use crate::error::to_py;
use crate::fastcall::{finish, Params};
use crate::span::Span;
use ferrule_core::call::read::{self, ResponseFields, Value};
use ferrule_core::call::{self, ChunkTimes, ErrorInfo, LlmCall, Message};
use ferrule_core::telemetry::pipeline::Pipeline;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use std::time::Duration;

/// A Python object seen through field look-ups: a dict's keys, else an SDK object's attributes
/// (its `__dict__` first: pydantic models keep their fields there, and a miss raises nothing).
/// The dicts a look-up reads are found once per object, not once per field: the core probes
/// about 40 names of a response, most of them absent from any one provider's shape.
pub struct PyValue<'py> {
    pub obj: Bound<'py, PyAny>,
    /// The dict itself, or the object's `__dict__` (None when it has none), found at the first
    /// look-up: most values read are strings and numbers, never looked into.
    fields: std::cell::OnceCell<Option<Bound<'py, PyDict>>>,
    /// For an object: its pydantic extras, read at the first miss in `fields`.
    extra: std::cell::OnceCell<Extra<'py>>,
}

enum Extra<'py> {
    /// A dict: a name not among its keys is absent.
    Dict,
    /// A pydantic model: undeclared fields are in this dict (None when it keeps none), and a
    /// name in neither dict is absent.
    Pydantic(Option<Bound<'py, PyDict>>),
    /// Any other object: `getattr`.
    Attributes,
}

impl<'py> PyValue<'py> {
    pub fn new(obj: Bound<'py, PyAny>) -> Self {
        Self {
            obj,
            fields: std::cell::OnceCell::new(),
            extra: std::cell::OnceCell::new(),
        }
    }

    fn fields(&self) -> Option<&Bound<'py, PyDict>> {
        self.fields
            .get_or_init(|| match self.obj.cast::<PyDict>() {
                Ok(d) => {
                    let _ = self.extra.set(Extra::Dict);
                    Some(d.clone())
                }
                Err(_) => self
                    .obj
                    .getattr_opt(pyo3::intern!(self.obj.py(), "__dict__"))
                    .ok()
                    .flatten()
                    .and_then(|d| d.cast_into::<PyDict>().ok()),
            })
            .as_ref()
    }
}

/// Hashes a key that is already a well-spread integer (a literal's address): SipHash over it cost
/// more than the dict look-up it serves.
#[derive(Default)]
struct AddressHasher(u64);

impl std::hash::Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Names =
    std::collections::HashMap<usize, Py<PyString>, std::hash::BuildHasherDefault<AddressHasher>>;

thread_local! {
    /// Field names as interned Python strings, by the address of their literal: a look-up then
    /// neither allocates a string nor hashes one (interned strings compare by identity).
    static NAMES: std::cell::RefCell<Names> = Default::default();
}

fn name<'py>(py: Python<'py>, name: &'static str) -> Bound<'py, PyString> {
    NAMES.with(|n| {
        n.borrow_mut()
            .entry(name.as_ptr() as usize ^ (name.len() << 48))
            .or_insert_with(|| PyString::intern(py, name).unbind())
            .bind(py)
            .clone()
    })
}

impl<'py> Value for PyValue<'py> {
    fn field(&self, name: &'static str) -> Option<Self> {
        let py = self.obj.py();
        let name = self::name(py, name);
        let found = self.fields().and_then(|d| d.get_item(&name).ok().flatten());
        let v = match found {
            Some(v) => Some(v),
            None => {
                let extra = self.extra.get_or_init(|| {
                    match self
                        .obj
                        .getattr_opt(pyo3::intern!(py, "__pydantic_extra__"))
                    {
                        // A pydantic model (the SDKs' responses) keeps its declared fields in
                        // `__dict__` and undeclared ones in `__pydantic_extra__`; a name in
                        // neither is absent. `getattr` would answer it through pydantic's
                        // `__getattr__`, which raises: ~10 probes a call of fields another
                        // provider's shape has cost ~40 us per real SDK call.
                        Ok(Some(extra)) => Extra::Pydantic(extra.cast_into::<PyDict>().ok()),
                        _ => Extra::Attributes,
                    }
                });
                match extra {
                    Extra::Dict => None,
                    Extra::Pydantic(d) => d.as_ref().and_then(|d| d.get_item(&name).ok().flatten()),
                    Extra::Attributes => self.obj.getattr_opt(&name).ok().flatten(),
                }
            }
        };
        v.filter(|v| !v.is_none()).map(PyValue::new)
    }
    fn as_u64(&self) -> Option<u64> {
        if self.obj.is_instance_of::<PyBool>() {
            return None;
        }
        self.obj.cast::<PyInt>().ok()?.extract().ok()
    }
    fn as_f64(&self) -> Option<f64> {
        if self.obj.is_instance_of::<PyBool>() {
            return None;
        }
        if self.obj.is_instance_of::<PyInt>() || self.obj.is_instance_of::<PyFloat>() {
            return self.obj.extract().ok();
        }
        None
    }
    fn as_i64(&self) -> Option<i64> {
        if self.obj.is_instance_of::<PyBool>() {
            return None;
        }
        self.obj.cast::<PyInt>().ok()?.extract().ok()
    }
    fn as_bool(&self) -> Option<bool> {
        self.obj.cast::<PyBool>().ok().map(|b| b.is_true())
    }
    fn as_string(&self) -> Option<String> {
        Some(
            self.obj
                .cast::<PyString>()
                .ok()?
                .to_cow()
                .ok()?
                .into_owned(),
        )
    }
    fn is_list(&self) -> bool {
        self.obj.is_instance_of::<PyList>() || self.obj.is_instance_of::<PyTuple>()
    }
    fn items(&self, max: usize) -> Vec<Self> {
        if let Ok(l) = self.obj.cast::<PyList>() {
            return l.iter().take(max).map(PyValue::new).collect();
        }
        if let Ok(t) = self.obj.cast::<PyTuple>() {
            return t.iter().take(max).map(PyValue::new).collect();
        }
        Vec::new()
    }
    /// `json.dumps(v, separators=(",", ":"), ensure_ascii=False)`: compact, as serde_json and
    /// `JSON.stringify` write it, so both hosts give the same text. None when it cannot be.
    fn to_json(&self) -> Option<String> {
        let py = self.obj.py();
        let dumps = py.import("json").ok()?.getattr("dumps").ok()?;
        let kw = PyDict::new(py);
        kw.set_item("separators", (",", ":")).ok()?;
        kw.set_item("ensure_ascii", false).ok()?;
        dumps.call((&self.obj,), Some(&kw)).ok()?.extract().ok()
    }
}

/// A stream's chunks, folded as they are read: model, id, finish reasons, the usage of the final
/// chunk, the time to the first chunk and (when content is captured) the text.
#[pyclass(name = "CallStream", module = "ferrule._ferrule")]
pub struct CallStream {
    fields: ResponseFields,
    started_nanos: u64,
    first: Option<Duration>,
    times: ChunkTimes,
    // The host hands in every chunk's time (`text_chunks`) on its own clock; `chunk` then leaves
    // the gaps alone, so one stream never mixes two clocks.
    host_times: bool,
    collect: bool,
}

#[pymethods]
impl CallStream {
    /// Starts timing at `span`'s start (the call's), or now.
    #[new]
    #[pyo3(signature = (span=None, *, collect=false))]
    fn new(span: Option<PyRef<'_, Span>>, collect: bool) -> Self {
        let now = Pipeline::global().tracer.now_nanos();
        Self {
            fields: ResponseFields::default(),
            started_nanos: span.map_or(now, |s| s.start.start_nanos),
            first: None,
            times: ChunkTimes::default(),
            host_times: false,
            collect,
        }
    }

    /// Folds one chunk in; returns it, so the stream can yield what this returns. Its arrival
    /// time (one clock read) gives the time to the first chunk, then the time per chunk.
    fn chunk<'py>(&mut self, chunk: Bound<'py, PyAny>) -> Bound<'py, PyAny> {
        if self.first.is_none() || !self.host_times {
            let now = Pipeline::global().tracer.now_nanos();
            if self.first.is_none() {
                self.first = Some(Duration::from_nanos(now.saturating_sub(self.started_nanos)));
            }
            if !self.host_times {
                self.times.arrived(now as f64 * 1e-9);
            }
        }
        let v = PyValue::new(chunk);
        read::read_chunk(&v, &mut self.fields, self.collect);
        v.obj
    }

    /// What the host read itself (`ferrule.integrations.stream_fields`): `text`, the text of
    /// chunks that carry nothing else the record reads, in order; `at`, the times in seconds on the
    /// host's monotonic clock of every chunk since the last call, those folded by `chunk` included.
    /// One crossing for a batch of chunks; from the first call on, the host's times are the only ones.
    fn text_chunks(&mut self, text: &str, at: Vec<f64>) {
        if !self.host_times {
            self.host_times = true;
            self.times.restart();
        }
        if self.collect && !text.is_empty() {
            self.fields
                .text
                .get_or_insert_with(String::new)
                .push_str(text);
        }
        for t in at {
            self.times.arrived(t);
        }
    }

    /// A chunk arrived that the host reads itself (a LangChain token): its time only.
    fn arrived(&mut self) {
        let now = Pipeline::global().tracer.now_nanos();
        if self.first.is_none() {
            self.first = Some(Duration::from_nanos(now.saturating_sub(self.started_nanos)));
        }
        self.times.arrived(now as f64 * 1e-9);
    }

    /// The time to the first chunk in seconds, once one arrived.
    #[getter]
    fn time_to_first_chunk(&self) -> Option<f64> {
        self.first.map(|d| d.as_secs_f64())
    }

    /// The gaps between chunks so far: `(count, total seconds)` (each chunk after the first adds
    /// the time since the one before it, a resumed stream's wait at the seam included).
    #[getter]
    fn chunk_gaps(&self) -> (u64, f64) {
        (self.times.count(), self.times.sum())
    }

    /// The text streamed so far ("" unless made with `collect=True`): what a consumer was given.
    #[getter]
    fn text(&self) -> &str {
        self.fields.text.as_deref().unwrap_or("")
    }

    /// Whether a chunk said why the answer ended (a finish reason): a stream whose body ends
    /// without one was cut short.
    #[getter]
    fn finished(&self) -> bool {
        !self.fields.finish_reasons.is_empty()
    }

    /// The usage the stream reported so far (`input_tokens`, `output_tokens`), or None.
    #[getter]
    fn usage<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let t = &self.fields.tokens;
        if t.input.is_none() && t.output.is_none() {
            return Ok(None);
        }
        let d = PyDict::new(py);
        d.set_item("input_tokens", t.input)?;
        d.set_item("output_tokens", t.output)?;
        Ok(Some(d))
    }
}

static TIMEOUT_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn error_info<'a>(
    py: Python<'_>,
    e: &Bound<'_, PyAny>,
    type_name: &'a str,
    code: Option<&'a str>,
) -> ErrorInfo<'a> {
    let is_timeout = TIMEOUT_ERROR
        .import(py, "builtins", "TimeoutError")
        .map(|t| e.is_instance(t).unwrap_or(false))
        .unwrap_or(false);
    ErrorInfo {
        type_name,
        code,
        is_timeout,
    }
}

static PARAMS: Params<20> = Params {
    function: "record_call",
    names: [
        "span",
        "operation",
        "provider",
        "request",
        "response",
        "stream",
        "error",
        "duration_seconds",
        "attempts",
        "fell_back",
        "template",
        "synthetic",
        "capture",
        "always_capture",
        "input_text",
        "server_address",
        "server_port",
        "response_model",
        "time_to_first_chunk",
        "reservation",
    ],
    positional: 3,
    extra: false,
    interned: PyOnceLock::new(),
};

const DOC: &std::ffi::CStr = c"record_call(span, operation, provider, *, request=None, response=None, stream=None, error=None, duration_seconds=None, attempts=None, fell_back=False, template=None, synthetic=False, capture=False, always_capture=False, input_text=None, server_address=None, server_port=None, response_model=None, time_to_first_chunk=None, reservation=None)\n--\n\nRecords one finished LLM call: reads the request keywords, the response (or the CallStream), the error;\nupdates the GenAI metrics, cost, prompt profile, inference log and observe() watchers; fills and ends\n`span`; settles `reservation`'s `tokens` limit from the usage. Returns the call's cost in US dollars.";

fn opt_str(v: &Option<Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    v.as_ref()
        .map(|v| crate::fastcall::extract::<String>("str", v))
        .transpose()
}

/// One finished call as the host hands it over: what `record_call` takes by keyword, and what a
/// wrapped call (`wrapped_call.rs`) holds from its start.
pub(crate) struct RecordIn<'py, 'a> {
    pub span: Option<&'a Bound<'py, Span>>,
    pub operation: &'a str,
    pub provider: &'a str,
    pub request: Option<Bound<'py, PyAny>>,
    pub response: Option<Bound<'py, PyAny>>,
    pub stream: Option<Bound<'py, PyAny>>,
    pub error: Option<Bound<'py, PyAny>>,
    pub duration: Option<f64>,
    pub attempts: Option<u32>,
    pub fell_back: bool,
    pub template: Option<String>,
    pub synthetic: bool,
    pub capture: bool,
    pub always: bool,
    pub input_text: Option<String>,
    pub server_address: Option<&'a str>,
    pub server_port: Option<u16>,
    pub response_model: Option<String>,
    pub time_to_first_chunk: Option<f64>,
    pub reservation: Option<Bound<'py, crate::rate_limit::Reservation>>,
}

unsafe extern "C" fn record_call_fastcall(
    _module: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls a METH_FASTCALL function with the interpreter attached.
    let py = unsafe { Python::assume_attached() };
    finish(py, || {
        // SAFETY: the arguments are exactly what CPython passed to this function.
        let mut a = unsafe { PARAMS.parse(py, args, nargs, kwnames) }?;
        let span = a.take(0);
        let operation: String = match a.take(1) {
            Some(v) => crate::fastcall::extract("operation", &v)?,
            None => "chat".into(),
        };
        let provider: String = match a.take(2) {
            Some(v) => crate::fastcall::extract("provider", &v)?,
            None => "openai".into(),
        };
        let truthy =
            |v: Option<Bound<'_, PyAny>>| v.is_some_and(|v| v.is_truthy().unwrap_or(false));
        let capture = truthy(a.take(12));
        let always = truthy(a.take(13));
        let request = a.take(3);
        let response = a.take(4);
        let stream = a.take(5);
        let error = a.take(6);
        let duration: Option<f64> = a
            .take(7)
            .map(|v| crate::fastcall::extract("duration_seconds", &v))
            .transpose()?;
        if let Some(d) = duration {
            ferrule_core::error::check::finite_non_negative("record_call", "duration_seconds", d)
                .map_err(|e| to_py(py, e))?;
        }
        let attempts: Option<u32> = a
            .take(8)
            .map(|v| crate::fastcall::extract("attempts", &v))
            .transpose()?;
        let fell_back = truthy(a.take(9));
        let template = opt_str(&a.take(10))?;
        let synthetic = truthy(a.take(11));
        let input_text = opt_str(&a.take(14))?;
        let server_address = opt_str(&a.take(15))?;
        let server_port: Option<u16> = a
            .take(16)
            .map(|v| crate::fastcall::extract("server_port", &v))
            .transpose()?;
        let response_model = opt_str(&a.take(17))?;
        let time_to_first_chunk = match a.take(18) {
            Some(t) => {
                let t: f64 = crate::fastcall::extract("time_to_first_chunk", &t)?;
                ferrule_core::error::check::finite_non_negative(
                    "record_call",
                    "time_to_first_chunk",
                    t,
                )
                .map_err(|e| to_py(py, e))?;
                Some(t)
            }
            None => None,
        };
        let reservation = a
            .take(19)
            .map(|r| r.cast_into::<crate::rate_limit::Reservation>())
            .transpose()?;
        let span = span.map(|s| s.cast_into::<Span>()).transpose()?;
        let cost = record_into(
            py,
            RecordIn {
                span: span.as_ref(),
                operation: &operation,
                provider: &provider,
                request,
                response,
                stream,
                error,
                duration,
                attempts,
                fell_back,
                template,
                synthetic,
                capture,
                always,
                input_text,
                server_address: server_address.as_deref(),
                server_port,
                response_model,
                time_to_first_chunk,
                reservation,
            },
        )?;
        Ok(PyFloat::new(py, cost).into_any())
    })
}

/// Records one finished call (see `record_call`) and fills and ends its span; returns its cost.
pub(crate) fn record_into(py: Python<'_>, r: RecordIn<'_, '_>) -> PyResult<f64> {
    let RecordIn {
        span,
        operation,
        provider,
        request,
        response,
        stream,
        error,
        duration,
        attempts,
        fell_back,
        template,
        synthetic,
        capture,
        always,
        input_text,
        server_address,
        server_port,
        response_model,
        time_to_first_chunk,
        reservation,
    } = r;
    let request = request.map(|r| read::read_request(&PyValue::new(r), operation));
    // One answer in `sample_every` is read for observe()'s drift, even without content capture.
    let sampled = call::observe::sample_answer();
    let mut response = match (response, stream) {
        (Some(r), Some(s)) => {
            // A stream whose answer the host read whole (a LangChain run): the response's
            // fields, the stream's times.
            let s = s.cast_into::<CallStream>()?;
            let s = s.borrow();
            (
                read::read_response(&PyValue::new(r), capture || sampled),
                s.first,
                Some(s.times),
            )
        }
        (None, Some(s)) => {
            let s = s.cast_into::<CallStream>()?;
            let s = s.borrow();
            (s.fields.clone(), s.first, Some(s.times))
        }
        (Some(r), None) => (
            read::read_response(&PyValue::new(r), capture || sampled),
            None,
            None,
        ),
        (None, None) => (ResponseFields::default(), None, None),
    };
    if let Some(m) = response_model {
        response.0.model = Some(m);
    }
    if let Some(t) = time_to_first_chunk {
        response.1 = Some(Duration::from_secs_f64(t));
    }
    let mut span_ref = span.map(|s| s.borrow_mut());
    let start = span_ref.as_ref().map(|s| s.start);
    let ctx = span_ref.as_ref().and_then(|s| s.context.clone());
    let (type_name, code) = match &error {
        Some(e) => {
            let t = e.get_type();
            let name = t.name()?.to_cow()?.into_owned();
            let code = e
                .getattr_opt(pyo3::intern!(py, "code"))
                .ok()
                .flatten()
                .and_then(|c| c.extract::<String>().ok());
            (Some(name), code)
        }
        None => (None, None),
    };
    let (fields, first, times) = &response;
    let req = request.as_ref();
    let template = template.or_else(|| req.and_then(|r| r.template.clone()));
    let messages: Vec<Message<'_>> = match (&template, req) {
        (None, Some(r)) => r
            .messages
            .iter()
            .map(|(role, text)| Message { role, text })
            .collect(),
        _ => Vec::new(),
    };
    let record = LlmCall {
        provider,
        operation,
        request_model: req.and_then(|r| r.model.as_deref()).unwrap_or(""),
        response_model: fields.model.as_deref(),
        template: template.as_deref(),
        messages,
        tokens: fields.tokens,
        parameters: req.map(|r| r.parameters).unwrap_or_default(),
        duration: match (duration, start) {
            (Some(d), _) => Duration::from_secs_f64(d),
            (None, Some(s)) => call::elapsed(&s),
            (None, None) => Duration::ZERO,
        },
        time_to_first_chunk: *first,
        chunk_times: times.as_ref(),
        error: match (&error, &type_name) {
            (Some(e), Some(t)) => Some(error_info(py, e, t, code.as_deref())),
            _ => None,
        },
        fell_back,
        attempts,
        response_id: fields.id.as_deref(),
        finish_reasons: fields.finish_reasons.iter().map(String::as_str).collect(),
        server_address,
        server_port,
        synthetic,
        // The inference log keeps content only under the global capture setting (it masks).
        input_text: if capture { input_text.as_deref() } else { None },
        output_text: if capture {
            fields.text.as_deref()
        } else {
            None
        },
        span: start,
        context: ctx.as_deref(),
        trace_id: None,
    };
    let recorded = ferrule_core::catch_panic(|| call::record(&record))
        .map_err(|m| crate::error::internal(py, m))?;
    if let Some(r) = &reservation {
        // The budget's estimate becomes what the provider reported (kept when it reported none).
        let t = record.tokens;
        let used = match (t.input, t.output) {
            (None, None) => None,
            (i, o) => Some(i.unwrap_or(0) + o.unwrap_or(0)),
        };
        r.get().settle_tokens(py, used)?;
    }
    if let (true, Some(text)) = (sampled, fields.text.as_deref()) {
        ferrule_core::catch_panic(|| {
            call::observe::feed_answer(&recorded, text, record.tokens.output)
        })
        .map_err(|m| crate::error::internal(py, m))?;
    }
    if let Some(s) = span_ref.as_mut() {
        if !s.is_ended() {
            call::span_attributes(&record, &recorded, s.attributes_mut());
            if capture {
                s.put_content(input_text.as_deref(), fields.text.as_deref(), always);
            }
            if let Some(e) = &error {
                s.fail(e)?;
            }
            s.close(py)?;
        }
    }
    Ok(recorded.cost_usd)
}

/// A request's token estimate for a token budget (prompt bytes / 4 + framing + `max_tokens`).
#[pyfunction]
#[pyo3(signature = (request, operation="chat"))]
pub fn estimate_tokens(request: Bound<'_, PyAny>, operation: &str) -> u64 {
    read::estimate_tokens(&PyValue::new(request), operation)
}

/// A chat answer's fields in the router's common shape: `(content, role, model, finish_reason,
/// input_tokens, output_tokens, tool_calls)`, each tool call `(id, name, arguments,
/// arguments_valid)`; None when `response` is not a chat response the core knows.
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn read_chat_answer(
    response: Bound<'_, PyAny>,
) -> Option<(
    String,
    String,
    Option<String>,
    Option<String>,
    Option<u64>,
    Option<u64>,
    Vec<(String, String, String, bool)>,
)> {
    ferrule_core::call::normalize::normalize_chat(&PyValue::new(response)).map(|a| {
        (
            a.content,
            a.role,
            a.model,
            a.finish_reason,
            a.input_tokens,
            a.output_tokens,
            a.tool_calls
                .into_iter()
                .map(|t| (t.id, t.name, t.arguments, t.arguments_valid))
                .collect(),
        )
    })
}

/// `(server.address, server.port)` of a client's base URL, or None.
#[pyfunction]
pub fn server_of_url(url: &str) -> Option<(String, Option<u16>)> {
    read::server_of_url(url)
}

/// Adds `record_call`, `CallStream` and `server_of_url` to the module.
pub fn add(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CallStream>()?;
    m.add_function(pyo3::wrap_pyfunction!(server_of_url, m)?)?;
    m.add_function(pyo3::wrap_pyfunction!(estimate_tokens, m)?)?;
    m.add_function(pyo3::wrap_pyfunction!(read_chat_answer, m)?)?;
    crate::fastcall::define(m, c"record_call", DOC, record_call_fastcall)
}
