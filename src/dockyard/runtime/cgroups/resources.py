"""Reading the OCI ``linux.resources`` object (a JSON dict) safely.

The shape is the runtime-spec's config-linux.md: ``memory``, ``cpu``, ``pids``,
``blockIO``, ``hugepageLimits``, ``devices``, ``unified``. Absent or null keys
mean "leave as is". Wrong types are the caller's bug and raise InvalidArgument.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockyard.errors import InvalidArgument

__all__ = ["Resources", "section", "opt_int", "opt_str", "opt_bool", "device_list"]

Resources = Mapping[str, Any]

_EMPTY: Mapping[str, Any] = {}


def section(res: Resources | None, key: str) -> Mapping[str, Any]:
    """``res[key]`` as a mapping, or an empty one if missing/null."""
    if not res:
        return _EMPTY
    value = res.get(key)
    if value is None:
        return _EMPTY
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"linux.resources.{key} must be an object")
    return value


def opt_int(sec: Mapping[str, Any], key: str) -> int | None:
    value = sec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"resource {key!r} must be an integer, not {value!r}")
    return value


def opt_str(sec: Mapping[str, Any], key: str) -> str | None:
    value = sec.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidArgument(f"resource {key!r} must be a string, not {value!r}")
    return value


def opt_bool(sec: Mapping[str, Any], key: str) -> bool | None:
    value = sec.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidArgument(f"resource {key!r} must be a boolean, not {value!r}")
    return value


def device_list(res: Resources | None, key: str) -> list[Mapping[str, Any]]:
    """A list-of-objects resource (blockIO throttles, hugepageLimits, devices)."""
    if not res:
        return []
    value = res.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise InvalidArgument(f"resource {key!r} must be a list of objects")
    return value
