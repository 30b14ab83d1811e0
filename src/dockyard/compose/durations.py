"""Go durations ("1m30s", "500ms") and byte sizes ("512m") as compose files write them."""

from __future__ import annotations

import re

from dockyard.compose.errors import ConfigError

__all__ = ["parse_duration", "parse_size"]

_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str | int | float, where: str = "") -> int:
    """Nanoseconds.  A bare number counts as seconds, as compose accepts."""
    if isinstance(text, (int, float)):
        return int(text * 10**9)
    s = text.strip()
    if s in ("0", ""):
        return 0
    pos, total = 0, 0.0
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m:
            raise ConfigError(f"{where}: time: invalid duration \"{text}\"" if where
                              else f"time: invalid duration \"{text}\"")
        total += float(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    return int(total)


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$", re.IGNORECASE)


def parse_size(value: str | int | float, where: str = "") -> int:
    if isinstance(value, (int, float)):
        return int(value)
    m = _SIZE.match(value.strip())
    if not m:
        raise ConfigError(f"{where} invalid size: '{value}'")
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)
