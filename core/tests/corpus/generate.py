"""Writes the repair corpus (core/tests/corpus/repair/*.jsonl): malformed model outputs, each with the
value it must repair to (or the failure it must produce) and the repair kinds it must report.

Expected values are computed here from the clean documents the cases are made from, independently of
ferrule: a malformed text is produced by serializing a known value in a broken style, so the value it
must repair to is that value. Run with `python3 core/tests/corpus/generate.py`; deterministic.

Each line: {"name", "input", and either "expect" (the value) with "repairs" (the exact set of repair
kinds reported), or "fail" (the failure kind) with "contains" (a substring of the first message)};
optionally "limits": {"max_input_bytes", "max_depth"}.
"""

from __future__ import annotations

import json
import os
import random
import re

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "repair")
IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")


def deep_object(n: int) -> object:
    v: object = {"value": 1, "note": "bottom"}
    for i in range(n):
        v = {"level": i, "child": v}
    return v


def deep_array(n: int) -> object:
    v: object = [1, "x", None]
    for _ in range(n):
        v = [v, True]
    return v


BASES = {
    "person": {"name": "Ada Lovelace", "age": 36, "languages": ["English", "French"], "active": True, "manager": None},
    "order": {
        "order": {
            "id": "A-17",
            "lines": [{"sku": "x1", "qty": 2, "price": 9.99}, {"sku": "y2", "qty": 1, "price": 120.5}],
            "meta": {"tags": [], "notes": {}},
        },
        "ok": False,
    },
    "unicode": {
        "greeting": "こんにちは世界",
        "emoji": "🚀✨ launch",
        "accents": "Ça va? Ñandú",
        "rtl": "مرحبا بالعالم",
        "math": "∑ x² ≤ ∞",
        "quoted": 'She said "hi"',
    },
    "rows": [{"id": 1, "label": "one"}, {"id": 2, "label": "two"}, {"id": 3, "label": "three"}],
    "numbers": {"int": -42, "zero": 0, "float": 3.14159, "exp": 1.5e-07, "big": 12345678901234, "neg": -0.5},
    "escapes": {"path": "C:\\Users\\ada", "multi": "line one\nline two", "tab": "a\tb", "slash": "a/b"},
    "answer": {
        "answer": "The capital of France is Paris.",
        "confidence": 0.97,
        "sources": [{"title": "Wikipedia", "url": "https://en.wikipedia.org/wiki/Paris"}],
        "follow_up": None,
    },
    "flags": {"flags": [True, False, None, True], "enabled": False, "name": "feature-x"},
    "keys": {"snake_case": 1, "camelCase": "two", "with-dash": [3], "$dollar": {"d": 4}, "_under": None, "has space": 6},
    "deep_object": deep_object(40),
    "deep_array": deep_array(60),
    "huge": {"items": [{"id": i, "name": f"item {i}", "score": i * 0.5, "tags": ["a", "b"], "ok": i % 3 == 0} for i in range(1500)]},
    "huge_text": {"text": "lorem ipsum dolor sit amet, consectetur adipiscing elit\n" * 2000, "n": 1},
}

STYLES = [
    "trailing_comma",
    "single_quotes",
    "python_literal",
    "unquoted_key",
    "comment",
    "smart_quotes",
    "unescaped_newline",
    "missing_comma",
    "invalid_escape",
]


