//! The hot path of one policy, `begin()` and `success()`, as raw Node-API functions: a napi-rs class
//! method costs 100-220 ns of wrapper checks per call on Node 20 (see `raw_fn.rs`), more than the
//! core's work. Each policy gets its own two functions whose Node-API `data` is a strong reference to
//! the core pipeline, released by a finalizer when the function is collected.
//! Kept apart from `raw_fn.rs` on purpose: built on the shared helpers this path measured ~100 ns
//! slower per call (A/B, same machine, quiet), the breaker's path did not after forced inlining.
//!
//! A policy with a breaker or a timeout uses `enter()` and `succeed(token)` instead: the pipeline's
//! begin and the breaker's acquire in one crossing, its success and the breaker's record in the
//! other, so a successful attempt costs two crossings, not four.

use crate::breaker::{self, Admission, NativeBreaker, TransitionInfo};
use crate::policy::NativePolicy;
use ferrule_core::{CircuitBreaker, Outcome, Pipeline};
use napi::bindgen_prelude::{ToNapiValue, Unknown};
use napi::{sys, Env, JsError, JsValue};
use napi_derive::napi;
use std::ffi::c_void;
use std::ptr;
use std::sync::Arc;

type Callback = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

/// `[begin, success, enter, succeed]` for `policy`: `begin()` counts a call and returns its start
/// (clock ns), `success()` counts its success and returns `undefined`. `enter()` is `begin` plus
/// `breaker`'s acquire: it writes the start into `startOut[0]` and returns the breaker's answer as
/// its fast `acquire()` does (a permit token, a refusal code, or `{ token, transition }`), `0`
/// without a breaker. `succeed(token)` is `success` plus the breaker's record of a success:
/// `undefined`, or the transition it caused.
///
/// `startOut` is a `Float64Array` the caller keeps alive for as long as it keeps these functions
/// (the host's `Policy` holds both in private fields, so neither outlives the other).
#[napi(catch_unwind)]
pub fn policy_fast_calls<'e>(
    env: &'e Env,
    policy: &NativePolicy,
    breaker: Option<&NativeBreaker>,
    start_out: Unknown<'e>,
) -> napi::Result<Unknown<'e>> {
    let env = env.raw();
    // SAFETY: plain Node-API calls on the live env of this callback. Each function's `data` is an
    // `Arc` turned raw here and turned back only by `release`, once, when the function is collected.
    unsafe {
        let out = float64_slot(env, start_out.raw())?;
        let guarded = Arc::new(Guarded {
            pipeline: policy.inner.clone(),
            breaker: breaker.map(|b| b.inner.clone()),
            start_out: out,
        });
        let mut all = ptr::null_mut();
        status(sys::napi_create_array_with_length(env, 4, &mut all))?;
        let plain: [(&str, Callback); 2] = [("begin", begin), ("success", success)];
        for (i, (name, cb)) in plain.into_iter().enumerate() {
            let f = make(env, &policy.inner, name, cb)?;
            status(sys::napi_set_element(env, all, i as u32, f))?;
        }
        let pair: [(&str, Callback); 2] = [("enter", enter), ("succeed", succeed)];
        for (i, (name, cb)) in pair.into_iter().enumerate() {
            let f = make(env, &guarded, name, cb)?;
            status(sys::napi_set_element(env, all, 2 + i as u32, f))?;
        }
        Ok(Unknown::from_raw_unchecked(env, all))
    }
}

/// What `enter` and `succeed` work on.
struct Guarded {
    pipeline: Arc<Pipeline>,
    breaker: Option<Arc<CircuitBreaker>>,
    /// Element 0 of the host's `Float64Array`: where `enter` leaves the call's start.
    start_out: *mut f64,
}

// SAFETY: `start_out` is written only on the JS thread that owns the array, inside a call of a
// function that thread made (Node-API functions run on their own thread only).
unsafe impl Send for Guarded {}
unsafe impl Sync for Guarded {}

