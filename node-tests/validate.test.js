'use strict'
// Response validation from Node: the shared repair corpus, parse errors with locations, JSON Schema
// and zod 4 schemas reporting every violation, the validated() re-ask loop (also through the real
// `openai` package against the mock server), bad options, and the counters.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const OpenAI = require('openai')
const { z } = require('zod')
const { parseJson, repairJson, validated, validationStats, ValidationError, FerruleError, MockLLMServer } = require('ferrule')

// Repairs and refusals are reported as process warnings by design; counted here, not printed.
const warnings = []
process.removeAllListeners('warning')
process.on('warning', (w) => warnings.push(w))

const CORPUS = path.join(__dirname, '..', 'core', 'tests', 'corpus', 'repair')
const cases = fs
  .readdirSync(CORPUS)
  .filter((f) => f.endsWith('.jsonl'))
  .sort()
  .flatMap((f) => fs.readFileSync(path.join(CORPUS, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)))

test('the corpus: every case repairs to its value with its repairs, or fails as expected', () => {
  assert.ok(cases.length >= 200, `${cases.length} cases`)
  const wrong = []
  for (const c of cases) {
    const opts = c.limits ? { maxInputBytes: c.limits.max_input_bytes, maxDepth: c.limits.max_depth } : undefined
    try {
      const r = repairJson(c.input, opts)
      if (!('expect' in c)) {
        wrong.push(`${c.name}: expected a failure, got ${r.text.slice(0, 100)}`)
        continue
      }
      assert.deepEqual(JSON.parse(r.text), c.expect, c.name)
      assert.deepEqual([...new Set(r.repairs.map((x) => x.kind))].sort(), c.repairs, c.name)
      assert.deepEqual(parseJson(c.input, opts), c.expect, c.name)
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e
      if ('expect' in c) wrong.push(`${c.name}: ${e.message}`)
      else if (e.kind !== c.fail || !e.errors[0].message.includes(c.contains)) wrong.push(`${c.name}: ${e.kind} ${e.errors[0].message}`)
      else assert.equal(e.raw, c.input)
    }
  }
  assert.deepEqual(wrong, [])
})

test('parse errors carry line, column and JSON pointer; ValidationError is a FerruleError', () => {
  assert.throws(
    () => parseJson('{\n  "a": [1, 2,\n   x]\n}', { repair: false }),
    (e) => {
      assert.ok(e instanceof ValidationError && e instanceof FerruleError && e instanceof Error)
      assert.equal(e.code, 'FERRULE_VALIDATION')
      assert.equal(e.name, 'ValidationError')
      assert.deepEqual([e.kind, e.line, e.column, e.errors[0].path], ['parse', 3, 4, '/a/2'])
      return true
    },
  )
  assert.throws(() => parseJson('{"a": 1, "b": '), (e) => e.kind === 'parse' && /value is missing/.test(e.errors[0].message))
})

test('valid JSON comes back as JSON.parse gives it; repair reports each change', () => {
  const text = '{"z": 1, "a": [1, -2.5e3, true, null, "é\\n😀"]}'
  assert.deepEqual(parseJson(text), JSON.parse(text))
  assert.deepEqual(Object.keys(parseJson(text)), ['z', 'a'])
  assert.deepEqual(repairJson(text), { text, repairs: [], omittedRepairs: 0 })
  const r = repairJson("```json\n{a: 'x', // note\n}\n```")
  assert.deepEqual(JSON.parse(r.text), { a: 'x' })
  assert.deepEqual(
    r.repairs.map((x) => x.kind),
    ['extracted_json', 'unquoted_key', 'single_quotes', 'trailing_comma', 'comment', 'extracted_json'],
  )
  assert.deepEqual([r.repairs[1].line, r.repairs[1].column], [2, 2])
})

