// Typed usage of the policy API, compiled by `npm run typecheck`.
import { Chaos, Policy, resilient, RetryError, TimeoutError, CircuitBreaker, transient } from 'ferrule'

export async function policyUsage(): Promise<void> {
  const breaker = new CircuitBreaker('llm')
  const ask = resilient(async ({ signal, attempt, deadlineMs }, prompt: string) => `${prompt}${attempt}${deadlineMs ?? ''}${signal?.aborted}`, {
    retry: { attempts: 4, backoff: { kind: 'exponential', initialMs: 200, maxMs: 8000, jitter: 'full' } },
    breaker,
    timeoutMs: 10000,
    fallback: () => 'busy',
  })
  const text: string = await ask('hi')
  const policy = new Policy({ retry: { attempts: 3, retryOnResult: (v) => v === '' }, totalTimeoutMs: 5000 })
  const n: number = await policy.execute(({ attempt }) => attempt, { signal: AbortSignal.timeout(1000) })
  try {
    await policy.execute(() => Promise.reject(new Error('x')))
  } catch (e) {
    if (e instanceof RetryError) {
      const attempts: number = e.attempts
      const reason: 'attempts' | 'deadline' | 'retry_after_too_long' | 'refused' | 'budget' = e.reason
      void attempts, reason, e.errors
    } else if (e instanceof TimeoutError) {
      void e.timeoutMs
    }
  }
  // @ts-expect-error: unknown option
  new Policy({ timeout: 5 })
  const chaos = new Chaos({ errorRate: 0.1, latencyMs: 50, latencyRate: 0.2, seed: 7 })
  const chaotic = new Policy({ retry: true, chaos })
  const injected: number = chaos.stats().errorsInjected
  const retries: number = policy.stats().retries + (chaotic.stats().chaosCalls ?? 0) + injected
  void text, n, retries, transient(new Error('x'))
}
