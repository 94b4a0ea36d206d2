'use strict'
// Validation while an answer streams. `PartialJson` reads the text piece by piece and gives the value
// it is becoming (as instructor's Partial does); against a schema it throws at the first violation no
// later text can undo. `partialValues(stream, { schema })` yields those values from a chat stream and
// stops it (aborting the request) at such a violation; `streamValidated(create, request, { schema,
// reask })` re-asks then, with the feedback `validated()` gives, and checks the finished text with
// `parseJson` (repairs included).

const native = require('./native.js')
const { ValidationError, configError, napiTypeError } = require('./errors.js')
const { parseJson, feedbackFor } = require('./validate.js')

const MAX_REASK = 10
const DEFAULT_MAX_INPUT_BYTES = 10 * 1024 * 1024
const DEFAULT_MAX_DEPTH = 128

function schemaText(schema) {
  if (schema === undefined || schema === null) return null
  if (typeof schema === 'object' && '_zod' in schema) return JSON.stringify(require('zod').toJSONSchema(schema))
  if (typeof schema === 'object' || typeof schema === 'boolean') return JSON.stringify(schema)
  throw configError('TypeError', `PartialJson: schema=${String(schema)} is not allowed; allowed: a JSON Schema object or a zod 4 schema`, 'schema')
}

/**
 * `feed(piece)` returns the new partial value when it changed (else `undefined`) and throws a
 * `ValidationError` (`kind: 'schema'`) at the first violation of `schema` no later text can undo (a
 * wrong type, a forbidden key, too many items, a number out of range, a string no enum value starts
 * with). Missing required keys are only checked on the finished text.
 */
class PartialJson {
  #native
  constructor({ schema, maxInputBytes = DEFAULT_MAX_INPUT_BYTES, maxDepth = DEFAULT_MAX_DEPTH } = {}) {
    for (const [key, v] of [['maxInputBytes', maxInputBytes], ['maxDepth', maxDepth]]) {
      if (typeof v === 'number' && !Number.isInteger(v)) {
        throw configError('RangeError', `PartialJson: ${key}=${v} is out of range; allowed: an integer >= 1`, key)
      }
    }
    try {
      this.#native = new native.NativePartialJson(schemaText(schema), maxInputBytes, maxDepth)
    } catch (e) {
      throw napiTypeError(e, 'PartialJson', { maxInputBytes, maxDepth }) || e
    }
    this.chunks = 0
    this.value = undefined
  }

  feed(piece) {
    this.chunks++
    let out
    try {
      out = this.#native.feed(piece)
    } catch (e) {
      throw new ValidationError(e.message, { kind: 'limit', errors: [{ path: '', message: e.message }], raw: this.#native.text })
    }
    if (out === null || out === undefined) return undefined
    const { value, violation } = JSON.parse(out)
    if (violation !== null) {
      throw new ValidationError(`the streamed answer violates its schema at ${violation.path || '(the whole document)'}: ${violation.message}`, {
        kind: 'schema',
        errors: [violation],
        raw: this.#native.text,
      })
    }
    this.value = value
    return value
  }

  get complete() {
    return this.#native.complete
  }

  get text() {
    return this.#native.text
  }
}

function pieceOf(chunk) {
  if (typeof chunk === 'string') return chunk
  const c = chunk && chunk.choices && chunk.choices[0]
  return c && c.delta ? c.delta.content : undefined
}

/**
 * Yields the partial value each time a chunk of `stream` grows it, then the finished value (checked and
 * repaired by `parseJson`). At the first violation no later text can undo, stops `stream` (its
 * iterator's `return()`, which aborts a wrapped request) and throws the ValidationError.
 */
async function* partialValues(stream, { schema, maxInputBytes, maxDepth } = {}) {
  const p = new PartialJson({ schema, maxInputBytes, maxDepth })
  for await (const chunk of stream) {
    const piece = pieceOf(chunk)
    if (!piece) continue
    const v = p.feed(piece) // a throw here ends the for-await, which calls the stream's return()
    if (v !== undefined && !p.complete) yield v
  }
  yield parseJson(p.text, schema === undefined ? undefined : { schema })
}

/**
 * Streams `create({ ...request, stream: true })` as partial values; when the answer breaks the schema
 * beyond repair the stream is stopped and the model asked again (up to `reask` times) with every
 * violation and its answer so far. The values of a re-ask start over.
 */
async function* streamValidated(create, request, { schema, reask = 1 } = {}) {
  if (!Number.isInteger(reask) || reask < 0 || reask > MAX_REASK) {
    throw configError('RangeError', `streamValidated: reask=${String(reask)} is out of range; allowed: an integer in [0, ${MAX_REASK}]`, 'reask')
  }
  let req = { ...request, stream: true }
  for (let attempt = 0; ; attempt++) {
    try {
      yield* partialValues(await create(req), { schema })
      return
    } catch (e) {
      if (!(e instanceof ValidationError) || attempt >= reask) throw e
      req = { ...req, messages: [...(req.messages || []), { role: 'user', content: feedbackFor(e) }] }
    }
  }
}

module.exports = { PartialJson, partialValues, streamValidated }
