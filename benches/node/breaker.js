'use strict'
// Side-by-side: the per-call cost of a circuit breaker on the success path, in one process.
// Each contender runs an async function returning a value, awaited call after call. Rounds are
// interleaved (so drift in machine speed hits every contender alike) and the median round counts.
// The floor is a bare async pass-through wrapper; the target is ferrule <= cockatiel.

const { CircuitBreaker } = require('ferrule')
const cockatiel = require('cockatiel')
const Opossum = require('opossum')

const ROUNDS = Number(process.env.BENCH_ROUNDS || 15)
const ROUND_MS = Number(process.env.BENCH_ROUND_MS || 150)

const work = async () => 42

function contenders() {
  const floor = async (fn) => await fn()

  const breaker = new CircuitBreaker('bench', { failureRate: 0.5, window: 20, minCalls: 10, openMs: 30000 })
  const guarded = breaker.wrap(work)

  const cockatielBreaker = cockatiel.circuitBreaker(cockatiel.handleAll, {
    halfOpenAfter: 10_000,
    breaker: new cockatiel.ConsecutiveBreaker(5),
  })

  // Opossum's default 10 s timeout arms a timer per call; it is left on, as a user would have it.
  const opossum = new Opossum(work, {})

  const list = [
    { name: 'bare async wrapper (floor)', call: () => floor(work) },
    { name: 'ferrule breaker.execute', call: () => breaker.execute(work), ferrule: true },
    { name: 'ferrule breaker.wrap(fn)()', call: () => guarded() },
    { name: 'cockatiel circuitBreaker.execute', call: () => cockatielBreaker.execute(work) },
    { name: 'opossum fire()', call: () => opossum.fire() },
  ]
  return {
    list,
    check: async () => {
      for (const c of list) {
        const v = await c.call()
        if (v !== 42) throw new Error(`${c.name} returned ${v}`)
      }
      const s = breaker.stats()
      if (s.failures !== 0 || s.rejected !== 0) throw new Error(`ferrule breaker saw failures: ${JSON.stringify(s)}`)
    },
    close: () => opossum.shutdown(),
  }
}

async function runFor(call, iterations) {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) await call()
  return Number(process.hrtime.bigint() - t0) / iterations
}

/** Picks an iteration count so one round of `call` takes about ROUND_MS. */
async function calibrate(call) {
  let n = 1000
  for (;;) {
    const ns = await runFor(call, n)
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
  const { list, check, close } = contenders()
  await check()
  // Warm-up: lets every contender reach optimised code before anything is measured.
  for (const c of list) {
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
  close()

  const ref = median(list.find((c) => c.ferrule).samples)
  const rows = list.map((c) => ({
    name: c.name,
    ns: median(c.samples),
    min: Math.min(...c.samples),
    iters: c.iterations,
  }))
  const w = Math.max(...rows.map((r) => r.name.length))
  console.log(`circuit breaker, success path, async fn returning a value (node ${process.version}, ${ROUNDS} rounds, median)`)
  console.log(`${'contender'.padEnd(w)}  ${'ns/call'.padStart(9)}  ${'min'.padStart(9)}  ${'x ferrule'.padStart(9)}  ${'calls/round'.padStart(11)}`)
  console.log('-'.repeat(w + 45))
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(w)}  ${r.ns.toFixed(1).padStart(9)}  ${r.min.toFixed(1).padStart(9)}  ${(r.ns / ref).toFixed(2).padStart(9)}  ${String(r.iters).padStart(11)}`,
    )
  }
  const cock = rows.find((r) => r.name.startsWith('cockatiel'))
  const ours = rows.find((r) => r.name === 'ferrule breaker.execute')
  const verdict = ours.ns <= cock.ns ? 'met' : 'NOT met'
  console.log(`\ntarget ferrule.execute <= cockatiel: ${verdict} (${ours.ns.toFixed(1)} vs ${cock.ns.toFixed(1)} ns/call)`)
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
