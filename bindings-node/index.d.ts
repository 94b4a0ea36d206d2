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
  | 'shared'
  | 'backend_down'
  | 'backend_up'

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
  /** Share this breaker's state through Redis with every breaker of the same name (other processes, hosts). */
  backend?: RedisBackend
  /** With a backend: how often state is published and picked up (default 500; 1 ms to 1 h). */
  syncMs?: number
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
  /** True when another process caused it (its open arrived through Redis). */
  peer: boolean
}

/** A breaker's exchange with Redis (`backend` set): counters of its sync thread. */
export interface BreakerSyncStats {
  syncs: number
  errors: number
  publishedOpens: number
  appliedOpens: number
  syncAgeMs: number
  /** Held by onBackendError 'failOpen' / 'failClosed' while Redis is down. */
  held: boolean
  heldAdmitted: number
  heldRejected: number
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
  /** With a backend: the sync thread's counters; null without one. */
  syncStats(): BreakerSyncStats | null
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

// ---- metrics -----------------------------------------------------------------------------------------

/** Options shared by Counter, Gauge and Histogram. */
export interface MetricOptions {
  /** The HELP text (required: Prometheus lints a metric without one). */
  help: string
  /** Label names, e.g. `['model']`. `trace_id`, `session_id`, `request_id`, `span_id`, `conversation_id`, `user_id`, `le` and `quantile` are refused. */
  labels?: string[]
  /** At most this many label sets (default 1000); later ones fold into one series whose values are `"other"`, counted in `ferrule_metric_series_overflow_total`. */
  maxSeries?: number
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds, strictly increasing; `+Inf` is implied. Default: prom-client's. */
  buckets?: number[]
}

/** Label values: in label-name order, or as an object keyed by label name. */
export type LabelValues = [Record<string, string | number>] | Array<string | number>

/** One counter series. Keep it and call `inc` on the hot path. */
export interface CounterChild {
  /** Adds `amount` (default 1). @throws RangeError for a negative or non-finite amount. */
  inc(amount?: number): void
  readonly value: number
}

export interface GaugeChild {
  set(value: number): void
  inc(amount?: number): void
  dec(amount?: number): void
  readonly value: number
}

export interface HistogramChild {
  /** Records `value`; `exemplar` (e.g. `{ trace_id }`) rides on its bucket in OpenMetrics, never as a label. */
  observe(value: number, exemplar?: Record<string, string>): void
  readonly count: number
  readonly sum: number
}

/** A counter in ferrule's process-wide registry. `name` may end in `_total`. */
export class Counter {
  /** @throws TypeError for a bad name, label or option; RangeError for a value out of range. */
  constructor(name: string, options: MetricOptions)
  /** The exported sample name (`..._total`). */
  readonly name: string
  readonly labelNames: string[]
  labels(...values: LabelValues): CounterChild
  /** For an unlabelled counter. */
  inc(amount?: number): void
}

export class Gauge {
  constructor(name: string, options: MetricOptions)
  readonly name: string
  readonly labelNames: string[]
  labels(...values: LabelValues): GaugeChild
  set(value: number): void
  inc(amount?: number): void
  dec(amount?: number): void
}

export class Histogram {
  constructor(name: string, options: HistogramOptions)
  readonly name: string
  readonly labelNames: string[]
  readonly buckets: number[]
  labels(...values: LabelValues): HistogramChild
  observe(value: number, exemplar?: Record<string, string>): void
}

/** The registry (yours and ferrule's own metrics) as Prometheus text 0.0.4, or OpenMetrics 1.0 (with exemplars and `# EOF`). */
export function metricsText(options?: { openmetrics?: boolean }): string

/** A running scrape endpoint. */
export interface MetricsServer {
  readonly port: number
  readonly host: string
  readonly url: string
  readonly running: boolean
  /** Stops serving (idempotent). */
  stop(): void
}

/** Serves the registry at `http://host:port/metrics` from a background thread in the core. Defaults: port 9464, host 127.0.0.1; port 0 picks a free one. */
export function serveMetrics(options?: { port?: number; host?: string }): MetricsServer
// ---- telemetry: tracing with context ids, structured events, redaction -------------------

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
  /** Prompt/response text, kept only with `captureContent` (or `always`: the caller opted in), masked and cut; true if kept. */
  setContent(content: { input?: string; output?: string }, always?: boolean): boolean
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
  /**
   * Runs after the built-in and user patterns on every masked text (logs, span attributes, the
   * inference log, `redact()`), on the JS thread. If it throws (or is reached from another thread)
   * the pattern-masked text is kept and the failure counted. `false` removes it.
   */
  redactCallback?: ((text: string) => string) | false | null
  /** Every Policy call records a call span with attempt and fallback children (default false; `wrapOpenAI` spans are recorded either way). */
  tracePolicies?: boolean
  /** Request headers for every OTLP export, e.g. an API key (`OTEL_EXPORTER_OTLP_HEADERS`). */
  otlpHeaders?: Record<string, string>
  /** `'gzip'` or `'none'` (`OTEL_EXPORTER_OTLP_COMPRESSION`). */
  otlpCompression?: 'gzip' | 'none'
  /** PEM CA file for an https:// collector (`OTEL_EXPORTER_OTLP_CERTIFICATE`; default: the system roots or `SSL_CERT_FILE`). */
  caFile?: string
  /** Client certificate and key (PEM) for mutual TLS (`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` / `_KEY`). */
  clientCertFile?: string
  clientKeyFile?: string
  /** Also export every structured event as an OTLP log record to the collector's `/v1/logs` (`OTEL_LOGS_EXPORTER=otlp`). */
  otlpLogs?: boolean
}

export interface UseOpenTelemetryOptions {
  /** An SDK TracerProvider: finished ferrule spans go to its span processors instead of ferrule's exporter. */
  tracerProvider?: unknown
  /** `false` turns the bridge off. Default true. */
  enabled?: boolean
}

/**
 * Joins ferrule's spans to the app's OpenTelemetry traces: a ferrule span with no ferrule parent is a
 * child of the active OpenTelemetry span, and a running ferrule span is the active OpenTelemetry span,
 * so the app's spans inside an attempt nest under it. Loads `@opentelemetry/api` only when called.
 */
export function useOpenTelemetry(options?: UseOpenTelemetryOptions): void

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
  /** Times `redactCallback` threw or could not run (the pattern-masked text was kept). */
  redactCallbackErrors: number
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
/** A fault rule of the mock server: requests with index in [from, to) meet `kind` with probability `rate`. */
/** One finished GenAI call, for `recordLlmCall`. */
export interface LlmCallOptions {
  model: string
  /** How long the call took, in ms. */
  durationMs: number
  inputTokens?: number
  outputTokens?: number
  /** `gen_ai.operation.name`; default 'chat'. */
  operation?: string
  /** `gen_ai.provider.name`; default 'openai'. */
  provider?: string
  /** `error.type` when the call failed. */
  errorType?: string
  /** The prompt template's name in the profile... */
  template?: string
  /** ...or its text, profiled under a stable hash of it. */
  templateText?: string
  /** Rides as an exemplar on the duration bucket, never as a label. */
  traceId?: string
  /** Made by a synthetic probe: counted in `ferrule_synthetic_calls_total`, not in the GenAI series. */
  synthetic?: boolean
}

/** Records a finished GenAI call: duration and token histograms, cost and the prompt profile. Returns the cost in US dollars (0 for a model without a price). */
export function recordLlmCall(call: LlmCallOptions): number
/** Sets a model's price (and that of model names it prefixes) in US dollars per million input and output tokens. */
export function setPrice(model: string, inputPerMillion: number, outputPerMillion: number): void

export type ProfileSortBy = 'cost' | 'latency' | 'tokens' | 'calls' | 'errors'

/** One prompt template in the profile; times in ms. */
export interface ProfileRow {
  template: string
  calls: number
  errors: number
  errorRate: number
  inputTokens: number
  outputTokens: number
  meanLatencyMs: number
  p50Ms: number
  p95Ms: number
  p99Ms: number
  costUsd: number
}

export interface ProfileReport {
  readonly rows: ProfileRow[]
  readonly by: ProfileSortBy
  /** The `n` templates with the most `by` ('latency' is p95), read now. */
  top(n?: number, by?: ProfileSortBy): ProfileReport
  /** A plain-text table. */
  toString(): string
}

/** The prompt profile now, sorted by `by` (default 'cost'), the first `n` if given. */
export function profile(options?: { by?: ProfileSortBy; n?: number }): ProfileReport
/** Forgets every template recorded so far. */
export function resetProfile(): void

