'use strict'
// The error classes of the Node API, one tree rooted at FerruleError. Codes are stable and shared
// with the Python binding; the core's error enum is mapped here once.

class FerruleError extends Error {
  /**
   * @param {string} message
   * @param {{ code?: string, cause?: unknown }} [options]
   */
  constructor(message, options) {
    super(message, options !== undefined && 'cause' in options ? { cause: options.cause } : undefined)
    this.code = (options && options.code) || 'FERRULE_ERROR'
  }
}
FerruleError.prototype.name = 'FerruleError'

class CircuitOpenError extends FerruleError {
  /**
   * @param {string} breaker the breaker's name
   * @param {number | null} retryAfterMs time left open; null when forced open or when every
   *   half-open probe slot is taken, so the wait cannot be known
   */
  constructor(breaker, retryAfterMs) {
    super(
      retryAfterMs === null
        ? `circuit breaker '${breaker}' is open; retry time unknown (forced open, or every half-open probe slot is taken)`
        : `circuit breaker '${breaker}' is open; retry after ${(retryAfterMs / 1000).toFixed(3)}s`,
      { code: 'FERRULE_CIRCUIT_OPEN' },
    )
    this.breaker = breaker
    this.retryAfterMs = retryAfterMs
  }
}
CircuitOpenError.prototype.name = 'CircuitOpenError'

class RateLimitedError extends FerruleError {
  /**
   * @param {string} limiter the limiter's name
   * @param {number} retryAfterMs when the call would pass; longer than the caller would wait
   * @param {string | null} [key] the key that was limited, if any
   */
  constructor(limiter, retryAfterMs, key = null) {
    super(`rate limiter '${limiter}' refused the call; retry after ${(retryAfterMs / 1000).toFixed(3)}s`, {
      code: 'FERRULE_RATE_LIMITED',
    })
    this.limiter = limiter
    this.retryAfterMs = retryAfterMs
    this.key = key
  }
}
RateLimitedError.prototype.name = 'RateLimitedError'

const INVALID_CONFIG = 'FERRULE_INVALID_CONFIG'

/**
 * A refused configuration: the built-in TypeError or RangeError, as Node's own validation throws,
 * carrying the stable code and the option name.
 * @param {'TypeError' | 'RangeError'} kind
 */
function configError(kind, message, param) {
  const err = kind === 'RangeError' ? new RangeError(message) : new TypeError(message)
  err.code = INVALID_CONFIG
  err.param = param
  return err
}

// napi-rs refuses a JS value of the wrong type for a native parameter or option field with an
// Error whose code names the kind it expected. That is the caller's mistake, not ferrule's: it
// becomes the configuration error any other wrong type gives (TypeError, FERRULE_INVALID_CONFIG,
// `param` the option's name).
const NAPI_TYPE_CODES = new Set(['NumberExpected', 'StringExpected', 'BooleanExpected', 'ObjectExpected', 'ArrayExpected', 'InvalidArg'])
const RUST_TYPES = [
  [/^(f64|f32)$/, 'number', 'a number'],
  [/^(u8|u16|u32|u64|i32|i64|usize)$/, 'number', 'an integer'],
  [/^(String|&str)$/, 'string', 'a string'],
  [/^bool$/, 'boolean', 'true or false'],
  [/^Vec</, 'array', 'an array'],
]

function shownValue(v) {
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'bigint') return `${v}n`
  if (typeof v === 'function') return `function ${v.name || '(anonymous)'}`
  try {
    return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)
  } catch {
    return Object.prototype.toString.call(v)
  }
}

function jsKind(v) {
  return Array.isArray(v) ? 'array' : typeof v
}

/**
 * The configuration error for napi's refusal `cause`, or null when `cause` is not one. The field
 * comes from napi's message (`... on ProbeOptions.severity`) or, where napi does not name it, from
 * `given` (the options or named arguments passed): the one whose type is not the expected one.
 */
