"""The shim process: its setup, the container's creation, then serving until the container is done.

``run_shim`` is what the zygote's spare runs for one request; ``warm_up`` is what
the spare runs before one arrives (see ``zygote.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import socket
import struct
import termios
import traceback
from typing import TYPE_CHECKING, Any

from dockyard.runtime import syscalls as sc
from dockyard.runtime.spawn import Prefork
from dockyard.shim import protocol as proto
from dockyard.shim.jsonlog import JsonFileLog
from dockyard.shim.memmerge import make_mergeable
from dockyard.shim.runtimes import CreateFailed, make_runtime
from dockyard.shim.server import Shim, stdio_for, write_atomic

if TYPE_CHECKING:
    from dockyard.shim.zygote import ShimRequest

__all__ = ["run_shim", "warm_up", "MERGE_AGAIN_AFTER"]

MERGE_AGAIN_AFTER = 5.0   # seconds: once more for the arenas the first requests allocate


async def _warm_up_server() -> None:
    """One request through an asyncio unix server and client, so a shim's first real one finds
    that code's pages already private (see ``runtime.init.warm_up``)."""
    name = f"\0dockyard-shim-warm-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(name)
    sock.listen(1)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(proto.encode(proto.decode(await reader.readline())))
        await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(handle, sock=sock, limit=proto.MAX_REQUEST)
    reader, writer = await asyncio.open_unix_connection(name)
    writer.write(proto.encode({"op": "state"}))
    await reader.readline()
    writer.close()
    server.close()
    await server.wait_closed()


def warm_up(loop: asyncio.AbstractEventLoop) -> None:
    """Everything a shim does on its critical path that can run ahead of a request."""
    from dockyard.runtime import spawn
    spawn.warm_up()
    with contextlib.suppress(Exception):
        loop.run_until_complete(_warm_up_server())
    proto.ExitStatus(0, False, proto.rfc3339nano()).to_dict()


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
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    for sig in (signal.SIGPIPE, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    log = os.open(os.path.join(req.shim_dir, "shim.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    for name in ("exit.json", "shim.sock"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(req.shim_dir, name))


def _cgroups_path(bundle: str) -> str:
    try:
        with open(os.path.join(bundle, "config.json")) as f:
            return str((json.load(f).get("linux") or {}).get("cgroupsPath") or "")
    except (OSError, ValueError):
        return ""


def _listen(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    os.chmod(path, 0o600)
    sock.listen(128)
    return sock


def run_shim(req: ShimRequest, result_fd: int, *, loop: asyncio.AbstractEventLoop | None = None,
             prefork: Prefork | None = None) -> None:
    """The shim process's whole life; reports on result_fd once created (or failed).

    loop and prefork may be prepared ahead of the request (the zygote's spare shim does).
    """
    loop = loop or asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    sock_path = os.path.join(req.shim_dir, "shim.sock")
    ready: dict[str, Any] = {}
    result = _Result(result_fd)
    try:
        loop.run_until_complete(_shim_main(req, result, prefork, sock_path, ready))
    except BaseException as e:  # noqa: BLE001 - the shim ends here either way
        traceback.print_exc()
        result.send({"ok": False, "error": f"shim: {e}"})
    finally:
        with contextlib.suppress(OSError):
            if "ino" in ready and os.stat(sock_path).st_ino == ready["ino"]:  # a newer shim may own it now
                os.unlink(sock_path)
        loop.close()


async def _shim_main(req: ShimRequest, result: _Result, prefork: Prefork | None, sock_path: str,
                     ready: dict[str, Any]) -> None:
    os.makedirs(req.shim_dir, 0o711, exist_ok=True)
    _prepare_process(req)
    runtime = make_runtime(req.runtime, req.container_id, req.bundle, req.shim_dir)
    try:  # before anything exists, so that a bad log path fails the spawn cleanly
        log = (JsonFileLog(req.log_path, max_size=req.log_max_size, max_files=req.log_max_files)
               if req.log_path and req.log_driver != "none" else None)
    except OSError as e:
        if prefork is not None:
            prefork.discard()
        result.send({"ok": False, "error": f"shim: open log {req.log_path}: {e.strerror}"})
        return

    def meanwhile(pid: int) -> None:
        """Our own files and socket, written while the container's init sets itself up."""
        ready["cgroups_path"] = cgroups_path = _cgroups_path(req.bundle)
        write_atomic(os.path.join(req.shim_dir, "shim.pid"), str(os.getpid()).encode())
        write_atomic(os.path.join(req.shim_dir, "shim.json"), json.dumps({
            "container_id": req.container_id, "runtime": req.runtime or "dockyard",
            "runtime_root": os.path.join(req.shim_dir, "runtime"), "bundle": req.bundle,
            "cgroups_path": cgroups_path}).encode())
        ready["listener"] = _listen(sock_path)
        ready["ino"] = os.stat(sock_path).st_ino

    stdio, child_ends, outputs, stdin_w = stdio_for(req.tty, req.open_stdin)
    try:
        # Blocking on purpose: nothing else can happen before the container exists.
        created = runtime.create(stdio, req.tty, meanwhile, prefork)
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
        return
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
    shim = Shim(req, runtime, created.pid, created.console_fd, stdin_w, outputs, ready["cgroups_path"], log)
    # The container's init is forked: from here on the shim's pages may be shared with its siblings'.
    asyncio.get_running_loop().call_soon(make_mergeable)
    asyncio.get_running_loop().call_later(MERGE_AGAIN_AFTER, make_mergeable)
    try:
        # Report only once the server accepts: the engine's next call (start) then waits for nothing.
        await shim.serve(ready["listener"], lambda: result.send(
            {"ok": True, "shim_pid": os.getpid(), "container_pid": created.pid}))
    except BaseException:
        if not result.sent:  # nobody will ever hear of this container: do not leave it behind
            with contextlib.suppress(OSError):
                os.kill(created.pid, signal.SIGKILL)
        raise