export interface MockFaultRule {
  kind:
    | 'ok' | 'rate_limit' | '429' | 'server_error' | '500' | 'unavailable' | '503' | 'slow' | 'hang' | 'reset' | 'malformed_json' | 'truncated_stream'
    | 'stall_stream' | 'malformed_chunk' | 'stream_without_done'
  rate?: number
  from?: number
  to?: number | null
  /** For `slow`: extra latency; for `stall_stream`: the silence. */
  latencyMs?: number
  /** For the stream faults: how many events go out before the fault. */
  afterChunks?: number
  /** For `rate_limit`: the Retry-After / retry-after-ms hint. */
  retryAfterMs?: number
}

export interface MockRecordedRequest {
  index: number
  method: string
  path: string
  /** Lower-case header names. */
  headers: Record<string, string>
  body: string
  /** The parsed JSON body, or null. */
  json: unknown
  fault: string
  atUnixMs: number
}

export interface MockLLMServerOptions {
  faults?: MockFaultRule[]
  /** Fault kinds for the first requests, in order. */
  script?: string[]
  seed?: number
  /** Loopback only unless `allowNonLoopback`. */
  host?: string
  /** 0 (the default) picks a free port. */
  port?: number
  latencyMs?: number
  hangMs?: number
  maxConnections?: number
  allowNonLoopback?: boolean
}

/** An OpenAI-compatible server on a loopback port, in this process, with deterministic faults. */
export class MockLLMServer {
  constructor(options?: MockLLMServerOptions)
  /** The OpenAI `baseURL`: `http://127.0.0.1:PORT/v1`. */
  readonly url: string
  /** The Anthropic SDK's `baseURL`: `http://127.0.0.1:PORT` (the SDK adds `/v1/messages`). */
  readonly anthropicURL: string
  readonly port: number
  readonly requests: MockRecordedRequest[]
  clearRequests(): void
  stats(): { requests: number; byFault: Record<string, number>; droppedRecords: number; rejectedConnections: number; openConnections: number; idleConnections: number }
  stop(): void
}

// ---- watchers ----------------------------------------------------------------------------------

/** What every watcher emits: a condition that starts firing or resolves. Frozen. */
export interface WatchEvent {
  /** `slo.burn_rate` (label `alert`: page or ticket), `slo.budget_exhausted`, `anomaly.ewma`, `anomaly.mad`, `anomaly.seasonal`,
   * `drift.output`, `predict.error_rate`, `watch.series_overflow`. */
  readonly name: string
  /** The watcher's name. */
  readonly source: string
  readonly severity: 'info' | 'warning' | 'critical'
  readonly state: 'firing' | 'resolved'
  readonly labels: Readonly<Record<string, string>>
  /** The same for the firing and the resolved event of one condition. */
  readonly dedupKey: string
  readonly value: number
  readonly threshold: number
  readonly message: string
  /** Time on the watcher's clock, in ms. */
  readonly atMs: number
}

export type WatchEventListener = (event: WatchEvent) => void

export interface BurnRuleOptions {
  longMs: number
  shortMs: number
  factor: number
  /** 'page' (= 'critical'), 'ticket' (= 'warning') or 'info'. */
  severity: string
}

export interface SLOOptions {
  /** Good calls / calls, in (0, 1). Default 0.999. */
  objective?: number
  windowDays?: number
  kind?: 'availability' | 'latency'
  /** For kind 'latency': a good call succeeded within this. */
  thresholdMs?: number
  /** Default: 14.4x over 1 h / 5 min (page), 6x over 6 h / 30 min (page), 1x over 3 d / 6 h (ticket). */
  rules?: BurnRuleOptions[]
  minCalls?: number
  /** Extra Poisson margin a rule needs beyond its factor; default 0 (the Workbook's rule exactly). */
  confidenceSigmas?: number
  fastBurn?: boolean
  /** The burn the sequential test looks for. Default 14.4. */
  fastBurnFactor?: number
  /** The burn it is weighed against: below this it never pages. Default 6. */
  fastBurnBaselineFactor?: number
  fastBurnThreshold?: number
  budgetRecover?: number
  /** A firing alert's rules keep holding at `factor * resolveRatio`; default 0.5 (no flapping). */
  resolveRatio?: number
  onEvent?: WatchEventListener
  clock?: ManualClock
}

export interface BurnRuleStats {
  window: string
  longBurnRate: number
  shortBurnRate: number
  firing: boolean
}

export interface SLOStats {
  name: string
  objective: number
  total: number
  bad: number
  syntheticExcluded: number
  /** Calls recorded with an `atMs` too old for the buckets. */
  staleDropped: number
  budgetRemaining: number
  /** `window` once a whole SLO window was watched, else `extrapolated` from the history seen. */
  budgetBasis: 'window' | 'extrapolated'
  /** The share of the SLO window the history covers, (0, 1]. */
  budgetCoverage: number
  budgetExhausted: boolean
  rules: BurnRuleStats[]
  fastBurnScore?: number
  fastBurnFiring: boolean
  pageFiring: boolean
  ticketFiring: boolean
  memoryBytes: number
  listenerErrors: number
}

export class SLO {
  /** @throws TypeError / RangeError for a refused configuration. */
  constructor(name: string, options?: SLOOptions)
  readonly name: string
  /** Counts one finished call (synthetic probes excluded); returns the events it caused. */
  record(ok: boolean, latencyMs?: number, synthetic?: boolean, atMs?: number): WatchEvent[]
  evaluate(atMs?: number): WatchEvent[]
  burnRate(windowMs: number, atMs?: number): number
  budgetRemaining(atMs?: number): number
  /** The SLO as Prometheus recording and alerting rules (YAML text). */
  prometheusRules(): string
  on(event: 'event', listener: WatchEventListener): this
  on(event: 'budget', listener: (exhausted: boolean, event: WatchEvent) => void): this
  off(event: 'event', listener: WatchEventListener): this
  off(event: 'budget', listener: (exhausted: boolean, event: WatchEvent) => void): this
  stats(): SLOStats
  /** `[name, labels, value]` rows in Prometheus naming (the registry scrapes the same values). */
  gauges(): Array<[string, Record<string, string>, number]>
}

export interface AnomalyDetectorOptions {
  /** 'seasonal': for series sampled minutes apart (robust score against a short and a long view and the time of day; default threshold 4, direction 'both'). */
  method?: 'ewma' | 'mad' | 'seasonal'
  direction?: 'up' | 'down' | 'both'
  threshold?: number
  warmUp?: number
  baselineMs?: number
  smoothing?: number
  clipSigmas?: number
  window?: number
  sampleMs?: number
  recent?: number
  hysteresisWindow?: number
  fireCount?: number
  resolveCount?: number
  minDurationMs?: number
  severity?: string
  maxSeries?: number
  onEvent?: WatchEventListener
  clock?: ManualClock
}

export interface AnomalySeriesStats {
  model: string
  template: string
  baseline: number
  spread: number
  score?: number
  firing: boolean
  observations: number
  fired: number
}

export interface AnomalyDetectorStats {
  name: string
  metric: string
  method: string
  series: number
  maxSeries: number
  overflowed: number
  /** NaN or infinite values, counted and not judged. */
  nonFinite: number
  bytesPerSeries: number
  listenerErrors: number
  /** Values observed inside a synthetic probe, kept out of the baseline. */
  syntheticExcluded: number
}

export class AnomalyDetector {
  constructor(name: string, metric: string, options?: AnomalyDetectorOptions)
  readonly name: string
  observe(value: number, where?: { model?: string; template?: string; atMs?: number }): WatchEvent[]
  on(event: 'event', listener: WatchEventListener): this
  off(event: 'event', listener: WatchEventListener): this
  series(): AnomalySeriesStats[]
  stats(): AnomalyDetectorStats
  /** `[name, labels, value]` rows: exactly what a metrics scrape shows for this one. */
  gauges(): Array<[string, Record<string, string>, number]>
}

export interface DriftDetectorOptions {
  /** Synchronous text -> vector; default the built-in hashing n-gram embedder. */
  embedder?: (text: string) => ArrayLike<number>
  dim?: number
  baselineSize?: number
  windowSize?: number
  checkEvery?: number
  permutations?: number
  pValue?: number
  minDistance?: number
  psiThreshold?: number
  psiBins?: number
  consecutive?: number
  baseline?: 'fixed' | 'rolling' | 'manual'
  severity?: string
  seed?: number
  onEvent?: WatchEventListener
  clock?: ManualClock
}

export interface DriftDetectorStats {
  name: string
  baseline: string
  dim: number
  baselineLen: number
  windowLen: number
  outputs: number
  checks: number
  firing: boolean
  distance?: number
  mmd2?: number
  pValue?: number
  psiLength?: number
  psiTokens?: number
  memoryBytes: number
  maxMemoryBytes: number
  embedderErrors: number
  listenerErrors: number
  /** Values observed inside a synthetic probe, kept out of the baseline. */
  syntheticExcluded: number
}

