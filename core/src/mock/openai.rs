//! The OpenAI wire format the mock speaks: chat completions (plain and server-sent events),
//! embeddings, models and responses, with usage counts, plus OpenAI-style error bodies.

use base64::Engine as _;
use serde_json::{json, Value};

/// A rough token count (4 characters a token), enough for usage and cost arithmetic.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4).max(1)
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

pub struct ChatRequest {
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
    pub json_mode: bool,
    pub prompt_text: String,
    pub last_user: String,
    /// The content of a final assistant message: the answer's prefix the client already has.
    pub continue_from: Option<String>,
    /// The result of a tool call, when the conversation ends by handing one back.
    pub tool_result: Option<String>,
}

pub fn parse_chat(body: &Value) -> Result<ChatRequest, String> {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("'messages' must be a list")?;
    let mut prompt_text = String::new();
    let mut last_user = String::new();
    for m in messages {
        let t = text_of(m.get("content").unwrap_or(&Value::Null));
        if m.get("role").and_then(Value::as_str) == Some("user") {
            last_user = t.clone();
        }
        prompt_text.push_str(&t);
        prompt_text.push('\n');
    }
    let continue_from = messages
        .last()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
        .map(|m| text_of(m.get("content").unwrap_or(&Value::Null)));
    let fmt = body
        .pointer("/response_format/type")
        .and_then(Value::as_str)
        .unwrap_or("text");
    Ok(ChatRequest {
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("mock-gpt-4o-mini")
            .to_string(),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        include_usage: body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        json_mode: fmt == "json_object" || fmt == "json_schema",
        prompt_text,
        last_user,
        continue_from,
        tool_result: super::tools::last_tool_result(messages),
    })
}

/// The answer's text: a JSON object in JSON mode, an echo otherwise. `broken` spoils the JSON the
/// way models do (a markdown fence and a trailing comma).
pub fn answer(req: &ChatRequest, broken: bool) -> String {
    let topic: String = req.last_user.chars().take(80).collect();
    if req.json_mode || broken {
        let good = json!({ "answer": format!("Mock answer to: {topic}"), "confidence": 0.87 });
        if broken {
            let s = good.to_string();
            return format!("```json\n{},\n}}\n```", &s[..s.len() - 1]);
        }
        return good.to_string();
    }
    match &req.tool_result {
        Some(r) => format!("Mock answer to: {topic} (the tool said: {r})"),
        None => format!("Mock answer to: {topic}"),
    }
}

pub fn usage(prompt: u64, completion: u64) -> Value {
    json!({ "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion })
}

pub fn chat_completion(
    id: &str,
    created: u64,
    model: &str,
    content: &str,
    prompt_tokens: u64,
) -> Value {
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_mock",
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content, "refusal": null },
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": usage(prompt_tokens, estimate_tokens(content)),
    })
}

/// A completion whose answer is a call of `call` (`finish_reason: "tool_calls"`, no content).
pub fn chat_tool_completion(
    id: &str,
    created: u64,
    model: &str,
    call: &super::tools::Call,
    call_id: &str,
    prompt_tokens: u64,
) -> Value {
    let args = call.arguments_text();
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_mock",
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": null, "refusal": null, "tool_calls": [{
                "id": call_id, "type": "function",
                "function": { "name": call.name, "arguments": args } }] },
            "logprobs": null,
            "finish_reason": "tool_calls"
        }],
        "usage": usage(prompt_tokens, estimate_tokens(&format!("{}{args}", call.name))),
    })
}

/// The server-sent events of a streamed tool call, as OpenAI streams one: the call's id and name
/// first, then its arguments text in pieces, then `finish_reason: "tool_calls"`.
pub fn chat_tool_stream_events(
    id: &str,
    created: u64,
    model: &str,
    call: &super::tools::Call,
    call_id: &str,
    prompt_tokens: u64,
    include_usage: bool,
) -> Vec<String> {
    let args = call.arguments_text();
    let first = json!({ "role": "assistant", "content": null, "tool_calls": [{ "index": 0, "id": call_id,
            "type": "function", "function": { "name": call.name, "arguments": "" } }] });
    let piece =
        |t: String| json!({ "tool_calls": [{ "index": 0, "function": { "arguments": t } }] });
    let completion = estimate_tokens(&format!("{}{args}", call.name));
    let shape = Stream {
        id,
        created,
        model,
        prompt_tokens,
        completion,
        include_usage,
    };
    shape.events(first, &args, 8, &piece, "tool_calls")
}

