'use strict'
// Router for Node: strategies, cooldowns, ejection, failover/failback on a ManualClock, hedging,
// normalisation, option errors, and two mock LLM servers as two regions where the primary goes down
// mid-run (RTO reported, no request lost).

const test = require('node:test')
const assert = require('node:assert/strict')
const OpenAI = require('openai')
const { Router, ManualClock, MockLLMServer, CircuitOpenError, normalizeChat, metricsText } = require('ferrule')

class StatusError extends Error {
  constructor(status, headers = {}) {
    super(`HTTP ${status}`)
    this.status = status
    this.headers = headers
  }
}

const constant = (v) => () => v

test('weighted follows the weights within 3 points', async () => {
  const r = new Router({ endpoints: [{ name: 'a', call: constant('a'), weight: 1 }, { name: 'b', call: constant('b'), weight: 3 }], seed: 5 })
  let b = 0
  const n = 8000
  for (let i = 0; i < n; i++) if ((await r.execute()) === 'b') b++
  assert.ok(Math.abs(b / n - 0.75) < 0.03, String(b / n))
})

test('round robin is exact and stats count every request', async () => {
  const r = new Router({ endpoints: ['a', 'b', 'c'].map((x) => ({ name: x, call: constant(x) })), strategy: 'round_robin' })
  const got = []
  for (let i = 0; i < 300; i++) got.push(await r.execute())
  for (const x of ['a', 'b', 'c']) assert.equal(got.filter((g) => g === x).length, 100)
  const s = r.stats()
  assert.deepEqual(s.endpoints.map((e) => e.requests), [100, 100, 100])
  assert.equal(s.activeRegion, 'priority-0')
})

test('a failed attempt moves to the next endpoint; a 429 with Retry-After cools it down', async () => {
  const clock = new ManualClock()
  const events = []
  let limited = true
  const a = () => {
    if (limited) {
      limited = false
      throw new StatusError(429, { 'retry-after': '3' })
    }
    return 'a'
  }
  const r = new Router({ endpoints: [{ name: 'a', call: a, weight: 1000 }, { name: 'b', call: constant('b') }], clock, seed: 3, onEvent: (e) => events.push(e) })
  assert.equal(await r.execute(), 'b')
  assert.deepEqual(events.map((e) => e.event), ['router.cooldown'])
  assert.equal(events[0].ms, 3000)
  for (let i = 0; i < 30; i++) {
    clock.advance(99)
    assert.equal(await r.execute(), 'b')
  }
  clock.advance(100)
  assert.equal(await r.execute(), 'a')
})

test('failover and hysteretic failback on a ManualClock', async () => {
  const clock = new ManualClock()
  let up = true
  const events = []
  const r = new Router({
    endpoints: [
      { name: 'eu-1', call: () => { if (!up) throw new Error('region down'); return 'eu' }, region: 'eu', priority: 0 },
      { name: 'us-1', call: constant('us'), region: 'us', priority: 1 },
    ],
    clock,
    ejectAfterFailures: 2,
    ejectionMs: 5000,
    failbackMs: 20000,
    probeIntervalMs: 4000,
    onEvent: (e) => events.push(e.event),
  })
  assert.equal(await r.execute(), 'eu')
  up = false
  for (let i = 0; i < 5; i++) assert.equal(await r.execute(), 'us')
  assert.equal(r.activeRegion, 'us')
  up = true
  clock.advance(5000)
  const answers = []
  for (let i = 0; i < 19; i++) {
    answers.push(await r.execute())
    clock.advance(1000)
    assert.equal(r.activeRegion, 'us')
  }
  assert.ok(answers.includes('eu'), 'trickle probes reached the recovering primary')
  for (let i = 0; i < 3; i++) {
    await r.execute()
    clock.advance(1000)
  }
  assert.equal(r.activeRegion, 'eu')
  assert.deepEqual(events.filter((e) => e.startsWith('router.fail')), ['router.failover', 'router.failback'])
  const s = r.stats()
  assert.equal(s.failovers, 1)
  assert.equal(s.failbacks, 1)
})