export class DriftDetector {
  constructor(name: string, options?: DriftDetectorOptions)
  readonly name: string
  observe(text: string, extra?: { tokens?: number; atMs?: number }): WatchEvent[]
  observeVector(vector: ArrayLike<number>, extra?: { length?: number; tokens?: number; atMs?: number }): WatchEvent[]
  accept(atMs?: number): WatchEvent[]
  on(event: 'event', listener: WatchEventListener): this
  off(event: 'event', listener: WatchEventListener): this
  stats(): DriftDetectorStats
  /** `[name, labels, value]` rows: exactly what a metrics scrape shows for this one. */
  gauges(): Array<[string, Record<string, string>, number]>
}

export interface ErrorPredictorOptions {
  intervalMs?: number
  horizonMs?: number
  errorRateThreshold?: number
  warnProbability?: number
  resolveProbability?: number
  minCalls?: number
  learningRate?: number
  l2?: number
  positiveWeight?: number
  prior?: number
  severity?: string
  /** From export(): start from a trained model. */
  model?: number[]
  onEvent?: WatchEventListener
  clock?: ManualClock
}

export interface ErrorPredictorStats {
  name: string
  probability?: number
  warning: boolean
  intervals: number
  examples: number
  positives: number
  warnings: number
  features: Record<string, number>
  listenerErrors: number
  /** Values observed inside a synthetic probe, kept out of the baseline. */
  syntheticExcluded: number
}

/** A past call for `ErrorPredictor.fit`: an inference-log record or the camelCase fields. */
export interface PastCallRecord {
  /** An inference-log outcome ('success', 'error', 'timeout', 'rejected', 'fallback', 'invalid') or 'ok', 'rate_limited', '429'. */
  outcome: string
  time_unix_ns?: bigint | number
  timeUnixNs?: bigint | number
  atMs?: number
  at?: Date
  error_type?: string | null
  errorType?: string | null
  latency_seconds?: number | null
  latencyMs?: number
  headroom?: number
  ratelimitRemaining?: number
  ratelimitLimit?: number
}

/** What `ErrorPredictor.fit` learned from. */
export interface FitReport {
  calls: number
  /** 'rejected' calls, which never reached the provider. */
  skipped: number
  intervals: number
  /** Intervals with `minCalls` calls and a full horizon after them: the examples of one pass. */
  examples: number
  positives: number
  epochs: number
}

export class ErrorPredictor {
  constructor(name: string, options?: ErrorPredictorOptions)
  readonly name: string
  /** The latest probability, or null before the first judged interval. */
  readonly probability: number | null
  observe(
    outcome?: 'ok' | 'rate_limited' | '429' | 'timeout' | 'error',
    latencyMs?: number,
    extra?: { ratelimitRemaining?: number; ratelimitLimit?: number; headers?: Record<string, string>; atMs?: number },
  ): WatchEvent[]
  tick(atMs?: number): WatchEvent[]
  export(): number[]
  load(model: ArrayLike<number>): void
  /**
   * Learns from past calls (the inference log's records, or objects with `atMs`/`at` and
   * `outcome`) before online updates; the live state is untouched and no event is emitted.
   */
  fit(records: Iterable<PastCallRecord>, options?: { epochs?: number }): FitReport
  on(event: 'event', listener: WatchEventListener): this
  off(event: 'event', listener: WatchEventListener): this
  stats(): ErrorPredictorStats
  /** `[name, labels, value]` rows: exactly what a metrics scrape shows for this one. */
  gauges(): Array<[string, Record<string, string>, number]>
}

// -- retry, timeouts, fallback: the composed policy -------------------------------------

/** What the wrapped function receives first, on every attempt. */
export interface AttemptContext {
  /** Aborts when the attempt times out or the caller's signal aborts. Made only when read. */
  readonly signal: AbortSignal | undefined
  /** 1 for the first try. */
  readonly attempt: number
  /** The attempt's deadline as a `Date.now()` time; undefined without a timeout or deadline. */
  readonly deadlineMs: number | undefined
}

export interface BackoffOptions {
  /** Default 'exponential'. */
  kind?: 'constant' | 'linear' | 'exponential'
  /** constant: the delay before every retry, ms (default 1000). */
  delayMs?: number
  /** linear / exponential: the first delay, ms (default 100). */
  initialMs?: number
  /** linear: added per retry, ms (default 100). */
  incrementMs?: number
  /** exponential: growth per retry, in [1, 1000] (default 2). */
  multiplier?: number
  /** The cap, ms (default 10000). */
  maxMs?: number
  /** Default 'full' for exponential, 'none' otherwise. */
  jitter?: 'none' | 'full' | 'equal' | 'decorrelated'
}

export interface RetryOptions {
  /** Every try counts: 3 = one call and two retries. Integer in [1, 1000]; default 3. */
  attempts?: number
  backoff?: BackoffOptions
  /** Bounds the whole retry loop: no wait ends past it. */
  maxElapsedMs?: number
  /** A server (Retry-After, retry-after-ms, x-ratelimit-reset-*) or breaker asking for longer gives up at once. Default 60000. */
  maxRetryAfterMs?: number
  /** Which errors to retry: Error classes or a predicate. Default `transient`. */
  retryOn?: ErrorMatcher
  /** Retries a returned value this predicate accepts (an empty completion, say). */
  retryOnResult?: (value: any) => boolean
  onRetry?: (attempt: number, delayMs: number, error: unknown) => void
  onGiveUp?: (error: RetryError) => void
  /** Retries allowed per recent request, shared by every call of the policy; null turns the budget off. Default 0.2. */
  budgetRatio?: number | null
  /** Retries always allowed per second. Default 10. */
  minRetriesPerSecond?: number
  /** The budget's sliding window, ms. Default 10000. */
  budgetWindowMs?: number
  /** Seeds the jitter, for deterministic tests. */
  seed?: number
}

/** The rate-limiter slot: refuse with an error whose code is 'FERRULE_RATE_LIMITED' and which has `retryAfterMs`. */
export interface RateLimiterLike {
  acquire(n: number, options: { key: string | undefined; timeoutMs: number | undefined; signal: AbortSignal | undefined }): Promise<unknown>
}

export interface PolicyOptions {
  /** A dead man's switch beaten on every successful call. */
  heartbeat?: DeadMansSwitch
  retry?: RetryOptions | boolean
  breaker?: CircuitBreaker
  rateLimiter?: RateLimiterLike
  /** Bounds each attempt, ms. */
  timeoutMs?: number
  /** Bounds the whole call with its retries and waits, ms. */
  totalTimeoutMs?: number
  /** A value, a function of the error and the call's arguments, or an array of them tried in order. */
  fallback?: unknown
  /** Which errors fall back. Default every error. */
  fallbackOn?: ErrorMatcher
  /** Fault injection, innermost (inside the attempt timeout). */
  chaos?: Chaos
  /** Cancels every call's waits and attempts (e.g. at shutdown). */
  signal?: AbortSignal
  clock?: ManualClock
  name?: string
  /** Stores every call that exhausted its retries and fallbacks (arguments, error chain, attempts, trace id). */
  deadLetter?: DeadLetterQueue
}

export interface PolicyStats {
  calls: number
  attempts: number
  successes: number
  failures: number
  retries: number
  budgetDenied: number
  gaveUpAttempts: number
  gaveUpDeadline: number
  gaveUpRetryAfter: number
  gaveUpRefused: number
  notRetryable: number
  fallbacks: number
  fallbackFailures: number
  timeouts: number
  hookErrors: number
  /** With `chaos`: calls it saw, errors and delays it injected. */
  chaosCalls?: number
  chaosErrorsInjected?: number
  chaosLatencyInjected?: number
}

/** fallback → total timeout → retry → circuit breaker → rate limiter → attempt timeout → call. */
export class Policy {
  /** @throws TypeError for an unknown option or a wrong type; RangeError for a value out of range. */
  constructor(options?: PolicyOptions)
  readonly name: string
  /** Whether the policy retries (integrations then turn an SDK's own retries off). */
  readonly retries: boolean
  wrap<A extends unknown[], R>(fn: (context: AttemptContext, ...args: A) => R): (...args: A) => Promise<Awaited<R>>
  execute<R>(fn: (context: AttemptContext) => R, options?: { signal?: AbortSignal; args?: unknown[] }): Promise<Awaited<R>>
  stats(): PolicyStats
}

/** A retry loop gave up. */
export class RetryError extends FerruleError {
  constructor(message: string, attempts: number, errors: unknown[], reason: string, lastResult: unknown)
  readonly code: 'FERRULE_RETRY_EXHAUSTED'
  readonly attempts: number
  /** Every attempt's error, in order (undefined for a result rejected by retryOnResult). */
  readonly errors: unknown[]
  readonly reason: 'attempts' | 'deadline' | 'retry_after_too_long' | 'refused' | 'budget'
  readonly lastResult: unknown
}

/** An attempt or a call ran out of time. */
export class TimeoutError extends FerruleError {
  constructor(message: string, timeoutMs: number)
  readonly code: 'FERRULE_TIMEOUT'
  readonly timeoutMs: number
}

