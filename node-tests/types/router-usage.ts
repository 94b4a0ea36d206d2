// Typed usage of the router (issue 9), compiled by `npm run typecheck`.
import { ManualClock, Router, normalizeChat, type ChatResponse, type RouterAttempt, type RouterEvent } from 'ferrule'

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
}
