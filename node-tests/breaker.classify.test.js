'use strict'
// ignore, failureOn and failureOnResult: how an outcome is counted, and what happens when a
// classifier itself throws (counted, warned, never swallowed).

const test = require('node:test')
const assert = require('node:assert/strict')
const { CircuitBreaker } = require('ferrule')

class RateLimitError extends Error {}
class BadRequestError extends Error {}
class SubRateLimitError extends RateLimitError {}

const fail = (err) => () => Promise.reject(err)

async function settle(b, fn) {
  try {
    return await b.execute(fn)
  } catch (e) {
    return e
  }
}

test('ignore with an array of classes: matching errors (and subclasses) are neither success nor failure', async () => {
  const b = new CircuitBreaker('ignore-array', { ignore: [BadRequestError, RangeError] })
  await settle(b, fail(new BadRequestError('400')))
  await settle(b, fail(new RangeError('r')))
  await settle(b, fail(new Error('500')))
  const s = b.stats()
  assert.equal(s.ignored, 2)
  assert.equal(s.failures, 1)
  assert.equal(s.successes, 0)
  assert.equal(s.windowCalls, 1) // ignored calls stay out of the window
})

test('ignore with a single class and with a predicate', async () => {
  const byClass = new CircuitBreaker('ignore-class', { ignore: BadRequestError })
  await settle(byClass, fail(new BadRequestError()))
  await settle(byClass, fail(new Error()))
  assert.equal(byClass.stats().ignored, 1)
  assert.equal(byClass.stats().failures, 1)

  const byPredicate = new CircuitBreaker('ignore-pred', { ignore: (e) => e.status === 404 })
  await settle(byPredicate, fail(Object.assign(new Error(), { status: 404 })))
  await settle(byPredicate, fail(Object.assign(new Error(), { status: 500 })))
  assert.equal(byPredicate.stats().ignored, 1)
  assert.equal(byPredicate.stats().failures, 1)
})

test('failureOn: only matching errors are failures; any other error counts as a success', async () => {
  const b = new CircuitBreaker('failure-on', { failureOn: [RateLimitError] })
  const e1 = new SubRateLimitError()
  const e2 = new BadRequestError()
  assert.equal(await settle(b, fail(e1)), e1)
  assert.equal(await settle(b, fail(e2)), e2) // still rejected with the error
  const s = b.stats()
  assert.equal(s.failures, 1)
  assert.equal(s.successes, 1)

  const pred = new CircuitBreaker('failure-on-pred', { failureOn: (e) => e instanceof RateLimitError })
  await settle(pred, fail(new RateLimitError()))
  await settle(pred, fail(new Error()))
  assert.equal(pred.stats().failures, 1)
  assert.equal(pred.stats().successes, 1)
})

test('ignore wins over failureOn', async () => {
  const b = new CircuitBreaker('both', { ignore: [SubRateLimitError], failureOn: [RateLimitError] })
  await settle(b, fail(new SubRateLimitError()))
  await settle(b, fail(new RateLimitError()))
  assert.equal(b.stats().ignored, 1)
  assert.equal(b.stats().failures, 1)
})

test('failureOnResult: a returned value can count as a failure and is still returned', async () => {
  const b = new CircuitBreaker('on-result', { failureOnResult: (r) => r.status >= 500, consecutiveFailures: 2 })
  assert.deepEqual(await b.execute(async () => ({ status: 503 })), { status: 503 })
  assert.deepEqual(await b.execute(() => ({ status: 200 })), { status: 200 })
  assert.equal(b.stats().failures, 1)
  assert.equal(b.stats().successes, 1)
  await b.execute(() => ({ status: 500 }))
  await b.execute(() => ({ status: 502 }))
  assert.equal(b.state, 'open')
})

test('an ignored error returns a half-open probe slot unused', async () => {
  const { ManualClock } = require('ferrule')
  const clock = new ManualClock()
  const b = new CircuitBreaker('ignored-probe', { consecutiveFailures: 1, openMs: 100, clock, ignore: [BadRequestError] })
  await settle(b, fail(new Error()))
  clock.advance(100)
  await settle(b, fail(new BadRequestError())) // the probe is ignored: still half-open
  assert.equal(b.state, 'half_open')
  assert.equal(await b.execute(() => 'ok'), 'ok')
  assert.equal(b.state, 'closed')
})

test('a classifier that throws: the call counts as a failure, the error is counted and warned, the result kept', async (t) => {
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))

  const b = new CircuitBreaker('bad-classifier', {
    ignore: () => {
      throw new Error('ignore predicate broke')
    },
    failureOnResult: () => {
      throw new Error('result predicate broke')
    },
  })
  const original = new Error('original')
  assert.equal(await settle(b, fail(original)), original) // the caller still gets its own error
  assert.equal(await b.execute(() => 'value'), 'value') // and its own value
  const s = b.stats()
  assert.equal(s.failures, 2)
  assert.equal(s.classifierErrors, 2)
  await new Promise((r) => setImmediate(r))
  const ours = warnings.filter((w) => w.code === 'FERRULE_CLASSIFIER_ERROR')
  assert.equal(ours.length, 2)
  assert.match(ours[0].message, /ignore classifier of circuit breaker 'bad-classifier' threw/)
  assert.match(ours[1].message, /failureOnResult classifier/)
  assert.equal(ours[0].name, 'FerruleWarning')
})
