'use strict'
// wrapAnthropic with the real `@anthropic-ai/sdk` and ferruleMiddleware with the real `ai` +
// `@ai-sdk/openai` packages, against the mock server: exact attempts (no stacked SDK retries), each
// Anthropic hint waited on a 429 and the 529 retried, streams observed to their end, spans and
// metrics under the provider's name, cost with cached tokens, one cross-provider failover (a tool
// call too, in one normalized shape), the `messages.stream()` helper under the policy and the stream
// deadlines, and a tool-using `generateText` through the middleware.

const test = require('node:test')
const assert = require('node:assert/strict')
const Anthropic = require('@anthropic-ai/sdk')
const OpenAI = require('openai')
const { createOpenAI } = require('@ai-sdk/openai')
const { generateText, streamText, wrapLanguageModel, tool, jsonSchema, stepCountIs } = require('ai')
const { MockLLMServer, ManualClock, Policy, RetryError, Router, StreamInterrupted, StreamPolicy, StreamTimeoutError, wrapAnthropic, wrapOpenAI, recentSpans, metricsText, setPrice, normalizeChat } = require('ferrule')
const { withServer } = require('./mock_server_fixture.js')
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

// ---- tool calls in the normalized shape -------------------------------------------------------------

const SCHEMA = { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } }, required: ['city', 'unit'] }
const OPENAI_TOOLS = [{ type: 'function', function: { name: 'get_weather', description: 'Weather in a city', parameters: SCHEMA } }]
const ANTHROPIC_TOOLS = [{ name: 'get_weather', description: 'Weather in a city', input_schema: SCHEMA }]
const QUESTION = 'Weather in Paris?'

test('a tool call fails over from an OpenAI endpoint to an Anthropic one as the same normalized call', async () => {
  const healthy = new MockLLMServer()
  const down = new MockLLMServer({ script: Array(10).fill('503') })
  const up = new MockLLMServer()
  try {
    const routerFor = (openaiServer) => {
      const oa = wrapOpenAI(new OpenAI({ baseURL: openaiServer.url, apiKey: 'k', maxRetries: 0 }), { policy: new Policy({ timeoutMs: 10000 }) })
      const an = wrapAnthropic(sdk(up), { policy: new Policy({ timeoutMs: 10000 }) })
      return new Router({
        endpoints: [
          { name: 'openai', call: (q) => oa.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: q }], tools: OPENAI_TOOLS }), weight: 1000 },
          { name: 'anthropic', call: (q) => an.messages.create({ model: MODEL, max_tokens: 256, messages: [{ role: 'user', content: q }], tools: ANTHROPIC_TOOLS }) },
        ],
        seed: 1,
        normalize: 'openai',
        ejectAfterFailures: 0,
      })
    }
    const direct = await routerFor(healthy).execute(QUESTION)
    const moved = await routerFor(down).execute(QUESTION)
    assert.equal(down.stats().requests, 1)
    assert.equal(up.stats().requests, 1)
    assert.deepEqual([direct.endpoint, moved.endpoint], ['openai', 'anthropic'])
    assert.deepEqual([direct.finishReason, moved.finishReason], ['tool_calls', 'tool_use'])
    assert.equal(direct.toolCalls.length, 1)
    assert.equal(moved.toolCalls.length, 1)
    const [d] = direct.toolCalls
    const [m] = moved.toolCalls
    // The same call, whichever provider made it: name, arguments text and parsed arguments.
    assert.deepEqual([m.name, m.arguments, m.parsedArguments], [d.name, d.arguments, d.parsedArguments])
    assert.deepEqual(m.parsedArguments, { city: QUESTION, unit: 'celsius' })
    assert.match(d.id, /^call_/)
    assert.match(m.id, /^toolu_/)
    assert.deepEqual([direct.content, moved.content], ['', ''])
  } finally {
    healthy.stop()
    down.stop()
    up.stop()
  }
})

