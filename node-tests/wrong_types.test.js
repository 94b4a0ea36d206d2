'use strict'
// Every exported class and function refuses an argument or option of the wrong type with a
// configuration error (TypeError or RangeError, code FERRULE_INVALID_CONFIG) whose `param` is the
// option's camelCase name and whose message names the option, shows the value and says what is
// allowed; never an internal (napi) error, and never by accepting it.
//
// The cases are generated, not listed: every exported class constructor (and static constructor)
// and function in index.d.ts, every parameter or option property of it typed number, string,
// boolean, a string-literal union or an array, and for each the wrong values its type refuses: a
// string and a number for each other, an object for an array, NaN and Infinity for a number, 2.5
// where the declaration's doc comment says integer. `VALID` gives one valid call of each export; the
// sweep changes one argument or option of it at a time.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const ts = require('typescript')
const ferrule = require('ferrule')

const file = path.join(__dirname, '..', 'bindings-node', 'index.d.ts')
const program = ts.createProgram([file], { strict: true, noEmit: true })
const checker = program.getTypeChecker()
const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(file))

// A path option accepted by mistake must not leave files in the checkout.
process.chdir(fs.mkdtempSync(path.join(os.tmpdir(), 'ferrule-wrong-types-')))

// Arguments that are data, not configuration (refused with a plain TypeError of their own).
const DATA = new Set(['parseJson.text', 'repairJson.text'])

let serial = 0
const name = () => `wrong_types_${process.pid}_${serial++}`
const URL = 'http://127.0.0.1:9/hook'

// One valid call per export: the arguments, options last. Only what the export needs to be made.
const VALID = {
  AlertRouter: () => [{}],
  Alertmanager: () => [URL, {}],
  AnomalyDetector: () => [name(), 'metric', {}],
  Chaos: () => [{}],
  CircuitBreaker: () => [name(), {}],
  Counter: () => [name(), { help: 'h' }],
  DeadLetterQueue: () => [{}],
  DeadMansSwitch: () => [name(), 1000, {}],
  DriftDetector: () => [name(), {}],
  ErrorPredictor: () => [name(), {}],
  Gauge: () => [name(), { help: 'h' }],
  Histogram: () => [name(), { help: 'h' }],
  JsonWebhook: () => [URL, { text: 'x' }, {}],
  PagerDuty: () => ['routing-key', {}],
  PartialJson: () => [{}],
  Policy: () => [{}],
  'RateLimiter.slidingLog': () => [{ limit: 5, windowMs: 1000 }],
  'RateLimiter.slidingWindow': () => [{ limit: 5, windowMs: 1000 }],
  'RateLimiter.tokenBucket': () => [{ rate: 5 }],
  Router: () => [{ endpoints: [{ name: 'a', call: () => 'x' }] }],
  SLO: () => [name(), { kind: 'latency', thresholdMs: 500 }],
  Slack: () => [URL, {}],
  StreamPolicy: () => [{}],
  SyntheticProbe: () => [name(), () => 'ok', 60000, 1000, {}],
  Webhook: () => [URL, {}],
  flush: () => [100],
  metricsText: () => [{}],
  parseJson: () => ['[]', {}],
  profile: () => [{}],
  recordLlmCall: () => [{ model: 'm', durationMs: 1 }],
  repairJson: () => ['[]', {}],
  resilient: () => [() => 1, {}],
  setPrice: () => [name(), 1, 2],
  validated: () => [() => '[]', {}],
}

// Exports that take no configuration of their own to sweep, by why.
const NOT_SWEPT = {
  // Error classes: constructed by ferrule, their fields are data, not configuration.
  errors: ['CircuitOpenError', 'FerruleError', 'RateLimitedError', 'RetryError', 'StorageError', 'StreamInterrupted',
    'StreamTimeoutError', 'TimeoutError', 'ValidationError'],
  // Records and values handed back by ferrule, process-wide switches, and objects configured
  // through a method (`inferenceLog.open`) or around a client, stream or function they wrap.
  other: ['DeadLetter', 'InferenceLog', 'Limits', 'ManualClock', 'RateLimiter', 'RedisBackend', 'Reservation', 'MockLLMServer',
    'serveMetrics', 'pushMetrics', 'configure', 'observe', 'useOpenTelemetry', 'emit', 'startSpan', 'withSpan',
    'runInContext', 'runInPrompt', 'wrapOpenAI', 'wrapAnthropic', 'rateLimit', 'partialValues', 'streamValidated',
    'normalizeChat', 'redact', 'transient', 'onAlert'],
}

function kindOf(type) {
  const t = checker.getNonNullableType(type)
  if (t.flags & ts.TypeFlags.Any || t.flags & ts.TypeFlags.Unknown) return null
  if (t.isUnion()) {
    const parts = t.types.filter((x) => !(x.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null)))
    if (parts.every((x) => x.flags & ts.TypeFlags.StringLiteral)) return 'string'
    if (parts.every((x) => x.flags & ts.TypeFlags.BooleanLiteral)) return 'boolean'
    return null // a union of kinds (a number or a function, ...): the callee tells them apart
  }
  if (t.flags & ts.TypeFlags.NumberLike) return 'number'
  if (t.flags & ts.TypeFlags.StringLike) return 'string'
  if (t.flags & ts.TypeFlags.BooleanLike) return 'boolean'
  if (checker.isArrayType(t)) return 'array'
  return null
}

function isObjectOptions(type) {
  const t = checker.getNonNullableType(type)
  return !t.isUnion() && t.flags & ts.TypeFlags.Object && !checker.isArrayType(t) && t.getCallSignatures().length === 0
}

