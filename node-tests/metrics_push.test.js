'use strict'
// pushMetrics from Node: a local OTLP/HTTP receiver (on this event loop, which pushNow must not
// block) decodes the protobuf body by the OTLP field numbers and finds the values the test produced.

const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const ferrule = require('ferrule')

const { all, one, str, attrs } = require('./protobuf_reader.js')
const dbl = (b) => Buffer.from(b).readDoubleLE(0)
const u64 = (b) => Buffer.from(b).readBigUInt64LE(0)
function metrics(body) {
  // ExportMetricsServiceRequest.resource_metrics = 1; ResourceMetrics.scope_metrics = 2;
  // ScopeMetrics.metrics = 2; Metric { name = 1, unit = 3, gauge = 5, sum = 7, histogram = 9 }
  const rm = one(body, 1)
  const resource = attrs(one(rm, 1), 1)
  const out = {}
  for (const sm of all(rm, 2)) for (const m of all(sm, 2)) out[str(one(m, 1))] = m
  return { resource, out }
}

function receiver(statuses) {
  const got = []
  const srv = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      got.push({ path: req.url, headers: req.headers, body: Buffer.concat(chunks) })
      res.statusCode = statuses.length > 1 ? statuses.shift() : statuses[0]
      res.end()
    })
  })
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, got, url: `http://127.0.0.1:${srv.address().port}` })))
}

test('pushMetrics sends the registry as OTLP protobuf with GenAI names', async () => {
  const { srv, got, url } = await receiver([200])
  const c = new ferrule.Counter('node_push_jobs_total', { help: 'Jobs.', labels: ['queue'] })
  c.labels('a').inc(7)
  ferrule.recordLlmCall({ model: 'gpt-4o', durationMs: 250, inputTokens: 10, outputTokens: 5 })
  const p = ferrule.pushMetrics({ endpoint: url, intervalMs: 3_600_000, serviceName: 'node-test', headers: { Authorization: 'Bearer n' } })
  assert.equal(await p.pushNow(), true)
  assert.equal(p.pushes, 1)
  await p.stop()
  assert.equal(p.running, false)
  assert.equal(got.length, 2, 'pushNow and the final push on stop')
  const sent = got[0]
  assert.equal(sent.path, '/v1/metrics')
  assert.equal(sent.headers['content-type'], 'application/x-protobuf')
  assert.equal(sent.headers.authorization, 'Bearer n')
  const { resource, out } = metrics(sent.body)
  assert.equal(resource['service.name'], 'node-test')
  // Sum { data_points = 1, aggregation_temporality = 2, is_monotonic = 3 }; NumberDataPoint { as_double = 4, attributes = 7 }
  const sum = one(out.node_push_jobs, 7)
  assert.equal(one(sum, 3), 1n)
  assert.equal(one(sum, 2), 2n, 'cumulative')
  const point = one(sum, 1)
  assert.equal(dbl(one(point, 4)), 7)
  assert.deepEqual(attrs(point, 7), { queue: 'a' })
  // Histogram { data_points = 1 }; HistogramDataPoint { count = 4, bucket_counts = 6, explicit_bounds = 7, attributes = 9 }
  const dur = out['gen_ai.client.operation.duration']
  assert.equal(str(one(dur, 3)), 's')
  const points = all(one(dur, 9), 1).filter((pt) => attrs(pt, 9)['gen_ai.request.model'] === 'gpt-4o')
  assert.ok(points.length >= 1)
  assert.ok(u64(one(points[0], 4)) >= 1n)
  assert.equal(one(points[0], 6).length / 8, one(points[0], 7).length / 8 + 1, 'one more bucket than bounds')
  srv.close()
})

test('an overloaded collector is retried; a refusing one is counted; bad options are refused', async () => {
  const { srv, got, url } = await receiver([503, 200])
  const p = ferrule.pushMetrics({ endpoint: url, intervalMs: 3_600_000 })
  assert.equal(await p.pushNow(), true)
  assert.equal(got.length, 2)
  await p.stop()
  srv.close()
  const bad = await receiver([400])
  const q = ferrule.pushMetrics({ endpoint: bad.url, intervalMs: 3_600_000 })
  assert.equal(await q.pushNow(), false)
  assert.equal(q.failures, 1)
  await q.stop()
  bad.srv.close()
  assert.match(ferrule.metricsText(), /ferrule_telemetry_dropped_total\{kind="otlp_export"\} [1-9]/)
  assert.throws(() => ferrule.pushMetrics({ endpoint: 'grpc://collector:4317' }), (e) => e instanceof RangeError && /https:\/\//.test(e.message))
  assert.throws(() => ferrule.pushMetrics({ endpoint: url, intervalMs: 0 }), (e) => e instanceof RangeError && e.param === 'intervalMs' && /intervalMs=0/.test(e.message))
  assert.throws(() => ferrule.pushMetrics({ endpoint: url, every: 1 }), (e) => e instanceof TypeError && /allowed: endpoint/.test(e.message))
})
