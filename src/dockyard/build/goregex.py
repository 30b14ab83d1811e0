"""Translate the regular expressions that moby/patternmatcher builds (Go RE2 syntax) to Python's `re`.

patternmatcher turns a .dockerignore pattern into a Go regexp, passing `[...]` classes and
`\\x` escapes through untouched, so a pattern means whatever RE2 makes of them. This module
reads that subset of RE2 and writes the Python equivalent: `\\Q...\\E` literals, POSIX
`[:alpha:]` classes, ASCII-only `\\d \\w \\s`, octal and hex escapes, `$` as end of text.
Unicode classes (`\\p{Greek}`) have no `re` equivalent and are reported as a bad pattern.
"""

from __future__ import annotations

import re
import warnings

from dockyard.build.gopath import BadPattern

__all__ = ["translate", "compile_go_regex"]

_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z",
    "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z",
    "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}
# Perl classes as class items (RE2's \s has no \v).
_PERL_ITEMS = {"d": "0-9", "w": "0-9A-Za-z_", "s": "\\t\\n\\f\\r "}
_SIMPLE_ESCAPES = {"a": "\a", "f": "\f", "t": "\t", "n": "\n", "r": "\r", "v": "\v"}
_OCTAL = "01234567"
_HEX = "0123456789abcdefABCDEF"


def compile_go_regex(go_regex: str) -> re.Pattern[str]:
    """Compile a Go regexp (as patternmatcher writes them) to a Python pattern; BadPattern if invalid."""
    python = translate(go_regex)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # "possible nested set" and friends
            return re.compile(python, re.ASCII)
    except re.error:
        raise BadPattern() from None


def translate(go_regex: str) -> str:
    out: list[str] = []
    i = 0
    n = len(go_regex)
    while i < n:
        ch = go_regex[i]
        if ch == "\\":
            if i + 1 < n and go_regex[i + 1] == "Q":
                end = go_regex.find("\\E", i + 2)
                literal = go_regex[i + 2:] if end < 0 else go_regex[i + 2:end]
                out.append(re.escape(literal))
                i = n if end < 0 else end + 2
                continue
            text, i = _escape(go_regex, i + 1, in_class=False)
            out.append(text)
        elif ch == "[":
            text, i = _class(go_regex, i + 1)
            out.append(text)
        elif ch == "$":
            out.append(r"\Z")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _escape(s: str, i: int, *, in_class: bool) -> tuple[str, int]:
    """The escape whose letter is at s[i] (after the backslash): (python text, next index)."""
    if i >= len(s):
        raise BadPattern()
    c = s[i]
    i += 1
    if c.isascii() and not c.isalnum():
        return re.escape(c), i
    if c in _SIMPLE_ESCAPES:
        return re.escape(_SIMPLE_ESCAPES[c]), i
    if c in _PERL_ITEMS:
        if in_class:
            return _PERL_ITEMS[c], i
        return ("[" + _PERL_ITEMS[c] + "]") if c == "s" else "\\" + c, i
    if c in "DW" and not in_class:
        return "\\" + c, i
    if c == "S" and not in_class:
        return "[^" + _PERL_ITEMS["s"] + "]", i
    if not in_class and c in "bBA":
        return "\\" + c, i
    if not in_class and c == "z":
        return r"\Z", i
    if c in _OCTAL:
        # One non-zero digit alone would be a backreference, which RE2 refuses.
        if c != "0" and (i >= len(s) or s[i] not in _OCTAL):
            raise BadPattern()
        value = int(c)
        for _ in range(2):
            if i < len(s) and s[i] in _OCTAL:
                value = value * 8 + int(s[i])
                i += 1
        return re.escape(chr(value)), i
    if c == "x":
        return _hex_escape(s, i)
    raise BadPattern()  # \p{...}, \C, stray \E, letters RE2 does not know


def _hex_escape(s: str, i: int) -> tuple[str, int]:
    if i < len(s) and s[i] == "{":
        end = s.find("}", i + 1)
        digits = s[i + 1:end] if end > 0 else ""
        if not digits or any(d not in _HEX for d in digits) or int(digits, 16) > 0x10FFFF:
            raise BadPattern()
        return re.escape(chr(int(digits, 16))), end + 1
    digits = s[i:i + 2]
    if len(digits) != 2 or any(d not in _HEX for d in digits):
        raise BadPattern()
    return re.escape(chr(int(digits, 16))), i + 2


def _class(s: str, i: int) -> tuple[str, int]:
    """An RE2 character class whose `[` is just before s[i]: (python class, index after `]`)."""
    negated = i < len(s) and s[i] == "^"
    if negated:
        i += 1
    items: list[str] = []
    first = True  # "]" right after "[" or "[^" is a literal
    while True:
        if i >= len(s):
            raise BadPattern()  # missing closing ]
        if s[i] == "]" and not first:
            i += 1
            break
        first = False
        if s.startswith("[:", i):
            end = s.find(":]", i + 2)
            if end >= 0:
                name = s[i + 2:end]
                if name.startswith("^") or name not in _POSIX:
                    raise BadPattern()  # negated named classes cannot nest in a Python class
                items.append(_POSIX[name])
                i = end + 2
                continue
        if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in _PERL_ITEMS:
            items.append(_PERL_ITEMS[s[i + 1]])
            i += 2
            continue
        lo, i = _class_char(s, i)
        if i + 1 < len(s) and s[i] == "-" and s[i + 1] != "]":
            hi, i = _class_char(s, i + 1)
            if hi < lo:
                raise BadPattern()
            items.append(re.escape(lo) + "-" + re.escape(hi))
        else:
            items.append(re.escape(lo))
    return "[" + ("^" if negated else "") + "".join(items) + "]", i


def _class_char(s: str, i: int) -> tuple[str, int]:
    """A single character of a class (possibly escaped) as the character itself."""
    if i >= len(s):
        raise BadPattern()
    if s[i] != "\\":
        return s[i], i + 1
    i += 1
    if i >= len(s):
        raise BadPattern()
    c = s[i]
    if c.isascii() and not c.isalnum():
        return c, i + 1
    if c in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[c], i + 1
    text, j = _escape(s, i, in_class=True)
    # octal/hex escapes come back escaped for re; undo that to get the character
    unescaped = re.sub(r"\\(.)", r"\1", text, flags=re.S)
    if len(unescaped) != 1:
        raise BadPattern()
    return unescaped, j
