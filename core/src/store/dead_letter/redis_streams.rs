//! The dead-letter store on Redis Streams, so workers on many hosts share one queue: items
//! are stream entries `0-<id>` (ids from a counter, increasing, never reused), the parts a replay
//! changes (error chain, last failure, replay count) live in a hash beside the stream, and a sorted set
//! of first-failure times answers the age metric. Replay goes through the consumer group `replay`:
//! a run is a consumer that first takes over entries whose holder went quiet past the lease
//! (`XAUTOCLAIM`: a replayer killed mid-run, or an entry given back), then reads new ones
//! (`XREADGROUP >`); the group's pending list is the lease table, on the server's clock so every host
//! agrees. Success acknowledges and deletes (`XACK`, `XDEL`); failure or a refused filter gives the
//! entry back at once (it moves to the idle `ferrule:free` consumer with the oldest delivery time).
//! Every operation is one Lua script, so "is there room, then add" and each hand-over are atomic.

use super::{Capacity, DeadLetter, DeadLetterStore, NewDeadLetter, OnFull, Pushed, ReplayRun};
use crate::error::{Error, Result};
use crate::store::redis_backend::{Op, RedisBackend, Unavailable};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// The longest lease the server's pending list can express here: a given-back entry's delivery time
/// is 0 (idle since 1970), and every lease must be shorter than that to see it as free.
const MAX_LEASE_MS: u64 = 1_000_000_000_000;

/// KEYS: stream, meta hash, first-failure zset, id counter.
const ITEM: &str = r#"
local G, FREE = 'replay', 'ferrule:free'
local function group()
  redis.pcall('XGROUP', 'CREATE', KEYS[1], G, '0', 'MKSTREAM')
end
local function item(id)
  local e = redis.call('XRANGE', KEYS[1], '0-' .. id, '0-' .. id)
  if #e == 0 then return nil end
  local f = {}
  local kv = e[1][2]
  for i = 1, #kv, 2 do f[kv[i]] = kv[i + 1] end
  local m = redis.call('HMGET', KEYS[2], id .. ':e', id .. ':l', id .. ':r')
  return {id, f.k, f.p, m[1] or '[]', f.a, f.f, m[2] or f.f, f.t or '', m[3] or '0'}
end
local function drop(id)
  redis.call('XACK', KEYS[1], G, '0-' .. id)
  local n = redis.call('XDEL', KEYS[1], '0-' .. id)
  redis.call('HDEL', KEYS[2], id .. ':e', id .. ':l', id .. ':r')
  redis.call('ZREM', KEYS[3], id)
  return n
end
-- Gives a pending entry back: owned by the idle FREE consumer, delivered at time 0, so the next
-- run's XAUTOCLAIM takes it whatever its lease.
local function free(id)
  redis.call('XCLAIM', KEYS[1], G, FREE, 0, '0-' .. id, 'TIME', 0, 'JUSTID')
end
-- The holder of a pending entry and its idle ms, or nil when nobody holds it.
local function holder(id)
  local p = redis.call('XPENDING', KEYS[1], G, '0-' .. id, '0-' .. id, 1)
  if #p == 0 then return nil end
  return p[1][2], tonumber(p[1][3])
end
"#;

/// ARGV: max_items, reject ('1') or drop oldest, key, payload, errors JSON, attempts, first, last, trace.
const PUSH: &str = r#"
local max, reject = tonumber(ARGV[1]), ARGV[2] == '1'
local evicted = 0
while redis.call('XLEN', KEYS[1]) >= max do
  if reject then return {0, 0, 0} end
  local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
  drop(string.match(oldest[1][1], '^0%-(%d+)$'))
  evicted = evicted + 1
end
if redis.call('EXISTS', KEYS[1]) == 0 then group() end
local id = redis.call('INCR', KEYS[4])
redis.call('XADD', KEYS[1], '0-' .. id, 'k', ARGV[3], 'p', ARGV[4], 'a', ARGV[6], 'f', ARGV[7], 't', ARGV[9])
redis.call('HSET', KEYS[2], id .. ':e', ARGV[5], id .. ':l', ARGV[8], id .. ':r', '0')
redis.call('ZADD', KEYS[3], ARGV[7], id)
return {1, id, evicted}
"#;

