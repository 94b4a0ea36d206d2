//! Partial JSON while an answer streams: text arrives in pieces and, after each, the document so far
//! is closed into the value it is becoming (an open string, array or object is closed; a key, number
//! or literal still being written is left out), as instructor's `Partial` does. Against a schema,
//! each partial value is checked only for violations no later text can undo, so a stream that is
//! going wrong can be stopped before its end; the finished text is validated (and repaired) as usual.

use super::failure::Violation;
use super::location::push_pointer_segment;
use serde_json::Value;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Key,
    Colon,
    Value,
    CommaOrEnd,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Frame {
    obj: bool,
    expect: Expect,
}

/// Why feeding text failed: the document is over its size or depth bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialLimit(pub String);

/// The scanner's state: one pass over each byte, whatever the chunking. Re-closing the document
/// after a chunk parses the text so far once (linear in the document, not in the chunk).
#[derive(Debug, Clone)]
pub struct PartialJson {
    buf: String,
    stack: Vec<Frame>,
    root_at: Option<usize>,
    end_at: Option<usize>,
    in_string: bool,
    string_is_key: bool,
    escape: bool,
    unicode_left: u8,
    esc_at: usize,
    token_at: Option<usize>,
    safe_len: usize,
    safe_stack: Vec<Frame>,
    scanned: usize,
    max_bytes: usize,
    max_depth: usize,
    last_closed: Option<String>,
}

impl PartialJson {
    pub fn new(max_bytes: usize, max_depth: usize) -> Self {
        Self {
            buf: String::new(),
            stack: Vec::new(),
            root_at: None,
            end_at: None,
            in_string: false,
            string_is_key: false,
            escape: false,
            unicode_left: 0,
            esc_at: 0,
            token_at: None,
            safe_len: 0,
            safe_stack: Vec::new(),
            scanned: 0,
            max_bytes,
            max_depth,
            last_closed: None,
        }
    }

    /// The text fed so far.
    pub fn text(&self) -> &str {
        &self.buf
    }

    /// Whether the top-level object or array has closed.
    pub fn complete(&self) -> bool {
        self.end_at.is_some()
    }

    /// Whether the document's last string is still open (its value may grow).
    pub fn open_string(&self) -> bool {
        self.in_string && !self.string_is_key
    }

    /// Feeds the next piece; returns the partial value when it changed since the last call (prose or
    /// a markdown fence before the first `{` or `[` is skipped).
    pub fn push(&mut self, piece: &str) -> Result<Option<Value>, PartialLimit> {
        if self.buf.len() + piece.len() > self.max_bytes {
            return Err(PartialLimit(format!(
                "the streamed document is over max_input_bytes={}",
                self.max_bytes
            )));
        }
        self.buf.push_str(piece);
        self.scan()?;
        let Some(closed) = self.closed_text() else {
            return Ok(None);
        };
        if self.last_closed.as_deref() == Some(closed.as_str()) {
            return Ok(None);
        }
        let v = serde_json::from_str::<Value>(&closed).ok();
        self.last_closed = Some(closed);
        Ok(v)
    }

    /// The current partial value (None before the first `{` / `[`).
    pub fn value(&self) -> Option<Value> {
        self.closed_text()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
    }

    fn closers(stack: &[Frame], out: &mut String) {
        for f in stack.iter().rev() {
            out.push(if f.obj { '}' } else { ']' });
        }
    }

    fn closed_text(&self) -> Option<String> {
        let root = self.root_at?;
        if let Some(end) = self.end_at {
            return Some(self.buf[root..end].to_string());
        }
        let mut s;
        if self.in_string && !self.string_is_key {
            let cut = if self.escape {
                self.esc_at
            } else {
                self.buf.len()
            };
            s = String::with_capacity(cut - root + self.stack.len() + 1);
            s.push_str(&self.buf[root..cut]);
            s.push('"');
            Self::closers(&self.stack, &mut s);
        } else {
            s = String::with_capacity(self.safe_len - root + self.safe_stack.len());
            s.push_str(&self.buf[root..self.safe_len]);
            Self::closers(&self.safe_stack, &mut s);
        }
        Some(s)
    }

    fn value_done(&mut self, end: usize) {
        if let Some(top) = self.stack.last_mut() {
            top.expect = Expect::CommaOrEnd;
        }
        self.safe_len = end;
        self.safe_stack.clone_from(&self.stack);
    }

