//! `SchemaSnapshot`: tells in one walk, without comparing values, whether a JSON Schema given as
//! Python dicts and lists is still exactly what was compiled, so `parse_json(schema=dict)` can
//! reuse its compiled validator and still never validate against a stale schema.
//!
//! The snapshot holds a strong reference to every object of the schema (so no id is reused while
//! it lives) and, per container, its length and its entries in order. A schema is unchanged when
//! every slot still holds the very same object: a value replaced (even by an equal one), a key
//! added or removed, a nested dict or list changed in place, all fail the walk and the caller
//! recompiles. Leaves are what `json.dumps` accepts: `str`, `int`, `float` (and their subclasses),
//! `bool`, `None`, which are immutable, so identity is equality. The check is a pointer compare per
//! slot: about a tenth of the cost of `==` against a deep copy.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

/// Deeper schemas are not snapshotted (the snapshot never matches, so they are recompiled on every
/// call: correct, only slow; no real schema nests this deep).
const MAX_DEPTH: usize = 256;

enum Shape {
    Leaf,
    Dict(isize),
    List(isize),
    Tuple(isize),
}

struct Slot {
    /// Held, so the address compared below cannot be reused by another object.
    obj: Py<PyAny>,
    shape: Shape,
}

#[pyclass(frozen, name = "SchemaSnapshot", module = "ferrule._ferrule")]
pub struct SchemaSnapshot {
    /// Pre-order: a container, then (for a dict) each key followed by its value's slots.
    slots: Vec<Slot>,
    complete: bool,
}

fn take(obj: &Bound<'_, PyAny>, depth: usize, out: &mut Vec<Slot>) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        out.push(Slot {
            obj: obj.clone().unbind(),
            shape: Shape::Dict(d.len() as isize),
        });
        for (k, v) in d.iter() {
            out.push(Slot {
                obj: k.unbind(),
                shape: Shape::Leaf,
            });
            if !take(&v, depth + 1, out) {
                return false;
            }
        }
    } else if let Ok(l) = obj.cast::<PyList>() {
        out.push(Slot {
            obj: obj.clone().unbind(),
            shape: Shape::List(l.len() as isize),
        });
        for v in l.iter() {
            if !take(&v, depth + 1, out) {
                return false;
            }
        }
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        out.push(Slot {
            obj: obj.clone().unbind(),
            shape: Shape::Tuple(t.len() as isize),
        });
        for v in t.iter() {
            if !take(&v, depth + 1, out) {
                return false;
            }
        }
    } else {
        out.push(Slot {
            obj: obj.clone().unbind(),
            shape: Shape::Leaf,
        });
    }
    true
}

/// Whether the object at `obj` is the one snapshotted at `slots[*at]` (and, for a container,
/// unchanged inside). Advances `at` past the subtree.
///
/// # Safety
/// The GIL is held and `obj` is a live object, borrowed for the call; nothing here runs Python
/// code (no comparisons, no hashing), so no container can change during the walk.
unsafe fn same(slots: &[Slot], at: &mut usize, obj: *mut ffi::PyObject) -> bool {
    let Some(slot) = slots.get(*at) else {
        return false;
    };
    *at += 1;
    if slot.obj.as_ptr() != obj {
        return false;
    }
    // The same object as snapshotted, so the same type: its shape tells which walk applies.
    unsafe {
        match slot.shape {
            Shape::Leaf => true,
            Shape::Dict(len) => {
                if ffi::PyDict_Size(obj) != len {
                    return false;
                }
                let mut pos: ffi::Py_ssize_t = 0;
                let mut k: *mut ffi::PyObject = std::ptr::null_mut();
                let mut v: *mut ffi::PyObject = std::ptr::null_mut();
                while ffi::PyDict_Next(obj, &mut pos, &mut k, &mut v) != 0 {
                    match slots.get(*at) {
                        Some(key) if key.obj.as_ptr() == k => *at += 1,
                        _ => return false,
                    }
                    if !same(slots, at, v) {
                        return false;
                    }
                }
                true
            }
            Shape::List(len) => {
                if ffi::PyList_Size(obj) != len {
                    return false;
                }
                (0..len).all(|i| same(slots, at, ffi::PyList_GetItem(obj, i)))
            }
            Shape::Tuple(len) => {
                // Immutable itself, but it may hold a dict or list that is not.
                (0..len).all(|i| same(slots, at, ffi::PyTuple_GetItem(obj, i)))
            }
        }
    }
}

#[pymethods]
impl SchemaSnapshot {
    #[new]
    fn new(schema: &Bound<'_, PyAny>) -> Self {
        let mut slots = Vec::new();
        let complete = take(schema, 0, &mut slots);
        Self { slots, complete }
    }

    /// True when `schema` is the object snapshotted and nothing inside it has changed.
    fn matches(&self, schema: &Bound<'_, PyAny>) -> bool {
        if !self.complete {
            return false;
        }
        let mut at = 0;
        // SAFETY: the GIL is held (we have a `Bound`) and `schema` lives for the call.
        unsafe { same(&self.slots, &mut at, schema.as_ptr()) && at == self.slots.len() }
    }

    /// How many objects the snapshot holds (a test aid: one per container, key and leaf).
    fn __len__(&self) -> usize {
        self.slots.len()
    }
}
