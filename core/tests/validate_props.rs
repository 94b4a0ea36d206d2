//! Properties of parse and repair over generated JSON: any valid JSON parses to the value it was
//! made from and passes repair unchanged; repair output is always strict JSON and stable; arbitrary
//! text never panics.

use ferrule_core::validate::{parse, repair, FailureKind, Limits};
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
}
