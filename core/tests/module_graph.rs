//! No import circles between the core's top-level modules (policy, telemetry, watch, route, store,
//! validate, call, net, mock, error, clock, ...).
//!
//! Reads every file under `core/src`, finds each path that starts at the crate root (`crate::x`,
//! `use crate::{x, y::z}`, and `super::` paths that climb out of their top-level module), and builds
//! the graph "top-level module A names something in top-level module B". A cycle in that graph means
//! neither side can be understood, tested or moved without the other; the test fails naming every
//! module of the cycle and one file:line per edge.
//!
//! Comments and string literals are skipped, so a doc comment that mentions `crate::policy` is no
//! dependency. Items defined in `lib.rs` itself (`catch_panic`) belong to no module; names that
//! `lib.rs` re-exports (`crate::Error`) count as the module they come from.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Edges that close a cycle on purpose, each with the reason. Keep this list short: an entry is a
/// design decision, not a way to silence the test.
///
/// `error -> validate`: the crate has one error enum (every binding maps that one enum to its
/// exception tree), and a refused model output is one of its variants, carrying validate's report
/// (`validate::Failure`: violations and repairs, plain data). validate in turn returns
/// `crate::Error`. Moving the report types out of validate would only rename the edge.
const ALLOWED: &[(&str, &str, &str)] = &[(
    "error",
    "validate",
    "the one error enum carries validate's failure report as its Validation variant",
)];

/// One reference from a file to another top-level module.
#[derive(Debug, Clone)]
struct Site {
    file: String,
    line: usize,
}

type Graph = BTreeMap<String, BTreeMap<String, Site>>;

