//! A prompt template's name when the caller gave none: a fingerprint of the prompt's shape. The
//! fixed text of the instructions (system/developer messages, or the opening of the first message
//! when there is none) is kept; what varies between calls of one template is masked: numbers,
//! quoted spans, ids and long tokens, and the content of the other messages. So a thousand calls
//! from three templates are three profile rows, each named by a short readable prefix of its text
//! and six hex digits of the hash (`You are a triage assistant… #3fa2c1`).

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

/// Instruction text past this many bytes is not read: a template's identity is in its opening.
const SCAN_BYTES: usize = 4096;
/// Words of the first message kept when no system message gives the template.
const FIRST_MESSAGE_WORDS: usize = 8;
/// Characters of the readable prefix in a fingerprint's name.
const NAME_CHARS: usize = 32;
/// A word this long (or mixing letters and digits) is an id, a key or a hash: masked.
const LONG_TOKEN: usize = 20;
/// Names remembered per process; past it the name is computed again each time (same result).
const MAX_NAMES: usize = 4096;

/// One message of a prompt: its role and its text (the text parts joined, for multi-part content).
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub role: &'a str,
    pub text: &'a str,
}

struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn byte(&mut self, b: u8) {
        self.0 ^= b as u64;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }
    fn bytes(&mut self, s: &[u8]) {
        for &b in s {
            self.byte(b);
        }
    }
}

fn is_instruction(role: &str) -> bool {
    matches!(role, "system" | "developer")
}

