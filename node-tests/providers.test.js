'use strict'
// wrapAnthropic with the real `@anthropic-ai/sdk` and ferruleMiddleware with the real `ai` +
// `@ai-sdk/openai` packages, against the mock server: exact attempts (no stacked SDK retries), each
// Anthropic hint waited on a 429 and the 529 retried, streams observed to their end, spans and
// metrics under the provider's name, cost with cached tokens, and one cross-provider failover.

const test = require('node:test')
const assert = require('node:assert/strict')
const Anthropic = require('@anthropic-ai/sdk')
const OpenAI = require('openai')
const { createOpenAI } = require('@ai-sdk/openai')
const { generateText, streamText, wrapLanguageModel } = require('ai')
const { MockLLMServer, ManualClock, Policy, RetryError, Router, wrapAnthropic, wrapOpenAI, recentSpans, metricsText, setPrice } = require('ferrule')
const { ferruleMiddleware } = require('ferrule/ai')
const { state } = require('../bindings-node/llm_call.js')

const MODEL = 'claude-sonnet-4-5'
const MSG = [{ role: 'user', content: 'hi' }]
const HINTS = [
  'retry-after',
  'anthropic-ratelimit-requests-reset',
  'anthropic-ratelimit-tokens-reset',
  'anthropic-ratelimit-input-tokens-reset',
  'anthropic-ratelimit-output-tokens-reset',
]
const sdk = (s, opts = {}) => new Anthropic({ baseURL: s.anthropicURL, apiKey: 'k', ...opts })
const retrying = (attempts, extra = {}) =>
  new Policy({ retry: { attempts, backoff: { kind: 'constant', delayMs: 0 }, budgetRatio: null, ...extra.retry }, clock: extra.clock || new ManualClock(), ...extra.policy })
const spanOf = (r) => recentSpans().find((x) => x.spanId === r.spanId)

function withServer(opts, fn) {
  return async () => {
    const s = new MockLLMServer(opts)
    try {
      await fn(s)
    } finally {
      s.stop()
    }
  }
}

function recording() {
  const seen = []
  state.listener = (r) => seen.push(r)
  return seen
}

test.afterEach(() => {
  state.listener = undefined
})

// ---- wrapAnthropic ----------------------------------------------------------------------------------

test(
  'wrapAnthropic: SDK retries are off; a 429 and a 529 are retried exactly',
  withServer({ script: ['429', 'unavailable', 'ok'], faults: [{ kind: '429', rate: 0, retryAfterMs: 0 }] }, async (s) => {
    const bare = sdk(s, { maxRetries: 5 })
    const c = wrapAnthropic(bare, { policy: retrying(3) })
    const m = await c.messages.create({ model: MODEL, max_tokens: 64, messages: MSG })
    assert.equal(m.content[0].text, 'Mock answer to: hi')
    assert.deepEqual(s.requests.map((q) => [q.path, q.fault]), [['/v1/messages', 'rate_limit'], ['/v1/messages', 'unavailable'], ['/v1/messages', 'ok']])
    assert.equal(c.maxRetries, 0)
    assert.equal(bare.maxRetries, 5)
  }),
)

test(
  'wrapAnthropic: giving up on 529 overloaded_error after exactly `attempts` requests',
  withServer({ script: ['unavailable', 'unavailable', 'unavailable'] }, async (s) => {
    const c = wrapAnthropic(sdk(s), { policy: retrying(2) })
    await assert.rejects(c.messages.create({ model: MODEL, max_tokens: 64, messages: MSG }), (e) => {
      assert.ok(e instanceof RetryError)
      assert.equal(e.cause.status, 529)
      assert.equal(e.cause.error.error.type, 'overloaded_error')
      return true
    })
    assert.equal(s.stats().requests, 2)
  }),
)

for (const hint of HINTS) {
  test(
    `wrapAnthropic: the 429's ${hint} is waited`,
    withServer({ script: ['429'], faults: [{ kind: '429', rate: 0, retryAfterMs: 4000 }] }, async (s) => {
      const waits = []
      const c = wrapAnthropic(sdk(s, { defaultHeaders: { 'x-mock-hint': hint } }), { policy: retrying(3, { retry: { onRetry: (n, d) => waits.push(d) } }) })
      await c.messages.create({ model: MODEL, max_tokens: 64, messages: MSG })
      assert.equal(s.stats().requests, 2)
      assert.equal(waits.length, 1)
      // retry-after is whole seconds; a reset is an instant the server computed a moment ago.
      assert.ok(Math.abs(waits[0] - 4000) <= 250, `${hint}: waited ${waits[0]} ms`)
    }),
  )
}

