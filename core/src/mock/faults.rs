//! Which fault a request meets: a script for the first requests, then rate rules over ranges of the
//! request index, decided by a seeded hash of (seed, index, rule) so a run is repeatable whatever the
//! threads do.

use crate::error::{check, Error};

const C: &str = "MockLLMServer";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// A normal answer.
    Ok,
    /// 429 with `Retry-After`, `retry-after-ms` and `x-ratelimit-*` headers.
    RateLimit,
    /// 500.
    ServerError,
    /// 503.
    Unavailable,
    /// A normal answer after `latency_ms` more.
    Slow,
    /// Accepts the request and never answers (until `hang_ms` or shutdown), then closes.
    Hang,
    /// Closes the connection with a TCP reset before answering.
    Reset,
    /// 200, but the message content is broken JSON (fenced, trailing comma, truncated).
    MalformedJson,
    /// A stream that stops mid-way (after `after_chunks` events, default half), without `[DONE]`.
    TruncatedStream,
    /// A stream that sends `after_chunks` events (default 1), then goes silent for `latency_ms`
    /// (or until the client closes), then sends the rest.
    StallStream,
    /// A stream whose event number `after_chunks` (default half) is not valid JSON.
    MalformedChunk,
    /// A stream that sends every event but `[DONE]`, then ends its body cleanly.
    StreamWithoutDone,
}

impl FaultKind {
    pub const ALL: [FaultKind; 12] = [
        FaultKind::Ok,
        FaultKind::RateLimit,
        FaultKind::ServerError,
        FaultKind::Unavailable,
        FaultKind::Slow,
        FaultKind::Hang,
        FaultKind::Reset,
        FaultKind::MalformedJson,
        FaultKind::TruncatedStream,
        FaultKind::StallStream,
        FaultKind::MalformedChunk,
        FaultKind::StreamWithoutDone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Ok => "ok",
            FaultKind::RateLimit => "rate_limit",
            FaultKind::ServerError => "server_error",
            FaultKind::Unavailable => "unavailable",
            FaultKind::Slow => "slow",
            FaultKind::Hang => "hang",
            FaultKind::Reset => "reset",
            FaultKind::MalformedJson => "malformed_json",
            FaultKind::TruncatedStream => "truncated_stream",
            FaultKind::StallStream => "stall_stream",
            FaultKind::MalformedChunk => "malformed_chunk",
            FaultKind::StreamWithoutDone => "stream_without_done",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        let alias = match s {
            "429" => "rate_limit",
            "500" => "server_error",
            "503" => "unavailable",
            other => other,
        };
        Self::ALL.iter().copied().find(|k| k.as_str() == alias).ok_or_else(|| {
            Error::out_of_range(
                C,
                "kind",
                format!("{s:?}"),
                "ok, rate_limit (429), server_error (500), unavailable (503), slow, hang, reset, malformed_json, truncated_stream, stall_stream, malformed_chunk, stream_without_done",
            )
        })
    }
}

/// Requests with index in `[from, to)` meet `kind` with probability `rate`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    pub kind: FaultKind,
    pub rate: f64,
    pub from: u64,
    pub to: Option<u64>,
    /// For `slow`: the extra latency; for `stall_stream`: the silence. For `rate_limit`: the
    /// Retry-After hint is derived from it when `retry_after_ms` is not set.
    pub latency_ms: u64,
    /// For the stream faults: how many events go out before the fault (None: the kind's default).
    pub after_chunks: Option<u64>,
    /// For `rate_limit`: the hint sent in `Retry-After` (whole seconds, rounded up) and
    /// `retry-after-ms`.
    pub retry_after_ms: u64,
}

