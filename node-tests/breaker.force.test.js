'use strict'
// forceOpen, forceClosed and reset.

const test = require('node:test')
const assert = require('node:assert/strict')
const { CircuitBreaker, CircuitOpenError, ManualClock } = require('ferrule')

test('forceOpen refuses every call until forceClosed or reset, whatever the time', async () => {
  const clock = new ManualClock()
  const b = new CircuitBreaker('force-open', { openMs: 10, clock })
  const seen = []
  b.on('stateChange', (from, to, info) => seen.push([from, to, info.reason]))
  b.forceOpen()
  assert.equal(b.state, 'open')
  assert.equal(b.stats().forced, true)
  assert.equal(b.stats().openRemainingMs, null)
  clock.advance(1e9)
  await assert.rejects(b.execute(() => 1), CircuitOpenError)
  assert.equal(b.state, 'open')
  b.forceClosed()
  assert.equal(await b.execute(() => 1), 1)
  assert.deepEqual(seen, [
    ['closed', 'open', 'forced_open'],
    ['open', 'closed', 'forced_closed'],
  ])
})

test('forceClosed keeps the breaker closed whatever fails', async () => {
  const b = new CircuitBreaker('force-closed', { consecutiveFailures: 1 })
  b.forceClosed()
  for (let i = 0; i < 30; i++) await b.execute(() => Promise.reject(new Error('x'))).catch(() => {})
  assert.equal(b.state, 'closed')
  assert.equal(b.stats().forced, true)
  assert.equal(b.stats().failures, 30)
})

test('reset returns a tripped breaker to a fresh closed state', async () => {
  const b = new CircuitBreaker('reset', { consecutiveFailures: 2 })
  const seen = []
  b.on('stateChange', (from, to, info) => seen.push([from, to, info.reason]))
  await b.execute(() => Promise.reject(new Error('x'))).catch(() => {})
  await b.execute(() => Promise.reject(new Error('x'))).catch(() => {})
  assert.equal(b.state, 'open')
  b.reset()
  assert.equal(b.state, 'closed')
  const s = b.stats()
  assert.equal(s.forced, false)
  assert.equal(s.consecutiveFailures, 0)
  assert.equal(s.windowCalls, 0)
  // One failure after the reset is not yet a run of two.
  await b.execute(() => Promise.reject(new Error('x'))).catch(() => {})
  assert.equal(b.state, 'closed')
  assert.deepEqual(seen.map((s) => s[2]), ['consecutive_failures', 'reset'])
})

test('forcing the state it is already in is not a transition', () => {
  const b = new CircuitBreaker('no-op')
  const seen = []
  b.on('stateChange', (...a) => seen.push(a))
  b.reset()
  assert.deepEqual(seen, [])
})
