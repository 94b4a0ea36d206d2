'use strict'
// Streams that survive, with the real `openai` npm package against the mock server's stream faults:
// a stall is aborted at its deadline (measured on the call) and its connection released; a failure
// before the first chunk is retried unseen; a stream cut after N chunks throws with exactly the
// delivered text, continues seamlessly, or falls back; a consumer that breaks releases its connection.

const test = require('node:test')
const assert = require('node:assert/strict')
const OpenAI = require('openai')
const { Policy, StreamPolicy, StreamInterrupted, StreamTimeoutError, TimeoutError, wrapOpenAI } = require('ferrule')
const { withServer } = require('./mock_server_fixture.js')
const { state } = require('../bindings-node/llm_call.js')

const MSG = [{ role: 'user', content: 'tell me about streams' }]
const FULL = 'Mock answer to: tell me about streams'
const PREFIX = FULL.slice(0, 12) // a role event, then 4 characters per event: 4 events give 12
const sdk = (s) => new OpenAI({ baseURL: s.url, apiKey: 'k' })
const policy = (attempts = 3) => new Policy({ retry: { attempts, backoff: { kind: 'constant', delayMs: 0 }, budgetRatio: null } })
const fault = (kind, afterChunks, latencyMs = 20_000) => [{ kind, rate: 0, afterChunks, latencyMs }]
const textOf = (chunks) => chunks.map((c) => (c.choices && c.choices[0] ? c.choices[0].delta.content || '' : '')).join('')


// The connection that carried the stream is released: no connection on the mock is still in the
// middle of a response. undici (Node's fetch) may open a fresh connection right after an abort and
// keep it idle in its pool for reuse (closed after its 4 s keep-alive); the mock counts that one
// apart (`idleConnections`), so it is neither mistaken for a leak nor hidden.
async function released(s, withinMs = 3000) {
  const end = performance.now() + withinMs
  while (performance.now() < end) {
    const st = s.stats()
    if (st.openConnections - st.idleConnections === 0) return st
    await new Promise((r) => setTimeout(r, 10))
  }
  const st = s.stats()
  assert.fail(`${st.openConnections - st.idleConnections} connection(s) still busy ${withinMs} ms after the abort (${st.openConnections} open, ${st.idleConnections} idle)`)
}

function recording() {
  const seen = []
  state.listener = (r) => seen.push(r)
  return seen
}

test.afterEach(() => {
  state.listener = undefined
})

test(
  'a stall is aborted at its deadline and throws StreamInterrupted with the delivered text',
  withServer({ script: ['stall_stream'], faults: fault('stall_stream', 4) }, async (s) => {
    const seen = recording()
    const c = wrapOpenAI(sdk(s), { policy: policy(), streamPolicy: new StreamPolicy({ stallTimeoutMs: 300 }) })
    const got = []
    let last = performance.now()
    let err
    try {
      for await (const ch of await c.chat.completions.create({ model: 'm', messages: MSG, stream: true })) {
        got.push(ch)
        last = performance.now()
      }
    } catch (e) {
      err = e
    }
    const waited = performance.now() - last
    assert.ok(err instanceof StreamInterrupted, String(err))
    assert.ok(waited >= 295 && waited < 1500, `waited ${waited} ms`)
    assert.ok(err.cause instanceof StreamTimeoutError && err.cause instanceof TimeoutError)
    assert.equal(err.cause.deadline, 'stall')
    assert.equal(err.partialText, PREFIX)
    assert.equal(textOf(got), PREFIX)
    assert.equal(err.chunks, 4)
    const st = await released(s)
    assert.ok(st.openConnections <= 1, `${st.openConnections} open connections`)
    assert.equal(s.stats().requests, 1)
    assert.equal(seen.length, 1)
    assert.equal(seen[0].error, err)
  }),
)

