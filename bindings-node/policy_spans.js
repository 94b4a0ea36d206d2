'use strict'
// Spans for calls through a Policy: one `call` span per call, one `attempt` child per attempt
// (numbered `ferrule.attempt`, current while the user's function runs, so an SDK wrapper sends its
// ids as `traceparent`) and one `fallback` child when a fallback answers. Recorded only when
// `configure({ tracePolicies: true })` is on, or when an integration opened the call span itself
// (`wrapOpenAI`); otherwise a policy's hot path does not touch the tracer. The core mints ids,
// samples, masks and records; this module opens and closes spans around the policy's own loop.

const { startSpan } = require('./telemetry.js')
const { runWithSpan, currentSpanNative, POLICY_SPANS } = require('./telemetry.js').internal

// Call spans whose policy records a fallback child: the natives of the spans this module opened or
// was handed. Weak, so an ended span is forgotten with its handle.
const TRACED = new WeakSet()

// The Policy method that runs a call with spans: a symbol, so it stays off the public API.
const TRACED_CALL = Symbol('ferrule.tracedCall')

/** Runs `f()` and ends `span` when it returns, throws, or its promise settles. */
function endWith(span, f, before) {
  let r
  try {
    r = f()
  } catch (e) {
    if (before !== undefined) before()
    span.recordError(e)
    span.end()
    throw e
  }
  if (r !== null && typeof r === 'object' && typeof r.then === 'function') {
    return r.then(
      (v) => {
        if (before !== undefined) before()
        span.end()
        return v
      },
      (e) => {
        if (before !== undefined) before()
        span.recordError(e)
        span.end()
        throw e
      },
    )
  }
  if (before !== undefined) before()
  span.end()
  return r
}

/**
 * `run(attemptFn)` with spans: `fn` becomes an attempt function that opens a child span per attempt.
 * `opts.parent`: a call span the caller opened (and ends) itself; `opts.name` / `opts.attributes`
 * name the attempt spans; `opts.counter.n` counts the attempts.
 */
function tracedCall(policyName, run, fn, opts) {
  const o = opts || {}
  const counter = o.counter || { n: 0 }
  const attemptName = o.name || `${policyName} attempt`
  const base = { 'ferrule.policy.name': policyName, ...(o.attributes || {}) }
  const attempt = function (ctx, ...a) {
    counter.n++
    const s = startSpan({ name: attemptName, role: 'attempt', attributes: { ...base, 'ferrule.attempt': counter.n } })
    return runWithSpan(s, () => endWith(s, () => fn(ctx, ...a)))
  }
  if (o.parent !== undefined) {
    TRACED.add(o.parent._native)
    return runWithSpan(o.parent, () => run(attempt))
  }
  const call = startSpan({ name: policyName, role: 'call', attributes: { 'ferrule.policy.name': policyName } })
  TRACED.add(call._native)
  return runWithSpan(call, () => endWith(call, () => run(attempt), () => call.setAttribute('ferrule.attempts', counter.n)))
}

/** The fallback's span when the current call is traced, else null. */
function fallbackSpan(policyName, err) {
  const cur = currentSpanNative()
  if (cur === null || !TRACED.has(cur)) return null
  const cause = err && err.constructor && err.constructor.name ? err.constructor.name : typeof err
  return startSpan({ name: `${policyName} fallback`, role: 'fallback', attributes: { 'ferrule.policy.name': policyName, 'ferrule.fallback.cause': cause } })
}

module.exports = { POLICY_SPANS, TRACED_CALL, tracedCall, fallbackSpan, endWith, runWithSpan }
