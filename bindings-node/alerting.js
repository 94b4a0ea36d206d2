'use strict'
// Alerting for Node: onAlert(cb), AlertRouter, DeadMansSwitch, SyntheticProbe. Routes, grouping,
// repeat, inhibition, silences, escalation, caps and digests, the switch's check and the probe
// schedule are the core's (the Rust runtime ticks them on the system clock). JS callbacks are fed
// from a pull queue drained by an unref'd timer on this event loop; probes run on JS timers.
// Same concepts and defaults as Python's ferrule.AlertRouter & co., in camelCase and milliseconds.

const native = require('./native.js')
const { configError, internalError } = require('./errors.js')
const { ManualClock, nativeOf } = require('./clock.js')
const { runInProbe } = require('./synthetic.js')
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

function made(component, x, Cls) {
  if (x instanceof Cls) return x
  if (x && typeof x.kind === 'string' && 'message' in x) throw configError(x.kind, x.message, x.param || component)
  throw internalError(new Error(`${component}: the native constructor returned ${describe(x)}`))
}

function clockOf(component, clock) {
  if (clock === undefined || clock === null) return null
  if (!(clock instanceof ManualClock)) throw configError('TypeError', `${component}: clock=${describe(clock)} must be a ManualClock`, 'clock')
  return nativeOf(clock)
}

function checkKeys(component, options, allowed) {
  for (const k of Object.keys(options)) {
    if (!allowed.includes(k)) throw configError('TypeError', `${component}: unknown option ${k}=${describe(options[k])}; allowed: ${allowed.join(', ')}`, k)
  }
}

function httpUrl(component, url) {
  if (typeof url !== 'string' || !/^https?:\/\//.test(url)) {
    throw configError('RangeError', `${component}: url=${describe(url)} is out of range; allowed: an http:// or https:// URL`, 'url')
  }
  return url
}

const TLS_OPTIONS = ['name', 'headers', 'caFile', 'clientCertFile', 'clientKeyFile']

/** What every HTTP receiver shares: URL, extra headers, certificate files for https://
 * (`caFile` instead of the system roots; `clientCertFile` + `clientKeyFile` for mutual TLS). */
class HttpReceiver {
  constructor(component, kind, url, options, allowed = TLS_OPTIONS) {
    checkKeys(component, options, allowed)
    for (const key of ['name', 'caFile', 'clientCertFile', 'clientKeyFile', 'source']) {
      const v = options[key]
      if (v !== undefined && v !== null && typeof v !== 'string') {
        throw configError('TypeError', `${component}: ${key}=${describe(v)} must be a string`, key)
      }
    }
    this.url = httpUrl(component, url)
    this.name = options.name || url
    this.headers = options.headers ? { ...options.headers } : {}
    this.caFile = options.caFile ?? null
    this.clientCertFile = options.clientCertFile ?? null
    this.clientKeyFile = options.clientKeyFile ?? null
    Object.defineProperty(this, 'kind', { value: kind })
  }
  /** The JSON target the core reads (snake_case keys, as in the core's receiver spec). */
  spec() {
    const d = { url: this.url }
    if (this.caFile !== null) d.ca_file = this.caFile
    if (this.clientCertFile !== null) d.client_cert_file = this.clientCertFile
    if (this.clientKeyFile !== null) d.client_key_file = this.clientKeyFile
    if (Object.keys(this.headers).length > 0) d.headers = this.headers
    return d
  }
}

/** A sink POSTing each notification as JSON (http:// or https://), retried with backoff from a
 * bounded queue. */
class Webhook extends HttpReceiver {
  constructor(url, options = {}) {
    super('Webhook', 'webhook', url, options)
  }
}

/** A sink posting to a Prometheus Alertmanager's /api/v2/alerts (resolutions carry endsAt). */
class Alertmanager extends HttpReceiver {
  constructor(url, options = {}) {
    super('Alertmanager', 'alertmanager', url, options)
    this.url = this.url.replace(/\/+$/, '')
    this.name = options.name || `alertmanager:${this.url}`
  }
}

