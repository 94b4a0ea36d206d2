'use strict'
// Hostile inputs from Node, each the exact reproduction of a failure seen before: stalled scrapers,
// SQL that writes or never ends, overflowing durations, PII in every sink, emit() on values JSON
// cannot hold, fractional counts, an already aborted signal.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const http = require('node:http')
const { execFileSync } = require('node:child_process')
const ferrule = require('ferrule')

function tmpdir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ferrule-hostile-'))
}

function get(port) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = ''
      res.on('data', (c) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode, body }))
    }).on('error', reject)
  })
}

test('five idle connections do not delay a scrape', async () => {
  const server = ferrule.serveMetrics({ port: 0 })
  const idle = []
  try {
    for (let i = 0; i < 5; i++) idle.push(net.connect(server.port, '127.0.0.1'))
    const half = net.connect(server.port, '127.0.0.1', () => half.write('GET /metr'))
    idle.push(half)
    await new Promise((r) => setTimeout(r, 50))
    const t0 = performance.now()
    const r = await get(server.port)
    const ms = performance.now() - t0
    assert.equal(r.status, 200)
    assert.ok(ms < 1000, `scrape took ${ms} ms behind idle connections`)
  } finally {
    for (const s of idle) s.destroy()
    server.stop()
  }
})

test('query is read-only and bounded in time', () => {
  ferrule.configure({ otlpEndpoint: false, logSink: 'none' })
  const dir = tmpdir()
  const log = new ferrule.InferenceLog().open(path.join(dir, 'log.db'))
  try {
    for (let i = 0; i < 3; i++) log.record({ model: 'gpt-4o', outcome: 'success' })
    const copy = path.join(dir, 'copy.db')
    for (const sql of [`VACUUM INTO '${copy}'`, 'BEGIN', `ATTACH DATABASE '${copy}' AS o`, 'DELETE FROM inference_log']) {
      assert.throws(() => log.query(sql), (e) => typeof e.code === 'string' && /sql=/.test(e.message), sql)
    }
    assert.equal(fs.existsSync(copy), false)
    log.record({ model: 'gpt-4o', outcome: 'success' })
    assert.equal(log.query('SELECT COUNT(*) AS n FROM inference_log')[0].n, 4)
    const t0 = performance.now()
    assert.throws(
      () => log.query('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT MAX(x) FROM c', [], { timeoutMs: 300 }),
      (e) => e instanceof ferrule.StorageError && /time limit/.test(e.message),
    )
    assert.ok(performance.now() - t0 < 3000)
    assert.equal(log.query('SELECT COUNT(*) AS n FROM inference_log')[0].n, 4)
  } finally {
    log.close()
  }
})

test('overflowing durations are config errors, not internal errors', () => {
  assert.throws(() => new ferrule.Policy({ retry: { maxElapsedMs: 1e308 } }), (e) => e.code === 'FERRULE_INVALID_CONFIG' && /maxElapsedMs/.test(e.message))
  assert.throws(() => new ferrule.DeadMansSwitch('x', 1e308), (e) => e.code === 'FERRULE_INVALID_CONFIG')
  assert.throws(
    () => new ferrule.Router({ endpoints: [{ name: 'a', call: async () => 1, weight: 1e308 }, { name: 'b', call: async () => 2 }] }),
    (e) => e.code === 'FERRULE_INVALID_CONFIG' && /weight/.test(e.message),
  )
})

test('emit never throws on BigInt, cycles or throwing toString', () => {
  const dir = tmpdir()
  const file = path.join(dir, 'app.log')
  ferrule.configure({ logSink: { file }, logDedupMs: 0 })
  try {
    const cyclic = { a: 1 }
    cyclic.self = cyclic
    const evil = { toString() { throw new Error('no') }, toJSON() { throw new Error('no') } }
    assert.equal(typeof ferrule.emit('hostile.values', { level: 'warning', big: 2n ** 70n, small: 5n, cyclic, evil }), 'boolean')
    assert.equal(typeof ferrule.emit('hostile.values2', { level: 'warning', message: evil, error: evil }), 'boolean')
    ferrule.emit('hostile.reserved', { level: 'warning', time: 'then', service: 'other' })
    ferrule.flush()
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    const v = lines.find((l) => l.event === 'hostile.values')
    assert.equal(v.big, '1180591620717411303424')
    assert.equal(v.small, 5)
    // Object fields are written as their JSON text; the cycle is cut there.
    assert.equal(JSON.parse(v.cyclic).self, '[Circular]')
    const r = lines.find((l) => l.event === 'hostile.reserved')
    assert.equal(r['field.time'], 'then')
    assert.equal(r['field.service'], 'other')
  } finally {
    ferrule.configure({ logSink: 'none', logDedupMs: 1000 })
  }
})

