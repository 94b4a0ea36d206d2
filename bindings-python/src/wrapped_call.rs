//! A wrapped SDK call's telemetry in two crossings: `CallSite.begin` starts the call's span and its
//! first attempt's span (made current, so its ids go out as `traceparent`), and
//! `WrappedCall.finish` ends the attempt, records the call (`call_record::record_into`) and fills
//! and ends the call's span. What is fixed per wrapped endpoint (operation, provider, server,
//! whether the caller opted into content capture) lives in the `CallSite`, made once at wrap
//! time. Conversion only: the record and the spans are the core's.

use crate::call_record::{record_into, RecordIn};
use crate::span::Span;
use ferrule_core::telemetry::span::{AttrValue, Attributes, SpanRole};
use ferrule_core::telemetry::tracer::Tracer;
use pyo3::prelude::*;
use pyo3::types::PyString;
use std::borrow::Cow;

const POLICY_NAME: &str = "ferrule.policy.name";
const ATTEMPT: &str = "ferrule.attempt";

/// What every call of one wrapped `create` shares.
#[pyclass(name = "CallSite", module = "ferrule._ferrule", frozen)]
pub struct CallSite {
    operation: String,
    provider: String,
    server_address: Option<String>,
    server_port: Option<u16>,
    always_capture: bool,
}

#[pymethods]
impl CallSite {
    #[new]
    #[pyo3(signature = (operation, provider, *, server_address=None, server_port=None, always_capture=false))]
    fn new(
        operation: String,
        provider: String,
        server_address: Option<String>,
        server_port: Option<u16>,
        always_capture: bool,
    ) -> Self {
        Self {
            operation,
            provider,
            server_address,
            server_port,
            always_capture,
        }
    }

    /// Starts one call under the policy named `policy_name`: its GenAI span (`{operation}
    /// {model}`, child of the current span) and its first attempt's span (`... attempt`,
    /// `ferrule.attempt` = 1, no `gen_ai.*`: attempts are not GenAI operations), which is made the
    /// current span until the attempt ends.
    fn begin(
        slf: &Bound<'_, Self>,
        model: &str,
        policy_name: &Bound<'_, PyString>,
    ) -> PyResult<WrappedCall> {
        let py = slf.py();
        let site = slf.get();
        let op = site.operation.as_str();
        let model = (!model.is_empty()).then_some(model);
        let policy = policy_name.to_str()?;
        let mut attrs = Tracer::genai_attributes(Some(op), model, Some(&site.provider));
        attrs.push((
            Cow::Borrowed(POLICY_NAME),
            AttrValue::Str(policy.to_owned()),
        ));
        let name = Tracer::genai_name(Some(op), model).unwrap_or_else(|| op.to_owned());
        let call = Span::begin(py, name, SpanRole::Call, attrs, None, None, None)?;
        let mut attempt_name = String::with_capacity(op.len() + model.map_or(0, str::len) + 9);
        attempt_name.push_str(op);
        if let Some(m) = model {
            attempt_name.push(' ');
            attempt_name.push_str(m);
        }
        attempt_name.push_str(" attempt");
        let attempt_attrs: Attributes = vec![
            (
                Cow::Borrowed(POLICY_NAME),
                AttrValue::Str(policy.to_owned()),
            ),
            (Cow::Borrowed(ATTEMPT), AttrValue::Int(1)),
        ];
        let attempt = Span::begin(
            py,
            attempt_name,
            SpanRole::Attempt,
            attempt_attrs,
            Some(call.start),
            None,
            Some(call.context.clone()),
        )?;
        let call = Bound::new(py, call)?;
        let attempt = Bound::new(py, attempt)?;
        Span::enter(&attempt)?;
        Ok(WrappedCall {
            site: slf.clone().unbind(),
            call: call.unbind(),
            attempt: Some(attempt.unbind()),
        })
    }

    #[getter]
    fn operation(&self) -> &str {
        &self.operation
    }
    #[getter]
    fn provider(&self) -> &str {
        &self.provider
    }
    #[getter]
    fn server_address(&self) -> Option<&str> {
        self.server_address.as_deref()
    }
    #[getter]
    fn server_port(&self) -> Option<u16> {
        self.server_port
    }
    #[getter]
    fn always_capture(&self) -> bool {
        self.always_capture
    }
}

/// One call started by `CallSite.begin`: its span, and its first attempt's span until that ends.
#[pyclass(name = "WrappedCall", module = "ferrule._ferrule")]
pub struct WrappedCall {
    site: Py<CallSite>,
    call: Py<Span>,
    attempt: Option<Py<Span>>,
}

#[pymethods]
impl WrappedCall {
    /// The call's span (still open until `finish`, or until the host records the call itself).
    #[getter]
    fn span(&self, py: Python<'_>) -> Py<Span> {
        self.call.clone_ref(py)
    }

    /// The W3C `traceparent` of the first attempt (of the call, once the attempt ended).
    #[getter]
    fn traceparent(&self, py: Python<'_>) -> String {
        let s = self.attempt.as_ref().unwrap_or(&self.call);
        s.bind(py).borrow().start.traceparent().header()
    }

    /// Ends the first attempt's span (failed by `error` when given) and makes the call's parent
    /// current again; a second call does nothing.
    #[pyo3(signature = (error=None))]
    fn end_attempt(&mut self, py: Python<'_>, error: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        if let Some(a) = self.attempt.take() {
            let t = error.map(|e| e.get_type());
            a.bind(py)
                .borrow_mut()
                .exit(py, t.as_ref().map(|t| t.as_any()), error)?;
        }
        Ok(())
    }

    /// The call answered on its first attempt: ends the attempt, records the call from the
    /// caller's `request` keywords and the SDK's `response` (GenAI metrics, cost, prompt profile,
    /// inference log, `observe()` watchers), and fills and ends the call's span. `template`: the
    /// explicit prompt template; `capture`: whether content is kept, with `input_text` the
    /// prompt's text. Returns the call's cost in US dollars.
    #[pyo3(signature = (request, response, template=None, capture=false, input_text=None))]
    fn finish(
        &mut self,
        py: Python<'_>,
        request: Bound<'_, PyAny>,
        response: Bound<'_, PyAny>,
        template: Option<String>,
        capture: bool,
        input_text: Option<String>,
    ) -> PyResult<f64> {
        self.end_attempt(py, None)?;
        let site = self.site.get();
        let span = self.call.bind(py);
        record_into(
            py,
            RecordIn {
                span: Some(span),
                operation: &site.operation,
                provider: &site.provider,
                request: Some(request),
                response: Some(response),
                stream: None,
                error: None,
                duration: None,
                attempts: Some(1),
                fell_back: false,
                template,
                synthetic: false,
                capture,
                always: site.always_capture,
                input_text,
                server_address: site.server_address.as_deref(),
                server_port: site.server_port,
                response_model: None,
                time_to_first_chunk: None,
                reservation: None,
            },
        )
    }
}

/// Adds `CallSite` and `WrappedCall` to the module.
pub fn add(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CallSite>()?;
    m.add_class::<WrappedCall>()
}
