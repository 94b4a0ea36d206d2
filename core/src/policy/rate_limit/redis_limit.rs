//! A limiter's state in Redis: one Lua script decides one limit or several all-or-nothing in a single
//! round trip, on the server's clock (`TIME` inside the script, so hosts with skewed clocks agree).
//! The algorithms are `redis_gcra.rs` and `redis_sliding_window.rs`; this file assembles and runs them.

use super::Algorithm;
use crate::clock::ClockRef;
use crate::error::{Error, Result};
use crate::store::redis_backend::{Op, RedisBackend, Unavailable};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// ARGV[1]: now in µs ('' = the server's TIME; a manual clock drives tests); ARGV[2]: '1' = peek.
/// Then 4 per limit: kind ('g' | 'w'), p1, p2, n. Returns {refused (1-based, 0 = admitted), worst
/// wait in ns, now in µs}: every limit is evaluated, so the wait is until all of them would pass.
const DECIDE: &str = r#"
local now
if ARGV[1] ~= '' then now = tonumber(ARGV[1]) else
  local t = redis.call('TIME'); now = tonumber(t[1]) * 1000000 + tonumber(t[2]) end
local dry = ARGV[2] == '1'
local worst, refused = 0, 0
local writes = {}
for i = 1, #KEYS do
  local b = 2 + (i - 1) * 4
  local n = tonumber(ARGV[b + 4])
  if n > 0 then
    local wait, write
    if ARGV[b + 1] == 'g' then
      wait, write = gcra_take(KEYS[i], now, tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), n)
    else
      wait, write = window_take(KEYS[i], now, tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), n)
    end
    if wait > 0 then
      if refused == 0 then refused = i end
      if wait > worst then worst = wait end
    else
      writes[#writes + 1] = write
    end
  end
end
if refused == 0 and not dry then for _, w in ipairs(writes) do w() end end
return {refused, string.format('%.0f', worst), string.format('%.0f', now)}
"#;

/// ARGV[1]: now as in DECIDE; then 5 per limit: kind, p1, p2, delta (units; < 0 refunds), at (µs of
/// the charge being refunded).
const ADJUST: &str = r#"
local now
if ARGV[1] ~= '' then now = tonumber(ARGV[1]) else
  local t = redis.call('TIME'); now = tonumber(t[1]) * 1000000 + tonumber(t[2]) end
for i = 1, #KEYS do
  local b = 1 + (i - 1) * 5
  local delta = tonumber(ARGV[b + 4])
  if delta ~= 0 then
    if ARGV[b + 1] == 'g' then gcra_adjust(KEYS[i], now, tonumber(ARGV[b + 2]), delta)
    else window_adjust(KEYS[i], now, tonumber(ARGV[b + 3]), delta, tonumber(ARGV[b + 5])) end
  end
end
return string.format('%.0f', now)
"#;

static DECIDE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        &[
            super::redis_gcra::LUA,
            super::redis_sliding_window::LUA,
            DECIDE,
        ]
        .concat(),
    )
});
static ADJUST_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        &[
            super::redis_gcra::LUA,
            super::redis_sliding_window::LUA,
            ADJUST,
        ]
        .concat(),
    )
});

/// One limiter's rule as script arguments, and where its state lives.
pub(crate) struct RemoteLimit {
    pub(crate) backend: Arc<RedisBackend>,
    /// `name:algorithm`, after the hash tag (see `key`).
    base: String,
    kind: &'static str,
    p1: String,
    p2: String,
    /// A manual clock's time is sent to the script (deterministic tests); otherwise the server's.
    manual: Option<ClockRef>,
}

/// What the script decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RemoteStep {
    /// Charged, at this server time (nanoseconds, µs resolution): the `charged_at` for refunds.
    Admitted { at: u64 },
    /// Nothing charged; `refused` is the first limit that did not fit, `wait` until all would.
    Denied { wait: u64, refused: usize },
}

