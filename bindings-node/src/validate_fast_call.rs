//! The steady path of one JSON validator, `accept(text)`, as a raw Node-API function (see
//! `raw_fn.rs` for why): `true` when the core accepts the text as given (strict JSON within the
//! limits, matching the schema; counted as valid), so the host builds it with `JSON.parse`;
//! `false` sends the host to `validate` for the repaired value or the refusal.

use crate::raw_fn::{call_info, function, guard, status};
use crate::validate::NativeJsonValidator;
use ferrule_core::validate::JsonValidator;
use napi::{sys, Env};
use napi_derive::napi;
use std::cell::RefCell;
use std::ptr;

/// The text buffer kept per thread between calls (larger texts get one of their own).
const KEEP_BYTES: usize = 1 << 20;

thread_local! {
    static TEXT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `accept(text)` for `validator`.
#[napi(catch_unwind)]
pub fn json_validator_fast_call<'e>(
    env: &'e Env,
    validator: &NativeJsonValidator,
) -> napi::Result<napi::bindgen_prelude::Unknown<'e>> {
    // SAFETY: the live env of this callback; `accept` reads its data as a `JsonValidator`.
    let f = unsafe { function(env.raw(), &validator.inner, "accept", accept)? };
    Ok(unsafe { napi::bindgen_prelude::Unknown::from_raw_unchecked(env.raw(), f) })
}

/// Copies the JS string `v` as UTF-8 into `buf` (sized from its UTF-16 length, so in one pass)
/// and runs `f` on it.
unsafe fn with_text<R>(
    env: sys::napi_env,
    v: sys::napi_value,
    buf: &mut Vec<u8>,
    f: impl FnOnce(&str) -> R,
) -> napi::Result<R> {
    let mut units = 0usize;
    status(unsafe { sys::napi_get_value_string_utf16(env, v, ptr::null_mut(), 0, &mut units) })
        .map_err(|_| napi::Error::from_reason("accept: text must be a string"))?;
    // A UTF-16 unit is at most three UTF-8 bytes (a surrogate pair, two units, is four).
    let cap = units * 3 + 1;
    if buf.len() < cap {
        buf.resize(cap, 0);
    }
    let mut len = 0usize;
    status(unsafe {
        sys::napi_get_value_string_utf8(env, v, buf.as_mut_ptr().cast(), cap, &mut len)
    })?;
    // Node-API writes valid UTF-8 (lone surrogates become U+FFFD).
    let text = std::str::from_utf8(&buf[..len])
        .map_err(|_| napi::Error::from_reason("accept: text is not valid UTF-8"))?;
    Ok(f(text))
}

unsafe extern "C" fn accept(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        guard(env, || {
            let (validator, argc, [arg]) = call_info::<JsonValidator, 1>(env, info)?;
            if argc < 1 {
                return Err(napi::Error::from_reason("accept: text must be a string"));
            }
            let accepted = TEXT.with(|cell| match cell.try_borrow_mut() {
                Ok(mut buf) => {
                    let r = with_text(env, arg, &mut buf, |t| validator.accept_as_given(t));
                    if buf.len() > KEEP_BYTES {
                        *buf = Vec::new();
                    }
                    r
                }
                // Re-entered on this thread (not expected: nothing here calls into JS).
                Err(_) => with_text(env, arg, &mut Vec::new(), |t| validator.accept_as_given(t)),
            })?;
            let mut v = ptr::null_mut();
            // true and false are V8's singletons: nothing is allocated.
            status(sys::napi_get_boolean(env, accepted, &mut v)).map(|()| v)
        })
    }
}
