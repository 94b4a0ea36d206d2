//! One chat answer shape whatever produced it (the router's normalisation layer): an OpenAI-style
//! chat completion (`choices`) or an Anthropic-style message (`content` blocks), read through the
//! host's `Value` view, once for every host. Any other shape is `None`: the host refuses it, naming
//! it, and never guesses an empty answer. Tool calls come out in one shape too: OpenAI's
//! `message.tool_calls` (arguments as the JSON text it sent) and Anthropic's `tool_use` blocks
//! (their `input` object, as compact JSON text), each with whether that text is valid JSON.

use super::read::Value;

/// Content blocks read from an Anthropic-style message (text blocks are joined).
const MAX_BLOCKS: usize = 256;

/// Tool calls read from one answer.
const MAX_TOOL_CALLS: usize = 128;

/// A tool (function) call the model asked for, in the common shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// The provider's id for the call (`call_...`, `toolu_...`): the tool result must name it.
    pub id: String,
    pub name: String,
    /// The arguments as JSON text: what OpenAI sent verbatim, Anthropic's `input` object
    /// serialised compactly. A custom (free-form) OpenAI tool's input is its text as sent.
    pub arguments: String,
    /// Whether `arguments` parses as JSON (a model can send a broken or cut-off object); the
    /// hosts parse it only then, so both agree on what is valid.
    pub arguments_valid: bool,
}

/// A chat answer in the common shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatAnswer {
    pub content: String,
    pub role: String,
    pub model: Option<String>,
    pub finish_reason: Option<String>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    /// In the order the model gave them; empty when it called none.
    pub tool_calls: Vec<ToolCall>,
}

fn tool_call(id: Option<String>, name: Option<String>, arguments: String) -> ToolCall {
    let arguments_valid = serde_json::from_str::<serde_json::Value>(&arguments).is_ok();
    ToolCall {
        id: id.unwrap_or_default(),
        name: name.unwrap_or_default(),
        arguments,
        arguments_valid,
    }
}

/// OpenAI's `message.tool_calls`: `{id, type: "function", function: {name, arguments}}`, or a
/// custom tool's `{id, type: "custom", custom: {name, input}}`.
fn openai_tool_calls<V: Value>(message: &V) -> Vec<ToolCall> {
    let Some(calls) = message.field("tool_calls") else {
        return Vec::new();
    };
    calls
        .items(MAX_TOOL_CALLS)
        .into_iter()
        .filter_map(|c| {
            let id = c.field("id").and_then(|x| x.as_string());
            if let Some(f) = c.field("function") {
                let args = f.field("arguments").and_then(|x| x.as_string());
                let name = f.field("name").and_then(|x| x.as_string());
                return Some(tool_call(id, name, args.unwrap_or_default()));
            }
            let custom = c.field("custom")?;
            let input = custom.field("input").and_then(|x| x.as_string());
            let name = custom.field("name").and_then(|x| x.as_string());
            Some(tool_call(id, name, input.unwrap_or_default()))
        })
        .collect()
}

/// An Anthropic `tool_use` block: `{id, name, input}` (`input` an object; the host serialises it,
/// and an input it cannot serialise is left empty: invalid, never a guessed `{}`).
fn anthropic_tool_call<V: Value>(block: &V) -> ToolCall {
    let arguments = block
        .field("input")
        .and_then(|i| i.to_json())
        .unwrap_or_default();
    tool_call(
        block.field("id").and_then(|x| x.as_string()),
        block.field("name").and_then(|x| x.as_string()),
        arguments,
    )
}

fn count<V: Value>(usage: &Option<V>, name: &'static str) -> Option<u64> {
    usage
        .as_ref()
        .and_then(|u| u.field(name))
        .and_then(|x| x.as_u64())
}

/// Reads `r` as a chat answer: the first choice of a chat completion (its message, or a
/// completion's `text`), else the text blocks of a message; `None` for any other shape.
pub fn normalize_chat<V: Value>(r: &V) -> Option<ChatAnswer> {
    let model = r.field("model").and_then(|m| m.as_string());
    let usage = r.field("usage");
    if let Some(choice) = r
        .field("choices")
        .and_then(|c| c.items(1).into_iter().next())
    {
        let message = choice.field("message");
        let content = match &message {
            Some(m) => m.field("content"),
            None => choice.field("text"),
        };
        return Some(ChatAnswer {
            content: content.and_then(|t| t.as_string()).unwrap_or_default(),
            role: message
                .as_ref()
                .and_then(|m| m.field("role"))
                .and_then(|x| x.as_string())
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "assistant".into()),
            model,
            finish_reason: choice.field("finish_reason").and_then(|x| x.as_string()),
            input_tokens: count(&usage, "prompt_tokens"),
            output_tokens: count(&usage, "completion_tokens"),
            tool_calls: message.as_ref().map(openai_tool_calls).unwrap_or_default(),
        });
    }
    let blocks = r.field("content").filter(|b| b.is_list())?;
    let mut content = String::new();
    let mut tool_calls = Vec::new();
    for b in blocks.items(MAX_BLOCKS) {
        match b.field("type").and_then(|t| t.as_string()).as_deref() {
            Some("text") => {
                if let Some(t) = b.field("text").and_then(|t| t.as_string()) {
                    content.push_str(&t);
                }
            }
            Some("tool_use") if tool_calls.len() < MAX_TOOL_CALLS => {
                tool_calls.push(anthropic_tool_call(&b));
            }
            _ => {}
        }
    }
    Some(ChatAnswer {
        content,
        role: r
            .field("role")
            .and_then(|x| x.as_string())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "assistant".into()),
        model,
        finish_reason: r.field("stop_reason").and_then(|x| x.as_string()),
        input_tokens: count(&usage, "input_tokens"),
        output_tokens: count(&usage, "output_tokens"),
        tool_calls,
    })
}
