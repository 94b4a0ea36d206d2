//! The hot path of one rate limiter, `tryAcquire(n, key)`, as a raw Node-API function (see
//! `fast_call.rs` for why: a napi-rs method costs several times the decision). The function's `data`
//! is a strong reference to the core limiter, released by a finalizer when the function is collected.

use crate::fast_call::{guard, status};
use crate::rate_limit::{units, NativeRateLimiter};
use crate::rate_limit_events::LimiterHandle;
use napi::{sys, Env};
use napi_derive::napi;
use std::ffi::c_void;
use std::ptr;
use std::sync::Arc;

/// Keys up to this many UTF-8 bytes are read into a stack buffer; longer ones are allocated.
const KEY_STACK: usize = 128;

/// `tryAcquire(n, key?)` for `limiter`: `true` admitted, `false` refused (`1` / `0` instead when
/// warnings wait in `takeWarnings`), `undefined` when `n` is not a valid size (the host then asks `unitsError` for the message: the core decides that too). `key`
/// is absent, `undefined`, `null` or a string (the host turns other keys into strings).
#[napi(catch_unwind)]
pub fn rate_limiter_fast_call<'e>(
    env: &'e Env,
    limiter: &NativeRateLimiter,
) -> napi::Result<napi::bindgen_prelude::Unknown<'e>> {
    let env = env.raw();
    let name = "tryAcquire";
    // SAFETY: plain Node-API calls on the live env of this callback. `data` is an `Arc` turned raw
    // here and turned back only by `release`, once, when the function is collected.
    unsafe {
        let data = Arc::into_raw(limiter.inner.clone()) as *mut c_void;
        let mut f = ptr::null_mut();
        let made = status(sys::napi_create_function(
            env,
            name.as_ptr().cast(),
            name.len() as isize,
            Some(try_acquire),
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
        Ok(napi::bindgen_prelude::Unknown::from_raw_unchecked(env, f))
    }
}

unsafe extern "C" fn release(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    drop(unsafe { Arc::from_raw(data as *const LimiterHandle) });
}

unsafe extern "C" fn try_acquire(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    unsafe {
        guard(env, || {
            let mut argc = 2usize;
            let mut argv = [ptr::null_mut(); 2];
            let mut data = ptr::null_mut();
            status(sys::napi_get_cb_info(
                env,
                info,
                &mut argc,
                argv.as_mut_ptr(),
                ptr::null_mut(),
                &mut data,
            ))?;
            // SAFETY: `data` is the `Arc` this function was made with; the function is being
            // called, so it is alive and its finalizer has not run.
            let limiter = &*(data as *const LimiterHandle);
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
            let mut v = ptr::null_mut();
            if limiter.events.pending() {
                // Rare: warnings wait in `takeWarnings`; a number instead of a boolean says so.
                return status(sys::napi_create_int32(env, admitted as i32, &mut v)).map(|()| v);
            }
            // true and false are V8's singletons: nothing is allocated.
            status(sys::napi_get_boolean(env, admitted, &mut v)).map(|()| v)
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
