//! Properties: masking is idempotent and never lets a generated email, Luhn-valid card or IPv4
//! address through whatever text surrounds it; `traceparent` headers round-trip.

use ferrule_core::telemetry::ids::{SpanId, TraceId, TraceParent};
use ferrule_core::telemetry::redact::Redactor;
use proptest::prelude::*;

fn luhn_complete(mut digits: Vec<u32>) -> String {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    digits.push((10 - sum % 10) % 10);
    digits
        .iter()
        .map(|d| char::from_digit(*d, 10).unwrap())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn masking_is_idempotent(text in "[ -~]{0,120}") {
        let r = Redactor::default();
        let once = r.redact(&text).into_owned();
        prop_assert_eq!(r.redact(&once).into_owned(), once);
    }

    #[test]
    fn generated_pii_never_leaks(
        before in "[a-z ]{0,20}",
        after in "[a-z ]{0,20}",
        user in "[a-z][a-z0-9._]{0,12}[a-z0-9]",
        domain in "[a-z]{2,10}",
        tld in "(com|org|io|de|net)",
        card in proptest::collection::vec(0u32..10, 15),
        ip in (1u8..=255, 0u8..=255, 0u8..=255, 1u8..=254),
    ) {
        let r = Redactor::default();
        let email = format!("{user}@{domain}.{tld}");
        let mut card = card;
        card[0] = 4;
        let card = luhn_complete(card);
        let ip = format!("{}.{}.{}.{}", ip.0, ip.1, ip.2, ip.3);
        for secret in [&email, &card, &ip] {
            let text = format!("{before} {secret} {after}");
            let out = r.redact(&text);
            prop_assert!(!out.contains(secret.as_str()), "{} -> {}", text, out);
        }
    }

    #[test]
    fn traceparent_round_trips(t in 1u128.., s in 1u64.., sampled: bool) {
        let tp = TraceParent { trace_id: TraceId(t), span_id: SpanId(s), sampled };
        prop_assert_eq!(TraceParent::parse(&tp.header()), Some(tp));
    }
}
