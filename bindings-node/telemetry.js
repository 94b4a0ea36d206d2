'use strict'
// Tracing, context ids and structured events for Node: the host half of the core telemetry
// pipeline. The core mints ids, samples, masks, records and exports; this layer keeps the current
// context and span in AsyncLocalStorage, so they follow every async hop (await, timers, callbacks)
// of the code run inside `runInContext` / `withSpan`.

const { AsyncLocalStorage } = require('node:async_hooks')
const native = require('./native.js')
const { configError, internalError } = require('./errors.js')

/** @type {AsyncLocalStorage<{ ctx: any, span: any }>} */
const als = new AsyncLocalStorage()
// What policies and integrations read on each call: `on` = `configure({ tracePolicies })` (call,
// attempt and fallback spans for every Policy call); `captureContent` mirrors the core's setting
// so a wrapper builds prompt text only when it will be kept.
const POLICY_SPANS = {
  on: false,
  // The core reads the same variable as its default at first use.
  captureContent: /^true$/i.test(String(process.env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT || '').trim()),
}
const ROLES = new Set(['call', 'attempt', 'validation', 'fallback', 'internal'])
const STATUSES = new Set(['ok', 'error', 'unset'])
let userSink = null
let sinkErrors = 0
// The OpenTelemetry bridge (`useOpenTelemetry`): null until enabled, so spans pay one check and
// `@opentelemetry/api` is never loaded by an app that does not call it.
let OTEL = null

function call(fn, where, given) {
  try {
    return fn()
  } catch (e) {
    throw internalError(e, where, given)
  }
}

/** Calls the user's logSink with the lines the core queued (on this thread, never from Rust's). */
function drainLines() {
  if (userSink === null) return
  const lines = native.takeLogLines()
  for (const line of lines) {
    try {
      userSink(line)
    } catch (e) {
      // A broken sink must not break the caller; counted, and reported once on stderr.
      sinkErrors += 1
      if (sinkErrors === 1) process.stderr.write(`ferrule: logSink threw: ${e && e.message}\n`)
    }
  }
}
// Lines the export thread logs arrive without a JS call to carry them: drain them now and then.
setInterval(drainLines, 250).unref()

const CONFIG_KEYS = new Set([
  'serviceName', 'sampleRatio', 'slowSpanMs', 'captureContent', 'contentMaxChars', 'otlpEndpoint',
  'logSink', 'logLevel', 'logDedupMs', 'redactPatterns', 'redactCallback',
  'tracePolicies', 'otlpHeaders', 'otlpCompression', 'caFile', 'clientCertFile', 'clientKeyFile', 'otlpLogs',
])

/**
 * The one entry point for telemetry settings (defaults come from the OTEL_* environment variables).
 * Only what is given changes; nothing changes when anything is refused.
 */
