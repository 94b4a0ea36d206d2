'use strict'
// The call record end to end from Node: the real `openai` package against the mock, wrapped by
// ferrule with observe() on. Three prompt templates become three profile rows with no template named;
// an injected outage pages (SLO and upstream outage), an injected slowdown fires the latency anomaly,
// nothing fires before them; a dead-letter backlog alerts; alerts reach a callback sink. Also the
// GenAI span attributes the core fills.

const test = require('node:test')
const assert = require('node:assert/strict')
const os = require('node:os')
const path = require('node:path')
const fs = require('node:fs')
const OpenAI = require('openai')
const ferrule = require('ferrule')
const { MockLLMServer, ManualClock, Policy, AlertRouter, DeadLetterQueue, wrapOpenAI, observe, checkObserved, runInPrompt, profile, resetProfile, recentSpans, clearRecentSpans } = ferrule

const SYSTEMS = [
  (i) => `You are the triage assistant for ticket ${1000 + i} of customer "client ${i * 7}". Answer with one label.`,
  (i) => `Summarise document ${(0xbeef0000 + i).toString(16)}deadbeef in 3 bullet points for the weekly report.`,
  () => "Translate the user's message to French, keeping the tone.",
]
const messages = (i) => [
  { role: 'system', content: SYSTEMS[i % 3](i) },
  { role: 'user', content: `request ${i}: what now?` },
]

