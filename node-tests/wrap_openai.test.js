'use strict'
// wrapOpenAI with the real `openai` npm package against the mock server: the server sees exactly the
// policy's attempts (no stacked SDK retries), Retry-After is waited (on a manual clock), every attempt
// carries a traceparent of one trace, streams are observed to their end, the deadline reaches the SDK.

const test = require('node:test')
const assert = require('node:assert/strict')
const OpenAI = require('openai')
const { ManualClock, Policy, RetryError, wrapOpenAI, recentSpans } = require('ferrule')
const { withServer } = require('./mock_server_fixture.js')
const { state } = require('../bindings-node/llm_call.js')

const MSG = [{ role: 'user', content: 'hi' }]
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/
const sdk = (s, opts = {}) => new OpenAI({ baseURL: s.url, apiKey: 'k', ...opts })
const retrying = (attempts, extra = {}) =>
  new Policy({ retry: { attempts, backoff: { kind: 'constant', delayMs: 0 }, budgetRatio: null, ...extra.retry }, clock: extra.clock || new ManualClock(), ...extra.policy })


function recording() {
  const seen = []
  state.listener = (r) => seen.push(r)
  return seen
}

test.afterEach(() => {
  state.listener = undefined
})

test(
  'SDK retries are off: the server sees exactly the policy attempts',
  withServer({ script: ['429', '503', 'ok'], faults: [{ kind: '429', rate: 0, retryAfterMs: 0 }] }, async (s) => {
    const bare = sdk(s, { maxRetries: 5 })
    const c = wrapOpenAI(bare, { policy: retrying(3) })
    const r = await c.chat.completions.create({ model: 'm', messages: MSG })
    assert.equal(r.choices[0].message.content, 'Mock answer to: hi')
    assert.deepEqual(s.requests.map((q) => q.fault), ['rate_limit', 'unavailable', 'ok'])
    assert.equal(c.maxRetries, 0)
    assert.equal(bare.maxRetries, 5)
    assert.equal(Object.getPrototypeOf(c), Object.getPrototypeOf(bare)) // the same class: a Proxy over a copy
  }),
)

test(
  'giving up sends exactly `attempts` requests',
  withServer({ script: ['503', '503', '503', '503'] }, async (s) => {
    const c = wrapOpenAI(sdk(s), { policy: retrying(3) })
    await assert.rejects(c.chat.completions.create({ model: 'm', messages: MSG }), (e) => e instanceof RetryError && e.attempts === 3)
    assert.equal(s.stats().requests, 3)
  }),
)

test(
  'Retry-After is waited exactly, on the manual clock',
  withServer({ script: ['429'], faults: [{ kind: '429', rate: 0, retryAfterMs: 2500 }] }, async (s) => {
    const clock = new ManualClock()
    const waits = []
    const c = wrapOpenAI(sdk(s), { policy: retrying(3, { clock, retry: { onRetry: (n, d) => waits.push(d) } }) })
    await c.chat.completions.create({ model: 'm', messages: MSG })
    assert.deepEqual(waits, [2500])
    assert.equal(s.stats().requests, 2)
  }),
)