class Writer:
    """Serializes a value in a broken style and records which repairs the breakage calls for."""

    def __init__(self, styles: set[str], pretty: bool) -> None:
        self.styles = styles
        self.pretty = pretty
        self.fired: set[str] = set()

    def string(self, s: str, key: bool = False) -> str:
        st = self.styles
        quote = '"'
        if "single_quotes" in st:
            quote = "'"
        elif "smart_quotes" in st and not any(c in s for c in "“”"):
            quote = "“"
        out = []
        for i, ch in enumerate(s):
            if ch == "\\":
                if "invalid_escape" in st and not key and s[i + 1 : i + 2] in ("s", "d"):
                    out.append("\\")  # a regex-style "\s" the model meant literally
                    self.fired.add("invalid_escape")
                else:
                    out.append("\\\\")
            elif ch == quote:
                out.append("\\" + ch)
            elif ch == '"':
                # raw inside a single- or smart-quoted string, escaped inside a double-quoted one
                out.append('"' if quote != '"' else '\\"')
            elif ch in "\n\t" and "unescaped_newline" in st:
                out.append(ch)
                self.fired.add("unescaped_newline")
            elif ch == "\n":
                out.append("\\n")
            elif ch == "\t":
                out.append("\\t")
            elif ord(ch) < 0x20:
                out.append("\\u%04x" % ord(ch))
            else:
                out.append(ch)
        body = "".join(out)
        if quote == "'":
            self.fired.add("single_quotes")
            return "'" + body + "'"
        if quote == "“":
            self.fired.add("smart_quotes")
            return "“" + body + "”"
        return '"' + body + '"'

    def key(self, k: str) -> str:
        if "unquoted_key" in self.styles and IDENT.match(k):
            self.fired.add("unquoted_key")
            return k
        return self.string(k, key=True)

    def value(self, v: object, depth: int) -> str:
        st = self.styles
        if v is True or v is False or v is None:
            if "python_literal" in st:
                self.fired.add("python_literal")
                return {True: "True", False: "False", None: "None"}[v]  # type: ignore[index]
            return json.dumps(v)
        if isinstance(v, (int, float)):
            return json.dumps(v)
        if isinstance(v, str):
            return self.string(v)
        nl = ("\n" + "  " * (depth + 1)) if self.pretty else ""
        end = ("\n" + "  " * depth) if self.pretty else ""
        sep = ": " if self.pretty else ":"
        if isinstance(v, dict):
            items = []
            for k, x in v.items():
                kt = self.key(k)
                items.append((kt + sep + self.value(x, depth + 1), kt[0] in "\"'“", isinstance(x, (str, dict, list))))
            open_, close = "{", "}"
        else:
            assert isinstance(v, list)
            items = [(self.value(x, depth + 1), isinstance(x, (str, dict, list)), isinstance(x, (str, dict, list))) for x in v]
            open_, close = "[", "]"
        if not items:
            return open_ + close
        parts = []
        for i, (text, starts_delimited, ends_delimited) in enumerate(items):
            prefix = nl if (self.pretty or i == 0) else ""
            if "comment" in st and i == 0:
                prefix = (nl or " ") + "// the first entry" + ("\n" if not self.pretty else nl)
                self.fired.add("comment")
            if "comment" in st and i == 1:
                prefix = (nl or "") + "/* more */ "
            parts.append(prefix + text)
            if i + 1 < len(items):
                nxt_starts = items[i + 1][1]
                omit = "missing_comma" in st and i % 2 == 0 and (ends_delimited or nxt_starts)
                if omit:
                    self.fired.add("missing_comma")
                    parts.append(" " if not self.pretty else "")
                else:
                    parts.append("," if self.pretty else ", ")
        if "trailing_comma" in st:
            parts.append(",")
            self.fired.add("trailing_comma")
        return open_ + "".join(parts) + end + close


def with_regex_escapes(v: object) -> object:
    """The value a text with stray regex escapes stands for: the first space of each string value
    holding one becomes a literal backslash-s."""
    if isinstance(v, str):
        return v.replace(" ", "\\s", 1)
    if isinstance(v, list):
        return [with_regex_escapes(x) for x in v]
    if isinstance(v, dict):
        return {k: with_regex_escapes(x) for k, x in v.items()}
    return v


def styled(base: object, styles: set[str], pretty: bool) -> tuple[str, set[str], object]:
    """The broken text, the repair kinds it calls for, and the value it must repair to."""
    expect = with_regex_escapes(base) if "invalid_escape" in styles else base
    w = Writer(styles, pretty)
    return w.value(expect, 0), w.fired, expect


def closers(prefix: str) -> str:
    stack = []
    in_str = esc = False
    for ch in prefix:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            stack.append("]" if ch == "[" else "}")
        elif ch in "]}":
            stack.pop()
    return "".join(reversed(stack))