export interface ChaosOptions {
  /** Share of calls that throw `error` instead of running, in [0, 1]. */
  errorRate?: number
  /** An Error, an Error class, or a function returning the error to throw. Default an ECONNRESET error. */
  error?: Error | ErrorClass | (() => unknown)
  /** Share of calls delayed by `latencyMs`, in [0, 1]. */
  latencyRate?: number
  latencyMs?: number
  /** The same seed fails the same calls on every run. */
  seed?: number
}

export interface ChaosStats {
  calls: number
  errorsInjected: number
  latencyInjected: number
}

/** Fault injection for your own tests; use as `new Policy({ chaos })` or `chaos.wrap(fn)`. */
export class Chaos {
  /** @throws TypeError for an unknown option or a wrong type; RangeError for a value out of range. */
  constructor(options?: ChaosOptions)
  wrap<A extends unknown[], R>(fn: (...args: A) => R, sleep?: (ms: number) => unknown): (...args: A) => R | Promise<Awaited<R>>
  stats(): ChaosStats
}

/** `fn` wrapped in a new Policy(options). */
export function resilient<A extends unknown[], R>(
  fn: (context: AttemptContext, ...args: A) => R,
  options?: PolicyOptions,
): (...args: A) => Promise<Awaited<R>>

/** True for errors worth retrying: connection errors, timeouts, HTTP 408/409/429/5xx. */
export function transient(error: unknown): boolean
/** A rate-limit key (tenant, user, model): a string, or a number used as its string. */
export type RateLimitKey = string | number | null | undefined

interface RateLimiterCommonOptions {
  /** Named in errors and stats. Default 'rate_limiter'. */
  name?: string
  /** Most keys held at once (default 10000); beyond it idle keys are evicted first. */
  maxKeys?: number
  /** A manual clock: waits then move it instead of sleeping, for tests. */
  clock?: ManualClock
  /** Keep the state in Redis, shared by every limiter of this name (token bucket, sliding window). */
  backend?: RedisBackend
}

/** `rate` units per `perMs` (default 1000), up to `burst` at once (default: ceil(rate)). */
export interface TokenBucketOptions extends RateLimiterCommonOptions {
  rate: number
  perMs?: number
  burst?: number
}

/**
 * About `limit` units per `windowMs`. `slidingWindow` estimates from two fixed windows (O(1)),
 * assuming the previous window's units were spread evenly: bursty traffic can pass more than `limit`
 * in some true window (at worst close to `2 * limit`). `slidingLog` is exact: at most `limit` in any window.
 */
export interface SlidingWindowOptions extends RateLimiterCommonOptions {
  limit: number
  windowMs: number
}

export interface AcquireOptions {
  key?: RateLimitKey
  /** Reject with RateLimitedError at once if the wait would be longer than this. */
  timeoutMs?: number
  /** Aborting cuts the wait short (rejecting with the signal's reason) and takes nothing. */
  signal?: AbortSignal
}

export interface RateLimiterStats {
  name: string
  algorithm: 'token_bucket' | 'sliding_window' | 'sliding_log'
  admitted: number
  admittedUnits: number
  /** Requests refused: tryAcquire false, or a wait longer than timeoutMs. */
  rejected: number
  /** Times a caller was told to wait, and the total of those waits. */
  waits: number
  waitMsTotal: number
  refundedUnits: number
  chargedExtraUnits: number
  droppedUnits: number
  keys: number
  /** Keys dropped whose state equalled a new key's: nothing was lost. */
  evictedIdle: number
  /** Keys dropped while still limited (the map was full): they start over. */
  evictedActive: number
}

/** A rate limiter: a token bucket (GCRA), a sliding-window counter or an exact sliding log, optionally keyed. */
export class RateLimiter {
  private constructor(kind: string, options: object)
  static tokenBucket(options: TokenBucketOptions): RateLimiter
  static slidingWindow(options: SlidingWindowOptions): RateLimiter
  static slidingLog(options: SlidingWindowOptions): RateLimiter
  readonly name: string
  /** Takes `n` (default 1) now if it fits; never waits. */
  tryAcquire(n?: number, key?: RateLimitKey): boolean
  /** Waits exactly as long as needed, then takes `n`. */
  acquire(n?: number, options?: AcquireOptions): Promise<void>
  /** Ms until `n` would pass (0: now); takes nothing. */
  peek(n?: number, key?: RateLimitKey): number
  /** Drops every key whose state equals a new key's; returns how many. */
  evictIdle(): number
  stats(): RateLimiterStats
}

/** A rate limiter refused the call: it would pass after `retryAfterMs`, longer than `timeoutMs`. */
export class RateLimitedError extends FerruleError {
  constructor(limiter: string, retryAfterMs: number, key?: string | null)
  readonly code: 'FERRULE_RATE_LIMITED'
  /** The limiter's name. */
  readonly limiter: string
  readonly retryAfterMs: number
  /** The key that was limited; null when none. */
  readonly key: string | null
}

/** Units per named limit, e.g. `{ requests: 1, tokens: 1200 }`; a limit left out costs 0. */
export type LimitCosts = Record<string, number>

/** Several RateLimiters charged all-or-nothing: a denial by one takes nothing from the others. */
export class Limits {
  /** `new Limits({ requests: rpm, tokens: tpm })`. */
  constructor(limiters: Record<string, RateLimiter>)
  readonly names: string[]
  /** Takes every cost now, or nothing. */
  tryAcquire(costs: LimitCosts, key?: RateLimitKey): boolean
  /** Waits until every cost is taken; rejects with RateLimitedError naming the refusing limit. */
  acquire(costs: LimitCosts, options?: AcquireOptions): Promise<Reservation>
}

/** What `Limits.acquire` charged: settle it once with the real usage to refund or charge the difference. */
export class Reservation {
  private constructor()
  /** Units charged per limit name. */
  readonly charged: Record<string, number>
  /** The key it was made for; null when none. */
  readonly key: string | null
  readonly settled: boolean
  /** `{ tokens: usage.total_tokens }`: each given limit is reconciled; the others keep the estimate. */
  settle(actual: Record<string, number | null | undefined>): void
}

/** Options of `rateLimit` (Python's `rate_limit` keywords); `A` is the wrapped function's arguments. */
export interface RateLimitOptions<A extends unknown[] = any[]> {
  /** Units of one call: a number (for Limits, of the first limit) or `{ tokens: n, ... }` for Limits. Default 1. */
  cost?: (...args: A) => number | LimitCosts
  /** The call's key (a tenant, a user). */
  key?: (...args: A) => RateLimitKey
  /** The longest wait before RateLimitedError. */
  timeoutMs?: number
  /** Limits only: the real units of the result, settled into the reservation (`{ tokens: r.usage.total_tokens }`). */
  usage?: (result: any) => Record<string, number | null | undefined>
}

/** Wraps `fn` so each call first waits for `limiter` (and, with Limits, settles with `usage(result)`). */
export function rateLimit<A extends unknown[] = any[]>(
  limiter: RateLimiter | Limits,
  options?: RateLimitOptions<A>,
): <F extends (...args: A) => unknown>(fn: F) => (...args: Parameters<F>) => Promise<Awaited<ReturnType<F>>>
// ---- response validation and correction ----

/**
 * What a repair changed. Both modes: `extracted_json`, `trailing_comma`, `single_quotes`, `python_literal`,
 * `unquoted_key`, `comment`, `smart_quotes`, `unescaped_newline`, `invalid_escape`, `missing_comma`,
 * `truncated`. Lenient mode only (each a guess): `unquoted_value`, `missing_value`, `missing_colon`,
 * `extra_comma`, `missing_quote`, `unescaped_quote`, `mismatched_bracket`, `multiple_values`.
 */
export type RepairKind =
  | 'extracted_json'
  | 'trailing_comma'
  | 'single_quotes'
  | 'python_literal'
  | 'unquoted_key'
  | 'comment'
  | 'smart_quotes'
  | 'unescaped_newline'
  | 'invalid_escape'
  | 'missing_comma'
  | 'truncated'
  | 'unquoted_value'
  | 'missing_value'
  | 'missing_colon'
  | 'extra_comma'
  | 'missing_quote'
  | 'unescaped_quote'
  | 'mismatched_bracket'
  | 'multiple_values'

/** One repair, located in the text as the model wrote it (1-based line and character column). */
export interface Repair {
  kind: RepairKind
  detail: string
  line: number
  column: number
  /** Byte offset in the UTF-8 text. */
  offset: number
}

/** One violation: `path` is a JSON pointer (`''` for the whole document). */
export interface Violation {
  path: string
  message: string
}

/** A zod 4 schema (anything with `_zod`), turned into JSON Schema once with `z.toJSONSchema`. */
export interface ZodLike {
  _zod: unknown
}

