'use strict'
// Metrics from Node: handles, the series cap, refusals, both exposition formats (checked by promtool),
// the scrape endpoint scraped by a real Prometheus server, and the breaker's metrics in the same
// registry. Names are process-wide, so each test declares its own.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { Counter, Gauge, Histogram, metricsText, serveMetrics, CircuitBreaker, ManualClock } = require('ferrule')

let n = 0
const uniq = (suffix) => `node_${process.pid}_${n++}_${suffix}`

/** The value of the sample line `series` (name and labels exactly as exported). */
function value(text, series) {
  for (const line of text.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1).split(' ')[0])
  }
  return undefined
}

function which(tool) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const p = path.join(dir, tool)
    if (fs.existsSync(p)) return p
  }
  return undefined
}

/** The tool's path; skips the test when it is missing locally, fails under CI (make test installs it). */
function need(t, tool) {
  const p = which(tool)
  if (p === undefined) {
    if (process.env.CI === 'true') assert.fail(`${tool} is not installed; make tools-apt installs it (Debian package prometheus)`)
    t.skip(`${tool} not on PATH; run make tools-apt`)
  }
  return p
}

test('labelled counter handles count, by position or by name', () => {
  const name = uniq('calls_total')
  const c = new Counter(name, { help: 'Calls.', labels: ['model', 'route'] })
  const h = c.labels({ model: 'gpt-4o', route: 'chat' })
  h.inc()
  h.inc(2)
  c.labels('gpt-4o', 'chat').inc(0.25)
  assert.equal(h.value, 3.25)
  assert.equal(c.labels('gpt-4o', 'chat'), h, 'a label set resolves to the same kept handle')
  assert.equal(value(metricsText(), `${name}{model="gpt-4o",route="chat"}`), 3.25)
  assert.throws(() => h.inc(-1), (e) => e instanceof RangeError && e.code === 'FERRULE_INVALID_CONFIG' && /amount=-1/.test(e.message))
  assert.throws(() => c.labels('only-one'), (e) => e instanceof TypeError && /exactly 2 values, for \(model, route\)/.test(e.message))
  assert.throws(() => c.labels({ model: 'x', nope: 'y' }), (e) => e instanceof TypeError && /exactly the label names/.test(e.message))
  assert.throws(() => c.inc(), (e) => e instanceof TypeError && /through \.labels/.test(e.message))
})

