'use strict'
// What `wrapOpenAI` adds to a real `openai` npm call on the local mock server, against the bare
// client and the bare client under cockatiel's retry (what users write by hand), in one process
// run. The HTTP round trip dominates and the machine is shared, so the contenders run in
// interleaved rounds and the best round counts, in wall time and in process CPU time (client and
// in-process server): the difference to the bare row is the wrapper's cost.

const OpenAI = require('openai')
const cockatiel = require('cockatiel')
const { MockLLMServer, Policy, wrapOpenAI, observe } = require('ferrule')

const N = Number(process.env.BENCH_N || 150)
const ROUNDS = Number(process.env.BENCH_ROUNDS || 5)
const MSG = [{ role: 'user', content: 'hi' }]

function cpuNs() {
  const u = process.cpuUsage()
  return (u.user + u.system) * 1000
}

function table(title, rows) {
  const base = rows[0][1]
  console.log(`\n${title}`)
  for (const [name, ns] of rows) {
    const vs = name === rows[0][0] ? '' : `  x${(ns / base).toFixed(3)}  ${((ns - base) / 1000).toFixed(1).padStart(6)} us vs bare`
    console.log(`  ${name.padEnd(44)}${(ns / 1000).toFixed(1).padStart(10)} us/call${vs}`)
  }
}

function verdict(label, gotUs, limitUs, peer = '') {
  console.log(`target: ${label} <= ${limitUs.toFixed(1)} us${peer} -> ${gotUs.toFixed(2)} us  ${gotUs <= limitUs ? 'PASS' : 'MISS'}`)
}

/** The OpenAI client's shape with no I/O under it: what is left is the wrapper's own cost. */
function stubClient() {
  const completions = { create: async (body) => body }
  return { chat: { completions }, withOptions: () => stubClient() }
}

/** CPU ns per awaited call, best of `rounds` runs of `n` calls. */
async function cpuPerCall(fn, n = 20_000, rounds = 5) {
  for (let i = 0; i < 2000; i++) await fn()
  let best = Infinity
  for (let r = 0; r < rounds; r++) {
    const c0 = cpuNs()
    for (let i = 0; i < n; i++) await fn()
    best = Math.min(best, (cpuNs() - c0) / n)
  }
  return best
}

async function stubRows(policy) {
  const bare = stubClient()
  const wrapped = wrapOpenAI(stubClient(), { policy })
  const cRetry = cockatiel.retry(cockatiel.handleAll, { maxAttempts: 2, backoff: new cockatiel.ExponentialBackoff() })
  const call = (c) => () => c.chat.completions.create({ model: 'm', messages: MSG })
  const off = await cpuPerCall(call(wrapped))
  observe()
  let on
  try {
    on = await cpuPerCall(call(wrapped))
  } finally {
    observe({ enabled: false })
  }
  const rows = [
    ['stub create, bare', await cpuPerCall(call(bare))],
    ['ferrule wrapOpenAI over the stub', off],
    ['ferrule wrapOpenAI over the stub, observe() on', on],
    ['cockatiel retry over the stub', await cpuPerCall(() => cRetry.execute(() => bare.chat.completions.create({ model: 'm', messages: MSG })))],
  ]
  table('the wrapper alone (no HTTP), CPU time per call: retry + timeout + spans + record', rows)
  verdict('observe() on adds, per call', (on - off) / 1000, 2.0)
}

async function main() {
  process.removeAllListeners('warning')
  const server = new MockLLMServer({})
  try {
    await stubRows(new Policy({ retry: { attempts: 3 }, timeoutMs: 30_000, name: 'bench-stub' }))
    const bare = new OpenAI({ baseURL: server.url, apiKey: 'bench', maxRetries: 0 })
    const policy = new Policy({ retry: { attempts: 3 }, timeoutMs: 30_000, name: 'bench' })
    const wrapped = wrapOpenAI(new OpenAI({ baseURL: server.url, apiKey: 'bench' }), { policy })
    const cRetry = cockatiel.retry(cockatiel.handleAll, { maxAttempts: 2, backoff: new cockatiel.ExponentialBackoff() })
    const contenders = [
      ['openai bare client', () => bare.chat.completions.create({ model: 'm', messages: MSG })],
      ['ferrule wrapOpenAI (retry + timeout + span)', () => wrapped.chat.completions.create({ model: 'm', messages: MSG })],
      ['cockatiel retry around the bare client', () => cRetry.execute(() => bare.chat.completions.create({ model: 'm', messages: MSG }))],
    ]
    for (const [, fn] of contenders) for (let i = 0; i < 30; i++) await fn()
    const wall = Object.fromEntries(contenders.map(([n]) => [n, Infinity]))
    const cpu = { ...wall }
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, fn] of contenders) {
        const t0 = process.hrtime.bigint()
        const c0 = cpuNs()
        for (let i = 0; i < N; i++) await fn()
        wall[name] = Math.min(wall[name], Number(process.hrtime.bigint() - t0) / N)
        cpu[name] = Math.min(cpu[name], (cpuNs() - c0) / N)
      }
    }
    console.log(`openai ${require('openai').VERSION || ''} chat.completions.create on the mock server, ${N} calls x ${ROUNDS} rounds (best round)`)
    table('wall time per call', contenders.map(([n]) => [n, wall[n]]))
    table('process CPU time per call (client + in-process server)', contenders.map(([n]) => [n, cpu[n]]))
    const bareCpu = cpu[contenders[0][0]]
    const added = (cpu[contenders[1][0]] - bareCpu) / 1000
    const peer = (cpu[contenders[2][0]] - bareCpu) / 1000
    console.log(`added CPU per call: ferrule ${added.toFixed(1)} us, cockatiel ${peer.toFixed(1)} us`)
    verdict('CPU wrapOpenAI adds per SDK call', added, 20.0)
  } finally {
    server.stop()
  }
}

main()
