'use strict'
// LangChain.js streams that survive: `withPolicy(runnable, policy, { streamPolicy })`'s `stream()`
// opens each attempt through the policy up to its first chunk (a failure before it is retried,
// failed over or fallen back unseen), then gives the consumer the chunks under the StreamPolicy:
// its deadlines (an expired one aborts the run's signal, which LangChain hands to the SDK's
// request), and 'raise' / 'continue' / 'fallback' when the stream breaks after chunks were
// delivered. The machinery is the wrapped OpenAI client's (stream.js); what is LangChain's is here:
// reading a chunk and asking a chat model for the rest of an answer. One span per stream
// (`stream {name}`), ended once on completion, break or error; the model runs inside it are the
// callback handler's GenAI spans, nested under it.

const { openStream, survivingStream } = require('./stream.js')
const { TRACED_CALL } = require('./policy_spans.js')
const { startSpan } = require('./telemetry.js')

/** What a LangChain stream said so far: the delivered text, the usage (`usage_metadata`), whether it said why it ended. */
class LangChainStreamFields {
  constructor() {
    this._text = ''
    this.usage = null
    this._finished = false
    this._messages = false
    this.chunks = 0
    this.started = performance.now()
    this.firstAt = undefined
  }

  chunk(c) {
    this.chunks++
    if (this.firstAt === undefined) this.firstAt = performance.now()
    if (typeof c === 'string') {
      this._text += c
      return
    }
    if (c === null || typeof c !== 'object' || !('content' in c)) return
    this._messages = true
    const content = c.content
    if (typeof content === 'string') this._text += content
    else if (Array.isArray(content)) {
      for (const b of content) {
        if (typeof b === 'string') this._text += b
        else if (b && b.type === 'text' && typeof b.text === 'string') this._text += b.text
      }
    }
    const um = c.usage_metadata
    if (um) {
      const u = this.usage || { inputTokens: null, outputTokens: null }
      if (typeof um.input_tokens === 'number') u.inputTokens = um.input_tokens
      if (typeof um.output_tokens === 'number') u.outputTokens = um.output_tokens
      this.usage = u
    }
    const rm = c.response_metadata
    if (rm && (rm.finish_reason || rm.stop_reason)) this._finished = true
  }

  /** Time per chunk is the callback handler's (the model run's record); nothing to keep here. */
  mark() {}

  get text() {
    return this._text
  }

  /** A stream of anything but message chunks (a chain's parser output) has no finish reason to wait for. */
  get finished() {
    return this._finished || !this._messages
  }
}

/**
 * A chat model's input asking for the rest of an answer that began with `prefix`: the conversation
 * so far, then the partial answer as the AI's message. Anything but a chat model's own input throws
 * (the StreamInterrupted's cause).
 */
function continueInput(input, prefix) {
  const { AIMessage, HumanMessage } = require('@langchain/core/messages')
  if (typeof input === 'string') return [new HumanMessage(input), new AIMessage(prefix)]
  if (input && typeof input.toChatMessages === 'function') return [...input.toChatMessages(), new AIMessage(prefix)]
  if (Array.isArray(input)) return [...input, new AIMessage(prefix)]
  throw new TypeError(
    `onInterrupt 'continue' cannot continue a stream whose input is ${input === null ? 'null' : typeof input}; it can continue a chat model's input (a string, messages, a prompt value)`,
  )
}

/** The stream `PolicyRunnable._streamIterator` yields from. */
async function* surviving(pr, input, options) {
  const sp = pr.streamPolicy
  const name = (pr.bound && (pr.bound.name || (typeof pr.bound.getName === 'function' && pr.bound.getName()))) || 'runnable'
  const span = startSpan({ name: `stream ${name}`, role: 'internal', attributes: { 'ferrule.integration': 'langchain', 'ferrule.policy.name': pr.policy.name } })
  const fields = new LangChainStreamFields()
  const counter = { n: 0, fellBack: false }
  const callerSignal = options && options.signal ? options.signal : undefined
  const attempt = (ctx, inp) =>
    openStream(sp, fields, (signal) => pr.bound.stream(inp, { ...(options || {}), signal }), ctx && ctx.signal !== undefined ? ctx.signal : callerSignal)
  const through = async (inp) => {
    const r = await pr.policy[TRACED_CALL](attempt, [inp], undefined, { parent: span, name: `${span.name} attempt`, attributes: undefined, counter, chaos: true })
    if (r === null || typeof r !== 'object' || !('guard' in r)) counter.fellBack = true // the policy's fallback answered
    return r
  }
  let ended = false
  const done = (err) => {
    if (ended) return
    ended = true
    if (fields.usage) span.setUsage({ inputTokens: fields.usage.inputTokens ?? undefined, outputTokens: fields.usage.outputTokens ?? undefined })
    span.setAttribute('ferrule.stream.chunks', fields.chunks)
    span.setAttribute('ferrule.attempts', counter.n)
    if (fields.firstAt !== undefined) span.setAttribute('gen_ai.response.time_to_first_chunk', (fields.firstAt - fields.started) / 1000)
    if (err !== undefined) span.recordError(err)
    span.end()
  }
  let opened
  try {
    opened = await through(input)
  } catch (e) {
    done(e)
    throw e
  }
  const s = survivingStream(opened, fields, sp, (prefix) => through(continueInput(input, prefix)), done, span, counter)
  yield* s // a consumer's break returns the surviving stream, which aborts the request and ends the span
}

module.exports = { LangChainStreamFields, continueInput, surviving }
