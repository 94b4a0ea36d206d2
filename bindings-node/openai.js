'use strict'
// `wrapOpenAI(client, { policy, modelPolicies, captureContent, limits, key })`: the `openai` npm client behind a
// Proxy whose `chat.completions.create` (also `stream: true`), `embeddings.create` and
// `responses.create` run through a ferrule Policy. The SDK's own retries are off when ferrule
// retries (they never stack), each attempt gets the policy's remaining deadline as its `timeout`,
// and the policy reads Retry-After / x-ratelimit-* from the SDK's errors.
// Each call is one GenAI span (`chat gpt-4o`), child of the caller's current span
// (AsyncLocalStorage), with one child span per attempt whose ids go out as `traceparent`. The
// returned promise keeps the SDK's `withResponse()` / `asResponse()`. Everything else passes through.
// With `limits` (a Limits of `requests` and/or `tokens`), each request first takes one request and its
// estimated tokens under `key()` (default: the current context's user, else session), and the call
// record's usage settles the tokens.

const { Policy } = require('./policy.js')
const { recordCall, CallStream } = require('./llm_call.js')
const { startSpan, traceparent, currentContext } = require('./telemetry.js')
const { Limits } = require('./limits.js')
const { POLICY_SPANS } = require('./telemetry.js').internal
const { TRACED_CALL } = require('./policy_spans.js')
const { currentPrompt } = require('./prompt_template.js')
const { inProbe } = require('./synthetic.js')
const native = require('./native.js')
const { DEFAULT_STREAM_POLICY, StreamPolicy, openStream, survivingStream, continueMessages } = require('./stream.js')
const { StreamFields } = require('./stream_fields.js')

const ENDPOINTS = { chat: { completions: 'chat' }, embeddings: 'embeddings', responses: 'responses' }

function hasTraceparent(headers) {
  if (headers === undefined || headers === null) return false
  if (typeof headers.has === 'function') return headers.has('traceparent')
  return Object.keys(headers).some((k) => k.toLowerCase() === 'traceparent')
}

/** The prompt as text, only when content is captured (it is content: masked by the core). */
function promptOf(operation, body) {
  const v = body ? (operation === 'chat' ? body.messages : body.input) : undefined
  if (v === undefined || v === null) return undefined
  return typeof v === 'string' ? v : JSON.stringify(v)
}

