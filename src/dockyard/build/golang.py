"""Go standard-library behaviours the Dockerfile frontend's messages and rules depend on.

Docker's frontend is Go; its error texts embed Go's quoting (`%q`), Go's duration
parser decides which HEALTHCHECK intervals are valid, and Go's notion of white space
decides where words split. These are re-implemented here from their documented
behaviour so that dockyard accepts, refuses and words things the same way.
"""

from __future__ import annotations

import unicodedata

__all__ = ["go_quote", "is_space", "is_space_byte", "trim_space", "trim_left_space", "go_lower",
           "go_upper", "equal_fold", "is_letter", "is_digit", "parse_duration", "parse_int32", "suggest"]

# unicode.IsSpace: Latin-1 spaces plus the White_Space property (no \x1c-\x1f, unlike str.isspace).
_SPACES = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
                    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
# unicode.IsSpace(rune(b)) applied to single bytes, as some of buildkit's loops do.
_SPACE_BYTES = frozenset(b"\t\n\v\f\r \x85\xa0")


def is_space(ch: str) -> bool:
    return ch in _SPACES


def is_space_byte(b: int) -> bool:
    return b in _SPACE_BYTES


def is_letter(ch: str) -> bool:
    """unicode.IsLetter."""
    return unicodedata.category(ch).startswith("L")


def is_digit(ch: str) -> bool:
    """unicode.IsDigit (decimal digits of any script, not "²")."""
    return unicodedata.category(ch) == "Nd"


def trim_space(s: str) -> str:
    """strings.TrimSpace."""
    start, end = 0, len(s)
    while start < end and s[start] in _SPACES:
        start += 1
    while end > start and s[end - 1] in _SPACES:
        end -= 1
    return s[start:end]


def trim_left_space(s: str) -> str:
    i = 0
    while i < len(s) and s[i] in _SPACES:
        i += 1
    return s[i:]


def go_lower(s: str) -> str:
    """strings.ToLower: Go maps one character to one (Python's "İ".lower() is two)."""
    if s.isascii():
        return s.lower()
    return "".join(_one(c, c.lower(), "i" if c == "\u0130" else c) for c in s)


def go_upper(s: str) -> str:
    """strings.ToUpper: characters without a one-to-one upper case stay as they are ("ß")."""
    if s.isascii():
        return s.upper()
    return "".join(_one(c, c.upper(), c) for c in s)


def _one(c: str, mapped: str, fallback: str) -> str:
    return mapped if len(mapped) == 1 else fallback


def equal_fold(a: str, b: str) -> bool:
    """strings.EqualFold (simple case folding, so "ſ" matches "s" but "ß" never matches "ss")."""
    return len(a) == len(b) and all(x == y or _one(x, x.casefold(), x) == _one(y, y.casefold(), y)
                                    for x, y in zip(a, b, strict=True))


_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(s: str) -> str:
    """strconv.Quote (what fmt's %q and %#v print for a string)."""
    out = ['"']
    for ch in s:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        else:
            code = ord(ch)
            if code < 0x20 or code == 0x7F:
                out.append(f"\\x{code:02x}")
            elif 0xD800 <= code <= 0xDFFF:
                out.append("\\ufffd")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _time_quote(s: str) -> str:
    """time's own quote(): non-ASCII and control characters as \\x bytes."""
    out = ['"']
    for ch in s:
        if ord(ch) >= 0x80 or ch < " ":
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogatepass"))
        else:
            out.append("\\" + ch if ch in ('"', "\\") else ch)
    out.append('"')
    return "".join(out)


_UNITS = {b"ns": 1, b"us": 1_000, "µs".encode(): 1_000, "μs".encode(): 1_000, b"ms": 1_000_000,
          b"s": 1_000_000_000, b"m": 60_000_000_000, b"h": 3_600_000_000_000}
_MAX = 1 << 63


def parse_duration(text: str) -> int:
    """time.ParseDuration, in nanoseconds; ValueError with Go's message when invalid."""
    invalid = ValueError("time: invalid duration " + _time_quote(text))
    s = text.encode("utf-8", "surrogatepass")
    neg = False
    if s[:1] in (b"-", b"+"):
        neg = s[:1] == b"-"
        s = s[1:]
    if s == b"0":
        return 0
    if not s:
        raise invalid
    total = 0
    while s:
        if not (s[:1] == b"." or s[:1].isdigit()):
            raise invalid
        i = 0
        value = 0
        while i < len(s) and 0x30 <= s[i] <= 0x39:
            if value > (_MAX - 1) // 10:
                raise invalid
            value = value * 10 + s[i] - 0x30
            if value > _MAX:
                raise invalid
            i += 1
        pre = i > 0
        s = s[i:]
        frac, scale, post = 0, 1.0, False
        if s[:1] == b".":
            s = s[1:]
            i, overflow = 0, False
            while i < len(s) and 0x30 <= s[i] <= 0x39:
                if not overflow:
                    if frac > (_MAX - 1) // 10:
                        overflow = True
                    else:
                        nxt = frac * 10 + s[i] - 0x30
                        if nxt > _MAX:
                            overflow = True
                        else:
                            frac, scale = nxt, scale * 10
                i += 1
            post = i > 0
            s = s[i:]
        if not pre and not post:
            raise invalid
        i = 0
        while i < len(s) and not (s[i] == 0x2E or 0x30 <= s[i] <= 0x39):
            i += 1
        if i == 0:
            raise ValueError("time: missing unit in duration " + _time_quote(text))
        unit_text, s = s[:i], s[i:]
        unit = _UNITS.get(unit_text)
        if unit is None:
            raise ValueError("time: unknown unit " + _time_quote(unit_text.decode("utf-8", "replace"))
                             + " in duration " + _time_quote(text))
        if value > _MAX // unit:
            raise invalid
        value *= unit
        if frac > 0:
            value += int(float(frac) * (float(unit) / scale))
            if value > _MAX:
                raise invalid
        total += value
        if total > _MAX:
            raise invalid
    if neg:
        return -total
    if total > _MAX - 1:
        raise invalid
    return total


def parse_int32(text: str) -> int:
    """strconv.ParseInt(text, 10, 32); ValueError with Go's message when invalid."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not all("0" <= c <= "9" for c in body):
        raise ValueError(f"strconv.ParseInt: parsing {go_quote(text)}: invalid syntax")
    value = int(text)
    if not -(1 << 31) <= value < (1 << 31):
        raise ValueError(f"strconv.ParseInt: parsing {go_quote(text)}: value out of range")
    return value


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _match_case(opt: str, orig: str) -> str:
    if orig == go_lower(orig):
        return go_lower(opt)
    if orig == go_upper(orig):
        return go_upper(opt)
    return opt


def suggest(message: str, value: str, options: list[str], case_sensitive: bool) -> str:
    """buildkit's suggest.WrapError: append " (did you mean X?)" for a close option (distance < 3)."""
    val = value if case_sensitive else go_lower(value)
    match, best = "", 3
    for opt in options:
        cand = opt if case_sensitive else go_lower(opt)
        if val == cand:
            return message  # an exact match means the error is about something else
        dist = _levenshtein(val, cand)
        if dist < best:
            match = cand if case_sensitive else _match_case(cand, value)
            best = dist
    return f"{message} (did you mean {match}?)" if match else message
