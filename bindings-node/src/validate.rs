//! `NativeJsonValidator` and `NativeJsonRepairer` for the JS host layer (`bindings-node/validate.js`),
//! options fixed at construction. The core parses, repairs and checks the schema; the host parses
//! the accepted text with `JSON.parse` (V8's parser builds JS objects faster than any crossing
//! could), so on the steady path nothing but `null` comes back: "valid as given". Anything else
//! crosses as one string (one `JSON.parse` on the JS side instead of a napi object per repair); a
//! repaired text crosses as itself, after a one-line header, so its repairs are parsed only if read.

use crate::error::{config_error, ConfigError, NodeParam};
use ferrule_core::validate::{
    self, stats, Failure, JsonValidator, Limits, Repair, RepairMode, Schema, Verdict,
};
use ferrule_core::Error;
use napi::bindgen_prelude::Either;
use napi_derive::napi;
use std::sync::Arc;

const C: &str = "JsonValidator";

#[napi(object)]
pub struct JsonValidatorOptions {
    pub repair: Option<bool>,
    pub max_input_bytes: Option<f64>,
    pub max_depth: Option<f64>,
    /// `repairJson` only: `"safe"` (the default) or `"lenient"`.
    pub mode: Option<String>,
    /// `parseJson` / `validated`: how a text that is not JSON is repaired, `"safe"` (the default)
    /// or `"lenient"`.
    pub repair_mode: Option<String>,
}

/// The repairs as a JSON array, written directly (no intermediate `Value`); one line: strings are
/// escaped, so no raw newline can appear.
fn repairs_json(repairs: &[Repair]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(2 + repairs.len() * 96);
    out.push('[');
    for (i, r) in repairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let detail = serde_json::to_string(&r.detail).unwrap_or_else(|_| "\"\"".into());
        let _ = write!(
            out,
            r#"{{"kind":"{}","detail":{},"line":{},"column":{},"offset":{}}}"#,
            r.kind.as_str(),
            detail,
            r.line,
            r.column,
            r.offset
        );
    }
    out.push(']');
    out
}

/// A refusal as JSON: `{ status: "invalid", kind, message, errors: [{path, message}], repairs,
/// line, column }`.
fn refused(f: &Failure) -> String {
    let errors: Vec<serde_json::Value> = f
        .violations
        .iter()
        .map(|v| serde_json::json!({"path": v.path, "message": v.message}))
        .collect();
    serde_json::json!({
        "status": "invalid", "kind": f.kind.as_str(), "message": f.summary(), "errors": errors,
        "repairs": repairs_value(&f.repairs), "line": f.line, "column": f.column,
    })
    .to_string()
}

/// The repairs as a `Value`, for the (rare) refusal path.
fn repairs_value(repairs: &[Repair]) -> serde_json::Value {
    repairs
        .iter()
        .map(|r| {
            serde_json::json!({
                "kind": r.kind.as_str(), "detail": r.detail, "line": r.line,
                "column": r.column, "offset": r.offset,
            })
        })
        .collect()
}

fn params(o: &JsonValidatorOptions) -> [NodeParam; 4] {
    [
        NodeParam {
            core: "repair_mode",
            node: "repairMode",
            millis: false,
            given: None,
        },
        NodeParam {
            core: "max_input_bytes",
            node: "maxInputBytes",
            millis: false,
            given: o.max_input_bytes,
        },
        NodeParam {
            core: "max_depth",
            node: "maxDepth",
            millis: false,
            given: o.max_depth,
        },
        NodeParam {
            core: "schema",
            node: "schema",
            millis: false,
            given: None,
        },
    ]
}

/// JS numbers to core limits: a fraction or a non-finite number is out of range like any other.
fn limits(o: &JsonValidatorOptions) -> ferrule_core::Result<Limits> {
    let d = Limits::default();
    let int = |param: &'static str, v: Option<f64>, default: usize| -> ferrule_core::Result<i128> {
        match v {
            None => Ok(default as i128),
            Some(x) if x.is_finite() && x.fract() == 0.0 => Ok(x as i128),
            Some(x) => Err(Error::out_of_range(C, param, x, "an integer")),
        }
    };
    Limits::new(
        C,
        int("max_input_bytes", o.max_input_bytes, d.max_input_bytes)?,
        int("max_depth", o.max_depth, d.max_depth)?,
    )
}

fn js_config_error(e: &Error, o: &JsonValidatorOptions) -> ConfigError {
    let mut c = config_error(e, &params(o));
    if c.param == "schema" {
        c.kind = "TypeError".into(); // a schema is malformed, not a number out of range
    }
    c
}

#[napi]
pub struct NativeJsonValidator {
    /// Shared with the raw `accept` function (`validate_fast_call.rs`).
    pub(crate) inner: Arc<JsonValidator>,
}