test('repairJson has two modes: safe refuses where two readings are plausible, lenient guesses and reports', () => {
  // Safe (the default): the closing quote may be missing, or the string may really end in `}`.
  assert.throws(() => repairJson('{"a":"b}'), (e) => e instanceof ValidationError && /holds brackets/.test(e.errors[0].message))
  assert.throws(() => repairJson('{message: hello world}', { mode: 'safe' }), /unquoted value 'hello'/)
  const r = repairJson('{message: hello world, "n": 1,}', { mode: 'lenient' })
  assert.deepEqual(JSON.parse(r.text), { message: 'hello world', n: 1 })
  assert.deepEqual(
    r.repairs.map((x) => [x.kind, x.line, x.column]),
    [
      ['unquoted_key', 1, 2],
      ['unquoted_value', 1, 11],
      ['trailing_comma', 1, 30],
    ],
  )
  assert.deepEqual(JSON.parse(repairJson('{"a":"b}', { mode: 'lenient' }).text), { a: 'b' })
  assert.deepEqual(JSON.parse(repairJson('[1, 2, 3', { mode: 'lenient' }).text), [1, 2, 3])
  assert.deepEqual(
    repairJson('```json\n{"a": 1}\n```\nor\n```json\n{"b": 2}\n```', { mode: 'lenient' }).repairs.map((x) => x.kind),
    ['extracted_json', 'extracted_json', 'multiple_values', 'extracted_json'],
  )
  // The same corpus case gives the same text in both languages' bindings: one core.
  assert.equal(repairJson("{'a': True,}", { mode: 'lenient' }).text, repairJson("{'a': True,}").text)
  assert.throws(
    () => repairJson('{}', { mode: 'fast' }),
    (e) => e instanceof RangeError && e.param === 'mode' && /mode="fast".*"safe" or "lenient"/.test(e.message),
  )
  assert.throws(() => repairJson('{}', { mode: 1 }), (e) => e instanceof TypeError && e.param === 'mode')
})

test('parseJson and validated take repairMode: lenient guesses where safe refuses, and reports each guess', async () => {
  const text = '{message: hello world}'
  assert.throws(() => parseJson(text), (e) => e instanceof ValidationError && /unquoted value 'hello'/.test(e.errors[0].message))
  assert.throws(() => parseJson(text, { repairMode: 'safe' }), ValidationError)
  const before = validationStats().repairs.unquoted_value || 0
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  try {
    assert.deepEqual(parseJson(text, { repairMode: 'lenient' }), { message: 'hello world' })
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.off('warning', onWarning)
  }
  assert.ok(warnings.some((w) => w.code === 'FERRULE_REPAIRED' && /unquoted_value at 1:11/.test(w.message)), warnings.map((w) => w.message))
  assert.equal(validationStats().repairs.unquoted_value - before, 1)
  // A schema object passed with the default mode is cached; lenient must not reuse that validator.
  const schema = { type: 'object', required: ['a'], properties: { a: { type: 'string' } } }
  assert.throws(() => parseJson('{"a":"b}', { schema }), ValidationError)
  assert.deepEqual(parseJson('{"a":"b}', { schema, repairMode: 'lenient' }), { a: 'b' })
  assert.throws(() => parseJson('{"a":"b}', { schema }), ValidationError)
  assert.throws(() => parseJson(text, { repair: false, repairMode: 'lenient' }), ValidationError)
  const lenient = validated(() => text, { repairMode: 'lenient' })
  assert.deepEqual(lenient(), { message: 'hello world' })
  assert.throws(() => validated(() => text)(), ValidationError)
  assert.deepEqual(await validated(async () => '[1, 2, 3', { repairMode: 'lenient' })(), [1, 2, 3])
  assert.throws(
    () => parseJson('[]', { repairMode: 'fast' }),
    (e) => e instanceof RangeError && e.param === 'repairMode' && /repairMode="fast".*"safe" or "lenient"/.test(e.message),
  )
  assert.throws(() => validated(() => '[]', { repairMode: 1 }), (e) => e instanceof TypeError && e.param === 'repairMode')
})

const SCHEMA = {
  type: 'object',
  required: ['name', 'age'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 2 },
    age: { type: 'integer', minimum: 0 },
    tags: { type: 'array', items: { enum: ['a', 'b'] } },
  },
}

test('a JSON Schema reports every violation with its path', () => {
  assert.deepEqual(parseJson('{"name": "Ada", "age": 3}', { schema: SCHEMA }), { name: 'Ada', age: 3 })
  assert.throws(
    () => parseJson('{"name": "A", "age": -1, "tags": ["a", "z"], "x": 1}', { schema: SCHEMA }),
    (e) => {
      assert.equal(e.kind, 'schema')
      assert.deepEqual(e.errors.map((x) => x.path).sort(), ['', '/age', '/name', '/tags/1'])
      return true
    },
  )
  assert.throws(() => parseJson('{}', { schema: SCHEMA }), (e) => e.errors.length === 2)
})

const Person = z.object({
  name: z.string().min(2),
  age: z.number().int().nonnegative(),
  address: z.object({ city: z.string(), zip: z.string().regex(/^\d{5}$/) }),
})

test('a zod 4 schema is accepted (via z.toJSONSchema) and every violation is reported', () => {
  const ok = parseJson('{"name": "Ada", "age": 36, "address": {"city": "L", "zip": "12345"}}', { schema: Person })
  assert.equal(ok.address.city, 'L')
  const fixed = parseJson("Sure:\n```json\n{'name': 'Ada', 'age': 36, 'address': {'city': 'L', 'zip': '12345'},}\n```", { schema: Person })
  assert.equal(fixed.name, 'Ada')
  assert.throws(
    () => parseJson('{"name": "A", "age": 1.5, "address": {"city": 3, "zip": "x"}}', { schema: Person }),
    (e) => {
      assert.deepEqual(e.errors.map((x) => x.path).sort(), ['/address/city', '/address/zip', '/age', '/name'])
      return true
    },
  )
})

