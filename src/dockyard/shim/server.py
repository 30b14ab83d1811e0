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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dockyard.runtime import syscalls as sc
from dockyard.runtime.spawn import Prefork
from dockyard.shim import protocol as proto
from dockyard.shim.jsonlog import JsonFileLog
from dockyard.shim.procio import ProcIO
from dockyard.shim.runtimes import CreateFailed, ShimRuntime, make_runtime

if TYPE_CHECKING:
    from dockyard.shim.zygote import ShimRequest

__all__ = ["LINGER", "Shim", "run_shim", "warm_up", "write_atomic"]

LINGER = 5.0            # seconds an exited shim keeps answering late clients
_UNCLAIMED_MAX = 256    # exit statuses of children not (yet) known, e.g. an exec whose pid runc reports later


def write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _stdio(tty: bool, open_stdin: bool) -> tuple[tuple[int, int, int], list[int], dict[int, int], int | None]:
    """Pipes for a process: (its stdio, our copies of its ends to close, outputs fd→stream, stdin writer)."""
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    if tty:
        return (null, null, null), [null], {}, None
    stdin_r, stdin_w = (os.pipe() if open_stdin else (null, None))
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    ends = [out_w, err_w, null] + ([stdin_r] if stdin_r != null else [])
    return (stdin_r, out_w, err_w), ends, {out_r: proto.STDOUT, err_r: proto.STDERR}, stdin_w


