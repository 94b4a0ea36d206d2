'use strict'
// configure({ redactCallback }): the user's function runs after the built-in patterns on logs, span
// attributes, the inference log and redact(); a throwing callback keeps the pattern masking and is
// counted; `false` removes it.

const test = require('node:test')
const assert = require('node:assert/strict')
const ferrule = require('ferrule')

test('the callback masks after the patterns, everywhere the core masks', () => {
  const lines = []
  ferrule.configure({ otlpEndpoint: false, sampleRatio: 1, logSink: (l) => lines.push(l), logDedupMs: 0,
    redactCallback: (text) => text.replace(/Acme Corp/g, '[ORG]') })
  ferrule.clearRecentSpans()
  assert.equal(ferrule.redact('Acme Corp, mail ceo@acme.example'), '[ORG], mail [EMAIL]')
  ferrule.withSpan('call', (s) => { s.setAttribute('customer', 'Acme Corp') })
  assert.equal(ferrule.recentSpans()[0].attributes.customer, '[ORG]')
  ferrule.emit('note', { message: 'for Acme Corp' })
  ferrule.flush(100)
  assert.ok(lines.some((l) => JSON.parse(l).message === 'for [ORG]'), lines.join('\n'))
  ferrule.configure({ redactCallback: false })
  assert.equal(ferrule.redact('Acme Corp'), 'Acme Corp')
  // A callback given alone keeps the user patterns in force.
  ferrule.configure({ redactPatterns: { employee: 'E\\d{6}' } })
  ferrule.configure({ redactCallback: (t) => t.toUpperCase() })
  assert.equal(ferrule.redact('staff E123456 of acme'), 'STAFF [EMPLOYEE] OF ACME')
  ferrule.configure({ redactPatterns: [], redactCallback: false })
})

test('a throwing or non-string callback keeps the pattern masking and is counted', () => {
  ferrule.configure({ otlpEndpoint: false, logSink: 'none', redactCallback: () => { throw new Error('boom') } })
  // Counted per installed callback (a new configure starts from zero).
  assert.equal(ferrule.redact('call 415-555-0123 now'), 'call [PHONE] now')
  assert.equal(ferrule.telemetryStats().redactCallbackErrors, 1)
  ferrule.configure({ redactCallback: () => 42 })
  assert.equal(ferrule.redact('bob@example.com'), '[EMAIL]')
  assert.equal(ferrule.redact('carol@example.com'), '[EMAIL]')
  assert.equal(ferrule.telemetryStats().redactCallbackErrors, 2)
  assert.throws(() => ferrule.configure({ redactCallback: 'x' }), (e) => e instanceof TypeError && e.param === 'redactCallback')
  // Replacing the patterns keeps nothing implicit: the callback must be given again or removed.
  assert.throws(() => ferrule.configure({ redactPatterns: ['x'] }), (e) => e instanceof TypeError && /pass redactCallback again/.test(e.message))
  ferrule.configure({ redactPatterns: [], redactCallback: false })
  assert.equal(ferrule.redact('plain'), 'plain')
})
