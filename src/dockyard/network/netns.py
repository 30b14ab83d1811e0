"""Run a function inside another process's network namespace, from a worker thread.

setns(2) moves only the calling thread, so the daemon's event loop never
changes namespace: a thread enters the container's netns, runs `fn`, and steps
back. Sockets created meanwhile (netlink, the embedded DNS listeners) stay
bound to the container's namespace for their whole life, which is what lets one
daemon thread serve every container.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from typing import TypeVar

__all__ = ["in_netns", "netns_path"]

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
T = TypeVar("T")


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def netns_path(pid: int) -> str:
    return f"/proc/{pid}/ns/net"


def in_netns(target: int | str, fn: Callable[[], T]) -> T:
    """Blocking: call `fn()` with this thread in the netns of pid `target` (or at path `target`).

    Run it in an executor thread, never on the event loop's thread.
    """
    path = netns_path(target) if isinstance(target, int) else target
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(fd)
        finally:
            os.close(fd)
        try:
            return fn()
        finally:
            _setns(own)  # a thread left in a container's netns would poison the pool
    finally:
        os.close(own)
