'use strict'
// LangChain.js with ferrule: withPolicy around a real ChatOpenAI against the mock server (exact request
// counts: the model's own AsyncCaller retries do not stack), and FerruleCallbackHandler recording runs.

const test = require('node:test')
const assert = require('node:assert/strict')
const { ChatOpenAI } = require('@langchain/openai')
const { awaitAllCallbacks } = require('@langchain/core/callbacks/promises')
const { MockLLMServer, ManualClock, Policy, RetryError, recentSpans } = require('ferrule')
const { FerruleCallbackHandler, withPolicy } = require('ferrule/langchain')
const { state } = require('../bindings-node/llm_call.js')

const retrying = (attempts) =>
  new Policy({ retry: { attempts, backoff: { kind: 'constant', delayMs: 0 }, budgetRatio: null }, clock: new ManualClock() })
const chat = (s) => new ChatOpenAI({ model: 'mock-gpt-4o-mini', apiKey: 'k', configuration: { baseURL: s.url } })

function withServer(opts, fn) {
  return async () => {
    const s = new MockLLMServer(opts)
    const seen = []
    state.listener = (r) => seen.push(r)
    try {
      await fn(s, seen)
    } finally {
      state.listener = undefined
      s.stop()
    }
  }
}

test(
  'invoke retries exactly, without the model’s own retries, and each attempt is recorded',
  withServer({ script: ['503', '503', 'ok'] }, async (s, seen) => {
    const model = chat(s)
    const h = new FerruleCallbackHandler()
    const r = await withPolicy(model, retrying(3)).invoke('hi', { callbacks: [h] })
    await awaitAllCallbacks()
    assert.equal(r.content, 'Mock answer to: hi')
    assert.equal(s.stats().requests, 3)
    assert.equal(model.caller.maxRetries, 6) // the user's model is untouched
    assert.deepEqual(seen.map((x) => [x.operation, x.model, x.error === undefined]), [
      ['chat', 'mock-gpt-4o-mini', false],
      ['chat', 'mock-gpt-4o-mini', false],
      ['chat', 'mock-gpt-4o-mini', true],
    ])
    assert.equal(seen[2].inputTokens, r.usage_metadata.input_tokens)
    assert.equal(seen[2].outputTokens, r.usage_metadata.output_tokens)
    assert.equal(h.recorded, 3)
  }),
)

test(
  'giving up sends exactly `attempts` requests',
  withServer({ script: ['503', '503', '503'] }, async (s) => {
    await assert.rejects(withPolicy(chat(s), retrying(2)).invoke('hi'), RetryError)
    assert.equal(s.stats().requests, 2)
  }),
)

test(
  'stream is retried before its first chunk and records the first token',
  withServer({ script: ['429', 'ok'], faults: [{ kind: '429', rate: 0, retryAfterMs: 0 }] }, async (s, seen) => {
    const h = new FerruleCallbackHandler()
    let text = ''
    for await (const c of await withPolicy(chat(s), retrying(3)).stream('yo', { callbacks: [h] })) text += c.content
    await awaitAllCallbacks()
    assert.equal(text, 'Mock answer to: yo')
    assert.equal(s.stats().requests, 2)
    const ok = seen[seen.length - 1]
    const sp = recentSpans().find((x) => x.spanId === ok.spanId)
    const ttftMs = sp.attributes['gen_ai.response.time_to_first_chunk'] * 1000
    assert.ok(ok.error === undefined && ttftMs >= 0 && ttftMs <= Number(sp.endNs - sp.startNs) / 1e6)
  }),
)

test(
  'batch runs each input through the policy',
  withServer({ script: ['503'] }, async (s) => {
    const out = await withPolicy(chat(s), retrying(3)).batch(['a', 'b', 'c'], {}, { maxConcurrency: 1 })
    assert.deepEqual(out.map((m) => m.content).sort(), ['Mock answer to: a', 'Mock answer to: b', 'Mock answer to: c'])
    assert.equal(s.stats().requests, 4)
  }),
)

test('bad arguments are refused', () => {
  assert.throws(() => new FerruleCallbackHandler({ maxRuns: 0 }), RangeError)
  assert.throws(() => withPolicy({}, retrying(2)), TypeError)
  const s = new MockLLMServer()
  try {
    assert.throws(() => withPolicy(chat(s), 'retry'), TypeError)
  } finally {
    s.stop()
  }
})

test('withPolicy checks the shape of a Runnable, so an ES module one passes and a plain object does not', async () => {
  const { RunnableLambda } = await import('@langchain/core/runnables')
  const counted = withPolicy(RunnableLambda.from((x) => x.length), new Policy({ retry: { attempts: 2 } }))
  assert.equal(await counted.invoke('four'), 4)
  assert.throws(() => withPolicy({ invoke: () => 1 }, new Policy()), /must be a LangChain Runnable/)
})
