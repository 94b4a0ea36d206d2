'use strict'
// A promise the test settles by hand: concurrency is tested by ordering, never by timers.

function deferred() {
  let resolve, reject
  const promise = new Promise((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Lets every queued promise callback run. */
function flush() {
  return new Promise((resolve) => setImmediate(resolve))
}

module.exports = { deferred, flush }
