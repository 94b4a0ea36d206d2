//! ferrule-node: the napi binding of ferrule-core. It converts JavaScript values to core types, calls
//! the core and converts back; the rules live in the core, the calling of user functions in the JS
//! host layer (`bindings-node/index.js`). This native module is private: only the host layer loads it.

mod breaker;
mod clock;
mod error;
mod fast_call;
mod mock;
mod validate;

pub use breaker::{create_breaker, NativeBreaker};
pub use clock::NativeManualClock;
pub use fast_call::fast_calls;
pub use mock::{create_mock_server, NativeMockServer};
pub use validate::{
    create_json_validator, record_validation, repair_json, validation_stats_json,
    NativeJsonValidator,
};

/// Panics on purpose, so the node tests can check that a Rust panic reaches JS as an exception and
/// never as a crash. Only on the private native module; the public API does not expose it.
#[napi_derive::napi(catch_unwind)]
pub fn panic_for_test() {
    panic!("deliberate panic for the panic-safety test");
}
