'use strict'
// The watchers for Node: SLO, AnomalyDetector, DriftDetector, ErrorPredictor. The core keeps the
// buckets, scores, windows and model and decides; this layer checks options, calls a user embedder,
// and hands each event to the 'event' listeners (an SLO's budget events also to 'budget' listeners).
// Same concepts and defaults as the Python `ferrule.SLO` & co., in camelCase and milliseconds.

const native = require('./native.js')
const { configError, internalError } = require('./errors.js')
const { ManualClock, nativeOf } = require('./clock.js')
const { inProbe } = require('./synthetic.js')
const { warn } = require('./telemetry.js').internal

function describe(v) {
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'function') return `function ${v.name || '(anonymous)'}`
  try {
    return String(v)
  } catch {
    return Object.prototype.toString.call(v)
  }
}

/**
 * Checks `options` against `spec` ({ key: 'number' | 'string' | 'boolean' | 'array' | 'function' })
 * and returns the native options (functions and the clock taken out), throwing TypeError for an
 * unknown key or a wrong type.
 */
function normalize(component, options, spec) {
  if (options === undefined || options === null) options = {}
  if (typeof options !== 'object') {
    throw configError('TypeError', `${component}: options must be an object; got ${describe(options)}`, 'options')
  }
  const allowed = Object.keys(spec)
  const out = {}
  for (const key of Object.keys(options)) {
    const v = options[key]
    if (!(key in spec)) {
      throw configError('TypeError', `${component}: unknown option ${key}=${describe(v)}; allowed: ${allowed.join(', ')}`, key)
    }
    if (v === undefined || v === null) continue
    const want = spec[key]
    const ok =
      want === 'array'
        ? Array.isArray(v)
        : want === 'clock'
          ? v instanceof ManualClock
          : typeof v === want
    if (!ok) throw configError('TypeError', `${component}: ${key}=${describe(v)} must be a ${want === 'clock' ? 'ManualClock' : want}`, key)
    // NaN and Infinity are numbers to JS, but no option means either (a NaN window or seed would
    // reach the core as 0 or as its default).
    if (want === 'number' && !Number.isFinite(v)) {
      throw configError('RangeError', `${component}: ${key}=${describe(v)} is out of range; allowed: a finite number`, key)
    }
    out[key] = v
  }
  return out
}

function checkAt(component, atMs) {
  if (atMs === undefined) return undefined
  if (typeof atMs !== 'number' || !(Number.isFinite(atMs) && atMs >= 0)) {
    throw configError('RangeError', `${component}: atMs=${describe(atMs)} is out of range; allowed: a finite number >= 0`, 'atMs')
  }
  return atMs
}

function create(make) {
  let created
  try {
    created = make()
  } catch (e) {
    throw internalError(e)
  }
  if (created !== null && typeof created === 'object' && typeof created.kind === 'string' && 'message' in created && 'param' in created) {
    throw configError(created.kind, created.message, created.param)
  }
  return created
}

/** Listeners and their error count: a listener that throws is counted and reported, never rethrown. */
class Listeners {
  constructor(component, name, events) {
    this.component = component
    this.name = name
    this.events = events
    this.byEvent = new Map(events.map((e) => [e, []]))
    this.errors = 0
  }

  check(method, event, listener) {
    if (!this.byEvent.has(event)) {
      throw new TypeError(`${this.component}.${method}: unknown event ${describe(event)}; allowed: ${this.events.join(', ')}`)
    }
    if (typeof listener !== 'function') {
      throw new TypeError(`${this.component}.${method}: listener must be a function; got ${describe(listener)}`)
    }
  }

  on(event, listener) {
    this.check('on', event, listener)
    this.byEvent.set(event, [...this.byEvent.get(event), listener])
  }

  off(event, listener) {
    this.check('off', event, listener)
    this.byEvent.set(event, this.byEvent.get(event).filter((l) => l !== listener))
  }

  emit(event, ...args) {
    for (const l of this.byEvent.get(event)) {
      try {
        l(...args)
      } catch (err) {
        this.errors++
        warn('watch.listener_error', 'FERRULE_LISTENER_ERROR', `ferrule: an '${event}' listener of ${this.component} '${this.name}' threw: ${describe(err)}`, {
          detail: err instanceof Error ? err.stack : undefined,
        })
      }
    }
  }