function configure(options = {}) {
  if (options === null || typeof options !== 'object') throw new TypeError('configure: options must be an object')
  for (const k of Object.keys(options)) {
    if (!CONFIG_KEYS.has(k)) {
      throw configError('TypeError', `configure: unknown option ${k}; allowed: ${[...CONFIG_KEYS].join(', ')}`, k)
    }
  }
  const o = {}
  for (const k of ['serviceName', 'sampleRatio', 'slowSpanMs', 'captureContent', 'contentMaxChars', 'logLevel', 'logDedupMs',
    'otlpCompression', 'caFile', 'clientCertFile', 'clientKeyFile', 'otlpLogs']) {
    if (options[k] !== undefined) o[k] = options[k]
  }
  if (options.otlpHeaders !== undefined) {
    const h = options.otlpHeaders
    if (h === null || typeof h !== 'object' || Array.isArray(h)) {
      throw configError('TypeError', `configure: otlpHeaders=${String(h)} is out of range; allowed: an object name -> value`, 'otlpHeaders')
    }
    o.otlpHeaders = Object.fromEntries(Object.entries(h).map(([k, v]) => [k, String(v)]))
  }
  if (options.otlpEndpoint === false || options.otlpEndpoint === null) o.disableExport = true
  else if (options.otlpEndpoint !== undefined) o.otlpEndpoint = options.otlpEndpoint
  let sink
  const s = options.logSink
  if (typeof s === 'function') o.logSink = 'callback'
  else if (typeof s === 'string') o.logSink = s
  else if (s !== undefined && s !== null && typeof s === 'object' && typeof s.file === 'string') {
    o.logFile = s.file
    if (s.maxBytes !== undefined) o.logMaxBytes = s.maxBytes
    if (s.backups !== undefined) o.logBackups = s.backups
  } else if (s !== undefined) {
    throw configError('RangeError', `configure: logSink=${String(s)} is out of range; allowed: 'stderr', 'stdout', 'none', a function, or { file }`, 'logSink')
  }
  const p = options.redactPatterns
  if (Array.isArray(p)) o.redactPatterns = p.map(String)
  else if (p !== undefined && p !== null && typeof p === 'object') o.redactNamedPatterns = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, String(v)]))
  const cb = options.redactCallback
  if (cb === false || cb === null) o.useRedactCallback = false
  else if (typeof cb === 'function') {
    // Staged, then installed by the configure call right after (same thread, nothing in between).
    call(() => native.stageRedactCallback(cb))
    o.useRedactCallback = true
  } else if (cb !== undefined) {
    throw configError('TypeError', `configure: redactCallback must be a function (text) => string, or false to remove it; got ${typeof cb}`, 'redactCallback')
  }
  if (options.tracePolicies !== undefined && typeof options.tracePolicies !== 'boolean') {
    throw configError('TypeError', `configure: tracePolicies=${String(options.tracePolicies)} is not allowed; allowed: true or false`, 'tracePolicies')
  }
  const refused = call(() => native.configureTelemetry(o))
  if (refused) throw configError(refused.kind, refused.message, refused.param)
  if (options.tracePolicies !== undefined) POLICY_SPANS.on = options.tracePolicies
  if (options.captureContent !== undefined) POLICY_SPANS.captureContent = Boolean(options.captureContent)
  if (typeof s === 'function') {
    sink = s
    userSink = sink
  } else if (s !== undefined) {
    userSink = null
  }
}

/**
 * Runs `fn` with context ids (`sessionId`, `userId`, `tags`) attached to every span and event inside,
 * across every async hop. Nested calls inherit what they do not override; a missing session id is
 * generated; a session id reused by another user is reported as a warning event.
 */
function runInContext(ids, fn) {
  if (typeof fn !== 'function') throw new TypeError('runInContext: fn must be a function')
  const { sessionId = null, userId = null, tags = null } = ids || {}
  const outer = als.getStore()
  const ctx = call(() => new native.NativeContext(sessionId, userId, tags, outer ? outer.ctx : null))
  return als.run({ ctx, span: outer ? outer.span : null }, fn)
}

/** The ids of the current context, or null. */
function currentContext() {
  const st = als.getStore()
  if (!st || !st.ctx) return null
  const c = st.ctx
  return { sessionId: c.sessionId, userId: c.userId, tags: c.tags, sessionGenerated: c.sessionGenerated }
}

function makeSpan(opts) {
  const o = typeof opts === 'string' ? { name: opts } : opts || {}
  const role = o.role === undefined ? 'call' : o.role
  if (!ROLES.has(role)) throw configError('RangeError', `span: role=${String(role)} is out of range; allowed: one of ${[...ROLES].join(', ')}`, 'role')
  if (o.name === undefined && o.operation === undefined && o.model === undefined) {
    throw configError('TypeError', 'span: give a name, or operation / model to build the GenAI name', 'name')
  }
  const st = als.getStore()
  let tp = o.traceparent ?? null
  if (OTEL !== null && tp === null && !o.parent && !(st && st.span)) tp = otelParent()
  const span = call(() => new native.NativeSpan(o.name ?? null, role, o.operation ?? null, o.model ?? null, o.provider ?? null,
    o.parent ? o.parent._native : st ? st.span : null, st ? st.ctx : null, tp))
  const s = new Span(span)
  if (o.attributes) s.setAttributes(o.attributes)
  return s
}