test(
  'a stream without its first chunk in time is retried unseen',
  withServer({ script: ['stall_stream'], faults: fault('stall_stream', 0) }, async (s) => {
    const c = wrapOpenAI(sdk(s), { policy: policy(), streamPolicy: new StreamPolicy({ firstChunkTimeoutMs: 300, stallTimeoutMs: 5000 }) })
    const t = performance.now()
    const got = []
    for await (const ch of await c.chat.completions.create({ model: 'm', messages: MSG, stream: true })) got.push(ch)
    const took = performance.now() - t
    assert.equal(textOf(got), FULL)
    assert.ok(took >= 295 && took < 2000, `took ${took} ms`)
    assert.deepEqual(
      s.requests.map((q) => q.fault),
      ['stall_stream', 'ok'],
    )
  }),
)

test(
  'raise carries exactly what was delivered',
  withServer({ script: ['truncated_stream'], faults: fault('truncated_stream', 4) }, async (s) => {
    const c = wrapOpenAI(sdk(s), { policy: policy() })
    const got = []
    await assert.rejects(
      async () => {
        for await (const ch of await c.chat.completions.create({ model: 'm', messages: MSG, stream: true })) got.push(ch)
      },
      (e) => e instanceof StreamInterrupted && e.partialText === PREFIX && e.usage === null,
    )
    assert.equal(textOf(got), PREFIX)
    assert.equal(s.stats().requests, 1)
  }),
)

test(
  'continue makes one seamless stream; the resumed request carries the delivered prefix',
  withServer({ script: ['truncated_stream'], faults: fault('truncated_stream', 4) }, async (s) => {
    const seen = recording()
    const c = wrapOpenAI(sdk(s), { policy: policy(), streamPolicy: new StreamPolicy({ onInterrupt: 'continue' }) })
    const got = []
    for await (const ch of await c.chat.completions.create({ model: 'm', messages: MSG, stream: true })) got.push(ch)
    assert.equal(textOf(got), FULL)
    assert.deepEqual(s.requests[1].json.messages.at(-1), { role: 'assistant', content: PREFIX })
    assert.equal(seen.length, 1)
    assert.equal(seen[0].error, undefined)
  }),
)

test(
  'fallback streams after the delivered prefix',
  withServer({ script: ['truncated_stream'], faults: fault('truncated_stream', 4) }, async (s) => {
    const seen = []
    const fallback = (e) => {
      seen.push(e)
      return [{ choices: [{ index: 0, delta: { content: '[fallback]' }, finish_reason: 'stop' }] }]
    }
    const c = wrapOpenAI(sdk(s), { policy: policy(), streamPolicy: new StreamPolicy({ onInterrupt: 'fallback', fallback }) })
    const got = []
    for await (const ch of await c.chat.completions.create({ model: 'm', messages: MSG, stream: true })) got.push(ch)
    assert.equal(textOf(got), PREFIX + '[fallback]')
    assert.equal(seen[0].partialText, PREFIX)
  }),
)

test(
  'a consumer that breaks releases its connection',
  withServer({ script: ['stall_stream'], faults: fault('stall_stream', 6) }, async (s) => {
    const seen = recording()
    const c = wrapOpenAI(sdk(s), { policy: policy() })
    let n = 0
    for await (const _ of await c.chat.completions.create({ model: 'm', messages: MSG, stream: true })) {
      void _
      if (++n === 2) {
        assert.equal(s.stats().openConnections, 1)
        break
      }
    }
    const st = await released(s)
    assert.ok(st.openConnections <= 1, `${st.openConnections} open connections`)
    assert.equal(seen.length, 1)
    assert.equal(seen[0].error, undefined)
  }),
)

test('bad stream policies name the option', () => {
  for (const [opts, param] of [
    [{ stallTimeoutMs: 0 }, 'stallTimeoutMs'],
    [{ firstChunkTimeoutMs: -1 }, 'firstChunkTimeoutMs'],
    [{ onInterrupt: 'retry' }, 'onInterrupt'],
    [{ onInterrupt: 'fallback' }, 'fallback'],
    [{ maxResumes: 1.5 }, 'maxResumes'],
    [{ stall: 1 }, 'stall'],
  ]) {
    assert.throws(
      () => new StreamPolicy(opts),
      (e) => e.code === 'FERRULE_INVALID_CONFIG' && e.param === param && e.message.includes(param),
    )
  }
  assert.throws(() => wrapOpenAI(new OpenAI({ apiKey: 'k' }), { streamPolicy: { stallTimeoutMs: 5 } }), /streamPolicy/)
})

