'use strict'
// A wrapped stream's record fields (model, id, finish reasons, usage, text, the time to the first
// chunk and per chunk), folded by the core with as few crossings as the chunks allow. Most chunks of
// a chat stream carry one text delta and nothing else the record reads; crossing into the core for
// each (and reading its properties through N-API) cost ~4 us per chunk. Such a chunk's text is kept
// here instead, with the chunk's time, and handed to the core in batches; any other chunk (the
// first, one with a finish reason, usage, tool calls, another provider's shape) is flushed after
// what came before it and folded by the core itself, so the core reads every field it reads today,
// in order.

const BATCH = 256

/** The text of a chunk that carries nothing but a text delta for the record, else undefined. */
function textOnly(c) {
  if (c === null || typeof c !== 'object') return undefined
  // Fields the core reads on a chunk (usage; Anthropic's message/delta; the AI SDK's finishReason; Responses events).
  if (c.usage != null || c.message != null || c.delta != null || c.finishReason != null || c.response != null) return undefined
  const choices = c.choices
  if (!Array.isArray(choices) || choices.length !== 1) return undefined
  const x = choices[0]
  if (x === null || typeof x !== 'object' || x.finish_reason != null) return undefined
  const d = x.delta
  if (d === null || typeof d !== 'object' || d.tool_calls != null || d.function_call != null) return undefined
  const t = d.content
  if (typeof t === 'string') return t
  return t == null ? '' : undefined
}

class StreamFields {
  /** @param {import('./native.js').NativeCallStream} native the call's folded fields */
  constructor(native) {
    this.native = native
    this.pending = '' // text of the chunks kept here, not handed over yet
    this.at = new Float64Array(BATCH) // chunk end times (ms, performance.now()) not handed over yet
    this.n = 0
    // Kept here only once the core has the model and id (it reads them from the first chunk that has them).
    this.fast = false
  }

  /** One chunk, delivered to the consumer. */
  chunk(c) {
    if (this.fast) {
      const t = textOnly(c)
      if (t !== undefined) {
        if (t !== '') this.pending += t
        return
      }
    }
    this.flush()
    this.native.chunk(c)
    if (!this.fast && c !== null && typeof c === 'object' && typeof c.model === 'string' && typeof c.id === 'string') this.fast = true
  }

  /**
   * The consumer was done with the previous chunk at `t` (ms, performance.now()): it asked for the
   * next. One clock read per chunk serves this and the stall deadline; for a consumer that asks at
   * once it is the chunk's arrival, and the gaps are `gen_ai.client.operation.time_per_output_chunk`.
   */
  mark(t) {
    this.at[this.n++] = t
    if (this.n === BATCH) this.flush()
  }

  /** Hands what is kept here to the core (before it folds another chunk, and before the record). */
  flush() {
    if (this.n === 0 && this.pending === '') return
    this.native.textChunks(this.pending, this.at, this.n)
    this.pending = ''
    this.n = 0
  }

  /** The text delivered so far. */
  get text() {
    this.flush()
    return this.native.text
  }

  get finished() {
    return this.native.finished // a kept chunk never has a finish reason
  }

  get usage() {
    return this.native.usage // nor usage
  }
}

module.exports = { StreamFields, textOnly }
