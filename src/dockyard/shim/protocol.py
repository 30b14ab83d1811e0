"""The shim's unix-socket protocol, and the pure framing helpers both ends use.

``<shim_dir>/shim.sock``; every connection starts with ONE JSON line from the
client (``{"op": ...}\\n``) and the shim answers with one JSON line:

=================================================  ==================================================
request                                            reply
=================================================  ==================================================
``{"op":"start"}``                                 ``{"ok":true}`` | ``{"ok":false,"error":"..."}``
``{"op":"kill","signal":15,"all":false}``          ``{"ok":true}`` | error.  ``all``: every process in
                                                   the container's cgroup
``{"op":"state"}``                                 ``{"pid":N,"status":"created|running|stopped"}``
``{"op":"wait"}``                                  sent only once the container has exited AND its
                                                   output is drained and logged:
                                                   ``{"exit_code":N,"oom_killed":B,"finished_at":T}``
``{"op":"attach","stdin":B,"stdout":B,"stderr":B}``  ``{"ok":true}``, then a raw byte stream (below)
``{"op":"resize","width":W,"height":H}``           ``{"ok":true}`` | error (tty only)
``{"op":"shutdown"}``                              ``{"ok":true}``; an exited shim leaves at once
``{"op":"exec","id":X,"process":{OCI process},``    ``{"ok":true,"pid":N}`` then a raw stream as for
``"stdin":B,"stdout":B,"stderr":B,``                attach, for that process; or ``{"ok":false,``
``"console_width":W,"console_height":H}``           ``"error":..,"create":true}`` if the runtime refused
``{"op":"exec_wait","id":X,"forget":B}``           ``{"exit_code":N}`` once X exited and is drained;
                                                   ``forget``: then drop X (a later exec_wait fails)
=================================================  ==================================================

``kill`` and ``resize`` take an optional ``"id"``: they then act on exec X.
An exec's stdin is closed at the client's EOF (half-close); its stream closes
once it exited and its output is drained.  The process keeps running if the
client goes away.

After the reply the shim closes the connection, except for ``attach`` and ``exec``:

* shim → client: the container's output.  Without a tty, Docker's multiplexed
  frames: an 8-byte header ``[stream, 0, 0, 0, len (uint32 big-endian)]``
  (stream 1 stdout, 2 stderr) then ``len`` bytes.  With a tty, raw bytes.
* client → shim: raw stdin bytes (used when the client asked for stdin and the
  container was created with open_stdin).  The client's half-close (EOF) closes
  the container's stdin when stdin_once is set.
* When the container has exited and its output is drained, the shim sends all
  remaining output and closes every attach connection.  A client that stops
  reading loses output past a bounded buffer; it never stalls the shim.

Exit code: the exit status, or 128 + signal number when killed by a signal.
``finished_at`` is RFC 3339 with nanoseconds in UTC, trailing zeros trimmed as
Go's RFC3339Nano does.  ``<shim_dir>/exit.json`` holds the same object,
written atomically once the container has exited.

Lifetime: the shim lives until its container is done, then LINGER (5 s) more
for late clients, then removes shim.sock and exits (``shutdown``, which
``client.delete`` sends, ends the linger at once).  After that ``exit.json``
answers: ``client.wait`` and ``client.read_exit`` fall back on it.  ``start``
replies once the init is released from its gate, without waiting for its execve.

Files in shim_dir: ``shim.sock``, ``shim.pid``, ``shim.json`` (what `delete`
needs: container id, runtime, its state root, cgroups path), ``exit.json``,
``shim.log`` (the shim's own diagnostics), ``runtime/`` (the runtime's state).
"""

from __future__ import annotations

import json
import os
import struct
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "ShimError", "ShimGone", "RuntimeCreateError", "STDIN", "STDOUT", "STDERR", "MAX_REQUEST", "ExitStatus", "encode", "decode", "frame", "FrameDecoder",
    "rfc3339nano", "exit_code_from_status",
]

STDIN, STDOUT, STDERR = 0, 1, 2
MAX_REQUEST = 64 * 1024
_HEADER = struct.Struct(">BxxxI")


class ShimError(Exception):
    """A shim failed, or answered with an error."""


class ShimGone(ShimError):
    """No shim answers on shim.sock (it exited, or was killed)."""


class RuntimeCreateError(Exception):
    """The runtime refused to create the container or exec the process; .message is its text
    (exec lookup errors included: 'exec: "x": executable file not found in $PATH')."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ExitStatus:
    exit_code: int
    oom_killed: bool
    finished_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExitStatus:
        return cls(int(d["exit_code"]), bool(d.get("oom_killed", False)), str(d.get("finished_at", "")))


_ENCODER = json.JSONEncoder(separators=(",", ":"))   # one, not one per json.dumps(separators=...) call


def encode(obj: dict[str, Any]) -> bytes:
    """One protocol line."""
    return _ENCODER.encode(obj).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """Parse one protocol line; ValueError if it is not a JSON object."""
    obj = json.loads(line)
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    return obj


def frame(stream: int, data: bytes) -> bytes:
    """Docker's multiplexed-stream frame for one chunk."""
    return _HEADER.pack(stream, len(data)) + data


class FrameDecoder:
    """Incremental decoder of multiplexed frames: feed bytes, get (stream, payload) pairs."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        self._buf += data
        while len(self._buf) >= _HEADER.size:
            stream, size = _HEADER.unpack_from(self._buf)
            end = _HEADER.size + size
            if len(self._buf) < end:
                break
            payload = bytes(self._buf[_HEADER.size:end])
            del self._buf[:end]
            yield stream, payload

    @property
    def pending(self) -> int:
        return len(self._buf)


def rfc3339nano(ns: int | None = None) -> str:
    """UTC timestamp like Go's time.RFC3339Nano: ``2026-11-22T17:13:00.123456789Z``, zeros trimmed."""
    if ns is None:
        ns = time.time_ns()
    secs, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    digits = f"{frac:09d}".rstrip("0")
    return f"{base}.{digits}Z" if digits else f"{base}Z"


def exit_code_from_status(status: int) -> int:
    """waitpid status → Docker's exit code (128 + signal when signalled)."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code
