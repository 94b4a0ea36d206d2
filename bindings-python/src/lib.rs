//! The private native module `ferrule._ferrule`. The public API is the pure-Python package
//! `ferrule`, which imports from here; this crate only converts between Python and the core.

mod backoff;
mod breaker;
mod chaos;
mod clock;
mod error;
mod gil;
mod mock;
mod policy;
mod rate_limit;
mod retry_hint;
mod sleeper;
mod watch;

#[pyo3::pymodule]
mod _ferrule {
    #[pymodule_export]
    use crate::backoff::Backoff;
    #[pymodule_export]
    use crate::breaker::CircuitBreakerCore;
    #[pymodule_export]
    use crate::chaos::ChaosCore;
    #[pymodule_export]
    use crate::clock::ManualClock;
    #[pymodule_export]
    use crate::mock::MockServerCore;
    #[pymodule_export]
    use crate::policy::{sync_remaining, PolicyCore, RetryOptions};
    #[pymodule_export]
    use crate::rate_limit::{LimitsCore, RateLimiterCore, Reservation};
    #[pymodule_export]
    use crate::retry_hint::{hint_header_names, retry_hint, transient_statuses};
    #[pymodule_export]
    use crate::watch::anomaly::AnomalyCore;
    #[pymodule_export]
    use crate::watch::drift::DriftCore;
    #[pymodule_export]
    use crate::watch::predictor::PredictorCore;
    #[pymodule_export]
    use crate::watch::slo::SloCore;

    #[pymodule_init]
    fn init(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        use pyo3::types::PyModuleMethods;
        m.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
