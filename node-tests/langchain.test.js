'use strict'
// LangChain.js with ferrule: withPolicy around a real ChatOpenAI against the mock server (exact request
// counts: the model's own AsyncCaller retries do not stack), and FerruleCallbackHandler recording runs.

const test = require('node:test')
const assert = require('node:assert/strict')
const { ChatOpenAI } = require('@langchain/openai')
const { awaitAllCallbacks } = require('@langchain/core/callbacks/promises')
const { ChatPromptTemplate } = require('@langchain/core/prompts')
const { DynamicTool } = require('@langchain/core/tools')
const { BaseRetriever } = require('@langchain/core/retrievers')
const { Document } = require('@langchain/core/documents')
const os = require('node:os')
const path = require('node:path')
const fs = require('node:fs')
const { MockLLMServer, ManualClock, Policy, RetryError, recentSpans, clearRecentSpans, AlertRouter, DeadLetterQueue, observe, checkObserved, profile, resetProfile } = require('ferrule')
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

class Docs extends BaseRetriever {
  lc_namespace = ['ferrule_test']
  async _getRelevantDocuments(q) {
    return [new Document({ pageContent: `doc about ${q}` })]
  }
}

test(
  'chains, tools and retrievers are nested spans; a named prompt template names the call',
  withServer({}, async (s, seen) => {
    clearRecentSpans()
    const h = new FerruleCallbackHandler()
    const prompt = ChatPromptTemplate.fromMessages([['system', 'You are terse.'], ['human', '{q}']]).withConfig({ runName: 'triage' })
    await prompt.pipe(chat(s)).invoke({ q: 'hi' }, { callbacks: [h] })
    const lookup = new DynamicTool({ name: 'lookup', description: 'Looks q up.', func: async (q) => `found ${q}` })
    assert.equal(await lookup.invoke('x', { callbacks: [h] }), 'found x')
    await new Docs().invoke('rust', { callbacks: [h] })
    await awaitAllCallbacks()
    const spans = new Map(recentSpans().map((x) => [x.spanId, x]))
    const all = [...spans.values()]
    const chatSpan = all.find((x) => x.attributes['gen_ai.operation.name'] === 'chat' && x.attributes['ferrule.integration'] === 'langchain')
    assert.ok(chatSpan, JSON.stringify(all.map((x) => x.name)))
    const parent = spans.get(chatSpan.parentSpanId)
    assert.equal(parent.name, 'invoke_workflow RunnableSequence')
    assert.equal(parent.attributes['gen_ai.operation.name'], 'invoke_workflow')
    assert.equal(chatSpan.attributes['gen_ai.provider.name'], 'openai')
    assert.equal(chatSpan.attributes['ferrule.prompt.template'], 'triage')
    assert.ok(chatSpan.attributes['gen_ai.usage.output_tokens'] > 0)
    assert.equal(seen[seen.length - 1].template, 'triage')
    const toolSpan = all.find((x) => x.attributes['gen_ai.operation.name'] === 'execute_tool')
    assert.equal(toolSpan.name, 'execute_tool lookup')
    assert.equal(toolSpan.attributes['gen_ai.tool.name'], 'lookup')
    assert.ok(all.some((x) => x.attributes['gen_ai.operation.name'] === 'retrieval' && x.name === 'retrieval Docs'))
    assert.equal(h.spans.size + h.runs.size + h.templates.size, 0)
  }),
)

test('the provider comes from the model class', () => {
  const h = new FerruleCallbackHandler()
  const seen = []
  state.listener = (r) => seen.push(r.provider)
  try {
    const classes = [['ChatAnthropic', 'anthropic'], ['AzureChatOpenAI', 'azure.ai.openai'], ['ChatMistralAI', 'mistral_ai'], ['ChatFancyNew', 'fancynew']]
    classes.forEach(([cls], i) => {
      h.handleChatModelStart({ id: ['langchain', 'chat_models', cls] }, [[]], `run-${i}`, undefined, { invocation_params: { model: 'm' } })
      h.handleLLMEnd({ generations: [] }, `run-${i}`)
    })
    assert.deepEqual(seen, classes.map(([, p]) => p))
  } finally {
    state.listener = undefined
  }
})

