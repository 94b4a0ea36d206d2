'use strict'
// One response shape for every provider behind a router: OpenAI-style chat completions, Anthropic-
// style messages and plain strings become `{ content, role, model, finishReason, inputTokens,
// outputTokens, endpoint, raw }`. An unknown shape throws (never a guessed empty answer).

function int(v) {
  return Number.isInteger(v) ? v : null
}

function normalizeChat(response, endpoint = '') {
  if (typeof response === 'string') {
    return { content: response, role: 'assistant', model: null, finishReason: null, inputTokens: null, outputTokens: null, endpoint, raw: response }
  }
  if (response && Array.isArray(response.choices) && response.choices.length > 0) {
    const c = response.choices[0]
    const m = c.message
    const content = m ? m.content : c.text
    const u = response.usage
    return {
      content: typeof content === 'string' ? content : '',
      role: (m && m.role) || 'assistant',
      model: response.model ?? null,
      finishReason: c.finish_reason ?? null,
      inputTokens: u ? int(u.prompt_tokens) : null,
      outputTokens: u ? int(u.completion_tokens) : null,
      endpoint,
      raw: response,
    }
  }
  if (response && Array.isArray(response.content)) {
    const u = response.usage
    return {
      content: response.content.filter((b) => b && b.type === 'text' && typeof b.text === 'string').map((b) => b.text).join(''),
      role: response.role || 'assistant',
      model: response.model ?? null,
      finishReason: response.stop_reason ?? null,
      inputTokens: u ? int(u.input_tokens) : null,
      outputTokens: u ? int(u.output_tokens) : null,
      endpoint,
      raw: response,
    }
  }
  const kind = response === null ? 'null' : Array.isArray(response) ? 'array' : typeof response
  throw new TypeError(`normalizeChat: endpoint ${JSON.stringify(endpoint)} returned a ${kind}, not a chat response (OpenAI-style choices, Anthropic-style content blocks, or a string)`)
}

module.exports = { normalizeChat }
