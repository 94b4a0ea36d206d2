'use strict'
// Spans made by Policy and by wrapOpenAI, read back through recentSpans(): a call span with one child
// per attempt and per fallback, GenAI names and attributes, each attempt's span id in the request's
// traceparent, the caller's AsyncLocalStorage trace joined, time to first chunk on streams, content
// capture off by default and masked when on, and the SDK's APIPromise extras kept.

const test = require('node:test')
const assert = require('node:assert/strict')
const OpenAI = require('openai')
const ferrule = require('ferrule')
const { withServer } = require('./mock_server_fixture.js')
const { ManualClock, Policy, RetryError, wrapOpenAI, withSpan, recentSpans, clearRecentSpans, configure, redact } = ferrule

const MSG = [{ role: 'user', content: 'hi, mail me at jane.doe@example.com' }]
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/
const sdk = (s, opts = {}) => new OpenAI({ baseURL: s.url, apiKey: 'k', ...opts })
const retrying = (attempts, policy = {}) =>
  new Policy({ retry: { attempts, backoff: { kind: 'constant', delayMs: 0 }, budgetRatio: null }, clock: new ManualClock(), ...policy })

const role = (s) => s.attributes['ferrule.span.role']
const spans = () => recentSpans().sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0))


test.beforeEach(() => {
  configure({ sampleRatio: 1, captureContent: false, tracePolicies: false, contentMaxChars: 4096, otlpEndpoint: false, logSink: 'none' })
  clearRecentSpans()
})
test.after(() => configure({ tracePolicies: false }))

function flaky(fails) {
  let calls = 0
  return async (ctx, x) => {
    calls++
    if (calls <= fails) throw Object.assign(new Error(`down ${calls}`), { code: 'ECONNRESET' }) // transient: retried
    return x * 2
  }
}

test('an untraced policy records no span', async () => {
  assert.equal(await retrying(3, { name: 'quiet' }).wrap(flaky(1))(2), 4)
  assert.deepEqual(recentSpans(), [])
})

for (const kind of ['wrap', 'execute', 'bounded']) {
  test(`a policy call is one span with one child per attempt (${kind})`, async () => {
    configure({ tracePolicies: true })
    const p = retrying(3, kind === 'bounded' ? { name: 'traced', timeoutMs: 30000 } : { name: 'traced' })
    const f = flaky(2)
    const out = kind === 'execute' ? await p.execute((ctx) => f(ctx, 21)) : await p.wrap(f)(21)
    assert.equal(out, 42)
    const got = spans()
    const calls = got.filter((s) => role(s) === 'call')
    const attempts = got.filter((s) => role(s) === 'attempt')
    assert.equal(calls.length, 1)
    assert.equal(attempts.length, 3)
    assert.equal(got.length, 4)
    assert.equal(calls[0].name, 'traced')
    assert.equal(calls[0].parentSpanId, null)
    assert.equal(calls[0].attributes['ferrule.attempts'], 3)
    assert.deepEqual(attempts.map((a) => a.attributes['ferrule.attempt']), [1, 2, 3])
    assert.deepEqual(attempts.map((a) => a.status), ['error', 'error', 'unset'])
    assert.ok(attempts.every((a) => a.parentSpanId === calls[0].spanId && a.traceId === calls[0].traceId))
  })
}

test('a fallback is a child span and the call joins the caller span', async () => {
  configure({ tracePolicies: true })
  const p = retrying(2, { name: 'with-fallback', fallback: () => -1 })
  let outer
  await withSpan('request', async (s) => {
    outer = s
    assert.equal(await p.wrap(flaky(5))(1), -1)
  })
  const got = spans()
  const call = got.find((s) => role(s) === 'call' && s.name === 'with-fallback')
  const fb = got.filter((s) => role(s) === 'fallback')
  assert.equal(call.parentSpanId, outer.spanId)
  assert.equal(fb.length, 1)
  assert.equal(fb[0].parentSpanId, call.spanId)
  assert.equal(fb[0].attributes['ferrule.fallback.cause'], 'RetryError')
  assert.equal(got.filter((s) => role(s) === 'attempt').length, 2)
})

test('a failed traced call has an error status', async () => {
  configure({ tracePolicies: true })
  await assert.rejects(retrying(2, { name: 'down' }).wrap(flaky(9))(1), RetryError)
  const call = spans().find((s) => role(s) === 'call')
  assert.equal(call.status, 'error')
  assert.equal(call.attributes['error.type'], 'RetryError')
})

// ---- wrapOpenAI --------------------------------------------------------------------------------------

