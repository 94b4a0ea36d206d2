'use strict'
// ErrorPredictor.fit from Node on a manual clock: learning from a past log makes the predictor warn
// ahead of a degradation an online-only one misses; the example counts are exact; records straight
// from the inference log are read (rate-limit error types count as 429s, rejected calls are
// skipped); bad records and epochs name what is wrong.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const ferrule = require('ferrule')
const { ErrorPredictor, ManualClock } = ferrule

const MIN = 60_000

// 30 quiet minutes, 10 of shrinking headroom, slower calls and more 429s (under the 25% bar), 10 at
// 60% errors, 20 quiet; 20 calls a minute. Returns the calls and when the errors begin (ms).
function episode(startMin) {
  const calls = []
  for (let m = 0; m < 70; m++) {
    for (let k = 0; k < 20; k++) {
      const atMs = (startMin + m) * MIN + k * 3000
      if (m >= 30 && m < 40) {
        const d = (m - 29) / 10
        calls.push({ atMs, outcome: k < 20 * 0.2 * d ? 'rate_limited' : 'ok', latencyMs: 1000 * (1 + d), headroom: 0.8 - 0.75 * d })
      } else if (m >= 40 && m < 50) {
        calls.push({ atMs, outcome: k % 5 < 3 ? 'error' : 'ok', latencyMs: 2000, headroom: 0.05 })
      } else {
        calls.push({ atMs, outcome: 'ok', latencyMs: 1000, headroom: 0.8 })
      }
    }
  }
  return [calls, (startMin + 40) * MIN]
}

function firstWarning(fitted, past, replay) {
  const p = new ErrorPredictor('p', { clock: new ManualClock() })
  if (fitted) {
    const r = p.fit(past)
    assert.ok(r.positives > 0 && r.examples > r.positives, JSON.stringify(r))
  }
  for (const c of replay) {
    const ev = p.observe(c.outcome, c.latencyMs, { ratelimitRemaining: c.headroom, ratelimitLimit: 1, atMs: c.atMs })
    const w = ev.find((e) => e.state === 'firing')
    if (w) return w.atMs
  }
  return null
}

test('a fitted predictor warns before a degradation that online only misses', () => {
  const past = []
  for (let e = 0; e < 6; e++) past.push(...episode(e * 120)[0])
  const [replay, errorsStart] = episode(10_000)
  const online = firstWarning(false, past, replay)
  assert.ok(online === null || online >= errorsStart, `online only warned at ${online}`)
  const fitted = firstWarning(true, past, replay)
  assert.ok(fitted !== null && fitted < errorsStart, `${fitted} vs ${errorsStart}`)
})

test('fit counts examples exactly and leaves the live state alone', () => {
  const p = new ErrorPredictor('p', { clock: new ManualClock() })
  const log = []
  for (let i = 0; i < 20; i++) {
    for (let k = 0; k < 10; k++) log.push({ atMs: i * MIN + k * 5000, outcome: i >= 10 && i <= 12 ? 'error' : 'ok', latencyMs: 1000 })
  }
  const r = p.fit(log.reverse(), { epochs: 3 })
  assert.deepEqual({ ...r }, { calls: 200, skipped: 0, intervals: 20, examples: 15, positives: 7, epochs: 3 })
  const s = p.stats()
  assert.deepEqual([s.examples, s.intervals, s.probability ?? null, s.warnings], [45, 0, null, 0])
})

test('records from the inference log are read', () => {
  ferrule.configure({ otlpEndpoint: false, logSink: 'none' })
  const db = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ferrule-fit-')), 'calls.db')
  const log = new ferrule.InferenceLog().open(db)
  try {
    for (let i = 0; i < 12; i++) {
      const outcome = ['success', 'error', 'rejected'][i % 3]
      log.record({ model: 'gpt-4o', outcome, latencyMs: 500, errorType: outcome === 'error' ? 'RateLimitError' : undefined })
    }
    assert.equal(log.flush(), true)
    const p = new ErrorPredictor('p', { clock: new ManualClock() })
    const r = p.fit(log.records(), { epochs: 1 })
    // Twelve records within a second: one interval, no horizon after it, nothing labelled yet.
    assert.deepEqual([r.calls, r.skipped, r.intervals, r.examples], [8, 4, 1, 0])
  } finally {
    log.close()
  }
})

test('bad records and epochs name what is wrong', () => {
  const p = new ErrorPredictor('p', { clock: new ManualClock() })
  assert.throws(() => p.fit([], { epochs: 0 }), (e) => e instanceof RangeError && /epochs/.test(e.message))
  assert.throws(() => p.fit([{ atMs: 1, outcome: 'ok' }, { outcome: 'ok' }]), /records\[1\] has no time/)
  assert.throws(() => p.fit([{ atMs: 1, outcome: 'exploded' }]), /outcome/)
  assert.throws(() => p.fit(42), TypeError)
})
