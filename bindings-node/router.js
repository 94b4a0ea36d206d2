'use strict'
// Router for Node: the host half of the core router. The core chooses the endpoint for each attempt
// and learns from its outcome (breakers, cooldowns, ejection, failover, latency); this layer calls the
// endpoint, awaits it, classifies the outcome, races hedges and logs every router event.
//
// Composition: inside `execute` a failed attempt moves straight on to the next endpoint (each at most
// once per call, `attempts` defaults to all), without waiting. For backoff, timeouts or a fallback,
// make the router the callee of a `Policy`: `policy.execute(() => router.execute(...args))`.

const native = require('./native.js')
const { CircuitOpenError, configError, internalError } = require('./errors.js')
const { nativeOf } = require('./clock.js')
const { statusOf, retryAfterMsOf } = require('./transient.js')
const { emit } = require('./telemetry.js')
const { warn } = require('./telemetry.js').internal
const { normalizeChat } = require('./normalize.js')
const { RedisBackend, nativeBackendOf } = require('./redis_backend.js')

/** What an endpoint's `call` receives after the caller's arguments. */
class RouterAttempt {
  constructor(endpoint, hedge) {
    /** The endpoint's name. */
    this.endpoint = endpoint
    /** True for the hedge, the second attempt raced against a slow first one. */
    this.hedge = hedge
    this._controller = null
    this._reason = undefined
  }

  /** Aborts when this attempt lost a hedge race (or was abandoned); made only when read. */
  get signal() {
    if (this._controller === null) {
      this._controller = new AbortController()
      if (this._reason !== undefined) this._controller.abort(this._reason)
    }
    return this._controller.signal
  }

  /** @internal */
  abort(reason) {
    if (this._reason !== undefined) return
    this._reason = reason
    if (this._controller !== null) this._controller.abort(reason)
  }
}

const HEDGE_LOST = new DOMException('ferrule router: another attempt answered first (hedge lost)', 'AbortError')
const HEDGE_ABANDONED = new DOMException('ferrule router: the call ended before this attempt', 'AbortError')

const NUMBER_OPTIONS = [
  'failureRate', 'window', 'minCalls', 'openMs', 'ejectAfterFailures', 'ejectionMs', 'maxEjectionMs',
  'maxEjectionPercent', 'cooldownMs', 'maxCooldownMs', 'failbackMs', 'probeIntervalMs', 'ewmaMs',
  'hedgeQuantile', 'hedgeMinSamples', 'hedgeMaxRatio', 'hedgeMinDelayMs', 'seed', 'latencyWindowMs',
]
const ALLOWED = new Set([...NUMBER_OPTIONS, 'endpoints', 'strategy', 'name', 'attempts', 'failureOn', 'normalize', 'onEvent', 'hedge', 'clock', 'backend', 'syncMs'])
const ENDPOINT_KEYS = new Set(['name', 'call', 'weight', 'region', 'priority', 'costPer1kInput', 'costPer1kOutput', 'maxConcurrency'])

function nativeCall(fn) {
  try {
    return fn()
  } catch (err) {
    throw internalError(err)
  }
}

function checkNumber(where, key, v) {
  if (v !== undefined && v !== null && typeof v !== 'number') {
    throw configError('TypeError', `${where}: ${key}=${JSON.stringify(v)} is not allowed; allowed: a number`, key)
  }
  // NaN and Infinity are numbers to JS, but no option means either.
  if (typeof v === 'number' && !Number.isFinite(v)) {
    throw configError('RangeError', `${where}: ${key}=${String(v)} is out of range; allowed: a finite number`, key)
  }
}

class Router {
  #native
  // The two hot-path calls as raw Node-API functions (`router_fast_call.rs`): pick() for a call's
  // first attempt and success(token).
  #pick
  #success
  #calls
  #names
  #failureOn
  #normalize
  #listeners = []
  #listenerErrors = 0
  #hedge

