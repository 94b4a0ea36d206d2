'use strict'
// The composed policy for Node, in one fixed order, outside in:
//   fallback → total timeout → retry → circuit breaker → rate limiter → attempt timeout → call.
// The core decides (counts, the retry budget, how long to wait or to give up); this layer runs the
// call, the breaker stage (the CircuitBreaker's own host wrapper), the limiter, the waits and the
// timeouts. No AbortController and no timer is made for a call unless a timeout is configured, and
// then one shared timer serves every attempt of the policy and a controller is made only when the
// called function reads `signal`.

const native = require('./native.js')
const { CircuitBreaker, breakerInternals } = require('./breaker.js')
const { CircuitOpenError, RetryError, TimeoutError, configError, internalError } = require('./errors.js')
const { ManualClock, nativeOf } = require('./clock.js')
const { transient, retryAfterMsOf } = require('./transient.js')
const { Deadlines } = require('./deadlines.js')
const { Chaos } = require('./chaos.js')
const { DeadLetterQueue, storeFailure } = require('./dead_letter.js')
const telemetry = require('./telemetry.js')
const { traceparent } = telemetry
const telemetryInternal = () => telemetry.internal

/** The current span's trace id, for a dead letter (null outside spans). */
function currentTraceId() {
  const tp = traceparent()
  return tp ? tp.split('-')[1] || null : null
}
const { POLICY_SPANS, TRACED_CALL, tracedCall, fallbackSpan, endWith, runWithSpan } = require('./policy_spans.js')
const { inProbe, state: SYNTHETIC } = require('./synthetic.js')

// Marks the synthetic twin a policy builds for a probe's calls (a symbol: never a user option).
const SYNTHETIC_TWIN = Symbol('ferrule.syntheticTwin')

// NativePolicy.decide's give-up codes (see src/policy.rs).
const REASONS = {
  '-1': 'not_retryable',
  '-2': 'attempts',
  '-3': 'deadline',
  '-4': 'retry_after_too_long',
  '-5': 'refused',
  '-6': 'budget',
}
/** An error's type and message as the core's structured warnings take them. */
const errorType = (e) => (e && e.constructor && typeof e.constructor.name === 'string' ? e.constructor.name : typeof e)
const errorMessage = (e) => {
  try {
    return e instanceof Error ? e.message : String(e)
  } catch {
    return ''
  }
}

const NOTE_FAILED = 0
const NOTE_TIMEOUT = 3
// The breaker's refusals as `enter` returns them (see src/fast_call.rs): -1 wait unknown, -2 - ms.
const REJECTED_UNKNOWN = -1
const REJECTED_AFTER = -2

const POLICY_OPTIONS = ['retry', 'breaker', 'rateLimiter', 'timeoutMs', 'totalTimeoutMs', 'fallback', 'fallbackOn', 'chaos', 'signal', 'clock', 'name', 'deadLetter', 'heartbeat']
const RETRY_OPTIONS = [
  'attempts',
  'backoff',
  'maxElapsedMs',
  'maxRetryAfterMs',
  'retryOn',
  'retryOnResult',
  'onRetry',
  'onGiveUp',
  'budgetRatio',
  'minRetriesPerSecond',
  'budgetWindowMs',
  'seed',
]
const BACKOFF_OPTIONS = ['kind', 'delayMs', 'initialMs', 'incrementMs', 'multiplier', 'maxMs', 'jitter']
const BACKOFF_KINDS = ['constant', 'linear', 'exponential']

function describe(v) {
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'function') return `function ${v.name || '(anonymous)'}`
  try {
    return String(v)
  } catch {
    return Object.prototype.toString.call(v)
  }
}

function checkKeys(component, obj, allowed) {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw configError('TypeError', `${component}: options must be an object; got ${describe(obj)}`, 'options')
  }
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw configError(
        'TypeError',
        `${component}: unknown option ${key}=${describe(obj[key])}; allowed: ${allowed.join(', ')}`,
        key,
      )
    }
  }
}