impl RemoteLimit {
    /// `interval`/`window` in nanoseconds, as the local rule has them.
    pub(crate) fn new(
        backend: Arc<RedisBackend>,
        name: &str,
        algorithm: &Algorithm,
        interval_or_window: u64,
        burst: u64,
        clock: &ClockRef,
    ) -> Result<Self> {
        let base = format!("{name}:{}", algorithm.as_str());
        let (kind, p1, p2) = match *algorithm {
            Algorithm::TokenBucket { .. } => {
                let t = interval_or_window as f64 / 1000.0;
                ("g", format!("{t:.17}"), format!("{:.17}", t * burst as f64))
            }
            Algorithm::SlidingWindow { limit, .. } => {
                // The script indexes windows in whole microseconds.
                let w = (interval_or_window as f64 / 1000.0).round().max(1.0);
                ("w", limit.to_string(), format!("{w:.0}"))
            }
            Algorithm::SlidingLog { .. } => {
                return Err(Error::conflict(
                    "RateLimiter",
                    "backend",
                    "RedisBackend",
                    "token_bucket or sliding_window (the sliding log is local only)",
                ))
            }
        };
        let manual = matches!(clock, ClockRef::Manual(_)).then(|| clock.clone());
        Ok(Self {
            backend,
            base,
            kind,
            p1,
            p2,
            manual,
        })
    }

    /// `prefix:rl:{all}:name:algorithm`, or `prefix:rl:{k:KEY}:name:algorithm` for a caller key.
    /// The hash tag is the caller key, not the limiter's name, so the limits one `Limits` charges
    /// together for a key share a cluster slot (one script, all-or-nothing), and different keys
    /// spread over the cluster's masters.
    fn key(&self, key: Option<&str>) -> String {
        match key {
            None => self.backend.tagged_key("rl", "all", &[&self.base]),
            Some(k) => {
                let mut tag = String::with_capacity(2 + k.len());
                tag.push_str("k:");
                tag.push_str(k);
                self.backend.tagged_key("rl", &tag, &[&self.base])
            }
        }
    }

    fn now_arg(&self) -> String {
        self.manual
            .as_ref()
            .map_or_else(String::new, |c| (c.now_nanos() / 1000).to_string())
    }

    pub(crate) fn same_backend(&self, other: &RemoteLimit) -> bool {
        Arc::ptr_eq(&self.backend, &other.backend)
    }
}

/// One round trip: charges every `(limit, n)` with `n > 0`, or none (`peek`: charges nothing either
/// way). The limits share one backend (checked when they were put together).
pub(crate) fn decide(
    limits: &[(&RemoteLimit, u64)],
    key: Option<&str>,
    budget: Option<Duration>,
    peek: bool,
) -> std::result::Result<RemoteStep, Unavailable> {
    let first = limits[0].0;
    let mut inv = DECIDE_SCRIPT.prepare_invoke();
    inv.arg(first.now_arg()).arg(if peek { "1" } else { "0" });
    for (l, n) in limits {
        inv.key(l.key(key))
            .arg(l.kind)
            .arg(&l.p1)
            .arg(&l.p2)
            .arg(*n);
    }
    // A manual clock's budget is virtual time: it cannot bound a real round trip.
    let budget = budget.filter(|_| first.manual.is_none());
    let (refused, wait, now): (usize, String, String) =
        first
            .backend
            .run(Op::RateLimit, budget, |c| inv.invoke(c))?;
    let parse = |s: &str| s.parse::<f64>().unwrap_or(0.0).max(0.0) as u64;
    Ok(if refused == 0 {
        RemoteStep::Admitted {
            at: parse(&now).saturating_mul(1000),
        }
    } else {
        RemoteStep::Denied {
            wait: parse(&wait).max(1),
            refused: refused - 1,
        }
    })
}

/// Refunds (`delta < 0`) or charges as debt (`delta > 0`) each `(limit, delta, charged_at ns)`.
pub(crate) fn adjust(
    limits: &[(&RemoteLimit, i128, u64)],
    key: Option<&str>,
) -> std::result::Result<(), Unavailable> {
    let first = limits[0].0;
    let mut inv = ADJUST_SCRIPT.prepare_invoke();
    inv.arg(first.now_arg());
    for (l, delta, at) in limits {
        inv.key(l.key(key))
            .arg(l.kind)
            .arg(&l.p1)
            .arg(&l.p2)
            .arg(delta.to_string())
            .arg(at / 1000);
    }
    let _: String = first.backend.run(Op::RateLimit, None, |c| inv.invoke(c))?;
    Ok(())
}