impl FaultRule {
    pub fn new(kind: FaultKind, rate: f64) -> Self {
        Self {
            kind,
            rate,
            from: 0,
            to: None,
            latency_ms: 1500,
            retry_after_ms: 1000,
            after_chunks: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultPlan {
    pub seed: u64,
    /// The first `script.len()` requests meet these, in order.
    pub script: Vec<FaultKind>,
    pub rules: Vec<FaultRule>,
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl FaultPlan {
    /// Parses the JSON form shared by Python, Node and the CLI:
    /// `{"seed": 1, "script": ["ok", "429"], "rules": [{"kind": "503", "rate": 0.5, "from": 10, "to": 20}]}`
    /// or just the list of rules.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            Error::out_of_range(
                C,
                "faults",
                format!("{text:?}"),
                format!("valid JSON ({e})"),
            )
        })?;
        let mut plan = FaultPlan::default();
        let rules = match &v {
            serde_json::Value::Array(_) => v.clone(),
            serde_json::Value::Object(o) => {
                if let Some(seed) = o.get("seed") {
                    plan.seed = seed
                        .as_u64()
                        .ok_or_else(|| Error::out_of_range(C, "seed", seed, "an integer >= 0"))?;
                }
                if let Some(script) = o.get("script") {
                    let items = script.as_array().ok_or_else(|| {
                        Error::out_of_range(C, "script", script, "a list of fault kinds")
                    })?;
                    for it in items {
                        let s = it.as_str().ok_or_else(|| {
                            Error::out_of_range(C, "script", it, "fault kind names")
                        })?;
                        plan.script.push(FaultKind::parse(s)?);
                    }
                }
                for key in o.keys() {
                    if !matches!(key.as_str(), "seed" | "script" | "rules") {
                        return Err(Error::InvalidConfig {
                            component: C,
                            param: "faults",
                            value: key.clone(),
                            allowed: "seed, script, rules".into(),
                            problem: crate::ConfigProblem::Unknown,
                        });
                    }
                }
                o.get("rules")
                    .cloned()
                    .unwrap_or(serde_json::Value::Array(vec![]))
            }
            other => {
                return Err(Error::out_of_range(
                    C,
                    "faults",
                    other,
                    "a list of rules or an object",
                ))
            }
        };
        for r in rules
            .as_array()
            .ok_or_else(|| Error::out_of_range(C, "rules", &rules, "a list"))?
        {
            let o = r
                .as_object()
                .ok_or_else(|| Error::out_of_range(C, "rules", r, "objects"))?;
            let kind = FaultKind::parse(
                o.get("kind")
                    .and_then(|k| {
                        k.as_str()
                            .map(str::to_string)
                            .or_else(|| Some(k.to_string()))
                    })
                    .as_deref()
                    .unwrap_or(""),
            )?;
            let mut rule = FaultRule::new(kind, 1.0);
            for (k, val) in o {
                let num = || {
                    val.as_f64().ok_or_else(|| {
                        Error::out_of_range(C, "rules", format!("{k}={val}"), "a number")
                    })
                };
                match k.as_str() {
                    "kind" => {}
                    "rate" => rule.rate = check::finite_non_negative(C, "rate", num()?)?,
                    "from" => rule.from = check::int(C, "from", num()? as i128, 0, u64::MAX)?,
                    "to" => rule.to = if val.is_null() { None } else { Some(check::int(C, "to", num()? as i128, 0, u64::MAX)?) },
                    "latency_ms" => rule.latency_ms = check::int(C, "latency_ms", num()? as i128, 0, 600_000)?,
                    "after_chunks" => rule.after_chunks = Some(check::int(C, "after_chunks", num()? as i128, 0, 1_000_000)?),
                    "retry_after_ms" => rule.retry_after_ms = check::int(C, "retry_after_ms", num()? as i128, 0, 3_600_000)?,
                    // Python callers speak seconds; the JSON form accepts both units.
                    "latency_seconds" => {
                        rule.latency_ms = (check::finite_non_negative(C, "latency_seconds", num()?)?.min(600.0) * 1000.0) as u64
                    }
                    "retry_after_seconds" => {
                        rule.retry_after_ms =
                            (check::finite_non_negative(C, "retry_after_seconds", num()?)?.min(3600.0) * 1000.0) as u64
                    }
                    other => {
                        return Err(Error::InvalidConfig {
                            component: C,
                            param: "rules",
                            value: other.to_string(),
                            allowed: "kind, rate, from, to, latency_ms, latency_seconds, retry_after_ms, retry_after_seconds, after_chunks".into(),
                            problem: crate::ConfigProblem::Unknown,
                        })
                    }
                }
            }
            if rule.rate > 1.0 {
                return Err(Error::out_of_range(C, "rate", rule.rate, "[0, 1]"));
            }
            plan.rules.push(rule);
        }
        Ok(plan)
    }

    /// The fault for request number `index` (0-based, in arrival order), with its rule if any.
    pub fn decide(&self, index: u64) -> (FaultKind, Option<&FaultRule>) {
        if let Some(k) = self.script.get(index as usize) {
            let rule = self.rules.iter().find(|r| r.kind == *k);
            return (*k, rule);
        }
        for (i, r) in self.rules.iter().enumerate() {
            if index < r.from || r.to.is_some_and(|to| index >= to) {
                continue;
            }
            let h = mix(self.seed ^ mix(index ^ mix(i as u64 + 1)));
            let u = (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            if u < r.rate {
                return (r.kind, Some(r));
            }
        }
        (FaultKind::Ok, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules_script_and_aliases() {
        let p = FaultPlan::from_json(
            r#"{"seed": 3, "script": ["ok", "429"], "rules": [{"kind": "503", "rate": 0.5, "from": 10, "to": 20}, {"kind": "slow", "rate": 1, "latency_ms": 250}]}"#,
        )
        .unwrap();
        assert_eq!(p.seed, 3);
        assert_eq!(p.script, vec![FaultKind::Ok, FaultKind::RateLimit]);
        assert_eq!(p.rules[0].kind, FaultKind::Unavailable);
        assert_eq!(p.rules[0].to, Some(20));
        assert_eq!(p.rules[1].latency_ms, 250);
        assert_eq!(p.decide(1).0, FaultKind::RateLimit);
        assert_eq!(
            p.decide(5).0,
            FaultKind::Slow,
            "outside the 503 range the slow rule applies"
        );
    }

    #[test]
    fn rates_are_deterministic_and_close_to_the_rate() {
        let p = FaultPlan::from_json(r#"[{"kind": "429", "rate": 0.3}]"#).unwrap();
        let hits = (0..10_000)
            .filter(|&i| p.decide(i).0 == FaultKind::RateLimit)
            .count();
        assert!((2700..3300).contains(&hits), "{hits}");
        let q = FaultPlan::from_json(r#"[{"kind": "429", "rate": 0.3}]"#).unwrap();
        assert!((0..1000).all(|i| p.decide(i).0 == q.decide(i).0));
    }

    #[test]
    fn bad_plans_name_the_problem() {
        for (text, needle) in [
            (r#"[{"kind": "teapot"}]"#, "kind=\"teapot\""),
            (r#"[{"kind": "429", "rate": 2}]"#, "rate=2"),
            (
                r#"[{"kind": "429", "speed": 2}]"#,
                "unknown option rules=speed",
            ),
            (r#"{"sead": 1}"#, "unknown option faults=sead"),
            ("not json", "valid JSON"),
        ] {
            let e = FaultPlan::from_json(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }
}