function number(component, key, v) {
  if (v === undefined) return undefined
  if (typeof v !== 'number') {
    throw configError('TypeError', `${component}: ${key}=${describe(v)} must be a number`, key)
  }
  return v
}

function fnOption(component, key, v) {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'function') throw configError('TypeError', `${component}: ${key}=${describe(v)} must be a function`, key)
  return v
}

function isErrorClass(f) {
  return f === Error || (typeof f === 'function' && f.prototype instanceof Error)
}

function matcher(component, key, spec) {
  if (spec === undefined || spec === null) return undefined
  if (isErrorClass(spec)) return (e) => e instanceof spec
  if (typeof spec === 'function') return spec
  if (Array.isArray(spec) && spec.every(isErrorClass)) return (e) => spec.some((c) => e instanceof c)
  throw configError(
    'TypeError',
    `${component}: ${key}=${describe(spec)} must be an Error class, an array of them, or a predicate`,
    key,
  )
}

function isRefusal(e) {
  return (
    e instanceof CircuitOpenError ||
    (e !== null && typeof e === 'object' && e.code === 'FERRULE_RATE_LIMITED')
  )
}

/** The context the called function receives as its first argument. Plain fields (not `#private`):
 * one is made per attempt with a timeout, on the hot path. */
class AttemptContext {
  /** @param {number | undefined} at the deadline as a `performance.now()` time */
  constructor(attempt, at, outer) {
    this.attempt = attempt
    this._at = at
    this._outer = outer
    this._controller = null
    this._reason = undefined
  }

  /** The attempt's deadline as a `Date.now()` time, or `undefined` without a timeout. */
  get deadlineMs() {
    return this._at === undefined ? undefined : Date.now() + (this._at - performance.now())
  }

  /** Aborts when the attempt times out or the caller's signal aborts; made only when read. */
  get signal() {
    if (this._at === undefined) return this._outer
    if (this._controller === null) {
      const c = (this._controller = new AbortController())
      const outer = this._outer
      if (this._reason !== undefined) c.abort(this._reason)
      else if (outer !== undefined) {
        if (outer.aborted) c.abort(outer.reason)
        else outer.addEventListener('abort', () => c.abort(outer.reason), { once: true })
      }
    }
    return this._controller.signal
  }

  /** @internal */
  expire(reason) {
    this._reason = reason
    if (this._controller !== null) this._controller.abort(reason)
  }
}
const FIRST_ATTEMPT_UNBOUNDED = Object.freeze(new AttemptContext(1, undefined, undefined))

function anySignal(a, b) {
  if (a === undefined) return b
  if (b === undefined) return a
  return AbortSignal.any([a, b])
}

function realSleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal !== undefined && signal.aborted) return reject(signal.reason)
    const onAbort = () => {
      clearTimeout(t)
      reject(signal.reason)
    }
    const t = setTimeout(() => {
      if (signal !== undefined) signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    if (signal !== undefined) signal.addEventListener('abort', onAbort, { once: true })
  })
}

class Policy {
  #native
  #name
  #retry // normalised: { retryOn, retryOnResult, onRetry, onGiveUp } or undefined
  #breaker
  #limiter
  #timeoutMs
  #bounded
  #fallback // array of alternatives, or undefined
  #fallbackOn
  #signal
  #sleep
  #deadlines = null
  #hookErrors = 0
  #chaos
  #deadLetter
  #begin
  #success
  #enter
  #succeed
  #startOut = new Float64Array(1)
  #breakerInternals
  #firstBudget
  #options
  #twin = null

