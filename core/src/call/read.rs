//! Reading a provider's request and response into the call record's fields, once for every host.
//! The host supplies `Value`, a view of its own objects (a Python SDK object or dict, a JS object)
//! that can look up a field by name; which field names mean input tokens, the answering model or a
//! finish reason (OpenAI chat, Responses, embeddings, Anthropic messages, streamed chunks) is
//! decided here.

use super::record::{Parameters, Tokens};

/// A host object seen through field look-ups. Missing fields and null/None are both `None`.
pub trait Value: Sized {
    /// `name` is always a literal: a binding may cache its host string by address.
    fn field(&self, name: &'static str) -> Option<Self>;
    fn as_u64(&self) -> Option<u64>;
    fn as_f64(&self) -> Option<f64>;
    fn as_i64(&self) -> Option<i64>;
    fn as_bool(&self) -> Option<bool>;
    fn as_string(&self) -> Option<String>;
    /// The elements of a list/array, at most `max`; empty when it is not one.
    fn items(&self, max: usize) -> Vec<Self>;
    /// Whether this is a list/array (an empty one too). The default cannot tell an empty list from
    /// a non-list; a binding overrides it.
    fn is_list(&self) -> bool {
        !self.items(1).is_empty()
    }
    /// This value as compact JSON text (an object a provider sent as an object, such as a tool
    /// call's `input`), or `None` when the host cannot serialise it. The default cannot.
    fn to_json(&self) -> Option<String> {
        None
    }
}

/// What a response (or a stream's chunks, accumulated) says about the call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseFields {
    pub model: Option<String>,
    pub id: Option<String>,
    pub finish_reasons: Vec<String>,
    pub tokens: Tokens,
    /// The answer's text, read only when content is captured.
    pub text: Option<String>,
}

/// What a request says: the model, the parameters kept, and the prompt's messages for the
/// template fingerprint (role, text).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestFields {
    pub model: Option<String>,
    pub parameters: Parameters,
    pub messages: Vec<(String, String)>,
    /// A template named in the request's `metadata` (`template` or `prompt_template`).
    pub template: Option<String>,
}

const MAX_CHOICES: usize = 16;
/// Messages read for the fingerprint: the instructions are at the start of a prompt.
const MAX_MESSAGES: usize = 4;

fn first_u64<V: Value>(v: &V, names: &[&'static str]) -> Option<u64> {
    names
        .iter()
        .find_map(|n| v.field(n).and_then(|x| x.as_u64()))
}

fn nested_u64<V: Value>(v: &V, paths: &[(&'static str, &'static str)]) -> Option<u64> {
    paths
        .iter()
        .find_map(|(a, b)| v.field(a).and_then(|x| x.field(b)).and_then(|x| x.as_u64()))
}

/// Token counts from a `usage` object: chat/embeddings (`prompt_tokens`/`completion_tokens`),
/// Responses and Anthropic (`input_tokens`/`output_tokens`), the Vercel AI SDK's
/// (`inputTokens: { total, cacheRead, cacheWrite }`, or numbers), with cache and reasoning details.
///
/// `input` counts every prompt token, cached ones included (as OpenAI's `prompt_tokens` does):
/// Anthropic reports cache reads and writes beside `input_tokens`, so they are added to it.
pub fn read_usage<V: Value>(u: &V) -> Tokens {
    let vercel_in = u.field("inputTokens");
    let vercel_out = u.field("outputTokens");
    let sub = |v: &Option<V>, name: &'static str| {
        v.as_ref()
            .and_then(|x| x.field(name))
            .and_then(|x| x.as_u64())
    };
    let num = |v: &Option<V>| v.as_ref().and_then(|x| x.as_u64());
    let anthropic_read = u.field("cache_read_input_tokens").and_then(|x| x.as_u64());
    let anthropic_write = u
        .field("cache_creation_input_tokens")
        .and_then(|x| x.as_u64());
    let input = match u.field("input_tokens").and_then(|x| x.as_u64()) {
        Some(n) if anthropic_read.is_some() || anthropic_write.is_some() => {
            Some(n + anthropic_read.unwrap_or(0) + anthropic_write.unwrap_or(0))
        }
        Some(n) => Some(n),
        None => first_u64(u, &["prompt_tokens"])
            .or_else(|| sub(&vercel_in, "total"))
            .or_else(|| num(&vercel_in)),
    };
    Tokens {
        input,
        output: first_u64(u, &["completion_tokens", "output_tokens"])
            .or_else(|| sub(&vercel_out, "total"))
            .or_else(|| num(&vercel_out)),
        cache_read: nested_u64(
            u,
            &[
                ("prompt_tokens_details", "cached_tokens"),
                ("input_tokens_details", "cached_tokens"),
            ],
        )
        .or(anthropic_read)
        .or_else(|| nested_u64(u, &[("input_token_details", "cache_read")]))
        .or_else(|| sub(&vercel_in, "cacheRead"))
        .or_else(|| u.field("cachedInputTokens").and_then(|x| x.as_u64())),
        cache_creation: anthropic_write
            .or_else(|| nested_u64(u, &[("input_token_details", "cache_creation")]))
            .or_else(|| sub(&vercel_in, "cacheWrite")),
        reasoning: nested_u64(
            u,
            &[
                ("completion_tokens_details", "reasoning_tokens"),
                ("output_tokens_details", "reasoning_tokens"),
                ("output_token_details", "reasoning"),
            ],
        )
        .or_else(|| sub(&vercel_out, "reasoning"))
        .or_else(|| u.field("reasoningTokens").and_then(|x| x.as_u64())),
    }
}