test('no endpoint left rejects with CircuitOpenError named after the router', async () => {
  const r = new Router({ name: 'solo', endpoints: [{ name: 'a', call: () => { throw new StatusError(429, { 'retry-after': '7' }) } }], clock: new ManualClock() })
  await assert.rejects(r.execute(), StatusError)
  await assert.rejects(r.execute(), (e) => e instanceof CircuitOpenError && e.breaker === 'router solo' && Math.abs(e.retryAfterMs - 7000) < 1)
})

test('hedging races a second endpoint after the p95 and releases the loser', async () => {
  const clock = new ManualClock()
  let hangNow = false
  const r = new Router({
    endpoints: [
      { name: 'hang', call: async (x) => { if (hangNow) await new Promise(() => {}); clock.advance(10); return `${x}:hang` } },
      { name: 'fast', call: async (x) => { clock.advance(10); return `${x}:fast` } },
    ],
    strategy: 'round_robin',
    clock,
    hedge: true,
    hedgeMinSamples: 5,
    hedgeMaxRatio: 1,
  })
  for (let i = 0; i < 20; i++) await r.execute('w')
  hangNow = true
  for (let i = 0; i < 4; i++) assert.match(await r.execute(`h${i}`), /:fast$/)
  const s = r.stats()
  assert.equal(s.hedges, 2)
  assert.equal(s.endpoints[0].released, 2)
  assert.equal(s.endpoints[0].outstanding, 0)
})

test('round robin is smooth weighted (nginx) and the shares match the weights exactly', async () => {
  const r = new Router({
    endpoints: [{ name: 'a', call: constant('a'), weight: 5 }, { name: 'b', call: constant('b') }, { name: 'c', call: constant('c') }],
    strategy: 'round_robin',
  })
  let seq = ''
  for (let i = 0; i < 7; i++) seq += await r.execute()
  assert.equal(seq, 'aabacaa')
  const got = { a: 0, b: 0, c: 0 }
  for (let i = 0; i < 700; i++) got[await r.execute()]++
  assert.deepEqual(got, { a: 500, b: 100, c: 100 })
})

test('the loser of a hedge race sees its AbortSignal fire; the winner never does', async () => {
  const clock = new ManualClock()
  let hangNow = false
  const aborted = []
  const seen = []
  const r = new Router({
    endpoints: [
      {
        name: 'hang',
        call: async (x, attempt) => {
          seen.push(attempt)
          if (hangNow) {
            await new Promise((resolve, reject) => {
              attempt.signal.addEventListener('abort', () => {
                aborted.push({ x, endpoint: attempt.endpoint, hedge: attempt.hedge, reason: attempt.signal.reason })
                reject(attempt.signal.reason)
              }, { once: true })
            })
          }
          clock.advance(10)
          return `${x}:hang`
        },
      },
      { name: 'fast', call: async (x, attempt) => { seen.push(attempt); clock.advance(10); return `${x}:fast` } },
    ],
    strategy: 'round_robin',
    clock,
    hedge: true,
    hedgeMinSamples: 5,
    hedgeMaxRatio: 1,
  })
  for (let i = 0; i < 20; i++) await r.execute('w')
  hangNow = true
  seen.length = 0
  for (let i = 0; i < 4; i++) assert.match(await r.execute(`h${i}`), /:fast$/)
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(aborted.map((a) => [a.x, a.endpoint, a.hedge]), [['h0', 'hang', false], ['h2', 'hang', false]])
  assert.ok(aborted.every((a) => a.reason instanceof DOMException && a.reason.name === 'AbortError'))
  const winners = seen.filter((a) => a.endpoint === 'fast')
  assert.equal(winners.filter((a) => a.hedge).length, 2, 'two hedges went to fast')
  assert.ok(winners.every((a) => !a.signal.aborted), "a winner's signal never fires")
  const s = r.stats()
  assert.equal(s.hedges, 2)
  assert.equal(s.hedgesLost, 2)
  assert.equal(s.endpoints[0].released, 2)
  assert.equal(s.endpoints[0].successes, 10, 'the aborted losers are not successes')
  assert.equal(s.endpoints[0].outstanding, 0)
})

