"""The shim's disposable worker: it creates the container, hands it over, and exits.

Creating a container runs a lot of Python (the spec, namespaces, cgroups, the
sync protocol).  In a shim every page that work touches would stay a private
copy for the container's whole life: the shim is a fork of the zygote, and
CPython writes to objects it only reads (reference counts, the code's warm-up
counters), so copy-on-write copies them.  The worker does that work instead and
exits, and its copies go with it.  The container's init is the worker's child;
when the worker exits the kernel reparents it to the shim, which is a child
subreaper, so the shim reaps it and gets its exit status as before.

::

    shim (subreaper)                        worker (forked ahead of need)
    fork_worker() ────────────────────────► prefork the init's child, warm up; wait
    JOB (request.py) + fds [stdin, stdout,
      stderr, shim.log] ──────────────────► shim.json, runtime.create(...)
    (meanwhile: shim.pid, listen)
    ◄───────────────────────────────────── DONE {"ok":true,"pid":N,"cgroups_path":P}
                                           [+ pty master] | {"ok":false,"error":..,"create":B}
    (its SIGCHLD handler reaps the worker)  exit: the init now belongs to the shim

EOF instead of DONE: the worker died (its traceback is in shim.log).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import traceback
from dataclasses import dataclass
from typing import Any

from dockyard.runtime import spawn
from dockyard.shim import protocol as proto
from dockyard.shim.request import decode_request
from dockyard.shim.runtimes import BUILTIN, CreateFailed, make_runtime
from dockyard.shim.server import write_atomic

__all__ = ["Done", "Worker", "fork_worker"]


@dataclass(frozen=True)
class Done:
    pid: int                  # the container's init (ours once the worker has exited)
    console_fd: int | None    # its pty master, with a terminal
    cgroups_path: str


@dataclass
class Worker:
    pid: int
    sock: socket.socket

    def send_job(self, job: bytes, stdio: tuple[int, int, int], log_fd: int) -> None:
        """Have the worker create the container: job is the ShimRequest as encoded by
        ``request.encode_request`` (OSError if the worker is gone)."""
        socket.send_fds(self.sock, [job], [*stdio, log_fd])

    def result(self) -> Done:
        """Wait for the worker's DONE: CreateFailed when the runtime refused, OSError when the worker
        failed or died.  The worker exits then; the caller reaps it (its SIGCHLD handler does)."""
        try:
            msg, fds, _flags, _addr = socket.recv_fds(self.sock, proto.MAX_REQUEST, 1)
        finally:
            self.sock.close()
        if not msg:
            raise OSError("the shim's worker died before it reported (see shim.log)")
        reply = proto.decode(msg)
        if not reply.get("ok"):
            for fd in fds:
                os.close(fd)
            if reply.get("create"):
                raise CreateFailed(str(reply.get("error", "")))
            raise OSError(str(reply.get("error", "the shim's worker failed")))
        return Done(int(reply["pid"]), fds[0] if fds else None, str(reply.get("cgroups_path", "")))

    def discard(self) -> None:
        """An unused worker: end it (its prefork child then reads EOF and exits too) and reap it."""
        self.sock.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def fork_worker(warm: bool = True) -> Worker:
    """Fork a worker that waits for one JOB.  warm: prepare the init's child and warm up meanwhile."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        try:
            ours.close()
            _worker_main(theirs, warm)
        finally:
            os._exit(0)
    theirs.close()
    return Worker(pid, ours)


def _cgroups_path(bundle: str) -> str:
    try:
        with open(os.path.join(bundle, "config.json")) as f:
            return str((json.load(f).get("linux") or {}).get("cgroupsPath") or "")
    except (OSError, ValueError):
        return ""


def _worker_main(sock: socket.socket, warm: bool) -> None:
    prefork: spawn.Prefork | None = None
    if warm:
        with contextlib.suppress(Exception):
            prefork = spawn.prefork()
        with contextlib.suppress(Exception):
            spawn.warm_up()
    msg, fds, _flags, _addr = socket.recv_fds(sock, proto.MAX_REQUEST, 4)
    if not msg or len(fds) != 4:
        if prefork is not None:
            prefork.discard()
        return
    stdin, stdout, stderr, log = fds
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    out: list[int] = []
    try:
        req = decode_request(msg)
        cgroups_path = _cgroups_path(req.bundle)
        # What `delete` needs, there before anything it would have to clean up.
        write_atomic(os.path.join(req.shim_dir, "shim.json"), json.dumps({
            "container_id": req.container_id, "runtime": req.runtime or BUILTIN,
            "runtime_root": os.path.join(req.shim_dir, "runtime"), "bundle": req.bundle,
            "cgroups_path": cgroups_path}).encode())
        runtime = make_runtime(req.runtime, req.container_id, req.bundle, req.shim_dir)
        pre, prefork = prefork, None   # create consumes it, whatever happens
        created = runtime.create((stdin, stdout, stderr), req.tty, None, pre)
        reply: dict[str, Any] = {"ok": True, "pid": created.pid, "cgroups_path": cgroups_path}
        if created.console_fd is not None:
            out.append(created.console_fd)
    except CreateFailed as e:
        reply = {"ok": False, "error": e.message, "create": True}
    except BaseException as e:  # noqa: BLE001 - reported to the shim, which reports it on
        traceback.print_exc()
        reply = {"ok": False, "error": f"shim: {e}"}
    finally:
        if prefork is not None:
            with contextlib.suppress(Exception):
                prefork.discard()
    socket.send_fds(sock, [proto.encode(reply)], out)
