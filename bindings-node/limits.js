'use strict'
// Limits for Node: several rate limiters charged all-or-nothing (500 requests/min AND 30,000
// tokens/min), and the token reservation settled with real usage. The core decides (all or none,
// how long to wait); this layer only waits, and a wait that aborts or times out takes nothing.

const native = require('./native.js')
const { RateLimitedError, configError, internalError } = require('./errors.js')
const { RateLimiter, describe, keyOf, sleep, internalsOf } = require('./rate_limit.js')

const CONSTRUCT = Symbol('Reservation')

/** What `Limits.acquire` charged; `settle({ tokens })` reconciles it with real usage, once. */
class Reservation {
  #native
  #names

  constructor(token, nativeReservation, names) {
    if (token !== CONSTRUCT) throw new TypeError('Reservation: made by Limits.acquire, not constructed')
    this.#native = nativeReservation
    this.#names = names
  }

  /** Units charged per limit name. */
  get charged() {
    const c = this.#native.charged
    return Object.fromEntries(this.#names.map((n, i) => [n, c[i]]))
  }

  /** The key the reservation was made for; null when none. */
  get key() {
    const k = this.#native.key
    return k === undefined ? null : k
  }

  get settled() {
    return this.#native.settled
  }

  /**
   * `{ name: actualUnits }` for each limit to reconcile (the others keep their estimate): the
   * difference is refunded, or charged as debt that delays later calls.
   */
  settle(actual) {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) {
      throw configError('TypeError', `Reservation.settle: actual must be an object; got ${describe(actual)}`, 'actual')
    }
    for (const k of Object.keys(actual)) {
      if (!this.#names.includes(k)) {
        throw configError('TypeError', `Reservation.settle: unknown limit ${k}; allowed: ${this.#names.join(', ')}`, k)
      }
      const v = actual[k]
      if (v !== undefined && v !== null && typeof v !== 'number') {
        throw configError('TypeError', `Reservation.settle: ${k}=${describe(v)} must be a number`, k)
      }
    }
    const arr = this.#names.map((n) => (typeof actual[n] === 'number' ? actual[n] : null))
    const e = this.#native.settle(arr)
    if (e) throw configError(e.kind, e.message, e.param)
  }
}

class Limits {
  #native
  #names
  #clock

  /** `new Limits({ requests: rpm, tokens: tpm })`: named RateLimiters, charged all-or-nothing. */
  constructor(limiters) {
    if (limiters === null || typeof limiters !== 'object' || Array.isArray(limiters)) {
      throw configError('TypeError', `Limits: limiters must be an object of named RateLimiters; got ${describe(limiters)}`, 'limiters')
    }
    const builder = new native.NativeLimitsBuilder()
    const names = Object.keys(limiters)
    for (const name of names) {
      const l = limiters[name]
      if (!(l instanceof RateLimiter)) {
        throw configError('TypeError', `Limits: ${name}=${describe(l)} is not a ferrule RateLimiter`, name)
      }
      const { native: n, clock } = internalsOf(l)
      if (this.#clock === undefined) this.#clock = clock
      builder.add(name, n)
    }
    let built
    try {
      built = builder.build()
    } catch (e) {
      throw internalError(e)
    }
    if (!(built instanceof native.NativeLimits)) throw configError(built.kind, built.message, built.param)
    this.#native = built
    this.#names = names
  }

  get names() {
    return [...this.#names]
  }

  /** Takes every cost now (`{ requests: 1, tokens: 1200 }`), or nothing. */
  tryAcquire(costs, key) {
    return this.#native.tryAcquire(this.#costs('tryAcquire', costs), keyOf(key))
  }

  /**
   * Waits until every cost is taken and returns the Reservation. Rejects with RateLimitedError (naming
   * the limit that refused) at once when the wait would outlast `timeoutMs`, and with the signal's
   * reason when `signal` aborts: either way nothing is taken.
   */
  async acquire(costs, options) {
    const c = this.#costs('acquire', costs)
    const { key, timeoutMs, signal } = options === undefined || options === null ? {} : options
    if (signal !== undefined && signal !== null) {
      if (typeof signal !== 'object' || typeof signal.aborted !== 'boolean') {
        throw configError('TypeError', `Limits.acquire: signal=${describe(signal)} must be an AbortSignal`, 'signal')
      }
      signal.throwIfAborted()
    }
    let deadline
    if (timeoutMs !== undefined && timeoutMs !== null) {
      if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0) || timeoutMs === Infinity) {
        throw configError(
          typeof timeoutMs === 'number' ? 'RangeError' : 'TypeError',
          `Limits.acquire: timeoutMs=${describe(timeoutMs)} is out of range; allowed: a finite number >= 0`,
          'timeoutMs',
        )
      }
      deadline = this.#native.now() + timeoutMs
    }
    const k = keyOf(key)
    const sig = signal === null ? undefined : signal
    for (;;) {
      const r = this.#native.step(c, k, deadline)
      if (typeof r === 'number') {
        if (this.#clock !== undefined) {
          this.#clock.advance(r) // a manual clock: "sleep" in virtual time, exactly the wait
          await null
          if (sig !== undefined) sig.throwIfAborted()
        } else {
          await sleep(r, sig)
        }
      } else if (r instanceof native.NativeReservation) {
        return new Reservation(CONSTRUCT, r, this.#names)
      } else {
        throw new RateLimitedError(r.limit, r.retryAfterMs, k === undefined || k === null ? null : k)
      }
    }
  }

  #costs(where, costs) {
    if (costs === null || typeof costs !== 'object' || Array.isArray(costs)) {
      throw configError('TypeError', `Limits.${where}: costs must be an object like { requests: 1 }; got ${describe(costs)}`, 'costs')
    }
    for (const k of Object.keys(costs)) {
      if (!this.#names.includes(k)) {
        throw configError('TypeError', `Limits.${where}: unknown limit ${k}; allowed: ${this.#names.join(', ')}`, k)
      }
      if (typeof costs[k] !== 'number') {
        throw configError('TypeError', `Limits.${where}: ${k}=${describe(costs[k])} must be a number`, k)
      }
    }
    const arr = this.#names.map((n) => (costs[n] === undefined ? 0 : costs[n]))
    const e = this.#native.costsError(arr)
    if (e) throw configError(e.kind, e.message, e.param)
    return arr
  }
}

module.exports = { Limits, Reservation }
