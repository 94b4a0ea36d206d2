'use strict'
// `ferrule/ai`: `ferruleMiddleware({ policy, modelPolicies, captureContent })` for the Vercel AI
// SDK's `wrapLanguageModel`. Each `doGenerate` / `doStream` of the wrapped model, whatever its
// provider package, runs through a ferrule Policy: each attempt calls the model with the attempt's
// abort signal (the policy's deadline and the caller's `abortSignal`) and a `traceparent` header;
// the policy reads `retry-after` / rate-limit resets from the provider's `APICallError`
// (`responseHeaders`, `statusCode`). Each call is one GenAI span and one call record (metrics,
// cost, prompt profile, inference log) under the provider's name (`openai.chat` -> `openai`). A
// stream's policy covers opening it; the record is made when the stream ends or breaks.
//
// The AI SDK retries on its own (`maxRetries`, default 2) around the middleware: pass
// `maxRetries: 0` to `generateText` / `streamText` when the policy retries, so they never stack.

const { Policy } = require('./policy.js')
const { recordCall, CallStream } = require('./llm_call.js')
const { startSpan, traceparent } = require('./telemetry.js')
const { POLICY_SPANS } = require('./telemetry.js').internal
const { TRACED_CALL } = require('./policy_spans.js')
const { currentPrompt } = require('./prompt_template.js')
const { inProbe } = require('./synthetic.js')

const OPTIONS = ['policy', 'modelPolicies', 'captureContent']
const OPERATION = 'chat'

/** `gen_ai.provider.name` of an AI SDK model: its provider id's first part (`anthropic.messages`). */
function providerOf(model) {
  const p = model && typeof model.provider === 'string' ? model.provider : ''
  return p.split('.')[0] || 'unknown'
}

/** The call's parameters under the request field names the core reads (the prompt is the messages). */
function requestOf(modelId, params, stream) {
  return {
    model: modelId,
    messages: params.prompt,
    max_tokens: params.maxOutputTokens,
    temperature: params.temperature,
    top_p: params.topP,
    top_k: params.topK,
    seed: params.seed,
    presence_penalty: params.presencePenalty,
    frequency_penalty: params.frequencyPenalty,
    stream,
  }
}

/**
 * A `LanguageModelV3Middleware` (`specificationVersion: 'v3'`, AI SDK 6) that runs every model call
 * through a ferrule Policy and records it.
 * @param {{ policy?: Policy, modelPolicies?: Record<string, Policy>, captureContent?: boolean }} [opts]
 */
function ferruleMiddleware(opts = {}) {
  if (opts === null || typeof opts !== 'object') throw new TypeError(`ferruleMiddleware: opts=${String(opts)} must be an object`)
  for (const k of Object.keys(opts)) {
    if (!OPTIONS.includes(k)) throw new TypeError(`ferruleMiddleware: unknown option ${JSON.stringify(k)}; allowed: ${OPTIONS.join(', ')}`)
  }
  const policy = opts.policy === undefined ? new Policy({ retry: { attempts: 3 }, name: 'ai' }) : opts.policy
  if (!(policy instanceof Policy)) throw new TypeError('ferruleMiddleware: policy must be a ferrule Policy')
  const perModel = new Map(Object.entries(opts.modelPolicies || {}))
  for (const [k, v] of perModel) {
    if (!(v instanceof Policy)) throw new TypeError(`ferruleMiddleware: modelPolicies[${JSON.stringify(k)}] must be a ferrule Policy`)
  }
  if (opts.captureContent !== undefined && typeof opts.captureContent !== 'boolean') {
    throw new TypeError(`ferruleMiddleware: captureContent=${String(opts.captureContent)} is not allowed; allowed: true or false`)
  }
  const always = opts.captureContent === true
  const pick = (modelId) => perModel.get(modelId) || policy

  // One call: the span, the policy's attempts (`call(model, params, ctx)` each), the record.
  function run(kind, model, params) {
    const modelId = typeof model.modelId === 'string' ? model.modelId : ''
    const provider = providerOf(model)
    const p = pick(modelId)
    const capture = always || POLICY_SPANS.captureContent
    const span = startSpan({ operation: OPERATION, model: modelId || undefined, provider, role: 'call', attributes: { 'ferrule.policy.name': p.name } })
    const counter = { n: 0 }
    const request = requestOf(modelId, params, kind === 'stream')
    const done = (response, error, stream) =>
      recordCall(span, OPERATION, provider, {
        request,
        response,
        stream,
        error,
        attempts: counter.n,
        template: currentPrompt(),
        synthetic: inProbe(),
        capture,
        alwaysCapture: always,
        inputText: capture ? JSON.stringify(params.prompt) : undefined,
      })
    const attempt = (ctx) => {
      const tp = traceparent()
      const headers = tp === null ? params.headers : { ...(params.headers || {}), traceparent: tp }
      const signal = ctx.signal === undefined ? params.abortSignal : ctx.signal
      const call = { ...params, headers, abortSignal: signal }
      return kind === 'stream' ? model.doStream(call) : model.doGenerate(call)
    }
    const name = `${modelId ? `${OPERATION} ${modelId}` : OPERATION} attempt`
    return p[TRACED_CALL](attempt, [], params.abortSignal, { parent: span, name, attributes: undefined, counter, chaos: true }).then(
      (result) => {
        if (kind !== 'stream') {
          done(result, undefined, undefined)
          return result
        }
        const fields = new CallStream(span._native, capture)
        let failed
        let finished = false
        const finish = (err) => {
          if (finished) return
          finished = true
          done(undefined, err, fields)
        }
        // Pulled part by part, so a break, an error part and a cancel all end the record.
        const reader = result.stream.getReader()
        const observed = new ReadableStream({
          async pull(controller) {
            let r
            try {
              r = await reader.read()
            } catch (e) {
              finish(e)
              controller.error(e)
              return
            }
            if (r.done) {
              finish(failed)
              controller.close()
              return
            }
            const part = r.value
            if (part && part.type === 'error') {
              if (failed === undefined) failed = part.error instanceof Error ? part.error : new Error(String(part.error))
            } else fields.chunk(part)
            controller.enqueue(part)
          },
          cancel(reason) {
            finish(undefined)
            return reader.cancel(reason)
          },
        })
        return { ...result, stream: observed }
      },
      (err) => {
        done(undefined, err, undefined)
        throw err
      },
    )
  }

  return {
    specificationVersion: 'v3',
    wrapGenerate: ({ params, model }) => run('generate', model, params),
    wrapStream: ({ params, model }) => run('stream', model, params),
  }
}

module.exports = { ferruleMiddleware }
