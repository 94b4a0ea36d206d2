//! A strict JSON document as one flat vector of nodes, strings borrowed from the input: what a schema
//! check needs, built with one allocation instead of one per value (a `serde_json::Value` hashes
//! and allocates every key and string). It accepts exactly what `parse` accepts (the same grammar,
//! number rules and limits) but says only "no" on anything else: the precise failure is `parse`'s
//! job, on the error path. Hosts whose own parser builds the objects (V8's `JSON.parse`, jiter)
//! check a text through this, then build from the text.

use super::limits::Limits;
use super::parse::{decode_escape, number, skip_ws, STRING_STOP};
use serde_json::{Number, Value};

/// Where a string's text is: a slice of the input (no escapes) or of the tape's arena (decoded).
/// One `u64` (start in the low half, length above it, the top bit for "decoded"), so it moves in a
/// register: a three-field struct here was written and re-read in pieces (store-forward stalls).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span(u64);

const DECODED: u64 = 1 << 63;

impl Span {
    // Inputs are at most 1 GiB (`MAX_INPUT_CEILING`), so start and length fit 32 and 31 bits.
    #[inline]
    fn new(start: usize, len: usize, decoded: bool) -> Self {
        Span(start as u64 | (len as u64) << 32 | if decoded { DECODED } else { 0 })
    }

