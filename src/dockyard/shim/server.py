"""The per-container shim: holds the container's stdio, logs it, records its exit, serves shim.sock.

Runs in its own session (forked by the zygote), as the child subreaper of the
container, single-threaded on its own small event loop (``loop.py``).  It
outlives the daemon: SIGPIPE and SIGHUP are ignored, clients that stop reading
lose output past a bounded buffer instead of stalling the container.
Protocol: ``protocol.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dockyard.shim import protocol as proto
from dockyard.shim.jsonlog import JsonFileLog
from dockyard.shim.loop import Stream, Waiter, current, spawn
from dockyard.shim.procio import ProcIO
from dockyard.shim.runtimes import CreateFailed, ShimRuntime

if TYPE_CHECKING:
    from dockyard.shim.zygote import ShimRequest

__all__ = ["LINGER", "Shim", "stdio_for", "write_atomic"]

LINGER = 5.0            # seconds an exited shim keeps answering late clients
_UNCLAIMED_MAX = 256    # exit statuses of children not (yet) known, e.g. an exec whose pid runc reports later


def write_atomic(path: str, data: bytes) -> None:
    # os calls, not open(): in a shim every page touched is a private copy, and io's are many
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    os.replace(tmp, path)


def stdio_for(tty: bool, open_stdin: bool) -> tuple[tuple[int, int, int], list[int], dict[int, int], int | None]:
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
                 stdin_fd: int | None, outputs: dict[int, int], cgroups_path: str,
                 log: JsonFileLog | None = None) -> None:
        self.req, self.runtime, self.pid = req, runtime, pid
        self.status = "created"
        self.exit: proto.ExitStatus | None = None
        self._init_io = (console_fd, stdin_fd, dict(outputs))
        self._cgroups_path = cgroups_path
        self._children: dict[int, Waiter] = {}
        self._procs: dict[int, ProcIO] = {}       # pid → supervised process (init and execs)
        self._execs: dict[str, ProcIO] = {}
        self._unclaimed: dict[int, int] = {}
        self._starting = False
        self._log = log
        self.loop = self._loop = current()

    # -- lifecycle --------------------------------------------------------------------------
    async def serve(self, listener: socket.socket, on_listening: Callable[[], None] | None = None) -> None:
        """Supervise the container and answer on `listener` until the container is done (+ LINGER)."""
        self._done = Waiter()
        console_fd, stdin_fd, outputs = self._init_io
        self.main = ProcIO(self.pid, outputs=outputs, stdin_fd=stdin_fd, console_fd=console_fd,
                           tty=self.req.tty, log=self._log, on_done=self._container_done)
        self._procs[self.pid] = self.main
        self._loop.add_signal_handler(signal.SIGCHLD, self._reap)
        self._reap()  # the init may have exited before the handler existed
        listener.setblocking(False)
        self._loop.add_reader(listener.fileno(), lambda: self._accept(listener))
        if on_listening is not None:
            on_listening()
        try:
            await self._done
        finally:
            self._loop.remove_reader(listener.fileno())

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # EAGAIN: all taken; EMFILE, ECONNABORTED...: again on the next wakeup
                return
            spawn(self._handle(Stream(conn)))

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
        fut = Waiter()
        self._children[pid] = fut
        if pid in self._unclaimed:
            fut.set_result(self._unclaimed.pop(pid))
        self._reap()
        return await fut

    # -- connections -------------------------------------------------------------------------
    async def _handle(self, stream: Stream) -> None:
        keep = False
        try:
            line = await stream.readline(proto.MAX_REQUEST)
            if not line:
                return
            req = proto.decode(line)
            op = req.get("op")
            if op in ("attach", "exec"):
                keep = await (self._attach if op == "attach" else self._exec)(req, stream)
                return
            handler = getattr(self, f"_op_{op}", None) if isinstance(op, str) else None
            reply = await handler(req) if handler else {"ok": False, "error": f"unknown op {op!r}"}
            stream.write(proto.encode(reply))
        except Exception as e:  # noqa: BLE001 - every failure becomes a reply
            stream.write(proto.encode({"ok": False, "error": str(e) or type(e).__name__}))
        finally:
            if not keep:
                stream.close()   # after the reply's last byte

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
        if req.get("forget"):  # nobody asks again (health probes): do not keep it for the shim's life
            self._execs.pop(str(req["id"]), None)
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

    async def _attach(self, req: dict[str, Any], stream: Stream) -> bool:
        stream.write(proto.encode({"ok": True}))
        return await self.main.serve_stream(stream, stdin=bool(req.get("stdin")),
                                            stdout=bool(req.get("stdout")), stderr=bool(req.get("stderr")),
                                            stdin_once=self.req.stdin_once)

    async def _exec(self, req: dict[str, Any], stream: Stream) -> bool:
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
        stdio, ends, outputs, stdin_w = stdio_for(tty, bool(req.get("stdin")))
        try:
            created = await self.runtime.exec(exec_id, process, stdio, tty, self.run)
        except CreateFailed as e:
            stream.write(proto.encode({"ok": False, "error": e.message, "create": True}))
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
        stream.write(proto.encode({"ok": True, "pid": created.pid}))
        return await io.serve_stream(stream, stdin=bool(req.get("stdin")),
                                     stdout=bool(req.get("stdout")), stderr=bool(req.get("stderr")),
                                     stdin_once=True)
