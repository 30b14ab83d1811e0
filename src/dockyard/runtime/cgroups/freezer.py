"""Freezing and thawing every task of a cgroup (``docker pause``/``unpause``).

v1: ``freezer.state`` in the freezer hierarchy. A freeze can hang in FREEZING
while tasks keep forking, so (like runc) write FROZEN repeatedly, thawing and
sleeping now and then, and thaw again if it never settles.
v2: ``cgroup.freeze`` (core, no controller needed); the write is asynchronous,
so wait for ``frozen 1`` in ``cgroup.events``.
"""

from __future__ import annotations

import time

from dockyard.errors import SystemError_

from . import fs

__all__ = ["freeze_v1", "thaw_v1", "is_frozen_v1", "freeze_v2", "thaw_v2", "is_frozen_v2"]


def freeze_v1(path: str) -> None:
    try:
        deadline = time.monotonic() + 3.0   # a loaded machine can take a while to park every task
        i = 0
        while time.monotonic() < deadline:
            i += 1
            if i % 50 == 49:
                # New tasks keep appearing: let them settle, then try again.
                fs.write(path, "freezer.state", "THAWED")
                time.sleep(0.01)
            fs.write(path, "freezer.state", "FROZEN")
            state = fs.read(path, "freezer.state").strip()
            if state == "FROZEN":
                return
            if state != "FREEZING":
                raise SystemError_(f"cgroups: unexpected {path}/freezer.state {state!r} while freezing")
            time.sleep(min(0.0005 * i, 0.005))
        raise SystemError_(f"cgroups: unable to freeze {path}: tasks stay in FREEZING")
    except BaseException:
        # Never leave a half-frozen container behind.
        try:
            fs.write(path, "freezer.state", "THAWED")
        except SystemError_:
            pass
        raise


def thaw_v1(path: str) -> None:
    fs.write(path, "freezer.state", "THAWED")


def is_frozen_v1(path: str) -> bool:
    """True if this cgroup itself was frozen (not merely an ancestor)."""
    state = (fs.read_optional(path, "freezer.state") or "").strip()
    if state == "THAWED" or not state:
        return False
    return (fs.read_optional(path, "freezer.self_freezing") or "1").strip() == "1"


def _frozen_v2(path: str) -> bool:
    return (fs.read_key_values(path, "cgroup.events") or {}).get("frozen") == 1


def freeze_v2(path: str, timeout: float = 10.0) -> None:
    fs.write(path, "cgroup.freeze", "1")
    deadline = time.monotonic() + timeout
    delay = 0.0001
    while not _frozen_v2(path):
        if time.monotonic() > deadline:
            thaw_v2(path)
            raise SystemError_(f"cgroups: timed out after {timeout:g}s waiting for {path} to freeze")
        time.sleep(delay)
        delay = min(delay * 2, 0.01)


def thaw_v2(path: str) -> None:
    fs.write(path, "cgroup.freeze", "0")


def is_frozen_v2(path: str) -> bool:
    return (fs.read_optional(path, "cgroup.freeze") or "0").strip() == "1"
