'use strict'
// Chaos: fault injection for your own tests (Polly's Simmy), as the innermost strategy of a policy.
// The core decides, from a seed when given, which calls fail and which are slowed; this layer waits
// and throws. Off unless configured.

const native = require('./native.js')
const { configError, internalError } = require('./errors.js')

const ERROR = 1
const LATENCY = 2
const OPTIONS = ['errorRate', 'error', 'latencyMs', 'latencyRate', 'seed']

function describe(v) {
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'function') return `function ${v.name || '(anonymous)'}`
  return String(v)
}

function errorFactory(error) {
  if (error === undefined || error === null) {
    return () => Object.assign(new Error('ferrule Chaos: injected fault'), { code: 'ECONNRESET' })
  }
  if (error instanceof Error) return () => error
  if (typeof error === 'function') {
    if (error === Error || error.prototype instanceof Error) return () => new error('ferrule Chaos: injected fault')
    return error
  }
  throw configError('TypeError', `Chaos: error=${describe(error)} must be an Error, an Error class or a function returning one`, 'error')
}

class Chaos {
  #native
  #makeError
  #latencyMs

  /**
   * `errorRate` of calls throw `error` (default an ECONNRESET error, which `transient` retries)
   * instead of running; `latencyRate` of calls first wait `latencyMs`. With `seed` the same calls
   * fail on every run.
   */
  constructor(options) {
    if (options === undefined || options === null) options = {}
    for (const k of Object.keys(options)) {
      if (!OPTIONS.includes(k)) {
        throw configError('TypeError', `Chaos: unknown option ${k}=${describe(options[k])}; allowed: ${OPTIONS.join(', ')}`, k)
      }
    }
    for (const k of ['errorRate', 'latencyMs', 'latencyRate', 'seed']) {
      if (options[k] !== undefined && typeof options[k] !== 'number') {
        throw configError('TypeError', `Chaos: ${k}=${describe(options[k])} must be a number`, k)
      }
      if (typeof options[k] === 'number' && !Number.isFinite(options[k])) {
        throw configError('RangeError', `Chaos: ${k}=${describe(options[k])} is out of range; allowed: a finite number`, k)
      }
    }
    this.#makeError = errorFactory(options.error)
    let made
    try {
      made = native.createChaos({
        errorRate: options.errorRate,
        latencyRate: options.latencyRate,
        latencyMs: options.latencyMs,
        seed: options.seed,
      })
    } catch (e) {
      throw internalError(e)
    }
    if (!(made instanceof native.NativeChaos)) throw configError(made.kind, made.message, made.param)
    this.#native = made
    this.#latencyMs = options.latencyMs || 0
  }

  /** `fn` with faults injected before it runs; waits with `sleep(ms)` (a manual clock's, in tests). */
  wrap(fn, sleep) {
    const next = () => this.#native.next()
    const make = this.#makeError
    const latency = this.#latencyMs
    const wait = sleep || ((ms) => new Promise((resolve) => setTimeout(resolve, ms)))
    const chaotic = function (...args) {
      const f = next()
      if (f & LATENCY) {
        return Promise.resolve(wait(latency)).then(() => {
          if (f & ERROR) throw make()
          return fn.apply(this, args)
        })
      }
      if (f & ERROR) return Promise.reject(make())
      return fn.apply(this, args)
    }
    Object.defineProperty(chaotic, 'name', { value: fn.name, configurable: true })
    return chaotic
  }

  stats() {
    return this.#native.stats()
  }
}

module.exports = { Chaos }
