//! One chat answer shape whatever produced it (the router's normalisation layer): an OpenAI-style
//! chat completion (`choices`) or an Anthropic-style message (`content` blocks), read through the
//! host's `Value` view, once for every host. Any other shape is `None`: the host refuses it, naming
//! it, and never guesses an empty answer.

use super::read::Value;

/// Content blocks read from an Anthropic-style message (text blocks are joined).
const MAX_BLOCKS: usize = 256;

/// A chat answer in the common shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatAnswer {
    pub content: String,
    pub role: String,
    pub model: Option<String>,
    pub finish_reason: Option<String>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
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
        });
    }
    let blocks = r.field("content").filter(|b| b.is_list())?;
    let mut content = String::new();
    for b in blocks.items(MAX_BLOCKS) {
        if b.field("type").and_then(|t| t.as_string()).as_deref() == Some("text") {
            if let Some(t) = b.field("text").and_then(|t| t.as_string()) {
                content.push_str(&t);
            }
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
    })
}
