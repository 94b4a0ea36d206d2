'use strict'
// RedisBackend for Node: where rate limiters keep state shared by every process and host. Pass it as
// `backend`. The core holds the connection pool, the Lua scripts and the `onBackendError` policy;
// this layer only checks option types. A decision against Redis runs on the calling thread, bounded
// by `timeoutMs`; while Redis is down, calls skip it (one probe per `retryMs`).

const native = require('./native.js')
const { configError, internalError } = require('./errors.js')

const ALLOWED = ['url', 'prefix', 'timeoutMs', 'onBackendError', 'retryMs', 'maxIdle', 'caFile', 'clientCertFile', 'clientKeyFile']
const STRINGS = ['url', 'prefix', 'onBackendError', 'caFile', 'clientCertFile', 'clientKeyFile']

let internals

class RedisBackend {
  #native
  #options

  static {
    internals = (b) => b.#native
  }

  /** `new RedisBackend({ url, prefix = 'ferrule', timeoutMs = 50, onBackendError = 'local', retryMs = 1000 })`. */
  constructor(options) {
    if (options === undefined || options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw configError('TypeError', `RedisBackend: options must be an object with a url`, 'options')
    }
    const given = {}
    for (const key of Object.keys(options)) {
      const v = options[key]
      if (!ALLOWED.includes(key)) {
        throw configError('TypeError', `RedisBackend: unknown option ${key}; allowed: ${ALLOWED.join(', ')}`, key)
      }
      if (v === undefined || v === null) continue
      if (STRINGS.includes(key) ? typeof v !== 'string' : typeof v !== 'number') {
        throw configError('TypeError', `RedisBackend: ${key}=${String(v)} must be a ${STRINGS.includes(key) ? 'string' : 'number'}`, key)
      }
      given[key] = v
    }
    if (given.url === undefined) throw configError('TypeError', 'RedisBackend: url is required (redis://host:port/db)', 'url')
    let created
    try {
      created = native.createRedisBackend(given)
    } catch (e) {
      throw internalError(e)
    }
    if (!(created instanceof native.NativeRedisBackend)) {
      throw configError(created.kind, created.message, created.param)
    }
    this.#native = created
    this.#options = { prefix: 'ferrule', onBackendError: 'local', ...given }
  }

  get url() {
    return this.#options.url
  }

  get prefix() {
    return this.#options.prefix
  }

  get onBackendError() {
    return this.#options.onBackendError
  }

  /** False from a failed operation until the next one that succeeds. */
  get isUp() {
    return this.#native.isUp()
  }

  /** operations, errors, fallbacks (decisions taken by `onBackendError`), outages, recoveries, up. */
  stats() {
    return this.#native.stats()
  }
}

/** The native backend of a RedisBackend, for the limiters' constructors. */
function nativeBackendOf(b) {
  return b === undefined || b === null ? undefined : internals(b)
}

module.exports = { RedisBackend, nativeBackendOf }
