//! Properties of parse and repair over generated JSON: any valid JSON parses to the value it was
//! made from and passes repair unchanged; repair output is always strict JSON and stable; arbitrary
//! text never panics. The in-place check (`Tape`, the steady path) accepts exactly what `parse`
//! accepts (objects with a repeated key aside, which it leaves to `parse`) and a schema judges a
//! tape as it judges the parsed value.

use ferrule_core::validate::{parse, repair, FailureKind, JsonValidator, Limits, Schema, Tape};
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        any::<u64>().prop_map(|n| Value::Number(n.into())),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::String),
        "[a-z \"\\\\/'“”\n\t]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(8, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn valid_json_passes_through_unchanged(v in json_value(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_string_pretty(&v).unwrap() } else { serde_json::to_string(&v).unwrap() };
        let lim = Limits::default();
        prop_assert_eq!(&parse(&text, &lim).unwrap(), &v);
        let r = repair(&text, &lim).unwrap();
        prop_assert_eq!(&r.text, &text);
        prop_assert!(r.repairs.is_empty());
    }

    #[test]
    fn truncated_json_is_repaired_to_json_or_refused(v in json_value(), cut in 0.0f64..1.0) {
        let text = serde_json::to_string(&v).unwrap();
        let mut at = (text.len() as f64 * cut) as usize;
        while !text.is_char_boundary(at) { at -= 1; }
        let lim = Limits::default();
        match repair(&text[..at], &lim) {
            Ok(r) => {
                prop_assert!(parse(&r.text, &lim).is_ok());
                // Repair is stable: its output needs no further repair.
                prop_assert!(repair(&r.text, &lim).unwrap().repairs.is_empty());
            }
            Err(f) => prop_assert!(f.kind == FailureKind::Parse || f.kind == FailureKind::Limit),
        }
    }

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>(), t in "[\\[\\]{}\"',:a-zT0-9 \n/*#“”‘’\\\\-]{0,64}") {
        let lim = Limits::default();
        for input in [s.as_str(), t.as_str()] {
            if let Ok(r) = repair(input, &lim) {
                prop_assert!(parse(&r.text, &lim).is_ok());
            }
        }
    }

    #[test]
    fn the_tape_accepts_what_parse_accepts(v in json_value(), cut in 0.0f64..1.0, s in any::<String>(), t in "[\\[\\]{}\"',:a-zT0-9 \n/*#eE.+-]{0,64}") {
        let text = serde_json::to_string(&v).unwrap();
        let mut at = (text.len() as f64 * cut) as usize;
        while !text.is_char_boundary(at) { at -= 1; }
        let lim = Limits { max_input_bytes: 1 << 20, max_depth: 4 };
        for input in [text.as_str(), &text[..at], s.as_str(), t.as_str()] {
            match (Tape::parse(input, &lim), parse(input, &lim)) {
                (Ok(_), Ok(_)) | (Err(_), Err(_)) => {}
                (Ok(_), Err(f)) => prop_assert!(false, "tape accepted {:?}, parse refused: {:?}", input, f),
                // The one case the tape leaves to parse: a repeated key.
                (Err(_), Ok(_)) => prop_assert!(has_repeated_key(input), "tape refused {:?}, which parse accepts", input),
            }
        }
    }

    #[test]
    fn a_schema_judges_the_tape_as_it_judges_the_value(v in json_value(), which in 0usize..SCHEMAS.len()) {
        let schema = Schema::new(&serde_json::from_str(SCHEMAS[which]).unwrap()).unwrap();
        let text = serde_json::to_string(&v).unwrap();
        let lim = Limits::default();
        if let Ok(tape) = Tape::parse(&text, &lim) {
            prop_assert_eq!(schema.is_valid_tape(&tape), schema.is_valid(&v), "{} on {}", SCHEMAS[which], text);
        }
        let validator = JsonValidator::new(Some(schema), false, lim);
        if validator.accept_as_given(&text) {
            prop_assert!(validator.validate(&text).is_ok());
        }
    }
}

/// Whether some object in `text` (JSON that `parse` accepted) repeats a key.
fn has_repeated_key(text: &str) -> bool {
    matches!(serde_json::from_str::<DupCheck>(text), Ok(DupCheck(true)))
}

/// Deserialises any JSON, remembering whether some object repeated a key.
struct DupCheck(bool);

impl<'de> serde::Deserialize<'de> for DupCheck {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = DupCheck;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, _: bool) -> Result<DupCheck, E> {
                Ok(DupCheck(false))
            }
            fn visit_i64<E>(self, _: i64) -> Result<DupCheck, E> {
                Ok(DupCheck(false))
            }
            fn visit_u64<E>(self, _: u64) -> Result<DupCheck, E> {
                Ok(DupCheck(false))
            }
            fn visit_f64<E>(self, _: f64) -> Result<DupCheck, E> {
                Ok(DupCheck(false))
            }
            fn visit_str<E>(self, _: &str) -> Result<DupCheck, E> {
                Ok(DupCheck(false))
            }
            fn visit_unit<E>(self) -> Result<DupCheck, E> {
                Ok(DupCheck(false))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<DupCheck, A::Error> {
                let mut dup = false;
                while let Some(DupCheck(d)) = a.next_element()? {
                    dup |= d;
                }
                Ok(DupCheck(dup))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<DupCheck, A::Error> {
                let mut dup = false;
                let mut keys = std::collections::HashSet::new();
                while let Some(k) = a.next_key::<String>()? {
                    dup |= !keys.insert(k);
                    let DupCheck(d) = a.next_value()?;
                    dup |= d;
                }
                Ok(DupCheck(dup))
            }
        }
        d.deserialize_any(V)
    }
}

const SCHEMAS: &[&str] = &[
    r##"{"type": "object", "required": ["a"], "properties": {"a": {"type": "integer", "minimum": 0}}, "additionalProperties": {"type": "string"}}"##,
    r##"{"type": "array", "items": {"type": ["number", "null", "boolean"]}, "maxItems": 3}"##,
    r##"{"anyOf": [{"type": "string", "minLength": 2, "pattern": "^[a-z]"}, {"type": "object", "minProperties": 1, "maxProperties": 3}]}"##,
    r##"{"oneOf": [{"const": null}, {"enum": [true, 1, "x"]}, {"type": "array", "uniqueItems": true}]}"##,
    r##"{"$defs": {"n": {"type": "object", "properties": {"k": {"$ref": "#/$defs/n"}}}}, "$ref": "#/$defs/n", "propertyNames": {"maxLength": 3}}"##,
    r##"{"not": {"type": "integer"}, "multipleOf": 0.5}"##,
];
