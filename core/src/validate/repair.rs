//! Repair of the JSON that models actually write: fenced or wrapped in prose, trailing commas, single
//! or smart quotes, Python literals, unquoted keys, comments, raw newlines in strings, missing commas
//! between values, and output cut off mid-way. One linear pass over the bytes with an explicit stack
//! (no recursion, depth limited); every change is reported.
//!
//! Two modes. `Safe` (the default) never returns a value whose meaning differs from the input's:
//! where the text admits more than one reading (a key with no value, a number that may be missing
//! digits, an unquoted word, a string whose closing quote is missing before brackets, a second JSON
//! value, a comment that may hide the rest), it stops and the caller reports the original parse
//! error. `Lenient` takes the reading other repairers (json_repair, jsonrepair) take in those places
//! and reports each guess as a repair of its own kind. docs/repair.md defines "meaning" precisely.

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
    /// Lenient only: a bare word read as a string (`{a: hello world}`).
    UnquotedValue,
    /// Lenient only: a key with no value (cut off, or `{"a": }`) given `null`.
    MissingValue,
    /// Lenient only: a `:` inserted between a key and its value.
    MissingColon,
    /// Lenient only: a comma with no value before it (`[1,,2]`) dropped.
    ExtraComma,
    /// Lenient only: a string whose closing quote is missing, closed before the `,` or brackets
    /// that follow it.
    MissingQuote,
    /// Lenient only: a quote inside a string that does not end it (followed by more words on the
    /// same line), kept as content.
    UnescapedQuote,
    /// Lenient only: a closing bracket of the wrong kind replaced, or one that closes nothing dropped.
    MismatchedBracket,
    /// Lenient only: several top-level values (two fenced blocks, `{..} {..}`) gathered into an array.
    MultipleValues,
}

impl RepairKind {
    pub const ALL: [RepairKind; 19] = [
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
        RepairKind::UnquotedValue,
        RepairKind::MissingValue,
        RepairKind::MissingColon,
        RepairKind::ExtraComma,
        RepairKind::MissingQuote,
        RepairKind::UnescapedQuote,
        RepairKind::MismatchedBracket,
        RepairKind::MultipleValues,
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
            RepairKind::UnquotedValue => "unquoted_value",
            RepairKind::MissingValue => "missing_value",
            RepairKind::MissingColon => "missing_colon",
            RepairKind::ExtraComma => "extra_comma",
            RepairKind::MissingQuote => "missing_quote",
            RepairKind::UnescapedQuote => "unescaped_quote",
            RepairKind::MismatchedBracket => "mismatched_bracket",
            RepairKind::MultipleValues => "multiple_values",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// How far repair may go: `Safe` refuses where two readings are plausible, `Lenient` guesses there
/// as other repairers do, reporting each guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RepairMode {
    #[default]
    Safe,
    Lenient,
}

impl RepairMode {
    pub const ALL: [RepairMode; 2] = [RepairMode::Safe, RepairMode::Lenient];