/// A validator with its options fixed, or why they were refused (the host throws that). Its
/// outcomes are counted under `name` (default `parse_json`) in `ferrule_validations_total`.
#[napi(catch_unwind)]
pub fn create_json_validator(
    schema_json: Option<String>,
    options: JsonValidatorOptions,
    name: Option<String>,
) -> Either<NativeJsonValidator, ConfigError> {
    let made = limits(&options).and_then(|lim| {
        let mode = match options.repair_mode.as_deref() {
            None => RepairMode::Safe,
            Some(m) => RepairMode::from_param(C, "repair_mode", m)?,
        };
        let schema = schema_json.as_deref().map(Schema::from_json).transpose()?;
        Ok(JsonValidator::named(
            name.as_deref().unwrap_or(validate::validator::DEFAULT_NAME),
            schema,
            options.repair.unwrap_or(true),
            lim,
        )
        .with_mode(mode))
    });
    match made {
        Ok(inner) => Either::A(NativeJsonValidator {
            inner: Arc::new(inner),
        }),
        Err(e) => Either::B(js_config_error(&e, &options)),
    }
}

#[napi]
impl NativeJsonValidator {
    /// `null` when `text` is valid as given (parse it as is); otherwise JSON: `{ status: "repaired",
    /// repairs, omittedRepairs, value }` or a refusal (see `refused`). Counts the outcome.
    #[napi(catch_unwind)]
    pub fn validate(&self, text: String) -> Option<String> {
        // The steady path: checked in place (syntax, limits, schema) and counted; no value built.
        if self.inner.accept_as_given(&text) {
            return None;
        }
        match self.inner.validate(&text) {
            Ok(v) if v.repairs.is_empty() && v.omitted_repairs == 0 => None,
            Ok(v) => Some(format!(
                r#"{{"status":"repaired","repairs":{},"omittedRepairs":{},"value":{}}}"#,
                repairs_json(&v.repairs),
                v.omitted_repairs,
                v.value
            )),
            Err(f) => Some(refused(&f)),
        }
    }

    /// Counts an outcome decided in the host (the re-ask loop): `reasked`, or `valid` /
    /// `repaired` / `invalid`, under this validator's name. Returns false for an unknown verdict.
    #[napi(catch_unwind)]
    pub fn record(&self, verdict: String) -> bool {
        match Verdict::parse(&verdict) {
            Some(v) => {
                self.inner.record(v, &[]);
                true
            }
            None => false,
        }
    }
}

#[napi]
pub struct NativeJsonRepairer {
    limits: Limits,
    mode: RepairMode,
}

/// A repairer with its limits and mode fixed, or why they were refused (the host throws that).
#[napi(catch_unwind)]
pub fn create_json_repairer(
    options: JsonValidatorOptions,
) -> Either<NativeJsonRepairer, ConfigError> {
    let made = limits(&options).and_then(|limits| {
        let mode = match options.mode.as_deref() {
            None => RepairMode::Safe,
            Some(m) => RepairMode::from_option("repairJson", m)?,
        };
        Ok(NativeJsonRepairer { limits, mode })
    });
    match made {
        Ok(r) => Either::A(r),
        Err(e) => Either::B(js_config_error(&e, &options)),
    }
}

#[napi]
impl NativeJsonRepairer {
    /// `null` when `text` is strict JSON as given. Otherwise, repaired: `"r" omitted "\n" repairs
    /// "\n" text` (the repairs a one-line JSON array); refused: `"x"` and the refusal as JSON.
    /// Counts nothing (not a validation).
    #[napi(catch_unwind)]
    pub fn repair(&self, text: String) -> Option<String> {
        match validate::repair_with(&text, &self.limits, self.mode) {
            Ok(r) if r.repairs.is_empty() && r.omitted == 0 => None,
            Ok(r) => {
                let repairs = repairs_json(&r.repairs);
                let mut out = String::with_capacity(r.text.len() + repairs.len() + 24);
                out.push('r');
                out.push_str(&r.omitted.to_string());
                out.push('\n');
                out.push_str(&repairs);
                out.push('\n');
                out.push_str(&r.text);
                Some(out)
            }
            Err(f) => Some(format!("x{}", refused(&f))),
        }
    }
}

/// The process-wide validation counts, as JSON.
#[napi(catch_unwind)]
pub fn validation_stats_json() -> String {
    let s = stats::snapshot();
    let repairs: serde_json::Map<String, serde_json::Value> = s
        .repairs
        .iter()
        .map(|(k, n)| (k.as_str().to_string(), (*n).into()))
        .collect();
    serde_json::json!({
        "valid": s.valid, "repaired": s.repaired, "invalid": s.invalid, "reasked": s.reasked,
        "repairs": repairs,
    })
    .to_string()
}
