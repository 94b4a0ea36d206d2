//! `recordCall`: one crossing per finished LLM call for the JS host. The request body, the
//! response (or a `NativeCallStream` that folded a stream's chunks) and the error are read through
//! `Js`, the core's `call::read::Value` over plain JS objects; the core reads the fields, records
//! the call everywhere and says which attributes the call's span gets. Times cross in milliseconds.

use crate::telemetry::NativeSpan;
use ferrule_core::call::read::{self, ResponseFields, Value};
use ferrule_core::call::{self, ChunkTimes, ErrorInfo, LlmCall, Message};
use ferrule_core::telemetry::pipeline::Pipeline;
use napi::bindgen_prelude::{Float64Array, JsValue, Unknown};
use napi::sys;
use napi_derive::napi;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ptr;
use std::time::Duration;

/// A JS value seen through property look-ups; `undefined` and `null` read as missing.
#[derive(Clone, Copy)]
struct Js {
    env: sys::napi_env,
    v: sys::napi_value,
}

impl Js {
    fn kind(&self) -> sys::napi_valuetype {
        let mut t = 0;
        // SAFETY: `env` and `v` come from the current Node-API call and live for its duration.
        let ok = unsafe { sys::napi_typeof(self.env, self.v, &mut t) };
        if ok == sys::Status::napi_ok {
            t
        } else {
            sys::ValueType::napi_undefined
        }
    }
    fn present(self) -> Option<Self> {
        let t = self.kind();
        (t != sys::ValueType::napi_undefined && t != sys::ValueType::napi_null).then_some(self)
    }
    fn number(&self) -> Option<f64> {
        if self.kind() != sys::ValueType::napi_number {
            return None;
        }
        let mut n = 0.0;
        // SAFETY: as `kind`.
        (unsafe { sys::napi_get_value_double(self.env, self.v, &mut n) } == sys::Status::napi_ok)
            .then_some(n)
    }
}

/// Field names as JS strings, made once per thread and kept in one JS array (a Node-API env lives
/// on one thread; a worker's env is another thread's). A record reads ~40 fields, most of them
/// absent from any one provider's shape: creating each name anew (a UTF-8 decode and a string
/// table look-up per probe) was a third of the record's time.
struct Keys {
    env: sys::napi_env,
    array: sys::napi_ref,
    /// By the address and length of the name's literal.
    index: HashMap<(usize, usize), u32>,
}

thread_local! {
    static KEYS: RefCell<Option<Keys>> = const { RefCell::new(None) };
}

/// `name` as a JS string: the cached one, else made now (and cached when the cache can hold it).
fn key(env: sys::napi_env, name: &'static str) -> Option<sys::napi_value> {
    let made = |out: &mut sys::napi_value| {
        // SAFETY: `name` is valid UTF-8 of the given length.
        unsafe {
            sys::napi_create_string_utf8(env, name.as_ptr().cast(), name.len() as isize, out)
                == sys::Status::napi_ok
        }
    };
    KEYS.with(|k| {
        // Re-entered (a JS setter on Array.prototype ran a record): no cache for this one.
        let Ok(mut k) = k.try_borrow_mut() else {
            let mut out = ptr::null_mut();
            return made(&mut out).then_some(out);
        };
        // SAFETY: `env` is the current call's; the array reference was made in this env.
        unsafe {
            if k.as_ref().is_none_or(|c| c.env != env) {
                // First use on this thread, or another env on it (the old one is gone: its
                // reference is forgotten, never deleted through a dead env).
                let mut array = ptr::null_mut();
                let mut r = ptr::null_mut();
                if sys::napi_create_array(env, &mut array) == sys::Status::napi_ok
                    && sys::napi_create_reference(env, array, 1, &mut r) == sys::Status::napi_ok
                {
                    *k = Some(Keys {
                        env,
                        array: r,
                        index: HashMap::new(),
                    });
                }
            }
            let mut out = ptr::null_mut();
            let Some(c) = k.as_mut() else {
                return made(&mut out).then_some(out);
            };
            let mut array = ptr::null_mut();
            if sys::napi_get_reference_value(env, c.array, &mut array) != sys::Status::napi_ok
                || array.is_null()
            {
                return made(&mut out).then_some(out);
            }
            let slot = (name.as_ptr() as usize, name.len());
            if let Some(&i) = c.index.get(&slot) {
                if sys::napi_get_element(env, array, i, &mut out) == sys::Status::napi_ok {
                    return Some(out);
                }
            }
            if !made(&mut out) {
                return None;
            }
            let i = c.index.len() as u32;
            if sys::napi_set_element(env, array, i, out) == sys::Status::napi_ok {
                c.index.insert(slot, i);
            }
            Some(out)
        }
    })
}

