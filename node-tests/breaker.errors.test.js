'use strict'
// The error tree: FerruleError at the root, CircuitOpenError with its fields; a Rust panic arrives
// as an exception, never a crash.

const test = require('node:test')
const assert = require('node:assert/strict')
const { CircuitBreaker, CircuitOpenError, FerruleError, ManualClock } = require('ferrule')

test('CircuitOpenError carries the breaker name, a known retryAfterMs and a stable code', async () => {
  const clock = new ManualClock()
  const b = new CircuitBreaker('openai', { consecutiveFailures: 1, openMs: 30000, clock })
  await b.execute(() => Promise.reject(new Error('x'))).catch(() => {})
  clock.advance(1250)
  let calledUserFn = false
  const err = await b
    .execute(() => {
      calledUserFn = true
    })
    .catch((e) => e)
  assert.equal(calledUserFn, false)
  assert.ok(err instanceof CircuitOpenError)
  assert.ok(err instanceof FerruleError)
  assert.ok(err instanceof Error)
  assert.equal(err.name, 'CircuitOpenError')
  assert.equal(err.code, 'FERRULE_CIRCUIT_OPEN')
  assert.equal(err.breaker, 'openai')
  assert.equal(err.retryAfterMs, 28750)
  assert.equal(err.message, "circuit breaker 'openai' is open; retry after 28.750s")
  assert.match(err.stack, /CircuitOpenError/)
  assert.equal(b.stats().rejected, 1)
})

test('retryAfterMs is null when forced open', async () => {
  const b = new CircuitBreaker('forced')
  b.forceOpen()
  const err = await b.execute(() => 1).catch((e) => e)
  assert.ok(err instanceof CircuitOpenError)
  assert.equal(err.retryAfterMs, null)
  assert.match(err.message, /retry time unknown/)
})

test('FerruleError has a code, a name and chains a cause', () => {
  const cause = new Error('root')
  const e = new FerruleError('wrapped', { code: 'FERRULE_X', cause })
  assert.equal(e.name, 'FerruleError')
  assert.equal(e.code, 'FERRULE_X')
  assert.equal(e.cause, cause)
  assert.equal(new FerruleError('plain').code, 'FERRULE_ERROR')
  assert.equal('cause' in new FerruleError('plain'), false)
})

test('a Rust panic in the native module is thrown as an Error and the process lives on', () => {
  // The private native module has one export that panics on purpose; every export is built the
  // same way (#[napi(catch_unwind)] or ferrule_core::catch_panic in the raw hot-path functions).
  const native = require('../bindings-node/native.js')
  assert.throws(() => native.panicForTest(), /deliberate panic for the panic-safety test/)
  assert.throws(() => native.panicForTest(), Error) // and again: nothing was left broken
})

test('bad arguments to the raw hot-path functions throw instead of crashing', () => {
  const native = require('../bindings-node/native.js')
  const nb = native.createBreaker('raw', {})
  const [acquire, recordSuccess] = native.fastCalls(nb)
  assert.throws(() => recordSuccess(), /record\(token\): expected numeric arguments/)
  assert.throws(() => recordSuccess('a'), /expected numeric arguments/)
  const token = acquire()
  assert.equal(typeof token, 'number')
  assert.equal(recordSuccess(token), undefined)
})
