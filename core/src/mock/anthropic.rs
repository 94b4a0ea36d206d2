//! The Anthropic Messages API the mock speaks on `POST /v1/messages`: messages (plain and
//! server-sent events), prompt-cache usage, `stop_reason`, and Anthropic's error bodies and
//! rate-limit headers (`retry-after`, `anthropic-ratelimit-*-reset` as RFC 3339 instants, 529
//! `overloaded_error`), so the Anthropic SDKs can be tested with no key and no network.

use super::openai::estimate_tokens;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

/// The path the Anthropic SDKs post to (their base URL is the server's root, without `/v1`).
pub const MESSAGES_PATH: &str = "/v1/messages";

/// `{"type": "error", "error": {"type": kind, "message": ...}}`, Anthropic's error body.
pub fn error_body(message: &str, kind: &str) -> Value {
    json!({ "type": "error", "error": { "type": kind, "message": message } })
}

/// The rate-limit hint headers a 429 carries, in Anthropic's names: `retry-after` (whole seconds)
/// and, for each limit (requests, tokens, input-tokens, output-tokens), its limit, a spent
/// `remaining` and the instant it is full again. `only`: the request's `x-mock-hint` (a comma list
/// of header names) keeps just those hints, so a test can prove each one is read on its own.
pub fn rate_limit_headers(
    wait: Duration,
    now_unix: Duration,
    only: Option<&str>,
) -> Vec<(&'static str, String)> {
    let keep =
        |name: &str| only.is_none_or(|o| o.split(',').any(|n| n.trim().eq_ignore_ascii_case(name)));
    let mut h = Vec::new();
    if keep("retry-after") {
        h.push(("retry-after", wait.as_millis().div_ceil(1000).to_string()));
    }
    let at = rfc3339(now_unix + wait);
    for (limit, reset, remaining, size) in [
        (
            "anthropic-ratelimit-requests-limit",
            "anthropic-ratelimit-requests-reset",
            "anthropic-ratelimit-requests-remaining",
            "50",
        ),
        (
            "anthropic-ratelimit-tokens-limit",
            "anthropic-ratelimit-tokens-reset",
            "anthropic-ratelimit-tokens-remaining",
            "100000",
        ),
        (
            "anthropic-ratelimit-input-tokens-limit",
            "anthropic-ratelimit-input-tokens-reset",
            "anthropic-ratelimit-input-tokens-remaining",
            "80000",
        ),
        (
            "anthropic-ratelimit-output-tokens-limit",
            "anthropic-ratelimit-output-tokens-reset",
            "anthropic-ratelimit-output-tokens-remaining",
            "20000",
        ),
    ] {
        if keep(reset) {
            h.push((limit, size.to_string()));
            h.push((remaining, "0".to_string()));
            h.push((reset, at.clone()));
        }
    }
    h
}

/// A Unix time as an RFC 3339 UTC instant with milliseconds: `2026-12-07T21:30:05.250Z`.
pub fn rfc3339(t: Duration) -> String {
    let secs = t.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        t.subsec_millis()
    )
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// What the mock needs from a Messages request.
#[derive(Debug, Clone, PartialEq)]
pub struct MessagesRequest {
    pub model: String,
    pub max_tokens: u64,
    pub stream: bool,
    pub last_user: String,
    /// Every prompt token, estimated (system + messages).
    pub prompt_tokens: u64,
    /// The text up to and including the last block marked `cache_control`, when there is one:
    /// the prefix Anthropic would cache.
    pub cached_prefix: Option<String>,
    /// The result of a tool call, when the conversation ends by handing one back.
    pub tool_result: Option<String>,
    /// The text of a final assistant message: a prefill the answer continues from, as the API
    /// does (the reply holds only the rest). This is how a client resumes a stream that broke.
    pub continue_from: Option<String>,
}

