//! `NativePartialJson`: the core's incremental JSON reader for a streamed answer, for the JS host
//! (`bindings-node/partial_json.js`). A changed partial value crosses as one JSON string
//! (`{"value": ..., "violation": null | {"path", "message"}}`) that the host parses once.

use ferrule_core::validate::{unrecoverable, PartialJson};
use napi_derive::napi;
use serde_json::{json, Value};

#[napi]
pub struct NativePartialJson {
    inner: PartialJson,
    schema: Option<Value>,
}

#[napi]
impl NativePartialJson {
    /// `schemaJson`: a JSON Schema as text, or null. Throws when it is not JSON.
    #[napi(constructor, catch_unwind)]
    pub fn new(
        schema_json: Option<String>,
        max_input_bytes: f64,
        max_depth: f64,
    ) -> napi::Result<Self> {
        let schema = match schema_json {
            Some(s) => Some(serde_json::from_str::<Value>(&s).map_err(|e| {
                napi::Error::new(
                    napi::Status::InvalidArg,
                    format!("PartialJson: schema is not valid JSON: {e}"),
                )
            })?),
            None => None,
        };
        Ok(Self {
            inner: PartialJson::new(
                max_input_bytes.max(0.0) as usize,
                max_depth.max(0.0) as usize,
            ),
            schema,
        })
    }

    /// Feeds the next piece: null when the partial value did not change, else the JSON described
    /// above. Throws past the size or depth bound.
    #[napi(catch_unwind)]
    pub fn feed(&mut self, piece: String) -> napi::Result<Option<String>> {
        let changed = self
            .inner
            .push(&piece)
            .map_err(|e| napi::Error::new(napi::Status::InvalidArg, e.0))?;
        let Some(v) = changed else {
            return Ok(None);
        };
        let bad = self
            .schema
            .as_ref()
            .and_then(|s| unrecoverable(s, &v, self.inner.open_string()))
            .map(|b| json!({ "path": b.path, "message": b.message }));
        Ok(Some(json!({ "value": v, "violation": bad }).to_string()))
    }

    #[napi(getter, catch_unwind)]
    pub fn complete(&self) -> bool {
        self.inner.complete()
    }

    #[napi(getter, catch_unwind)]
    pub fn text(&self) -> String {
        self.inner.text().to_string()
    }
}
