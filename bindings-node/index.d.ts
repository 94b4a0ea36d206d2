// Public types of ferrule for Node. Checked against the runtime by node-tests (tsc on a typed usage
// file, and a test comparing these declarations with the objects index.js exports).

/** What a call meets: `'closed'` lets calls through, `'open'` refuses them, `'half_open'` lets a few probes through. */
export type BreakerState = 'closed' | 'open' | 'half_open'

/** Why the breaker moved. */
export type TransitionReason =
  | 'consecutive_failures'
  | 'failure_rate'
  | 'slow_call_rate'
  | 'open_elapsed'
  | 'probe_failed'
  | 'probes_succeeded'
  | 'forced_open'
  | 'forced_closed'
  | 'reset'

/** An Error class, matched with `instanceof`. */
export type ErrorClass = abstract new (...args: any[]) => Error

/** Error classes (any match counts), one Error class, or a predicate on the thrown value. */
export type ErrorMatcher = ReadonlyArray<ErrorClass> | ErrorClass | ((error: any) => boolean)

interface CommonOptions {
  /** Trip when failures / calls over the window reach this, once `minCalls` were seen. In (0, 1]; default 0.5; `null` turns the rule off. */
  failureRate?: number | null
  /** Trip after this many failures in a row. Integer in [1, 1000000]; off by default. */
  consecutiveFailures?: number
  /** Calls needed in the window before a rate can trip. Integer, default 10, at most `window`. */
  minCalls?: number
  /** A call lasting at least this many ms is slow. */
  slowCallMs?: number
  /** Trip when slow calls / calls over the window reach this, in (0, 1]; needs `slowCallMs`. */
  slowCallRate?: number
  /** How long the breaker stays open before letting probes through, in ms. Default 30000. */
  openMs?: number
  /** When set, each trip after a failed probe stays open `openMultiplier` times longer, up to this (ms), jittered. */
  maxOpenMs?: number
  /** Growth of the open time between trips, in [1, 100]; default 2. Used with `maxOpenMs`. */
  openMultiplier?: number
  /** Probes admitted while half-open; that many successes close the breaker. Default 1. */
  halfOpenCalls?: number
  /** Errors that are neither success nor failure (e.g. a caller's own bad request). */
  ignore?: ErrorMatcher
  /** Errors that are failures; any other error (not ignored) counts as a success. Default: every error not ignored is a failure. */
  failureOn?: ErrorMatcher
  /** A returned value this predicate accepts counts as a failure (the value is still returned). */
  failureOnResult?: (value: any) => boolean
  /** A manual clock to drive the breaker's time by hand, for tests. */
  clock?: ManualClock
}

/** A count window: the last `window` calls (default 20). */
interface CountWindowOptions extends CommonOptions {
  window?: number
  windowMs?: undefined
  windowBuckets?: undefined
}

/** A time window: the last `windowMs` ms, in `windowBuckets` buckets (default 10). */
interface TimeWindowOptions extends CommonOptions {
  windowMs: number
  windowBuckets?: number
  window?: undefined
}

/** Breaker options: a count window or a time window, never both. */
export type CircuitBreakerOptions = CountWindowOptions | TimeWindowOptions

export interface StateChangeInfo {
  reason: TransitionReason
  /** For a transition to open: how long it stays open, in ms; otherwise null. */
  openForMs: number | null
}

export type StateChangeListener = (from: BreakerState, to: BreakerState, info: StateChangeInfo) => void

export interface CircuitBreakerStats {
  name: string
  state: BreakerState
  /** Held open or closed by forceOpen() / forceClosed(). */
  forced: boolean
  /** Admitted calls whose outcome was recorded: successes + failures + ignored. */
  calls: number
  successes: number
  failures: number
  ignored: number
  slow: number
  /** Calls refused with CircuitOpenError. */
  rejected: number
  transitions: number
  consecutiveFailures: number
  windowCalls: number
  windowFailures: number
  windowSlow: number
  /** Time left open, in ms; null unless open on a timer. */
  openRemainingMs: number | null
  /** 'stateChange' listeners that threw (each also reported with process.emitWarning). */
  listenerErrors: number
  /** ignore / failureOn / failureOnResult predicates that threw (the call then counted as a failure). */
  classifierErrors: number
}