  /** Native events to frozen objects, handed to the listeners; returns them. */
  dispatch(raw) {
    if (raw === null || raw === undefined) return []
    const out = raw.map((e) => Object.freeze({ ...e, labels: Object.freeze({ ...e.labels }) }))
    for (const e of out) {
      this.emit('event', e)
      if (e.name === 'slo.budget_exhausted' && this.byEvent.has('budget')) this.emit('budget', e.state === 'firing', e)
    }
    return out
  }
}

function withOnEvent(listeners, options) {
  if (options && options.onEvent !== undefined && options.onEvent !== null) listeners.on('event', options.onEvent)
}

const SLO_OPTIONS = {
  objective: 'number',
  windowDays: 'number',
  kind: 'string',
  thresholdMs: 'number',
  rules: 'array',
  minCalls: 'number',
  confidenceSigmas: 'number',
  fastBurn: 'boolean',
  fastBurnFactor: 'number',
  fastBurnBaselineFactor: 'number',
  fastBurnThreshold: 'number',
  budgetRecover: 'number',
  resolveRatio: 'number',
  onEvent: 'function',
  clock: 'clock',
}

/**
 * A service level objective over the calls it is fed: error budget over the SLO window (extrapolated
 * while the process is younger than it), burn rates over any window, the SRE Workbook's multi-window
 * multi-burn-rate alerts as one page and one ticket alert (once per episode), a fast-burn test that
 * never pages below 6x, a budget hook ('budget' listeners get `(exhausted, event)`), and the same
 * rules for a fleet's Prometheus (`prometheusRules()`).
 */
class SLO {
  #native
  #listeners

