//! The tool calls the mock answers with, for OpenAI chat completions and Anthropic Messages alike:
//! a request that offers tools, and whose last message is not a tool's result, gets a call of the
//! tool `tool_choice` names (else the first one), with arguments made from that tool's JSON schema
//! (each required property: the user's question for a string, the first `enum` value, 1, true...).
//! Deterministic, so the same request asked of either API yields the same call; valid against the
//! schema, so SDKs that check arguments (the Vercel AI SDK's) accept it.

use serde_json::{json, Map, Value};

/// How deep a schema's nested objects are filled in.
const MAX_DEPTH: usize = 8;

/// A tool call to answer with.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    /// The arguments object (OpenAI sends it as JSON text, Anthropic as `input`).
    pub arguments: Value,
}

impl Call {
    /// The arguments as compact JSON text, as OpenAI sends them.
    pub fn arguments_text(&self) -> String {
        self.arguments.to_string()
    }
}

/// A tool's name and parameter schema: OpenAI's `{type: "function", function: {name, parameters}}`
/// or Anthropic's `{name, input_schema}`.
fn name_and_schema(tool: &Value) -> Option<(&str, Option<&Value>)> {
    if let Some(f) = tool.get("function") {
        return Some((f.get("name")?.as_str()?, f.get("parameters")));
    }
    Some((tool.get("name")?.as_str()?, tool.get("input_schema")))
}

