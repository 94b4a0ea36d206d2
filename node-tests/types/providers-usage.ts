// Compiled by `npm run typecheck`: wrapAnthropic keeps the client's type; ferruleMiddleware is a
// middleware wrapLanguageModel takes.
import Anthropic from '@anthropic-ai/sdk'
import { createOpenAI } from '@ai-sdk/openai'
import { generateText, wrapLanguageModel } from 'ai'
import { Policy, wrapAnthropic } from 'ferrule'
import { ferruleMiddleware } from 'ferrule/ai'

export async function anthropicKeepsItsType(): Promise<string> {
  const client: Anthropic = wrapAnthropic(new Anthropic({ apiKey: 'k' }), { policy: new Policy({ retry: { attempts: 3 } }) })
  const m = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] })
  const block = m.content[0]
  return block.type === 'text' ? block.text : ''
}

export async function middlewareFitsWrapLanguageModel(): Promise<string> {
  const model = wrapLanguageModel({
    model: createOpenAI({ apiKey: 'k' }).chat('gpt-4o-mini'),
    middleware: ferruleMiddleware({ policy: new Policy({ retry: { attempts: 2 } }) }),
  })
  const r = await generateText({ model, prompt: 'hi', maxRetries: 0 })
  return r.text
}
