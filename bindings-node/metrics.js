'use strict'
// Metrics for Node: counters, gauges and histograms in the core's lock-free registry (the same one
// ferrule's own metrics live in), exported as Prometheus text or OpenMetrics and served from a
// background thread in the core. A label set resolves once to a handle; `handle.inc()` is one raw
// native call.

const native = require('./native.js')
const { configError, internalError } = require('./errors.js')

// prometheus_client's and prom-client's default buckets, so a switch keeps dashboards.
const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
const OPTIONS = {
  Counter: ['help', 'labels', 'maxSeries'],
  Gauge: ['help', 'labels', 'maxSeries'],
  Histogram: ['help', 'labels', 'buckets', 'maxSeries'],
}

function describe(v) {
  if (typeof v === 'string') return JSON.stringify(v)
  try {
    return String(v)
  } catch {
    return Object.prototype.toString.call(v)
  }
}

/** Calls the native module; a thrown native error (a caught panic) becomes a FerruleError. */
function call(fn) {
  try {
    return fn()
  } catch (e) {
    throw internalError(e)
  }
}

/** A native result that is either the object asked for or a refusal ({ kind, message, param }). */
function unwrap(r) {
  if (r !== null && typeof r === 'object' && typeof r.kind === 'string' && typeof r.message === 'string') {
    throw configError(r.kind, r.message, r.param)
  }
  return r
}

function normalise(kind, name, options) {
  if (typeof name !== 'string') throw configError('TypeError', `${kind}: name must be a string; got ${describe(name)}`, 'name')
  if (options === undefined || options === null) options = {}
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw configError('TypeError', `${kind}: options must be an object; got ${describe(options)}`, 'options')
  }
  const allowed = OPTIONS[kind]
  for (const k of Object.keys(options)) {
    if (!allowed.includes(k)) {
      throw configError('TypeError', `${kind}: unknown option ${k}=${describe(options[k])}; allowed: ${allowed.join(', ')}`, k)
    }
  }
  const help = options.help === undefined ? '' : options.help
  if (typeof help !== 'string') throw configError('TypeError', `${kind}: help must be a string; got ${describe(help)}`, 'help')
  const labels = options.labels === undefined ? [] : options.labels
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) {
    throw configError('TypeError', `${kind}: labels must be an array of label names; got ${describe(labels)}`, 'labels')
  }
  const maxSeries = options.maxSeries
  if (maxSeries !== undefined && typeof maxSeries !== 'number') {
    throw configError('TypeError', `${kind}: maxSeries must be a number; got ${describe(maxSeries)}`, 'maxSeries')
  }
  return { help, labels: labels.slice(), maxSeries, options }
}

/** Label values in declaration order: `labels('gpt-4o')` or `labels({ model: 'gpt-4o' })`. */
function values(kind, names, args) {
  if (args.length === 1 && args[0] !== null && typeof args[0] === 'object') {
    const given = args[0]
    const keys = Object.keys(given)
    if (keys.length !== names.length || !names.every((n) => Object.prototype.hasOwnProperty.call(given, n))) {
      throw configError(
        'TypeError',
        `${kind}: labels=${describe(keys.join(', '))} must be exactly the label names (${names.join(', ')})`,
        'labels',
      )
    }
    return names.map((n) => String(given[n]))
  }
  return args.map((v) => String(v))
}

class CounterChild {
  #native
  /** Adds `amount` (default 1; a finite number >= 0). */
  inc
  constructor(nativeChild) {
    this.#native = nativeChild
    const fast = call(() => native.counterIncFn(nativeChild))
    this.inc = (amount) => {
      const refusal = fast(amount)
      if (refusal !== undefined) throw configError('RangeError', refusal, 'amount')
    }
  }

