//! The hot path of one policy, `begin()` and `success()`, as raw Node-API functions: a napi-rs class
//! method costs 100-220 ns of wrapper checks per call on Node 20 (see `raw_fn.rs`), more than the
//! core's work. Each policy gets its own two functions whose Node-API `data` is a strong reference to
//! the core pipeline, released by a finalizer when the function is collected.
//! Kept apart from `raw_fn.rs` on purpose: built on the shared helpers this path measured ~100 ns
//! slower per call (A/B, same machine, quiet), the breaker's path did not after forced inlining.

use crate::policy::NativePolicy;
use ferrule_core::Pipeline;
use napi::bindgen_prelude::Unknown;
use napi::{sys, Env, JsError};
use napi_derive::napi;
use std::ffi::c_void;
use std::ptr;
use std::sync::Arc;

type Callback = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

/// `[begin, success]` for `policy`: `begin()` counts a call and returns its start (clock ns),
/// `success()` counts its success and returns `undefined`.
#[napi(catch_unwind)]
pub fn policy_fast_calls<'e>(env: &'e Env, policy: &NativePolicy) -> napi::Result<Unknown<'e>> {
    let env = env.raw();
    let fns: [(&str, Callback); 2] = [("begin", begin), ("success", success)];
    // SAFETY: plain Node-API calls on the live env of this callback. Each function's `data` is an
    // `Arc` turned raw here and turned back only by `release`, once, when the function is collected.
    unsafe {
        let mut pair = ptr::null_mut();
        status(sys::napi_create_array_with_length(
            env,
            fns.len(),
            &mut pair,
        ))?;
        for (i, (name, cb)) in fns.into_iter().enumerate() {
            let data = Arc::into_raw(policy.inner.clone()) as *mut c_void;
            let mut f = ptr::null_mut();
            let made = status(sys::napi_create_function(
                env,
                name.as_ptr().cast(),
                name.len() as isize,
                Some(cb),
                data,
                &mut f,
            ))
            .and_then(|()| {
                status(sys::napi_add_finalizer(
                    env,
                    f,
                    data,
                    Some(release),
                    ptr::null_mut(),
                    ptr::null_mut(),
                ))
            });
            if let Err(e) = made {
                release(env, data, ptr::null_mut());
                return Err(e);
            }
            status(sys::napi_set_element(env, pair, i as u32, f))?;
        }
        Ok(Unknown::from_raw_unchecked(env, pair))
    }
}

unsafe extern "C" fn release(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    drop(unsafe { Arc::from_raw(data as *const Pipeline) });
}

fn status(s: sys::napi_status) -> napi::Result<()> {
    if s == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::from_reason(format!(
            "Node-API call failed with status {s}"
        )))
    }
}

/// The pipeline behind the called function.
unsafe fn pipeline<'a>(env: sys::napi_env, info: sys::napi_callback_info) -> Option<&'a Pipeline> {
    let mut argc = 0;
    let mut data = ptr::null_mut();
    let s = unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            ptr::null_mut(),
            ptr::null_mut(),
            &mut data,
        )
    };
    if s != sys::Status::napi_ok || data.is_null() {
        return None;
    }
    // SAFETY: `data` is the `Arc` this function was made with; the function is being called, so it
    // is alive and its finalizer has not run.
    Some(unsafe { &*(data as *const Pipeline) })
}

/// Runs a callback body, turning an error or a caught panic into a thrown JS `Error`.
#[inline]
unsafe fn guard(
    env: sys::napi_env,
    body: impl FnOnce() -> napi::Result<sys::napi_value> + std::panic::UnwindSafe,
) -> sys::napi_value {
    let r = ferrule_core::catch_panic(body)
        .unwrap_or_else(|panic| Err(napi::Error::from_reason(format!("panic: {panic}"))));
    match r {
        Ok(v) => v,
        Err(e) => {
            unsafe { JsError::from(e).throw_into(env) };
            ptr::null_mut()
        }
    }
}

unsafe extern "C" fn begin(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        guard(env, || {
            let p = pipeline(env, info)
                .ok_or_else(|| napi::Error::from_reason("begin(): no policy".to_string()))?;
            let (start, _) = p.begin();
            let mut v = ptr::null_mut();
            status(sys::napi_create_double(env, start as f64, &mut v)).map(|()| v)
        })
    }
}

unsafe extern "C" fn success(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        guard(env, || {
            let p = pipeline(env, info)
                .ok_or_else(|| napi::Error::from_reason("success(): no policy".to_string()))?;
            p.success(None);
            Ok(ptr::null_mut())
        })
    }
}
