//! The one error enum of the core. Each binding maps it once, to its own exception / Error class tree
//! rooted at `FerruleError`; nothing else in the core invents error types.

use std::fmt;
use std::time::Duration;

/// Why a configuration value was refused. Each binding renders the refusal from the fields of
/// `Error::InvalidConfig` in its own spelling: Python raises `ConfigError` (a `ValueError` and a
/// `TypeError`) with `.param`, `.value`, `.allowed`, `.kind`; Node throws a `RangeError` for
/// `OutOfRange` and a `TypeError` for the others, with `code` and `param`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigProblem {
    /// The value has the right type but lies outside what is allowed.
    OutOfRange,
    /// The value is fine alone but contradicts another parameter.
    Conflict,
    /// A parameter or option name that does not exist.
    Unknown,
    /// The value has the wrong type (`value` is then the type's name, e.g. `float`).
    Type,
    /// A required parameter was not given.
    Missing,
}

impl ConfigProblem {
    /// The kind as the bindings show it: `range`, `conflict`, `unknown`, `type`, `missing`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigProblem::OutOfRange => "range",
            ConfigProblem::Conflict => "conflict",
            ConfigProblem::Unknown => "unknown",
            ConfigProblem::Type => "type",
            ConfigProblem::Missing => "missing",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// Configuration refused at construction. The message names the parameter, its value and what
    /// is allowed, e.g. `failure_rate=1.5 is out of range; allowed: (0, 1]`.
    InvalidConfig {
        component: &'static str,
        param: &'static str,
        value: String,
        allowed: String,
        problem: ConfigProblem,
    },
    /// A breaker refused the call. `retry_after` is the time it stays open (zero when half-open
    /// probes are all taken and the wait cannot be known).
    CircuitOpen {
        breaker: String,
        retry_after: Duration,
    },
    /// A durable store (the inference log) could not open, write or answer a query.
    Storage {
        store: &'static str,
        message: String,
    },
    /// A rate limiter refused the call: it would pass after `retry_after`, which is longer than the
    /// caller was willing to wait.
    RateLimited {
        limiter: String,
        retry_after: Duration,
        /// The key (tenant, user, model) that was limited, if any.
        key: Option<String>,
    },
    /// A model's output was refused: not JSON (even after repair), against the schema, or over a
    /// limit. Boxed: the report carries every violation and every repair tried.
    #[cfg(feature = "validate")]
    Validation(Box<crate::validate::Failure>),
}

impl Error {
    pub fn out_of_range(
        component: &'static str,
        param: &'static str,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        Error::InvalidConfig {
            component,
            param,
            value: value.to_string(),
            allowed: allowed.into(),
            problem: ConfigProblem::OutOfRange,
        }
    }

    pub fn conflict(
        component: &'static str,
        param: &'static str,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        Error::InvalidConfig {
            component,
            param,
            value: value.to_string(),
            allowed: allowed.into(),
            problem: ConfigProblem::Conflict,
        }
    }

    /// A value of the wrong type: `value_type` is the type's name in the caller's language.
    pub fn wrong_type(
        component: &'static str,
        param: &'static str,
        value_type: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        Error::InvalidConfig {
            component,
            param,
            value: value_type.to_string(),
            allowed: allowed.into(),
            problem: ConfigProblem::Type,
        }
    }

    /// A required parameter left out.
    pub fn missing(
        component: &'static str,
        param: &'static str,
        allowed: impl Into<String>,
    ) -> Self {
        Error::InvalidConfig {
            component,
            param,
            value: String::new(),
            allowed: allowed.into(),
            problem: ConfigProblem::Missing,
        }
    }

    /// A short stable code, shared by the Python and Node error classes.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidConfig { .. } => "FERRULE_INVALID_CONFIG",
            Error::CircuitOpen { .. } => "FERRULE_CIRCUIT_OPEN",
            Error::Storage { .. } => "FERRULE_STORAGE",
            Error::RateLimited { .. } => "FERRULE_RATE_LIMITED",
            #[cfg(feature = "validate")]
            Error::Validation(_) => "FERRULE_VALIDATION",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidConfig {
                component,
                param,
                value,
                allowed,
                problem,
            } => match problem {
                ConfigProblem::OutOfRange => write!(
                    f,
                    "{component}: {param}={value} is out of range; allowed: {allowed}"
                ),
                ConfigProblem::Conflict => {
                    write!(f, "{component}: {param}={value} conflicts: {allowed}")
                }
                ConfigProblem::Unknown => {
                    write!(
                        f,
                        "{component}: unknown option {param}={value}; allowed: {allowed}"
                    )
                }
                ConfigProblem::Type => {
                    write!(f, "{component}: {param} must be {allowed}, not {value}")
                }
                ConfigProblem::Missing => {
                    write!(f, "{component}: {param} is required; allowed: {allowed}")
                }
            },
            Error::CircuitOpen {
                breaker,
                retry_after,
            } => write!(
                f,
                "circuit breaker '{breaker}' is open; retry after {:.3}s",
                retry_after.as_secs_f64()
            ),
            Error::Storage { store, message } => write!(f, "{store}: {message}"),
            Error::RateLimited {
                limiter,
                retry_after,
                ..
            } => write!(
                f,
                "rate limiter '{limiter}' refused the call; retry after {:.3}s",
                retry_after.as_secs_f64()
            ),
            #[cfg(feature = "validate")]
            Error::Validation(failure) => failure.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Validation helpers used by every config builder, so messages read the same everywhere.
