'use strict'
// Every way a configuration is refused: TypeError for an unknown key, a wrong type or options that
// conflict; RangeError for a value out of range. Messages name the Node option, the value given
// and what is allowed.

const test = require('node:test')
const assert = require('node:assert/strict')
const { CircuitBreaker, ManualClock } = require('ferrule')

const ALLOWED =
  'failureRate, consecutiveFailures, window, windowMs, windowBuckets, minCalls, slowCallMs, slowCallRate, openMs, maxOpenMs, openMultiplier, halfOpenCalls, ignore, failureOn, failureOnResult, clock, backend, syncMs'

function refused(options, kind, param, message, name = 'x') {
  assert.throws(
    () => new CircuitBreaker(name, options),
    (e) => {
      assert.equal(e.constructor, kind, `${e.constructor.name}: ${e.message}`)
      assert.equal(e.code, 'FERRULE_INVALID_CONFIG')
      assert.equal(e.param, param)
      if (typeof message === 'string') assert.equal(e.message, message)
      else assert.match(e.message, message)
      return true
    },
  )
}

const range = (options, param, message) => refused(options, RangeError, param, message)
const type = (options, param, message) => refused(options, TypeError, param, message)

test('defaults and valid configurations construct', () => {
  new CircuitBreaker('a')
  new CircuitBreaker('b', {})
  new CircuitBreaker('c', { failureRate: null, consecutiveFailures: 5 })
  new CircuitBreaker('d', { windowMs: 60000, windowBuckets: 60, minCalls: 5 })
  new CircuitBreaker('e', { slowCallMs: 2000, slowCallRate: 0.5, openMs: 1, maxOpenMs: 31536000000, openMultiplier: 100 })
  new CircuitBreaker('f', { openMs: undefined, ignore: null, halfOpenCalls: 10000, window: 1000000, minCalls: 1 })
})

test('an unknown option is a TypeError naming the key and listing the allowed ones', () => {
  type({ failRate: 0.5 }, 'failRate', `CircuitBreaker: unknown option failRate=0.5; allowed: ${ALLOWED}`)
  type({ open_ms: 5 }, 'open_ms', /unknown option open_ms=5; allowed: failureRate, /)
})

test('a value of the wrong type is a TypeError', () => {
  type({ openMs: '5000' }, 'openMs', 'CircuitBreaker: openMs="5000" must be a number')
  type({ window: 20n }, 'window', 'CircuitBreaker: window=20n must be a number')
  type({ halfOpenCalls: true }, 'halfOpenCalls', /halfOpenCalls=true must be a number/)
  type({ ignore: 'TypeError' }, 'ignore', /ignore="TypeError" must be an array of Error classes or a predicate/)
  type({ failureOn: [TypeError, 'x'] }, 'failureOn', /failureOn must be an array of Error classes or a predicate; got an element "x"/)
  type({ failureOnResult: 5 }, 'failureOnResult', /failureOnResult=5 must be a predicate/)
  type({ clock: {} }, 'clock', /clock=\[object Object\] must be a ManualClock/)
  refused({}, TypeError, 'name', /name must be a string; got 42/, 42)
  type(5, 'options', /options must be an object; got 5/)
})

test('rates out of (0, 1] are RangeErrors', () => {
  range({ failureRate: 1.5 }, 'failureRate', 'CircuitBreaker: failureRate=1.5 is out of range; allowed: (0, 1]')
  range({ failureRate: 0 }, 'failureRate', 'CircuitBreaker: failureRate=0 is out of range; allowed: (0, 1]')
  range({ failureRate: NaN }, 'failureRate', /failureRate=NaN is out of range/)
  range({ slowCallMs: 100, slowCallRate: -0.1 }, 'slowCallRate', 'CircuitBreaker: slowCallRate=-0.1 is out of range; allowed: (0, 1]')
})

