'use strict'
// LangChain.js: `FerruleCallbackHandler` records each chat/LLM run as GenAI telemetry (duration,
// model, tokens from usage_metadata, time to first token when streaming, the error), and
// `withPolicy(runnable, policy)` runs invoke/stream/batch through a ferrule Policy. With a retrying
// policy, a model's own AsyncCaller retries are turned off (on a copy), so retries never stack.
// Loaded from `ferrule/langchain`; needs `@langchain/core`.

const { BaseCallbackHandler } = require('@langchain/core/callbacks/base')
const { Runnable } = require('@langchain/core/runnables')
const { Policy } = require('./policy.js')
const llmCall = require('./llm_call.js')
const { startSpan } = require('./telemetry.js')
const { currentPrompt } = require('./prompt_template.js')

function modelOf(llm, extraParams, metadata) {
  if (metadata && metadata.ls_model_name) return String(metadata.ls_model_name)
  const p = (extraParams && extraParams.invocation_params) || {}
  return String(p.model || p.model_name || (llm && llm.kwargs && (llm.kwargs.model || llm.kwargs.model_name)) || '')
}

// LangChain model classes whose provider is not in `ls_provider`: class name prefix -> gen_ai.provider.name
const PROVIDERS = [
  ['ChatOpenAI', 'openai'],
  ['AzureChatOpenAI', 'azure.ai.openai'],
  ['ChatAnthropic', 'anthropic'],
  ['ChatVertexAI', 'gcp.vertex_ai'],
  ['ChatGoogleGenerativeAI', 'gcp.gemini'],
  ['ChatBedrock', 'aws.bedrock'],
  ['ChatMistralAI', 'mistral_ai'],
  ['ChatGroq', 'groq'],
  ['ChatCohere', 'cohere'],
  ['ChatOllama', 'ollama'],
]

/** The run's gen_ai.provider.name: LangChain's own `ls_provider`, else the model class. */
function providerOf(llm, metadata) {
  if (metadata && metadata.ls_provider) return String(metadata.ls_provider)
  const id = (llm && llm.id) || []
  const cls = id.length ? String(id[id.length - 1]) : ''
  for (const [prefix, provider] of PROVIDERS) if (cls.startsWith(prefix)) return provider
  return cls.replace(/^Chat/, '').toLowerCase() || 'langchain'
}

/** The run's answer in the shape the core's call record reads (`model`, `usage`, `choices`). */
function responseOf(output) {
  const r = {}
  const lo = (output && output.llmOutput) || {}
  const tu = lo.tokenUsage
  if (tu) r.usage = { prompt_tokens: tu.promptTokens, completion_tokens: tu.completionTokens }
  const reasons = []
  for (const gens of (output && output.generations) || []) {
    for (const g of gens || []) {
      const fr = g && g.generationInfo && g.generationInfo.finish_reason
      if (fr) reasons.push({ finish_reason: fr })
      const um = g && g.message && g.message.usage_metadata
      if (um) r.usage = um
      const m = g && g.message && g.message.response_metadata && g.message.response_metadata.model_name
      if (m) r.model = m
    }
  }
  if (reasons.length) r.choices = reasons
  return r
}

class FerruleCallbackHandler extends BaseCallbackHandler {
  /** @param {{ maxRuns?: number }} [options] runs in flight beyond `maxRuns` are not recorded, but counted in `dropped` */
  constructor(options = {}) {
    super()
    const maxRuns = options.maxRuns === undefined ? 10000 : options.maxRuns
    if (!Number.isInteger(maxRuns) || maxRuns < 1 || maxRuns > 10_000_000) {
      throw new RangeError(`FerruleCallbackHandler: maxRuns=${maxRuns} is out of range; allowed: [1, 10000000]`)
    }
    this.name = 'ferrule'
    this.maxRuns = maxRuns
    this.runs = new Map() // runId -> { operation, model, started, firstTokenMs }
    this.dropped = 0
    this.recorded = 0
  }

