// Types of `ferrule/langchain` for ES modules (`import` in a "type": "module" project, .mts, or a
// bundler). The same declarations as langchain.d.ts, which CommonJS consumers get; a separate file
// because @langchain/core ships separate CommonJS and ES module types, and its classes (Runnable,
// BaseCallbackHandler) must come from the same flavour the consumer imports them from, or
// TypeScript sees two unrelated Runnable classes. node-tests/package.test.js keeps the two equal.
import { BaseCallbackHandler } from '@langchain/core/callbacks/base'
import { Runnable } from '@langchain/core/runnables'
import { Policy, StreamPolicy } from './index.js'

/** Records each chat/LLM run (duration, model, tokens, first token, error) as GenAI telemetry. */
export declare class FerruleCallbackHandler extends BaseCallbackHandler {
  /** @throws RangeError for maxRuns outside [1, 10000000] */
  constructor(options?: { maxRuns?: number })
  name: string
  readonly maxRuns: number
  /** Runs not recorded because `maxRuns` were in flight. */
  readonly dropped: number
  readonly recorded: number
}

/** `runnable` through `policy`: invoke, stream (through the policy until its first chunk, then under `streamPolicy`), batch. */
export declare class PolicyRunnable<I = unknown, O = unknown> extends Runnable<I, O> {
  lc_namespace: string[]
  readonly bound: Runnable<I, O>
  readonly policy: Policy
  readonly streamPolicy: StreamPolicy
  invoke(input: I, options?: Partial<import('@langchain/core/runnables').RunnableConfig>): Promise<O>
}

/** `streamPolicy`: the deadlines and interrupt mode of `stream()` (default: raise, no deadlines). */
export declare function withPolicy<I, O>(runnable: Runnable<I, O>, policy: Policy, opts?: { streamPolicy?: StreamPolicy }): PolicyRunnable<I, O>