test('bad options fail at construction with TypeError / RangeError naming the option', () => {
  assert.throws(() => parseJson('[]', { maxDepth: 0 }), (e) => e instanceof RangeError && e.code === 'FERRULE_INVALID_CONFIG' && e.param === 'maxDepth' && /maxDepth=0 is out of range; allowed: an integer in \[1, 1000\]/.test(e.message))
  assert.throws(() => parseJson('[]', { maxInputBytes: 1.5 }), (e) => e instanceof RangeError && /maxInputBytes=1.5/.test(e.message))
  assert.throws(() => parseJson('[]', { schema: { type: 'strin' } }), (e) => e instanceof TypeError && e.param === 'schema')
  assert.throws(() => parseJson('[]', { schema: 5 }), TypeError)
  assert.throws(() => parseJson('[]', { nope: 1 }), (e) => e instanceof TypeError && /unknown option nope/.test(e.message))
  assert.throws(() => validated(() => '[]', { reask: -1 }), (e) => e instanceof RangeError && e.param === 'reask')
  assert.throws(() => validated('not a function'), TypeError)
  assert.throws(() => parseJson(5), TypeError)
})

test('limits refuse large and deep input without a crash', () => {
  assert.throws(() => parseJson('['.repeat(129) + ']'.repeat(129)), (e) => e.kind === 'limit')
  assert.deepEqual(parseJson('['.repeat(300) + ']'.repeat(300), { maxDepth: 300 }).length, 1)
  assert.throws(() => parseJson('['.repeat(1_000_000)), (e) => e.kind === 'limit')
  assert.throws(() => parseJson(`"${'x'.repeat(100)}"`, { maxInputBytes: 50 }), (e) => e.kind === 'limit')
})

test('validated re-asks with feedback describing every violation, then returns the value', () => {
  const seen = []
  const answers = ['{"name": "A", "age": -3}', '{"name": "Ada", "age": 36, "address": {"city": "L", "zip": "12345"}}']
  const extract = validated(
    (prompt, ctx) => {
      seen.push(ctx)
      return answers[seen.length - 1]
    },
    { schema: Person, reask: 2 },
  )
  const before = validationStats().reasked
  const p = extract('who?')
  assert.equal(p.age, 36)
  assert.equal(seen[0], undefined)
  assert.equal(seen[1].attempt, 1)
  for (const where of ['/name', '/age']) assert.ok(seen[1].feedback.includes(`at ${where}:`), seen[1].feedback)
  // JSON Schema reports a missing property at its parent: here the whole document.
  assert.ok(/at \(the whole document\): "address" is a required property/.test(seen[1].feedback), seen[1].feedback)
  assert.equal(validationStats().reasked - before, 1)
})

test('validated throws the last error after the last re-ask, sync and async', async () => {
  let calls = 0
  const bad = validated(() => (calls++, '{"not": "an array"}'), { schema: { type: 'array' }, reask: 2 })
  assert.throws(() => bad(), (e) => e instanceof ValidationError && e.kind === 'schema')
  assert.equal(calls, 3)
  const answers = ['[1, 2, 3', '[1, 2, 3]'] // cut off mid-number: not guessed, re-asked
  const ask = validated(async (ctx) => answers[ctx ? 1 : 0], { schema: { type: 'array' }, reask: 1 })
  assert.deepEqual(await ask(), [1, 2, 3])
})

test('the re-ask loop through the real openai package against the mock server', async () => {
  const s = new MockLLMServer()
  try {
    const client = new OpenAI({ baseURL: s.url, apiKey: 'k', maxRetries: 0 })
    const Answer = z.object({ answer: z.string(), confidence: z.number().min(0).max(1) })
    const ask = validated(
      async (question, ctx) => {
        const messages = [{ role: 'user', content: question }]
        if (ctx) messages.push({ role: 'user', content: ctx.feedback })
        const content = ctx ? '{"answer": "Paris", "confidence": 0.9}' : '{"answer": 42, "confidence": 3}'
        return client.chat.completions.create({ model: 'mock-gpt-4o-mini', messages }, { headers: { 'x-mock-content': content } })
      },
      { schema: Answer, reask: 2 },
    )
    assert.deepEqual(await ask('Capital of France?'), { answer: 'Paris', confidence: 0.9 })
    const reqs = s.requests
    assert.equal(reqs.length, 2)
    const feedback = reqs[1].json.messages[1].content
    assert.ok(feedback.includes('at /answer:') && feedback.includes('at /confidence:'), feedback)
  } finally {
    s.stop()
  }
})

