'use strict'
// One response shape for every provider behind a router: OpenAI-style chat completions, Anthropic-
// style messages and plain strings become `{ content, role, model, finishReason, inputTokens,
// outputTokens, endpoint, raw, toolCalls }`. The core reads the shapes; an unknown one throws (never
// a guessed empty answer). Tool calls come out as `{ id, name, arguments, parsedArguments }` whichever
// provider made them (OpenAI `tool_calls`, Anthropic `tool_use` blocks).

const native = require('./native.js')

function normalizeChat(response, endpoint = '') {
  if (typeof response === 'string') {
    return { content: response, role: 'assistant', model: null, finishReason: null, inputTokens: null, outputTokens: null, endpoint, raw: response, toolCalls: [] }
  }
  const a = response !== null && typeof response === 'object' ? native.readChatAnswer(response) : null
  if (a === null || a === undefined) {
    const kind = response === null ? 'null' : Array.isArray(response) ? 'array' : typeof response
    throw new TypeError(`normalizeChat: endpoint ${JSON.stringify(endpoint)} returned a ${kind}, not a chat response (OpenAI-style choices, Anthropic-style content blocks, or a string)`)
  }
  return {
    content: a.content,
    role: a.role,
    model: a.model ?? null,
    finishReason: a.finishReason ?? null,
    inputTokens: a.inputTokens ?? null,
    outputTokens: a.outputTokens ?? null,
    endpoint,
    raw: response,
    // The core said whether the text is JSON (the same rule as the Python host's): parse only then.
    toolCalls: a.toolCalls.map((t) => ({ id: t.id, name: t.name, arguments: t.arguments, parsedArguments: t.argumentsValid ? JSON.parse(t.arguments) : null })),
  }
}

module.exports = { normalizeChat }
