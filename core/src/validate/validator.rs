//! `JsonValidator`: the one decision "is this model output acceptable, and as what value?" — strict
//! parse, repair on failure (if allowed), schema check — with every outcome counted. Hosts call it
//! once per output; the re-ask loop around it lives in the host, which owns the model call.

use super::failure::{Failure, FailureKind};
use super::limits::Limits;
use super::parse::{parse, too_large};
use super::repair::{repair_after_parse_error, Repair};
use super::schema::Schema;
use super::stats::{self, Verdict};
use serde_json::Value;

#[derive(Debug)]
pub struct JsonValidator {
    schema: Option<Schema>,
    repair: bool,
    limits: Limits,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    pub value: Value,
    /// Empty when the output was valid as given.
    pub repairs: Vec<Repair>,
    pub omitted_repairs: u64,
}

impl JsonValidator {
    pub fn new(schema: Option<Schema>, repair: bool, limits: Limits) -> Self {
        Self {
            schema,
            repair,
            limits,
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn repairs(&self) -> bool {
        self.repair
    }

    /// Validates one output and counts the verdict (valid, repaired or invalid).
    pub fn validate(&self, text: &str) -> Result<Validated, Failure> {
        let r = self.check(text);
        match &r {
            Ok(v) if v.repairs.is_empty() && v.omitted_repairs == 0 => {
                stats::record(Verdict::Valid)
            }
            Ok(v) => {
                stats::record(Verdict::Repaired);
                for r in &v.repairs {
                    stats::record_repair(r.kind);
                }
            }
            Err(_) => stats::record(Verdict::Invalid),
        }
        r
    }

    /// Checks a value that is already parsed (for hosts whose own parser ran first).
    pub fn check_value(&self, value: &Value) -> Result<(), Failure> {
        match &self.schema {
            Some(s) if !s.is_valid(value) => Err(Failure {
                kind: FailureKind::Schema,
                violations: s.violations(value),
                repairs: Vec::new(),
                line: None,
                column: None,
                offset: None,
            }),
            _ => Ok(()),
        }
    }

    fn check(&self, text: &str) -> Result<Validated, Failure> {
        if text.len() > self.limits.max_input_bytes {
            return Err(too_large(text.len(), &self.limits));
        }
        let (value, repairs, omitted_repairs) = match parse(text, &self.limits) {
            Ok(v) => (v, Vec::new(), 0),
            Err(f) if f.kind == FailureKind::Parse && self.repair => {
                let (v, r) = repair_after_parse_error(text, &self.limits, f)?;
                (v, r.repairs, r.omitted)
            }
            Err(f) => return Err(f),
        };
        if let Err(mut f) = self.check_value(&value) {
            f.repairs = repairs;
            return Err(f);
        }
        Ok(Validated {
            value,
            repairs,
            omitted_repairs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_repair_schema_in_order() {
        let schema = Schema::new(&json!({
            "type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}
        }))
        .unwrap();
        let v = JsonValidator::new(Some(schema), true, Limits::default());
        let ok = v.validate(r#"{"a": 1}"#).unwrap();
        assert_eq!(ok.value, json!({"a": 1}));
        assert!(ok.repairs.is_empty());
        let fixed = v.validate("```json\n{'a': 2,}\n```").unwrap();
        assert_eq!(fixed.value, json!({"a": 2}));
        assert!(fixed.repairs.len() >= 3);
        let bad = v.validate("{'a': 'x'}").unwrap_err();
        assert_eq!(bad.kind, FailureKind::Schema);
        assert_eq!(bad.violations[0].path, "/a");
        assert_eq!(bad.repairs.len(), 2);

        let strict = JsonValidator::new(None, false, Limits::default());
        assert_eq!(
            strict.validate("{'a': 1}").unwrap_err().kind,
            FailureKind::Parse
        );
    }
}
