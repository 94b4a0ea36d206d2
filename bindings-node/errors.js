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

/** Anything the native module throws (a caught Rust panic): never a crash, always a FerruleError. */
function internalError(cause) {
  const detail = cause instanceof Error ? cause.message : String(cause)
  return new FerruleError(`ferrule: internal error in the native core: ${detail}`, {
    code: 'FERRULE_INTERNAL',
    cause,
  })
}

module.exports = { FerruleError, CircuitOpenError, RateLimitedError, configError, internalError, INVALID_CONFIG }

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
