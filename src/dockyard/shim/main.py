"""The shim process: its setup, the container's creation, then serving until the container is done.

``run_shim`` is what the zygote's spare runs for one request (see ``zygote.py``);
the container itself is created by the spare's worker (``worker.py``), so that
the shim, which lives as long as the container, runs as little Python as it can.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import struct
import termios
import traceback
from typing import TYPE_CHECKING, Any

from dockyard.shim import protocol as proto
from dockyard.shim.jsonlog import JsonFileLog
from dockyard.shim.loop import Loop, spawn
from dockyard.shim.memmerge import merge_new_mappings
from dockyard.shim.runtimes import CreateFailed, make_runtime
from dockyard.shim.server import Shim, stdio_for, write_atomic
from dockyard.shim.worker import Done, Worker, fork_worker

if TYPE_CHECKING:
    from dockyard.shim.request import ShimRequest

__all__ = ["run_shim", "MERGE_AGAIN_AFTER"]

MERGE_AGAIN_AFTER = 5.0   # seconds: once more for the arenas the first requests allocate


class _Result:
    """The one line a shim owes whoever spawned it; later attempts are no-ops (the fd is closed,
    and its number may already belong to something else)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    @property
    def sent(self) -> bool:
        return self.fd < 0

    def send(self, obj: dict[str, Any]) -> None:
        if self.fd < 0:
            return
        with contextlib.suppress(OSError):
            os.write(self.fd, proto.encode(obj))
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.fd = -1


def _prepare_process(req: ShimRequest) -> None:
    """Our own stdio and cwd.  (The spare made us a subreaper with default SIGCHLD; SIGPIPE, SIGHUP
    and SIGINT stay ignored, as in the zygote we were forked from.)"""
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    log = os.open(os.path.join(req.shim_dir, "shim.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    for name in ("exit.json", "shim.sock"):
        try:
            os.unlink(os.path.join(req.shim_dir, name))
        except FileNotFoundError:
            pass


def _listen(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    os.chmod(path, 0o600)
    sock.listen(128)
    return sock


def run_shim(req: ShimRequest, job: bytes, result_fd: int, worker: Worker, *, loop: Loop | None = None) -> None:
    """The shim process's whole life; reports on result_fd once created (or failed).

    job is req as the zygote sent it, for the worker (see ``worker.py``), which creates the
    container; loop may be prepared ahead of the request.  The shim's directory exists
    (``Zygote.spawn`` made it).
    """
    loop = loop or Loop()
    sock_path = os.path.join(req.shim_dir, "shim.sock")
    ready: dict[str, Any] = {}
    result = _Result(result_fd)
    try:
        shim = _setup(req, job, result, worker, sock_path, ready)
        if shim is not None:
            loop.run_until(spawn(_serve(shim, result, ready["listener"])))
    except BaseException as e:  # noqa: BLE001 - the shim ends here either way
        traceback.print_exc()
        result.send({"ok": False, "error": f"shim: {e}"})
    finally:
        try:
            if "ino" in ready and os.stat(sock_path).st_ino == ready["ino"]:  # a newer shim may own it now
                os.unlink(sock_path)
        except OSError:
            pass
        loop.close()


def _setup(req: ShimRequest, job: bytes, result: _Result, worker: Worker, sock_path: str,
           ready: dict[str, Any]) -> Shim | None:
    """Everything up to a created container (blocking: nothing else can happen before it exists);
    None if it failed (reported)."""
    _prepare_process(req)
    runtime = make_runtime(req.runtime, req.container_id, req.bundle, req.shim_dir)
    try:  # before anything exists, so that a bad log path fails the spawn cleanly
        log = (JsonFileLog(req.log_path, max_size=req.log_max_size, max_files=req.log_max_files)
               if req.log_path and req.log_driver != "none" else None)
    except OSError as e:
        worker.discard()
        result.send({"ok": False, "error": f"shim: open log {req.log_path}: {e.strerror}"})
        return None
    stdio, child_ends, outputs, stdin_w = stdio_for(req.tty, req.open_stdin)
    try:
        created = _create(req, job, worker, stdio, sock_path, ready)
    except Exception as e:  # noqa: BLE001 - reported, then this process ends
        if "listener" in ready:
            ready["listener"].close()
            with contextlib.suppress(OSError):
                os.unlink(sock_path)
            ready.pop("ino", None)
        if isinstance(e, CreateFailed):
            result.send({"ok": False, "error": e.message, "create": True})
        else:
            result.send({"ok": False, "error": f"shim: {e}"})
        return None
    finally:
        for fd in child_ends:
            os.close(fd)
    if created.console_fd is not None:
        outputs = {created.console_fd: proto.STDOUT}
        stdin_w = created.console_fd if req.open_stdin else None
        if req.console_width and req.console_height:
            with contextlib.suppress(OSError):
                fcntl.ioctl(created.console_fd, termios.TIOCSWINSZ,
                            struct.pack("HHHH", req.console_height, req.console_width, 0, 0))
    return Shim(req, runtime, created.pid, created.console_fd, stdin_w, outputs, created.cgroups_path, log)


async def _serve(shim: Shim, result: _Result, listener: socket.socket) -> None:
    # Our mappings are mergeable since the zygote's fork (memmerge.py); the ones made since, soon.
    shim.loop.call_later(MERGE_AGAIN_AFTER, merge_new_mappings)
    try:
        # Report only once the server accepts: the engine's next call (start) then waits for nothing.
        await shim.serve(listener, lambda: result.send(
            {"ok": True, "shim_pid": os.getpid(), "container_pid": shim.pid}))
    except BaseException:
        if not result.sent:  # nobody will ever hear of this container: do not leave it behind
            with contextlib.suppress(OSError):
                os.kill(shim.pid, signal.SIGKILL)
        raise


def _create(req: ShimRequest, job: bytes, worker: Worker, stdio: tuple[int, int, int], sock_path: str,
            ready: dict[str, Any]) -> Done:
    """The worker creates the container while we write our pid file and open our socket."""
    with contextlib.suppress(OSError):  # it may still be warming up at low priority
        os.setpriority(os.PRIO_PROCESS, worker.pid, os.getpriority(os.PRIO_PROCESS, 0))
    try:
        worker.send_job(job, stdio, 1)
    except OSError:  # it died (killed?): a cold one does the same, just slower
        worker.discard()
        worker = fork_worker(warm=False)
        worker.send_job(job, stdio, 1)
    write_atomic(os.path.join(req.shim_dir, "shim.pid"), b"%d" % os.getpid())
    ready["listener"] = _listen(sock_path)
    ready["ino"] = os.stat(sock_path).st_ino
    return worker.result()
