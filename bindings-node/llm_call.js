'use strict'
// One finished LLM call as GenAI telemetry: operation, model, duration, tokens from `usage`, the
// error, and for streams the time to first token. Every wrapper reports through `recordCall`, so
// the span, metric and inference-log calls live in this one place. Metrics, tokens and cost go to
// the core's GenAI registry (`recordLlmCall`); spans follow once tracing is on main.

const { recordLlmCall } = require('./profile.js')

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
  const [inputTokens, outputTokens] = tokensOf(usage)
  recordLlmCall({
    model,
    durationMs,
    inputTokens,
    outputTokens,
    operation,
    errorType: error === undefined ? undefined : (error && error.constructor && error.constructor.name) || 'Error',
    traceId,
  })
  if (state.listener !== undefined) state.listener({ operation, model, durationMs, inputTokens, outputTokens, error, firstTokenMs, traceId })
}

module.exports = { recordCall, tokensOf, state }