/** A span handle: attributes, usage, content, status; `end()` once. */
class Span {
  constructor(n) {
    this._native = n
  }
  get traceId() { return this._native.traceId }
  get spanId() { return this._native.spanId }
  get parentSpanId() { return this._native.parentSpanId }
  get requestId() { return this._native.requestId }
  get traceparent() { return this._native.traceparent }
  get ended() { return this._native.ended }
  setAttribute(key, value) {
    if (!['string', 'number', 'boolean'].includes(typeof value)) {
      throw new TypeError(`span attribute ${key}=${typeof value} is not allowed; allowed: string, number or boolean`)
    }
    this._native.setAttribute(String(key), value)
    return this
  }
  setAttributes(attrs) {
    for (const [k, v] of Object.entries(attrs)) this.setAttribute(k, v)
    return this
  }
  setUsage({ inputTokens, outputTokens } = {}) {
    if (inputTokens !== undefined) this.setAttribute('gen_ai.usage.input_tokens', inputTokens)
    if (outputTokens !== undefined) this.setAttribute('gen_ai.usage.output_tokens', outputTokens)
    return this
  }
  setContent({ input, output } = {}, always = false) {
    return this._native.setContent(input ?? null, output ?? null, always === true)
  }
  setStatus(status, description) {
    if (!STATUSES.has(status)) throw configError('RangeError', `span: status=${String(status)} is out of range; allowed: one of ok, error, unset`, 'status')
    this._native.setStatus(status, description ?? null)
    return this
  }
  recordError(err) {
    const type = err && err.constructor && err.constructor.name ? err.constructor.name : typeof err
    this._native.setError(type, err instanceof Error ? err.message : String(err))
    return this
  }
  end() {
    if (OTEL !== null && OTEL.onEnd !== null) {
      const j = this._native.endRecord()
      if (j !== null) otelEnd(j)
      return
    }
    this._native.end()
  }
}

