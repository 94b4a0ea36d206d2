//! `JsonValidator`: the one decision "is this model output acceptable, and as what value?" — strict
//! parse, repair on failure (if allowed), schema check — with every outcome counted. Hosts call it
//! once per output; the re-ask loop around it lives in the host, which owns the model call.

use super::failure::{Failure, FailureKind};
use super::limits::Limits;
use super::parse::{parse, too_large};
use super::repair::{repair_after_parse_error_with, Repair, RepairKind, RepairMode};
use super::schema::Schema;
use super::stats::{Outcomes, Verdict};
use super::tape::Tape;
use serde_json::Value;

#[derive(Debug)]
pub struct JsonValidator {
    schema: Option<Schema>,
    repair: bool,
    /// How a text that is not JSON is repaired (when `repair` is on): `Safe` refuses where the
    /// text has two readings, `Lenient` guesses there and reports each guess.
    mode: RepairMode,
    limits: Limits,
    outcomes: Outcomes,
}

/// The metric label of a validator made without a name (`ferrule.parse_json`, `parseJson`).
pub const DEFAULT_NAME: &str = "parse_json";

#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    pub value: Value,
    /// Empty when the output was valid as given.
    pub repairs: Vec<Repair>,
    pub omitted_repairs: u64,
}

impl JsonValidator {
    pub fn new(schema: Option<Schema>, repair: bool, limits: Limits) -> Self {
        Self::named(DEFAULT_NAME, schema, repair, limits)
    }

    /// A validator whose outcomes are counted under `name` in `ferrule_validations_total`.
    pub fn named(name: &str, schema: Option<Schema>, repair: bool, limits: Limits) -> Self {
        Self {
            schema,
            repair,
            mode: RepairMode::Safe,
            limits,
            outcomes: Outcomes::new(name),
        }
    }

    /// This validator repairing in `mode` (safe unless set).
    pub fn with_mode(mut self, mode: RepairMode) -> Self {
        self.mode = mode;
        self
    }

    pub fn mode(&self) -> RepairMode {
        self.mode
    }

    pub fn name(&self) -> &str {
        self.outcomes.name()
    }

    /// Counts an outcome the host decided (a pydantic model's own validation, a re-ask).
    pub fn record(&self, verdict: Verdict, repairs: &[RepairKind]) {
        self.outcomes.record(verdict);
        for &k in repairs {
            self.outcomes.record_repair(k);
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
                self.outcomes.record(Verdict::Valid)
            }
            Ok(v) => {
                self.outcomes.record(Verdict::Repaired);
                for r in &v.repairs {
                    self.outcomes.record_repair(r.kind);
                }
            }
            Err(_) => self.outcomes.record(Verdict::Invalid),
        }
        r
    }

    /// The steady path for hosts that build the value themselves from `text` (V8's `JSON.parse`):
    /// true when `text` is valid as given (strict JSON within the limits, matching the schema),
    /// decided in place without building a value, and counted as valid. False counts nothing: call
    /// `validate` for the repaired value or the refusal with every violation (it reads the text
    /// again; only that rare path pays twice).
    pub fn accept_as_given(&self, text: &str) -> bool {
        self.accept_tape(text).is_some()
    }

    /// As `accept_as_given`, handing back the checked document for hosts that build their value
    /// from it (one parse: the tape locates every string and holds every number).
    pub fn accept_tape<'t>(&self, text: &'t str) -> Option<Tape<'t>> {
        let tape = Tape::parse(text, &self.limits).ok()?;
        if let Some(s) = &self.schema {
            if !s.is_valid_tape(&tape) {
                return None;
            }
        }
        self.outcomes.record(Verdict::Valid);
        Some(tape)
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
                let (v, r) = repair_after_parse_error_with(text, &self.limits, self.mode, f)?;
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

    #[test]
    fn accept_as_given_agrees_with_validate_and_counts_only_acceptances() {
        let schema = Schema::new(&json!({
            "type": "object", "required": ["a"], "minProperties": 1,
            "properties": {"a": {"type": "integer", "maximum": 5}, "b": {"enum": ["x", "y"]}},
            "additionalProperties": false
        }))
        .unwrap();
        let v = JsonValidator::named("accept-test", Some(schema), true, Limits::default());
        for (text, accepted) in [
            (r#"{"a": 1}"#, true),
            (r#"{"a": 1, "b": "y"}"#, true),
            (r#"{"a": 1, "b": "z"}"#, false),
            (r#"{"a": 6}"#, false),
            (r#"{"a": 1.5}"#, false),
            (r#"{"a": 1, "c": 0}"#, false),
            (r#"{}"#, false),
            (r#"{"a": 1,}"#, false),
            (r#"{"a": 9, "a": 1}"#, false),
            ("[1]", false),
        ] {
            assert_eq!(v.accept_as_given(text), accepted, "{text}");
            let full = v.validate(text);
            if accepted {
                assert!(
                    full.as_ref().is_ok_and(|ok| ok.repairs.is_empty()),
                    "{text}"
                );
            }
        }
        // Two acceptances counted by accept_as_given; three valid outputs by validate (the
        // repeated key parses there, the last value winning); and refusals only by validate.
        let f = crate::telemetry::builtin::families();
        let get = |o: &str| f.validations.labels(&["accept-test", o]).unwrap().get();
        assert_eq!(
            (get("valid"), get("repaired"), get("invalid")),
            (5.0, 1.0, 6.0)
        );
    }

    #[test]
    fn outcomes_are_counted_under_the_validator_name() {
        let v = JsonValidator::named("validator-test", None, true, Limits::default());
        assert_eq!(v.name(), "validator-test");
        v.validate("[1]").unwrap();
        v.validate("[1, 2,]").unwrap();
        v.validate("nope").unwrap_err();
        v.record(Verdict::Reasked, &[]);
        let f = crate::telemetry::builtin::families();
        let get = |o: &str| f.validations.labels(&["validator-test", o]).unwrap().get();
        assert_eq!(
            [
                get("valid"),
                get("repaired"),
                get("invalid"),
                get("reasked")
            ],
            [1.0, 1.0, 1.0, 1.0]
        );
        let kind = f
            .validation_repairs
            .labels(&["validator-test", "trailing_comma"])
            .unwrap();
        assert_eq!(kind.get(), 1.0);
    }
    #[test]
    fn lenient_validators_repair_what_safe_ones_refuse_and_report_the_guess() {
        let safe = JsonValidator::named("mode-test-safe", None, true, Limits::default());
        assert_eq!(safe.mode(), RepairMode::Safe);
        assert_eq!(
            safe.validate("{message: hello world}").unwrap_err().kind,
            FailureKind::Parse
        );
        let lenient = JsonValidator::named("mode-test-lenient", None, true, Limits::default())
            .with_mode(RepairMode::Lenient);
        let v = lenient.validate("{message: hello world}").unwrap();
        assert_eq!(v.value, serde_json::json!({"message": "hello world"}));
        let kinds: Vec<_> = v.repairs.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds, ["unquoted_key", "unquoted_value"]);
        // Where safe repairs, lenient gives the same value.
        assert_eq!(
            lenient.validate("[1, 2,]").unwrap().value,
            safe.validate("[1, 2,]").unwrap().value
        );
        // Repair off: the mode changes nothing.
        let strict =
            JsonValidator::new(None, false, Limits::default()).with_mode(RepairMode::Lenient);
        assert_eq!(
            strict.validate("{message: hello world}").unwrap_err().kind,
            FailureKind::Parse
        );
    }
}