    #[inline]
    fn range(self) -> (usize, usize, bool) {
        let start = (self.0 & 0xFFFF_FFFF) as usize;
        let len = ((self.0 & !DECODED) >> 32) as usize;
        (start, start + len, self.0 & DECODED != 0)
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Item {
    Null,
    Bool(bool),
    Number(Number),
    String(Span),
    /// `len` elements follow, each a subtree; `end` is the index after the last one.
    Array {
        len: u32,
        end: u32,
    },
    /// `len` members follow, each a key (`String`) then its value's subtree.
    Object {
        len: u32,
        end: u32,
    },
}

/// One node of a tape, as a host reads it to build its own value (see `Tape::node`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TapeValue<'a> {
    Null,
    Bool(bool),
    Number(&'a Number),
    String(&'a str),
    /// This many elements follow, each a subtree (`Tape::end_of` skips one).
    Array(u32),
    /// This many members follow, each a key (a `String` node) then its value's subtree.
    Object(u32),
}

#[derive(Debug)]
pub struct Tape<'t> {
    text: &'t str,
    pub(crate) items: Vec<Item>,
    /// Strings with escapes, decoded, one after another.
    arena: String,
}

/// Objects up to this many members are checked for a repeated key pairwise, without allocating.
const SMALL_OBJECT: u32 = 16;

/// The input is not strict JSON within the limits (`parse` says exactly why), or repeats a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected;

type Step<T> = Result<T, Rejected>;

impl<'t> Tape<'t> {
    /// Builds the tape of `text`, or `Rejected` wherever `parse(text, limits)` would fail, and
    /// for an object with a repeated key (which `parse` accepts, keeping the last value).
    pub fn parse(text: &'t str, limits: &Limits) -> Result<Self, Rejected> {
        // Spans hold 32-bit offsets; `Limits::new` caps inputs far below that anyway.
        if text.len() > limits.max_input_bytes || text.len() > u32::MAX as usize {
            return Err(Rejected);
        }
        let mut tape = Tape {
            text,
            // A node takes at least two bytes of input ("1,"); most take far more.
            items: Vec::with_capacity((text.len() / 8).clamp(4, 4096)),
            arena: String::new(),
        };
        tape.run(limits)?;
        Ok(tape)
    }

    #[inline]
    pub(crate) fn str_of(&self, s: Span) -> &str {
        let (start, end, decoded) = s.range();
        if decoded {
            &self.arena[start..end]
        } else {
            &self.text[start..end]
        }
    }

    /// The node at `at` (the root is 0), as a host reads it to build its own value: pre-order,
    /// so a host walks it with `end_of` and never parses the text again.
    #[inline]
    pub fn node(&self, at: u32) -> TapeValue<'_> {
        match &self.items[at as usize] {
            Item::Null => TapeValue::Null,
            Item::Bool(b) => TapeValue::Bool(*b),
            Item::Number(n) => TapeValue::Number(n),
            Item::String(s) => TapeValue::String(self.str_of(*s)),
            Item::Array { len, .. } => TapeValue::Array(*len),
            Item::Object { len, .. } => TapeValue::Object(*len),
        }
    }

    /// The index after the subtree at `at`.
    #[inline]
    pub fn end_of(&self, at: u32) -> u32 {
        match self.items[at as usize] {
            Item::Array { end, .. } | Item::Object { end, .. } => end,
            _ => at + 1,
        }
    }

    /// The subtree at `at` as a `serde_json::Value` (cold paths: error messages, `const`/`enum`).
    pub(crate) fn to_value(&self, at: u32) -> Value {
        match &self.items[at as usize] {
            Item::Null => Value::Null,
            Item::Bool(b) => Value::Bool(*b),
            Item::Number(n) => Value::Number(n.clone()),
            Item::String(s) => Value::String(self.str_of(*s).to_owned()),
            Item::Array { len, .. } => {
                let mut out = Vec::with_capacity(*len as usize);
                let mut i = at + 1;
                for _ in 0..*len {
                    out.push(self.to_value(i));
                    i = self.end_of(i);
                }
                Value::Array(out)
            }
            Item::Object { len, .. } => {
                let mut out = serde_json::Map::new();
                let mut i = at + 1;
                for _ in 0..*len {
                    let Item::String(k) = self.items[i as usize] else {
                        unreachable!("an object member starts with its key")
                    };
                    out.insert(self.str_of(k).to_owned(), self.to_value(i + 1));
                    i = self.end_of(i + 1);
                }
                Value::Object(out)
            }
        }
    }

    fn run(&mut self, limits: &Limits) -> Step<()> {
        let text = self.text;
        let b = text.as_bytes();
        // Open containers: the index of their node, how many children they have so far, and
        // whether it is an array.
        let mut open: Vec<(u32, u32, bool)> = Vec::with_capacity(16);
        let mut pos = 0;
        'value: loop {
            pos = skip_ws(b, pos);
            let Some(&c) = b.get(pos) else {
                return Err(Rejected);
            };
            match c {
                b'{' | b'[' => {
                    if open.len() >= limits.max_depth {
                        return Err(Rejected);
                    }
                    let at = self.items.len() as u32;
                    pos = skip_ws(b, pos + 1);
                    if c == b'[' {
                        self.items.push(Item::Array {
                            len: 0,
                            end: at + 1,
                        });
                        if b.get(pos) == Some(&b']') {
                            pos += 1;
                        } else {
                            open.push((at, 0, true));
                            continue 'value;
                        }
                    } else {
                        self.items.push(Item::Object {
                            len: 0,
                            end: at + 1,
                        });
                        if b.get(pos) == Some(&b'}') {
                            pos += 1;
                        } else {
                            open.push((at, 0, false));
                            pos = self.object_key(pos)?;
                            continue 'value;
                        }
                    }
                }
                b'"' => {
                    let s;
                    (s, pos) = self.string(pos)?;
                    self.items.push(Item::String(s));
                }
                b'-' | b'0'..=b'9' => {
                    let (n, after) = number(b, pos).map_err(|_| Rejected)?;
                    pos = after;
                    self.items.push(Item::Number(n));
                }
                b't' if b[pos..].starts_with(b"true") => {
                    pos += 4;
                    self.items.push(Item::Bool(true));
                }
                b'f' if b[pos..].starts_with(b"false") => {
                    pos += 5;
                    self.items.push(Item::Bool(false));
                }
                b'n' if b[pos..].starts_with(b"null") => {
                    pos += 4;
                    self.items.push(Item::Null);
                }
                _ => return Err(Rejected),
            }
            // A value is complete: count it in its container, closing every container it completes.
            loop {
                let Some((at, count, is_array)) = open.last_mut() else {
                    pos = skip_ws(b, pos);
                    return if pos == b.len() {
                        Ok(())
                    } else {
                        Err(Rejected)
                    };
                };
                *count += 1;
                let is_array = *is_array;
                pos = skip_ws(b, pos);
                match (b.get(pos), is_array) {
                    (Some(b','), true) => {
                        pos += 1;
                        continue 'value;
                    }
                    (Some(b','), false) => {
                        pos = self.object_key(skip_ws(b, pos + 1))?;
                        continue 'value;
                    }
                    (Some(b']'), true) | (Some(b'}'), false) => {
                        pos += 1;
                        let (at, count) = (*at, *count);
                        open.pop();
                        let end = self.items.len() as u32;
                        self.items[at as usize] = if is_array {
                            Item::Array { len: count, end }
                        } else {
                            Item::Object { len: count, end }
                        };
                        if !is_array && count > 1 && self.has_duplicate_key(at) {
                            // The parsed value keeps one member per key; a schema checking this
                            // tape would count both. Rare: `parse` decides these.
                            return Err(Rejected);
                        }
                    }
                    _ => return Err(Rejected),
                }
            }
        }
    }

