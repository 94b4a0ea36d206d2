//! Cooldown: an endpoint that answered 429, or any failure that carried a Retry-After hint (read by
//! `policy::retry_hint`), is rested for as long as the provider asked, capped, before it takes traffic
//! again. The rule lives here once; hosts only pass the status and the hint.

use crate::error::{check, Error, Result};

const C: &str = "Router";

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CooldownConfig {
    /// Rest after a 429 that named no wait.
    pub default_seconds: f64,
    /// The longest rest a hint can ask for (a bad header never parks an endpoint for a day).
    pub max_seconds: f64,
}

impl Default for CooldownConfig {
    fn default() -> Self {
        Self {
            default_seconds: 5.0,
            max_seconds: 300.0,
        }
    }
}

impl CooldownConfig {
    pub fn validate(&self) -> Result<()> {
        check::finite_non_negative(C, "cooldown_seconds", self.default_seconds)?;
        check::finite_positive(C, "max_cooldown_seconds", self.max_seconds)?;
        if self.default_seconds > self.max_seconds {
            return Err(Error::conflict(
                C,
                "cooldown_seconds",
                self.default_seconds,
                format!("must not exceed max_cooldown_seconds={}", self.max_seconds),
            ));
        }
        Ok(())
    }

    /// How long to rest after a failure with this status and hint, or `None` for no cooldown.
    pub fn rest_nanos(&self, status: Option<u16>, retry_after_seconds: Option<f64>) -> Option<u64> {
        let secs = match (retry_after_seconds, status) {
            (Some(s), _) if s.is_finite() && s > 0.0 => s,
            (_, Some(429)) => self.default_seconds,
            _ => return None,
        };
        let secs = secs.min(self.max_seconds);
        (secs > 0.0).then_some((secs * 1e9) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hint_wins_429_defaults_and_caps_apply() {
        let c = CooldownConfig::default();
        assert_eq!(c.rest_nanos(Some(429), Some(2.5)), Some(2_500_000_000));
        assert_eq!(c.rest_nanos(Some(429), None), Some(5_000_000_000));
        assert_eq!(c.rest_nanos(Some(503), Some(1.0)), Some(1_000_000_000));
        assert_eq!(c.rest_nanos(Some(500), None), None);
        assert_eq!(c.rest_nanos(None, Some(1e9)), Some(300_000_000_000));
    }
}
