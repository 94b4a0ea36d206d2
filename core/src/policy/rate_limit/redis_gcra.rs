//! GCRA as a Lua function run inside Redis: the same rule as `gcra.rs` (a request of `n` passes when
//! `max(TAT, now) + n·T ≤ now + τ`), with the TAT stored under the limiter's key. Times are the
//! server's microseconds (exact in a Lua double); waits come back in nanoseconds, like the local rule.

/// `gcra_take(key, now_us, t_us, tau_us, n)` → `wait_ns, write`: `write` (a closure) charges, and is
/// only called once every limit of an all-or-nothing decision passed. `gcra_adjust` refunds
/// (`delta < 0`) or charges as debt (`delta > 0`).
pub(crate) const LUA: &str = r#"
local function gcra_take(key, now, t, tau, n)
  local tat = tonumber(redis.call('GET', key) or '0') or 0
  local nxt = math.max(tat, now) + n * t
  local limit = now + tau
  if nxt > limit then return math.ceil((nxt - limit) * 1000), nil end
  return 0, function()
    redis.call('SET', key, string.format('%.17g', nxt), 'PX', string.format('%.0f', math.ceil((nxt - now) / 1000) + 1000))
  end
end
local function gcra_adjust(key, now, t, delta)
  local tat = tonumber(redis.call('GET', key) or '0') or 0
  if delta > 0 then tat = math.max(tat, now) + delta * t else tat = math.max(tat + delta * t, 0) end
  if tat > now then
    redis.call('SET', key, string.format('%.17g', tat), 'PX', string.format('%.0f', math.ceil((tat - now) / 1000) + 1000))
  else
    redis.call('DEL', key)
  end
end
"#;
