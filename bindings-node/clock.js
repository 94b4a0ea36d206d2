'use strict'
// A clock that moves only when told to, for tests: a breaker built with `{ clock }` reads it instead
// of real time, so its state machine is driven by hand and no test sleeps.

const native = require('./native.js')
const { configError } = require('./errors.js')

/** @type {(clock: ManualClock) => object} */
let nativeOf

class ManualClock {
  #native = new native.NativeManualClock()

  static {
    nativeOf = (clock) => clock.#native
  }

  /** Moves time forward by `ms` milliseconds (a finite number >= 0). */
  advance(ms) {
    if (typeof ms !== 'number' || !(Number.isFinite(ms) && ms >= 0)) {
      throw configError(
        typeof ms === 'number' ? 'RangeError' : 'TypeError',
        `ManualClock.advance: ms=${String(ms)} is out of range; allowed: a finite number >= 0`,
        'ms',
      )
    }
    this.#native.advance(ms)
  }

  /** Milliseconds since the clock's origin. */
  now() {
    return this.#native.now()
  }
}

module.exports = { ManualClock, nativeOf: (clock) => nativeOf(clock) }
