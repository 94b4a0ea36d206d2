//! The hot metric calls, `inc(amount?)` on a counter handle and `observe(value)` on a histogram
//! handle, as raw Node-API functions (the reason is in `fast_call.rs`: a napi-rs method costs
//! several times the atomic add it wraps). Each function's `data` is a strong reference to its
//! series cell, released by a finalizer when the function is collected.

use crate::metrics::{NativeCounterChild, NativeHistogramChild};
use ferrule_core::{CounterHandle, HistogramHandle};
use napi::bindgen_prelude::Unknown;
use napi::{sys, Env, JsError};
use napi_derive::napi;
use std::ffi::c_void;
use std::ptr;

type Callback = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

fn status(s: sys::napi_status) -> napi::Result<()> {
    if s == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::from_reason(format!(
            "Node-API call failed with status {s}"
        )))
    }
}

unsafe extern "C" fn release<T>(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    let data = data as usize;
    let _ = ferrule_core::catch_panic(move || {
        drop(unsafe { Box::from_raw(data as *mut T) });
    });
}

/// A JS function named `name` calling `cb` with `data` (boxed; freed when the function is collected).
fn make<'e, T: 'static>(
    env: &'e Env,
    name: &str,
    cb: Callback,
    data: T,
) -> napi::Result<Unknown<'e>> {
    let env = env.raw();
    let data = Box::into_raw(Box::new(data)) as *mut c_void;
    // SAFETY: plain Node-API calls on the live env of this callback. `data` is turned back into its
    // box only by `release::<T>`, once: by the finalizer, or here if no finalizer took it.
    unsafe {
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
                Some(release::<T>),
                ptr::null_mut(),
                ptr::null_mut(),
            ))
        });
        if let Err(e) = made {
            release::<T>(env, data, ptr::null_mut());
            return Err(e);
        }
        Ok(Unknown::from_raw_unchecked(env, f))
    }
}

/// `inc(amount?)` for this counter handle. Returns `undefined`, or the refusal message for an
/// amount the core refuses (negative, NaN), which the host throws as a `RangeError`.
#[napi(catch_unwind)]
pub fn counter_inc_fn<'e>(env: &'e Env, child: &NativeCounterChild) -> napi::Result<Unknown<'e>> {
    make(env, "inc", counter_inc, child.h.clone())
}

/// `observe(value)` for this histogram handle; returns `undefined`.
#[napi(catch_unwind)]
pub fn histogram_observe_fn<'e>(
    env: &'e Env,
    child: &NativeHistogramChild,
) -> napi::Result<Unknown<'e>> {
    make(env, "observe", histogram_observe, child.h.clone())
}

/// The handle behind the called function and its first argument as a number (`None` when absent
/// or `undefined`); `Err` when the argument is not a number.
unsafe fn call_info<'a, T>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> Result<(&'a T, Option<f64>), &'static str> {
    let mut argc = 1;
    let mut argv = [ptr::null_mut(); 1];
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
    if s != sys::Status::napi_ok || data.is_null() {
        return Err("bad call");
    }
    // SAFETY: `data` is the box this function was made with; it is being called, so it is alive.
    let h = unsafe { &*(data as *const T) };
    if argc == 0 {
        return Ok((h, None));
    }
    let mut v = 0.0;
    match unsafe { sys::napi_get_value_double(env, argv[0], &mut v) } {
        sys::Status::napi_ok => Ok((h, Some(v))),
        _ => {
            let mut t = 0;
            unsafe { sys::napi_typeof(env, argv[0], &mut t) };
            if t == sys::ValueType::napi_undefined {
                Ok((h, None))
            } else {
                Err("expected a number")
            }
        }
    }
}

unsafe fn throw(env: sys::napi_env, msg: &str) -> sys::napi_value {
    unsafe { JsError::from(napi::Error::from_reason(msg.to_string())).throw_into(env) };
    ptr::null_mut()
}

unsafe fn string(env: sys::napi_env, s: &str) -> sys::napi_value {
    let mut v = ptr::null_mut();
    unsafe { sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut v) };
    v
}

unsafe extern "C" fn counter_inc(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    let r = ferrule_core::catch_panic(|| match unsafe { call_info::<CounterHandle>(env, info) } {
        Ok((h, None)) => {
            h.inc();
            Ok(None)
        }
        Ok((h, Some(n))) if n.fract() == 0.0 && (0.0..9.0e15).contains(&n) => {
            h.add(n as u64);
            Ok(None)
        }
        Ok((h, Some(n))) => Ok(h.add_f64(n).err().map(|e| e.to_string())),
        Err(m) => Err(m.to_string()),
    });
    match r {
        Ok(Ok(None)) => ptr::null_mut(),
        Ok(Ok(Some(refusal))) => unsafe { string(env, &refusal) },
        Ok(Err(m)) => unsafe { throw(env, &format!("inc(amount): {m}")) },
        Err(panic) => unsafe { throw(env, &format!("panic: {panic}")) },
    }
}

unsafe extern "C" fn histogram_observe(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    let r =
        ferrule_core::catch_panic(
            || match unsafe { call_info::<HistogramHandle>(env, info) } {
                Ok((h, Some(v))) => {
                    h.observe(v);
                    Ok(())
                }
                Ok((_, None)) => Err("expected a number"),
                Err(m) => Err(m),
            },
        );
    match r {
        Ok(Ok(())) => ptr::null_mut(),
        Ok(Err(m)) => unsafe { throw(env, &format!("observe(value): {m}")) },
        Err(panic) => unsafe { throw(env, &format!("panic: {panic}")) },
    }
}
