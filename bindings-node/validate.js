'use strict'
// Response validation and correction for Node: parseJson, repairJson and validated(fn) with re-asks.
// The core parses, repairs and checks the JSON Schema (a zod 4 schema is turned into one with
// z.toJSONSchema, once); this layer calls the user's function, JSON.parses the accepted text,
// reports repairs and refusals as process warnings and re-asks with feedback.

const native = require('./native.js')
const { ValidationError, configError, internalError } = require('./errors.js')
const telemetry = require('./telemetry.js')

const OPTIONS = ['schema', 'repair', 'repairMode', 'maxInputBytes', 'maxDepth']
const VALIDATED_OPTIONS = [...OPTIONS, 'reask']
const MAX_REASK = 20
// Validators compiled for parseJson(text, { schema }), keyed by the schema object; a WeakMap, so a
// schema that is dropped takes its validator with it.
const compiledBySchema = new WeakMap()
let noSchema // the validator for { schema: undefined } with default options

function describe(v) {
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'function') return `function ${v.name || '(anonymous)'}`
  try {
    return String(v)
  } catch {
    return Object.prototype.toString.call(v)
  }
}

/** A zod 4 schema (classic or mini) carries its internals under `_zod`. */
function isZod(schema) {
  return schema !== null && typeof schema === 'object' && '_zod' in schema
}

function jsonSchemaOf(schema, where) {
  if (schema === undefined || schema === null) return null
  if (isZod(schema)) {
    let z
    try {
      z = require('zod')
    } catch (e) {
      throw configError('TypeError', `${where}: schema is a zod schema but the zod package cannot be loaded`, 'schema')
    }
    try {
      return z.toJSONSchema(schema)
    } catch (e) {
      throw configError('TypeError', `${where}: this zod schema has no JSON Schema form: ${e && e.message}`, 'schema')
    }
  }
  if (typeof schema === 'object' && !Array.isArray(schema)) return schema
  if (typeof schema === 'boolean') return schema
  throw configError(
    'TypeError',
    `${where}: schema=${describe(schema)} is not allowed; allowed: a JSON Schema object or a zod 4 schema`,
    'schema',
  )
}

function checkOptions(where, options, allowed) {
  if (options === undefined || options === null) return {}
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw configError('TypeError', `${where}: options must be an object; got ${describe(options)}`, 'options')
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw configError('TypeError', `${where}: unknown option ${key}; allowed: ${allowed.join(', ')}`, key)
    }
  }
  for (const key of ['maxInputBytes', 'maxDepth']) {
    const v = options[key]
    if (v !== undefined && typeof v !== 'number') {
      throw configError('TypeError', `${where}: ${key}=${describe(v)} must be a number`, key)
    }
  }
  if (options.repair !== undefined && typeof options.repair !== 'boolean') {
    throw configError('TypeError', `${where}: repair=${describe(options.repair)} must be a boolean`, 'repair')
  }
  if (options.repairMode !== undefined && typeof options.repairMode !== 'string') {
    throw configError(
      'TypeError',
      `${where}: repairMode=${describe(options.repairMode)} must be a string; allowed: "safe" or "lenient"`,
      'repairMode',
    )
  }
  return options
}

// Through the core's logger (masked, deduplicated, counted), then as a process warning when written.
function warn(event, message, code, fields) {
  telemetry.internal.warn(event, code, message, { fields })
}

function refusal(out, raw) {
  return new ValidationError(out.message, {
    kind: out.kind,
    errors: out.errors,
    repairs: out.repairs,
    raw,
    line: out.line,
    column: out.column,
  })
}

function reportRepairs(out) {
  warn(
    'validate.repaired',
    `ferrule: repaired model output: ${out.repairs
      .slice(0, 20)
      .map((r) => `${r.kind} at ${r.line}:${r.column}`)
      .join(', ')}${out.repairs.length > 20 ? ' ...' : ''}`,
    'FERRULE_REPAIRED',
    { repairs: out.repairs.map((r) => r.kind).join(',') },
  )
}

function reportRefusal(err) {
  warn('validate.invalid', `ferrule: refused model output (${err.kind}): ${err.message}`, 'FERRULE_INVALID', { kind: err.kind })
}

/**
 * Builds the one function that validates a text, with every option fixed now; its outcomes are
 * counted under `name` (ferrule_validations_total{name}). `run.record(verdict)` counts an outcome
 * decided here (a re-ask) under the same name.
 */
