'use strict'
// `rateLimit(limiter, { cost, key, timeoutMs, usage })(fn)`: Node's twin of Python's `rate_limit`
// decorator. Each call of the returned async function first waits for the limiter (a RateLimiter, or
// a Limits charged all-or-nothing), then runs `fn`; with Limits, `usage(result)` settles the
// reservation with the real units. The limiter decides; this wrapper only waits and calls.

const { RateLimiter, describe } = require('./rate_limit.js')
const { Limits } = require('./limits.js')
const { configError } = require('./errors.js')

const OPTIONS = ['cost', 'key', 'timeoutMs', 'usage']

function checked(options) {
  if (options === undefined || options === null) return {}
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw configError('TypeError', `rateLimit: options=${describe(options)} must be an object`, 'options')
  }
  for (const k of Object.keys(options)) {
    if (!OPTIONS.includes(k)) {
      throw configError('TypeError', `rateLimit: unknown option ${k}=${describe(options[k])}; allowed: ${OPTIONS.join(', ')}`, k)
    }
  }
  for (const k of ['cost', 'key', 'usage']) {
    const v = options[k]
    if (v !== undefined && v !== null && typeof v !== 'function') {
      throw configError('TypeError', `rateLimit: ${k}=${describe(v)} is not a function`, k)
    }
  }
  const t = options.timeoutMs
  if (t !== undefined && t !== null && (typeof t !== 'number' || !(t >= 0) || t === Infinity)) {
    throw configError(
      typeof t === 'number' ? 'RangeError' : 'TypeError',
      `rateLimit: timeoutMs=${describe(t)} is out of range; allowed: a finite number >= 0`,
      'timeoutMs',
    )
  }
  return options
}

/**
 * Returns a wrapper that rate-limits an async (or sync) function. `cost(...args)` gives the units (a
 * number for a RateLimiter; a number for the first limit or `{ tokens: n, ... }` for Limits; default
 * 1); `key(...args)` the key; `timeoutMs` the longest wait before RateLimitedError; with Limits,
 * `usage(result)` gives the real units (`{ tokens: r.usage.total_tokens }`) to settle with.
 */
function rateLimit(limiter, options) {
  const { cost, key, timeoutMs, usage } = checked(options)
  if (limiter instanceof Limits) {
    const first = limiter.names[0]
    const costsOf = (args) => {
      if (!cost) return { [first]: 1 }
      const c = cost(...args)
      return typeof c === 'number' ? { [first]: c } : c
    }
    return (fn) => {
      if (typeof fn !== 'function') throw configError('TypeError', `rateLimit: fn=${describe(fn)} is not a function`, 'fn')
      const limited = async function (...args) {
        const r = await limiter.acquire(costsOf(args), { key: key ? key(...args) : undefined, timeoutMs })
        const result = await fn.apply(this, args)
        if (usage) r.settle(usage(result))
        return result
      }
      Object.defineProperty(limited, 'name', { value: fn.name })
      return limited
    }
  }
  if (!(limiter instanceof RateLimiter)) {
    throw configError('TypeError', `rateLimit: limiter=${describe(limiter)} is not a ferrule RateLimiter or Limits`, 'limiter')
  }
  if (usage) throw configError('TypeError', 'rateLimit: usage needs a ferrule Limits (a reservation to settle)', 'usage')
  return (fn) => {
    if (typeof fn !== 'function') throw configError('TypeError', `rateLimit: fn=${describe(fn)} is not a function`, 'fn')
    const limited = async function (...args) {
      await limiter.acquire(cost ? cost(...args) : 1, { key: key ? key(...args) : undefined, timeoutMs })
      return fn.apply(this, args)
    }
    Object.defineProperty(limited, 'name', { value: fn.name })
    return limited
  }
}

module.exports = { rateLimit }