fn text_of_content<V: Value>(content: &V) -> Option<String> {
    if let Some(s) = content.as_string() {
        return Some(s);
    }
    // A list of parts (`{"type": "text", "text": ...}`): the text parts joined.
    let parts = content.items(64);
    if parts.is_empty() {
        return None;
    }
    let mut out = String::new();
    for p in parts {
        if let Some(t) = p.field("text").and_then(|t| t.as_string()) {
            out.push_str(&t);
        }
    }
    Some(out)
}

/// A finished response: chat completion, Responses API response, embeddings, Anthropic message.
pub fn read_response<V: Value>(r: &V, with_text: bool) -> ResponseFields {
    let mut f = ResponseFields {
        model: r.field("model").and_then(|m| m.as_string()),
        id: r.field("id").and_then(|m| m.as_string()),
        ..Default::default()
    };
    if let Some(u) = r.field("usage") {
        f.tokens = read_usage(&u);
    }
    if let Some(choices) = r.field("choices") {
        let choices = choices.items(MAX_CHOICES);
        for c in &choices {
            if let Some(fr) = c.field("finish_reason").and_then(|x| x.as_string()) {
                f.finish_reasons.push(fr);
            }
        }
        if with_text {
            f.text = choices.first().and_then(|c| {
                c.field("message")
                    .and_then(|m| m.field("content"))
                    .or_else(|| c.field("text"))
                    .and_then(|t| text_of_content(&t))
            });
        }
    } else if let Some(fr) = r.field("finishReason") {
        // A Vercel AI SDK `doGenerate` result: the provider's own reason (`raw`) when it gave
        // one, else the unified one (v3), or the v2 string.
        let reason = fr
            .as_string()
            .or_else(|| fr.field("raw").and_then(|x| x.as_string()))
            .or_else(|| fr.field("unified").and_then(|x| x.as_string()));
        f.finish_reasons.extend(reason);
        if let Some(resp) = r.field("response") {
            f.model = resp.field("modelId").and_then(|x| x.as_string());
            f.id = resp.field("id").and_then(|x| x.as_string());
        }
        if with_text {
            f.text = r.field("content").and_then(|c| text_of_content(&c));
        }
    } else if let Some(stop) = r.field("stop_reason").and_then(|x| x.as_string()) {
        // Anthropic messages.
        f.finish_reasons.push(stop);
        if with_text {
            f.text = r.field("content").and_then(|c| text_of_content(&c));
        }
    } else if let Some(status) = r.field("status").and_then(|x| x.as_string()) {
        // Responses API: `completed`, or why it is incomplete.
        let reason = r
            .field("incomplete_details")
            .and_then(|d| d.field("reason"))
            .and_then(|x| x.as_string());
        f.finish_reasons.push(reason.unwrap_or(status));
        if with_text {
            f.text = r.field("output_text").and_then(|t| t.as_string());
        }
    }
    f
}

