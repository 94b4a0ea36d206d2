'use strict'
// MockLLMServer: the core's OpenAI-compatible server with deterministic fault injection, on a
// loopback port, for users' own tests and the demo. Options and fault rules mirror Python's.

const native = require('./native.js')
const { configError } = require('./errors.js')

const OPTIONS = ['faults', 'script', 'seed', 'host', 'port', 'latencyMs', 'hangMs', 'maxConnections', 'allowNonLoopback']

class MockLLMServer {
  #native

  /**
   * @param {object} [options] faults: rules `{ kind, rate, from, to, latencyMs, retryAfterMs }`;
   *   script: kinds for the first requests; seed; host; port (0 = free); latencyMs; hangMs;
   *   maxConnections; allowNonLoopback.
   */
  constructor(options = {}) {
    if (options === null || typeof options !== 'object') {
      throw configError('TypeError', `MockLLMServer: options must be an object; got ${String(options)}`, 'options')
    }
    for (const key of Object.keys(options)) {
      if (!OPTIONS.includes(key)) {
        throw configError('TypeError', `MockLLMServer: unknown option ${key}; allowed: ${OPTIONS.join(', ')}`, key)
      }
    }
    const rules = (options.faults || []).map((r) => {
      const out = {}
      for (const [k, v] of Object.entries(r)) {
        out[k === 'latencyMs' ? 'latency_ms' : k === 'retryAfterMs' ? 'retry_after_ms' : k === 'afterChunks' ? 'after_chunks' : k] = v
      }
      return out
    })
    const plan = JSON.stringify({ seed: options.seed || 0, script: options.script || [], rules })
    const made = native.createMockServer(plan, {
      host: options.host,
      port: options.port,
      latencyMs: options.latencyMs,
      hangMs: options.hangMs,
      maxConnections: options.maxConnections,
      allowNonLoopback: options.allowNonLoopback,
    })
    if (!(made instanceof native.NativeMockServer)) {
      throw configError(made.kind, made.message, made.param)
    }
    this.#native = made
  }

  /** The OpenAI `baseURL`: `http://127.0.0.1:PORT/v1`. */
  get url() {
    return this.#native.url
  }

  /**
   * The Anthropic SDK's `baseURL`: `http://127.0.0.1:PORT` (the SDK adds `/v1/messages`). The
   * server answers Anthropic's Messages API there, with the same fault plan.
   */
  get anthropicURL() {
    return this.#native.url.replace(/\/v1$/, '')
  }

  get port() {
    return this.#native.port
  }

  /** Every request received, oldest first, with `json` the parsed body (or null). */
  get requests() {
    return JSON.parse(this.#native.requestsJson()).map((r) => {
      let body = null
      try {
        body = r.body ? JSON.parse(r.body) : null
      } catch {
        body = null
      }
      return { ...r, json: body }
    })
  }

  clearRequests() {
    this.#native.clearRequests()
  }

  /** `{ requests, byFault, droppedRecords, rejectedConnections, openConnections, idleConnections }`
   * (`idleConnections`: open ones waiting for a request, an HTTP client's keep-alive pool) */
  stats() {
    return JSON.parse(this.#native.statsJson())
  }

  stop() {
    this.#native.stop()
  }

  [Symbol.dispose]() {
    this.stop()
  }
}

module.exports = { MockLLMServer }
