// Typed usage of the dead-letter queue: compiled by `npm run typecheck`.

import { DeadLetterQueue, DeadLetter, Policy, type ReplayReport } from 'ferrule'

export async function deadLetterUsage(): Promise<number> {
  const dlq = new DeadLetterQueue({ path: 'dlq.sqlite', maxItems: 100, onFull: 'dropOldest', mask: false })
  const policy = new Policy({ retry: { attempts: 3 }, deadLetter: dlq })
  const id: number | null = dlq.push({ prompt: 'hi' }, { errors: ['boom'], key: 'manual' })
  const items: DeadLetter[] = await dlq.list(10, new Date(0))
  const errors: string[] = items.length > 0 ? items[0].errors : []
  const report: ReplayReport = await dlq.replay(async (item) => item.args, { filter: (i) => i.attempts > 1, max: 5 })
  // @ts-expect-error onFull is 'reject' or 'dropOldest'
  new DeadLetterQueue({ onFull: 'sometimes' })
  void policy
  void errors
  void id
  return report.succeeded + dlq.size + (await dlq.purge())
}