/** The app's current OpenTelemetry span as a traceparent, or null. */
function otelParent() {
  try {
    const { trace, context, isSpanContextValid } = OTEL.api
    const sc = trace.getSpanContext(context.active())
    if (!sc || !isSpanContextValid(sc)) return null
    return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 1) === 1 ? '01' : '00'}`
  } catch (e) {
    otelFailed('parent', e)
    return null
  }
}

/** Runs `fn` with `n` (a native span) also the current OpenTelemetry span, when the bridge is on. */
function inOtel(n, fn) {
  if (OTEL === null) return fn()
  const { trace, context } = OTEL.api
  const sc = { traceId: n.traceId, spanId: n.spanId, traceFlags: n.traceparent.endsWith('-01') ? 1 : 0, isRemote: false }
  return context.with(trace.setSpanContext(context.active(), sc), fn)
}

function otelEnd(json) {
  try {
    OTEL.onEnd(JSON.parse(json))
  } catch (e) {
    otelFailed('onEnd', e)
  }
}

function otelFailed(which, e) {
  // Through the core's logger: counted, deduplicated, and the span goes on without the bridge.
  try {
    native.emitEvent('warning', 'telemetry.otel_bridge_failed', `OpenTelemetry bridge ${which} threw: ${e && e.message}`, null, null, '{}')
  } catch (_) { /* the logger itself failed: nothing else to tell */ }
}

const SPAN_KIND_CLIENT = 2
const SPAN_KIND_INTERNAL = 0

/** A function handing a finished span (the core's JSON) to `provider`'s span processors as an
 * SDK ReadableSpan with ferrule's ids, the provider's resource and ferrule's scope. */
function providerSink(provider) {
  const processor = provider && (provider._activeSpanProcessor || (provider._config && provider._activeSpanProcessor))
  if (!processor || typeof processor.onEnd !== 'function') {
    throw configError('TypeError', 'useOpenTelemetry: tracerProvider is out of range; allowed: a BasicTracerProvider / NodeTracerProvider from @opentelemetry/sdk-trace-base', 'tracerProvider')
  }
  const resource = provider._resource || (provider._config && provider._config.resource)
  let version
  try {
    version = require('../package.json').version
  } catch (_) { /* a bundled copy without package.json: the scope has no version */ }
  const scope = { name: 'ferrule', version }
  const hr = (ns) => [Number(ns / 1000000000n), Number(ns % 1000000000n)]
  return (d) => {
    const start = BigInt(d.startNs)
    const end = BigInt(d.endNs)
    const ctx = { traceId: d.traceId, spanId: d.spanId, traceFlags: 1, isRemote: false }
    const parent = d.parentSpanId ? { traceId: d.traceId, spanId: d.parentSpanId, traceFlags: 1, isRemote: false } : undefined
    const code = d.status === 'error' ? 2 : d.status === 'ok' ? 1 : 0
    processor.onEnd({
      name: d.name,
      kind: d.attributes['ferrule.span.role'] === 'call' ? SPAN_KIND_CLIENT : SPAN_KIND_INTERNAL,
      spanContext: () => ctx,
      parentSpanContext: parent,
      parentSpanId: d.parentSpanId || undefined,
      startTime: hr(start),
      endTime: hr(end),
      duration: hr(end - start),
      status: d.statusMessage ? { code, message: d.statusMessage } : { code },
      attributes: d.attributes,
      links: [],
      events: [],
      ended: true,
      resource,
      instrumentationScope: scope,
      instrumentationLibrary: scope,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    })
  }
}

/**
 * Joins ferrule's spans to the app's OpenTelemetry traces: a ferrule span with no ferrule parent
 * becomes a child of the app's active span, and while a ferrule span runs (`withSpan`, a policy's
 * call and attempts) it is the active OpenTelemetry span, so the app's own spans inside nest under
 * it. With `tracerProvider` (an SDK provider), finished ferrule spans go to its span processors
 * (one pipeline, the app's exporter and resource) instead of ferrule's exporter. `enabled: false`
 * turns the bridge off. `@opentelemetry/api` is loaded here, only when called.
 */
function useOpenTelemetry(options = {}) {
  const { tracerProvider = null, enabled = true } = options || {}
  if (!enabled) {
    OTEL = null
    return
  }
  let api
  try {
    api = require('@opentelemetry/api')
  } catch (e) {
    throw configError('TypeError', 'useOpenTelemetry: @opentelemetry/api is not installed; allowed: install @opentelemetry/api', 'tracerProvider')
  }
  const onEnd = tracerProvider ? providerSink(tracerProvider) : null
  OTEL = { api, onEnd }
}

/**
 * Runs `fn(span)` inside a new span, child of the current one; ends it when `fn` returns or its
 * promise settles, marking it failed (with `error.type`) if `fn` throws or rejects.
 */
function withSpan(opts, fn) {
  if (typeof fn !== 'function') throw new TypeError('withSpan: fn must be a function')
  const span = makeSpan(opts)
  const st = als.getStore()
  return als.run({ ctx: st ? st.ctx : null, span: span._native }, () => inOtel(span._native, () => {
    let out
    try {
      out = fn(span)
    } catch (e) {
      span.recordError(e)
      span.end()
      throw e
    }
    if (out !== null && typeof out === 'object' && typeof out.then === 'function') {
      return out.then(
        (v) => {
          span.end()
          return v
        },
        (e) => {
          span.recordError(e)
          span.end()
          throw e
        },
      )
    }
    span.end()
    return out
  }))
}

/** A started span that is not made current, for integrations with start/end hooks. */
function startSpan(opts) {
  return makeSpan(opts)
}

/** The current span's native handle, or null (for policies deciding whether a call is traced). */
function currentSpanNative() {
  const st = als.getStore()
  return st && st.span ? st.span : null
}

/** Runs `fn` with `span` (from `startSpan`) as the current span, without ending it. */
function runWithSpan(span, fn) {
  const st = als.getStore()
  return als.run({ ctx: st ? st.ctx : null, span: span._native }, OTEL === null ? fn : () => inOtel(span._native, fn))
}

/** The W3C traceparent header of the current span, for outgoing requests; null outside spans. */
function traceparent() {
  const st = als.getStore()
  return st && st.span ? st.span.traceparent : null
}

const SCHEMA = { latencyMs: 'latency_seconds', inputTokens: 'input_tokens', outputTokens: 'output_tokens', costUsd: 'cost_usd', errorType: 'error_type', errorMessage: 'error_message' }

/**
 * Emits one structured ferrule event (same JSON schema as Python), stamped with the current span
 * and context ids. `fields`: `level`, `message`, `model`, `attempt`, `latencyMs`, `inputTokens`,
 * `outputTokens`, `costUsd`, `error` (an Error), plus event-specific fields. Returns whether it was
 * written (false: below the level, or rate-limited as a repeat).
 */
function emit(event, fields = {}) {
  const { level = 'info', message = null, error, ...rest } = fields
  const f = {}
  for (const [k, v] of Object.entries(rest)) {
    if (v === undefined) continue
    if (k === 'latencyMs') f.latency_seconds = v / 1000
    else f[SCHEMA[k] || k] = v
  }
  if (error !== undefined) {
    f.error_type = error && error.constructor ? error.constructor.name : typeof error
    f.error_message = error instanceof Error ? error.message : safeString(error)
  }
  const st = als.getStore()
  const msg = message === null || message === undefined || typeof message === 'string' ? message : safeString(message)
  const json = fieldsJson(f)
  const r = call(() => native.emitEvent(level, safeString(event), msg, st ? st.span : null, st ? st.ctx : null, json))
  if (r === null || r === undefined) throw configError('RangeError', `emit: level=${String(level)} is out of range; allowed: one of debug, info, warning, error`, 'level')
  drainLines()
  return r
}

// Logging must never throw into the caller: a value JSON cannot hold (BigInt, a cycle, a throwing
// toJSON or toString) is written as text instead of failing the event.
function safeString(v) {
  try {
    return String(v)
  } catch {
    return Object.prototype.toString.call(v)
  }
}

function jsonReplacer() {
  const seen = new WeakSet()
  return (_k, v) => {
    if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()
    if (typeof v === 'symbol' || typeof v === 'function') return safeString(v)
    if (v !== null && typeof v === 'object') {
      if (seen.has(v)) return '[Circular]'
      seen.add(v)
    }
    return v
  }
}

function fieldsJson(f) {
  try {
    return JSON.stringify(f, jsonReplacer())
  } catch {
    // A throwing getter or toJSON: keep each field that serialises on its own.
    const out = {}
    for (const [k, v] of Object.entries(f)) {
      try {
        out[k] = JSON.parse(JSON.stringify(v, jsonReplacer()) ?? 'null')
      } catch {
        out[k] = safeString(v)
      }
    }
    return JSON.stringify(out)
  }
}

/** `text` with emails, phones, cards, IPs and secrets replaced by [EMAIL], [PHONE], [CARD], [IP], [SECRET]. */
function redact(text) {
  return call(() => native.redact(String(text)))
}

/**
 * A ferrule warning: one event through the core's logger (masked, deduplicated, counted) and, when
 * the logger wrote it, the same masked text as a process warning: `process.emitWarning` is a sink
 * of the core's logger, never a separate channel that says more, or more often.
 */
function warn(event, code, message, { fields, detail } = {}) {
  let written
  try {
    written = emit(event, { ...fields, level: 'warning', message })
  } catch {
    written = true // the logger failed: the process warning still tells someone
  }
  if (written) process.emitWarning(redact(message), { type: 'FerruleWarning', code, detail })
  return written
}

/** The spans in the in-process ring, oldest first; times are BigInt nanoseconds since the epoch. */
function recentSpans() {
  return JSON.parse(call(() => native.recentSpansJson())).map((s) => ({ ...s, startNs: BigInt(s.startNs), endNs: BigInt(s.endNs) }))
}

function clearRecentSpans() {
  call(() => native.clearRecentSpans())
}

/** Exports what is queued, waiting up to `timeoutMs` (blocks: for shutdown and tests). */
function flush(timeoutMs = 5000) {
  if (typeof timeoutMs === 'number' && !Number.isFinite(timeoutMs)) {
    throw configError('RangeError', `flush: timeoutMs=${timeoutMs} is out of range; allowed: a finite number of ms >= 0`, 'timeoutMs')
  }
  const ok = call(() => native.flushTelemetry(timeoutMs), 'flush', { timeoutMs })
  drainLines()
  return ok
}

function telemetryStats() {
  return { ...call(() => native.telemetryStats()), logSinkCallbackErrors: sinkErrors }
}

/** Ids of the current span and context, for records made by the host (the inference log). */
function currentIds() {
  const st = als.getStore()
  const s = st && st.span
  const c = st && st.ctx
  return {
    traceId: s ? s.traceId : null,
    spanId: s ? s.spanId : null,
    requestId: s ? s.requestId : null,
    sessionId: c ? c.sessionId : null,
    userId: c ? c.userId : null,
  }
}

module.exports = {
  clearRecentSpans, configure, currentContext, emit, flush, recentSpans, redact, runInContext,
  startSpan, telemetryStats, traceparent, useOpenTelemetry, withSpan,
}
// Internal to the package (not enumerable, so `index.js` does not re-export it).
Object.defineProperty(module.exports, 'currentIds', { value: currentIds, enumerable: false })
// For policies and integrations in this package, not re-exported by index.js (non-enumerable).
Object.defineProperty(module.exports, 'internal', { value: { runWithSpan, currentSpanNative, POLICY_SPANS, warn } })
