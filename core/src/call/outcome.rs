//! How a finished LLM call ended, decided once for every host: `success`, `fallback` (a fallback
//! answered), `timeout`, `rejected` (a breaker, limiter or bulkhead refused it before it started)
//! or `error`. The host only reports what it saw (the error's type name, its stable `code` when it
//! is a ferrule error, whether it is the runtime's own timeout type); the rule lives here.

/// What a host knows about the error a call ended with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorInfo<'a> {
    /// `error.type`: the exception/Error class name (`RateLimitError`, `openai.APIError`, ...).
    pub type_name: &'a str,
    /// The stable code of a ferrule error (`FERRULE_TIMEOUT`, `FERRULE_CIRCUIT_OPEN`, ...).
    pub code: Option<&'a str>,
    /// The host runtime's own timeout type (Python `TimeoutError` and its subclasses, a JS
    /// `AbortError`/`TimeoutError`): an attempt cut by a deadline, whoever raised it.
    pub is_timeout: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Success,
    Fallback,
    Timeout,
    Rejected,
    Error,
}

impl Outcome {
    /// Names as the inference log and the `ferrule.outcome` span attribute spell them.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Fallback => "fallback",
            Outcome::Timeout => "timeout",
            Outcome::Rejected => "rejected",
            Outcome::Error => "error",
        }
    }

    /// The call's outcome. A call that returned a fallback's answer is `fallback` (it succeeded for
    /// the caller, but the primary failed); an error is classified by its code, then its type.
    pub fn classify(error: Option<&ErrorInfo<'_>>, fell_back: bool) -> Outcome {
        let Some(e) = error else {
            return if fell_back {
                Outcome::Fallback
            } else {
                Outcome::Success
            };
        };
        match e.code {
            Some("FERRULE_TIMEOUT") => return Outcome::Timeout,
            Some("FERRULE_CIRCUIT_OPEN") | Some("FERRULE_RATE_LIMITED") => {
                return Outcome::Rejected
            }
            _ => {}
        }
        if e.is_timeout || matches!(e.type_name, "TimeoutError" | "AbortError") {
            Outcome::Timeout
        } else {
            Outcome::Error
        }
    }

    /// Whether the caller got an answer (the SLI's "good" before latency is judged).
    pub fn is_ok(self) -> bool {
        matches!(self, Outcome::Success | Outcome::Fallback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(type_name: &str, code: Option<&'static str>, is_timeout: bool) -> Outcome {
        Outcome::classify(
            Some(&ErrorInfo {
                type_name,
                code,
                is_timeout,
            }),
            false,
        )
    }

    #[test]
    fn classifies_by_code_then_type() {
        assert_eq!(Outcome::classify(None, false), Outcome::Success);
        assert_eq!(Outcome::classify(None, true), Outcome::Fallback);
        assert_eq!(
            err("TimeoutError", Some("FERRULE_TIMEOUT"), true),
            Outcome::Timeout
        );
        assert_eq!(err("socket.timeout", None, true), Outcome::Timeout);
        assert_eq!(err("AbortError", None, false), Outcome::Timeout);
        assert_eq!(
            err("CircuitOpenError", Some("FERRULE_CIRCUIT_OPEN"), false),
            Outcome::Rejected
        );
        assert_eq!(
            err("RateLimitedError", Some("FERRULE_RATE_LIMITED"), false),
            Outcome::Rejected
        );
        // The provider's 429 is an error of the call, not a local rejection.
        assert_eq!(err("RateLimitError", None, false), Outcome::Error);
        assert_eq!(
            err("RetryError", Some("FERRULE_RETRY_EXHAUSTED"), false),
            Outcome::Error
        );
        // A failed call is an error even when a fallback was tried and failed too.
        assert_eq!(
            Outcome::classify(
                Some(&ErrorInfo {
                    type_name: "APIError",
                    ..Default::default()
                }),
                true
            ),
            Outcome::Error
        );
    }
}