export class CircuitBreaker {
  /** @throws TypeError for an unknown option, a wrong type or options that conflict; RangeError for a value out of range. */
  constructor(name: string, options?: CircuitBreakerOptions)
  readonly name: string
  /** The state a call would meet now. */
  readonly state: BreakerState
  /**
   * Runs `fn` (sync or async) through the breaker. Rejects with CircuitOpenError while open;
   * otherwise resolves or rejects as `fn` does, after recording the outcome.
   */
  execute<T>(fn: () => T): Promise<Awaited<T>>
  /** `fn` guarded by this breaker: same arguments and `this`; always returns a Promise. */
  wrap<A extends unknown[], R, This = unknown>(
    fn: (this: This, ...args: A) => R,
  ): (this: This, ...args: A) => Promise<Awaited<R>>
  /** Listens to state changes; called synchronously, in order, by the call that caused them. */
  on(event: 'stateChange', listener: StateChangeListener): this
  off(event: 'stateChange', listener: StateChangeListener): this
  /** Opens and stays open, refusing every call, until forceClosed() or reset(). */
  forceOpen(): void
  /** Closes and stays closed, whatever fails, until forceOpen() or reset(). */
  forceClosed(): void
  /** Back to a fresh closed breaker: window, failure run and open backoff cleared. */
  reset(): void
  stats(): CircuitBreakerStats
}

/** The root of every error ferrule throws. `code` is stable and shared with the Python binding. */
export class FerruleError extends Error {
  constructor(message: string, options?: { code?: string; cause?: unknown })
  readonly code: string
}

/** A breaker refused the call. */
export class CircuitOpenError extends FerruleError {
  constructor(breaker: string, retryAfterMs: number | null)
  readonly code: 'FERRULE_CIRCUIT_OPEN'
  /** The breaker's name. */
  readonly breaker: string
  /** Time left open in ms; null when it cannot be known (forced open, or every half-open probe slot taken). */
  readonly retryAfterMs: number | null
}

/** A refused configuration: the built-in TypeError or RangeError, with these fields. */
export interface FerruleConfigError extends Error {
  readonly code: 'FERRULE_INVALID_CONFIG'
  /** The option at fault, e.g. 'openMs'. */
  readonly param: string
}

/** A clock that moves only when told to: give it to a breaker (`{ clock }`) to test without sleeping. */
export class ManualClock {
  constructor()
  /** Moves time forward by `ms` (a finite number >= 0). */
  advance(ms: number): void
  /** Milliseconds since the clock's origin. */
  now(): number
}

// ---- telemetry: tracing with context ids, structured events, redaction (issue 5) -------------------

/** Span attribute values. Integers in the safe range are recorded as ints, other numbers as floats. */
export type AttributeValue = string | number | boolean

/** A span's role inside one call through a policy. */
export type SpanRole = 'call' | 'attempt' | 'validation' | 'fallback' | 'internal'

export interface SpanOptions {
  /** The span name; defaults to `"{operation} {model}"` per the OpenTelemetry GenAI conventions. */
  name?: string
  /** `gen_ai.operation.name`, e.g. `'chat'`. */
  operation?: string
  /** `gen_ai.request.model`. */
  model?: string
  /** `gen_ai.provider.name`, e.g. `'openai'`. */
  provider?: string
  /** Default `'call'`. */
  role?: SpanRole
  attributes?: Record<string, AttributeValue>
  /** A parent other than the current span. */
  parent?: Span
  /** Continue a trace received in a W3C `traceparent` header (malformed: a new trace). */
  traceparent?: string
}

/** A span handle. Ended by `withSpan`, or by `end()` for spans from `startSpan`. */
export interface Span {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | null
  /** The UUID v7 of the request this span belongs to. */
  readonly requestId: string
  /** The W3C `traceparent` header value to inject into an outgoing request. */
  readonly traceparent: string
  readonly ended: boolean
  setAttribute(key: string, value: AttributeValue): this
  setAttributes(attributes: Record<string, AttributeValue>): this
  setUsage(usage: { inputTokens?: number; outputTokens?: number }): this
  /** Prompt/response text, kept only with `captureContent`, masked and cut; true if kept. */
  setContent(content: { input?: string; output?: string }): boolean
  setStatus(status: 'ok' | 'error' | 'unset', description?: string): this
  recordError(error: unknown): this
  end(): void
}

