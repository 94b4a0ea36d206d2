'use strict'
// Alerting from Node, the parts a PagerDuty/Alertmanager user leans on: onAlert adds and
// unsubscribes, inhibition and repeat on a manual clock, an alert storm is a handful per sink plus a
// digest, every watcher reports its gauges, a local webhook receiver sees the retry after a 500,
// and a real Alertmanager receives and resolves an alert, read back through its API.

const test = require('node:test')
const assert = require('node:assert/strict')
const { AlertRouter, DeadMansSwitch, DriftDetector, ErrorPredictor, AnomalyDetector, ManualClock, SLO, onAlert } = require('../bindings-node/index.js')

test('inhibition and repeat on a manual clock, with custom inhibit rules', () => {
  const clock = new ManualClock()
  const got = []
  // A firing critical silences warnings of the same model (the default compares the group labels).
  const r = new AlertRouter({
    routes: [{ sinks: [(n) => got.push(n)], groupBy: ['alertname', 'model'] }],
    inhibit: [['critical', 'warning', ['model']]],
    repeatIntervalMs: 3_600_000,
    install: false,
    clock,
  })
  const t0 = clock.now()
  r.fire('Slow', 'warning', { model: 'a' }, '', { atMs: t0 })
  r.fire('Down', 'critical', { model: 'a' }, '', { atMs: t0 })
  const first = r.tick({ atMs: t0 + 30_000 })
  assert.deepEqual(first.map((n) => n.name), ['Down'], 'the firing critical inhibits the warning of its model')
  assert.equal(r.stats().inhibited, 1)
  assert.deepEqual(r.tick({ atMs: t0 + 3_000_000 }).map((n) => n.kind), [])
  assert.deepEqual(r.tick({ atMs: t0 + 30_000 + 3_600_000 }).map((n) => [n.name, n.kind]), [['Down', 'repeat']])
  // inhibit: [] turns inhibition off.
  const all = []
  const r2 = new AlertRouter({ routes: [{ sinks: [(n) => all.push(n)], groupBy: ['alertname', 'model'] }], inhibit: [], install: false, clock })
  r2.fire('Slow', 'warning', { model: 'a' }, '', { atMs: t0 })
  r2.fire('Down', 'critical', { model: 'a' }, '', { atMs: t0 })
  assert.deepEqual(r2.tick({ atMs: t0 + 30_000 }).map((n) => n.name).sort(), ['Down', 'Slow'])
  assert.throws(() => new AlertRouter({ inhibit: [['loud', 'warning', null]], install: false }), (e) => e instanceof RangeError && /inhibit/.test(e.message))
  const sid = r2.silence({ model: 'a' }, 60_000, 'deploy', { atMs: t0 })
  assert.deepEqual(r2.silences().map((x) => [x.id, x.matchers.model, x.comment]), [[sid, 'a', 'deploy']])
})

test('onAlert adds beside other subscribers and returns an unsubscribe function', () => {
  const clock = new ManualClock()
  const r = new AlertRouter({ groupWaitMs: 0, clock })
  try {
    const first = []
    const second = []
    const off1 = onAlert((n) => first.push(n))
    onAlert((n) => second.push(n))
    assert.equal(r.installed, true, 'onAlert adds to the installed router, never replaces it')
    const t0 = clock.now()
    r.fire('Down', 'critical', { model: 'a' }, '', { atMs: t0 })
    r.tick({ atMs: t0 + 1000 })
    assert.equal(first.length, 1)
    assert.equal(second.length, 1)
    assert.equal(off1(), true)
    assert.equal(off1(), false)
    r.fire('Slow', 'critical', { model: 'b' }, '', { atMs: t0 + 2000 }) // a new group: no groupInterval wait
    r.tick({ atMs: t0 + 3000 })
    assert.equal(first.length, 1)
    assert.equal(second.length, 2)
  } finally {
    r.close()
  }
})

test('an alert storm is a handful of notifications per sink plus a digest', () => {
  const clock = new ManualClock()
  const chat = []
  const pager = []
  const r = new AlertRouter({
    routes: [{ name: 'anomalies', sinks: [(n) => chat.push(n), (n) => pager.push(n)], groupBy: ['alertname', 'series'] }],
    install: false,
    clock,
  })
  const t0 = clock.now()
  for (let i = 0; i < 10_000; i++) {
    const atMs = t0 + (i * 60_000) / 10_000
    const series = String((i * 7919) % 300)
    const fp = r.fire('anomaly.ewma', 'warning', { series }, `latency z=5 on series ${series}`, { atMs })
    if (i % 7 === 6) r.resolve(fp, { atMs })
    if (i % 100 === 0) r.tick({ atMs })
  }
  for (let t = 60; t <= 3600; t += 10) r.tick({ atMs: t0 + t * 1000 })
  for (const got of [chat, pager]) {
    const normal = got.filter((n) => n.kind !== 'digest')
    const held = got.filter((n) => n.kind === 'digest').reduce((a, n) => a + n.held, 0)
    assert.ok(normal.length <= 5 * 4, `${normal.length} notifications`)
    assert.ok(got.length <= 5 * 4 + 4, `${got.length} in all`)
    assert.ok(held > 250, `the digest counts the rest (${held})`)
  }
  const s = r.stats()
  assert.ok(s.alertsFired >= 300)
  assert.ok(s.heldByCap > 250)
})

