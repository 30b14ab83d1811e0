"""`--log-opt` for the json-file driver: which keys exist and what max-size / max-file mean.

Docker checks the keys at create ("unknown log opt") and parses the values when
the logger starts; dockyard parses them at create too, so a bad value is a 400
with Docker's words instead of a container that cannot start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dockyard import errors
from dockyard.gostrconv import parse_bool

__all__ = ["Rotation", "from_human_size", "parse_log_config", "JSON_FILE_OPTS", "COMMON_OPTS"]

JSON_FILE_OPTS = frozenset({"max-size", "max-file", "compress"})
# Handled by every driver (extra attributes, tag) or by the daemon (delivery mode).
COMMON_OPTS = frozenset({"env", "env-regex", "labels", "labels-regex", "tag", "mode", "max-buffer-size"})
_DECIMAL = {"k": 1000, "m": 1000 ** 2, "g": 1000 ** 3, "t": 1000 ** 4, "p": 1000 ** 5}
_NUM = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Rotation:
    max_size: int = -1     # bytes; -1: never rotate
    max_files: int = 1     # the current file included


def from_human_size(text: str) -> int:
    """go-units FromHumanSize: decimal units, '10k' = 10000, '1.5MB', '10 kB', '100'."""
    sep = max(text.rfind(ch) for ch in "0123456789. ")
    if sep == -1:
        raise ValueError(f"invalid size: '{text}'")
    if text[sep] == " ":
        num, sfx = text[:sep], text[sep + 1:]
    else:
        num, sfx = text[:sep + 1], text[sep + 1:]
    if not _NUM.match(num):
        raise ValueError(f'strconv.ParseFloat: parsing "{num}": invalid syntax')
    size = float(num)
    if size < 0:
        raise ValueError(f"invalid size: '{text}'")
    if not sfx:
        return int(size)
    low = sfx.lower()
    ok = len(low) <= 3 and (
        (low[0] == "b" and len(low) == 1)
        or (low[0] in _DECIMAL and (len(low) == 1 or low[1:] in ("b", "ib"))))
    if not ok:
        raise ValueError(f"invalid suffix: '{low}'")
    return int(size) if low[0] == "b" else int(size * _DECIMAL[low[0]])


def _atoi(text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(f'strconv.Atoi: parsing "{text}": invalid syntax')
    return int(text)


def parse_log_config(driver: str, config: dict[str, Any] | None) -> Rotation:
    """Validate a container's LogConfig.Config; the rotation it asks for (400s on bad input)."""
    config = config or {}
    if not isinstance(config, dict) or not all(isinstance(v, str) for v in config.values()):
        raise errors.InvalidArgument("invalid LogConfig.Config: expected a map of strings")
    if driver == "none":
        return Rotation()
    mode = config.get("mode", "")
    if mode not in ("", "blocking", "non-blocking"):
        raise errors.InvalidArgument(f"logger: logging mode not supported: {mode}")
    for key in config:
        if key not in JSON_FILE_OPTS and key not in COMMON_OPTS:
            raise errors.InvalidArgument(f"unknown log opt '{key}' for {driver} log driver")
    try:
        return _rotation(config)
    except ValueError as e:
        raise errors.InvalidArgument(f"failed to initialize logging driver: {e}") from None


def _rotation(config: dict[str, str]) -> Rotation:
    max_size = -1
    if "max-size" in config:
        max_size = from_human_size(config["max-size"])
        if max_size <= 0:
            raise ValueError("max-size must be a positive number")
    max_files = 1
    if "max-file" in config:
        max_files = _atoi(config["max-file"])
        if max_files < 1:
            raise ValueError("max-file cannot be less than 1")
    if "compress" in config:
        if parse_bool(config["compress"]):
            raise ValueError("compress is not supported by dockyard's json-file logger")
    return Rotation(max_size, max_files)
