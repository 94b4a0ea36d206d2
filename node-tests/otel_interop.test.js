'use strict'
// OpenTelemetry interop with the real SDK (@opentelemetry/sdk-trace-base, InMemorySpanExporter, the
// AsyncLocalStorage context manager): an app span -> a wrapped OpenAI call on the mock server -> its
// attempts -> an app span started inside the attempt (in the SDK's fetch, where an HTTP
// instrumentation would start one) form one trace with the right parents, with ferrule keeping its
// spans (context bridge) and with ferrule handing them to the app's TracerProvider.

const test = require('node:test')
const assert = require('node:assert/strict')
const OpenAI = require('openai')
const api = require('@opentelemetry/api')
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks')
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base')
const ferrule = require('ferrule')
const { MockLLMServer, ManualClock, Policy, wrapOpenAI, recentSpans, clearRecentSpans, configure, useOpenTelemetry, withSpan } = ferrule

api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())

function app() {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  return { provider, exporter }
}

const parentId = (s) => (s.parentSpanContext ? s.parentSpanContext.spanId : s.parentSpanId)

async function runCall(provider) {
  const tracer = provider.getTracer('app')
  const http = provider.getTracer('app.http')
  const s = new MockLLMServer({ script: ['503', 'ok'] })
  try {
    const sdk = new OpenAI({
      baseURL: s.url,
      apiKey: 'k',
      // What an HTTP client instrumentation does: a span for the request under the active span.
      fetch: (url, init) => http.startActiveSpan('POST /chat/completions', (span) => fetch(url, init).finally(() => span.end())),
    })
    const policy = new Policy({ retry: { attempts: 3, backoff: { kind: 'constant', delayMs: 0 }, budgetRatio: null }, clock: new ManualClock() })
    const c = wrapOpenAI(sdk, { policy })
    let root
    await tracer.startActiveSpan('handle /checkout', async (span) => {
      root = span.spanContext()
      await c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      span.end()
    })
    return root
  } finally {
    s.stop()
  }
}

test.beforeEach(() => {
  configure({ sampleRatio: 1, otlpEndpoint: false, logSink: 'none', tracePolicies: false })
  clearRecentSpans()
})
test.afterEach(() => useOpenTelemetry({ enabled: false }))

test('context bridge: ferrule spans under the app span, app spans under the attempts, one trace', async () => {
  const { provider, exporter } = app()
  useOpenTelemetry()
  const root = await runCall(provider)
  const mine = recentSpans()
  const call = mine.find((s) => s.attributes['ferrule.span.role'] === 'call')
  const attempts = mine.filter((s) => s.attributes['ferrule.span.role'] === 'attempt').sort((a, b) => (a.startNs < b.startNs ? -1 : 1))
  assert.equal(call.traceId, root.traceId)
  assert.equal(call.parentSpanId, root.spanId)
  assert.equal(attempts.length, 2)
  for (const a of attempts) assert.equal(a.parentSpanId, call.spanId)
  const httpSpans = exporter.getFinishedSpans().filter((s) => s.name === 'POST /chat/completions')
  assert.equal(httpSpans.length, 2)
  const attemptIds = new Set(attempts.map((a) => a.spanId))
  for (const h of httpSpans) {
    assert.equal(h.spanContext().traceId, root.traceId)
    assert.ok(attemptIds.has(parentId(h)), `http span under an attempt, got parent ${parentId(h)}`)
  }
  assert.deepEqual(new Set(exporter.getFinishedSpans().map((s) => s.name)), new Set(['handle /checkout', 'POST /chat/completions']))
})

test('provider mode: the app pipeline gets ferrule spans with their ids, one trace, right parents', async () => {
  const { provider, exporter } = app()
  useOpenTelemetry({ tracerProvider: provider })
  const root = await runCall(provider)
  const all = exporter.getFinishedSpans()
  assert.deepEqual(new Set(all.map((s) => s.spanContext().traceId)), new Set([root.traceId]))
  const call = all.find((s) => s.attributes['ferrule.span.role'] === 'call')
  const attempts = all.filter((s) => s.attributes['ferrule.span.role'] === 'attempt')
  const httpSpans = all.filter((s) => s.name === 'POST /chat/completions')
  assert.equal(call.name, 'chat gpt-4o-mini')
  assert.equal(parentId(call), root.spanId)
  assert.equal(call.kind, api.SpanKind.CLIENT)
  assert.equal(call.instrumentationScope.name, 'ferrule')
  assert.equal(attempts.length, 2)
  for (const a of attempts) assert.equal(parentId(a), call.spanContext().spanId)
  const attemptIds = new Set(attempts.map((a) => a.spanContext().spanId))
  assert.equal(httpSpans.length, 2)
  for (const h of httpSpans) assert.ok(attemptIds.has(parentId(h)))
  assert.ok(attempts.some((a) => a.status.code === api.SpanStatusCode.ERROR))
})

test('withSpan is the active OpenTelemetry span inside; the bridge off restores plain behaviour', async () => {
  const { provider, exporter } = app()
  useOpenTelemetry()
  const tracer = provider.getTracer('app')
  let ferruleSpanId
  await withSpan('work', async (s) => {
    ferruleSpanId = s.spanId
    await new Promise((r) => setTimeout(r, 1))
    tracer.startActiveSpan('inner', (x) => x.end())
  })
  const inner = exporter.getFinishedSpans().find((s) => s.name === 'inner')
  assert.equal(parentId(inner), ferruleSpanId)
  useOpenTelemetry({ enabled: false })
  await tracer.startActiveSpan('outer', async (o) => {
    await withSpan('alone', async () => {})
    o.end()
  })
  const alone = recentSpans().find((s) => s.name === 'alone')
  assert.equal(alone.parentSpanId, null)
  assert.throws(() => useOpenTelemetry({ tracerProvider: {} }), /tracerProvider/)
})
