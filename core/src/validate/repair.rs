//! Repair of the JSON that models actually write: fenced or wrapped in prose, trailing commas, single
//! or smart quotes, Python literals, unquoted keys, comments, raw newlines in strings, missing commas
//! between values, and output cut off mid-way. One linear pass over the bytes with an explicit stack
//! (no recursion, depth limited); every change is reported. Repair never invents a value: where the
//! text admits more than one reading (a key with no value, a number that may be missing digits, an
//! unquoted word), it stops and the caller reports the original parse error.

use super::extract;
use super::failure::{Failure, FailureKind};
use super::limits::Limits;
use super::location::LineCursor;
use super::parse::{parse, scan_number, too_deep, too_large};
use serde_json::Value;

/// At most this many repairs are listed; the rest are counted in `Repaired::omitted`.
pub const MAX_REPORTED_REPAIRS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepairKind {
    /// The JSON was taken out of a markdown fence or surrounding prose.
    ExtractedJson,
    TrailingComma,
    SingleQuotes,
    /// `True` / `False` / `None` written as JSON `true` / `false` / `null`.
    PythonLiteral,
    UnquotedKey,
    Comment,
    SmartQuotes,
    /// A raw newline, tab or other control character inside a string, escaped.
    UnescapedNewline,
    /// A backslash that starts no JSON escape (`\d`, `\'`), kept as a literal character.
    InvalidEscape,
    /// Two values with no comma between them, where a quote or bracket makes the boundary certain.
    MissingComma,
    /// Output cut off: open string, arrays and objects closed, a dangling comma dropped.
    Truncated,
}

