'use strict'
// Router health shared through a real redis-server on loopback: a 429 with Retry-After in one router
// cools the endpoint in its namesake (another backend, as in another process) within syncMs, and a
// failover reports its recovery time on the router.recovered event and in stats(). The four-process
// measurement lives in the core's tests (redis_router_health.rs).

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const net = require('node:net')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Router, RedisBackend, ManualClock } = require('ferrule')

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

let port, dir, proc
test.before(async () => {
  port = await freePort()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferrule-redis-'))
  proc = await startRedis(port, dir)
})
test.after(async () => {
  if (proc) {
    await new Promise((resolve) => {
      proc.once('exit', resolve)
      proc.kill('SIGKILL')
    })
  }
  fs.rmSync(dir, { recursive: true, force: true })
})

class StatusError extends Error {
  constructor(status, headers) {
    super(`HTTP ${status}`)
    this.status = status
    this.headers = headers
  }
}

test('a 429 in one router cools the endpoint in its namesake within syncMs', async () => {
  const url = `redis://127.0.0.1:${port}/0`
  const name = `shared-${process.pid}-${Date.now()}`
  const sent = []
  const ep = (label, fail = false) => async () => {
    sent.push(label)
    if (fail) throw new StatusError(429, { 'retry-after': '5' })
    return label
  }
  const syncMs = 100
  const first = new Router({
    name, strategy: 'round_robin', syncMs,
    endpoints: [{ name: 'a', call: ep('1a', true) }, { name: 'b', call: ep('1b') }],
    backend: new RedisBackend({ url, prefix: 'rs' }),
  })
  const events = []
  const second = new Router({
    name, strategy: 'round_robin', syncMs, onEvent: (e) => events.push(e),
    endpoints: [{ name: 'a', call: ep('2a') }, { name: 'b', call: ep('2b') }],
    backend: new RedisBackend({ url, prefix: 'rs' }),
  })
  while (!sent.includes('1a')) await first.execute()
  const t0 = Date.now()
  while (second.stats().endpoints[0].cooldownRemainingMs === 0) {
    assert.ok(Date.now() - t0 < syncMs + 500, 'the cooldown did not reach the other router')
    await new Promise((r) => setTimeout(r, 5))
  }
  const rest = second.stats().endpoints[0].cooldownRemainingMs
  assert.ok(rest > 4500 && rest <= 5000, String(rest))
  sent.length = 0
  for (let i = 0; i < 10; i++) assert.equal(await second.execute(), '2b')
  assert.deepEqual(sent, Array(10).fill('2b'))
  const s = second.syncStats()
  assert.equal(s.appliedCooldowns, 1)
  assert.equal(s.errors, 0)
  assert.ok(first.syncStats().published >= 1)
  assert.ok(events.some((e) => e.event === 'router.cooldown' && e.reason === 'shared'))
  assert.equal(new Router({ endpoints: [{ name: 'x', call: ep('x') }] }).syncStats(), null)
  assert.throws(() => new Router({ endpoints: [{ name: 'x', call: ep('x') }], backend: new RedisBackend({ url }), syncMs: 0 }),
    (e) => /syncMs/.test(e.message))
})

test('a failover reports its recovery time', async () => {
  const clock = new ManualClock()
  let down = false
  const events = []
  const r = new Router({
    name: 'rto-js', strategy: 'round_robin', ejectAfterFailures: 2, clock, onEvent: (e) => events.push(e),
    endpoints: [
      { name: 'p', region: 'eu', call: async () => { clock.advance(100); if (down) throw new StatusError(503, {}); return 'primary' } },
      { name: 's', region: 'us', priority: 1, call: async () => { clock.advance(100); return 'standby' } },
    ],
  })
  assert.equal(await r.execute(), 'primary')
  assert.equal(r.stats().lastFailoverRtoMs ?? null, null)
  down = true
  assert.equal(await r.execute(), 'standby')
  assert.equal(await r.execute(), 'standby')
  assert.equal(r.activeRegion, 'us')
  const rec = events.filter((e) => e.event === 'router.recovered')
  assert.equal(rec.length, 1)
  assert.deepEqual([rec[0].from, rec[0].to], ['eu', 'us'])
  // From the first failure (t=200 ms) to the failover's success (t=500 ms).
  assert.ok(Math.abs(r.stats().lastFailoverRtoMs - 300) < 1e-6, String(r.stats().lastFailoverRtoMs))
  assert.ok(Math.abs(rec[0].ms - 300) < 1e-6, String(rec[0].ms))
})
