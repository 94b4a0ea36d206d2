'use strict'
// Breaker transitions are logged by the core, for Node as for Python: one `breaker.transition` event
// per transition through the core's logger (an open at warning, the rest at info), to the logSink.

const test = require('node:test')
const assert = require('node:assert/strict')
const ferrule = require('ferrule')
const { CircuitBreaker, ManualClock } = ferrule

test('every transition is one breaker.transition log event with the same fields as Python', async () => {
  const lines = []
  ferrule.configure({ logSink: (l) => lines.push(JSON.parse(l)), logLevel: 'info', logDedupMs: 0 })
  try {
    const clock = new ManualClock()
    const b = new CircuitBreaker('logged-payments', { consecutiveFailures: 2, openMs: 10_000, clock })
    const boom = () => Promise.reject(new Error('down'))
    await b.execute(boom).catch(() => {})
    await b.execute(boom).catch(() => {})
    clock.advance(10_000)
    assert.equal(await b.execute(() => 1), 1)
    ferrule.flush()
    const ev = lines.filter((e) => e.event === 'breaker.transition' && e.breaker === 'logged-payments')
    assert.deepEqual(
      ev.map((e) => [e.from_state, e.to_state, e.level]),
      [
        ['closed', 'open', 'warning'],
        ['open', 'half_open', 'info'],
        ['half_open', 'closed', 'info'],
      ],
    )
    assert.equal(ev[0].reason, 'consecutive_failures')
    assert.equal(ev[0].open_seconds, 10)
    assert.equal(ev[0].peer, false)
    assert.match(ev[0].message, /circuit breaker 'logged-payments' opened/)
  } finally {
    ferrule.configure({ logSink: 'none' })
  }
})