/// Walks `text` as masked words: calls `out` with each normalised word (`#` for a number, `"…"`
/// for a quoted span, `*` for an id or long token), at most `max_words`. Returns the words seen.
fn masked_words(text: &str, max_words: usize, mut out: impl FnMut(&str)) -> usize {
    let text = &text[..floor_char_boundary(text, SCAN_BYTES)];
    let b = text.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < b.len() && n < max_words {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if matches!(c, b'"' | b'`') || (c == b'\'' && (i == 0 || !b[i - 1].is_ascii_alphanumeric()))
        {
            // A quoted span: everything to the closing quote (or the end) is one masked word.
            let end = b[i + 1..].iter().position(|&x| x == c).map(|p| i + 2 + p);
            match end {
                Some(e) => {
                    out("\"…\"");
                    i = e;
                }
                None => {
                    out("\"…\"");
                    i = b.len();
                }
            }
            n += 1;
            continue;
        }
        // A word: a run of non-space, non-quote bytes.
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'"' | b'`') {
            i += 1;
        }
        let w = &text[start..i];
        let digits = w.bytes().filter(u8::is_ascii_digit).count();
        let alpha = w.bytes().filter(u8::is_ascii_alphabetic).count();
        if digits > 0 && alpha == 0 {
            out("#");
        } else if w.len() >= LONG_TOKEN || (digits > 0 && alpha > 0 && w.len() >= 6) {
            out("*");
        } else if digits > 0 {
            // A short word with a number in it (`v2`, `3rd`): the digits are the variable part.
            let mut s = String::with_capacity(w.len());
            let mut prev_digit = false;
            for ch in w.chars() {
                if ch.is_ascii_digit() {
                    if !prev_digit {
                        s.push('#');
                    }
                    prev_digit = true;
                } else {
                    s.push(ch);
                    prev_digit = false;
                }
            }
            out(&s);
        } else {
            out(w);
        }
        n += 1;
    }
    n
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The 64-bit fingerprint of a prompt's shape, or `None` for an empty prompt.
pub fn fingerprint(messages: &[Message<'_>]) -> Option<u64> {
    let mut h = Fnv::new();
    let mut any = false;
    let has_instructions = messages.iter().any(|m| is_instruction(m.role));
    for (k, m) in messages.iter().enumerate() {
        if is_instruction(m.role) {
            h.bytes(m.role.as_bytes());
            h.byte(0);
            masked_words(m.text, usize::MAX, |w| {
                h.bytes(w.as_bytes());
                h.byte(b' ');
            });
            h.byte(1);
            any = true;
        } else if k == 0 && !has_instructions {
            h.bytes(m.role.as_bytes());
            h.byte(0);
            masked_words(m.text, FIRST_MESSAGE_WORDS, |w| {
                h.bytes(w.as_bytes());
                h.byte(b' ');
            });
            h.byte(1);
            any = true;
        }
        // Other messages (the user's turns, the history) are the variable part: not hashed, so
        // one template with conversations of any length stays one row.
    }
    any.then_some(h.0)
}

/// The readable prefix of the text a fingerprint was taken from.
fn prefix(messages: &[Message<'_>]) -> String {
    let source = messages
        .iter()
        .find(|m| is_instruction(m.role))
        .or(messages.first())
        .map(|m| m.text)
        .unwrap_or("");
    let mut name = String::new();
    masked_words(source, FIRST_MESSAGE_WORDS, |w| {
        if name.chars().count() + w.chars().count() < NAME_CHARS {
            if !name.is_empty() {
                name.push(' ');
            }
            name.push_str(w);
        }
    });
    name
}

fn names() -> &'static RwLock<HashMap<u64, std::sync::Arc<str>>> {
    static N: OnceLock<RwLock<HashMap<u64, std::sync::Arc<str>>>> = OnceLock::new();
    N.get_or_init(Default::default)
}

/// The profile key of a prompt with no explicit template: `"<prefix>… #<6 hex>"`. Known
/// fingerprints are looked up under a read lock (taken once per call, off any hot loop: one per
/// LLM call); a new one takes the write lock once.
pub fn template_name(messages: &[Message<'_>]) -> Option<std::sync::Arc<str>> {
    let fp = fingerprint(messages)?;
    if let Some(n) = names().read().unwrap_or_else(|p| p.into_inner()).get(&fp) {
        return Some(n.clone());
    }
    let p = prefix(messages);
    let name: std::sync::Arc<str> = if p.is_empty() {
        format!("#{:06x}", fp >> 40).into()
    } else {
        format!("{p}… #{:06x}", fp >> 40).into()
    };
    let mut w = names().write().unwrap_or_else(|p| p.into_inner());
    if w.len() < MAX_NAMES {
        w.insert(fp, name.clone());
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sys_user(system: &str, user: &str) -> Option<String> {
        template_name(&[
            Message {
                role: "system",
                text: system,
            },
            Message {
                role: "user",
                text: user,
            },
        ])
        .map(|s| s.to_string())
    }

    #[test]
    fn variable_parts_do_not_change_the_template() {
        let a = sys_user(
            "You are a triage bot. Ticket 4411 from \"ACME Corp\" id 9f8e7d6c5b4a.",
            "my printer is on fire",
        );
        let b = sys_user(
            "You are a triage bot. Ticket 17 from \"Globex\" id 0a1b2c3d4e5f.",
            "where is my invoice? order 991",
        );
        assert_eq!(a, b);
        let c = sys_user(
            "You are a summariser. Keep it short.",
            "my printer is on fire",
        );
        assert_ne!(a, c);
        let name = a.unwrap();
        assert!(name.starts_with("You are a triage bot. Ticket #"), "{name}");
        assert!(name.contains("… #"), "{name}");
    }

    #[test]
    fn without_a_system_message_the_first_words_name_it() {
        let one = |t: &str| {
            template_name(&[Message {
                role: "user",
                text: t,
            }])
            .map(|s| s.to_string())
        };
        assert_eq!(
            one("Please translate the following text into French now: the cat sat on 3 mats"),
            one("Please translate the following text into French now: a dog ate 12 apples")
        );
        assert_ne!(
            one("Translate to French: the cat"),
            one("Summarise this text: the cat")
        );
        assert_eq!(template_name(&[]), None);
    }

    #[test]
    fn history_length_is_not_part_of_the_shape() {
        let sys = Message {
            role: "system",
            text: "Answer in JSON.",
        };
        let u = Message {
            role: "user",
            text: "hi",
        };
        let a = Message {
            role: "assistant",
            text: "{}",
        };
        assert_eq!(fingerprint(&[sys, u]), fingerprint(&[sys, u, a, u, a, u]));
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary() {
        let t = "é".repeat(5000);
        assert!(fingerprint(&[Message {
            role: "system",
            text: &t
        }])
        .is_some());
    }
}
