//! The router's two hot-path calls, `pick()` (a call's first attempt) and `success(token)`, as raw
//! Node-API functions (see `raw_fn.rs` for why): they hold a strong reference to the core router.
//! Everything else (failures, hedges, the next attempt) stays on `NativeRouter`'s methods.

use crate::raw_fn::{call_info, functions, guard, number, numbers, status, Callback};
use crate::router::{pick_code, NativeRouter};
use ferrule_core::Router;
use napi::{sys, Env};
use napi_derive::napi;
use std::ptr;

/// `[pick, success]` for `router`. `pick()`: the first attempt's token (>= 0), or `-1 - retryAfterMs`
/// when no endpoint can take the call, as `NativeRouter.pick(0, 0)`. `success(token)`: whether events
/// wait in `drainEvents`, as `NativeRouter.success`.
#[napi(catch_unwind)]
pub fn router_fast_call<'e>(
    env: &'e Env,
    router: &NativeRouter,
) -> napi::Result<napi::bindgen_prelude::Unknown<'e>> {
    let fns: [(&str, Callback); 2] = [("pick", pick), ("success", success)];
    // SAFETY: the live env of this callback; both callbacks read their data as a `Router`.
    unsafe { functions(env.raw(), &router.inner, &fns) }
}

unsafe extern "C" fn pick(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        guard(env, || {
            let (router, _, []) = call_info::<Router, 0>(env, info)?;
            number(env, pick_code(router.pick(0)))
        })
    }
}

unsafe extern "C" fn success(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        guard(env, || {
            let (router, argc, argv) = call_info::<Router, 1>(env, info)?;
            let [token] = numbers(env, argc, &argv).ok_or_else(|| {
                napi::Error::from_reason("ferrule: router success(token) needs the token number")
            })?;
            let pending = router.success(token as u64);
            let mut v = ptr::null_mut();
            // true and false are V8's singletons: nothing is allocated.
            status(sys::napi_get_boolean(env, pending, &mut v)).map(|()| v)
        })
    }
}