test(
  'a wrapped call is a GenAI span with attempt children whose ids go out as traceparent',
  withServer({ script: ['503', 'ok'] }, async (s) => {
    const c = wrapOpenAI(sdk(s), { policy: retrying(3) })
    const r = await c.chat.completions.create({ model: 'gpt-4o-mini', messages: MSG })
    const sent = s.requests.map((q) => TRACEPARENT.exec(q.headers.traceparent))
    const got = spans()
    const call = got.find((x) => role(x) === 'call')
    const attempts = got.filter((x) => role(x) === 'attempt')
    assert.equal(call.name, 'chat gpt-4o-mini')
    const a = call.attributes
    assert.equal(a['gen_ai.operation.name'], 'chat')
    assert.equal(a['gen_ai.provider.name'], 'openai')
    assert.equal(a['gen_ai.request.model'], 'gpt-4o-mini')
    assert.equal(a['gen_ai.response.model'], r.model)
    assert.equal(a['gen_ai.usage.input_tokens'], r.usage.prompt_tokens)
    assert.equal(a['gen_ai.usage.output_tokens'], r.usage.completion_tokens)
    assert.equal(a['ferrule.attempts'], 2)
    assert.equal(a['gen_ai.input.messages'], undefined) // no capture by default
    // Attempts are not GenAI operations (the call is): GenAI backends count each call once.
    assert.deepEqual(attempts.map((x) => x.name), ['chat gpt-4o-mini attempt', 'chat gpt-4o-mini attempt'])
    assert.ok(attempts.every((x) => !Object.keys(x.attributes).some((k) => k.startsWith('gen_ai.'))))
    assert.ok(attempts.every((x) => x.parentSpanId === call.spanId))
    assert.ok(sent.every(Boolean))
    assert.deepEqual(sent.map((m) => [m[1], m[2]]), attempts.map((x) => [x.traceId, x.spanId]))
  }),
)

test(
  'wrapOpenAI joins the caller trace (AsyncLocalStorage) and the server reads its trace id',
  withServer({}, async (s) => {
    const c = wrapOpenAI(sdk(s), { policy: retrying(2) })
    let outer
    await withSpan('handle ticket', async (sp) => {
      outer = sp
      await new Promise((r) => setTimeout(r, 1)) // an async hop before the call
      await c.chat.completions.create({ model: 'm', messages: MSG })
    })
    await c.chat.completions.create({ model: 'm', messages: MSG })
    const got = s.requests.map((q) => TRACEPARENT.exec(q.headers.traceparent))
    assert.equal(got[0][1], outer.traceId)
    assert.notEqual(got[1][1], outer.traceId)
    const call = spans().find((x) => x.name === 'chat m' && x.traceId === outer.traceId)
    assert.equal(call.parentSpanId, outer.spanId)
  }),
)