/// The first element of a `Float64Array`.
unsafe fn float64_slot(env: sys::napi_env, v: sys::napi_value) -> napi::Result<*mut f64> {
    let mut is = false;
    status(unsafe { sys::napi_is_typedarray(env, v, &mut is) })?;
    let bad = || napi::Error::from_reason("policyFastCalls: startOut must be a Float64Array(1)");
    if !is {
        return Err(bad());
    }
    let (mut kind, mut len, mut data) = (0, 0usize, ptr::null_mut());
    status(unsafe {
        sys::napi_get_typedarray_info(
            env,
            v,
            &mut kind,
            &mut len,
            &mut data,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    })?;
    if kind != sys::TypedarrayType::float64_array || len < 1 || data.is_null() {
        return Err(bad());
    }
    Ok(data.cast())
}

/// One function named `name` calling `cb`, holding a strong reference to `target`.
unsafe fn make<T: Send + Sync + 'static>(
    env: sys::napi_env,
    target: &Arc<T>,
    name: &str,
    cb: Callback,
) -> napi::Result<sys::napi_value> {
    let data = Arc::into_raw(target.clone()) as *mut c_void;
    let mut f = ptr::null_mut();
    let made = status(unsafe {
        sys::napi_create_function(
            env,
            name.as_ptr().cast(),
            name.len() as isize,
            Some(cb),
            data,
            &mut f,
        )
    })
    .and_then(|()| {
        status(unsafe {
            sys::napi_add_finalizer(
                env,
                f,
                data,
                Some(release::<T>),
                ptr::null_mut(),
                ptr::null_mut(),
            )
        })
    });
    if let Err(e) = made {
        unsafe { release::<T>(env, data, ptr::null_mut()) };
        return Err(e);
    }
    Ok(f)
}

unsafe extern "C" fn release<T>(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // A finalizer cannot throw: a panic in a drop is caught here rather than unwound into Node.
    let data = data as usize;
    let _ = ferrule_core::catch_panic(move || drop(unsafe { Arc::from_raw(data as *const T) }));
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
    unsafe { target::<Pipeline, 0>(env, info) }.map(|(p, _)| p)
}

/// The target behind the called function, and its first `N` arguments (null when not given).
#[inline(always)]
unsafe fn target<'a, T, const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> Option<(&'a T, [sys::napi_value; N])> {
    let mut argc = N;
    let mut argv = [ptr::null_mut(); N];
    let mut data = ptr::null_mut();
    let s = unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            if N == 0 {
                ptr::null_mut()
            } else {
                argv.as_mut_ptr()
            },
            ptr::null_mut(),
            &mut data,
        )
    };
    if s != sys::Status::napi_ok || data.is_null() {
        return None;
    }
    // SAFETY: `data` is the `Arc` this function was made with; the function is being called, so it
    // is alive and its finalizer has not run.
    Some((unsafe { &*(data as *const T) }, argv))
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

/// A small number as a V8 small integer when it is one (permit tokens without a slow-call rule are).
#[inline(always)]
unsafe fn number(env: sys::napi_env, n: f64) -> napi::Result<sys::napi_value> {
    let mut v = ptr::null_mut();
    let i = n as i32;
    let s = if i as f64 == n {
        unsafe { sys::napi_create_int32(env, i, &mut v) }
    } else {
        unsafe { sys::napi_create_double(env, n, &mut v) }
    };
    status(s).map(|()| v)
}

unsafe extern "C" fn enter(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        guard(env, || {
            let (g, []) = target::<Guarded, 0>(env, info)
                .ok_or_else(|| napi::Error::from_reason("enter(): no policy".to_string()))?;
            // The pipeline holds no breaker (the host's CircuitBreaker is its own object, shared by
            // other callers), so its admission is always Ok: the breaker is asked here.
            let (start, _) = g.pipeline.begin();
            *g.start_out = start as f64;
            match &g.breaker {
                None => number(env, 0.0),
                Some(b) => match breaker::acquire(b) {
                    (n, None) => number(env, n),
                    // Rare: this call moved the breaker to half-open, so it may cost an object.
                    (token, Some(t)) => ToNapiValue::to_napi_value(
                        env,
                        Admission {
                            token,
                            transition: t.into(),
                        },
                    ),
                },
            }
        })
    }
}

unsafe extern "C" fn succeed(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        guard(env, || {
            let (g, [token]) = target::<Guarded, 1>(env, info)
                .ok_or_else(|| napi::Error::from_reason("succeed(): no policy".to_string()))?;
            // The breaker records first, as when its own wrapper runs the attempt.
            let t = match &g.breaker {
                None => None,
                Some(b) => {
                    let mut n = f64::NAN;
                    if token.is_null()
                        || sys::napi_get_value_double(env, token, &mut n) != sys::Status::napi_ok
                    {
                        return Err(napi::Error::from_reason(
                            "succeed(token): expected a numeric token",
                        ));
                    }
                    breaker::record(b, n, Outcome::Success)
                }
            };
            g.pipeline.success(None);
            match t {
                None => Ok(ptr::null_mut()),
                Some(t) => ToNapiValue::to_napi_value(env, TransitionInfo::from(t)),
            }
        })
    }
}
