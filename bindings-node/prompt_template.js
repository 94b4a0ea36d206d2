'use strict'
// `runInPrompt('triage', fn)`: names the prompt template of every LLM call made inside `fn` (also
// across awaits), for the prompt profile, the anomaly detectors and the inference log. Without it a
// call's template is a fingerprint of its prompt's shape (see docs/call-record.md).

const { AsyncLocalStorage } = require('node:async_hooks')

/** @type {AsyncLocalStorage<string>} */
const store = new AsyncLocalStorage()

/** Runs `fn` with calls inside profiled under template `name`; returns what `fn` returns. */
function runInPrompt(name, fn) {
  if (typeof name !== 'string' || name === '') throw new TypeError(`runInPrompt: name=${String(name)} is not allowed; allowed: a non-empty string`)
  if (typeof fn !== 'function') throw new TypeError('runInPrompt: fn must be a function')
  return store.run(name, fn)
}

/** The template named by the innermost `runInPrompt`, or undefined. */
function currentPrompt() {
  return store.getStore()
}

module.exports = { runInPrompt, currentPrompt }
