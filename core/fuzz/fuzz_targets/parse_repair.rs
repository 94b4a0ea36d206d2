//! Fuzzes parse + repair + the validator on arbitrary bytes: no panic, no hang (linear work), and
//! every repair that succeeds yields strict JSON that repairs to itself; the in-place check (`Tape`)
//! never accepts what `parse` refuses.
#![no_main]

use ferrule_core::validate::{parse, repair, JsonValidator, Limits, Tape};
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
    if Tape::parse(text, &limits).is_ok() {
        assert!(strict.is_ok(), "the tape accepted what parse refuses");
    }
    match repair(text, &limits) {
        Ok(r) => {
            let v = parse(&r.text, &limits).expect("repair output must be strict JSON");
            if let Ok(orig) = &strict {
                assert_eq!(orig, &v, "valid JSON must pass through unchanged");
                assert_eq!(r.text, text);
            }
            let again = repair(&r.text, &limits).expect("repaired text must stay valid");
            assert!(again.repairs.is_empty() && again.text == r.text);
        }
        Err(_) => assert!(strict.is_err(), "valid JSON was refused by repair"),
    }
    let v = JsonValidator::new(None, true, limits);
    if v.accept_as_given(text) {
        assert!(v.validate(text).is_ok_and(|ok| ok.repairs.is_empty()));
    } else {
        let _ = v.validate(text);
    }
});
