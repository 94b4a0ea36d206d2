//! Raw Node-API functions bound to one core object: the hot paths of the breaker, the policy and the
//! rate limiter. napi-rs (3.16) wraps a class method in class-identity and borrow-tracking checks, and
//! any function with arguments in a borrow scope: 100-220 ns per call on Node 20 (measured), several
//! times the core's decision. A function made here has as its Node-API `data` a strong `Arc` to the
//! core object, released by a finalizer when the function is collected, so a call only marshals.

use napi::bindgen_prelude::Unknown;
use napi::{sys, JsError};
use std::ffi::c_void;
use std::ptr;
use std::sync::Arc;

pub(crate) type Callback =
    unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

pub(crate) fn status(s: sys::napi_status) -> napi::Result<()> {
    if s == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::from_reason(format!(
            "Node-API call failed with status {s}"
        )))
    }
}

unsafe extern "C" fn release<T>(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // A finalizer cannot throw: a panic in a drop (the panic hook has already printed it) is caught
    // here rather than unwound into Node.
    let data = data as usize;
    let _ = ferrule_core::catch_panic(move || drop(unsafe { Arc::from_raw(data as *const T) }));
}

/// One function named `name` calling `cb`, holding a strong reference to `target`.
///
/// # Safety
/// `env` must be the live env of the current Node-API callback, and `cb` must read its `data` only
/// as `*const T` (through [`call_info`]).
pub(crate) unsafe fn function<T: Send + Sync + 'static>(
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
        // No finalizer owns the reference, and no one can call the function: take it back.
        unsafe { release::<T>(env, data, ptr::null_mut()) };
        return Err(e);
    }
    Ok(f)
}

/// An array of functions over `target`, in the order given.
///
/// # Safety
/// As [`function`].
pub(crate) unsafe fn functions<'e, T: Send + Sync + 'static>(
    env: sys::napi_env,
    target: &Arc<T>,
    fns: &[(&str, Callback)],
) -> napi::Result<Unknown<'e>> {
    let mut arr = ptr::null_mut();
    status(unsafe { sys::napi_create_array_with_length(env, fns.len(), &mut arr) })?;
    for (i, (name, cb)) in fns.iter().enumerate() {
        let f = unsafe { function(env, target, name, *cb)? };
        status(unsafe { sys::napi_set_element(env, arr, i as u32, f) })?;
    }
    Ok(unsafe { Unknown::from_raw_unchecked(env, arr) })
}

/// The target behind the called function and up to `N` raw arguments (`argc` says how many came).
///
/// # Safety
/// Only inside a callback made by [`function`] with the same `T`.
#[inline(always)]
pub(crate) unsafe fn call_info<'a, T, const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> napi::Result<(&'a T, usize, [sys::napi_value; N])> {
    let mut argc = N;
    let mut argv = [ptr::null_mut(); N];
    let mut data = ptr::null_mut();
    status(unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            ptr::null_mut(),
            &mut data,
        )
    })?;
    if data.is_null() {
        return Err(napi::Error::from_reason(
            "ferrule: a hot-path function lost its target",
        ));
    }
    // SAFETY: `data` is the `Arc` this function was made with; the function is being called, so it
    // is alive and its finalizer has not run.
    Ok((unsafe { &*(data as *const T) }, argc, argv))
}

/// The first `N` arguments as numbers; `None` if one is missing or not a number.
///
/// # Safety
/// `argv` must hold live values of this callback.
#[inline(always)]
pub(crate) unsafe fn numbers<const N: usize>(
    env: sys::napi_env,
    argc: usize,
    argv: &[sys::napi_value; N],
) -> Option<[f64; N]> {
    if argc < N {
        return None;
    }
    let mut out = [0.0; N];
    for (o, v) in out.iter_mut().zip(argv) {
        if unsafe { sys::napi_get_value_double(env, *v, o) } != sys::Status::napi_ok {
            return None;
        }
    }
    Some(out)
}

/// Runs a callback body, turning an error or a caught panic into a thrown JS `Error` (the host layer
/// wraps it in a `FerruleError`): nothing unwinds out of a callback.
///
/// # Safety
/// `env` must be the live env of the current callback.
#[inline]
pub(crate) unsafe fn guard(
    env: sys::napi_env,
    body: impl FnOnce() -> napi::Result<sys::napi_value>,
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

/// A number for JS. Integers that fit `i32` become small integers directly, skipping V8's
/// heap-number check.
///
/// # Safety
/// `env` must be the live env of the current callback.
#[inline]
pub(crate) unsafe fn number(env: sys::napi_env, n: f64) -> napi::Result<sys::napi_value> {
    let mut v = ptr::null_mut();
    let i = n as i32;
    let s = if i as f64 == n {
        unsafe { sys::napi_create_int32(env, i, &mut v) }
    } else {
        unsafe { sys::napi_create_double(env, n, &mut v) }
    };
    status(s).map(|()| v)
}
