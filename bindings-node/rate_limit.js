'use strict'
// RateLimiter for Node: the host half of the core rate limiters. The core decides (admit now, or how
// long to wait); this layer only waits (a timer, cut short by an AbortSignal) and asks again. A
// wait that is aborted or times out has taken nothing: the core charges only when it admits.

const native = require('./native.js')
const { RateLimitedError, configError, internalError } = require('./errors.js')
const { ManualClock, nativeOf } = require('./clock.js')
const { RedisBackend, nativeBackendOf } = require('./redis_backend.js')
const { warn } = require('./telemetry.js').internal

// step's refusals: REFUSED_AFTER - retryAfterMs (see src/rate_limit.rs).
const REFUSED_AFTER = -1

const KINDS = {
  tokenBucket: ['rate', 'perMs', 'burst'],
  slidingWindow: ['limit', 'windowMs'],
  slidingLog: ['limit', 'windowMs'],
}
const COMMON = ['name', 'maxKeys', 'clock', 'backend']

function describe(v) {
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'bigint') return `${v}n`
  if (typeof v === 'function') return `function ${v.name || '(anonymous)'}`
  try {
    return String(v)
  } catch {
    return Object.prototype.toString.call(v)
  }
}

/** A key as the core takes it: undefined/null for none, a string as is, anything else by String(). */
function keyOf(key) {
  return key === undefined || key === null || typeof key === 'string' ? key : String(key)
}

/** A promise resolved after `ms`, or rejected with the signal's reason when it aborts first. */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal === undefined) {
      setTimeout(resolve, ms)
      return
    }
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** @type {(limiter: RateLimiter) => { native: object, clock: ManualClock | undefined }} */
let internals

class RateLimiter {
  #native
  #tryAcquire
  #tryAcquireOne
  #clock
  #name