def truncations(name: str, base: object, rng: random.Random, per_class: int) -> list[dict]:
    """Cuts the clean text at classified points: each class is either safely closable or ambiguous."""
    text = json.dumps(base, ensure_ascii=False)
    classes: dict[str, list[int]] = {k: [] for k in ("after_comma", "after_open", "in_value_string", "after_value", "after_colon", "in_key", "in_number")}
    stack: list[str] = []
    in_str = esc = False
    str_is_key = False
    expecting_key = False
    i = 0
    for i, ch in enumerate(text):
        cut = i  # cutting here keeps text[:i]
        if in_str:
            if not esc and i > 0:
                (classes["in_key"] if str_is_key else classes["in_value_string"]).append(cut)
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
                if not str_is_key and i + 1 < len(text):
                    classes["after_value"].append(i + 1)
            continue
        if ch == '"':
            in_str = True
            str_is_key = expecting_key
            expecting_key = False
        elif ch in "[{":
            stack.append(ch)
            expecting_key = ch == "{"
        elif ch in "]}":
            stack.pop()
        elif ch == ",":
            expecting_key = stack[-1] == "{"
        elif ch.isdigit() or ch == "-":
            if stack and (i + 1 < len(text)) and (text[i + 1].isdigit() or text[i + 1] in ".eE-+"):
                classes["in_number"].append(i + 1)
        # positions right after this character
        if ch == "," and not in_str:
            classes["after_comma"].append(i + 1)
        elif ch in "[{":
            classes["after_open"].append(i + 1)
        elif ch == ":":
            classes["after_colon"].append(i + 1)
        elif ch in "]}":
            if i + 1 < len(text):
                classes["after_value"].append(i + 1)
    cases = []
    for cls, points in classes.items():
        for p in sorted(set(rng.sample(points, min(per_class, len(points))))):
            prefix = text[:p]
            case: dict = {"name": f"truncated/{name}/{cls}@{p}", "input": prefix}
            if cls == "after_colon":
                case.update(fail="parse", contains="value is missing")
            elif cls == "in_key":
                case.update(fail="parse", contains="not repaired")
            elif cls == "in_number":
                case.update(fail="parse", contains="not repaired")
            else:
                fixed = prefix
                if cls == "after_comma":
                    fixed = prefix[:-1]
                elif cls == "in_value_string":
                    fixed = prefix + '"'
                case.update(expect=json.loads(fixed + closers(fixed)), repairs=["truncated"])
            cases.append(case)
    return cases


WRAPS = [
    ("fence", "Here is the result:\n```json\n{}\n```\nLet me know if you need anything else.", ["extracted_json", "extracted_json"]),
    ("fence_only", "```json\n{}\n```", ["extracted_json", "extracted_json"]),
    ("fence_no_lang", "```\n{}\n```", ["extracted_json", "extracted_json"]),
    ("prose", "Sure! The JSON you asked for: {} Hope this helps.", ["extracted_json", "extracted_json"]),
    ("prose_before", "Answer:\n\n{}", ["extracted_json"]),
    ("backticks", "`{}`", ["extracted_json", "extracted_json"]),
]

FAILURES = [
    ("key_without_value_space", '{"a": 1, "b": ', "parse", "value is missing"),
    ("key_without_value_colon", '{"a": 1, "b":', "parse", "value is missing"),
    ("key_without_colon", '{"a": 1, "b"', "parse", "value is missing"),
    ("key_cut", '{"name": "x", "nested": {"ke', "parse", "not repaired"),
    ("unquoted_key_cut", "{name: 'x', nest", "parse", "not repaired"),
    ("number_cut_array", "[1, 2, 3", "parse", "digits may be missing"),
    ("number_cut_object", '{"a": 12', "parse", "digits may be missing"),
    ("number_cut_minus", '{"a": -', "parse", "not repaired"),
    ("number_cut_dot", '{"a": 1.', "parse", "not repaired"),
    ("number_cut_exp", '{"a": 1e', "parse", "not repaired"),
    ("unquoted_value", '{"a": hello}', "parse", "unquoted value 'hello'"),
    ("unquoted_status", '{"status": ok, "n": 1}', "parse", "unquoted value 'ok'"),
    ("nan", "[NaN]", "parse", "unquoted value 'NaN'"),
    ("infinity", '{"x": Infinity}', "parse", "unquoted value 'Infinity'"),
    ("undefined", '{"x": undefined}', "parse", "unquoted value 'undefined'"),
    ("double_comma", "[1,,2]", "parse", "not repaired"),
    ("leading_comma", "[,1]", "parse", "not repaired"),
    ("empty_member", "{,}", "parse", "not repaired"),
    ("missing_colon", '{"a" 1}', "parse", "expected ':'"),
    ("double_colon", '{"a":: 1}', "parse", "not repaired"),
    ("numbers_without_comma", "[1 2]", "parse", "expected ','"),
    ("two_objects", '{"a": 1}, {"b": 2}', "parse", "more JSON follows"),
    ("two_objects_newline", '{"a": 1}\n{"b": 2}', "parse", "more JSON follows"),
    ("extra_closer", '{"a": 1}}', "parse", "more JSON follows"),
    ("lone_closer", "]", "parse", "not repaired"),
    ("mismatched_array", '{"a": [1, 2}', "parse", "expected ','"),
    ("mismatched_object", '[{"a": 1]', "parse", "expected ','"),
    ("prose_only", "I'm sorry, I can't help with that.", "parse", "no JSON object or array"),
    ("empty", "", "parse", "no JSON object or array"),
    ("blank", "   \n ", "parse", "no JSON object or array"),
    ("empty_fence", "```json\n```", "parse", "no JSON object or array"),
    ("apostrophe_in_single_quotes", "{'text': 'it's broken'}", "parse", "not repaired"),
    ("bad_unicode_escape", '{"a": "\\uZZZZ"}', "parse", "not repaired"),
    ("lone_surrogate", '{"a": "\\ud800"}', "parse", "not repaired"),
    ("hex_number", '{"a": 0x10}', "parse", "not repaired"),
    ("leading_zeros", '{"a": 007}', "parse", "leading zeros"),
    ("plus_sign", '{"a": +1}', "parse", "not repaired"),
    ("bare_fraction", '{"a": .5}', "parse", "not repaired"),
    ("numeric_key", "{1: 'a'}", "parse", "expected an object key"),
    ("too_deep_default", "[" * 200 + "]" * 200, "limit", "max_depth=128"),
    ("too_deep_truncated", "[" * 5000, "limit", "max_depth=128"),
]

