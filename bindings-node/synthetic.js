'use strict'
// The marker for synthetic traffic: set (in AsyncLocalStorage) while a synthetic probe's function
// runs, so everything it calls knows it is synthetic through every await and timer. SLOs exclude
// those calls, a Policy sends them through its synthetic twin (counted as
// ferrule_synthetic_calls_total, not in the user's ferrule_calls_total) and the LLM wrappers record
// them apart from the user's GenAI metrics and inference log. Same names as Python's
// ferrule.in_probe(). `state.active` counts running probe functions, so hot paths skip the lookup
// while no probe runs.

const { AsyncLocalStorage } = require('node:async_hooks')

/** @type {AsyncLocalStorage<boolean>} */
const marker = new AsyncLocalStorage()
const state = { active: 0 }

/** True inside a synthetic probe's function (its calls are synthetic traffic). */
function inProbe() {
  return state.active !== 0 && marker.getStore() === true
}

/** Runs `fn()` as synthetic traffic; the count drops when its promise settles. */
function runInProbe(fn) {
  state.active++
  let r
  try {
    r = marker.run(true, fn)
  } catch (e) {
    state.active--
    throw e
  }
  if (r instanceof Promise) {
    return r.finally(() => {
      state.active--
    })
  }
  state.active--
  return r
}

module.exports = { inProbe, runInProbe, state }
