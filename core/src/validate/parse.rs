//! Strict JSON (RFC 8259) parsing with precise error locations: line, character column and the JSON
//! pointer of the value being read. Iterative with an explicit stack, so depth is a checked limit
//! rather than a stack overflow; one pass, linear in the input.

use super::failure::{Failure, FailureKind, Violation};
use super::limits::Limits;
use super::location::{line_column, push_pointer_segment};
use serde_json::{Map, Number, Value};

enum Frame {
    Array(Vec<Value>),
    /// The map so far and the key whose value is being read.
    Object(Map<String, Value>, String),
}

pub(crate) struct ParseError {
    offset: usize,
    message: String,
    limit: bool,
}

type Step<T> = Result<T, ParseError>;

fn err<T>(offset: usize, message: impl Into<String>) -> Step<T> {
    Err(ParseError {
        offset,
        message: message.into(),
        limit: false,
    })
}

/// Parses `text` as one JSON document, refusing anything over `limits`.
pub fn parse(text: &str, limits: &Limits) -> Result<Value, Failure> {
    if text.len() > limits.max_input_bytes {
        return Err(too_large(text.len(), limits));
    }
    let mut stack: Vec<Frame> = Vec::new();
    match run(text, limits, &mut stack) {
        Ok(v) => Ok(v),
        Err(e) => Err(locate(text, e, &stack)),
    }
}

pub(crate) fn too_large(len: usize, limits: &Limits) -> Failure {
    Failure::limit(format!(
        "input is {len} bytes; the limit is max_input_bytes={}",
        limits.max_input_bytes
    ))
}

pub(crate) fn too_deep(limits: &Limits) -> String {
    format!("nesting is deeper than max_depth={}", limits.max_depth)
}

fn locate(text: &str, e: ParseError, stack: &[Frame]) -> Failure {
    let mut pointer = String::new();
    for f in stack {
        match f {
            Frame::Array(v) => push_pointer_segment(&mut pointer, &v.len().to_string()),
            Frame::Object(_, k) if !k.is_empty() => push_pointer_segment(&mut pointer, k),
            Frame::Object(m, _) => {
                if let Some(k) = m.keys().next_back() {
                    push_pointer_segment(&mut pointer, k)
                }
            }
        }
    }
    let (line, column) = line_column(text, e.offset);
    let message = format!("{} at line {line} column {column}", e.message);
    Failure {
        kind: if e.limit {
            FailureKind::Limit
        } else {
            FailureKind::Parse
        },
        violations: vec![Violation {
            path: pointer,
            message,
        }],
        repairs: Vec::new(),
        line: Some(line),
        column: Some(column),
        offset: Some(e.offset),
    }
}

#[inline]
pub(crate) fn skip_ws(b: &[u8], mut pos: usize) -> usize {
    while pos < b.len() && matches!(b[pos], b' ' | b'\n' | b'\r' | b'\t') {
        pos += 1;
    }
    pos
}

fn describe(b: &[u8], pos: usize) -> String {
    match b.get(pos) {
        None => "end of input".into(),
        Some(&c) if c.is_ascii_graphic() => format!("'{}'", c as char),
        Some(&c) if c < 0x80 => format!("byte 0x{c:02x}"),
        Some(_) => {
            // A multi-byte character: show it whole. `pos` is on a char boundary (the parser only
            // stops on ASCII delimiters or the start of a value).
            let s = std::str::from_utf8(&b[pos..(pos + 4).min(b.len())])
                .ok()
                .or_else(|| std::str::from_utf8(&b[pos..(pos + 3).min(b.len())]).ok())
                .or_else(|| std::str::from_utf8(&b[pos..(pos + 2).min(b.len())]).ok());
            match s.and_then(|s| s.chars().next()) {
                Some(ch) => format!("'{ch}'"),
                None => "a non-ASCII character".into(),
            }
        }
    }
}

