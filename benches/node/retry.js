'use strict'
// Side-by-side: the per-call cost of retry, and of the full pipeline with a timeout, on the success
// path, in one process: ferrule vs cockatiel (retry; wrap(retry, breaker, timeout)) and p-retry.
// Rounds are interleaved and the median round counts (CPU time per call, steady on a shared
// machine). Targets: ferrule retry <= cockatiel retry; ferrule full pipeline <= 1000 ns.

const { Policy, CircuitBreaker, resilient } = require('ferrule')
const cockatiel = require('cockatiel')

const ROUNDS = Number(process.env.BENCH_ROUNDS || 11)
const ROUND_MS = Number(process.env.BENCH_ROUND_MS || 120)

const work = async () => 42

async function contenders() {
  const { default: pRetry } = await import('p-retry')
  const floor = async (fn) => await fn()

  const retry = resilient(work, { retry: { attempts: 3, backoff: { kind: 'exponential', initialMs: 200, maxMs: 8000 } } })
  const breaker = new CircuitBreaker('bench', { failureRate: 0.5, window: 100, minCalls: 20 })
  const full = new Policy({
    retry: { attempts: 3, backoff: { kind: 'exponential', initialMs: 200, maxMs: 8000 } },
    breaker,
    timeoutMs: 10_000,
    fallback: () => 'busy',
  }).wrap(work)

  const cRetry = cockatiel.retry(cockatiel.handleAll, { maxAttempts: 2, backoff: new cockatiel.ExponentialBackoff() })
  const cBreaker = cockatiel.circuitBreaker(cockatiel.handleAll, {
    halfOpenAfter: 10_000,
    breaker: new cockatiel.ConsecutiveBreaker(5),
  })
  const cTimeout = cockatiel.timeout(10_000, cockatiel.TimeoutStrategy.Cooperative)
  const cFull = cockatiel.wrap(cRetry, cBreaker, cTimeout)

  return [
    { name: 'bare async wrapper (floor)', call: () => floor(work) },
    { name: 'ferrule resilient retry', call: () => retry(), ours: 'retry' },
    { name: 'cockatiel retry.execute', call: () => cRetry.execute(work), peer: 'retry' },
    { name: 'p-retry 9', call: () => pRetry(work, { retries: 2 }) },
    { name: 'ferrule fallback+retry+breaker+timeout', call: () => full(), ours: 'full' },
    { name: 'cockatiel wrap(retry, breaker, timeout)', call: () => cFull.execute(work), peer: 'full' },
  ]
}

async function runFor(call, iterations) {
  const c0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) await call()
  const wall = Number(process.hrtime.bigint() - t0) / iterations
  const c = process.cpuUsage(c0)
  return { wall, cpu: ((c.user + c.system) * 1000) / iterations }
}

async function calibrate(call) {
  let n = 1000
  for (;;) {
    const ns = (await runFor(call, n)).cpu
    if (ns * n > 20e6) return Math.max(1000, Math.round((ROUND_MS * 1e6) / ns))
    n *= 4
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

async function main() {
  const list = await contenders()
  for (const c of list) {
    const v = await c.call()
    if (v !== 42) throw new Error(`${c.name} returned ${v}`)
    c.iterations = await calibrate(c.call)
    await runFor(c.call, c.iterations)
    c.samples = []
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of list) {
      if (global.gc) global.gc()
      c.samples.push(await runFor(c.call, c.iterations))
    }
  }
  const rows = list.map((c) => ({ ...c, cpu: median(c.samples.map((x) => x.cpu)), wall: median(c.samples.map((x) => x.wall)) }))
  const base = rows.find((r) => r.ours === 'retry')
  const w = Math.max(...rows.map((r) => r.name.length))
  console.log(`\nretry and the full pipeline, success path: node ${process.version}, ${ROUNDS} interleaved rounds, medians`)
  console.log(`${'contender'.padEnd(w)}  ${'cpu ns/call'.padStart(12)}  ${'x ferrule retry'.padStart(15)}  ${'wall ns/call'.padStart(12)}`)
  for (const r of rows) {
    console.log(`${r.name.padEnd(w)}  ${r.cpu.toFixed(1).padStart(12)}  ${(r.cpu / base.cpu).toFixed(2).padStart(15)}  ${r.wall.toFixed(1).padStart(12)}`)
  }
  const met = (ok) => (ok ? 'met' : 'NOT met')
  const cr = rows.find((r) => r.peer === 'retry')
  const full = rows.find((r) => r.ours === 'full')
  console.log(`\ntarget ferrule retry <= cockatiel retry: ${met(base.cpu <= cr.cpu)} (${base.cpu.toFixed(1)} vs ${cr.cpu.toFixed(1)} ns/call cpu)`)
  console.log(`target ferrule full pipeline with a timeout <= 1000 ns: ${met(full.cpu <= 1000)} (${full.cpu.toFixed(1)} ns/call cpu)`)
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