async function waitFor(pred, ms = 10_000, why = () => '') {
  const end = Date.now() + ms
  while (!pred()) {
    assert.ok(Date.now() < end, `condition not reached in time ${why()}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

test.afterEach(() => {
  observe({ enabled: false })
  resetProfile()
})

test('observe() sees three templates, the outage, the slowdown and the dead-letter backlog', async () => {
  resetProfile()
  const alerts = []
  const router = new AlertRouter({ sinks: [(n) => alerts.push(n)], groupWaitMs: 0, groupIntervalMs: 50, drainIntervalMs: 10 })
  const clock = new ManualClock()
  observe({ clock, anomalyMinDurationMs: 10_000, outageForMs: 20_000, deadLetterMaxDepth: 50 })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferrule-callrec-'))
  const dlq = new DeadLetterQueue({ path: path.join(dir, 'dlq.sqlite'), name: 'chat-dlq' })
  const policy = new Policy({ name: 'observed', deadLetter: dlq })
  const outage = [150, 230]
  const slow = [230, 290]
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
    const client = wrapOpenAI(new OpenAI({ baseURL: s.url, apiKey: 'k', maxRetries: 0 }), { policy })
    for (let i = 0; i < slow[1] + 30; i++) {
      clock.advance(1000)
      try {
        await client.chat.completions.create({ model: 'gpt-4o-mini', messages: messages(i) })
      } catch (e) {
        assert.ok(i >= outage[0] && i < outage[1], `call ${i} failed: ${e}`)
      }
      checkObserved()
      if (i === outage[0] - 1) {
        await new Promise((r) => setTimeout(r, 200))
        assert.deepEqual(alerts.filter((a) => a.status === 'firing'), [], 'nothing fires before the injected windows')
      }
    }
    await waitFor(() => ['upstream_outage', 'dead_letter_backlog'].every((n) => alerts.some((a) => a.name === n)), 10_000, () => JSON.stringify([...new Set(alerts.map((a) => a.name))]) + ' dlq=' + dlq.size)
    await waitFor(() => alerts.some((a) => a.name.startsWith('anomaly') && a.labels.metric === 'latency_seconds'))
    await waitFor(() => alerts.some((a) => a.name.startsWith('slo.')))
    const outageAlert = alerts.find((a) => a.name === 'upstream_outage')
    assert.equal(outageAlert.severity, 'page')
    assert.equal(outageAlert.labels.provider, 'openai')
    const rows = profile({ by: 'calls' }).rows.filter((r) => r.template !== '(unnamed)')
    assert.equal(rows.length, 3, JSON.stringify(rows.map((r) => r.template)))
    assert.deepEqual(rows.map((r) => r.calls).sort(), [106, 107, 107])
  } finally {
    router.close()
    s.stop()
  }
})

test('an explicit template wins over the fingerprint', async () => {
  resetProfile()
  const s = new MockLLMServer()
  try {
    const client = wrapOpenAI(new OpenAI({ baseURL: s.url, apiKey: 'k' }))
    await runInPrompt('triage', async () => {
      for (let i = 0; i < 5; i++) await client.chat.completions.create({ model: 'm', messages: messages(i) })
    })
    await client.chat.completions.create({ model: 'm', messages: messages(0), metadata: { template: 'from-metadata' } })
  } finally {
    s.stop()
  }
  const rows = Object.fromEntries(profile().rows.map((r) => [r.template, r.calls]))
  assert.deepEqual(rows, { triage: 5, 'from-metadata': 1 })
})

test('the call span carries the GenAI response fields; attempt spans carry none', async () => {
  clearRecentSpans()
  const s = new MockLLMServer()
  let r
  try {
    const client = wrapOpenAI(new OpenAI({ baseURL: s.url, apiKey: 'k' }))
    r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: messages(1), temperature: 0.3, max_tokens: 50, top_p: 0.9, seed: 7 })
  } finally {
    s.stop()
  }
  const spans = recentSpans()
  const call = spans.filter((x) => x.attributes['ferrule.span.role'] === 'call' && x.name === 'chat gpt-4o-mini').pop()
  assert.ok(call, JSON.stringify(spans.map((x) => x.name)))
  const a = call.attributes
  assert.equal(a['gen_ai.response.id'], r.id)
  assert.equal(a['gen_ai.response.model'], r.model)
  assert.deepEqual(a['gen_ai.response.finish_reasons'], [r.choices[0].finish_reason])
  assert.equal(a['gen_ai.usage.input_tokens'], r.usage.prompt_tokens)
  assert.equal(a['gen_ai.usage.output_tokens'], r.usage.completion_tokens)
  assert.equal(a['gen_ai.request.temperature'], 0.3)
  assert.equal(a['gen_ai.request.max_tokens'], 50)
  assert.equal(a['gen_ai.request.seed'], 7)
  assert.ok(['127.0.0.1', '[IP]'].includes(a['server.address'])) // the default redactor masks IPs in span strings
  assert.equal(a['server.port'], s.port)
  const attempts = spans.filter((x) => x.attributes['ferrule.span.role'] === 'attempt')
  assert.ok(attempts.length > 0)
  for (const x of attempts) assert.deepEqual(Object.keys(x.attributes).filter((k) => k.startsWith('gen_ai.')), [])
})

const QUESTIONS = [
  (i) => `what is my balance on the ${i} account`,
  (i) => `how do I change the billing date for plan ${i}`,
  (i) => `can I get an invoice for order ${i} please`,
  (i) => `why was card ${i} declined yesterday`,
]
const OFF_TOPIC = (i) => `Write a long poem about volcanoes, dragons and the stormy sea, verse ${i} with rhymes`

test('observe() watches answers for drift per template', async () => {
  const alerts = []
  const router = new AlertRouter({ sinks: [(n) => alerts.push(n)], groupWaitMs: 0, groupIntervalMs: 50, drainIntervalMs: 10 })
  observe({ clock: new ManualClock(), driftSampleEvery: 1, sloObjective: null, anomaly: false, predictor: false, outageErrorRate: null })
  const s = new MockLLMServer()
  try {
    const client = wrapOpenAI(new OpenAI({ baseURL: s.url, apiKey: 'k' }))
    const ask = (template, text) => runInPrompt(template, () => client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: text }] }))
    // The mock echoes the question: "support" answers go off topic after 100 calls, "billing" never.
    for (let i = 0; i < 220; i++) {
      const n = 10 + ((i * 7) % 90) // two digits: one template's questions keep one distribution
      await ask('billing', QUESTIONS[i % 4](n))
      await ask('support', i >= 100 ? OFF_TOPIC(n) : QUESTIONS[(i + 1) % 4](n))
      if (i === 99) {
        await new Promise((r) => setTimeout(r, 200))
        assert.deepEqual(alerts.filter((a) => a.name === 'drift.output'), [], 'no drift before the answers change')
      }
    }
    await waitFor(() => alerts.some((a) => a.name === 'drift.output'))
    const drifted = new Set(alerts.filter((a) => a.name === 'drift.output' && a.status === 'firing').map((a) => a.labels.detector))
    assert.deepEqual([...drifted], ['template:support'])
  } finally {
    router.close()
    s.stop()
  }
})

test('observe() checks the drift options', () => {
  assert.throws(() => observe({ driftSampleEvery: 0 }), (e) => e.param === 'driftSampleEvery' && /driftSampleEvery/.test(e.message))
  assert.throws(() => observe({ drift: 'yes' }), /drift=yes must be a boolean/)
  observe({ drift: false })
})

test('a worker thread reads calls with its own field names (the native name cache is per thread)', async () => {
  const { Worker } = require('node:worker_threads')
  const llmCall = path.join(__dirname, '..', 'bindings-node', 'llm_call.js')
  const code = `
    const { parentPort } = require('node:worker_threads')
    const { recordCall } = require(${JSON.stringify(llmCall)})
    const out = []
    for (let i = 0; i < 3; i++) {
      const r = recordCall(undefined, 'chat', 'openai', {
        request: { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
        response: { model: 'm-worker', id: 'r' + i, choices: [{ finish_reason: 'stop', message: { content: 'a' } }], usage: { prompt_tokens: 3 + i, completion_tokens: 4 } },
      })
      out.push([r.model, r.inputTokens, r.outputTokens])
    }
    parentPort.postMessage(out)`
  const run = () =>
    new Promise((resolve, reject) => {
      const w = new Worker(code, { eval: true })
      w.once('message', resolve)
      w.once('error', reject)
    })
  const want = [['m-worker', 3, 4], ['m-worker', 4, 4], ['m-worker', 5, 4]]
  assert.deepEqual(await run(), want)
  assert.deepEqual(await run(), want) // a second worker: a new env on a new thread
  const { recordCall } = require('../bindings-node/llm_call.js')
  const main = recordCall(undefined, 'chat', 'openai', { request: { model: 'm' }, response: { model: 'm-main', usage: { prompt_tokens: 1, completion_tokens: 2 } } })
  assert.deepEqual([main.model, main.inputTokens, main.outputTokens], ['m-main', 1, 2])
})
