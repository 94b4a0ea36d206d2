'use strict'
// Side-by-side: the per-call cost of a circuit breaker on the success path, in one process.
// Each contender runs an async function returning a value, awaited call after call. Rounds are
// interleaved (so drift in machine speed hits every contender alike) and the median round counts.
// Two floors: a bare `async (fn) => await fn()` wrapper (the floor) and a bare
// `fn().then(v => v)` wrapper, the shape ferrule's execute has (one promise hop fewer than an async
// function), so ferrule can come in under the first. The target is ferrule <= cockatiel.

const { CircuitBreaker } = require('ferrule')
const cockatiel = require('cockatiel')
const Opossum = require('opossum')

const ROUNDS = Number(process.env.BENCH_ROUNDS || 15)
const ROUND_MS = Number(process.env.BENCH_ROUND_MS || 100)

const work = async () => 42

function contenders() {
  const floor = async (fn) => await fn()
  const thenFloor = (fn) => fn().then((v) => v)

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
    { name: 'bare then wrapper (floor)', call: () => thenFloor(work) },
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

/** Runs `call` awaited `iterations` times: wall-clock and process CPU ns per call. */
async function runFor(call, iterations) {
  const c0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) await call()
  const wall = Number(process.hrtime.bigint() - t0) / iterations
  const c = process.cpuUsage(c0)
  return { wall, cpu: ((c.user + c.system) * 1000) / iterations }
}

/** Picks an iteration count so one round of `call` takes about ROUND_MS of CPU time. */
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

  const rows = list.map((c) => ({
    name: c.name,
    cpu: median(c.samples.map((x) => x.cpu)),
    wall: median(c.samples.map((x) => x.wall)),
    wallMin: Math.min(...c.samples.map((x) => x.wall)),
    iters: c.iterations,
  }))
  const ours = rows.find((r) => r.name === 'ferrule breaker.execute')
  const cock = rows.find((r) => r.name.startsWith('cockatiel'))
  const w = Math.max(...rows.map((r) => r.name.length))
  const cols = ['cpu ns/call', 'x ferrule', 'wall ns/call', 'wall min', 'calls/round']
  console.log(
    `circuit breaker, success path, async fn returning a value: node ${process.version}, ${ROUNDS} interleaved rounds, medians`,
  )
  console.log('cpu = this process\'s CPU time per call (steady when other work shares the machine); wall = elapsed time')
  console.log(`${'contender'.padEnd(w)}  ${cols.map((c) => c.padStart(12)).join('  ')}`)
  console.log('-'.repeat(w + 2 + cols.length * 14))
  for (const r of rows) {
    const cells = [r.cpu.toFixed(1), (r.cpu / ours.cpu).toFixed(2), r.wall.toFixed(1), r.wallMin.toFixed(1), String(r.iters)]
    console.log(`${r.name.padEnd(w)}  ${cells.map((c) => c.padStart(12)).join('  ')}`)
  }
  const met = (a, b) => (a <= b ? 'met' : 'NOT met')
  console.log(
    `\ntarget ferrule.execute <= cockatiel: cpu ${met(ours.cpu, cock.cpu)} (${ours.cpu.toFixed(1)} vs ${cock.cpu.toFixed(1)} ns/call), ` +
      `wall ${met(ours.wall, cock.wall)} (${ours.wall.toFixed(1)} vs ${cock.wall.toFixed(1)} ns/call)`,
  )
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
