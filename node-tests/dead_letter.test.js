'use strict'
// DeadLetterQueue and the policy's deadLetter option: storage, onFull, masking, replay (poison
// messages, filter, max), metrics, errors, and the real `openai` package against the mock server.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const OpenAI = require('openai')
const { DeadLetterQueue, DeadLetter, ManualClock, MockLLMServer, Policy, RetryError, metricsText, withSpan, wrapOpenAI } = require('ferrule')

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferrule-dlq-node-'))
let n = 0
const file = () => path.join(dir, `q${n++}.sqlite`)
const retrying = (attempts, extra = {}) =>
  new Policy({ retry: { attempts, backoff: { kind: 'constant', delayMs: 0 }, budgetRatio: null }, clock: new ManualClock(), ...extra })

test.after(() => fs.rmSync(dir, { recursive: true, force: true }))

test('push, size, list, get, purge', async () => {
  const q = new DeadLetterQueue({ path: file(), maxItems: 10 })
  assert.equal(q.size, 0)
  const a = q.push({ n: 1 }, { errors: ['boom'], key: 'k', attempts: 2, traceId: 'a'.repeat(32) })
  const b = q.push('{"n":2}')
  assert.ok(b > a)
  assert.equal(q.size, 2)
  assert.equal(q.length, 2)
  const items = await q.list()
  assert.ok(items[0] instanceof DeadLetter)
  assert.deepEqual(items.map((i) => i.data()), [{ n: 1 }, { n: 2 }])
  const first = await q.get(a)
  assert.deepEqual([first.key, first.errors, first.attempts, first.traceId, first.replayCount], ['k', ['boom'], 2, 'a'.repeat(32), 0])
  assert.ok(first.firstFailedUnixMs > Date.now() - 60_000)
  assert.equal((await q.list(1)).length, 1)
  assert.deepEqual(await q.list(10, Date.now() + 3_600_000), [])
  assert.equal(await q.purge(0), 0)
  assert.equal(await q.purge(), 2)
  assert.equal(q.size, 0)
})

test('bad options name the option, value and range', () => {
  assert.throws(() => new DeadLetterQueue({ path: file(), onFull: 'sometimes' }), (e) => e instanceof RangeError && /onFull="sometimes"/.test(e.message) && e.code === 'FERRULE_INVALID_CONFIG')
  assert.throws(() => new DeadLetterQueue({ path: file(), maxItems: 0 }), (e) => e instanceof RangeError && /maxItems=0 is out of range/.test(e.message))
  assert.throws(() => new DeadLetterQueue({ path: file(), replayLeaseMs: -5 }), (e) => e instanceof RangeError && /replayLeaseMs=-5/.test(e.message))
  assert.throws(() => new DeadLetterQueue({ path: file(), maxItem: 5 }), TypeError)
  assert.throws(() => new Policy({ deadLetter: 'q.sqlite' }), TypeError)
  assert.throws(() => new DeadLetterQueue({ path: path.join(dir, 'no', 'such', 'dir', 'q.sqlite') }), (e) => e.code === 'FERRULE_STORAGE')
})

test('onFull reject and dropOldest are counted, warned and exported', async () => {
  const warnings = []
  const on = (w) => warnings.push(w.code)
  process.on('warning', on)
  const rej = new DeadLetterQueue({ path: file(), maxItems: 2, name: 'node_rej' })
  assert.deepEqual([0, 1, 2, 3].map((i) => rej.push(i) !== null), [true, true, false, false])
  assert.equal(rej.stats().rejected, 2)
  const drop = new DeadLetterQueue({ path: file(), maxItems: 2, onFull: 'dropOldest', name: 'node_drop' })
  for (let i = 0; i < 4; i++) assert.notEqual(drop.push(i), null)
  assert.deepEqual((await drop.list()).map((i) => i.payload), ['2', '3'])
  assert.equal(drop.stats().evicted, 2)
  await new Promise((r) => setImmediate(r))
  process.off('warning', on)
  assert.ok(warnings.includes('FERRULE_DEAD_LETTER_REJECTED'))
  assert.ok(warnings.includes('FERRULE_DEAD_LETTER_EVICTED'))
  const m = metricsText()
  assert.match(m, /ferrule_dead_letters_total\{name="node_rej",outcome="rejected"\} 2/)
  assert.match(m, /ferrule_dead_letters_total\{name="node_drop",outcome="evicted"\} 2/)
  assert.match(m, /ferrule_dead_letter_depth\{name="node_drop"\} 2/)
  assert.match(m, /ferrule_dead_letter_oldest_age_seconds\{name="node_drop"\}/)
})

test('replay removes successes, keeps failures with the new error, and a poison message never blocks', async () => {
  const q = new DeadLetterQueue({ path: file() })
  for (const p of ['ok1', 'poison', 'ok2', 'skip', 'ok3']) q.push({ p }, { errors: ['first'] })
  const seen = []
  const r = await q.replay(
    async (item) => {
      seen.push(item.data().p)
      if (item.data().p === 'poison') throw new Error('still broken')
    },
    { filter: (i) => i.data().p !== 'skip' },
  )
  assert.deepEqual(seen, ['ok1', 'poison', 'ok2', 'ok3'])
  assert.deepEqual(r, { succeeded: 3, failed: 1, skipped: 1, busy: 0 })
  const left = await q.list()
  assert.deepEqual(left.map((i) => i.data().p), ['poison', 'skip'])
  assert.deepEqual(left[0].errors, ['first', 'Error: still broken'])
  assert.equal(left[0].replayCount, 1)
  const r2 = await q.replay(() => {}, { max: 1 })
  assert.equal(r2.succeeded, 1)
  assert.equal(q.size, 1)
})

