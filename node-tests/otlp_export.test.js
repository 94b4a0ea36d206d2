'use strict'
// Spans from Node exported over OTLP/HTTP: a receiver on a worker thread (flush() blocks this one)
// decodes the protobuf body by the OTLP trace field numbers and finds the spans, ids and attributes.

const test = require('node:test')
const assert = require('node:assert/strict')
const { Worker } = require('node:worker_threads')
const ferrule = require('ferrule')

const RECEIVER = `
const http = require('node:http')
const { parentPort } = require('node:worker_threads')
const srv = http.createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    parentPort.postMessage({ path: req.url, type: req.headers['content-type'], body: Buffer.concat(chunks) })
    res.statusCode = 200
    res.end()
  })
})
srv.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: srv.address().port }))
`

const { all, one, str, attrs } = require('./protobuf_reader.js')
const hex = (b) => (b === undefined ? '' : Buffer.from(b).toString('hex'))

test('spans are exported over OTLP/HTTP protobuf and decoded', async (t) => {
  const worker = new Worker(RECEIVER, { eval: true })
  t.after(() => worker.terminate())
  const got = []
  const port = await new Promise((resolve) => worker.on('message', (m) => (m.port ? resolve(m.port) : got.push(m))))
  ferrule.configure({ otlpEndpoint: `http://127.0.0.1:${port}`, serviceName: 'node-otlp', sampleRatio: 1, logSink: 'none' })
  let call
  await ferrule.runInContext({ sessionId: 's-node', userId: 'u-node' }, () =>
    ferrule.withSpan({ operation: 'chat', model: 'gpt-4o', provider: 'openai' }, async (s) => {
      call = s
      await ferrule.withSpan({ name: 'attempt 1', role: 'attempt' }, async () => {})
    }))
  assert.equal(ferrule.flush(10_000), true)
  // The worker posts each request after answering it; give its messages a turn of the loop.
  for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20))
  assert.ok(got.length >= 1)
  assert.ok(got.every((r) => r.path === '/v1/traces' && r.type === 'application/x-protobuf'))
  // ExportTraceServiceRequest.resource_spans = 1; ResourceSpans { resource = 1, scope_spans = 2 };
  // ScopeSpans { scope = 1, spans = 2 }; Span { trace_id = 1, span_id = 2, parent_span_id = 4,
  // name = 5, start = 7, end = 8, attributes = 9 }
  const spans = {}
  let service
  for (const r of got) {
    for (const rs of all(Buffer.from(r.body), 1)) {
      service = attrs(one(rs, 1), 1)['service.name']
      for (const ss of all(rs, 2)) for (const sp of all(ss, 2)) spans[str(one(sp, 5))] = sp
    }
  }
  assert.equal(service, 'node-otlp')
  const root = spans['chat gpt-4o']
  const child = spans['attempt 1']
  assert.ok(root && child, Object.keys(spans).join(', '))
  assert.equal(hex(one(root, 1)), call.traceId)
  assert.equal(hex(one(root, 2)), call.spanId)
  assert.equal(hex(one(root, 4)), '')
  assert.equal(hex(one(child, 4)), call.spanId)
  assert.equal(hex(one(child, 1)), call.traceId)
  const a = attrs(root, 9)
  assert.equal(a['gen_ai.provider.name'], 'openai')
  assert.equal(a['gen_ai.conversation.id'], 's-node')
  assert.ok(ferrule.telemetryStats().exportedSpans >= 2)
  ferrule.configure({ otlpEndpoint: false })
})
