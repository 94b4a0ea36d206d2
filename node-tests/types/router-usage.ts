// Typed usage of the router, compiled by `npm run typecheck`.
import { ManualClock, RedisBackend, Router, normalizeChat, type ChatResponse, type RouterAttempt, type RouterEvent, type RouterSyncStats } from 'ferrule'

export async function routerUsage(): Promise<void> {
  const router = new Router({
    endpoints: [
      { name: 'eu', call: async (prompt: string) => `eu:${prompt}`, region: 'eu', priority: 0, costPer1kInput: 0.15 },
      { name: 'us', call: async (prompt: string) => `us:${prompt}`, region: 'us', priority: 1, maxConcurrency: 8 },
    ],
    strategy: 'p2c_ewma',
    failbackMs: 30000,
    hedge: true,
    onEvent: (e: RouterEvent) => void e.event,
    clock: new ManualClock(),
  })
  router.onEvent((e) => void e.reason)
  const answer: unknown = await router.execute('hi')
  const chat: ChatResponse = normalizeChat(answer, 'eu')
  const active: string = router.activeRegion
  const healthy: boolean = router.stats().endpoints.every((e) => e.health === 'healthy')
  void [chat.content, active, healthy]

  // The attempt's signal aborts the loser of a hedge race. An endpoint that reads its attempt names
  // the caller's argument types, so they are not inferred with the attempt among them.
  const hedged = new Router<[prompt: string], string>({
    endpoints: [
      { name: 'a', call: async (prompt: string, attempt: RouterAttempt) => (attempt.signal.aborted ? '' : `${attempt.endpoint}:${prompt}`) },
      { name: 'b', call: async (prompt: string) => prompt, weight: 3 },
    ],
    strategy: 'round_robin',
    hedge: true,
    attempts: 2,
    latencyWindowMs: 60000,
  })
  const out: unknown = await hedged.execute('hi')
  const lost: number = hedged.stats().hedgesLost
  void [out, lost]

  // Endpoint health shared through Redis by every router of this name; the last failover's RTO.
  const shared = new Router({
    endpoints: [{ name: 'a', call: async () => 'a' }],
    name: 'chat',
    backend: new RedisBackend({ url: 'redis+cluster://127.0.0.1:7000,127.0.0.1:7001' }),
    syncMs: 250,
  })
  shared.syncNow()
  const sync: RouterSyncStats | null = shared.syncStats()
  const rto: number | null | undefined = shared.stats().lastFailoverRtoMs
  void [sync?.appliedCooldowns, rto]
}
