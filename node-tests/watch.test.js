'use strict'
// The watchers from Node, on a manual clock: SLO burn alerts and the budget hook, anomaly detection
// and its series cap, drift with the built-in and a user embedder, the error predictor, listener
// errors counted, refused configuration in Node names and units.

const test = require('node:test')
const assert = require('node:assert/strict')
const { SLO, AnomalyDetector, DriftDetector, ErrorPredictor, ManualClock } = require('ferrule')

function rng(seed) {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

test('an SLO pages on an outage and its budget hook runs on exhaustion and recovery', () => {
  const clock = new ManualClock()
  const seen = []
  const budget = []
  const slo = new SLO('checkout', { objective: 0.99, windowDays: 3, onEvent: (e) => seen.push(e), clock })
  slo.on('budget', (exhausted) => budget.push(exhausted))
  for (let i = 0; i < 600; i++) {
    clock.advance(1000)
    assert.deepEqual(slo.record(true, 200), [])
  }
  // An outage pages at once; the 3-day budget (1% of a 3-day window's calls at this rate) is spent
  // after about 43 minutes of it, not after two.
  for (let i = 0; i < 50 * 60; i++) {
    clock.advance(1000)
    slo.record(false, 200)
    if (i === 120) assert.equal(slo.stats().budgetBasis, 'extrapolated')
  }
  const page = seen.find((e) => e.name === 'slo.burn_rate' && e.severity === 'critical')
  assert.deepEqual({ ...page.labels }, { slo: 'checkout', alert: 'page' })
  assert.equal(page.dedupKey, 'slo.burn_rate:checkout:checkout:page')
  assert.ok(Object.isFrozen(page))
  // One page; the ticket rule (3 d / 6 h) is not armed before six hours of watching.
  assert.equal(seen.filter((e) => e.name === 'slo.burn_rate' && e.state === 'firing').length, 1)
  const exhausted = seen.find((e) => e.name === 'slo.budget_exhausted')
  assert.ok(exhausted.atMs - 600_000 >= 42 * 60_000 && exhausted.atMs - 600_000 <= 45 * 60_000, `${exhausted.atMs}`)
  assert.deepEqual(budget, [true])
  assert.ok(slo.budgetRemaining() < 0)
  assert.ok(slo.burnRate(300_000) > 14.4)
  clock.advance(3 * 86_400_000 + 3_600_000)
  assert.deepEqual(
    slo.evaluate().filter((e) => e.name === 'slo.budget_exhausted').map((e) => e.state),
    ['resolved'],
  )
  assert.deepEqual(budget, [true, false])
  const s = slo.stats()
  assert.equal(s.rules.length, 3)
  assert.equal(s.syntheticExcluded, 0)
})

test('synthetic calls are excluded; a listener that throws is counted and reported', async () => {
  const clock = new ManualClock()
  const slo = new SLO('s', { objective: 0.99, clock })
  slo.on('event', () => {
    throw new Error('listener bug')
  })
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  slo.record(false, 10, true)
  for (let i = 0; i < 3000; i++) {
    clock.advance(100)
    slo.record(false, 10)
  }
  await new Promise((r) => setImmediate(r))
  process.off('warning', onWarning)
  const s = slo.stats()
  assert.equal(s.syntheticExcluded, 1)
  assert.ok(s.listenerErrors >= 1)
  assert.ok(warnings.some((w) => w.code === 'FERRULE_LISTENER_ERROR'))
})

test('refused configuration names the Node option, the value and the range', () => {
  const refused = (make, kind, re) =>
    assert.throws(make, (e) => {
      assert.equal(e.constructor, kind, e.message)
      assert.equal(e.code, 'FERRULE_INVALID_CONFIG')
      assert.match(e.message, re)
      return true
    })
  refused(() => new SLO('x', { objective: 1 }), RangeError, /^SLO: objective=1 is out of range; allowed: \(0, 1\)$/)
  refused(() => new SLO('x', { kind: 'latency' }), TypeError, /thresholdMs=null conflicts/)
  refused(() => new SLO('x', { thresholdMs: -5, kind: 'latency' }), RangeError, /thresholdMs=-5 is out of range/)
  refused(() => new SLO('x', { objectiv: 0.9 }), TypeError, /unknown option objectiv=0.9; allowed: objective, windowDays/)
  refused(() => new AnomalyDetector('x', 'm', { minDurationMs: -1 }), RangeError, /minDurationMs=-1 is out of range/)
  refused(() => new AnomalyDetector('x', 'm', { method: 'zscore' }), RangeError, /method="zscore"/)
  refused(() => new DriftDetector('x', { baseline: 'sometimes' }), RangeError, /baseline="sometimes"/)
  refused(() => new DriftDetector('x', { windowSize: 1.5 }), RangeError, /windowSize=1.5 is out of range/)
  refused(() => new ErrorPredictor('x', { resolveProbability: 0.9 }), RangeError, /resolveProbability=0.9/)
  refused(() => new ErrorPredictor('x', { intervalMs: 500 }), RangeError, /intervalMs=500 is out of range; allowed: \[1000, 3600000\]/)
  refused(() => new SLO('x').burnRate(10), RangeError, /windowMs=10 is out of range/)
})

for (const method of ['ewma', 'mad']) {
  test(`the ${method} detector fires on a sustained shift, not on outliers`, () => {
    const clock = new ManualClock()
    const events = []
    const d = new AnomalyDetector('latency', 'latency_ms', { method, onEvent: (e) => events.push(e), clock })
    const r = rng(1)
    for (let i = 0; i < 3600; i++) {
      clock.advance(1000)
      d.observe(i % 300 === 299 ? 50_000 : 1000 + 200 * (r() - 0.5), { model: 'gpt', template: 'faq' })
    }
    assert.deepEqual(events, [])
    const onset = clock.now()
    for (let i = 0; i < 600; i++) {
      clock.advance(1000)
      d.observe(1500 + 200 * (r() - 0.5), { model: 'gpt', template: 'faq' })
    }
    const firing = events.filter((e) => e.state === 'firing')
    assert.equal(firing.length, 1)
    const after = firing[0].atMs - onset
    assert.ok(after >= 60_000 && after <= 180_000, `${after}`)
    assert.deepEqual({ ...firing[0].labels }, { metric: 'latency_ms', model: 'gpt', template: 'faq' })
    assert.equal(d.series()[0].observations, 4200)
  })
}

test('anomaly series are capped, with one overflow event', () => {
  const events = []
  const d = new AnomalyDetector('cost', 'cost_usd', { maxSeries: 10, onEvent: (e) => events.push(e), clock: new ManualClock() })
  for (let i = 0; i < 1000; i++) d.observe(1, { model: `m${i}`, template: 't' })
  const s = d.stats()
  assert.equal(s.series, 10)
  assert.equal(s.overflowed, 991)
  assert.deepEqual(events.map((e) => e.name), ['watch.series_overflow'])
})

const USUAL = [
  'Your order has shipped and should arrive by Friday.',
  'The invoice for March is 120 dollars, due on Monday.',
  'To reset your password open Settings and choose Security.',
  'The refund was approved and reaches your card in five days.',
]
const DRIFTED = ['{"status": "shipped", "eta": "friday"}', 'As an AI language model I cannot access your account.', '{"invoice": "march", "amount": 120}']

test('drift with the built-in embedder fires within 200 outputs; manual accept resolves', () => {
  const events = []
  const d = new DriftDetector('answers', { baseline: 'manual', dim: 128, onEvent: (e) => events.push(e), clock: new ManualClock() })
  const r = rng(2)
  const text = (pool) => `${pool[Math.floor(r() * pool.length)]} (ref ${Math.floor(r() * 1000)})`
  for (let i = 0; i < 500; i++) d.observe(text(USUAL), { tokens: 20 })
  assert.deepEqual(events, [])
  let firedAt = null
  for (let i = 0; i < 300; i++) if (d.observe(text(DRIFTED), { tokens: 12 }).length > 0 && firedAt === null) firedAt = i
  assert.ok(firedAt !== null && firedAt < 200, `${firedAt}`)
  assert.deepEqual(d.accept().map((e) => e.state), ['resolved'])
  const s = d.stats()
  assert.ok(s.memoryBytes <= s.maxMemoryBytes)
})

test('a user embedder: its errors are counted, dimensions are checked', () => {
  const d = new DriftDetector('u', {
    embedder: (t) => {
      if (t === 'boom') throw new Error('model down')
      return [1, t.length, 0.5]
    },
    clock: new ManualClock(),
  })
  assert.deepEqual(d.observe('hello'), [])
  assert.deepEqual(d.observe('boom'), [])
  assert.equal(d.stats().embedderErrors, 1)
  assert.throws(() => d.observeVector([1, 2]), /3 dimensions/)
})

test('the error predictor learns to warn before failures; its model moves', () => {
  const clock = new ManualClock()
  const p = new ErrorPredictor('provider', { clock })
  const r = rng(3)
  const episode = (degrade) => {
    const out = []
    for (let minute = 0; minute < 40; minute++) {
      for (let i = 0; i < 60; i++) {
        clock.advance(1000)
        let p429 = 0
        let fail = 0
        let remaining = '80'
        if (degrade && minute >= 20 && minute < 30) [p429, remaining] = [0.03 * (minute - 19), '5']
        else if (degrade && minute >= 30) [p429, fail, remaining] = [0.3, 0.4, '1']
        const x = r()
        const outcome = x < p429 ? 'rate_limited' : x < p429 + fail ? 'error' : 'ok'
        out.push(...p.observe(outcome, 1000, { headers: { 'x-ratelimit-remaining-requests': remaining, 'x-ratelimit-limit-requests': '100' } }))
      }
    }
    return out
  }
  for (let i = 0; i < 30; i++) episode(i % 2 === 0)
  const start = clock.now()
  const warn = episode(true).filter((e) => e.state === 'firing')
  assert.ok(warn.length > 0)
  const minute = (warn[0].atMs - start) / 60_000
  assert.ok(minute >= 20 && minute < 31, `${minute}`)
  assert.equal(warn[0].name, 'predict.error_rate')
  const q = new ErrorPredictor('copy', { model: p.export(), clock: new ManualClock() })
  assert.deepEqual(q.export(), p.export())
  assert.throws(() => q.load([1, 2]), RangeError)
  assert.throws(() => q.observe('teapot', 1), /outcome="teapot"/)
})
