//! Fuzzes both repair modes on arbitrary text: no panic, no hang; whatever either mode returns is
//! strict JSON that repairs to itself in that mode; valid JSON passes through both unchanged; and
//! lenient only adds guesses where safe refuses: wherever safe repairs, lenient gives the same value.
#![no_main]

use ferrule_core::validate::{parse, repair_with, Limits, RepairMode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits {
        max_input_bytes: 1 << 20,
        max_depth: 64,
    };
    let strict = parse(text, &limits);
    let mut values = Vec::new();
    for mode in RepairMode::ALL {
        match repair_with(text, &limits, mode) {
            Ok(r) => {
                let v = parse(&r.text, &limits)
                    .unwrap_or_else(|f| panic!("{mode:?} output is not strict JSON: {f}"));
                if strict.is_ok() {
                    assert_eq!(r.text, text, "{mode:?} changed valid JSON");
                    assert!(r.repairs.is_empty());
                }
                let again = repair_with(&r.text, &limits, mode).expect("repaired text must stay valid");
                assert!(again.repairs.is_empty() && again.text == r.text);
                values.push(Some(v));
            }
            Err(_) => {
                assert!(strict.is_err(), "{mode:?} refused valid JSON");
                values.push(None);
            }
        }
    }
    if let (Some(safe), lenient) = (&values[0], &values[1]) {
        assert_eq!(
            Some(safe),
            lenient.as_ref(),
            "lenient must agree wherever safe repairs"
        );
    }
});