/// The source with comments and string/char literals blanked out (newlines kept, so line numbers
/// stay right).
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let blank = |out: &mut String, s: &[u8]| {
        for &c in s {
            out.push(if c == b'\n' { '\n' } else { ' ' });
        }
    };
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
            blank(&mut out, &rest[..end]);
            i += end;
        } else if rest.starts_with(b"/*") {
            // Block comments nest in Rust.
            let mut depth = 0;
            let mut j = 0;
            while j < rest.len() {
                if rest[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if rest[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, &rest[..j]);
            i += j;
        } else if let Some(len) = raw_string_len(rest) {
            blank(&mut out, &rest[..len]);
            i += len;
        } else if rest[0] == b'"' || rest.starts_with(b"b\"") {
            let start = if rest[0] == b'"' { 1 } else { 2 };
            let mut j = start;
            while j < rest.len() && rest[j] != b'"' {
                j += if rest[j] == b'\\' { 2 } else { 1 };
            }
            let len = (j + 1).min(rest.len());
            blank(&mut out, &rest[..len]);
            i += len;
        } else if rest[0] == b'\'' && char_literal_len(rest).is_some() {
            let len = char_literal_len(rest).unwrap();
            blank(&mut out, &rest[..len]);
            i += len;
        } else {
            // Copy one whole UTF-8 character.
            let ch = src[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// `r"..."`, `r#"..."#`, `br#"..."#`: the literal's length, if one starts here.
fn raw_string_len(s: &[u8]) -> Option<usize> {
    let mut j = match s {
        [b'r', ..] => 1,
        [b'b', b'r', ..] => 2,
        _ => return None,
    };
    let hashes = s[j..].iter().take_while(|&&c| c == b'#').count();
    j += hashes;
    if s.get(j) != Some(&b'"') {
        return None;
    }
    j += 1;
    let mut close = vec![b'"'];
    close.extend(std::iter::repeat_n(b'#', hashes));
    while j < s.len() {
        if s[j..].starts_with(&close) {
            return Some(j + close.len());
        }
        j += 1;
    }
    Some(s.len())
}

/// `'a'`, `'\n'`, `'\u{1F600}'`, `'é'`, but not a lifetime `'a`.
fn char_literal_len(s: &[u8]) -> Option<usize> {
    if s.get(1) == Some(&b'\\') {
        let end = s[2..].iter().position(|&c| c == b'\'')?;
        return Some(end + 3);
    }
    let text = std::str::from_utf8(&s[1..s.len().min(6)])
        .ok()
        .or_else(|| {
            // A cut inside a multi-byte character: shorten until it decodes.
            (1..5)
                .rev()
                .find_map(|n| std::str::from_utf8(&s[1..(1 + n).min(s.len())]).ok())
        })?;
    let c = text.chars().next()?;
    let n = c.len_utf8();
    (s.get(1 + n) == Some(&b'\'')).then_some(n + 2)
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn skip_ws(s: &str) -> &str {
    s.trim_start()
}

fn ident(s: &str) -> (&str, &str) {
    let n = s.find(|c: char| !is_ident(c)).unwrap_or(s.len());
    (&s[..n], &s[n..])
}

/// The first segments of the paths in `{a::b, c, d::{e, f}}` starting at `s` (just after `{`).
fn group_heads(s: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut at_item_start = true;
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        match c {
            '{' => {
                depth += 1;
                rest = &rest[1..];
            }
            '}' if depth == 0 => break,
            '}' => {
                depth -= 1;
                rest = &rest[1..];
            }
            ',' if depth == 0 => {
                at_item_start = true;
                rest = &rest[1..];
            }
            c if at_item_start && is_ident(c) => {
                let (id, r) = ident(rest);
                heads.push(id.to_string());
                at_item_start = false;
                rest = r;
            }
            c => rest = &rest[c.len_utf8()..],
        }
    }
    heads
}

/// A file's module path: `policy/rate_limit/mod.rs` → `[policy, rate_limit]`, `error.rs` → `[error]`.
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

/// Every (line, first segment below the crate root) this file names.
fn crate_refs(code: &str, file_mod: &[String]) -> Vec<(usize, String)> {
    let mut refs = Vec::new();
    // Inline `mod name {` blocks, with the brace depth they opened at, so `super::` in
    // `mod tests { use super::*; }` resolves to the file's own module.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut line = 1usize;
    let mut prev_ident_char = false;
    let mut i = 0;
    let bytes = code.as_bytes();
    while i < code.len() {
        let c = bytes[i] as char;
        let rest = &code[i..];
        if c == '\n' {
            line += 1;
        } else if c == '{' {
            depth += 1;
        } else if c == '}' {
            depth = depth.saturating_sub(1);
            while inline.last().is_some_and(|(_, d)| *d > depth) {
                inline.pop();
            }
        } else if !prev_ident_char && rest.starts_with("mod ") {
            let (name, after) = ident(skip_ws(&rest[4..]));
            if !name.is_empty() && skip_ws(after).starts_with('{') {
                inline.push((name.to_string(), depth + 1));
            }
        } else if !prev_ident_char && (rest.starts_with("crate::") || rest.starts_with("super::")) {
            let mut module: Vec<String> = file_mod.to_vec();
            module.extend(inline.iter().map(|(n, _)| n.clone()));
            let mut path = rest;
            if path.starts_with("crate::") {
                module.clear();
                path = &path["crate::".len()..];
            } else {
                while let Some(p) = path.strip_prefix("super::") {
                    module.pop();
                    path = skip_ws(p);
                }
            }
            // `module` is where the path now stands; its first element (if any) is the top-level
            // module it stays in.
            if let Some(top) = module.first() {
                refs.push((line, top.clone()));
            } else if let Some(g) = path.strip_prefix('{') {
                refs.extend(group_heads(g).into_iter().map(|h| (line, h)));
            } else {
                let (head, _) = ident(path);
                if !head.is_empty() {
                    refs.push((line, head.to_string()));
                }
            }
            let skip = rest.len() - path.len();
            i += skip.max(1);
            prev_ident_char = false;
            continue;
        }
        prev_ident_char = is_ident(c);
        i += c.len_utf8();
    }
    refs
}

/// Names `lib.rs` re-exports at the crate root (`pub use policy::backoff::{Backoff, ..}`), mapped to
/// the top-level module they come from.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let code = code_only(lib);
    for stmt in code.split(';') {
        let s = stmt.trim();
        let Some(path) = s.strip_prefix("pub use ") else {
            continue;
        };
        let (top, after) = ident(path.trim());
        let names: Vec<String> = if let Some(open) = after.find('{') {
            after[open + 1..]
                .split([',', '{', '}'])
                .filter_map(|item| {
                    let item = item.trim();
                    let name = item.rsplit(" as ").next()?.rsplit("::").next()?.trim();
                    (!name.is_empty()).then(|| name.to_string())
                })
                .collect()
        } else {
            let name = after
                .rsplit(" as ")
                .next()
                .unwrap()
                .rsplit("::")
                .next()
                .unwrap();
            vec![name.trim().to_string()]
        };
        for n in names {
            map.insert(n, top.to_string());
        }
    }
    map
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module graph of a source tree given as (path relative to `src`, text) pairs.
fn graph(files: &[(PathBuf, String)]) -> Graph {
    let lib = files
        .iter()
        .find(|(p, _)| p == Path::new("lib.rs"))
        .map(|(_, s)| s.as_str())
        .unwrap_or("");
    let reexports = root_reexports(lib);
    let tops: BTreeSet<String> = files
        .iter()
        .filter(|(p, _)| p != Path::new("lib.rs"))
        .map(|(p, _)| module_path(p)[0].clone())
        .collect();
    let mut g = Graph::new();
    for (rel, src) in files {
        if rel == Path::new("lib.rs") {
            continue;
        }
        let file_mod = module_path(rel);
        let from = file_mod[0].clone();
        g.entry(from.clone()).or_default();
        for (line, head) in crate_refs(&code_only(src), &file_mod) {
            let to = if tops.contains(&head) {
                head
            } else if let Some(m) = reexports.get(&head) {
                m.clone()
            } else {
                continue; // defined in lib.rs itself
            };
            if to != from {
                g.entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert(Site {
                        file: rel.to_string_lossy().into_owned(),
                        line,
                    });
            }
        }
    }
    g
}

/// Every cycle's strongly connected component (Tarjan), as module lists, after dropping the
/// allowed edges.
fn cycles(g: &Graph, allowed: &[(&str, &str, &str)]) -> Vec<Vec<String>> {
    let nodes: Vec<&String> = g.keys().collect();
    let idx: BTreeMap<&String, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let succ: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| {
            g[*n]
                .keys()
                .filter(|to| !allowed.iter().any(|(a, b, _)| a == n && b == to))
                .filter_map(|to| idx.get(to).copied())
                .collect()
        })
        .collect();
    struct T {
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(v: usize, succ: &[Vec<usize>], t: &mut T) {
        t.index[v] = Some(t.next);
        t.low[v] = t.next;
        t.next += 1;
        t.stack.push(v);
        t.on[v] = true;
        for &w in &succ[v] {
            match t.index[w] {
                None => {
                    visit(w, succ, t);
                    t.low[v] = t.low[v].min(t.low[w]);
                }
                Some(iw) if t.on[w] => t.low[v] = t.low[v].min(iw),
                _ => {}
            }
        }
        if Some(t.low[v]) == t.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = t.stack.pop().unwrap();
                t.on[w] = false;
                comp.push(w);
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                t.out.push(comp);
            }
        }
    }
    let n = nodes.len();
    let mut t = T {
        index: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if t.index[v].is_none() {
            visit(v, &succ, &mut t);
        }
    }
    t.out
        .into_iter()
        .map(|c| {
            let mut names: Vec<String> = c.into_iter().map(|i| nodes[i].clone()).collect();
            names.sort();
            names
        })
        .collect()
}

fn describe(g: &Graph, comp: &[String]) -> String {
    let mut s = format!("import circle between {}:\n", comp.join(", "));
    for from in comp {
        for (to, site) in &g[from] {
            if comp.contains(to) {
                s.push_str(&format!(
                    "  {from} -> {to}  (first at {}:{})\n",
                    site.file, site.line
                ));
            }
        }
    }
    s
}

fn load(src: &Path) -> Vec<(PathBuf, String)> {
    let mut paths = Vec::new();
    rust_files(src, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p.strip_prefix(src).unwrap().to_path_buf(), text)
        })
        .collect()
}

