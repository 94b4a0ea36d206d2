'use strict'
// Streams that survive. `StreamPolicy` gives a wrapped stream two deadlines (the first chunk, and
// the longest wait for the next one) and says what its consumer sees when it breaks after chunks
// were delivered: 'raise' a `StreamInterrupted` (partial text, usage so far, cause), 'continue' on a
// new attempt that asks for the rest, or 'fallback' to another stream. A failure before the first
// chunk is an ordinary failed attempt: the policy retries, fails over or falls back, unseen.
//
// Deadlines cost no timer per chunk: each open stream has at most one timer, armed at its first
// wait and re-armed only when it fires. Asking for a chunk stores a deadline (one clock read);
// receiving it clears it. When the timer fires it re-reads the deadline: passed, it aborts the
// attempt's request (the SDK destroys the connection); not yet, it sleeps until then.

const { FerruleError, TimeoutError, configError } = require('./errors.js')

const MODES = ['raise', 'continue', 'fallback']
const NONE = Symbol('none')

/** A stream missed a deadline (`deadline`: 'firstChunk' or 'stall'; `timeoutMs` the bound); its request was aborted. */
class StreamTimeoutError extends TimeoutError {
  constructor(message, timeoutMs, deadline) {
    super(message, timeoutMs)
    this.deadline = deadline
  }
}
StreamTimeoutError.prototype.name = 'StreamTimeoutError'

/**
 * A stream broke after it had delivered chunks. `partialText` is exactly the text the consumer was
 * given, `usage` the usage reported so far (or null), `chunks` how many chunks were delivered, `cause`
 * what broke it (a StreamTimeoutError, the SDK's error, or an Error for a body that ended without a
 * finish reason).
 */
class StreamInterrupted extends FerruleError {
  constructor(message, { partialText = '', usage = null, cause, chunks = 0 } = {}) {
    super(message, { code: 'FERRULE_STREAM_INTERRUPTED', cause })
    this.partialText = partialText
    this.usage = usage
    this.chunks = chunks
  }
}
StreamInterrupted.prototype.name = 'StreamInterrupted'

function ms(name, v) {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 86_400_000) {
    throw configError('RangeError', `StreamPolicy: ${name}=${String(v)} is out of range; allowed: milliseconds in (0, 86400000], or undefined`, name)
  }
  return v
}

/** A wrapped stream's deadlines and what its consumer sees when it breaks (see the module comment). */
class StreamPolicy {
  /**
   * @param {{ firstChunkTimeoutMs?: number, stallTimeoutMs?: number, onInterrupt?: 'raise' | 'continue' | 'fallback',
   *   fallback?: (e: StreamInterrupted) => AsyncIterable<unknown> | Iterable<unknown> | Promise<AsyncIterable<unknown>>, maxResumes?: number }} [opts]
   */
  constructor(opts = {}) {
    if (opts === null || typeof opts !== 'object') throw configError('TypeError', `StreamPolicy: opts=${String(opts)} must be an object`, 'opts')
    for (const k of Object.keys(opts)) {
      if (!['firstChunkTimeoutMs', 'stallTimeoutMs', 'onInterrupt', 'fallback', 'maxResumes'].includes(k)) {
        throw configError('TypeError', `StreamPolicy: unknown option ${JSON.stringify(k)}; allowed: firstChunkTimeoutMs, stallTimeoutMs, onInterrupt, fallback, maxResumes`, k)
      }
    }
    this.firstChunkTimeoutMs = ms('firstChunkTimeoutMs', opts.firstChunkTimeoutMs)
    this.stallTimeoutMs = ms('stallTimeoutMs', opts.stallTimeoutMs)
    const mode = opts.onInterrupt === undefined ? 'raise' : opts.onInterrupt
    if (!MODES.includes(mode)) {
      throw configError('RangeError', `StreamPolicy: onInterrupt=${JSON.stringify(mode)} is out of range; allowed: 'raise', 'continue', 'fallback'`, 'onInterrupt')
    }
    if (opts.fallback !== undefined && typeof opts.fallback !== 'function') {
      throw configError('TypeError', `StreamPolicy: fallback=${String(opts.fallback)} is not allowed; allowed: a function (StreamInterrupted) => chunks`, 'fallback')
    }
    if (mode === 'fallback' && opts.fallback === undefined) {
      throw configError('TypeError', "StreamPolicy: fallback=undefined is not allowed with onInterrupt='fallback'; allowed: a function (StreamInterrupted) => chunks", 'fallback')
    }
    const max = opts.maxResumes === undefined ? 2 : opts.maxResumes
    if (!Number.isInteger(max) || max < 0 || max > 100) {
      throw configError('RangeError', `StreamPolicy: maxResumes=${String(max)} is out of range; allowed: an integer in [0, 100]`, 'maxResumes')
    }
    this.onInterrupt = mode
    this.fallback = opts.fallback
    this.maxResumes = max
    Object.freeze(this)
  }
}

