'use strict'
// `npm run demo`: the Node side of `make demo`. A few hundred concurrent requests through the real
// `openai` npm package against ferrule's local fault-injecting server, twice: the bare SDK (its own
// two retries), then the same SDK wrapped by ferrule (retries that honour Retry-After, an attempt
// timeout, a circuit breaker, a fallback to a second endpoint, JSON answers parsed by `parseJson` so
// broken JSON is repaired where the fix is certain and re-asked only where it is not). No key, no
// network; seeded faults, so both runs meet the same profile. The wrapped run also records GenAI
// spans and Prometheus metrics (served on a loopback port).

const OpenAI = require('openai')
const { CircuitBreaker, MockLLMServer, Policy, ValidationError, metricsText, parseJson, recentSpans, serveMetrics, setPrice, validationStats, wrapOpenAI } = require('ferrule')

const REQUESTS = 300
const CONCURRENCY = 32
const MODEL = 'mock-gpt-4o-mini'
const BACKUP_MODEL = 'mock-gpt-4o-mini-backup'
const PRICE_PER_MILLION = { [MODEL]: [0.15, 0.6], [BACKUP_MODEL]: [0.3, 1.2] }
const SEED = 7
const FAULTS = [
  { kind: '503', rate: 1.0, from: 80, to: 100 }, // an outage burst
  { kind: 'slow', rate: 0.7, from: 260, to: 330, latencyMs: 3000 }, // a slow period
  { kind: '429', rate: 0.15, retryAfterMs: 400 }, // rate limiting all along
  { kind: '503', rate: 0.04 },
  { kind: 'malformed_json', rate: 0.08 },
]

function parsed(completion) {
  try {
    const v = JSON.parse(completion.choices[0].message.content || '')
    return v !== null && typeof v === 'object' && 'answer' in v ? v : undefined
  } catch {
    return undefined
  }
}

const ANSWER_SCHEMA = { type: 'object', required: ['answer'] }
// The policy's result check parses each answer once; the application then takes that value.
const checked = new WeakMap()

/** The same check through ferrule's `parseJson`: strict first, then repaired when the fix is certain (counted). */
function parsedByFerrule(completion) {
  if (checked.has(completion)) return checked.get(completion)
  let v
  try {
    v = parseJson(completion.choices[0].message.content || '', { schema: ANSWER_SCHEMA })
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e
  }
  const out = v !== null && typeof v === 'object' ? v : undefined
  checked.set(completion, out)
  return out
}

class Run {
  constructor(name) {
    Object.assign(this, { name, ok: 0, failed: 0, errors: {}, latencies: [], tokens: 0, cost: 0, byModel: {}, wall: 0 })
  }
  success(c, ms) {
    this.ok++
    this.latencies.push(ms)
    this.byModel[c.model] = (this.byModel[c.model] || 0) + 1
    if (c.usage) {
      this.tokens += c.usage.total_tokens
      const [pin, pout] = PRICE_PER_MILLION[c.model] || [0, 0]
      this.cost += (c.usage.prompt_tokens * pin + c.usage.completion_tokens * pout) / 1e6
    }
  }
  failure(what, ms) {
    this.failed++
    this.latencies.push(ms)
    this.errors[what] = (this.errors[what] || 0) + 1
  }
  rate() {
    return this.ok / Math.max(1, this.ok + this.failed)
  }
  pct(p) {
    const xs = [...this.latencies].sort((a, b) => a - b)
    return xs.length ? xs[Math.min(xs.length - 1, Math.round((p / 100) * (xs.length - 1)))] : 0
  }
}

