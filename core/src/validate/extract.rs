//! Finding where the JSON starts in a model's answer: the text itself, the inside of a markdown code
//! fence, or the first `{` / `[` after some prose. Where it ends is left to the repair pass, which
//! knows when the value is complete.

/// Where the JSON value starts, and how it was found when that was not the first character.
pub struct Start {
    pub offset: usize,
    pub how: Option<&'static str>,
    /// Found as the first `{` / `[` after prose (not at the start, not in a fence): where the value
    /// is cut off, its brackets may belong to the prose.
    pub prose: bool,
    /// Where the value must end: the closing fence of a fenced value, else the end of the text.
    pub end: usize,
}

pub fn locate(text: &str) -> Option<Start> {
    let b = text.as_bytes();
    let first = b.iter().position(|c| !c.is_ascii_whitespace())?;
    if matches!(b[first], b'{' | b'[') {
        // Leading whitespace is kept: it is part of valid JSON, which passes through unchanged.
        return Some(Start {
            offset: 0,
            how: None,
            prose: false,
            end: text.len(),
        });
    }
    if let Some(fence) = text.find("```") {
        // The fence line may name a language (```json); the content starts on the next line.
        let line_end = text[fence..]
            .find('\n')
            .map_or(text.len(), |i| fence + i + 1);
        let content = b[line_end..]
            .iter()
            .position(|c| !c.is_ascii_whitespace())
            .map(|i| line_end + i);
        if let Some(at) = content {
            if !b[at..].starts_with(b"```") {
                return Some(Start {
                    offset: at,
                    how: Some("took the JSON from a markdown code fence"),
                    prose: false,
                    end: fence_close(b, at),
                });
            }
        }
    }
    let at = b.iter().position(|&c| c == b'{' || c == b'[')?;
    Some(Start {
        offset: at,
        how: Some("skipped the prose before the JSON"),
        prose: true,
        end: text.len(),
    })
}

/// Where the fence around a value starting at `at` closes (the closing ``` line), else the end.
pub fn fence_close(text: &[u8], at: usize) -> usize {
    text[at..]
        .windows(3)
        .position(|w| w == b"```")
        .map_or(text.len(), |i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_start() {
        assert_eq!(locate("  {\"a\":1}").unwrap().offset, 0);
        assert!(locate("  {\"a\":1}").unwrap().how.is_none());
        let t = "Sure!\n```json\n{\"a\": 1}\n```\nbye";
        let s = locate(t).unwrap();
        assert_eq!(&t[s.offset..s.offset + 1], "{");
        assert!(s.how.unwrap().contains("fence"));
        let t = "The answer is [1, 2] as requested";
        assert_eq!(locate(t).unwrap().offset, 14);
        assert!(locate("no json here").is_none());
        assert!(locate("").is_none());
    }
}