test('unlabelled counters, gauges and histograms with exemplars', () => {
  const c = new Counter(uniq('jobs_total'), { help: 'Jobs.' })
  c.inc()
  c.inc(4)
  const g = new Gauge(uniq('depth'), { help: 'Depth.' })
  g.set(10)
  g.inc()
  g.dec(3)
  const hname = uniq('latency_seconds')
  const h = new Histogram(hname, { help: 'Latency.', labels: ['model'], buckets: [0.1, 1, Infinity] })
  assert.deepEqual(h.buckets, [0.1, 1])
  const child = h.labels('m')
  child.observe(0.05)
  child.observe(0.5, { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' })
  child.observe(3)
  assert.equal(child.count, 3)
  assert.equal(child.sum, 3.55)
  const text = metricsText()
  assert.equal(value(text, c.name), 5)
  assert.equal(value(text, g.name), 8)
  const om = metricsText({ openmetrics: true })
  assert.ok(om.includes(`${hname}_bucket{model="m",le="1.0"} 2 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"} 0.5\n`), om)
  assert.ok(om.endsWith('# EOF\n'))
  assert.ok(!text.includes('# {'))
  assert.throws(() => new Histogram(uniq('bad'), { help: 'x', buckets: [2, 1] }), (e) => e instanceof RangeError && /buckets/.test(e.message))
})

test('high-cardinality ids never become labels, and bad options are refused', () => {
  for (const label of ['trace_id', 'session_id', 'request_id']) {
    assert.throws(() => new Counter(uniq('x_total'), { help: 'x', labels: [label] }), (e) => e instanceof TypeError && e.message.includes(`labels="${label}"`))
  }
  assert.throws(() => new Counter(uniq('x_total'), { labelNames: ['a'] }), (e) => e instanceof TypeError && /allowed: help, labels, maxSeries/.test(e.message))
  assert.throws(() => new Counter(uniq('x_total'), { help: 'x', maxSeries: 0 }), (e) => e instanceof RangeError && /maxSeries=0/.test(e.message))
  assert.throws(() => new Counter(uniq('nohelp_total')), (e) => e instanceof TypeError && /help="" conflicts/.test(e.message))
  assert.throws(() => new Counter('1bad', { help: 'x' }), (e) => e instanceof RangeError && /name="1bad"/.test(e.message))
  const name = uniq('same_total')
  new Counter(name, { help: 'h', labels: ['k'] }).labels('v').inc()
  assert.equal(new Counter(name, { help: 'h', labels: ['k'] }).labels('v').value, 1, 'the same declaration returns the same series')
  assert.throws(() => new Gauge(name.replace(/_total$/, ''), { help: 'h' }), (e) => e instanceof TypeError && /already registered as a counter/.test(e.message))
})

test('the series cap folds overflow into one other series and counts it', () => {
  const name = uniq('capped_total')
  const c = new Counter(name, { help: 'Capped.', labels: ['tier'], maxSeries: 5 })
  for (let i = 0; i < 50; i++) c.labels(`tier${i}`).inc()
  const text = metricsText()
  assert.equal(text.split('\n').filter((l) => l.startsWith(name + '{')).length, 6)
  assert.equal(value(text, `${name}{tier="other"}`), 45)
  assert.equal(value(text, `ferrule_metric_series_overflow_total{metric="${name.replace(/_total$/, '')}"}`), 45)
})

test('a circuit breaker reports into the same registry', async () => {
  const name = uniq('breaker')
  const b = new CircuitBreaker(name, { failureRate: null, consecutiveFailures: 2, clock: new ManualClock() })
  for (let i = 0; i < 2; i++) await assert.rejects(b.execute(() => Promise.reject(new Error('down'))))
  await assert.rejects(b.execute(() => 1), { name: 'CircuitOpenError' })
  const text = metricsText()
  assert.equal(value(text, `ferrule_breaker_state{name="${name}",state="open"}`), 1)
  assert.equal(value(text, `ferrule_breaker_transitions_total{name="${name}",from="closed",to="open"}`), 1)
  assert.equal(value(text, `ferrule_calls_total{component="breaker",name="${name}",outcome="failure"}`), 2)
  assert.equal(value(text, `ferrule_rejections_total{component="breaker",name="${name}",reason="breaker_open"}`), 1)
})

test('the Prometheus text passes promtool check metrics', (t) => {
  const promtool = need(t, 'promtool')
  if (promtool === undefined) return
  const c = new Counter(uniq('fmt_total'), { help: 'Help with "quotes", \\ and\nnewline.', labels: ['v'] })
  c.labels('we"ird\\va\nlue').inc(1.5)
  new Histogram(uniq('fmt_seconds'), { help: 'h' }).observe(0.2, { trace_id: 't' })
  const r = spawnSync(promtool, ['check', 'metrics'], { input: metricsText(), encoding: 'utf8', timeout: 60_000 })
  assert.equal(r.status, 0, r.stdout + r.stderr)
})

test('serveMetrics serves both formats on loopback, picks a free port and stops', async () => {
  const name = uniq('served_total')
  new Counter(name, { help: 'Served.' }).inc(3)
  const srv = serveMetrics({ port: 0 })
  try {
    assert.equal(srv.host, '127.0.0.1')
    assert.ok(srv.port > 0 && srv.running)
    const plain = await fetch(srv.url)
    assert.match(plain.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
    assert.equal(value(await plain.text(), name), 3)
    const om = await fetch(srv.url, { headers: { Accept: 'application/openmetrics-text; version=1.0.0' } })
    assert.match(om.headers.get('content-type'), /^application\/openmetrics-text/)
    assert.ok((await om.text()).endsWith('# EOF\n'))
    assert.throws(() => serveMetrics({ port: srv.port }), (e) => e.code === 'FERRULE_INVALID_CONFIG' && e.message.includes(`port=${srv.port}`))
  } finally {
    srv.stop()
  }
  assert.equal(srv.running, false)
  srv.stop()
  assert.throws(() => serveMetrics({ port: 70000 }), (e) => e instanceof RangeError && /^serveMetrics: port=70000/.test(e.message))
  assert.throws(() => serveMetrics({ prot: 1 }), (e) => e instanceof TypeError && /allowed: port, host/.test(e.message))
})

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

test('a real Prometheus scrapes serveMetrics and answers PromQL', async (t) => {
  const binary = need(t, 'prometheus')
  if (binary === undefined) return
  const name = uniq('scraped_total')
  new Counter(name, { help: 'Scraped.', labels: ['model'] }).labels('gpt-4o').inc(1234)
  new Histogram(uniq('scraped_seconds'), { help: 'h' }).observe(0.3, { trace_id: 'x' })
  const srv = serveMetrics({ port: 0 })
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferrule-prom-'))
  fs.writeFileSync(
    path.join(dir, 'prometheus.yml'),
    'global: {scrape_interval: 1s, evaluation_interval: 1s}\n' +
      'scrape_configs:\n  - job_name: ferrule\n' +
      `    static_configs: [{targets: ['127.0.0.1:${srv.port}']}]\n`,
  )
  const prom = spawn(
    binary,
    [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: 'ignore' },
  )
  const exited = new Promise((resolve) => prom.once('exit', resolve))
  const query = async (q) => {
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`)
    const body = await r.json()
    assert.equal(body.status, 'success')
    return body.data.result
  }
  try {
    const deadline = Date.now() + 60_000
    let result = []
    while (Date.now() < deadline) {
      try {
        result = await query(`sum(${name}{model="gpt-4o"})`)
      } catch {
        result = [] // Prometheus still starting
      }
      if (result.length > 0) break
      await new Promise((r) => setTimeout(r, 500))
    }
    assert.ok(result.length > 0, 'Prometheus never returned the series')
    assert.equal(Number(result[0].value[1]), 1234)
    const up = await query('up{job="ferrule"}')
    assert.equal(up[0].value[1], '1')
  } finally {
    prom.kill('SIGTERM')
    await exited
    srv.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