  static {
    internals = (limiter) => ({ native: limiter.#native, clock: limiter.#clock })
  }

  /** Use `RateLimiter.tokenBucket`, `.slidingWindow` or `.slidingLog`. */
  constructor(kind, options) {
    const own = KINDS[kind]
    if (own === undefined) {
      throw configError('TypeError', `RateLimiter: unknown kind ${describe(kind)}; allowed: ${Object.keys(KINDS).join(', ')}`, 'kind')
    }
    if (options === undefined || options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw configError('TypeError', `RateLimiter.${kind}: options must be an object; got ${describe(options)}`, 'options')
    }
    const allowed = [...own, ...COMMON]
    const given = {}
    let name = 'rate_limiter'
    let clock
    let backend
    for (const key of Object.keys(options)) {
      const v = options[key]
      if (!allowed.includes(key)) {
        throw configError('TypeError', `RateLimiter.${kind}: unknown option ${key}=${describe(v)}; allowed: ${allowed.join(', ')}`, key)
      }
      if (v === undefined || v === null) continue
      if (key === 'name') {
        if (typeof v !== 'string') throw configError('TypeError', `RateLimiter.${kind}: name=${describe(v)} must be a string`, key)
        name = v
      } else if (key === 'clock') {
        if (!(v instanceof ManualClock)) {
          throw configError('TypeError', `RateLimiter.${kind}: clock=${describe(v)} must be a ManualClock`, key)
        }
        this.#clock = v
        clock = nativeOf(v)
      } else if (key === 'backend') {
        if (!(v instanceof RedisBackend)) {
          throw configError('TypeError', `RateLimiter.${kind}: backend=${describe(v)} must be a RedisBackend`, key)
        }
        backend = nativeBackendOf(v)
      } else if (typeof v !== 'number') {
        throw configError('TypeError', `RateLimiter.${kind}: ${key}=${describe(v)} must be a number`, key)
      } else {
        given[key] = v
      }
    }
    let created
    try {
      created = native.createRateLimiter(kind, name, given, clock, backend)
    } catch (e) {
      throw internalError(e)
    }
    if (!(created instanceof native.NativeRateLimiter)) {
      throw configError(created.kind, created.message, created.param)
    }
    this.#native = created
    ;[this.#tryAcquire, this.#tryAcquireOne] = native.rateLimiterFastCall(created)
    this.#name = name
  }

  /** `rate` units per `perMs` (default 1000), up to `burst` at once (default: ceil(rate)); GCRA. */
  static tokenBucket(options) {
    return new RateLimiter('tokenBucket', options)
  }

  /** At most `limit` units in any `windowMs`, estimated from two fixed windows (O(1)). */
  static slidingWindow(options) {
    return new RateLimiter('slidingWindow', options)
  }

  /** At most `limit` units in any `windowMs`, exactly (a log bounded by `limit`). */
  static slidingLog(options) {
    return new RateLimiter('slidingLog', options)
  }

  get name() {
    return this.#name
  }

  /** Takes `n` (default 1) now if it fits; never waits. */
  tryAcquire(n = 1, key) {
    let r
    try {
      // One unit without a key, the common call: no argument to read. Without a key, one
      // argument: the native side then skips reading a key.
      r =
        key === undefined
          ? n === 1
            ? this.#tryAcquireOne()
            : this.#tryAcquire(n)
          : this.#tryAcquire(n, keyOf(key))
    } catch (e) {
      throw internalError(e)
    }
    // true / false; 1 / 0 when warnings wait; undefined when n is not a valid size (see
    // src/rate_limit_fast_call.rs).
    if (r === true || r === false) return r
    if (r === undefined) throw this.#unitsError(n)
    this.#warn()
    return r === 1
  }

  /**
   * Waits until `n` is taken. Rejects with RateLimitedError at once when the wait would outlast
   * `timeoutMs`, and with the signal's reason when `signal` aborts: either way nothing is taken.
   */
  async acquire(n = 1, options) {
    const { key, timeoutMs, signal } = options === undefined || options === null ? {} : options
    if (typeof n !== 'number') throw this.#unitsError(n)
    if (this.#native.unitsError(n) !== null) throw this.#unitsError(n)
    if (signal !== undefined && signal !== null) {
      if (typeof signal !== 'object' || typeof signal.aborted !== 'boolean') {
        throw configError('TypeError', `RateLimiter.acquire: signal=${describe(signal)} must be an AbortSignal`, 'signal')
      }
      signal.throwIfAborted()
    }
    let deadline
    if (timeoutMs !== undefined && timeoutMs !== null) {
      if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0) || timeoutMs === Infinity) {
        throw configError(
          typeof timeoutMs === 'number' ? 'RangeError' : 'TypeError',
          `RateLimiter.acquire: timeoutMs=${describe(timeoutMs)} is out of range; allowed: a finite number >= 0`,
          'timeoutMs',
        )
      }
      deadline = this.#native.now() + timeoutMs
    }
    const k = keyOf(key)
    const sig = signal === null ? undefined : signal
    for (;;) {
      const wait = this.#native.step(n, k, deadline)
      if (wait === 0) {
        if (Object.is(wait, -0)) this.#warn() // -0: admitted, and warnings wait
        return
      }
      if (wait < 0) {
        this.#warn()
        throw new RateLimitedError(this.#name, REFUSED_AFTER - wait, k === undefined ? null : k)
      }
      if (this.#clock !== undefined) {
        // A manual clock: "sleep" in virtual time, exactly the wait, and yield once.
        this.#clock.advance(wait)
        await null
        if (sig !== undefined) sig.throwIfAborted()
      } else {
        await sleep(wait, sig)
      }
    }
  }

  /** Ms until `n` would pass (0: now); takes and counts nothing. */
  peek(n = 1, key) {
    const ms = this.#native.peek(n, keyOf(key))
    if (Number.isNaN(ms)) throw this.#unitsError(n)
    return ms
  }

  /** Drops every key whose state equals a new key's (nothing is lost); returns how many. */
  evictIdle() {
    return this.#native.evictIdle()
  }

  /** Counters: admitted, rejected, waits, waitMsTotal, refunds, keys and evictions. */
  stats() {
    return this.#native.stats()
  }

  // Lost state (a key evicted while still limited, dropped extra units) is counted in stats() and,
  // here, emitted as a process warning: never silent.
  #warn() {
    for (const w of this.#native.takeWarnings()) {
      warn(`rate_limit.${w.kind}`, `FERRULE_RATE_LIMIT_${w.kind.toUpperCase()}`, w.message)
    }
  }

  #unitsError(n) {
    if (typeof n !== 'number') {
      return configError('TypeError', `RateLimiter: n=${describe(n)} must be a number`, 'n')
    }
    const e = this.#native.unitsError(n)
    return e === null ? internalError(new Error(`n=${n} refused without a reason`)) : configError(e.kind, e.message, e.param)
  }
}

module.exports = {
  RateLimiter,
  describe,
  keyOf,
  sleep,
  // For limits.js only: the native limiter and the manual clock behind a RateLimiter.
  internalsOf: (limiter) => internals(limiter),
}
