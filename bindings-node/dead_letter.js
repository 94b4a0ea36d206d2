'use strict'
// DeadLetterQueue: requests that exhausted their retries and fallbacks, kept durably in a SQLite
// file (several processes may share it; an acknowledged item survives kill -9) to be listed,
// replayed once the fault is gone, and purged. The core stores, masks, bounds (onFull), counts and
// exports depth and age; this file turns a failed call into a record and runs replay handlers.

const native = require('./native.js')
const { RedisBackend, nativeBackendOf } = require('./redis_backend.js')
const { FerruleError, configError, internalError } = require('./errors.js')
const { warn } = require('./telemetry.js').internal

const OPTIONS = ['path', 'maxItems', 'onFull', 'mask', 'name', 'replayLeaseMs', 'backend']

function describe(v) {
  return typeof v === 'string' ? JSON.stringify(v) : String(v)
}

/** Native store failures arrive as `FERRULE_STORAGE: ...`; they become a FerruleError. */
function call(f, where, given) {
  try {
    return f()
  } catch (e) {
    const m = e && typeof e.message === 'string' ? /^(FERRULE_[A-Z_]+): ([\s\S]*)$/.exec(e.message) : null
    if (m) throw new FerruleError(m[2], { code: m[1], cause: e })
    throw internalError(e, where, given)
  }
}

function item(n) {
  return new DeadLetter(n)
}

/** One stored request. `payload` is the call's arguments as JSON text (`{"args": [...]}` for a
 * policy's calls), masked unless the queue has `mask: false`; `errors` is the chain, oldest first. */
class DeadLetter {
  constructor(n) {
    this.id = n.id
    this.key = n.key
    this.payload = n.payload
    this.errors = n.errors
    this.attempts = n.attempts
    this.firstFailedUnixMs = n.firstFailedUnixMs
    this.lastFailedUnixMs = n.lastFailedUnixMs
    this.traceId = n.traceId === undefined ? null : n.traceId
    this.replayCount = n.replayCount
    Object.freeze(this)
  }

  /** The payload parsed from JSON (the text itself when it is not JSON). */
  data() {
    try {
      return JSON.parse(this.payload)
    } catch {
      return this.payload
    }
  }

  /** The arguments of the failed call (from a policy's payload). */
  get args() {
    const d = this.data()
    return d !== null && typeof d === 'object' && Array.isArray(d.args) ? d.args : []
  }
}

function jsonReplacer(_k, v) {
  if (typeof v === 'bigint') return v.toString()
  if (typeof v === 'function') return `[Function ${v.name || 'anonymous'}]`
  if (v instanceof AbortSignal) return '[AbortSignal]'
  return v
}

/** The call's arguments as JSON, best effort. */
function payloadOf(args) {
  try {
    return JSON.stringify({ args }, jsonReplacer)
  } catch (e) {
    return JSON.stringify({ unserialisable: `${e && e.name}: ${e && e.message}` })
  }
}

function text(e) {
  if (e instanceof Error) return `${e.name}: ${e.message}`
  return `thrown: ${String(e)}`
}

/** The error chain, oldest first: each attempt of a RetryError, then the causes. */
function errorChain(err) {
  const out = []
  const seen = new Set()
  let e = err
  while (e !== undefined && e !== null && !seen.has(e)) {
    seen.add(e)
    out.push(text(e))
    if (e instanceof Error && e.name === 'RetryError' && Array.isArray(e.errors)) {
      for (let i = e.errors.length - 1; i >= 0; i--) {
        const a = e.errors[i]
        if (a !== undefined && !seen.has(a)) {
          seen.add(a)
          out.push(`attempt ${i + 1}: ${text(a)}`)
        }
      }
    }
    e = typeof e === 'object' ? e.cause : undefined
  }
  return out.reverse()
}