test('normalizeChat keeps broken tool arguments as text and does not parse them', () => {
  const raw = { choices: [{ finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'f', arguments: '{"city": "Par' } }] } }] }
  assert.deepEqual(normalizeChat(raw).toolCalls, [{ id: 'call_9', name: 'f', arguments: '{"city": "Par', parsedArguments: null }])
  assert.deepEqual(normalizeChat('plain').toolCalls, [])
})

test(
  'ferruleMiddleware: generateText with tools records the tool call step and the answer step',
  withServer({ script: ['503', 'ok', 'ok'] }, async (s) => {
    const seen = recording()
    const executed = []
    const r = await generateText({
      model: aiModel(s, retrying(3)),
      prompt: QUESTION,
      maxRetries: 0,
      tools: {
        get_weather: tool({
          description: 'Weather in a city',
          inputSchema: jsonSchema(SCHEMA),
          execute: async (input) => {
            executed.push(input)
            return '18 C, clear'
          },
        }),
      },
      stopWhen: stepCountIs(2),
    })
    // The first step (retried past the 503) called the tool with the mock's arguments; the second
    // handed the result back and got text.
    assert.deepEqual(executed, [{ city: QUESTION, unit: 'celsius' }])
    assert.equal(r.steps.length, 2)
    assert.equal(r.steps[0].toolCalls[0].toolName, 'get_weather')
    assert.match(r.text, /^Mock answer to: Weather in Paris\? \(the tool said: .*18 C, clear.*\)$/)
    assert.equal(s.stats().requests, 3)
    assert.equal(seen.length, 2)
    assert.deepEqual(
      seen.map((c) => [c.attempts, spanOf(c).attributes['gen_ai.response.finish_reasons']]),
      [
        [2, ['tool_calls']],
        [1, ['stop']],
      ],
    )
    assert.equal(s.requests[2].json.messages.at(-1).role, 'tool')
  }),
)

test(
  'ferruleMiddleware: streamText with tools streams the tool call through the policy',
  withServer({}, async (s) => {
    const seen = recording()
    const r = streamText({
      model: aiModel(s, retrying(2)),
      prompt: QUESTION,
      maxRetries: 0,
      tools: { get_weather: tool({ description: 'Weather in a city', inputSchema: jsonSchema(SCHEMA) }) },
    })
    await r.consumeStream()
    const calls = await r.toolCalls
    assert.deepEqual(
      calls.map((c) => [c.toolName, c.input]),
      [['get_weather', { city: QUESTION, unit: 'celsius' }]],
    )
    assert.equal(seen.length, 1)
    assert.deepEqual(spanOf(seen[0]).attributes['gen_ai.response.finish_reasons'], ['tool_calls'])
  }),
)

// ---- messages.stream(): the SDK's stream helper under the policy ------------------------------------

