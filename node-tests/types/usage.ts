// Typed usage of the public API: `tsc -p node-tests/tsconfig.json` compiles it, so index.d.ts must
// accept what the docs show and refuse what the runtime refuses (each @ts-expect-error is a check
// that a mistake stays a type error). node-tests/types.test.js checks index.d.ts itself against the
// runtime's exports.

import {
  CircuitBreaker,
  CircuitOpenError,
  FerruleError,
  ManualClock,
  type BreakerState,
  type CircuitBreakerOptions,
  type CircuitBreakerStats,
  type FerruleConfigError,
  type StateChangeInfo,
} from 'ferrule'

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
      void from, to, ms, info.reason
    })
    .off('stateChange', () => {})
  // @ts-expect-error: only 'stateChange' exists
  breaker.on('change', () => {})

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

// ---- response validation and correction ----
import { parseJson, repairJson, validated, validationStats, ValidationError } from 'ferrule'
import type { Repair, ReaskContext, ValidationStats } from 'ferrule'
import { z } from 'zod'

export async function validation(): Promise<void> {
  const value: unknown = parseJson('{"a": 1}', { schema: { type: 'object' }, repair: true, maxDepth: 64, maxInputBytes: 1 << 20 })
  const Person = z.object({ name: z.string(), age: z.number().int() })
  const person = parseJson('{"name": "Ada", "age": 36}', { schema: Person })
  const fixed = repairJson("{'a': 1,}")
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
