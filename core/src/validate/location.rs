//! Byte offsets into a model's output turned into what a person or a model can act on: 1-based line
//! and column (in characters), and RFC 6901 JSON pointers.

/// Line and column (both 1-based; the column counts characters, not bytes) of byte `offset`.
pub fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    // Count characters, not bytes: a column is where an editor puts the cursor.
    let column = before[line_start..]
        .iter()
        .filter(|&&b| (b & 0xC0) != 0x80)
        .count()
        + 1;
    (line as u32, column as u32)
}

/// Resolves many offsets in one forward sweep (offsets must be sorted ascending), so reporting a
/// thousand repairs stays linear in the input.
pub struct LineCursor<'a> {
    bytes: &'a [u8],
    at: usize,
    line: u32,
    column: u32,
}

impl<'a> LineCursor<'a> {
    pub fn new(text: &'a str) -> Self {
        Self {
            bytes: text.as_bytes(),
            at: 0,
            line: 1,
            column: 1,
        }
    }

    pub fn seek(&mut self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.bytes.len());
        debug_assert!(offset >= self.at, "LineCursor offsets must ascend");
        for &b in &self.bytes[self.at.min(offset)..offset] {
            if b == b'\n' {
                self.line += 1;
                self.column = 1;
            } else if (b & 0xC0) != 0x80 {
                self.column += 1;
            }
        }
        self.at = self.at.max(offset);
        (self.line, self.column)
    }
}

/// Appends `/segment` to a JSON pointer, escaping `~` and `/` as RFC 6901 says.
pub fn push_pointer_segment(pointer: &mut String, segment: &str) {
    pointer.push('/');
    for c in segment.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_character_columns() {
        let t = "{\n  \"é\": 1,\n  x";
        assert_eq!(line_column(t, 0), (1, 1));
        assert_eq!(line_column(t, 2), (2, 1));
        let x = t.find('x').unwrap();
        assert_eq!(line_column(t, x), (3, 3));
        let one = t.find('1').unwrap();
        assert_eq!(line_column(t, one), (2, 8)); // é is two bytes, one column
        let mut c = LineCursor::new(t);
        assert_eq!(c.seek(one), (2, 8));
        assert_eq!(c.seek(x), (3, 3));
    }

    #[test]
    fn pointer_segments_are_escaped() {
        let mut p = String::new();
        push_pointer_segment(&mut p, "a/b");
        push_pointer_segment(&mut p, "m~n");
        push_pointer_segment(&mut p, "0");
        assert_eq!(p, "/a~1b/m~0n/0");
    }
}
