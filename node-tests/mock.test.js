'use strict'
// The mock LLM server through the real `openai` npm package: answers with usage, streaming, each
// fault as the SDK sees it, recorded requests, and bad options.

const test = require('node:test')
const assert = require('node:assert/strict')
const OpenAI = require('openai')
const { MockLLMServer } = require('ferrule')

const MSG = [{ role: 'user', content: 'What is a circuit breaker?' }]
const client = (s, opts = {}) => new OpenAI({ baseURL: s.url, apiKey: 'test-key', maxRetries: 0, ...opts })

test('chat completion with usage, and the request is recorded', async () => {
  const s = new MockLLMServer()
  try {
    const r = await client(s).chat.completions.create({ model: 'mock-gpt-4o-mini', messages: MSG })
    assert.equal(r.choices[0].message.content, 'Mock answer to: What is a circuit breaker?')
    assert.ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0)
    const [req] = s.requests
    assert.equal(req.path, '/v1/chat/completions')
    assert.deepEqual(req.json.messages, MSG)
    assert.equal(req.headers.authorization, 'Bearer test-key')
  } finally {
    s.stop()
  }
})

test('429 carries retry hints in error.headers; 500 and 503 map to InternalServerError', async () => {
  const s = new MockLLMServer({ script: ['429', '500', '503'], faults: [{ kind: '429', rate: 0, retryAfterMs: 2500 }] })
  try {
    const c = client(s)
    await assert.rejects(c.chat.completions.create({ model: 'm', messages: MSG }), (e) => {
      assert.ok(e instanceof OpenAI.RateLimitError)
      assert.equal(e.headers.get('retry-after'), '3')
      assert.equal(e.headers.get('retry-after-ms'), '2500')
      assert.equal(e.headers.get('x-ratelimit-reset-requests'), '2500ms')
      return true
    })
    await assert.rejects(c.chat.completions.create({ model: 'm', messages: MSG }), (e) => e.status === 500)
    await assert.rejects(c.chat.completions.create({ model: 'm', messages: MSG }), (e) => e.status === 503)
  } finally {
    s.stop()
  }
})

test('the SDK own retries show up as extra requests at the server', async () => {
  const s = new MockLLMServer({ script: ['503', '503'] })
  try {
    const r = await client(s, { maxRetries: 2 }).chat.completions.create({ model: 'm', messages: MSG })
    assert.ok(r.choices[0].message.content)
    assert.equal(s.stats().requests, 3)
  } finally {
    s.stop()
  }
})

test('streaming with usage; a truncated stream fails', async () => {
  const s = new MockLLMServer({ script: ['ok', 'truncated_stream'] })
  try {
    const c = client(s)
    let text = ''
    let usage = null
    const stream = await c.chat.completions.create({ model: 'm', messages: MSG, stream: true, stream_options: { include_usage: true } })
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content) text += chunk.choices[0].delta.content
      if (chunk.usage) usage = chunk.usage
    }
    assert.equal(text, 'Mock answer to: What is a circuit breaker?')
    assert.ok(usage.completion_tokens > 0)
    await assert.rejects(async () => {
      for await (const _ of await c.chat.completions.create({ model: 'm', messages: MSG, stream: true })) {
        // drain
      }
    })
  } finally {
    s.stop()
  }
})

test('a reset is a connection error, a hang a timeout; stop releases hung connections', async () => {
  const s = new MockLLMServer({ script: ['reset', 'hang'], hangMs: 60000 })
  try {
    const c = client(s)
    await assert.rejects(c.chat.completions.create({ model: 'm', messages: MSG }), (e) => e instanceof OpenAI.APIConnectionError)
    const t0 = Date.now()
    await assert.rejects(c.chat.completions.create({ model: 'm', messages: MSG }, { timeout: 300 }), (e) => e instanceof OpenAI.APIConnectionTimeoutError)
    assert.ok(Date.now() - t0 < 5000)
  } finally {
    s.stop()
  }
})

test('embeddings and deterministic seeded faults', async () => {
  const run = async () => {
    const s = new MockLLMServer({ faults: [{ kind: '503', rate: 0.4 }], seed: 42 })
    try {
      const c = client(s)
      for (let i = 0; i < 30; i++) await c.chat.completions.create({ model: 'm', messages: MSG }).catch(() => {})
      const e = await c.embeddings.create({ model: 'mock-embedding', input: ['a b c'], dimensions: 8 }, { headers: { 'x-mock-fault': 'ok' } })
      assert.equal(e.data[0].embedding.length, 8)
      return s.requests.slice(0, 30).map((r) => r.fault)
    } finally {
      s.stop()
    }
  }
  const a = await run()
  const b = await run()
  assert.deepEqual(a, b)
  const n = a.filter((f) => f === 'unavailable').length
  assert.ok(n > 5 && n < 20, String(n))
})

test('bad options are refused naming the option and the allowed values', () => {
  assert.throws(() => new MockLLMServer({ host: '0.0.0.0' }), (e) => e instanceof RangeError && /host=0\.0\.0\.0 is out of range; allowed: a loopback address/.test(e.message))
  assert.throws(() => new MockLLMServer({ faults: [{ kind: 'teapot' }] }), (e) => e instanceof RangeError && /kind="teapot"/.test(e.message))
  assert.throws(() => new MockLLMServer({ speed: 1 }), (e) => e instanceof TypeError && /unknown option speed/.test(e.message))
})
