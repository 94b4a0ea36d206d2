'use strict'
// LangChain.js: `FerruleCallbackHandler` records each chat/LLM run as a call record (duration,
// model, provider from the model class, tokens from usage_metadata, time to first token when
// streaming, the error; the template from a named prompt template), chains, tools and retrievers as
// nested spans, and
// `withPolicy(runnable, policy, { streamPolicy })` runs invoke/stream/batch through a ferrule Policy
// (streams under a StreamPolicy, see langchain_stream.js). With a retrying
// policy, a model's own AsyncCaller retries are turned off (on a copy), so retries never stack.
// Loaded from `ferrule/langchain`; needs `@langchain/core`.

const { BaseCallbackHandler } = require('@langchain/core/callbacks/base')
const { Runnable } = require('@langchain/core/runnables')
const { Policy } = require('./policy.js')
const llmCall = require('./llm_call.js')
const { startSpan } = require('./telemetry.js')
const { warn } = require('./telemetry.js').internal
const { currentPrompt } = require('./prompt_template.js')
const { DEFAULT_STREAM_POLICY, StreamPolicy } = require('./stream.js')
const { StreamFields } = require('./stream_fields.js')
const { surviving } = require('./langchain_stream.js')

/** A run's name: the run name given, else the serialized name, else its class. */
function nameOf(serialized, runName, fallback) {
  if (runName) return String(runName)
  if (serialized && serialized.name) return String(serialized.name)
  const id = (serialized && serialized.id) || []
  return id.length ? String(id[id.length - 1]) : fallback
}

/** A prompt template's own name (`prompt.withConfig({ runName: 'triage' })`), or undefined when it has only its class name. */
function promptNameOf(serialized, runName) {
  const id = (serialized && serialized.id) || []
  const cls = id.length ? String(id[id.length - 1]) : ''
  if (!cls.endsWith('PromptTemplate')) return undefined
  const name = runName || (serialized && serialized.name)
  return name && name !== cls ? String(name) : undefined
}

// LangChain message types -> chat roles, for the core's template fingerprint.
const ROLES = { human: 'user', ai: 'assistant', system: 'system', tool: 'tool', function: 'function' }
const MAX_MESSAGES = 50

