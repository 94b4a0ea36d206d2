'use strict'
// One timer for every attempt timeout of a policy, not a setTimeout per call. Deadlines are kept in
// order (a policy's attempts mostly share one timeout, so new deadlines land at the end); the one
// timer is armed for the earliest and, when it fires, expires every deadline that is due. An entry
// that finished first is only marked done and skipped: no clearTimeout on the hot path.

class Deadlines {
  /** @type {Array<{ at: number, done: boolean, expire: () => void }>} */
  #queue = []
  #head = 0
  #timer = null
  #armedAt = Infinity

  /** Calls `entry.expire()` at `entry.at` (a `performance.now()` time) unless it is done by then. */
  add(entry) {
    const q = this.#queue
    if (q.length === this.#head || q[q.length - 1].at <= entry.at) {
      q.push(entry)
    } else {
      // Rare (a total timeout cut this attempt's deadline short): insert in order.
      let lo = this.#head
      let hi = q.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (q[mid].at <= entry.at) lo = mid + 1
        else hi = mid
      }
      q.splice(lo, 0, entry)
    }
    if (entry.at < this.#armedAt) this.#arm(entry.at)
  }

  #arm(at) {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#armedAt = at
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, Math.ceil(at - performance.now())))
    // A pending deadline alone never keeps the process alive: the call it guards does, if anything.
    if (typeof this.#timer.unref === 'function') this.#timer.unref()
  }

  #fire() {
    this.#timer = null
    this.#armedAt = Infinity
    const now = performance.now()
    const q = this.#queue
    while (this.#head < q.length && (q[this.#head].done || q[this.#head].at <= now)) {
      const e = q[this.#head++]
      if (!e.done) {
        e.done = true
        e.expire()
      }
    }
    if (this.#head === q.length) {
      q.length = 0
      this.#head = 0
    } else {
      if (this.#head > 1024) {
        q.splice(0, this.#head)
        this.#head = 0
      }
      this.#arm(q[this.#head].at)
    }
  }
}

module.exports = { Deadlines }