function compile(where, schema, options, name) {
  const json = jsonSchemaOf(schema, where)
  let made
  try {
    made = native.createJsonValidator(
      json === null ? null : JSON.stringify(json),
      {
        repair: options.repair,
        repairMode: options.repairMode,
        maxInputBytes: options.maxInputBytes,
        maxDepth: options.maxDepth,
      },
      name,
    )
  } catch (e) {
    throw internalError(e)
  }
  if (!(made instanceof native.NativeJsonValidator)) throw configError(made.kind, made.message, made.param)
  const validator = made
  // The steady path, one raw call: true when the core accepts the text as given (counted).
  let accept
  try {
    accept = native.jsonValidatorFastCall(validator)
  } catch (e) {
    throw internalError(e)
  }
  run.record = (verdict) => validator.record(verdict)
  const spanName = `validate ${name || where}`
  return run
  // Inside a traced call a validation is a child span (role `validation`); a refusal ends it with
  // error.type ValidationError. Outside one, no span: one AsyncLocalStorage read.
  function run(text) {
    if (telemetry.internal.currentSpanNative() === null) return check(text)
    const span = telemetry.startSpan({ name: spanName, role: 'validation', attributes: { 'ferrule.validation.name': name || where } })
    try {
      return check(text)
    } catch (e) {
      span.recordError(e)
      throw e
    } finally {
      span.end()
    }
  }
  function check(text) {
    let out
    try {
      // Valid as given: the core checked it in place (JSON, limits, schema); V8 builds the objects.
      if (accept(text)) return JSON.parse(text)
      out = validator.validate(text)
    } catch (e) {
      throw internalError(e)
    }
    // Valid after all (a repeated key, which only the full path decides).
    if (out === null || out === undefined) return JSON.parse(text)
    const outcome = JSON.parse(out)
    if (outcome.status === 'repaired') {
      reportRepairs(outcome)
      return outcome.value
    }
    const err = refusal(outcome, text)
    reportRefusal(err)
    throw err
  }
}

function textOf(out, where) {
  if (typeof out === 'string') return out
  if (out !== null && typeof out === 'object') {
    if (Array.isArray(out.choices) && out.choices.length > 0) {
      const content = out.choices[0].message && out.choices[0].message.content
      return typeof content === 'string' ? content : ''
    }
    if (typeof out.output_text === 'string') return out.output_text
  }
  throw new TypeError(`${where}: expected model text (a string), an OpenAI chat completion or a Responses result; got ${describe(out)}`)
}

/**
 * Parses model output as JSON: strictly, then (repair: true, the default) repaired. With `schema`
 * (JSON Schema or zod 4) every violation is reported. Throws ValidationError.
 */
function parseJson(text, options) {
  if (typeof text !== 'string') throw new TypeError(`parseJson: text must be a string; got ${describe(text)}`)
  if (options === undefined) {
    if (noSchema === undefined) noSchema = compile('parseJson', null, {})
    return noSchema(text)
  }
  checkOptions('parseJson', options, OPTIONS)
  const { schema } = options
  const plain =
    options.repair === undefined &&
    options.maxInputBytes === undefined &&
    options.maxDepth === undefined &&
    (options.repairMode === undefined || options.repairMode === 'safe')
  if (plain && schema !== null && typeof schema === 'object') {
    let run = compiledBySchema.get(schema)
    if (run === undefined) {
      run = compile('parseJson', schema, options)
      compiledBySchema.set(schema, run)
    }
    return run(text)
  }
  if (plain && (schema === undefined || schema === null)) {
    if (noSchema === undefined) noSchema = compile('parseJson', null, {})
    return noSchema(text)
  }
  return compile('parseJson', schema, options)(text)
}

// Repairers by limits and mode; the default one (safe, default limits) is made on first use.
let defaultRepairer

function repairerFor(o) {
  const plain = o.maxInputBytes === undefined && o.maxDepth === undefined && (o.mode === undefined || o.mode === 'safe')
  if (plain && defaultRepairer !== undefined) return defaultRepairer
  if (o.mode !== undefined && typeof o.mode !== 'string') {
    throw configError('TypeError', `repairJson: mode=${describe(o.mode)} must be a string; allowed: "safe" or "lenient"`, 'mode')
  }
  let made
  try {
    made = native.createJsonRepairer({ maxInputBytes: o.maxInputBytes, maxDepth: o.maxDepth, mode: o.mode })
  } catch (e) {
    throw internalError(e)
  }
  if (!(made instanceof native.NativeJsonRepairer)) throw configError(made.kind, made.message, made.param)
  if (plain) defaultRepairer = made
  return made
}

/**
 * A repaired text. Its repairs cross from the core as one JSON array and are parsed only when
 * read (most callers want the text); `toJSON` gives the plain `{ text, repairs, omittedRepairs }`.
 */
class RepairedJson {
  #json
  #repairs
  constructor(text, omittedRepairs, json) {
    this.text = text
    this.omittedRepairs = omittedRepairs
    this.#json = json
  }

