'use strict'
// Time-based windows and slow calls, on a manual clock.

const test = require('node:test')
const assert = require('node:assert/strict')
const { CircuitBreaker, ManualClock } = require('ferrule')

test('a time window forgets failures older than windowMs', async () => {
  const clock = new ManualClock()
  const b = new CircuitBreaker('time-window', { windowMs: 1000, windowBuckets: 10, minCalls: 4, failureRate: 0.5, clock })
  for (let i = 0; i < 3; i++) await b.execute(() => Promise.reject(new Error('x'))).catch(() => {})
  assert.equal(b.stats().windowFailures, 3)
  clock.advance(1500)
  assert.equal(b.stats().windowCalls, 0)
  await b.execute(() => Promise.reject(new Error('x'))).catch(() => {})
  assert.equal(b.state, 'closed') // one call in the window: below minCalls
  for (let i = 0; i < 3; i++) await b.execute(() => Promise.reject(new Error('x'))).catch(() => {})
  assert.equal(b.state, 'open')
})

test('slow calls count in the window and trip on slowCallRate', async () => {
  const clock = new ManualClock()
  const b = new CircuitBreaker('slow', { slowCallMs: 200, slowCallRate: 0.5, window: 4, minCalls: 4, clock })
  const seen = []
  b.on('stateChange', (from, to, info) => seen.push(info.reason))
  const call = (ms) =>
    b.execute(async () => {
      clock.advance(ms)
      return ms
    })
  await call(10)
  await call(250)
  await call(10)
  assert.equal(b.stats().slow, 1)
  await call(300)
  assert.equal(b.stats().windowSlow, 2)
  assert.equal(b.state, 'open')
  assert.deepEqual(seen, ['slow_call_rate'])
})

test('maxOpenMs grows the open time after a failed probe, within bounds', async () => {
  const clock = new ManualClock()
  const b = new CircuitBreaker('backoff', { consecutiveFailures: 1, openMs: 1000, maxOpenMs: 4000, openMultiplier: 2, clock })
  const opens = []
  b.on('stateChange', (from, to, info) => to === 'open' && opens.push(info.openForMs))
  await b.execute(() => Promise.reject(new Error('x'))).catch(() => {})
  clock.advance(opens[0])
  await b.execute(() => Promise.reject(new Error('probe failed'))).catch(() => {})
  assert.equal(opens[0], 1000)
  assert.ok(opens[1] >= 1000 && opens[1] <= 4000, String(opens[1]))
})
