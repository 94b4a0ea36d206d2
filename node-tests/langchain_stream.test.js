'use strict'
// LangChain.js streams that survive: withPolicy(ChatOpenAI, policy, { streamPolicy }) against the mock
// server's stream faults. A stall is aborted at its deadline (measured on the call) and its
// connection released; a stream cut after N chunks throws with exactly the delivered text, continues
// into the full answer, or falls back; one span per stream; the callback handler records the time
// per chunk of a streamed run.

const test = require('node:test')
const assert = require('node:assert/strict')
const { ChatOpenAI } = require('@langchain/openai')
const { AIMessageChunk } = require('@langchain/core/messages')
const { awaitAllCallbacks } = require('@langchain/core/callbacks/promises')
const { Policy, StreamPolicy, StreamInterrupted, StreamTimeoutError, recentSpans, metricsText } = require('ferrule')
const { withServer } = require('./mock_server_fixture.js')
const { FerruleCallbackHandler, withPolicy } = require('ferrule/langchain')

const Q = 'tell me about streams'
const FULL = 'Mock answer to: tell me about streams'
const PREFIX = FULL.slice(0, 12) // a role event, then 4 characters per event: 4 events give 12
const policy = () => new Policy({ retry: { attempts: 3, backoff: { kind: 'constant', delayMs: 0 }, budgetRatio: null } })
const chat = (s, extra = {}) => new ChatOpenAI({ model: 'mock-gpt-4o-mini', apiKey: 'k', configuration: { baseURL: s.url }, ...extra })
const fault = (kind, afterChunks, latencyMs = 20_000) => [{ kind, rate: 0, afterChunks, latencyMs }]
const textOf = (chunks) => chunks.map((c) => (typeof c.content === 'string' ? c.content : '')).join('')
const streamSpans = () => recentSpans().filter((s) => s.name.startsWith('stream ') && !s.name.endsWith(' attempt'))


// No connection on the mock still in the middle of a response (an idle keep-alive one may stay).
async function released(s, withinMs = 3000) {
  const end = performance.now() + withinMs
  while (performance.now() < end) {
    const st = s.stats()
    if (st.openConnections - st.idleConnections === 0) return
    await new Promise((r) => setTimeout(r, 10))
  }
  assert.fail(`a connection is still busy ${withinMs} ms later: ${JSON.stringify(s.stats())}`)
}

test(
  'a stall is aborted at its deadline and throws with the delivered text',
  withServer({ script: ['stall_stream'], faults: fault('stall_stream', 4) }, async (s) => {
    const r = withPolicy(chat(s), policy(), { streamPolicy: new StreamPolicy({ stallTimeoutMs: 300 }) })
    const got = []
    let last = performance.now()
    let err
    try {
      for await (const c of await r.stream(Q)) {
        got.push(c)
        last = performance.now()
      }
    } catch (e) {
      err = e
    }
    const waited = performance.now() - last
    assert.ok(err instanceof StreamInterrupted, String(err))
    assert.ok(waited >= 295 && waited < 1500, `waited ${waited} ms`)
    assert.ok(err.cause instanceof StreamTimeoutError && err.cause.deadline === 'stall')
    assert.equal(err.partialText, PREFIX)
    assert.equal(textOf(got), PREFIX)
    await released(s)
    assert.equal(s.stats().requests, 1)
  }),
)

test(
  'raise carries exactly what was delivered; one span, in error',
  withServer({ script: ['truncated_stream'], faults: fault('truncated_stream', 4) }, async (s) => {
    const before = streamSpans().length
    const got = []
    await assert.rejects(
      async () => {
        for await (const c of await withPolicy(chat(s), policy()).stream(Q)) got.push(c)
      },
      (e) => e instanceof StreamInterrupted && e.partialText === PREFIX,
    )
    assert.equal(textOf(got), PREFIX)
    assert.equal(s.stats().requests, 1)
    const spans = streamSpans().slice(before)
    assert.equal(spans.length, 1)
    assert.equal(spans[0].status, 'error')
  }),
)