impl Value for Js {
    fn field(&self, name: &'static str) -> Option<Self> {
        let t = self.kind();
        if t != sys::ValueType::napi_object && t != sys::ValueType::napi_function {
            return None;
        }
        let key = key(self.env, name)?;
        let mut out = ptr::null_mut();
        // SAFETY: as `kind`; `key` is a string of this env.
        unsafe {
            if sys::napi_get_property(self.env, self.v, key, &mut out) != sys::Status::napi_ok {
                // A throwing getter: clear the exception, read as missing.
                let mut e = ptr::null_mut();
                sys::napi_get_and_clear_last_exception(self.env, &mut e);
                return None;
            }
        }
        Js {
            env: self.env,
            v: out,
        }
        .present()
    }
    fn as_u64(&self) -> Option<u64> {
        self.number()
            .filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n <= 9_007_199_254_740_991.0)
            .map(|n| n as u64)
    }
    fn as_f64(&self) -> Option<f64> {
        self.number()
    }
    fn as_i64(&self) -> Option<i64> {
        self.number()
            .filter(|n| n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_991.0)
            .map(|n| n as i64)
    }
    fn as_bool(&self) -> Option<bool> {
        if self.kind() != sys::ValueType::napi_boolean {
            return None;
        }
        let mut b = false;
        // SAFETY: as `kind`.
        (unsafe { sys::napi_get_value_bool(self.env, self.v, &mut b) } == sys::Status::napi_ok)
            .then_some(b)
    }
    fn as_string(&self) -> Option<String> {
        if self.kind() != sys::ValueType::napi_string {
            return None;
        }
        let mut len = 0usize;
        // SAFETY: as `kind`; the buffer is `len + 1` bytes, as asked.
        unsafe {
            if sys::napi_get_value_string_utf8(self.env, self.v, ptr::null_mut(), 0, &mut len)
                != sys::Status::napi_ok
            {
                return None;
            }
            let mut buf = vec![0u8; len + 1];
            if sys::napi_get_value_string_utf8(
                self.env,
                self.v,
                buf.as_mut_ptr().cast(),
                len + 1,
                &mut len,
            ) != sys::Status::napi_ok
            {
                return None;
            }
            buf.truncate(len);
            String::from_utf8(buf).ok()
        }
    }
    fn is_list(&self) -> bool {
        let mut is = false;
        // SAFETY: as `kind`.
        unsafe { sys::napi_is_array(self.env, self.v, &mut is) == sys::Status::napi_ok && is }
    }
    fn items(&self, max: usize) -> Vec<Self> {
        let mut is = false;
        // SAFETY: as `kind`.
        unsafe {
            if sys::napi_is_array(self.env, self.v, &mut is) != sys::Status::napi_ok || !is {
                return Vec::new();
            }
            let mut n = 0u32;
            if sys::napi_get_array_length(self.env, self.v, &mut n) != sys::Status::napi_ok {
                return Vec::new();
            }
            (0..n.min(max as u32))
                .filter_map(|i| {
                    let mut e = ptr::null_mut();
                    (sys::napi_get_element(self.env, self.v, i, &mut e) == sys::Status::napi_ok)
                        .then_some(Js {
                            env: self.env,
                            v: e,
                        })
                })
                .collect()
        }
    }
    /// `JSON.stringify(v)` (compact, as serde_json and the Python host write it); None when it
    /// throws (a cycle, a BigInt) or gives no string.
    fn to_json(&self) -> Option<String> {
        let mut global = ptr::null_mut();
        let mut json = ptr::null_mut();
        let mut stringify = ptr::null_mut();
        let mut out = ptr::null_mut();
        // SAFETY: as `kind`; the property names are NUL-terminated literals.
        unsafe {
            let ok = sys::napi_get_global(self.env, &mut global) == sys::Status::napi_ok
                && sys::napi_get_named_property(self.env, global, c"JSON".as_ptr(), &mut json)
                    == sys::Status::napi_ok
                && sys::napi_get_named_property(
                    self.env,
                    json,
                    c"stringify".as_ptr(),
                    &mut stringify,
                ) == sys::Status::napi_ok
                && sys::napi_call_function(self.env, json, stringify, 1, &self.v, &mut out)
                    == sys::Status::napi_ok;
            if !ok {
                // A throwing toJSON or a cycle: clear the exception, read as not serialisable.
                let mut e = ptr::null_mut();
                sys::napi_get_and_clear_last_exception(self.env, &mut e);
                return None;
            }
        }
        Js {
            env: self.env,
            v: out,
        }
        .as_string()
    }
}

