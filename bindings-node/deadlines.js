'use strict'
// One timer for every attempt timeout of a policy, not a setTimeout per call. Deadlines are kept in
// order (a policy's attempts mostly share one timeout, so new deadlines land at the end); the one
// timer is armed for the earliest and, when it fires, expires every deadline that is due. An entry
// that finishes first is marked done (no clearTimeout on the hot path) and dropped as soon as every
// entry before it is done too, so the queue holds about the calls in flight, not every call of the
// last timeout period.

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

  /** The guarded call settled first: its deadline no longer matters. */
  settle(entry) {
    entry.done = true
    const q = this.#queue
    let h = this.#head
    while (h < q.length && q[h].done) h++
    if (h === q.length) {
      q.length = 0
      h = 0
    } else if (h > 1024 && h * 2 > q.length) {
      q.splice(0, h)
      h = 0
    }
    this.#head = h
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