/// One streamed chunk folded into what the stream said so far: the first model and id, the
/// finish reasons, the usage (on the final chunk when the provider sends it), the text deltas.
pub fn read_chunk<V: Value>(c: &V, acc: &mut ResponseFields, with_text: bool) {
    if acc.model.is_none() {
        acc.model = c.field("model").and_then(|m| m.as_string());
    }
    if acc.id.is_none() {
        acc.id = c.field("id").and_then(|m| m.as_string());
    }
    if let Some(u) = c.field("usage") {
        // Anthropic splits usage across events (input on `message_start`, output on
        // `message_delta`): a later event overrides only the counts it carries.
        merge_tokens(&mut acc.tokens, read_usage(&u));
    }
    if let Some(m) = c.field("message") {
        // Anthropic `message_start`: the message so far, with its id, model and input usage.
        if acc.model.is_none() {
            acc.model = m.field("model").and_then(|x| x.as_string());
        }
        if acc.id.is_none() {
            acc.id = m.field("id").and_then(|x| x.as_string());
        }
        if let Some(u) = m.field("usage") {
            merge_tokens(&mut acc.tokens, read_usage(&u));
        }
        return;
    }
    if let Some(fr) = c.field("finishReason") {
        // The Vercel AI SDK's `finish` stream part (its usage was merged above).
        let reason = fr
            .as_string()
            .or_else(|| fr.field("raw").and_then(|x| x.as_string()))
            .or_else(|| fr.field("unified").and_then(|x| x.as_string()));
        acc.finish_reasons.extend(reason);
        return;
    }
    if acc.model.is_none() {
        // The Vercel AI SDK's `response-metadata` stream part.
        acc.model = c.field("modelId").and_then(|m| m.as_string());
    }
    if let Some(d) = c.field("delta").filter(|d| d.as_string().is_none()) {
        if c.field("choices").is_none() {
            // Anthropic `message_delta` (the stop reason) and `content_block_delta` (text).
            if let Some(stop) = d.field("stop_reason").and_then(|x| x.as_string()) {
                acc.finish_reasons.push(stop);
            }
            if with_text {
                if let Some(t) = d.field("text").and_then(|t| t.as_string()) {
                    acc.text.get_or_insert_with(String::new).push_str(&t);
                }
            }
            return;
        }
    }
    if let Some(choices) = c.field("choices") {
        for ch in choices.items(MAX_CHOICES) {
            if let Some(fr) = ch.field("finish_reason").and_then(|x| x.as_string()) {
                acc.finish_reasons.push(fr);
            }
            if with_text {
                if let Some(t) = ch
                    .field("delta")
                    .and_then(|d| d.field("content"))
                    .and_then(|t| t.as_string())
                {
                    acc.text.get_or_insert_with(String::new).push_str(&t);
                }
            }
        }
    } else if let Some(resp) = c.field("response") {
        // Responses API events: the final `response.completed` carries the whole response.
        let full = read_response(&resp, false);
        if full.model.is_some() {
            acc.model = full.model;
        }
        if full.id.is_some() {
            acc.id = full.id;
        }
        if full.tokens != Tokens::default() {
            acc.tokens = full.tokens;
        }
        if !full.finish_reasons.is_empty() {
            acc.finish_reasons = full.finish_reasons;
        }
    } else if with_text {
        let is_delta = c
            .field("type")
            .and_then(|t| t.as_string())
            .is_some_and(|t| t == "response.output_text.delta" || t == "text-delta");
        if is_delta {
            if let Some(t) = c.field("delta").and_then(|t| t.as_string()) {
                acc.text.get_or_insert_with(String::new).push_str(&t);
            }
        }
    }
}

fn merge_tokens(acc: &mut Tokens, t: Tokens) {
    let keep = |a: &mut Option<u64>, b: Option<u64>| {
        if b.is_some() {
            *a = b;
        }
    };
    keep(&mut acc.input, t.input);
    keep(&mut acc.output, t.output);
    keep(&mut acc.cache_read, t.cache_read);
    keep(&mut acc.cache_creation, t.cache_creation);
    keep(&mut acc.reasoning, t.reasoning);
}