function attemptsOf(err) {
  const seen = new Set()
  for (let e = err; e !== undefined && e !== null && typeof e === 'object' && !seen.has(e); e = e.cause) {
    seen.add(e)
    if (e.name === 'RetryError' && typeof e.attempts === 'number') return e.attempts
  }
  return 1
}

function sinceMs(v, param) {
  if (v === undefined || v === null) return null
  const ms = v instanceof Date ? v.getTime() : v
  if (typeof ms !== 'number' || !(ms >= 0)) {
    throw configError('RangeError', `DeadLetterQueue: ${param}=${describe(v)} is out of range; allowed: unix ms >= 0 or a Date`, param)
  }
  return ms
}

class DeadLetterQueue {
  #native

  /**
   * @param {object} [options] path (default 'ferrule-dlq.sqlite'), maxItems (10000), onFull
   *   ('reject' | 'dropOldest'), mask (true), name ('default'), replayLeaseMs (300000), backend (a
   *   RedisBackend: the queue lives on Redis Streams, shared by every process; path is then unused).
   */
  constructor(options = {}) {
    if (options === null || typeof options !== 'object') {
      throw configError('TypeError', `DeadLetterQueue: options must be an object; got ${String(options)}`, 'options')
    }
    for (const key of Object.keys(options)) {
      if (!OPTIONS.includes(key)) {
        throw configError('TypeError', `DeadLetterQueue: unknown option ${key}; allowed: ${OPTIONS.join(', ')}`, key)
      }
    }
    for (const k of ['maxItems', 'replayLeaseMs']) {
      if (options[k] !== undefined && typeof options[k] !== 'number') {
        throw configError('TypeError', `DeadLetterQueue: ${k}=${describe(options[k])} must be a number`, k)
      }
    }
    let backend
    if (options.backend !== undefined && options.backend !== null) {
      if (!(options.backend instanceof RedisBackend)) {
        throw configError('TypeError', `DeadLetterQueue: backend=${describe(options.backend)} must be a RedisBackend`, 'backend')
      }
      backend = nativeBackendOf(options.backend)
    }
    for (const [key, type] of [['path', 'string'], ['name', 'string'], ['mask', 'boolean']]) {
      if (options[key] !== undefined && typeof options[key] !== type) {
        const allowed = type === 'string' ? 'a string' : 'true or false'
        throw configError('TypeError', `DeadLetterQueue: ${key}=${describe(options[key])} must be ${allowed}`, key)
      }
    }
    const made = call(() =>
      native.createDeadLetterQueue({
        path: options.path === undefined ? 'ferrule-dlq.sqlite' : String(options.path),
        name: options.name === undefined ? undefined : String(options.name),
        maxItems: options.maxItems,
        onFull: options.onFull,
        mask: options.mask === undefined ? undefined : Boolean(options.mask),
        replayLeaseMs: options.replayLeaseMs,
      }, backend),
    'DeadLetterQueue', options)
    if (!(made instanceof native.NativeDeadLetterQueue)) throw configError(made.kind, made.message, made.param)
    this.#native = made
    require('./observe.js').queueMade(this.name, made) // observe()'s backlog alert watches every queue
  }

  get name() {
    return this.#native.name
  }

  get maxItems() {
    return this.#native.maxItems
  }

  get onFull() {
    return this.#native.onFull
  }