fn js(u: &Unknown<'_>) -> Option<Js> {
    Js {
        env: u.value().env,
        v: u.value().value,
    }
    .present()
}

/// A stream's chunks folded as they are read (model, id, finish reasons, the final chunk's
/// usage, the time to the first chunk, the text when captured).
#[napi]
pub struct NativeCallStream {
    fields: ResponseFields,
    started_nanos: u64,
    first: Option<Duration>,
    times: ChunkTimes,
    // The host hands in every chunk's arrival time (`text_chunks`) on its own clock; `chunk` then
    // leaves the gaps alone, so one stream never mixes two clocks.
    host_times: bool,
    collect: bool,
}

#[napi]
impl NativeCallStream {
    /// Times from `span`'s start (the call's), or from now.
    #[napi(constructor, catch_unwind)]
    pub fn new(span: Option<&NativeSpan>, collect: Option<bool>) -> Self {
        let now = Pipeline::global().tracer.now_nanos();
        Self {
            fields: ResponseFields::default(),
            started_nanos: span.map_or(now, |s| s.start().start_nanos),
            first: None,
            times: ChunkTimes::default(),
            host_times: false,
            collect: collect.unwrap_or(false),
        }
    }

    /// Folds one chunk in. Its arrival time (one clock read) gives the time to the first chunk,
    /// then the time per chunk.
    #[napi(catch_unwind)]
    pub fn chunk(&mut self, chunk: Unknown<'_>) {
        let now = Pipeline::global().tracer.now_nanos();
        if self.first.is_none() {
            self.first = Some(Duration::from_nanos(now.saturating_sub(self.started_nanos)));
        }
        if !self.host_times {
            self.times.arrived(now as f64 * 1e-9);
        }
        if let Some(c) = js(&chunk) {
            read::read_chunk(&c, &mut self.fields, self.collect);
        }
    }

    /// What the host read itself (see `stream_fields.js`): `text`, the text of chunks that carry
    /// nothing else the record reads, in order; `at`, the arrival times in ms on the host's clock
    /// of every chunk since the last call (`n` of them), those folded by `chunk` included. One
    /// crossing for a batch of chunks; from the first call on, the host's times are the only ones.
    #[napi(catch_unwind)]
    pub fn text_chunks(&mut self, text: String, at: Float64Array, n: u32) {
        if !self.host_times {
            self.host_times = true;
            self.times.restart();
        }
        if self.collect && !text.is_empty() {
            self.fields
                .text
                .get_or_insert_with(String::new)
                .push_str(&text);
        }
        let at: &[f64] = &at;
        for t in at.iter().take(n as usize) {
            self.times.arrived(t * 1e-3);
        }
    }

    /// The gaps between chunks so far: `[count, total seconds]`.
    #[napi(getter, catch_unwind)]
    pub fn chunk_gaps(&self) -> Vec<f64> {
        vec![self.times.count() as f64, self.times.sum()]
    }

    /// The text streamed so far ("" unless made with `collect`): what a consumer was given.
    #[napi(getter, catch_unwind)]
    pub fn text(&self) -> String {
        self.fields.text.clone().unwrap_or_default()
    }

    /// Whether a chunk said why the answer ended (a finish reason): a stream whose body ends
    /// without one was cut short.
    #[napi(getter, catch_unwind)]
    pub fn finished(&self) -> bool {
        !self.fields.finish_reasons.is_empty()
    }

    /// The usage the stream reported so far, or null.
    #[napi(getter, catch_unwind)]
    pub fn usage(&self) -> Option<StreamUsage> {
        let t = &self.fields.tokens;
        if t.input.is_none() && t.output.is_none() {
            return None;
        }
        Some(StreamUsage {
            input_tokens: t.input.map(|n| n as f64),
            output_tokens: t.output.map(|n| n as f64),
        })
    }
}