test(
  'the caller own traceparent header is kept',
  withServer({}, async (s) => {
    const c = wrapOpenAI(sdk(s), { policy: retrying(2) })
    const mine = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`
    await c.chat.completions.create({ model: 'm', messages: MSG }, { headers: { traceparent: mine } })
    assert.equal(s.requests[0].headers.traceparent, mine)
  }),
)

test(
  'withResponse() and asResponse() are kept on the wrapped create',
  withServer({ script: ['503', 'ok', 'ok'] }, async (s) => {
    const c = wrapOpenAI(sdk(s), { policy: retrying(3) })
    const { data, response, request_id: rid } = await c.chat.completions.create({ model: 'm', messages: MSG }).withResponse()
    assert.equal(data.choices[0].message.content.startsWith('Mock answer to:'), true)
    assert.equal(response.status, 200)
    assert.equal(typeof response.headers.get, 'function')
    assert.ok(rid === null || typeof rid === 'string')
    const raw = await c.chat.completions.create({ model: 'm', messages: MSG }).asResponse()
    assert.equal(raw.status, 200)
    const body = await raw.json() // the body is left unread for the caller
    assert.equal(body.object, 'chat.completion')
    assert.equal(s.requests.length, 3) // the retry happened under withResponse too
  }),
)

test(
  'content is captured only when asked, masked',
  withServer({}, async (s) => {
    await wrapOpenAI(sdk(s), { policy: retrying(1) }).chat.completions.create({ model: 'm', messages: MSG })
    const off = spans().find((x) => role(x) === 'call').attributes
    clearRecentSpans()
    const r = await wrapOpenAI(sdk(s), { policy: retrying(1), captureContent: true }).chat.completions.create({ model: 'm', messages: MSG })
    const on = spans().find((x) => role(x) === 'call').attributes
    assert.equal(off['gen_ai.input.messages'], undefined)
    assert.ok(on['gen_ai.input.messages'].includes('[EMAIL]'))
    assert.ok(!on['gen_ai.input.messages'].includes('jane.doe@example.com'))
    assert.equal(on['gen_ai.output.messages'], redact(r.choices[0].message.content))
  }),
)

test(
  'a stream span ends with the stream and has the time to first chunk',
  withServer({ latencyMs: 30 }, async (s) => {
    const c = wrapOpenAI(sdk(s), { policy: retrying(2), captureContent: true })
    const stream = await c.chat.completions.create({ model: 'm', messages: MSG, stream: true, stream_options: { include_usage: true } })
    assert.equal(spans().filter((x) => role(x) === 'call').length, 0)
    let text = ''
    for await (const ch of stream) if (ch.choices.length) text += ch.choices[0].delta.content || ''
    const call = spans().find((x) => role(x) === 'call')
    const ttft = call.attributes['gen_ai.response.time_to_first_chunk']
    assert.ok(ttft > 0 && ttft <= Number(call.endNs - call.startNs) / 1e9)
    assert.ok(call.attributes['gen_ai.usage.output_tokens'] > 0)
    assert.equal(call.attributes['gen_ai.output.messages'], redact(text))
  }),
)

test(
  'a stream left early ends its span',
  withServer({}, async (s) => {
    const c = wrapOpenAI(sdk(s), { policy: retrying(1) })
    const stream = await c.chat.completions.create({ model: 'm', messages: MSG, stream: true })
    for await (const _ of stream) break // eslint-disable-line no-unused-vars
    const call = spans().find((x) => role(x) === 'call')
    assert.equal(call.status, 'unset')
    assert.ok(call.attributes['gen_ai.response.time_to_first_chunk'] > 0)
  }),
)

test(
  'a broken stream ends its span with the error',
  withServer({ script: ['truncated_stream'] }, async (s) => {
    const c = wrapOpenAI(sdk(s), { policy: retrying(1) })
    const stream = await c.chat.completions.create({ model: 'm', messages: MSG, stream: true })
    await assert.rejects(async () => {
      for await (const _ of stream); // eslint-disable-line no-unused-vars, no-empty
    })
    const call = spans().find((x) => role(x) === 'call')
    assert.equal(call.status, 'error')
    assert.ok(call.attributes['error.type'])
  }),
)

test('with the inference log open, each wrapped call writes one record with the call span ids', withServer({ seed: 3 }, async (s) => {
  const fs = require('node:fs')
  const os = require('node:os')
  const path = require('node:path')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferrule-ilog-'))
  // The wrappers write through the shared `inferenceLog`.
  const log = ferrule.inferenceLog.open(path.join(dir, 'calls.sqlite'))
  try {
    const client = wrapOpenAI(sdk(s), { policy: retrying(2, { name: 'ilog' }) })
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: MSG, temperature: 0.2 })
    const call = spans().find((x) => role(x) === 'call')
    const rows = log.records({ model: 'gpt-4o-mini' })
    assert.equal(rows.length, 1)
    const [r] = rows
    assert.equal(r.outcome, 'success')
    assert.equal(r.provider, 'openai')
    assert.equal(r.trace_id, call.traceId)
    assert.ok(r.input_tokens > 0 && r.output_tokens > 0)
    assert.equal(JSON.parse(r.parameters).temperature, 0.2)
    assert.equal(r.input, null, 'content only when captured')
  } finally {
    log.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}))

test('a validation inside a traced call is a child span, outside none', async () => {
  ferrule.parseJson('{"a": 1}')
  assert.deepEqual(recentSpans(), [], 'no span outside a traced call')
  const extract = ferrule.validated(function extract() { return '{"b": 2}' }, { schema: { type: 'object', required: ['a'] } })
  let parent
  withSpan('call gpt-4o', (s) => {
    parent = s
    assert.deepEqual(ferrule.parseJson('```json\n{"a": 1,}\n```'), { a: 1 })
    assert.throws(() => extract(), ferrule.ValidationError)
  })
  const checks = spans().filter((s) => role(s) === 'validation')
  assert.deepEqual(checks.map((s) => s.name), ['validate parseJson', 'validate extract'])
  for (const s of checks) {
    assert.equal(s.parentSpanId, parent.spanId)
    assert.equal(s.traceId, parent.traceId)
  }
  assert.notEqual(checks[0].status, 'error')
  assert.equal(checks[1].status, 'error')
  assert.equal(checks[1].attributes['error.type'], 'ValidationError')
})
