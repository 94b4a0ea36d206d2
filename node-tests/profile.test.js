'use strict'
// GenAI call recording and the prompt profile from Node: the profile's ranking and text table, the
// GenAI series and cost in the exposition, prices, and refusals in Node names and units.

const test = require('node:test')
const assert = require('node:assert/strict')
const { recordLlmCall, setPrice, profile, resetProfile, metricsText } = require('ferrule')

test('the profile ranks templates by cost, latency, tokens and calls', () => {
  resetProfile()
  for (let i = 0; i < 20; i++) {
    recordLlmCall({ model: 'gpt-4o', durationMs: 100 + i * 10, inputTokens: 500, outputTokens: 100, template: 'cheap-fast' })
  }
  for (let i = 0; i < 5; i++) {
    recordLlmCall({
      model: 'claude-opus-4', durationMs: 4000, inputTokens: 4000, outputTokens: 2000, template: 'costly',
      errorType: i < 2 ? 'Timeout' : undefined,
    })
  }
  recordLlmCall({ model: 'gpt-4o-mini', durationMs: 9000, inputTokens: 10, outputTokens: 10, templateText: 'Translate {text}.' })
  const report = profile()
  assert.equal(report.by, 'cost')
  const [costly] = report.rows
  assert.equal(costly.template, 'costly')
  assert.equal(costly.calls, 5)
  assert.equal(costly.errors, 2)
  assert.equal(costly.errorRate, 0.4)
  assert.ok(Math.abs(costly.costUsd - (5 * (4000 * 15 + 2000 * 75)) / 1e6) < 1e-9)
  assert.equal(costly.p50Ms, 4000)
  assert.match(report.top(1, 'latency').rows[0].template, /^tmpl:[0-9a-f]{12}$/)
  assert.equal(report.top(1, 'tokens').rows[0].template, 'costly')
  assert.equal(report.top(1, 'calls').rows[0].template, 'cheap-fast')
  assert.equal(profile({ by: 'calls', n: 2 }).rows.length, 2)
  const text = String(report)
  assert.deepEqual(text.split('\n')[0].split(/\s+/).slice(0, 2), ['template', 'calls'])
  assert.ok(text.includes('costly') && text.includes('cheap-fast'))
  assert.throws(() => report.top(3, 'price'), (e) => e instanceof RangeError && /by="price"/.test(e.message))
})

test('a recorded call reaches the GenAI histograms and the cost counter', () => {
  const model = `node-model-${process.pid}`
  setPrice(model, 1, 2)
  const cost = recordLlmCall({ model, durationMs: 250, inputTokens: 1_000_000, outputTokens: 500_000, traceId: 'abc' })
  assert.ok(Math.abs(cost - 2) < 1e-9)
  const om = metricsText({ openmetrics: true })
  const labels = `gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="${model}"`
  assert.ok(om.includes(`gen_ai_client_operation_duration_seconds_bucket{${labels},error_type="",le="0.32"} 1 # {trace_id="abc"} 0.25\n`), om)
  assert.ok(om.includes(`ferrule_cost_usd_total{gen_ai_provider_name="openai",gen_ai_request_model="${model}"} 2\n`))
})

test('refusals name the Node option, the value given and the range', () => {
  assert.throws(() => recordLlmCall({ model: 'x', durationMs: -5 }), (e) => e instanceof RangeError && /^recordLlmCall: durationMs=-5 is out of range/.test(e.message))
  assert.throws(() => recordLlmCall({ model: 'x', durationMs: 5, inputTokens: 1.5 }), (e) => e instanceof RangeError && /inputTokens=1\.5/.test(e.message))
  assert.throws(() => recordLlmCall({ model: 'x' }), (e) => e instanceof TypeError && /durationMs is required/.test(e.message))
  assert.throws(() => recordLlmCall({ model: 'x', durationMs: 1, tokens: 3 }), (e) => e instanceof TypeError && /unknown option tokens=3/.test(e.message))
  assert.throws(() => setPrice('m', -1, 0), (e) => e instanceof RangeError && /^setPrice: inputPerMillion=-1/.test(e.message))
})