  constructor(name, options) {
    if (typeof name !== 'string') throw configError('TypeError', `SLO: name must be a string; got ${describe(name)}`, 'name')
    const o = normalize('SLO', options, SLO_OPTIONS)
    const { onEvent, clock, ...rest } = o
    if (rest.rules !== undefined) {
      rest.rules = rest.rules.map((r) => ({ longMs: r.longMs, shortMs: r.shortMs, factor: r.factor, severity: r.severity }))
    }
    this.#native = create(() => native.createSlo(name, rest, clock === undefined ? undefined : nativeOf(clock)))
    this.#listeners = new Listeners('SLO', name, ['event', 'budget'])
    withOnEvent(this.#listeners, o)
  }

  /** Counts one finished call (`synthetic` probes are excluded); returns the events it caused. */
  record(ok, latencyMs = NaN, synthetic = false, atMs) {
    // Calls made inside a synthetic probe are synthetic whatever the caller said (as in Python).
    const syn = synthetic === true || inProbe()
    return this.#listeners.dispatch(this.#native.record(ok === true, latencyMs, syn, checkAt('SLO.record', atMs)))
  }

  evaluate(atMs) {
    return this.#listeners.dispatch(this.#native.evaluate(checkAt('SLO.evaluate', atMs)))
  }

  burnRate(windowMs, atMs) {
    return create(() => this.#native.burnRate(windowMs, checkAt('SLO.burnRate', atMs)))
  }

  budgetRemaining(atMs) {
    return this.#native.budgetRemaining(checkAt('SLO.budgetRemaining', atMs))
  }

  /** Prometheus recording and alerting rules (YAML) for this SLO, evaluated on every replica's metrics. */
  prometheusRules() {
    return this.#native.prometheusRules()
  }

  on(event, listener) {
    this.#listeners.on(event, listener)
    return this
  }

  off(event, listener) {
    this.#listeners.off(event, listener)
    return this
  }

  get name() {
    return this.#listeners.name
  }

  /** [name, labels, value] rows: exactly what a metrics scrape shows for this watcher. */
  gauges() {
    return this.#native.gauges()
  }

  stats() {
    return { ...this.#native.stats(), listenerErrors: this.#listeners.errors }
  }
}

const ANOMALY_OPTIONS = {
  method: 'string',
  direction: 'string',
  threshold: 'number',
  warmUp: 'number',
  baselineMs: 'number',
  smoothing: 'number',
  clipSigmas: 'number',
  window: 'number',
  sampleMs: 'number',
  recent: 'number',
  hysteresisWindow: 'number',
  fireCount: 'number',
  resolveCount: 'number',
  minDurationMs: 'number',
  severity: 'string',
  maxSeries: 'number',
  onEvent: 'function',
  clock: 'clock',
}

/** Streaming anomaly detection (EWMA chart or median/MAD) on one metric, per (model, template). */
class AnomalyDetector {
  #native
  #syntheticExcluded = 0
  #listeners

  constructor(name, metric, options) {
    if (typeof name !== 'string') throw configError('TypeError', `AnomalyDetector: name must be a string; got ${describe(name)}`, 'name')
    if (typeof metric !== 'string') throw configError('TypeError', `AnomalyDetector: metric must be a string; got ${describe(metric)}`, 'metric')
    const o = normalize('AnomalyDetector', options, ANOMALY_OPTIONS)
    const { onEvent, clock, ...rest } = o
    this.#native = create(() => native.createAnomaly(name, metric, rest, clock === undefined ? undefined : nativeOf(clock)))
    this.#listeners = new Listeners('AnomalyDetector', name, ['event'])
    withOnEvent(this.#listeners, o)
  }

  /** Scores one value of the (model, template) series; returns the events it caused. */
  observe(value, { model = '', template = '', atMs } = {}) {
    if (inProbe()) {
      // Inside a synthetic probe: kept out of the baseline, as in Python.
      this.#syntheticExcluded++
      return []
    }
    return this.#listeners.dispatch(this.#native.observe(value, String(model), String(template), checkAt('AnomalyDetector.observe', atMs)))
  }

  on(event, listener) {
    this.#listeners.on(event, listener)
    return this
  }

  off(event, listener) {
    this.#listeners.off(event, listener)
    return this
  }

  get name() {
    return this.#listeners.name
  }

  series() {
    return this.#native.series()
  }

  /** [name, labels, value] rows: exactly what a metrics scrape shows for this watcher. */
  gauges() {
    return this.#native.gauges()
  }

  stats() {
    return { ...this.#native.stats(), listenerErrors: this.#listeners.errors, syntheticExcluded: this.#syntheticExcluded }
  }
}

const DRIFT_OPTIONS = {
  embedder: 'function',
  dim: 'number',
  baselineSize: 'number',
  windowSize: 'number',
  checkEvery: 'number',
  permutations: 'number',
  pValue: 'number',
  minDistance: 'number',
  psiThreshold: 'number',
  psiBins: 'number',
  consecutive: 'number',
  baseline: 'string',
  severity: 'string',
  seed: 'number',
  onEvent: 'function',
  clock: 'clock',
}

/**
 * Output drift against a baseline (fixed, rolling or manual): centroid cosine distance and MMD with a
 * permutation p-value on embeddings (the built-in hashing embedder, or `embedder(text) => number[]`,
 * synchronous), PSI on lengths and token counts.
 */
class DriftDetector {
  #native
  #syntheticExcluded = 0
  #listeners
  #embedder
  #embedderErrors = 0

  constructor(name, options) {
    if (typeof name !== 'string') throw configError('TypeError', `DriftDetector: name must be a string; got ${describe(name)}`, 'name')
    const o = normalize('DriftDetector', options, DRIFT_OPTIONS)
    const { onEvent, clock, embedder, ...rest } = o
    this.#embedder = embedder
    this.#native = create(() => native.createDrift(name, rest, clock === undefined ? undefined : nativeOf(clock)))
    this.#listeners = new Listeners('DriftDetector', name, ['event'])
    withOnEvent(this.#listeners, o)
  }

  /** Observes one output text. */
  observe(text, { tokens, atMs } = {}) {
    if (inProbe()) {
      // Inside a synthetic probe: kept out of the baseline, as in Python.
      this.#syntheticExcluded++
      return []
    }
    const at = checkAt('DriftDetector.observe', atMs)
    if (this.#embedder === undefined) {
      return this.#listeners.dispatch(create(() => this.#native.observeText(String(text), tokens, at)))
    }
    let vector
    try {
      vector = Array.from(this.#embedder(text), Number)
    } catch (err) {
      // The user's embedder failed: this output is skipped, counted and reported; the call goes on.
      this.#embedderErrors++
      warn('drift.embedder_error', 'FERRULE_EMBEDDER_ERROR', `ferrule: the embedder of DriftDetector '${this.name}' threw; output skipped: ${describe(err)}`)
      return []
    }
    return this.#listeners.dispatch(create(() => this.#native.observeVector(vector, String(text).length, tokens, at)))
  }

  /** Observes an output already embedded; every vector must have the first one's dimension. */
  observeVector(vector, { length = NaN, tokens, atMs } = {}) {
    if (inProbe()) {
      // Inside a synthetic probe: kept out of the baseline, as in Python.
      this.#syntheticExcluded++
      return []
    }
    return this.#listeners.dispatch(
      create(() => this.#native.observeVector(Array.from(vector, Number), length, tokens, checkAt('DriftDetector.observeVector', atMs))),
    )
  }

  /** Makes the current window the new baseline (the only way it moves with baseline: 'manual'). */
  accept(atMs) {
    return this.#listeners.dispatch(this.#native.accept(checkAt('DriftDetector.accept', atMs)))
  }

  on(event, listener) {
    this.#listeners.on(event, listener)
    return this
  }

  off(event, listener) {
    this.#listeners.off(event, listener)
    return this
  }

  get name() {
    return this.#listeners.name
  }

  /** [name, labels, value] rows: exactly what a metrics scrape shows for this watcher. */
  gauges() {
    return this.#native.gauges()
  }

  stats() {
    return { ...this.#native.stats(), embedderErrors: this.#embedderErrors, listenerErrors: this.#listeners.errors, syntheticExcluded: this.#syntheticExcluded }
  }
}

const PREDICTOR_OPTIONS = {
  intervalMs: 'number',
  horizonMs: 'number',
  errorRateThreshold: 'number',
  warnProbability: 'number',
  resolveProbability: 'number',
  minCalls: 'number',
  learningRate: 'number',
  l2: 'number',
  positiveWeight: 'number',
  prior: 'number',
  severity: 'string',
  model: 'array',
  onEvent: 'function',
  clock: 'clock',
}

function header(headers, prefix) {
  for (const suffix of ['requests', 'tokens']) {
    const v = headers[`${prefix}-${suffix}`]
    if (v !== undefined && v !== null) {
      const n = Number(v)
      return Number.isFinite(n) ? n : undefined
    }
  }
  return undefined
}

/**
 * The probability that the error rate passes `errorRateThreshold` within `horizonMs`, from leading
 * indicators (latency trend, 429 share, rate-limit headroom, timeouts, error-rate level and slope),
 * learned online; warns before the breaker trips.
 */
function field(r, snake, camel) {
  const v = r[snake]
  return v === undefined || v === null ? r[camel] ?? undefined : v
}

/** One record for `ErrorPredictor.fit`, read as the native side wants it. */
function pastCall(i, r) {
  if (r === null || typeof r !== 'object') {
    throw configError('TypeError', `ErrorPredictor.fit: records[${i}] must be an object; got ${describe(r)}`, 'records')
  }
  const ns = field(r, 'time_unix_ns', 'timeUnixNs')
  let atMs
  if (typeof ns === 'bigint') atMs = Number(ns / 1000n) / 1000
  else if (typeof ns === 'number') atMs = ns / 1e6
  else if (typeof r.atMs === 'number') atMs = r.atMs
  else if (r.at instanceof Date) atMs = r.at.getTime()
  else {
    throw configError('RangeError', `ErrorPredictor.fit: records[${i}] has no time; allowed: time_unix_ns (an inference-log record), atMs or at (a Date)`, 'records')
  }
  if (!(Number.isFinite(atMs) && atMs >= 0)) {
    throw configError('RangeError', `ErrorPredictor.fit: records[${i}] time=${atMs} ms is out of range; allowed: a finite number >= 0`, 'records')
  }
  const outcome = r.outcome
  if (typeof outcome !== 'string') {
    throw configError('TypeError', `ErrorPredictor.fit: records[${i}] outcome=${describe(outcome)} is out of range; allowed: a string`, 'records')
  }
  const errorType = field(r, 'error_type', 'errorType')
  const latencySeconds = r.latency_seconds
  const latencyMs = typeof latencySeconds === 'number' ? latencySeconds * 1000 : typeof r.latencyMs === 'number' ? r.latencyMs : NaN
  let headroom = typeof r.headroom === 'number' ? r.headroom : undefined
  const remaining = r.ratelimitRemaining
  const limit = r.ratelimitLimit
  if (headroom === undefined && typeof remaining === 'number' && typeof limit === 'number' && limit > 0) {
    headroom = Math.min(Math.max(remaining / limit, 0), 1)
  }
  return { atMs, outcome, errorType: errorType === undefined ? undefined : String(errorType), latencyMs, headroom }
}

class ErrorPredictor {
  #native
  #syntheticExcluded = 0
  #listeners

  constructor(name, options) {
    if (typeof name !== 'string') throw configError('TypeError', `ErrorPredictor: name must be a string; got ${describe(name)}`, 'name')
    const o = normalize('ErrorPredictor', options, PREDICTOR_OPTIONS)
    const { onEvent, clock, ...rest } = o
    this.#native = create(() => native.createPredictor(name, rest, clock === undefined ? undefined : nativeOf(clock)))
    this.#listeners = new Listeners('ErrorPredictor', name, ['event'])
    withOnEvent(this.#listeners, o)
  }

  /**
   * Records one finished call: `outcome` 'ok', 'rate_limited' (or '429'), 'timeout' or 'error';
   * headroom from `ratelimitRemaining`/`ratelimitLimit` or the response `headers`
   * (`x-ratelimit-remaining-*`, `x-ratelimit-limit-*`).
   */
  observe(outcome = 'ok', latencyMs = NaN, { ratelimitRemaining, ratelimitLimit, headers, atMs } = {}) {
    if (inProbe()) {
      // Inside a synthetic probe: kept out of the baseline, as in Python.
      this.#syntheticExcluded++
      return []
    }
    if (headers !== undefined && ratelimitRemaining === undefined) {
      ratelimitRemaining = header(headers, 'x-ratelimit-remaining')
      ratelimitLimit = header(headers, 'x-ratelimit-limit')
    }
    const at = checkAt('ErrorPredictor.observe', atMs)
    return this.#listeners.dispatch(create(() => this.#native.observe(String(outcome), latencyMs, ratelimitRemaining, ratelimitLimit, at)))
  }

  tick(atMs) {
    return this.#listeners.dispatch(this.#native.tick(checkAt('ErrorPredictor.tick', atMs)))
  }

  get probability() {
    return this.#native.probability() ?? null
  }

  export() {
    return this.#native.export()
  }

  load(model) {
    const err = this.#native.load(Array.from(model, Number))
    if (err !== null && err !== undefined) throw configError(err.kind, err.message, err.param)
  }

  /**
   * Learns from past calls before (or between) online updates: `records` from
   * `inferenceLog.records()` (`time_unix_ns`, `outcome`, `error_type`, `latency_seconds`) or any
   * iterable of objects with `atMs` (or `at`, a Date), `outcome` (an inference-log outcome, or
   * 'ok', 'rate_limited', '429', 'timeout', 'error'), and optionally `errorType`, `latencyMs`,
   * `headroom` or `ratelimitRemaining`/`ratelimitLimit`. An error whose type names a rate limit
   * counts as a 429; 'rejected' calls never reached the provider and are skipped; 'fallback' is an
   * error. The calls are folded into intervals in time order; each interval with `minCalls` calls
   * and a full horizon after it is one labelled example, and the model trains on them `epochs`
   * times. The live intervals, probability and warning are untouched and no event is emitted.
   */
  fit(records, { epochs = 5 } = {}) {
    if (records === null || typeof records !== 'object' || typeof records[Symbol.iterator] !== 'function') {
      throw configError('TypeError', `ErrorPredictor.fit: records must be an iterable of records; got ${describe(records)}`, 'records')
    }
    const calls = []
    let i = 0
    for (const r of records) calls.push(pastCall(i++, r))
    return create(() => this.#native.fit(calls, Number(epochs)))
  }

  on(event, listener) {
    this.#listeners.on(event, listener)
    return this
  }

  off(event, listener) {
    this.#listeners.off(event, listener)
    return this
  }

  get name() {
    return this.#listeners.name
  }

  /** [name, labels, value] rows: exactly what a metrics scrape shows for this watcher. */
  gauges() {
    return this.#native.gauges()
  }

  stats() {
    return { ...this.#native.stats(), listenerErrors: this.#listeners.errors, syntheticExcluded: this.#syntheticExcluded }
  }
}

module.exports = { SLO, AnomalyDetector, DriftDetector, ErrorPredictor }