test('the mock server malformed_json fault is repaired without a re-ask, and counted', async () => {
  const s = new MockLLMServer({ script: ['malformed_json'] })
  try {
    const client = new OpenAI({ baseURL: s.url, apiKey: 'k', maxRetries: 0 })
    const ask = validated(
      () => client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], response_format: { type: 'json_object' } }),
      { schema: z.object({ answer: z.string(), confidence: z.number() }), reask: 1 },
    )
    const before = validationStats()
    const a = await ask()
    assert.equal(a.confidence, 0.87)
    assert.equal(s.requests.length, 1)
    const after = validationStats()
    assert.equal(after.repaired - before.repaired, 1)
    assert.equal(after.repairs.trailing_comma - before.repairs.trailing_comma, 1)
    assert.equal(after.reasked, before.reasked)
    assert.ok(warnings.some((w) => w.code === 'FERRULE_REPAIRED'))
  } finally {
    s.stop()
  }
})

test('counts are exact: valid, repaired and invalid', () => {
  const before = validationStats()
  for (let i = 0; i < 1000; i++) parseJson('{"a": 1}')
  for (let i = 0; i < 500; i++) parseJson("{'a': 1}")
  for (let i = 0; i < 250; i++) assert.throws(() => parseJson('{"a": '))
  const after = validationStats()
  assert.equal(after.valid - before.valid, 1000)
  assert.equal(after.repaired - before.repaired, 500)
  assert.equal(after.invalid - before.invalid, 250)
  assert.equal(after.repairs.single_quotes - before.repairs.single_quotes, 500)
})

test('the steady path (checked in place, built by JSON.parse) agrees with the full path', () => {
  const schema = {
    type: 'object',
    required: ['a'],
    minProperties: 1,
    properties: { a: { type: 'integer', maximum: 5 }, b: { enum: ['x', 'y'] }, c: { type: 'array', items: { type: 'number' } } },
    additionalProperties: false,
  }
  const before = validationStats()
  const cases = [
    ['{"a": 1}', true],
    ['{"a": 1, "b": "y", "c": [1, 2.5, -0, 1e5]}', true],
    ['{"a": 1, "b": "z"}', false],
    ['{"a": 6}', false],
    ['{"a": 1.5}', false],
    ['{"a": 1, "c": [1, "2"]}', false],
    ['{"a": 1, "d": 0}', false],
    ['{}', false],
    ['[1]', false],
  ]
  for (const [text, ok] of cases) {
    if (ok) assert.deepEqual(parseJson(text, { schema }), JSON.parse(text), text)
    else assert.throws(() => parseJson(text, { schema }), ValidationError, text)
  }
  // A repeated key is left to the full path, which keeps the last value, as JSON.parse does.
  assert.deepEqual(parseJson('{"a": 9, "a": 1}', { schema }), { a: 1 })
  assert.throws(() => parseJson('{"a": 1, "a": 9}', { schema }), ValidationError)
  const after = validationStats()
  assert.equal(after.valid - before.valid, 3)
  assert.equal(after.invalid - before.invalid, 8)
})

test('outcomes are exported per validator name in ferrule_validations_total', () => {
  const { metricsText } = require('ferrule')
  const series = (name, outcome) => {
    const want = `ferrule_validations_total{name="${name}",outcome="${outcome}"} `
    const line = metricsText()
      .split('\n')
      .find((l) => l.startsWith(want))
    return line === undefined ? 0 : Number(line.slice(want.length))
  }
  const outcomes = ['valid', 'repaired', 'invalid']
  const before = outcomes.map((o) => series('parse_json', o))
  parseJson('{"a": 1}')
  parseJson("{'a': 1,}")
  assert.throws(() => parseJson('[1', { repair: false }), ValidationError)
  assert.deepEqual(
    outcomes.map((o, i) => series('parse_json', o) - before[i]),
    [1, 1, 1],
  )

  const City = z.object({ city: z.string() })
  const answers = ["{'city': 'Paris'", '{"town": "x"}', '{"city": "Lyon"}']
  function extractCity() {
    return answers.shift()
  }
  const extract = validated(extractCity, { schema: City, reask: 2 })
  assert.equal(extract().city, 'Paris') // repaired, no re-ask
  assert.equal(extract().city, 'Lyon') // refused once, re-asked once
  assert.deepEqual(
    ['valid', 'repaired', 'invalid', 'reasked'].map((o) => series('extractCity', o)),
    [1, 1, 1, 1],
  )
  const text = metricsText()
  assert.ok(text.includes('ferrule_validation_repairs_total{name="extractCity",kind="truncated"} 1'), text)
})
