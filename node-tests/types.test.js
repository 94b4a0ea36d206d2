'use strict'
// index.d.ts against the runtime: the classes, their members, the stats fields and the option names
// it declares are exactly what index.js exports and accepts. (`npm test` first runs tsc on
// node-tests/types/usage.ts, which checks usage against the declarations; this checks the
// declarations against the objects.)

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const ts = require('typescript')
const ferrule = require('ferrule')

const file = path.join(__dirname, '..', 'bindings-node', 'index.d.ts')
const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true)

function declarations(kind) {
  return source.statements.filter((s) => s.kind === kind)
}

function memberNames(node) {
  return node.members
    .filter((m) => m.name !== undefined)
    .filter((m) => !(m.modifiers || []).some((mod) => mod.kind === ts.SyntaxKind.StaticKeyword))
    .map((m) => m.name.getText(source))
}

const classes = new Map(declarations(ts.SyntaxKind.ClassDeclaration).map((c) => [c.name.text, c]))
const interfaces = new Map(declarations(ts.SyntaxKind.InterfaceDeclaration).map((i) => [i.name.text, i]))

// A Set: overloads declare one function several times.
const functions = [...new Set(declarations(ts.SyntaxKind.FunctionDeclaration).map((f) => f.name.text))]
// `export declare const x: T` (the inference log singleton).
const constants = declarations(ts.SyntaxKind.VariableStatement).flatMap((v) => v.declarationList.declarations.map((d) => d.name.getText(source)))

test('the declared classes and functions are exactly the runtime exports', () => {
  assert.deepEqual([...classes.keys(), ...functions, ...constants].sort(), Object.keys(ferrule).sort())
  // `version` is the package's version string; every other constant is an object.
  for (const name of constants) assert.equal(typeof ferrule[name], name === 'version' ? 'string' : 'object', name)
  for (const name of functions) assert.equal(typeof ferrule[name], 'function', name)
  for (const name of classes.keys()) assert.equal(typeof ferrule[name], 'function', name)
})

test('the declared members of each class exist at runtime, and every public runtime member is declared', () => {
  for (const [name, decl] of classes) {
    const Class = ferrule[name]
    const declared = declaredMembers(decl, true)
    const onPrototype = Object.getOwnPropertyNames(Class.prototype).filter((k) => k !== 'constructor')
    for (const k of onPrototype) assert.ok(declared.has(k), `${name}.${k} exists at runtime but is not declared`)
    const instance = sample(name)
    for (const k of declaredMembers(decl, false)) assert.ok(k in instance, `${name}.${k} is declared but missing at runtime`)
  }
})

// A class's own declared members plus those it inherits from a declared base class and, with
// `lib`, from Error as lib.es2022 declares it (whose `cause` is optional, so not always present).
function declaredMembers(decl, lib) {
  const names = new Set(memberNames(decl))
  for (const clause of decl.heritageClauses || []) {
    for (const t of clause.types) {
      const base = t.expression.getText(source)
      const inherited = classes.has(base)
        ? declaredMembers(classes.get(base), lib)
        : base === 'Error' && lib
          ? ['name', 'message', 'stack', 'cause']
          : []
      for (const k of inherited) names.add(k)
    }
  }
  return names
}

