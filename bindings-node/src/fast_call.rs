//! The hot path of one breaker, `acquire()` and one `record*(token)` per outcome, as raw Node-API
//! functions (see `raw_fn.rs` for why), so a call reads its numbers, asks the core through
//! `breaker.rs` and converts back: only marshalling.

use crate::breaker::{self, Admission, NativeBreaker, TransitionInfo};
use crate::raw_fn::{call_info, functions, guard, number, numbers, Callback};
use ferrule_core::{CircuitBreaker, Outcome};
use napi::bindgen_prelude::{ToNapiValue, Unknown};
use napi::{sys, Env};
use napi_derive::napi;
use std::ptr;

/// `[acquire, recordSuccess, recordFailure, recordIgnored]` for `breaker`: call `acquire()`, then
/// one `record*(token)`. A record returns `undefined`, or the transition the outcome caused.
#[napi(catch_unwind)]
pub fn fast_calls<'e>(env: &'e Env, breaker: &NativeBreaker) -> napi::Result<Unknown<'e>> {
    let fns: [(&str, Callback); 4] = [
        ("acquire", acquire),
        ("recordSuccess", record_success),
        ("recordFailure", record_failure),
        ("recordIgnored", record_ignored),
    ];
    // SAFETY: the live env of this callback; each callback reads its data as a `CircuitBreaker`.
    unsafe { functions(env.raw(), &breaker.inner, &fns) }
}

fn bad_call(call: &str) -> napi::Error {
    napi::Error::from_reason(format!("{call}: expected numeric arguments"))
}

/// The breaker behind the called function and its first `N` arguments as numbers.
#[inline(always)]
unsafe fn breaker_args<'a, const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    call: &str,
) -> napi::Result<(&'a CircuitBreaker, [f64; N])> {
    let (b, argc, argv) = unsafe { call_info::<CircuitBreaker, N>(env, info)? };
    let nums = unsafe { numbers(env, argc, &argv) }.ok_or_else(|| bad_call(call))?;
    Ok((b, nums))
}

unsafe extern "C" fn acquire(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        guard(env, || {
            let (b, []) = breaker_args::<0>(env, info, "acquire()")?;
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
            let (b, [token]) = breaker_args::<1>(env, info, "record(token)")?;
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