impl RepairKind {
    pub const ALL: [RepairKind; 11] = [
        RepairKind::ExtractedJson,
        RepairKind::TrailingComma,
        RepairKind::SingleQuotes,
        RepairKind::PythonLiteral,
        RepairKind::UnquotedKey,
        RepairKind::Comment,
        RepairKind::SmartQuotes,
        RepairKind::UnescapedNewline,
        RepairKind::InvalidEscape,
        RepairKind::MissingComma,
        RepairKind::Truncated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RepairKind::ExtractedJson => "extracted_json",
            RepairKind::TrailingComma => "trailing_comma",
            RepairKind::SingleQuotes => "single_quotes",
            RepairKind::PythonLiteral => "python_literal",
            RepairKind::UnquotedKey => "unquoted_key",
            RepairKind::Comment => "comment",
            RepairKind::SmartQuotes => "smart_quotes",
            RepairKind::UnescapedNewline => "unescaped_newline",
            RepairKind::InvalidEscape => "invalid_escape",
            RepairKind::MissingComma => "missing_comma",
            RepairKind::Truncated => "truncated",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// One change made to the input: what, where (in the input as given) and a short description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    pub kind: RepairKind,
    pub offset: usize,
    pub line: u32,
    pub column: u32,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repaired {
    /// Strict JSON; the input unchanged when it already was.
    pub text: String,
    /// Every change, in input order (at most `MAX_REPORTED_REPAIRS`).
    pub repairs: Vec<Repair>,
    /// Repairs made but not listed, beyond `MAX_REPORTED_REPAIRS`.
    pub omitted: u64,
}

/// Repairs `text` into strict JSON, or fails with the parse error of the input as given.
pub fn repair(text: &str, limits: &Limits) -> Result<Repaired, Failure> {
    repair_and_parse(text, limits).map(|(_, r)| r)
}

/// `repair`, also returning the parsed value, so callers that want the value parse only once.
pub fn repair_and_parse(text: &str, limits: &Limits) -> Result<(Value, Repaired), Failure> {
    let original = match parse(text, limits) {
        Ok(v) => {
            return Ok((
                v,
                Repaired {
                    text: text.to_owned(),
                    repairs: Vec::new(),
                    omitted: 0,
                },
            ))
        }
        Err(f) if f.kind == FailureKind::Limit => return Err(f),
        Err(f) => f,
    };
    repair_after_parse_error(text, limits, original)
}

/// The repair path once a strict parse has failed with `original`.
pub fn repair_after_parse_error(
    text: &str,
    limits: &Limits,
    mut original: Failure,
) -> Result<(Value, Repaired), Failure> {
    let not_repaired = |mut f: Failure, why: &str| {
        if let Some(v) = f.violations.first_mut() {
            v.message.push_str(&format!(" (not repaired: {why})"));
        }
        f
    };
    match pass(text, limits) {
        Ok(r) => match parse(&r.text, limits) {
            Ok(v) => Ok((v, r)),
            Err(f) if f.kind == FailureKind::Limit => Err(Failure {
                repairs: r.repairs,
                ..f
            }),
            Err(f) => {
                let why = format!(
                    "the repaired text is still not JSON: {}",
                    f.violations.first().map_or("", |v| v.message.as_str())
                );
                original.repairs = r.repairs;
                Err(not_repaired(original, &why))
            }
        },
        Err(Stop::Limit(message)) => Err(Failure::limit(message)),
        Err(Stop::Ambiguous(why, at)) => {
            // Where repair stopped, when that is not where the parse error already points.
            let why = if original.offset == Some(at) {
                why
            } else {
                let (line, column) = super::location::line_column(text, at);
                format!("{why}, at line {line} column {column}")
            };
            original = not_repaired(original, &why);
            Err(original)
        }
    }
}

/// Why the pass gave up.
#[derive(Debug)]
pub(crate) enum Stop {
    /// More than one reading, or none; the string says why, the offset where.
    Ambiguous(String, usize),
    Limit(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    TopValue,
    ArrFirst,
    ArrNext,
    ArrAfter,
    ObjFirst,
    ObjNext,
    ObjColon,
    ObjValue,
    ObjAfter,
    Done,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    Double,
    Single,
    SmartDouble,
    SmartSingle,
}

const LEFT_DQ: &[u8] = "\u{201C}".as_bytes();
const RIGHT_DQ: &[u8] = "\u{201D}".as_bytes();
const LEFT_SQ: &[u8] = "\u{2018}".as_bytes();
const RIGHT_SQ: &[u8] = "\u{2019}".as_bytes();

struct Pass<'a> {
    b: &'a [u8],
    pos: usize,
    out: Vec<u8>,
    stack: Vec<u8>,
    state: State,
    limits: &'a Limits,
    notes: Vec<(RepairKind, usize, String)>,
    omitted: u64,
    /// Where the pending comma is in `out` and in the input, while a `,` awaits its next element.
    comma: Option<(usize, usize)>,
    /// `out.len()` when the last value or key ended, for inserting a missing comma right after it.
    value_end: usize,
    /// Whether the last value ended with a closing quote or bracket (a certain boundary).
    value_delimited: bool,
    /// What truncation closed or completed, reported once at the end.
    truncated: Vec<&'static str>,
}

/// The repair pass itself: rewrites `text` without checking the result (the caller parses it).
pub(crate) fn pass(text: &str, limits: &Limits) -> Result<Repaired, Stop> {
    if text.len() > limits.max_input_bytes {
        return Err(Stop::Limit(
            too_large(text.len(), limits).violations[0].message.clone(),
        ));
    }
    let start = extract::locate(text)
        .ok_or_else(|| Stop::Ambiguous("no JSON object or array found in the text".into(), 0))?;
    let mut p = Pass {
        b: text.as_bytes(),
        pos: start.offset,
        out: Vec::with_capacity(text.len() - start.offset + 8),
        stack: Vec::new(),
        state: State::TopValue,
        limits,
        notes: Vec::new(),
        omitted: 0,
        comma: None,
        value_end: 0,
        value_delimited: false,
        truncated: Vec::new(),
    };
    if let Some(how) = start.how {
        p.note(RepairKind::ExtractedJson, 0, how.to_string());
    }
    p.run()?;
    p.finish(text)
}

fn ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'$'
}

fn ident_continue(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c == b'-'
}

impl<'a> Pass<'a> {
    fn note(&mut self, kind: RepairKind, offset: usize, detail: String) {
        if self.notes.len() < MAX_REPORTED_REPAIRS {
            self.notes.push((kind, offset, detail));
        } else {
            self.omitted += 1;
        }
    }

