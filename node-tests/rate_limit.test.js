'use strict'
// RateLimiter from Node: decisions and exact waits on a manual clock, waits that time out or abort
// taking nothing, keys and eviction, errors and bad input.

const test = require('node:test')
const assert = require('node:assert/strict')
const { RateLimiter, RateLimitedError, FerruleError, ManualClock, configure } = require('ferrule')

const bucket = (clock, options) =>
  RateLimiter.tokenBucket({ rate: 50, perMs: 1000, burst: 10, name: 't', clock, ...options })

test('a token bucket admits the burst, then one per interval', () => {
  const clock = new ManualClock()
  const lim = bucket(clock)
  const got = Array.from({ length: 11 }, () => lim.tryAcquire())
  assert.deepEqual(got, [...Array(10).fill(true), false])
  assert.equal(lim.peek(), 20)
  clock.advance(19)
  assert.equal(lim.tryAcquire(1), false)
  clock.advance(1)
  assert.equal(lim.tryAcquire(1), true)
  const s = lim.stats()
  assert.deepEqual([s.admitted, s.rejected, s.waits, s.algorithm], [11, 2, 0, 'token_bucket'])
})

test('weighted requests and the default burst (one period of rate)', () => {
  const lim = RateLimiter.tokenBucket({ rate: 5, clock: new ManualClock() })
  assert.equal(lim.tryAcquire(3), true)
  assert.equal(lim.tryAcquire(3), false)
  assert.equal(lim.tryAcquire(2), true)
  assert.equal(lim.stats().admittedUnits, 5)
})

test('sliding window weights the previous window; the sliding log is exact', () => {
  const clock = new ManualClock()
  const win = RateLimiter.slidingWindow({ limit: 100, windowMs: 60000, clock })
  clock.advance(60000 - (clock.now() % 60000))
  let n = 0
  for (let i = 0; i < 150; i++) n += win.tryAcquire() ? 1 : 0
  assert.equal(n, 100)
  clock.advance(75000) // a quarter into the next window: 75 of the previous 100 still count
  n = 0
  for (let i = 0; i < 150; i++) n += win.tryAcquire() ? 1 : 0
  assert.equal(n, 25)

  const log = RateLimiter.slidingLog({ limit: 3, windowMs: 10000, clock })
  assert.equal(log.tryAcquire(2), true)
  clock.advance(5000)
  assert.equal(log.tryAcquire(1), true)
  assert.equal(log.tryAcquire(1), false)
  assert.equal(log.peek(), 5000)
})

test('acquire waits exactly the returned wait', async () => {
  const clock = new ManualClock()
  const lim = bucket(clock, { burst: 1 })
  await lim.acquire()
  const t0 = clock.now()
  await lim.acquire(1) // on a manual clock the wait moves the clock instead of sleeping
  assert.equal(clock.now() - t0, 20)
  const s = lim.stats()
  assert.deepEqual([s.admitted, s.waits, s.rejected, s.waitMsTotal], [2, 1, 0, 20])
})

test('a wait longer than timeoutMs rejects at once with RateLimitedError and takes nothing', async () => {
  const clock = new ManualClock()
  const lim = RateLimiter.tokenBucket({ rate: 1, perMs: 60000, burst: 1, clock, name: 'openai' })
  await lim.acquire()
  const t0 = clock.now()
  await assert.rejects(lim.acquire(1, { timeoutMs: 10000 }), (e) => {
    assert.ok(e instanceof RateLimitedError && e instanceof FerruleError)
    assert.equal(e.retryAfterMs, 60000)
    assert.equal(e.limiter, 'openai')
    assert.equal(e.key, null)
    assert.equal(e.code, 'FERRULE_RATE_LIMITED')
    assert.equal(e.message, "rate limiter 'openai' refused the call; retry after 60.000s")
    return true
  })
  assert.equal(clock.now(), t0, 'no pointless wait before giving up')
  await assert.rejects(lim.acquire(1, { timeoutMs: 0 }), RateLimitedError)
  assert.equal(lim.stats().rejected, 2)
  clock.advance(60000)
  assert.equal(lim.tryAcquire(), true, 'the refused calls took nothing')
  assert.equal(lim.tryAcquire(1, 7), true)
  await assert.rejects(lim.acquire(1, { key: 7, timeoutMs: 0 }), (e) => e.key === '7')
})