/// A request's body (keyword arguments in Python, the body object in JS).
pub fn read_request<V: Value>(body: &V, operation: &str) -> RequestFields {
    let f64_of = |n: &'static str| body.field(n).and_then(|x| x.as_f64());
    let parameters = Parameters {
        temperature: f64_of("temperature"),
        top_p: f64_of("top_p"),
        top_k: f64_of("top_k"),
        max_tokens: first_u64(
            body,
            &["max_tokens", "max_completion_tokens", "max_output_tokens"],
        ),
        seed: body.field("seed").and_then(|x| x.as_i64()),
        choice_count: body.field("n").and_then(|x| x.as_u64()),
        frequency_penalty: f64_of("frequency_penalty"),
        presence_penalty: f64_of("presence_penalty"),
        stream: body
            .field("stream")
            .and_then(|x| x.as_bool())
            .unwrap_or(false),
    };
    let mut messages = Vec::new();
    let prompt = if operation == "chat" {
        body.field("messages")
    } else {
        body.field("input")
    };
    if let Some(p) = prompt {
        if let Some(s) = p.as_string() {
            messages.push(("user".to_string(), s));
        } else {
            for m in p.items(MAX_MESSAGES) {
                let role = m
                    .field("role")
                    .and_then(|r| r.as_string())
                    .unwrap_or_else(|| "user".into());
                let text = m
                    .field("content")
                    .and_then(|c| text_of_content(&c))
                    .or_else(|| m.as_string())
                    .unwrap_or_default();
                messages.push((role, text));
            }
        }
    }
    if let Some(instructions) = body.field("instructions").and_then(|i| i.as_string()) {
        // Responses API (and Anthropic `system`): the instructions are the system message.
        messages.insert(0, ("system".into(), instructions));
    } else if let Some(system) = body.field("system").and_then(|s| text_of_content(&s)) {
        messages.insert(0, ("system".into(), system));
    }
    let template = body.field("metadata").and_then(|m| {
        ["template", "prompt_template"]
            .iter()
            .find_map(|k| m.field(k).and_then(|t| t.as_string()))
    });
    RequestFields {
        model: body.field("model").and_then(|m| m.as_string()),
        parameters,
        messages,
        template,
    }
}

/// Messages counted by the token estimate (a longer prompt is still charged, from its first ones).
const MAX_ESTIMATED_MESSAGES: usize = 10_000;

/// A request's token estimate for a token budget: the prompt's text at about four bytes a token
/// (plus four tokens of framing per message), plus the completion it may spend (`max_tokens` and
/// its aliases). Settled later from the response's usage, so the estimate only needs to be close.
pub fn estimate_tokens<V: Value>(body: &V, operation: &str) -> u64 {
    let prompt = if operation == "chat" {
        body.field("messages")
    } else {
        body.field("input")
    };
    let mut bytes = 0u64;
    let mut messages = 0u64;
    if let Some(p) = prompt {
        if let Some(s) = p.as_string() {
            bytes += s.len() as u64;
            messages = 1;
        } else {
            for m in p.items(MAX_ESTIMATED_MESSAGES) {
                messages += 1;
                let text = m
                    .field("content")
                    .and_then(|c| text_of_content(&c))
                    .or_else(|| m.as_string())
                    .unwrap_or_default();
                bytes += text.len() as u64;
            }
        }
    }
    for k in ["instructions", "system"] {
        if let Some(t) = body.field(k).and_then(|t| text_of_content(&t)) {
            bytes += t.len() as u64;
        }
    }
    let completion = first_u64(
        body,
        &["max_tokens", "max_completion_tokens", "max_output_tokens"],
    )
    .unwrap_or(0);
    bytes.div_ceil(4) + 4 * messages + completion
}