test(
  'wrapAnthropic: messages.stream() runs through the policy and is recorded once',
  withServer({ script: ['unavailable', 'ok'] }, async (s) => {
    const seen = recording()
    const c = wrapAnthropic(sdk(s), { policy: retrying(3) })
    const stream = c.messages.stream({ model: MODEL, max_tokens: 64, messages: MSG })
    let text = ''
    stream.on('text', (t) => (text += t))
    const final = await stream.finalMessage()
    assert.equal(text, 'Mock answer to: hi')
    assert.equal(final.stop_reason, 'end_turn')
    assert.equal(s.stats().requests, 2) // the 529 was retried before the first event
    assert.match(s.requests[1].headers.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
    assert.equal(seen.length, 1)
    assert.equal(seen[0].error, undefined)
    assert.equal(seen[0].attempts, 2)
    assert.equal(seen[0].provider, 'anthropic')
    const sp = spanOf(seen[0])
    assert.deepEqual(sp.attributes['gen_ai.response.finish_reasons'], ['end_turn'])
    assert.equal(sp.attributes['gen_ai.usage.output_tokens'], final.usage.output_tokens)
    assert.equal(sp.attributes['gen_ai.response.id'], final.id)
  }),
)

test(
  'wrapAnthropic: messages.stream() is cut at its stall deadline with the delivered text',
  withServer({ script: ['stall_stream'], faults: [{ kind: 'stall_stream', rate: 0, afterChunks: 4, latencyMs: 20000 }] }, async (s) => {
    const seen = recording()
    const c = wrapAnthropic(sdk(s), { policy: retrying(3), streamPolicy: new StreamPolicy({ stallTimeoutMs: 300 }) })
    const stream = c.messages.stream({ model: MODEL, max_tokens: 64, messages: MSG })
    let text = ''
    let last = performance.now()
    stream.on('text', (t) => {
      text += t
      last = performance.now()
    })
    // The helper wraps an error that is not the SDK's own in an AnthropicError, the original as its cause.
    const err = await stream.finalMessage().then(
      () => undefined,
      (e) => e.cause,
    )
    const waited = performance.now() - last
    assert.ok(err instanceof StreamInterrupted, String(err))
    assert.ok(waited >= 295 && waited < 1500, `waited ${waited} ms`)
    assert.ok(err.cause instanceof StreamTimeoutError)
    assert.equal(err.cause.deadline, 'stall')
    // message_start, content_block_start, ping, then one text delta came before the silence.
    assert.equal(err.partialText, 'Mock')
    assert.equal(text, 'Mock')
    assert.equal(s.stats().requests, 1)
    assert.equal(seen.length, 1)
    assert.equal(seen[0].error, err)
  }),
)

test(
  'wrapAnthropic: a stream cut mid-body continues seamlessly after the delivered text',
  withServer({ script: ['truncated_stream'] }, async (s) => {
    // The retry sends the delivered text as the assistant's prefill, and the mock's Messages API
    // (like the real one) answers a prefill with the rest only: one seamless answer.
    const question = [{ role: 'user', content: 'what does the weather in Paris look like this afternoon' }]
    const full = 'Mock answer to: what does the weather in Paris look like this afternoon'
    const c = wrapAnthropic(sdk(s), { policy: retrying(2), streamPolicy: new StreamPolicy({ stallTimeoutMs: 5000, onInterrupt: 'continue' }) })
    const stream = await c.messages.create({ model: MODEL, max_tokens: 256, messages: question, stream: true })
    let text = ''
    for await (const e of stream) {
      if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') text += e.delta.text
    }
    assert.equal(text, full)
    assert.equal(s.stats().requests, 2)
    const prefill = s.requests[1].json.messages.at(-1)
    assert.equal(prefill.role, 'assistant')
    assert.ok(prefill.content.length > 0 && prefill.content.length < full.length && full.startsWith(prefill.content), prefill.content)
  }),
)

test(
  'wrapAnthropic: messages.stream() cut mid-body throws StreamInterrupted and records it',
  withServer({ script: ['truncated_stream'] }, async (s) => {
    const seen = recording()
    const c = wrapAnthropic(sdk(s), { policy: retrying(2) })
    const stream = c.messages.stream({ model: MODEL, max_tokens: 64, messages: MSG })
    const err = await stream.finalMessage().then(
      () => undefined,
      (e) => e.cause,
    )
    assert.ok(err instanceof StreamInterrupted, String(err))
    assert.ok(err.chunks > 0)
    assert.equal(s.stats().requests, 1)
    assert.equal(seen.length, 1)
    assert.equal(seen[0].error, err)
  }),
)

test(
  'wrapAnthropic: a streamed tool call accumulates into the same normalized call',
  withServer({}, async (s) => {
    const c = wrapAnthropic(sdk(s), { policy: retrying(2) })
    const body = { model: MODEL, max_tokens: 256, messages: [{ role: 'user', content: QUESTION }], tools: ANTHROPIC_TOOLS }
    const plain = await c.messages.create(body)
    const stream = c.messages.stream(body)
    let partial = ''
    stream.on('inputJson', (delta) => (partial += delta))
    const streamed = await stream.finalMessage()
    const [p] = normalizeChat(plain).toolCalls
    const [t] = normalizeChat(streamed).toolCalls
    assert.equal(streamed.stop_reason, 'tool_use')
    assert.deepEqual([t.name, t.arguments, t.parsedArguments], [p.name, p.arguments, p.parsedArguments])
    assert.equal(partial, p.arguments) // the input arrived in pieces, as Anthropic streams it
  }),
)