  /** @param {object} [options] see index.d.ts */
  constructor(options) {
    if (options === undefined || options === null) options = {}
    checkKeys('Policy', options, POLICY_OPTIONS)
    const C = 'Policy'
    const o = { retry: false }
    const r = options.retry
    if (r !== undefined && r !== null && r !== false) {
      const ro = r === true ? {} : r
      checkKeys('Retry', ro, RETRY_OPTIONS)
      o.retry = true
      o.attempts = number('Retry', 'attempts', ro.attempts)
      o.maxElapsedMs = number('Retry', 'maxElapsedMs', ro.maxElapsedMs)
      o.maxRetryAfterMs = number('Retry', 'maxRetryAfterMs', ro.maxRetryAfterMs)
      if (ro.budgetRatio === null) o.noBudget = true
      else o.budgetRatio = number('Retry', 'budgetRatio', ro.budgetRatio)
      o.minRetriesPerSecond = number('Retry', 'minRetriesPerSecond', ro.minRetriesPerSecond)
      o.budgetWindowMs = number('Retry', 'budgetWindowMs', ro.budgetWindowMs)
      o.seed = number('Retry', 'seed', ro.seed)
      if (ro.backoff !== undefined) {
        const b = ro.backoff
        checkKeys('Backoff', b, BACKOFF_OPTIONS)
        const kind = b.kind === undefined ? 'exponential' : b.kind
        if (!BACKOFF_KINDS.includes(kind)) {
          throw configError('RangeError', `Backoff: kind=${describe(kind)} is out of range; allowed: 'constant', 'linear' or 'exponential'`, 'kind')
        }
        o.backoffKind = kind
        for (const k of ['delayMs', 'initialMs', 'incrementMs', 'multiplier', 'maxMs']) o[k] = number('Backoff', k, b[k])
        if (b.jitter !== undefined) {
          if (typeof b.jitter !== 'string') throw configError('TypeError', `Backoff: jitter=${describe(b.jitter)} must be a string`, 'jitter')
          o.jitter = b.jitter
        }
      }
      const retryOn = ro.retryOn === undefined ? transient : matcher('Retry', 'retryOn', ro.retryOn)
      this.#retry = {
        retryOn: retryOn || (() => false),
        retryOnResult: fnOption('Retry', 'retryOnResult', ro.retryOnResult),
        onRetry: fnOption('Retry', 'onRetry', ro.onRetry),
        onGiveUp: fnOption('Retry', 'onGiveUp', ro.onGiveUp),
      }
    }
    o.timeoutMs = number(C, 'timeoutMs', options.timeoutMs)
    o.totalTimeoutMs = number(C, 'totalTimeoutMs', options.totalTimeoutMs)
    if (options.name !== undefined && typeof options.name !== 'string') {
      throw configError('TypeError', `${C}: name=${describe(options.name)} must be a string`, 'name')
    }
    if (options.name !== undefined) o.name = options.name
    // A synthetic probe's calls go through a twin made from the same options (same breaker,
    // limiter and rules; counted as synthetic traffic, beating no switch), built on first use.
    this.#options = options
    if (options[SYNTHETIC_TWIN] === true) {
      o.synthetic = true
      this.#twin = this
    }
    let clock
    if (options.clock !== undefined && options.clock !== null) {
      if (!(options.clock instanceof ManualClock)) throw configError('TypeError', `Policy: clock=${describe(options.clock)} must be a ManualClock`, 'clock')
      clock = options.clock
    }
    let made
    try {
      made = native.createPolicy(o, clock === undefined ? null : nativeOf(clock))
    } catch (e) {
      throw internalError(e)
    }
    if (!(made instanceof native.NativePolicy)) throw configError(made.kind, made.message, made.param)
    this.#native = made
    if (options.heartbeat !== undefined && options.heartbeat !== null) {
      // Every successful call beats the switch, in the core (one atomic load per success).
      if (typeof options.heartbeat.watchNative !== 'function') {
        throw configError('TypeError', `Policy: heartbeat=${describe(options.heartbeat)} must be a DeadMansSwitch`, 'heartbeat')
      }
      options.heartbeat.watchNative(made)
    }
    if (options.breaker !== undefined && options.breaker !== null) {
      if (!(options.breaker instanceof CircuitBreaker)) throw configError('TypeError', `Policy: breaker=${describe(options.breaker)} must be a CircuitBreaker`, 'breaker')
      this.#breaker = options.breaker
      this.#breakerInternals = breakerInternals(options.breaker)
    }
    // The hot path calls these raw native functions, far cheaper than methods (src/fast_policy.rs):
    // begin/success without a breaker or a timeout, enter/succeed (which also ask the breaker) with.
    ;[this.#begin, this.#success, this.#enter, this.#succeed] = native.policyFastCalls(
      made,
      this.#breakerInternals === undefined ? null : this.#breakerInternals.native,
      this.#startOut,
    )
    this.#firstBudget = made.firstAttemptBudgetMs()
    if (options.rateLimiter !== undefined && options.rateLimiter !== null) {
      if (typeof options.rateLimiter.acquire !== 'function') {
        throw configError('TypeError', `Policy: rateLimiter=${describe(options.rateLimiter)} must have acquire(n, { key, timeoutMs, signal })`, 'rateLimiter')
      }
      this.#limiter = options.rateLimiter
    }
    if (options.fallback !== undefined) {
      this.#fallback = Array.isArray(options.fallback) ? options.fallback.slice() : [options.fallback]
      if (this.#fallback.length === 0) throw configError('RangeError', 'Policy: fallback=[] is out of range; allowed: a value, a function or a non-empty array', 'fallback')
    }
    this.#fallbackOn = matcher(C, 'fallbackOn', options.fallbackOn)
    if (options.chaos !== undefined && options.chaos !== null) {
      if (!(options.chaos instanceof Chaos)) throw configError('TypeError', `Policy: chaos=${describe(options.chaos)} must be a Chaos`, 'chaos')
      this.#chaos = options.chaos
    }
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
      throw configError('TypeError', `Policy: signal=${describe(options.signal)} must be an AbortSignal`, 'signal')
    }
    if (options.deadLetter !== undefined && options.deadLetter !== null) {
      if (!(options.deadLetter instanceof DeadLetterQueue)) {
        throw configError('TypeError', `Policy: deadLetter=${describe(options.deadLetter)} must be a DeadLetterQueue`, 'deadLetter')
      }
      this.#deadLetter = options.deadLetter
    }
    this.#signal = options.signal
    this.#name = options.name === undefined ? 'policy' : String(options.name)
    this.#timeoutMs = o.timeoutMs
    this.#bounded = o.timeoutMs !== undefined || o.totalTimeoutMs !== undefined || o.maxElapsedMs !== undefined
    if (this.#bounded) this.#deadlines = new Deadlines()
    this.#sleep =
      clock === undefined
        ? realSleep
        : (ms, signal) => {
            if (signal !== undefined && signal.aborted) return Promise.reject(signal.reason)
            clock.advance(ms)
            return Promise.resolve()
          }
  }