/** The stream, observed: each chunk folded into `fields` (the core reads it), one record when iteration ends or breaks. */
function observe(stream, fields, done) {
  let finished = false
  const finish = (err) => {
    if (finished) return
    finished = true
    done(err)
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
            else fields.chunk(r.value)
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

/** A token budget's default key: the user of the current `runInContext`, else its session. */
function contextKey() {
  const c = currentContext()
  return c === null ? undefined : c.userId || c.sessionId || undefined
}

/**
 * `limits`: one `requests` unit and the request's estimated `tokens` (prompt estimate + max_tokens)
 * before it starts, under `key()`; the call record's usage settles the tokens.
 */
function budgetOf(limits, key) {
  const names = limits.names
  const requests = names.includes('requests')
  const tokens = names.includes('tokens')
  return {
    acquire(operation, body, options) {
      const costs = {}
      if (requests) costs.requests = 1
      if (tokens) costs.tokens = native.estimateTokens(body, operation)
      const signal = options && options.signal ? options.signal : undefined
      return limits.acquire(costs, { key: key(), signal })
    },
    /** The reservation's tokens become the input + output the provider reported (kept when none). */
    settle(reservation, recorded) {
      if (!tokens || reservation === undefined) return
      const i = recorded.inputTokens
      const o = recorded.outputTokens
      if (i == null && o == null) return
      reservation.settle({ tokens: (i ?? 0) + (o ?? 0) })
    },
  }
}

function wrapCreate(target, operation, pick, cfg) {
  const { captureContent, server, provider = 'openai', requestIdHeader = 'x-request-id', budget } = cfg
  const original = target.create.bind(target)
  // One attempt: the SDK's request with the attempt's deadline as its `timeout` and the attempt's
  // span as `traceparent`. It returns the parsed data (what `retryOnResult` and a fallback see) and
  // keeps the SDK's promise in `call.sdk`, whose `asResponse()` gives the Response afterwards for
  // `withResponse()`. `call.raw` (the caller asked for `asResponse()`) leaves the body unread;
  // otherwise it is parsed inside the attempt, so a broken body is a failed attempt the policy may
  // retry.
  //
  // The deadline reaches the SDK as its own `timeout` (its per-request timer aborts the request),
  // not as an `AbortSignal` of ours: on Node 20 every new AbortSignal is made transferable (a
  // prototype swap that leaves it slow to create and to listen on) and the SDK links any signal it
  // is given to its own controller, a second controller and listener per attempt for an abort the
  // timeout already gives. The policy still fails the attempt at its deadline; a signal is passed
  // only when the policy has one of its own to forward.
  const attempt = async (ctx, body, options, call) => {
    const opts = options === undefined ? {} : { ...options }
    const at = ctx.deadlineMs
    if (at !== undefined) {
      // Whole ms, rounded up: the policy's deadline, not the SDK's timer, ends an attempt at time.
      const left = Math.max(1, Math.ceil(at - Date.now()))
      if (opts.timeout === undefined || opts.timeout > left) opts.timeout = left
      if (ctx._outer !== undefined) opts.signal = ctx.signal
    }
    const tp = traceparent()
    if (tp !== null && !hasTraceparent(opts.headers)) opts.headers = { ...(opts.headers || {}), traceparent: tp }
    const p = original(body, opts)
    if (typeof p.asResponse !== 'function') return p
    // The caller's `withResponse()` / `asResponse()` on the promise `create` returned runs right
    // after it, and this attempt may have started inside `create`: one turn before deciding.
    if (!call.started) {
      call.started = true
      await undefined
    }
    if (call.raw) {
      const response = await p.asResponse()
      call.data = response
      call.sdk = p
      return response
    }
    const data = await p
    call.data = data
    call.sdk = p
    return data
  }
  // Per model, built once: the attempt spans' name and the call span's options.
  const perModel = new Map()
  const forModel = (model, policy) => {
    const key = `${policy.name}\u0000${model}`
    let m = perModel.get(key)
    if (m === undefined) {
      m = {
        attemptName: `${model ? `${operation} ${model}` : operation} attempt`,
        spanOptions: Object.freeze({ operation, model: model || undefined, provider, role: 'call', attributes: Object.freeze({ 'ferrule.policy.name': policy.name }) }),
      }
      if (perModel.size < 1024) perModel.set(key, m) // bounded: a caller's model names are few
    }
    return m
  }
  const streamPolicy = cfg.streamPolicy || DEFAULT_STREAM_POLICY
  // `stream: true`: each attempt reads up to the first chunk (a failure before it is retried like
  // any failed call); after it, the StreamPolicy decides. `call.response` keeps the attempt's raw
  // Response for `withResponse()` (the SDK's stream helpers read it).
  const streamAttempt = (ctx, body, options, fields, call) =>
    openStream(
      streamPolicy,
      fields,
      (signal) => {
        const opts = options === undefined ? {} : { ...options }
        if (ctx.deadlineMs !== undefined) {
          const left = Math.max(1, Math.floor(ctx.deadlineMs - Date.now()))
          if (opts.timeout === undefined || opts.timeout > left) opts.timeout = left
        }
        opts.signal = signal
        const tp = traceparent()
        if (tp !== null && !hasTraceparent(opts.headers)) opts.headers = { ...(opts.headers || {}), traceparent: tp }
        const p = original(body, opts)
        if (typeof p.withResponse !== 'function') return p
        return p.withResponse().then((r) => {
          call.response = r.response
          return r.data
        })
      },
      ctx.signal === undefined ? (options && options.signal) || undefined : ctx.signal,
    )
  const createStream = async (body, options, reservation, call) => {
    const model = typeof body.model === 'string' ? body.model : ''
    const policy = pick(model)
    const capture = captureContent || POLICY_SPANS.captureContent
    const span = startSpan({ operation, model: model || undefined, provider, role: 'call', attributes: { 'ferrule.policy.name': policy.name } })
    const counter = { n: 0, fellBack: false }
    // Collects the delivered text always: StreamInterrupted and a resume need it (kept on the span only when captured).
    const folded = new CallStream(span._native, true)
    const fields = new StreamFields(folded)
    const done = (error) => {
      fields.flush()
      const recorded = recordCall(span, operation, provider, {
        request: body,
        stream: folded,
        error,
        attempts: counter.n,
        fellBack: counter.fellBack,
        template: currentPrompt(),
        synthetic: inProbe(),
        capture,
        alwaysCapture: captureContent,
        inputText: capture ? promptOf(operation, body) : undefined,
        serverAddress: server.address,
        serverPort: server.port,
      })
      if (reservation !== undefined) budget.settle(reservation, recorded)
    }
    const name = `${model ? `${operation} ${model}` : operation} attempt`
    const through = async (b) => {
      const r = await policy[TRACED_CALL](streamAttempt, [b, options, fields, call], undefined, { parent: span, name, attributes: undefined, counter, chaos: true })
      if (r === null || typeof r !== 'object' || !('guard' in r)) counter.fellBack = true // the policy's fallback answered
      return r
    }
    let opened
    try {
      opened = await through(body)
    } catch (e) {
      done(e)
      throw e
    }
    return survivingStream(opened, fields, streamPolicy, (prefix) => through(continueMessages(body, prefix)), done, span, counter)
  }
  // One call after its budget (when there is one) admitted it: the span, the policy, the record.
  const begin = (body, options, call, reservation) => {
    const model = body && typeof body.model === 'string' ? body.model : ''
    const policy = pick(model)
    const capture = captureContent || POLICY_SPANS.captureContent
    const fixed = forModel(model, policy)
    const span = startSpan(fixed.spanOptions)
    const counter = { n: 0 }
    // The call's one crossing: the core reads the body and the response/stream/error.
    const done = (response, error, stream, fellBack) => {
      const recorded = recordCall(span, operation, provider, {
        request: body,
        response,
        stream,
        error,
        attempts: counter.n,
        fellBack,
        template: currentPrompt(),
        synthetic: inProbe(),
        capture,
        alwaysCapture: captureContent,
        inputText: capture ? promptOf(operation, body) : undefined,
        serverAddress: server.address,
        serverPort: server.port,
      })
      if (reservation !== undefined) budget.settle(reservation, recorded)
    }
    // Attempt spans are not GenAI operations (the call span is): no gen_ai.* on them.
    return policy[TRACED_CALL](attempt, [body, options, call], undefined, { parent: span, name: fixed.attemptName, attributes: undefined, counter, chaos: true })
      .then(
        (data) => {
          // A fallback's value is not the last attempt's answer: it has no Response.
          const sdk = data === call.data ? call.sdk : undefined
          if (call.raw) done(undefined, undefined)
          else if (body && body.stream && data !== null && typeof data === 'object' && Symbol.asyncIterator in data) {
            const fields = new CallStream(span._native, capture)
            data = observe(data, fields, (err) => done(undefined, err, fields))
          } else done(data, undefined, undefined, data !== call.data)
          return { data, sdk }
        },
        (err) => {
          done(undefined, err)
          throw err
        },
      )
  }
  return function create(body, options) {
    if (body && body.stream === true && operation === 'chat') {
      const call = { response: undefined }
      const out =
        budget === undefined ? createStream(body, options, undefined, call) : budget.acquire(operation, body, options).then((r) => createStream(body, options, r, call))
      // As the SDK's APIPromise: the stream helpers (Anthropic's `messages.stream()`) ask for the
      // stream with its Response.
      out.withResponse = () => {
        out.catch(() => {}) // the caller reads the outcome here instead
        return out.then((data) => ({ data, response: call.response, request_id: call.response ? call.response.headers.get(requestIdHeader) : null }))
      }
      return out
    }
    // This call's state: whether the caller wants the raw Response, and the last attempt's answer
    // with the SDK promise that made it.
    const call = { raw: false, started: false, data: undefined, sdk: undefined }
    const settled =
      budget === undefined
        ? begin(body, options, call, undefined)
        : budget.acquire(operation, body, options).then((r) => begin(body, options, call, r))
    // What the SDK's APIPromise offers: the data, or `withResponse()` / `asResponse()`.
    const out = settled.then((r) => r.data)
    // The Response is asked of the SDK only here: it kept it, and a plain `await` never needs it.
    const responseOf = (r) => (r.sdk === undefined ? undefined : call.raw ? r.data : r.sdk.asResponse())
    out.withResponse = () => {
      out.catch(() => {}) // the caller reads the outcome here instead
      return settled.then(async (r) => {
        const response = await responseOf(r)
        return { data: r.data, response, request_id: response ? response.headers.get(requestIdHeader) : null }
      })
    }
    out.asResponse = () => {
      call.raw = true
      out.catch(() => {})
      return settled.then(responseOf)
    }
    return out
  }
}

function proxied(target, spec, operation, pick, cache, cfg) {
  return new Proxy(target, {
    get(t, prop, receiver) {
      const value = Reflect.get(t, prop, t)
      if (typeof prop !== 'string') return value
      if (spec === 'create-host' && prop === 'create' && typeof value === 'function') {
        let fn = cache.get(t)
        if (fn === undefined) cache.set(t, (fn = wrapCreate(t, operation, pick, cfg)))
        return fn
      }
      if (spec === 'create-host' && cfg.helpers !== undefined && cfg.helpers.includes(prop) && typeof value === 'function') {
        // A helper that makes its request through `this.create` (Anthropic's `messages.stream()`):
        // bound to the wrapped resource, so that request runs through the policy.
        return value.bind(receiver)
      }
      if (spec !== null && typeof spec === 'object' && Object.prototype.hasOwnProperty.call(spec, prop) && value) {
        // One proxy per resource object, made on first access (`client.chat.completions` is read
        // on every call).
        let sub = cfg.resources.get(value)
        if (sub === undefined) {
          const s = spec[prop]
          sub = proxied(value, typeof s === 'string' ? 'create-host' : s, typeof s === 'string' ? s : operation, pick, cache, cfg)
          cfg.resources.set(value, sub)
        }
        return sub
      }
      return typeof value === 'function' ? value.bind(t) : value
    },
  })
}

/**
 * @param {object} client an `OpenAI` (or `AzureOpenAI`) client of the `openai` npm package
 * @param {{ policy?: Policy, modelPolicies?: Record<string, Policy>, captureContent?: boolean, streamPolicy?: StreamPolicy, limits?: Limits, key?: () => unknown }} [opts]
 */
function wrapOpenAI(client, opts = {}) {
  if (client === null || typeof client !== 'object' || typeof client.withOptions !== 'function' || !client.chat) {
    throw new TypeError('wrapOpenAI: client must be an OpenAI client of the openai package (with chat and withOptions)')
  }
  if (opts === null || typeof opts !== 'object') throw new TypeError(`wrapOpenAI: opts=${String(opts)} must be an object`)
  for (const k of Object.keys(opts)) {
    if (!['policy', 'modelPolicies', 'captureContent', 'streamPolicy', 'limits', 'key'].includes(k)) {
      throw new TypeError(`wrapOpenAI: unknown option ${JSON.stringify(k)}; allowed: policy, modelPolicies, captureContent, streamPolicy, limits, key`)
    }
  }
  if (opts.streamPolicy !== undefined && !(opts.streamPolicy instanceof StreamPolicy)) {
    throw new TypeError('wrapOpenAI: streamPolicy must be a ferrule StreamPolicy')
  }
  if (opts.limits !== undefined && !(opts.limits instanceof Limits)) {
    throw new TypeError(`wrapOpenAI: limits=${String(opts.limits)} is not allowed; allowed: a ferrule Limits or undefined`)
  }
  if (opts.key !== undefined && typeof opts.key !== 'function') {
    throw new TypeError(`wrapOpenAI: key=${JSON.stringify(opts.key)} is not allowed; allowed: a function () => key, or undefined`)
  }
  const budget = opts.limits === undefined ? undefined : budgetOf(opts.limits, opts.key || contextKey)
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
  if (opts.captureContent !== undefined && typeof opts.captureContent !== 'boolean') {
    throw new TypeError(`wrapOpenAI: captureContent=${String(opts.captureContent)} is not allowed; allowed: true or false`)
  }
  // server.address / server.port of every call, from the client's base URL, once.
  const where = typeof copy.baseURL === 'string' ? native.serverOfUrl(copy.baseURL) : null
  const server = where ? { address: where.address, port: where.port ?? undefined } : {}
  const root = proxied(copy, ENDPOINTS, '', pick, cache, { captureContent: opts.captureContent === true, server, resources: new WeakMap(), streamPolicy: opts.streamPolicy, budget })
  const rewrap = (options) => wrapOpenAI(copy.withOptions(options), opts)
  return new Proxy(root, {
    get(t, prop) {
      if (prop === 'withOptions') return rewrap
      return Reflect.get(t, prop)
    },
  })
}

// `proxied` is shared with `wrapAnthropic` (anthropic.js): the same call path, another provider.
module.exports = { wrapOpenAI, internal: { proxied, budgetOf, contextKey } }
