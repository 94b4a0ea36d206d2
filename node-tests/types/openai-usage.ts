// Compiled by `npm run typecheck`: wrapOpenAI keeps the client's type.
import OpenAI from 'openai'
import { Policy, wrapOpenAI } from 'ferrule'

export async function wrappedKeepsItsType(): Promise<string | null> {
  const client: OpenAI = wrapOpenAI(new OpenAI({ apiKey: 'k' }), { policy: new Policy({ retry: { attempts: 3 } }) })
  const retries: boolean = new Policy().retries
  const r = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  void retries
  return r.choices[0].message.content
}

import { Limits, RateLimiter, rateLimit, observe } from 'ferrule'

export async function budgetsAndRateLimit(): Promise<number> {
  const limits = new Limits({
    requests: RateLimiter.slidingLog({ limit: 500, windowMs: 60_000 }),
    tokens: RateLimiter.slidingLog({ limit: 30_000, windowMs: 60_000 }),
  })
  const client: OpenAI = wrapOpenAI(new OpenAI({ apiKey: 'k' }), { limits, key: () => 'tenant-a' })
  void client
  const ask = rateLimit(limits, {
    cost: (q: string) => ({ requests: 1, tokens: q.length }),
    key: (q: string) => q.slice(0, 3),
    timeoutMs: 1000,
    usage: (r: { used: number }) => ({ tokens: r.used }),
  })(async (q: string) => ({ used: q.length }))
  const r: { used: number } = await ask('hello')
  const one = rateLimit(RateLimiter.tokenBucket({ rate: 1, perMs: 1000 }))((x: number) => x * 2)
  const n: number = await one(2)
  observe({ drift: true, driftSampleEvery: 10, driftMaxTemplates: 50 })
  // @ts-expect-error key is a function, not a string
  wrapOpenAI(new OpenAI({ apiKey: 'k' }), { limits, key: 'tenant' })
  return r.used + n
}
