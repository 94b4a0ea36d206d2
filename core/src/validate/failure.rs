//! Why an output was refused: the kind of failure, every violation found (each with the JSON pointer
//! of the offending value) and every repair that was applied or tried before refusing.

use super::repair::Repair;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Not JSON, and repair was off or could not fix it without guessing.
    Parse,
    /// Valid JSON that the schema refuses.
    Schema,
    /// Over `max_input_bytes` or deeper than `max_depth`.
    Limit,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Parse => "parse",
            FailureKind::Schema => "schema",
            FailureKind::Limit => "limit",
        }
    }
}

/// One problem: where (a JSON pointer, `""` for the whole document) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    /// Every violation, in document order for schema errors; exactly one for parse and limit errors.
    pub violations: Vec<Violation>,
    /// Repairs applied before the failure (a repaired document can still fail its schema).
    pub repairs: Vec<Repair>,
    /// Where a parse error is (1-based line and character column); `None` for schema failures.
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// Byte offset of a parse error in the input.
    pub offset: Option<usize>,
}

impl Failure {
    pub fn limit(message: String) -> Self {
        Self {
            kind: FailureKind::Limit,
            violations: vec![Violation {
                path: String::new(),
                message,
            }],
            repairs: Vec::new(),
            line: None,
            column: None,
            offset: None,
        }
    }

    /// A short one-line summary; the full list is in `violations`.
    pub fn summary(&self) -> String {
        let first = self.violations.first();
        let mut s = match (self.kind, first) {
            (FailureKind::Schema, Some(v)) => format!(
                "output does not match the schema: {} violation(s); first at '{}': {}",
                self.violations.len(),
                v.path,
                v.message
            ),
            (FailureKind::Parse, Some(v)) => format!("output is not valid JSON: {}", v.message),
            (_, Some(v)) => format!("output refused: {}", v.message),
            (_, None) => "output refused".to_string(),
        };
        if !self.repairs.is_empty() {
            s.push_str(&format!(" ({} repair(s) applied)", self.repairs.len()));
        }
        s
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

impl From<Failure> for crate::Error {
    fn from(f: Failure) -> Self {
        crate::Error::Validation(Box::new(f))
    }
}