test('bad options throw RangeError / TypeError naming the option', () => {
  assert.throws(() => new Router({ endpoints: [{ name: 'a', call: constant(1) }, { name: 'b', call: constant(1) }], hedge: true, attempts: 1 }), (e) => e instanceof TypeError && /attempts=1/.test(e.message) && /second attempt/.test(e.message))
  assert.throws(() => new Router({ endpoints: [{ name: 'a', call: constant(1) }], latencyWindowMs: 0 }), (e) => e instanceof RangeError && /latencyWindowMs=0/.test(e.message))
  assert.throws(() => new Router({ endpoints: [] }), (e) => e instanceof RangeError && /endpoints/.test(e.message))
  assert.throws(() => new Router({ endpoints: [{ name: 'a', call: constant(1) }], strategy: 'fastest' }), /round_robin/)
  assert.throws(() => new Router({ endpoints: [{ name: 'a', call: constant(1) }], openMs: -5 }), (e) => e instanceof RangeError && /openMs=-5/.test(e.message))
  assert.throws(() => new Router({ endpoints: [{ name: 'a', call: constant(1), weight: -2 }] }), /weight=-2/)
  assert.throws(() => new Router({ endpoints: [{ name: 'a', call: constant(1) }], attempts: 3 }), /attempts=3/)
  assert.throws(() => new Router({ endpoints: [{ name: 'a', call: 5 }] }), TypeError)
  assert.throws(() => new Router({ endpoints: [{ name: 'a', call: constant(1) }], bogus: 1 }), /unknown option "bogus"/)
})

test('normalizeChat and metrics', async () => {
  const out = normalizeChat({ content: [{ type: 'text', text: 'hi' }], model: 'claude', usage: { input_tokens: 1, output_tokens: 2 } }, 'x')
  assert.equal(out.content, 'hi')
  assert.equal(out.outputTokens, 2)
  assert.throws(() => normalizeChat(42, 'x'), /not a chat response/)
  const r = new Router({ name: 'node-scrape', endpoints: [{ name: 'm', call: constant('x') }] })
  await r.execute()
  assert.match(metricsText(), /ferrule_router_requests_total\{router="node-scrape",endpoint="m"\} 1/)
})

for (const outage of ['stop', '503']) {
  test(`two mock regions, primary goes down mid-run (${outage}): no request lost, RTO reported`, async () => {
    const eu = new MockLLMServer({ faults: outage === '503' ? [{ kind: '503', rate: 1, from: 100 }] : [], seed: 1 })
    const us = new MockLLMServer({ seed: 2 })
    try {
      const client = (s) => {
        const c = new OpenAI({ baseURL: s.url, apiKey: 'k', maxRetries: 0, timeout: 2000 })
        return (prompt) => c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }] })
      }
      const r = new Router({
        endpoints: [
          { name: 'eu-gpt', call: client(eu), region: 'eu', priority: 0 },
          { name: 'us-gpt', call: client(us), region: 'us', priority: 1 },
        ],
        normalize: 'openai',
      })
      let failedAt = null
      let rto = null
      for (let i = 0; i < 300; i++) {
        if (i === 100) {
          if (outage === 'stop') eu.stop()
          failedAt = performance.now()
        }
        const out = await r.execute(`request ${i}`)
        assert.ok(out.content.length > 0)
        if (failedAt !== null && rto === null && out.endpoint === 'us-gpt') rto = performance.now() - failedAt
      }
      const s = r.stats()
      assert.equal(s.activeRegion, 'us')
      assert.equal(s.failovers, 1)
      assert.equal(s.endpoints[0].successes, 100)
      assert.equal(s.endpoints[1].successes, 200)
      console.log(`RTO (${outage}): ${rto.toFixed(2)} ms; primary errors ${s.endpoints[0].errors}, standby answers ${s.endpoints[1].successes}`)
    } finally {
      eu.stop()
      us.stop()
    }
  })
}
