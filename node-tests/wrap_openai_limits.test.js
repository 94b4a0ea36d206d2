'use strict'
// Token budgets through `wrapOpenAI(client, { limits, key })` with the real `openai` package against
// the mock: each request pre-charges its estimate under the tenant's key and is settled to the
// usage the mock reported; one tenant's burst leaves the other's budget whole. Also the `rateLimit`
// wrapper (Python's `rate_limit` decorator): costs, keys, timeouts and settling with `usage`.

const test = require('node:test')
const assert = require('node:assert/strict')
const OpenAI = require('openai')
const { MockLLMServer, ManualClock, RateLimiter, Limits, RateLimitedError, wrapOpenAI, runInContext, rateLimit } = require('ferrule')

const messages = (i) => [
  { role: 'system', content: `You are the triage assistant for ticket ${1000 + i}. Answer with one label.` },
  { role: 'user', content: `request ${i}: what now?` },
]

test('two tenants share one TPM budget; settled totals equal the mock usage; a burst spends only its own key', async () => {
  const clock = new ManualClock()
  const limit = 20_000
  const tpm = RateLimiter.slidingLog({ limit, windowMs: 60_000, name: 'callrec-tpm', clock })
  const rpm = RateLimiter.slidingLog({ limit: 1000, windowMs: 60_000, name: 'callrec-rpm', clock })
  const used = { alice: 0, bob: 0 }
  const s = new MockLLMServer()
  try {
    const client = wrapOpenAI(new OpenAI({ baseURL: s.url, apiKey: 'k' }), { limits: new Limits({ requests: rpm, tokens: tpm }) })
    // Alice bursts first: each request pre-charges its estimate (prompt + max_tokens = 2000+).
    for (const [tenant, n] of [['alice', 6], ['bob', 2]]) {
      await runInContext({ userId: tenant }, async () => {
        for (let i = 0; i < n; i++) {
          const r = await client.chat.completions.create({ model: 'm', messages: messages(i), max_tokens: 2000 })
          used[tenant] += r.usage.prompt_tokens + r.usage.completion_tokens
        }
      })
      // Alice's burst spent none of Bob's keyed budget: all of it is still there.
      if (tenant === 'alice') assert.equal(tpm.peek(limit, 'bob'), 0)
    }
  } finally {
    s.stop()
  }
  // Settled exactly: what is left in each tenant's window is the limit minus the mock's usage.
  for (const [tenant, n] of Object.entries(used)) {
    assert.ok(n > 0 && n < limit, `${tenant}: ${n}`)
    assert.ok(tpm.tryAcquire(limit - n, tenant), tenant)
    assert.ok(!tpm.tryAcquire(1, tenant), tenant)
  }
  assert.ok(rpm.tryAcquire(1000 - 6, 'alice') && !rpm.tryAcquire(1, 'alice'))
})

test('a spent budget makes its own tenant wait (virtual time), keyed by a key() function', async () => {
  const clock = new ManualClock()
  const tpm = RateLimiter.slidingWindow({ limit: 3000, windowMs: 60_000, name: 'callrec-tpm-wait', clock })
  let tenant = 'a'
  const s = new MockLLMServer()
  try {
    const client = wrapOpenAI(new OpenAI({ baseURL: s.url, apiKey: 'k' }), { limits: new Limits({ tokens: tpm }), key: () => tenant })
    const t0 = clock.now()
    await client.chat.completions.create({ model: 'm', messages: messages(0), max_tokens: 2500 })
    assert.equal(clock.now(), t0, 'the first request fits')
    tenant = 'b'
    await client.chat.completions.create({ model: 'm', messages: messages(1), max_tokens: 2500 })
    assert.equal(clock.now(), t0, "b's budget is its own")
    // a's window holds its settled usage (tens of tokens), so an estimate just under the limit
    // (2960 + the prompt's ~30) no longer fits until the window moves on.
    tenant = 'a'
    await client.chat.completions.create({ model: 'm', messages: messages(2), max_tokens: 2960 })
    assert.ok(clock.now() > t0, 'a waited for its own window')
  } finally {
    s.stop()
  }
})