/// Whether the conversation's last message hands a tool's result back (OpenAI: a `tool` message;
/// Anthropic: a user message with a `tool_result` block): the model answers in text then.
pub fn ends_with_tool_result(messages: &[Value]) -> bool {
    let Some(last) = messages.last() else {
        return false;
    };
    if matches!(
        last.get("role").and_then(Value::as_str),
        Some("tool" | "function")
    ) {
        return true;
    }
    last.get("content")
        .and_then(Value::as_array)
        .is_some_and(|blocks| {
            blocks
                .iter()
                .any(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
        })
}

/// The text of the last tool result handed back, when the conversation ends with one.
pub fn last_tool_result(messages: &[Value]) -> Option<String> {
    if !ends_with_tool_result(messages) {
        return None;
    }
    let last = messages.last()?;
    let text = |c: &Value| match c {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    };
    let content = last.get("content")?;
    if let Some(blocks) = content.as_array() {
        if let Some(r) = blocks
            .iter()
            .find(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
        {
            return Some(text(r.get("content").unwrap_or(&Value::Null)));
        }
    }
    Some(text(content))
}

/// The tool call the mock answers `body` with, or `None` (no tools offered, `tool_choice` none, or
/// the conversation ends with a tool's result). `question`: the user's last question.
pub fn choose(body: &Value, question: &str) -> Option<Call> {
    let tools = body.get("tools").and_then(Value::as_array)?;
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if tools.is_empty() || ends_with_tool_result(messages) {
        return None;
    }
    let choice = body.get("tool_choice");
    let kind = choice.and_then(|c| c.as_str().or_else(|| c.get("type").and_then(Value::as_str)));
    if kind == Some("none") {
        return None;
    }
    // A named tool: OpenAI `{type: "function", function: {name}}`, Anthropic `{type: "tool", name}`.
    let named = choice.and_then(|c| {
        c.pointer("/function/name")
            .or_else(|| c.get("name"))
            .and_then(Value::as_str)
    });
    let (name, schema) = tools
        .iter()
        .filter_map(name_and_schema)
        .find(|(n, _)| named.is_none_or(|want| want == *n))?;
    let arguments = match schema {
        Some(s) => fill(s, question, 0),
        None => json!({}),
    };
    let arguments = if arguments.is_object() {
        arguments
    } else {
        json!({})
    };
    Some(Call {
        name: name.to_string(),
        arguments,
    })
}

/// A value valid against `schema`, made from `text`.
fn fill(schema: &Value, text: &str, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    for k in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = schema
            .get(k)
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        {
            return fill(first, text, depth + 1);
        }
    }
    let ty = match schema.get("type") {
        Some(Value::String(t)) => Some(t.as_str()),
        // `["string", "null"]`: the first type that is not null.
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    };
    match ty {
        Some("string") => json!(text),
        Some("integer" | "number") => {
            let min = schema.get("minimum").and_then(Value::as_f64).unwrap_or(1.0);
            if ty == Some("integer") {
                json!(min.ceil().max(1.0) as i64)
            } else {
                json!(min.max(1.0))
            }
        }
        Some("boolean") => json!(true),
        Some("array") => {
            let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            let item = schema.get("items").cloned().unwrap_or(json!({}));
            Value::Array(
                (0..min.min(4))
                    .map(|_| fill(&item, text, depth + 1))
                    .collect(),
            )
        }
        Some("null") => Value::Null,
        Some("object") | None if schema.get("properties").is_some() || ty.is_some() => {
            let props = schema.get("properties").and_then(Value::as_object);
            let required: Option<Vec<&str>> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect());
            let mut out = Map::new();
            for (k, s) in props.into_iter().flatten() {
                if required.as_ref().is_none_or(|r| r.contains(&k.as_str())) {
                    out.insert(k.clone(), fill(s, text, depth + 1));
                }
            }
            Value::Object(out)
        }
        _ => json!(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weather_openai() -> Value {
        json!({ "type": "function", "function": { "name": "get_weather", "parameters": {
            "type": "object",
            "properties": { "city": { "type": "string" }, "unit": { "type": "string", "enum": ["celsius", "fahrenheit"] },
                            "days": { "type": "integer", "minimum": 2 }, "verbose": { "type": "boolean" } },
            "required": ["city", "unit", "days"], "additionalProperties": false } } })
    }

    #[test]
    fn the_same_request_gets_the_same_call_from_either_api() {
        let openai = json!({ "tools": [weather_openai()], "messages": [{ "role": "user", "content": "Paris?" }] });
        let f = &weather_openai()["function"];
        let anthropic = json!({
            "tools": [{ "name": "get_weather", "input_schema": f["parameters"] }],
            "messages": [{ "role": "user", "content": "Paris?" }],
        });
        let a = choose(&openai, "Paris?").unwrap();
        assert_eq!(a, choose(&anthropic, "Paris?").unwrap());
        assert_eq!(a.name, "get_weather");
        // Required properties only, each valid: the question, the first enum value, the minimum.
        assert_eq!(
            a.arguments_text(),
            r#"{"city":"Paris?","unit":"celsius","days":2}"#
        );
    }

    #[test]
    fn tool_choice_names_a_tool_or_turns_tools_off() {
        let two = |choice: Value| {
            json!({ "tools": [weather_openai(), { "name": "lookup", "input_schema": { "type": "object", "properties": { "q": { "type": "string" } } } }],
                    "tool_choice": choice, "messages": [{ "role": "user", "content": "x" }] })
        };
        assert_eq!(
            choose(&two(json!({ "type": "tool", "name": "lookup" })), "x")
                .unwrap()
                .arguments,
            json!({ "q": "x" })
        );
        assert_eq!(
            choose(
                &two(json!({ "type": "function", "function": { "name": "lookup" } })),
                "x"
            )
            .unwrap()
            .name,
            "lookup"
        );
        assert_eq!(choose(&two(json!("none")), "x"), None);
        assert_eq!(choose(&two(json!({ "type": "none" })), "x"), None);
        assert_eq!(
            choose(&two(json!("auto")), "x").unwrap().name,
            "get_weather"
        );
        assert_eq!(
            choose(
                &json!({ "messages": [{ "role": "user", "content": "x" }] }),
                "x"
            ),
            None
        );
    }

    #[test]
    fn a_tool_result_is_answered_in_text() {
        let openai = [
            json!({ "role": "user", "content": "Paris?" }),
            json!({ "role": "assistant", "tool_calls": [] }),
            json!({ "role": "tool", "tool_call_id": "call_1", "content": "18 C" }),
        ];
        let anthropic = [
            json!({ "role": "user", "content": "Paris?" }),
            json!({ "role": "assistant", "content": [{ "type": "tool_use", "id": "toolu_1", "name": "w", "input": {} }] }),
            json!({ "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "toolu_1", "content": "18 C" }] }),
        ];
        for m in [&openai[..], &anthropic[..]] {
            assert!(ends_with_tool_result(m));
            assert_eq!(last_tool_result(m).as_deref(), Some("18 C"));
            let body = json!({ "tools": [weather_openai()], "messages": m });
            assert_eq!(choose(&body, "Paris?"), None);
        }
        assert_eq!(last_tool_result(&openai[..1]), None);
    }
}