/** A JSON Schema (draft 2020-12 unless `$schema` says otherwise) or a zod 4 schema. */
export type Schema = Record<string, unknown> | boolean | ZodLike

export interface ParseJsonOptions {
  schema?: Schema | null
  /** Repair broken JSON (reporting each repair); default true. */
  repair?: boolean
  /**
   * How far repair goes: `'safe'` (the default) refuses a text with two readings; `'lenient'`
   * guesses there as json_repair / jsonrepair do, reporting each guess (see `repairJson`).
   */
  repairMode?: RepairMode
  /** Longer texts are refused; integer in [1, 2^30], default 10 MiB. */
  maxInputBytes?: number
  /** Deeper nesting is refused; integer in [1, 1000], default 128. */
  maxDepth?: number
}

export interface ValidatedOptions extends ParseJsonOptions {
  /** How many times to ask again with feedback; integer in [0, 20], default 0. */
  reask?: number
}

/** Given as one extra, last argument when `validated` asks the function again. */
export interface ReaskContext {
  /** Every violation of the previous answer, and the answer itself, for the model. */
  feedback: string
  /** 1 on the first re-ask. */
  attempt: number
}

export interface RepairedJson {
  /** Strict JSON; the input unchanged when it was valid. */
  text: string
  repairs: Repair[]
  /** Repairs made beyond the first 1000 listed. */
  omittedRepairs: number
}

export interface ValidationStats {
  valid: number
  repaired: number
  invalid: number
  reasked: number
  repairs: Record<RepairKind, number>
}

/** A model's output was refused: not JSON even after repair, against the schema, or over a limit. */
export class ValidationError extends FerruleError {
  constructor(message: string, details?: { kind?: 'parse' | 'schema' | 'limit'; errors?: Violation[]; repairs?: Repair[]; raw?: string | null; line?: number | null; column?: number | null })
  readonly code: 'FERRULE_VALIDATION'
  readonly kind: 'parse' | 'schema' | 'limit'
  /** Every violation. */
  readonly errors: Violation[]
  /** Repairs applied before the refusal. */
  readonly repairs: Repair[]
  /** The text as the model wrote it. */
  readonly raw: string | null
  readonly line: number | null
  readonly column: number | null
}

/** Parses model output as JSON, repairing what models break; with `schema`, reports every violation. Throws ValidationError. */
export function parseJson(text: string, options?: ParseJsonOptions): any

/**
 * How far `repairJson` goes: `'safe'` never returns a value whose meaning differs from the text's and
 * refuses where two readings are plausible; `'lenient'` guesses there as json_repair / jsonrepair do,
 * reporting each guess.
 */
export type RepairMode = 'safe' | 'lenient'

export interface RepairJsonOptions extends Pick<ParseJsonOptions, 'maxInputBytes' | 'maxDepth'> {
  /** Default `'safe'`. */
  mode?: RepairMode
}

/** Repairs model output into strict JSON text. Throws ValidationError when repair would have to guess (safe mode) or cannot. */
export function repairJson(text: string, options?: RepairJsonOptions): RepairedJson

/** What a validated function may return: model text, or an OpenAI chat completion or Responses result. */
export type ModelOutput = string | { choices: ReadonlyArray<{ message: { content: string | null } }> } | { output_text: string }

/**
 * Wraps `fn` so it returns the validated value; on a refusal `fn` is called again (up to `reask`
 * times) with its arguments plus a `ReaskContext`.
 */
export function validated<F extends (...args: any[]) => Promise<ModelOutput>>(
  fn: F,
  options?: ValidatedOptions,
): (...args: Parameters<F>) => Promise<any>
export function validated<F extends (...args: any[]) => ModelOutput>(
  fn: F,
  options?: ValidatedOptions,
): (...args: Parameters<F>) => any

/** Process-wide counts of validation outcomes and repairs by kind. */
export function validationStats(): ValidationStats

/** Options of `wrapOpenAI`. */
export interface WrapOpenAIOptions {
  /** Default: `new Policy({ retry: { attempts: 3 } })`. */
  policy?: Policy
  /** A model name's own policy (its own breaker, say). */
  modelPolicies?: Record<string, Policy>
  /** Keep the prompt and the answer on the call's span, masked and cut to `contentMaxChars` (default false; `configure({ captureContent })` applies too). */
  captureContent?: boolean
  /** A stream's deadlines and what its consumer sees when it breaks (default: no deadlines; a break throws `StreamInterrupted`). */
  streamPolicy?: StreamPolicy
  /**
   * Token budgets: each request first takes one `requests` unit and its estimated `tokens` (prompt
   * estimate + `max_tokens`), waiting while spent; the call's usage settles the tokens.
   */
  limits?: Limits
  /** The budget's key (a tenant); default: the current `runInContext`'s `userId`, else its `sessionId`. */
  key?: () => RateLimitKey
}

/** Options of `StreamPolicy`. */
export interface StreamPolicyOptions {
  /** From the request to the first chunk (connecting and headers included); missing it fails the attempt, which the policy retries. */
  firstChunkTimeoutMs?: number
  /** The longest wait for the next chunk once the stream started (time the consumer spends between chunks does not count). */
  stallTimeoutMs?: number
  /** After chunks were delivered: `'raise'` (default) throws `StreamInterrupted`; `'continue'` asks a new attempt for the rest; `'fallback'` streams `fallback(interrupted)`'s chunks. */
  onInterrupt?: 'raise' | 'continue' | 'fallback'
  /** Required with `onInterrupt: 'fallback'`: the chunks to stream after the delivered ones. */
  fallback?: (interrupted: StreamInterrupted) => AsyncIterable<unknown> | Iterable<unknown> | Promise<AsyncIterable<unknown> | Iterable<unknown>>
  /** How many times `'continue'` may resume one stream (default 2, in [0, 100]). */
  maxResumes?: number
}

/** A wrapped stream's deadlines and what its consumer sees when it breaks after chunks were delivered. */
export class StreamPolicy {
  constructor(options?: StreamPolicyOptions)
  readonly firstChunkTimeoutMs: number | undefined
  readonly stallTimeoutMs: number | undefined
  readonly onInterrupt: 'raise' | 'continue' | 'fallback'
  readonly fallback: StreamPolicyOptions['fallback']
  readonly maxResumes: number
}

/** A stream missed a deadline; its request was aborted (the connection released). */
export class StreamTimeoutError extends TimeoutError {
  constructor(message: string, timeoutMs: number, deadline: 'firstChunk' | 'stall')
  readonly deadline: 'firstChunk' | 'stall'
}

/** Tokens a stream reported before it broke. */
export interface StreamUsage {
  inputTokens?: number | null
  outputTokens?: number | null
}

/** Options of `PartialJson` and `partialValues`. */
export interface PartialJsonOptions {
  /** A JSON Schema object or a zod 4 schema: partial values are checked for violations no later text can undo. */
  schema?: unknown
  maxInputBytes?: number
  maxDepth?: number
}

/** A streamed JSON answer read piece by piece: the value it is becoming, and the first violation no later text can undo. */
export class PartialJson {
  constructor(options?: PartialJsonOptions)
  /** The new partial value when it changed, else undefined; throws ValidationError at an unrecoverable schema violation. */
  feed(piece: string): unknown
  /** Pieces fed so far. */
  readonly chunks: number
  /** The latest partial value. */
  readonly value: unknown
  readonly complete: boolean
  readonly text: string
}

/** Partial values of a chat stream's JSON answer, then the finished value (parsed and repaired by `parseJson`); stops the stream at an unrecoverable schema violation. */
export function partialValues(stream: AsyncIterable<unknown>, options?: PartialJsonOptions): AsyncGenerator<unknown, void, undefined>

/** `partialValues` of `create({ ...request, stream: true })`, re-asking (up to `reask` times, default 1) when the answer breaks the schema beyond repair. */
export function streamValidated(
  create: (request: any) => Promise<AsyncIterable<unknown>> | AsyncIterable<unknown>,
  request: Record<string, unknown>,
  options?: { schema?: unknown; reask?: number },
): AsyncGenerator<unknown, void, undefined>

/** A stream broke after it had delivered chunks: exactly the text the consumer was given, the usage so far, the cause. */
export class StreamInterrupted extends FerruleError {
  constructor(message: string, options?: { partialText?: string; usage?: StreamUsage | null; cause?: unknown; chunks?: number })
  readonly code: 'FERRULE_STREAM_INTERRUPTED'
  readonly partialText: string
  readonly usage: StreamUsage | null
  readonly chunks: number
  readonly cause: unknown
}

/**
 * The `openai` client behind a Proxy: `chat.completions.create` (also `stream: true`),
 * `embeddings.create` and `responses.create` run through the policy, with the SDK's retries off when
 * the policy retries, the remaining deadline as `timeout`. Each call is one GenAI span (child of the
 * current span) with one child per attempt, sent as `traceparent`; streams record the time to first
 * chunk and end the span when closed or broken. `withResponse()` / `asResponse()` are kept. The same
 * type as `client`.
 */