    fn ambiguous<T>(&self, why: impl Into<String>) -> Result<T, Stop> {
        Err(Stop::Ambiguous(why.into(), self.pos))
    }

    fn quote_at(&self, pos: usize) -> Option<(Quote, usize)> {
        let rest = &self.b[pos..];
        match rest.first()? {
            b'"' => Some((Quote::Double, 1)),
            b'\'' => Some((Quote::Single, 1)),
            0xE2 if rest.starts_with(LEFT_DQ) || rest.starts_with(RIGHT_DQ) => {
                Some((Quote::SmartDouble, 3))
            }
            0xE2 if rest.starts_with(LEFT_SQ) || rest.starts_with(RIGHT_SQ) => {
                Some((Quote::SmartSingle, 3))
            }
            _ => None,
        }
    }

    fn describe(&self) -> String {
        let rest = &self.b[self.pos..];
        (1..=rest.len().min(4))
            .rev()
            .find_map(|n| std::str::from_utf8(&rest[..n]).ok())
            .and_then(|s| s.chars().next())
            .map_or_else(|| "end of input".into(), |c| format!("'{c}'"))
    }

    /// Copies whitespace; drops comments, reporting each.
    fn trivia(&mut self) {
        let b = self.b;
        loop {
            let ws_start = self.pos;
            while self.pos < b.len() && matches!(b[self.pos], b' ' | b'\n' | b'\r' | b'\t') {
                self.pos += 1;
            }
            self.out.extend_from_slice(&b[ws_start..self.pos]);
            let at = self.pos;
            match (b.get(at), b.get(at + 1)) {
                (Some(b'/'), Some(b'/')) | (Some(b'#'), _) => {
                    while self.pos < b.len() && b[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                    self.note(RepairKind::Comment, at, "removed a line comment".into());
                }
                (Some(b'/'), Some(b'*')) => {
                    self.pos = match b[at + 2..].windows(2).position(|w| w == b"*/") {
                        Some(i) => at + 2 + i + 2,
                        None => b.len(),
                    };
                    self.note(RepairKind::Comment, at, "removed a block comment".into());
                }
                _ => return,
            }
        }
    }

    fn after_value(&mut self, delimited: bool) {
        self.value_end = self.out.len();
        self.value_delimited = delimited;
        self.state = match self.stack.last() {
            None => State::Done,
            Some(b'[') => State::ArrAfter,
            Some(_) => State::ObjAfter,
        };
    }

    fn drop_pending_comma(&mut self, why: RepairKind) {
        if let Some((out_at, in_at)) = self.comma.take() {
            self.out.remove(out_at);
            if why == RepairKind::TrailingComma {
                self.note(why, in_at, "removed a trailing comma".into());
            } else {
                self.truncated.push("dropped a dangling comma");
            }
        }
    }

    fn close(&mut self) {
        let open = self.stack.pop();
        self.out.push(if open == Some(b'[') { b']' } else { b'}' });
        self.pos += 1;
        self.after_value(true);
    }

    fn run(&mut self) -> Result<(), Stop> {
        loop {
            self.trivia();
            if self.pos >= self.b.len() {
                return self.end_of_input();
            }
            let c = self.b[self.pos];
            match self.state {
                State::TopValue | State::ArrFirst | State::ArrNext | State::ObjValue => {
                    if c == b']' && self.state == State::ArrFirst {
                        self.close();
                    } else if c == b']' && self.state == State::ArrNext {
                        self.drop_pending_comma(RepairKind::TrailingComma);
                        self.close();
                    } else {
                        self.comma = None;
                        self.value()?;
                    }
                }
                State::ObjFirst | State::ObjNext => {
                    if c == b'}' {
                        self.drop_pending_comma(RepairKind::TrailingComma);
                        self.close();
                    } else {
                        self.comma = None;
                        self.key()?;
                    }
                }
                State::ObjColon => {
                    if c == b':' {
                        self.out.push(b':');
                        self.pos += 1;
                        self.state = State::ObjValue;
                    } else {
                        return self.ambiguous(format!(
                            "expected ':' after an object key, found {}",
                            self.describe()
                        ));
                    }
                }
                State::ArrAfter | State::ObjAfter => {
                    let in_array = self.state == State::ArrAfter;
                    if c == b',' {
                        self.comma = Some((self.out.len(), self.pos));
                        self.out.push(b',');
                        self.pos += 1;
                        self.state = if in_array {
                            State::ArrNext
                        } else {
                            State::ObjNext
                        };
                    } else if (c == b']' && in_array) || (c == b'}' && !in_array) {
                        self.close();
                    } else {
                        let next_delimited = self.quote_at(self.pos).is_some()
                            || (in_array && (c == b'{' || c == b'['));
                        let next_starts = if in_array {
                            next_delimited
                                || c == b'-'
                                || c.is_ascii_digit()
                                || c.is_ascii_alphabetic()
                        } else {
                            next_delimited || ident_start(c)
                        };
                        if next_starts && (next_delimited || self.value_delimited) {
                            self.out.insert(self.value_end, b',');
                            self.note(
                                RepairKind::MissingComma,
                                self.pos,
                                "inserted a missing comma".into(),
                            );
                            self.state = if in_array {
                                State::ArrNext
                            } else {
                                State::ObjNext
                            };
                        } else {
                            return self.ambiguous(format!(
                                "expected ',' or '{}', found {}",
                                if in_array { ']' } else { '}' },
                                self.describe()
                            ));
                        }
                    }
                }
                State::Done => return self.trailing_text(),
            }
        }
    }

    fn trailing_text(&mut self) -> Result<(), Stop> {
        let c = self.b[self.pos];
        if matches!(c, b',' | b'{' | b'[' | b']' | b'}' | b':') {
            return self.ambiguous(format!(
                "more JSON follows the first complete value ({})",
                self.describe()
            ));
        }
        let at = self.pos;
        self.pos = self.b.len();
        // Trailing whitespace before the dropped text is dropped too.
        while matches!(self.out.last(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.out.pop();
        }
        self.note(
            RepairKind::ExtractedJson,
            at,
            format!(
                "dropped {} bytes of text after the JSON value",
                self.b.len() - at
            ),
        );
        Ok(())
    }

    fn end_of_input(&mut self) -> Result<(), Stop> {
        match self.state {
            State::Done => return Ok(()),
            State::TopValue => return self.ambiguous("no JSON value before the end of input"),
            State::ObjColon | State::ObjValue => return self.ambiguous(
                "the input ends after an object key: its value is missing and cannot be guessed",
            ),
            State::ArrNext | State::ObjNext => self.drop_pending_comma(RepairKind::Truncated),
            _ => {}
        }
        while matches!(self.out.last(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.out.pop();
        }
        let closers = self
            .stack
            .iter()
            .rev()
            .map(|&c| if c == b'[' { ']' } else { '}' })
            .collect::<String>();
        self.out.extend_from_slice(closers.as_bytes());
        self.stack.clear();
        let mut detail = String::from("the input ends early: ");
        if !self.truncated.is_empty() {
            detail.push_str(&self.truncated.join(", "));
            detail.push_str(", ");
        }
        detail.push_str(&format!("closed {closers}"));
        self.note(RepairKind::Truncated, self.b.len(), detail);
        Ok(())
    }

    fn value(&mut self) -> Result<(), Stop> {
        let b = self.b;
        let c = b[self.pos];
        match c {
            b'{' | b'[' => {
                if self.stack.len() >= self.limits.max_depth {
                    return Err(Stop::Limit(too_deep(self.limits)));
                }
                self.stack.push(c);
                self.out.push(c);
                self.pos += 1;
                self.state = if c == b'[' {
                    State::ArrFirst
                } else {
                    State::ObjFirst
                };
                Ok(())
            }
            b'-' | b'0'..=b'9' => {
                let (len, _) =
                    scan_number(b, self.pos).map_err(|(at, m)| Stop::Ambiguous(m.into(), at))?;
                if self.pos + len == b.len() && !self.stack.is_empty() {
                    return self.ambiguous(
                        "the input ends inside a number: digits may be missing and cannot be guessed",
                    );
                }
                self.out.extend_from_slice(&b[self.pos..self.pos + len]);
                self.pos += len;
                self.after_value(false);
                Ok(())
            }
            c if c.is_ascii_alphabetic() => self.literal(),
            _ => match self.quote_at(self.pos) {
                Some(q) => self.string(q, false),
                None => self.ambiguous(format!("expected a value, found {}", self.describe())),
            },
        }
    }

    fn literal(&mut self) -> Result<(), Stop> {
        let b = self.b;
        let start = self.pos;
        let mut end = start;
        while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
            end += 1;
        }
        let word = &b[start..end];
        let (json, python): (&[u8], bool) = match word {
            b"true" => (b"true", false),
            b"false" => (b"false", false),
            b"null" => (b"null", false),
            b"True" => (b"true", true),
            b"False" => (b"false", true),
            b"None" => (b"null", true),
            _ if end == b.len() => {
                // Cut off inside a literal: only one word can complete it, so completing it invents
                // nothing.
                let full: Option<&[u8]> = [
                    b"true".as_slice(),
                    b"false",
                    b"null",
                    b"True",
                    b"False",
                    b"None",
                ]
                .into_iter()
                .find(|w| w.starts_with(word));
                match full {
                    Some(w) => {
                        self.truncated.push("completed a cut-off literal");
                        let python = w[0].is_ascii_uppercase();
                        (
                            match w[0].to_ascii_lowercase() {
                                b't' => b"true",
                                b'f' => b"false",
                                _ => b"null",
                            },
                            python,
                        )
                    }
                    None => {
                        return self.ambiguous(format!(
                            "unquoted value '{}' is not JSON",
                            String::from_utf8_lossy(word)
                        ))
                    }
                }
            }
            _ => {
                return self.ambiguous(format!(
                    "unquoted value '{}' is not JSON (true, false and null are)",
                    String::from_utf8_lossy(word)
                ))
            }
        };
        if python {
            self.note(
                RepairKind::PythonLiteral,
                start,
                format!(
                    "replaced Python {} with {}",
                    String::from_utf8_lossy(word),
                    String::from_utf8_lossy(json)
                ),
            );
        }
        self.out.extend_from_slice(json);
        self.pos = end;
        self.after_value(false);
        Ok(())
    }

    fn key(&mut self) -> Result<(), Stop> {
        let b = self.b;
        if let Some(q) = self.quote_at(self.pos) {
            self.string(q, true)?;
            self.state = State::ObjColon;
            return Ok(());
        }
        let start = self.pos;
        if !ident_start(b[start]) {
            return self.ambiguous(format!("expected an object key, found {}", self.describe()));
        }
        let mut end = start + 1;
        while end < b.len() && ident_continue(b[end]) {
            end += 1;
        }
        if end == b.len() {
            return self.ambiguous("the input ends inside an object key: its value is missing");
        }
        self.out.push(b'"');
        self.out.extend_from_slice(&b[start..end]);
        self.out.push(b'"');
        self.note(
            RepairKind::UnquotedKey,
            start,
            format!("quoted the key {}", String::from_utf8_lossy(&b[start..end])),
        );
        self.pos = end;
        self.value_end = self.out.len();
        self.state = State::ObjColon;
        Ok(())
    }

    fn closes(&self, q: Quote, pos: usize) -> Option<usize> {
        let rest = &self.b[pos..];
        match q {
            Quote::Double => (rest[0] == b'"').then_some(1),
            Quote::Single => (rest[0] == b'\'').then_some(1),
            Quote::SmartDouble => {
                (rest.starts_with(RIGHT_DQ) || rest.starts_with(LEFT_DQ)).then_some(3)
            }
            Quote::SmartSingle => {
                (rest.starts_with(RIGHT_SQ) || rest.starts_with(LEFT_SQ)).then_some(3)
            }
        }
    }

    fn string(&mut self, (q, open_len): (Quote, usize), is_key: bool) -> Result<(), Stop> {
        let b = self.b;
        let open = self.pos;
        match q {
            Quote::Double => {}
            Quote::Single => self.note(
                RepairKind::SingleQuotes,
                open,
                "replaced single quotes with double quotes".into(),
            ),
            Quote::SmartDouble | Quote::SmartSingle => self.note(
                RepairKind::SmartQuotes,
                open,
                "replaced typographic quotes with double quotes".into(),
            ),
        }
        self.out.push(b'"');
        self.pos += open_len;
        loop {
            // Copy the run of ordinary bytes in one go.
            let run = self.pos;
            while self.pos < b.len()
                && !matches!(b[self.pos], b'"' | b'\\' | b'\'' | 0xE2 | 0..=0x1f)
            {
                self.pos += 1;
            }
            self.out.extend_from_slice(&b[run..self.pos]);
            if self.pos >= b.len() {
                if is_key {
                    return self
                        .ambiguous("the input ends inside an object key: its value is missing");
                }
                self.out.push(b'"');
                self.truncated.push("closed a cut-off string");
                self.after_value(true);
                return Ok(());
            }
            let c = b[self.pos];
            if let Some(len) = self.closes(q, self.pos) {
                self.out.push(b'"');
                self.pos += len;
                if is_key {
                    self.value_end = self.out.len();
                } else {
                    self.after_value(true);
                }
                return Ok(());
            }
            match c {
                b'\\' => self.escape(q)?,
                b'"' => {
                    // A double quote inside a single- or smart-quoted string is content.
                    self.out.extend_from_slice(b"\\\"");
                    self.pos += 1;
                }
                0..=0x1f => {
                    let esc: &[u8] = match c {
                        b'\n' => b"\\n",
                        b'\r' => b"\\r",
                        b'\t' => b"\\t",
                        _ => b"",
                    };
                    if esc.is_empty() {
                        self.out
                            .extend_from_slice(format!("\\u{:04x}", c).as_bytes());
                    } else {
                        self.out.extend_from_slice(esc);
                    }
                    let what = match c {
                        b'\n' => "a raw newline".to_string(),
                        b'\r' => "a raw carriage return".to_string(),
                        b'\t' => "a raw tab".to_string(),
                        _ => format!("raw control character U+{c:04X}"),
                    };
                    self.note(
                        RepairKind::UnescapedNewline,
                        self.pos,
                        format!("escaped {what} in a string"),
                    );
                    self.pos += 1;
                }
                _ => {
                    // `'` or a smart quote that does not close this string: content.
                    self.out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn escape(&mut self, q: Quote) -> Result<(), Stop> {
        let b = self.b;
        let at = self.pos;
        let Some(&e) = b.get(at + 1) else {
            // Cut off right after a backslash: the escape cannot be known, so it is dropped.
            self.pos = b.len();
            self.truncated.push("dropped a cut-off escape");
            return Ok(());
        };
        match e {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                self.out.extend_from_slice(&b[at..at + 2]);
                self.pos += 2;
            }
            b'u' => {
                let hex = &b[at + 2..(at + 6).min(b.len())];
                let all_hex = hex.iter().all(|c| c.is_ascii_hexdigit());
                if hex.len() == 4 && all_hex {
                    self.out.extend_from_slice(&b[at..at + 6]);
                    self.pos += 6;
                } else if all_hex && at + 6 > b.len() {
                    self.pos = b.len();
                    self.truncated.push("dropped a cut-off escape");
                } else {
                    return self.ambiguous("invalid \\u escape: expected 4 hex digits");
                }
            }
            b'\'' => {
                // `\'` is how single-quoted strings escape their quote; in JSON it is a plain `'`.
                self.out.push(b'\'');
                self.pos += 2;
                if q != Quote::Single {
                    self.note(RepairKind::InvalidEscape, at, "replaced \\' with '".into());
                }
            }
            _ => {
                // `\d` in a regex and the like: the backslash is meant literally.
                self.out.extend_from_slice(b"\\\\");
                self.pos += 1;
                self.note(
                    RepairKind::InvalidEscape,
                    at,
                    "escaped a backslash that starts no JSON escape".into(),
                );
            }
        }
        Ok(())
    }

    fn finish(self, text: &str) -> Result<Repaired, Stop> {
        let mut notes = self.notes;
        notes.sort_by_key(|n| n.1);
        let mut cursor = LineCursor::new(text);
        let repairs = notes
            .into_iter()
            .map(|(kind, offset, detail)| {
                let (line, column) = cursor.seek(offset);
                Repair {
                    kind,
                    offset,
                    line,
                    column,
                    detail,
                }
            })
            .collect();
        let text = String::from_utf8(self.out)
            .map_err(|_| Stop::Ambiguous("the repaired text is not valid UTF-8".into(), 0))?;
        Ok(Repaired {
            text,
            repairs,
            omitted: self.omitted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::Strategy as _;

    fn fix(t: &str) -> (String, Vec<&'static str>) {
        let r = repair(t, &Limits::default()).unwrap_or_else(|f| panic!("{t:?}: {f:?}"));
        (r.text, r.repairs.iter().map(|r| r.kind.as_str()).collect())
    }

    fn fails(t: &str) -> String {
        match repair(t, &Limits::default()) {
            Ok(r) => panic!("{t:?} was repaired to {:?}", r.text),
            Err(f) => f.violations[0].message.clone(),
        }
    }

    #[test]
    fn each_kind() {
        assert_eq!(
            fix(r#"{"a": 1,}"#),
            (r#"{"a": 1}"#.into(), vec!["trailing_comma"])
        );
        assert_eq!(fix("{'a': 'b'}").0, r#"{"a": "b"}"#);
        assert_eq!(fix("[True, False, None]").0, "[true, false, null]");
        assert_eq!(fix("{a: 1, b_2: 2}").0, r#"{"a": 1, "b_2": 2}"#);
        assert_eq!(fix("{\"a\": 1 // one\n}").0, "{\"a\": 1 \n}");
        assert_eq!(fix("{/* c */\"a\": 1}").0, "{\"a\": 1}");
        assert_eq!(fix("{“a”: “b”}").0, r#"{"a": "b"}"#);
        assert_eq!(fix("{\"a\": \"x\ny\"}").0, r#"{"a": "x\ny"}"#);
        assert_eq!(fix(r#"{"re": "\d+"}"#).0, r#"{"re": "\\d+"}"#);
        assert_eq!(fix(r#"["a" "b"]"#).0, r#"["a", "b"]"#);
        assert_eq!(fix(r#"{"a": [1, {"b": "c"#).0, r#"{"a": [1, {"b": "c"}]}"#);
        assert_eq!(fix("[1, 2,").0, "[1, 2]");
        assert_eq!(fix("[tru").0, "[true]");
        let (t, k) = fix("Here you go:\n```json\n{\"a\": 1,}\n```\nThanks");
        assert_eq!(t, "{\"a\": 1}");
        assert_eq!(
            k,
            vec!["extracted_json", "trailing_comma", "extracted_json"]
        );
    }

    #[test]
    fn refuses_to_guess() {
        assert!(fails(r#"{"a": 1, "b": "#).contains("value is missing"));
        assert!(fails(r#"{"a": 1, "b"#).contains("not repaired"));
        assert!(fails("[1, 2, 3").contains("digits may be missing"));
        assert!(fails(r#"{"a": hello}"#).contains("unquoted value 'hello'"));
        assert!(fails("[1,,2]").contains("not repaired"));
        assert!(fails("[NaN]").contains("NaN"));
        assert!(fails(r#"{"a": 1}, {"b": 2}"#).contains("more JSON follows"));
        assert!(fails("[1 2]").contains("expected ','"));
        assert!(fails("no json at all").contains("no JSON object or array"));
        // The message is the original parse error, located in the input as given.
        let f = repair("{\"a\": 1,\n \"b\": }", &Limits::default()).unwrap_err();
        assert_eq!(f.kind, FailureKind::Parse);
        assert_eq!((f.line, f.column), (Some(2), Some(7)));
        assert_eq!(f.violations[0].path, "/b");
    }

    #[test]
    fn valid_json_is_untouched_by_the_pass_too() {
        for t in [
            r#"{"a": [1, 2.5, "x\"y", {"b": null}], "c": true}"#,
            " [ ] ",
            "{\n  \"k\" : \"“smart” inside, it's fine\"\n}\n",
        ] {
            let r = pass(t, &Limits::default()).unwrap();
            assert_eq!(r.text, t);
            assert!(r.repairs.is_empty());
        }
    }

    proptest::proptest! {
        /// The pass itself (not only the strict-parse shortcut in `repair`) leaves valid JSON as is.
        #[test]
        fn the_pass_leaves_valid_json_unchanged(
            v in proptest::collection::vec(
                ("[a-z]{1,6}", proptest::prop_oneof![
                    proptest::prelude::any::<i32>().prop_map(|n| serde_json::json!(n)),
                    "[ -~“”\n]{0,10}".prop_map(|s| serde_json::json!(s)),
                    proptest::prelude::Just(serde_json::json!([true, null, {"x": [1.5, []]}])),
                ]), 0..8),
            pretty in proptest::prelude::any::<bool>(),
        ) {
            let obj: serde_json::Map<String, Value> = v.into_iter().collect();
            let t = if pretty { serde_json::to_string_pretty(&obj).unwrap() } else { serde_json::to_string(&obj).unwrap() };
            let r = pass(&t, &Limits::default()).unwrap();
            proptest::prop_assert_eq!(&r.text, &t);
            proptest::prop_assert!(r.repairs.is_empty());
        }
    }

    #[test]
    fn repairs_are_located_and_bounded() {
        let r = repair("{\n  a: 1,\n}", &Limits::default()).unwrap();
        assert_eq!(r.repairs[0].kind, RepairKind::UnquotedKey);
        assert_eq!((r.repairs[0].line, r.repairs[0].column), (2, 3));
        assert_eq!((r.repairs[1].line, r.repairs[1].column), (2, 7));
        let many = format!("[{}]", "[1,],".repeat(1500) + "0");
        let r = repair(&many, &Limits::default()).unwrap();
        assert_eq!(r.repairs.len(), MAX_REPORTED_REPAIRS);
        assert_eq!(r.omitted, 500);
        let deep = "[".repeat(2000);
        let f = repair(&deep, &Limits::default()).unwrap_err();
        assert_eq!(f.kind, FailureKind::Limit);
    }
}