/// The server-sent events of a streamed completion, each a full `data: ...\n\n` line.
pub fn chat_stream_events(
    id: &str,
    created: u64,
    model: &str,
    content: &str,
    prompt_tokens: u64,
    include_usage: bool,
) -> Vec<String> {
    let first = json!({ "role": "assistant", "content": "" });
    let piece = |t: String| json!({ "content": t });
    let completion = estimate_tokens(content);
    let shape = Stream {
        id,
        created,
        model,
        prompt_tokens,
        completion,
        include_usage,
    };
    shape.events(first, content, 4, &piece, "stop")
}

/// What every chunk of one streamed completion shares.
struct Stream<'a> {
    id: &'a str,
    created: u64,
    model: &'a str,
    prompt_tokens: u64,
    completion: u64,
    include_usage: bool,
}

impl Stream<'_> {
    /// The one chunk sequence of a streamed completion: `first` (the role chunk), `body` in
    /// `size`-character deltas made by `delta`, the chunk with `finish`, the usage chunk when
    /// asked for, `[DONE]`. Text and tool-call streams differ only in the deltas.
    fn events(
        &self,
        first: Value,
        body: &str,
        size: usize,
        delta: &dyn Fn(String) -> Value,
        finish: &str,
    ) -> Vec<String> {
        let (id, created, model) = (self.id, self.created, self.model);
        let chunk = |delta: Value, finish: Value| {
            json!({
                "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                "system_fingerprint": "fp_mock",
                "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }],
            })
        };
        let mut events = vec![chunk(first, Value::Null)];
        let chars: Vec<char> = body.chars().collect();
        for piece in chars.chunks(size) {
            events.push(chunk(delta(piece.iter().collect::<String>()), Value::Null));
        }
        events.push(chunk(json!({}), json!(finish)));
        if self.include_usage {
            events.push(json!({
                "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [], "usage": usage(self.prompt_tokens, self.completion),
            }));
        }
        let mut out: Vec<String> = events
            .into_iter()
            .map(|e| format!("data: {e}\n\n"))
            .collect();
        out.push("data: [DONE]\n\n".to_string());
        out
    }
}

pub fn embeddings(body: &Value) -> Result<Value, String> {
    let inputs: Vec<String> = match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect(),
        _ => return Err("'input' must be a string or a list".into()),
    };
    // The Node SDK asks for base64 (little-endian float32) by default and decodes it itself.
    let as_base64 = body.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let dims = body
        .get("dimensions")
        .and_then(Value::as_u64)
        .unwrap_or(16)
        .clamp(1, 4096) as usize;
    let mut tokens = 0;
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            tokens += estimate_tokens(text);
            let v = vector(text, dims);
            let embedding = if as_base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| (*x as f32).to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({ "object": "embedding", "index": i, "embedding": embedding })
        })
        .collect();
    Ok(json!({
        "object": "list",
        "data": data,
        "model": body.get("model").and_then(Value::as_str).unwrap_or("mock-embedding"),
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    }))
}

