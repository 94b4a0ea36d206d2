'use strict'
// `wrapAnthropic(client, { policy, modelPolicies, captureContent })`: the `@anthropic-ai/sdk` client
// behind a Proxy whose `messages.create` (also `stream: true`, and the `messages.stream()` helper,
// which makes its request through it) runs through a ferrule Policy, with
// `wrapOpenAI`'s contract: the SDK's own retries are off when ferrule retries, each attempt gets the
// policy's remaining deadline as its `timeout` and its abort `signal`, and a `traceparent`; the
// policy reads Anthropic's hints from the SDK's errors (`retry-after`, and on a 429 the spent
// limit's `anthropic-ratelimit-*-reset` instant) and a 529 `overloaded_error` is transient. Each
// call is one GenAI span and call record with `gen_ai.provider.name = "anthropic"`: `stop_reason`
// is the finish reason, and prompt-cache reads and writes are counted and priced.

const { Policy } = require('./policy.js')
const { proxied, budgetOf, contextKey } = require('./openai.js').internal
const { Limits } = require('./limits.js')
const { StreamPolicy } = require('./stream.js')
const native = require('./native.js')

const PROVIDER = 'anthropic'
const ENDPOINTS = { messages: 'chat' }
const OPTIONS = ['policy', 'modelPolicies', 'captureContent', 'streamPolicy', 'limits', 'key']

/**
 * @param {object} client an `Anthropic` client of the `@anthropic-ai/sdk` package
 * @param {{ policy?: Policy, modelPolicies?: Record<string, Policy>, captureContent?: boolean, streamPolicy?: StreamPolicy, limits?: Limits, key?: () => unknown }} [opts]
 */
function wrapAnthropic(client, opts = {}) {
  if (client === null || typeof client !== 'object' || typeof client.withOptions !== 'function' || !client.messages || typeof client.messages.create !== 'function') {
    throw new TypeError('wrapAnthropic: client must be an Anthropic client of the @anthropic-ai/sdk package (with messages.create and withOptions)')
  }
  if (opts === null || typeof opts !== 'object') throw new TypeError(`wrapAnthropic: opts=${String(opts)} must be an object`)
  for (const k of Object.keys(opts)) {
    if (!OPTIONS.includes(k)) throw new TypeError(`wrapAnthropic: unknown option ${JSON.stringify(k)}; allowed: ${OPTIONS.join(', ')}`)
  }
  const policy = opts.policy === undefined ? new Policy({ retry: { attempts: 3 }, name: PROVIDER }) : opts.policy
  if (!(policy instanceof Policy)) throw new TypeError('wrapAnthropic: policy must be a ferrule Policy')
  const perModel = new Map(Object.entries(opts.modelPolicies || {}))
  for (const [k, v] of perModel) {
    if (!(v instanceof Policy)) throw new TypeError(`wrapAnthropic: modelPolicies[${JSON.stringify(k)}] must be a ferrule Policy`)
  }
  if (opts.captureContent !== undefined && typeof opts.captureContent !== 'boolean') {
    throw new TypeError(`wrapAnthropic: captureContent=${String(opts.captureContent)} is not allowed; allowed: true or false`)
  }
  if (opts.streamPolicy !== undefined && !(opts.streamPolicy instanceof StreamPolicy)) {
    throw new TypeError('wrapAnthropic: streamPolicy must be a ferrule StreamPolicy')
  }
  if (opts.limits !== undefined && !(opts.limits instanceof Limits)) {
    throw new TypeError(`wrapAnthropic: limits=${String(opts.limits)} is not allowed; allowed: a ferrule Limits or undefined`)
  }
  if (opts.key !== undefined && typeof opts.key !== 'function') {
    throw new TypeError(`wrapAnthropic: key=${JSON.stringify(opts.key)} is not allowed; allowed: a function () => key, or undefined`)
  }
  const budget = opts.limits === undefined ? undefined : budgetOf(opts.limits, opts.key || contextKey)
  const retries = policy.retries || [...perModel.values()].some((p) => p.retries)
  const copy = retries ? client.withOptions({ maxRetries: 0 }) : client.withOptions({})
  const pick = perModel.size === 0 ? () => policy : (model) => perModel.get(model) || policy
  const where = typeof copy.baseURL === 'string' ? native.serverOfUrl(copy.baseURL) : null
  const server = where ? { address: where.address, port: where.port ?? undefined } : {}
  const root = proxied(copy, ENDPOINTS, '', pick, new WeakMap(), {
    captureContent: opts.captureContent === true,
    server,
    provider: PROVIDER,
    requestIdHeader: 'request-id',
    helpers: ['stream'],
    resources: new WeakMap(),
    streamPolicy: opts.streamPolicy,
    budget,
  })
  const rewrap = (options) => wrapAnthropic(copy.withOptions(options), opts)
  return new Proxy(root, {
    get(t, prop) {
      if (prop === 'withOptions') return rewrap
      return Reflect.get(t, prop)
    },
  })
}

module.exports = { wrapAnthropic }