/** A Slack incoming webhook: each notification is a message with the `text` fallback Slack
 * requires and header/section/context blocks. */
class Slack extends HttpReceiver {
  constructor(url, options = {}) {
    super('Slack', 'slack', url, options, ['name', 'caFile'])
    this.name = options.name || 'slack'
  }
}

/** PagerDuty Events API v2: a `trigger` per alert (dedup_key `ferrule-<fingerprint>`) and a
 * `resolve` with the same key when it resolves. `routingKey` is the integration key; `source`
 * defaults to `service.name@host`. */
class PagerDuty extends HttpReceiver {
  constructor(routingKey, options = {}) {
    if (typeof routingKey !== 'string' || routingKey.trim() === '') {
      throw configError('RangeError', `PagerDuty: routingKey=${describe(routingKey)} is out of range; allowed: the integration key of an Events API v2 integration`, 'routingKey')
    }
    super('PagerDuty', 'pagerduty', options.url || 'https://events.pagerduty.com/v2/enqueue', options, ['name', 'url', 'source', 'caFile'])
    this.name = options.name || 'pagerduty'
    this.routingKey = routingKey
    this.source = options.source ?? null
  }
  spec() {
    const d = super.spec()
    d.routing_key = this.routingKey
    if (this.source !== null) d.source = this.source
    return d
  }
}

/** A webhook whose body is `template` (an object, or JSON text) with `{{placeholders}}` filled
 * from the notification: `"{{count}}"` alone keeps the value's type, inside text it is replaced by
 * its text. Fields: name, severity, status, summary, count, starts_at, kind, route, group_key,
 * sink, labels.<label>, alerts, alerts.0.summary. */
class JsonWebhook extends HttpReceiver {
  constructor(url, template, options = {}) {
    super('JsonWebhook', 'json_webhook', url, options)
    this.template = typeof template === 'string' ? template : JSON.stringify(template)
  }
  spec() {
    return { ...super.spec(), template: this.template }
  }
}

const ROUTER_OPTIONS = [
  'routes', 'sinks', 'groupWaitMs', 'groupIntervalMs', 'repeatIntervalMs', 'cap', 'capWindowMs',
  'maxAlerts', 'webhookRetries', 'webhookBackoffMs', 'webhookTimeoutMs', 'inhibit', 'install', 'clock', 'drainIntervalMs',
]
const ROUTE_OPTIONS = ['name', 'sinks', 'severity', 'match', 'groupBy', 'groupWaitMs', 'groupIntervalMs', 'repeatIntervalMs', 'escalate', 'continue']

let installed = null
// A switch's native handle, for the probe constructor, without exposing it as a property.
const nativeSwitch = new WeakMap()

/**
 * Routes alerts to sinks with Alertmanager's semantics, in-process. Defaults against alert fatigue:
 * groupWaitMs 30 s, groupIntervalMs 5 min, repeatIntervalMs 4 h, at most `cap` 5 notifications per
 * sink per `capWindowMs` 15 min (then one digest), a firing critical inhibits warnings of its group.
 */
class AlertRouter {
  #native
  #callbacks = new Map() // sink name -> function
  #timer = null
  #errors = 0

