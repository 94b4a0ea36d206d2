// Typed usage of the public API: `tsc -p node-tests/tsconfig.json` compiles it, so index.d.ts must
// accept what the docs show and refuse what the runtime refuses (each @ts-expect-error is a check
// that a mistake stays a type error). node-tests/types.test.js checks index.d.ts itself against the
// runtime's exports.

import {
  CircuitBreaker,
  CircuitOpenError,
  FerruleError,
  ManualClock,
  Counter,
  Gauge,
  Histogram,
  metricsText,
  serveMetrics,
  recordLlmCall,
  setPrice,
  profile,
  type ProfileRow,
  type BreakerState,
  type CounterChild,
  type MetricsServer,
  type CircuitBreakerOptions,
  type CircuitBreakerStats,
  type FerruleConfigError,
  type StateChangeInfo,
} from 'ferrule'
import * as ferrule from 'ferrule'

class RateLimitError extends Error {
  status = 429
}

interface ChatResponse {
  id: string
  status: number
}

async function chat(prompt: string, temperature?: number): Promise<ChatResponse> {
  return { id: `${prompt}:${temperature ?? 1}`, status: 200 }
}

export async function usage(): Promise<void> {
  const breaker = new CircuitBreaker('openai', {
    failureRate: 0.5,
    window: 20,
    minCalls: 10,
    openMs: 30000,
    halfOpenCalls: 2,
  })

  // execute: async and sync functions, typed results.
  const r: ChatResponse = await breaker.execute(() => chat('hi'))
  const n: number = await breaker.execute(() => 42)
  void r.id, n

  // wrap: same arguments, a Promise of the awaited result.
  const guarded = breaker.wrap(chat)
  const g: ChatResponse = await guarded('hello', 0.2)
  void g
  // @ts-expect-error: wrong argument type for the wrapped function
  void guarded(42)

  const state: BreakerState = breaker.state
  if (state === 'half_open') void 0
  // @ts-expect-error: not a state
  if (breaker.state === 'halfOpen') void 0

  const stats: CircuitBreakerStats = breaker.stats()
  const remaining: number | null = stats.openRemainingMs
  void remaining, stats.windowSlow, stats.listenerErrors

  breaker
    .on('stateChange', (from: BreakerState, to: BreakerState, info: StateChangeInfo) => {
      const ms: number | null = info.openForMs
      const peer: boolean = info.peer
      void from, to, ms, info.reason, peer
    })
    .off('stateChange', () => {})
  // @ts-expect-error: only 'stateChange' exists
  breaker.on('change', () => {})
  const sync = breaker.syncStats()
  if (sync !== null) void sync.held, sync.heldRejected, sync.syncAgeMs

  breaker.forceOpen()
  breaker.forceClosed()
  breaker.reset()

  // Every option, with a time window, classifiers and a manual clock.
  const clock = new ManualClock()
  const timed: CircuitBreakerOptions = {
    failureRate: null,
    consecutiveFailures: 5,
    windowMs: 60000,
    windowBuckets: 12,
    minCalls: 5,
    slowCallMs: 2000,
    slowCallRate: 0.5,
    openMs: 1000,
    maxOpenMs: 60000,
    openMultiplier: 2,
    halfOpenCalls: 1,
    ignore: [TypeError, RangeError],
    failureOn: (e: unknown) => e instanceof RateLimitError,
    failureOnResult: (res: ChatResponse) => res.status >= 500,
    clock,
  }
  new CircuitBreaker('timed', timed)
  new CircuitBreaker('single-class', { ignore: RateLimitError, failureOn: [RateLimitError] })
  clock.advance(10)
  const now: number = clock.now()
  void now

  // @ts-expect-error: a count window and a time window at once
  new CircuitBreaker('both', { window: 20, windowMs: 1000 })
  // @ts-expect-error: unknown option
  new CircuitBreaker('typo', { failRate: 0.5 })
  // @ts-expect-error: durations are numbers of ms
  new CircuitBreaker('string', { openMs: '30s' })

  try {
    await breaker.execute(() => chat('x'))
  } catch (e) {
    if (e instanceof CircuitOpenError) {
      const name: string = e.breaker
      const after: number | null = e.retryAfterMs
      const code: 'FERRULE_CIRCUIT_OPEN' = e.code
      void name, after, code
    } else if (e instanceof FerruleError) {
      const code: string = e.code
      const cause: unknown = e.cause
      void code, cause
    }
  }

  try {
    new CircuitBreaker('bad', { openMs: -5 })
  } catch (e) {
    const err = e as FerruleConfigError
    const code: 'FERRULE_INVALID_CONFIG' = err.code
    void code, err.param
  }

  const chained = new FerruleError('wrapped', { code: 'FERRULE_X', cause: new Error('root') })
  void chained
}

