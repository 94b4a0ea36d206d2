'use strict'
// RateLimiter with a RedisBackend against a real redis-server on a free loopback port (started here,
// stopped after): limiters of one name in separate backends share one bucket, the GCRA script gives the
// local limiter's answers on a manual clock, and each onBackendError policy holds with Redis stopped.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const net = require('node:net')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { RateLimiter, RedisBackend, ManualClock, DeadLetterQueue, CircuitBreaker, CircuitOpenError } = require('ferrule')

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
    s.on('error', reject)
  })
}

async function startRedis(port, dir) {
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    cwd: dir,
    stdio: 'ignore',
  })
  const deadline = Date.now() + 10000
  for (;;) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.end()
        resolve(true)
      })
      c.on('error', () => resolve(false))
    })
    if (ok) return proc
    if (Date.now() > deadline) throw new Error('redis-server did not start')
    await new Promise((r) => setTimeout(r, 20))
  }
}

function stopRedis(proc) {
  return new Promise((resolve) => {
    proc.once('exit', resolve)
    proc.kill('SIGKILL')
  })
}

let port, dir, proc
test.before(async () => {
  port = await freePort()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferrule-redis-'))
  proc = await startRedis(port, dir)
})
test.after(async () => {
  if (proc) await stopRedis(proc)
  fs.rmSync(dir, { recursive: true, force: true })
})

const url = () => `redis://127.0.0.1:${port}/0`
const unique = (p) => `${p}-${process.pid}-${process.hrtime.bigint()}`

test('limiters of one name in different backends share one bucket', () => {
  const prefix = unique('share')
  const a = RateLimiter.tokenBucket({ rate: 1, perMs: 3600e3, burst: 3, name: 'api', backend: new RedisBackend({ url: url(), prefix }) })
  const b = RateLimiter.tokenBucket({ rate: 1, perMs: 3600e3, burst: 3, name: 'api', backend: new RedisBackend({ url: url(), prefix }) })
  const other = RateLimiter.tokenBucket({ rate: 1, perMs: 3600e3, burst: 3, name: 'other', backend: new RedisBackend({ url: url(), prefix }) })
  assert.deepEqual([a.tryAcquire(2), b.tryAcquire(1), b.tryAcquire(), a.tryAcquire()], [true, true, false, false])
  assert.equal(other.tryAcquire(3), true, 'another name is another bucket')
})

test('on a manual clock the Redis bucket answers exactly as the local one', () => {
  const clock = new ManualClock()
  clock.advance(1_700_000_000_000)
  const backend = new RedisBackend({ url: url(), prefix: unique('exact') })
  const local = RateLimiter.tokenBucket({ rate: 50, perMs: 1000, burst: 4, name: 'x', clock })
  const remote = RateLimiter.tokenBucket({ rate: 50, perMs: 1000, burst: 4, name: 'x', clock, backend })
  for (const [dt, n] of [[0, 3], [0, 2], [10, 1], [20, 2], [5, 4], [80, 4], [1, 1], [37, 2]]) {
    clock.advance(dt)
    assert.equal(remote.tryAcquire(n), local.tryAcquire(n), `at +${dt} ms, n=${n}`)
    assert.equal(remote.peek(n), local.peek(n))
  }
})

test('bad backend options fail at construction by name', () => {
  assert.throws(() => new RedisBackend({ url: url(), onBackendError: 'maybe' }), (e) => e instanceof RangeError && /onBackendError|on_backend_error/.test(e.message))
  assert.throws(() => new RedisBackend({ url: url(), timeoutMs: 0 }), (e) => e instanceof RangeError && /timeoutMs/.test(e.message))
  assert.throws(() => new RedisBackend({}), TypeError)
  assert.throws(() => RateLimiter.tokenBucket({ rate: 1, backend: 'redis://x' }), TypeError)
  assert.throws(() => RateLimiter.slidingLog({ limit: 1, windowMs: 1000, backend: new RedisBackend({ url: url() }) }), /backend/)
})

