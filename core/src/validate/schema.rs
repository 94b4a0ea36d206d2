//! JSON Schema validation (draft 2020-12 unless the schema's `$schema` says otherwise) with the
//! `jsonschema` crate, compiled once; every violation is reported with its instance path.

use super::failure::Violation;
use super::tape::Tape;
use super::tape_json::{TapeJson, TapeNode};
use crate::error::{Error, Result};
use serde_json::Value;

/// Longest message kept per violation: messages quote the offending value, which may be huge.
const MAX_MESSAGE_CHARS: usize = 300;

pub struct Schema {
    validator: jsonschema::Validator,
    /// The same schema compiled for documents checked in place (`Tape`), on the steady path.
    tape: jsonschema::Validator<TapeJson>,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Schema")
    }
}

fn shorten(mut s: String) -> String {
    if let Some((i, _)) = s.char_indices().nth(MAX_MESSAGE_CHARS) {
        s.truncate(i);
        s.push('…');
    }
    s
}

/// Draft 2020-12 unless `$schema` names another; an invalid schema is a configuration error naming
/// what is wrong.
fn compile<F: jsonschema::json::Json>(schema: &Value) -> Result<jsonschema::Validator<F>> {
    jsonschema::options_for::<F>()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(schema)
        .or_else(|e| {
            // A schema naming another draft in `$schema` is honoured.
            if schema.get("$schema").is_some() {
                jsonschema::options_for::<F>().build(schema)
            } else {
                Err(e)
            }
        })
        .map_err(|e| {
            Error::out_of_range(
                "JsonSchema",
                "schema",
                shorten(schema.to_string()),
                format!("a valid JSON Schema; here {}", shorten(e.to_string())),
            )
        })
}

impl Schema {
    /// Compiles `schema`; an invalid schema is a configuration error naming what is wrong.
    pub fn new(schema: &Value) -> Result<Self> {
        let validator = compile::<jsonschema::json::SerdeJson>(schema)?;
        let tape = compile::<TapeJson>(schema)?;
        Ok(Self { validator, tape })
    }

    /// Compiles a schema given as JSON text.
    pub fn from_json(text: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            Error::out_of_range(
                "JsonSchema",
                "schema",
                shorten(text.to_string()),
                format!("JSON text ({e})"),
            )
        })?;
        Self::new(&v)
    }

    #[inline]
    pub fn is_valid(&self, v: &Value) -> bool {
        self.validator.is_valid(v)
    }

    /// Whether a document checked in place is valid (the steady path: no value built).
    #[inline]
    pub fn is_valid_tape(&self, tape: &Tape<'_>) -> bool {
        self.tape.is_valid(TapeNode::root(tape))
    }

    /// Every violation (empty when valid).
    pub fn violations(&self, v: &Value) -> Vec<Violation> {
        self.validator
            .iter_errors(v)
            .map(|e| Violation {
                path: e.instance_path().as_str().to_string(),
                message: shorten(e.to_string()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_every_violation_with_its_path() {
        let s = Schema::new(&json!({
            "type": "object",
            "required": ["name", "age"],
            "additionalProperties": false,
            "properties": {
                "name": {"type": "string", "minLength": 2},
                "age": {"type": "integer", "minimum": 0},
                "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}}
            },
            "$defs": {"tag": {"enum": ["a", "b"]}}
        }))
        .unwrap();
        assert!(s.is_valid(&json!({"name": "Al", "age": 3, "tags": ["a"]})));
        let v = s.violations(&json!({"name": "A", "age": -1, "tags": ["a", "z"], "x": 1}));
        let mut paths: Vec<_> = v.iter().map(|v| v.path.as_str()).collect();
        paths.sort();
        assert_eq!(paths, ["", "/age", "/name", "/tags/1"], "{v:?}");
        assert!(s
            .violations(&json!({}))
            .iter()
            .any(|v| v.message.contains("\"name\"")));
    }

    #[test]
    fn a_bad_schema_is_a_config_error() {
        let e = Schema::new(&json!({"type": "strin"}))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("JsonSchema: schema="), "{e}");
        assert!(Schema::from_json("{").is_err());
    }
}