test('a policy stores a call that exhausted its retries: arguments, error chain, attempts, trace id', async () => {
  const q = new DeadLetterQueue({ path: file(), mask: false })
  const p = new Policy({
    retry: { attempts: 3, retryOn: () => true, backoff: { kind: 'constant', delayMs: 0 }, budgetRatio: null },
    clock: new ManualClock(),
    deadLetter: q,
    name: 'ask',
  })
  let calls = 0
  const ask = p.wrap(async (_ctx, prompt, opts) => {
    calls++
    throw new Error(`down #${calls}`)
  })
  let traceId
  await withSpan({ name: 'request' }, async (span) => {
    traceId = span.traceId
    await assert.rejects(ask('hello', { temperature: 0.2 }), RetryError)
  })
  assert.equal(calls, 3)
  const [item] = await q.list()
  assert.equal(item.key, 'ask')
  assert.deepEqual(item.args, ['hello', { temperature: 0.2 }])
  assert.equal(item.attempts, 3)
  assert.deepEqual(item.errors.slice(0, 3), ['attempt 1: Error: down #1', 'attempt 2: Error: down #2', 'attempt 3: Error: down #3'])
  assert.match(item.errors[3], /^RetryError: ask: gave up after 3 attempt/)
  assert.equal(item.traceId, traceId)
})

test('a fallback that saves the call stores nothing; a failed fallback is stored', async () => {
  const q = new DeadLetterQueue({ path: file() })
  const boom = async (_ctx, x) => {
    throw new Error(`bad ${x}`)
  }
  assert.equal(await new Policy({ fallback: (_e, x) => -x, deadLetter: q }).execute(boom, { args: [7] }), -7)
  assert.equal(q.size, 0)
  const lost = new Policy({ deadLetter: q, fallback: () => { throw new Error('fallback broke') } })
  await assert.rejects(lost.execute(boom, { args: [8] }), /fallback broke/)
  const [item] = await q.list()
  assert.deepEqual(item.args, [8])
  assert.deepEqual(item.errors, ['Error: bad 8', 'Error: fallback broke'])
})

test('payloads and errors are masked unless mask: false', async () => {
  const fail = async () => {
    throw new Error('rejected key sk-abcdefghijklmnopqrstuvwx')
  }
  const masked = new DeadLetterQueue({ path: file() })
  await assert.rejects(new Policy({ deadLetter: masked }).execute(fail, { args: [{ email: 'ann@example.com' }] }))
  const [m] = await masked.list()
  assert.deepEqual(m.args, [{ email: '[EMAIL]' }])
  assert.deepEqual(m.errors, ['Error: rejected key [SECRET]'])
  const raw = new DeadLetterQueue({ path: file(), mask: false })
  await assert.rejects(new Policy({ deadLetter: raw }).execute(fail, { args: [{ email: 'ann@example.com' }] }))
  assert.deepEqual((await raw.list())[0].args, [{ email: 'ann@example.com' }])
})

test('a dead letter written by one process is replayed by another', async () => {
  const f = file()
  const q = new DeadLetterQueue({ path: f })
  for (let i = 0; i < 3; i++) q.push({ i })
  const script = `
    const { DeadLetterQueue } = require('ferrule')
    const q = new DeadLetterQueue({ path: ${JSON.stringify(f)} })
    const seen = []
    q.replay((d) => { seen.push(d.data().i) }).then((r) => console.log(JSON.stringify([seen, r.succeeded])))
  `
  const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })
  assert.deepEqual(JSON.parse(out.trim().split('\n').pop()), [[0, 1, 2], 3])
  assert.equal(q.size, 0)
})

test('openai: a request that exhausts retries lands in the DLQ, replays after the fault lifts, and is removed', async () => {
  const s = new MockLLMServer({ script: ['500', '500', '500'] })
  try {
    const q = new DeadLetterQueue({ path: file(), mask: false })
    const client = new OpenAI({ baseURL: s.url, apiKey: 'k', maxRetries: 0 })
    const wrapped = wrapOpenAI(client, { policy: retrying(3, { deadLetter: q, name: 'chat' }) })
    const messages = [{ role: 'user', content: 'summarise the report' }]
    await assert.rejects(wrapped.chat.completions.create({ model: 'gpt-4o-mini', messages }), RetryError)
    assert.equal(s.requests.length, 3)
    const [item] = await q.list()
    assert.equal(item.key, 'chat')
    assert.equal(item.attempts, 3)
    assert.deepEqual(item.args[0], { model: 'gpt-4o-mini', messages })
    const answers = []
    const r = await q.replay(async (d) => answers.push(await client.chat.completions.create(...d.args)))
    assert.equal(r.succeeded, 1)
    assert.equal(q.size, 0)
    assert.ok(answers[0].choices[0].message.content)
    assert.deepEqual(s.requests.at(-1).json.messages, messages)
  } finally {
    s.stop()
  }
})
