//! The hot path of one policy, `begin()` and `success()`, as raw Node-API functions (see
//! `raw_fn.rs` for why): each holds a strong reference to the core pipeline.

use crate::policy::NativePolicy;
use crate::raw_fn::{call_info, functions, guard, status, Callback};
use ferrule_core::Pipeline;
use napi::bindgen_prelude::Unknown;
use napi::{sys, Env};
use napi_derive::napi;
use std::ptr;

/// `[begin, success]` for `policy`: `begin()` counts a call and returns its start (clock ns),
/// `success()` counts its success and returns `undefined`.
#[napi(catch_unwind)]
pub fn policy_fast_calls<'e>(env: &'e Env, policy: &NativePolicy) -> napi::Result<Unknown<'e>> {
    let fns: [(&str, Callback); 2] = [("begin", begin), ("success", success)];
    // SAFETY: the live env of this callback; each callback reads its data as a `Pipeline`.
    unsafe { functions(env.raw(), &policy.inner, &fns) }
}

/// The pipeline behind the called function.
unsafe fn pipeline<'a>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> napi::Result<&'a Pipeline> {
    unsafe { call_info::<Pipeline, 0>(env, info) }.map(|(p, _, _)| p)
}

unsafe extern "C" fn begin(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        guard(env, || {
            let p = pipeline(env, info)?;
            let (start, _) = p.begin();
            let mut v = ptr::null_mut();
            status(sys::napi_create_double(env, start as f64, &mut v)).map(|()| v)
        })
    }
}

unsafe extern "C" fn success(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        guard(env, || {
            let p = pipeline(env, info)?;
            p.success(None);
            Ok(ptr::null_mut())
        })
    }
}
