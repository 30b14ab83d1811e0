"""Parent ↔ child messages during `create`.

One SOCK_SEQPACKET socketpair; every message is one JSON object
``{"type": NAME, ...}``; file descriptors ride along as SCM_RIGHTS.  Errors
travel as messages: a child never exits silently after a failure.

::

    parent (create / exec)                         child (pid 1 of its new pid namespace)
    ──────────────────────                         ──────────────────────────────────────
    unshare(CLONE_NEWPID) (exec: setns to the
      container's pid ns), fork, setns back ─────► reset signals, close fds
      (or take a child forked ahead: prefork)      (prefork: warm up at low priority)
    SETUP {mode, bundle, rootfs | process, nice}
      + fds [stdin, stdout, stderr] [exec.fifo |
      namespace fds] ────────────────────────────► install stdio; setns(paths), unshare(all but
                                                   cgroup)  (exec: wait GO first, setns(fds))
    cgroup.create, cgroup.add_process(pid)         mounts, /dev ... (runs meanwhile)
    GO ──────────────────────────────────────────► consumed by join_cgroup: before a cgroup mount,
                                                   or at the latest before the user switch; then
                                                   unshare(CLONE_NEWCGROUP) roots it at its cgroup
                                                   pivot_root, masked/readonly paths, hostname,
                                                   sysctl, setsid
    ◄───────────────────────── CONSOLE {slave} + fd (only if process.terminal: pty master)
                                                   rlimits, user, caps, cwd, look up args[0]
    ◄──────────────────────────────────────── READY
    state.json written; `create` returns           create: open exec.fifo for writing, blocks
                                                   exec: execve at once
    start: open exec.fifo for reading ───────────► write "0", execve(args)

    Instead of any message the child may send  ERROR {message}  and _exit(1);
    EOF before READY means it died without a word.  The parent kills it, removes
    the cgroup and the state, and raises CreateError(message).  The child's memory
    is charged to the container's cgroup from GO on (the parent's cgroup.procs
    writes are slow, ~1 ms, so they overlap with the child's own setup).
"""

from __future__ import annotations

import json
import os
import select
import socket
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SETUP", "GO", "CONSOLE", "READY", "ERROR", "Message", "SyncError", "send", "recv", "go_strerror",
           "describe"]

SETUP = "SETUP"
GO = "GO"
CONSOLE = "CONSOLE"
READY = "READY"
ERROR = "ERROR"

_MAX = 65536


class SyncError(Exception):
    """The other side vanished or spoke out of turn."""


@dataclass
class Message:
    type: str
    fields: dict[str, Any] = field(default_factory=dict)
    fds: list[int] = field(default_factory=list)


def send(sock: socket.socket, type_: str, fds: list[int] | None = None, **fields: Any) -> None:
    data = json.dumps({"type": type_, **fields}).encode()
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.sendall(data)


def recv(sock: socket.socket, timeout: float | None = None) -> Message:
    """Next message; SyncError on EOF or timeout."""
    if timeout is not None:
        r, _, _ = select.select([sock], [], [], timeout)
        if not r:
            raise SyncError("timed out waiting for the container's init")
    data, fds, _flags, _addr = socket.recv_fds(sock, _MAX, 16)
    if not data:
        for fd in fds:
            os.close(fd)
        raise SyncError("container init exited before it was ready")
    obj = json.loads(data)
    type_ = obj.pop("type", "")
    return Message(type_, obj, list(fds))


def go_strerror(errno_: int) -> str:
    """Errno text as Go prints it ("no such file or directory")."""
    s = os.strerror(errno_)
    return s[:1].lower() + s[1:]


def describe(exc: BaseException) -> str:
    """One line for an ERROR message, worded like runc's errors."""
    if isinstance(exc, OSError) and exc.errno:
        text = exc.strerror or go_strerror(exc.errno)
        if exc.strerror == os.strerror(exc.errno):
            text = go_strerror(exc.errno)
        elif exc.strerror and exc.strerror.endswith(os.strerror(exc.errno)):
            text = exc.strerror[: -len(os.strerror(exc.errno))] + go_strerror(exc.errno)
        return f"{exc.filename}: {text}" if exc.filename else text
    return str(exc) or type(exc).__name__