test(
  'continue makes one seamless answer; the resumed request carries the delivered prefix',
  withServer({ script: ['truncated_stream'], faults: fault('truncated_stream', 4) }, async (s) => {
    const before = streamSpans().length
    const r = withPolicy(chat(s), policy(), { streamPolicy: new StreamPolicy({ onInterrupt: 'continue' }) })
    const got = []
    for await (const c of await r.stream(Q)) got.push(c)
    assert.equal(textOf(got), FULL)
    assert.deepEqual(s.requests[1].json.messages.at(-1), { role: 'assistant', content: PREFIX })
    const spans = streamSpans().slice(before)
    assert.equal(spans.length, 1)
    assert.equal(spans[0].attributes['ferrule.stream.recovery'], 'continue')
    assert.equal(spans[0].attributes['ferrule.stream.seam_chars'], PREFIX.length)
  }),
)

test(
  'fallback streams after the delivered prefix',
  withServer({ script: ['truncated_stream'], faults: fault('truncated_stream', 4) }, async (s) => {
    const seen = []
    const fallback = (e) => {
      seen.push(e)
      return [new AIMessageChunk({ content: '[fallback]', response_metadata: { finish_reason: 'stop' } })]
    }
    const r = withPolicy(chat(s), policy(), { streamPolicy: new StreamPolicy({ onInterrupt: 'fallback', fallback }) })
    const got = []
    for await (const c of await r.stream(Q)) got.push(c)
    assert.equal(textOf(got), PREFIX + '[fallback]')
    assert.equal(seen[0].partialText, PREFIX)
  }),
)

test(
  'a failure before the first chunk is retried unseen; usage lands on the stream span',
  withServer({ script: ['stall_stream'], faults: fault('stall_stream', 0) }, async (s) => {
    const before = streamSpans().length
    const sp = new StreamPolicy({ firstChunkTimeoutMs: 300, stallTimeoutMs: 5000 })
    const r = withPolicy(chat(s, { streamUsage: true }), policy(), { streamPolicy: sp })
    const t = performance.now()
    const got = []
    for await (const c of await r.stream(Q)) got.push(c)
    const took = performance.now() - t
    assert.equal(textOf(got), FULL)
    assert.ok(took >= 295 && took < 2500, `took ${took} ms`)
    assert.deepEqual(
      s.requests.map((q) => q.fault),
      ['stall_stream', 'ok'],
    )
    const [span] = streamSpans().slice(before)
    assert.equal(span.attributes['ferrule.attempts'], 2)
    assert.ok(span.attributes['gen_ai.usage.output_tokens'] > 0 && span.attributes['gen_ai.usage.input_tokens'] > 0)
  }),
)

test(
  'a consumer that breaks releases its connection',
  withServer({ script: ['stall_stream'], faults: fault('stall_stream', 6) }, async (s) => {
    const before = streamSpans().length
    let n = 0
    for await (const _ of await withPolicy(chat(s), policy()).stream(Q)) {
      void _
      if (++n === 2) {
        assert.equal(s.stats().openConnections - s.stats().idleConnections, 1)
        break
      }
    }
    await released(s)
    const spans = streamSpans().slice(before)
    assert.equal(spans.length, 1)
    assert.notEqual(spans[0].status, 'error')
  }),
)

test(
  'the callback handler records the time per chunk of a streamed run',
  withServer({}, async (s) => {
    const metric = 'gen_ai_client_operation_time_per_output_chunk_seconds'
    const count = () => {
      const line = metricsText()
        .split('\n')
        .find((l) => l.startsWith(`${metric}_count`) && l.includes('mock-gpt-4o-mini') && l.includes('gen_ai_provider_name="openai"'))
      return line === undefined ? 0 : Number(line.split(' ').at(-1))
    }
    const n0 = count()
    const h = new FerruleCallbackHandler()
    const m = chat(s, { streamUsage: true, configuration: { baseURL: s.url, defaultHeaders: { 'x-mock-content': 'x'.repeat(200) } } })
    let text = ''
    for await (const c of await m.stream('hi', { callbacks: [h] })) text += c.content
    await awaitAllCallbacks()
    assert.equal(text, 'x'.repeat(200))
    const n = count() - n0
    // One gap per token after the first (LangChain reports each delta, the empty role and final ones included).
    assert.ok(n >= 49 && n <= 53, `${n} gaps`)
    // One span for the streamed run, with the usage the model sent on its last chunk.
    const runs = recentSpans().filter((x) => x.attributes['ferrule.integration'] === 'langchain' && x.attributes['gen_ai.operation.name'] === 'chat')
    const a = runs.at(-1).attributes
    assert.ok(a['gen_ai.usage.output_tokens'] > 0 && a['gen_ai.usage.input_tokens'] > 0 && a['gen_ai.response.time_to_first_chunk'] > 0, JSON.stringify(a))
  }),
)