LIMIT_FAILURES = [
    ("too_large", '{"text": "' + "x" * 100 + '"}', {"max_input_bytes": 50, "max_depth": 128}, "limit", "max_input_bytes=50"),
    ("too_large_after_repair_needed", "{'text': '" + "x" * 100 + "'}", {"max_input_bytes": 50, "max_depth": 128}, "limit", "max_input_bytes=50"),
    ("too_deep_custom", '{"a": {"b": {"c": {"d": 1}}}}', {"max_input_bytes": 1000, "max_depth": 3}, "limit", "max_depth=3"),
    ("too_deep_custom_repair", "{a: {b: {c: {d: 1,},},},}", {"max_input_bytes": 1000, "max_depth": 3}, "limit", "max_depth=3"),
]

HAND_OK = [
    ("single_quoted_value_cut", "{\"a\": 'unterminated", {"a": "unterminated"}, ["single_quotes", "truncated"]),
    ("smart_inside_double_is_content", '{"q": "“fine” it’s"}', {"q": "“fine” it’s"}, []),
    ("mixed_smart_keys", "{“a”: 1, \"b\": “two”}", {"a": 1, "b": "two"}, ["smart_quotes", "smart_quotes", "smart_quotes"]),
    ("escaped_apostrophe_in_double", '{"a": "it\\\'s"}', {"a": "it's"}, ["invalid_escape"]),
    ("hash_comment", '{\n  # a comment\n  "a": 1\n}', {"a": 1}, ["comment"]),
    ("block_comment_unclosed_at_end", '{"a": 1} /* trailing', {"a": 1}, ["comment"]),
    ("literal_cut_true", '{"ok": tr', {"ok": True}, ["truncated"]),
    ("literal_cut_none", "{'v': No", {"v": None}, ["single_quotes", "truncated", "python_literal"]),
    ("cut_after_backslash", '{"a": "x\\', {"a": "x"}, ["truncated"]),
    ("cut_inside_unicode_escape", '{"a": "x\\u00', {"a": "x"}, ["truncated"]),
    ("cut_empty_object", '{"a": {', {"a": {}}, ["truncated"]),
    ("cut_nested_arrays", "[[1, [2, [3, ", [[1, [2, [3]]]], ["truncated"]),
    ("tabs_and_cr", '{"a": "x\ty\r\nz"}', {"a": "x\ty\r\nz"}, ["unescaped_newline"]),
    ("control_char", '{"a": "bell\x07"}', {"a": "bell\x07"}, ["unescaped_newline"]),
    ("trailing_comma_nested", '{"a": [1, 2, [3,],], "b": {"c": 1,},}', {"a": [1, 2, [3]], "b": {"c": 1}}, ["trailing_comma"]),
    ("python_dict_repr", "{'name': 'Ada', 'ok': True, 'boss': None, 'tags': ['x', 'y']}", {"name": "Ada", "ok": True, "boss": None, "tags": ["x", "y"]}, ["single_quotes", "python_literal"]),
    ("js_object_literal", "{name: 'Ada', age: 36, tags: ['x',],}", {"name": "Ada", "age": 36, "tags": ["x"]}, ["unquoted_key", "single_quotes", "trailing_comma"]),
    ("missing_comma_objects", '[{"a": 1} {"b": 2}]', [{"a": 1}, {"b": 2}], ["missing_comma"]),
    ("missing_comma_lines", '{\n  "a": "x"\n  "b": "y"\n}', {"a": "x", "b": "y"}, ["missing_comma"]),
    ("valid_untouched", '{"a": [1, 2.5, "x"], "b": null}', {"a": [1, 2.5, "x"], "b": None}, []),
    ("valid_scalar", "42", 42, []),
    ("mock_server_malformed", '```json\n{"answer":"Mock answer to: hi","confidence":0.87,\n}\n```', {"answer": "Mock answer to: hi", "confidence": 0.87}, ["extracted_json", "trailing_comma", "extracted_json"]),
    ("regex_escape", '{"pattern": "^\\d{3}-\\w+$"}', {"pattern": "^\\d{3}-\\w+$"}, ["invalid_escape"]),
    ("deep_ok_127", "[" * 127 + "]" * 127, None, []),
]


