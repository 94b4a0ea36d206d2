//! A parsed JSON value as Python objects, built once (no JSON text round trip), from a
//! `serde_json::Value` (after a repair) or straight from the core's checked tape (the steady path:
//! the text is read once). Object keys and short values repeat from one model output to the next
//! (`"answer"`, `"en"`, ...), so the Python string made for a short string is kept in a small
//! per-thread table and reused, as pydantic's jiter does: one allocation and one hash saved per
//! string. Per thread, so the hot path takes no lock.

use ferrule_core::validate::{Tape, TapeValue};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyList, PyString};
use serde_json::{Number, Value};
use std::cell::RefCell;

/// Slots in each thread's string table (direct-mapped: a collision replaces the older string).
const SLOTS: usize = 1024;
/// Longer keys are not cached: they are rarely repeated and costly to compare.
const MAX_CACHED_KEY_BYTES: usize = 64;

struct Slot {
    key: Box<str>,
    string: Py<PyString>,
}

type Table = Vec<Option<Slot>>;

thread_local! {
    static KEYS: RefCell<Table> = RefCell::new((0..SLOTS).map(|_| None).collect());
}

#[inline]
fn slot_of(k: &str) -> usize {
    // FNV-1a over the (short) key.
    let mut h: u32 = 0x811c_9dc5;
    for &b in k.as_bytes() {
        h = (h ^ b as u32).wrapping_mul(0x0100_0193);
    }
    h as usize % SLOTS
}

#[inline]
fn key<'py>(py: Python<'py>, table: Option<&mut Table>, k: &str) -> Bound<'py, PyString> {
    let Some(table) = table else {
        return PyString::new(py, k);
    };
    if k.len() > MAX_CACHED_KEY_BYTES {
        return PyString::new(py, k);
    }
    let slot = &mut table[slot_of(k)];
    if let Some(s) = slot {
        if &*s.key == k {
            return s.string.bind(py).clone();
        }
    }
    let s = PyString::new(py, k);
    *slot = Some(Slot {
        key: k.into(),
        string: s.clone().unbind(),
    });
    s
}

/// Converts `v` (dict keeps the document's key order). Recursion is bounded by `max_depth` (at
/// most 1000), which the parser enforced.
pub fn to_python<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    KEYS.with(|cell| {
        // Creating objects can run a garbage collection, whose finalizers may parse JSON on this
        // same thread: that nested call simply goes without the table.
        match cell.try_borrow_mut() {
            Ok(mut table) => convert(py, v, &mut Some(&mut *table)),
            Err(_) => convert(py, v, &mut None),
        }
    })
}

fn number<'py>(py: Python<'py>, n: &Number) -> PyResult<Bound<'py, PyAny>> {
    Ok(if let Some(i) = n.as_i64() {
        i.into_pyobject(py)?.into_any()
    } else if let Some(u) = n.as_u64() {
        u.into_pyobject(py)?.into_any()
    } else {
        PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any()
    })
}

fn convert<'py>(
    py: Python<'py>,
    v: &Value,
    table: &mut Option<&mut Table>,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(n) => number(py, n)?,
        Value::String(s) => key(py, table.as_deref_mut(), s).into_any(),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for x in items {
                out.push(convert(py, x, table)?);
            }
            PyList::new(py, out)?.into_any()
        }
        Value::Object(map) => {
            let d = PyDict::new(py);
            for (k, x) in map {
                let value = convert(py, x, table)?;
                d.set_item(key(py, table.as_deref_mut(), k), value)?;
            }
            d.into_any()
        }
    })
}

/// Builds the document the core checked in place (the value `parse` would give, objects in
/// document order). Recursion is bounded by the validator's `max_depth` (at most 1000).
pub fn tape_to_python<'py>(py: Python<'py>, tape: &Tape<'_>) -> PyResult<Bound<'py, PyAny>> {
    KEYS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut table) => from_tape(py, tape, 0, &mut Some(&mut *table)),
        Err(_) => from_tape(py, tape, 0, &mut None),
    })
}

fn from_tape<'py>(
    py: Python<'py>,
    tape: &Tape<'_>,
    at: u32,
    table: &mut Option<&mut Table>,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match tape.node(at) {
        TapeValue::Null => py.None().into_bound(py),
        TapeValue::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        TapeValue::Number(n) => number(py, n)?,
        TapeValue::String(s) => key(py, table.as_deref_mut(), s).into_any(),
        TapeValue::Array(len) => {
            let mut out = Vec::with_capacity(len as usize);
            let mut i = at + 1;
            for _ in 0..len {
                out.push(from_tape(py, tape, i, table)?);
                i = tape.end_of(i);
            }
            PyList::new(py, out)?.into_any()
        }
        TapeValue::Object(len) => {
            let d = PyDict::new(py);
            let mut i = at + 1;
            for _ in 0..len {
                let TapeValue::String(k) = tape.node(i) else {
                    unreachable!("an object member starts with its key")
                };
                let value = from_tape(py, tape, i + 1, table)?;
                d.set_item(key(py, table.as_deref_mut(), k), value)?;
                i = tape.end_of(i + 1);
            }
            d.into_any()
        }
    })
}
