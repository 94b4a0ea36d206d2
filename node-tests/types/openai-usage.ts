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
