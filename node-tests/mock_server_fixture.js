'use strict'
// A test body run against a fresh mock server, stopped however the body ends.

const { MockLLMServer } = require('ferrule')

/** `test(name, withServer({ script: [...] }, async (server, t) => { ... }))`. */
function withServer(opts, fn) {
  return async (t) => {
    const s = new MockLLMServer(opts)
    try {
      await fn(s, t)
    } finally {
      s.stop()
    }
  }
}

module.exports = { withServer }
