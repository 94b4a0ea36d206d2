//! Chaos: fault injection for users' own tests (Polly's Simmy). The innermost strategy of a
//! pipeline: before the call, decide whether to add latency and whether to fail instead of calling.
//! Deterministic with a seed; off unless configured.

use crate::error::{check, Error, Result};
use crate::random::Random;
use crate::striped::StripedCounter;
use std::time::Duration;

const C: &str = "Chaos";

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ChaosConfig {
    /// Share of calls that fail with the injected error, in [0, 1].
    pub error_rate: f64,
    /// Share of calls delayed by `latency_seconds`, in [0, 1].
    pub latency_rate: f64,
    pub latency_seconds: f64,
    pub seed: Option<u64>,
}

impl ChaosConfig {
    pub fn validate(&self) -> Result<()> {
        for (p, v) in [
            ("error_rate", self.error_rate),
            ("latency_rate", self.latency_rate),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(Error::out_of_range(C, p, v, "[0, 1]"));
            }
        }
        check::finite_non_negative(C, "latency_seconds", self.latency_seconds)?;
        if self.latency_rate > 0.0 && self.latency_seconds == 0.0 {
            return Err(Error::conflict(
                C,
                "latency_rate",
                self.latency_rate,
                "it needs latency_seconds > 0",
            ));
        }
        Ok(())
    }
}

/// What to do to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fault {
    pub latency: Option<Duration>,
    pub error: bool,
}

#[derive(Debug)]
pub struct Chaos {
    config: ChaosConfig,
    latency: Duration,
    random: Random,
    calls: StripedCounter,
    errors: StripedCounter,
    delays: StripedCounter,
}

impl Chaos {
    pub fn new(config: ChaosConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            latency: Duration::from_secs_f64(config.latency_seconds),
            random: config
                .seed
                .map_or_else(Random::from_entropy, Random::seeded),
            calls: StripedCounter::new(),
            errors: StripedCounter::new(),
            delays: StripedCounter::new(),
            config,
        })
    }

    pub fn config(&self) -> &ChaosConfig {
        &self.config
    }

    /// Decides the fault for the next call. Two draws per call whatever the rates, so a seeded run
    /// injects the same faults on the same calls when only a rate changes.
    #[inline]
    pub fn next(&self) -> Fault {
        self.calls.inc();
        let (a, b) = (self.random.next_f64(), self.random.next_f64());
        let f = Fault {
            latency: (a < self.config.latency_rate).then_some(self.latency),
            error: b < self.config.error_rate,
        };
        if f.latency.is_some() {
            self.delays.inc();
        }
        if f.error {
            self.errors.inc();
        }
        f
    }

    /// (calls seen, errors injected, delays injected).
    pub fn counts(&self) -> (u64, u64, u64) {
        (self.calls.get(), self.errors.get(), self.delays.get())
    }
}
