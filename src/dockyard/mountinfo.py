"""Reading /proc/self/mountinfo: the one place its octal escapes are undone."""

from __future__ import annotations

__all__ = ["unescape", "is_mountpoint", "mounts_under"]


def unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as \\ooo octal."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and all(c in "01234567" for c in field[i + 1:i + 4]):
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def is_mountpoint(target: str) -> bool:
    """True if something is mounted exactly at `target` (a resolved absolute path)."""
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        return any(unescape(line.split(" ", 5)[4]) == target for line in f)


def mounts_under(prefix: str) -> list[str]:
    """Mount points at or below `prefix` (resolved, absolute), deepest first: the order to unmount."""
    prefix = prefix.rstrip("/")
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        points = [unescape(line.split(" ", 5)[4]) for line in f]
    found = {p for p in points if p == prefix or p.startswith(prefix + "/")}
    return sorted(found, key=lambda p: p.count("/"), reverse=True)