    fn has_duplicate_key(&self, at: u32) -> bool {
        let Item::Object { len, .. } = self.items[at as usize] else {
            return false;
        };
        let key_at = |i: u32| match self.items[i as usize] {
            Item::String(k) => self.str_of(k),
            _ => unreachable!("an object member starts with its key"),
        };
        if len <= SMALL_OBJECT {
            // Model outputs: a handful of keys. Pairwise, on the stack, no allocation.
            let mut keys = [""; SMALL_OBJECT as usize];
            let mut i = at + 1;
            for n in 0..len as usize {
                let k = key_at(i);
                if keys[..n].contains(&k) {
                    return true;
                }
                keys[n] = k;
                i = self.end_of(i + 1);
            }
            return false;
        }
        let mut seen = std::collections::HashSet::with_capacity(len as usize);
        let mut i = at + 1;
        for _ in 0..len {
            if !seen.insert(key_at(i)) {
                return true;
            }
            i = self.end_of(i + 1);
        }
        false
    }

    /// Reads `"key"` and the `:` after it, pushing the key; returns the position after the colon.
    fn object_key(&mut self, pos: usize) -> Step<usize> {
        let b = self.text.as_bytes();
        if b.get(pos) != Some(&b'"') {
            return Err(Rejected);
        }
        let (key, after) = self.string(pos)?;
        self.items.push(Item::String(key));
        let after = skip_ws(b, after);
        if b.get(after) != Some(&b':') {
            return Err(Rejected);
        }
        Ok(after + 1)
    }

    /// Reads a string starting at its opening quote, as `parse` does; a string with escapes is
    /// decoded into the arena, any other is a span of the input.
    fn string(&mut self, open: usize) -> Step<(Span, usize)> {
        let text = self.text;
        let b = text.as_bytes();
        let mut pos = open + 1;
        let mut run_start = pos;
        let mut decoded: Option<usize> = None; // where this string starts in the arena
        loop {
            pos = plain_run_end(b, pos);
            match b.get(pos) {
                Some(b'"') => {
                    let span = match decoded {
                        None => Span::new(run_start, pos - run_start, false),
                        Some(start) => {
                            self.arena.push_str(&text[run_start..pos]);
                            Span::new(start, self.arena.len() - start, true)
                        }
                    };
                    return Ok((span, pos + 1));
                }
                Some(b'\\') => {
                    if decoded.is_none() {
                        decoded = Some(self.arena.len());
                    }
                    self.arena.push_str(&text[run_start..pos]);
                    let (ch, next) = decode_escape(b, pos).map_err(|_| Rejected)?;
                    self.arena.push(ch);
                    pos = next;
                    run_start = pos;
                }
                // End of input or an unescaped control character.
                _ => return Err(Rejected),
            }
        }
    }
}