  #start(operation, llm, runId, extraParams, metadata) {
    if (this.runs.size >= this.maxRuns) {
      this.dropped++
      process.emitWarning(`ferrule: FerruleCallbackHandler: ${this.runs.size} runs in flight; run ${runId} not recorded`, { type: 'FerruleWarning', code: 'FERRULE_RUN_DROPPED' })
      return
    }
    const model = modelOf(llm, extraParams, metadata)
    const provider = providerOf(llm, metadata)
    // The run's GenAI span, child of the current ferrule span; ended by recordCall.
    const span = startSpan({ operation, model: model || undefined, provider, role: 'call', attributes: { 'ferrule.integration': 'langchain' } })
    const template = currentPrompt() || (metadata && (metadata.ls_prompt_template || metadata.template)) || undefined
    this.runs.set(runId, { operation, model, provider, template, started: performance.now(), firstTokenMs: undefined, span })
  }

  handleChatModelStart(llm, messages, runId, parentRunId, extraParams, tags, metadata) {
    this.#start('chat', llm, runId, extraParams, metadata)
  }

  handleLLMStart(llm, prompts, runId, parentRunId, extraParams, tags, metadata) {
    this.#start('text_completion', llm, runId, extraParams, metadata)
  }

  handleLLMNewToken(token, idx, runId) {
    const run = this.runs.get(runId)
    if (run !== undefined && run.firstTokenMs === undefined) run.firstTokenMs = performance.now() - run.started
  }

  #end(runId, response, error) {
    const run = this.runs.get(runId)
    if (run === undefined) return
    this.runs.delete(runId)
    llmCall.recordCall(run.span, run.operation, run.provider, {
      request: { model: run.model },
      response,
      error,
      durationMs: performance.now() - run.started,
      timeToFirstChunkMs: run.firstTokenMs,
      template: run.template,
    })
    this.recorded++
  }

  handleLLMEnd(output, runId) {
    this.#end(runId, responseOf(output), undefined)
  }

  handleLLMError(err, runId) {
    this.#end(runId, undefined, err)
  }
}

function callerWithoutRetries(caller) {
  return Object.assign(Object.create(Object.getPrototypeOf(caller)), caller, { maxRetries: 0 })
}

/** A copy of a LangChain model whose AsyncCallers do not retry (ChatOpenAI delegates to inner
 * completions/responses models, each with its own caller); other runnables as they are. */
function withoutOwnRetries(runnable) {
  if (!runnable.caller || typeof runnable.caller.maxRetries !== 'number') return runnable
  const copy = Object.assign(Object.create(Object.getPrototypeOf(runnable)), runnable)
  copy.caller = callerWithoutRetries(runnable.caller)
  for (const [k, v] of Object.entries(runnable)) {
    if (v !== null && typeof v === 'object' && v !== runnable.caller && v.caller && typeof v.caller.maxRetries === 'number') {
      copy[k] = Object.assign(Object.create(Object.getPrototypeOf(v)), v, { caller: callerWithoutRetries(v.caller) })
    }
  }
  return copy
}

/** A runnable run through a ferrule Policy. Streams are retried until their first chunk. */
class PolicyRunnable extends Runnable {
  lc_namespace = ['ferrule']

  constructor(bound, policy) {
    super()
    this.bound = bound
    this.policy = policy
  }

  invoke(input, options) {
    return this.policy.execute(() => this.bound.invoke(input, options))
  }

  async *_streamIterator(input, options) {
    const [head, it] = await this.policy.execute(async () => {
      const iterator = (await this.bound.stream(input, options))[Symbol.asyncIterator]()
      return [await iterator.next(), iterator]
    })
    if (head.done) return
    yield head.value
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value
  }
}

function withPolicy(runnable, policy) {
  if (!(policy instanceof Policy)) throw new TypeError('withPolicy: policy must be a ferrule Policy')
  // Runnable.isRunnable, not instanceof: an ES module's Runnable comes from @langchain/core's ES
  // build, a different class from the CommonJS one required here, and LangChain itself checks the
  // shape for that reason.
  if (!Runnable.isRunnable(runnable)) throw new TypeError('withPolicy: runnable must be a LangChain Runnable')
  return new PolicyRunnable(policy.retries ? withoutOwnRetries(runnable) : runnable, policy)
}

module.exports = { FerruleCallbackHandler, PolicyRunnable, withPolicy }
