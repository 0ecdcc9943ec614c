"""Java regular expressions, as AWS's service models write them, in Python's dialect.

The ``pattern`` of a shape in botocore's models is a ``java.util.regex`` pattern (the
services validate with Java). Most are valid Python as they stand; these constructs are
not, or mean something else, and are translated:

- ``\\p{…}`` / ``\\P{…}``: the POSIX classes (``ASCII``, ``Print``, ``Alnum`` …, ASCII
  only as in Java), Unicode general categories (``L``, ``Lu``, ``N``, ``Z`` …, also
  ``IsL`` and ``general_category=L``) and the one-letter form ``\\pL``;
- ``\\z`` (end of input) → ``\\Z``; Java's ``\\Z`` (before a final line terminator) →
  ``(?=(?:\\r\\n|[\\n\\r\\x85\\u2028\\u2029])?\\Z)``; ``\\Q…\\E`` quoting;
- ``\\x{h…h}`` and surrogate pairs written as two ``\\uXXXX`` escapes → one code point;
- ``.`` excludes every Java line terminator, not only ``\\n``;
- ``-`` right after a class escape inside ``[…]`` is a literal (``[\\w-_]``);
- a quantifier on an anchor (``${1,128}``) is dropped (the anchor stays when the
  quantifier's minimum is at least one);
- ``(?<name>…)`` named groups → ``(?P<name>…)``.

Possessive quantifiers and atomic groups are Python's own since 3.11. The result is
meant for ``re.compile(…, re.ASCII)``: Java's ``\\w``, ``\\d``, ``\\s`` and ``\\b`` are
ASCII-only. What cannot be translated (class intersections ``&&``, nested classes,
scripts and blocks) raises :class:`UntranslatablePattern`.
"""

from __future__ import annotations

import itertools
import re
import sys
import unicodedata
from functools import lru_cache


class UntranslatablePattern(ValueError):
    """The pattern uses a Java construct with no Python equivalent here."""


_POSIX = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7f",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": "!-/:-@\\[-`{-~",
    "Graph": "!-~",
    "Print": " -~",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1f\\x7f",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0b\\f\\r",
}
_LINE_TERMINATORS = "\\n\\r\\x85\\u2028\\u2029"
_ANCHORS = ("^", "$", "\\A", "\\z", "\\Z", "\\b", "\\B", "\\G")
_QUANTIFIER = re.compile(r"(?:[*+?]|\{(\d*)(?:,\d*)?\})[?+]?")