test('PII is masked by the rule pack and in the log file', () => {
  const cases = {
    'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz': '[SECRET]',
    'AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe': '[SECRET]',
    'password=hunter2': 'password=[SECRET]',
    'jürgen@müller.de': '[EMAIL]',
    '+49 30 123456789': '[PHONE]',
    '090-1234-5678': '[PHONE]',
    '03-1234-5678': '[PHONE]',
    '+81 90-1234-5678': '[PHONE]',
    '1234 5678 9018': '[NATIONAL_ID]',
  }
  for (const [raw, masked] of Object.entries(cases)) assert.equal(ferrule.redact(`x ${raw} y`), `x ${masked} y`, raw)
})

test('fractional counts are refused', () => {
  assert.throws(
    () => new ferrule.Router({ endpoints: [{ name: 'a', call: async () => 1 }], minCalls: 2.5 }),
    (e) => e.code === 'FERRULE_INVALID_CONFIG' && /minCalls/.test(e.message),
  )
})

test('a range in seconds reads as milliseconds', () => {
  assert.throws(
    () => ferrule.RateLimiter.tokenBucket({ rate: 1, perMs: 1e-9 }),
    (e) => !/e-9000/.test(e.message) && /perMs/.test(e.message),
  )
})

test('execute with an already aborted signal never runs the function', async () => {
  const p = new ferrule.Policy({ retry: { attempts: 3 } })
  const ac = new AbortController()
  ac.abort(new Error('cancelled'))
  let ran = 0
  await assert.rejects(p.execute(() => { ran++; return 1 }, { signal: ac.signal }), /cancelled/)
  assert.equal(ran, 0)
})

test('emit with stdout on a slow pipe does not throw', () => {
  // A child writes 20k events to a stdout pipe nobody reads for a while.
  const script = `
    const ferrule = require('ferrule')
    ferrule.configure({ logSink: 'stdout', logDedupMs: 0 })
    let threw = 0
    for (let i = 0; i < 20000; i++) { try { ferrule.emit('hostile.pipe', { level: 'warning', i }) } catch { threw++ } }
    process.stderr.write(String(threw))
  `
  const out = execFileSync(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 })
  assert.ok(out.length > 0)
})

test('alert labels and summaries are masked before a callback sink sees them', () => {
  const { AlertRouter, ManualClock } = require('ferrule')
  const clock = new ManualClock()
  const seen = []
  const r = new AlertRouter({ routes: [{ name: 'all', sinks: [(n) => seen.push(n)] }], install: false, clock, groupWaitMs: 0 })
  const t0 = clock.now()
  r.fire('ProviderDown', 'critical', { user: 'jane@example.com' }, 'key sk-proj-abcdefghijklmnopqrstuvwx')
  r.tick({ atMs: t0 + 1000 })
  assert.ok(seen.length > 0, 'no notification delivered')
  const n = seen[0]
  // The fingerprint stays as fire() returned it: it is the handle for ack() and resolve().
  const shown = JSON.stringify({ ...n, alerts: n.alerts.map(({ fingerprint, ...a }) => a) })
  assert.ok(!shown.includes('jane@example.com') && !shown.includes('sk-proj-'), shown)
  assert.strictEqual(n.labels.user, '[EMAIL]')
  assert.strictEqual(n.summary, 'key [SECRET]')
  assert.strictEqual(n.alerts[0].labels.user, '[EMAIL]')
})