export function useMetrics(): void {
  const calls = new Counter('usage_calls_total', { help: 'Calls.', labels: ['model'] })
  const gpt4o: CounterChild = calls.labels({ model: 'gpt-4o' })
  gpt4o.inc()
  gpt4o.inc(2)
  calls.labels('gpt-4o-mini').inc()
  const v: number = gpt4o.value
  const latency = new Histogram('usage_latency_seconds', { help: 'Latency.', labels: ['model'], buckets: [0.1, 1] })
  latency.labels('gpt-4o').observe(0.2, { trace_id: 'abc' })
  const depth = new Gauge('usage_depth', { help: 'Depth.' })
  depth.set(3)
  depth.dec()
  const text: string = metricsText({ openmetrics: true })
  const server: MetricsServer = serveMetrics({ port: 0 })
  const port: number = server.port
  server.stop()
  // @ts-expect-error: label names are an array
  new Counter('bad_total', { help: 'x', labels: 'model' })
  // @ts-expect-error: a metric needs help
  new Counter('bad_total', { labels: ['model'] })
  // @ts-expect-error: amounts are numbers
  gpt4o.inc('1')
  void v, text, port
}

export function useProfile(): void {
  setPrice('my-finetune', 3, 12)
  const cost: number = recordLlmCall({ model: 'gpt-4o', durationMs: 1300, inputTokens: 812, outputTokens: 164, template: 'summarise' })
  const rows: ProfileRow[] = profile({ by: 'latency', n: 5 }).top(3, 'tokens').rows
  // @ts-expect-error: profiles sort by cost, latency, tokens, calls or errors
  profile({ by: 'price' })
  // @ts-expect-error: durations are ms numbers
  recordLlmCall({ model: 'gpt-4o', durationMs: '1s' })
  void cost, rows
}

// ---- telemetry ----
export async function useTelemetry(): Promise<void> {
  ferrule.configure({ serviceName: 'svc', sampleRatio: 0.5, logSink: (line: string) => void line, redactPatterns: { id: 'E\\d+' } })
  const id: string = await ferrule.runInContext({ sessionId: 's', userId: 'u', tags: ['a'] }, async () =>
    ferrule.withSpan({ operation: 'chat', model: 'gpt-4o', provider: 'openai' }, async (span: ferrule.Span) => {
      span.setAttribute('k', 1).setUsage({ inputTokens: 3 })
      const header: string | null = ferrule.traceparent()
      const ok: boolean = ferrule.emit('retry.attempt', { level: 'warning', attempt: 1, latencyMs: 5 })
      void header
      void ok
      return span.traceId
    }),
  )
  const spans: ferrule.SpanRecord[] = ferrule.recentSpans()
  const start: bigint = spans[0].startNs
  const masked: string = ferrule.redact('a@b.io')
  void id
  void start
  void masked
}
function useWatchers(): void {
  const clock = new ferrule.ManualClock()
  const page = (e: ferrule.WatchEvent): void => {
    const key: string = e.dedupKey
    const firing: boolean = e.state === 'firing'
    console.log(key, firing, e.labels['window'], e.atMs)
  }
  const slo = new ferrule.SLO('api', { objective: 0.999, windowDays: 30, onEvent: page, clock })
  slo.on('budget', (exhausted: boolean) => console.log(exhausted))
  const events: ferrule.WatchEvent[] = slo.record(true, 120)
  const burn: number = slo.burnRate(3_600_000)
  const rules: string = slo.prometheusRules()
  const basis: 'window' | 'extrapolated' = slo.stats().budgetBasis
  const tuned = new ferrule.SLO('tuned', { fastBurnBaselineFactor: 6, resolveRatio: 0.5, confidenceSigmas: 0 })
  console.log(rules.length, basis, tuned.stats().pageFiring, tuned.stats().ticketFiring, tuned.stats().budgetCoverage)
  const latency = new ferrule.AnomalyDetector('lat', 'latency_ms', { method: 'mad', minDurationMs: 60_000 })
  latency.observe(250, { model: 'm', template: 't' })
  const drift = new ferrule.DriftDetector('out', { embedder: (t: string) => [t.length, 1], baseline: 'manual' })
  drift.observe('hello', { tokens: 2 })
  const predictor = new ferrule.ErrorPredictor('p', { horizonMs: 300_000 })
  predictor.observe('rate_limited', 1200, { headers: { 'x-ratelimit-remaining-requests': '3' } })
  const p: number | null = predictor.probability
  const model: number[] = predictor.export()
  console.log(events, burn, p, model, slo.stats().budgetRemaining, drift.stats().pValue)
}
useWatchers

// ---- rate limiting ----
import { RateLimiter, RateLimitedError, type RateLimiterStats } from 'ferrule'