@lru_cache(maxsize=1)
def _categories() -> dict[str, str]:
    """Every Unicode general category as the inside of a character class (one pass
    over the code points, done once and only if a pattern needs it)."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    start = 0
    for category, group in itertools.groupby(
        map(unicodedata.category, map(chr, range(sys.maxunicode + 1)))
    ):
        size = sum(1 for _ in group)
        ranges.setdefault(category, []).append((start, start + size - 1))
        start += size
    text = {name: "".join(_span(a, b) for a, b in spans) for name, spans in ranges.items()}
    for letter in "LMNPSZC":
        text[letter] = "".join(v for k, v in sorted(text.items()) if k.startswith(letter))
    text["LC"] = text["Lu"] + text["Ll"] + text["Lt"]
    return text


def _span(first: int, last: int) -> str:
    return _char(first) if first == last else f"{_char(first)}-{_char(last)}"


def _char(code: int) -> str:
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def _property(name: str) -> str:
    """The inside of a character class for ``\\p{name}``."""
    if name in _POSIX:
        return _POSIX[name]
    for prefix in ("Is", "general_category=", "gc="):
        if name.startswith(prefix) and name[len(prefix) :] in _categories():
            name = name[len(prefix) :]
    categories = _categories()
    if name in categories:
        return categories[name]
    raise UntranslatablePattern(f"\\p{{{name}}} is not supported")


def _read_property(pattern: str, i: int) -> tuple[str, int]:
    """The property name of ``\\p`` whose letter is at ``i``, and the index after it."""
    if i + 1 < len(pattern) and pattern[i + 1] == "{":
        end = pattern.find("}", i + 2)
        if end < 0:
            raise UntranslatablePattern("unterminated \\p{")
        return pattern[i + 2 : end], end + 1
    return pattern[i + 1 : i + 2], i + 2


def _read_hex_escape(pattern: str, i: int) -> tuple[int, int] | None:
    """A ``\\uXXXX`` at ``i`` (the backslash): its code unit and the index after it."""
    if pattern.startswith("\\u", i) and re.fullmatch(r"[0-9a-fA-F]{4}", pattern[i + 2 : i + 6]):
        return int(pattern[i + 2 : i + 6], 16), i + 6
    return None


def to_python(pattern: str) -> str:
    """``pattern`` (Java syntax) as an equivalent Python pattern, for ``re.ASCII``.

    Raises:
        UntranslatablePattern: a construct with no translation.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    class_start = False  # right after '[' or '[^' (a ']' there is a literal)
    after_class_escape = False  # the last class item was \w, \p{…} … (a '-' is literal)
    while i < n:
        c = pattern[i]
        escape_item = False
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            unit = _read_hex_escape(pattern, i)
            if unit is not None:
                code, j = unit
                low = _read_hex_escape(pattern, j)
                if 0xD800 <= code <= 0xDBFF and low and 0xDC00 <= low[0] <= 0xDFFF:
                    code = 0x10000 + ((code - 0xD800) << 10) + (low[0] - 0xDC00)
                    j = low[1]
                out.append(_char(code))
                i = j
            elif nxt == "x" and i + 2 < n and pattern[i + 2] == "{":
                end = pattern.find("}", i + 3)
                if end < 0:
                    raise UntranslatablePattern("unterminated \\x{")
                out.append(_char(int(pattern[i + 3 : end], 16)))
                i = end + 1
            elif nxt in "pP":
                name, j = _read_property(pattern, i + 1)
                body = _property(name)
                if in_class:
                    if nxt == "P":
                        raise UntranslatablePattern("\\P{…} inside a character class")
                    out.append(body)
                    escape_item = True
                else:
                    out.append(f"[{'^' if nxt == 'P' else ''}{body}]")
                i = j
            elif nxt == "Q":
                end = pattern.find("\\E", i + 2)
                end = n if end < 0 else end
                literal = pattern[i + 2 : end]
                out.append(
                    "".join(_char(ord(ch)) for ch in literal) if in_class else re.escape(literal)
                )
                i = end + 2
            elif nxt == "z" and not in_class:
                out.append("\\Z")
                i = _skip_anchor_quantifier(pattern, i + 2, out)
            elif nxt == "Z" and not in_class:
                out.append(f"(?=(?:\\r\\n|[{_LINE_TERMINATORS}])?\\Z)")
                i = _skip_anchor_quantifier(pattern, i + 2, out)
            elif nxt in "AbBG" and not in_class:
                if nxt == "G":
                    raise UntranslatablePattern("\\G is not supported")
                out.append(pattern[i : i + 2])
                i = _skip_anchor_quantifier(pattern, i + 2, out)
            else:
                out.append(pattern[i : i + 2])
                escape_item = in_class and nxt in "wWdDsS"
                i += 2
        elif in_class:
            if c == "[":
                raise UntranslatablePattern("nested character classes are not supported")
            if c == "&" and pattern.startswith("&&", i):
                raise UntranslatablePattern("character class intersection (&&) is not supported")
            if c == "]" and not class_start:
                in_class = False
                out.append(c)
            elif c == "-" and after_class_escape and i + 1 < n and pattern[i + 1] != "]":
                out.append("\\-")
            else:
                out.append(c)
            i += 1
        elif c == "[":
            in_class, class_start = True, True
            out.append(c)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            after_class_escape = False
            continue
        elif c == ".":
            out.append(f"[^{_LINE_TERMINATORS}]")
            i += 1
        elif c in "^$":
            out.append(c)
            i = _skip_anchor_quantifier(pattern, i + 1, out)
        elif c == "(" and pattern.startswith("(?<", i) and i + 3 < n and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
        else:
            out.append(c)
            i += 1
        class_start = False
        after_class_escape = escape_item
    if in_class:
        raise UntranslatablePattern("unterminated character class")
    return "".join(out)


def _skip_anchor_quantifier(pattern: str, i: int, out: list[str]) -> int:
    """A quantifier after an anchor repeats nothing: drop it, and drop the anchor too
    when the quantifier allows zero repetitions."""
    match = _QUANTIFIER.match(pattern, i)
    if match is None:
        return i
    text = match.group(0)
    minimum = 0 if text[0] in "*?" else 1 if text[0] == "+" else int(match.group(1) or 0)
    if minimum == 0:
        out.pop()
    return match.end()


@lru_cache(maxsize=4096)
def compile_java(pattern: str) -> re.Pattern | None:
    """``pattern`` compiled with Java's meaning, or None if it cannot be (a construct
    with no translation): such a constraint is left to the service's own checks."""
    try:
        return re.compile(to_python(pattern), re.ASCII)
    except (UntranslatablePattern, re.error, ValueError):
        return None
