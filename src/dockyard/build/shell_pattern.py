"""Shell wildcard patterns of `${VAR#pat}`, `${VAR%pat}` and `${VAR/pat/repl}`, in linear time.

buildkit turns the pattern (`*`, `?`, `\\` escapes, no brackets) into a Go regular
expression: `*` is `.*` (or `.*?` for the shortest forms) and `?` is `.`, neither
matching a newline. Go's RE2 runs in linear time; Python's `re` backtracks and a
pattern like `*a*a*a*b` would stall the daemon. So patterns are run here as a small
NFA that gives the same leftmost-first results: for `#`/`%` the shortest or longest
matching prefix (suffix), for `/` the leftmost match, extended as far as it goes.
"""

from __future__ import annotations

from dockyard.build.golang import is_digit, is_letter

__all__ = ["PatternError", "compile_pattern", "trim_prefix", "trim_suffix", "replace_first", "replace_all"]

_STAR = object()
_ANY = object()
Token = object  # _STAR, _ANY or a one-character str


class PatternError(Exception):
    """An invalid pattern; worded as buildkit's ("invalid pattern (x) in substitution: ...")."""


def compile_pattern(pattern: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(pattern)
    while i < n:
        tok = pattern[i]
        i += 1
        if tok == "*":
            tokens.append(_STAR)
        elif tok == "?":
            tokens.append(_ANY)
        elif tok == "\\":
            nxt = pattern[i] if i < n else ""
            if nxt in ("}", "/") and nxt:
                continue  # escaped only for the ${} syntax; the character itself follows
            i += 1
            if nxt not in ("*", "?", "\\") or not nxt:
                shown = nxt or "\ufffd"
                raise PatternError(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{shown}'")
            tokens.append(nxt)
        else:
            tokens.append(tok)
    return tokens


def _closure(tokens: list[Token], state: int, out: dict[int, int], start: int) -> None:
    # a star may match nothing: reaching it also reaches what follows
    while True:
        if state in out and out[state] <= start:
            return
        out[state] = start
        if state < len(tokens) and tokens[state] is _STAR:
            state += 1
            continue
        return


def _step(tokens: list[Token], active: dict[int, int], ch: str) -> dict[int, int]:
    nxt: dict[int, int] = {}
    for state, start in active.items():
        if state == len(tokens):
            continue
        tok = tokens[state]
        if tok is _STAR:
            if ch != "\n":
                _closure(tokens, state, nxt, start)
        elif tok is _ANY:
            if ch != "\n":
                _closure(tokens, state + 1, nxt, start)
        elif tok == ch:
            _closure(tokens, state + 1, nxt, start)
    return nxt


def _prefix_end(tokens: list[Token], text: str, longest: bool) -> int | None:
    """Length of the shortest (longest) prefix of text the whole pattern matches."""
    active: dict[int, int] = {}
    _closure(tokens, 0, active, 0)
    found = None
    i = 0
    while active:
        if len(tokens) in active:
            found = i
            if not longest:
                return found
        if i == len(text):
            break
        active = _step(tokens, active, text[i])
        i += 1
    return found


def _search(tokens: list[Token], text: str, pos: int) -> tuple[int, int] | None:
    """The leftmost match at or after pos, as long as it goes (Go's leftmost-first with greedy stars)."""
    active: dict[int, int] = {}
    best: tuple[int, int] | None = None
    i = pos
    while True:
        if best is None:
            _closure(tokens, 0, active, i)  # a match may still begin here
        accept = active.get(len(tokens))
        if accept is not None and (best is None or accept < best[0] or (accept == best[0] and i > best[1])):
            best = (accept, i)
        if best is not None:
            active = {s: st for s, st in active.items() if st <= best[0]}
        if i == len(text) or not active:
            return best
        active = _step(tokens, active, text[i])
        i += 1


def trim_prefix(pattern: str, value: str, longest: bool) -> str:
    end = _prefix_end(compile_pattern(pattern), value, longest)
    return value if end is None else value[end:]


def reverse_pattern(pattern: str) -> str:
    """The pattern reversed, each `\\x` escape kept in front of the character it escapes."""
    out = [""] * len(pattern)
    last = len(pattern) - 1
    i = 0
    while i <= last:
        tok = pattern[i]
        j = last - i
        if tok == "\\" and i != last:
            out[j - 1] = tok
            out[j] = pattern[i + 1]
            i += 2
        else:
            out[j] = tok
            i += 1
    return "".join(out)


def trim_suffix(pattern: str, value: str, longest: bool) -> str:
    # the rightmost shortest/longest match is the leftmost one of the reversed pattern on the reversed value
    return trim_prefix(reverse_pattern(pattern), value[::-1], longest)[::-1]


def replace_first(pattern: str, value: str, replacement: str) -> str:
    found = _search(compile_pattern(pattern), value, 0)
    if found is None:
        return value
    return value[:found[0]] + replacement + value[found[1]:]


def replace_all(pattern: str, value: str, template: str) -> str:
    """Go's Regexp.ReplaceAllString: `$0` in the template is the match; no empty match right after one."""
    tokens = compile_pattern(pattern)
    out: list[str] = []
    last_end = 0
    pos = 0
    while pos <= len(value):
        found = _search(tokens, value, pos)
        if found is None:
            break
        start, end = found
        out.append(value[last_end:start])
        if end > last_end or start == 0:
            out.append(_expand_template(template, value[start:end]))
        last_end = end
        pos = pos + 1 if pos + 1 > end else end
    out.append(value[last_end:])
    return "".join(out)


def _is_name_char(ch: str) -> bool:
    return is_letter(ch) or is_digit(ch) or ch == "_"


def _expand_template(template: str, whole: str) -> str:
    """regexp.Expand for a pattern without groups: `$0`/`${0}` is the match, other names are empty."""
    out: list[str] = []
    rest = template
    while True:
        before, dollar, after = rest.partition("$")
        out.append(before)
        if not dollar:
            return "".join(out)
        rest = after
        if rest[:1] == "$":
            out.append("$")
            rest = rest[1:]
            continue
        brace = rest[:1] == "{"
        body = rest[1:] if brace else rest
        i = 0
        while i < len(body) and _is_name_char(body[i]):
            i += 1
        if i == 0 or (brace and body[i:i + 1] != "}"):
            out.append("$")  # malformed: the dollar is kept as text
            continue
        if body[:i] == "0":
            out.append(whole)
        rest = body[i + 1:] if brace else body[i:]