def main() -> None:
    rng = random.Random(8)
    os.makedirs(OUT, exist_ok=True)
    files: dict[str, list[dict]] = {}

    for style in STYLES:
        cases = files.setdefault(style, [])
        for name, base in BASES.items():
            # The huge documents once each (compact) for a few kinds, to keep the corpus small in git.
            if name.startswith("huge") and style not in ("trailing_comma", "single_quotes", "unescaped_newline", "python_literal"):
                continue
            for pretty in ((False,) if name.startswith("huge") else (False, True)):
                text, fired, expect = styled(base, {style}, pretty)
                if not fired:
                    continue
                cases.append({"name": f"{style}/{name}/{'pretty' if pretty else 'compact'}", "input": text, "expect": expect, "repairs": sorted(fired)})

    combos = files.setdefault("combined", [])
    for i in range(40):
        name = rng.choice([n for n in BASES if not n.startswith("huge")])
        styles = set(rng.sample([s for s in STYLES if s not in ("single_quotes", "smart_quotes")], 2))
        styles.add(rng.choice(["single_quotes", "smart_quotes", "trailing_comma"]))
        pretty = rng.random() < 0.5
        text, fired, expect = styled(BASES[name], styles, pretty)
        wrap_name, wrap, wrap_kinds = rng.choice(WRAPS)
        combos.append({
            "name": f"combined/{i}/{name}/{'+'.join(sorted(styles))}/{wrap_name}",
            "input": wrap.replace("{}", text, 1),
            "expect": expect,
            "repairs": sorted(fired | set(wrap_kinds)),
        })

    wrapped = files.setdefault("extracted_json", [])
    for wrap_name, wrap, kinds in WRAPS:
        for name in ("person", "rows", "unicode", "answer"):
            wrapped.append({"name": f"extracted_json/{wrap_name}/{name}", "input": wrap.replace("{}", json.dumps(BASES[name], ensure_ascii=False, indent=2), 1), "expect": BASES[name], "repairs": sorted(set(kinds))})

    trunc = files.setdefault("truncated", [])
    for name in ("person", "order", "unicode", "rows", "answer", "escapes", "huge", "deep_object"):
        trunc.extend(truncations(name, BASES[name], rng, 1 if name == "huge" else 2))

    fails = files.setdefault("failures", [])
    for name, text, kind, contains in FAILURES:
        fails.append({"name": f"failure/{name}", "input": text, "fail": kind, "contains": contains})
    for name, text, limits, kind, contains in LIMIT_FAILURES:
        fails.append({"name": f"failure/{name}", "input": text, "limits": limits, "fail": kind, "contains": contains})

    hand = files.setdefault("hand", [])
    for name, text, expect, kinds in HAND_OK:
        if name == "deep_ok_127":
            expect = json.loads(text)
        hand.append({"name": f"hand/{name}", "input": text, "expect": expect, "repairs": sorted(set(kinds))})

    total = 0
    for fname, cases in files.items():
        with open(os.path.join(OUT, fname + ".jsonl"), "w", encoding="utf-8") as f:
            for c in cases:
                f.write(json.dumps(c, ensure_ascii=False) + "\n")
        total += len(cases)
        print(f"{fname}: {len(cases)}")
    print(f"total: {total}")


if __name__ == "__main__":
    main()