async function limited(): Promise<void> {
  const rpm = RateLimiter.tokenBucket({ rate: 500, perMs: 60_000, burst: 50, name: 'rpm' })
  const win = RateLimiter.slidingWindow({ limit: 30_000, windowMs: 60_000, maxKeys: 1000 })
  const log = RateLimiter.slidingLog({ limit: 10, windowMs: 1000, clock: new ManualClock() })
  const ok: boolean = rpm.tryAcquire(1, 'tenant-42') && win.tryAcquire() && log.tryAcquire(2, 7)
  const ac = new AbortController()
  await rpm.acquire(1, { key: 'tenant-42', timeoutMs: 5000, signal: ac.signal })
  await win.acquire()
  try {
    await log.acquire(1, { timeoutMs: 0 })
  } catch (e) {
    if (e instanceof RateLimitedError) {
      const after: number = e.retryAfterMs
      const who: string = e.limiter
      console.log(after, who)
    }
  }
  const s: RateLimiterStats = rpm.stats()
  const wait: number = rpm.peek(1)
  console.log(ok, s.rejected, s.waitMsTotal, wait, rpm.evictIdle(), rpm.name)
  // @ts-expect-error a token bucket needs a rate
  RateLimiter.tokenBucket({ perMs: 1000 })
  // @ts-expect-error a sliding window needs windowMs
  RateLimiter.slidingWindow({ limit: 5 })
  // @ts-expect-error the constructor is private: use the static builders
  new RateLimiter('tokenBucket', { rate: 1 })
}
void limited

import { Limits, Reservation } from 'ferrule'

async function limitedTokens(): Promise<void> {
  const rpm = RateLimiter.tokenBucket({ rate: 500, perMs: 60_000 })
  const tpm = RateLimiter.slidingWindow({ limit: 30_000, windowMs: 60_000 })
  const limits = new Limits({ requests: rpm, tokens: tpm })
  const now: boolean = limits.tryAcquire({ requests: 1, tokens: 1200 }, 'acme')
  const r: Reservation = await limits.acquire({ requests: 1, tokens: 1200 }, { key: 'acme', timeoutMs: 1000 })
  r.settle({ tokens: 900 })
  const charged: Record<string, number> = r.charged
  const names: string[] = limits.names
  console.log(now, charged, names, r.key, r.settled)
  // @ts-expect-error a reservation comes from Limits.acquire
  new Reservation()
}
void limitedTokens
// ---- response validation and correction ----
import { parseJson, repairJson, validated, validationStats, ValidationError } from 'ferrule'
import type { Repair, RepairMode, ReaskContext, ValidationStats } from 'ferrule'
import { z } from 'zod'

export async function validation(): Promise<void> {
  const value: unknown = parseJson('{"a": 1}', { schema: { type: 'object' }, repair: true, maxDepth: 64, maxInputBytes: 1 << 20 })
  const Person = z.object({ name: z.string(), age: z.number().int() })
  const person = parseJson('{"name": "Ada", "age": 36}', { schema: Person })
  const fixed = repairJson("{'a': 1,}")
  const mode: RepairMode = 'lenient'
  const guessed = repairJson('{message: hello world}', { mode, maxDepth: 8 })
  const guessedKind: 'unquoted_value' | string = guessed.repairs[1]?.kind ?? ''
  // @ts-expect-error the mode is 'safe' or 'lenient'
  repairJson('{}', { mode: 'fast' })
  void guessedKind
  const first: Repair | undefined = fixed.repairs[0]
  const text: string = fixed.text
  const stats: ValidationStats = validationStats()
  const n: number = stats.repairs.trailing_comma + stats.valid
  try {
    parseJson('{')
  } catch (e) {
    if (e instanceof ValidationError) {
      const paths: string[] = e.errors.map((x) => x.path)
      const kind: 'parse' | 'schema' | 'limit' = e.kind
      const line: number | null = e.line
      void paths, kind, line
    }
  }
  const extract = validated(async (prompt: string, ctx?: ReaskContext) => (ctx ? ctx.feedback : prompt), { schema: Person, reask: 2 })
  const result: Promise<any> = extract('who?')
  const sync = validated((s: string) => s, { repair: false })
  void value, person, first, text, n, (await result), sync('{}')
}

// ---- alerting: onAlert adds and unsubscribes; every watcher has gauges() ------------
import { onAlert, inProbe, SyntheticProbe, DeadMansSwitch } from 'ferrule'
const unsubscribe: () => boolean = onAlert((n) => console.log(n.name, n.status))
unsubscribe()
const synthetic: boolean = inProbe()
const switchRows: Array<[string, Record<string, string>, number]> = new DeadMansSwitch('types-switch', 60_000).gauges()
const probe = new SyntheticProbe('types-probe', async () => 'ok', 60_000, 5_000, { start: false })
const probeRows = probe.gauges()
void [synthetic, switchRows, probeRows]
