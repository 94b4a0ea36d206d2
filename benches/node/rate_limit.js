'use strict'
// Side-by-side: the cost of one rate-limit decision in one process. Synchronous checks
// (ferrule tryAcquire, limiter's tryRemoveTokens) on their admit path, limits high enough that every
// call passes; bottleneck has no synchronous check, so its row is one scheduled job, awaited.
// Rounds are interleaved and the median round counts, as in benches/node/breaker.js; the rows are
// process CPU time per call (steady on a shared machine), wall time alongside.

const { RateLimiter } = require('ferrule')
const limiter = require('limiter')
const Bottleneck = require('bottleneck')

const ROUNDS = Number(process.env.BENCH_ROUNDS || 15)
const ROUND_MS = Number(process.env.BENCH_ROUND_MS || 100)

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function cpuNs(c0, n) {
  const c = process.cpuUsage(c0)
  return ((c.user + c.system) * 1000) / n
}

function runSync(call, n) {
  const c0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) call()
  return { wall: Number(process.hrtime.bigint() - t0) / n, cpu: cpuNs(c0, n) }
}

async function runAsync(call, n) {
  const c0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await call()
  return { wall: Number(process.hrtime.bigint() - t0) / n, cpu: cpuNs(c0, n) }
}

// Bottleneck takes milliseconds per job: its rounds are kept to a few jobs so the run stays short.
async function calibrate(c) {
  const least = c.async ? 5 : 100
  let n = least
  for (;;) {
    const ns = (c.async ? await runAsync(c.call, n) : runSync(c.call, n)).wall
    if (ns * n > 20e6) return Math.max(least, Math.round((ROUND_MS * 1e6) / ns))
    n *= 4
  }
}

async function main() {
  const bucket = RateLimiter.tokenBucket({ rate: 1e9, perMs: 1000, burst: 1e6 })
  const window = RateLimiter.slidingWindow({ limit: 1e8, windowMs: 1 })
  const rl = new limiter.RateLimiter({ tokensPerInterval: 1e9, interval: 'second' })
  const tb = new limiter.TokenBucket({ bucketSize: 1e9, tokensPerInterval: 1e9, interval: 'second' })
  tb.content = 1e9
  const bottleneck = new Bottleneck({ maxConcurrent: null, minTime: 0 })
  const job = () => 42

  const list = [
    { name: 'ferrule tokenBucket.tryAcquire()', call: () => bucket.tryAcquire(), ferrule: true },
    { name: "ferrule tokenBucket.tryAcquire(1, 'tenant-42')", call: () => bucket.tryAcquire(1, 'tenant-42') },
    { name: 'ferrule slidingWindow.tryAcquire()', call: () => window.tryAcquire() },
    { name: 'limiter 4.1 RateLimiter.tryRemoveTokens(1)', call: () => rl.tryRemoveTokens(1), peer: true },
    { name: 'limiter 4.1 TokenBucket.tryRemoveTokens(1)', call: () => tb.tryRemoveTokens(1), peer: true },
    { name: 'bottleneck 2.19 schedule(job), awaited', call: () => bottleneck.schedule(job), async: true },
  ]
  for (const c of list) {
    const v = c.async ? await c.call() : c.call()
    if (v !== true && v !== 42) throw new Error(`${c.name} refused: ${v}`)
    c.n = await calibrate(c)
    c.rounds = []
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of list) c.rounds.push(c.async ? await runAsync(c.call, c.n) : runSync(c.call, c.n))
  }
  const cpu = (c) => median(c.rounds.map((r) => r.cpu))
  const wall = (c) => median(c.rounds.map((r) => r.wall))
  const base = cpu(list.find((c) => c.ferrule))
  console.log(`\n## rate limit decision, admit path (Node ${process.version}, ${ROUNDS} interleaved rounds, medians)`)
  console.log(`${'contender'.padEnd(50)} ${'cpu ns/call'.padStart(12)} ${'x ferrule'.padStart(10)} ${'wall ns/call'.padStart(13)}`)
  for (const c of list) {
    const ns = cpu(c)
    console.log(`${c.name.padEnd(50)} ${ns.toFixed(1).padStart(12)} ${(ns / base).toFixed(2).padStart(10)} ${wall(c).toFixed(1).padStart(13)}`)
  }
  for (const p of list.filter((c) => c.peer)) {
    const peer = cpu(p)
    console.log(`target: ferrule tryAcquire <= ${p.name} (${peer.toFixed(1)} ns cpu) -> ${base.toFixed(1)} ns ${base <= peer ? 'MET' : 'MISSED'}`)
  }
  const s = bucket.stats()
  if (s.rejected !== 0) throw new Error(`ferrule refused during the bench: ${JSON.stringify(s)}`)
  await bottleneck.stop()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