function wrongValues(kind, doc) {
  switch (kind) {
    case 'number': {
      const out = ['5', NaN, Infinity]
      if (/\binteger\b/i.test(doc)) out.push(2.5)
      return out
    }
    case 'string':
      return [7]
    case 'boolean':
      return ['yes']
    case 'array':
      return [{ k: 1 }]
  }
  return []
}

function callableOf(label) {
  const [cls, member] = label.split('.')
  const target = ferrule[cls]
  if (member) return (args) => target[member](...args)
  const isClass = /^[A-Z]/.test(cls)
  return isClass ? (args) => new target(...args) : (args) => target(...args)
}

/** The exports as (label, parameters) from index.d.ts. */
function exportsOfDeclarations() {
  const out = []
  for (const sym of checker.getExportsOfModule(moduleSymbol)) {
    const decl = sym.declarations && sym.declarations[0]
    if (!decl) continue
    if (ts.isClassDeclaration(decl)) {
      const ctor = decl.members.find(ts.isConstructorDeclaration)
      out.push([sym.name, ctor ? ctor.parameters : []])
      for (const m of decl.members) {
        const isStatic = ts.isMethodDeclaration(m) && (m.modifiers || []).some((x) => x.kind === ts.SyntaxKind.StaticKeyword)
        if (isStatic) out.push([`${sym.name}.${m.name.getText()}`, m.parameters])
      }
    } else if (ts.isFunctionDeclaration(decl)) {
      if (!out.some(([l]) => l === sym.name)) out.push([sym.name, decl.parameters])
    }
  }
  return out
}

function cases() {
  const out = []
  for (const [label, params] of exportsOfDeclarations()) {
    if (!VALID[label]) continue
    params.forEach((p, index) => {
      const type = checker.getTypeAtLocation(p)
      const argName = p.name.getText()
      const kind = kindOf(type)
      if (kind) {
        if (DATA.has(`${label}.${argName}`)) return
        for (const wrong of wrongValues(kind, '')) out.push({ label, index, option: argName, wrong, inOptions: false })
        return
      }
      if (!isObjectOptions(type)) return
      for (const prop of checker.getNonNullableType(type).getProperties()) {
        const decl = prop.valueDeclaration
        if (!decl) continue
        const ptype = checker.getTypeOfSymbolAtLocation(prop, decl)
        const pkind = kindOf(ptype)
        if (!pkind) continue
        const doc = ts.displayPartsToString(prop.getDocumentationComment(checker))
        for (const wrong of wrongValues(pkind, doc)) out.push({ label, index, option: prop.name, wrong, inOptions: true })
      }
    })
  }
  return out
}

function shown(v) {
  if (typeof v === 'string') return [JSON.stringify(v), v]
  if (typeof v === 'object') return ['[object Object]', '{', 'object']
  return [String(v)]
}

// What a made object holds open (timers, servers), released so an accepted value cannot hang the test.
function release(made) {
  for (const m of ['stop', 'close', 'dispose']) {
    if (made && typeof made[m] === 'function') {
      try {
        const r = made[m]()
        if (r && typeof r.catch === 'function') r.catch(() => {})
      } catch {}
    }
  }
}

const CASES = cases()

test('every exported class and function is swept or listed with why not', () => {
  const labels = exportsOfDeclarations().map(([l]) => l.split('.')[0])
  const listed = new Set([...Object.keys(VALID).map((l) => l.split('.')[0]), ...NOT_SWEPT.errors, ...NOT_SWEPT.other])
  const missing = [...new Set(labels)].filter((l) => !listed.has(l) && !['currentContext', 'traceparent', 'recentSpans',
    'clearRecentSpans', 'telemetryStats', 'resetProfile', 'validationStats', 'inProbe', 'observing', 'checkObserved'].includes(l))
  assert.deepEqual(missing, [], 'exports neither swept nor listed')
  // A generator that found nothing would make the sweep vacuous.
  assert.ok(CASES.length >= 300, CASES.length)
  for (const must of ['CircuitBreaker', 'Policy', 'RateLimiter.tokenBucket', 'Router', 'SLO', 'Histogram', 'parseJson']) {
    assert.ok(CASES.some((c) => c.label === must), must)
  }
})

test('a wrong-typed argument or option is refused naming it, its value and what is allowed', () => {
  const failures = []
  for (const c of CASES) {
    const args = VALID[c.label]()
    args[c.index] = c.inOptions ? { ...(args[c.index] || {}), [c.option]: c.wrong } : c.wrong
    const what = `${c.label}(${c.option}=${typeof c.wrong === 'string' ? JSON.stringify(c.wrong) : String(c.wrong)})`
    let made
    try {
      made = callableOf(c.label)(args)
    } catch (e) {
      const problems = []
      if (!(e instanceof TypeError || e instanceof RangeError)) problems.push(`threw ${e && e.constructor && e.constructor.name}`)
      if (!e || e.code !== 'FERRULE_INVALID_CONFIG') problems.push(`code ${e && e.code}`)
      if (!e || e.param !== c.option) problems.push(`param ${e && e.param}`)
      const msg = String(e && e.message)
      if (!msg.includes(c.option)) problems.push('the option is not named')
      if (!shown(c.wrong).some((s) => msg.includes(s))) problems.push('the value is not shown')
      if (!/allowed|must be/.test(msg)) problems.push('what is allowed is not said')
      if (problems.length) failures.push(`${what}: ${problems.join(', ')}: ${msg.slice(0, 160)}`)
      continue
    }
    // Accepted: a promise may still reject; anything made is released.
    if (made && typeof made.then === 'function') made.then(release, () => {})
    else release(made)
    failures.push(`${what}: accepted`)
  }
  assert.deepEqual(failures, [], `${failures.length} of ${CASES.length} cases:\n${failures.join('\n')}`)
})