test(
  'each attempt carries a traceparent of one trace; a caller-given one is kept',
  withServer({ script: ['503', 'ok', 'ok'] }, async (s) => {
    const c = wrapOpenAI(sdk(s), { policy: retrying(3) })
    await c.chat.completions.create({ model: 'm', messages: MSG })
    const own = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`
    await c.chat.completions.create({ model: 'm', messages: MSG }, { headers: { traceparent: own } })
    const ids = s.requests.map((q) => TRACEPARENT.exec(q.headers.traceparent))
    assert.ok(ids.every(Boolean))
    assert.equal(ids[0][1], ids[1][1])
    assert.notEqual(ids[0][2], ids[1][2])
    assert.equal(s.requests[2].headers.traceparent, own)
  }),
)

test(
  'the remaining deadline reaches the SDK as its timeout and aborts a hung request',
  withServer({ script: ['hang'], hangMs: 30000 }, async (s) => {
    const c = wrapOpenAI(sdk(s, { maxRetries: 0 }), { policy: new Policy({ timeoutMs: 200 }) })
    const t0 = performance.now()
    await assert.rejects(c.chat.completions.create({ model: 'm', messages: MSG }))
    assert.ok(performance.now() - t0 < 10000)
    assert.equal(s.stats().requests, 1)
  }),
)

test(
  "the caller's own signal reaches the SDK under a policy deadline and aborts the request",
  withServer({ script: ['hang'], hangMs: 30000 }, async (s) => {
    const c = wrapOpenAI(sdk(s, { maxRetries: 0 }), { policy: new Policy({ timeoutMs: 20000 }) })
    const ac = new AbortController()
    const t0 = performance.now()
    const p = c.chat.completions.create({ model: 'm', messages: MSG }, { signal: ac.signal })
    setTimeout(() => ac.abort(), 50)
    await assert.rejects(p, (e) => e instanceof OpenAI.APIUserAbortError)
    assert.ok(performance.now() - t0 < 10000) // the abort ended it, not the 20 s deadline
  }),
)

test(
  'streams are retried before the first chunk and recorded once at their end',
  withServer({ script: ['429', 'ok'], faults: [{ kind: '429', rate: 0, retryAfterMs: 0 }] }, async (s) => {
    const seen = recording()
    const c = wrapOpenAI(sdk(s), { policy: retrying(3) })
    const stream = await c.chat.completions.create({ model: 'm', messages: MSG, stream: true, stream_options: { include_usage: true } })
    assert.equal(seen.length, 0)
    let text = ''
    for await (const ch of stream) if (ch.choices.length) text += ch.choices[0].delta.content || ''
    assert.equal(text, 'Mock answer to: hi')
    assert.equal(s.stats().requests, 2)
    assert.equal(seen.length, 1)
    const r = seen[0]
    assert.equal(r.operation, 'chat')
    assert.equal(r.error, undefined)
    // The time to the first chunk and the duration are on the call span the core filled.
    const sp = recentSpans().find((x) => x.spanId === r.spanId)
    const ttftMs = sp.attributes['gen_ai.response.time_to_first_chunk'] * 1000
    assert.ok(r.outputTokens > 0 && ttftMs >= 0 && ttftMs <= Number(sp.endNs - sp.startNs) / 1e6)
    assert.deepEqual(sp.attributes['gen_ai.response.finish_reasons'], ['stop'])
  }),
)

test(
  'a truncated stream is recorded with its error',
  withServer({ script: ['truncated_stream'] }, async (s) => {
    const seen = recording()
    const c = wrapOpenAI(sdk(s), { policy: retrying(2) })
    const stream = await c.chat.completions.create({ model: 'm', messages: MSG, stream: true })
    await assert.rejects(async () => {
      for await (const _ of stream) void _
    })
    assert.equal(seen.length, 1)
    assert.ok(seen[0].error !== undefined)
  }),
)

test(
  'usage is recorded for chat, embeddings and responses; other endpoints pass through',
  withServer({}, async (s) => {
    const seen = recording()
    const c = wrapOpenAI(sdk(s), { policy: retrying(2) })
    await c.chat.completions.create({ model: 'chat-m', messages: MSG })
    await c.embeddings.create({ model: 'emb-m', input: 'some words' })
    await c.responses.create({ model: 'resp-m', input: 'hello' })
    const models = await c.models.list()
    assert.ok(models.data.some((m) => m.id === 'mock-gpt-4o-mini'))
    assert.deepEqual(s.requests.map((q) => q.path), ['/v1/chat/completions', '/v1/embeddings', '/v1/responses', '/v1/models'])
    assert.deepEqual(seen.map((r) => [r.operation, r.model]), [['chat', 'chat-m'], ['embeddings', 'emb-m'], ['responses', 'resp-m']])
    assert.ok(seen[0].outputTokens > 0 && seen[1].inputTokens > 0 && seen[2].outputTokens > 0)
  }),
)

test(
  'modelPolicies pick the policy by model; withOptions stays wrapped',
  withServer({ script: ['503', '503', 'ok', '503', 'ok'] }, async (s) => {
    const c = wrapOpenAI(sdk(s), { policy: retrying(3), modelPolicies: { fragile: new Policy({ timeoutMs: 30000 }) } })
    await assert.rejects(c.chat.completions.create({ model: 'fragile', messages: MSG }), (e) => e.status === 503)
    assert.equal(s.stats().requests, 1)
    await c.chat.completions.create({ model: 'sturdy', messages: MSG })
    assert.equal(s.stats().requests, 3)
    const c2 = c.withOptions({ timeout: 30000 })
    assert.equal(c2.maxRetries, 0)
    await c2.chat.completions.create({ model: 'sturdy', messages: MSG })
    assert.equal(s.stats().requests, 5)
  }),
)

test('bad arguments are refused', () => {
  assert.throws(() => wrapOpenAI({}), TypeError)
  assert.throws(() => wrapOpenAI(new OpenAI({ apiKey: 'k' }), { policy: 'retry' }), TypeError)
  assert.throws(() => wrapOpenAI(new OpenAI({ apiKey: 'k' }), { polcy: new Policy() }), /unknown option "polcy"/)
  assert.throws(() => wrapOpenAI(new OpenAI({ apiKey: 'k' }), { modelPolicies: { m: 3 } }), TypeError)
})

test(
  "a fallback receives the caller's body and options",
  withServer({ script: ['503', '503'] }, async (s) => {
    const seen = []
    const policy = retrying(2, {
      policy: {
        fallback: (err, body, options) => {
          seen.push([err.constructor.name, body, Object.fromEntries(Object.entries(options))]) // string keys: what the SDK reads
          return 'from backup'
        },
      },
    })
    const c = wrapOpenAI(sdk(s), { policy })
    assert.equal(await c.chat.completions.create({ model: 'm', messages: MSG }, { timeout: 5000 }), 'from backup')
    assert.equal(s.stats().requests, 2)
    assert.deepEqual(seen, [['RetryError', { model: 'm', messages: MSG }, { timeout: 5000 }]])
  }),
)

test(
  'tokens and cost reach the GenAI metrics',
  withServer({}, async (s) => {
    const { metricsText, setPrice } = require('ferrule')
    setPrice('wrap-cost-model', 1.0, 2.0)
    const c = wrapOpenAI(sdk(s), { policy: retrying(2) })
    const r = await c.chat.completions.create({ model: 'wrap-cost-model', messages: MSG })
    const text = metricsText()
    const value = (metric, extra = '') => {
      const m = new RegExp(`^${metric}\\{[^}]*gen_ai_request_model="wrap-cost-model"[^}]*${extra}[^}]*\\} (\\S+)$`, 'm').exec(text)
      assert.ok(m, metric)
      return Number(m[1])
    }
    assert.equal(value('gen_ai_client_token_usage_sum', 'gen_ai_token_type="input"'), r.usage.prompt_tokens)
    assert.equal(value('gen_ai_client_token_usage_sum', 'gen_ai_token_type="output"'), r.usage.completion_tokens)
    const cost = (r.usage.prompt_tokens * 1.0 + r.usage.completion_tokens * 2.0) / 1e6
    assert.ok(Math.abs(value('ferrule_cost_usd_total') - cost) < 1e-12)
  }),
)
