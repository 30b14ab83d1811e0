"""Bring up `lo` inside a container's new network namespace.

A fresh netns has a loopback device that is down; Docker's `none` and bridge
modes both give containers a working 127.0.0.1. One ioctl flips the flag.
"""

from __future__ import annotations

import fcntl
import socket
import struct

from dockyard.network.netns import in_netns

__all__ = ["loopback_up", "set_loopback_up"]

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def set_loopback_up() -> None:
    """In the calling thread's current netns."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s.fileno(), _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))


def loopback_up(pid: int) -> None:
    """Blocking: run it in an executor thread, never on the event loop's thread."""
    in_netns(pid, set_loopback_up)
