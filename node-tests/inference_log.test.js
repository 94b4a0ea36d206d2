'use strict'
// The inference log from Node: records carry the span and context ids, content is masked and kept
// only with capture on, queries and filters answer, and the records survive a process restart.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const ferrule = require('ferrule')

function tmpdb() {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ferrule-ilog-')), 'calls.db')
}

test('records carry ids and masked content, and answer query and records', async () => {
  ferrule.configure({ captureContent: true, otlpEndpoint: false, logSink: 'none' })
  const db = tmpdb()
  const log = new ferrule.InferenceLog().open(db)
  let span
  await ferrule.runInContext({ sessionId: 's-1', userId: 'alice@example.com' }, () =>
    ferrule.withSpan({ operation: 'chat', model: 'gpt-4o' }, async (s) => {
      span = s
      assert.equal(log.record({ model: 'gpt-4o', outcome: 'success', template: 'greet', input: 'mail bob@example.com',
        output: 'ok', inputTokens: 12, outputTokens: 3, costUsd: 0.001, latencyMs: 250, parameters: { temperature: 0.2 } }), true)
    }))
  log.record({ model: 'gpt-4o-mini', outcome: 'error', errorType: 'RateLimitError', attempts: 3 })
  const rows = log.query('SELECT * FROM inference_log WHERE model = ? ORDER BY id', ['gpt-4o'])
  assert.equal(rows.length, 1)
  const r = rows[0]
  assert.equal(r.request_id, span.requestId)
  assert.equal(r.trace_id, span.traceId)
  assert.equal(r.span_id, span.spanId)
  assert.equal(r.session_id, 's-1')
  assert.equal(r.user_id, '[EMAIL]')
  assert.equal(r.input, 'mail [EMAIL]')
  assert.equal(r.output, 'ok')
  assert.equal(r.template, 'greet')
  assert.deepEqual(JSON.parse(r.parameters), { temperature: 0.2 })
  assert.equal(r.input_tokens, 12)
  assert.equal(r.latency_seconds, 0.25)
  assert.equal(typeof r.time_unix_ns, 'bigint')
  assert.ok(r.time_unix_ns > BigInt(Date.now() - 60_000) * 1_000_000n)
  const errs = log.records({ outcome: 'error' })
  assert.deepEqual(errs.map((e) => [e.model, e.error_type, e.attempts]), [['gpt-4o-mini', 'RateLimitError', 3]])
  assert.match(errs[0].request_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/, 'a UUID v7 outside any span')
  assert.equal(log.records({ since: new Date(Date.now() + 60_000) }).length, 0)
  assert.equal(log.records({ model: 'gpt-4o', since: Date.now() - 60_000 }).length, 1)
  const [{ n }] = log.query('SELECT count(*) AS n FROM inference_log WHERE time_unix_ns > ?', [0n])
  assert.equal(n, 2)
  assert.equal(log.stats().written, 2)
  log.close()
  ferrule.configure({ captureContent: false })
})

test('content is not stored without capture; bad input is refused with Node errors', () => {
  ferrule.configure({ captureContent: false, otlpEndpoint: false, logSink: 'none' })
  const log = new ferrule.InferenceLog().open(tmpdb())
  log.record({ model: 'm', outcome: 'success', input: 'secret prompt', output: 'answer' })
  const [r] = log.records()
  assert.equal(r.input, null)
  assert.equal(r.output, null)
  assert.throws(() => log.record({ model: 'm', outcome: 'maybe' }), (e) => e instanceof RangeError && /outcome=.?maybe.? is out of range/.test(e.message))
  assert.throws(() => log.record({ model: 'm', outcome: 'success', tokens: 1 }), (e) => e instanceof TypeError && /unknown field tokens/.test(e.message))
  assert.throws(() => log.query('SELECT nope FROM inference_log'), (e) => e instanceof ferrule.StorageError && e.code === 'FERRULE_STORAGE')
  assert.throws(() => log.query('DELETE FROM inference_log'), ferrule.StorageError, 'the reader is read-only')
  assert.throws(() => log.query('SELECT ?', [{}]), TypeError)
  assert.throws(() => new ferrule.InferenceLog().open(tmpdb(), { maxRows: 0 }), (e) => e instanceof RangeError && e.param === 'maxRows')
  assert.throws(() => new ferrule.InferenceLog().records(), (e) => e instanceof ferrule.StorageError && /not open/.test(e.message))
  assert.throws(() => new ferrule.InferenceLog().open('/nonexistent-dir/x/y.db'), ferrule.StorageError)
  log.close()
})

test('records survive a process restart', () => {
  const db = tmpdb()
  const script = (outcome) => `
    const f = require('ferrule')
    f.configure({ otlpEndpoint: false, logSink: 'none' })
    f.inferenceLog.open(${JSON.stringify(db)})
    f.inferenceLog.record({ model: 'gpt-4o', outcome: '${outcome}' })
    f.inferenceLog.close()
    process.stdout.write(JSON.stringify(f.inferenceLog.open(${JSON.stringify(db)}).records().map((r) => r.outcome)))
  `
  const opts = { cwd: path.join(__dirname, '..'), encoding: 'utf8' }
  assert.deepEqual(JSON.parse(execFileSync(process.execPath, ['-e', script('success')], opts)), ['success'])
  assert.deepEqual(JSON.parse(execFileSync(process.execPath, ['-e', script('timeout')], opts)), ['timeout', 'success'])
  const log = ferrule.inferenceLog.open(db)
  assert.deepEqual(log.query('SELECT outcome FROM inference_log ORDER BY id').map((r) => r.outcome), ['success', 'timeout'])
  log.close()
})