#[test]
fn core_modules_form_no_import_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = graph(&load(&src));
    // The graph must see the modules it is about, or a broken parser would pass silently.
    for m in [
        "policy",
        "telemetry",
        "watch",
        "route",
        "store",
        "call",
        "net",
        "error",
    ] {
        assert!(g.contains_key(m), "module {m} not found; graph: {g:?}");
    }
    assert!(
        g["policy"].contains_key("telemetry"),
        "policy -> telemetry not seen"
    );
    assert!(
        g["watch"].contains_key("telemetry"),
        "watch -> telemetry not seen"
    );
    // Every allowed edge must still exist, so the list cannot outlive its reason.
    for (a, b, why) in ALLOWED {
        assert!(
            g.get(*a).is_some_and(|e| e.contains_key(*b)),
            "allowed edge {a} -> {b} ({why}) no longer exists: remove it from ALLOWED"
        );
    }
    let found = cycles(&g, ALLOWED);
    let report: Vec<String> = found.iter().map(|c| describe(&g, c)).collect();
    assert!(found.is_empty(), "{}", report.join("\n"));
    // Telemetry sits below policy: it never names it, directly or through another module.
    assert!(
        !g["telemetry"].contains_key("policy"),
        "{:?}",
        g["telemetry"]
    );
}

