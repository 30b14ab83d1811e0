"""Human-readable sizes, durations and container statuses, worded as Docker's go-units words them.

Shared by the daemon (the `Status` text of `GET /containers/json`) and the CLI (tables).
"""

from __future__ import annotations

import time

__all__ = ["human_size", "bytes_size", "human_duration", "container_status"]

_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def _g(value: float, precision: int) -> str:
    # Go's %.*g and Python's agree (trailing zeros dropped, exponent as e+NN).
    return "%.*g" % (precision, value)  # noqa: UP031 - %g with a * precision has no f-string form


def human_size(size: float, precision: int = 3) -> str:
    """units.HumanSizeWithPrecision: decimal units, "4.26MB", "1.2kB", "0B"."""
    units = _DECIMAL_UNITS
    i = 0
    while size >= 1000.0 and i < len(units) - 1:
        size /= 1000.0
        i += 1
    return _g(size, precision) + units[i]


def bytes_size(size: float) -> str:
    """units.BytesSize: binary units with 4 significant digits, "1.5GiB"."""
    i = 0
    while size >= 1024.0 and i < len(_BINARY_UNITS) - 1:
        size /= 1024.0
        i += 1
    return _g(size, 4) + _BINARY_UNITS[i]


def human_duration(seconds: float) -> str:
    """units.HumanDuration: "Less than a second", "3 seconds", "About a minute", "2 hours"..."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def container_status(state: str, started: float | None, finished: float | None, exit_code: int,
                     now: float | None = None, health: str = "") -> str:
    """The `Status` text a daemon reports in `GET /containers/json` ("Up 3 seconds", "Exited (0) 2 minutes ago")."""
    now = time.time() if now is None else now
    if state in ("running", "paused", "restarting") and started:
        if state == "restarting":
            return f"Restarting ({exit_code}) {human_duration(now - (finished or now))} ago"
        text = "Up " + human_duration(now - started)
        if state == "paused":
            text += " (Paused)"
        if health:
            text += f" ({health})" if health != "starting" else " (health: starting)"
        return text
    if state == "removing":
        return "Removal In Progress"
    if state == "dead":
        return "Dead"
    if state == "created":
        return "Created"
    if finished:
        return f"Exited ({exit_code}) {human_duration(now - finished)} ago"
    return "Created" if not started else f"Exited ({exit_code})"
