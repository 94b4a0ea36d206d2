//! Core cost of validation: strict parse, parse + JSON Schema check, and repair of typical model
//! breakage (the same inputs as benches/python/bench_validate.py).

use criterion::{criterion_group, criterion_main, Criterion};
use ferrule_core::validate::{parse, repair, JsonValidator, Limits, Schema};
use serde_json::json;
use std::hint::black_box;

fn doc() -> serde_json::Value {
    json!({
        "answer": "The capital of France is Paris, which has been the capital since 508 AD.",
        "confidence": 0.93, "language": "en", "tags": ["geography", "europe", "capitals"],
        "sources": (0..5).map(|i| json!({"title": format!("Source {i}"),
            "url": format!("https://example.org/wiki/page-{i}"), "score": 0.5 + i as f64 / 20.0})).collect::<Vec<_>>(),
        "follow_up": null
    })
}

fn bench(c: &mut Criterion) {
    let lim = Limits::default();
    let valid = doc().to_string();
    let schema = Schema::new(&json!({
        "type": "object", "required": ["answer", "confidence", "language", "tags", "sources"],
        "properties": {
            "answer": {"type": "string"}, "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "language": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
            "sources": {"type": "array", "items": {"type": "object", "required": ["title", "url", "score"],
                "properties": {"title": {"type": "string"}, "url": {"type": "string"},
                    "score": {"type": "number", "minimum": 0, "maximum": 1}}}},
            "follow_up": {"type": ["string", "null"]}
        }
    }))
    .unwrap();
    let validator = JsonValidator::new(Some(schema), true, lim);
    c.bench_function("parse valid 600-byte answer", |x| {
        x.iter(|| black_box(parse(black_box(&valid), &lim).unwrap()))
    });
    c.bench_function(
        "serde_json::from_str valid 600-byte answer (reference)",
        |x| {
            x.iter(|| {
                black_box(serde_json::from_str::<serde_json::Value>(black_box(&valid)).unwrap())
            })
        },
    );
    c.bench_function("validate valid answer against its schema", |x| {
        x.iter(|| black_box(validator.validate(black_box(&valid)).unwrap()))
    });
    let pretty = serde_json::to_string_pretty(&doc()).unwrap();
    let fenced = format!(
        "Here is the JSON:\n```json\n{}\n```\n",
        pretty.replacen("\n  ]", ",\n  ]", 1)
    );
    let python = pretty.replace('"', "'").replace("null", "None");
    c.bench_function("repair fenced + trailing comma", |x| {
        x.iter(|| black_box(repair(black_box(&fenced), &lim).unwrap()))
    });
    let js = "{\n  // model notes\n  answer: 'Paris',\n  confidence: 0.9, /* guess */\n  tags: ['a', 'b',],\n}";
    c.bench_function("repair js literal + comments (91 bytes)", |x| {
        x.iter(|| black_box(repair(black_box(js), &lim).unwrap()))
    });
    c.bench_function("repair python dict repr (37 repairs)", |x| {
        x.iter(|| black_box(repair(black_box(&python), &lim).unwrap()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