  get name() {
    return this.#name
  }

  /** `fn(context, ...args)` through the policy; always returns a Promise. */
  wrap(fn) {
    if (typeof fn !== 'function') throw new TypeError(`Policy.wrap: fn must be a function; got ${describe(fn)}`)
    // Chaos is the innermost strategy: inside the attempt timeout, waiting on the policy's clock.
    if (this.#chaos !== undefined) fn = this.#chaos.wrap(fn, this.#sleep)
    const policy = this
    let wrapped
    if (this.#limiter === undefined && this.#signal === undefined && (this.#bounded || this.#breaker !== undefined)) {
      wrapped = function (...args) {
        if (SYNTHETIC.active !== 0 && inProbe()) return policy.#synthetic(fn, args, undefined)
        if (POLICY_SPANS.on) return policy[TRACED_CALL](fn, args, undefined)
        return policy.#guarded(fn, args)
      }
    } else if (this.#bounded || this.#breaker !== undefined || this.#limiter !== undefined || this.#signal !== undefined) {
      wrapped = function (...args) {
        if (SYNTHETIC.active !== 0 && inProbe()) return policy.#synthetic(fn, args, undefined)
        if (POLICY_SPANS.on) return policy[TRACED_CALL](fn, args, undefined)
        return policy.#call(fn, args, undefined)
      }
    } else {
      // The steady state of a retry without timeouts: one native call before, one after, and
      // one closure per call (the failure handler, which needs the call's arguments).
      const begin = this.#begin
      const success = this.#success
      const check = this.#retry === undefined ? undefined : this.#retry.retryOnResult
      const ok =
        check === undefined
          ? (v) => {
              success()
              return v
            }
          : undefined
      wrapped = function (...args) {
        if (SYNTHETIC.active !== 0 && inProbe()) return policy.#synthetic(fn, args, undefined)
        if (POLICY_SPANS.on) return policy[TRACED_CALL](fn, args, undefined)
        if (ok === undefined) return policy.#call(fn, args, undefined)
        const start = begin()
        let r
        try {
          r = fn(FIRST_ATTEMPT_UNBOUNDED, ...args)
        } catch (e) {
          return policy.#guard(policy.#loop(fn, args, undefined, start, 1, e, true), args)
        }
        const failed = (e) => policy.#guard(policy.#loop(fn, args, undefined, start, 1, e, true), args)
        return r instanceof Promise ? r.then(ok, failed) : Promise.resolve(r).then(ok, failed)
      }
    }
    Object.defineProperty(wrapped, 'name', { value: fn.name, configurable: true })
    return wrapped
  }

  /** Runs `fn(context)` through the policy; `signal` cancels a wait or an attempt at once. */
  execute(fn, options) {
    if (typeof fn !== 'function') return Promise.reject(new TypeError(`Policy.execute: fn must be a function; got ${describe(fn)}`))
    const signal = options === undefined ? undefined : options.signal
    const args = options === undefined || options.args === undefined ? [] : options.args
    const f = this.#chaos === undefined ? fn : this.#chaos.wrap(fn, this.#sleep)
    if (SYNTHETIC.active !== 0 && inProbe()) return this.#synthetic(f, args, signal)
    if (POLICY_SPANS.on) return this[TRACED_CALL](f, args, signal)
    return this.#call(f, args, signal)
  }

  /** The synthetic twin: a probe's calls, counted apart from the user's series. */
  #syntheticTwin() {
    // Same breaker, limiter and rules; no heartbeat and no dead-letter queue (a probe reports its
    // own failures).
    if (this.#twin === null) this.#twin = new Policy({ ...this.#options, heartbeat: undefined, deadLetter: undefined, [SYNTHETIC_TWIN]: true })
    return this.#twin
  }

  #synthetic(fn, args, signal) {
    const twin = this.#syntheticTwin()
    if (POLICY_SPANS.on) return twin[TRACED_CALL](fn, args, signal)
    return twin.#call(fn, args, signal)
  }

