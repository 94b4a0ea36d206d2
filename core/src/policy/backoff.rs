//! Backoff: how long to wait before the n-th retry. Constant, linear or exponential growth, capped,
//! then jittered (none, full, equal or decorrelated) so that clients that failed together do not
//! retry together.

use crate::error::{check, Error, Result};
use crate::random::Random;
use std::time::Duration;

/// The longest delay any backoff may be configured with: one day.
pub const MAX_DELAY_SECONDS: f64 = 86_400.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Jitter {
    /// The nominal delay, exactly.
    None,
    /// Uniform in `[0, d]` (AWS "full jitter"): the best spread, sometimes no wait at all.
    Full,
    /// `d/2` plus uniform in `[0, d/2]`: never less than half the nominal delay.
    Equal,
    /// Uniform in `[initial, 3 × previous delay]`, capped at `max` (AWS "decorrelated jitter").
    Decorrelated,
}

impl Jitter {
    pub const NAMES: &'static str = "'none', 'full', 'equal' or 'decorrelated'";

    pub fn parse(component: &'static str, s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Jitter::None),
            "full" => Ok(Jitter::Full),
            "equal" => Ok(Jitter::Equal),
            "decorrelated" => Ok(Jitter::Decorrelated),
            _ => Err(Error::out_of_range(
                component,
                "jitter",
                format!("{s:?}"),
                Self::NAMES,
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Jitter::None => "none",
            Jitter::Full => "full",
            Jitter::Equal => "equal",
            Jitter::Decorrelated => "decorrelated",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackoffKind {
    Constant,
    Linear,
    Exponential,
}

impl BackoffKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackoffKind::Constant => "constant",
            BackoffKind::Linear => "linear",
            BackoffKind::Exponential => "exponential",
        }
    }
}

/// A validated backoff. Build it with [`Backoff::constant`], [`Backoff::linear`] or
/// [`Backoff::exponential`]; every constructor checks its values, so a `Backoff` is always sane.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    kind: BackoffKind,
    initial: f64,
    /// The multiplier (exponential) or the increment in seconds (linear); unused for constant.
    step: f64,
    max: f64,
    jitter: Jitter,
}

const C: &str = "Backoff";

fn delay_value(param: &'static str, v: f64) -> Result<f64> {
    check::finite_non_negative(C, param, v)?;
    if v > MAX_DELAY_SECONDS {
        return Err(Error::out_of_range(
            C,
            param,
            v,
            format!("[0, {MAX_DELAY_SECONDS}] seconds"),
        ));
    }
    Ok(v)
}

fn max_value(initial: f64, max: f64) -> Result<f64> {
    delay_value("max", max)?;
    if max < initial {
        return Err(Error::out_of_range(
            C,
            "max",
            max,
            format!("[initial ({initial}), {MAX_DELAY_SECONDS}] seconds"),
        ));
    }
    Ok(max)
}

impl Backoff {
    /// The same `delay` (seconds) before every retry.
    pub fn constant(delay: f64, jitter: Jitter) -> Result<Self> {
        let d = delay_value("delay", delay)?;
        Ok(Self {
            kind: BackoffKind::Constant,
            initial: d,
            step: 0.0,
            max: d,
            jitter,
        })
    }

    /// `initial + increment × (n − 1)` seconds before retry n, capped at `max`.
    pub fn linear(initial: f64, increment: f64, max: f64, jitter: Jitter) -> Result<Self> {
        let initial = delay_value("initial", initial)?;
        let increment = delay_value("increment", increment)?;
        Ok(Self {
            kind: BackoffKind::Linear,
            initial,
            step: increment,
            max: max_value(initial, max)?,
            jitter,
        })
    }

    /// `initial × multiplier^(n − 1)` seconds before retry n, capped at `max`.
    pub fn exponential(initial: f64, multiplier: f64, max: f64, jitter: Jitter) -> Result<Self> {
        let initial = delay_value("initial", initial)?;
        if !(multiplier.is_finite() && (1.0..=1000.0).contains(&multiplier)) {
            return Err(Error::out_of_range(
                C,
                "multiplier",
                multiplier,
                "[1, 1000]",
            ));
        }
        Ok(Self {
            kind: BackoffKind::Exponential,
            initial,
            step: multiplier,
            max: max_value(initial, max)?,
            jitter,
        })
    }

    pub fn kind(&self) -> BackoffKind {
        self.kind
    }
    pub fn jitter(&self) -> Jitter {
        self.jitter
    }
    pub fn initial_seconds(&self) -> f64 {
        self.initial
    }
    pub fn max_seconds(&self) -> f64 {
        self.max
    }
    /// The multiplier (exponential) or increment (linear).
    pub fn step(&self) -> f64 {
        self.step
    }

    /// The nominal (unjittered) delay before retry `n` (1 = the first retry), in seconds.
    pub fn nominal_seconds(&self, n: u32) -> f64 {
        let k = n.saturating_sub(1);
        let d = match self.kind {
            BackoffKind::Constant => self.initial,
            BackoffKind::Linear => self.initial + self.step * k as f64,
            // Capped exponent: 1000^1100 is inf, and inf.min(max) is max, but keep it finite anyway.
            BackoffKind::Exponential => self.initial * self.step.powi(k.min(1100) as i32),
        };
        if d.is_finite() {
            d.min(self.max)
        } else {
            self.max
        }
    }

    /// The jittered delay before retry `n`, in seconds. `previous` is the delay actually waited
    /// before the last retry (0 before the first); only decorrelated jitter reads it.
    pub fn delay_seconds(&self, n: u32, previous: f64, random: &Random) -> f64 {
        let d = self.nominal_seconds(n);
        match self.jitter {
            Jitter::None => d,
            Jitter::Full => d * random.next_f64(),
            Jitter::Equal => d * 0.5 + d * 0.5 * random.next_f64(),
            Jitter::Decorrelated => {
                let prev = if previous > 0.0 {
                    previous
                } else {
                    self.initial
                };
                let hi = (prev * 3.0).max(self.initial);
                (self.initial + (hi - self.initial) * random.next_f64()).min(self.max)
            }
        }
    }

    pub fn delay(&self, n: u32, previous: Duration, random: &Random) -> Duration {
        Duration::from_secs_f64(self.delay_seconds(n, previous.as_secs_f64(), random))
    }
}

impl Default for Backoff {
    /// Exponential from 0.1 s doubling to 10 s, full jitter.
    fn default() -> Self {
        Self {
            kind: BackoffKind::Exponential,
            initial: 0.1,
            step: 2.0,
            max: 10.0,
            jitter: Jitter::Full,
        }
    }
}