// ---- time per chunk ---------------------------------------------------------------------------------

const { metricsText } = require('ferrule')

/** `{ count, sum }` of one histogram series in the exposition (0 when absent). */
function series(metric, model) {
  const out = { count: 0, sum: 0 }
  for (const line of metricsText().split('\n')) {
    for (const k of ['count', 'sum']) {
      if (line.startsWith(`${metric}_${k}`) && line.includes(`gen_ai_request_model="${model}"`)) out[k] = Number(line.split(' ').at(-1))
    }
  }
  return out
}

for (const deadlines of [false, true]) {
  test(
    `a stream records its time per chunk beside its time to first chunk (${deadlines ? 'stall deadline' : 'plain'})`,
    withServer({}, async (s) => {
      const model = `per-chunk-${deadlines}`
      const c = wrapOpenAI(sdk(s), { policy: policy(), streamPolicy: new StreamPolicy(deadlines ? { stallTimeoutMs: 30_000 } : {}) })
      const t = performance.now()
      const got = []
      for await (const ch of await c.chat.completions.create({ model, messages: MSG, stream: true }, { headers: { 'x-mock-content': 'x'.repeat(1200) } })) got.push(ch)
      const took = (performance.now() - t) / 1000
      assert.equal(textOf(got), 'x'.repeat(1200)) // 300 chunks: past one batch of 256
      assert.equal(series('gen_ai_client_operation_time_to_first_chunk_seconds', model).count, 1)
      const per = series('gen_ai_client_operation_time_per_output_chunk_seconds', model)
      assert.equal(per.count, got.length - 1) // one gap per chunk after the first
      assert.ok(per.sum > 0 && per.sum <= took, `${per.sum} s of gaps in a ${took} s call`)
    }),
  )
}

// ---- validation while streaming -------------------------------------------------------------------

const { PartialJson, streamValidated, ValidationError } = require('ferrule')
const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: { mood: { enum: ['happy', 'sad'] }, score: { type: 'integer', maximum: 10 }, note: { type: 'string' } },
  required: ['mood', 'score'],
}
const GOOD = '{"mood": "happy", "score": 7, "note": "' + 'fine '.repeat(10) + '"}'
const BAD = '{"mood": "angry", "score": 7, "note": "' + 'grr '.repeat(40) + '"}'

test('PartialJson grows partial values and throws at an unrecoverable violation', () => {
  const p = new PartialJson({ schema: SCHEMA })
  const got = ['{"mo', 'od": "ha', 'ppy", "sco', 're": 7', '}'].map((x) => p.feed(x))
  assert.deepEqual(got, [{}, { mood: 'ha' }, { mood: 'happy' }, undefined, { mood: 'happy', score: 7 }])
  assert.ok(p.complete)
  assert.throws(
    () => new PartialJson({ schema: SCHEMA }).feed('{"mood": "an'),
    (e) => e instanceof ValidationError && e.kind === 'schema' && e.errors[0].path === '/mood' && e.raw === '{"mood": "an',
  )
})

test(
  'a violating stream is stopped early and re-asked; a valid one streams partial values',
  withServer({}, async (s) => {
    const c = wrapOpenAI(sdk(s), { policy: policy() })
    const answers = [BAD, GOOD]
    const read = []
    const create = async (req) => {
      const i = read.length
      read.push(0)
      const stream = await c.chat.completions.create(req, { headers: { 'x-mock-content': answers[i] } })
      return (async function* () {
        for await (const ch of stream) {
          read[i]++
          yield ch
        }
      })()
    }
    const values = []
    for await (const v of streamValidated(create, { model: 'm', messages: MSG }, { schema: SCHEMA, reask: 1 })) values.push(v)
    assert.deepEqual(values.at(-1), JSON.parse(GOOD))
    assert.ok(values.some((v) => v.mood === 'ha'))
    assert.ok(read[0] <= 5 && read[0] < BAD.length / 4, `read ${read[0]} chunks of the bad answer`)
    assert.ok(s.requests[1].json.messages.at(-1).content.includes('/mood'))
  }),
)