test(
  'wrapAnthropic: spans, metrics, finish reason and cost with cached tokens',
  withServer({}, async (s) => {
    setPrice('claude-cache-node', 3.0, 15.0)
    const seen = recording()
    const system = [{ type: 'text', text: 'You answer tickets. '.repeat(40), cache_control: { type: 'ephemeral' } }]
    const c = wrapAnthropic(sdk(s), { policy: retrying(2) })
    const first = await c.messages.create({ model: 'claude-cache-node', max_tokens: 64, system, messages: MSG })
    const second = await c.messages.create({ model: 'claude-cache-node', max_tokens: 64, system, messages: MSG })
    assert.ok(first.usage.cache_creation_input_tokens > 0 && first.usage.cache_read_input_tokens === 0)
    assert.equal(second.usage.cache_read_input_tokens, first.usage.cache_creation_input_tokens)
    assert.deepEqual(seen.map((r) => [r.provider, r.operation]), [['anthropic', 'chat'], ['anthropic', 'chat']])
    const a1 = spanOf(seen[0]).attributes
    const a2 = spanOf(seen[1]).attributes
    assert.equal(spanOf(seen[0]).name, 'chat claude-cache-node')
    assert.equal(a1['gen_ai.provider.name'], 'anthropic')
    assert.deepEqual(a1['gen_ai.response.finish_reasons'], ['end_turn'])
    assert.equal(a1['gen_ai.usage.cache_creation.input_tokens'], first.usage.cache_creation_input_tokens)
    assert.equal(a2['gen_ai.usage.cache_read.input_tokens'], second.usage.cache_read_input_tokens)
    const u1 = first.usage
    const u2 = second.usage
    const cost1 = (u1.input_tokens * 3 + u1.cache_creation_input_tokens * 3 * 1.25 + u1.output_tokens * 15) / 1e6
    const cost2 = (u2.input_tokens * 3 + u2.cache_read_input_tokens * 3 * 0.1 + u2.output_tokens * 15) / 1e6
    assert.ok(Math.abs(seen[0].costUsd - cost1) < 1e-12, `${seen[0].costUsd} vs ${cost1}`)
    assert.ok(Math.abs(seen[1].costUsd - cost2) < 1e-12, `${seen[1].costUsd} vs ${cost2}`)
    const text = metricsText()
    assert.match(text, /^gen_ai_client_operation_duration_seconds_count\{(?=[^}]*gen_ai_provider_name="anthropic")(?=[^}]*gen_ai_request_model="claude-cache-node")[^}]*\} 2$/m)
    const m = /^ferrule_cost_usd_total\{(?=[^}]*gen_ai_provider_name="anthropic")[^}]*gen_ai_request_model="claude-cache-node"[^}]*\} (\S+)$/m.exec(text)
    assert.ok(m && Math.abs(Number(m[1]) - (cost1 + cost2)) < 1e-12)
  }),
)

test(
  'wrapAnthropic: a stream is retried before its first event and observed to its end',
  withServer({ script: ['503', 'ok'] }, async (s) => {
    const seen = recording()
    const c = wrapAnthropic(sdk(s), { policy: retrying(3) })
    const stream = await c.messages.create({ model: MODEL, max_tokens: 64, messages: MSG, stream: true })
    assert.equal(seen.length, 0)
    let text = ''
    for await (const e of stream) if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') text += e.delta.text
    assert.equal(text, 'Mock answer to: hi')
    assert.equal(seen.length, 1)
    assert.equal(seen[0].error, undefined)
    assert.ok(seen[0].outputTokens > 1 && seen[0].inputTokens > 0)
    const a = spanOf(seen[0]).attributes
    assert.deepEqual(a['gen_ai.response.finish_reasons'], ['end_turn'])
    assert.ok(a['gen_ai.response.time_to_first_chunk'] >= 0)
  }),
)

test(
  'wrapAnthropic: a stream records its time per chunk',
  withServer({}, async (s) => {
    const model = 'claude-per-chunk'
    const c = wrapAnthropic(sdk(s), { policy: retrying(1) })
    let events = 0
    for await (const _ of await c.messages.create({ model, max_tokens: 64, messages: MSG, stream: true })) events++
    const line = metricsText()
      .split('\n')
      .find((l) => l.startsWith('gen_ai_client_operation_time_per_output_chunk_seconds_count') && l.includes(`gen_ai_request_model="${model}"`))
    assert.ok(line !== undefined)
    assert.equal(Number(line.split(' ').at(-1)), events - 1) // one gap per event after the first
  }),
)

test('wrapAnthropic: config errors name the parameter', () => {
  assert.throws(() => wrapAnthropic({}), /wrapAnthropic: client must be an Anthropic client/)
  assert.throws(() => wrapAnthropic(new Anthropic({ apiKey: 'k' }), { policy: 'fast' }), /wrapAnthropic: policy must be a ferrule Policy/)
  assert.throws(() => wrapAnthropic(new Anthropic({ apiKey: 'k' }), { retries: 3 }), /unknown option "retries"/)
})

