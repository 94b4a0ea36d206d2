// Compile-time checks of the stream survival and streaming validation types.
import { PartialJson, StreamInterrupted, StreamPolicy, StreamTimeoutError, TimeoutError, partialValues, streamValidated } from 'ferrule'

const sp = new StreamPolicy({ firstChunkTimeoutMs: 10_000, stallTimeoutMs: 5_000, onInterrupt: 'fallback', fallback: (e: StreamInterrupted) => [e.partialText], maxResumes: 1 })
const mode: 'raise' | 'continue' | 'fallback' = sp.onInterrupt
const ms: number | undefined = sp.stallTimeoutMs

function handle(e: unknown): string {
  if (e instanceof StreamInterrupted) {
    const n: number = e.chunks
    const out: number | null | undefined = e.usage === null ? null : e.usage.outputTokens
    return `${e.partialText} ${n} ${out} ${e.code}`
  }
  if (e instanceof StreamTimeoutError) {
    const t: TimeoutError = e
    const which: 'firstChunk' | 'stall' = e.deadline
    return `${t.timeoutMs} ${which}`
  }
  return ''
}

async function validate(stream: AsyncIterable<unknown>): Promise<unknown[]> {
  const p = new PartialJson({ schema: { type: 'object' } })
  const v: unknown = p.feed('{"a": 1')
  const out: unknown[] = [v, p.complete, p.text, p.chunks]
  for await (const x of partialValues(stream, { schema: { type: 'object' } })) out.push(x)
  for await (const x of streamValidated(async () => stream, { model: 'm', messages: [] }, { reask: 1 })) out.push(x)
  return out
}

export { mode, ms, handle, validate }