test('every watcher and alerting object reports what a scrape shows', () => {
  const clock = new ManualClock()
  const r = new AlertRouter({ routes: [{ name: 'node-gauges-router' }], install: false, clock })
  const sw = new DeadMansSwitch('node-gauges-switch', 60_000, { clock })
  assert.ok(r.gauges().some(([n, l]) => n === 'ferrule_alerts_active' && l.router === 'node-gauges-router'))
  assert.deepEqual(
    sw.gauges().find(([n]) => n === 'ferrule_deadman_firing'),
    ['ferrule_deadman_firing', { switch: 'node-gauges-switch' }, 0],
  )
  const drift = new DriftDetector('node-gauges-drift', { clock })
  assert.deepEqual(drift.gauges().map(([n]) => n), ['ferrule_drift_firing'])
  const anomaly = new AnomalyDetector('node-gauges-anomaly', 'latency', { clock })
  assert.deepEqual(anomaly.gauges(), [])
  const predictor = new ErrorPredictor('node-gauges-predictor', { clock })
  assert.ok(Array.isArray(predictor.gauges()))
  const slo = new SLO('node-gauges-slo', { clock })
  slo.record(true, 10)
  assert.ok(slo.gauges().some(([n, , v]) => n === 'ferrule_slo_calls_total' && v === 1))
  r.close()
})

// ---- delivery: a local webhook receiver and a real Alertmanager ---------------------------------

const http = require('node:http')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, execFileSync } = require('node:child_process')
const { Alertmanager, Webhook } = require('../bindings-node/index.js')

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
async function waitFor(pred, ms = 15000) {
  const end = Date.now() + ms
  while (!(await pred())) {
    assert.ok(Date.now() < end, 'condition not reached in time')
    await sleep(50)
  }
}

test('a webhook receiver sees the retried delivery after answering 500', async () => {
  const seen = []
  const srv = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      seen.push(JSON.parse(body))
      res.writeHead(seen.length === 1 ? 500 : 200, { 'Content-Length': 0 })
      res.end()
    })
  })
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  try {
    const clock = new ManualClock()
    const r = new AlertRouter({ sinks: [new Webhook(`http://127.0.0.1:${srv.address().port}/alerts`)], webhookBackoffMs: 50, install: false, clock })
    r.fire('Quota', 'warning', { model: 'm' }, '429s rising')
    r.tick({ atMs: clock.now() + 30_000 })
    await waitFor(() => r.stats().webhookDelivered === 1)
    const s = r.stats()
    assert.deepEqual([s.webhookDelivered, s.webhookRetries, s.webhookFailed], [1, 1, 0])
    assert.equal(seen.length, 2)
    assert.deepEqual(seen[0], seen[1])
    assert.equal(seen[1].name, 'Quota')
    assert.equal(seen[1].status, 'firing')
    r.close()
  } finally {
    srv.close()
  }
})

function alertmanagerBinary() {
  if (process.env.FERRULE_ALERTMANAGER) return process.env.FERRULE_ALERTMANAGER
  for (const name of ['prometheus-alertmanager', 'alertmanager']) {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`]).toString().trim()
    } catch {}
  }
  return null
}

async function getJson(url) {
  const res = await fetch(url)
  assert.equal(res.status, 200)
  return res.json()
}

test('a real Alertmanager receives and resolves an alert from Node, read back through its API', async (t) => {
  const exe = alertmanagerBinary()
  if (exe === null) {
    assert.ok(!process.env.CI, 'prometheus-alertmanager is not installed: `make tools-apt` installs it')
    t.skip('prometheus-alertmanager not installed (make tools-apt)')
    return
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferrule-am-'))
  fs.writeFileSync(path.join(dir, 'alertmanager.yml'), 'route:\n  receiver: blackhole\n  group_wait: 1s\nreceivers:\n  - name: blackhole\n')
  const port = await new Promise((resolve) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port
      s.close(() => resolve(p))
    })
  })
  const am = spawn(exe, [`--config.file=${dir}/alertmanager.yml`, `--storage.path=${dir}/data`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='], { stdio: 'ignore' })
  const base = `http://127.0.0.1:${port}`
  try {
    await waitFor(async () => {
      try {
        return (await fetch(`${base}/-/ready`)).status === 200
      } catch {
        return false
      }
    }, 30000)
    const clock = new ManualClock()
    const r = new AlertRouter({ sinks: [new Alertmanager(base)], install: false, clock })
    const t0 = clock.now()
    const fp = r.fire('FerruleNodeProviderDown', 'page', { model: 'gpt-node' }, 'every call failed for 5 minutes', { atMs: t0 })
    assert.equal(r.tick({ atMs: t0 + 30_000 }).length, 1)
    await waitFor(() => r.stats().webhookDelivered === 1)
    const ours = (await getJson(`${base}/api/v2/alerts`)).filter((a) => a.labels.alertname === 'FerruleNodeProviderDown')
    assert.equal(ours.length, 1)
    assert.equal(ours[0].labels.severity, 'page')
    assert.equal(ours[0].labels.model, 'gpt-node')
    assert.equal(ours[0].annotations.summary, 'every call failed for 5 minutes')
    assert.equal(ours[0].status.state, 'active')
    assert.equal(r.resolve(fp, { atMs: t0 + 100_000 }), true)
    assert.equal(r.tick({ atMs: t0 + 330_000 }).length, 1)
    await waitFor(() => r.stats().webhookDelivered === 2)
    await waitFor(async () => (await getJson(`${base}/api/v2/alerts`)).every((a) => a.labels.alertname !== 'FerruleNodeProviderDown'))
    r.close()
  } finally {
    am.kill()
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