async function workload(run, client, check = parsed) {
  const started = performance.now()
  const bar = setInterval(() => progress(run, started), 100)
  let next = 0
  async function worker() {
    while (next < REQUESTS) {
      const i = next++
      const t0 = performance.now()
      try {
        const c = await client.chat.completions.create({
          model: MODEL,
          messages: [{ role: 'user', content: `Summarise support ticket #${i} as JSON` }],
          response_format: { type: 'json_object' },
        })
        if (check(c) === undefined) run.failure('broken JSON', performance.now() - t0)
        else run.success(c, performance.now() - t0)
      } catch (e) {
        run.failure(e.constructor.name, performance.now() - t0)
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  run.wall = (performance.now() - started) / 1000
  clearInterval(bar)
  progress(run, started)
  process.stdout.write('\n')
}

function progress(run, started) {
  const done = run.ok + run.failed
  const bar = '#'.repeat(Math.floor((30 * done) / REQUESTS)).padEnd(30)
  process.stdout.write(
    `\r  ${run.name.padEnd(8)} [${bar}] ${String(done).padStart(3)}/${REQUESTS}  ok ${String(run.ok).padStart(3)}  failed ${String(run.failed).padStart(3)}  ${((performance.now() - started) / 1000).toFixed(1)}s`,
  )
}

async function bareRun() {
  const run = new Run('bare')
  const server = new MockLLMServer({ faults: FAULTS, seed: SEED, latencyMs: 20 })
  try {
    await workload(run, new OpenAI({ baseURL: server.url, apiKey: 'demo' })) // the SDK's defaults: 2 retries
    return [run, server.stats()]
  } finally {
    server.stop()
  }
}

async function ferruleRun() {
  const run = new Run('ferrule')
  const transitions = []
  let reasked = 0
  const t0 = performance.now()
  const server = new MockLLMServer({ faults: FAULTS, seed: SEED, latencyMs: 20 })
  const backupServer = new MockLLMServer({ seed: SEED, latencyMs: 20 })
  try {
    const backup = new OpenAI({ baseURL: backupServer.url, apiKey: 'demo', maxRetries: 1 })
    // A 429 is the server pacing us, not an outage: the retry waits it out, the breaker ignores it.
    const breaker = new CircuitBreaker('primary', { failureRate: 0.5, window: 20, minCalls: 10, openMs: 500, maxOpenMs: 1000, halfOpenCalls: 3, ignore: OpenAI.RateLimitError })
    breaker.on('stateChange', (from, to) => transitions.push([(performance.now() - t0) / 1000, from, to]))
    const policy = new Policy({
      retry: {
        attempts: 5,
        backoff: { kind: 'exponential', initialMs: 50, multiplier: 2, maxMs: 1000 },
        maxRetryAfterMs: 2000,
        retryOnResult: (c) => parsedByFerrule(c) === undefined && ++reasked > 0, // repaired answers are kept
      },
      breaker,
      timeoutMs: 1000,
      totalTimeoutMs: 6000,
      fallback: (err, body, options) => backup.chat.completions.create({ ...body, model: BACKUP_MODEL }, options),
      name: 'primary',
    })
    const client = wrapOpenAI(new OpenAI({ baseURL: server.url, apiKey: 'demo' }), { policy })
    const before = validationStats()
    await workload(run, client, parsedByFerrule)
    const after = validationStats()
    const repairKinds = Object.fromEntries(Object.entries(after.repairs).map(([k, n]) => [k, n - (before.repairs[k] || 0)]).filter(([, n]) => n > 0))
    const s = policy.stats()
    return [run, server.stats(), { ...s, reasked, transitions, backupRequests: backupServer.stats().requests, repaired: after.repaired - before.repaired, repairKinds }]
  } finally {
    server.stop()
    backupServer.stop()
  }
}

function faultLine(stats) {
  return Object.entries(stats.byFault || stats.by_fault || {})
    .filter(([k, v]) => v && k !== 'ok')
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')
}

async function main() {
  const warnings = []
  process.removeAllListeners('warning')
  process.on('warning', (w) => warnings.push(w))
  console.log(`ferrule demo (Node): ${REQUESTS} requests, ${CONCURRENCY} at a time, through the real openai npm package against a local fault-injecting server (no key, no network)`)
  console.log('  faults: a burst of 503s, a slow period (3 s answers), 429s with Retry-After, broken JSON\n')
  for (const [m, [pin, pout]] of Object.entries(PRICE_PER_MILLION)) setPrice(m, pin, pout) // the GenAI cost counter prices wrapped calls
  const [bare, bareServer] = await bareRun()
  const served = serveMetrics({ port: 0 })
  let wrapped, server, p
  try {
    ;[wrapped, server, p] = await ferruleRun()
  } finally {
    served.stop()
  }
  const row = (label, a, b) => console.log(`  ${label.padEnd(34)}${String(a).padStart(16)}${String(b).padStart(16)}`)
  console.log('\nsummary                                       bare SDK    ferrule-wrapped')
  row('success rate', `${(bare.rate() * 100).toFixed(1)}%`, `${(wrapped.rate() * 100).toFixed(1)}%`)
  row('succeeded / failed', `${bare.ok} / ${bare.failed}`, `${wrapped.ok} / ${wrapped.failed}`)
  row('requests the primary server saw', bareServer.requests, server.requests)
  for (const q of [50, 95, 99]) row(`latency p${q}`, `${bare.pct(q).toFixed(0)} ms`, `${wrapped.pct(q).toFixed(0)} ms`)
  row('wall time', `${bare.wall.toFixed(1)} s`, `${wrapped.wall.toFixed(1)} s`)
  row('tokens', bare.tokens, wrapped.tokens)
  row('cost (USD, demo prices)', `$${bare.cost.toFixed(5)}`, `$${wrapped.cost.toFixed(5)}`)
  console.log('\n  failures by kind')
  for (const r of [bare, wrapped]) {
    const kinds = Object.entries(r.errors).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'
    console.log(`    ${r.name.padEnd(8)} ${kinds}`)
  }
  console.log('\n  ferrule')
  console.log(`    retries                 ${p.retries}  (attempts ${p.attempts}, budget denied ${p.budgetDenied})`)
  console.log(`    attempt timeouts        ${p.timeouts}  (slow answers cut at 1 s and asked again)`)
  const kinds = Object.entries(p.repairKinds).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'
  console.log(`    validation repairs      ${p.repaired} answers repaired by parseJson (${kinds})`)
  console.log(`    broken JSON re-asked    ${p.reasked}  (irreparable or schema-failing answers asked again)`)
  console.log(`    fallbacks to backup     ${p.fallbacks}  (backup server saw ${p.backupRequests} requests)`)
  console.log(`    answered by model       ${JSON.stringify(wrapped.byModel)}`)
  console.log(`    breaker transitions     ${p.transitions.length}`)
  for (const [t, from, to] of p.transitions) console.log(`      t=${t.toFixed(2).padStart(6)}s  ${from.padStart(9)} -> ${to}`)
  console.log(`    faults injected         bare ${faultLine(bareServer)}`)
  console.log(`                            ferrule ${faultLine(server)}`)
  console.log(`\n  Prometheus metrics served at ${served.url} during the run (serveMetrics); a few lines:`)
  const text = metricsText()
  for (const line of text.split('\n')) {
    if (/^(ferrule_cost_usd_total|gen_ai_client_token_usage_sum|gen_ai_client_operation_duration_seconds_count)\{/.test(line) && line.includes('mock-gpt')) console.log(`    ${line}`)
  }
  const spans = recentSpans()
  console.log(`  spans in the read-back ring: ${spans.length} (recentSpans()${spans.length ? `; e.g. ${JSON.stringify(spans[spans.length - 1].name)}` : ''})`)
  console.log('  inference log: Python writes one SQLite record per wrapped call (make demo); the Node inference-log API is not on main yet')
  console.log(`\n  ferrule warnings emitted ${warnings.length}${warnings.length ? `  (first: ${warnings[0].message})` : ''}`)
  if (wrapped.rate() <= bare.rate()) {
    console.error(`demo failed: ferrule's success rate ${wrapped.rate()} is not above ${bare.rate()}`)
    process.exitCode = 1
  }
}

main()
