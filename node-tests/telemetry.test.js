'use strict'
// Telemetry from Node: spans with parent/child structure and GenAI attributes, context ids that
// follow async hops through AsyncLocalStorage, structured events through a JS logSink, redaction
// over the shared corpus, and configuration errors in Node's names.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { setTimeout: sleep } = require('node:timers/promises')
const ferrule = require('ferrule')

function reset() {
  ferrule.configure({ sampleRatio: 1, captureContent: false, otlpEndpoint: false, logSink: 'none', logLevel: 'info', logDedupMs: 1000, redactPatterns: [] })
  ferrule.clearRecentSpans()
}

function byName() {
  return Object.fromEntries(ferrule.recentSpans().map((s) => [s.name, s]))
}

test('withSpan builds a call span with attempt and fallback children', async () => {
  reset()
  const traceId = await ferrule.withSpan({ operation: 'chat', model: 'gpt-4o', provider: 'openai' }, async (call) => {
    await ferrule.withSpan({ name: 'attempt 1', role: 'attempt' }, async (a) => {
      await sleep(1)
      a.setAttribute('http.response.status_code', 503).setStatus('error', 'upstream 503')
    })
    await assert.rejects(
      ferrule.withSpan({ name: 'fallback', role: 'fallback' }, async () => {
        throw new RangeError('no fallback for bob@example.com')
      }),
      RangeError,
    )
    call.setUsage({ inputTokens: 12, outputTokens: 3 })
    return call.traceId
  })
  const s = byName()
  const root = s['chat gpt-4o']
  assert.equal(root.traceId, traceId)
  assert.equal(root.parentSpanId, null)
  assert.equal(typeof root.startNs, 'bigint')
  assert.ok(root.endNs >= root.startNs)
  assert.equal(root.attributes['gen_ai.provider.name'], 'openai')
  assert.equal(root.attributes['gen_ai.usage.input_tokens'], 12)
  for (const child of [s['attempt 1'], s.fallback]) {
    assert.equal(child.traceId, root.traceId)
    assert.equal(child.parentSpanId, root.spanId)
    assert.ok(child.startNs >= root.startNs && child.endNs <= root.endNs)
  }
  assert.equal(s['attempt 1'].status, 'error')
  assert.equal(s.fallback.status, 'error')
  assert.equal(s.fallback.attributes['error.type'], 'RangeError')
  assert.equal(s.fallback.attributes['ferrule.span.role'], 'fallback')
})

test('runInContext ids follow await, timers and parallel requests independently', async () => {
  reset()
  const request = (i) =>
    ferrule.runInContext({ sessionId: `s${i}`, userId: `u${i}`, tags: ['node'] }, async () => {
      await sleep(Math.random() * 5)
      await new Promise((resolve) => setTimeout(resolve, 1))
      return ferrule.withSpan(`call ${i}`, async () => {
        await Promise.resolve()
        await new Promise((resolve) => setImmediate(resolve))
        return ferrule.withSpan({ name: `attempt ${i}`, role: 'attempt' }, async () => {
          await sleep(1)
          return ferrule.currentContext().sessionId
        })
      })
    })
  const seen = await Promise.all(Array.from({ length: 25 }, (_, i) => request(i)))
  assert.deepEqual(seen, Array.from({ length: 25 }, (_, i) => `s${i}`))
  const s = byName()
  for (let i = 0; i < 25; i++) {
    const call = s[`call ${i}`]
    const att = s[`attempt ${i}`]
    assert.equal(call.attributes['gen_ai.conversation.id'], `s${i}`)
    assert.equal(att.attributes['user.id'], `u${i}`)
    assert.deepEqual(att.attributes['ferrule.tags'], ['node'])
    assert.equal(att.parentSpanId, call.spanId)
  }
  assert.equal(ferrule.currentContext(), null)
})

test('nested contexts inherit, a missing session id is generated, conflicts are reported', () => {
  reset()
  const lines = []
  ferrule.configure({ logSink: (l) => lines.push(JSON.parse(l)) })
  const before = ferrule.telemetryStats().sessionConflicts
  ferrule.runInContext({ userId: 'u1' }, () => {
    const outer = ferrule.currentContext()
    assert.equal(outer.sessionGenerated, true)
    assert.equal(outer.sessionId.length, 36)
    ferrule.runInContext({ tags: ['x'] }, () => {
      assert.equal(ferrule.currentContext().sessionId, outer.sessionId)
      assert.equal(ferrule.currentContext().userId, 'u1')
    })
  })
  ferrule.runInContext({ sessionId: 'node-shared', userId: 'alice' }, () => {})
  ferrule.runInContext({ sessionId: 'node-shared', userId: 'mallory' }, () => {})
  ferrule.emit('flush.lines')
  assert.equal(ferrule.telemetryStats().sessionConflicts, before + 1)
  const c = lines.find((e) => e.event === 'context.session_conflict')
  assert.ok(c)
  assert.equal(c.first_user_id, 'alice')
})

