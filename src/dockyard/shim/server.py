"""The per-container shim: holds the container's stdio, logs it, records its exit, serves shim.sock.

Runs in its own session (forked by the zygote), as the child subreaper of the
container, single-threaded on an asyncio loop.  It outlives the daemon: SIGPIPE
and SIGHUP are ignored, clients that stop reading lose output past a bounded
buffer instead of stalling the container.  Protocol: ``protocol.py``.
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
import time
from typing import TYPE_CHECKING, Any

from dockyard.runtime import syscalls as sc
from dockyard.shim import protocol as proto
from dockyard.shim.jsonlog import JsonFileLog
from dockyard.shim.runtimes import CreateFailed, ShimRuntime, make_runtime

if TYPE_CHECKING:
    from dockyard.shim.zygote import ShimRequest

__all__ = ["LINGER", "DRAIN_TIMEOUT", "CLIENT_BUFFER", "Shim", "run_shim", "write_atomic"]

LINGER = 5.0            # seconds an exited shim keeps answering late clients
DRAIN_TIMEOUT = 10.0    # after exit, give up on output still held open by an escaped process
CLIENT_BUFFER = 4 << 20  # per attach client; beyond it output to that client is dropped
STDIN_BUFFER = 1 << 20
_STREAM_NAMES = {proto.STDOUT: "stdout", proto.STDERR: "stderr"}


def write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class _Stdin:
    """Non-blocking writer to the container's stdin with a bounded buffer (backpressure to the client)."""

    def __init__(self, fd: int, owns_fd: bool) -> None:
        self.fd, self.owns_fd = fd, owns_fd
        self.buf = bytearray()
        self.closed = False
        self._close_when_empty = False
        self._drained: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()
        os.set_blocking(fd, False)

    async def write(self, data: bytes) -> None:
        if self.closed:
            return
        self.buf += data
        self._flush()
        while len(self.buf) > STDIN_BUFFER and not self.closed:
            self._drained = self._loop.create_future()
            await self._drained

    def _flush(self) -> None:
        try:
            while self.buf:
                n = os.write(self.fd, self.buf)
                del self.buf[:n]
        except BlockingIOError:
            self._loop.add_writer(self.fd, self._flush)
            return
        except OSError:
            self.buf.clear()
            self._finish()
            return
        self._loop.remove_writer(self.fd)
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        if self._close_when_empty:
            self._finish()

    def close(self) -> None:
        if self.buf:
            self._close_when_empty = True
        else:
            self._finish()

    def _finish(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._loop.remove_writer(self.fd)
        if self.owns_fd:
            os.close(self.fd)
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)