/// ARGV: limit, since ('' = any), after id. Items oldest first.
const LIST: &str = r#"
local limit, since = tonumber(ARGV[1]), tonumber(ARGV[2])
local start = '(0-' .. ARGV[3]
local out = {}
while #out < limit do
  local batch = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', 256)
  if #batch == 0 then break end
  for _, e in ipairs(batch) do
    local id = string.match(e[1], '^0%-(%d+)$')
    local it = item(id)
    if it ~= nil and (since == nil or tonumber(it[7]) >= since) then
      out[#out + 1] = it
      if #out >= limit then break end
    end
    start = '(' .. e[1]
  end
end
return out
"#;

const GET: &str = r#"
local it = item(ARGV[1])
if it == nil then return {} end
return {it}
"#;

/// ARGV: consumer, lease ms, count, since ms ('' = any), sweep cursor ('' = not begun, 'done').
/// Returns {sweep, busy, done, items}: items claimed for the consumer, oldest first.
const FETCH: &str = r#"
group()
local consumer, lease, count, since = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local sweep = ARGV[5]
local out, busy = {}, 0
local function take(eid)
  local id = string.match(eid, '^0%-(%d+)$')
  local it = item(id)
  if it == nil then return end
  if since ~= nil and tonumber(it[7]) < since then free(id) else out[#out + 1] = it end
end
if sweep ~= 'done' then
  local start = sweep
  if start == '' then start = '0-0' end
  repeat
    local r = redis.call('XAUTOCLAIM', KEYS[1], G, consumer, lease, start, 'COUNT', count)
    for _, e in ipairs(r[2]) do take(e[1]) end
    start = r[1]
  until #out > 0 or start == '0-0'
  if start == '0-0' then
    sweep = 'done'
    -- What other replayers still hold (their leases run): busy for this run.
    local summary = redis.call('XPENDING', KEYS[1], G)
    if summary[4] then
      for _, c in ipairs(summary[4]) do
        if c[1] ~= consumer and c[1] ~= FREE then busy = busy + tonumber(c[2]) end
      end
    end
  else
    sweep = start
  end
end
if #out == 0 and sweep == 'done' then
  repeat
    local r = redis.call('XREADGROUP', 'GROUP', G, consumer, 'COUNT', count, 'STREAMS', KEYS[1], '>')
    if not r or #r[1][2] == 0 then break end
    for _, e in ipairs(r[1][2]) do take(e[1]) end
  until #out > 0
end
local done = 0
if #out == 0 and sweep == 'done' then
  done = 1
  -- Consumers with nothing pending that went quiet (this run, replayers that ended or died) go.
  for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], G)) do
    local f = {}
    for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
    if f.name ~= FREE and tonumber(f.pending) == 0 and (f.name == consumer or tonumber(f.idle) > lease) then
      redis.call('XGROUP', 'DELCONSUMER', KEYS[1], G, f.name)
    end
  end
end
return {sweep, busy, done, out}
"#;

/// ARGV: id, consumer, lease ms. Confirms the run still holds the entry and renews its lease, or
/// takes it over when its holder's lease ran out.
const CLAIM: &str = r#"
group()
local owner, idle = holder(ARGV[1])
if owner == nil then return 0 end
if owner ~= ARGV[2] and idle < tonumber(ARGV[3]) then return 0 end
redis.call('XCLAIM', KEYS[1], G, ARGV[2], 0, '0-' .. ARGV[1], 'JUSTID')
return 1
"#;

/// ARGV: id, consumer.
const RELEASE: &str = r#"
group()
local owner = holder(ARGV[1])
if owner == ARGV[2] then free(ARGV[1]) end
return 1
"#;

const REMOVE: &str = r#"return drop(ARGV[1])"#;

