'use strict'
// One finished LLM call as GenAI telemetry: operation, model, duration, tokens from `usage`, the
// error, and for streams the time to first token. Every wrapper reports through `recordCall`, so
// the span, metric and inference-log calls live in this one place. Metrics, tokens and cost go to
// the core's GenAI registry (`recordLlmCall`); the call's span is filled and ended here; with
// `inferenceLog` open, one record per call is written (ids from the call's span).

const { recordLlmCall } = require('./profile.js')
const { inferenceLog } = require('./inference_log.js')
const telemetry = require('./telemetry.js')
const { CircuitOpenError, RateLimitedError, TimeoutError } = require('./errors.js')
const { inProbe } = require('./synthetic.js')

/** The inference log's outcome for a call, as in Python. */
function outcomeOf(error, fellBack) {
  if (error === undefined) return fellBack ? 'fallback' : 'success'
  if (error instanceof TimeoutError || (error && error.name === 'AbortError')) return 'timeout'
  if (error instanceof CircuitOpenError || error instanceof RateLimitedError) return 'rejected'
  return 'error'
}

function logRecord(span, fields) {
  try {
    if (span) telemetry.internal.runWithSpan(span, () => inferenceLog.record(fields))
    else inferenceLog.record(fields)
  } catch (e) {
    // Telemetry must not fail the caller's call: reported at warning level and counted.
    telemetry.emit('inference_log.record_failed', { level: 'warning', message: `${e && e.name}: ${e && e.message}` })
  }
}

/** [input, output] tokens of a chat/embeddings usage (prompt/completion) or a Responses one (input/output). */
function tokensOf(usage) {
  if (usage === null || typeof usage !== 'object') return [undefined, undefined]
  const i = usage.prompt_tokens ?? usage.input_tokens
  const o = usage.completion_tokens ?? usage.output_tokens
  return [i, o]
}

/** Seconds from the request to the first streamed chunk, on a streamed call's span. */
const TTFT_ATTRIBUTE = 'gen_ai.response.time_to_first_chunk'

const state = {
  /** @type {undefined | ((record: object) => void)} tests and integrations observe records here */
  listener: undefined,
}

/**
 * Records one finished call: GenAI metrics and cost, and, given its `span`, fills and ends it
 * (`gen_ai.usage.*`, `gen_ai.response.model`, time to first chunk, content when captured, the error).
 * `extra`: { responseModel, content: [prompt, answer], always, attempts, parameters, fellBack }.
 */
function recordCall(operation, model, durationMs, usage, error, firstTokenMs, span, extra) {
  const x = extra || {}
  const [inputTokens, outputTokens] = tokensOf(usage)
  const errorType = error === undefined ? undefined : (error && error.constructor && error.constructor.name) || 'Error'
  const priced = x.responseModel || model
  const traceId = span ? span.traceId : undefined
  // A synthetic probe's call (issue 11) is counted apart: not in the GenAI metrics, the cost
  // counter, the prompt profile or the inference log, but in ferrule_synthetic_calls_total.
  const synthetic = inProbe()
  const costUsd = recordLlmCall({ model: priced, durationMs, inputTokens, outputTokens, operation, errorType, traceId, synthetic })
  if (span && !span.ended) {
    span.setUsage({ inputTokens, outputTokens })
    if (x.responseModel) span.setAttribute('gen_ai.response.model', x.responseModel)
    if (firstTokenMs !== undefined) span.setAttribute(TTFT_ATTRIBUTE, firstTokenMs / 1000)
    if (x.attempts !== undefined) span.setAttribute('ferrule.attempts', x.attempts)
    if (x.content) span.setContent({ input: x.content[0], output: x.content[1] }, x.always === true)
    if (error !== undefined) span.recordError(error)
    span.end()
  }
  if (inferenceLog.isOpen && !synthetic) {
    logRecord(span, {
      model: priced, provider: x.provider || 'openai', outcome: outcomeOf(error, x.fellBack === true), parameters: x.parameters,
      input: x.content ? x.content[0] : undefined, output: x.content ? x.content[1] : undefined,
      inputTokens, outputTokens, costUsd: costUsd || undefined, latencyMs: durationMs, errorType, attempts: x.attempts,
    })
  }
  if (state.listener !== undefined) {
    state.listener({ operation, model: priced, durationMs, inputTokens, outputTokens, error, firstTokenMs, traceId, costUsd, attempts: x.attempts, parameters: x.parameters })
  }
}

module.exports = { recordCall, tokensOf, state, TTFT_ATTRIBUTE }