/// Reads and checks a Messages request as the API does: `model`, `max_tokens` (a positive
/// integer) and a non-empty `messages` list are required.
pub fn parse(body: &Value) -> Result<MessagesRequest, String> {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .ok_or("model: Field required")?;
    let max_tokens = body
        .get("max_tokens")
        .and_then(Value::as_u64)
        .filter(|n| *n > 0)
        .ok_or("max_tokens: Field required (a positive integer)")?;
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or("messages: Field required (a non-empty list)")?;
    // The prompt in order (system first), one block at a time, to find the cached prefix.
    let mut blocks: Vec<Value> = Vec::new();
    let mut push = |content: &Value| match content {
        Value::Array(b) => blocks.extend(b.iter().cloned()),
        other => blocks.push(json!({ "text": text_of(other) })),
    };
    if let Some(system) = body.get("system") {
        push(system);
    }
    let mut last_user = String::new();
    for m in messages {
        let content = m.get("content").unwrap_or(&Value::Null);
        let is_tool_result = super::tools::ends_with_tool_result(std::slice::from_ref(m));
        if m.get("role").and_then(Value::as_str) == Some("user") && !is_tool_result {
            last_user = text_of(content);
        }
        push(content);
    }
    let all = blocks;
    let mut prompt = String::new();
    let mut cached_prefix = None;
    for b in &all {
        prompt.push_str(b.get("text").and_then(Value::as_str).unwrap_or(""));
        prompt.push('\n');
        if b.get("cache_control").is_some_and(|c| !c.is_null()) {
            cached_prefix = Some(prompt.clone());
        }
    }
    Ok(MessagesRequest {
        model: model.to_string(),
        max_tokens,
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        last_user,
        prompt_tokens: estimate_tokens(&prompt),
        cached_prefix,
        tool_result: super::tools::last_tool_result(messages),
        continue_from: messages
            .last()
            .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
            .map(|m| text_of(m.get("content").unwrap_or(&Value::Null)))
            .filter(|t| !t.is_empty()),
    })
}

/// The answer's text and why it stopped: an echo, cut to `max_tokens` (about four characters a
/// token) with `stop_reason = "max_tokens"` when it is longer.
pub fn answer(req: &MessagesRequest, content: Option<&str>) -> (String, &'static str) {
    let topic: String = req.last_user.chars().take(80).collect();
    let text = content
        .map(str::to_string)
        .unwrap_or_else(|| match &req.tool_result {
            Some(r) => format!("Mock answer to: {topic} (the tool said: {r})"),
            None => format!("Mock answer to: {topic}"),
        });
    // A prefilled answer continues from the prefill: only the rest is sent.
    let text = match &req.continue_from {
        Some(p) if text.starts_with(p.as_str()) => text[p.len()..].to_string(),
        _ => text,
    };
    if estimate_tokens(&text) > req.max_tokens {
        let cut: String = text.chars().take((req.max_tokens * 4) as usize).collect();
        return (cut, "max_tokens");
    }
    (text, "end_turn")
}

/// Usage as Anthropic reports it: `input_tokens` are the tokens *not* read from or written to
/// the prompt cache. The first request with a given cached prefix writes it
/// (`cache_creation_input_tokens`), later ones read it (`cache_read_input_tokens`); `seen` is the
/// server's memory of written prefixes.
pub fn usage(req: &MessagesRequest, text: &str, seen: &mut HashSet<String>) -> Value {
    let (mut read, mut created) = (0, 0);
    if let Some(prefix) = &req.cached_prefix {
        let n = estimate_tokens(prefix).min(req.prompt_tokens);
        if seen.contains(prefix) {
            read = n;
        } else {
            seen.insert(prefix.clone());
            created = n;
        }
    }
    json!({
        "input_tokens": req.prompt_tokens - read - created,
        "output_tokens": estimate_tokens(text),
        "cache_creation_input_tokens": created,
        "cache_read_input_tokens": read,
    })
}

pub fn message(id: &str, model: &str, text: &str, stop: &str, usage: &Value) -> Value {
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{ "type": "text", "text": text }],
        "stop_reason": stop,
        "stop_sequence": null,
        "usage": usage,
    })
}

/// A message whose answer is a call of `call`: one `tool_use` block, `stop_reason: "tool_use"`.
pub fn tool_use_message(
    id: &str,
    model: &str,
    call: &super::tools::Call,
    call_id: &str,
    usage: &Value,
) -> Value {
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{ "type": "tool_use", "id": call_id, "name": call.name, "input": call.arguments }],
        "stop_reason": "tool_use",
        "stop_sequence": null,
        "usage": usage,
    })
}