fn run(text: &str, limits: &Limits, stack: &mut Vec<Frame>) -> Step<Value> {
    let b = text.as_bytes();
    let mut pos = 0;
    'value: loop {
        pos = skip_ws(b, pos);
        let Some(&c) = b.get(pos) else {
            return err(pos, "expected a value, found end of input");
        };
        let mut value = match c {
            b'{' | b'[' => {
                if stack.len() >= limits.max_depth {
                    return Err(ParseError {
                        offset: pos,
                        message: too_deep(limits),
                        limit: true,
                    });
                }
                pos = skip_ws(b, pos + 1);
                if c == b'[' {
                    if b.get(pos) == Some(&b']') {
                        pos += 1;
                        Value::Array(Vec::new())
                    } else {
                        stack.push(Frame::Array(Vec::new()));
                        continue 'value;
                    }
                } else if b.get(pos) == Some(&b'}') {
                    pos += 1;
                    Value::Object(Map::new())
                } else {
                    stack.push(Frame::Object(Map::new(), String::new()));
                    let key;
                    (key, pos) = object_key(text, pos)?;
                    if let Some(Frame::Object(_, k)) = stack.last_mut() {
                        *k = key;
                    }
                    continue 'value;
                }
            }
            b'"' => {
                let s;
                (s, pos) = string(text, pos)?;
                Value::String(s)
            }
            b'-' | b'0'..=b'9' => {
                let n;
                (n, pos) = number(b, pos)?;
                Value::Number(n)
            }
            b't' if b[pos..].starts_with(b"true") => {
                pos += 4;
                Value::Bool(true)
            }
            b'f' if b[pos..].starts_with(b"false") => {
                pos += 5;
                Value::Bool(false)
            }
            b'n' if b[pos..].starts_with(b"null") => {
                pos += 4;
                Value::Null
            }
            _ => return err(pos, format!("expected a value, found {}", describe(b, pos))),
        };
        // A value is complete: hand it to its container, closing every container it completes.
        loop {
            match stack.last_mut() {
                None => {
                    pos = skip_ws(b, pos);
                    if pos != b.len() {
                        return err(
                            pos,
                            format!(
                                "unexpected {} after the end of the JSON value",
                                describe(b, pos)
                            ),
                        );
                    }
                    return Ok(value);
                }
                Some(Frame::Array(items)) => {
                    items.push(value);
                    pos = skip_ws(b, pos);
                    match b.get(pos) {
                        Some(b',') => {
                            pos += 1;
                            continue 'value;
                        }
                        Some(b']') => {
                            pos += 1;
                            let Some(Frame::Array(items)) = stack.pop() else {
                                unreachable!("top frame is an array")
                            };
                            value = Value::Array(items);
                        }
                        _ => {
                            return err(
                                pos,
                                format!("expected ',' or ']', found {}", describe(b, pos)),
                            )
                        }
                    }
                }
                Some(Frame::Object(map, key)) => {
                    map.insert(std::mem::take(key), value);
                    pos = skip_ws(b, pos);
                    match b.get(pos) {
                        Some(b',') => {
                            let next;
                            (next, pos) = object_key(text, skip_ws(b, pos + 1))?;
                            *key = next;
                            continue 'value;
                        }
                        Some(b'}') => {
                            pos += 1;
                            let Some(Frame::Object(map, _)) = stack.pop() else {
                                unreachable!("top frame is an object")
                            };
                            value = Value::Object(map);
                        }
                        _ => {
                            return err(
                                pos,
                                format!("expected ',' or '}}', found {}", describe(b, pos)),
                            )
                        }
                    }
                }
            }
        }
    }
}

/// Reads `"key"` and the `:` after it; returns the position after the colon.
fn object_key(text: &str, pos: usize) -> Step<(String, usize)> {
    let b = text.as_bytes();
    if b.get(pos) != Some(&b'"') {
        return err(
            pos,
            format!(
                "expected a double-quoted object key, found {}",
                describe(b, pos)
            ),
        );
    }
    let (key, after) = string(text, pos)?;
    let after = skip_ws(b, after);
    if b.get(after) != Some(&b':') {
        return err(
            after,
            format!(
                "expected ':' after key \"{key}\", found {}",
                describe(b, after)
            ),
        );
    }
    Ok((key, after + 1))
}

pub(crate) fn hex4(b: &[u8], pos: usize) -> Option<u32> {
    let h = b.get(pos..pos + 4)?;
    let s = std::str::from_utf8(h).ok()?;
    if !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// Why a backslash escape in a string could not be decoded; every message points at the backslash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EscapeError {
    Truncated,
    BadHex,
    LoneSurrogate,
    Unknown,
}

impl EscapeError {
    pub(crate) fn message(self, b: &[u8], backslash: usize) -> String {
        match self {
            EscapeError::Truncated => "unterminated escape at end of input".into(),
            EscapeError::BadHex => "invalid \\u escape: expected 4 hex digits".into(),
            EscapeError::LoneSurrogate => "lone UTF-16 surrogate in \\u escape".into(),
            EscapeError::Unknown => format!(
                "invalid escape '\\{}' in string",
                describe(b, backslash + 1).trim_matches('\'')
            ),
        }
    }
}

