"""Broken JSON the way models break it, for the differential repair tests.

Each case starts from a known value, serialises it in a broken style (single or smart quotes, unquoted
keys or values, Python literals, comments, trailing or missing commas, raw newlines, unescaped quotes,
a missing closing quote, markdown fences and prose around it) and may cut it off. Because the value is
known, what the text *means* is known: the value itself, or, for a cut-off text, any "prefix" of it
(see `is_prefix`). A case marked `ambiguous` admits two readings (two fenced blocks, a comment that
hides the rest of the line): safe mode must refuse it. Seeded and deterministic.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any, Callable, List

WORDS = (
    "alpha beta gamma delta report summary customer order invoice total status pending shipped "
    "refund Paris Tokyo Berlin model answer reason score label category note value item"
).split()
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Order #4521 shipped on 2024-03-01, arriving soon.",
    "It's fine: nothing to report.",
    "Use a comma, then a colon: like this.",
    "価格は1200円です。",
    "Naïve café crème — déjà vu.",
    "Path C:\\temp\\new",
    "Line one\nLine two",
    'She said "yes" twice',
    "{not json} [just text]",
    "emoji 😀 ok",
    "50% off, 3 for 2",
]
PLAIN_WORDS = re.compile(r"^[A-Za-z][A-Za-z ]*[A-Za-z]$")
LITERAL_WORDS = {"true", "false", "null", "True", "False", "None"}


def random_value(rng: random.Random, depth: int) -> Any:
    r = rng.random()
    if depth >= 3 or r < 0.55:
        kind = rng.choice(["word", "words", "sentence", "int", "float", "bool", "null", "neg"])
        if kind == "word":
            return rng.choice(WORDS)
        if kind == "words":
            return " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 4)))
        if kind == "sentence":
            return rng.choice(SENTENCES)
        if kind == "int":
            return rng.randint(0, 100000)
        if kind == "neg":
            return -rng.randint(1, 999)
        if kind == "float":
            return round(rng.uniform(-1000, 1000), rng.randint(1, 4))
        if kind == "bool":
            return rng.random() < 0.5
        return None
    if r < 0.75:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return random_object(rng, depth + 1)


def random_object(rng: random.Random, depth: int) -> dict:
    keys = rng.sample(
        ["name", "id", "items", "total", "status", "reason", "score", "tags", "meta", "user_id", "note", "answer", "created_at"],
        rng.randint(1, 5),
    )
    return {k: random_value(rng, depth) for k in keys}


@dataclass
class Style:
    """How a value is written. Every flag is one way models break JSON."""

    indent: bool = False
    single_quotes: bool = False
    smart_quotes: bool = False
    unquoted_keys: bool = False
    unquoted_values: bool = False
    python_literals: bool = False
    trailing_commas: bool = False
    line_comments: bool = False
    block_comments: bool = False
    missing_commas: bool = False
    raw_newlines: bool = False
    unescaped_quotes: bool = False
    used: List[str] = field(default_factory=list)

    def mark(self, what: str) -> None:
        if what not in self.used:
            self.used.append(what)


def _string(s: str, st: Style, is_key: bool) -> str:
    if is_key and st.unquoted_keys and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", s):
        st.mark("unquoted_key")
        return s
    if not is_key and st.unquoted_values and PLAIN_WORDS.match(s) and s not in LITERAL_WORDS:
        st.mark("unquoted_value")
        return s
    if st.smart_quotes and not any(c in s for c in "“”‘’\"\\\n"):
        st.mark("smart_quotes")
        return "“" + s + "”"
    if st.single_quotes and "\\" not in s and "\n" not in s:
        st.mark("single_quotes")
        return "'" + s.replace("'", "\\'") + "'"
    # Newlines and quotes go through as placeholders, so only they (not a `\\n` in a Windows
    # path) are written raw.
    raw_nl = st.raw_newlines and "\n" in s
    raw_q = st.unescaped_quotes and '"' in s
    t = s.replace("\n", "\x01") if raw_nl else s
    t = t.replace('"', "\x02") if raw_q else t
    body = json.dumps(t, ensure_ascii=False)[1:-1]
    if raw_nl:
        st.mark("raw_newline")
        body = body.replace("\\u0001", "\n")
    if raw_q:
        st.mark("unescaped_quote")
        body = body.replace("\\u0002", '"')
    return '"' + body + '"'


def _scalar(v: Any, st: Style) -> str:
    if v is None or isinstance(v, bool):
        text = json.dumps(v)
        if st.python_literals:
            st.mark("python_literal")
            return {"true": "True", "false": "False", "null": "None"}[text]
        return text
    if isinstance(v, (int, float)):
        return json.dumps(v)
    return _string(v, st, False)


def serialise(v: Any, st: Style, rng: random.Random, level: int = 0) -> str:
    if not isinstance(v, (dict, list)):
        return _scalar(v, st)
    pad = "\n" + "  " * (level + 1) if st.indent else ""
    end_pad = "\n" + "  " * level if st.indent else ""
    if isinstance(v, dict):
        parts = [_string(k, st, True) + ": " + serialise(x, st, rng, level + 1) for k, x in v.items()]
        opener, closer = "{", "}"
    else:
        parts = [serialise(x, st, rng, level + 1) for x in v]
        opener, closer = "[", "]"
    if not parts:
        return opener + closer
    out = opener
    for i, p in enumerate(parts):
        out += (pad or (" " if i else "")) + p
        last = i == len(parts) - 1
        if not last:
            if st.missing_commas and st.indent and rng.random() < 0.5:
                st.mark("missing_comma")
            else:
                out += ","
        elif st.trailing_commas and rng.random() < 0.6:
            st.mark("trailing_comma")
            out += ","
        if st.line_comments and st.indent and rng.random() < 0.3:
            st.mark("line_comment")
            out += rng.choice(["  // see above", "  # note", "  // it's: [done], {ok}"])
        if st.block_comments and rng.random() < 0.2:
            st.mark("block_comment")
            out += " /* checked */"
    return out + end_pad + closer


PROSE_BEFORE = [
    "Here is the JSON you asked for:\n",
    "Sure! ",
    "Based on the document, the result is ",
    "Answer:\n\n",
]
PROSE_AFTER = ["\n\nLet me know if you need anything else.", " Hope this helps!", "\nThat's all."]


@dataclass
class Case:
    name: str
    text: str
    value: Any
    truncated: bool = False
    # Where the second reading starts (a second value, a comment hiding the rest): a case cut off
    # before it has one reading.
    ambiguous_from: int | None = None

    @property
    def ambiguous(self) -> bool:
        return self.ambiguous_from is not None and len(self.text) > self.ambiguous_from


def _drop_closing_quote(text: str, rng: random.Random) -> str | None:
    """Drops the closing quote of a string value that ends before `,` or a closing bracket."""
    spots = [m.start() for m in re.finditer(r'(?<!\\)"(?=\s*[,}\]])', text)]
    # Only the ends of value strings (a key's quote is followed by ':').
    if not spots:
        return None
    at = rng.choice(spots)
    return text[:at] + text[at + 1 :]


def _cut(text: str, rng: random.Random) -> str:
    lo = 1 if text.lstrip()[:1] in "{[" else 0
    return text[: rng.randint(lo + 1, max(lo + 1, len(text) - 1))]


def make_case(rng: random.Random, i: int) -> Case:
    value: Any = random_object(rng, 0) if rng.random() < 0.8 else [random_value(rng, 1) for _ in range(rng.randint(1, 5))]
    st = Style(indent=rng.random() < 0.5)
    flags = [
        "single_quotes",
        "smart_quotes",
        "unquoted_keys",
        "unquoted_values",
        "python_literals",
        "trailing_commas",
        "line_comments",
        "block_comments",
        "missing_commas",
        "raw_newlines",
        "unescaped_quotes",
    ]
    for f in rng.sample(flags, rng.choice([0, 1, 1, 1, 2, 2, 3])):
        setattr(st, f, True)
    text = serialise(value, st, rng)
    kinds = list(st.used)
    case = Case("", text, value)
    r = rng.random()
    if r < 0.12:
        dropped = _drop_closing_quote(case.text, rng)
        if dropped is not None:
            case.text = dropped
            kinds.append("missing_quote")
    wrap = rng.random()
    if wrap < 0.2:
        case.text = "```json\n" + case.text + "\n```"
        kinds.append("fence")
    elif wrap < 0.3:
        case.text = rng.choice(PROSE_BEFORE) + "```json\n" + case.text + "\n```" + rng.choice(PROSE_AFTER)
        kinds.append("fence_prose")
    elif wrap < 0.4:
        case.text = rng.choice(PROSE_BEFORE) + case.text + rng.choice(PROSE_AFTER)
        kinds.append("prose")
    elif wrap < 0.44:
        second = random_object(rng, 1)
        first = "```json\n" + case.text + "\n```\nor\n```json\n"
        case.text = first + json.dumps(second) + "\n```"
        case.ambiguous_from = len(first)
        kinds.append("two_fences")
    elif wrap < 0.47:
        case.text = case.text + ","
        kinds.append("top_trailing_comma")
    elif wrap < 0.5 and isinstance(value, dict) and len(value) >= 2:
        # A `#` or `//` comment after the first member, then the rest of the object on that line.
        items = [json.dumps(k) + ": " + json.dumps(v, ensure_ascii=False) for k, v in value.items()]
        first = "{" + items[0] + ","
        case.text = first + rng.choice([" # first part ", " // first part "]) + ", ".join(items[1:]) + "}"
        case.ambiguous_from = len(first)
        kinds.append("comment_hides_rest")
    if rng.random() < 0.3:
        case.text = _cut(case.text, rng)
        case.truncated = True
        kinds.append("cut")
    elif rng.random() < 0.08 and case.text.rstrip().endswith(("}", "]")):
        case.text = case.text.rstrip()[:-1]
        case.truncated = True
        kinds.append("missing_closer")
    case.name = f"{i:05d}:" + "+".join(kinds or ["valid"])
    return case


def corpus(n: int = 2400, seed: int = 20261207) -> List[Case]:
    rng = random.Random(seed)
    return [make_case(rng, i) for i in range(n)]


def is_prefix(got: Any, want: Any) -> bool:
    """Whether `got` is what a cut-off text of `want` says: equal, or (arrays and objects) its first
    elements equal with the last a prefix, or a string's leading characters. Numbers and literals
    must be whole (a cut-off number may be missing digits)."""
    if got == want and type(got) is type(want):
        return True
    if isinstance(want, str) and isinstance(got, str):
        return want.startswith(got)
    if isinstance(want, list) and isinstance(got, list):
        if len(got) > len(want):
            return False
        return all(a == b for a, b in zip(got[:-1], want)) and (not got or is_prefix(got[-1], want[len(got) - 1]))
    if isinstance(want, dict) and isinstance(got, dict):
        gk, wk = list(got), list(want)
        if gk != wk[: len(gk)]:
            return False
        if not gk:
            return True
        return all(got[k] == want[k] for k in gk[:-1]) and is_prefix(got[gk[-1]], want[gk[-1]])
    return False


def same(a: Any, b: Any) -> bool:
    """JSON equality that tells 1 from true and keeps key order out of it."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


Check = Callable[[Case], bool]
