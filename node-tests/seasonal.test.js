'use strict'
// The seasonal anomaly detector from Node on a manual clock, on a series sampled every five minutes:
// five days of a noisy daily cycle raise nothing, a jump far beyond it fires once and the episode
// resolves at least an hour after it fired.

const test = require('node:test')
const assert = require('node:assert/strict')
const { AnomalyDetector, ManualClock } = require('ferrule')

const STEP = 300_000

function rng(seed) {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

test('a daily cycle is quiet; a jump fires once and resolves at least an hour after it fired', () => {
  const clock = new ManualClock()
  const det = new AnomalyDetector('cpu', 'cpu_percent', { method: 'seasonal', clock })
  const random = rng(5)
  const value = (i) => 50 + 30 * Math.sin((i / 288) * 2 * Math.PI) + (random() * 2 - 1)
  const events = []
  const where = { model: 'host', template: 'a' }
  for (let i = 0; i < 288 * 5; i++) {
    clock.advance(STEP)
    events.push(...det.observe(value(i), where))
  }
  assert.deepEqual(events, [])
  const start = clock.now()
  for (let i = 288 * 5; i < 288 * 5 + 24; i++) {
    clock.advance(STEP)
    events.push(...det.observe(value(i) + 200, where))
  }
  const end = clock.now()
  for (let i = 288 * 5 + 24; i < 288 * 6; i++) {
    clock.advance(STEP)
    events.push(...det.observe(value(i), where))
  }
  assert.deepEqual(
    events.map((e) => [e.name, e.state]),
    [
      ['anomaly.seasonal', 'firing'],
      ['anomaly.seasonal', 'resolved'],
    ],
  )
  assert.ok(events[0].atMs - start <= 3_600_000)
  // At least an hour past the last anomalous value; the time-of-day profile learns from every
  // sampled value, so the two hours start to look like that hour's norm before they end.
  assert.ok(events[1].atMs - events[0].atMs >= 3_600_000)
  assert.ok(events[1].atMs - end <= 3_600_000)
})

test('an unknown method names the allowed ones', () => {
  assert.throws(() => new AnomalyDetector('x', 'y', { method: 'zscore' }), /"ewma", "mad", "seasonal"/)
})
