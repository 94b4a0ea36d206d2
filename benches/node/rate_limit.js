'use strict'
// Side-by-side: the cost of one rate-limit decision in one process. Synchronous checks
// (ferrule tryAcquire, limiter's tryRemoveTokens) on their admit path, limits high enough that every
// call passes; bottleneck has no synchronous check, so its row is one scheduled job, awaited.
// Rounds are interleaved and the median round counts, as in benches/node/breaker.js.

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

function runSync(call, n) {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) call()
  return Number(process.hrtime.bigint() - t0) / n
}

async function runAsync(call, n) {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await call()
  return Number(process.hrtime.bigint() - t0) / n
}

// Bottleneck takes milliseconds per job: its rounds are kept to a few jobs so the run stays short.
async function calibrate(c) {
  const least = c.async ? 5 : 100
  let n = least
  for (;;) {
    const ns = c.async ? await runAsync(c.call, n) : runSync(c.call, n)
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
    { name: 'limiter 4.1 TokenBucket.tryRemoveTokens(1)', call: () => tb.tryRemoveTokens(1) },
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
  const base = median(list.find((c) => c.ferrule).rounds)
  console.log('\n## rate limit decision, admit path (Node, median of interleaved rounds)')
  console.log(`${'contender'.padEnd(50)} ${'ns/call'.padStart(10)} ${'x ferrule'.padStart(10)}`)
  for (const c of list) {
    const ns = median(c.rounds)
    console.log(`${c.name.padEnd(50)} ${ns.toFixed(1).padStart(10)} ${(ns / base).toFixed(2).padStart(10)}`)
  }
  const peer = median(list.find((c) => c.peer).rounds)
  console.log(`target: ferrule tryAcquire <= limiter tryRemoveTokens (${peer.toFixed(1)} ns) -> ${base.toFixed(1)} ns ${base <= peer ? 'MET' : 'MISSED'}`)
  const s = bucket.stats()
  if (s.rejected !== 0) throw new Error(`ferrule refused during the bench: ${JSON.stringify(s)}`)
  await bottleneck.stop()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
