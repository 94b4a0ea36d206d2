'use strict'
// Side-by-side, one process: validating model output against a schema (ferrule parseJson vs
// JSON.parse + ajv, and vs zod's own parse) and repairing broken output (ferrule repairJson vs
// jsonrepair). Rounds are interleaved so drift in machine speed hits every contender alike; the
// median round counts. CPU ns per call.

const { parseJson, repairJson } = require('ferrule')
const Ajv = require('ajv/dist/2020')
const { jsonrepair } = require('jsonrepair')
const { z } = require('zod')

const ROUNDS = Number(process.env.BENCH_ROUNDS || 9)
const ROUND_MS = Number(process.env.BENCH_ROUND_MS || 60)

// Repairs are reported as process warnings by design; the bench measures the work, not stderr.
process.removeAllListeners('warning')
process.on('warning', () => {})

const Source = z.object({ title: z.string(), url: z.string(), score: z.number().min(0).max(1) })
const Answer = z.object({
  answer: z.string(),
  confidence: z.number().min(0).max(1),
  language: z.string(),
  tags: z.array(z.string()),
  sources: z.array(Source),
  follow_up: z.string().nullable(),
})
const SCHEMA = z.toJSONSchema(Answer)

const DOC = {
  answer: 'The capital of France is Paris, which has been the capital since 508 AD.',
  confidence: 0.93,
  language: 'en',
  tags: ['geography', 'europe', 'capitals'],
  sources: [0, 1, 2, 3, 4].map((i) => ({ title: `Source ${i}`, url: `https://example.org/wiki/page-${i}`, score: 0.5 + i / 20 })),
  follow_up: null,
}
const VALID = JSON.stringify(DOC)
const pretty = JSON.stringify(DOC, null, 2)
const BROKEN = {
  'fenced + trailing commas': 'Here is the JSON:\n```json\n' + pretty.replace('\n  ]', ',\n  ]') + '\n```\n',
  'python dict repr': pretty.replace(/"/g, "'").replace('null', 'None'),
  'truncated mid-string': VALID.slice(0, Math.floor(VALID.length * 0.8)).replace(/"[^"]*$/, '"Sourc'),
  'js literal + comments': "{\n  // model notes\n  answer: 'Paris',\n  confidence: 0.9, /* guess */\n  tags: ['a', 'b',],\n}",
}

function cpuNsPerCall(call, iterations) {
  const c0 = process.cpuUsage()
  for (let i = 0; i < iterations; i++) call()
  const c = process.cpuUsage(c0)
  return ((c.user + c.system) * 1000) / iterations
}

function calibrate(call) {
  let n = 100
  for (;;) {
    const ns = cpuNsPerCall(call, n)
    if (ns * n > 10e6) return Math.max(100, Math.round((ROUND_MS * 1e6) / ns))
    n *= 4
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function table(title, rows, against, target) {
  const base = rows.find((r) => r.name === against).ns
  console.log(`\n## ${title}`)
  console.log(`${'contender'.padEnd(44)} ${'ns/call'.padStart(10)} ${('x ' + against).padStart(24)}`)
  for (const r of rows) console.log(`${r.name.padEnd(44)} ${r.ns.toFixed(1).padStart(10)} ${(r.ns / base).toFixed(2).padStart(24)}`)
  if (target) {
    const got = rows.find((r) => r.name === target.name).ns
    console.log(`target: ${target.name} <= ${target.limit.toFixed(0)} ns/call -> ${got.toFixed(1)} ns/call ${got <= target.limit ? 'MET' : 'MISSED'}`)
  }
}

function measure(list) {
  const iters = list.map((c) => calibrate(c.call))
  const samples = list.map(() => [])
  for (let r = 0; r < ROUNDS; r++) {
    list.forEach((c, i) => samples[i].push(cpuNsPerCall(c.call, iters[i])))
  }
  return list.map((c, i) => ({ name: c.name, ns: median(samples[i]) }))
}

function main() {
  const ajv = new Ajv({ allErrors: true })
  const check = ajv.compile(SCHEMA)
  const ajvRow = () => {
    const v = JSON.parse(VALID)
    if (!check(v)) throw new Error('ajv refused')
    return v
  }
  // Everyone agrees on the input before anything is timed.
  const expected = JSON.parse(VALID)
  for (const f of [() => parseJson(VALID, { schema: SCHEMA }), () => parseJson(VALID, { schema: Answer }), ajvRow, () => Answer.parse(JSON.parse(VALID))]) {
    if (JSON.stringify(f()) !== JSON.stringify(expected)) throw new Error('contenders disagree')
  }
  const rows = measure([
    { name: 'JSON.parse (no validation; the floor)', call: () => JSON.parse(VALID) },
    { name: 'ferrule parseJson({ schema })', call: () => parseJson(VALID, { schema: SCHEMA }) },
    { name: 'ferrule parseJson({ schema: zod })', call: () => parseJson(VALID, { schema: Answer }) },
    { name: 'JSON.parse + ajv 8 (compiled)', call: ajvRow },
    { name: 'JSON.parse + zod 4 .parse', call: () => Answer.parse(JSON.parse(VALID)) },
  ])
  table(`validate a valid ${VALID.length}-byte answer against its schema`, rows, 'ferrule parseJson({ schema })')

  let totalF = 0
  let totalJ = 0
  for (const [name, text] of Object.entries(BROKEN)) {
    const fixed = repairJson(text)
    JSON.parse(jsonrepair(text))
    const [f, j] = measure([
      { name: 'ferrule repairJson', call: () => repairJson(text) },
      { name: 'jsonrepair 3.15', call: () => jsonrepair(text) },
    ])
    totalF += f.ns
    totalJ += j.ns
    table(`repair: ${name} (${text.length} chars, ${fixed.repairs.length} repairs)`, [f, j], 'ferrule repairJson')
  }
  table(
    'repair: all four inputs',
    [
      { name: 'ferrule repairJson', ns: totalF },
      { name: 'jsonrepair 3.15', ns: totalJ },
    ],
    'ferrule repairJson',
    { name: 'ferrule repairJson', limit: totalJ },
  )
}

main()
