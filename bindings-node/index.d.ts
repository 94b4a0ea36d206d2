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

/** A fault rule of the mock server: requests with index in [from, to) meet `kind` with probability `rate`. */
export interface MockFaultRule {
  kind: 'ok' | 'rate_limit' | '429' | 'server_error' | '500' | 'unavailable' | '503' | 'slow' | 'hang' | 'reset' | 'malformed_json' | 'truncated_stream'
  rate?: number
  from?: number
  to?: number | null
  /** For `slow`: extra latency. */
  latencyMs?: number
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
  readonly port: number
  readonly requests: MockRecordedRequest[]
  clearRequests(): void
  stats(): { requests: number; byFault: Record<string, number>; droppedRecords: number; rejectedConnections: number }
  stop(): void
}

// ---- response validation and correction ----

/** What a repair changed: `extracted_json`, `trailing_comma`, `single_quotes`, `python_literal`, `unquoted_key`, `comment`, `smart_quotes`, `unescaped_newline`, `invalid_escape`, `missing_comma`, `truncated`. */
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

/** Repairs model output into strict JSON text. Throws ValidationError when repair would have to guess. */
export function repairJson(text: string, options?: Pick<ParseJsonOptions, 'maxInputBytes' | 'maxDepth'>): RepairedJson

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
