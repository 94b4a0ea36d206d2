'use strict'
// `observe(options)`: one line that puts every LLM call the integrations see under watch. The
// watchers live in the core and are fed by each call record (docs/call-record.md has the table of
// defaults): an availability SLO per model (99%), anomaly detectors on latency, output tokens and
// cost per (model, template), drift on a sample of the answers per template, an error predictor per provider, an upstream-outage page per provider
// and a dead-letter backlog alert. Alerts go to the installed AlertRouter (`onAlert` callbacks,
// webhooks, Alertmanager), or through the core's logger when none is installed.

const native = require('./native.js')
const { configError } = require('./errors.js')
const { ManualClock, nativeOf } = require('./clock.js')

const OPTIONS = [
  'enabled', 'sloObjective', 'anomaly', 'anomalyThreshold', 'anomalyWarmUp', 'anomalyMinDurationMs', 'drift',
  'driftSampleEvery', 'driftMaxTemplates', 'predictor',
  'outageErrorRate', 'outageMinCalls', 'outageWindowMs', 'outageForMs', 'outageSeverity',
  'deadLetterMaxDepth', 'deadLetterMaxAgeMs', 'maxSeries', 'clock',
]

// Every dead-letter queue's native handle, held weakly, so observe() watches those made before it.
const queues = new Set()

function queueMade(name, nativeQueue) {
  queues.add(new WeakRef(nativeQueue))
  queues.forEach((r) => r.deref() === undefined && queues.delete(r))
  native.observeDeadLetters(name, nativeQueue) // a no-op until observe() is on
}

/**
 * Turns the call-record watchers on (again: replaces them); `{ enabled: false }` turns them off.
 * `null` for `sloObjective`, `outageErrorRate` or `deadLetterMaxDepth` turns that watcher off.
 */
function observe(options = {}) {
  if (options === null || typeof options !== 'object') throw new TypeError(`observe: options=${String(options)} must be an object`)
  for (const k of Object.keys(options)) {
    if (!OPTIONS.includes(k)) throw new TypeError(`observe: unknown option ${JSON.stringify(k)}; allowed: ${OPTIONS.join(', ')}`)
  }
  for (const k of OPTIONS) {
    const v = options[k]
    if (v === undefined || v === null || k === 'outageSeverity') continue
    if (k === 'clock') {
      if (!(v instanceof ManualClock)) throw configError('TypeError', 'observe: clock must be a ManualClock', k)
      continue
    }
    const want = ['enabled', 'anomaly', 'drift', 'predictor'].includes(k) ? 'boolean' : 'number'
    if (typeof v !== want) throw configError('TypeError', `observe: ${k}=${String(v)} must be a ${want}`, k)
  }
  const o = { ...options }
  delete o.clock
  if (o.sloObjective === null) { delete o.sloObjective; o.sloOff = true }
  if (o.outageErrorRate === null) { delete o.outageErrorRate; o.outageOff = true }
  if (o.deadLetterMaxDepth === null) { delete o.deadLetterMaxDepth; o.deadLetterOff = true }
  const refused = native.observe(o, options.clock ? nativeOf(options.clock) : null)
  if (refused) throw configError(refused.kind, refused.message, refused.param)
  if (options.enabled !== false) {
    for (const r of queues) {
      const q = r.deref()
      if (q !== undefined) native.observeDeadLetters(q.name, q)
    }
  }
}

/** Whether observe() is on. */
function observing() {
  return native.observing()
}

/** Runs the periodic checks (dead-letter backlog, predictor intervals) now; the background runtime runs them every 100 ms. */
function checkObserved() {
  return native.observeCheck() ?? []
}

module.exports = { observe, observing, checkObserved, queueMade }