  get value() {
    return call(() => this.#native.value())
  }
}

class GaugeChild {
  #native
  constructor(nativeChild) {
    this.#native = nativeChild
  }
  set(value) {
    this.#native.set(value)
  }
  inc(amount = 1) {
    this.#native.add(amount)
  }
  dec(amount = 1) {
    this.#native.add(-amount)
  }
  get value() {
    return call(() => this.#native.value())
  }
}

class HistogramChild {
  #native
  #observe
  constructor(nativeChild) {
    this.#native = nativeChild
    this.#observe = call(() => native.histogramObserveFn(nativeChild))
  }
  /** Records `value`; `exemplar` (e.g. `{ trace_id }`) rides on its bucket in OpenMetrics, never as a label. */
  observe(value, exemplar) {
    if (exemplar === undefined) return this.#observe(value)
    call(() => this.#native.observeWithExemplar(value, exemplar))
  }
  get count() {
    return call(() => this.#native.totals()).count
  }
  get sum() {
    return call(() => this.#native.totals()).sum
  }
}

// The unlabelled series, for the subclasses' own inc / set / observe; a symbol keeps it off the API.
const ONLY = Symbol('only')

/** What Counter, Gauge and Histogram share: the family, its label names, the unlabelled series. */
class Family {
  #kind
  #native
  #Child
  #labelNames
  #only
  // Handles already made, by label value (one Map level per label), so `labels(...)` on the hot
  // path is a lookup, as in prom-client. Bounded like the core's series: past `#cacheLimit` handles
  // new ones are made per call (the core folds those label sets into its `other` series anyway).
  #cache = new Map()
  #cached = 0
  #cacheLimit
  constructor(kind, nativeFamily, Child, labelNames, maxSeries) {
    this.#kind = kind
    this.#native = nativeFamily
    this.#Child = Child
    this.#labelNames = labelNames
    this.#cacheLimit = maxSeries === undefined ? 1000 : maxSeries
    this.#only = labelNames.length === 0 ? this.labels() : undefined
  }
  get name() {
    return call(() => this.#native.name())
  }
  get labelNames() {
    return this.#labelNames.slice()
  }
  /** The handle of one label set; keep it and update it on the hot path. */
  labels(...args) {
    const v = values(this.#kind, this.#labelNames, args)
    let m = this.#cache
    for (let i = 0; i < v.length - 1; i++) {
      let next = m.get(v[i])
      if (next === undefined) {
        next = new Map()
        m.set(v[i], next)
      }
      m = next
    }
    const last = v.length === 0 ? '' : v[v.length - 1]
    let child = m.get(last)
    if (child === undefined) {
      child = new this.#Child(unwrap(call(() => this.#native.child(v))))
      if (this.#cached < this.#cacheLimit) {
        m.set(last, child)
        this.#cached++
      }
    }
    return child
  }
  [ONLY]() {
    if (this.#only === undefined) {
      throw configError(
        'TypeError',
        `${this.#kind}: labels=(${this.#labelNames.join(', ')}) conflicts: a labelled metric is updated through .labels(...)`,
        'labels',
      )
    }
    return this.#only
  }
}

class Counter extends Family {
  /** @param {string} name @param {{ help?: string, labels?: string[], maxSeries?: number }} [options] */
  constructor(name, options) {
    const o = normalise('Counter', name, options)
    super('Counter', unwrap(call(() => native.createCounter(name, o.help, o.labels, o.maxSeries))), CounterChild, o.labels, o.maxSeries)
  }
  inc(amount) {
    this[ONLY]().inc(amount)
  }
}

class Gauge extends Family {
  constructor(name, options) {
    const o = normalise('Gauge', name, options)
    super('Gauge', unwrap(call(() => native.createGauge(name, o.help, o.labels, o.maxSeries))), GaugeChild, o.labels, o.maxSeries)
  }
  set(value) {
    this[ONLY]().set(value)
  }
  inc(amount) {
    this[ONLY]().inc(amount)
  }
  dec(amount) {
    this[ONLY]().dec(amount)
  }
}

class Histogram extends Family {
  #buckets
  constructor(name, options) {
    const o = normalise('Histogram', name, options)
    let buckets = o.options.buckets === undefined ? DEFAULT_BUCKETS : o.options.buckets
    if (!Array.isArray(buckets) || !buckets.every((b) => typeof b === 'number')) {
      throw configError('TypeError', `Histogram: buckets must be an array of numbers; got ${describe(buckets)}`, 'buckets')
    }
    // prom-client style lists may end with +Inf; it is implied here.
    if (buckets.length > 0 && buckets[buckets.length - 1] === Infinity) buckets = buckets.slice(0, -1)
    const fam = unwrap(call(() => native.createHistogram(name, o.help, o.labels, buckets, o.maxSeries)))
    super('Histogram', fam, HistogramChild, o.labels, o.maxSeries)
    this.#buckets = call(() => fam.buckets())
  }
  get buckets() {
    return this.#buckets.slice()
  }
  observe(value, exemplar) {
    this[ONLY]().observe(value, exemplar)
  }
}

/** The default registry as Prometheus text 0.0.4, or OpenMetrics 1.0 with `{ openmetrics: true }`. */
function metricsText(options) {
  if (options !== undefined && options !== null && options.openmetrics !== undefined && typeof options.openmetrics !== 'boolean') {
    throw configError('TypeError', `metricsText: openmetrics=${describe(options.openmetrics)} must be true or false`, 'openmetrics')
  }
  const openmetrics = options !== undefined && options !== null && options.openmetrics === true
  return call(() => native.metricsText(openmetrics))
}

class MetricsServer {
  #native
  constructor(nativeServer) {
    this.#native = nativeServer
    this.port = nativeServer.port()
    this.host = nativeServer.host()
    this.url = `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}/metrics`
  }
  get running() {
    return call(() => this.#native.running())
  }
  /** Stops serving (idempotent). */
  stop() {
    call(() => this.#native.stop())
  }
}

/** Serves the default registry at http://host:port/metrics from a core thread; loopback by default, port 0 picks one. */
function serveMetrics(options) {
  const o = options === undefined || options === null ? {} : options
  for (const k of Object.keys(o)) {
    if (k !== 'port' && k !== 'host') {
      throw configError('TypeError', `serveMetrics: unknown option ${k}=${describe(o[k])}; allowed: port, host`, k)
    }
  }
  const port = o.port === undefined ? 9464 : o.port
  const host = o.host === undefined ? '127.0.0.1' : o.host
  if (typeof port !== 'number') throw configError('TypeError', `serveMetrics: port must be a number; got ${describe(port)}`, 'port')
  if (typeof host !== 'string') throw configError('TypeError', `serveMetrics: host must be a string; got ${describe(host)}`, 'host')
  return new MetricsServer(unwrap(call(() => native.serveMetrics(port, host))))
}

const PUSH_OPTIONS = ['endpoint', 'intervalMs', 'timeoutMs', 'serviceName', 'headers']

class MetricsPusher {
  #native
  constructor(nativePusher) {
    this.#native = nativePusher
    this.endpoint = nativePusher.endpoint()
  }
  /** Exports now (off the event loop); resolves true when the collector accepted it. */
  pushNow() {
    return call(() => this.#native.pushNow())
  }
  /** Pushes a last export and stops (idempotent). */
  stop() {
    return call(() => this.#native.stop())
  }
  get pushes() {
    return call(() => this.#native.pushes())
  }
  /** Failed exports (each counted in ferrule_telemetry_dropped_total{kind="otlp_export"}). */
  get failures() {
    return call(() => this.#native.failures())
  }
  get running() {
    return call(() => this.#native.running())
  }
}

/**
 * Pushes the registry to an OTLP/HTTP collector (protobuf, `POST .../v1/metrics`) every
 * `intervalMs` from a core thread. Without `endpoint`, reads OTEL_EXPORTER_OTLP_METRICS_ENDPOINT /
 * OTEL_EXPORTER_OTLP_ENDPOINT.
 */
function pushMetrics(options) {
  const o = options === undefined || options === null ? {} : options
  for (const k of Object.keys(o)) {
    if (!PUSH_OPTIONS.includes(k)) {
      throw configError('TypeError', `pushMetrics: unknown option ${k}=${describe(o[k])}; allowed: ${PUSH_OPTIONS.join(', ')}`, k)
    }
  }
  const { endpoint = null, intervalMs = 10000, timeoutMs = 5000, serviceName = 'ferrule', headers = null } = o
  if (endpoint !== null && typeof endpoint !== 'string') throw configError('TypeError', `pushMetrics: endpoint must be a string; got ${describe(endpoint)}`, 'endpoint')
  if (typeof intervalMs !== 'number') throw configError('TypeError', `pushMetrics: intervalMs must be a number; got ${describe(intervalMs)}`, 'intervalMs')
  if (typeof timeoutMs !== 'number') throw configError('TypeError', `pushMetrics: timeoutMs must be a number; got ${describe(timeoutMs)}`, 'timeoutMs')
  const h = headers === null ? null : Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)]))
  return new MetricsPusher(unwrap(call(() => native.pushMetrics(endpoint, intervalMs, timeoutMs, String(serviceName), h))))
}

module.exports = { Counter, Gauge, Histogram, metricsText, serveMetrics, pushMetrics }