fn fixture(files: &[(&str, &str)]) -> Graph {
    let files: Vec<(PathBuf, String)> = files
        .iter()
        .map(|(p, s)| (PathBuf::from(p), s.to_string()))
        .collect();
    graph(&files)
}

#[test]
fn a_circle_is_found_and_named() {
    let g = fixture(&[
        (
            "lib.rs",
            "pub mod a; pub mod b; pub mod c; pub use c::deep::{Thing, Other as Renamed};",
        ),
        ("a/mod.rs", "use crate::b::X;"),
        ("a/inner.rs", "use super::super::c;"),
        ("b.rs", "fn f() { crate::Renamed::new(); }"),
        ("c/deep.rs", "use crate::{a::Y, a::{Z, W}};"),
    ]);
    assert!(
        g["a"].contains_key("b") && g["a"].contains_key("c"),
        "{g:?}"
    );
    assert!(g["b"].contains_key("c"), "{g:?}");
    let found = cycles(&g, &[]);
    assert_eq!(found, vec![vec!["a".to_string(), "b".into(), "c".into()]]);
    let text = describe(&g, &found[0]);
    assert!(text.contains("b -> c  (first at b.rs:1)"), "{text}");
    // Dropping one edge of the circle is what ALLOWED does.
    assert!(cycles(&g, &[("c", "a", "test")]).is_empty());
}

#[test]
fn comments_strings_and_inner_modules_are_no_dependency() {
    let g = fixture(&[
        ("lib.rs", "pub mod a; pub mod b;"),
        (
            "a.rs",
            "//! see crate::b\n/* crate::b /* nested */ crate::b */\n\
             const S: &str = \"crate::b\"; const R: &str = r#\"crate::b\"#;\n\
             fn f<'a>(x: &'a str) -> char { 'b' }\n\
             mod tests { use super::*; }",
        ),
        ("b.rs", "fn g() { let _ = crate::a::f; }"),
    ]);
    assert!(g["a"].is_empty(), "{g:?}");
    assert!(cycles(&g, &[]).is_empty());
}