  get repairs() {
    if (this.#repairs === undefined) this.#repairs = JSON.parse(this.#json)
    return this.#repairs
  }

  toJSON() {
    return { text: this.text, repairs: this.repairs, omittedRepairs: this.omittedRepairs }
  }
}

/**
 * Repairs model output into strict JSON text: `{ text, repairs, omittedRepairs }`. `mode: 'safe'`
 * (the default) refuses where the text admits two readings; `mode: 'lenient'` guesses there as
 * json_repair / jsonrepair do, reporting each guess (docs/repair.md).
 */
function repairJson(text, options) {
  if (typeof text !== 'string') throw new TypeError(`repairJson: text must be a string; got ${describe(text)}`)
  const repairer =
    options === undefined && defaultRepairer !== undefined
      ? defaultRepairer
      : repairerFor(options === undefined || options === null ? {} : checkOptions('repairJson', options, ['maxInputBytes', 'maxDepth', 'mode']))
  let out
  try {
    out = repairer.repair(text)
  } catch (e) {
    throw internalError(e)
  }
  if (out === null || out === undefined) return { text, repairs: [], omittedRepairs: 0 }
  if (out.charCodeAt(0) === 0x72 /* r */) {
    const a = out.indexOf('\n')
    const b = out.indexOf('\n', a + 1)
    return new RepairedJson(out.slice(b + 1), Number(out.slice(1, a)), out.slice(a + 1, b))
  }
  throw refusal(JSON.parse(out.slice(1)), text)
}

/** What the model is told on a re-ask: every violation, and its previous answer. */
function feedbackFor(err, maxRawChars = 2000) {
  const lines = [`Your previous answer could not be used: ${err.message}.`]
  lines.push('Fix every problem below and answer again with only the JSON value, without prose or code fences.')
  for (const e of err.errors) lines.push(`- at ${e.path || '(the whole document)'}: ${e.message}`)
  if (typeof err.raw === 'string') {
    lines.push('Your previous answer was:')
    lines.push(err.raw.length <= maxRawChars ? err.raw : `${err.raw.slice(0, maxRawChars)} [...]`)
  }
  return lines.join('\n')
}

/**
 * Wraps `fn` (returning model text, or a promise of it, or an OpenAI result) so it returns the
 * validated value. On a refusal `fn` is called again, up to `reask` times, with the same arguments
 * plus one more: `{ feedback, attempt }`, feedback describing every violation.
 */
function validated(fn, options) {
  if (typeof fn !== 'function') throw new TypeError(`validated: fn must be a function; got ${describe(fn)}`)
  const o = checkOptions('validated', options, VALIDATED_OPTIONS)
  const reask = o.reask === undefined ? 0 : o.reask
  if (typeof reask !== 'number' || !Number.isInteger(reask) || reask < 0 || reask > MAX_REASK) {
    throw configError('RangeError', `validated: reask=${describe(reask)} is out of range; allowed: an integer in [0, ${MAX_REASK}]`, 'reask')
  }
  const name = fn.name || 'anonymous'
  const run = compile('validated', o.schema, o, name)

  function reasking(err, attempt) {
    run.record('reasked')
    warn('validate.reask', `ferrule: re-asking ${name} (${attempt + 1} of ${reask}) after ${err.errors.length} error(s)`, 'FERRULE_REASK', {
      function: name,
      attempt: attempt + 1,
    })
    return { feedback: feedbackFor(err), attempt: attempt + 1 }
  }

  return function validatedCall(...args) {
    const first = fn.apply(this, args)
    if (first !== null && typeof first === 'object' && typeof first.then === 'function') {
      return settleAsyncFrom(first, args, this, 0)
    }
    let out = first
    for (let attempt = 0; ; attempt++) {
      try {
        return run(textOf(out, 'validated'))
      } catch (err) {
        if (!(err instanceof ValidationError) || attempt >= reask) throw err
        out = fn.apply(this, [...args, reasking(err, attempt)])
        if (out !== null && typeof out === 'object' && typeof out.then === 'function') {
          // The function turned asynchronous on the re-ask: finish the loop asynchronously.
          return settleAsyncFrom(out, args, this, attempt + 1)
        }
      }
    }
  }

  async function settleAsyncFrom(pending, args, self, attemptsUsed) {
    let out = await pending
    for (let attempt = attemptsUsed; ; attempt++) {
      try {
        return run(textOf(out, 'validated'))
      } catch (err) {
        if (!(err instanceof ValidationError) || attempt >= reask) throw err
        out = await fn.apply(self, [...args, reasking(err, attempt)])
      }
    }
  }
}

/** Process-wide counts: `{ valid, repaired, invalid, reasked, repairs: { kind: n } }`. */
function validationStats() {
  return JSON.parse(native.validationStatsJson())
}

module.exports = { parseJson, repairJson, validated, validationStats, feedbackFor }