test('Redis stopped and restarted: each policy decides without waiting, then Redis is used again', async () => {
  const make = (onBackendError) => {
    const backend = new RedisBackend({ url: url(), prefix: unique(onBackendError), onBackendError, timeoutMs: 50, retryMs: 100 })
    return [RateLimiter.tokenBucket({ rate: 1, perMs: 3600e3, burst: 2, name: 'f', backend }), backend]
  }
  const [open, bo] = make('fail_open')
  const [closed] = make('fail_closed')
  const [local, bl] = make('local')
  for (const l of [open, closed, local]) assert.deepEqual([l.tryAcquire(2), l.tryAcquire()], [true, false])
  await stopRedis(proc)
  proc = undefined
  const t0 = Date.now()
  assert.deepEqual(Array.from({ length: 5 }, () => open.tryAcquire()), Array(5).fill(true))
  assert.deepEqual(Array.from({ length: 5 }, () => closed.tryAcquire()), Array(5).fill(false))
  assert.deepEqual(Array.from({ length: 3 }, () => local.tryAcquire()), [true, true, false])
  await assert.rejects(closed.acquire(1, { timeoutMs: 20 }))
  assert.ok(Date.now() - t0 < 1000, `no caller waited on a dead Redis: ${Date.now() - t0} ms`)
  assert.equal(bo.isUp, false)
  assert.ok(bo.stats().fallbacks >= 5)
  proc = await startRedis(port, dir)
  await new Promise((r) => setTimeout(r, 150))
  const deadline = Date.now() + 5000
  while (!local.tryAcquire()) {
    assert.ok(Date.now() < deadline, 'never recovered')
    await new Promise((r) => setTimeout(r, 50))
  }
  assert.equal(bl.isUp, true)
  assert.equal(bl.stats().recoveries, 1)
})

test('a dead-letter queue on Redis Streams is shared: written by one backend, replayed through another', async () => {
  const prefix = unique('dlq')
  const writer = new DeadLetterQueue({ backend: new RedisBackend({ url: url(), prefix }), name: 'ask', mask: false })
  const ids = ['a', 'poison', 'b'].map((p) => writer.push({ p }, { errors: ['429'] }))
  assert.ok(ids.every((id) => typeof id === 'number'))
  const reader = new DeadLetterQueue({ backend: new RedisBackend({ url: url(), prefix }), name: 'ask' })
  assert.equal(reader.size, 3)
  const seen = []
  const r = await reader.replay((item) => {
    seen.push(item.data().p)
    if (item.data().p === 'poison') throw new Error('still broken')
  })
  assert.deepEqual(seen, ['a', 'poison', 'b'])
  assert.deepEqual(r, { succeeded: 2, failed: 1, skipped: 0, busy: 0 })
  const [left] = await writer.list()
  assert.equal(left.id, ids[1])
  assert.deepEqual(left.errors, ['429', 'Error: still broken'])
  assert.throws(() => new DeadLetterQueue({ backend: {} }), TypeError)
})

test('a breaker opened in one process rejects in another within syncMs', async () => {
  const name = unique('llm')
  const syncMs = 200
  // The other process: a breaker of the same name, polling until the shared open reaches it.
  const child = spawn(process.execPath, ['-e', `
    const { CircuitBreaker, RedisBackend, CircuitOpenError } = require('ferrule')
    const br = new CircuitBreaker(${JSON.stringify(name)}, { backend: new RedisBackend({ url: ${JSON.stringify(url())}, prefix: 'mp' }), syncMs: ${syncMs}, openMs: 30000 })
    console.log('ready')
    const end = Date.now() + 20000
    const poll = () => br.execute(() => 1).then(
      () => (Date.now() < end ? setTimeout(poll, 2) : (console.log('never'), process.exit(0))),
      (e) => { console.log(e instanceof CircuitOpenError ? 'rejected ' + Date.now() : 'error ' + e); process.exit(0) })
    poll()
  `], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = []
  let ready
  const readyP = new Promise((r) => (ready = r))
  const done = new Promise((r) => child.on('exit', r))
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (d) => {
    lines.push(...d.split('\n').filter(Boolean))
    if (lines.includes('ready')) ready()
  })
  await readyP
  const br = new CircuitBreaker(name, { backend: new RedisBackend({ url: url(), prefix: 'mp' }), syncMs, minCalls: 5, openMs: 30000 })
  for (let i = 0; i < 5; i++) await assert.rejects(br.execute(() => { throw new Error('provider down') }))
  assert.equal(br.state, 'open')
  const openedAt = Date.now()
  await done
  const last = lines[lines.length - 1]
  assert.match(last, /^rejected \d+$/, `the other process saw the open breaker: ${lines}`)
  const delay = Number(last.split(' ')[1]) - openedAt
  assert.ok(delay <= syncMs + 150, `picked up within syncMs (+ a round trip and the poll): ${delay} ms`)
  assert.throws(() => new CircuitBreaker('x', { backend: new RedisBackend({ url: url() }), syncMs: 0 }), RangeError)
  assert.throws(() => new CircuitBreaker('x', { backend: {} }), TypeError)
})