/// Decodes the escape whose backslash is at `backslash` (JSON's eight escapes and `\uXXXX`,
/// surrogate pairs joined): the character and the position after the escape. Shared by the parser
/// and the validation tape, so both accept exactly the same strings.
#[inline]
pub(crate) fn decode_escape(b: &[u8], backslash: usize) -> Result<(char, usize), EscapeError> {
    let Some(&e) = b.get(backslash + 1) else {
        return Err(EscapeError::Truncated);
    };
    let pos = backslash + 2;
    let ch = match e {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let hi = hex4(b, pos).ok_or(EscapeError::BadHex)?;
            let pos = pos + 4;
            if (0xD800..0xDC00).contains(&hi) {
                let lo = if b.get(pos) == Some(&b'\\') && b.get(pos + 1) == Some(&b'u') {
                    hex4(b, pos + 2)
                } else {
                    None
                };
                return match lo {
                    Some(lo) if (0xDC00..0xE000).contains(&lo) => Ok((
                        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                            .unwrap_or('\u{FFFD}'),
                        pos + 6,
                    )),
                    _ => Err(EscapeError::LoneSurrogate),
                };
            }
            if (0xDC00..0xE000).contains(&hi) {
                return Err(EscapeError::LoneSurrogate);
            }
            return Ok((char::from_u32(hi).unwrap_or('\u{FFFD}'), pos));
        }
        _ => return Err(EscapeError::Unknown),
    };
    Ok((ch, pos))
}

/// Bytes that end a run of plain string content: the closing quote, an escape, a control character.
pub(crate) static STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Reads a string starting at the opening quote; returns the decoded text and the position after
/// the closing quote. Runs are sliced from `text` at ASCII delimiters, so they are whole UTF-8.
fn string(text: &str, open: usize) -> Step<(String, usize)> {
    let b = text.as_bytes();
    let mut pos = open + 1;
    let mut out: Option<String> = None; // allocated only when an escape forces a copy
    let mut run_start = pos;
    loop {
        while pos < b.len() && !STRING_STOP[b[pos] as usize] {
            pos += 1;
        }
        let Some(&c) = b.get(pos) else {
            return err(
                open,
                "unterminated string: no closing '\"' before end of input",
            );
        };
        match c {
            b'"' => {
                let s = match out {
                    None => text[run_start..pos].to_owned(),
                    Some(mut o) => {
                        o.push_str(&text[run_start..pos]);
                        o
                    }
                };
                return Ok((s, pos + 1));
            }
            b'\\' => {
                let o = out.get_or_insert_with(String::new);
                o.push_str(&text[run_start..pos]);
                match decode_escape(b, pos) {
                    Ok((ch, next)) => {
                        o.push(ch);
                        pos = next;
                    }
                    Err(e) => return err(pos, e.message(b, pos)),
                }
                run_start = pos;
            }
            0..=0x1f => {
                return err(
                    pos,
                    format!(
                        "unescaped control character U+{c:04X} in string (write it as an escape)"
                    ),
                )
            }
            _ => unreachable!("the run stops only at a quote, a backslash or a control byte"),
        }
    }
}

/// Length of the number at `pos` if it follows the JSON grammar
/// (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`), and whether it is an integer.
pub(crate) fn scan_number(b: &[u8], start: usize) -> Result<(usize, bool), (usize, &'static str)> {
    let mut pos = start;
    let digits = |pos: &mut usize| {
        let s = *pos;
        while *pos < b.len() && b[*pos].is_ascii_digit() {
            *pos += 1;
        }
        *pos - s
    };
    if b.get(pos) == Some(&b'-') {
        pos += 1;
    }
    match b.get(pos) {
        Some(b'0') => {
            pos += 1;
            if matches!(b.get(pos), Some(b'0'..=b'9')) {
                return Err((pos, "leading zeros are not allowed in numbers"));
            }
        }
        Some(b'1'..=b'9') => {
            digits(&mut pos);
        }
        _ => return Err((pos, "expected a digit in number")),
    }
    let mut integer = true;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        integer = false;
        if digits(&mut pos) == 0 {
            return Err((pos, "expected a digit after '.' in number"));
        }
    }
    if matches!(b.get(pos), Some(b'e' | b'E')) {
        pos += 1;
        integer = false;
        if matches!(b.get(pos), Some(b'+' | b'-')) {
            pos += 1;
        }
        if digits(&mut pos) == 0 {
            return Err((pos, "expected a digit in the exponent"));
        }
    }
    Ok((pos - start, integer))
}

