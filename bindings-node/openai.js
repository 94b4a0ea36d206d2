'use strict'
// `wrapOpenAI(client, { policy, modelPolicies })`: the `openai` npm client behind a Proxy whose
// `chat.completions.create` (also `stream: true`), `embeddings.create` and `responses.create` run
// through a ferrule Policy. The SDK's own retries are off when ferrule retries (they never stack),
// each attempt gets the policy's remaining deadline as its `timeout` and its abort `signal`, and a
// `traceparent` of one trace per call; the policy reads Retry-After / x-ratelimit-* from the SDK's
// errors. Everything else passes through to the client.

const { randomBytes } = require('node:crypto')
const { Policy } = require('./policy.js')
const { recordCall } = require('./llm_call.js')

// The call's trace id rides in the request options under a symbol (the SDK reads only string keys),
// so a policy's fallback receives exactly the caller's (body, options).
const TRACE_ID = Symbol('ferrule.traceId')

const ENDPOINTS = { chat: { completions: 'chat' }, embeddings: 'embeddings', responses: 'responses' }

function newTraceId() {
  return randomBytes(16).toString('hex')
}

function traceparent(traceId) {
  return `00-${traceId}-${randomBytes(8).toString('hex')}-01`
}

function hasTraceparent(headers) {
  if (headers === undefined || headers === null) return false
  if (typeof headers.has === 'function') return headers.has('traceparent')
  return Object.keys(headers).some((k) => k.toLowerCase() === 'traceparent')
}

/** The stream, observed: first chunk time, last usage, one record when iteration ends or breaks. */
function observe(stream, started, done) {
  let first
  let usage
  let finished = false
  const finish = (err) => {
    if (finished) return
    finished = true
    done(performance.now() - started, first, usage, err)
  }
  return new Proxy(stream, {
    get(target, prop, receiver) {
      if (prop !== Symbol.asyncIterator) return Reflect.get(target, prop, target)
      return function () {
        const it = target[Symbol.asyncIterator]()
        return {
          async next() {
            let r
            try {
              r = await it.next()
            } catch (e) {
              finish(e)
              throw e
            }
            if (r.done) finish(undefined)
            else {
              if (first === undefined) first = performance.now() - started
              const c = r.value
              const u = c && (c.usage || (c.response && c.response.usage))
              if (u) usage = u
            }
            return r
          },
          async return(v) {
            finish(undefined)
            return typeof it.return === 'function' ? it.return(v) : { done: true, value: v }
          },
          [Symbol.asyncIterator]() {
            return this
          },
        }
      }
    },
  })
}

function wrapCreate(target, operation, pick) {
  const original = target.create.bind(target)
  const attempt = (ctx, body, options) => {
    const opts = options === undefined ? {} : { ...options }
    const traceId = opts[TRACE_ID] || newTraceId()
    delete opts[TRACE_ID]
    if (ctx.deadlineMs !== undefined) {
      const left = Math.max(1, Math.floor(ctx.deadlineMs - Date.now())) // the SDK takes whole ms
      if (opts.timeout === undefined || opts.timeout > left) opts.timeout = left
      opts.signal = ctx.signal
    }
    if (!hasTraceparent(opts.headers)) opts.headers = { ...(opts.headers || {}), traceparent: traceparent(traceId) }
    return original(body, opts)
  }
  const runs = new Map()
  return function create(body, options) {
    const model = body && typeof body.model === 'string' ? body.model : ''
    const policy = pick(model)
    let run = runs.get(policy)
    if (run === undefined) {
      run = policy.wrap(attempt)
      runs.set(policy, run)
    }
    const traceId = newTraceId()
    const started = performance.now()
    return run(body, options === undefined ? { [TRACE_ID]: traceId } : { ...options, [TRACE_ID]: traceId }).then(
      (result) => {
        if (body && body.stream) {
          return observe(result, started, (d, first, usage, err) => recordCall(operation, model, d, usage, err, first, traceId))
        }
        // Priced by the model that answered (a fallback may have asked another one).
        const answered = result && typeof result.model === 'string' && result.model ? result.model : model
        recordCall(operation, answered, performance.now() - started, result && result.usage, undefined, undefined, traceId)
        return result
      },
      (err) => {
        recordCall(operation, model, performance.now() - started, undefined, err, undefined, traceId)
        throw err
      },
    )
  }
}

function proxied(target, spec, operation, pick, cache) {
  return new Proxy(target, {
    get(t, prop) {
      const value = Reflect.get(t, prop, t)
      if (typeof prop !== 'string') return value
      if (spec === 'create-host' && prop === 'create' && typeof value === 'function') {
        let fn = cache.get(t)
        if (fn === undefined) cache.set(t, (fn = wrapCreate(t, operation, pick)))
        return fn
      }
      if (spec !== null && typeof spec === 'object' && Object.prototype.hasOwnProperty.call(spec, prop) && value) {
        const sub = spec[prop]
        return proxied(value, typeof sub === 'string' ? 'create-host' : sub, typeof sub === 'string' ? sub : operation, pick, cache)
      }
      return typeof value === 'function' ? value.bind(t) : value
    },
  })
}

/**
 * @param {object} client an `OpenAI` (or `AzureOpenAI`) client of the `openai` npm package
 * @param {{ policy?: Policy, modelPolicies?: Record<string, Policy>, captureContent?: boolean }} [opts]
 */
function wrapOpenAI(client, opts = {}) {
  if (client === null || typeof client !== 'object' || typeof client.withOptions !== 'function' || !client.chat) {
    throw new TypeError('wrapOpenAI: client must be an OpenAI client of the openai package (with chat and withOptions)')
  }
  if (opts === null || typeof opts !== 'object') throw new TypeError(`wrapOpenAI: opts=${String(opts)} must be an object`)
  for (const k of Object.keys(opts)) {
    if (!['policy', 'modelPolicies', 'captureContent'].includes(k)) {
      throw new TypeError(`wrapOpenAI: unknown option ${JSON.stringify(k)}; allowed: policy, modelPolicies, captureContent`)
    }
  }
  const policy = opts.policy === undefined ? new Policy({ retry: { attempts: 3 }, name: 'openai' }) : opts.policy
  if (!(policy instanceof Policy)) throw new TypeError('wrapOpenAI: policy must be a ferrule Policy')
  const perModel = new Map(Object.entries(opts.modelPolicies || {}))
  for (const [k, v] of perModel) {
    if (!(v instanceof Policy)) throw new TypeError(`wrapOpenAI: modelPolicies[${JSON.stringify(k)}] must be a ferrule Policy`)
  }
  const retries = policy.retries || [...perModel.values()].some((p) => p.retries)
  const copy = retries ? client.withOptions({ maxRetries: 0 }) : client.withOptions({})
  const pick = perModel.size === 0 ? () => policy : (model) => perModel.get(model) || policy
  const cache = new WeakMap()
  const root = proxied(copy, ENDPOINTS, '', pick, cache)
  const rewrap = (options) => wrapOpenAI(copy.withOptions(options), opts)
  return new Proxy(root, {
    get(t, prop) {
      if (prop === 'withOptions') return rewrap
      return Reflect.get(t, prop)
    },
  })
}

module.exports = { wrapOpenAI }