  /**
   * @param {object} options `endpoints` (each `{ name, call, weight, region, priority, costPer1kInput,
   *   costPer1kOutput, maxConcurrency }`), `strategy` ('weighted' | 'round_robin' | 'least_outstanding'
   *   | 'p2c_ewma' | 'cost' | 'latency'), and the knobs named like the Python ones in ms.
   */
  constructor(options = {}) {
    if (options === null || typeof options !== 'object') throw configError('TypeError', 'Router: options must be an object', 'options')
    for (const k of Object.keys(options)) {
      if (!ALLOWED.has(k)) throw configError('TypeError', `Router: unknown option ${JSON.stringify(k)}; allowed: ${[...ALLOWED].join(', ')}`, k)
    }
    const { endpoints, strategy = 'weighted', name = 'router', attempts, failureOn, normalize, onEvent, hedge = false, clock, backend, syncMs } = options
    if (!Array.isArray(endpoints)) throw configError('TypeError', 'Router: endpoints must be an array of { name, call, ... }', 'endpoints')
    const specs = endpoints.map((e, i) => {
      if (e === null || typeof e !== 'object') throw configError('TypeError', `Router: endpoints[${i}] must be an object`, 'endpoints')
      for (const k of Object.keys(e)) {
        if (!ENDPOINT_KEYS.has(k)) throw configError('TypeError', `Endpoint: unknown option ${JSON.stringify(k)}; allowed: ${[...ENDPOINT_KEYS].join(', ')}`, k)
      }
      if (typeof e.name !== 'string') throw configError('TypeError', `Router: endpoints[${i}].name must be a string`, 'name')
      if (typeof e.call !== 'function') throw configError('TypeError', `Endpoint: call of ${JSON.stringify(e.name)} is not a function`, 'call')
      for (const k of ['weight', 'priority', 'costPer1kInput', 'costPer1kOutput', 'maxConcurrency']) checkNumber('Endpoint', k, e[k])
      if (e.region !== undefined && e.region !== null && typeof e.region !== 'string') throw configError('TypeError', 'Endpoint: region must be a string', 'region')
      return {
        name: e.name,
        weight: e.weight ?? 1,
        region: e.region ?? undefined,
        priority: e.priority ?? 0,
        costIn: e.costPer1kInput ?? undefined,
        costOut: e.costPer1kOutput ?? undefined,
        maxConcurrency: e.maxConcurrency ?? undefined,
      }
    })
    if (typeof name !== 'string') throw configError('TypeError', `Router: name=${JSON.stringify(name)} must be a string`, 'name')
    if (typeof hedge !== 'boolean') throw configError('TypeError', `Router: hedge=${JSON.stringify(hedge)} must be true or false`, 'hedge')
    if (typeof strategy !== 'string') throw configError('TypeError', `Router: strategy=${typeof strategy === 'object' ? JSON.stringify(strategy) : String(strategy)} must be a string`, 'strategy')
    if (attempts !== undefined && attempts !== null && !Number.isInteger(attempts)) {
      throw configError('RangeError', `Router: attempts=${String(attempts)} is out of range; allowed: an integer in [1, ${specs.length}]`, 'attempts')
    }
    const opts = { hedge: !!hedge }
    if (attempts !== undefined && attempts !== null) opts.attempts = attempts
    for (const k of NUMBER_OPTIONS) {
      checkNumber('Router', k, options[k])
      if (options[k] !== undefined && options[k] !== null) opts[k] = options[k]
    }
    if (backend !== undefined && backend !== null && !(backend instanceof RedisBackend)) {
      throw configError('TypeError', 'Router: backend must be a RedisBackend', 'backend')
    }
    checkNumber('Router', 'syncMs', syncMs)
    const nativeBackend = backend ? nativeBackendOf(backend) : null
    const made = nativeCall(() => native.createRouter(String(name), strategy, specs, opts, clock ? nativeOf(clock) : null, nativeBackend, syncMs ?? null))
    if (!(made instanceof native.NativeRouter)) throw configError(made.kind, made.message.replace('Endpoint: cost_per_1k', 'Endpoint: costPer1k'), made.param)
    this.#native = made
    ;[this.#pick, this.#success] = nativeCall(() => native.routerFastCall(made))
    if (failureOn !== undefined && typeof failureOn !== 'function') throw configError('TypeError', 'Router: failureOn must be a function (err) => boolean', 'failureOn')
    if (normalize !== undefined && normalize !== null && normalize !== 'openai' && typeof normalize !== 'function') {
      throw configError('TypeError', `Router: normalize=${JSON.stringify(normalize)} is not allowed; allowed: 'openai', a function (response, endpointName) or null`, 'normalize')
    }
    if (onEvent !== undefined && typeof onEvent !== 'function') throw configError('TypeError', 'Router: onEvent must be a function', 'onEvent')
    this.name = String(name)
    this.#calls = endpoints.map((e) => e.call)
    this.#names = specs.map((e) => e.name)
    this.#failureOn = failureOn
    this.#normalize = normalize === 'openai' ? normalizeChat : normalize ?? null
    if (onEvent) this.#listeners.push(onEvent)
    this.#hedge = !!hedge
  }

  /** Adds a listener for router events: `(event) => void`. */
  onEvent(listener) {
    if (typeof listener !== 'function') throw configError('TypeError', 'Router.onEvent: listener must be a function', 'listener')
    this.#listeners = [...this.#listeners, listener]
    return this
  }

  // Every event is a log line (structured, through the core's logger) and reaches the listeners.
  #drain() {
    const events = nativeCall(() => this.#native.drainEvents())
    for (const ev of events) {
      emit(ev.event, {
        level: ev.warning ? 'warning' : 'info',
        message: ev.message,
        router: ev.router,
        endpoint: ev.endpoint || undefined,
        from_state: ev.from || undefined,
        to_state: ev.to || undefined,
        reason: ev.reason,
        seconds: ev.ms === null || ev.ms === undefined ? undefined : ev.ms / 1000,
      })
      for (const cb of this.#listeners) {
        try {
          cb(ev)
        } catch (err) {
          this.#listenerErrors++
          warn('router.listener_error', 'FERRULE_LISTENER_ERROR', `ferrule: an event listener of router '${this.name}' threw: ${err instanceof Error ? err.message : String(err)}`)
        }
      }
    }
  }

  // Records `err` against token `t`: true when it counts against the endpoint (move on).
  #failed(t, err) {
    if (this.#failureOn !== undefined) {
      let blame
      try {
        blame = this.#failureOn(err)
      } catch (hookErr) {
        blame = true
        warn('router.classifier_error', 'FERRULE_CLASSIFIER_ERROR', `ferrule: the failureOn classifier of router '${this.name}' threw; counted as a failure`)
      }
      if (!blame) {
        if (this.#native.release(t)) this.#drain()
        return false
      }
    }
    const status = statusOf(err)
    const hint = retryAfterMsOf(err)
    if (this.#native.failure(t, status === undefined ? null : status, hint === undefined ? null : hint)) this.#drain()
    return true
  }

  #done(t, value) {
    if (this.#success(t)) this.#drain()
    const norm = this.#normalize
    return norm === null ? value : norm(value, this.#names[t % 64])
  }

  /**
   * Calls the chosen endpoint with `args` and, last, a `RouterAttempt` (`{ endpoint, hedge, signal }`;
   * `signal` aborts when the attempt lost a hedge race). Resolves with its value (normalised when
   * `normalize` is set); rejects with the last endpoint's error when every attempt failed, or a
   * `CircuitOpenError` named `router <name>` when no endpoint could take the call. The core decides
   * every step (which endpoint next, when to give up, whether to hedge now and where); this method
   * only calls, waits and aborts.
   */
  async execute(...args) {
    const nat = this.#native
    const calls = this.#calls
    let t = this.#pick()
    if (t < 0) throw new CircuitOpenError(`router ${this.name}`, -1 - t)
    let lo = 0
    let hi = 0
    let last
    for (;;) {
      const i = t % 64
      const delay = this.#hedge ? nat.hedgeDelayMs(t) : null
      if (delay !== null && delay !== undefined) {
        const r = await this.#hedged(t, lo, hi, delay, args)
        lo = r.lo
        hi = r.hi
        if (r.ok) return this.#done(r.token, r.value)
        last = r.error
      } else {
        if (i < 32) lo = (lo | (1 << i)) >>> 0
        else hi = (hi | (1 << (i - 32))) >>> 0
        let value
        let ok = true
        try {
          value = await calls[i](...args, new RouterAttempt(this.#names[i], false))
        } catch (err) {
          if (!this.#failed(t, err)) throw err
          last = err
          ok = false
        }
        if (ok) return this.#done(t, value)
      }
      t = nat.next(lo, hi)
      if (t < 0) throw last
    }
  }

  // Runs attempt `t`; if it is still running after `delay` ms, the core may pick a hedge. The first
  // success wins; the loser's signal is aborted and it is counted as lost.
  async #hedged(t, lo, hi, delay, args) {
    const nat = this.#native
    const calls = this.#calls
    const names = this.#names
    const start = (tok, hedge) => {
      const attempt = new RouterAttempt(names[tok % 64], hedge)
      const p = Promise.resolve().then(() => calls[tok % 64](...args, attempt))
      return { attempt, done: p.then((value) => ({ tok, ok: true, value }), (error) => ({ tok, ok: false, error })) }
    }
    const mark = (tok) => {
      const i = tok % 64
      if (i < 32) lo = (lo | (1 << i)) >>> 0
      else hi = (hi | (1 << (i - 32))) >>> 0
    }
    mark(t)
    const running = new Map([[t, start(t, false)]])
    let won = false
    let lastError
    try {
      let timer
      const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(null), delay) })
      const first = await Promise.race([running.get(t).done, timeout])
      clearTimeout(timer)
      if (first === null) {
        const t2 = nat.hedge(t, lo, hi)
        if (t2 >= 0) {
          mark(t2)
          running.set(t2, start(t2, true))
        }
      }
      while (running.size > 0) {
        const r = await Promise.race(Array.from(running.values(), (x) => x.done))
        running.delete(r.tok)
        if (r.ok) {
          won = true
          return { ok: true, token: r.tok, value: r.value, lo, hi }
        }
        if (!this.#failed(r.tok, r.error)) throw r.error
        lastError = r.error
      }
      return { ok: false, error: lastError, lo, hi }
    } finally {
      // The loser is aborted through its signal and counted as lost (a Promise cannot be cancelled:
      // whatever it settles with later is discarded). An attempt abandoned because an error was
      // re-raised is aborted and released.
      for (const [tok, x] of running) {
        x.attempt.abort(won ? HEDGE_LOST : HEDGE_ABANDONED)
        if (won ? nat.lost(tok) : nat.release(tok)) this.#drain()
      }
    }
  }

  get activeRegion() {
    return nativeCall(() => this.#native.activeRegion())
  }

  /** Per-endpoint counts, latency EWMA / p95 (ms), health; active region, failovers, failbacks,
   * the last failover's recovery time (lastFailoverRtoMs), hedges. */
  stats() {
    const s = nativeCall(() => this.#native.stats())
    s.listenerErrors = this.#listenerErrors
    return s
  }

  /** With a backend: the health sync thread's counters (syncs, errors, published, appliedCooldowns,
   * appliedEjections, appliedRegions, syncAgeMs); otherwise null. */
  syncStats() {
    return nativeCall(() => this.#native.syncStats()) ?? null
  }

  /** With a backend: exchange endpoint health with Redis now (the background thread does it every
   * `syncMs` and at once after a local cooldown, ejection or region switch). */
  syncNow() {
    nativeCall(() => this.#native.syncNow())
  }
}

module.exports = { Router, RouterAttempt }