    pub fn as_str(self) -> &'static str {
        match self {
            RepairMode::Safe => "safe",
            RepairMode::Lenient => "lenient",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// `parse`, or a configuration error of `component` naming the parameter `mode`.
    pub fn from_option(component: &'static str, s: &str) -> crate::error::Result<Self> {
        Self::from_param(component, "mode", s)
    }

    /// `parse`, or a configuration error of `component` naming `param` (`repair_mode` where the
    /// mode is one option of a validator).
    pub fn from_param(
        component: &'static str,
        param: &'static str,
        s: &str,
    ) -> crate::error::Result<Self> {
        Self::parse(s).ok_or_else(|| {
            crate::error::Error::out_of_range(
                component,
                param,
                format!("{s:?}"),
                "\"safe\" or \"lenient\"",
            )
        })
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

/// Repairs `text` into strict JSON in safe mode, or fails with the parse error of the input as given.
pub fn repair(text: &str, limits: &Limits) -> Result<Repaired, Failure> {
    repair_with(text, limits, RepairMode::Safe)
}

/// `repair` in the given mode.
pub fn repair_with(text: &str, limits: &Limits, mode: RepairMode) -> Result<Repaired, Failure> {
    repair_and_parse_with(text, limits, mode).map(|(_, r)| r)
}

/// `repair`, also returning the parsed value, so callers that want the value parse only once.
pub fn repair_and_parse(text: &str, limits: &Limits) -> Result<(Value, Repaired), Failure> {
    repair_and_parse_with(text, limits, RepairMode::Safe)
}

/// `repair_and_parse` in the given mode.
pub fn repair_and_parse_with(
    text: &str,
    limits: &Limits,
    mode: RepairMode,
) -> Result<(Value, Repaired), Failure> {
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
    repair_after_parse_error_with(text, limits, mode, original)
}

/// The safe repair path once a strict parse has failed with `original`.
pub fn repair_after_parse_error(
    text: &str,
    limits: &Limits,
    original: Failure,
) -> Result<(Value, Repaired), Failure> {
    repair_after_parse_error_with(text, limits, RepairMode::Safe, original)
}

/// The repair path once a strict parse has failed with `original`.
pub fn repair_after_parse_error_with(
    text: &str,
    limits: &Limits,
    mode: RepairMode,
    mut original: Failure,
) -> Result<(Value, Repaired), Failure> {
    // Lenient guesses only where safe refuses: wherever safe repairs a text, lenient returns the
    // same value (its read-ahead would sometimes read a sound text differently).
    if mode == RepairMode::Lenient {
        let safe = repair_after_parse_error_with(text, limits, RepairMode::Safe, original.clone());
        if safe.is_ok() {
            return safe;
        }
    }
    let not_repaired = |mut f: Failure, why: &str| {
        if let Some(v) = f.violations.first_mut() {
            v.message.push_str(&format!(" (not repaired: {why})"));
        }
        f
    };
    match pass(text, limits, mode) {
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

/// What follows a quote that could close a string (lenient mode reads it to tell a closing quote
/// from one the model forgot to escape).
enum AfterQuote {
    /// End of input, a newline, `,`, a closing bracket, another quote or a comment: the string ends.
    Ends,
    /// A `:`: the quote opened the next key, so the string before it lost its closing quote.
    Colon,
    /// More text on the same line: the quote is content.
    Content,
}

const LEFT_DQ: &[u8] = "\u{201C}".as_bytes();
const RIGHT_DQ: &[u8] = "\u{201D}".as_bytes();
const LEFT_SQ: &[u8] = "\u{2018}".as_bytes();
const RIGHT_SQ: &[u8] = "\u{2019}".as_bytes();

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\n' | b'\r' | b'\t')
}

struct Pass<'a> {
    /// The text up to where the current value must end (a closing fence), a prefix of `full`.
    b: &'a [u8],
    full: &'a [u8],
    pos: usize,
    out: Vec<u8>,
    stack: Vec<u8>,
    state: State,
    limits: &'a Limits,
    lenient: bool,
    /// The value was found after prose (not at the start, not in a fence).
    prose: bool,
    /// A line comment ran to the end of the input (it may have hidden the rest of the value).
    comment_to_end: bool,
    /// Lenient: several top-level values are being gathered into one array.
    multi: bool,
    /// Whitespace or a comment came before the current token.
    gap: bool,
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
pub(crate) fn pass(text: &str, limits: &Limits, mode: RepairMode) -> Result<Repaired, Stop> {
    if text.len() > limits.max_input_bytes {
        return Err(Stop::Limit(
            too_large(text.len(), limits).violations[0].message.clone(),
        ));
    }
    let lenient = mode == RepairMode::Lenient;
    let start = match extract::locate(text) {
        Some(s) => s,
        // Lenient: a top-level string (`"cut off`), as jsonrepair reads it.
        None if lenient => text
            .bytes()
            .position(|c| !c.is_ascii_whitespace())
            .filter(|&i| matches!(text.as_bytes()[i], b'"' | b'\''))
            .map(|offset| extract::Start {
                offset,
                how: None,
                prose: false,
                end: text.len(),
            })
            .ok_or_else(|| Stop::Ambiguous("no JSON value found in the text".into(), 0))?,
        None => {
            return Err(Stop::Ambiguous(
                "no JSON object or array found in the text".into(),
                0,
            ))
        }
    };
    let mut p = Pass {
        b: &text.as_bytes()[..start.end],
        full: text.as_bytes(),
        pos: start.offset,
        out: Vec::with_capacity(text.len() - start.offset + 8),
        stack: Vec::new(),
        state: State::TopValue,
        limits,
        lenient,
        prose: start.prose,
        comment_to_end: false,
        multi: false,
        gap: false,
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

    fn trim_out(&mut self) {
        while matches!(self.out.last(), Some(&c) if is_ws(c)) {
            self.out.pop();
        }
    }

    /// Copies whitespace; drops comments, reporting each.
    fn trivia(&mut self) {
        let b = self.b;
        loop {
            let ws_start = self.pos;
            while self.pos < b.len() && is_ws(b[self.pos]) {
                self.pos += 1;
            }
            self.out.extend_from_slice(&b[ws_start..self.pos]);
            let at = self.pos;
            match (b.get(at), b.get(at + 1)) {
                (Some(b'/'), Some(b'/')) | (Some(b'#'), _) => {
                    while self.pos < b.len() && b[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                    if self.pos == b.len() {
                        self.comment_to_end = true;
                    }
                    self.note(RepairKind::Comment, at, "removed a line comment".into());
                }
                (Some(b'/'), Some(b'*')) => {
                    self.pos = match b[at + 2..].windows(2).position(|w| w == b"*/") {
                        Some(i) => at + 2 + i + 2,
                        None => {
                            self.comment_to_end = true;
                            b.len()
                        }
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

    /// Closes the innermost array or object at the bracket under `pos`; in lenient mode a bracket
    /// of the other kind closes it too, reported.
    fn close(&mut self) {
        let open = self.stack.pop();
        let want = if open == Some(b'[') { b']' } else { b'}' };
        if self.b[self.pos] != want {
            self.note(
                RepairKind::MismatchedBracket,
                self.pos,
                format!(
                    "replaced '{}' with '{}'",
                    self.b[self.pos] as char, want as char
                ),
            );
        }
        self.out.push(want);
        self.pos += 1;
        self.after_value(true);
    }

    fn run(&mut self) -> Result<(), Stop> {
        loop {
            let before = self.pos;
            self.trivia();
            self.gap = self.pos > before;
            if self.pos >= self.b.len() {
                if self.b.len() == self.full.len() {
                    return self.end_of_input();
                }
                // The value's fence closes here: whatever is still open is closed, and the text
                // after the fence is read as trailing text.
                self.end_of_input()?;
                self.state = State::Done;
                self.b = self.full;
                continue;
            }
            let c = self.b[self.pos];
            let closer = c == b']' || c == b'}';
            match self.state {
                State::TopValue | State::ArrFirst | State::ArrNext | State::ObjValue => {
                    let in_array = matches!(self.state, State::ArrFirst | State::ArrNext);
                    if in_array && (c == b']' || (closer && self.lenient)) {
                        self.drop_pending_comma(RepairKind::TrailingComma);
                        self.close();
                    } else if c == b',' && self.lenient && in_array {
                        self.drop_extra_comma();
                    } else if (c == b',' || closer) && self.lenient && self.state == State::ObjValue
                    {
                        self.missing_value();
                    } else {
                        self.comma = None;
                        self.value()?;
                    }
                }
                State::ObjFirst | State::ObjNext => {
                    if c == b'}' || (c == b']' && self.lenient) {
                        self.drop_pending_comma(RepairKind::TrailingComma);
                        self.close();
                    } else if c == b',' && self.lenient {
                        self.drop_extra_comma();
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
                    } else if self.lenient && (c == b',' || closer) {
                        self.out.push(b':');
                        self.missing_value();
                    } else if self.lenient && self.value_starts(c) {
                        self.out.push(b':');
                        self.note(
                            RepairKind::MissingColon,
                            self.pos,
                            "inserted a missing ':' after an object key".into(),
                        );
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
                    } else if (c == b']' && in_array)
                        || (c == b'}' && !in_array)
                        || (closer && self.lenient)
                    {
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
                        // Safe: the boundary must be certain, a quote or bracket on one side and
                        // whitespace between (`"a" "b"`, a value per line); `2"x` or `"a"b` is
                        // more likely a quote in the wrong place than a missing comma.
                        let certain =
                            next_starts && (next_delimited || self.value_delimited) && self.gap;
                        if certain || (next_starts && self.lenient) {
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
                State::Done => self.trailing_text()?,
            }
        }
    }

    fn value_starts(&self, c: u8) -> bool {
        matches!(c, b'{' | b'[' | b'-' | b'0'..=b'9')
            || c.is_ascii_alphabetic()
            || self.quote_at(self.pos).is_some()
    }

    fn drop_extra_comma(&mut self) {
        self.note(
            RepairKind::ExtraComma,
            self.pos,
            "dropped a comma with no value before it".into(),
        );
        self.pos += 1;
    }

    /// Lenient: a key whose value is missing gets `null` (a guess, reported).
    fn missing_value(&mut self) {
        self.trim_out();
        self.out.extend_from_slice(b" null");
        self.note(
            RepairKind::MissingValue,
            self.pos,
            "guessed null for a key with no value".into(),
        );
        self.after_value(false);
    }

    /// What comes after the first complete top-level value.
    fn trailing_text(&mut self) -> Result<(), Stop> {
        let b = self.b;
        let c = b[self.pos];
        if c == b',' && b[self.pos + 1..].iter().all(|&c| is_ws(c)) {
            self.note(
                RepairKind::TrailingComma,
                self.pos,
                "removed a trailing comma after the value".into(),
            );
            self.pos = b.len();
            return Ok(());
        }
        let next_value = b[self.pos..]
            .iter()
            .position(|&c| c == b'{' || c == b'[')
            .map(|i| self.pos + i);
        if self.lenient {
            if c == b'}' || c == b']' {
                self.note(
                    RepairKind::MismatchedBracket,
                    self.pos,
                    format!("dropped a '{}' that closes nothing", c as char),
                );
                self.pos += 1;
                return Ok(());
            }
            if let Some(at) = next_value {
                // Another value further on (a second fenced block, `{..} {..}`, `{..}, {..}`):
                // gathered with the first into an array, as json_repair does.
                let between = &b[self.pos..at];
                if !between.iter().all(|&c| is_ws(c) || c == b',') {
                    self.note(
                        RepairKind::ExtractedJson,
                        self.pos,
                        format!("dropped {} bytes of text between values", between.len()),
                    );
                }
                if !self.multi {
                    self.multi = true;
                    self.out.insert(0, b'[');
                    self.note(
                        RepairKind::MultipleValues,
                        at,
                        "gathered several top-level values into an array".into(),
                    );
                }
                self.trim_out();
                self.out.push(b',');
                // A value in a fence of its own ends at that fence.
                if let Some(open) = b[self.pos..at].windows(3).rposition(|w| w == b"```") {
                    if b[self.pos + open..at].contains(&b'\n') {
                        self.b = &self.full[..extract::fence_close(self.full, at)];
                    }
                }
                self.pos = at;
                self.state = State::TopValue;
                return Ok(());
            }
        } else {
            if matches!(c, b',' | b'{' | b'[' | b']' | b'}' | b':') {
                return self.ambiguous(format!(
                    "more JSON follows the first complete value ({})",
                    self.describe()
                ));
            }
            if let Some(at) = next_value {
                return Err(Stop::Ambiguous(
                    "the text after the JSON value holds another '{' or '[': more JSON may follow"
                        .into(),
                    at,
                ));
            }
        }
        let at = self.pos;
        self.pos = b.len();
        // Trailing whitespace before the dropped text is dropped too.
        self.trim_out();
        self.note(
            RepairKind::ExtractedJson,
            at,
            format!(
                "dropped {} bytes of text after the JSON value",
                b.len() - at
            ),
        );
        Ok(())
    }

    fn end_of_input(&mut self) -> Result<(), Stop> {
        if self.state == State::Done {
            if !self.truncated.is_empty() {
                // A cut-off top-level string or literal (lenient): nothing to close.
                let detail = format!("the input ends early: {}", self.truncated.join(", "));
                self.note(RepairKind::Truncated, self.b.len(), detail);
            }
            return Ok(());
        }
        if !self.lenient && self.comment_to_end {
            return self.ambiguous(
                "a comment runs to the end of the input while the value is still open: \
                 it may hide the rest of the value",
            );
        }
        if !self.lenient && self.prose {
            return self.ambiguous(
                "the JSON after the prose is cut off: its brackets may belong to the prose",
            );
        }
        match self.state {
            State::TopValue => return self.ambiguous("no JSON value before the end of input"),
            State::ObjColon | State::ObjValue if self.lenient => {
                if self.state == State::ObjColon {
                    self.out.push(b':');
                }
                self.missing_value();
            }
            State::ObjColon | State::ObjValue => return self.ambiguous(
                "the input ends after an object key: its value is missing and cannot be guessed",
            ),
            State::ArrNext | State::ObjNext => self.drop_pending_comma(RepairKind::Truncated),
            _ => {}
        }
        self.trim_out();
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
            if !closers.is_empty() {
                detail.push_str(", ");
            }
        }
        if !closers.is_empty() {
            detail.push_str(&format!("closed {closers}"));
        }
        if !closers.is_empty() || !self.truncated.is_empty() {
            self.note(RepairKind::Truncated, self.b.len(), detail);
        }
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
            b'-' | b'0'..=b'9' => self.number(),
            c if c.is_ascii_alphabetic() => self.literal(),
            _ => match self.quote_at(self.pos) {
                Some(q) => self.string(q, false, None),
                None => self.ambiguous(format!("expected a value, found {}", self.describe())),
            },
        }
    }

    fn number(&mut self) -> Result<(), Stop> {
        let b = self.b;
        match scan_number(b, self.pos) {
            Ok((len, _)) => {
                if self.pos + len == b.len() && !self.stack.is_empty() {
                    if !self.lenient {
                        return self.ambiguous(
                            "the input ends inside a number: digits may be missing and cannot be guessed",
                        );
                    }
                    self.truncated.push("kept a cut-off number as written");
                }
                self.out.extend_from_slice(&b[self.pos..self.pos + len]);
                self.pos += len;
            }
            // Lenient: cut off inside a number (`1.`, `2e`, `-`): the digits written are kept.
            Err((at, _)) if self.lenient && at == b.len() => {
                let mut end = b.len();
                while end > self.pos && matches!(b[end - 1], b'.' | b'e' | b'E' | b'+' | b'-') {
                    end -= 1;
                }
                if end == self.pos {
                    self.out.push(b'0');
                    self.truncated.push("guessed 0 for a cut-off '-'");
                } else {
                    self.out.extend_from_slice(&b[self.pos..end]);
                    self.truncated
                        .push("dropped the dangling end of a cut-off number");
                }
                self.pos = b.len();
            }
            Err((at, m)) => return Err(Stop::Ambiguous(m.into(), at)),
        }
        self.after_value(false);
        Ok(())
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
                    None if self.lenient => return self.unquoted_value(),
                    None => {
                        return self.ambiguous(format!(
                            "unquoted value '{}' is not JSON",
                            String::from_utf8_lossy(word)
                        ))
                    }
                }
            }
            _ if self.lenient => return self.unquoted_value(),
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

    /// Lenient: a bare word or words up to the next `,`, closing bracket or line end, read as a
    /// string (`{message: hello world}`).
    fn unquoted_value(&mut self) -> Result<(), Stop> {
        let b = self.b;
        let start = self.pos;
        let closer = if self.stack.last() == Some(&b'[') {
            b']'
        } else {
            b'}'
        };
        let mut end = start;
        while end < b.len()
            && !matches!(b[end], b',' | b'\n' | b'\r')
            && b[end] != closer
            // A comment after the word ends it (` /* note */`, ` // note`).
            && !(b[end] == b'/' && matches!(b.get(end + 1), Some(b'*' | b'/')) && b[end - 1] == b' ')
        {
            end += 1;
        }
        let cut = end == b.len();
        while end > start && matches!(b[end - 1], b' ' | b'\t') {
            end -= 1;
        }
        // `start` is an ASCII letter and `end` follows the word or an ASCII delimiter: both are
        // character boundaries.
        let word = std::str::from_utf8(&b[start..end]).unwrap_or_default();
        let quoted = serde_json::to_string(word).unwrap_or_else(|_| "\"\"".into());
        self.out.extend_from_slice(quoted.as_bytes());
        self.note(
            RepairKind::UnquotedValue,
            start,
            format!("guessed that the unquoted {quoted} is a string"),
        );
        if cut && !self.stack.is_empty() {
            self.truncated.push("kept a cut-off unquoted value");
        }
        self.pos = end;
        self.after_value(false);
        Ok(())
    }

    fn key(&mut self) -> Result<(), Stop> {
        let b = self.b;
        if let Some(q) = self.quote_at(self.pos) {
            self.string(q, true, None)?;
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
            if !self.lenient {
                return self.ambiguous("the input ends inside an object key: its value is missing");
            }
            self.truncated.push("closed a cut-off key");
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

    fn after_quote(&self, mut p: usize) -> AfterQuote {
        let b = self.b;
        while p < b.len() && matches!(b[p], b' ' | b'\t') {
            p += 1;
        }
        match b.get(p) {
            None | Some(b'\n' | b'\r' | b',' | b'}' | b']' | b'"' | b'\'' | b'/' | b'#') => {
                AfterQuote::Ends
            }
            Some(b':') => AfterQuote::Colon,
            Some(_) => AfterQuote::Content,
        }
    }

    /// Back from `at` over the closing brackets, commas and whitespace before it (not past
    /// `content_start`): where a string that lost its closing quote really ended. A comma there is
    /// a trailing comma before the brackets (`"reason,}}, next: 1`), not the string's last
    /// character; a bracket that closes one opened inside the string (`"[just text]}`) is the
    /// string's own.
    fn before_closers(&self, content_start: usize, at: usize) -> usize {
        let own = self.own_closers(content_start, at);
        let mut t = at;
        while t > content_start
            && matches!(
                self.b[t - 1],
                b'}' | b']' | b',' | b' ' | b'\t' | b'\n' | b'\r'
            )
            && !own.contains(&(t - 1))
        {
            t -= 1;
        }
        t
    }

    /// The offsets of the closing brackets in `from..to` that close a bracket opened in that span.
    fn own_closers(&self, from: usize, to: usize) -> Vec<usize> {
        let mut open = Vec::new();
        let mut own = Vec::new();
        for (i, &c) in self.b[from..to].iter().enumerate() {
            match c {
                b'[' | b'{' => open.push(c),
                b']' | b'}' if open.last() == Some(&if c == b']' { b'[' } else { b'{' }) => {
                    open.pop();
                    own.push(from + i);
                }
                _ => {}
            }
        }
        own
    }

    /// The `,` just before `at` (spaces between), if any after `content_start`.
    fn comma_before(&self, content_start: usize, at: usize) -> Option<usize> {
        let mut t = at;
        while t > content_start && matches!(self.b[t - 1], b' ' | b'\t' | b'\n' | b'\r') {
            t -= 1;
        }
        (t > content_start && self.b[t - 1] == b',').then_some(t - 1)
    }

    /// The first `, key:` (key quoted or an identifier) in `from..to`: an object member a string
    /// swallowed when its closing quote went missing.
    fn swallowed_member(&self, from: usize, to: usize) -> Option<usize> {
        let b = self.b;
        (from..to).filter(|&i| b[i] == b',').find(|&i| {
            let mut p = i + 1;
            while p < to && is_ws(b[p]) {
                p += 1;
            }
            // The key may be quoted with straight or typographic quotes (a document in smart
            // quotes holding one straight-quoted string that lost its end).
            let quote_len = |p: usize| -> usize {
                if p >= to {
                    0
                } else if matches!(b[p], b'"' | b'\'') {
                    1
                } else if [LEFT_DQ, RIGHT_DQ, LEFT_SQ, RIGHT_SQ]
                    .iter()
                    .any(|q| b[p..to].starts_with(q))
                {
                    3
                } else {
                    0
                }
            };
            let quoted = quote_len(p);
            p += quoted;
            if p >= to || !ident_start(b[p]) {
                return false;
            }
            while p < to && ident_continue(b[p]) {
                p += 1;
            }
            if quoted > 0 {
                match quote_len(p) {
                    0 => return false,
                    n => p += n,
                }
            }
            while p < to && matches!(b[p], b' ' | b'\t') {
                p += 1;
            }
            p < to && b[p] == b':'
        })
    }

    /// Where a string cut off at the end of input ends with brackets (and whitespace), the start
    /// of that tail: `{"a": "b}` may be the string `b}` cut off or `b` with its quote missing.
    fn closer_tail(&self, content_start: usize) -> Option<usize> {
        let b = self.b;
        let t = self.before_closers(content_start, b.len());
        b[t..].iter().any(|&c| c == b'}' || c == b']').then_some(t)
    }

    /// A string starting at `self.pos`. `stop_at` (lenient, set when a first reading overran the
    /// string's end) closes it at that offset, with the quotes before it kept as content.
    fn string(
        &mut self,
        (q, open_len): (Quote, usize),
        is_key: bool,
        stop_at: Option<usize>,
    ) -> Result<(), Stop> {
        let b = self.b;
        let open = self.pos;
        let (out_start, notes_start, omitted_start, truncated_start) = (
            self.out.len(),
            self.notes.len(),
            self.omitted,
            self.truncated.len(),
        );
        let retry = |p: &mut Self, stop: usize| {
            p.out.truncate(out_start);
            p.notes.truncate(notes_start);
            p.omitted = omitted_start;
            p.truncated.truncate(truncated_start);
            p.pos = open;
            p.string((q, open_len), is_key, Some(stop))
        };
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
        let content_start = self.pos;
        // Lenient reads what follows a plain quote to tell whether it ends the value string.
        let read_ahead = self.lenient
            && !is_key
            && stop_at.is_none()
            && matches!(q, Quote::Double | Quote::Single);
        let mut content_quote: Option<usize> = None;
        // A quote kept as content or a raw line break: signs the closing quote may be missing.
        let mut trouble = false;
        // Lenient, in an object: where a string that swallowed `, key: ...` really ended. In an
        // array inside an object, only where a `]` before that comma closes the array (`"new],
        // "reason": [...]`): the key is then the enclosing object's.
        let member_break = |p: &Self, to: usize| {
            let in_object = p.stack.last() == Some(&b'{');
            let in_array_of_object = p.stack.last() == Some(&b'[') && p.stack.contains(&b'{');
            if !read_ahead || !(in_object || in_array_of_object) {
                return None;
            }
            let comma = p.swallowed_member(content_start, to)?;
            let stop = p.before_closers(content_start, comma);
            (in_object || b[stop..comma].contains(&b']')).then_some(stop)
        };
        let end = stop_at.unwrap_or(b.len());
        loop {
            // Copy the run of ordinary bytes in one go.
            let run = self.pos;
            while self.pos < end && !matches!(b[self.pos], b'"' | b'\\' | b'\'' | 0xE2 | 0..=0x1f) {
                self.pos += 1;
            }
            self.out.extend_from_slice(&b[run..self.pos]);
            if stop_at.is_some_and(|s| self.pos >= s) {
                while self.out.len() > out_start + 1 && self.out.last() == Some(&b' ') {
                    self.out.pop();
                }
                self.out.push(b'"');
                self.note(
                    RepairKind::MissingQuote,
                    self.pos,
                    "closed a string whose closing quote was missing".into(),
                );
                if is_key {
                    self.value_end = self.out.len();
                } else {
                    self.after_value(true);
                }
                return Ok(());
            }
            if self.pos >= b.len() {
                // Safe: a cut-off string holding a bracket may have lost its closing quote and
                // swallowed the brackets (and whatever follows) that end its containers.
                // A raw line break likewise: the line may have ended where the quote is missing.
                if !self.lenient
                    && b[content_start..]
                        .iter()
                        .any(|&c| matches!(c, b'}' | b']' | b'\n' | b'\r'))
                {
                    return self.ambiguous(
                        "the string is cut off and holds brackets or a line break: its closing \
                         quote may be missing before them",
                    );
                }
                if let Some(stop) = member_break(self, b.len()) {
                    return retry(self, stop);
                }
                if let Some(tail) = stop_at
                    .is_none()
                    .then(|| self.closer_tail(content_start))
                    .flatten()
                {
                    return retry(self, tail);
                }
                if is_key && !self.lenient {
                    return self
                        .ambiguous("the input ends inside an object key: its value is missing");
                }
                self.out.push(b'"');
                self.truncated.push(if is_key {
                    "closed a cut-off key"
                } else {
                    "closed a cut-off string"
                });
                if is_key {
                    self.value_end = self.out.len();
                } else {
                    self.after_value(true);
                }
                return Ok(());
            }
            let c = b[self.pos];
            if let Some(len) = self.closes(q, self.pos) {
                let content = if stop_at.is_some() {
                    true
                } else if read_ahead {
                    match self.after_quote(self.pos + len) {
                        AfterQuote::Ends => false,
                        AfterQuote::Colon => {
                            if let (Some(cq), Some(b'{')) = (content_quote, self.stack.last()) {
                                // `{"a": "b, "c": 1}`: the quote at `cq` opened the next key, so
                                // the string ended at the comma before it (or at `cq`).
                                let stop = b[content_start..cq]
                                    .iter()
                                    .rposition(|&x| x == b',')
                                    .map_or(cq, |i| {
                                        self.before_closers(content_start, content_start + i)
                                    });
                                return retry(self, stop);
                            }
                            false
                        }
                        AfterQuote::Content => true,
                    }
                } else {
                    false
                };
                if !content && trouble {
                    if let Some(stop) = member_break(self, self.pos) {
                        return retry(self, stop);
                    }
                }
                if !content {
                    self.out.push(b'"');
                    self.pos += len;
                    if is_key {
                        self.value_end = self.out.len();
                    } else {
                        self.after_value(true);
                    }
                    return Ok(());
                }
                if read_ahead {
                    // `"a, "b"`: a quote right after a comma opens the next element or key; the
                    // string before it lost its closing quote.
                    if let Some(comma) = self.comma_before(content_start, self.pos) {
                        return retry(self, self.before_closers(content_start, comma));
                    }
                }
                self.note(
                    RepairKind::UnescapedQuote,
                    self.pos,
                    "kept a quote inside a string as content".into(),
                );
                trouble = true;
                content_quote = Some(self.pos);
                match q {
                    Quote::Double => self.out.extend_from_slice(b"\\\""),
                    _ => self.out.extend_from_slice(&b[self.pos..self.pos + len]),
                }
                self.pos += len;
                continue;
            }
            match c {
                b'\\' => self.escape(q)?,
                b'"' => {
                    // A double quote inside a single- or smart-quoted string is content.
                    self.out.extend_from_slice(b"\\\"");
                    self.pos += 1;
                }
                b'\n' | b'\r' if read_ahead => {
                    // A line break where the next line starts with a bracket or a quote, or right
                    // after a comma: the string's closing quote is missing at the line's end.
                    if let Some(comma) = self.comma_before(content_start, self.pos) {
                        return retry(self, self.before_closers(content_start, comma));
                    }
                    let mut n = self.pos;
                    while n < b.len() && is_ws(b[n]) {
                        n += 1;
                    }
                    if n < b.len() && (matches!(b[n], b'}' | b']') || self.quote_at(n).is_some()) {
                        return retry(self, self.before_closers(content_start, self.pos));
                    }
                    trouble = true;
                    self.out
                        .extend_from_slice(if c == b'\n' { b"\\n" } else { b"\\r" });
                    self.note(
                        RepairKind::UnescapedNewline,
                        self.pos,
                        "escaped a raw line break in a string".into(),
                    );
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

    fn finish(mut self, text: &str) -> Result<Repaired, Stop> {
        if self.multi {
            self.trim_out();
            self.out.push(b']');
        }
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

    fn lenient(t: &str) -> (Value, Vec<&'static str>) {
        let (v, r) = repair_and_parse_with(t, &Limits::default(), RepairMode::Lenient)
            .unwrap_or_else(|f| panic!("{t:?}: {f:?}"));
        (v, r.repairs.iter().map(|r| r.kind.as_str()).collect())
    }

    #[test]
    fn safe_refuses_where_two_readings_are_plausible() {
        // The closing quote is missing, or the string really ends in `}` and was cut off.
        assert!(fails(r#"{"a":"b}"#).contains("holds brackets"));
        assert!(fails(r#"["a", "b]"#).contains("holds brackets"));
        // A top-level string with brackets in it, not an array after prose.
        assert!(fails(r#""the list [1, 2"] more""#).contains("not repaired"));
        // The comment may hide the rest of the object.
        assert!(fails(r#"{"a": 1, # note "b": 2}"#).contains("comment runs to the end"));
        // Two fenced blocks, or a second value in the prose.
        assert!(
            fails("```json\n{\"a\": 1}\n```\nor\n```json\n{\"b\": 2}\n```")
                .contains("more JSON may follow")
        );
        assert!(fails(r#"Here: {"a": 1} and also {"b": 2}"#).contains("more JSON may follow"));
        // Cut off after prose: the bracket may be the prose's.
        assert!(fails(r#"Result: {"a": [1, "x"]"#).contains("after the prose is cut off"));
        // A quote in the wrong place rather than a missing comma.
        assert!(fails(r#"[1"a"]"#).contains("not repaired"));
        assert!(fails(r#"{"a": "b, "c": 1}"#).contains("not repaired"));
    }

    #[test]
    fn safe_removes_a_trailing_comma_after_the_value() {
        assert_eq!(
            fix("{\"a\": 1},\n"),
            ("{\"a\": 1}".into(), vec!["trailing_comma"])
        );
    }

    #[test]
    fn lenient_ends_a_string_that_lost_its_quote_where_json_repair_and_jsonrepair_do() {
        use serde_json::json;
        for (text, want) in [
            // A trailing comma before the swallowed brackets is not the string's.
            (
                r#"{id: {created_at: {id: "reason,}}, created_at: -832}"#,
                json!({"id": {"created_at": {"id": "reason"}}, "created_at": -832}),
            ),
            (
                r#"{"a": [{"m": "x y,},]}"#,
                json!({"a": [{"m": "x y"}]}),
            ),
            // Brackets opened inside the string are its own.
            (
                r#"{"r": {"s": "{not json} [just text]}, "meta": 1}"#,
                json!({"r": {"s": "{not json} [just text]"}, "meta": 1}),
            ),
            // A member key in typographic quotes after a straight-quoted string.
            (
                "{\u{201C}a\u{201D}: {\u{201C}s\u{201D}: \"Path new, \u{201C}b\u{201D}: 1}, \u{201C}c\u{201D}: 2}",
                json!({"a": {"s": "Path new", "b": 1}, "c": 2}),
            ),
            // In an array inside an object: the `]` before the next key closes the array.
            (
                "{\u{201C}s\u{201D}: [true, \"Path new], \u{201C}r\u{201D}: [1], \u{201C}i\u{201D}: 2}",
                json!({"s": [true, "Path new"], "r": [1], "i": 2}),
            ),
        ] {
            let (v, kinds) = lenient(text);
            assert_eq!(v, want, "{text}");
            assert!(kinds.contains(&"missing_quote"), "{text}: {kinds:?}");
            // Safe mode never guesses where the quote went.
            assert!(
                repair_with(text, &Limits::default(), RepairMode::Safe).is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn lenient_guesses_and_reports_each_guess() {
        use serde_json::json;
        let cases: &[(&str, Value, &[&str])] = &[
            (
                "{message: hello world}",
                json!({"message": "hello world"}),
                &["unquoted_key", "unquoted_value"],
            ),
            (r#"{"a":"b}"#, json!({"a": "b"}), &["missing_quote"]),
            (r#"["a", "b]"#, json!(["a", "b"]), &["missing_quote"]),
            (
                r#"{"a": "b, "c": 1}"#,
                json!({"a": "b", "c": 1}),
                &["missing_quote"],
            ),
            (
                r#"{"a": "he said "hi" ok"}"#,
                json!({"a": "he said \"hi\" ok"}),
                &["unescaped_quote", "unescaped_quote"],
            ),
            ("[1, 2, 3", json!([1, 2, 3]), &["truncated"]),
            ("[1, 2.", json!([1, 2]), &["truncated"]),
            (
                r#"{"a": 1, "b": "#,
                json!({"a": 1, "b": null}),
                &["missing_value", "truncated"],
            ),
            (
                r#"{"a": 1, "b""#,
                json!({"a": 1, "b": null}),
                &["missing_value", "truncated"],
            ),
            (r#"{"a": }"#, json!({"a": null}), &["missing_value"]),
            (r#"{"a" 1}"#, json!({"a": 1}), &["missing_colon"]),
            ("[1,,2]", json!([1, 2]), &["extra_comma"]),
            ("[1 2]", json!([1, 2]), &["missing_comma"]),
            (
                r#"{"a": [1, 2}"#,
                json!({"a": [1, 2]}),
                &["mismatched_bracket", "truncated"],
            ),
            (r#"{"a": 1}}"#, json!({"a": 1}), &["mismatched_bracket"]),
            (
                r#"{"a": 1} {"b": 2}"#,
                json!([{"a": 1}, {"b": 2}]),
                &["multiple_values"],
            ),
            ("\"cut off", json!("cut off"), &["truncated"]),
            (
                r#"{"a": 1, # note "b": 2}"#,
                json!({"a": 1}),
                &["comment", "truncated"],
            ),
        ];
        for (t, want, kinds) in cases {
            let (v, k) = lenient(t);
            assert_eq!(&v, want, "{t}");
            assert_eq!(&k, kinds, "{t}");
        }
        // Still refused: no reading at all.
        for t in ["no json at all", "[01]", r#"{"a": @x}"#, "{: 1}"] {
            assert!(
                repair_with(t, &Limits::default(), RepairMode::Lenient).is_err(),
                "{t}"
            );
        }
    }

    #[test]
    fn modes_parse_and_name_the_parameter() {
        assert_eq!(RepairMode::parse("lenient"), Some(RepairMode::Lenient));
        assert_eq!(RepairMode::default(), RepairMode::Safe);
        let e = RepairMode::from_option("repair_json", "fast")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(r#"mode="fast""#) && e.contains(r#""safe" or "lenient""#),
            "{e}"
        );
    }

    #[test]
    fn valid_json_is_untouched_by_the_pass_too() {
        for t in [
            r#"{"a": [1, 2.5, "x\"y", {"b": null}], "c": true}"#,
            " [ ] ",
            "{\n  \"k\" : \"“smart” inside, it's fine\"\n}\n",
        ] {
            let r = pass(t, &Limits::default(), RepairMode::Safe).unwrap();
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
            let r = pass(&t, &Limits::default(), RepairMode::Safe).unwrap();
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
