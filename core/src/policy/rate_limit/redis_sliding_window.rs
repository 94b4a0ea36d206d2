//! The sliding-window counter as Lua functions run inside Redis: the same two-bucket rule and the same
//! wait arithmetic as `sliding_window.rs`, over a hash `{i: window index, p: previous, c: current}`.
//! Index and offset are computed in the server's microseconds; waits in nanoseconds, like the local rule.

/// `window_take(key, now_us, limit, w_us, n)` → `wait_ns, write`; `window_adjust` refunds a charge
/// made at `at_us` (only while it is still in the two buckets) or charges extra.
pub(crate) const LUA: &str = r#"
local function window_view(key, now, w)
  local h = redis.call('HMGET', key, 'i', 'p', 'c')
  local index = math.floor(now / w)
  local stored = tonumber(h[1])
  local prev, cur = tonumber(h[2]) or 0, tonumber(h[3]) or 0
  if stored == nil or index - stored > 1 or index < stored then prev, cur = 0, 0
  elseif index - stored == 1 then prev, cur = cur, 0 end
  return index, prev, cur, now - index * w
end
local function window_store(key, w, index, prev, cur, elapsed)
  redis.call('HSET', key, 'i', string.format('%.0f', index), 'p', string.format('%.0f', prev), 'c', string.format('%.0f', cur))
  redis.call('PEXPIRE', key, string.format('%.0f', math.ceil((2 * w - elapsed) / 1000) + 1000))
end
local function window_take(key, now, limit, w, n)
  local index, prev, cur, elapsed = window_view(key, now, w)
  if prev * (w - elapsed) + (cur + n) * w <= limit * w then
    return 0, function() window_store(key, w, index, prev, cur + n, elapsed) end
  end
  local wn, en = w * 1000, elapsed * 1000
  local function earliest(weighted, room)
    if weighted == 0 then return 0 end
    local keep = math.floor(room * wn / weighted)
    return wn - math.min(keep, wn)
  end
  if cur + n <= limit then return math.max(earliest(prev, limit - cur - n) - en, 1), nil end
  if cur <= limit then return wn - en + earliest(cur, limit - n), nil end
  return 2 * wn - en, nil
end
local function window_adjust(key, now, w, delta, at)
  local index, prev, cur, elapsed = window_view(key, now, w)
  if delta > 0 then
    cur = cur + delta
  else
    local back = index - math.floor(at / w)
    if back == 0 then cur = math.max(cur + delta, 0)
    elseif back == 1 then prev = math.max(prev + delta, 0)
    else return end
  end
  window_store(key, w, index, prev, cur, elapsed)
end
"#;
