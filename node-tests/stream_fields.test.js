'use strict'
// StreamFields keeps text-only chunks on the JS side and hands them to the core in batches: over
// random chunk sequences (OpenAI chat chunks with text, empty and missing deltas, tool calls, finish
// reasons, usage, several choices, other providers' events), what the core ends up with must be
// exactly what folding every chunk in the core gives. And the chunk times become the gaps.

const test = require('node:test')
const assert = require('node:assert/strict')
const { CallStream } = require('../bindings-node/llm_call.js')
const { StreamFields, textOnly } = require('../bindings-node/stream_fields.js')

function rng(seed) {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 4294967296
  }
}

const pick = (r, xs) => xs[Math.floor(r() * xs.length)]

function chunk(r, i) {
  const base = { id: pick(r, ['c1', undefined]), object: 'chat.completion.chunk', created: 0, model: pick(r, ['m', 'm', undefined]) }
  const kind = pick(r, ['text', 'text', 'text', 'text', 'empty', 'nocontent', 'tool', 'finish', 'usage', 'two', 'anthropic', 'nullchoices'])
  const text = pick(r, ['ab', 'héllo ', '', ' 🚀', `#${i}`])
  switch (kind) {
    case 'text':
      return { ...base, choices: [{ index: 0, delta: { content: text }, finish_reason: null }] }
    case 'empty':
      return { ...base, choices: [{ index: 0, delta: {}, finish_reason: null }] }
    case 'nocontent':
      return { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: null }, finish_reason: null }] }
    case 'tool':
      return { ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"a' } }] }, finish_reason: null }] }
    case 'finish':
      return { ...base, choices: [{ index: 0, delta: { content: text }, finish_reason: 'stop' }] }
    case 'usage':
      return { ...base, choices: [], usage: { prompt_tokens: 3 + i, completion_tokens: i } }
    case 'two':
      return { ...base, choices: [{ index: 0, delta: { content: 'x' } }, { index: 1, delta: { content: 'y' }, finish_reason: 'length' }] }
    case 'anthropic':
      return { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }
    default:
      return { ...base, choices: null }
  }
}

test('the kept chunks fold to exactly what the core folds from every chunk', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const r = rng(seed)
    const n = 1 + Math.floor(r() * 600) // past one batch of 256 in many runs
    const chunks = Array.from({ length: n }, (_, i) => chunk(r, i))
    const all = new CallStream(undefined, true)
    const fields = new StreamFields(new CallStream(undefined, true))
    for (const c of chunks) {
      all.chunk(c)
      fields.mark(performance.now())
      fields.chunk(c)
    }
    fields.flush()
    assert.equal(fields.text, all.text, `seed ${seed}`)
    assert.equal(fields.finished, all.finished, `seed ${seed}`)
    assert.deepEqual(fields.usage, all.usage, `seed ${seed}`)
  }
})

test('only a lone text delta is kept on the JS side', () => {
  assert.equal(textOnly({ choices: [{ delta: { content: 'a' }, finish_reason: null }] }), 'a')
  assert.equal(textOnly({ choices: [{ delta: {} }] }), '')
  assert.equal(textOnly({ choices: [{ delta: { content: 'a' }, finish_reason: 'stop' }] }), undefined)
  assert.equal(textOnly({ choices: [{ delta: { tool_calls: [] } }] }), undefined)
  assert.equal(textOnly({ choices: [{ delta: { content: 'a' } }], usage: { completion_tokens: 1 } }), undefined)
  assert.equal(textOnly({ choices: [{ delta: { content: 'a' } }, { delta: { content: 'b' } }] }), undefined)
  assert.equal(textOnly({ type: 'content_block_delta', delta: { text: 'a' } }), undefined)
  assert.equal(textOnly({ choices: [{ delta: { content: ['a'] } }] }), undefined)
})

test('chunk times become the gaps between chunks, across batches', () => {
  const fields = new StreamFields(new CallStream(undefined, true))
  const c = { id: 'c', model: 'm', choices: [{ index: 0, delta: { content: 'ab' }, finish_reason: null }] }
  fields.chunk(c) // the first: the core reads the model and id
  for (let i = 0; i < 600; i++) {
    fields.mark(1000 + i * 2) // every 2 ms
    fields.chunk(c)
  }
  fields.flush()
  const [count, sum] = fields.native.chunkGaps
  assert.equal(count, 599)
  assert.ok(Math.abs(sum - 599 * 0.002) < 1e-9, String(sum))
  assert.equal(fields.text, 'ab'.repeat(601))
})
