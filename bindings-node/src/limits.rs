//! `NativeLimits` and `NativeReservation`: several core limiters charged all-or-nothing, and the
//! token reservation settled against real usage, for the JS host layer (`bindings-node/limits.js`).
//! Costs cross as an array in the order of the limit names; a wait step returns one number.

use crate::error::{config_error, ConfigError, NodeParam};
use crate::rate_limit::{millis, NativeRateLimiter};
use ferrule_core::{Error, MultiLimit, MultiStep, RateLimiter, Reservation};
use napi::bindgen_prelude::{Either, Either3};
use napi_derive::napi;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A refused step: which limit refused and when every limit would pass (a rare path: an object).
#[napi(object)]
pub struct Refusal {
    pub limit: String,
    pub retry_after_ms: f64,
}

fn int(v: f64) -> i128 {
    if v.fract() == 0.0 {
        v as i128
    } else {
        -1 // fractional or NaN: below every allowed cost, so the core names it
    }
}

/// Collects named limiters, then builds the `NativeLimits` (the names are checked by the core).
#[napi]
pub struct NativeLimitsBuilder {
    // A lock only while the host adds limiters at construction, never on a decision.
    limits: Mutex<Vec<(String, Arc<RateLimiter>)>>,
}

#[napi]
impl NativeLimitsBuilder {
    #[napi(constructor, catch_unwind)]
    pub fn new() -> Self {
        Self {
            limits: Mutex::new(Vec::new()),
        }
    }

    #[napi(catch_unwind)]
    pub fn add(&self, name: String, limiter: &NativeRateLimiter) {
        self.limits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((name, limiter.inner.limiter.clone()));
    }

    #[napi(catch_unwind)]
    pub fn build(&self) -> Either<NativeLimits, ConfigError> {
        let limits = std::mem::take(&mut *self.limits.lock().unwrap_or_else(|p| p.into_inner()));
        match MultiLimit::new(limits) {
            Ok(m) => Either::A(NativeLimits { inner: Arc::new(m) }),
            Err(e) => Either::B(config_error(&e, &[])),
        }
    }
}

impl Default for NativeLimitsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

#[napi]
pub struct NativeLimits {
    inner: Arc<MultiLimit>,
}

impl NativeLimits {
    fn costs(&self, costs: &[f64]) -> Result<Vec<u64>, Error> {
        let wide: Vec<i128> = costs.iter().map(|&c| int(c)).collect();
        self.inner.units(&wide)
    }

    fn reservation(&self, r: Reservation) -> NativeReservation {
        NativeReservation {
            limits: self.inner.clone(),
            inner: r,
            settled: AtomicBool::new(false),
        }
    }
}

#[napi]
impl NativeLimits {
    /// Why `costs` are refused (the host throws it), or `null`.
    #[napi(catch_unwind)]
    pub fn costs_error(&self, costs: Vec<f64>) -> Option<ConfigError> {
        self.costs(&costs).err().map(|e| config_error(&e, &[]))
    }

    /// Takes every cost now, or none; `costs` must have passed `costsError`.
    #[napi(catch_unwind)]
    pub fn try_acquire(&self, costs: Vec<f64>, key: Option<String>) -> bool {
        let Ok(costs) = self.costs(&costs) else {
            return false;
        };
        let budget = Some(std::time::Duration::ZERO);
        matches!(
            self.inner.acquire_step(&costs, key.as_deref(), budget),
            MultiStep::Admitted(_)
        )
    }

    /// One step of a wait loop: a `NativeReservation` when admitted, the ms to wait (> 0, counted as
    /// a wait), or the `Refusal` when the wait would pass `deadlineMs`. `costs` must have passed
    /// `costsError`.
    #[napi(catch_unwind)]
    pub fn step(
        &self,
        costs: Vec<f64>,
        key: Option<String>,
        deadline_ms: Option<f64>,
    ) -> Either3<NativeReservation, f64, Refusal> {
        let Ok(costs) = self.costs(&costs) else {
            return Either3::B(f64::NAN);
        };
        let deadline = deadline_ms.map(|d| (d.max(0.0) * 1e6) as u64);
        match self.inner.acquire_until(&costs, key.as_deref(), deadline) {
            MultiStep::Admitted(r) => Either3::A(self.reservation(r)),
            MultiStep::Wait(d) => Either3::B(millis(d).max(1e-6)),
            MultiStep::Rejected { wait, limit } => Either3::C(Refusal {
                limit: self.inner.names()[limit].clone(),
                retry_after_ms: millis(wait),
            }),
        }
    }

    #[napi(catch_unwind)]
    pub fn now(&self) -> f64 {
        self.inner.now_nanos() as f64 / 1e6
    }

    #[napi(catch_unwind)]
    pub fn names(&self) -> Vec<String> {
        self.inner.names().to_vec()
    }
}

/// What `Limits.acquire` charged; settle it once with the real usage.
#[napi]
pub struct NativeReservation {
    limits: Arc<MultiLimit>,
    inner: Reservation,
    settled: AtomicBool,
}

#[napi]
impl NativeReservation {
    /// `actual[i]` (null: keep the estimate) for limit i. Returns why it was refused, or `null`.
    #[napi(catch_unwind)]
    pub fn settle(&self, actual: Vec<Option<f64>>) -> Option<ConfigError> {
        let mut real = Vec::with_capacity(actual.len());
        for (i, a) in actual.iter().enumerate() {
            match a {
                None => real.push(None),
                Some(v) if v.fract() == 0.0 && *v >= 0.0 => real.push(Some(*v as u64)),
                Some(v) => {
                    let e = Error::out_of_range(
                        "Reservation.settle",
                        "actual",
                        format!("{}={v}", self.limits.names()[i]),
                        "an integer >= 0",
                    );
                    let given = NodeParam {
                        core: "actual",
                        node: "actual",
                        millis: false,
                        given: None,
                    };
                    return Some(config_error(&e, &[given]));
                }
            }
        }
        if self.settled.swap(true, Ordering::AcqRel) {
            let e = Error::conflict(
                "Reservation",
                "settle",
                "a second call",
                "a reservation settles once",
            );
            return Some(config_error(&e, &[]));
        }
        self.limits.settle(&self.inner, &real);
        None
    }

    #[napi(getter, catch_unwind)]
    pub fn settled(&self) -> bool {
        self.settled.load(Ordering::Acquire)
    }

    /// Units charged per limit, in the order of the names.
    #[napi(getter, catch_unwind)]
    pub fn charged(&self) -> Vec<f64> {
        self.inner.charged().iter().map(|&c| c as f64).collect()
    }

    #[napi(getter, catch_unwind)]
    pub fn key(&self) -> Option<String> {
        self.inner.key().map(Into::into)
    }
}
