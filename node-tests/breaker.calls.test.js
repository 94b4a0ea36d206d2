'use strict'
// execute and wrap: sync and async functions, values and errors passed through, outcomes recorded.

const test = require('node:test')
const assert = require('node:assert/strict')
const { CircuitBreaker } = require('ferrule')

test('execute runs a sync function and resolves with its value', async () => {
  const b = new CircuitBreaker('sync')
  const p = b.execute(() => 42)
  assert.ok(p instanceof Promise)
  assert.equal(await p, 42)
  assert.equal(b.stats().successes, 1)
})

test('execute awaits an async function', async () => {
  const b = new CircuitBreaker('async')
  assert.deepEqual(await b.execute(async () => ({ ok: true })), { ok: true })
  assert.equal(b.stats().successes, 1)
})

test('a thenable that is not a Promise is awaited', async () => {
  const b = new CircuitBreaker('thenable')
  const thenable = { then: (ok) => ok('from thenable') }
  assert.equal(await b.execute(() => thenable), 'from thenable')
  assert.equal(b.stats().successes, 1)
})

test('a sync throw becomes a rejection with the same error, counted as a failure', async () => {
  const b = new CircuitBreaker('sync-throw')
  const boom = new Error('boom')
  await assert.rejects(
    b.execute(() => {
      throw boom
    }),
    (e) => e === boom,
  )
  assert.equal(b.stats().failures, 1)
})

test('an async rejection passes through unchanged, counted as a failure', async () => {
  const b = new CircuitBreaker('async-reject')
  const boom = new TypeError('nope')
  await assert.rejects(
    b.execute(async () => {
      throw boom
    }),
    (e) => e === boom,
  )
  const s = b.stats()
  assert.equal(s.failures, 1)
  assert.equal(s.calls, 1)
  assert.equal(s.consecutiveFailures, 1)
})

test('non-Error throwables pass through too', async () => {
  const b = new CircuitBreaker('throw-string')
  await assert.rejects(
    b.execute(() => Promise.reject('plain string')),
    (e) => e === 'plain string',
  )
  assert.equal(b.stats().failures, 1)
})

test('wrap passes arguments and this through and returns a Promise', async () => {
  const b = new CircuitBreaker('wrap')
  const obj = {
    base: 10,
    add: b.wrap(async function add(x, y) {
      return this.base + x + y
    }),
  }
  assert.equal(obj.add.name, 'add')
  assert.equal(await obj.add(1, 2), 13)
  const syncGuarded = b.wrap((...args) => args.length)
  assert.equal(await syncGuarded(1, 2, 3), 3)
  assert.equal(b.stats().successes, 2)
})

test('execute rejects a non-function without taking a permit; wrap throws', async () => {
  const b = new CircuitBreaker('not-fn', { halfOpenCalls: 1 })
  await assert.rejects(b.execute(42), TypeError)
  assert.throws(() => b.wrap('x'), TypeError)
  assert.equal(b.stats().calls, 0)
})

test('stats has exactly the documented fields', async () => {
  const b = new CircuitBreaker('stats')
  await b.execute(() => 1)
  assert.deepEqual(b.stats(), {
    name: 'stats',
    state: 'closed',
    forced: false,
    calls: 1,
    successes: 1,
    failures: 0,
    ignored: 0,
    slow: 0,
    rejected: 0,
    transitions: 0,
    consecutiveFailures: 0,
    windowCalls: 1,
    windowFailures: 0,
    windowSlow: 0,
    openRemainingMs: null,
    listenerErrors: 0,
    classifierErrors: 0,
  })
  assert.equal(b.name, 'stats')
  assert.equal(b.state, 'closed')
})

test('the default config trips on a 50% failure rate after 10 calls in a window of 20', async () => {
  const b = new CircuitBreaker('defaults')
  for (let i = 0; i < 9; i++) await b.execute(() => Promise.reject(new Error('x'))).catch(() => {})
  assert.equal(b.state, 'closed') // 9 calls < minCalls
  await b.execute(() => Promise.reject(new Error('x'))).catch(() => {})
  assert.equal(b.state, 'open')
  const s = b.stats()
  // The core keeps open-until in whole ms, rounded up.
  assert.ok(s.openRemainingMs > 29000 && s.openRemainingMs <= 30001, String(s.openRemainingMs))
})

test('breakers the program drops are collected (native finalizers run) without harm', async () => {
  const v8 = require('node:v8')
  const vm = require('node:vm')
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc')
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 2000; i++) {
      const b = new CircuitBreaker(`tmp-${i}`, { window: 100 })
      await b.execute(() => i)
    }
    gc()
    await new Promise((r) => setImmediate(r)) // Node runs native finalizers after the GC
  }
  const b = new CircuitBreaker('after-gc')
  assert.equal(await b.execute(() => 'alive'), 'alive')
})
