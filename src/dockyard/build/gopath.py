"""Go's `path/filepath` rules that Docker's build relies on: `Clean` and `Match` (unix flavour).

`.dockerignore` patterns and COPY/ADD wildcards are matched by Go code in Docker, so a
pattern must mean here exactly what it means there, quirks included (a `[...]` class
may match `/`; `\\` escapes the next character; a malformed class is an error even when
the name would not match).
"""

from __future__ import annotations

__all__ = ["BadPattern", "clean", "match", "has_wildcards"]


class BadPattern(ValueError):
    """Go's filepath.ErrBadPattern."""

    def __init__(self) -> None:
        super().__init__("syntax error in pattern")


def clean(path: str) -> str:
    """filepath.Clean: the shortest equivalent path, lexically."""
    if not path:
        return "."
    rooted = path.startswith("/")
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue  # ".." at the root stays at the root
        out.append(part)
    joined = "/".join(out)
    if rooted:
        return "/" + joined
    return joined or "."


def has_wildcards(name: str) -> bool:
    """moby's containsWildcards: an unescaped `*`, `?` or `[`."""
    i = 0
    while i < len(name):
        ch = name[i]
        if ch == "\\":
            i += 1
        elif ch in "*?[":
            return True
        i += 1
    return False


def match(pattern: str, name: str) -> bool:
    """filepath.Match: does all of `name` match the shell pattern? Raises BadPattern."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            # A trailing star matches the rest unless it holds a separator.
            return "/" not in name
        rest, ok = _match_chunk(chunk, name)
        # The last chunk must consume the whole name, or a star may still do better.
        if ok and (not rest or pattern):
            name = rest
            continue
        if star:
            matched = False
            i = 0
            while i < len(name) and name[i] != "/":
                rest, ok = _match_chunk(chunk, name[i + 1:])
                if ok and (pattern or not rest):
                    name, matched = rest, True
                    break
                i += 1
            if matched:
                continue
        # No match: still report a malformed remainder, as Go does.
        while pattern:
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, "")
        return False
    return not name


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    star = False
    while pattern.startswith("*"):
        pattern = pattern[1:]
        star = True
    in_range = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 < len(pattern):
                i += 1
        elif ch == "[":
            in_range = True
        elif ch == "]":
            in_range = False
        elif ch == "*" and not in_range:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _match_chunk(chunk: str, s: str) -> tuple[str, bool]:
    """Match `chunk` (no stars) against the start of `s`: (rest of s, matched).

    Keeps parsing after a mismatch so that a malformed chunk always raises.
    """
    failed = False
    i = 0
    while i < len(chunk):
        if not failed and not s:
            failed = True
        ch = chunk[i]
        if ch == "[":
            r = ""
            if not failed:
                r, s = s[0], s[1:]
            i += 1
            negated = i < len(chunk) and chunk[i] == "^"
            if negated:
                i += 1
            hit = False
            nrange = 0
            while True:
                if i < len(chunk) and chunk[i] == "]" and nrange > 0:
                    i += 1
                    break
                lo, i = _get_esc(chunk, i)
                hi = lo
                if chunk[i] == "-":
                    hi, i = _get_esc(chunk, i + 1)
                if not failed and lo <= r <= hi:
                    hit = True
                nrange += 1
            if hit == negated:
                failed = True
        elif ch == "?":
            if not failed:
                if s[0] == "/":
                    failed = True
                s = s[1:]
            i += 1
        else:
            if ch == "\\":
                i += 1
                if i >= len(chunk):
                    raise BadPattern()
            if not failed:
                if chunk[i] != s[0]:
                    failed = True
                s = s[1:]
            i += 1
    if failed:
        return "", False
    return s, True


def _get_esc(chunk: str, i: int) -> tuple[str, int]:
    """One (possibly escaped) character of a class, at chunk[i]; something must follow it."""
    if i >= len(chunk) or chunk[i] in "-]":
        raise BadPattern()
    if chunk[i] == "\\":
        i += 1
        if i >= len(chunk):
            raise BadPattern()
    r = chunk[i]
    i += 1
    if i >= len(chunk):
        raise BadPattern()
    return r, i