  /**
   * The call with a call span and attempt / fallback children (policy_spans.js); `opts.parent` is
   * a call span an integration opened itself. Not part of the public API (a symbol-named method).
   */
  [TRACED_CALL](fn, args, signal, opts) {
    if (SYNTHETIC.active !== 0 && this.#twin !== this && inProbe()) return this.#syntheticTwin()[TRACED_CALL](fn, args, signal, opts)
    if (opts !== undefined && opts.chaos && this.#chaos !== undefined) fn = this.#chaos.wrap(fn, this.#sleep)
    return tracedCall(this.#name, (attempt) => this.#call(attempt, args, signal), fn, opts)
  }

  /** Whether the policy retries: integrations turn an SDK's own retries off then, so they never stack. */
  get retries() {
    return this.#retry !== undefined
  }

  stats() {
    const s = this.#native.stats()
    s.hookErrors = this.#hookErrors
    if (this.#chaos !== undefined) {
      const c = this.#chaos.stats()
      s.chaosCalls = c.calls
      s.chaosErrorsInjected = c.errorsInjected
      s.chaosLatencyInjected = c.latencyInjected
    }
    return s
  }

  // -- the hot path: one begin, the call, one success -----------------------------------------

  #call(fn, args, callSignal) {
    if (callSignal === undefined && this.#limiter === undefined && this.#signal === undefined && (this.#bounded || this.#breaker !== undefined)) {
      return this.#guarded(fn, args)
    }
    const signal = callSignal === undefined ? this.#signal : anySignal(this.#signal, callSignal)
    // Cancelled before it started: the function never runs (no attempt, no fallback), as with a
    // signal that aborts during a wait.
    if (signal !== undefined && signal.aborted) return Promise.reject(signal.reason)
    const start = this.#begin()
    let r
    try {
      r =
        this.#bounded || this.#breaker !== undefined || this.#limiter !== undefined || signal !== undefined
          ? this.#attempt(fn, args, signal, start, 1)
          : fn(FIRST_ATTEMPT_UNBOUNDED, ...args)
    } catch (e) {
      return this.#guard(this.#loop(fn, args, signal, start, 1, e, true), args)
    }
    const check = this.#retry === undefined ? undefined : this.#retry.retryOnResult
    const ok = (v) => {
      if (check !== undefined && check(v)) return this.#guard(this.#loop(fn, args, signal, start, 1, v, 'result'), args)
      this.#success()
      return v
    }
    const failed = (e) => this.#guard(this.#loop(fn, args, signal, start, 1, e, true), args)
    return r instanceof Promise ? r.then(ok, failed) : Promise.resolve(r).then(ok, failed)
  }

  // The steady state with a breaker and/or a timeout (no limiter, no signal), first attempt: one
  // crossing before (count, start, ask the breaker), the call, one after (record both). The caller's
  // promise is settled by the call or by the shared deadline timer, whichever comes first; the breaker
  // stage is the CircuitBreaker's own logic (classification, listeners) run inline. Any failure goes
  // on to the general loop, exactly as from #call.
  #guarded(fn, args) {
    let token = this.#enter()
    const start = this.#startOut[0]
    if (typeof token !== 'number') {
      // Admitted, and this admission moved the breaker open -> half-open: tell listeners first.
      this.#breakerInternals.dispatch(token.transition)
      token = token.token
    } else if (token < 0) {
      const refusal = new CircuitOpenError(this.#breakerInternals.name, token === REJECTED_UNKNOWN ? null : REJECTED_AFTER - token)
      return this.#guard(this.#loop(fn, args, undefined, start, 1, refusal, true), args)
    }
    const budget = this.#firstBudget
    if (budget === null) {
      // A breaker, no timeout.
      let r
      try {
        r = fn(FIRST_ATTEMPT_UNBOUNDED, ...args)
      } catch (e) {
        return this.#firstFailed(fn, args, start, token, e)
      }
      return (r instanceof Promise ? r : Promise.resolve(r)).then(
        (v) => this.#firstValue(fn, args, start, token, v),
        (e) => this.#firstFailed(fn, args, start, token, e),
      )
    }
    const at = performance.now() + budget
    const ctx = new AttemptContext(1, at, undefined)
    const deadlines = this.#deadlines
    return new Promise((resolve, reject) => {
      const entry = {
        at,
        done: false,
        expire: () => {
          this.#native.note(NOTE_TIMEOUT)
          const err = new TimeoutError(`${this.#name}: attempt timed out after ${budget.toFixed(1)}ms`, budget)
          ctx.expire(err)
          try {
            resolve(this.#firstFailed(fn, args, start, token, err))
          } catch (e) {
            reject(e)
          }
        },
      }
      deadlines.add(entry)
      let r
      try {
        r = fn(ctx, ...args)
      } catch (e) {
        deadlines.settle(entry)
        return resolve(this.#firstFailed(fn, args, start, token, e))
      }
      const onValue = (v) => {
        if (entry.done) return // timed out first: the timeout is the outcome
        deadlines.settle(entry)
        try {
          resolve(this.#firstValue(fn, args, start, token, v))
        } catch (e) {
          reject(e)
        }
      }
      const onError = (e) => {
        if (entry.done) return
        deadlines.settle(entry)
        try {
          resolve(this.#firstFailed(fn, args, start, token, e))
        } catch (e2) {
          reject(e2)
        }
      }
      if (r instanceof Promise) r.then(onValue, onError)
      else Promise.resolve(r).then(onValue, onError)
    })
  }

  #firstValue(fn, args, start, token, v) {
    const b = this.#breakerInternals
    const check = this.#retry === undefined ? undefined : this.#retry.retryOnResult
    if (check === undefined && (b === undefined || !b.judgesValues)) {
      const t = this.#succeed(token)
      if (t !== undefined) b.dispatch(t)
      return v
    }
    if (b !== undefined) b.recordValue(token, v)
    if (check !== undefined && check(v)) return this.#guard(this.#loop(fn, args, undefined, start, 1, v, 'result'), args)
    this.#success()
    return v
  }

  #firstFailed(fn, args, start, token, e) {
    if (this.#breakerInternals !== undefined) this.#breakerInternals.recordError(token, e)
    return this.#guard(this.#loop(fn, args, undefined, start, 1, e, true), args)
  }

  // -- fallback -----------------------------------------------------------------------------------

  async #guard(promise, args) {
    try {
      return await promise
    } catch (err) {
      if (this.#fallback === undefined || (this.#fallbackOn !== undefined && !this.#fallbackOn(err))) {
        this.#native.note(NOTE_FAILED)
        if (this.#deadLetter !== undefined) storeFailure(this.#deadLetter, this.#name, err, args, currentTraceId())
        throw err
      }
      // Counted and logged (warning `policy.fallback`, masked, deduplicated) by the core; the
      // process warning is fed from that log line.
      const warned = this.#native.fallbackTaken(errorType(err), errorMessage(err))
      if (warned) process.emitWarning(`ferrule: ${warned}`, { type: 'FerruleWarning', code: 'FERRULE_FALLBACK' })
      const span = fallbackSpan(this.#name, err)
      if (span === null) return await this.#alternatives(err, args)
      return await runWithSpan(span, () => endWith(span, () => this.#alternatives(err, args)))
    }
  }

  async #alternatives(err, args) {
    const alts = this.#fallback
    let last = err
    for (let i = 0; i < alts.length; i++) {
      const alt = alts[i]
      if (typeof alt !== 'function') return alt
      try {
        return await alt(err, ...args)
      } catch (e) {
        const warned = this.#native.fallbackAlternativeFailed(i, alts.length, errorType(e), errorMessage(e))
        if (warned) process.emitWarning(`ferrule: ${warned}`, { type: 'FerruleWarning', code: 'FERRULE_FALLBACK_FAILED' })
        last = e
      }
    }
    this.#native.fallbackExhausted()
    if (last !== err && last !== null && typeof last === 'object' && last.cause === undefined) {
      try {
        last.cause = err
      } catch {
        // a frozen error keeps its own cause
      }
    }
    if (this.#deadLetter !== undefined) storeFailure(this.#deadLetter, this.#name, last, args, currentTraceId())
    throw last
  }

  // -- the general loop ---------------------------------------------------------------------------

  #hook(f, ...a) {
    try {
      f(...a)
    } catch (e) {
      // A broken hook must not break the call: counted, and one warning through the core's logger.
      this.#hookErrors++
      telemetryInternal().warn('policy.hook_error', 'FERRULE_HOOK_ERROR', `ferrule: ${this.#name}: hook ${f.name || '(anonymous)'} threw: ${e && e.message}`, {
        fields: { policy: this.#name },
      })
    }
  }

  async #loop(fn, args, signal, start, attempts, pending, hasPending) {
    const n = this.#native
    const r = this.#retry
    const check = r === undefined ? undefined : r.retryOnResult
    const errors = []
    let prev = 0
    let lastResult
    for (;;) {
      let failure
      let rejected = false
      if (hasPending === 'result') {
        rejected = true
        lastResult = pending
      } else if (hasPending) {
        failure = pending
      } else {
        attempts++
        if (attempts > 1) n.attempt()
        try {
          const v = await this.#attempt(fn, args, signal, start, attempts)
          if (check !== undefined && check(v)) {
            rejected = true
            lastResult = v
          } else {
            this.#success()
            return v
          }
        } catch (e) {
          failure = e
        }
      }
      hasPending = false
      if (signal !== undefined && signal.aborted) throw signal.reason
      let d
      if (rejected) {
        errors.push(undefined)
        d = n.decide(start, attempts, prev, true, null, false)
      } else {
        errors.push(failure)
        if (isRefusal(failure)) {
          const w = failure.retryAfterMs
          d = n.decide(start, attempts, prev, true, typeof w === 'number' ? w : null, true)
        } else {
          const retryable = r !== undefined && Boolean(r.retryOn(failure))
          d = n.decide(start, attempts, prev, retryable, retryable ? retryAfterMsOf(failure) : null, false)
        }
      }
      if (d >= 0) {
        if (r.onRetry !== undefined) this.#hook(r.onRetry, attempts, d, rejected ? undefined : failure)
        await this.#sleep(d, signal)
        prev = d
        continue
      }
      const reason = REASONS[d]
      if (reason === 'not_retryable' || r === undefined) throw failure
      const last = rejected ? `result rejected` : `${failure && failure.name}: ${failure && failure.message}`
      const err = new RetryError(`${this.#name}: gave up after ${attempts} attempt(s) (${reason}); last: ${last}`, attempts, errors, reason, lastResult)
      if (r.onGiveUp !== undefined) this.#hook(r.onGiveUp, err)
      throw err
    }
  }

  // breaker → rate limiter → attempt timeout → call. Returns the call's value or a promise of it.
  #attempt(fn, args, signal, start, attempt) {
    if (this.#breaker === undefined) return this.#limited(fn, args, signal, start, attempt)
    return this.#breaker.execute(() => this.#limited(fn, args, signal, start, attempt))
  }

  #limited(fn, args, signal, start, attempt) {
    const lim = this.#limiter
    if (lim === undefined) return this.#timed(fn, args, signal, start, attempt)
    const left = this.#bounded ? this.#native.callRemainingMs(start) : null
    return Promise.resolve(lim.acquire(1, { key: undefined, timeoutMs: left === null ? undefined : left, signal })).then(() =>
      this.#timed(fn, args, signal, start, attempt),
    )
  }

  #timed(fn, args, signal, start, attempt) {
    if (!this.#bounded) {
      return fn(attempt === 1 && signal === undefined ? FIRST_ATTEMPT_UNBOUNDED : new AttemptContext(attempt, undefined, signal), ...args)
    }
    // A first attempt's budget is known at construction (and the limiter, when there is one, may
    // have taken some of it): ask the core only otherwise.
    const budget = attempt === 1 && this.#limiter === undefined ? this.#firstBudget : this.#native.attemptBudgetMs(start)
    if (budget === null) return fn(new AttemptContext(attempt, undefined, signal), ...args)
    const at = performance.now() + budget
    const ctx = new AttemptContext(attempt, at, signal)
    return new Promise((resolve, reject) => {
      const entry = {
        at,
        done: false,
        expire: () => {
          this.#native.note(NOTE_TIMEOUT)
          const err = new TimeoutError(`${this.#name}: attempt timed out after ${budget.toFixed(1)}ms`, budget)
          ctx.expire(err)
          reject(err)
        },
      }
      if (budget <= 0) return entry.expire()
      const deadlines = this.#deadlines
      deadlines.add(entry)
      let r
      try {
        r = fn(ctx, ...args)
      } catch (e) {
        deadlines.settle(entry)
        return reject(e)
      }
      const settle = (v) => {
        deadlines.settle(entry)
        resolve(v)
      }
      const fail = (e) => {
        deadlines.settle(entry)
        reject(e)
      }
      if (r instanceof Promise) r.then(settle, fail)
      else Promise.resolve(r).then(settle, fail)
    })
  }
}

/** `fn(context, ...args)` wrapped in a new `Policy(options)`. */
function resilient(fn, options) {
  return new Policy(options).wrap(fn)
}

module.exports = { Policy, resilient, transient, Chaos }