/// A deterministic unit vector from the text's character trigrams.
fn vector(text: &str, dims: usize) -> Vec<f64> {
    let mut v = vec![0.0f64; dims];
    let chars: Vec<char> = text.chars().collect();
    for w in chars.windows(3.min(chars.len().max(1))) {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for c in w {
            h = (h ^ *c as u64).wrapping_mul(0x100_0000_01b3);
        }
        v[(h % dims as u64) as usize] += if h & (1 << 40) != 0 { 1.0 } else { -1.0 };
    }
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

pub fn models(names: &[&str]) -> Value {
    json!({
        "object": "list",
        "data": names.iter().map(|n| json!({ "id": n, "object": "model", "created": 1_700_000_000, "owned_by": "ferrule-mock" })).collect::<Vec<_>>(),
    })
}

pub fn responses(id: &str, created: u64, body: &Value, content: &str) -> Value {
    let (inp, out) = (
        estimate_tokens(&responses_input_text(body)),
        estimate_tokens(content),
    );
    json!({
        "id": id,
        "object": "response",
        "created_at": created,
        "status": "completed",
        "model": body.get("model").and_then(Value::as_str).unwrap_or("mock-gpt-4o-mini"),
        "output": [{
            "type": "message", "id": format!("msg_{id}"), "status": "completed", "role": "assistant",
            "content": [{ "type": "output_text", "text": content, "annotations": [] }]
        }],
        "parallel_tool_calls": true,
        "tool_choice": "auto",
        "tools": [],
        "usage": { "input_tokens": inp, "output_tokens": out, "total_tokens": inp + out,
                   "input_tokens_details": { "cached_tokens": 0 }, "output_tokens_details": { "reasoning_tokens": 0 } },
    })
}

pub fn error_body(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({ "error": { "message": message, "type": kind, "param": null, "code": code } })
}

pub fn responses_input_text(body: &Value) -> String {
    match body.get("input") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|m| text_of(m.get("content").unwrap_or(m)))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_events_reassemble_the_content() {
        let ev = chat_stream_events("id", 1, "m", "hello world!", 5, true);
        assert_eq!(ev.last().unwrap(), "data: [DONE]\n\n");
        let mut text = String::new();
        for e in &ev[..ev.len() - 1] {
            let v: Value = serde_json::from_str(e.trim_start_matches("data: ").trim()).unwrap();
            if let Some(c) = v
                .pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
            {
                text.push_str(c);
            }
        }
        assert_eq!(text, "hello world!");
        assert!(ev[ev.len() - 2].contains("\"usage\""));
    }

    #[test]
    fn a_streamed_tool_call_reassembles_its_arguments() {
        let call = super::super::tools::Call {
            name: "get_weather".into(),
            arguments: json!({ "city": "Paris, the capital of France" }),
        };
        let ev = chat_tool_stream_events("id", 1, "m", &call, "call_1", 5, false);
        let mut args = String::new();
        let mut finish = None;
        for e in &ev[..ev.len() - 1] {
            let v: Value = serde_json::from_str(e.trim_start_matches("data: ").trim()).unwrap();
            if let Some(a) = v
                .pointer("/choices/0/delta/tool_calls/0/function/arguments")
                .and_then(Value::as_str)
            {
                args.push_str(a);
            }
            if let Some(f) = v
                .pointer("/choices/0/finish_reason")
                .and_then(Value::as_str)
            {
                finish = Some(f.to_string());
            }
        }
        assert_eq!(args, call.arguments_text());
        assert_eq!(finish.as_deref(), Some("tool_calls"));
        let done = chat_tool_completion("id", 1, "m", &call, "call_1", 5);
        assert_eq!(
            done.pointer("/choices/0/message/tool_calls/0/function/arguments"),
            Some(&json!(call.arguments_text()))
        );
    }

    #[test]
    fn broken_answer_is_not_valid_json_but_json_mode_is() {
        let req = ChatRequest {
            model: "m".into(),
            stream: false,
            include_usage: false,
            json_mode: true,
            prompt_text: String::new(),
            last_user: "q".into(),
            continue_from: None,
            tool_result: None,
        };
        assert!(serde_json::from_str::<Value>(&answer(&req, false)).is_ok());
        assert!(serde_json::from_str::<Value>(&answer(&req, true)).is_err());
    }

    #[test]
    fn embeddings_are_deterministic_unit_vectors() {
        let a = embeddings(&json!({ "input": ["abc def", "xyz"], "dimensions": 8 })).unwrap();
        let b = embeddings(&json!({ "input": ["abc def", "xyz"], "dimensions": 8 })).unwrap();
        assert_eq!(a, b);
        let v: Vec<f64> = serde_json::from_value(a["data"][0]["embedding"].clone()).unwrap();
        assert_eq!(v.len(), 8);
        assert!((v.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-9);
    }
}
