'use strict'
// Retry, timeouts, fallback and the composed policy from Node, against the real `openai` SDK's
// errors built from real responses of a local scripted server. Timing runs on a manual clock (waits
// advance it), except where real cancellation is the point.

const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const net = require('node:net')
const OpenAI = require('openai')
const { Policy, resilient, RetryError, TimeoutError, FerruleError, CircuitBreaker, CircuitOpenError, ManualClock, transient } =
  require('ferrule')

// ---- a scripted OpenAI-compatible server -----------------------------------------------------------

function completion(content) {
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: 1700000000,
    model: 'gpt-test',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  }
}
const ok = (content = 'hello') => [200, {}, completion(content)]
const error = (status, headers = {}) => [status, headers, { error: { message: `status ${status}`, type: 'test_error', code: null } }]

const server = { script: [], requests: 0 }
const httpServer = http.createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    const i = Math.min(server.requests, server.script.length - 1)
    server.requests++
    const [status, headers, body] = server.script[i]
    const data = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers })
    res.end(data)
  })
})
let baseURL
test.before(async () => {
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve))
  baseURL = `http://127.0.0.1:${httpServer.address().port}/v1`
})
test.after(() => new Promise((resolve) => httpServer.close(resolve)))

function serve(...replies) {
  server.script = replies
  server.requests = 0
}
function client() {
  return new OpenAI({ baseURL, apiKey: 'test', maxRetries: 0 })
}
async function ask(c) {
  const r = await c.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] })
  return r.choices[0].message.content
}
async function caught(reply) {
  serve(reply)
  try {
    await ask(client())
  } catch (e) {
    return e
  }
  throw new Error('expected a failure')
}
function closedPort() {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

const constant = (delayMs) => ({ kind: 'constant', delayMs })
function policy(clock, retry = {}, rest = {}) {
  return new Policy({ retry: { attempts: 4, backoff: constant(1000), budgetRatio: null, ...retry }, clock, ...rest })
}

// ---- what is transient ---------------------------------------------------------------------------

test('transient statuses from real responses; client errors never', async () => {
  for (const s of [408, 409, 429, 500, 502, 503]) {
    const e = await caught(error(s))
    assert.ok(e instanceof OpenAI.APIError && e.status === s)
    assert.equal(transient(e), true, String(s))
  }
  for (const s of [400, 401, 403, 404, 422]) assert.equal(transient(await caught(error(s))), false, String(s))
  assert.ok((await caught(error(429))) instanceof OpenAI.RateLimitError)
  assert.ok((await caught(error(500))) instanceof OpenAI.InternalServerError)
  const dead = new OpenAI({ baseURL: `http://127.0.0.1:${await closedPort()}/v1`, apiKey: 't', maxRetries: 0 })
  await assert.rejects(ask(dead), (e) => e instanceof OpenAI.APIConnectionError && transient(e))
  assert.equal(transient(new TypeError('x')), false)
})

test('server hints are read from real responses', async () => {
  const waits = []
  const retryHint = async (reply) => {
    serve(reply, ok())
    const q = policy(new ManualClock(), { attempts: 2, backoff: constant(1), maxRetryAfterMs: 120_000, onRetry: (a, d) => waits.push(d) })
    await q.wrap((_ctx) => ask(client()))()
    return waits.pop()
  }
  assert.equal(await retryHint(error(429, { 'retry-after': '7' })), 7000)
  assert.equal(await retryHint(error(503, { 'retry-after-ms': '250' })), 250)
  const date = new Date(Date.now() + 30_000).toUTCString()
  const d = await retryHint(error(503, { 'retry-after': date }))
  assert.ok(d >= 28_000 && d <= 30_000, String(d))
  const reset = { 'x-ratelimit-reset-requests': '1m30s', 'x-ratelimit-remaining-requests': '0' }
  assert.equal(await retryHint(error(429, reset)), 90_000)
  // The reset headers ride on every response: a 500 does not read them (the backoff's 1 ms applies).
  assert.equal(await retryHint(error(500, reset)), 1)
})

// ---- the loop on a manual clock ---------------------------------------------------------------

test('retries real failures then succeeds, waiting exactly the backoff', async () => {
  const clock = new ManualClock()
  const c = client()
  const seen = []
  const call = resilient(
    (ctx, prompt) => {
      seen.push([ctx.attempt, ctx.deadlineMs, prompt])
      return ask(c)
    },
    { retry: { attempts: 4, backoff: constant(2000), budgetRatio: null }, clock },
  )
  serve(error(503), error(429), ok('fine'))
  const t0 = clock.now()
  assert.equal(await call('p'), 'fine')
  assert.equal(clock.now() - t0, 4000)
  assert.deepEqual(seen, [[1, undefined, 'p'], [2, undefined, 'p'], [3, undefined, 'p']])
})

test('exponential waits grow and cap', async () => {
  const waits = []
  const p = policy(new ManualClock(), {
    attempts: 5,
    backoff: { kind: 'exponential', initialMs: 500, maxMs: 3000, jitter: 'none' },
    onRetry: (a, d) => waits.push(d),
  })
  await assert.rejects(p.execute(() => Promise.reject(Object.assign(new Error('down'), { code: 'ECONNRESET' }))), RetryError)
  assert.deepEqual(waits, [500, 1000, 2000, 3000])
})

test('RetryError carries every attempt, the reason and the last cause', async () => {
  const gaveUp = []
  const p = policy(new ManualClock(), { attempts: 3, backoff: constant(100), onGiveUp: (e) => gaveUp.push(e) })
  serve(error(500), error(502), error(503))
  const e = await p.wrap(() => ask(client()))().catch((x) => x)
  assert.ok(e instanceof RetryError && e instanceof FerruleError)
  assert.equal(e.attempts, 3)
  assert.equal(e.reason, 'attempts')
  assert.deepEqual(e.errors.map((x) => x.status), [500, 502, 503])
  assert.equal(e.cause, e.errors[2])
  assert.equal(e.code, 'FERRULE_RETRY_EXHAUSTED')
  assert.deepEqual(gaveUp, [e])
})

test('client errors are thrown as they are, after one attempt', async () => {
  const p = policy(new ManualClock())
  serve(error(401))
  await assert.rejects(p.wrap(() => ask(client()))(), OpenAI.AuthenticationError)
  assert.equal(server.requests, 1)
  assert.equal(p.stats().notRetryable, 1)
})

test('a hint beyond the cap or the deadline gives up at once', async () => {
  const clock = new ManualClock()
  const p = policy(clock, { maxRetryAfterMs: 10_000 })
  serve(error(429, { 'retry-after': '3600' }))
  const t0 = clock.now()
  const e = await p.wrap(() => ask(client()))().catch((x) => x)
  assert.equal(e.reason, 'retry_after_too_long')
  assert.equal(clock.now(), t0)
  const q = policy(clock, { attempts: 100, backoff: constant(3000), maxElapsedMs: 10_000 })
  serve(error(503))
  const t1 = clock.now()
  const e2 = await q.wrap(() => ask(client()))().catch((x) => x)
  assert.equal(e2.reason, 'deadline')
  assert.equal(clock.now() - t1, 9000)
})

test('retryOnResult retries an empty completion', async () => {
  const p = policy(new ManualClock(), { attempts: 3, retryOnResult: (text) => text === '' })
  serve(ok(''), ok(''), ok('finally'))
  assert.equal(await p.wrap(() => ask(client()))(), 'finally')
  serve(ok(''))
  const e = await p.wrap(() => ask(client()))().catch((x) => x)
  assert.ok(e instanceof RetryError)
  assert.deepEqual(e.errors, [undefined, undefined, undefined])
  assert.equal(e.lastResult, '')
})

test('the retry budget stops a retry storm', async () => {
  const p = new Policy({
    retry: { attempts: 5, backoff: constant(0), budgetRatio: 0.1, minRetriesPerSecond: 0.2, budgetWindowMs: 10_000 },
    clock: new ManualClock(),
  })
  let calls = 0
  const down = p.wrap(() => {
    calls++
    return Promise.reject(Object.assign(new Error('outage'), { code: 'ECONNREFUSED' }))
  })
  for (let i = 0; i < 100; i++) await assert.rejects(down(), (e) => e.reason === 'budget')
  const s = p.stats()
  assert.equal(s.retries, 12)
  assert.equal(calls, 112)
  assert.equal(s.budgetDenied, 100)
})

// ---- cancellation and timeouts -------------------------------------------------------------------

test('an AbortSignal cuts a wait short at once', async () => {
  const ac = new AbortController()
  const p = new Policy({
    retry: { attempts: 3, backoff: constant(30_000), budgetRatio: null, onRetry: () => setImmediate(() => ac.abort(new Error('stop'))) },
  })
  let calls = 0
  const t0 = performance.now()
  await assert.rejects(
    p.execute(() => {
      calls++
      return Promise.reject(Object.assign(new Error('x'), { code: 'ECONNRESET' }))
    }, { signal: ac.signal }),
    /stop/,
  )
  assert.ok(performance.now() - t0 < 1000)
  assert.equal(calls, 1)
})

test('an attempt timeout rejects with TimeoutError and aborts the signal the function read', async () => {
  const signals = []
  const p = new Policy({ retry: { attempts: 2, backoff: constant(0), budgetRatio: null }, timeoutMs: 30 })
  const e = await p
    .execute((ctx) => {
      signals.push(ctx.signal)
      assert.equal(typeof ctx.deadlineMs, 'number')
      return new Promise(() => {})
    })
    .catch((x) => x)
  assert.ok(e instanceof RetryError)
  assert.ok(e.errors.every((x) => x instanceof TimeoutError && x.code === 'FERRULE_TIMEOUT'))
  assert.equal(signals.length, 2)
  assert.ok(signals.every((s) => s.aborted && s.reason instanceof TimeoutError))
  assert.equal(p.stats().timeouts, 2)
  // Many concurrent attempts share the one timer; the fast ones are not disturbed.
  const q = new Policy({ timeoutMs: 1000 })
  const vals = await Promise.all(Array.from({ length: 1000 }, (_, i) => q.execute(async () => i)))
  assert.equal(vals[999], 999)
})

// ---- fallback, breaker and limiter slots ---------------------------------------------------------

test('fallback: a value, a function of the error and the arguments, a chain; counted and warned', async () => {
  const warnings = []
  const onWarning = (w) => warnings.push(w.code)
  process.on('warning', onWarning)
  // Process warnings are fed from the core's logger, which folds repeats of one line: off here, so
  // every fallback's warning is seen.
  require('ferrule').configure({ logDedupMs: 0 })
  try {
    serve(error(503))
    const c = client()
    assert.equal(await resilient(() => ask(c), { fallback: 'busy' })(), 'busy')
    const got = []
    assert.equal(await resilient((ctx, x) => ask(c), { fallback: (err, x) => (got.push([err.status, x]), 'fn') })('arg'), 'fn')
    assert.deepEqual(got, [[503, 'arg']])
    const chain = new Policy({ fallback: [() => Promise.reject(new Error('cheaper down')), () => 'canned'] })
    assert.equal(await chain.wrap(() => ask(c))(), 'canned')
    assert.equal(chain.stats().fallbacks, 1)
    const none = new Policy({ fallback: [() => Promise.reject(new Error('cheaper down'))] })
    const e = await none.wrap(() => ask(c))().catch((x) => x)
    assert.equal(e.message, 'cheaper down')
    assert.ok(e.cause instanceof OpenAI.InternalServerError)
    assert.equal(none.stats().fallbackFailures, 1)
    await new Promise((r) => setImmediate(r))
    assert.ok(warnings.filter((w) => w === 'FERRULE_FALLBACK').length >= 4)
  } finally {
    process.off('warning', onWarning)
  }
})

test('an open breaker is waited out when it fits, else the loop gives up at once', async () => {
  const clock = new ManualClock()
  const breaker = new CircuitBreaker('llm', { consecutiveFailures: 2, failureRate: null, minCalls: 1, openMs: 5000, clock })
  const p = policy(clock, { attempts: 4, backoff: constant(1000), maxElapsedMs: 60_000 }, { breaker })
  serve(error(503), error(503), ok('recovered'))
  const t0 = clock.now()
  assert.equal(await p.wrap(() => ask(client()))(), 'recovered')
  assert.equal(clock.now() - t0, 6000)
  assert.equal(breaker.state, 'closed')
  breaker.forceOpen()
  const e = await p.execute(() => 'never').catch((x) => x)
  assert.equal(e.reason, 'refused')
  assert.ok(e.cause instanceof CircuitOpenError)
})

test('the rate limiter slot: acquire(n, { key, timeoutMs, signal }), refusals waited out', async () => {
  const clock = new ManualClock()
  const calls = []
  const limiter = {
    async acquire(n, opts) {
      calls.push([n, opts.key, opts.timeoutMs])
      if (calls.length <= 2) throw Object.assign(new FerruleError('limited', { code: 'FERRULE_RATE_LIMITED' }), { retryAfterMs: 500 })
    },
  }
  const p = policy(clock, { backoff: constant(10_000) }, { rateLimiter: limiter, totalTimeoutMs: 30_000 })
  const t0 = clock.now()
  assert.equal(await p.execute(() => 'through'), 'through')
  assert.equal(clock.now() - t0, 1000)
  assert.deepEqual(calls.map((c) => c.slice(0, 2)), [[1, undefined], [1, undefined], [1, undefined]])
  assert.equal(calls[0][2], 30_000)
  assert.equal(calls[2][2], 29_000)
})

// ---- bad configuration -----------------------------------------------------------------------------

test('bad configuration names the option, the value and the range', () => {
  const cases = [
    [{ retry: { attempts: 0 } }, RangeError, 'attempts=0 is out of range; allowed: an integer in [1, 1000]'],
    [{ retry: { backoff: { multiplier: 0.5 } } }, RangeError, 'multiplier=0.5 is out of range; allowed: [1, 1000]'],
    [{ retry: { backoff: { kind: 'constant', delayMs: -1 } } }, RangeError, 'delayMs=-1 is out of range'],
    [{ retry: { backoff: { jitter: 'fulll' } } }, RangeError, 'jitter="fulll" is out of range'],
    [{ timeoutMs: -5 }, RangeError, 'timeoutMs=-5 is out of range'],
    [{ retry: { attemps: 3 } }, TypeError, 'unknown option attemps=3'],
    [{ timeout: 5 }, TypeError, 'unknown option timeout=5'],
    [{ retry: { backoff: { kind: 'fibonacci' } } }, RangeError, "kind=\"fibonacci\" is out of range"],
  ]
  for (const [opts, cls, needle] of cases) {
    assert.throws(() => new Policy(opts), (e) => e instanceof cls && e.code === 'FERRULE_INVALID_CONFIG' && e.message.includes(needle), needle)
  }
})

test('the shared timer expires exactly the attempts still running, in any mix', async () => {
  const p = new Policy({ timeoutMs: 40 })
  const results = await Promise.allSettled(
    Array.from({ length: 200 }, (_, i) => p.execute(() => (i % 3 === 0 ? new Promise(() => {}) : Promise.resolve(i)))),
  )
  results.forEach((r, i) => {
    if (i % 3 === 0) assert.ok(r.status === 'rejected' && r.reason instanceof TimeoutError, String(i))
    else assert.deepEqual(r, { status: 'fulfilled', value: i })
  })
  assert.equal(p.stats().timeouts, 67)
  // Later calls still get a timer after the queue emptied.
  await assert.rejects(p.execute(() => new Promise(() => {})), TimeoutError)
})

// ---- chaos ---------------------------------------------------------------------------------------

const { Chaos } = require('ferrule')

test('chaos is deterministic with a seed, off unless configured', async () => {
  async function run(seed) {
    const f = new Chaos({ errorRate: 0.3, seed }).wrap(() => 'ok')
    const out = []
    for (let i = 0; i < 200; i++) out.push(await Promise.resolve(f()).then(() => true, () => false))
    return out
  }
  const a = await run(11)
  const b = await run(11)
  const c = await run(12)
  assert.deepEqual(a, b)
  assert.notDeepEqual(a, c)
  const fails = a.filter((x) => !x).length
  assert.ok(fails >= 30 && fails <= 90, String(fails))
  const off = new Chaos().wrap((x) => x)
  for (let i = 0; i < 100; i++) assert.equal(off(i), i)
  assert.throws(() => new Chaos({ errorRate: 2 }), (e) => e instanceof RangeError && e.message.includes('errorRate=2 is out of range; allowed: [0, 1]'))
  assert.throws(() => new Chaos({ errorRatio: 0.1 }), TypeError)
})

test('chaos inside a policy is retried, waits on the policy clock and is counted', async () => {
  const clock = new ManualClock()
  const chaos = new Chaos({ errorRate: 0.5, latencyRate: 1, latencyMs: 200, seed: 3 })
  const p = policy(clock, { attempts: 10, backoff: constant(0) }, { chaos })
  const call = p.wrap(() => 'ok')
  const t0 = clock.now()
  for (let i = 0; i < 20; i++) assert.equal(await call(), 'ok')
  const s = p.stats()
  assert.ok(s.chaosErrorsInjected > 0)
  assert.equal(s.retries, s.chaosErrorsInjected)
  assert.equal(clock.now() - t0, 200 * s.chaosCalls)
})

test('the first attempt with a breaker and a timeout runs the breaker stage exactly as the breaker does', async () => {
  // This path asks the core once before (count, start, breaker acquire) and once after (success and
  // breaker record): transitions from either reach the breaker's listeners, classification holds.
  const clock = new ManualClock()
  const breaker = new CircuitBreaker('first', {
    consecutiveFailures: 2,
    failureRate: null,
    minCalls: 1,
    openMs: 5000,
    halfOpenCalls: 1,
    failureOnResult: (v) => v === 'bad',
    clock,
  })
  const seen = []
  breaker.on('stateChange', (from, to) => seen.push(`${from}>${to}`))
  const p = new Policy({ breaker, timeoutMs: 1000, clock })
  const call = p.wrap((ctx, v) => {
    assert.equal(ctx.attempt, 1)
    if (v instanceof Error) throw v
    return v
  })
  assert.equal(await call('ok'), 'ok')
  assert.equal(await call('bad'), 'bad', 'a value judged a failure still reaches the caller')
  await assert.rejects(call(new Error('boom')), /boom/)
  assert.deepEqual(seen, ['closed>open'])
  const refused = await call('ok').catch((e) => e)
  assert.ok(refused instanceof CircuitOpenError)
  clock.advance(5000)
  assert.equal(await call('ok'), 'ok')
  assert.deepEqual(seen, ['closed>open', 'open>half_open', 'half_open>closed'])
  const b = breaker.stats()
  assert.equal(b.calls, 4)
  assert.equal(b.successes, 2)
  assert.equal(b.failures, 2)
  assert.equal(b.rejected, 1)
  const s = p.stats()
  assert.equal(s.calls, 5)
  assert.equal(s.successes, 3)
  assert.equal(s.failures, 2)
})
