'use strict'
// The real RateLimiter in the policy pipeline's limiter slot (built in parallel against a protocol).

const test = require('node:test')
const assert = require('node:assert/strict')
const { Policy, RateLimiter, RetryError, RateLimitedError } = require('ferrule')

test('the limiter slot waits inside the deadline and refuses beyond it', async () => {
  const lim = RateLimiter.tokenBucket({ rate: 2, perMs: 1000, burst: 2 })  // the third call waits ~500 ms: real time, so leave slack
  const p = new Policy({ retry: { attempts: 1 }, rateLimiter: lim, totalTimeoutMs: 1000 })
  const out = []
  for (let i = 0; i < 3; i++) out.push(await p.execute(async () => 'ok'))
  assert.deepEqual(out, ['ok', 'ok', 'ok'])
  assert.ok(lim.stats().waits >= 1, 'the third call had to wait')

  const slow = RateLimiter.tokenBucket({ rate: 1, perMs: 10000, burst: 1 })
  const q = new Policy({ retry: { attempts: 1 }, rateLimiter: slow, totalTimeoutMs: 200 })
  assert.equal(await q.execute(async () => 'ok'), 'ok')
  await assert.rejects(q.execute(async () => 'ok'), (e) => {
    assert.ok(e instanceof RetryError, String(e))
    assert.ok(e.errors.at(-1) instanceof RateLimitedError)
    return true
  })
})
