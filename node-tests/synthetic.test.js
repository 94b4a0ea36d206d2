'use strict'
// Synthetic traffic stays out of the user's series, as in Python: a probe whose function
// calls through a user's Policy or a wrapped OpenAI client leaves the user's SLO, the policy's
// ferrule_calls_total series and the GenAI metrics untouched; its own results are visible in
// ferrule_synthetic_calls_total, the probe's stats and its gauges.

const test = require('node:test')
const assert = require('node:assert/strict')
const OpenAI = require('openai')
const { CircuitBreaker, ManualClock, MockLLMServer, Policy, SLO, SyntheticProbe, inProbe, metricsText, wrapOpenAI } = require('../bindings-node/index.js')

function value(series) {
  const line = metricsText().split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}
const calls = (name, outcome) => value(`ferrule_calls_total{component="policy",name="${name}",outcome="${outcome}"}`)
const synthetic = (component, name, outcome) => value(`ferrule_synthetic_calls_total{component="${component}",name="${name}",outcome="${outcome}"}`)

test('a probe through a wrapped policy leaves the user SLO and metrics untouched', async () => {
  const clock = new ManualClock()
  const slo = new SLO('node-iso-slo', { objective: 0.99, clock })
  const breaker = new CircuitBreaker('node-iso-breaker', { clock })
  const policy = new Policy({ name: 'node-iso-policy', breaker, clock })
  let fail = false
  const ask = policy.wrap(async () => {
    if (fail) throw new Error('down')
    return 'pong'
  })
  const userRequest = async () => {
    try {
      const out = await ask()
      slo.record(true, 100)
      return out
    } catch (e) {
      slo.record(false, 100)
      throw e
    }
  }
  for (let i = 0; i < 3; i++) assert.equal(await userRequest(), 'pong')
  assert.equal(calls('node-iso-policy', 'success'), 3)
  assert.equal(slo.stats().total, 3)

  const probe = new SyntheticProbe('node-iso-probe', userRequest, 10_000, 5_000, { expect: (r) => r === 'pong', jitter: 0, clock })
  assert.equal(await probe.runOnce(), true)
  fail = true
  for (let i = 0; i < 2; i++) {
    clock.advance(10_000)
    assert.equal(await probe.runOnce(), false)
  }
  // The user's series did not move...
  assert.equal(calls('node-iso-policy', 'success'), 3)
  assert.equal(calls('node-iso-policy', 'failure'), 0)
  assert.equal(policy.stats().calls, 3)
  const st = slo.stats()
  assert.deepEqual([st.total, st.bad, st.syntheticExcluded], [3, 0, 3])
  // ...and the probe's traffic is visible, as synthetic.
  assert.equal(synthetic('policy', 'node-iso-policy', 'success'), 1)
  assert.equal(synthetic('policy', 'node-iso-policy', 'failure'), 2)
  const s = probe.stats()
  assert.deepEqual([s.runs, s.ok, s.failed], [3, 1, 2])
  assert.equal(value('ferrule_probe_runs_total{probe="node-iso-probe",result="failed"}'), 2)
  const rows = probe.gauges()
  assert.ok(rows.some(([n, l, v]) => n === 'ferrule_probe_runs_total' && l.result === 'ok' && v === 1))
  // Outside a probe the user's calls count again.
  fail = false
  assert.equal(await userRequest(), 'pong')
  assert.equal(calls('node-iso-policy', 'success'), 4)
  assert.equal(slo.stats().total, 4)
})

test('the synthetic mark follows the probe through awaits and timers, and only the probe', async () => {
  const clock = new ManualClock()
  const policy = new Policy({ name: 'node-iso-async', clock })
  let release
  const gate = new Promise((r) => {
    release = r
  })
  const marks = []
  const ask = policy.wrap(async () => {
    await gate
    await new Promise((r) => setTimeout(r, 1))
    marks.push(inProbe())
    return 'pong'
  })
  const probe = new SyntheticProbe('node-iso-async-probe', () => ask(), 10_000, 5_000, { jitter: 0, clock })
  const p = probe.runOnce()
  const u = ask()
  assert.equal(inProbe(), false)
  release()
  assert.equal(await p, true)
  assert.equal(await u, 'pong')
  assert.deepEqual(marks.sort(), [false, true])
  assert.equal(calls('node-iso-async', 'success'), 1, 'only the user call is a user call')
  assert.equal(synthetic('policy', 'node-iso-async', 'success'), 1)
})

test('a probe through a wrapped OpenAI client stays out of the GenAI metrics', async () => {
  const s = new MockLLMServer()
  try {
    const model = 'node-iso-probe-model'
    const client = wrapOpenAI(new OpenAI({ baseURL: s.url, apiKey: 'k', maxRetries: 0 }), { policy: new Policy({ name: 'node-iso-openai' }) })
    const chat = async () => (await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'ping' }] })).choices[0].message.content
    const genai = () =>
      metricsText()
        .split('\n')
        .filter((l) => l.startsWith('gen_ai_client_operation_duration_seconds_count{') && l.includes(`"${model}"`))
        .reduce((a, l) => a + Number(l.split(' ').pop()), 0)
    await chat()
    assert.equal(genai(), 1)
    const probe = new SyntheticProbe('node-iso-openai-probe', chat, 60_000, 10_000, { jitter: 0, start: false })
    assert.equal(await probe.runOnce(), true)
    assert.equal(genai(), 1, "the probe's call is not in the user's GenAI histogram")
    assert.equal(synthetic('llm', model, 'success'), 1)
    assert.equal(calls('node-iso-openai', 'success'), 1)
    assert.equal(synthetic('policy', 'node-iso-openai', 'success'), 1)
  } finally {
    s.stop()
  }
})

test('watchers fed inside a probe keep the probe out of their baselines', async () => {
  const { AnomalyDetector, ErrorPredictor } = require('../bindings-node/index.js')
  const clock = new ManualClock()
  const anomaly = new AnomalyDetector('node-iso-anomaly', 'latency', { clock })
  const predictor = new ErrorPredictor('node-iso-predictor', { clock })
  const feed = async () => {
    await Promise.resolve()
    anomaly.observe(200, { model: 'm' })
    predictor.observe('error', 200)
    return true
  }
  await feed()
  const probe = new SyntheticProbe('node-iso-watchers', feed, 10_000, 5_000, { jitter: 0, clock })
  assert.equal(await probe.runOnce(), true)
  assert.equal(anomaly.stats().syntheticExcluded, 1)
  assert.equal(predictor.stats().syntheticExcluded, 1)
  assert.deepEqual(anomaly.series().map((s) => s.observations), [1], "only the user's value is in the baseline")
})

test('thousands of interleaved user calls beside a probe count exactly', async () => {
  const policy = new Policy({ name: 'node-iso-many' })
  const ask = policy.wrap(async () => {
    await new Promise((r) => setImmediate(r))
    return 1
  })
  const probe = new SyntheticProbe(
    'node-iso-many-probe',
    async () => {
      for (let i = 0; i < 50; i++) await Promise.all(Array.from({ length: 10 }, () => ask()))
      return true
    },
    60_000,
    30_000,
    { jitter: 0, start: false },
  )
  const users = Array.from({ length: 40 }, async () => {
    for (let i = 0; i < 50; i++) await ask()
  })
  const [ok] = await Promise.all([probe.runOnce(), ...users])
  assert.equal(ok, true)
  assert.equal(calls('node-iso-many', 'success'), 40 * 50)
  assert.equal(synthetic('policy', 'node-iso-many', 'success'), 500)
  assert.equal(policy.stats().calls, 40 * 50)
})
