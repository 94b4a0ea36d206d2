'use strict'
// Router decision overhead: ferrule's Router over three endpoints vs hand-written weighted-random and
// round-robin routers (the floor any router costs), in one process, rounds interleaved, median round.

const { Router } = require('ferrule')

const ROUNDS = Number(process.env.BENCH_ROUNDS || 11)
const ROUND_MS = Number(process.env.BENCH_ROUND_MS || 100)

const a = async (x) => x
const b = async (x) => x
const c = async (x) => x
const fns = [a, b, c]
const weights = [1, 2, 3]
const total = weights.reduce((s, w) => s + w, 0)

function weightedRandom(x) {
  let r = Math.random() * total
  for (let i = 0; i < fns.length; i++) {
    r -= weights[i]
    if (r < 0) return fns[i](x)
  }
  return fns[fns.length - 1](x)
}

let turn = 0
const roundRobin = (x) => fns[turn++ % fns.length](x)

const endpoints = fns.map((f, i) => ({ name: `e${i}`, call: f, weight: weights[i] }))
const list = [
  { name: 'direct await (no router)', call: () => a(1) },
  { name: 'hand-written weighted random', call: () => weightedRandom(1) },
  { name: 'hand-written round robin', call: () => roundRobin(1) },
]
for (const s of ['weighted', 'round_robin', 'least_outstanding', 'p2c_ewma', 'latency']) {
  const r = new Router({ name: `bench-${s}`, endpoints, strategy: s })
  list.push({ name: `ferrule Router ${s}`, call: () => r.execute(1) })
}

// Hedging armed (warmed past hedgeMinSamples) but never firing (a 1 s delay floor): the cost of the
// timer and the race every hedged call pays.
const hedged = new Router({ name: 'bench-hedge', endpoints, strategy: 'round_robin', hedge: true, hedgeMinDelayMs: 1000 })
list.push({ name: 'ferrule Router hedge (armed, never fires)', call: () => hedged.execute(1) })

async function round(call) {
  const end = performance.now() + ROUND_MS
  let n = 0
  const t0 = performance.now()
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) await call()
    n += 1000
  }
  return ((performance.now() - t0) * 1e6) / n
}

async function main() {
  const samples = list.map(() => [])
  for (let k = 0; k < ROUNDS; k++) {
    for (let i = 0; i < list.length; i++) samples[i].push(await round(list[i].call))
  }
  const median = (xs) => xs.slice().sort((p, q) => p - q)[xs.length >> 1]
  const ns = samples.map(median)
  const ref = ns[list.findIndex((x) => x.name === 'ferrule Router weighted')]
  console.log('\nrouter decision + call, async (Node; median of interleaved rounds)')
  for (let i = 0; i < list.length; i++) {
    console.log(`  ${list[i].name.padEnd(36)} ${ns[i].toFixed(0).padStart(7)} ns/call  ${(ns[i] / ref).toFixed(2)}x`)
  }
}

main()
