'use strict'
// One finished LLM call as GenAI telemetry: operation, model, duration, tokens from `usage`, the
// error, and for streams the time to first token. Every wrapper reports through `recordCall`, so
// the span, metric and inference-log calls live in this one place.

const native = require('./native.js')

// The GenAI metrics registry (issue 6) ships `recordLlmCall`; with a core built before it, nothing
// is recorded here.
const nativeRecord = typeof native.recordLlmCall === 'function' ? native.recordLlmCall : undefined

/** [input, output] tokens of a chat/embeddings usage (prompt/completion) or a Responses one (input/output). */
function tokensOf(usage) {
  if (usage === null || typeof usage !== 'object') return [undefined, undefined]
  const i = usage.prompt_tokens ?? usage.input_tokens
  const o = usage.completion_tokens ?? usage.output_tokens
  return [i, o]
}

const state = {
  /** @type {undefined | ((record: object) => void)} tests and integrations observe records here */
  listener: undefined,
}

function recordCall(operation, model, durationMs, usage, error, firstTokenMs, traceId) {
  if (nativeRecord === undefined && state.listener === undefined) return
  const [inputTokens, outputTokens] = tokensOf(usage)
  const record = { operation, model, durationMs, inputTokens, outputTokens, error, firstTokenMs, traceId }
  if (nativeRecord !== undefined) {
    nativeRecord({
      model,
      durationSeconds: durationMs / 1000,
      inputTokens,
      outputTokens,
      operation,
      errorType: error === undefined ? undefined : (error && error.constructor && error.constructor.name) || 'Error',
      traceId,
    })
  }
  if (state.listener !== undefined) state.listener(record)
}

module.exports = { recordCall, tokensOf, state }