export function wrapOpenAI<C extends object>(client: C, options?: WrapOpenAIOptions): C

/** Options of `wrapAnthropic`: the same as `wrapOpenAI`'s. */
export type WrapAnthropicOptions = WrapOpenAIOptions

/**
 * The `@anthropic-ai/sdk` client behind a Proxy: `messages.create` (also `stream: true`) runs
 * through the policy as `wrapOpenAI`'s calls do (SDK retries off when the policy retries, remaining
 * deadline as `timeout` and `signal`, `traceparent`). The policy reads `retry-after` and, on a 429,
 * the spent limit's `anthropic-ratelimit-*-reset`; a 529 is transient. Spans and metrics carry
 * `gen_ai.provider.name = "anthropic"`, `stop_reason` as the finish reason, and prompt-cache reads
 * and writes in usage and cost. `messages.stream()` (the SDK's helper) passes through unwrapped.
 */
export function wrapAnthropic<C extends object>(client: C, options?: WrapAnthropicOptions): C

// -- router -----------------------------------------------------------------------------

export type RouterStrategy = 'weighted' | 'round_robin' | 'least_outstanding' | 'p2c_ewma' | 'cost' | 'latency'

/** What an endpoint's `call` receives after the caller's arguments. */
export interface RouterAttempt {
  /** The endpoint's name. */
  readonly endpoint: string
  /** True for a hedge: the second attempt raced against a slow first one. */
  readonly hedge: boolean
  /** Aborts (an `AbortError`) when this attempt lost a hedge race; pass it on to `fetch` / the SDK. */
  readonly signal: AbortSignal
}

export interface RouterEndpoint<A extends unknown[] = any[], R = unknown> {
  name: string
  /** Called with the caller's arguments and, last, the attempt (`{ endpoint, hedge, signal }`). A
   * router whose endpoints read the attempt names the caller's argument types:
   * `new Router<[prompt: string]>({ endpoints: [{ name, call: (prompt, attempt) => ... }] })`. */
  call: ((...args: A) => R | Promise<R>) | ((...args: [...A, attempt: RouterAttempt]) => R | Promise<R>)
  /** Share of traffic under `weighted`; > 0. Default 1. */
  weight?: number
  /** Failover group; absent: the endpoint's priority level is its group. */
  region?: string | null
  /** Failover order, lower first. Default 0. */
  priority?: number
  costPer1kInput?: number | null
  costPer1kOutput?: number | null
  /** Calls in flight allowed at once; a full endpoint is skipped. */
  maxConcurrency?: number | null
}

export interface RouterEvent {
  event: 'router.failover' | 'router.failback' | 'router.recovered' | 'router.ejected' | 'router.cooldown' | 'router.breaker'
  warning: boolean
  message: string
  router: string
  endpoint: string
  from: string
  to: string
  reason: string
  ms?: number | null
}

export interface RouterOptions<A extends unknown[] = any[], R = unknown> {
  endpoints: RouterEndpoint<A, R>[]
  strategy?: RouterStrategy
  name?: string
  /** Endpoints tried per call, each at most once, hedges included; default all. */
  attempts?: number
  /** Errors that count against an endpoint and move the call on (default: every error). */
  failureOn?: (err: unknown) => boolean
  normalize?: 'openai' | ((response: R, endpoint: string) => unknown) | null
  onEvent?: (event: RouterEvent) => void
  failureRate?: number
  window?: number
  minCalls?: number
  openMs?: number
  ejectAfterFailures?: number
  ejectionMs?: number
  maxEjectionMs?: number
  maxEjectionPercent?: number
  cooldownMs?: number
  maxCooldownMs?: number
  failbackMs?: number
  probeIntervalMs?: number
  ewmaMs?: number
  hedge?: boolean
  hedgeQuantile?: number
  hedgeMinSamples?: number
  hedgeMaxRatio?: number
  hedgeMinDelayMs?: number
  /** The latency window behind the hedge delay and `latencyP95Ms`: the last one to two windows. Default 30000. */
  latencyWindowMs?: number
  seed?: number
  clock?: ManualClock
  /** Share endpoint health (cooldowns, ejections, the active region) through Redis with every router of the same name. */
  backend?: RedisBackend
  /** With a backend: how often peers' health is picked up (default 250; 1 ms to 1 h). Local changes are published at once. */
  syncMs?: number
}

export interface RouterSyncStats {
  syncs: number
  errors: number
  /** Cooldowns, ejections and region switches made here and published. */
  published: number
  appliedCooldowns: number
  appliedEjections: number
  appliedRegions: number
  syncAgeMs: number
}

export interface RouterEndpointStats {
  name: string
  region: string
  health: 'healthy' | 'probe' | 'open' | 'ejected' | 'cooling_down' | 'full'
  breaker: 'closed' | 'open' | 'half_open'
  requests: number
  successes: number
  errors: number
  released: number
  outstanding: number
  latencyEwmaMs?: number | null
  latencyP95Ms?: number | null
  ejections: number
  cooldowns: number
  hedges: number
  probes: number
  cooldownRemainingMs: number
  ejectedRemainingMs: number
}

export interface RouterStats {
  name: string
  strategy: RouterStrategy
  activeRegion: string
  regions: string[]
  failovers: number
  failbacks: number
  /** The last failover's recovery time: first failure to first success on the new region. */
  lastFailoverRtoMs?: number | null
  hedges: number
  /** Attempts that lost a hedge race: aborted, their outcome discarded. */
  hedgesLost: number
  unavailable: number
  lastResort: number
  eventsDropped: number
  listenerErrors: number
  endpoints: RouterEndpointStats[]
}

/** A tool (function) call the model asked for, whichever provider made it. */
export interface ToolCall {
  /** The provider's id for the call (the tool's result must name it). */
  id: string
  name: string
  /** The arguments as the JSON text the provider sent (Anthropic's `input` object as compact JSON). */
  arguments: string
  /** `arguments` parsed, or null when it is not valid JSON. */
  parsedArguments: unknown
}

export interface ChatResponse {
  content: string
  role: string
  model: string | null
  finishReason: string | null
  inputTokens: number | null
  outputTokens: number | null
  endpoint: string
  raw: unknown
  /** The tools the model called, in order (empty when none). */
  toolCalls: ToolCall[]
}

/** Routes each call to one endpoint (models, providers, regions), with per-endpoint breakers,
 * Retry-After cooldowns, outlier ejection, region failover with hysteretic failback and hedging. */
export class Router<A extends unknown[] = any[], R = unknown> {
  constructor(options: RouterOptions<A, R>)
  readonly name: string
  readonly activeRegion: string
  execute(...args: A): Promise<any>
  onEvent(listener: (event: RouterEvent) => void): this
  stats(): RouterStats
  syncStats(): RouterSyncStats | null
  syncNow(): void
}

export function normalizeChat(response: unknown, endpoint?: string): ChatResponse
// ---- OTLP metrics push, inference log -----------------------------------------

/** A durable store (the inference log) could not be opened, written or queried. */
export class StorageError extends FerruleError {
  constructor(message: string)
  readonly code: 'FERRULE_STORAGE'
}

export interface PushMetricsOptions {
  /** `http://host:port` (then `/v1/metrics`) or a full URL; default `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  endpoint?: string | null
  /** Default 10000. */
  intervalMs?: number
  /** Per export; default 5000. */
  timeoutMs?: number
  serviceName?: string
  /** Extra request headers (an auth token for the collector). */
  headers?: Record<string, string> | null
}

/** A running periodic OTLP metrics push. */
export interface MetricsPusher {
  readonly endpoint: string
  /** Exports now, off the event loop; resolves true when the collector accepted it. */
  pushNow(): Promise<boolean>
  /** Pushes a last export and stops (idempotent). */
  stop(): Promise<void>
  readonly pushes: number
  /** Failed exports, each counted in `ferrule_telemetry_dropped_total{kind="otlp_export"}`. */
  readonly failures: number
  readonly running: boolean
}

/** Pushes the registry to an OTLP/HTTP collector as protobuf every `intervalMs`, from a core thread. */
export function pushMetrics(options?: PushMetricsOptions): MetricsPusher

/** A SQLite value as read back: integers beyond 2^53 (the `time_unix_ns` column) are BigInt. */
export type SqlValue = null | number | bigint | string | Buffer

/** One LLM call's record; ids (request, trace, span, session, user) come from the current span and context. */
export interface InferenceRecordFields {
  outcome: 'success' | 'error' | 'timeout' | 'rejected' | 'fallback' | 'invalid'
  model?: string | null
  requestId?: string
  provider?: string
  /** The prompt template's name. */
  template?: string
  /** Request parameters (temperature, maxTokens, ...), stored as JSON. */
  parameters?: Record<string, unknown>
  /** Kept only with `configure({ captureContent: true })`, masked. */
  input?: string
  output?: string
  inputTokens?: number
  outputTokens?: number
  costUsd?: number
  latencyMs?: number
  errorType?: string
  attempts?: number
}

