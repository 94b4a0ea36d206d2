'use strict'
// Warnings the core writes with Rust's `log` macros (here: the alert router dropping an alert at
// `maxAlerts`) reach ferrule's logger: masked, and written to the configured sink. Before the bridge
// was installed at load, Node lost them.
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const ferrule = require('../bindings-node/index.js')
const { AlertRouter, ManualClock } = ferrule

test('a core log warning is masked and written to the log sink', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ferrule-logbridge-')), 'app.log')
  ferrule.configure({ logSink: { file }, logDedupMs: 0 })
  try {
    const r = new AlertRouter({ maxAlerts: 1, install: false, clock: new ManualClock() })
    r.fire('First', 'warning', { n: '1' })
    r.fire('Second', 'warning', { user: 'alice@example.com' })
    ferrule.flush()
    const text = fs.readFileSync(file, 'utf8')
    assert.ok(!text.includes('alice@example.com'), text)
    const lines = text.trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.event === 'log.warning')
    assert.equal(lines.length, 1, text)
    assert.equal(lines[0].target, 'ferrule.alert')
    assert.match(lines[0].message, /max_alerts/)
    assert.match(lines[0].message, /Second\{user=\[EMAIL\]\}/)
  } finally {
    ferrule.configure({ logSink: 'stderr' })
  }
})