  constructor(options = {}) {
    checkKeys('AlertRouter', options, ROUTER_OPTIONS)
    const sinks = []
    const byObj = new Map()
    const names = new Set()
    const unique = (base) => {
      let n = base
      for (let i = 2; names.has(n); i++) n = `${base}#${i}`
      names.add(n)
      return n
    }
    const add = (s) => {
      if (byObj.has(s)) return byObj.get(s)
      let spec
      if (s === 'log') spec = { name: unique('log'), kind: 'log' }
      else if (s instanceof HttpReceiver) spec = { name: unique(s.name), kind: s.kind, url: JSON.stringify(s.spec()) }
      else if (typeof s === 'function') {
        spec = { name: unique(s.name || 'callback'), kind: 'callback' }
        this.#callbacks.set(spec.name, s)
      } else throw configError('TypeError', `AlertRouter: sink=${describe(s)} must be a function, 'log', a Webhook, Alertmanager, Slack, PagerDuty or JsonWebhook`, 'sinks')
      byObj.set(s, spec.name)
      sinks.push(spec)
      return spec.name
    }
    if (options.install !== undefined && typeof options.install !== 'boolean') {
      throw configError('TypeError', `AlertRouter: install=${describe(options.install)} must be true or false`, 'install')
    }
    const drain = options.drainIntervalMs
    if (drain !== undefined && (typeof drain !== 'number' || !Number.isFinite(drain) || drain < 1)) {
      const kind = typeof drain === 'number' ? 'RangeError' : 'TypeError'
      throw configError(kind, `AlertRouter: drainIntervalMs=${describe(drain)} is not allowed; allowed: a finite number of ms >= 1`, 'drainIntervalMs')
    }
    for (const key of ['sinks', 'routes']) {
      if (options[key] !== undefined && options[key] !== null && !Array.isArray(options[key])) {
        throw configError('TypeError', `AlertRouter: ${key}=${describe(options[key])} must be an array`, key)
      }
    }
    for (const s of options.sinks || []) add(s)
    const routes = (options.routes || []).map((r, i) => {
      checkKeys('AlertRouter route', r, ROUTE_OPTIONS)
      return {
        name: r.name === undefined ? `route${i}` : String(r.name),
        sinks: (r.sinks || []).map(add),
        severity: r.severity,
        matchers: r.match,
        groupBy: r.groupBy,
        groupWaitMs: r.groupWaitMs,
        groupIntervalMs: r.groupIntervalMs,
        repeatIntervalMs: r.repeatIntervalMs,
        escalate: (r.escalate || []).map(([afterMs, to]) => ({ afterMs, sinks: (Array.isArray(to) ? to : [to]).map(add) })),
        continueMatching: Boolean(r.continue),
      }
    })
    const o = {}
    for (const k of ['groupWaitMs', 'groupIntervalMs', 'repeatIntervalMs', 'cap', 'capWindowMs', 'maxAlerts', 'webhookRetries', 'webhookBackoffMs', 'webhookTimeoutMs']) {
      const v = options[k]
      if (v === undefined) continue
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw configError('RangeError', `AlertRouter: ${k}=${describe(v)} is out of range; allowed: a finite number >= 0`, k)
      o[k] = v
    }
    if (options.inhibit !== undefined) {
      if (!Array.isArray(options.inhibit)) throw configError('TypeError', `AlertRouter: inhibit=${describe(options.inhibit)} must be an array of [sourceMin, targetMax, equalLabels or null]`, 'inhibit')
      o.inhibit = options.inhibit.map((rule, i) => {
        if (!Array.isArray(rule) || typeof rule[0] !== 'string' || typeof rule[1] !== 'string' || (rule[2] != null && !Array.isArray(rule[2]))) {
          throw configError('TypeError', `AlertRouter: inhibit[${i}]=${describe(rule)} must be [sourceMin, targetMax, equalLabels or null]`, 'inhibit')
        }
        return { sourceMin: rule[0], targetMax: rule[1], equal: rule[2] == null ? undefined : rule[2].map(String) }
      })
    }
    let x
    try {
      x = native.createAlertRouter(sinks, routes, o, clockOf('AlertRouter', options.clock))
    } catch (e) {
      throw internalError(e)
    }
    this.#native = made('AlertRouter', x, native.NativeAlertRouter)
    if (options.clock === undefined || options.clock === null) {
      // The core's runtime ticks the router; this timer hands queued notifications to callbacks.
      this.#timer = setInterval(() => this.#deliver(this.#native.drain()), options.drainIntervalMs || 100)
      this.#timer.unref()
    }
    if (options.install !== false) this.install()
  }

