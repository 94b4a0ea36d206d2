//! The private native module `ferrule._ferrule`. The public API is the pure-Python package
//! `ferrule`, which imports from here; this crate only converts between Python and the core.

mod breaker;
mod clock;
mod error;
mod gil;
mod mock;
mod validate;

#[pyo3::pymodule]
mod _ferrule {
    #[pymodule_export]
    use crate::breaker::CircuitBreakerCore;
    #[pymodule_export]
    use crate::clock::ManualClock;
    #[pymodule_export]
    use crate::mock::MockServerCore;
    #[pymodule_export]
    use crate::validate::{
        record_validation, repair_json, validation_stats, JsonValidatorCore, Repair,
    };

    #[pymodule_init]
    fn init(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        use pyo3::types::PyModuleMethods;
        m.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