test("a peer's open reaches 'stateChange' listeners, marked peer", async () => {
  const name = unique('peer')
  const br = new CircuitBreaker(name, { backend: new RedisBackend({ url: url(), prefix: 'mp' }), syncMs: 50, openMs: 30000 })
  const seen = []
  br.on('stateChange', (from, to, info) => seen.push({ from, to, reason: info.reason, peer: info.peer, openForMs: info.openForMs }))
  // The other process trips its breaker of the same name and waits until the open is published.
  const child = spawn(process.execPath, ['-e', `
    const { CircuitBreaker, RedisBackend } = require('ferrule')
    const br = new CircuitBreaker(${JSON.stringify(name)}, { backend: new RedisBackend({ url: ${JSON.stringify(url())}, prefix: 'mp' }), syncMs: 50, consecutiveFailures: 1, openMs: 30000 })
    br.execute(() => { throw new Error('down') }).catch(() => {
      const wait = () => (br.syncStats().publishedOpens >= 1 ? process.exit(0) : setTimeout(wait, 5))
      wait()
    })
  `], { stdio: 'inherit' })
  await new Promise((r) => child.on('exit', r))
  const deadline = Date.now() + 5000
  while (seen.length === 0) {
    assert.ok(Date.now() < deadline, 'the peer open never reached the listener')
    await new Promise((r) => setTimeout(r, 10))
  }
  assert.equal(seen.length, 1)
  const [t] = seen
  assert.deepEqual([t.from, t.to, t.reason, t.peer], ['closed', 'open', 'shared', true])
  assert.ok(t.openForMs > 25000 && t.openForMs <= 30000, `${t.openForMs}`)
  assert.equal(br.state, 'open')
  assert.equal(br.syncStats().appliedOpens, 1)
  // A local trip is not a peer's.
  const own = new CircuitBreaker(unique('own'), { backend: new RedisBackend({ url: url(), prefix: 'mp' }), consecutiveFailures: 1 })
  const infos = []
  own.on('stateChange', (from, to, info) => infos.push(info))
  await assert.rejects(own.execute(() => { throw new Error('x') }))
  assert.deepEqual(infos.map((i) => [i.reason, i.peer]), [['consecutive_failures', false]])
  assert.equal(new CircuitBreaker('plain').syncStats(), null)
})

test('a breaker on failClosed refuses every call while Redis is down and recovers when it returns', async () => {
  const backend = new RedisBackend({ url: url(), prefix: unique('hold'), onBackendError: 'failClosed', timeoutMs: 50, retryMs: 100 })
  const br = new CircuitBreaker('llm', { backend, syncMs: 50, openMs: 30000 })
  const moves = []
  br.on('stateChange', (from, to, info) => moves.push([from, to, info.reason, info.peer]))
  const call = async () => {
    const t0 = Date.now()
    try {
      await br.execute(() => 1)
      return true
    } catch (e) {
      assert.ok(e instanceof CircuitOpenError, String(e))
      return false
    } finally {
      assert.ok(Date.now() - t0 < 50, 'a caller waited on Redis')
    }
  }
  assert.equal(await call(), true)
  await stopRedis(proc)
  proc = undefined
  let deadline = Date.now() + 3000
  while (await call()) {
    assert.ok(Date.now() < deadline, 'never held')
    await new Promise((r) => setTimeout(r, 5))
  }
  for (let i = 0; i < 10; i++) assert.equal(await call(), false)
  const held = br.syncStats()
  assert.equal(held.held, true)
  assert.ok(held.heldRejected >= 11 && held.errors >= 1, JSON.stringify(held))
  proc = await startRedis(port, dir)
  deadline = Date.now() + 5000
  while (!(await call())) {
    assert.ok(Date.now() < deadline, 'never recovered')
    await new Promise((r) => setTimeout(r, 10))
  }
  assert.equal(br.syncStats().held, false)
  // Listeners heard the hold and its end, from the event loop (no call caused them).
  await new Promise((r) => setTimeout(r, 20))
  assert.deepEqual(moves, [
    ['closed', 'open', 'backend_down', false],
    ['open', 'closed', 'backend_up', false],
  ])
})