const SYSTEMS = [
  'You are the triage assistant for ticket {n} of customer "{c}". Answer with one label.',
  'Summarise document {id} in 3 bullet points for the weekly report.',
  "Translate the user's message to French, keeping the tone.",
]

test('observe() over LangChain runs: three templates, the outage pages, the slowdown fires, the dead letters alert, nothing before', async () => {
  resetProfile()
  const alerts = []
  const router = new AlertRouter({ sinks: [(n) => alerts.push(n)], groupWaitMs: 0, groupIntervalMs: 50, drainIntervalMs: 10 })
  const clock = new ManualClock()
  observe({ clock, anomalyMinDurationMs: 10_000, outageForMs: 20_000, deadLetterMaxDepth: 50 })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferrule-lc-'))
  const dlq = new DeadLetterQueue({ path: path.join(dir, 'dlq.sqlite'), name: 'lc-dlq' })
  const policy = new Policy({ name: 'lc-observed', deadLetter: dlq }) // no retries: one request per call
  const outage = [150, 230]
  const slow = [230, 270]
  const s = new MockLLMServer({
    // Healthy calls take 20 ms (as a model's answer takes time), so the latency baseline is the
    // provider's and not a busy host's scheduling noise on a sub-millisecond loopback call.
    faults: [
      { kind: 'slow', rate: 1, from: 0, to: outage[0], latencyMs: 20 },
      { kind: '500', rate: 1, from: outage[0], to: outage[1] },
      { kind: 'slow', rate: 1, from: slow[0], to: slow[1], latencyMs: 100 },
      { kind: 'slow', rate: 1, from: slow[1], latencyMs: 20 },
    ],
  })
  try {
    const model = new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: 'k', maxRetries: 0, configuration: { baseURL: s.url } })
    const h = new FerruleCallbackHandler()
    const chains = SYSTEMS.map((sys) => withPolicy(ChatPromptTemplate.fromMessages([['system', sys], ['human', '{q}']]).pipe(model), policy))
    for (let i = 0; i < slow[1] + 20; i++) {
      clock.advance(1000)
      const vars = { n: 1000 + i, c: `client ${i * 7}`, id: `${(0xbeef0000 + i).toString(16)}deadbeef`, q: `request ${i}: what now?` }
      try {
        await chains[i % 3].invoke(vars, { callbacks: [h] })
      } catch (e) {
        assert.ok(i >= outage[0] && i < outage[1], `call ${i} failed: ${e}`)
      }
      checkObserved()
      if (i === outage[0] - 1) {
        await new Promise((r) => setTimeout(r, 200))
        assert.deepEqual(alerts.filter((a) => a.status === 'firing'), [], 'nothing fires before the injected windows')
      }
    }
    await awaitAllCallbacks()
    const until = Date.now() + 10_000
    const has = (p) => alerts.some(p)
    const all = ['upstream_outage', 'dead_letter_backlog', 'slo.', 'anomaly']
    while (!all.every((n) => has((a) => a.name.startsWith(n)))) {
      assert.ok(Date.now() < until, JSON.stringify([...new Set(alerts.map((a) => a.name))]))
      await new Promise((r) => setTimeout(r, 10))
    }
    assert.equal(alerts.find((a) => a.name === 'upstream_outage').severity, 'page')
    assert.equal(alerts.find((a) => a.name.startsWith('anomaly')).labels.metric, 'latency_seconds')
    const rows = profile({ by: 'calls' }).rows.filter((r) => r.template !== '(unnamed)')
    assert.equal(rows.length, 3, JSON.stringify(rows.map((r) => r.template)))
    assert.deepEqual(rows.map((r) => r.calls).sort(), [96, 97, 97])
  } finally {
    observe({ enabled: false })
    router.close()
    s.stop()
    resetProfile()
  }
})

test('withPolicy checks the shape of a Runnable, so an ES module one passes and a plain object does not', async () => {
  const { RunnableLambda } = await import('@langchain/core/runnables')
  const counted = withPolicy(RunnableLambda.from((x) => x.length), new Policy({ retry: { attempts: 2 } }))
  assert.equal(await counted.invoke('four'), 4)
  assert.throws(() => withPolicy({ invoke: () => 1 }, new Policy()), /must be a LangChain Runnable/)
})
