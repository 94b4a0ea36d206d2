'use strict'
// Alerting from Node: onAlert, AlertRouter on a ManualClock (grouping, silence, ack, escalation,
// cap + digest), watchers and switches publishing to the installed router, a policy beating a
// switch, probes on timers without overlap, and the background runtime feeding a JS callback.

const test = require('node:test')
const assert = require('node:assert')
const { AlertRouter, DeadMansSwitch, SyntheticProbe, ManualClock, Policy, SLO, onAlert, metricsText } = require('../bindings-node/index.js')

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
async function waitFor(pred, ms = 10000) {
  const end = Date.now() + ms
  while (!pred()) {
    assert.ok(Date.now() < end, 'condition not reached in time')
    await sleep(10)
  }
}

test('router on a manual clock: grouping, silence, ack, escalation', () => {
  const clock = new ManualClock()
  const chat = []
  const oncall = []
  const r = new AlertRouter({
    routes: [{ name: 'llm', sinks: [(n) => chat.push(n)], severity: 'warning', escalate: [[600_000, (n) => oncall.push(n)]] }],
    install: false,
    clock,
  })
  const t0 = clock.now()
  const a = r.fire('ProviderDown', 'critical', { model: 'a' }, 'a is down')
  r.fire('ProviderDown', 'critical', { model: 'b' }, 'b is down')
  assert.deepStrictEqual(r.tick({ atMs: t0 + 29_000 }), [])
  const sent = r.tick({ atMs: t0 + 30_000 })
  assert.strictEqual(sent.length, 1)
  assert.strictEqual(sent[0].alerts.length, 2)
  assert.strictEqual(chat.length, 1)
  for (const k of ['name', 'severity', 'labels', 'status', 'summary', 'startsAt', 'count']) assert.ok(k in chat[0], k)
  const sid = r.silence({ model: 'b' }, 3_600_000, 'maintenance', { atMs: t0 + 31_000 })
  assert.ok(r.ack(a))
  assert.deepStrictEqual(r.tick({ atMs: t0 + 700_000 }), [])
  assert.ok(r.expireSilence(sid))
  const esc = r.tick({ atMs: t0 + 701_000 })
  assert.strictEqual(esc[0].kind, 'escalation')
  assert.strictEqual(oncall[0].level, 1)
  assert.throws(() => r.fire('X', 'loud'), (e) => e instanceof RangeError && /severity/.test(e.message))
})

test('cap and digest', () => {
  const clock = new ManualClock()
  const got = []
  const r = new AlertRouter({ routes: [{ sinks: [(n) => got.push(n)], groupBy: ['alertname', 'series'] }], cap: 2, capWindowMs: 60_000, install: false, clock })
  const t0 = clock.now()
  for (let i = 0; i < 10; i++) r.fire('Spike', 'warning', { series: String(i) })
  assert.strictEqual(r.tick({ atMs: t0 + 30_000 }).length, 2)
  const d = r.tick({ atMs: t0 + 90_000 }).filter((n) => n.kind === 'digest')
  assert.strictEqual(d.length, 1)
  assert.strictEqual(d[0].held, 8)
})

test('dead man switch fires, a policy success resolves it; watchers publish to the installed router', async () => {
  const clock = new ManualClock()
  const got = []
  const r = new AlertRouter({ sinks: [(n) => got.push(n)], groupWaitMs: 0, clock })
  try {
    const sw = new DeadMansSwitch('worker', 60_000, { severity: 'page', clock })
    clock.advance(60_000)
    const ev = sw.check()
    assert.strictEqual(ev[0].state, 'firing')
    r.tick()
    assert.strictEqual(got[0].severity, 'page')
    const policy = new Policy({ clock, heartbeat: sw, name: 'beats' })
    assert.strictEqual(await policy.execute(async () => 7), 7)
    assert.strictEqual(sw.firing, false)
    assert.strictEqual(sw.beats, 1)
    const slo = new SLO('node-slo', { objective: 0.99, clock })
    const t0 = clock.now()
    for (let i = 0; i < 600; i++) slo.record(false, 100, false, t0 + i * 1000)
    assert.ok(r.alerts().some((a) => a.name.startsWith('slo.')))
    assert.ok(slo.gauges().some(([n]) => n === 'ferrule_slo_burn_rate'))
    assert.match(metricsText(), /ferrule_slo_budget_remaining_ratio\{slo="node-slo"\}/)
  } finally {
    r.close()
  }
})

test('probe on a manual clock: alerts after two failures, beats the switch, tagged synthetic', async () => {
  const clock = new ManualClock()
  const sw = new DeadMansSwitch('probe-beat', 600_000, { clock })
  const answers = [true, false, false, true]
  const p = new SyntheticProbe('chat', () => answers.shift(), 10_000, 5_000, { expect: Boolean, jitter: 0, deadman: sw, clock })
  assert.strictEqual(await p.runOnce(), true)
  assert.strictEqual(await p.runOnce(), null)
  const out = []
  for (let i = 0; i < 3; i++) {
    clock.advance(10_000)
    out.push(await p.runOnce())
  }
  assert.deepStrictEqual(out, [false, false, true])
  const s = p.stats()
  assert.deepStrictEqual([s.runs, s.ok, s.failed, s.synthetic], [4, 2, 2, true])
  assert.strictEqual(sw.beats, 2)
})

test('probe timers never overlap and time out slow runs', async () => {
  let now = 0
  let max = 0
  let calls = 0
  const p = new SyntheticProbe(
    'slow',
    async () => {
      now++
      calls++
      max = Math.max(max, now)
      await sleep(60)
      now--
    },
    20,
    20,
    { jitter: 0 },
  )
  await waitFor(() => calls >= 4)
  p.stop()
  await sleep(80)
  assert.strictEqual(max, 1)
  assert.ok(p.stats().timedOut >= 3)
})

test('onAlert gets notifications from the background runtime', async () => {
  const got = []
  onAlert((n) => got.push(n))
  // onAlert's router uses the defaults (30 s group wait); a faster one for the test:
  const r = new AlertRouter({ sinks: [(n) => got.push(n)], groupWaitMs: 0, groupIntervalMs: 50, drainIntervalMs: 10 })
  try {
    const sw = new DeadMansSwitch('node-bg', 100)
    await waitFor(() => got.some((n) => n.name === 'deadman.missed'))
    assert.ok(Math.abs(got[0].startsAt - Date.now()) < 60_000, 'startsAt is Unix ms')
    sw.beat()
    await waitFor(() => got.some((n) => n.status === 'resolved'))
  } finally {
    r.close()
  }
})
