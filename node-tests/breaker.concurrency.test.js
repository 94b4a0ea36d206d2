'use strict'
// No lock is held while the user's function runs; half-open admits exactly halfOpenCalls probes.
// Every interleaving here is set by promises resolved by hand, never by timers.

const test = require('node:test')
const assert = require('node:assert/strict')
const { CircuitBreaker, CircuitOpenError, ManualClock } = require('ferrule')
const { deferred, flush } = require('./deferred.js')

test('two executes whose functions are pending run at the same time', async () => {
  const b = new CircuitBreaker('no-lock')
  const first = deferred()
  const second = deferred()
  const started = []
  const p1 = b.execute(() => {
    started.push(1)
    return first.promise
  })
  const p2 = b.execute(() => {
    started.push(2)
    return second.promise
  })
  // Both functions started although neither has finished.
  assert.deepEqual(started, [1, 2])
  // Finish them in the opposite order.
  second.resolve('two')
  assert.equal(await p2, 'two')
  first.resolve('one')
  assert.equal(await p1, 'one')
  assert.equal(b.stats().successes, 2)
})

test('many pending calls, settled in shuffled order, are each recorded once', async () => {
  const b = new CircuitBreaker('many', { window: 100, minCalls: 100 })
  const ds = Array.from({ length: 50 }, () => deferred())
  const ps = ds.map((d, i) => b.execute(() => d.promise).then((v) => assert.equal(v, i), () => 'failed'))
  const order = ds.map((_, i) => (i * 37) % 50)
  for (const i of order) {
    if (i % 5 === 0) ds[i].reject(new Error('x'))
    else ds[i].resolve(i)
    await flush()
  }
  await Promise.all(ps)
  const s = b.stats()
  assert.equal(s.calls, 50)
  assert.equal(s.failures, 10)
  assert.equal(s.successes, 40)
  assert.equal(s.windowCalls, 50)
})

for (const halfOpenCalls of [1, 3]) {
  test(`half-open admits exactly halfOpenCalls=${halfOpenCalls} of many concurrent executes`, async () => {
    const clock = new ManualClock()
    const b = new CircuitBreaker('probes', { consecutiveFailures: 1, openMs: 500, halfOpenCalls, clock })
    const seen = []
    b.on('stateChange', (from, to, info) => seen.push(`${from}->${to}:${info.reason}`))
    await b.execute(() => Promise.reject(new Error('trip'))).catch(() => {})
    clock.advance(500)

    const gates = []
    const results = Array.from({ length: 40 }, () =>
      b
        .execute(() => {
          const d = deferred()
          gates.push(d)
          return d.promise
        })
        .then(
          (v) => ({ ok: v }),
          (e) => ({ err: e }),
        ),
    )
    // Exactly halfOpenCalls functions started; every other call was refused at once.
    assert.equal(gates.length, halfOpenCalls)
    gates.forEach((g, i) => g.resolve(`probe ${i}`))
    const settled = await Promise.all(results)
    const admitted = settled.filter((r) => 'ok' in r)
    const refused = settled.filter((r) => 'err' in r)
    assert.equal(admitted.length, halfOpenCalls)
    assert.equal(refused.length, 40 - halfOpenCalls)
    for (const r of refused) {
      assert.ok(r.err instanceof CircuitOpenError)
      assert.equal(r.err.retryAfterMs, null) // the slots are taken: the wait cannot be known
    }
    assert.equal(b.state, 'closed')
    assert.deepEqual(seen, [
      'closed->open:consecutive_failures',
      'open->half_open:open_elapsed',
      'half_open->closed:probes_succeeded',
    ])
    assert.equal(b.stats().rejected, 40 - halfOpenCalls)
  })
}

test('a late outcome from before a trip does not count against the new state', async () => {
  const clock = new ManualClock()
  const b = new CircuitBreaker('late', { consecutiveFailures: 1, openMs: 100, clock })
  const slow = deferred()
  const pending = b.execute(() => slow.promise).catch(() => {})
  await b.execute(() => Promise.reject(new Error('trip'))).catch(() => {})
  assert.equal(b.state, 'open')
  clock.advance(100)
  assert.equal(await b.execute(() => 'probe'), 'probe')
  assert.equal(b.state, 'closed')
  slow.reject(new Error('late failure')) // admitted before the trip: must not re-open the breaker
  await pending
  assert.equal(b.state, 'closed')
})
