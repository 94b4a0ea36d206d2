//! `CallContext`: the ids of one `ferrule.context(...)` block, built by the core from the given
//! values and the enclosing context (which the host passes in), checked for session conflicts.

use crate::error::guard;
use ferrule_core::telemetry::context::{CallContext as CoreContext, ContextRef};
use ferrule_core::telemetry::pipeline::Pipeline;
use pyo3::prelude::*;
use std::sync::Arc;

#[pyclass(frozen, name = "CallContext", module = "ferrule._ferrule")]
pub struct CallContext {
    pub inner: ContextRef,
}

impl crate::arg::Allowed for PyRef<'_, CallContext> {
    const ALLOWED: &'static str = "a CallContext";
}

#[pymethods]
impl CallContext {
    #[new]
    #[pyo3(signature = (session_id=None, user_id=None, tags=None, outer=None))]
    fn new(
        py: Python<'_>,
        #[pyo3(from_py_with = crate::arg::optional::<String>)] session_id: Option<String>,
        #[pyo3(from_py_with = crate::arg::optional::<String>)] user_id: Option<String>,
        #[pyo3(from_py_with = crate::arg::optional::<Vec<String>>)] tags: Option<Vec<String>>,
        #[pyo3(from_py_with = crate::arg::optional::<PyRef<'_, CallContext>>)] outer: Option<
            PyRef<'_, CallContext>,
        >,
    ) -> PyResult<Self> {
        let ctx = CoreContext::nested(
            outer.as_ref().map(|o| o.inner.as_ref()),
            session_id,
            user_id,
            tags.unwrap_or_default(),
        );
        guard(py, || Pipeline::global().enter_context(&ctx))?;
        crate::context_vars::mark_contexts_in_use();
        Ok(Self {
            inner: Arc::new(ctx),
        })
    }

    #[getter]
    fn session_id(&self) -> &str {
        &self.inner.session_id
    }
    #[getter]
    fn user_id(&self) -> Option<&str> {
        self.inner.user_id.as_deref()
    }
    #[getter]
    fn tags(&self) -> Vec<String> {
        self.inner.tags.clone()
    }
    /// True when no session id was given anywhere and one was generated.
    #[getter]
    fn session_generated(&self) -> bool {
        self.inner.session_generated
    }

    fn __repr__(&self) -> String {
        format!(
            "<CallContext session_id={:?} user_id={:?} tags={:?}>",
            self.inner.session_id, self.inner.user_id, self.inner.tags
        )
    }
}
