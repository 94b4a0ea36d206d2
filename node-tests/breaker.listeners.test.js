'use strict'
// 'stateChange' listeners: synchronous, in order, including open → half_open inside acquire; a
// listener that throws is counted and warned and breaks neither the call nor the other listeners.

const test = require('node:test')
const assert = require('node:assert/strict')
const { CircuitBreaker, ManualClock, configure } = require('ferrule')

const failing = () => Promise.reject(new Error('down'))

test('every transition reaches listeners in order, with reason and openForMs', async () => {
  const clock = new ManualClock()
  const b = new CircuitBreaker('events', { consecutiveFailures: 2, openMs: 1000, halfOpenCalls: 2, clock })
  const seen = []
  b.on('stateChange', (from, to, info) => seen.push([from, to, info.reason, info.openForMs]))

  await b.execute(failing).catch(() => {})
  await b.execute(failing).catch(() => {})
  clock.advance(1000)
  await b.execute(failing).catch(() => {}) // the probe fails: back to open
  clock.advance(1000)
  await b.execute(() => 'a')
  await b.execute(() => 'b')

  assert.deepEqual(seen, [
    ['closed', 'open', 'consecutive_failures', 1000],
    ['open', 'half_open', 'open_elapsed', null],
    ['half_open', 'open', 'probe_failed', 1000],
    ['open', 'half_open', 'open_elapsed', null],
    ['half_open', 'closed', 'probes_succeeded', null],
  ])
  assert.equal(b.stats().transitions, 5)
})

test('listeners run synchronously, before the call settles and before the user fn of a probe', async () => {
  const clock = new ManualClock()
  const b = new CircuitBreaker('sync-events', { consecutiveFailures: 1, openMs: 10, clock })
  const order = []
  b.on('stateChange', (from, to) => order.push(`${from}->${to}`))
  const p = b.execute(failing).catch(() => order.push('settled'))
  await p
  clock.advance(10)
  const q = b.execute(() => order.push('probe fn'))
  order.push('execute returned')
  await q
  assert.deepEqual(order, [
    'closed->open',
    'settled',
    'open->half_open',
    'probe fn',
    'half_open->closed',
    'execute returned',
  ])
})

test('a throwing listener is caught, counted and warned; other listeners and the call go on', async (t) => {
  // Process warnings are fed from the core's logger, which folds repeats of one line: off here.
  configure({ logDedupMs: 0 })
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))

  const b = new CircuitBreaker('bad-listener', { consecutiveFailures: 1 })
  const after = []
  b.on('stateChange', () => {
    throw new Error('listener broke')
  })
  b.on('stateChange', (from, to) => after.push(to))
  const original = new Error('original')
  await assert.rejects(
    b.execute(() => Promise.reject(original)),
    (e) => e === original,
  )
  assert.deepEqual(after, ['open'])
  assert.equal(b.state, 'open')
  assert.equal(b.stats().listenerErrors, 1)
  b.reset() // the listener throws again, on a direct call this time: still caught
  assert.equal(b.stats().listenerErrors, 2)
  assert.equal(await b.execute(() => 'fine'), 'fine')
  await new Promise((r) => setImmediate(r))
  const ours = warnings.filter((w) => w.code === 'FERRULE_LISTENER_ERROR')
  assert.equal(ours.length, 2)
  assert.match(ours[0].message, /'stateChange' listener of circuit breaker 'bad-listener' threw: Error: listener broke/)
})

test('off removes a listener; a listener added during dispatch waits for the next transition', () => {
  const b = new CircuitBreaker('off')
  const calls = []
  const late = () => calls.push('late')
  const first = () => {
    calls.push('first')
    b.on('stateChange', late)
  }
  b.on('stateChange', first)
  b.forceOpen()
  assert.deepEqual(calls, ['first'])
  b.off('stateChange', first)
  b.forceClosed()
  assert.deepEqual(calls, ['first', 'late'])
})

test('on/off check their arguments', () => {
  const b = new CircuitBreaker('bad-on')
  assert.throws(() => b.on('change', () => {}), { name: 'TypeError', message: /unknown event "change"; allowed: stateChange/ })
  assert.throws(() => b.on('stateChange', 'nope'), TypeError)
  assert.equal(
    b.on('stateChange', () => {}),
    b,
  )
})
