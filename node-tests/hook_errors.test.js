'use strict'
// A hook that throws must not break the call: it is counted in the policy's stats and reported as
// one warning through the core's logger (masked, deduplicated), then as a process warning. Its own
// process, since it configures the logger.
const test = require('node:test')
const assert = require('node:assert/strict')
const ferrule = require('ferrule')
const { Policy, ManualClock, RetryError } = ferrule

test('a throwing hook is counted, logged once through the core logger (masked), and the call goes on', async () => {
  const lines = []
  ferrule.configure({ logSink: (l) => lines.push(JSON.parse(l)), logLevel: 'info' })
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  try {
    const seen = []
    const p = new Policy({
      name: 'hooked',
      clock: new ManualClock(),
      retry: {
        attempts: 3,
        backoff: { kind: 'constant', delayMs: 0 },
        budgetRatio: null,
        onRetry: (attempt) => {
          seen.push(attempt)
          throw new Error('broken hook, mail ops@example.com')
        },
      },
    })
    const reset = () => Promise.reject(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))
    await assert.rejects(p.execute(reset), RetryError)
    assert.deepEqual(seen, [1, 2], 'every retry still ran its hook')
    assert.equal(p.stats().hookErrors, 2)
    const logged = lines.filter((l) => l.event === 'policy.hook_error')
    assert.equal(logged.length, 1, 'the identical second warning is deduplicated, not written')
    assert.equal(logged[0].level, 'warning')
    assert.equal(logged[0].policy, 'hooked')
    assert.match(logged[0].message, /hooked: hook onRetry threw: broken hook, mail \[EMAIL\]/)
    await new Promise((r) => setImmediate(r))
    const proc = warnings.filter((w) => w.code === 'FERRULE_HOOK_ERROR')
    assert.equal(proc.length, 1)
    assert.doesNotMatch(proc[0].message, /example\.com/)
  } finally {
    process.off('warning', onWarning)
  }
})
