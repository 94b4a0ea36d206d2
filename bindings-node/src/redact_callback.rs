//! The user's redaction callback (`configure({ redactCallback })`) as a core `RedactCallback`. The
//! core masks on the caller's thread (span end, emit, inference record, `redact()`), which for Node
//! is the JS thread that configured it, inside a native call: there the function is called
//! synchronously through Node-API. On any other thread (a worker, a core thread) JS cannot be
//! entered, so the callback reports an error there, which the core counts and answers with the
//! pattern-masked text; a thrown exception is handled the same way.

use ferrule_core::telemetry::redact::RedactCallback;
use napi::bindgen_prelude::Unknown;
use napi::{sys, Env, JsValue};
use std::ptr;
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};

struct JsFunction {
    env: sys::napi_env,
    fref: sys::napi_ref,
    thread: ThreadId,
}

// SAFETY: the env and reference are only used on `thread` (checked before each use and in Drop);
// elsewhere the struct is only moved or dropped without touching them.
unsafe impl Send for JsFunction {}
unsafe impl Sync for JsFunction {}

impl Drop for JsFunction {
    fn drop(&mut self) {
        if thread::current().id() == self.thread {
            unsafe { sys::napi_delete_reference(self.env, self.fref) };
        }
        // Dropped on another thread (the last masking there held it): the reference is left to
        // the env's teardown rather than touched off its thread.
    }
}

fn ok(s: sys::napi_status) -> Result<(), String> {
    if s == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(format!("Node-API status {s}"))
    }
}

impl JsFunction {
    fn call(&self, text: &str) -> Result<String, String> {
        if thread::current().id() != self.thread {
            return Err("redactCallback can only run on the JS thread that configured it".into());
        }
        let env = self.env;
        unsafe {
            let mut f = ptr::null_mut();
            ok(sys::napi_get_reference_value(env, self.fref, &mut f))?;
            let mut recv = ptr::null_mut();
            ok(sys::napi_get_undefined(env, &mut recv))?;
            let mut arg = ptr::null_mut();
            ok(sys::napi_create_string_utf8(
                env,
                text.as_ptr().cast(),
                text.len() as isize,
                &mut arg,
            ))?;
            let mut out = ptr::null_mut();
            if sys::napi_call_function(env, recv, f, 1, &arg, &mut out) != sys::Status::napi_ok {
                let mut exc = ptr::null_mut();
                sys::napi_get_and_clear_last_exception(env, &mut exc);
                return Err(format!("redactCallback threw: {}", describe(env, exc)));
            }
            let mut ty = 0;
            ok(sys::napi_typeof(env, out, &mut ty))?;
            if ty != sys::ValueType::napi_string {
                return Err("redactCallback must return a string".into());
            }
            string(env, out)
        }
    }
}

unsafe fn string(env: sys::napi_env, v: sys::napi_value) -> Result<String, String> {
    let mut len = 0usize;
    ok(unsafe { sys::napi_get_value_string_utf8(env, v, ptr::null_mut(), 0, &mut len) })?;
    let mut buf = vec![0u8; len + 1];
    let mut written = 0usize;
    ok(unsafe {
        sys::napi_get_value_string_utf8(env, v, buf.as_mut_ptr().cast(), buf.len(), &mut written)
    })?;
    buf.truncate(written);
    String::from_utf8(buf).map_err(|e| e.to_string())
}

unsafe fn describe(env: sys::napi_env, exc: sys::napi_value) -> String {
    if exc.is_null() {
        return "an exception".into();
    }
    let mut s = ptr::null_mut();
    if unsafe { sys::napi_coerce_to_string(env, exc, &mut s) } != sys::Status::napi_ok {
        let mut ignored = ptr::null_mut();
        unsafe { sys::napi_get_and_clear_last_exception(env, &mut ignored) };
        return "an exception".into();
    }
    unsafe { string(env, s) }.unwrap_or_else(|_| "an exception".into())
}

/// The callback the next `configureTelemetry({ useRedactCallback: true })` installs.
// A lock: touched only by configure, never while masking.
static STAGED: Mutex<Option<RedactCallback>> = Mutex::new(None);

/// Holds `fn` for the next configure call (the host stages it right before configuring).
#[napi_derive::napi(catch_unwind)]
pub fn stage_redact_callback(env: Env, f: Unknown) -> napi::Result<()> {
    if f.get_type()? != napi::ValueType::Function {
        return Err(napi::Error::new(
            napi::Status::InvalidArg,
            "redactCallback must be a function",
        ));
    }
    let mut fref = ptr::null_mut();
    ok(unsafe { sys::napi_create_reference(env.raw(), f.raw(), 1, &mut fref) })
        .map_err(napi::Error::from_reason)?;
    let js = Arc::new(JsFunction {
        env: env.raw(),
        fref,
        thread: thread::current().id(),
    });
    let cb: RedactCallback = Arc::new(move |text: &str| js.call(text));
    *STAGED.lock().unwrap_or_else(|p| p.into_inner()) = Some(cb);
    Ok(())
}

pub(crate) fn take_staged() -> Option<RedactCallback> {
    STAGED.lock().unwrap_or_else(|p| p.into_inner()).take()
}
