'use strict'
// CircuitBreaker for Node: the host half of the core breaker. The core decides (may this call go?
// did it trip?); this layer calls the user's function, awaits it, classifies its outcome and tells
// 'stateChange' listeners. Per call: one native acquire, the function, one native record.

const native = require('./native.js')
const { CircuitOpenError, configError, internalError } = require('./errors.js')
const { ManualClock, nativeOf } = require('./clock.js')
const { RedisBackend, nativeBackendOf } = require('./redis_backend.js')
const { warn } = require('./telemetry.js').internal

const STATES = ['closed', 'open', 'half_open']
const SUCCESS = 0
const FAILURE = 1
const IGNORED = 2
// acquire's refusals (see NativeBreaker::acquire): -1 wait unknown, -2 - ms a known wait.
const REJECTED_UNKNOWN = -1
const REJECTED_AFTER = -2

const NUMBER_OPTIONS = [
  'failureRate',
  'consecutiveFailures',
  'window',
  'windowMs',
  'windowBuckets',
  'minCalls',
  'slowCallMs',
  'slowCallRate',
  'openMs',
  'maxOpenMs',
  'openMultiplier',
  'halfOpenCalls',
]
const ALLOWED_OPTIONS = [...NUMBER_OPTIONS, 'ignore', 'failureOn', 'failureOnResult', 'clock', 'backend', 'syncMs']
const ALLOWED_SET = new Set(ALLOWED_OPTIONS)
const EVENTS = ['stateChange']

function describe(v) {
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'function') return `function ${v.name || '(anonymous)'}`
  if (typeof v === 'bigint') return `${v}n`
  try {
    return String(v)
  } catch {
    return Object.prototype.toString.call(v)
  }
}

function isErrorClass(f) {
  return f === Error || (typeof f === 'function' && f.prototype instanceof Error)
}

/**
 * `ignore` / `failureOn`: an array of Error classes (matched with instanceof), one Error class, or a
 * predicate on the thrown value. Made into one predicate here, once.
 */
function matcher(key, spec) {
  if (typeof spec === 'function') {
    if (isErrorClass(spec)) return (err) => err instanceof spec
    return spec
  }
  if (Array.isArray(spec)) {
    const classes = spec.slice()
    for (const c of classes) {
      if (typeof c !== 'function') {
        throw configError(
          'TypeError',
          `CircuitBreaker: ${key} must be an array of Error classes or a predicate; got an element ${describe(c)}`,
          key,
        )
      }
    }
    if (classes.length === 1) {
      const c = classes[0]
      return (err) => err instanceof c
    }
    return (err) => {
      for (let i = 0; i < classes.length; i++) if (err instanceof classes[i]) return true
      return false
    }
  }
  throw configError(
    'TypeError',
    `CircuitBreaker: ${key}=${describe(spec)} must be an array of Error classes or a predicate`,
    key,
  )
}

/** @type {(breaker: CircuitBreaker) => object} */
let internals

class CircuitBreaker {
  // The native breaker serves the cold calls; the hot path uses this breaker's own two native
  // functions, which cost far less to call than a native method (see src/fast_call.rs).
  #native
  #acquireNative
  #recordSuccess
  #recordFailure
  #recordIgnored
  #name
  /** @type {((err: unknown) => unknown) | undefined} */
  #ignore
  /** @type {((err: unknown) => unknown) | undefined} */
  #failureOn
  /** @type {((value: unknown) => unknown) | undefined} */
  #failureOnResult
  // Copied on write, so a listener that adds or removes listeners does not disturb a dispatch.
  #listeners = []
  #listenerErrors = 0
  #classifierErrors = 0

  static {
    // For policy.js only: a policy runs its breaker stage itself, asking the core once per attempt
    // for both (see src/fast_policy.rs), and uses these for everything but the plain success.
    internals = (b) => ({
      native: b.#native,
      name: b.#name,
      judgesValues: b.#failureOnResult !== undefined,
      dispatch: (t) => b.#dispatch(t),
      recordValue: (token, value) => b.#recordValue(token, value),
      recordError: (token, err) => b.#recordError(token, err),
    })
  }