export interface InferenceLogStats {
  queued: number
  dropped: number
  written: number
  writeErrors: number
  deletedByRetention: number
}

/** The inference log: one row per LLM call in an embedded SQLite file (WAL); rows keyed by SQL column name. */
export class InferenceLog {
  /** Opens (creating if needed) the file; records survive restarts. Retention by age and row count. */
  open(path: string, options?: { maxAgeMs?: number; maxRows?: number }): this
  readonly isOpen: boolean
  readonly path: string | null
  /** Queues a record; never blocks. False when the queue was full (dropped, counted, logged). */
  record(fields: InferenceRecordFields): boolean
  /**
   * One read-only SELECT on table `inference_log` with positional `?` parameters. Writes, VACUUM,
   * ATTACH, PRAGMA and transaction control are refused, and a query still running after
   * `timeoutMs` (default 10000) is stopped, both with a StorageError.
   */
  query(
    sql: string,
    params?: Array<null | number | bigint | string | boolean | Date>,
    options?: { timeoutMs?: number },
  ): Array<Record<string, SqlValue>>
  /** Records newest first, filtered by model, start time and outcome. */
  records(filter?: { model?: string; since?: Date | number; outcome?: string; limit?: number }): Array<Record<string, SqlValue>>
  /** Waits up to `timeoutMs` (default 5000) until queued records are written. */
  flush(timeoutMs?: number): boolean
  close(): void
  stats(): InferenceLogStats
}

/** The process's inference log. */
export declare const inferenceLog: InferenceLog
// -- dead-letter queue -------------------------------------------------------------------

export interface DeadLetterQueueOptions {
  /** The SQLite file; several processes may share it. Default `'ferrule-dlq.sqlite'`. */
  path?: string
  /** Default 10000. */
  maxItems?: number
  /** What a full queue does with a new item: refuse it (default) or delete the oldest. Both counted. */
  onFull?: 'reject' | 'dropOldest'
  /** Mask payloads and errors with the redaction rules (default true); off only when replay needs the exact arguments. */
  mask?: boolean
  /** The queue's name in metrics. Default `'default'`. */
  name?: string
  /** How long one replayer holds an item before another may take it. Default 300000. */
  replayLeaseMs?: number
  /** Keep the queue on Redis Streams (shared by every process on that server); `path` is then unused. */
  backend?: RedisBackend
}

export interface DeadLetterPushOptions {
  errors?: string[]
  key?: string
  attempts?: number
  traceId?: string | null
}

export interface DeadLetterReplayOptions {
  filter?: (item: DeadLetter) => boolean
  /** At most this many items are handled. */
  max?: number
  /** Only items that last failed at or after this time (unix ms or a Date). */
  since?: number | Date
}

export interface ReplayReport {
  /** Handled and removed. */
  succeeded: number
  /** The handler threw; kept with the new error. */
  failed: number
  /** Refused by `filter`. */
  skipped: number
  /** Held by another replayer. */
  busy: number
}

export interface DeadLetterStats {
  stored: number
  rejected: number
  evicted: number
  replayed: number
  replayFailed: number
  storeErrors: number
}

export interface DeadLetterInit {
  id: number
  key: string
  payload: string
  errors: string[]
  attempts: number
  firstFailedUnixMs: number
  lastFailedUnixMs: number
  traceId: string | null
  replayCount: number
}

/** One stored request: the call's arguments as JSON (`{"args": [...]}` for a policy's calls), masked unless `mask: false`. */
export class DeadLetter {
  constructor(init: DeadLetterInit)
  readonly id: number
  readonly key: string
  readonly payload: string
  /** The error chain, oldest first; a failed replay appends. */
  readonly errors: string[]
  readonly attempts: number
  readonly firstFailedUnixMs: number
  readonly lastFailedUnixMs: number
  readonly traceId: string | null
  readonly replayCount: number
  /** The payload parsed from JSON (the text when it is not JSON). */
  data(): unknown
  /** The arguments of the failed call. */
  readonly args: unknown[]
}

/** Requests that exhausted their retries and fallbacks, kept durably to replay once the fault is gone. */
export class DeadLetterQueue {
  constructor(options?: DeadLetterQueueOptions)
  readonly name: string
  readonly maxItems: number
  readonly onFull: 'reject' | 'dropOldest'
  /** Items stored (every process). */
  readonly size: number
  readonly length: number
  /** The id once durable; null when full with `onFull: 'reject'`. */
  push(payload: unknown, options?: DeadLetterPushOptions): number | null
  list(limit?: number, since?: number | Date): Promise<DeadLetter[]>
  get(id: number): Promise<DeadLetter | null>
  remove(id: number): Promise<boolean>
  /** Deletes items that last failed before `before` (all when omitted); resolves to how many. */
  purge(before?: number | Date): Promise<number>
  oldestAgeMs(): number
  stats(): DeadLetterStats
  /** Successes removed, failures kept with the new error; a poison message never blocks the others. */
  replay(handler: (item: DeadLetter) => unknown, options?: DeadLetterReplayOptions): Promise<ReplayReport>
}

/** What a RedisBackend does when Redis cannot answer. */
export type OnBackendError = 'fail_open' | 'fail_closed' | 'local'

export interface RedisBackendOptions {
  /** `redis://host:port/db`. */
  url: string
  /** First part of every key (`prefix:kind:name[:key]`). Default 'ferrule'. */
  prefix?: string
  /** Longest one Redis operation may take. Default 50. */
  timeoutMs?: number
  /** Default 'local': decide with this process's own state. */
  onBackendError?: OnBackendError | 'failOpen' | 'failClosed'
  /** While Redis is down, one caller probes it this often. Default 1000. */
  retryMs?: number
  /** Idle connections kept. Default 16. */
  maxIdle?: number
  /** `rediss://`: a PEM CA file instead of the system roots. */
  caFile?: string
  /** `rediss://` with mutual TLS: client certificate and key (PEM). */
  clientCertFile?: string
  clientKeyFile?: string
}

export interface RedisBackendStats {
  operations: number
  errors: number
  fallbacks: number
  outages: number
  recoveries: number
  up: boolean
  idleConnections: number
}

/** A Redis server shared by ferrule objects in many processes: pass it as `backend`. */
export class RedisBackend {
  constructor(options: RedisBackendOptions)
  readonly url: string
  readonly prefix: string
  readonly onBackendError: string
  readonly isUp: boolean
  stats(): RedisBackendStats
}

// ---- alerting ----------------------------------------------------------------------------------

export type AlertSeverity = 'info' | 'warning' | 'critical' | 'page'

/** One alert inside a notification. */
export interface AlertInfo {
  name: string
  severity: AlertSeverity
  labels: Record<string, string>
  status: 'firing' | 'resolved'
  summary: string
  fingerprint: string
  startsAtMs: number
  count: number
}

/** What a callback sink receives: one per group flush, escalation or digest. */
export interface AlertNotification {
  name: string
  severity: AlertSeverity
  labels: Record<string, string>
  status: 'firing' | 'resolved'
  summary: string
  /** Unix ms on the system clock (clock ms on a ManualClock); also as `startsAtMs`. */
  startsAt: number
  startsAtMs: number
  /** Raw firings folded in (for a digest: notifications held back). */
  count: number
  kind: 'group' | 'repeat' | 'escalation' | 'digest'
  level?: number
  held?: number
  sink: string
  route: string
  groupKey: string
  alerts: AlertInfo[]
}

export type AlertCallback = (n: AlertNotification) => void
export type AlertSink = AlertCallback | Webhook | Alertmanager | Slack | PagerDuty | JsonWebhook | 'log'

export interface HttpReceiverOptions {
  name?: string
  /** Extra request headers (an auth token). */
  headers?: Record<string, string>
  /** PEM CA file for https:// (default: the system roots). */
  caFile?: string
  /** Client certificate and key (PEM) for mutual TLS. */
  clientCertFile?: string
  clientKeyFile?: string
}

/** A sink POSTing each notification as JSON (http:// or https://), retried with backoff from a bounded queue. */
export class Webhook {
  constructor(url: string, options?: HttpReceiverOptions)
  readonly url: string
  readonly name: string
  /** The receiver's settings as the core reads them (snake_case keys). */
  spec(): Record<string, unknown>
}

/** A sink posting to a Prometheus Alertmanager's `/api/v2/alerts`; resolutions carry `endsAt`. */
export class Alertmanager {
  constructor(url: string, options?: HttpReceiverOptions)
  readonly url: string
  readonly name: string
  /** The receiver's settings as the core reads them (snake_case keys). */
  spec(): Record<string, unknown>
}