const DEFAULT_STREAM_POLICY = new StreamPolicy()

/** One attempt's deadline: `deadline` is when the current wait must end (Infinity while not waiting). */
class Guard {
  constructor(policy, controller, startedMs) {
    this.policy = policy
    this.controller = controller
    this.stall = policy.stallTimeoutMs
    this.which = 'firstChunk'
    this.expired = false
    this.done = false
    this.timer = undefined
    this.deadline = policy.firstChunkTimeoutMs !== undefined ? startedMs + policy.firstChunkTimeoutMs : Infinity
    if (this.deadline !== Infinity) this.arm(this.deadline)
  }

  arm(at) {
    this.timer = setTimeout(() => this.check(), Math.max(0, at - performance.now()))
    this.timer.unref()
  }

  check() {
    this.timer = undefined
    if (this.done) return
    const now = performance.now()
    let d = this.deadline
    if (d <= now) {
      this.expired = true
      this.controller.abort(this.error())
      return
    }
    if (d === Infinity) {
      if (this.stall === undefined) return // past the first chunk, no stall deadline
      d = now + this.stall // not waiting now: no wait that starts later ends sooner
    }
    this.arm(d)
  }

  /** The consumer asks for the next chunk at `now` (ms, performance.now()). */
  waiting(now) {
    this.deadline = now + this.stall
    if (this.timer === undefined) this.arm(this.deadline)
  }