test('integers out of range, or not integers, are RangeErrors with the value given', () => {
  range({ consecutiveFailures: 0 }, 'consecutiveFailures', 'CircuitBreaker: consecutiveFailures=0 is out of range; allowed: an integer in [1, 1000000]')
  range({ consecutiveFailures: 2.5 }, 'consecutiveFailures', /consecutiveFailures=2.5 is out of range; allowed: an integer in \[1, 1000000\]/)
  range({ consecutiveFailures: 1e12 }, 'consecutiveFailures', /consecutiveFailures=1000000000000 is out of range/)
  range({ window: 0 }, 'window', 'CircuitBreaker: window=0 is out of range; allowed: an integer in [1, 1000000]')
  range({ window: -3 }, 'window', /window=-3 is out of range/)
  range({ window: 2000000, minCalls: 1 }, 'window', /window=2000000 is out of range/)
  range({ minCalls: 0 }, 'minCalls', 'CircuitBreaker: minCalls=0 is out of range; allowed: an integer in [1, 1000000000]')
  range({ halfOpenCalls: 0 }, 'halfOpenCalls', 'CircuitBreaker: halfOpenCalls=0 is out of range; allowed: an integer in [1, 10000]')
  range({ halfOpenCalls: 10001 }, 'halfOpenCalls', /halfOpenCalls=10001 is out of range/)
  range({ halfOpenCalls: Infinity }, 'halfOpenCalls', /halfOpenCalls=Infinity is out of range/)
  range({ windowMs: 10000, windowBuckets: 0 }, 'windowBuckets', 'CircuitBreaker: windowBuckets=0 is out of range; allowed: an integer in [1, 1000]')
  range({ windowMs: 10000, windowBuckets: 1001 }, 'windowBuckets', /windowBuckets=1001 is out of range/)
})

test('durations are in ms: messages name the ms option and the ms range', () => {
  range({ openMs: -5 }, 'openMs', 'CircuitBreaker: openMs=-5 is out of range; allowed: a finite number > 0')
  range({ openMs: 0 }, 'openMs', 'CircuitBreaker: openMs=0 is out of range; allowed: a finite number > 0')
  range({ openMs: 4e10 }, 'openMs', 'CircuitBreaker: openMs=40000000000 is out of range; allowed: (0, 31536000000]')
  range({ openMs: Infinity }, 'openMs', /openMs=Infinity is out of range/)
  range({ maxOpenMs: 5000 }, 'maxOpenMs', 'CircuitBreaker: maxOpenMs=5000 is out of range; allowed: [openMs (30000), 31536000000]')
  range({ maxOpenMs: -1 }, 'maxOpenMs', 'CircuitBreaker: maxOpenMs=-1 is out of range; allowed: a finite number > 0')
  range({ slowCallMs: 0 }, 'slowCallMs', 'CircuitBreaker: slowCallMs=0 is out of range; allowed: a finite number > 0')
  range({ windowMs: 5 }, 'windowMs', 'CircuitBreaker: windowMs=5 is out of range; allowed: >= 1 ms per bucket (10 buckets)')
  range({ windowMs: -1000 }, 'windowMs', /windowMs=-1000 is out of range/)
  range({ windowMs: Infinity }, 'windowMs', 'CircuitBreaker: windowMs=Infinity is out of range; allowed: (0, 31536000000]')
  range({ windowMs: 4e10 }, 'windowMs', 'CircuitBreaker: windowMs=40000000000 is out of range; allowed: (0, 31536000000]')
  range({ windowMs: 50, windowBuckets: 100 }, 'windowMs', 'CircuitBreaker: windowMs=50 is out of range; allowed: >= 1 ms per bucket (100 buckets)')
  range({ openMultiplier: 0.5, maxOpenMs: 60000 }, 'openMultiplier', 'CircuitBreaker: openMultiplier=0.5 is out of range; allowed: [1, 100]')
})

test('options that conflict are TypeErrors', () => {
  type({ window: 20, windowMs: 1000 }, 'window', 'CircuitBreaker: window=20 conflicts: windowMs was given too; choose a count window or a time window')
  type({ windowBuckets: 5 }, 'windowBuckets', 'CircuitBreaker: windowBuckets=5 conflicts: it applies to a time window only (windowMs)')
  type({ minCalls: 30 }, 'minCalls', 'CircuitBreaker: minCalls=30 conflicts: must be <= window (20), or the rate rules could never trip')
  type({ slowCallRate: 0.5 }, 'slowCallRate', 'CircuitBreaker: slowCallRate=0.5 conflicts: it needs slowCallMs')
  type(
    { failureRate: null },
    'failureRate',
    'CircuitBreaker: failureRate=null conflicts: at least one of failureRate, consecutiveFailures or slowCallRate must be set',
  )
})

test('ManualClock.advance checks its argument', () => {
  const c = new ManualClock()
  assert.throws(() => c.advance(-1), { name: 'RangeError', message: /ms=-1 is out of range; allowed: a finite number >= 0/ })
  assert.throws(() => c.advance('1'), TypeError)
  const t0 = c.now()
  c.advance(1.5)
  assert.equal(c.now() - t0, 1.5)
})
