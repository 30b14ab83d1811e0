"""Timestamps as Docker writes and reads them (RFC 3339 with nanoseconds, UTC)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from dockyard import errors

__all__ = ["now_rfc3339", "rfc3339_to_epoch", "parse_since"]

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def now_rfc3339() -> str:
    ns = time.time_ns()
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def rfc3339_to_epoch(value: str) -> float:
    """'2026-11-22T17:13:00.123456789Z' → seconds since the epoch (0 for Go's zero time)."""
    if not value or value.startswith("0001-"):
        return 0.0
    main, _, rest = value.partition(".")
    frac = 0.0
    tz = "Z"
    if rest:
        digits = re.match(r"\d*", rest).group(0)  # type: ignore[union-attr]
        frac = float("0." + digits) if digits else 0.0
        tz = rest[len(digits):] or "Z"
    else:
        m = re.match(r"(.*?)(Z|[+-]\d\d:\d\d)$", main)
        if m:
            main, tz = m.group(1), m.group(2)
    dt = datetime.strptime(main, "%Y-%m-%dT%H:%M:%S")
    offset = 0
    if tz not in ("Z", ""):
        sign = 1 if tz[0] == "+" else -1
        offset = sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return dt.replace(tzinfo=UTC).timestamp() - offset + frac


def parse_since(value: str, now: float | None = None) -> float:
    """A `--since`/`--until` value: unix seconds ('1700000000.5'), RFC 3339, or a Go duration ('10m')."""
    if not value:
        return 0.0
    now = time.time() if now is None else now
    try:
        return float(value)
    except ValueError:
        pass
    m = _DURATION.match(value)
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        return rfc3339_to_epoch(value)
    except ValueError:
        raise errors.InvalidArgument(
            f'invalid value for "since": failed to parse value as time or duration: "{value}"') from None
