'use strict'
// `inferenceLog`: the schema'd record of every LLM call in an embedded SQLite file (WAL), the same
// store and schema as Python's `ferrule.inference_log`. `record()` never blocks (a core thread
// writes); `query(sql, params)` and `records({ model, since, outcome })` read it back as plain
// objects keyed by column (SQL column names, as in Python, so the same queries work in both).

const native = require('./native.js')
const { configError, internalError, StorageError } = require('./errors.js')
const telemetry = require('./telemetry.js')

const RECORD_KEYS = {
  model: 'model', outcome: 'outcome', requestId: 'requestId', provider: 'provider', template: 'template',
  parameters: 'parameters', input: 'input', output: 'output', inputTokens: 'inputTokens',
  outputTokens: 'outputTokens', costUsd: 'costUsd', latencyMs: 'latencySeconds', errorType: 'errorType',
  attempts: 'attempts',
}

function call(fn) {
  try {
    return fn()
  } catch (e) {
    throw internalError(e)
  }
}

function unwrap(r) {
  if (r !== null && typeof r === 'object' && typeof r.kind === 'string' && typeof r.message === 'string') {
    if (r.kind === 'StorageError') throw new StorageError(r.message)
    throw configError(r.kind, r.message, r.param)
  }
  return r
}

/** SQL results cross as JSON: `{ b: digits }` is an integer beyond 2^53, `{ x: hex }` a blob. */
function revive(text) {
  const { columns, rows } = JSON.parse(text)
  return rows.map((row) => {
    const o = {}
    columns.forEach((c, i) => {
      const v = row[i]
      o[c] = v !== null && typeof v === 'object' ? ('b' in v ? BigInt(v.b) : Buffer.from(v.x, 'hex')) : v
    })
    return o
  })
}

function sqlParams(params) {
  if (!Array.isArray(params)) throw new TypeError('inferenceLog.query: params must be an array (positional ? parameters)')
  return JSON.stringify(params.map((v, i) => {
    if (typeof v === 'bigint') return { b: v.toString() }
    if (v === null || v === undefined || typeof v === 'string' || typeof v === 'boolean') return v ?? null
    if (typeof v === 'number') return v
    if (v instanceof Date) return v.getTime()
    throw new TypeError(`inferenceLog.query: params[${i}] of type ${typeof v} is not allowed; allowed: null, boolean, number, bigint, string, Date`)
  }))
}

function sinceMs(since) {
  if (since === undefined || since === null) return null
  if (since instanceof Date) return since.getTime()
  if (typeof since === 'number') return since
  throw configError('TypeError', `inferenceLog.records: since must be a Date or Unix milliseconds; got ${typeof since}`, 'since')
}

class InferenceLog {
  #native = null

  /** Opens (creating if needed) the SQLite file at `path`; records survive restarts. */
  open(path, { maxAgeMs, maxRows } = {}) {
    if (typeof path !== 'string') throw configError('TypeError', 'inferenceLog.open: path must be a string', 'path')
    const n = unwrap(call(() => native.openInferenceLog(path, maxAgeMs ?? null, maxRows ?? null)))
    const old = this.#native
    this.#native = n
    call(() => native.useInferenceLog(n)) // every call record writes its row here
    if (old !== null) call(() => old.close())
    return this
  }

  get isOpen() {
    return this.#native !== null
  }

  get path() {
    return this.#native === null ? null : this.#native.path()
  }

  #require() {
    if (this.#native === null) throw new StorageError('inferenceLog: not open; call inferenceLog.open(path)')
    return this.#native
  }

  /**
   * Queues one call's record (ids from the current span and `runInContext`). `input` / `output`
   * are kept only with `configure({ captureContent: true })`, masked. Returns false when the queue
   * was full and the record was dropped (counted in `stats().dropped` and logged).
   */
  record(fields) {
    const n = this.#require()
    if (fields === null || typeof fields !== 'object') throw new TypeError('inferenceLog.record: fields must be an object')
    const r = {}
    for (const [k, v] of Object.entries(fields)) {
      const to = RECORD_KEYS[k]
      if (to === undefined) {
        throw configError('TypeError', `inferenceLog.record: unknown field ${k}; allowed: ${Object.keys(RECORD_KEYS).join(', ')}`, k)
      }
      if (v === undefined || v === null) continue
      if (k === 'latencyMs') r.latencySeconds = v / 1000
      else if (k === 'parameters') r.parameters = JSON.stringify(v)
      else r[to] = v
    }
    if (typeof r.outcome !== 'string') throw configError('TypeError', 'inferenceLog.record: outcome is required', 'outcome')
    const ids = telemetry.currentIds()
    r.requestId = r.requestId || ids.requestId || call(() => native.newRequestId())
    r.traceId = ids.traceId ?? undefined
    r.spanId = ids.spanId ?? undefined
    r.sessionId = ids.sessionId ?? undefined
    r.userId = ids.userId ?? undefined
    const ok = unwrap(call(() => n.record(r)))
    if (!ok) telemetry.emit('inference_log.drop', { level: 'warning', message: 'inference log queue full; record dropped' })
    return ok
  }

  /**
   * One read-only SELECT (table `inference_log`) with `?` parameters, after writing what is queued.
   * Writes, VACUUM, ATTACH, PRAGMA and transaction control are refused, and a query still
   * running after `timeoutMs` (default 10000) is stopped, both with a StorageError.
   */
  query(sql, params = [], { timeoutMs } = {}) {
    const n = this.#require()
    const p = sqlParams(params)
    const out = revive(unwrap(call(() => n.query(String(sql), p, timeoutMs ?? null))))
    this.#report()
    return out
  }

  /** Records newest first, filtered by model, start time (a Date or Unix ms) and outcome. */
  records({ model, since, outcome, limit = 1000 } = {}) {
    const n = this.#require()
    const out = revive(unwrap(call(() => n.records(model ?? null, sinceMs(since), outcome ?? null, limit))))
    this.#report()
    return out
  }

  /** Waits up to `timeoutMs` for queued records to be written (blocks: tests, shutdown). */
  flush(timeoutMs = 5000) {
    return this.#native === null ? true : call(() => this.#native.flush(timeoutMs))
  }

  close() {
    const n = this.#native
    this.#native = null
    call(() => native.useInferenceLog(null))
    if (n !== null) {
      call(() => n.close())
      this.#report(n)
    }
  }

  stats() {
    return call(() => this.#require().stats())
  }

  #report(n = this.#native) {
    const err = n === null ? null : call(() => n.takeError())
    if (err) telemetry.emit('inference_log.write_failed', { level: 'warning', message: err })
  }
}

/** The process's inference log. */
const inferenceLog = new InferenceLog()

module.exports = { inferenceLog, InferenceLog }
