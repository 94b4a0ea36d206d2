'use strict'
// GenAI call recording and prompt performance profiling for Node: `recordLlmCall` feeds the GenAI
// duration and token histograms, the cost counter and the per-template profile in the core;
// `profile()` reads the profile as rows (calls, error rate, tokens, p50/p95/p99 ms, cost).

const native = require('./native.js')
const { configError, internalError } = require('./errors.js')

const CALL_OPTIONS = [
  'model',
  'durationMs',
  'inputTokens',
  'outputTokens',
  'operation',
  'provider',
  'errorType',
  'template',
  'templateText',
  'traceId',
  'synthetic',
]
const STRINGS = ['model', 'operation', 'provider', 'errorType', 'template', 'templateText', 'traceId']
const NUMBERS = ['durationMs', 'inputTokens', 'outputTokens']

function describe(v) {
  return typeof v === 'string' ? JSON.stringify(v) : String(v)
}

function call(fn, where, given) {
  try {
    return fn()
  } catch (e) {
    throw internalError(e, where, given)
  }
}

function refused(r) {
  return r !== null && typeof r === 'object' && typeof r.kind === 'string' && typeof r.message === 'string'
}

/** Records a finished GenAI call; returns its cost in US dollars (0 when the model has no price). */
function recordLlmCall(options) {
  if (options === null || typeof options !== 'object') {
    throw configError('TypeError', `recordLlmCall: options must be an object; got ${describe(options)}`, 'options')
  }
  for (const k of Object.keys(options)) {
    if (!CALL_OPTIONS.includes(k)) {
      throw configError('TypeError', `recordLlmCall: unknown option ${k}=${describe(options[k])}; allowed: ${CALL_OPTIONS.join(', ')}`, k)
    }
  }
  for (const k of ['model', 'durationMs']) {
    if (options[k] === undefined) throw configError('TypeError', `recordLlmCall: ${k} is required`, k)
  }
  for (const k of STRINGS) {
    if (options[k] !== undefined && options[k] !== null && typeof options[k] !== 'string') {
      throw configError('TypeError', `recordLlmCall: ${k} must be a string; got ${describe(options[k])}`, k)
    }
  }
  for (const k of NUMBERS) {
    if (options[k] !== undefined && options[k] !== null && typeof options[k] !== 'number') {
      throw configError('TypeError', `recordLlmCall: ${k} must be a number; got ${describe(options[k])}`, k)
    }
  }
  if (options.synthetic !== undefined && typeof options.synthetic !== 'boolean') {
    throw configError('TypeError', `recordLlmCall: synthetic must be a boolean; got ${describe(options.synthetic)}`, 'synthetic')
  }
  const r = call(() => native.recordLlmCall(options))
  if (refused(r)) throw configError(r.kind, r.message, r.param)
  return r
}

/** Sets a model's price (and that of model names it prefixes) in US dollars per million tokens. */
function setPrice(model, inputPerMillion, outputPerMillion) {
  if (typeof model !== 'string') throw configError('TypeError', `setPrice: model must be a string; got ${describe(model)}`, 'model')
  const r = call(() => native.setPrice(model, inputPerMillion, outputPerMillion), 'setPrice', { inputPerMillion, outputPerMillion })
  if (refused(r)) throw configError(r.kind, r.message, r.param)
}

const COLUMNS = [
  ['template', 'template'],
  ['calls', 'calls'],
  ['errorRate', 'err %'],
  ['inputTokens', 'in tok'],
  ['outputTokens', 'out tok'],
  ['p50Ms', 'p50 ms'],
  ['p95Ms', 'p95 ms'],
  ['p99Ms', 'p99 ms'],
  ['costUsd', 'cost $'],
]

function cell(key, v) {
  if (key === 'errorRate') return (100 * v).toFixed(1)
  if (key.endsWith('Ms')) return v.toFixed(1)
  if (key === 'costUsd') return v.toFixed(4)
  return String(v)
}

function rowsOf(by, n) {
  if (typeof n === 'number' && !Number.isFinite(n)) {
    throw configError('RangeError', `profile: n=${n} is out of range; allowed: an integer >= 1`, 'n')
  }
  if (typeof by !== 'string') throw configError('TypeError', `profile: by must be a string; got ${describe(by)}`, 'by')
  const r = call(() => native.profileRows(by, n), 'profile', { n })
  if (refused(r)) throw configError(r.kind, r.message, 'by')
  return r
}

/** A snapshot of the prompt profile, sorted by `by`, largest first. */
class ProfileReport {
  constructor(rows, by) {
    this.rows = rows
    this.by = by
  }
  /** The `n` templates with the most `by` ('cost', 'latency' (p95), 'tokens', 'calls', 'errors'), read now. */
  top(n = 10, by = 'cost') {
    return new ProfileReport(rowsOf(by, n), by)
  }
  /** A plain-text table. */
  toString() {
    if (this.rows.length === 0) return 'ferrule profile: no calls recorded (record them with recordLlmCall)'
    const table = [COLUMNS.map(([, h]) => h), ...this.rows.map((r) => COLUMNS.map(([k]) => cell(k, r[k])))]
    const widths = COLUMNS.map((_, i) => Math.max(...table.map((row) => row[i].length)))
    const line = (row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd()
    return [line(table[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...table.slice(1).map(line)].join('\n')
  }
}

/** The prompt profile now: `profile({ by: 'latency', n: 5 })`. */
function profile(options) {
  const o = options === undefined || options === null ? {} : options
  const by = o.by === undefined ? 'cost' : o.by
  return new ProfileReport(rowsOf(by, o.n), by)
}

/** Forgets every template recorded so far. */
function resetProfile() {
  call(() => native.profileReset())
}

module.exports = { recordLlmCall, setPrice, profile, resetProfile }