/// The end of the run of plain string bytes at `pos` (up to a quote, a backslash or a control
/// byte): eight bytes a step while none of them stops the run, then byte by byte.
#[inline]
fn plain_run_end(b: &[u8], mut pos: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte of `x` is zero (the classic test; exact whenever it reports none).
    let any_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    while let Some(chunk) = b.get(pos..pos + 8) {
        let v = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let quote = any_zero(v ^ (ONES * b'"' as u64));
        let backslash = any_zero(v ^ (ONES * b'\\' as u64));
        // Bytes below 0x20; bytes of 0x80 and above are never flagged (their high bit is set).
        let control = v.wrapping_sub(ONES * 0x20) & !v & HIGH;
        if quote | backslash | control != 0 {
            break;
        }
        pos += 8;
    }
    while pos < b.len() && !STRING_STOP[b[pos] as usize] {
        pos += 1;
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::parse::parse;

    fn agree(t: &str, lim: &Limits) {
        let tape = Tape::parse(t, lim);
        let full = parse(t, lim);
        match (&tape, &full) {
            (Ok(tape), Ok(v)) => assert_eq!(&tape.to_value(0), v, "{t:?}"),
            (Err(_), Err(_)) => {}
            _ => panic!("tape and parse disagree on {t:?}: {tape:?} vs {full:?}"),
        }
    }

    #[test]
    fn accepts_exactly_what_parse_accepts() {
        let lim = Limits::default();
        for t in [
            r#"{"a": [1, -2.5e3, true, false, null, "x\n\u00e9\ud83d\ude00"], "b": {}}"#,
            "[]",
            " 0 ",
            r#""\/\\\"""#,
            "18446744073709551615",
            "-9223372036854775808",
            "[[[[]]]]",
            r#"{"k\u0041y": "v", "plain": "é"}"#,
            "{\n  \"a\": [1, 2,\n   x]\n}",
            r#"{"a": 1 "b": 2}"#,
            "[1,]",
            "{'a': 1}",
            "\"a\nb\"",
            "01",
            "1.",
            "-",
            "1e",
            r#""\ud800""#,
            r#""\udc00""#,
            r#""\x""#,
            "[1] x",
            "1e999",
            "-1e999",
            "1.5e-400",
            "",
            "   ",
            "\u{feff}[1]",
            "tru",
            "nul",
            r#"{"a":}"#,
            r#"{"a" 1}"#,
            r#"{,}"#,
            "[,1]",
            "[1 2]",
            r#"{"a":1,}"#,
            "\"unterminated",
            "\"esc\\",
            "NaN",
        ] {
            agree(t, &lim);
        }
    }

    #[test]
    fn duplicate_keys_are_left_to_parse() {
        let lim = Limits::default();
        assert!(Tape::parse(r#"{"z":1,"a":2,"z":3}"#, &lim).is_err());
        let many: Vec<String> = (0..40).map(|i| format!("\"k{}\": {i}", i % 39)).collect();
        assert!(Tape::parse(&format!("{{{}}}", many.join(",")), &lim).is_err());
        let distinct: Vec<String> = (0..40).map(|i| format!("\"k{i}\": {i}")).collect();
        assert!(Tape::parse(&format!("{{{}}}", distinct.join(",")), &lim).is_ok());
        assert!(Tape::parse(r#"[{"a":1},{"a":2}]"#, &lim).is_ok());
    }

    #[test]
    fn depth_and_size_limits_match_parse() {
        let lim = Limits {
            max_input_bytes: 100,
            max_depth: 3,
        };
        for t in [
            "[[[1]]]",
            "[[[]]]",
            "[[[[1]]]]",
            "{\"a\":{\"b\":{\"c\":{}}}}",
            "[[{}]]",
        ] {
            agree(t, &lim);
        }
        assert!(Tape::parse(&"1".repeat(101), &lim).is_err());
        let deep = "[".repeat(200_000);
        assert!(Tape::parse(
            &deep,
            &Limits {
                max_input_bytes: 1 << 20,
                max_depth: 1000
            }
        )
        .is_err());
    }

    #[test]
    fn plain_runs_stop_exactly_where_the_byte_table_says() {
        let slow = |b: &[u8], mut pos: usize| {
            while pos < b.len() && !STRING_STOP[b[pos] as usize] {
                pos += 1;
            }
            pos
        };
        let mut inputs: Vec<Vec<u8>> = vec![b"abcdefghijklmnopqrstuvwxyz\"".to_vec()];
        for stop in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
            for at in 0..20 {
                let mut v: Vec<u8> = "é€😀ab".bytes().cycle().take(20).collect();
                v[at] = stop;
                inputs.push(v);
            }
        }
        for v in [0x20u8, 0x7f, 0x80, 0xff, b'!', b'#', b'[', b']'] {
            inputs.push(vec![v; 19]);
        }
        for input in &inputs {
            for start in 0..input.len() {
                assert_eq!(
                    plain_run_end(input, start),
                    slow(input, start),
                    "{input:?} from {start}"
                );
            }
        }
    }

    #[test]
    fn containers_know_their_extent() {
        let t = Tape::parse(r#"{"a": [1, {"b": null}], "c": "d"}"#, &Limits::default()).unwrap();
        assert!(matches!(t.items[0], Item::Object { len: 2, end: 9 }));
        assert!(matches!(t.items[2], Item::Array { len: 2, end: 7 }));
        assert_eq!(t.end_of(3), 4);
        assert_eq!(t.node(0), TapeValue::Object(2));
        assert_eq!(t.node(1), TapeValue::String("a"));
        assert_eq!(t.node(2), TapeValue::Array(2));
        assert_eq!(t.node(6), TapeValue::Null);
        assert_eq!(t.node(8), TapeValue::String("d"));
    }
}
