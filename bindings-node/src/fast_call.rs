//! The hot path of one breaker, `acquire()` and one `record*(token)` per outcome, as raw Node-API
//! functions. napi-rs (3.16) wraps a class method in class-identity and borrow-tracking checks, and
//! any function with arguments in a borrow scope: 100-220 ns per call on Node 20 (measured), several
//! times the breaker's decision. Here each breaker gets its own functions whose Node-API `data` is a
//! strong reference to the core breaker (released by a finalizer when the function is collected), so
//! a call reads its numbers, asks the core through `breaker.rs` and converts back: only marshalling.

use crate::breaker::{self, Admission, NativeBreaker, TransitionInfo};
use ferrule_core::{CircuitBreaker, Outcome};
use napi::bindgen_prelude::{ToNapiValue, Unknown};
use napi::{sys, Env, JsError};
use napi_derive::napi;
use std::ffi::c_void;
use std::ptr;
use std::sync::Arc;

type Callback = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

/// `[acquire, recordSuccess, recordFailure, recordIgnored]` for `breaker`: call `acquire()`, then
/// one `record*(token)`. A record returns `undefined`, or the transition the outcome caused.
#[napi(catch_unwind)]
pub fn fast_calls<'e>(env: &'e Env, breaker: &NativeBreaker) -> napi::Result<Unknown<'e>> {
    let env = env.raw();
    let fns: [(&str, Callback); 4] = [
        ("acquire", acquire),
        ("recordSuccess", record_success),
        ("recordFailure", record_failure),
        ("recordIgnored", record_ignored),
    ];
    // SAFETY: plain Node-API calls on the live env of this callback. Each function's `data` is an
    // `Arc` turned raw here and turned back only by `release`, once, when the function is collected.
    unsafe {
        let mut list = ptr::null_mut();
        status(sys::napi_create_array_with_length(
            env,
            fns.len(),
            &mut list,
        ))?;
        for (i, (name, cb)) in fns.into_iter().enumerate() {
            let data = Arc::into_raw(breaker.inner.clone()) as *mut c_void;
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
                // No finalizer owns the reference, and no one can call the function: take it back.
                release(env, data, ptr::null_mut());
                return Err(e);
            }
            status(sys::napi_set_element(env, list, i as u32, f))?;
        }
        Ok(Unknown::from_raw_unchecked(env, list))
    }
}

unsafe extern "C" fn release(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // A finalizer cannot throw: a panic in a drop (the panic hook has already printed it) is caught
    // here rather than unwound into Node.
    let data = data as usize;
    let _ = ferrule_core::catch_panic(move || {
        drop(unsafe { Arc::from_raw(data as *const CircuitBreaker) });
    });
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

/// The breaker behind the called function and its first `N` arguments as numbers; `None` if one is
/// missing or not a number.
unsafe fn call_info<'a, const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> Option<(&'a CircuitBreaker, [f64; N])> {
    let mut argc = N;
    let mut argv = [ptr::null_mut(); N];
    let mut data = ptr::null_mut();
    let s = unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            ptr::null_mut(),
            &mut data,
        )
    };
    if s != sys::Status::napi_ok || argc < N || data.is_null() {
        return None;
    }
    let mut out = [0.0; N];
    for (o, v) in out.iter_mut().zip(argv) {
        if unsafe { sys::napi_get_value_double(env, v, o) } != sys::Status::napi_ok {
            return None;
        }
    }
    // SAFETY: `data` is the `Arc` this function was made with; the function is being called, so it
    // is alive and its finalizer has not run.
    Some((unsafe { &*(data as *const CircuitBreaker) }, out))
}

/// Runs a callback body, turning an error or a caught panic into a thrown JS `Error` (the host layer
/// wraps it in a `FerruleError`): nothing unwinds out of a callback.
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

/// A number for JS. Integers that fit `i32` (the token of a breaker without timing, and most
/// refusals) become small integers directly, skipping V8's heap-number check.
#[inline]
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

fn bad_call(call: &str) -> napi::Error {
    napi::Error::from_reason(format!("{call}: expected numeric arguments"))
}

unsafe extern "C" fn acquire(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        guard(env, || {
            let (b, []) = call_info::<0>(env, info).ok_or_else(|| bad_call("acquire()"))?;
            match breaker::acquire(b) {
                (n, None) => number(env, n),
                // Rare: this call moved the breaker to half-open, so it may cost an object.
                (token, Some(t)) => ToNapiValue::to_napi_value(
                    env,
                    Admission {
                        token,
                        transition: t.into(),
                    },
                ),
            }
        })
    }
}

/// One outcome's record: one argument (the token) instead of two, and `undefined` (a null
/// `napi_value`, no Node-API call) when nothing moved.
#[inline]
unsafe fn record(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    outcome: Outcome,
) -> sys::napi_value {
    unsafe {
        guard(env, || {
            let (b, [token]) =
                call_info::<1>(env, info).ok_or_else(|| bad_call("record(token)"))?;
            match breaker::record(b, token, outcome) {
                None => Ok(ptr::null_mut()),
                Some(t) => ToNapiValue::to_napi_value(env, TransitionInfo::from(t)),
            }
        })
    }
}

unsafe extern "C" fn record_success(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    unsafe { record(env, info, Outcome::Success) }
}

unsafe extern "C" fn record_failure(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    unsafe { record(env, info, Outcome::Failure) }
}

unsafe extern "C" fn record_ignored(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    unsafe { record(env, info, Outcome::Ignored) }
}