function sample(name) {
  switch (name) {
    case 'CircuitBreaker':
      return new ferrule.CircuitBreaker('t')
    case 'CircuitOpenError':
      return new ferrule.CircuitOpenError('t', null)
    case 'FerruleError':
      return new ferrule.FerruleError('t')
    case 'ValidationError':
      return new ferrule.ValidationError('t', { kind: 'parse' })
    case 'StorageError':
      return new ferrule.StorageError('t')
    case 'InferenceLog':
      return new ferrule.InferenceLog()
    case 'ManualClock':
      return new ferrule.ManualClock()
    case 'Counter':
      return new ferrule.Counter('types_test_total', { help: 'x' })
    case 'Gauge':
      return new ferrule.Gauge('types_test_gauge', { help: 'x' })
    case 'Histogram':
      return new ferrule.Histogram('types_test_seconds', { help: 'x' })
    case 'Policy':
      return new ferrule.Policy()
    case 'Chaos':
      return new ferrule.Chaos()
    case 'RetryError':
      return new ferrule.RetryError('t', 1, [], 'attempts', undefined)
    case 'TimeoutError':
      return new ferrule.TimeoutError('t', 1)
    case 'RateLimiter':
      return ferrule.RateLimiter.tokenBucket({ rate: 1 })
    case 'RateLimitedError':
      return new ferrule.RateLimitedError('t', 1)
    case 'Limits':
      return new ferrule.Limits({ requests: ferrule.RateLimiter.tokenBucket({ rate: 1 }) })
    case 'Reservation':
      // Made only by Limits.acquire (async); its members live on the prototype.
      return Object.create(ferrule.Reservation.prototype)
    case 'MockLLMServer': {
      const s = new ferrule.MockLLMServer()
      s.stop()
      return s
    }
    case 'SLO':
      return new ferrule.SLO('t')
    case 'AnomalyDetector':
      return new ferrule.AnomalyDetector('t', 'latency')
    case 'DriftDetector':
      return new ferrule.DriftDetector('t')
    case 'ErrorPredictor':
      return new ferrule.ErrorPredictor('t')
    case 'Router':
      return new ferrule.Router({ endpoints: [{ name: 'a', call: () => 1 }] })
    case 'DeadLetterQueue':
      return new ferrule.DeadLetterQueue({ path: require('node:path').join(require('node:os').tmpdir(), `ferrule-types-dlq-${process.pid}.sqlite`) })
    case 'DeadLetter':
      return new ferrule.DeadLetter({ id: 1, key: 'k', payload: '{}', errors: [], attempts: 1, firstFailedUnixMs: 0, lastFailedUnixMs: 0, traceId: null, replayCount: 0 })
    case 'RedisBackend':
      // Connects on first use only: no server needed to inspect its members.
      return new ferrule.RedisBackend({ url: 'redis://127.0.0.1:1/0' })
    case 'AlertRouter':
      return new ferrule.AlertRouter({ install: false, clock: new ferrule.ManualClock() })
    case 'Webhook':
      return new ferrule.Webhook('http://127.0.0.1:9/hook')
    case 'Slack':
      return new ferrule.Slack('https://127.0.0.1:9/services/T/B/x')
    case 'PagerDuty':
      return new ferrule.PagerDuty('0123456789abcdef0123456789abcdef', { url: 'https://127.0.0.1:9/v2/enqueue' })
    case 'JsonWebhook':
      return new ferrule.JsonWebhook('https://127.0.0.1:9/hook', { text: '{{summary}}' })
    case 'Alertmanager':
      return new ferrule.Alertmanager('http://127.0.0.1:9093')
    case 'DeadMansSwitch':
      return new ferrule.DeadMansSwitch('t', 1000, { clock: new ferrule.ManualClock() })
    case 'SyntheticProbe':
      return new ferrule.SyntheticProbe('t', () => true, 1000, 1000, { clock: new ferrule.ManualClock() })
    case 'StreamPolicy':
      return new ferrule.StreamPolicy({ stallTimeoutMs: 1000 })
    case 'StreamTimeoutError':
      return new ferrule.StreamTimeoutError('t', 1, 'stall')
    case 'StreamInterrupted':
      return new ferrule.StreamInterrupted('t', { partialText: 'x', chunks: 1 })
    case 'PartialJson':
      return new ferrule.PartialJson()
    default:
      throw new Error(`no sample for ${name}`)
  }
}

test('CircuitBreakerStats declares exactly the fields stats() returns', () => {
  const declared = memberNames(interfaces.get('CircuitBreakerStats')).sort()
  assert.deepEqual(declared, Object.keys(new ferrule.CircuitBreaker('t').stats()).sort())
})

test('the declared options are exactly the options the constructor accepts', () => {
  const declared = new Set()
  for (const n of ['CommonOptions', 'CountWindowOptions', 'TimeWindowOptions']) {
    for (const k of memberNames(interfaces.get(n))) declared.add(k)
  }
  let allowed
  try {
    new ferrule.CircuitBreaker('t', { notAnOption: 1 })
  } catch (e) {
    allowed = e.message.split('; allowed: ')[1].split(', ')
  }
  assert.deepEqual([...declared].sort(), allowed.sort())
})

test('the watcher stats interfaces declare exactly the fields stats() returns', () => {
  const clock = new ferrule.ManualClock()
  const cases = [
    ['SLOStats', new ferrule.SLO('t', { clock })],
    ['AnomalyDetectorStats', new ferrule.AnomalyDetector('t', 'm', { clock })],
    ['DriftDetectorStats', new ferrule.DriftDetector('t', { clock })],
    ['ErrorPredictorStats', new ferrule.ErrorPredictor('t', { clock })],
  ]
  for (const [iface, w] of cases) {
    const declared = memberNames(interfaces.get(iface)).sort()
    const s = w.stats()
    // Optional fields (`?`) are absent until they have a value.
    const optional = interfaces.get(iface).members.filter((m) => m.questionToken).map((m) => m.name.getText(source))
    for (const k of Object.keys(s)) assert.ok(declared.includes(k), `${iface}.${k} is returned but not declared`)
    for (const k of declared) assert.ok(k in s || optional.includes(k), `${iface}.${k} is declared but not returned`)
  }
})

test('RateLimiterStats declares exactly the fields stats() returns', () => {
  const declared = memberNames(interfaces.get('RateLimiterStats')).sort()
  assert.deepEqual(declared, Object.keys(ferrule.RateLimiter.tokenBucket({ rate: 1 }).stats()).sort())
})
