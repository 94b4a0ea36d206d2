//! The bounds on the work one validation may do: input size and nesting depth. Checked before any
//! parsing, so a hostile or runaway model output costs at most linear time and bounded memory.

use crate::error::{check, Result};

/// Largest accepted `max_depth`: every stage that walks a parsed value (drop, schema check, host
/// conversion) recurses per level, so depth is capped well inside a 2 MiB thread stack.
pub const MAX_DEPTH_CEILING: u64 = 1000;
/// Largest accepted `max_input_bytes` (1 GiB).
pub const MAX_INPUT_CEILING: u64 = 1 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Inputs longer than this (in UTF-8 bytes) are refused before parsing.
    pub max_input_bytes: usize,
    /// Arrays and objects nested deeper than this are refused (`[[1]]` has depth 2).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_input_bytes: 10 * 1024 * 1024,
            max_depth: 128,
        }
    }
}

impl Limits {
    /// Checks host-supplied values (possibly negative or huge) before narrowing them.
    pub fn new(component: &'static str, max_input_bytes: i128, max_depth: i128) -> Result<Self> {
        Ok(Self {
            max_input_bytes: check::int(
                component,
                "max_input_bytes",
                max_input_bytes,
                1,
                MAX_INPUT_CEILING,
            )? as usize,
            max_depth: check::int(component, "max_depth", max_depth, 1, MAX_DEPTH_CEILING)?
                as usize,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_limits_name_the_parameter() {
        let e = Limits::new("JsonValidator", 0, 10).unwrap_err().to_string();
        assert!(
            e.contains("max_input_bytes=0") && e.contains("[1, 1073741824]"),
            "{e}"
        );
        let e = Limits::new("JsonValidator", 10, 5000)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("max_depth=5000") && e.contains("[1, 1000]"),
            "{e}"
        );
        assert_eq!(Limits::new("X", 100, 3).unwrap().max_depth, 3);
    }
}
