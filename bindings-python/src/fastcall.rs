//! Raw `METH_FASTCALL | METH_KEYWORDS` module functions for the two telemetry calls made per
//! request (`span`, `emit`). pyo3 matches each keyword by decoding its name and comparing strings
//! (and gives a function with `**kwargs` the tuple-and-dict convention); here keyword names are
//! matched by identity against interned parameter names, which is what call sites pass, with
//! string equality as the fallback. Errors read as pyo3's do.

use crate::error::internal;
use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyTuple};
use std::os::raw::c_char;

/// A function's parameters: `positional` positional-or-keyword ones first, then keyword-only.
pub struct Params<const N: usize> {
    pub function: &'static str,
    pub names: [&'static str; N],
    pub positional: usize,
    /// Whether unknown keywords are collected (`**fields`) rather than refused.
    pub extra: bool,
    pub interned: PyOnceLock<[Py<PyString>; N]>,
}

/// The matched arguments: one slot per parameter, plus the unknown keywords when collected.
pub struct Args<'py, const N: usize> {
    pub slots: [Option<Bound<'py, PyAny>>; N],
    pub extra: Vec<(Bound<'py, PyString>, Bound<'py, PyAny>)>,
}

impl<'py, const N: usize> Args<'py, N> {
    /// Argument `i` when it was given and is not `None`.
    pub fn take(&mut self, i: usize) -> Option<Bound<'py, PyAny>> {
        self.slots[i].take().filter(|v| !v.is_none())
    }
}

impl<const N: usize> Params<N> {
    /// # Safety
    /// `args`, `nargs` and `kwnames` must be what CPython passed to a METH_FASTCALL|METH_KEYWORDS
    /// function: `nargs` positional references, then one value per name in `kwnames` (a tuple, or
    /// NULL), all live for the duration of the call.
    pub unsafe fn parse<'py>(
        &self,
        py: Python<'py>,
        args: *const *mut ffi::PyObject,
        nargs: ffi::Py_ssize_t,
        kwnames: *mut ffi::PyObject,
    ) -> PyResult<Args<'py, N>> {
        let nargs = nargs.max(0) as usize;
        if nargs > self.positional {
            return Err(PyTypeError::new_err(format!(
                "{}() takes at most {} positional arguments but {nargs} were given",
                self.function, self.positional
            )));
        }
        let kwnames = unsafe { Bound::from_borrowed_ptr_or_opt(py, kwnames) }
            .map(|k| k.cast_into::<PyTuple>())
            .transpose()?;
        let nkw = kwnames.as_ref().map_or(0, |k| k.len());
        let all: &[*mut ffi::PyObject] = if nargs + nkw == 0 {
            &[]
        } else {
            unsafe { std::slice::from_raw_parts(args, nargs + nkw) }
        };
        let mut out = Args {
            slots: std::array::from_fn(|_| None),
            extra: Vec::new(),
        };
        for (i, &p) in all[..nargs].iter().enumerate() {
            out.slots[i] = Some(unsafe { Bound::from_borrowed_ptr(py, p) });
        }
        if let Some(names) = kwnames {
            let known = self.interned.get_or_init(py, || {
                std::array::from_fn(|i| PyString::intern(py, self.names[i]).unbind())
            });
            for (name, &value) in names.iter().zip(&all[nargs..]) {
                let name = name.cast_into::<PyString>()?;
                let idx = match known.iter().position(|k| k.as_ptr() == name.as_ptr()) {
                    Some(i) => Some(i),
                    None => {
                        let n = name.to_cow()?;
                        self.names.iter().position(|k| *k == n)
                    }
                };
                let value = unsafe { Bound::from_borrowed_ptr(py, value) };
                match idx {
                    Some(i) if out.slots[i].is_some() => {
                        return Err(PyTypeError::new_err(format!(
                            "{}() got multiple values for argument '{}'",
                            self.function, self.names[i]
                        )))
                    }
                    Some(i) => out.slots[i] = Some(value),
                    None if self.extra => out.extra.push((name, value)),
                    None => {
                        return Err(PyTypeError::new_err(format!(
                            "{}() got an unexpected keyword argument '{}'",
                            self.function,
                            name.to_cow()?
                        )))
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Extracts an argument as pyo3 would for a parameter of type `T`: a wrong type is refused with
/// the `ConfigError` every native argument gives (`crate::arg`), naming the parameter.
pub fn extract<'a, 'py, T>(name: &str, v: &'a Bound<'py, PyAny>) -> PyResult<T>
where
    T: FromPyObject<'a, 'py> + crate::arg::Allowed,
    T::Error: Into<PyErr>,
{
    v.extract::<T>().map_err(|e| {
        let py = v.py();
        crate::arg::named(
            py,
            name,
            crate::arg::wrong_type(v, T::ALLOWED, T::RANGE, false, e.into()),
        )
    })
}

/// Runs a raw function's body with panics caught, and hands CPython its result.
pub fn finish<'py>(
    py: Python<'py>,
    body: impl FnOnce() -> PyResult<Bound<'py, PyAny>>,
) -> *mut ffi::PyObject {
    let result = match ferrule_core::catch_panic(body) {
        Ok(r) => r,
        Err(msg) => Err(internal(py, msg)),
    };
    match result {
        Ok(v) => v.into_ptr(),
        Err(e) => {
            e.restore(py);
            std::ptr::null_mut()
        }
    }
}

/// Adds `f` to the module as `name`; `doc` starts with the `__text_signature__` line
/// (`name(a, b=None, *, c=None)\n--\n\n`), which `inspect.signature` and stubtest read.
pub fn define(
    m: &Bound<'_, PyModule>,
    name: &'static std::ffi::CStr,
    doc: &'static std::ffi::CStr,
    f: ffi::PyCFunctionFastWithKeywords,
) -> PyResult<()> {
    let py = m.py();
    // Leaked once per function: CPython keeps a pointer to the definition for the function's
    // lifetime, which is the process's.
    let def: &'static mut ffi::PyMethodDef = Box::leak(Box::new(ffi::PyMethodDef {
        ml_name: name.as_ptr() as *const c_char,
        ml_meth: ffi::PyMethodDefPointer {
            PyCFunctionFastWithKeywords: f,
        },
        ml_flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
        ml_doc: doc.as_ptr() as *const c_char,
    }));
    let module_name = m.name()?;
    // SAFETY: `def` lives for the rest of the process; the module and its name are live objects.
    let f = unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyCFunction_NewEx(def, m.as_ptr(), module_name.as_ptr()),
        )?
    };
    m.add(name.to_str().expect("ASCII name"), f)
}
