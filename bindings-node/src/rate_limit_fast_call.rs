//! The hot path of one rate limiter, `tryAcquire(n, key)`, as a raw Node-API function (see
//! `raw_fn.rs` for why): it holds a strong reference to the core limiter.

use crate::rate_limit::{units, NativeRateLimiter};
use crate::rate_limit_events::LimiterHandle;
use crate::raw_fn::{call_info, functions, guard, status, Callback};
use napi::{sys, Env};
use napi_derive::napi;
use std::ptr;

/// Keys up to this many UTF-8 bytes are read into a stack buffer; longer ones are allocated.
const KEY_STACK: usize = 128;

/// `[tryAcquire, tryAcquireOne]` for `limiter`. `tryAcquire(n, key?)`: `true` admitted, `false`
/// refused (`1` / `0` instead when warnings wait in `takeWarnings`), `undefined` when `n` is not a
/// valid size (the host then asks `unitsError` for the message: the core decides that too). `key`
/// is absent, `undefined`, `null` or a string (the host turns other keys into strings).
/// `tryAcquireOne()`: the same for one unit and no key, the common call, reading no argument (one
/// unit always fits a limiter: its burst or limit is at least 1).
#[napi(catch_unwind)]
pub fn rate_limiter_fast_call<'e>(
    env: &'e Env,
    limiter: &NativeRateLimiter,
) -> napi::Result<napi::bindgen_prelude::Unknown<'e>> {
    let fns: [(&str, Callback); 2] = [
        ("tryAcquire", try_acquire),
        ("tryAcquireOne", try_acquire_one),
    ];
    // SAFETY: the live env of this callback; both callbacks read their data as a `LimiterHandle`.
    unsafe { functions(env.raw(), &limiter.inner, &fns) }
}

/// `true`/`false`, or `1`/`0` when warnings wait in `takeWarnings`.
#[inline(always)]
unsafe fn answer(
    env: sys::napi_env,
    limiter: &LimiterHandle,
    admitted: bool,
) -> napi::Result<sys::napi_value> {
    let mut v = ptr::null_mut();
    if limiter.events.pending() {
        // Rare: warnings wait in `takeWarnings`; a number instead of a boolean says so.
        return status(unsafe { sys::napi_create_int32(env, admitted as i32, &mut v) }).map(|()| v);
    }
    // true and false are V8's singletons: nothing is allocated.
    status(unsafe { sys::napi_get_boolean(env, admitted, &mut v) }).map(|()| v)
}

unsafe extern "C" fn try_acquire_one(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    unsafe {
        guard(env, || {
            let (limiter, _, []) = call_info::<LimiterHandle, 0>(env, info)?;
            let admitted = limiter.try_acquire(1, None).is_ok();
            answer(env, limiter, admitted)
        })
    }
}

unsafe extern "C" fn try_acquire(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    unsafe {
        guard(env, || {
            let (limiter, argc, argv) = call_info::<LimiterHandle, 2>(env, info)?;
            let mut n = 1.0;
            if argc >= 1 && sys::napi_get_value_double(env, argv[0], &mut n) != sys::Status::napi_ok
            {
                n = f64::NAN; // not a number: refused as a bad size
            }
            let admitted = match limiter.units(units(n)) {
                Err(_) => return Ok(ptr::null_mut()), // undefined, with no Node-API call
                Ok(n) => {
                    let mut stack = [0u8; KEY_STACK];
                    let mut heap = Vec::new();
                    let key = if argc >= 2 {
                        read_key(env, argv[1], &mut stack, &mut heap)?
                    } else {
                        None
                    };
                    limiter.try_acquire(n, key).is_ok()
                }
            };
            answer(env, limiter, admitted)
        })
    }
}

/// The key argument as `&str`: `None` for `undefined`/`null`, the string's UTF-8 otherwise.
unsafe fn read_key<'a>(
    env: sys::napi_env,
    v: sys::napi_value,
    stack: &'a mut [u8; KEY_STACK],
    heap: &'a mut Vec<u8>,
) -> napi::Result<Option<&'a str>> {
    let mut t = 0;
    status(unsafe { sys::napi_typeof(env, v, &mut t) })?;
    if t == sys::ValueType::napi_undefined || t == sys::ValueType::napi_null {
        return Ok(None);
    }
    if t != sys::ValueType::napi_string {
        return Err(napi::Error::from_reason("tryAcquire: key must be a string"));
    }
    let mut len = 0usize;
    status(unsafe {
        sys::napi_get_value_string_utf8(env, v, stack.as_mut_ptr().cast(), KEY_STACK, &mut len)
    })?;
    let bytes: &[u8] = if len < KEY_STACK - 1 {
        &stack[..len]
    } else {
        // Possibly cut short: ask for the full length, then read it all.
        status(unsafe { sys::napi_get_value_string_utf8(env, v, ptr::null_mut(), 0, &mut len) })?;
        heap.resize(len + 1, 0);
        status(unsafe {
            sys::napi_get_value_string_utf8(env, v, heap.as_mut_ptr().cast(), len + 1, &mut len)
        })?;
        &heap[..len]
    };
    // Node-API writes valid UTF-8 (lone surrogates become U+FFFD).
    Ok(Some(std::str::from_utf8(bytes).map_err(|_| {
        napi::Error::from_reason("tryAcquire: key is not valid UTF-8")
    })?))
}