/// Tokens a stream reported so far.
#[napi(object)]
pub struct StreamUsage {
    pub input_tokens: Option<f64>,
    pub output_tokens: Option<f64>,
}

/// What the host knows beyond the request, response and error.
#[napi(object)]
pub struct CallRecordOptions {
    pub duration_ms: Option<f64>,
    pub time_to_first_chunk_ms: Option<f64>,
    pub attempts: Option<u32>,
    pub fell_back: Option<bool>,
    pub template: Option<String>,
    pub synthetic: Option<bool>,
    pub capture: Option<bool>,
    pub always_capture: Option<bool>,
    pub input_text: Option<String>,
    pub server_address: Option<String>,
    pub server_port: Option<u32>,
}

/// What the core made of a call: its cost, outcome, template key, model and token counts.
#[napi(object)]
pub struct RecordedCall {
    pub cost_usd: f64,
    pub outcome: String,
    pub template: String,
    pub model: String,
    pub input_tokens: Option<f64>,
    pub output_tokens: Option<f64>,
}

/// Records one finished LLM call (metrics, cost, prompt profile, inference log, `observe()`
/// watchers), fills and ends `span`; returns what it recorded.
#[napi(catch_unwind)]
#[allow(clippy::too_many_arguments)]
pub fn record_call(
    span: Option<&mut NativeSpan>,
    operation: String,
    provider: String,
    request: Unknown<'_>,
    response: Unknown<'_>,
    stream: Option<&NativeCallStream>,
    error: Unknown<'_>,
    options: CallRecordOptions,
) -> RecordedCall {
    let capture = options.capture.unwrap_or(false);
    let req = js(&request).map(|r| read::read_request(&r, &operation));
    // One answer in `sample_every` is read for observe()'s drift, even without content capture.
    let sampled = call::observe::sample_answer();
    let (fields, mut first, times) = match (stream, js(&response)) {
        // A stream whose answer the host read whole (a LangChain run): the response's fields,
        // the stream's times.
        (Some(s), Some(r)) => (
            read::read_response(&r, capture || sampled),
            s.first,
            Some(s.times),
        ),
        (Some(s), None) => (s.fields.clone(), s.first, Some(s.times)),
        (None, Some(r)) => (read::read_response(&r, capture || sampled), None, None),
        (None, None) => (ResponseFields::default(), None, None),
    };
    if let Some(t) = options
        .time_to_first_chunk_ms
        .filter(|t| t.is_finite() && *t >= 0.0)
    {
        first = Some(Duration::from_secs_f64(t / 1000.0));
    }
    let err = js(&error);
    let (type_name, code, name, message) = match err {
        Some(e) => (
            e.field("constructor")
                .and_then(|c| c.field("name"))
                .and_then(|n| n.as_string())
                .unwrap_or_else(|| "Error".into()),
            e.field("code").and_then(|c| c.as_string()),
            e.field("name").and_then(|c| c.as_string()),
            e.field("message")
                .and_then(|c| c.as_string())
                .unwrap_or_default(),
        ),
        None => (String::new(), None, None, String::new()),
    };
    let template = options
        .template
        .clone()
        .or_else(|| req.as_ref().and_then(|r| r.template.clone()));
    let messages: Vec<Message<'_>> = match (&template, &req) {
        (None, Some(r)) => r
            .messages
            .iter()
            .map(|(role, text)| Message { role, text })
            .collect(),
        _ => Vec::new(),
    };
    let start = span.as_ref().map(|s| s.start());
    let ctx = span.as_ref().and_then(|s| s.context_ref());
    let record = LlmCall {
        provider: &provider,
        operation: &operation,
        request_model: req.as_ref().and_then(|r| r.model.as_deref()).unwrap_or(""),
        response_model: fields.model.as_deref(),
        template: template.as_deref(),
        messages,
        tokens: fields.tokens,
        parameters: req.as_ref().map(|r| r.parameters).unwrap_or_default(),
        duration: match (
            options.duration_ms.filter(|d| d.is_finite() && *d >= 0.0),
            start,
        ) {
            (Some(d), _) => Duration::from_secs_f64(d / 1000.0),
            (None, Some(s)) => call::elapsed(&s),
            (None, None) => Duration::ZERO,
        },
        time_to_first_chunk: first,
        chunk_times: times.as_ref(),
        error: err.map(|_| ErrorInfo {
            type_name: &type_name,
            code: code.as_deref(),
            is_timeout: matches!(name.as_deref(), Some("AbortError" | "TimeoutError")),
        }),
        fell_back: options.fell_back.unwrap_or(false),
        attempts: options.attempts,
        response_id: fields.id.as_deref(),
        finish_reasons: fields.finish_reasons.iter().map(String::as_str).collect(),
        server_address: options.server_address.as_deref(),
        server_port: options.server_port.and_then(|p| u16::try_from(p).ok()),
        synthetic: options.synthetic.unwrap_or(false),
        input_text: if capture {
            options.input_text.as_deref()
        } else {
            None
        },
        output_text: if capture {
            fields.text.as_deref()
        } else {
            None
        },
        span: start,
        context: ctx.as_deref(),
        trace_id: None,
    };
    let recorded = call::record(&record);
    if let (true, Some(text)) = (sampled, fields.text.as_deref()) {
        call::observe::feed_answer(&recorded, text, record.tokens.output);
    }
    if let Some(s) = span {
        if !s.ended() {
            call::span_attributes(&record, &recorded, s.attributes_mut());
            if capture {
                s.set_content(
                    options.input_text.clone(),
                    fields.text.clone(),
                    options.always_capture,
                );
            }
            if err.is_some() {
                s.set_error(type_name.clone(), message.clone());
            }
            // The JS host ends the span: with the OpenTelemetry bridge in provider mode the
            // finished span must also reach the app's span processors, which only JS can call.
        }
    }
    RecordedCall {
        cost_usd: recorded.cost_usd,
        outcome: recorded.outcome.as_str().into(),
        template: recorded.template.to_string(),
        model: record.model().to_string(),
        input_tokens: record.tokens.input.map(|n| n as f64),
        output_tokens: record.tokens.output.map(|n| n as f64),
    }
}

