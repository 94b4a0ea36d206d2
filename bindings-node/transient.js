'use strict'
// What is worth retrying, and how long the server asked to wait. `transient(err)` is the default
// `retryOn`: connection errors, timeouts, HTTP 408/409/429/5xx (the status rule is the core's) and
// the OpenAI SDK's connection, timeout, rate-limit and server errors; never 400/401/403/404/422.

const native = require('./native.js')

const STATUSES = new Set(native.transientStatuses())
const HEADER_NAMES = native.hintHeaderNames()
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'FERRULE_TIMEOUT',
])
// The OpenAI and Anthropic SDKs' transport failures, by class name (no import needed).
const NETWORK_NAMES = new Set(['APIConnectionError', 'APIConnectionTimeoutError', 'APITimeoutError'])

/** The HTTP status an error carries (`status` or `statusCode`, on it or its `response`). */
function statusOf(err) {
  if (err === null || typeof err !== 'object') return undefined
  for (const h of [err, err.response]) {
    if (h === null || typeof h !== 'object') continue
    const s = typeof h.status === 'number' ? h.status : h.statusCode
    if (typeof s === 'number' && Number.isInteger(s)) return s
  }
  return undefined
}

/** True for failures that may well succeed if tried again. */
function transient(err) {
  if (err === null || typeof err !== 'object') return false
  const status = statusOf(err)
  if (status !== undefined) return STATUSES.has(status)
  if (typeof err.code === 'string' && NETWORK_CODES.has(err.code)) return true
  for (let p = Object.getPrototypeOf(err); p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    if (p.constructor && NETWORK_NAMES.has(p.constructor.name)) return true
  }
  const cause = err.cause
  return cause !== undefined && cause !== err && typeof cause === 'object' && cause !== null && typeof cause.code === 'string' && NETWORK_CODES.has(cause.code)
}

/** Milliseconds the server asked to wait, from `error.headers` (or `error.response.headers`, or
 * the Vercel AI SDK's `error.responseHeaders`). */
function retryAfterMsOf(err) {
  if (err === null || typeof err !== 'object') return null
  let h = err.headers
  if (h === undefined || h === null) h = err.response && err.response.headers
  if (h === undefined || h === null) h = err.responseHeaders
  if (h === undefined || h === null || typeof h !== 'object') return null
  const pairs = []
  if (typeof h.get === 'function') {
    for (const name of HEADER_NAMES) {
      const v = h.get(name)
      if (v !== null && v !== undefined) pairs.push([name, String(v)])
    }
  } else {
    for (const k of Object.keys(h)) {
      if (HEADER_NAMES.includes(k.toLowerCase()) && h[k] !== undefined && h[k] !== null) pairs.push([k, String(h[k])])
    }
  }
  if (pairs.length === 0) return null
  const s = statusOf(err)
  return native.retryHintMs(pairs, s === undefined ? null : s, Date.now())
}

module.exports = { transient, statusOf, retryAfterMsOf }
