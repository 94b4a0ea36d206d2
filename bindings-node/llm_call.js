'use strict'
// One finished LLM call, recorded in one crossing: `recordCall(span, operation, provider, { request,
// response | stream, error, ... })`. The core reads the request body and the SDK's response (tokens
// incl. cached/reasoning, response model and id, finish reasons), classifies the outcome, records
// the GenAI metrics, cost, prompt profile, inference log and `observe()` watchers, and fills and
// ends the call's span. Integrations only gather what only JS can read.

const native = require('./native.js')

/** Seconds from the request to the first streamed chunk, on a streamed call's span. */
const TTFT_ATTRIBUTE = 'gen_ai.response.time_to_first_chunk'

const state = {
  /** @type {undefined | ((record: object) => void)} tests and integrations observe records here */
  listener: undefined,
}

const NONE = {}

/**
 * Records one finished call and ends `span` (a telemetry Span, or undefined).
 * `x`: { request, response, stream (a NativeCallStream), error, durationMs, timeToFirstChunkMs,
 * attempts, fellBack, template, synthetic, capture, alwaysCapture, inputText, serverAddress, serverPort }.
 */
function recordCall(span, operation, provider, x = NONE) {
  const r = native.recordCall(
    span ? span._native : null,
    operation,
    provider,
    x.request,
    x.response,
    x.stream ?? null,
    x.error,
    x,
  )
  if (span) span.end()
  if (state.listener !== undefined) {
    state.listener({ operation, provider, model: r.model, error: x.error, costUsd: r.costUsd, outcome: r.outcome, template: r.template,
      inputTokens: r.inputTokens ?? undefined, outputTokens: r.outputTokens ?? undefined, attempts: x.attempts, spanId: span ? span.spanId : undefined })
  }
  return r
}

module.exports = { recordCall, state, TTFT_ATTRIBUTE, CallStream: native.NativeCallStream }