test('a real wait sleeps about the wait, without blocking the event loop', async () => {
  const lim = RateLimiter.tokenBucket({ rate: 20, perMs: 1000, burst: 1 }) // 50 ms
  await lim.acquire()
  let ticks = 0
  const timer = setInterval(() => ticks++, 1)
  const t0 = performance.now()
  await lim.acquire()
  clearInterval(timer)
  assert.ok(performance.now() - t0 >= 30)
  assert.ok(ticks > 0, 'the event loop ran while waiting')
})

test('an AbortSignal cuts a wait short and takes nothing', async () => {
  const lim = RateLimiter.tokenBucket({ rate: 1, perMs: 60000, burst: 1 }) // a 60 s wait
  await lim.acquire()
  const ac = new AbortController()
  const t0 = performance.now()
  const pending = lim.acquire(1, { signal: ac.signal })
  setTimeout(() => ac.abort(), 5)
  await assert.rejects(pending, { name: 'AbortError' })
  assert.ok(performance.now() - t0 < 1000)
  const s = lim.stats()
  assert.deepEqual([s.admitted, s.waits], [1, 1])
  assert.ok(lim.peek() > 59000, 'still one interval to go, not two')
  await assert.rejects(lim.acquire(1, { signal: AbortSignal.abort() }), { name: 'AbortError' })
})

test('keys are limited independently; any key becomes a string', () => {
  const lim = bucket(new ManualClock(), { burst: 2 })
  for (const key of ['acme', 42, 'x'.repeat(300)]) {
    assert.equal(lim.tryAcquire(1, key), true)
    assert.equal(lim.tryAcquire(1, key), true)
    assert.equal(lim.tryAcquire(1, key), false)
  }
  assert.equal(lim.tryAcquire(1, '42'), false, 'the number 42 and the string "42" are one key')
  assert.equal(lim.tryAcquire(), true, 'no key: its own allowance')
  assert.equal(lim.stats().keys, 3)
})

test('a full key map evicts idle keys first, then the closest to idle, and counts both', () => {
  const clock = new ManualClock()
  const lim = RateLimiter.tokenBucket({ rate: 1, perMs: 1000, burst: 1, maxKeys: 2, clock })
  assert.ok(lim.tryAcquire(1, 'a') && lim.tryAcquire(1, 'b'))
  clock.advance(1000)
  assert.ok(lim.tryAcquire(1, 'c'))
  let s = lim.stats()
  assert.deepEqual([s.keys, s.evictedIdle, s.evictedActive], [1, 2, 0])
  assert.ok(lim.tryAcquire(1, 'd'))
  assert.ok(lim.tryAcquire(1, 'e'))
  s = lim.stats()
  assert.deepEqual([s.keys, s.evictedActive], [2, 1])
  clock.advance(5000)
  assert.equal(lim.evictIdle(), 2)
})

test('a lossy eviction is emitted as a process warning, once', async () => {
  // Process warnings are fed from the core's logger, which folds repeats of one line: off here.
  configure({ logDedupMs: 0 })
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  try {
    const clock = new ManualClock()
    const lim = RateLimiter.tokenBucket({ rate: 1, perMs: 60000, burst: 1, maxKeys: 2, clock, name: 'tenants' })
    assert.equal(lim.tryAcquire(1, 'a'), true)
    assert.equal(lim.tryAcquire(1, 'b'), true)
    assert.equal(lim.tryAcquire(1, 'c'), true, 'the answer is still a boolean when a warning is pending')
    assert.equal(lim.tryAcquire(1, 'c'), false)
    await lim.acquire(1, { key: 'd' }) // evicts again, through the wait path
    await new Promise((resolve) => setImmediate(resolve)) // warnings are delivered on the next tick
    const ours = warnings.filter((w) => w.name === 'FerruleWarning' && w.message.includes("'tenants'"))
    assert.equal(ours.length, 2)
    assert.equal(ours[0].code, 'FERRULE_RATE_LIMIT_EVICTED_ACTIVE')
    assert.match(ours[0].message, /^rate limiter 'tenants': all 2 keys \(maxKeys\) are still limited; evicted 1 closest to idle/)
    assert.equal(lim.stats().evictedActive, 2)
  } finally {
    process.off('warning', onWarning)
  }
})

