"""The zygote: a clean, single-threaded process, forked at daemon boot, that forks shims.

::

    daemon (asyncio)                 zygote (SIGCHLD ignored)       spare shim (setsid, subreaper)
    Zygote.start() ── fork ────────► rehearse, freeze, fork a ────► fork its worker (worker.py),
                                     spare                          recv on its channel
    spawn(req):
      socketpair(ours, theirs)
      REQUEST (request.py) + theirs ► pass it on to the spare ──────► stdio, the worker creates the
                                     fork the next spare             container, listen shim.sock
      ◄──────────────────────────────────────────────────────────── RESULT line on `theirs`
      {"ok":true,"shim_pid":..,"container_pid":..} | {"ok":false,"error":..,"create":true}

A spare shim is forked ahead of time, so no fork of a Python process lies on
the spawn path.  Shims run in their own session with no controlling terminal.
A shim is the zygote's child only while the zygote lives: the zygote exits when
the daemon's end of its socket closes (daemon exit or SIGKILL), and the shims
are then reparented to init and keep running (the kernel reaps them meanwhile,
as the zygote ignores SIGCHLD).  Requests travel as one SOCK_SEQPACKET message
each, so concurrent spawns need no locking.

Memory: a shim lives as long as its container, and every page of the zygote it
writes becomes its own copy (CPython writes reference counts even where it only
reads).  So the zygote rehearses a shim's life before it freezes its heap
(``warm.py``), a shim leaves the container's creation to a worker that exits
(``worker.py``), serves on a small loop (``loop.py``), and is forked with a bare
fork(2): CPython's own after-fork work (threading's and random's at-fork hooks)
copied ~0.5 MiB of pages per shim, and the zygote, single-threaded, needs none
of it.  The spare inherits the zygote's ignored SIGINT, SIGPIPE and SIGHUP.
"""

from __future__ import annotations

import _signal
import contextlib
import gc
import os
import signal
import socket
import traceback
from dataclasses import dataclass, replace

# Imported here so every shim starts with the runtime already loaded.
import dockyard.runtime.cgroups  # noqa: F401
import dockyard.runtime.exec  # noqa: F401
from dockyard.runtime import spawn
from dockyard.runtime import syscalls as sc
from dockyard.shim import protocol as proto
from dockyard.shim import warm
from dockyard.shim.loop import Loop
from dockyard.shim.main import run_shim
from dockyard.shim.memmerge import make_mergeable
from dockyard.shim.protocol import RuntimeCreateError, ShimError
from dockyard.shim.request import ShimRequest, decode_request, encode_request
from dockyard.shim.worker import Worker, fork_worker

__all__ = ["ShimRequest", "ShimSpawned", "RuntimeCreateError", "ShimError", "Zygote"]


@dataclass(frozen=True)
class ShimSpawned:
    shim_pid: int
    container_pid: int    # host pid of the container's init


def _close_fds_except(keep: int) -> None:
    os.closerange(3, keep)
    os.closerange(keep + 1, 0x7FFFFFFF)


def _spare_main(chan: socket.socket) -> None:
    """A shim forked ahead of need: its worker (which creates the container, see ``worker.py``)
    and its event loop wait with it, so a spawn pays for neither on its critical path."""
    worker: Worker | None = None
    try:
        os.setsid()
        # Our children's exit statuses are ours to collect (_signal: signal's enum wrappers cost pages).
        _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
        # Before the worker forks the container's init: orphaned, the init becomes our child.
        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
        # Get ready at the lowest priority: only idle CPU, never a running container's.
        priority = os.getpriority(os.PRIO_PROCESS, 0)
        os.setpriority(os.PRIO_PROCESS, 0, 19)
        worker = fork_worker()
        loop = Loop()
        msg, fds, _flags, _addr = socket.recv_fds(chan, proto.MAX_REQUEST, 4)
        os.setpriority(os.PRIO_PROCESS, 0, priority)
        chan.close()
        if not msg or not fds:
            return
        result_fd = fds.pop(0)
        for fd in fds:
            os.close(fd)
        try:
            w, worker = worker, None
            run_shim(decode_request(msg), msg, result_fd, w, loop=loop)
        except BaseException as e:  # noqa: BLE001
            traceback.print_exc()
            with contextlib.suppress(OSError):
                os.write(result_fd, proto.encode({"ok": False, "error": f"shim: {e}"}))
    finally:
        if worker is not None:
            with contextlib.suppress(Exception):
                worker.discard()
        os._exit(0)