// ---- Vercel AI SDK middleware -------------------------------------------------------------------

const aiModel = (s, policy, id = 'gpt-4o-mini') =>
  wrapLanguageModel({ model: createOpenAI({ baseURL: s.url, apiKey: 'k' }).chat(id), middleware: ferruleMiddleware({ policy }) })

test(
  'ferruleMiddleware: generateText retries the 429 with its hint and records one call',
  withServer({ script: ['429', '503', 'ok'], faults: [{ kind: '429', rate: 0, retryAfterMs: 1500 }] }, async (s) => {
    const seen = recording()
    const waits = []
    const model = aiModel(s, retrying(3, { retry: { onRetry: (n, d) => waits.push(d) } }))
    const r = await generateText({ model, prompt: 'hi', maxRetries: 0 })
    assert.equal(r.text, 'Mock answer to: hi')
    assert.equal(s.stats().requests, 3)
    assert.deepEqual(waits, [1500, 0])
    assert.equal(seen.length, 1)
    assert.equal(seen[0].provider, 'openai')
    assert.equal(seen[0].attempts, 3)
    assert.equal(seen[0].inputTokens, r.usage.inputTokens)
    assert.equal(seen[0].outputTokens, r.usage.outputTokens)
    const sp = spanOf(seen[0])
    assert.equal(sp.name, 'chat gpt-4o-mini')
    assert.deepEqual(sp.attributes['gen_ai.response.finish_reasons'], ['stop'])
    assert.match(s.requests[0].headers.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
  }),
)

test(
  'ferruleMiddleware: streamText opens through the policy and is recorded at its end',
  withServer({ script: ['503', 'ok'] }, async (s) => {
    const seen = recording()
    const r = streamText({ model: aiModel(s, retrying(3)), prompt: 'hi', maxRetries: 0 })
    let text = ''
    for await (const t of r.textStream) text += t
    assert.equal(text, 'Mock answer to: hi')
    assert.equal(s.stats().requests, 2)
    assert.equal(seen.length, 1)
    assert.equal(seen[0].error, undefined)
    const sp = spanOf(seen[0])
    assert.deepEqual(sp.attributes['gen_ai.response.finish_reasons'], ['stop'])
    assert.ok(sp.attributes['gen_ai.usage.output_tokens'] > 0)
    assert.ok(sp.attributes['gen_ai.response.time_to_first_chunk'] >= 0)
  }),
)

test(
  'ferruleMiddleware: giving up records the error once',
  withServer({ script: ['503', '503'] }, async (s) => {
    const seen = recording()
    await assert.rejects(generateText({ model: aiModel(s, retrying(2)), prompt: 'hi', maxRetries: 0 }))
    assert.equal(s.stats().requests, 2)
    assert.equal(seen.length, 1)
    assert.ok(seen[0].error instanceof Error)
  }),
)

test('ferruleMiddleware: config errors name the parameter', () => {
  assert.throws(() => ferruleMiddleware({ policy: 3 }), /ferruleMiddleware: policy must be a ferrule Policy/)
  assert.throws(() => ferruleMiddleware({ retry: 3 }), /unknown option "retry"/)
  assert.equal(ferruleMiddleware().specificationVersion, 'v3')
})

// ---- fallback across providers ----------------------------------------------------------------------

test('a router fails over from an OpenAI endpoint to an Anthropic one, one response shape', async () => {
  const down = new MockLLMServer({ script: Array(10).fill('503') })
  const up = new MockLLMServer()
  try {
    const oa = wrapOpenAI(new OpenAI({ baseURL: down.url, apiKey: 'k', maxRetries: 0 }), { policy: new Policy({ timeoutMs: 10000 }) })
    const an = wrapAnthropic(sdk(up), { policy: new Policy({ timeoutMs: 10000 }) })
    const router = new Router({
      endpoints: [
        { name: 'openai', call: (q) => oa.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: q }] }), weight: 1000 },
        { name: 'anthropic', call: (q) => an.messages.create({ model: MODEL, max_tokens: 256, messages: [{ role: 'user', content: q }] }) },
      ],
      seed: 1,
      normalize: 'openai',
      ejectAfterFailures: 0,
    })
    const r = await router.execute('hello')
    assert.equal(down.stats().requests, 1)
    assert.equal(up.stats().requests, 1)
    assert.deepEqual([r.endpoint, r.content, r.finishReason, r.model], ['anthropic', 'Mock answer to: hello', 'end_turn', MODEL])
    assert.ok(r.inputTokens > 0 && r.outputTokens > 0)
  } finally {
    down.stop()
    up.stop()
  }
})
