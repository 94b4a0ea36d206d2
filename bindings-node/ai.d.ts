// Types of `ferrule/ai` (needs the `ai` package, AI SDK 6).
import type { LanguageModelMiddleware } from 'ai'
import type { WrapOpenAIOptions } from './index'

/** Options of `ferruleMiddleware`: the same as `wrapOpenAI`'s (`modelPolicies` keys are model ids). */
export type FerruleMiddlewareOptions = WrapOpenAIOptions

/**
 * A language-model middleware for `wrapLanguageModel({ model, middleware })`: each `doGenerate` /
 * `doStream` runs through the policy (attempts get the deadline's abort signal and a `traceparent`
 * header; `retry-after` and rate-limit resets are read from the provider's `APICallError`) and is
 * recorded as one GenAI span and call record under the model's provider (`openai.chat` -> `openai`).
 * Pass `maxRetries: 0` to `generateText` / `streamText` when the policy retries.
 */
export declare function ferruleMiddleware(options?: FerruleMiddlewareOptions): LanguageModelMiddleware