/// `server.address` and `server.port` of a base URL (`https://api.openai.com/v1`).
pub fn server_of_url(url: &str) -> Option<(String, Option<u16>)> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if authority.is_empty() {
        return None;
    }
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, tail) = v6.split_once(']')?;
        let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok())),
        None => {
            let port = match url.split_once("://").map(|(s, _)| s) {
                Some("https") => Some(443),
                Some("http") => Some(80),
                _ => None,
            };
            Some((authority.to_string(), port))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A JSON-like test value.
    #[derive(Clone, Debug)]
    enum J {
        N(f64),
        S(String),
        B(bool),
        L(Vec<J>),
        O(BTreeMap<String, J>),
    }

    fn o(pairs: &[(&str, J)]) -> J {
        J::O(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }
    fn s(v: &str) -> J {
        J::S(v.into())
    }

    impl Value for J {
        fn field(&self, name: &'static str) -> Option<Self> {
            match self {
                J::O(m) => m.get(name).cloned(),
                _ => None,
            }
        }
        fn as_u64(&self) -> Option<u64> {
            match self {
                J::N(n) if *n >= 0.0 && n.fract() == 0.0 => Some(*n as u64),
                _ => None,
            }
        }
        fn as_f64(&self) -> Option<f64> {
            match self {
                J::N(n) => Some(*n),
                _ => None,
            }
        }
        fn as_i64(&self) -> Option<i64> {
            match self {
                J::N(n) if n.fract() == 0.0 => Some(*n as i64),
                _ => None,
            }
        }
        fn as_bool(&self) -> Option<bool> {
            match self {
                J::B(b) => Some(*b),
                _ => None,
            }
        }
        fn as_string(&self) -> Option<String> {
            match self {
                J::S(s) => Some(s.clone()),
                _ => None,
            }
        }
        fn items(&self, max: usize) -> Vec<Self> {
            match self {
                J::L(l) => l.iter().take(max).cloned().collect(),
                _ => vec![],
            }
        }
        fn to_json(&self) -> Option<String> {
            fn v(j: &J) -> serde_json::Value {
                match j {
                    J::N(n) => serde_json::json!(n),
                    J::S(s) => serde_json::json!(s),
                    J::B(b) => serde_json::json!(b),
                    J::L(l) => serde_json::Value::Array(l.iter().map(v).collect()),
                    J::O(m) => serde_json::Value::Object(
                        m.iter().map(|(k, x)| (k.clone(), v(x))).collect(),
                    ),
                }
            }
            Some(v(self).to_string())
        }
    }

    #[test]
    fn normalize_chat_reads_tool_calls_of_both_shapes() {
        use crate::call::normalize::{normalize_chat, ToolCall};
        let call = |id: &str, name: &str, args: &str| {
            o(&[
                ("id", s(id)),
                ("type", s("function")),
                ("function", o(&[("name", s(name)), ("arguments", s(args))])),
            ])
        };
        let openai = o(&[(
            "choices",
            J::L(vec![o(&[
                ("finish_reason", s("tool_calls")),
                (
                    "message",
                    o(&[
                        ("role", s("assistant")),
                        (
                            "tool_calls",
                            J::L(vec![
                                call("call_1", "get_weather", r#"{"city":"Paris"}"#),
                                call("call_2", "lookup", r#"{"q": "cut off"#),
                                o(&[
                                    ("id", s("call_3")),
                                    ("type", s("custom")),
                                    ("custom", o(&[("name", s("sql")), ("input", s("SELECT 1"))])),
                                ]),
                            ]),
                        ),
                    ]),
                ),
            ])]),
        )]);
        let a = normalize_chat(&openai).unwrap();
        assert_eq!(a.content, "");
        assert_eq!(a.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(
            a.tool_calls,
            vec![
                ToolCall {
                    id: "call_1".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Paris"}"#.into(),
                    arguments_valid: true
                },
                ToolCall {
                    id: "call_2".into(),
                    name: "lookup".into(),
                    arguments: r#"{"q": "cut off"#.into(),
                    arguments_valid: false
                },
                ToolCall {
                    id: "call_3".into(),
                    name: "sql".into(),
                    arguments: "SELECT 1".into(),
                    arguments_valid: false
                },
            ]
        );
        let anthropic = o(&[
            ("stop_reason", s("tool_use")),
            (
                "content",
                J::L(vec![
                    o(&[("type", s("text")), ("text", s("Let me look."))]),
                    o(&[
                        ("type", s("tool_use")),
                        ("id", s("toolu_1")),
                        ("name", s("get_weather")),
                        ("input", o(&[("city", s("Paris"))])),
                    ]),
                ]),
            ),
        ]);
        let b = normalize_chat(&anthropic).unwrap();
        assert_eq!(b.content, "Let me look.");
        assert_eq!(b.finish_reason.as_deref(), Some("tool_use"));
        assert_eq!(
            b.tool_calls,
            vec![ToolCall {
                id: "toolu_1".into(),
                name: "get_weather".into(),
                arguments: r#"{"city":"Paris"}"#.into(),
                arguments_valid: true
            }]
        );
        // The same call from both providers: only the id differs.
        assert_eq!(
            (&a.tool_calls[0].name, &a.tool_calls[0].arguments),
            (&b.tool_calls[0].name, &b.tool_calls[0].arguments)
        );
        // A plain answer calls no tools.
        let plain = o(&[(
            "choices",
            J::L(vec![o(&[("message", o(&[("content", s("hi"))]))])]),
        )]);
        assert!(normalize_chat(&plain).unwrap().tool_calls.is_empty());
    }

    #[test]
    fn normalize_chat_reads_openai_and_anthropic_shapes_and_refuses_others() {
        use crate::call::normalize::normalize_chat;
        let openai = o(&[
            ("model", s("gpt-4o")),
            (
                "choices",
                J::L(vec![o(&[
                    ("finish_reason", s("stop")),
                    (
                        "message",
                        o(&[("role", s("assistant")), ("content", s("hi"))]),
                    ),
                ])]),
            ),
            (
                "usage",
                o(&[
                    ("prompt_tokens", J::N(3.0)),
                    ("completion_tokens", J::N(1.0)),
                ]),
            ),
        ]);
        let a = normalize_chat(&openai).unwrap();
        assert_eq!(
            (a.content.as_str(), a.role.as_str(), a.model.as_deref()),
            ("hi", "assistant", Some("gpt-4o"))
        );
        assert_eq!(
            (a.finish_reason.as_deref(), a.input_tokens, a.output_tokens),
            (Some("stop"), Some(3), Some(1))
        );
        let anthropic = o(&[
            ("model", s("claude")),
            (
                "content",
                J::L(vec![
                    o(&[("type", s("text")), ("text", s("hello "))]),
                    o(&[("type", s("tool_use")), ("text", s("x"))]),
                    o(&[("type", s("text")), ("text", s("there"))]),
                ]),
            ),
            ("stop_reason", s("end_turn")),
            (
                "usage",
                o(&[("input_tokens", J::N(5.0)), ("output_tokens", J::N(2.0))]),
            ),
        ]);
        let b = normalize_chat(&anthropic).unwrap();
        assert_eq!(b.content, "hello there");
        assert_eq!(
            (b.finish_reason.as_deref(), b.input_tokens, b.output_tokens),
            (Some("end_turn"), Some(5), Some(2))
        );
        assert_eq!(normalize_chat(&o(&[("content", s("text"))])), None);
        assert_eq!(normalize_chat(&J::N(42.0)), None);
        assert_eq!(normalize_chat(&o(&[("choices", J::L(vec![]))])), None);
    }

    #[test]
    fn chat_completion() {
        let r = o(&[
            ("id", s("chatcmpl-1")),
            ("model", s("gpt-4o-2024-08-06")),
            (
                "choices",
                J::L(vec![o(&[
                    ("finish_reason", s("stop")),
                    ("message", o(&[("content", s("hi"))])),
                ])]),
            ),
            (
                "usage",
                o(&[
                    ("prompt_tokens", J::N(10.0)),
                    ("completion_tokens", J::N(3.0)),
                    ("prompt_tokens_details", o(&[("cached_tokens", J::N(4.0))])),
                    (
                        "completion_tokens_details",
                        o(&[("reasoning_tokens", J::N(1.0))]),
                    ),
                ]),
            ),
        ]);
        let f = read_response(&r, true);
        assert_eq!(f.model.as_deref(), Some("gpt-4o-2024-08-06"));
        assert_eq!(f.id.as_deref(), Some("chatcmpl-1"));
        assert_eq!(f.finish_reasons, vec!["stop"]);
        assert_eq!(f.text.as_deref(), Some("hi"));
        assert_eq!(
            f.tokens,
            Tokens {
                input: Some(10),
                output: Some(3),
                cache_read: Some(4),
                cache_creation: None,
                reasoning: Some(1)
            }
        );
        assert_eq!(read_response(&r, false).text, None);
    }

    #[test]
    fn anthropic_and_responses() {
        let a = o(&[
            ("model", s("claude-3-5-sonnet")),
            ("stop_reason", s("end_turn")),
            (
                "content",
                J::L(vec![o(&[("type", s("text")), ("text", s("ok"))])]),
            ),
            (
                "usage",
                o(&[
                    ("input_tokens", J::N(7.0)),
                    ("output_tokens", J::N(2.0)),
                    ("cache_read_input_tokens", J::N(5.0)),
                    ("cache_creation_input_tokens", J::N(1.0)),
                ]),
            ),
        ]);
        let f = read_response(&a, true);
        assert_eq!(f.finish_reasons, vec!["end_turn"]);
        assert_eq!(f.text.as_deref(), Some("ok"));
        assert_eq!(f.tokens.cache_read, Some(5));
        assert_eq!(f.tokens.cache_creation, Some(1));
        // Anthropic's input_tokens leave the cache out; the record's input counts it.
        assert_eq!(f.tokens.input, Some(7 + 5 + 1));
        let r = o(&[
            ("status", s("incomplete")),
            (
                "incomplete_details",
                o(&[("reason", s("max_output_tokens"))]),
            ),
            ("output_text", s("partial")),
        ]);
        let f = read_response(&r, true);
        assert_eq!(f.finish_reasons, vec!["max_output_tokens"]);
        assert_eq!(f.text.as_deref(), Some("partial"));
    }

    #[test]
    fn stream_chunks_accumulate() {
        let mut acc = ResponseFields::default();
        let delta = |t: &str| {
            o(&[
                ("id", s("c1")),
                ("model", s("m")),
                (
                    "choices",
                    J::L(vec![o(&[("delta", o(&[("content", s(t))]))])]),
                ),
            ])
        };
        read_chunk(&delta("he"), &mut acc, true);
        read_chunk(&delta("llo"), &mut acc, true);
        read_chunk(
            &o(&[("choices", J::L(vec![o(&[("finish_reason", s("length"))])]))]),
            &mut acc,
            true,
        );
        read_chunk(
            &o(&[
                ("choices", J::L(vec![])),
                (
                    "usage",
                    o(&[
                        ("prompt_tokens", J::N(3.0)),
                        ("completion_tokens", J::N(2.0)),
                    ]),
                ),
            ]),
            &mut acc,
            true,
        );
        assert_eq!(acc.text.as_deref(), Some("hello"));
        assert_eq!(acc.finish_reasons, vec!["length"]);
        assert_eq!(acc.tokens.output, Some(2));
        assert_eq!(acc.id.as_deref(), Some("c1"));
    }

    #[test]
    fn anthropic_stream_events_accumulate() {
        let mut acc = ResponseFields::default();
        let events = [
            o(&[
                ("type", s("message_start")),
                (
                    "message",
                    o(&[
                        ("id", s("msg_1")),
                        ("model", s("claude-x")),
                        (
                            "usage",
                            o(&[
                                ("input_tokens", J::N(9.0)),
                                ("output_tokens", J::N(1.0)),
                                ("cache_read_input_tokens", J::N(6.0)),
                                ("cache_creation_input_tokens", J::N(2.0)),
                            ]),
                        ),
                    ]),
                ),
            ]),
            o(&[("type", s("content_block_start")), ("index", J::N(0.0))]),
            o(&[
                ("type", s("content_block_delta")),
                ("delta", o(&[("type", s("text_delta")), ("text", s("he"))])),
            ]),
            o(&[
                ("type", s("content_block_delta")),
                ("delta", o(&[("type", s("text_delta")), ("text", s("y"))])),
            ]),
            o(&[
                ("type", s("message_delta")),
                ("delta", o(&[("stop_reason", s("max_tokens"))])),
                ("usage", o(&[("output_tokens", J::N(4.0))])),
            ]),
            o(&[("type", s("message_stop"))]),
        ];
        for e in &events {
            read_chunk(e, &mut acc, true);
        }
        assert_eq!(acc.id.as_deref(), Some("msg_1"));
        assert_eq!(acc.model.as_deref(), Some("claude-x"));
        assert_eq!(acc.text.as_deref(), Some("hey"));
        assert_eq!(acc.finish_reasons, vec!["max_tokens"]);
        assert_eq!(
            acc.tokens,
            Tokens {
                input: Some(9 + 6 + 2),
                output: Some(4),
                cache_read: Some(6),
                cache_creation: Some(2),
                reasoning: None
            }
        );
    }

    #[test]
    fn vercel_ai_sdk_results() {
        let v3 = o(&[
            (
                "content",
                J::L(vec![o(&[("type", s("text")), ("text", s("hi"))])]),
            ),
            (
                "finishReason",
                o(&[("unified", s("length")), ("raw", s("max_tokens"))]),
            ),
            (
                "usage",
                o(&[
                    (
                        "inputTokens",
                        o(&[
                            ("total", J::N(20.0)),
                            ("noCache", J::N(12.0)),
                            ("cacheRead", J::N(6.0)),
                            ("cacheWrite", J::N(2.0)),
                        ]),
                    ),
                    (
                        "outputTokens",
                        o(&[("total", J::N(5.0)), ("reasoning", J::N(1.0))]),
                    ),
                ]),
            ),
            (
                "response",
                o(&[("id", s("msg_9")), ("modelId", s("claude-x"))]),
            ),
        ]);
        let f = read_response(&v3, true);
        assert_eq!(f.finish_reasons, vec!["max_tokens"]);
        assert_eq!(f.model.as_deref(), Some("claude-x"));
        assert_eq!(f.id.as_deref(), Some("msg_9"));
        assert_eq!(f.text.as_deref(), Some("hi"));
        assert_eq!(
            f.tokens,
            Tokens {
                input: Some(20),
                output: Some(5),
                cache_read: Some(6),
                cache_creation: Some(2),
                reasoning: Some(1)
            }
        );
        let v2 = o(&[
            ("finishReason", s("stop")),
            (
                "usage",
                o(&[
                    ("inputTokens", J::N(3.0)),
                    ("outputTokens", J::N(2.0)),
                    ("cachedInputTokens", J::N(1.0)),
                ]),
            ),
        ]);
        let f = read_response(&v2, false);
        assert_eq!(f.finish_reasons, vec!["stop"]);
        assert_eq!(
            (f.tokens.input, f.tokens.output, f.tokens.cache_read),
            (Some(3), Some(2), Some(1))
        );
    }

    #[test]
    fn vercel_ai_sdk_stream_parts() {
        let mut acc = ResponseFields::default();
        let parts = [
            o(&[("type", s("stream-start"))]),
            o(&[
                ("type", s("response-metadata")),
                ("id", s("r1")),
                ("modelId", s("gpt-x")),
            ]),
            o(&[
                ("type", s("text-delta")),
                ("id", s("0")),
                ("delta", s("he")),
            ]),
            o(&[
                ("type", s("text-delta")),
                ("id", s("0")),
                ("delta", s("llo")),
            ]),
            o(&[
                ("type", s("finish")),
                ("finishReason", o(&[("unified", s("stop"))])),
                (
                    "usage",
                    o(&[
                        ("inputTokens", o(&[("total", J::N(7.0))])),
                        ("outputTokens", o(&[("total", J::N(2.0))])),
                    ]),
                ),
            ]),
        ];
        for p in &parts {
            read_chunk(p, &mut acc, true);
        }
        assert_eq!(acc.model.as_deref(), Some("gpt-x"));
        assert_eq!(acc.text.as_deref(), Some("hello"));
        assert_eq!(acc.finish_reasons, vec!["stop"]);
        assert_eq!((acc.tokens.input, acc.tokens.output), (Some(7), Some(2)));
    }

    #[test]
    fn request_parameters_and_messages() {
        let b = o(&[
            ("model", s("gpt-4o")),
            ("temperature", J::N(0.2)),
            ("max_completion_tokens", J::N(100.0)),
            ("stream", J::B(true)),
            (
                "messages",
                J::L(vec![
                    o(&[("role", s("system")), ("content", s("Be brief."))]),
                    o(&[
                        ("role", s("user")),
                        (
                            "content",
                            J::L(vec![o(&[("type", s("text")), ("text", s("hi"))])]),
                        ),
                    ]),
                ]),
            ),
        ]);
        let r = read_request(&b, "chat");
        assert_eq!(r.model.as_deref(), Some("gpt-4o"));
        assert_eq!(r.parameters.temperature, Some(0.2));
        assert_eq!(r.parameters.max_tokens, Some(100));
        assert!(r.parameters.stream);
        assert_eq!(
            r.messages,
            vec![
                ("system".to_string(), "Be brief.".to_string()),
                ("user".to_string(), "hi".to_string())
            ]
        );
        assert_eq!(
            r.parameters.to_json().unwrap(),
            r#"{"max_tokens": 100, "stream": true, "temperature": 0.2}"#
        );
    }

    #[test]
    fn token_estimate_is_prompt_bytes_over_four_plus_max_tokens() {
        let b = o(&[
            ("max_tokens", J::N(100.0)),
            (
                "messages",
                J::L(vec![
                    o(&[("role", s("system")), ("content", s("12345678"))]),
                    o(&[("role", s("user")), ("content", s("abcd"))]),
                ]),
            ),
        ]);
        // 12 bytes / 4 = 3, two messages of 4 framing tokens, 100 of completion.
        assert_eq!(estimate_tokens(&b, "chat"), 3 + 8 + 100);
        assert_eq!(
            estimate_tokens(&o(&[("input", s("abcdefgh"))]), "embeddings"),
            2 + 4
        );
    }

    #[test]
    fn server_addresses() {
        assert_eq!(
            server_of_url("https://api.openai.com/v1"),
            Some(("api.openai.com".into(), Some(443)))
        );
        assert_eq!(
            server_of_url("http://127.0.0.1:8080/v1/"),
            Some(("127.0.0.1".into(), Some(8080)))
        );
        assert_eq!(
            server_of_url("http://[::1]:9/v1"),
            Some(("::1".into(), Some(9)))
        );
        assert_eq!(server_of_url(""), None);
    }
}