  /**
   * @param {string} name
   * @param {object} [options] see index.d.ts
   */
  constructor(name, options) {
    if (typeof name !== 'string') {
      throw configError('TypeError', `CircuitBreaker: name must be a string; got ${describe(name)}`, 'name')
    }
    if (options === undefined || options === null) options = {}
    if (typeof options !== 'object' || Array.isArray(options)) {
      throw configError('TypeError', `CircuitBreaker: options must be an object; got ${describe(options)}`, 'options')
    }
    const given = {}
    let clock, backend, syncMs
    for (const key of Object.keys(options)) {
      const v = options[key]
      if (!ALLOWED_SET.has(key)) {
        throw configError(
          'TypeError',
          `CircuitBreaker: unknown option ${key}=${describe(v)}; allowed: ${ALLOWED_OPTIONS.join(', ')}`,
          key,
        )
      }
      if (v === undefined) continue
      if (key === 'ignore') this.#ignore = v === null ? undefined : matcher(key, v)
      else if (key === 'failureOn') this.#failureOn = v === null ? undefined : matcher(key, v)
      else if (key === 'failureOnResult') {
        if (v !== null && typeof v !== 'function') {
          throw configError('TypeError', `CircuitBreaker: failureOnResult=${describe(v)} must be a predicate`, key)
        }
        this.#failureOnResult = v === null ? undefined : v
      } else if (key === 'backend') {
        if (v !== null && !(v instanceof RedisBackend)) {
          throw configError('TypeError', `CircuitBreaker: backend=${describe(v)} must be a RedisBackend`, key)
        }
        backend = v === null ? undefined : nativeBackendOf(v)
      } else if (key === 'syncMs') {
        if (v !== null && typeof v !== 'number') {
          throw configError('TypeError', `CircuitBreaker: syncMs=${describe(v)} must be a number`, key)
        }
        syncMs = v === null ? undefined : v
      } else if (key === 'clock') {
        if (v !== null && !(v instanceof ManualClock)) {
          throw configError('TypeError', `CircuitBreaker: clock=${describe(v)} must be a ManualClock`, key)
        }
        clock = v === null ? undefined : nativeOf(v)
      } else if (v === null) {
        // null means "not set"; for failureRate, "no failure-rate rule" (its default is 0.5).
        if (key === 'failureRate') given.noFailureRate = true
      } else if (typeof v !== 'number') {
        throw configError('TypeError', `CircuitBreaker: ${key}=${describe(v)} must be a number`, key)
      } else {
        given[key] = v
      }
    }
    let created
    try {
      // With a backend, the sync thread's transitions (a peer's open, a backend hold) arrive here
      // from the event loop; `this.#dispatch` is bound lazily since the field exists by then.
      created = native.createBreaker(name, given, clock, backend, syncMs, backend === undefined ? undefined : (t) => this.#dispatch(t))
    } catch (e) {
      throw internalError(e)
    }
    if (!(created instanceof native.NativeBreaker)) {
      throw configError(created.kind, created.message, created.param)
    }
    this.#native = created
    ;[this.#acquireNative, this.#recordSuccess, this.#recordFailure, this.#recordIgnored] = native.fastCalls(created)
    this.#name = name
  }

  /** The breaker's name, as given. */
  get name() {
    return this.#name
  }

  /** 'closed' | 'open' | 'half_open': the state a call would meet now. */
  get state() {
    return STATES[this.#call('state')]
  }

  /**
   * Runs `fn` through the breaker: refused with CircuitOpenError while open, otherwise its value
   * or error passes through and its outcome is recorded. `fn` may be sync or async.
   */
  execute(fn) {
    return this.#run(fn, undefined, undefined)
  }

  /** `fn` guarded by this breaker: same arguments and `this`, always returns a Promise. */
  wrap(fn) {
    if (typeof fn !== 'function') {
      throw new TypeError(`CircuitBreaker.wrap: fn must be a function; got ${describe(fn)}`)
    }
    const breaker = this
    const guarded = function (...args) {
      return breaker.#run(fn, this, args)
    }
    Object.defineProperty(guarded, 'name', { value: fn.name, configurable: true })
    return guarded
  }

  // The hot path. No lock is held while `fn` runs: the permit is a plain number held here.
  #run(fn, self, args) {
    if (typeof fn !== 'function') {
      return Promise.reject(new TypeError(`CircuitBreaker.execute: fn must be a function; got ${describe(fn)}`))
    }
    let token
    try {
      token = this.#acquireNative()
    } catch (e) {
      return Promise.reject(internalError(e))
    }
    if (typeof token !== 'number') {
      // Admitted, and this admission moved the breaker open → half-open: tell listeners first.
      this.#dispatch(token.transition)
      token = token.token
    } else if (token < 0) {
      return Promise.reject(
        new CircuitOpenError(this.#name, token === REJECTED_UNKNOWN ? null : REJECTED_AFTER - token),
      )
    }
    let result
    try {
      result = args === undefined ? fn() : fn.apply(self, args)
    } catch (err) {
      return Promise.reject(this.#recordError(token, err))
    }
    if (result !== null && (typeof result === 'object' || typeof result === 'function')) {
      let then
      try {
        then = result.then
      } catch (err) {
        return Promise.reject(this.#recordError(token, err))
      }
      if (typeof then === 'function') {
        // Chained with then rather than awaited in an async function: one promise hop fewer,
        // which is a good part of the whole cost on this path.
        const onValue = (value) => this.#recordValue(token, value)
        const onError = (err) => {
          throw this.#recordError(token, err)
        }
        // A native promise is chained directly; any other thenable is adopted first, so the
        // caller always gets a real Promise back.
        return result instanceof Promise
          ? then.call(result, onValue, onError)
          : Promise.resolve(result).then(onValue, onError)
      }
    }
    try {
      return Promise.resolve(this.#recordValue(token, result))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  #recordValue(token, value) {
    const outcome = this.#failureOnResult === undefined ? SUCCESS : this.#judgeValue(value)
    this.#record(token, outcome)
    return value
  }

  /** Records the error's outcome and returns the error to rethrow. */
  #recordError(token, err) {
    this.#record(token, this.#judgeError(err))
    return err
  }

  #record(token, outcome) {
    let t
    try {
      if (outcome === SUCCESS) t = this.#recordSuccess(token)
      else if (outcome === FAILURE) t = this.#recordFailure(token)
      else t = this.#recordIgnored(token)
    } catch (e) {
      throw internalError(e)
    }
    if (t !== undefined) this.#dispatch(t)
  }

  #judgeError(err) {
    let which = 'ignore'
    try {
      if (this.#ignore !== undefined && this.#ignore(err)) return IGNORED
      which = 'failureOn'
      if (this.#failureOn !== undefined && !this.#failureOn(err)) return SUCCESS
      return FAILURE
    } catch (hookErr) {
      this.#classifierFailed(hookErr, which)
      return FAILURE
    }
  }

  #judgeValue(value) {
    try {
      return this.#failureOnResult(value) ? FAILURE : SUCCESS
    } catch (hookErr) {
      this.#classifierFailed(hookErr, 'failureOnResult')
      return FAILURE
    }
  }

  // A classifier that throws must not lose the call's outcome or its result: the call counts as a
  // failure (the cautious reading), and the error is counted and reported, never swallowed.
  #classifierFailed(err, which) {
    this.#classifierErrors++
    warn(
      'breaker.classifier_error',
      'FERRULE_CLASSIFIER_ERROR',
      `ferrule: the ${which} classifier of circuit breaker '${this.#name}' threw; the call was counted as a failure: ${describe(err)}`,
      { fields: { breaker: this.#name }, detail: err instanceof Error ? err.stack : undefined },
    )
  }

  // Synchronous and in order, on the call that caused the transition. A listener that throws does
  // not break the call or the other listeners: it is counted and reported as a process warning.
  #dispatch(t) {
    const listeners = this.#listeners
    if (listeners.length === 0) return
    // One object for every listener of this transition: frozen, so none can change what the next sees.
    const info = Object.freeze({ reason: t.reason, openForMs: t.openForMs ?? null, peer: t.peer === true })
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i](t.from, t.to, info)
      } catch (err) {
        this.#listenerErrors++
        warn(
          'breaker.listener_error',
          'FERRULE_LISTENER_ERROR',
          `ferrule: a 'stateChange' listener of circuit breaker '${this.#name}' threw: ${describe(err)}`,
          { fields: { breaker: this.#name }, detail: err instanceof Error ? err.stack : undefined },
        )
      }
    }
  }

  /**
   * Adds a listener: `(from, to, info) => void` with `info = { reason, openForMs, peer }`. With a
   * backend, a peer's open (`peer: true`, reason 'shared') and a backend hold ('backend_down' /
   * 'backend_up') arrive from the event loop, not from a call.
   */
  on(event, listener) {
    this.#checkListener('on', event, listener)
    this.#listeners = [...this.#listeners, listener]
    return this
  }

  /** Removes one registration of `listener`. */
  off(event, listener) {
    this.#checkListener('off', event, listener)
    const i = this.#listeners.lastIndexOf(listener)
    if (i >= 0) this.#listeners = this.#listeners.filter((_, j) => j !== i)
    return this
  }

  #checkListener(method, event, listener) {
    if (!EVENTS.includes(event)) {
      throw new TypeError(`CircuitBreaker.${method}: unknown event ${describe(event)}; allowed: ${EVENTS.join(', ')}`)
    }
    if (typeof listener !== 'function') {
      throw new TypeError(`CircuitBreaker.${method}: listener must be a function; got ${describe(listener)}`)
    }
  }

  /** Opens and stays open, refusing every call, until forceClosed() or reset(). */
  forceOpen() {
    this.#force('forceOpen')
  }

  /** Closes and stays closed, whatever fails, until forceOpen() or reset(). */
  forceClosed() {
    this.#force('forceClosed')
  }

  /** Back to a fresh closed breaker: window, failure run and open backoff cleared. */
  reset() {
    this.#force('reset')
  }

  #force(method) {
    const t = this.#call(method)
    if (t !== null) this.#dispatch(t)
  }

  #call(method) {
    try {
      return this.#native[method]()
    } catch (e) {
      throw internalError(e)
    }
  }

  /**
   * With a backend: the sync thread's counters (syncs, errors, publishedOpens, appliedOpens,
   * syncAgeMs, held, heldAdmitted, heldRejected); null without one.
   */
  syncStats() {
    return this.#call('syncStats') ?? null
  }

  /** Counters and the window, read without stopping any call. */
  stats() {
    const s = this.#call('stats')
    return {
      name: s.name,
      state: s.state,
      forced: s.forced,
      calls: s.calls,
      successes: s.successes,
      failures: s.failures,
      ignored: s.ignored,
      slow: s.slow,
      rejected: s.rejected,
      transitions: s.transitions,
      consecutiveFailures: s.consecutiveFailures,
      windowCalls: s.windowCalls,
      windowFailures: s.windowFailures,
      windowSlow: s.windowSlow,
      openRemainingMs: s.openRemainingMs ?? null,
      listenerErrors: this.#listenerErrors,
      classifierErrors: this.#classifierErrors,
    }
  }
}

module.exports = { CircuitBreaker, breakerInternals: (b) => internals(b) }