  /** Items currently stored (all processes). */
  get size() {
    return call(() => this.#native.size())
  }

  get length() {
    return this.size
  }

  /**
   * Stores one item (payload: JSON text or any value); the id once durable, null when full with
   * onFull 'reject' (counted, and a process warning).
   */
  push(payload, { errors = [], key = 'manual', attempts = 1, traceId = null } = {}) {
    const textPayload = typeof payload === 'string' ? payload : JSON.stringify(payload, jsonReplacer)
    const dropOldest = this.#native.onFull === 'dropOldest'
    const evictedBefore = dropOldest ? this.#native.stats().evicted : 0
    const id = call(() => this.#native.push(String(key), textPayload, errors.map(String), attempts, traceId))
    if (dropOldest) {
      const evicted = this.#native.stats().evicted - evictedBefore
      if (evicted > 0) {
        warn('dead_letter.evicted', 'FERRULE_DEAD_LETTER_EVICTED', `ferrule: dead-letter queue ${this.name} is full (maxItems=${this.maxItems}); dropped the ${evicted} oldest item(s) (onFull=dropOldest)`, { fields: { queue: this.name } })
      }
    }
    if (id === null) {
      warn('dead_letter.rejected', 'FERRULE_DEAD_LETTER_REJECTED', `ferrule: dead-letter queue ${this.name} is full (maxItems=${this.maxItems}); item from ${key} not stored (onFull=reject)`, { fields: { queue: this.name } })
    }
    return id
  }

  /** Up to `limit` items, oldest first, that last failed at or after `since` (unix ms or Date). */
  async list(limit = 100, since = undefined) {
    const s = sinceMs(since, 'since')
    return call(() => this.#native.list(limit, s)).map(item)
  }

  async get(id) {
    const n = call(() => this.#native.get(id))
    return n === null || n === undefined ? null : item(n)
  }

  async remove(id) {
    return call(() => this.#native.remove(id))
  }

  /** Deletes items that last failed before `before` (unix ms or Date; all when omitted). */
  async purge(before = undefined) {
    const b = sinceMs(before, 'before')
    return call(() => this.#native.purge(b))
  }

  oldestAgeMs() {
    return call(() => this.#native.oldestAgeMs())
  }

  /** stored, rejected, evicted, replayed, replayFailed, storeErrors (this process). */
  stats() {
    return this.#native.stats()
  }

  /**
   * Hands each stored item (oldest first) to `handler` (sync or async). An item whose handler
   * succeeds is removed; one whose handler throws is kept with the new error, and the run moves
   * on, so a poison message never blocks the others.
   * @param {(item: DeadLetter) => unknown} handler
   * @param {{ filter?: (item: DeadLetter) => boolean, max?: number, since?: number | Date }} [options]
   */
  async replay(handler, { filter, max, since } = {}) {
    if (typeof handler !== 'function') throw new TypeError(`DeadLetterQueue.replay: handler must be a function; got ${describe(handler)}`)
    if (max !== undefined && !(Number.isInteger(max) && max >= 0)) {
      throw configError('RangeError', `DeadLetterQueue.replay: max=${describe(max)} is out of range; allowed: an integer >= 0`, 'max')
    }
    const s = sinceMs(since, 'since')
    const cur = call(() => this.#native.replayCursor(s, max === undefined ? null : max))
    for (;;) {
      const n = call(() => cur.next())
      if (n === null || n === undefined) break
      const it = item(n)
      if (filter !== undefined && !filter(it)) {
        cur.skip()
        continue
      }
      if (!call(() => cur.claim(it.id))) continue
      try {
        await handler(it)
      } catch (e) {
        call(() => cur.failed(it.id, text(e)))
        warn('dead_letter.replay_failed', 'FERRULE_DEAD_LETTER_REPLAY_FAILED', `ferrule: dead-letter queue ${this.name}: replay of item ${it.id} failed (${text(e)}); kept`, { fields: { queue: this.name } })
        continue
      }
      call(() => cur.succeeded(it.id))
    }
    return cur.report()
  }
}

/** A policy gave up on a call. Never throws: the caller must see its own error. */
function storeFailure(dlq, key, err, args, traceId) {
  try {
    dlq.push(payloadOf(args), { errors: errorChain(err), key, attempts: attemptsOf(err), traceId })
  } catch (e) {
    warn('dead_letter.store_failed', 'FERRULE_DEAD_LETTER_STORE_FAILED', `ferrule: dead-letter queue ${dlq.name}: could not store a failed call of ${key}: ${e && e.message}`, { fields: { queue: dlq.name } })
  }
}

module.exports = { DeadLetterQueue, DeadLetter, storeFailure }