class Shim:
    def __init__(self, req: ShimRequest, runtime: ShimRuntime, pid: int, console_fd: int | None,
                 stdin_fd: int | None, outputs: dict[int, int], cgroups_path: str) -> None:
        self.req, self.runtime, self.pid = req, runtime, pid
        self.status = "created"
        self.exit: proto.ExitStatus | None = None
        self._init_io = (console_fd, stdin_fd, dict(outputs))
        self._cgroups_path = cgroups_path
        self._children: dict[int, asyncio.Future[int]] = {}
        self._procs: dict[int, ProcIO] = {}       # pid → supervised process (init and execs)
        self._execs: dict[str, ProcIO] = {}
        self._unclaimed: dict[int, int] = {}
        self._starting = False

    # -- lifecycle --------------------------------------------------------------------------
    async def serve(self, listener: socket.socket, on_listening: Callable[[], None] | None = None) -> None:
        """Supervise the container and answer on `listener` until the container is done (+ LINGER)."""
        self._loop = asyncio.get_running_loop()
        self._done: asyncio.Future[None] = self._loop.create_future()
        console_fd, stdin_fd, outputs = self._init_io
        log = JsonFileLog(self.req.log_path) if self.req.log_path and self.req.log_driver != "none" else None
        self.main = ProcIO(self.pid, outputs=outputs, stdin_fd=stdin_fd, console_fd=console_fd,
                           tty=self.req.tty, log=log, on_done=self._container_done)
        self._procs[self.pid] = self.main
        self._loop.add_signal_handler(signal.SIGCHLD, self._reap)
        self._reap()  # the init may have exited before the handler existed
        server = await asyncio.start_unix_server(self._handle, sock=listener, limit=proto.MAX_REQUEST)
        if on_listening is not None:
            on_listening()
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
            fut = self._children.pop(pid, None)
            proc = self._procs.pop(pid, None)
            if fut is not None:
                if not fut.done():
                    fut.set_result(os.waitstatus_to_exitcode(status))
            elif proc is not None:
                self._on_exit(proc, proto.exit_code_from_status(status))
            else:
                if len(self._unclaimed) >= _UNCLAIMED_MAX:
                    self._unclaimed.pop(next(iter(self._unclaimed)))
                self._unclaimed[pid] = proto.exit_code_from_status(status)

    def _on_exit(self, proc: ProcIO, code: int) -> None:
        if proc is self.main:
            self.status = "stopped"
        proc.on_exit(code)

    def _container_done(self, io: ProcIO) -> None:
        oom = False
        if self._cgroups_path:
            with contextlib.suppress(Exception):
                from dockyard.runtime.cgroups import open_cgroup
                oom = open_cgroup(self._cgroups_path).oom_kill_count() > 0
        assert io.exit_code is not None
        self.exit = proto.ExitStatus(io.exit_code, oom, proto.rfc3339nano(io.finished_ns))
        write_atomic(os.path.join(self.req.shim_dir, "exit.json"), json.dumps(self.exit.to_dict()).encode())
        self._loop.call_later(LINGER, self._leave)

    def _leave(self) -> None:
        if not self._done.done():
            self._done.set_result(None)

    def _track(self, pid: int, proc: ProcIO) -> None:
        if pid in self._unclaimed:  # it exited (and was reaped) before we knew its pid
            self._on_exit(proc, self._unclaimed.pop(pid))
        else:
            self._procs[pid] = proc

    # -- external commands (runc start/exec) -------------------------------------------------
    async def run(self, argv: list[str], stdio: tuple[int, int, int] | None = None) -> int:
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            fds = stdio or (devnull, devnull, devnull)
            acts = [(os.POSIX_SPAWN_DUP2, fd, i) for i, fd in enumerate(fds)]
            pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=acts, setsigdef=(signal.SIGPIPE,))
        finally:
            os.close(devnull)
        fut: asyncio.Future[int] = self._loop.create_future()
        self._children[pid] = fut
        if pid in self._unclaimed:
            fut.set_result(self._unclaimed.pop(pid))
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
            if op in ("attach", "exec"):
                keep = await (self._attach if op == "attach" else self._exec)(req, reader, writer)
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

    def _proc(self, req: dict[str, Any]) -> ProcIO:
        """The container's init, or the exec named by req["id"]."""
        if "id" not in req:
            return self.main
        try:
            return self._execs[str(req["id"])]
        except KeyError:
            raise ValueError(f"no such exec: {req['id']}") from None

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
        proc = self._proc(req)
        if proc.exit_code is not None:
            return {"ok": False, "error": "container is not running" if proc is self.main
                    else "process already finished"}
        if req.get("all") and proc is self.main and self._cgroups_path:
            from dockyard.runtime.cgroups import open_cgroup
            open_cgroup(self._cgroups_path).kill_all(sig)
        else:
            os.kill(proc.pid, sig)  # safe from pid reuse: we reap it, so it cannot be recycled before
        return {"ok": True}

    async def _op_state(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"pid": self.pid, "status": self.status}

    async def _op_wait(self, req: dict[str, Any]) -> dict[str, Any]:
        await self.main.wait_done()
        assert self.exit is not None
        return self.exit.to_dict()

    async def _op_exec_wait(self, req: dict[str, Any]) -> dict[str, Any]:
        proc = self._proc(req)
        await proc.wait_done()
        return {"exit_code": proc.exit_code}

    async def _op_resize(self, req: dict[str, Any]) -> dict[str, Any]:
        proc = self._proc(req)
        if proc.console_fd is None:
            return {"ok": False, "error": "the process has no tty"}
        proc.resize(int(req.get("width", 0)), int(req.get("height", 0)))
        return {"ok": True}

    async def _op_shutdown(self, req: dict[str, Any]) -> dict[str, Any]:
        if self.exit is not None:
            self._loop.call_soon(self._leave)
        return {"ok": True}

    async def _attach(self, req: dict[str, Any], reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> bool:
        writer.write(proto.encode({"ok": True}))
        return await self.main.serve_stream(reader, writer, stdin=bool(req.get("stdin")),
                                            stdout=bool(req.get("stdout")), stderr=bool(req.get("stderr")),
                                            stdin_once=self.req.stdin_once)

    async def _exec(self, req: dict[str, Any], reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> bool:
        exec_id = str(req.get("id", ""))
        if not exec_id or exec_id in self._execs:
            raise ValueError(f"exec id {exec_id!r} is empty or in use")
        if self.status != "running":
            raise ValueError(f"container is {self.status}, not running")
        process = req.get("process")
        if not isinstance(process, dict):
            raise ValueError("exec needs an OCI process object")
        tty = bool(process.get("terminal"))
        if tty and req.get("console_width") and req.get("console_height"):
            # The process runs at once: its size must be set before, by the runtime.
            process = dict(process, consoleSize={"height": int(req["console_height"]),
                                                 "width": int(req["console_width"])})
        stdio, ends, outputs, stdin_w = _stdio(tty, bool(req.get("stdin")))
        try:
            created = await self.runtime.exec(exec_id, process, stdio, tty, self.run)
        except CreateFailed as e:
            writer.write(proto.encode({"ok": False, "error": e.message, "create": True}))
            return False
        finally:
            for fd in ends:
                os.close(fd)
        if created.console_fd is not None:
            outputs = {created.console_fd: proto.STDOUT}
            stdin_w = created.console_fd if req.get("stdin") else None
        io = ProcIO(created.pid, outputs=outputs, stdin_fd=stdin_w, console_fd=created.console_fd, tty=tty)
        self._execs[exec_id] = io
        self._track(created.pid, io)
        writer.write(proto.encode({"ok": True, "pid": created.pid}))
        return await io.serve_stream(reader, writer, stdin=bool(req.get("stdin")),
                                     stdout=bool(req.get("stdout")), stderr=bool(req.get("stderr")),
                                     stdin_once=True)


# -- process setup -------------------------------------------------------------------------------

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


def run_shim(req: ShimRequest, result_fd: int, *, loop: asyncio.AbstractEventLoop | None = None,
             prefork: Prefork | None = None) -> None:
    """The shim process's whole life; reports on result_fd once created (or failed).

    loop and prefork may be prepared ahead of the request (the zygote's spare shim does).
    """
    loop = loop or asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    sock_path = os.path.join(req.shim_dir, "shim.sock")
    ready: dict[str, Any] = {}
    try:
        loop.run_until_complete(_shim_main(req, result_fd, prefork, sock_path, ready))
    finally:
        with contextlib.suppress(OSError):
            if "ino" in ready and os.stat(sock_path).st_ino == ready["ino"]:  # a newer shim may own it now
                os.unlink(sock_path)
        loop.close()


async def _shim_main(req: ShimRequest, result_fd: int, prefork: Prefork | None, sock_path: str,
                     ready: dict[str, Any]) -> None:
    os.makedirs(req.shim_dir, 0o711, exist_ok=True)
    _prepare_process(req)
    runtime = make_runtime(req.runtime, req.container_id, req.bundle, req.shim_dir)

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

    stdio, child_ends, outputs, stdin_w = _stdio(req.tty, req.open_stdin)
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
            _report(result_fd, {"ok": False, "error": e.message, "create": True})
        else:
            _report(result_fd, {"ok": False, "error": f"shim: {e}"})
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
    shim = Shim(req, runtime, created.pid, created.console_fd, stdin_w, outputs, ready["cgroups_path"])
    # Report only once the server accepts: the engine's next call (start) then waits for nothing.
    await shim.serve(ready["listener"], lambda: _report(
        result_fd, {"ok": True, "shim_pid": os.getpid(), "container_pid": created.pid}))