/** A finished span from the in-process ring. */
export interface SpanRecord {
  name: string
  traceId: string
  spanId: string
  parentSpanId: string | null
  /** Nanoseconds since the Unix epoch. */
  startNs: bigint
  endNs: bigint
  status: 'ok' | 'error' | 'unset'
  attributes: Record<string, string | number | boolean | string[]>
}

export interface ContextIds {
  sessionId?: string
  userId?: string
  tags?: string[]
}

export interface CurrentContext {
  sessionId: string
  userId: string | null
  tags: string[]
  /** True when no session id was given anywhere and one was generated. */
  sessionGenerated: boolean
}

export interface TelemetryOptions {
  /** `OTEL_SERVICE_NAME`. */
  serviceName?: string
  /** Head sampling ratio in [0, 1] (`OTEL_TRACES_SAMPLER_ARG`); errors are always kept. */
  sampleRatio?: number
  /** Spans at least this long are kept whatever the head sampler said. */
  slowSpanMs?: number
  /** Keep prompt/response text (`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`). */
  captureContent?: boolean
  contentMaxChars?: number
  /** Base URL of an OTLP/HTTP receiver (`OTEL_EXPORTER_OTLP_ENDPOINT`); `false` turns export off. */
  otlpEndpoint?: string | false | null
  /** Where JSON events go: a function receiving each line, `'stderr'` (default), `'stdout'`, `'none'`, or a size-rotated file. */
  logSink?: ((line: string) => void) | 'stderr' | 'stdout' | 'none' | { file: string; maxBytes?: number; backups?: number }
  logLevel?: 'debug' | 'info' | 'warning' | 'error'
  /** Identical events within this window are suppressed and counted (default 1000). */
  logDedupMs?: number
  /** Extra regexes: an array (→ `[REDACTED]`) or name → regex (→ `[NAME]`). */
  redactPatterns?: string[] | Record<string, string>
}

export interface EventFields {
  level?: 'debug' | 'info' | 'warning' | 'error'
  message?: string
  model?: string
  attempt?: number
  latencyMs?: number
  inputTokens?: number
  outputTokens?: number
  costUsd?: number
  error?: unknown
  [field: string]: unknown
}

export interface TelemetryStats {
  spansStarted: number
  spansEnded: number
  spansUnsampled: number
  recentLen: number
  recentCapacity: number
  recentEvicted: number
  exportQueued: number
  exportCapacity: number
  exportDropped: number
  exportedSpans: number
  exportFailedSpans: number
  logsEmitted: number
  logsSuppressed: number
  logSinkErrors: number
  logLinesDropped: number
  sessionConflicts: number
  logSinkCallbackErrors: number
}

/** The one entry point for telemetry settings; only what is given changes. */
export declare function configure(options?: TelemetryOptions): void
/** Runs `fn` with context ids on every span and event inside, across every async hop. */
export declare function runInContext<T>(ids: ContextIds, fn: () => T): T
export declare function currentContext(): CurrentContext | null
/** Runs `fn` inside a new child span of the current one; ends it when `fn` returns or settles. */
export declare function withSpan<T>(options: SpanOptions | string, fn: (span: Span) => T): T
/** A started span that is not made current; call `end()`. */
export declare function startSpan(options: SpanOptions | string): Span
/** The current span's W3C `traceparent` header, or null. */
export declare function traceparent(): string | null
/** Emits one structured event; false when below the level or rate-limited. */
export declare function emit(event: string, fields?: EventFields): boolean
/** Masks emails, phones, cards, IPs and secrets with typed placeholders. */
export declare function redact(text: string): string
export declare function recentSpans(): SpanRecord[]
export declare function clearRecentSpans(): void
/** Exports what is queued, waiting up to `timeoutMs`. */
export declare function flush(timeoutMs?: number): boolean
export declare function telemetryStats(): TelemetryStats