function napiTypeError(cause, where, given) {
  if (!(cause instanceof Error) || !NAPI_TYPE_CODES.has(cause.code) || !/^Failed to convert/.test(cause.message)) return null
  const rust = /into rust type `([^`]+)`/.exec(cause.message)
  const rustType = rust ? rust[1].replace(/^Option<(.*)>$/, '$1') : ''
  const known = RUST_TYPES.find(([re]) => re.test(rustType))
  const [, kind, allowed] = known || [null, null, `a value of Rust type ${rustType || 'unknown'}`]
  let field = (/ on \w+\.(\w+)/.exec(cause.message) || [])[1]
  if (field === undefined && given !== null && typeof given === 'object' && kind !== null) {
    const wrong = Object.keys(given).filter((k) => given[k] !== undefined && given[k] !== null && jsKind(given[k]) !== kind)
    if (wrong.length === 1) field = wrong[0]
  }
  if (field === undefined) return null
  const value = given !== null && typeof given === 'object' && field in given ? `=${shownValue(given[field])}` : ''
  const err = configError('TypeError', `${where ? `${where}: ` : ''}${field}${value} must be ${allowed}`, field)
  err.cause = cause
  return err
}

/**
 * Anything the native module throws (a caught Rust panic): never a crash, always a FerruleError;
 * napi's refusal of a wrong-typed argument becomes a configuration error naming it (`where` the
 * class or function, `given` the options or named arguments it was passed).
 */
function internalError(cause, where, given) {
  const typed = napiTypeError(cause, where, given)
  if (typed !== null) return typed
  const detail = cause instanceof Error ? cause.message : String(cause)
  return new FerruleError(`ferrule: internal error in the native core: ${detail}`, {
    code: 'FERRULE_INTERNAL',
    cause,
  })
}

module.exports = { FerruleError, CircuitOpenError, RateLimitedError, configError, internalError, napiTypeError, INVALID_CONFIG }

// -- retry and timeouts --------------------------------------------------------------

class RetryError extends FerruleError {
  /**
   * A retry loop gave up. `errors` holds every attempt's error in order (`undefined` for an attempt
   * whose result `retryOnResult` rejected: that value is `lastResult`); `cause` is the last error.
   * @param {string} message
   * @param {number} attempts
   * @param {unknown[]} errors
   * @param {string} reason 'attempts' | 'deadline' | 'retry_after_too_long' | 'refused' | 'budget'
   * @param {unknown} lastResult
   */
  constructor(message, attempts, errors, reason, lastResult) {
    let cause
    for (let i = errors.length - 1; i >= 0; i--) {
      if (errors[i] !== undefined) {
        cause = errors[i]
        break
      }
    }
    super(message, cause === undefined ? { code: 'FERRULE_RETRY_EXHAUSTED' } : { code: 'FERRULE_RETRY_EXHAUSTED', cause })
    this.attempts = attempts
    this.errors = errors
    this.reason = reason
    this.lastResult = lastResult
  }
}
RetryError.prototype.name = 'RetryError'

class TimeoutError extends FerruleError {
  /** An attempt or a whole call ran out of time; `timeoutMs` is the bound that was hit. */
  constructor(message, timeoutMs) {
    super(message, { code: 'FERRULE_TIMEOUT' })
    this.timeoutMs = timeoutMs
  }
}
TimeoutError.prototype.name = 'TimeoutError'

module.exports.RetryError = RetryError
module.exports.TimeoutError = TimeoutError
/**
 * A model's output was refused: not JSON even after repair (`kind: 'parse'`), against the schema
 * (`'schema'`), or over a size or depth limit (`'limit'`). `errors` lists every violation as
 * `{ path, message }` (path a JSON pointer); `repairs` the repairs applied before refusing; `raw` the
 * text as the model wrote it; `line` / `column` locate a parse error (1-based).
 */
class ValidationError extends FerruleError {
  constructor(message, { kind, errors, repairs, raw, line, column } = {}) {
    super(message, { code: 'FERRULE_VALIDATION' })
    this.kind = kind || 'schema'
    this.errors = errors || []
    this.repairs = repairs || []
    this.raw = raw === undefined ? null : raw
    this.line = line == null ? null : line
    this.column = column == null ? null : column
  }
}
ValidationError.prototype.name = 'ValidationError'

module.exports.ValidationError = ValidationError

/** A durable store (the inference log) could not be opened, written or queried; `message` says why. */
class StorageError extends FerruleError {
  constructor(message) {
    super(message, { code: 'FERRULE_STORAGE' })
  }
}
StorageError.prototype.name = 'StorageError'
module.exports.StorageError = StorageError