/** The first prompt's messages as `{ role, content }` (what the core fingerprints). */
function messagesOf(messages) {
  const first = Array.isArray(messages) && Array.isArray(messages[0]) ? messages[0] : []
  return first.slice(0, MAX_MESSAGES).map((m) => {
    let type
    try {
      type = typeof m.getType === 'function' ? m.getType() : typeof m._getType === 'function' ? m._getType() : m.type
    } catch {
      type = undefined
    }
    return { role: ROLES[type] || 'user', content: m ? m.content : '' }
  })
}

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
    // Awaited, not queued in the background: the handler's work is synchronous and cheap, and a run's
    // span and clock must start before the model's request does.
    super({ _awaitHandler: true })
    const maxRuns = options.maxRuns === undefined ? 10000 : options.maxRuns
    if (!Number.isInteger(maxRuns) || maxRuns < 1 || maxRuns > 10_000_000) {
      throw new RangeError(`FerruleCallbackHandler: maxRuns=${maxRuns} is out of range; allowed: [1, 10000000]`)
    }
    this.name = 'ferrule'
    this.maxRuns = maxRuns
    this.runs = new Map() // runId -> { operation, request, provider, template, started, firstTokenMs, span }
    // runId -> the span of a chain, tool or retriever run, so the runs inside nest under it.
    this.spans = new Map()
    // parent runId -> the name of the prompt template that ran in it: the template of the model
    // runs that follow it there (`prompt | model`).
    this.templates = new Map()
    this.dropped = 0
    this.recorded = 0
  }

  #dropped(what, n, runId) {
    this.dropped++
    warn('langchain.run_dropped', 'FERRULE_RUN_DROPPED', `ferrule: FerruleCallbackHandler: ${n} runs in flight; run ${runId} not ${what}`)
  }

  /** A chain/tool/retriever run's span (GenAI invoke_workflow / execute_tool / retrieval), child of its parent run's span. */
  #open(runId, parentRunId, name, operation, attributes) {
    if (this.spans.size >= this.maxRuns) return this.#dropped('traced', this.spans.size, runId)
    const parent = parentRunId === undefined ? undefined : this.spans.get(parentRunId)
    const span = startSpan({ name: `${operation} ${name}`, role: 'internal', parent, attributes: { 'ferrule.integration': 'langchain', 'gen_ai.operation.name': operation, ...attributes } })
    this.spans.set(runId, span)
  }

  #close(runId, error) {
    this.templates.delete(runId)
    const span = this.spans.get(runId)
    if (span === undefined) return
    this.spans.delete(runId)
    if (error !== undefined) span.recordError(error)
    span.end()
  }

  handleChainStart(chain, inputs, runId, parentRunId, tags, metadata, runType, runName) {
    const prompt = promptNameOf(chain, runName)
    if (prompt !== undefined && parentRunId !== undefined && this.templates.size < this.maxRuns) this.templates.set(parentRunId, prompt)
    this.#open(runId, parentRunId, nameOf(chain, runName, 'chain'), 'invoke_workflow', {})
  }

  handleChainEnd(outputs, runId) {
    this.#close(runId, undefined)
  }

  handleChainError(err, runId) {
    this.#close(runId, err)
  }

  handleToolStart(tool, input, runId, parentRunId, tags, metadata, runName) {
    const name = nameOf(tool, runName, 'tool')
    this.#open(runId, parentRunId, name, 'execute_tool', { 'gen_ai.tool.name': name })
  }

  handleToolEnd(output, runId) {
    this.#close(runId, undefined)
  }

  handleToolError(err, runId) {
    this.#close(runId, err)
  }

  handleRetrieverStart(retriever, query, runId, parentRunId, tags, metadata, runName) {
    this.#open(runId, parentRunId, nameOf(retriever, runName, 'retriever'), 'retrieval', {})
  }

  handleRetrieverEnd(documents, runId) {
    this.#close(runId, undefined)
  }

  handleRetrieverError(err, runId) {
    this.#close(runId, err)
  }

  #start(operation, llm, runId, parentRunId, extraParams, metadata, messages) {
    if (this.runs.size >= this.maxRuns) return this.#dropped('recorded', this.runs.size, runId)
    const model = modelOf(llm, extraParams, metadata)
    const provider = providerOf(llm, metadata)
    // The run's GenAI span, child of its chain's span (else the current ferrule span); ended by recordCall.
    const parent = parentRunId === undefined ? undefined : this.spans.get(parentRunId)
    const span = startSpan({ operation, model: model || undefined, provider, role: 'call', parent, attributes: { 'ferrule.integration': 'langchain' } })
    const template =
      currentPrompt() ||
      (metadata && (metadata.ls_prompt_template || metadata.template)) ||
      (parentRunId === undefined ? undefined : this.templates.get(parentRunId)) ||
      undefined
    // Without a named template the core fingerprints the messages (three prompts, three rows).
    const request = template === undefined && messages !== undefined ? { model, messages: messagesOf(messages) } : { model }
    this.runs.set(runId, { operation, request, provider, template, started: performance.now(), firstTokenMs: undefined, times: undefined, span })
  }

  handleChatModelStart(llm, messages, runId, parentRunId, extraParams, tags, metadata) {
    this.#start('chat', llm, runId, parentRunId, extraParams, metadata, messages)
  }

  handleLLMStart(llm, prompts, runId, parentRunId, extraParams, tags, metadata) {
    this.#start('text_completion', llm, runId, parentRunId, extraParams, metadata)
  }

  handleLLMNewToken(token, idx, runId) {
    const run = this.runs.get(runId)
    if (run === undefined) return
    const now = performance.now()
    if (run.firstTokenMs === undefined) {
      run.firstTokenMs = now - run.started
      run.times = new StreamFields(new llmCall.CallStream(run.span._native, false))
    }
    run.times.mark(now) // the time per chunk (the answer itself is read at the end)
  }

  #end(runId, response, error) {
    const run = this.runs.get(runId)
    if (run === undefined) return
    this.runs.delete(runId)
    if (run.times !== undefined) run.times.flush()
    llmCall.recordCall(run.span, run.operation, run.provider, {
      request: run.request,
      response: response === undefined && run.times !== undefined ? {} : response,
      stream: run.times === undefined ? undefined : run.times.native,
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

/**
 * A runnable run through a ferrule Policy. Streams are opened through the policy up to their first
 * chunk (a failure before it is retried, unseen); after it the StreamPolicy says what the consumer
 * sees: its deadlines, and a typed StreamInterrupted, a continuation, or a fallback when it breaks.
 */
class PolicyRunnable extends Runnable {
  lc_namespace = ['ferrule']

  constructor(bound, policy, streamPolicy) {
    super()
    this.bound = bound
    this.policy = policy
    this.streamPolicy = streamPolicy === undefined ? DEFAULT_STREAM_POLICY : streamPolicy
  }

  invoke(input, options) {
    return this.policy.execute(() => this.bound.invoke(input, options))
  }

  _streamIterator(input, options) {
    return surviving(this, input, options)
  }
}

/**
 * @param {object} runnable a LangChain Runnable
 * @param {Policy} policy
 * @param {{ streamPolicy?: StreamPolicy }} [opts]
 */
function withPolicy(runnable, policy, opts = {}) {
  if (!(policy instanceof Policy)) throw new TypeError('withPolicy: policy must be a ferrule Policy')
  // Runnable.isRunnable, not instanceof: an ES module's Runnable comes from @langchain/core's ES
  // build, a different class from the CommonJS one required here, and LangChain itself checks the
  // shape for that reason.
  if (!Runnable.isRunnable(runnable)) throw new TypeError('withPolicy: runnable must be a LangChain Runnable')
  if (opts === null || typeof opts !== 'object') throw new TypeError(`withPolicy: opts=${String(opts)} must be an object`)
  for (const k of Object.keys(opts)) {
    if (k !== 'streamPolicy') throw new TypeError(`withPolicy: unknown option ${JSON.stringify(k)}; allowed: streamPolicy`)
  }
  if (opts.streamPolicy !== undefined && !(opts.streamPolicy instanceof StreamPolicy)) {
    throw new TypeError(`withPolicy: streamPolicy=${String(opts.streamPolicy)} is not allowed; allowed: a ferrule StreamPolicy or undefined`)
  }
  return new PolicyRunnable(policy.retries ? withoutOwnRetries(runnable) : runnable, policy, opts.streamPolicy)
}

module.exports = { FerruleCallbackHandler, PolicyRunnable, withPolicy }