/// The events of a streamed tool call, as Anthropic streams one: `content_block_start` with the
/// `tool_use` block (empty `input`), its arguments as `input_json_delta` pieces, then
/// `stop_reason: "tool_use"`.
pub fn tool_stream_events(
    id: &str,
    model: &str,
    call: &super::tools::Call,
    call_id: &str,
    usage: &Value,
) -> Vec<String> {
    let block = json!({ "type": "tool_use", "id": call_id, "name": call.name, "input": {} });
    let body = call.arguments_text();
    let piece = |t: String| json!({ "type": "input_json_delta", "partial_json": t });
    block_events(id, model, block, false, &body, 8, &piece, "tool_use", usage)
}

/// The server-sent events of a streamed message, each a full `event: ...\ndata: ...\n\n`:
/// `message_start` (with input usage), a text block in four-character deltas, `message_delta`
/// (stop reason, output usage), `message_stop`.
pub fn stream_events(id: &str, model: &str, text: &str, stop: &str, usage: &Value) -> Vec<String> {
    let block = json!({ "type": "text", "text": "" });
    let piece = |t: String| json!({ "type": "text_delta", "text": t });
    block_events(id, model, block, true, text, 4, &piece, stop, usage)
}

/// The one event sequence of a streamed message with a single content block: `message_start`,
/// `content_block_start` with `block` (then a `ping` when `ping`), `body` in `size`-character
/// deltas made by `delta`, `content_block_stop`, `message_delta` with `stop` and the output
/// usage, `message_stop`. Text and tool-use streams differ only in the block and the delta.
#[allow(clippy::too_many_arguments)]
fn block_events(
    id: &str,
    model: &str,
    block: Value,
    ping: bool,
    body: &str,
    size: usize,
    delta: &dyn Fn(String) -> Value,
    stop: &str,
    usage: &Value,
) -> Vec<String> {
    let mut start_usage = usage.clone();
    start_usage["output_tokens"] = json!(1);
    let mut events = vec![
        (
            "message_start",
            json!({ "type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
                "stop_reason": null, "stop_sequence": null, "usage": start_usage } }),
        ),
        (
            "content_block_start",
            json!({ "type": "content_block_start", "index": 0, "content_block": block }),
        ),
    ];
    if ping {
        events.push(("ping", json!({ "type": "ping" })));
    }
    let chars: Vec<char> = body.chars().collect();
    for piece in chars.chunks(size) {
        events.push((
            "content_block_delta",
            json!({ "type": "content_block_delta", "index": 0,
                    "delta": delta(piece.iter().collect::<String>()) }),
        ));
    }
    events.push((
        "content_block_stop",
        json!({ "type": "content_block_stop", "index": 0 }),
    ));
    events.push((
        "message_delta",
        json!({ "type": "message_delta", "delta": { "stop_reason": stop, "stop_sequence": null },
                "usage": { "output_tokens": usage["output_tokens"] } }),
    ));
    events.push(("message_stop", json!({ "type": "message_stop" })));
    events
        .into_iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_through_the_hint_parser() {
        let t = Duration::from_millis(784_111_777_250);
        assert_eq!(rfc3339(t), "1994-11-06T08:49:37.250Z");
        assert_eq!(
            crate::policy::retry_hint::parse_rfc3339(&rfc3339(t)),
            Some(784_111_777.25)
        );
        assert_eq!(rfc3339(Duration::ZERO), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn rate_limit_headers_can_be_narrowed_to_one_hint() {
        let all = rate_limit_headers(Duration::from_millis(1500), Duration::ZERO, None);
        assert!(all.contains(&("retry-after", "2".to_string())));
        assert_eq!(all.len(), 1 + 4 * 3);
        let one = rate_limit_headers(
            Duration::from_millis(1500),
            Duration::ZERO,
            Some("anthropic-ratelimit-output-tokens-reset"),
        );
        let names: Vec<&str> = one.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "anthropic-ratelimit-output-tokens-limit",
                "anthropic-ratelimit-output-tokens-remaining",
                "anthropic-ratelimit-output-tokens-reset"
            ]
        );
        assert_eq!(one[2].1, "1970-01-01T00:00:01.500Z");
    }

    #[test]
    fn requests_are_checked_and_cache_prefixes_written_then_read() {
        assert!(
            parse(&json!({ "model": "m", "messages": [{"role": "user", "content": "x"}] }))
                .is_err()
        );
        assert!(parse(&json!({ "model": "m", "max_tokens": 5, "messages": [] })).is_err());
        let body = json!({
            "model": "claude-x", "max_tokens": 100,
            "system": [{ "type": "text", "text": "You are a very long system prompt. ".repeat(20),
                         "cache_control": { "type": "ephemeral" } }],
            "messages": [{ "role": "user", "content": "What is up?" }],
        });
        let req = parse(&body).unwrap();
        assert!(req.cached_prefix.is_some());
        let mut seen = HashSet::new();
        let (text, stop) = answer(&req, None);
        assert_eq!(
            (text.as_str(), stop),
            ("Mock answer to: What is up?", "end_turn")
        );
        let first = usage(&req, &text, &mut seen);
        let second = usage(&req, &text, &mut seen);
        let cached = estimate_tokens(req.cached_prefix.as_ref().unwrap());
        assert_eq!(first["cache_creation_input_tokens"], json!(cached));
        assert_eq!(first["cache_read_input_tokens"], json!(0));
        assert_eq!(second["cache_read_input_tokens"], json!(cached));
        assert_eq!(second["input_tokens"], json!(req.prompt_tokens - cached));
        let short = MessagesRequest {
            max_tokens: 2,
            ..req
        };
        assert_eq!(answer(&short, None), ("Mock ans".to_string(), "max_tokens"));
    }

    #[test]
    fn a_prefilled_answer_continues_with_the_rest() {
        let body = |prefill: Value| {
            json!({ "model": "m", "max_tokens": 100, "messages": [
                { "role": "user", "content": "What is up?" },
                { "role": "assistant", "content": prefill },
            ]})
        };
        let req = parse(&body(json!("Mock answer"))).unwrap();
        assert_eq!(req.continue_from.as_deref(), Some("Mock answer"));
        assert_eq!(req.last_user, "What is up?");
        assert_eq!(answer(&req, None).0, " to: What is up?");
        // As content blocks too; a prefill the answer does not start with changes nothing.
        let req = parse(&body(
            json!([{ "type": "text", "text": "Mock answer to:" }]),
        ))
        .unwrap();
        assert_eq!(answer(&req, None).0, " What is up?");
        let req = parse(&body(json!("Something else"))).unwrap();
        assert_eq!(answer(&req, None).0, "Mock answer to: What is up?");
    }

    #[test]
    fn a_tool_call_streams_its_input_in_pieces() {
        let call = crate::mock::tools::Call {
            name: "get_weather".into(),
            arguments: json!({ "city": "Paris, the capital of France" }),
        };
        let u = json!({ "input_tokens": 3, "output_tokens": 4 });
        let ev = tool_stream_events("msg_1", "m", &call, "toolu_1", &u);
        let mut input = String::new();
        for e in &ev {
            let v: Value = serde_json::from_str(e.split_once("data: ").unwrap().1.trim()).unwrap();
            if let Some(t) = v.pointer("/delta/partial_json").and_then(Value::as_str) {
                input.push_str(t);
            }
        }
        assert_eq!(
            serde_json::from_str::<Value>(&input).unwrap(),
            call.arguments
        );
        assert!(ev.iter().any(|e| e.contains(r#""stop_reason":"tool_use""#)));
        let m = tool_use_message("msg_1", "m", &call, "toolu_1", &u);
        assert_eq!(m["content"][0]["input"], call.arguments);
    }

    #[test]
    fn stream_events_reassemble_the_text() {
        let u = json!({ "input_tokens": 3, "output_tokens": 4, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0 });
        let ev = stream_events("msg_1", "m", "hello world!", "end_turn", &u);
        let mut text = String::new();
        for e in &ev {
            let data = e.split_once("data: ").unwrap().1.trim();
            let v: Value = serde_json::from_str(data).unwrap();
            if let Some(t) = v.pointer("/delta/text").and_then(Value::as_str) {
                text.push_str(t);
            }
        }
        assert_eq!(text, "hello world!");
        assert!(ev[0].starts_with("event: message_start\n"));
        assert!(ev.last().unwrap().starts_with("event: message_stop\n"));
    }
}