/// A request body's token estimate for a token budget (prompt bytes / 4 + framing + `max_tokens`).
#[napi(catch_unwind)]
pub fn estimate_tokens(request: Unknown<'_>, operation: String) -> f64 {
    js(&request).map_or(0.0, |r| read::estimate_tokens(&r, &operation) as f64)
}

/// A tool call in the router's common shape; `arguments` is JSON text, `argumentsValid` whether
/// it parses.
#[napi(object)]
pub struct ToolCallAnswer {
    pub id: String,
    pub name: String,
    pub arguments: String,
    pub arguments_valid: bool,
}

/// A chat answer in the router's common shape (`normalizeChat`).
#[napi(object)]
pub struct ChatAnswer {
    pub content: String,
    pub role: String,
    pub model: Option<String>,
    pub finish_reason: Option<String>,
    pub input_tokens: Option<f64>,
    pub output_tokens: Option<f64>,
    pub tool_calls: Vec<ToolCallAnswer>,
}

/// Reads `response` as a chat answer, or null when it is not a chat response the core knows.
#[napi(catch_unwind)]
pub fn read_chat_answer(response: Unknown<'_>) -> Option<ChatAnswer> {
    let a = ferrule_core::call::normalize::normalize_chat(&js(&response)?)?;
    Some(ChatAnswer {
        content: a.content,
        role: a.role,
        model: a.model,
        finish_reason: a.finish_reason,
        input_tokens: a.input_tokens.map(|n| n as f64),
        output_tokens: a.output_tokens.map(|n| n as f64),
        tool_calls: a
            .tool_calls
            .into_iter()
            .map(|t| ToolCallAnswer {
                id: t.id,
                name: t.name,
                arguments: t.arguments,
                arguments_valid: t.arguments_valid,
            })
            .collect(),
    })
}

/// `{ address, port }` of a client's base URL, or null.
#[napi(object)]
pub struct ServerAddress {
    pub address: String,
    pub port: Option<u32>,
}

#[napi(catch_unwind)]
pub fn server_of_url(url: String) -> Option<ServerAddress> {
    read::server_of_url(&url).map(|(address, port)| ServerAddress {
        address,
        port: port.map(u32::from),
    })
}