test('bad configuration: RangeError or TypeError naming the option, value and range', () => {
  const refused = (make, kind, param, message) =>
    assert.throws(make, (e) => {
      assert.equal(e.constructor, kind, `${e.constructor.name}: ${e.message}`)
      assert.equal(e.code, 'FERRULE_INVALID_CONFIG')
      assert.equal(e.param, param)
      if (typeof message === 'string') assert.equal(e.message, message)
      else assert.match(e.message, message)
      return true
    })
  refused(() => RateLimiter.tokenBucket({ rate: 0 }), RangeError, 'rate', 'RateLimiter: rate=0 is out of range; allowed: a finite number > 0')
  refused(() => RateLimiter.tokenBucket({ rate: -1 }), RangeError, 'rate', /rate=-1 is out of range/)
  refused(() => RateLimiter.tokenBucket({}), RangeError, 'rate', /rate=NaN is out of range/)
  refused(() => RateLimiter.tokenBucket({ rate: 5, burst: 0 }), RangeError, 'burst', /burst=0 is out of range; allowed: an integer in \[1, /)
  refused(() => RateLimiter.tokenBucket({ rate: 5, burst: 1.5 }), RangeError, 'burst', /burst=1.5 is out of range/)
  refused(() => RateLimiter.tokenBucket({ rate: 5, perMs: 0 }), RangeError, 'perMs', /perMs=0 is out of range/)
  refused(() => RateLimiter.slidingWindow({ limit: 0, windowMs: 1000 }), RangeError, 'limit', /limit=0 is out of range/)
  refused(() => RateLimiter.slidingWindow({ limit: 5, windowMs: 0 }), RangeError, 'windowMs', /windowMs=0 is out of range/)
  refused(() => RateLimiter.slidingLog({ limit: 5, windowMs: -1 }), RangeError, 'windowMs', /windowMs=-1 is out of range/)
  refused(() => RateLimiter.tokenBucket({ rate: 5, maxKeys: 0 }), RangeError, 'maxKeys', /maxKeys=0 is out of range/)
  refused(() => RateLimiter.tokenBucket({ rate: '5' }), TypeError, 'rate', 'RateLimiter.tokenBucket: rate="5" must be a number')
  refused(() => RateLimiter.tokenBucket({ rate: 5, limit: 3 }), TypeError, 'limit', /unknown option limit=3; allowed: rate, perMs, burst, name, maxKeys, clock/)
  refused(() => RateLimiter.slidingWindow(), TypeError, 'options', /options must be an object/)
})

test('bad requests fail at once', async () => {
  const lim = bucket(new ManualClock())
  const bad = (fn, kind, message) =>
    assert.throws(fn, (e) => e.constructor === kind && message.test(e.message) && e.param === 'n')
  bad(() => lim.tryAcquire(11), RangeError, /^RateLimiter: n=11 is out of range; allowed: an integer in \[1, 10\] \(the burst: a larger request could never pass\)$/)
  bad(() => lim.tryAcquire(0), RangeError, /n=0 is out of range/)
  bad(() => lim.tryAcquire(-1), RangeError, /n=-1 is out of range/)
  bad(() => lim.tryAcquire(1.5), RangeError, /n=1.5 is out of range/)
  bad(() => lim.tryAcquire('1'), TypeError, /n="1" must be a number/)
  await assert.rejects(lim.acquire(11), RangeError)
  await assert.rejects(lim.acquire(1, { timeoutMs: -1 }), { name: 'RangeError', message: /timeoutMs=-1 is out of range/ })
  await assert.rejects(lim.acquire(1, { signal: 'no' }), { name: 'TypeError', message: /signal="no" must be an AbortSignal/ })
  assert.equal(lim.stats().rejected, 0, 'bad requests are not counted as refusals')
})

// ---- Limits and reservations ----

const { Limits } = require('ferrule')

function rpmTpm(clock) {
  const rpm = RateLimiter.tokenBucket({ rate: 500, perMs: 60000, burst: 500, clock, name: 'rpm' })
  const tpm = RateLimiter.slidingLog({ limit: 30000, windowMs: 60000, clock, name: 'tpm' })
  return { limits: new Limits({ requests: rpm, tokens: tpm }), rpm, tpm }
}

test('Limits are all-or-nothing and name the limit that refused', async () => {
  const clock = new ManualClock()
  const { limits, rpm } = rpmTpm(clock)
  assert.equal(limits.tryAcquire({ requests: 1, tokens: 29000 }), true)
  assert.equal(limits.tryAcquire({ requests: 1, tokens: 2000 }), false)
  assert.equal(rpm.stats().admitted, 1, 'the denial by tokens took no request')
  assert.equal(rpm.peek(499), 0)
  await assert.rejects(limits.acquire({ requests: 1, tokens: 2000 }, { timeoutMs: 1000 }), (e) => {
    assert.ok(e instanceof RateLimitedError)
    assert.equal(e.limiter, 'tokens')
    assert.equal(e.retryAfterMs, 60000)
    return true
  })
  const t0 = clock.now()
  const r = await limits.acquire({ requests: 1, tokens: 2000 })
  assert.equal(clock.now() - t0, 60000, 'waited exactly until the tokens left the window')
  assert.deepEqual(r.charged, { requests: 1, tokens: 2000 })
})

test('a Reservation settles once, by refund or extra charge', async () => {
  const clock = new ManualClock()
  const { limits, tpm } = rpmTpm(clock)
  const r = await limits.acquire({ requests: 1, tokens: 20000 }, { key: 'acme' })
  assert.equal(r.key, 'acme')
  r.settle({ tokens: 12000 })
  assert.equal(r.settled, true)
  assert.equal(tpm.peek(18000, 'acme'), 0)
  assert.throws(() => r.settle({ tokens: 1 }), { name: 'TypeError', message: /settles once/ })
  const r2 = await limits.acquire({ requests: 1, tokens: 10000 }, { key: 'acme' })
  r2.settle({ tokens: 20000 })
  const s = tpm.stats()
  assert.deepEqual([s.refundedUnits, s.chargedExtraUnits], [8000, 10000])
  assert.equal(tpm.peek(1, 'acme'), 60000)
  const r3 = await limits.acquire({ requests: 1 })
  assert.throws(() => r3.settle({ bogus: 3 }), { name: 'TypeError', message: /unknown limit bogus; allowed: requests, tokens/ })
  assert.throws(() => r3.settle({ tokens: -1 }), { name: 'RangeError', message: /tokens=-1/ })
})

test('an aborted Limits wait takes nothing; bad costs are refused', async () => {
  const rpm = RateLimiter.tokenBucket({ rate: 1, perMs: 60000, burst: 1 })
  const limits = new Limits({ requests: rpm })
  await limits.acquire({ requests: 1 })
  const ac = new AbortController()
  const pending = limits.acquire({ requests: 1 }, { signal: ac.signal })
  setTimeout(() => ac.abort(), 5)
  await assert.rejects(pending, { name: 'AbortError' })
  assert.equal(rpm.stats().admitted, 1)
  assert.throws(() => limits.tryAcquire({ tokens: 5 }), { name: 'TypeError', message: /unknown limit tokens; allowed: requests/ })
  assert.throws(() => limits.tryAcquire({ requests: 0 }), { name: 'RangeError', message: /at least one cost > 0/ })
  assert.throws(() => limits.tryAcquire({ requests: 2 }), { name: 'RangeError', message: /cost=requests=2 is out of range; allowed: an integer in \[0, 1\]/ })
  assert.throws(() => new Limits({ requests: {} }), TypeError)
  assert.throws(() => new Limits({}), { name: 'RangeError', message: /at least one named limiter/ })
})