/** A Slack incoming webhook: a message with the `text` fallback and header/section/context blocks. */
export class Slack {
  constructor(url: string, options?: { name?: string; caFile?: string })
  readonly url: string
  readonly name: string
  /** The receiver's settings as the core reads them (snake_case keys). */
  spec(): Record<string, unknown>
}

/** PagerDuty Events API v2: `trigger` per alert (dedup_key `ferrule-<fingerprint>`), `resolve` with the same key. */
export class PagerDuty {
  constructor(routingKey: string, options?: { name?: string; url?: string; source?: string; caFile?: string })
  readonly url: string
  readonly name: string
  readonly routingKey: string
  /** The receiver's settings as the core reads them (snake_case keys). */
  spec(): Record<string, unknown>
}

/** A webhook whose body is `template` with `{{placeholders}}` filled from the notification. */
export class JsonWebhook {
  constructor(url: string, template: Record<string, unknown> | string, options?: HttpReceiverOptions)
  readonly url: string
  readonly name: string
  /** The receiver's settings as the core reads them (snake_case keys). */
  spec(): Record<string, unknown>
}

export interface AlertRoute {
  name?: string
  /** Absent: every sink of the router. */
  sinks?: AlertSink[]
  /** The lowest severity that matches. */
  severity?: AlertSeverity
  /** Labels that must be equal (`alertname` and `severity` are labels too). */
  match?: Record<string, string>
  groupBy?: string[]
  groupWaitMs?: number
  groupIntervalMs?: number
  repeatIntervalMs?: number
  /** `[afterMs, sink or sinks]`: unacknowledged alerts go there after `afterMs`. */
  escalate?: Array<[number, AlertSink | AlertSink[]]>
  continue?: boolean
}

export interface AlertRouterOptions {
  routes?: AlertRoute[]
  sinks?: AlertSink[]
  /** Default 30 000. */
  groupWaitMs?: number
  /** Default 300 000. */
  groupIntervalMs?: number
  /** Default 14 400 000. */
  repeatIntervalMs?: number
  /** Notifications per sink per `capWindowMs` (default 5 per 900 000 ms); beyond, one digest. */
  cap?: number
  capWindowMs?: number
  maxAlerts?: number
  webhookRetries?: number
  webhookBackoffMs?: number
  /** One delivery attempt's bound (default 5000). */
  webhookTimeoutMs?: number
  /** `[sourceMin, targetMax, equalLabels or null]` rules replacing the default (a firing critical inhibits warnings and infos of its group). */
  inhibit?: Array<[AlertSeverity, AlertSeverity, string[] | null]>
  /** Default true: watchers, switches and probes publish to this router. */
  install?: boolean
  clock?: ManualClock
  /** How often queued notifications are handed to callbacks (default 100). */
  drainIntervalMs?: number
}

export interface AlertRouterStats {
  alertsFired: number
  alertsResolved: number
  active: number
  notifications: number
  escalations: number
  heldByCap: number
  digests: number
  silenced: number
  inhibited: number
  droppedOverMax: number
  sinkErrors: number
  silences: number
  queueDropped: number
  webhookDelivered: number
  webhookRetries: number
  webhookFailed: number
  callbackErrors: number
}

/** Routes alerts to sinks with Alertmanager's semantics, in-process. */
export class AlertRouter {
  constructor(options?: AlertRouterOptions)
  install(): this
  uninstall(): void
  /** Stops the drain timer and uninstalls. */
  close(): void
  /** Raises an alert; returns its fingerprint. */
  fire(name: string, severity?: AlertSeverity, labels?: Record<string, string>, summary?: string, options?: { fingerprint?: string; atMs?: number }): string
  resolve(fingerprint: string, options?: { atMs?: number }): boolean
  ack(fingerprint: string): boolean
  silence(matchers: Record<string, string>, durationMs: number, comment?: string, options?: { atMs?: number }): number
  expireSilence(id: number): boolean
  /** The active silences. */
  silences(): Array<{ id: number; matchers: Record<string, string>; endsAt: number; comment: string }>
  /** Runs the timing rules now (the core runtime does it every 100 ms on the system clock). */
  tick(options?: { atMs?: number }): AlertNotification[]
  alerts(): AlertInfo[]
  stats(): AlertRouterStats
  /** `[name, labels, value]` rows: exactly what a metrics scrape shows for this one. */
  gauges(): Array<[string, Record<string, string>, number]>
  /** Adds `cb` as a sink of every default-routed notification; returns a function that unsubscribes it. */
  addCallback(cb: AlertCallback): () => boolean
  /** Stops delivering to the sink called `name`; false if there is none. */
  removeSink(name: string): boolean
  /** Whether watchers, switches and probes publish to this router now. */
  readonly installed: boolean
}

/** Sends every alert notification to `cb`, beside what is subscribed already; returns a function that unsubscribes it. */
export function onAlert(cb: AlertCallback): () => boolean

/** True inside a synthetic probe's function: its calls are synthetic traffic (kept out of SLOs and user metrics). */
export function inProbe(): boolean

/** No beat within `withinMs` → an alert fires; the next beat resolves it. */
export class DeadMansSwitch {
  constructor(name: string, withinMs: number, options?: { severity?: AlertSeverity; clock?: ManualClock })
  readonly name: string
  /** True when this beat resolved a firing switch. */
  beat(atMs?: number): boolean
  check(atMs?: number): WatchEvent[]
  readonly firing: boolean
  readonly beats: number
  /** @internal used by `new Policy({ heartbeat })`. */
  watchNative(nativePolicy: unknown): void
  stats(): { name: string; firing: boolean; beats: number; timesFired: number; silentMs: number }
  /** `[name, labels, value]` rows: exactly what a metrics scrape shows for this one. */
  gauges(): Array<[string, Record<string, string>, number]>
}

export interface SyntheticProbeOptions {
  expect?: (result: any) => unknown
  /** Runs spread by ± jitter × everyMs, in [0, 1); default 0.1. */
  jitter?: number
  failuresToAlert?: number
  severity?: AlertSeverity
  deadman?: DeadMansSwitch
  seed?: number
  /** Default true (not on a ManualClock). */
  start?: boolean
  clock?: ManualClock
}

export interface SyntheticProbeStats {
  runs: number
  ok: number
  failed: number
  timedOut: number
  skippedOverlap: number
  consecutiveFailures: number
  lastLatencyMs: number
  lastError: string
  firing: boolean
  synthetic: boolean
}

/** Runs `fn(signal)` on timers, never overlapping itself; results are synthetic traffic. */
export class SyntheticProbe {
  constructor(name: string, fn: (signal: AbortSignal) => unknown, everyMs: number, timeoutMs: number, options?: SyntheticProbeOptions)
  readonly name: string
  runOnce(atMs?: number): Promise<boolean | null>
  start(): this
  stop(): void
  readonly running: boolean
  stats(): SyntheticProbeStats
  /** `[name, labels, value]` rows: exactly what a metrics scrape shows for this one. */
  gauges(): Array<[string, Record<string, string>, number]>
}

// ---- observe() and prompt templates ------------------------------------------------------------------

/**
 * `observe()`'s options; every one has a default (see docs/call-record.md). `null` for
 * `sloObjective`, `outageErrorRate` or `deadLetterMaxDepth` turns that watcher off.
 */
export interface ObserveOptions {
  enabled?: boolean
  /** Availability objective of the SLO kept per model (default 0.99). */
  sloObjective?: number | null
  /** Anomaly detectors on latency, output tokens and cost per (model, template) (default true). */
  anomaly?: boolean
  anomalyThreshold?: number
  anomalyWarmUp?: number
  anomalyMinDurationMs?: number
  /** Drift on answers per template, one answer in `driftSampleEvery` (default true, every 10th). */
  drift?: boolean
  driftSampleEvery?: number
  /** Templates with their own drift detector (default 50); answers of later ones are not sampled. */
  driftMaxTemplates?: number
  /** An error predictor per provider (default true). */
  predictor?: boolean
  /** Upstream-outage page per provider: error rate at or above this (default 0.5). */
  outageErrorRate?: number | null
  outageMinCalls?: number
  outageWindowMs?: number
  outageForMs?: number
  outageSeverity?: 'info' | 'warning' | 'critical' | 'page'
  /** Dead-letter backlog alert: more items than this (default 100). */
  deadLetterMaxDepth?: number | null
  deadLetterMaxAgeMs?: number
  maxSeries?: number
  clock?: ManualClock
}

/** Puts every LLM call the integrations see under watch (SLO, anomaly, drift, predictor, outage, dead-letter backlog). */
export function observe(options?: ObserveOptions): void
/** Whether `observe()` is on. */
export function observing(): boolean
/** Runs the observer's periodic checks now; returns the events they caused. */
export function checkObserved(): WatchEvent[]
/** Runs `fn` with every LLM call inside profiled under prompt template `name`. */
export function runInPrompt<T>(name: string, fn: () => T): T
/** The package's version (`ferrule.__version__` in Python). */
export declare const version: string