/// ARGV: id, error, at ms. The entry stays, with the error appended, and is given back.
const FAILED: &str = r#"
group()
local id = ARGV[1]
if #redis.call('XRANGE', KEYS[1], '0-' .. id, '0-' .. id) == 0 then return 0 end
local errors = cjson.decode(redis.call('HGET', KEYS[2], id .. ':e') or '[]')
errors[#errors + 1] = ARGV[2]
local r = tonumber(redis.call('HGET', KEYS[2], id .. ':r') or '0') or 0
redis.call('HSET', KEYS[2], id .. ':e', cjson.encode(errors), id .. ':l', ARGV[3], id .. ':r', r + 1)
if holder(id) ~= nil then free(id) end
return 1
"#;

/// ARGV: before ms ('' = everything).
const PURGE: &str = r#"
local before = tonumber(ARGV[1])
if before == nil then
  local n = redis.call('XLEN', KEYS[1])
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  return n
end
local n, start = 0, '-'
while true do
  local batch = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', 256)
  if #batch == 0 then break end
  for _, e in ipairs(batch) do
    local id = string.match(e[1], '^0%-(%d+)$')
    local it = item(id)
    if it ~= nil and tonumber(it[7]) < before then n = n + drop(id) end
    start = '(' .. e[1]
  end
end
return n
"#;

fn script(body: &str) -> redis::Script {
    redis::Script::new(&[ITEM, body].concat())
}

static S_PUSH: LazyLock<redis::Script> = LazyLock::new(|| script(PUSH));
static S_LIST: LazyLock<redis::Script> = LazyLock::new(|| script(LIST));
static S_GET: LazyLock<redis::Script> = LazyLock::new(|| script(GET));
static S_FETCH: LazyLock<redis::Script> = LazyLock::new(|| script(FETCH));
static S_CLAIM: LazyLock<redis::Script> = LazyLock::new(|| script(CLAIM));
static S_RELEASE: LazyLock<redis::Script> = LazyLock::new(|| script(RELEASE));
static S_REMOVE: LazyLock<redis::Script> = LazyLock::new(|| script(REMOVE));
static S_FAILED: LazyLock<redis::Script> = LazyLock::new(|| script(FAILED));
static S_PURGE: LazyLock<redis::Script> = LazyLock::new(|| script(PURGE));

type Row = (u64, String, String, String, u32, u64, u64, String, u32);

fn lease_ms(lease: Duration) -> u64 {
    (lease.as_millis() as u64).clamp(1, MAX_LEASE_MS)
}

/// A replay run's consumer name: unique across hosts, processes and runs.
fn consumer_name() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".into());
    format!(
        "{host}:{}:{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

pub struct RedisDeadLetterStore {
    backend: Arc<RedisBackend>,
    keys: [String; 4],
}

impl RedisDeadLetterStore {
    /// The queue `name` under the backend's prefix: `prefix:dlq:name` (stream) and its side keys.
    pub fn new(backend: Arc<RedisBackend>, name: &str) -> Self {
        let k = |sub| backend.key("dlq", name, sub);
        let keys = [k(None), k(Some("meta")), k(Some("first")), k(Some("seq"))];
        Self { backend, keys }
    }

    /// A dead letter is kept only if Redis acknowledged it; an outage is the caller's error to count
    /// (the queue above logs it), never a silent drop.
    fn run<T: redis::FromRedisValue>(&self, s: &redis::Script, args: &[String]) -> Result<T> {
        let mut inv = s.prepare_invoke();
        for k in &self.keys {
            inv.key(k);
        }
        for a in args {
            inv.arg(a);
        }
        self.backend
            .run(Op::DeadLetter, None, |c| inv.invoke(c))
            .map_err(|e| Error::Storage {
                store: "redis dead-letter queue",
                message: match e {
                    Unavailable::Down(d) => format!("Redis unavailable (next probe in {d:?})"),
                    Unavailable::Failed(m) => m,
                },
            })
    }

    fn letters(rows: Vec<Row>) -> Vec<DeadLetter> {
        rows.into_iter()
            .map(
                |(id, key, payload, errors, attempts, first, last, trace, replays)| DeadLetter {
                    id,
                    key,
                    payload,
                    errors: serde_json::from_str(&errors).unwrap_or_default(),
                    attempts,
                    first_failed_unix_ms: first,
                    last_failed_unix_ms: last,
                    trace_id: (!trace.is_empty()).then_some(trace),
                    replay_count: replays,
                },
            )
            .collect()
    }
}

impl DeadLetterStore for RedisDeadLetterStore {
    fn push(&self, item: &NewDeadLetter, capacity: Capacity) -> Result<Pushed> {
        let errors = serde_json::to_string(&item.errors).unwrap_or_else(|_| "[]".into());
        let reject = if capacity.on_full == OnFull::Reject {
            "1"
        } else {
            "0"
        };
        let trace = item.trace_id.clone().unwrap_or_default();
        let (stored, id, evicted): (u8, u64, u64) = self.run(
            &S_PUSH,
            &[
                capacity.max_items.to_string(),
                reject.to_string(),
                item.key.clone(),
                item.payload.clone(),
                errors,
                item.attempts.to_string(),
                item.first_failed_unix_ms.to_string(),
                item.last_failed_unix_ms.to_string(),
                trace,
            ],
        )?;
        Ok(if stored == 1 {
            Pushed::Stored { id, evicted }
        } else {
            Pushed::Rejected
        })
    }

    fn len(&self) -> Result<u64> {
        let key = &self.keys[0];
        self.backend
            .run(Op::DeadLetter, None, |c| {
                redis::cmd("XLEN").arg(key).query(c)
            })
            .map_err(|e| Error::Storage {
                store: "redis dead-letter queue",
                message: format!("{e:?}"),
            })
    }

    fn list(
        &self,
        limit: usize,
        since_unix_ms: Option<u64>,
        after_id: Option<u64>,
    ) -> Result<Vec<DeadLetter>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let since = since_unix_ms.map_or(String::new(), |s| s.to_string());
        let rows: Vec<Row> = self.run(
            &S_LIST,
            &[limit.to_string(), since, after_id.unwrap_or(0).to_string()],
        )?;
        Ok(Self::letters(rows))
    }

    fn get(&self, id: u64) -> Result<Option<DeadLetter>> {
        let rows: Vec<Row> = self.run(&S_GET, &[id.to_string()])?;
        Ok(Self::letters(rows).pop())
    }

    fn fetch(
        &self,
        run: &mut ReplayRun,
        max: usize,
        since_unix_ms: Option<u64>,
        lease: Duration,
    ) -> Result<Vec<DeadLetter>> {
        if run.consumer.is_empty() {
            run.consumer = consumer_name();
        }
        let (sweep, busy, done, rows): (String, u64, u8, Vec<Row>) = self.run(
            &S_FETCH,
            &[
                run.consumer.clone(),
                lease_ms(lease).to_string(),
                max.max(1).to_string(),
                since_unix_ms.map_or(String::new(), |s| s.to_string()),
                run.sweep.clone().unwrap_or_default(),
            ],
        )?;
        run.sweep = Some(sweep);
        run.busy += busy;
        run.done = done == 1;
        Ok(Self::letters(rows))
    }

    /// Only for an item `fetch` handed to this run: the consumer group delivers, this confirms.
    fn claim(
        &self,
        run: &ReplayRun,
        id: u64,
        now_unix_ms: u64,
        lease_until_unix_ms: u64,
    ) -> Result<bool> {
        let lease = Duration::from_millis(lease_until_unix_ms.saturating_sub(now_unix_ms));
        let ok: u8 = self.run(
            &S_CLAIM,
            &[
                id.to_string(),
                run.consumer.clone(),
                lease_ms(lease).to_string(),
            ],
        )?;
        Ok(ok == 1)
    }

    fn release(&self, run: &ReplayRun, id: u64) -> Result<()> {
        let _: u8 = self.run(&S_RELEASE, &[id.to_string(), run.consumer.clone()])?;
        Ok(())
    }

    fn remove(&self, id: u64) -> Result<bool> {
        let n: u64 = self.run(&S_REMOVE, &[id.to_string()])?;
        Ok(n > 0)
    }

    fn record_failure(&self, id: u64, error: &str, at_unix_ms: u64) -> Result<bool> {
        let ok: u8 = self.run(
            &S_FAILED,
            &[id.to_string(), error.to_string(), at_unix_ms.to_string()],
        )?;
        Ok(ok == 1)
    }

    fn purge(&self, before_unix_ms: Option<u64>) -> Result<u64> {
        let before = before_unix_ms.map_or(String::new(), |b| b.to_string());
        self.run(&S_PURGE, &[before])
    }

    fn oldest_unix_ms(&self) -> Result<Option<u64>> {
        let key = &self.keys[2];
        let r: Vec<(String, f64)> = self
            .backend
            .run(Op::DeadLetter, None, |c| {
                redis::cmd("ZRANGE")
                    .arg(key)
                    .arg(0)
                    .arg(0)
                    .arg("WITHSCORES")
                    .query(c)
            })
            .map_err(|e| Error::Storage {
                store: "redis dead-letter queue",
                message: format!("{e:?}"),
            })?;
        Ok(r.first().map(|(_, s)| *s as u64))
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}
