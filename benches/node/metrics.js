'use strict'
// Side-by-side: metrics in ferrule (the Rust core's registry) vs prom-client (pure JS), one process.
// Labelled counter increment and histogram observe through a kept handle and resolving the label
// set per call; then the exposition of 10,000 series vs prom-client's registry.metrics(). Rounds are
// interleaved and the median round counts (CPU time per call, steady on a shared machine).

const ferrule = require('ferrule')
const prom = require('prom-client')

const ROUNDS = Number(process.env.BENCH_ROUNDS || 9)
const ROUND_MS = Number(process.env.BENCH_ROUND_MS || 60)

function cpuNs(fn, n) {
  const c0 = process.cpuUsage()
  for (let i = 0; i < n; i++) fn()
  const c = process.cpuUsage(c0)
  return ((c.user + c.system) * 1000) / n
}

function calibrate(fn) {
  let n = 1000
  for (;;) {
    const ns = cpuNs(fn, n)
    if (ns * n > 10e6) return Math.max(100, Math.round((ROUND_MS * 1e6) / ns))
    n *= 4
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function table(title, list, against) {
  for (const c of list) {
    c.n = calibrate(c.fn)
    c.samples = []
  }
  for (let r = 0; r < ROUNDS; r++) for (const c of list) c.samples.push(cpuNs(c.fn, c.n))
  const rows = list.map((c) => ({ name: c.name, ns: median(c.samples) }))
  const base = rows.find((r) => r.name === against).ns
  const w = Math.max(...rows.map((r) => r.name.length))
  console.log(`\n## ${title}`)
  console.log(`${'contender'.padEnd(w)}  ${'cpu ns/call'.padStart(12)}  ${('x ' + against).padStart(8)}`)
  for (const r of rows) console.log(`${r.name.padEnd(w)}  ${r.ns.toFixed(1).padStart(12)}  ${(r.ns / base).toFixed(2).padStart(8)}`)
  return rows
}

function main() {
  const reg = new prom.Registry()
  const fc = new ferrule.Counter('bench_calls_total', { help: 'calls', labels: ['model'] })
  const pc = new prom.Counter({ name: 'bench_calls_total', help: 'calls', labelNames: ['model'], registers: [reg] })
  const fh = fc.labels('gpt-4o')
  const ph = pc.labels('gpt-4o')
  table(
    `labelled counter increment: node ${process.version}, ${ROUNDS} interleaved rounds, medians`,
    [
      { name: 'ferrule handle.inc()', fn: () => fh.inc() },
      { name: 'ferrule counter.labels({model}).inc()', fn: () => fc.labels({ model: 'gpt-4o' }).inc() },
      { name: 'prom-client 15.1 bound child.inc()', fn: () => ph.inc() },
      { name: 'prom-client 15.1 counter.inc({model})', fn: () => pc.inc({ model: 'gpt-4o' }) },
    ],
    'ferrule handle.inc()',
  )

  const fhist = new ferrule.Histogram('bench_latency_seconds', { help: 'latency', labels: ['model'] })
  const phist = new prom.Histogram({ name: 'bench_latency_seconds', help: 'latency', labelNames: ['model'], registers: [reg] })
  const fhh = fhist.labels('gpt-4o')
  const phh = phist.labels('gpt-4o')
  table(
    'histogram observe',
    [
      { name: 'ferrule handle.observe(v)', fn: () => fhh.observe(0.3) },
      { name: 'ferrule hist.labels({model}).observe(v)', fn: () => fhist.labels({ model: 'gpt-4o' }).observe(0.3) },
      { name: 'prom-client 15.1 bound child.observe(v)', fn: () => phh.observe(0.3) },
      { name: 'prom-client 15.1 hist.observe({model}, v)', fn: () => phist.observe({ model: 'gpt-4o' }, 0.3) },
    ],
    'ferrule handle.observe(v)',
  )

  // 10,000 series: 5,000 counter and 5,000 gauge series in each library. prom-client's metrics() is
  // async; its promise is resolved synchronously enough to time the text building the same way.
  const n = 5000
  const wide = new prom.Registry()
  const pw = new prom.Counter({ name: 'bench_wide_total', help: 'wide', labelNames: ['route'], registers: [wide] })
  const pg = new prom.Gauge({ name: 'bench_wide_gauge', help: 'wide', labelNames: ['route'], registers: [wide] })
  const fw = new ferrule.Counter('bench_wide_total', { help: 'wide', labels: ['route'], maxSeries: n })
  const fg = new ferrule.Gauge('bench_wide_gauge', { help: 'wide', labels: ['route'], maxSeries: n })
  for (let i = 0; i < n; i++) {
    const route = `/v1/route/${i}`
    fw.labels(route).inc(i)
    fg.labels(route).set(i)
    pw.labels(route).inc(i)
    pg.labels(route).set(i)
  }
  const scrape = async () => {
    const rounds = { ferrule: [], om: [], prom: [] }
    for (let r = 0; r < 7; r++) {
      let t = process.hrtime.bigint()
      const text = ferrule.metricsText()
      rounds.ferrule.push(Number(process.hrtime.bigint() - t))
      t = process.hrtime.bigint()
      ferrule.metricsText({ openmetrics: true })
      rounds.om.push(Number(process.hrtime.bigint() - t))
      t = process.hrtime.bigint()
      const ptext = await wide.metrics()
      rounds.prom.push(Number(process.hrtime.bigint() - t))
      if (r === 0 && (text.split('\nbench_wide_total{').length - 1 !== n || ptext.split('\nbench_wide_total{').length - 1 !== n)) {
        throw new Error('the exposition does not hold the 10,000 series')
      }
    }
    const rows = [
      ['ferrule metricsText() (10000 series + built-ins)', median(rounds.ferrule)],
      ['ferrule metricsText({ openmetrics: true })', median(rounds.om)],
      ['prom-client 15.1 registry.metrics() (10000 series)', median(rounds.prom)],
    ]
    const w = Math.max(...rows.map((r) => r[0].length))
    console.log('\n## exposition of 10000 series (wall ns per scrape, median of 7)')
    for (const [name, ns] of rows) console.log(`${name.padEnd(w)}  ${ns.toFixed(0).padStart(12)}  ${(ns / rows[0][1]).toFixed(2).padStart(8)}`)
  }
  return scrape()
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