    fn scan(&mut self) -> Result<(), PartialLimit> {
        // The buffer is taken out while it is read, so the state can change beside it.
        let buf = std::mem::take(&mut self.buf);
        let r = self.scan_bytes(buf.as_bytes());
        self.buf = buf;
        r
    }

    fn scan_bytes(&mut self, bytes: &[u8]) -> Result<(), PartialLimit> {
        let mut i = self.scanned;
        let n = bytes.len();
        while i < n {
            let c = bytes[i];
            if self.end_at.is_some() {
                break; // a fence or prose after the document
            }
            if self.root_at.is_none() {
                if c == b'{' || c == b'[' {
                    self.root_at = Some(i);
                    self.stack.push(Frame {
                        obj: c == b'{',
                        expect: if c == b'{' {
                            Expect::Key
                        } else {
                            Expect::Value
                        },
                    });
                    self.safe_len = i + 1;
                    self.safe_stack.clone_from(&self.stack);
                }
                i += 1;
                continue;
            }
            if self.in_string {
                if self.escape {
                    if self.unicode_left > 0 {
                        self.unicode_left -= 1;
                        if self.unicode_left == 0 {
                            self.escape = false;
                        }
                    } else if c == b'u' {
                        self.unicode_left = 4;
                    } else {
                        self.escape = false;
                    }
                } else if c == b'\\' {
                    self.escape = true;
                    self.esc_at = i;
                } else if c == b'"' {
                    self.in_string = false;
                    if self.string_is_key {
                        if let Some(top) = self.stack.last_mut() {
                            top.expect = Expect::Colon;
                        }
                    } else {
                        self.value_done(i + 1);
                    }
                }
                i += 1;
                continue;
            }
            if let Some(_start) = self.token_at {
                if matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b',' | b']' | b'}') {
                    self.token_at = None;
                    self.value_done(i);
                } else {
                    i += 1;
                    continue;
                }
            }
            match c {
                b' ' | b'\t' | b'\n' | b'\r' => {}
                b'{' | b'[' => {
                    if self.stack.len() >= self.max_depth {
                        return Err(PartialLimit(format!(
                            "the streamed document is deeper than max_depth={}",
                            self.max_depth
                        )));
                    }
                    if let Some(top) = self.stack.last_mut() {
                        top.expect = Expect::CommaOrEnd;
                    }
                    self.stack.push(Frame {
                        obj: c == b'{',
                        expect: if c == b'{' {
                            Expect::Key
                        } else {
                            Expect::Value
                        },
                    });
                    self.safe_len = i + 1;
                    self.safe_stack.clone_from(&self.stack);
                }
                b'}' | b']' => {
                    self.stack.pop();
                    if self.stack.is_empty() {
                        self.end_at = Some(i + 1);
                    }
                    self.value_done(i + 1);
                }
                b'"' => {
                    self.in_string = true;
                    self.string_is_key = self
                        .stack
                        .last()
                        .is_some_and(|f| f.obj && f.expect == Expect::Key);
                }
                b':' => {
                    if let Some(top) = self.stack.last_mut() {
                        top.expect = Expect::Value;
                    }
                }
                b',' => {
                    if let Some(top) = self.stack.last_mut() {
                        top.expect = if top.obj { Expect::Key } else { Expect::Value };
                    }
                }
                _ => self.token_at = Some(i),
            }
            i += 1;
        }
        self.scanned = i;
        Ok(())
    }
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_integer(v: &Value) -> bool {
    match v {
        Value::Number(n) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

fn type_allows(t: &str, v: &Value) -> bool {
    match t {
        "integer" => is_integer(v),
        "number" => v.is_number(),
        other => other == type_of(v),
    }
}

/// The first violation of `schema` in the partial value `v` that no more text can undo, or None.
/// `open_tail`: the document's last string is still being written (only its prefix is known).
/// Checks what a prefix settles: types, unknown keys where `additionalProperties` is false, the
/// maximum sizes, number bounds, enum/const (a growing string must still be a prefix of one), with
/// local `$ref`s, `allOf`, `anyOf` and `oneOf` (a violation only when every branch has one).
pub fn unrecoverable(schema: &Value, v: &Value, open_tail: bool) -> Option<Violation> {
    let mut path = String::new();
    check(schema, schema, v, open_tail, &mut path, 0)
}

fn violation(path: &str, message: String) -> Option<Violation> {
    Some(Violation {
        path: path.to_string(),
        message,
    })
}

fn check(
    root: &Value,
    schema: &Value,
    v: &Value,
    tail: bool,
    path: &mut String,
    depth: usize,
) -> Option<Violation> {
    if depth > 64 {
        return None;
    }
    let Some(s) = schema.as_object() else {
        return if schema == &Value::Bool(false) {
            violation(path, "no value is allowed here".into())
        } else {
            None
        };
    };
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        if let Some(target) = r.strip_prefix('#').and_then(|p| root.pointer(p)) {
            if let Some(x) = check(root, target, v, tail, path, depth + 1) {
                return Some(x);
            }
        }
    }
    if let Some(t) = s.get("type") {
        let ok = match t {
            Value::String(t) => type_allows(t, v),
            Value::Array(ts) => ts
                .iter()
                .filter_map(Value::as_str)
                .any(|t| type_allows(t, v)),
            _ => true,
        };
        if !ok {
            return violation(path, format!("{} is not of type {t}", type_of(v)));
        }
    }
    let growing = tail && v.is_string();
    let matches = |allowed: &Value| match (allowed, v) {
        (Value::String(a), Value::String(p)) if growing => a.starts_with(p.as_str()),
        _ => allowed == v,
    };
    if let Some(Value::Array(e)) = s.get("enum") {
        if !e.iter().any(matches) {
            return violation(
                path,
                format!("{v} is not one of {}", Value::Array(e.clone())),
            );
        }
    }
    if let Some(c) = s.get("const") {
        if !matches(c) {
            return violation(path, format!("{v} is not {c}"));
        }
    }
    for key in ["allOf"] {
        if let Some(Value::Array(all)) = s.get(key) {
            for sub in all {
                if let Some(x) = check(root, sub, v, tail, path, depth + 1) {
                    return Some(x);
                }
            }
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(any)) = s.get(key) {
            let mut first = None;
            let mut all_bad = !any.is_empty();
            for sub in any {
                match check(root, sub, v, tail, path, depth + 1) {
                    Some(x) => {
                        first.get_or_insert(x);
                    }
                    None => {
                        all_bad = false;
                        break;
                    }
                }
            }
            if all_bad {
                return first;
            }
        }
    }
    match v {
        Value::String(text) => {
            if let Some(max) = s.get("maxLength").and_then(Value::as_u64) {
                let len = text.chars().count() as u64;
                if len > max {
                    return violation(
                        path,
                        format!("a string of {len} characters is over maxLength {max}"),
                    );
                }
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(0.0);
            let bound = |k: &str| s.get(k).and_then(Value::as_f64);
            if let Some(m) = bound("minimum") {
                if x < m {
                    return violation(path, format!("{x} is below the minimum {m}"));
                }
            }
            if let Some(m) = bound("maximum") {
                if x > m {
                    return violation(path, format!("{x} is above the maximum {m}"));
                }
            }
            if let Some(m) = bound("exclusiveMinimum") {
                if x <= m {
                    return violation(path, format!("{x} is not above the exclusive minimum {m}"));
                }
            }
            if let Some(m) = bound("exclusiveMaximum") {
                if x >= m {
                    return violation(path, format!("{x} is not below the exclusive maximum {m}"));
                }
            }
        }
        Value::Array(items) => {
            if let Some(max) = s.get("maxItems").and_then(Value::as_u64) {
                if items.len() as u64 > max {
                    return violation(
                        path,
                        format!("{} items are over maxItems {max}", items.len()),
                    );
                }
            }
            if let Some(item) = s.get("items").filter(|i| i.is_object() || i.is_boolean()) {
                let last = items.len().saturating_sub(1);
                for (i, x) in items.iter().enumerate() {
                    let before = path.len();
                    push_pointer_segment(path, &i.to_string());
                    let r = check(root, item, x, tail && i == last, path, depth + 1);
                    path.truncate(before);
                    if r.is_some() {
                        return r;
                    }
                }
            }
        }
        Value::Object(map) => {
            if let Some(max) = s.get("maxProperties").and_then(Value::as_u64) {
                if map.len() as u64 > max {
                    return violation(
                        path,
                        format!("{} properties are over maxProperties {max}", map.len()),
                    );
                }
            }
            let props = s.get("properties").and_then(Value::as_object);
            let extra = s.get("additionalProperties");
            let last = map.len().saturating_sub(1);
            for (i, (k, x)) in map.iter().enumerate() {
                let sub = match props.and_then(|p| p.get(k)) {
                    Some(sub) => sub,
                    None => match extra {
                        Some(Value::Bool(false)) => {
                            return violation(path, format!("{k:?} is not an allowed property"));
                        }
                        Some(sub) if sub.is_object() => sub,
                        _ => continue,
                    },
                };
                let before = path.len();
                push_pointer_segment(path, k);
                let r = check(root, sub, x, tail && i == last, path, depth + 1);
                path.truncate(before);
                if r.is_some() {
                    return r;
                }
            }
        }
        _ => {}
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn feed_all(pieces: &[&str]) -> Vec<Value> {
        let mut p = PartialJson::new(1 << 20, 64);
        pieces.iter().filter_map(|s| p.push(s).unwrap()).collect()
    }

    #[test]
    fn partial_values_grow_as_instructor_partial_does() {
        let seen = feed_all(&[
            "```json\n{\"na",
            "me\": \"Ad",
            "a\", \"age\": 3",
            "6, \"tags\": [\"x\", ",
            "\"y\"]}\n```",
        ]);
        assert_eq!(
            seen,
            vec![
                json!({}),
                json!({"name": "Ad"}),
                json!({"name": "Ada"}),
                json!({"name": "Ada", "age": 36, "tags": ["x"]}),
                json!({"name": "Ada", "age": 36, "tags": ["x", "y"]}),
            ]
        );
    }

    #[test]
    fn escapes_split_across_pieces_are_never_half_shown() {
        let seen = feed_all(&["[\"a\\", "u00e9b\\", "n\"]"]);
        assert_eq!(seen, vec![json!(["a"]), json!(["aéb"]), json!(["aéb\n"])]);
    }

    #[test]
    fn limits_are_enforced() {
        let mut p = PartialJson::new(8, 64);
        assert!(p.push("[1, 2, 3, 4, 5]").is_err());
        let mut p = PartialJson::new(1 << 10, 2);
        assert!(p.push("[[[").is_err());
    }

    #[test]
    fn only_what_no_later_text_can_undo_is_a_violation() {
        let schema = json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "mood": {"enum": ["happy", "sad"]},
                "score": {"type": "integer", "maximum": 10},
                "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}}
            },
            "required": ["mood", "score"]
        });
        // A growing string that is still a prefix of an enum value is fine; missing keys are fine.
        assert_eq!(unrecoverable(&schema, &json!({"mood": "ha"}), true), None);
        assert!(unrecoverable(&schema, &json!({"mood": "ha"}), false).is_some());
        let v = unrecoverable(&schema, &json!({"mood": "angr"}), true).unwrap();
        assert_eq!(v.path, "/mood");
        assert!(unrecoverable(&schema, &json!({"score": "7"}), false).is_some());
        assert!(unrecoverable(&schema, &json!({"score": 11}), false).is_some());
        assert!(unrecoverable(&schema, &json!({"other": 1}), false).is_some());
        assert!(unrecoverable(&schema, &json!({"tags": ["a", "b", "c"]}), false).is_some());
        assert_eq!(
            unrecoverable(
                &schema,
                &json!({"mood": "sad", "score": 3, "tags": ["a"]}),
                false
            ),
            None
        );
    }

    proptest! {
        // However a document is cut into pieces, every partial value is a valid JSON value and the
        // last one is the document itself.
        #[test]
        fn any_chunking_ends_in_the_document(cuts in proptest::collection::vec(0usize..80, 0..12)) {
            let doc = r#"{"a": [1, 2.5, {"b": "x\"y\u00e9"}], "c": true, "d": null, "e": "long text here"}"#;
            let mut idx: Vec<usize> = cuts.into_iter().map(|c| c.min(doc.len())).collect();
            idx.push(doc.len());
            idx.sort_unstable();
            let mut p = PartialJson::new(1 << 20, 64);
            let mut at = 0;
            let mut last = None;
            for i in idx {
                // Cut on char boundaries only (the pieces are strs).
                let mut j = i;
                while !doc.is_char_boundary(j) { j += 1; }
                if j < at { continue; }
                if let Some(v) = p.push(&doc[at..j]).unwrap() { last = Some(v); }
                at = j;
            }
            let want: Value = serde_json::from_str(doc).unwrap();
            prop_assert!(p.complete());
            prop_assert_eq!(p.value(), Some(want.clone()));
            prop_assert_eq!(last.unwrap_or(want.clone()), want);
        }
    }
}