pub(crate) fn number(b: &[u8], start: usize) -> Step<(Number, usize)> {
    let (len, integer) = scan_number(b, start).map_err(|(at, m)| ParseError {
        offset: at,
        message: m.into(),
        limit: false,
    })?;
    // ASCII digits, signs, '.', 'e' only: valid UTF-8.
    let s = std::str::from_utf8(&b[start..start + len]).unwrap_or("");
    let int = if integer {
        s.parse::<i64>()
            .map(Number::from)
            .or_else(|_| s.parse::<u64>().map(Number::from))
            .ok()
    } else {
        None
    };
    // std's float parsing is correctly rounded (what serde_json's float_roundtrip gives).
    let n = match int.or_else(|| s.parse::<f64>().ok().and_then(Number::from_f64)) {
        Some(n) => n,
        None => return err(start, format!("number {s} is out of range")),
    };
    Ok((n, start + len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(t: &str) -> Result<Value, Failure> {
        parse(t, &Limits::default())
    }

    #[test]
    fn parses_like_serde_json() {
        for t in [
            r#"{"a": [1, -2.5e3, true, false, null, "x\n\u00e9\ud83d\ude00"], "b": {}}"#,
            "[]",
            " 0 ",
            r#""\/\\\"""#,
            "18446744073709551615",
            "-9223372036854775808",
            "[[[[]]]]",
        ] {
            assert_eq!(
                p(t).unwrap(),
                serde_json::from_str::<Value>(t).unwrap(),
                "{t}"
            );
        }
        assert_eq!(
            p(r#"{"z":1,"a":2}"#)
                .unwrap()
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["z", "a"]
        );
        assert_eq!(p("[1,2]").unwrap(), json!([1, 2]));
    }

    #[test]
    fn errors_carry_line_column_and_pointer() {
        let f = p("{\n  \"a\": [1, 2,\n   x]\n}").unwrap_err();
        assert_eq!(f.kind, FailureKind::Parse);
        assert_eq!((f.line, f.column), (Some(3), Some(4)));
        assert_eq!(f.violations[0].path, "/a/2");
        assert!(f.violations[0]
            .message
            .contains("expected a value, found 'x'"));

        let f = p(r#"{"a": {"b/c": tru}}"#).unwrap_err();
        assert_eq!(f.violations[0].path, "/a/b~1c");
        let f = p(r#"{"a": 1 "b": 2}"#).unwrap_err();
        assert_eq!(f.violations[0].path, "/a");
        assert!(f.violations[0].message.contains("expected ',' or '}'"));
        let f = p("[1,]").unwrap_err();
        assert_eq!(f.violations[0].path, "/1");
        let f = p("{'a': 1}").unwrap_err();
        assert!(f.violations[0].message.contains("double-quoted object key"));
        assert!(p("\"a\nb\"").unwrap_err().violations[0]
            .message
            .contains("U+000A"));
        assert!(p("01").is_err() && p("1.").is_err() && p("-").is_err() && p("1e").is_err());
        assert!(p(r#""\ud800""#).is_err() && p(r#""\x""#).is_err());
        assert!(p("[1] x").unwrap_err().violations[0]
            .message
            .contains("after the end"));
        assert!(p("1e999").is_err());
        assert!(p("").is_err());
    }

    #[test]
    fn depth_and_size_are_limits_not_crashes() {
        let lim = Limits {
            max_input_bytes: 100,
            max_depth: 3,
        };
        assert!(parse("[[[1]]]", &lim).is_ok());
        assert!(parse("[[[]]]", &lim).is_ok());
        let f = parse("[[[[1]]]]", &lim).unwrap_err();
        assert_eq!(f.kind, FailureKind::Limit);
        assert!(f.violations[0].message.contains("max_depth=3"));
        let f = parse(&"1".repeat(101), &lim).unwrap_err();
        assert_eq!(f.kind, FailureKind::Limit);
        assert!(f.violations[0].message.contains("max_input_bytes=100"));
        // Far past any recursion limit: refused, not a stack overflow.
        let deep = "[".repeat(200_000);
        assert_eq!(
            parse(
                &deep,
                &Limits {
                    max_input_bytes: 1 << 20,
                    max_depth: 1000
                }
            )
            .unwrap_err()
            .kind,
            FailureKind::Limit
        );
    }
}