def _fork_spare(daemon_sock: socket.socket) -> tuple[int, socket.socket]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = sc.bare_fork()   # the zygote is single-threaded; see the module docstring
    if pid == 0:
        daemon_sock.close()
        ours.close()
        _spare_main(theirs)
    theirs.close()
    return pid, ours


def _zygote_main(sock: socket.socket) -> None:
    for sig in (signal.SIGINT, signal.SIGPIPE, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    _close_fds_except(sock.fileno())
    spawn.use_bare_fork()   # we and all we fork stay single-threaded (see the module docstring)
    with contextlib.suppress(Exception):
        spawn.warm_up()  # caches (cgroup hierarchies) and pages every shim then shares
    warm.rehearse()      # a shim's own code, run once here rather than in every shim (warm.py)
    make_mergeable()  # inherited by every shim (memmerge.py)
    gc.collect()
    gc.freeze()  # shims share these pages; keep their collector from touching (copying) them
    sc.malloc_trim()  # what the warm-ups freed: every shim would map (and count) it otherwise
    priority = os.getpriority(os.PRIO_PROCESS, 0)
    spare_pid, spare = _fork_spare(sock)
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, proto.MAX_REQUEST, 4)
        except InterruptedError:
            continue
        if not msg:
            spare.close()  # the spare reads EOF and leaves
            return
        if not fds:
            continue
        try:
            socket.send_fds(spare, [msg], fds)
        except OSError:  # the spare died (killed?): fork another one
            spare.close()
            spare_pid, spare = _fork_spare(sock)
            socket.send_fds(spare, [msg], fds)
        # It may still be warming up at low priority: that is now on a spawn's critical path.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, spare_pid, priority)
        for fd in fds:
            os.close(fd)
        spare.close()
        spare_pid, spare = _fork_spare(sock)


class Zygote:
    def __init__(self, pid: int, sock: socket.socket) -> None:
        self.pid = pid
        self._sock = sock

    @classmethod
    def start(cls) -> Zygote:
        """Fork the zygote now: call before any thread or event loop exists."""
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            try:
                parent.close()
                _zygote_main(child)
            finally:
                os._exit(0)
        child.close()
        return cls(pid, parent)

    async def spawn(self, req: ShimRequest) -> ShimSpawned:
        """Start a shim; returns once the container is created and shim.sock listens."""
        req = replace(req, bundle=os.path.abspath(req.bundle), shim_dir=os.path.abspath(req.shim_dir),
                      log_path=os.path.abspath(req.log_path) if req.log_path else "")
        os.makedirs(req.shim_dir, 0o711, exist_ok=True)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            socket.send_fds(self._sock, [encode_request(req)], [theirs.fileno()])
        except OSError as e:
            ours.close()
            raise ShimError(f"the zygote is gone: {e}") from None
        finally:
            theirs.close()
        import asyncio  # here: the zygote itself never imports it (its shims would carry it)
        reader, writer = await asyncio.open_connection(sock=ours)
        try:
            line = await reader.readline()
        finally:
            writer.close()
        if not line:
            raise ShimError(f"shim for {req.container_id} exited before reporting "
                            f"(see {os.path.join(req.shim_dir, 'shim.log')})")
        obj = proto.decode(line)
        if obj.get("ok"):
            return ShimSpawned(int(obj["shim_pid"]), int(obj["container_pid"]))
        if obj.get("create"):
            raise RuntimeCreateError(str(obj.get("error", "")))
        raise ShimError(str(obj.get("error", "shim failed")))

    def close(self) -> None:
        """Stop the zygote; running shims are unaffected."""
        with contextlib.suppress(OSError):
            self._sock.close()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
