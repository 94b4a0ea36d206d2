//! The dead-letter store on Redis Streams (issue 12), so workers on many hosts share one queue: items
//! are stream entries `0-<id>` (ids from a counter, increasing, never reused), the parts a replay
//! changes (error chain, last failure, replay count, lease) live in a hash beside the stream, and a
//! sorted set of first-failure times answers the age metric. Every operation is one Lua script, so
//! "is there room, then add" and "claim if no lease runs" are atomic across processes.

use super::{Capacity, DeadLetter, DeadLetterStore, NewDeadLetter, OnFull, Pushed};
use crate::error::{Error, Result};
use crate::store::redis_backend::{Op, RedisBackend, Unavailable};
use std::sync::{Arc, LazyLock};

/// KEYS: stream, meta hash, first-failure zset, id counter.
const ITEM: &str = r#"
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
  local n = redis.call('XDEL', KEYS[1], '0-' .. id)
  redis.call('HDEL', KEYS[2], id .. ':e', id .. ':l', id .. ':r', id .. ':lease')
  redis.call('ZREM', KEYS[3], id)
  return n
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

/// ARGV: id, now ms, lease until ms.
const CLAIM: &str = r#"
if #redis.call('XRANGE', KEYS[1], '0-' .. ARGV[1], '0-' .. ARGV[1]) == 0 then return 0 end
local lease = tonumber(redis.call('HGET', KEYS[2], ARGV[1] .. ':lease') or '0') or 0
if lease > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1] .. ':lease', ARGV[3])
return 1
"#;

const REMOVE: &str = r#"return drop(ARGV[1])"#;

/// ARGV: id, error, at ms.
const FAILED: &str = r#"
local id = ARGV[1]
if #redis.call('XRANGE', KEYS[1], '0-' .. id, '0-' .. id) == 0 then return 0 end
local errors = cjson.decode(redis.call('HGET', KEYS[2], id .. ':e') or '[]')
errors[#errors + 1] = ARGV[2]
local r = tonumber(redis.call('HGET', KEYS[2], id .. ':r') or '0') or 0
redis.call('HSET', KEYS[2], id .. ':e', cjson.encode(errors), id .. ':l', ARGV[3], id .. ':r', r + 1)
redis.call('HDEL', KEYS[2], id .. ':lease')
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
static S_CLAIM: LazyLock<redis::Script> = LazyLock::new(|| script(CLAIM));
static S_REMOVE: LazyLock<redis::Script> = LazyLock::new(|| script(REMOVE));
static S_FAILED: LazyLock<redis::Script> = LazyLock::new(|| script(FAILED));
static S_PURGE: LazyLock<redis::Script> = LazyLock::new(|| script(PURGE));

type Row = (u64, String, String, String, u32, u64, u64, String, u32);

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

    fn claim(&self, id: u64, now_unix_ms: u64, lease_until_unix_ms: u64) -> Result<bool> {
        let ok: u8 = self.run(
            &S_CLAIM,
            &[
                id.to_string(),
                now_unix_ms.to_string(),
                lease_until_unix_ms.to_string(),
            ],
        )?;
        Ok(ok == 1)
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