  end() {
    this.done = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  error() {
    if (this.which === 'firstChunk') {
      const t = this.policy.firstChunkTimeoutMs
      return new StreamTimeoutError(`no first chunk within ${t} ms; the stream was aborted`, t, 'firstChunk')
    }
    const t = this.policy.stallTimeoutMs
    return new StreamTimeoutError(`no chunk for ${t} ms; the stream was aborted`, t, 'stall')
  }
}

function stalled(guard, e) {
  if (guard !== undefined && guard.expired) {
    const err = guard.error()
    err.cause = e
    return err
  }
  return e
}

/**
 * Opens one attempt's stream up to its first chunk, inside the attempt, so a failure before it is a
 * failed attempt. `request(signal)` makes the SDK's request with `signal` and returns its stream.
 * Resolves to `{ stream, it, first, guard, controller }` (`first` is NONE when it ended empty).
 */
async function openStream(policy, fields, request, parentSignal) {
  const controller = new AbortController()
  if (parentSignal !== undefined) {
    // The policy's own cancellation (its deadline, the caller's signal) aborts this request too.
    if (parentSignal.aborted) controller.abort(parentSignal.reason)
    else parentSignal.addEventListener('abort', () => controller.abort(parentSignal.reason), { once: true })
  }
  const signal = controller.signal
  const hasDeadline = policy.firstChunkTimeoutMs !== undefined || policy.stallTimeoutMs !== undefined
  const guard = hasDeadline ? new Guard(policy, controller, performance.now()) : undefined
  let stream
  let it
  let r
  try {
    stream = await request(signal)
    it = stream[Symbol.asyncIterator]()
    r = await it.next()
    // The SDK's iterator ends quietly when its request is aborted: a deadline's abort is a failure.
    if (guard !== undefined && guard.expired) throw guard.error()
  } catch (e) {
    if (guard !== undefined) guard.end()
    controller.abort()
    throw stalled(guard, e)
  }
  if (guard !== undefined) {
    guard.deadline = Infinity
    guard.which = 'stall'
    if (guard.stall === undefined) guard.end()
  }
  if (!r.done) fields.chunk(r.value)
  return { stream, it, first: r.done ? NONE : r.value, guard, controller }
}

/**
 * The consumer's stream: the SDK's chunks with deadlines enforced and breaks handled as `policy`
 * says; `done(err)` once when it ends (read to the end, `return()`ed by a `break`, or broken).
 * `resume(prefix)` opens the rest of the answer through the policy (for 'continue').
 */
function survivingStream(opened, fields, policy, resume, done, span, counter) {
  let cur = opened
  let delivered = 0
  let resumes = 0
  let finished = false
  const finish = (err) => {
    if (finished) return
    finished = true
    if (cur.guard !== undefined) cur.guard.end()
    done(err)
  }
  const use = (o) => {
    if (o !== null && typeof o === 'object' && 'first' in o && 'guard' in o) cur = o
    else {
      // A fallback's stream (a policy fallback's answer, or StreamPolicy.fallback's chunks).
      const src = o !== null && typeof o === 'object' && Symbol.asyncIterator in o ? o[Symbol.asyncIterator]() : o[Symbol.iterator]()
      cur = { stream: o, it: src, first: NONE, guard: undefined, controller: undefined }
    }
  }
  use(opened)
  const interrupted = (cause) =>
    new StreamInterrupted(`the stream broke after ${delivered} chunks: ${cause && cause.message ? cause.message : String(cause)}`, {
      partialText: fields.text,
      usage: fields.usage,
      cause,
      chunks: delivered,
    })
  const seam = (kind) => {
    if (span === undefined) return
    span.setAttribute('ferrule.stream.interruptions', resumes)
    span.setAttribute('ferrule.stream.recovery', kind)
    span.setAttribute('ferrule.stream.seam_chars', fields.text.length)
  }
  const broken = async (cause) => {
    if (cur.guard !== undefined) cur.guard.end()
    if (cur.controller !== undefined) cur.controller.abort()
    if (policy.onInterrupt === 'continue' && resumes < policy.maxResumes) {
      resumes++
      try {
        const o = await resume(fields.text)
        seam('continue')
        use(o)
        return next()
      } catch (e) {
        cause = e
      }
    } else if (policy.onInterrupt === 'fallback' && resumes === 0) {
      resumes++
      try {
        const chunks = await policy.fallback(interrupted(cause))
        counter.fellBack = true
        seam('fallback')
        use(chunks)
        return next()
      } catch (e) {
        cause = e
      }
    }
    const err = interrupted(cause)
    finish(err)
    throw err
  }
  const next = async () => {
    if (finished) return { done: true, value: undefined }
    if (cur.first !== NONE) {
      const v = cur.first
      cur.first = NONE
      delivered++
      return { done: false, value: v }
    }
    // The one clock read per chunk: the previous chunk's end (time per chunk) and the stall deadline.
    const now = performance.now()
    fields.mark(now)
    const g = cur.guard
    if (g !== undefined && !g.done) g.waiting(now)
    let r
    try {
      r = await cur.it.next()
    } catch (e) {
      return broken(stalled(g, e))
    }
    if (g !== undefined) g.deadline = Infinity
    if (r.done) {
      // The SDK's iterator ends quietly when its request is aborted: a missed deadline is a break.
      if (g !== undefined && g.expired) return broken(g.error())
      if (fields.finished || delivered === 0) {
        finish(undefined)
        return r
      }
      return broken(new Error("the stream's body ended before a finish reason"))
    }
    delivered++
    fields.chunk(r.value)
    return r
  }
  const iterator = {
    next,
    async return(v) {
      // A consumer that stopped (`break`): abort the request so the connection is released.
      if (cur.controller !== undefined) cur.controller.abort()
      finish(undefined)
      return { done: true, value: v }
    },
    [Symbol.asyncIterator]() {
      return this
    },
  }
  return new Proxy(cur.stream, {
    get(target, prop) {
      if (prop === Symbol.asyncIterator) return () => iterator
      if (prop === 'controller' && cur.controller !== undefined) return cur.controller
      const v = Reflect.get(cur.stream, prop, cur.stream)
      return typeof v === 'function' ? v.bind(cur.stream) : v
    },
  })
}

/** A chat request asking for the rest of an answer that began with `prefix`. */
function continueMessages(body, prefix) {
  return { ...body, messages: [...(body.messages || []), { role: 'assistant', content: prefix }] }
}

module.exports = {
  StreamPolicy,
  StreamInterrupted,
  StreamTimeoutError,
  DEFAULT_STREAM_POLICY,
  openStream,
  survivingStream,
  continueMessages,
  NONE,
}