pub mod check {
    use super::Error;

    /// The longest duration any `*_seconds` parameter accepts: about 31.7 years. Longer values
    /// mean "never" in practice, and past ~1.8e10 s a `Duration` or `Instant` sum overflows (a
    /// panic), so they are refused at construction instead of failing at first use.
    pub const MAX_SECONDS: f64 = 1e9;

    /// A duration parameter (by the naming rule, its name ends in `_seconds`).
    fn is_duration(p: &str) -> bool {
        p.ends_with("_seconds")
    }

    pub fn finite_positive(c: &'static str, p: &'static str, v: f64) -> Result<f64, Error> {
        if !(v.is_finite() && v > 0.0) {
            return Err(Error::out_of_range(c, p, v, "a finite number > 0"));
        }
        if is_duration(p) && v > MAX_SECONDS {
            return Err(Error::out_of_range(c, p, v, "a finite number in (0, 1e9]"));
        }
        Ok(v)
    }

    pub fn finite_non_negative(c: &'static str, p: &'static str, v: f64) -> Result<f64, Error> {
        if !(v.is_finite() && v >= 0.0) {
            return Err(Error::out_of_range(c, p, v, "a finite number >= 0"));
        }
        if is_duration(p) && v > MAX_SECONDS {
            return Err(Error::out_of_range(c, p, v, "a finite number in [0, 1e9]"));
        }
        Ok(v)
    }

    /// A duration in seconds, `[0, MAX_SECONDS]`, whatever the parameter is called.
    pub fn seconds(c: &'static str, p: &'static str, v: f64) -> Result<f64, Error> {
        if v.is_finite() && (0.0..=MAX_SECONDS).contains(&v) {
            Ok(v)
        } else {
            Err(Error::out_of_range(
                c,
                p,
                v,
                "a number of seconds in [0, 1e9]",
            ))
        }
    }

    pub fn rate(c: &'static str, p: &'static str, v: f64) -> Result<f64, Error> {
        if v.is_finite() && v > 0.0 && v <= 1.0 {
            Ok(v)
        } else {
            Err(Error::out_of_range(c, p, v, "(0, 1]"))
        }
    }

    pub fn int_range(
        c: &'static str,
        p: &'static str,
        v: u64,
        lo: u64,
        hi: u64,
    ) -> Result<u64, Error> {
        int(c, p, v as i128, lo, hi)
    }

    /// For host integers, which may be negative or huge: checked before any narrowing cast.
    pub fn int(c: &'static str, p: &'static str, v: i128, lo: u64, hi: u64) -> Result<u64, Error> {
        if v >= lo as i128 && v <= hi as i128 {
            Ok(v as u64)
        } else {
            Err(Error::out_of_range(
                c,
                p,
                v,
                format!("an integer in [{lo}, {hi}]"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_parameter_value_and_range() {
        let e = check::rate("CircuitBreaker", "failure_rate", 1.5).unwrap_err();
        assert_eq!(
            e.to_string(),
            "CircuitBreaker: failure_rate=1.5 is out of range; allowed: (0, 1]"
        );
        assert_eq!(e.code(), "FERRULE_INVALID_CONFIG");
        let e = check::int_range("CircuitBreaker", "window", 0, 1, 10).unwrap_err();
        assert!(e.to_string().contains("window=0"));
        assert!(e.to_string().contains("[1, 10]"));
        assert!(check::finite_positive("X", "open_seconds", f64::NAN).is_err());
        assert!(check::finite_non_negative("X", "d", -0.1).is_err());
        assert!(check::finite_non_negative("X", "d", 0.0).is_ok());
        // Durations are bounded, so no later Duration/Instant arithmetic can overflow.
        let e = check::finite_positive("Retry", "max_elapsed_seconds", 2e19).unwrap_err();
        assert!(
            e.to_string()
                .contains("max_elapsed_seconds=20000000000000000000"),
            "{e}"
        );
        assert!(e.to_string().contains("(0, 1e9]"), "{e}");
        assert!(check::finite_non_negative("X", "open_seconds", 1e308).is_err());
        assert!(check::finite_positive("X", "open_seconds", 1e9).is_ok());
        assert!(check::finite_positive("X", "rate", 1e12).is_ok());
        assert!(check::seconds("X", "within", f64::NAN).is_err());
    }

    #[test]
    fn every_kind_renders_from_its_fields() {
        let e = Error::wrong_type(
            "CircuitBreaker",
            "window",
            "float",
            "an integer in [1, 100000]",
        );
        assert_eq!(
            e.to_string(),
            "CircuitBreaker: window must be an integer in [1, 100000], not float"
        );
        let e = Error::missing("Endpoint", "name", "a non-empty string");
        assert_eq!(
            e.to_string(),
            "Endpoint: name is required; allowed: a non-empty string"
        );
        let kinds: Vec<&str> = [
            ConfigProblem::OutOfRange,
            ConfigProblem::Conflict,
            ConfigProblem::Unknown,
            ConfigProblem::Type,
            ConfigProblem::Missing,
        ]
        .iter()
        .map(|k| k.as_str())
        .collect();
        assert_eq!(kinds, ["range", "conflict", "unknown", "type", "missing"]);
    }
}
