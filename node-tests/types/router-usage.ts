// Typed usage of the router (issue 9), compiled by `npm run typecheck`.
import { ManualClock, Router, normalizeChat, type ChatResponse, type RouterEvent } from 'ferrule'

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
}