  #deliver(list) {
    for (const n of list) {
      const cb = this.#callbacks.get(n.sink)
      if (cb === undefined) continue
      try {
        cb(Object.freeze({ ...n, startsAt: n.startsAtMs }))
      } catch (err) {
        this.#errors++
        warn('alerting.callback_error', 'FERRULE_LISTENER_ERROR', `ferrule: alert callback ${n.sink} threw: ${describe(err)}`)
      }
    }
  }

  /**
   * Adds `cb` as a sink every default-routed notification reaches (what `onAlert` does); returns
   * a function that unsubscribes it (true the first time).
   */
  addCallback(cb) {
    if (typeof cb !== 'function') throw configError('TypeError', `AlertRouter.addCallback: ${describe(cb)} is not a function`, 'cb')
    const taken = new Set(this.#native.sinkNames())
    const base = cb.name || 'callback'
    let name = base
    for (let i = 2; taken.has(name); i++) name = `${base}#${i}`
    this.#callbacks.set(name, cb)
    this.#native.addCallback(name)
    return () => this.removeSink(name)
  }

  /** Stops delivering to the sink called `name` (a notification's `sink`); false if there is none. */
  removeSink(name) {
    this.#callbacks.delete(name)
    return this.#native.removeSink(String(name))
  }

  install() {
    this.#native.install()
    installed = this
    return this
  }

  uninstall() {
    this.#native.uninstall()
    if (installed === this) installed = null
  }

  /** Whether watchers, switches and probes publish to this router now. */
  get installed() {
    return this.#native.installed()
  }

  /** Stops the drain timer (the router keeps its alerts). */
  close() {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    this.uninstall()
  }

  fire(name, severity = 'warning', labels = {}, summary = '', options = {}) {
    const r = this.#native.fire(String(name), String(severity), { ...labels }, String(summary), options.fingerprint, options.atMs)
    if (typeof r !== 'string') throw configError(r.kind, r.message, r.param || 'severity')
    return r
  }

  resolve(fingerprint, options = {}) {
    return this.#native.resolve(fingerprint, options.atMs)
  }

  ack(fingerprint) {
    return this.#native.ack(fingerprint)
  }

  silence(matchers, durationMs, comment = '', options = {}) {
    const r = this.#native.silence({ ...matchers }, durationMs, comment, options.atMs)
    if (typeof r !== 'number') throw configError(r.kind, r.message, r.param || 'matchers')
    return r
  }

  expireSilence(id) {
    return this.#native.expireSilence(id)
  }

  /** The active silences: { id, matchers, endsAt (ms), comment }. */
  silences() {
    return this.#native.silences().map((x) => ({ id: x.id, matchers: x.matchers, endsAt: x.endsAtMs, comment: x.comment }))
  }

  /** Runs the timing rules now (on a ManualClock: at `atMs`); delivers and returns what was sent. */
  tick(options = {}) {
    const sent = this.#native.tick(options.atMs)
    this.#deliver(this.#native.drain())
    return sent
  }

  alerts() {
    return this.#native.alerts()
  }

  /** [name, labels, value] rows: exactly what a metrics scrape shows for this one. */
  gauges() {
    return this.#native.gauges()
  }

  stats() {
    return { ...this.#native.stats(), callbackErrors: this.#errors }
  }
}

/**
 * Sends every alert notification to `cb(notification)`, beside whatever is subscribed already
 * (with no router installed, one is made with the defaults); returns a function that unsubscribes.
 */
function onAlert(cb) {
  if (typeof cb !== 'function') throw new TypeError(`onAlert: ${describe(cb)} is not a function`)
  const router = installed !== null && installed.installed ? installed : new AlertRouter()
  return router.addCallback(cb)
}

/** The dead man's switch: no beat within `withinMs` → an alert; the next beat resolves it. */
class DeadMansSwitch {
  #native

  constructor(name, withinMs, options = {}) {
    checkKeys('DeadMansSwitch', options, ['severity', 'clock'])
    if (typeof name !== 'string') throw configError('TypeError', `DeadMansSwitch: name must be a string; got ${describe(name)}`, 'name')
    if (typeof withinMs !== 'number' || !Number.isFinite(withinMs) || withinMs < 1) {
      throw configError('RangeError', `DeadMansSwitch: withinMs=${describe(withinMs)} is out of range; allowed: >= 1`, 'withinMs')
    }
    let x
    try {
      x = native.createDeadMansSwitch(name, withinMs, options.severity || 'critical', clockOf('DeadMansSwitch', options.clock))
    } catch (e) {
      throw internalError(e, 'DeadMansSwitch', { severity: options.severity })
    }
    this.#native = made('DeadMansSwitch', x, native.NativeDeadMansSwitch)
    nativeSwitch.set(this, this.#native)
    this.name = name
  }

  /** A sign of life; true when it resolved a firing switch. */
  beat(atMs) {
    return this.#native.beat(atMs)
  }

  /** Checks for silence now (the core runtime does it every 100 ms); returns the events caused. */
  check(atMs) {
    return this.#native.check(atMs)
  }

  get firing() {
    return this.#native.firing
  }

  get beats() {
    return this.#native.beats
  }

  /** @internal used by Policy({ heartbeat }) */
  watchNative(nativePolicy) {
    if (!this.#native.watchPolicy(nativePolicy)) throw configError('TypeError', `DeadMansSwitch: the policy already beats a switch`, 'heartbeat')
  }

  /** [name, labels, value] rows: exactly what a metrics scrape shows for this one. */
  gauges() {
    return this.#native.gauges()
  }

  stats() {
    return { name: this.name, firing: this.firing, beats: this.beats, timesFired: this.#native.timesFired, silentMs: this.#native.silentMs() }
  }
}

const PROBE_OPTIONS = ['expect', 'jitter', 'failuresToAlert', 'severity', 'deadman', 'seed', 'start', 'clock']

/**
 * Runs `fn(signal)` every `everyMs` (± jitter) on timers, never overlapping itself; aborted at
 * `timeoutMs`. Everything `fn` calls is synthetic traffic (`inProbe()`, synthetic.js): kept out of
 * SLOs, watcher baselines, policies' ferrule_calls_total and the GenAI metrics. Beats `deadman` on success
 * and raise a `probe.failed` alert after `failuresToAlert` consecutive failures.
 */
class SyntheticProbe {
  #native
  #fn
  #expect
  #timer = null
  #stopped = false
  #manual
  #inflight = null // the last run's function, until it settles (a timed-out run may still go)

  constructor(name, fn, everyMs, timeoutMs, options = {}) {
    checkKeys('SyntheticProbe', options, PROBE_OPTIONS)
    if (typeof fn !== 'function') throw configError('TypeError', `SyntheticProbe: fn=${describe(fn)} must be a function`, 'fn')
    if (options.expect !== undefined && typeof options.expect !== 'function') throw configError('TypeError', `SyntheticProbe: expect must be a function`, 'expect')
    if (options.deadman !== undefined && !(options.deadman instanceof DeadMansSwitch)) throw configError('TypeError', `SyntheticProbe: deadman must be a DeadMansSwitch`, 'deadman')
    for (const [k, v] of [['everyMs', everyMs], ['timeoutMs', timeoutMs]]) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw configError('RangeError', `SyntheticProbe: ${k}=${describe(v)} is out of range; allowed: a finite number > 0`, k)
    }
    let x
    if (typeof name !== 'string') throw configError('TypeError', `SyntheticProbe: name=${describe(name)} must be a string`, 'name')
    if (options.start !== undefined && typeof options.start !== 'boolean') {
      throw configError('TypeError', `SyntheticProbe: start=${describe(options.start)} must be true or false`, 'start')
    }
    for (const key of ['jitter', 'failuresToAlert', 'seed']) {
      const v = options[key]
      if (typeof v === 'number' && !Number.isFinite(v)) {
        throw configError('RangeError', `SyntheticProbe: ${key}=${describe(v)} is out of range; allowed: a finite number`, key)
      }
    }
    try {
      x = native.createSyntheticProbe(
        String(name), everyMs, timeoutMs,
        { jitter: options.jitter, failuresToAlert: options.failuresToAlert, severity: options.severity, seed: options.seed },
        options.deadman ? nativeSwitch.get(options.deadman) : null,
        clockOf('SyntheticProbe', options.clock),
      )
    } catch (e) {
      throw internalError(e, 'SyntheticProbe', options)
    }
    this.#native = made('SyntheticProbe', x, native.NativeSyntheticProbe)
    this.name = String(name)
    this.#fn = fn
    this.#expect = options.expect
    this.#manual = options.clock !== undefined && options.clock !== null
    if (options.start !== false && !this.#manual) this.start()
  }

  /** Runs the probe now if due and not running; resolves to true/false, or null when not due. */
  async runOnce(atMs) {
    if (!this.#native.tryStart(atMs)) return null
    const ac = new AbortController()
    let timer
    const timeout = new Promise((resolve) => {
      if (this.#manual) return
      timer = setTimeout(() => {
        ac.abort(new Error('probe timeout'))
        resolve({ timedOut: true })
      }, this.#native.timeoutMs)
    })
    let result = 'ok'
    let error = ''
    try {
      // Everything the probe calls is synthetic traffic (synthetic.js), through every await.
      const run = runInProbe(() => Promise.resolve().then(() => this.#fn(ac.signal)))
      this.#inflight = run.then(
        () => {},
        () => {},
      )
      const r = await Promise.race([run.then((value) => ({ value })), timeout])
      if (r.timedOut) {
        result = 'timeout'
        error = `no answer within ${this.#native.timeoutMs} ms`
      } else if (this.#expect !== undefined) {
        let ok
        try {
          ok = this.#expect(r.value)
        } catch (e) {
          ok = false
          error = `expect threw: ${describe(e)}`
        }
        if (!ok) {
          result = 'failed'
          error = error || `expect rejected the result ${describe(r.value).slice(0, 200)}`
        }
      }
    } catch (e) {
      result = 'failed'
      error = describe(e)
    } finally {
      clearTimeout(timer)
    }
    this.#native.finish(result, error, this.#manual ? atMs : undefined)
    return result === 'ok'
  }

  start() {
    this.#stopped = false
    const loop = async () => {
      if (this.#stopped) return
      // Never beside a timed-out run that is still going: wait for it to settle first.
      if (this.#inflight !== null) await this.#inflight
      this.#inflight = null
      const due = this.#native.dueInMs()
      if (due <= 0) await this.runOnce()
      if (this.#stopped) return
      this.#timer = setTimeout(loop, Math.max(1, Math.min(this.#native.dueInMs(), 1000)))
      this.#timer.unref()
    }
    this.#timer = setTimeout(loop, 0)
    this.#timer.unref()
    return this
  }

  stop() {
    this.#stopped = true
    clearTimeout(this.#timer)
  }

  get running() {
    return this.#native.running
  }

  /** [name, labels, value] rows: exactly what a metrics scrape shows for this one. */
  gauges() {
    return this.#native.gauges()
  }

  stats() {
    return this.#native.stats()
  }
}

module.exports = { AlertRouter, Alertmanager, DeadMansSwitch, JsonWebhook, PagerDuty, Slack, SyntheticProbe, Webhook, onAlert }