test('wrapOpenAI checks limits and key', () => {
  const client = new OpenAI({ apiKey: 'k' })
  assert.throws(() => wrapOpenAI(client, { limits: 3 }), /limits=3 is not allowed/)
  const limits = new Limits({ tokens: RateLimiter.tokenBucket({ rate: 1000, perMs: 60_000 }) })
  assert.throws(() => wrapOpenAI(client, { limits, key: 'tenant' }), /key="tenant" is not allowed/)
})

test('rateLimit over a RateLimiter: cost and key per call, timeoutMs refuses a long wait', async () => {
  const clock = new ManualClock()
  const rl = RateLimiter.tokenBucket({ rate: 2, perMs: 1000, burst: 4, clock, name: 'rl-wrap' })
  const calls = []
  const send = rateLimit(rl, { cost: (n) => n, key: (n, user) => user, timeoutMs: 0 })(async function send(n, user) {
    calls.push([n, user])
    return n * 10
  })
  assert.equal(send.name, 'send')
  assert.equal(await send(3, 'u1'), 30)
  assert.equal(await send(4, 'u2'), 40) // another key: its own bucket
  await assert.rejects(send(2, 'u1'), (e) => e instanceof RateLimitedError && e.key === 'u1' && e.limiter === 'rl-wrap')
  assert.deepEqual(calls, [[3, 'u1'], [4, 'u2']], 'a refused call never runs')
  // Without a timeout the call waits (virtual time) instead.
  const wait = rateLimit(rl, { key: () => 'u1' })((x) => x)
  const t0 = clock.now()
  for (let i = 0; i < 3; i++) await wait(i)
  assert.ok(clock.now() > t0)
})

test('rateLimit over Limits settles the reservation with usage(result)', async () => {
  const clock = new ManualClock()
  const tpm = RateLimiter.slidingLog({ limit: 1000, windowMs: 60_000, clock, name: 'rl-tpm' })
  const rpm = RateLimiter.slidingLog({ limit: 10, windowMs: 60_000, clock, name: 'rl-rpm' })
  const limits = new Limits({ requests: rpm, tokens: tpm })
  const ask = rateLimit(limits, { cost: () => ({ requests: 1, tokens: 500 }), key: (t) => t, usage: (r) => ({ tokens: r.used }) })(
    async (tenant, used) => ({ used }),
  )
  await ask('t', 120)
  await ask('t', 80)
  // Estimates of 500 + 500 were settled to 120 + 80: 800 left.
  assert.ok(tpm.tryAcquire(800, 't') && !tpm.tryAcquire(1, 't'))
  assert.ok(rpm.tryAcquire(8, 't') && !rpm.tryAcquire(1, 't'))
  // A number cost charges the first limit.
  const one = rateLimit(limits, { cost: () => 1 })(() => 'ok')
  assert.equal(await one(), 'ok')
})

test('rateLimit checks its arguments at wrap time', () => {
  const rl = RateLimiter.tokenBucket({ rate: 1, perMs: 1000 })
  assert.throws(() => rateLimit({}), /not a ferrule RateLimiter or Limits/)
  assert.throws(() => rateLimit(rl, { cost: 3 }), /cost=3 is not a function/)
  assert.throws(() => rateLimit(rl, { timeoutMs: -1 }), (e) => e instanceof RangeError && /timeoutMs=-1/.test(e.message))
  assert.throws(() => rateLimit(rl, { usage: () => ({}) }), /usage needs a ferrule Limits/)
  assert.throws(() => rateLimit(rl, { retries: 2 }), /unknown option retries=2/)
  assert.throws(() => rateLimit(rl)(42), /fn=42 is not a function/)
})
