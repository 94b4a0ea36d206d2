//! The redaction corpus: every secret or PII item, embedded in context, is masked with its typed
//! placeholder and none of it leaks; the control set of ordinary text is left exactly as it is.
//! The same data files are checked from Python (`python-tests/test_redaction.py`).

use ferrule_core::telemetry::redact::Redactor;

fn corpus() -> Vec<(String, String, String)> {
    include_str!("data/redaction_corpus.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut p = l.splitn(3, '\t');
            let kind = p.next().unwrap().to_string();
            let secret = p.next().unwrap().to_string();
            let tmpl = p.next().unwrap().replace("\\n", "\n");
            (kind, secret, tmpl)
        })
        .collect()
}

#[test]
fn corpus_has_at_least_100_items_and_leaks_none() {
    let r = Redactor::default();
    let cases = corpus();
    assert!(cases.len() >= 100, "{}", cases.len());
    let mut failures = Vec::new();
    for (kind, secret, tmpl) in &cases {
        let text = tmpl.replacen("{}", secret, 1);
        let out = r.redact(&text);
        let placeholder = format!("[{kind}]");
        if out.contains(secret.as_str()) || !out.contains(&placeholder) {
            failures.push(format!("{kind}: {text:?} -> {out:?}"));
        }
        // The context around the secret survives.
        let (before, after) = tmpl.split_once("{}").unwrap();
        if !out.starts_with(before) || !out.ends_with(after) {
            failures.push(format!("context damaged: {text:?} -> {out:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn all_secrets_in_one_text_are_masked() {
    let r = Redactor::default();
    let cases = corpus();
    let text: Vec<String> = cases
        .iter()
        .map(|(_, s, t)| t.replacen("{}", s, 1))
        .collect();
    let text = text.join(" | ");
    let out = r.redact(&text);
    for (_, s, _) in &cases {
        assert!(!out.contains(s.as_str()), "leaked {s}");
    }
}

#[test]
fn control_text_is_untouched() {
    let r = Redactor::default();
    let mut wrong = Vec::new();
    let lines: Vec<&str> = include_str!("data/control_text.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert!(lines.len() >= 40);
    for l in lines {
        let out = r.redact(l);
        if out != l {
            wrong.push(format!("{l:?} -> {out:?}"));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}