class _Client:
    def __init__(self, writer: asyncio.StreamWriter, stdout: bool, stderr: bool, tty: bool) -> None:
        self.writer, self.tty = writer, tty
        self.streams = {proto.STDOUT: stdout, proto.STDERR: stderr}
        self.dropped = 0

    def send(self, stream: int, data: bytes) -> None:
        if not self.streams.get(stream):
            return
        t = self.writer.transport
        if t.is_closing():
            return
        if t.get_write_buffer_size() > CLIENT_BUFFER:
            self.dropped += len(data)
            return
        self.writer.write(data if self.tty else proto.frame(stream, data))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class Shim:
    def __init__(self, req: ShimRequest, runtime: ShimRuntime, pid: int, console_fd: int | None,
                 stdin_fd: int | None, outputs: dict[int, int], cgroups_path: str) -> None:
        self.req, self.runtime, self.pid = req, runtime, pid
        self.console_fd = console_fd
        self.status = "created"
        self.exit: proto.ExitStatus | None = None
        self._stdin_fd = stdin_fd
        self._outputs = dict(outputs)   # fd → stream number
        self._cgroups_path = cgroups_path
        self._exit_code: int | None = None
        self._finished_ns = 0
        self._waiters: list[asyncio.Future[proto.ExitStatus]] = []
        self._clients: set[_Client] = set()
        self._children: dict[int, asyncio.Future[int]] = {}
        self._log = JsonFileLog(req.log_path) if req.log_path and req.log_driver != "none" else None
        self._starting = False

    # -- lifecycle --------------------------------------------------------------------------
    async def serve(self, listener: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._done: asyncio.Future[None] = self._loop.create_future()
        self.stdin = _Stdin(self._stdin_fd, owns_fd=self._stdin_fd != self.console_fd) \
            if self._stdin_fd is not None else None
        self._loop.add_signal_handler(signal.SIGCHLD, self._reap)
        for fd, stream in self._outputs.items():
            os.set_blocking(fd, False)
            self._loop.add_reader(fd, self._on_output, fd, stream)
        self._reap()  # the init may have exited before the handler existed
        server = await asyncio.start_unix_server(self._handle, sock=listener, limit=proto.MAX_REQUEST)
        try:
            await self._done
        finally:
            server.close()

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.pid and self._exit_code is None:
                self._on_exit(status)
            fut = self._children.pop(pid, None)
            if fut is not None and not fut.done():
                fut.set_result(os.waitstatus_to_exitcode(status))

    def _on_exit(self, status: int) -> None:
        self._exit_code = proto.exit_code_from_status(status)
        self._finished_ns = time.time_ns()
        self.status = "stopped"
        if self.stdin is not None and self.console_fd is None:
            self.stdin.close()
        self._loop.call_later(DRAIN_TIMEOUT, self._force_drain)
        self._maybe_finish()

    def _on_output(self, fd: int, stream: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: every pty slave is closed
            data = b""
        if not data:
            self._close_output(fd)
            self._maybe_finish()
            return
        if self._log is not None:
            self._log.write(_STREAM_NAMES[stream], data)
        for c in list(self._clients):
            c.send(stream, data)

    def _close_output(self, fd: int) -> None:
        self._loop.remove_reader(fd)
        self._outputs.pop(fd, None)
        if fd != self.console_fd:
            os.close(fd)

    def _force_drain(self) -> None:
        for fd in list(self._outputs):
            self._close_output(fd)
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        if self.exit is not None or self._exit_code is None or self._outputs:
            return
        if self._log is not None:
            self._log.close()
        oom = False
        if self._cgroups_path:
            with contextlib.suppress(Exception):
                from dockyard.runtime.cgroups import open_cgroup
                oom = open_cgroup(self._cgroups_path).oom_kill_count() > 0
        self.exit = proto.ExitStatus(self._exit_code, oom, proto.rfc3339nano(self._finished_ns))
        write_atomic(os.path.join(self.req.shim_dir, "exit.json"), json.dumps(self.exit.to_dict()).encode())
        for w in self._waiters:
            if not w.done():
                w.set_result(self.exit)
        for c in self._clients:
            c.close()
        self._clients.clear()
        if self.stdin is not None:
            self.stdin.close()
        if self.console_fd is not None:
            os.close(self.console_fd)
            self.console_fd = None
        self._loop.call_later(LINGER, self._leave)

    def _leave(self) -> None:
        if not self._done.done():
            self._done.set_result(None)

    # -- external commands (runc start) ------------------------------------------------------
    async def run(self, argv: list[str]) -> int:
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            acts = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1),
                    (os.POSIX_SPAWN_DUP2, devnull, 2)]
            pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=acts, setsigdef=(signal.SIGPIPE,))
        finally:
            os.close(devnull)
        fut: asyncio.Future[int] = self._loop.create_future()
        self._children[pid] = fut
        self._reap()
        return await fut

    # -- connections -------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        keep = False
        try:
            line = await reader.readline()
            if not line:
                return
            req = proto.decode(line)
            op = req.get("op")
            if op == "attach":
                keep = await self._attach(req, reader, writer)
                return
            handler = getattr(self, f"_op_{op}", None) if isinstance(op, str) else None
            reply = await handler(req) if handler else {"ok": False, "error": f"unknown op {op!r}"}
            writer.write(proto.encode(reply))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception as e:  # noqa: BLE001 - every failure becomes a reply
            with contextlib.suppress(Exception):
                writer.write(proto.encode({"ok": False, "error": str(e) or type(e).__name__}))
                await writer.drain()
        finally:
            if not keep:
                with contextlib.suppress(Exception):
                    writer.close()

    async def _op_start(self, req: dict[str, Any]) -> dict[str, Any]:
        if self.status != "created" or self._starting:
            return {"ok": False, "error": f"container is {self.status}, not created"}
        self._starting = True
        try:
            await self.runtime.start(self.run)
        except Exception as e:  # noqa: BLE001
            return {"ok": False, "error": str(e) or type(e).__name__}
        finally:
            self._starting = False
        if self.status == "created":
            self.status = "running"
        return {"ok": True}

    async def _op_kill(self, req: dict[str, Any]) -> dict[str, Any]:
        sig = int(req.get("signal", signal.SIGTERM))
        if self._exit_code is not None:
            return {"ok": False, "error": "container is not running"}
        if req.get("all") and self._cgroups_path:
            from dockyard.runtime.cgroups import open_cgroup
            open_cgroup(self._cgroups_path).kill_all(sig)
        else:
            os.kill(self.pid, sig)  # safe from pid reuse: we reap it, it cannot be recycled before
        return {"ok": True}

    async def _op_state(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"pid": self.pid, "status": self.status}

    async def _op_wait(self, req: dict[str, Any]) -> dict[str, Any]:
        if self.exit is None:
            fut: asyncio.Future[proto.ExitStatus] = self._loop.create_future()
            self._waiters.append(fut)
            await fut
        assert self.exit is not None
        return self.exit.to_dict()

    async def _op_resize(self, req: dict[str, Any]) -> dict[str, Any]:
        if self.console_fd is None:
            return {"ok": False, "error": "container has no tty"}
        w, h = int(req.get("width", 0)), int(req.get("height", 0))
        fcntl.ioctl(self.console_fd, termios.TIOCSWINSZ, struct.pack("HHHH", h, w, 0, 0))
        return {"ok": True}

    async def _op_shutdown(self, req: dict[str, Any]) -> dict[str, Any]:
        if self.exit is not None:
            self._loop.call_soon(self._leave)
        return {"ok": True}

    async def _attach(self, req: dict[str, Any], reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> bool:
        writer.write(proto.encode({"ok": True}))
        if self.exit is not None:
            await writer.drain()
            return False
        client = _Client(writer, bool(req.get("stdout")), bool(req.get("stderr")), self.req.tty)
        self._clients.add(client)
        want_stdin = bool(req.get("stdin")) and self.stdin is not None
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if want_stdin and self.stdin is not None:
                    await self.stdin.write(data)
        except ConnectionError:
            pass
        if want_stdin and self.req.stdin_once and self.stdin is not None and self.console_fd is None:
            self.stdin.close()
        if writer.transport.is_closing():
            self._clients.discard(client)
            return False
        return True  # half-closed: keep sending output until the container exits


# -- process setup -------------------------------------------------------------------------------

def _report(fd: int, obj: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, proto.encode(obj))
    with contextlib.suppress(OSError):
        os.close(fd)


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


def run_shim(req: ShimRequest, result_fd: int) -> None:
    """The shim process's whole life; reports on result_fd once created (or failed)."""
    os.makedirs(req.shim_dir, 0o711, exist_ok=True)
    _prepare_process(req)
    runtime = make_runtime(req.runtime, req.container_id, req.bundle, req.shim_dir)
    sock_path = os.path.join(req.shim_dir, "shim.sock")
    ready: dict[str, Any] = {}

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

    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    outputs: dict[int, int] = {}
    stdin_w: int | None = None
    child_ends: list[int] = []
    if req.tty:
        stdio = (null, null, null)
    else:
        stdin_r = null
        if req.open_stdin:
            stdin_r, stdin_w = os.pipe()
            child_ends.append(stdin_r)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        child_ends += [out_w, err_w]
        outputs = {out_r: proto.STDOUT, err_r: proto.STDERR}
        stdio = (stdin_r, out_w, err_w)
    try:
        created = runtime.create(stdio, req.tty, meanwhile)
    except Exception as e:  # noqa: BLE001 - reported, then this process ends
        if "listener" in ready:
            ready["listener"].close()
            with contextlib.suppress(OSError):
                os.unlink(sock_path)
        if isinstance(e, CreateFailed):
            _report(result_fd, {"ok": False, "error": e.message, "create": True})
        else:
            _report(result_fd, {"ok": False, "error": f"shim: {e}"})
        return
    finally:
        for fd in child_ends + [null]:
            os.close(fd)
    if created.console_fd is not None:
        outputs = {created.console_fd: proto.STDOUT}
        stdin_w = created.console_fd if req.open_stdin else None
        if req.console_width and req.console_height:
            with contextlib.suppress(OSError):
                fcntl.ioctl(created.console_fd, termios.TIOCSWINSZ,
                            struct.pack("HHHH", req.console_height, req.console_width, 0, 0))
    shim = Shim(req, runtime, created.pid, created.console_fd, stdin_w, outputs, ready["cgroups_path"])
    _report(result_fd, {"ok": True, "shim_pid": os.getpid(), "container_pid": created.pid})
    try:
        asyncio.run(shim.serve(ready["listener"]))
    finally:
        with contextlib.suppress(OSError):
            if os.stat(sock_path).st_ino == ready["ino"]:  # a newer shim may own the path by now
                os.unlink(sock_path)