test('emit writes the shared JSON schema with ids, masking and rate limiting', async () => {
  reset()
  const lines = []
  ferrule.configure({ logSink: (l) => lines.push(JSON.parse(l)), serviceName: 'node-svc' })
  await ferrule.runInContext({ sessionId: 'sess', userId: 'u' }, () =>
    ferrule.withSpan('chat m', async (span) => {
      const ok = ferrule.emit('retry.attempt', {
        level: 'warning',
        message: 'retry for carol@example.com',
        model: 'm',
        attempt: 2,
        latencyMs: 250,
        error: new TypeError('bad 10.0.0.1'),
        delayMs: 100,
      })
      assert.equal(ok, true)
      const e = lines.at(-1)
      assert.equal(e.event, 'retry.attempt')
      assert.equal(e.service, 'node-svc')
      assert.equal(e.message, 'retry for [EMAIL]')
      assert.equal(e.trace_id, span.traceId)
      assert.equal(e.span_id, span.spanId)
      assert.equal(e.session_id, 'sess')
      assert.equal(e.latency_seconds, 0.25)
      assert.deepEqual(e.error, { type: 'TypeError', message: 'bad [IP]' })
      assert.equal(e.delayMs, 100)
    }),
  )
  const n = lines.length
  const results = Array.from({ length: 20 }, () => ferrule.emit('telemetry.drop', { level: 'warning', message: 'same' }))
  assert.equal(results.filter(Boolean).length, 1)
  assert.equal(lines.length, n + 1)
  assert.throws(() => ferrule.emit('x', { level: 'loud' }), RangeError)
})

test('traceparent for outgoing requests and continuing incoming ones', () => {
  reset()
  assert.equal(ferrule.traceparent(), null)
  ferrule.withSpan('client', (s) => {
    assert.equal(ferrule.traceparent(), `00-${s.traceId}-${s.spanId}-01`)
  })
  const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
  ferrule.withSpan({ name: 'server', traceparent: incoming }, (s) => {
    assert.equal(s.traceId, '4bf92f3577b34da6a3ce929d0e0e4736')
    assert.equal(s.parentSpanId, '00f067aa0ba902b7')
  })
})

test('redact masks the shared corpus and leaves the control text alone', () => {
  reset()
  const data = path.join(__dirname, '..', 'core', 'tests', 'data')
  const cases = fs.readFileSync(path.join(data, 'redaction_corpus.tsv'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'))
  assert.ok(cases.length >= 100)
  for (const line of cases) {
    const [kind, secret, tmpl] = line.split('\t')
    const text = tmpl.replace('\\n', '\n').replace('{}', secret)
    const out = ferrule.redact(text)
    assert.ok(!out.includes(secret) && out.includes(`[${kind}]`), `${text} -> ${out}`)
  }
  for (const line of fs.readFileSync(path.join(data, 'control_text.txt'), 'utf8').split('\n')) {
    if (line && !line.startsWith('#')) assert.equal(ferrule.redact(line), line)
  }
  ferrule.configure({ redactPatterns: { employee: 'E\\d{6}' } })
  assert.equal(ferrule.redact('staff E123456'), 'staff [EMPLOYEE]')
})

test('configuration errors name the Node option', () => {
  reset()
  assert.throws(() => ferrule.configure({ sampleRatio: 2 }), (e) => e instanceof RangeError && e.param === 'sampleRatio' && /sampleRatio=2 is out of range; allowed: \[0, 1\]/.test(e.message))
  assert.throws(() => ferrule.configure({ otlpEndpoint: 'localhost:4318' }), (e) => e.param === 'otlpEndpoint')
  assert.throws(() => ferrule.configure({ samplingRatio: 1 }), TypeError)
  assert.throws(() => ferrule.configure({ logSink: 42 }), RangeError)
  assert.throws(() => ferrule.withSpan({ name: 'x', role: 'retry' }, () => {}), RangeError)
  assert.throws(() => ferrule.configure({ redactPatterns: ['('] }), (e) => e.param === 'redactPatterns')
  assert.equal(ferrule.telemetryStats().recentCapacity > 0, true)
})

test('head sampling off keeps only errors, and counts the rest', () => {
  reset()
  ferrule.configure({ sampleRatio: 0 })
  const before = ferrule.telemetryStats().spansUnsampled
  ferrule.withSpan('dropped', () => {})
  assert.throws(() => ferrule.withSpan('kept', () => { throw new Error('x') }))
  assert.deepEqual(ferrule.recentSpans().map((s) => s.name), ['kept'])
  assert.equal(ferrule.telemetryStats().spansUnsampled, before + 1)
  reset()
})
