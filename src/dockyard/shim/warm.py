"""A rehearsal of a shim's life, run in the zygote before it freezes its heap and forks any shim.

A shim is a fork of the zygote and lives as long as its container: every page
it writes after the fork becomes its own copy.  CPython 3.11 writes where it
only reads the first few times code runs: a code object's warm-up counter on
each call until the bytecode is rewritten ("quickened") and specialised, type
version tags and the method cache on attribute lookups, lazily built caches.
Done once here, those writes land in pages every shim then shares; a shim
running the same code afterwards mostly touches reference counts.

The rehearsal is real except for the runtime: a child process stands in for
the container's init (it writes a line, reads its stdin to EOF, exits 3), and a
client on the same loop asks for the state, attaches with stdin, starts it,
signals it, writes and half-closes its stdin, waits for its exit and shuts the
shim down, so the serve loop, the json-file log, the reaping and the exit record
all run.  Anything going wrong only leaves the zygote colder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import tempfile
from typing import Any

from dockyard.shim import protocol as proto
from dockyard.shim.jsonlog import JsonFileLog
from dockyard.shim.loop import Loop, Stream, spawn
from dockyard.shim.request import ShimRequest, decode_request, encode_request
from dockyard.shim.runtimes import Created, Runner, ShimRuntime, make_runtime
from dockyard.shim.server import Shim, stdio_for

__all__ = ["rehearse", "ROUNDS"]

ROUNDS = 10       # past CPython 3.11's warm-up (8 calls) and the first specialisation attempts
_TIMEOUT = 5.0    # seconds one round may take before it is abandoned


class _NoRuntime(ShimRuntime):
    """start runs a trivial command through the shim's runner, as an external runtime's start does."""

    async def start(self, run: Runner) -> None:
        await run(["true"])

    async def exec(self, exec_id: str, process: dict[str, Any], stdio: tuple[int, int, int], tty: bool,
                   run: Runner) -> Created:
        raise NotImplementedError


def _stand_in(stdio: tuple[int, int, int]) -> int:
    """The container's init: a line on stdout, stdin read to EOF, exit status 3."""
    pid = os.fork()
    if pid == 0:
        try:
            for target, fd in enumerate(stdio):
                os.dup2(fd, target)
            os.closerange(3, 0x7FFFFFFF)   # our copy of the stdin pipe's write end, above all
            os.write(1, b"warm\n")
            while os.read(0, 4096):
                pass
        finally:
            os._exit(3)
    return pid


async def _call(path: str, req: dict[str, Any]) -> dict[str, Any]:
    stream = await _connect(path, req)
    try:
        return proto.decode(await stream.readline(proto.MAX_REQUEST))
    finally:
        stream.close()


async def _connect(path: str, req: dict[str, Any]) -> Stream:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)   # a listening unix socket accepts at once
    stream = Stream(sock)
    stream.write(proto.encode(req))
    return stream


async def _client(path: str, shim: Shim) -> None:
    try:
        await _call(path, {"op": "state"})
        attach = await _connect(path, {"op": "attach", "stdin": True, "stdout": True, "stderr": True})
        await attach.readline(proto.MAX_REQUEST)
        await _call(path, {"op": "start"})
        await _call(path, {"op": "kill", "signal": 0})
        await _call(path, {"op": "nope"})
        attach.write(b"input\n")
        attach.sock.shutdown(socket.SHUT_WR)
        while await attach.read(65536):
            pass
        attach.close()
        await _call(path, {"op": "wait"})
        await _call(path, {"op": "shutdown"})
    finally:
        shim.loop.call_soon(shim._leave)


def _round(tmp: str) -> None:
    req = decode_request(encode_request(ShimRequest(
        container_id="warm", bundle=tmp, shim_dir=tmp, log_path=os.path.join(tmp, "log"), log_driver="json-file",
        runtime="", tty=False, open_stdin=True, stdin_once=True)))
    make_runtime(req.runtime, req.container_id, req.bundle, req.shim_dir)
    loop = Loop()
    try:
        log = JsonFileLog(req.log_path)
        stdio, child_ends, outputs, stdin_w = stdio_for(False, True)
        try:
            pid = _stand_in(stdio)
        finally:
            for fd in child_ends:
                os.close(fd)
        shim = Shim(req, _NoRuntime(), pid, None, stdin_w, outputs, "", log)
        path = os.path.join(tmp, "shim.sock")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(8)
        timer = loop.call_later(_TIMEOUT, shim._leave)
        try:
            served = spawn(shim.serve(listener, lambda: spawn(_client(path, shim))))
            loop.run_until(served)
        finally:
            timer.cancel()
            listener.close()
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(-1, os.WNOHANG)[0] > 0:
                    pass
    finally:
        loop.close()


def rehearse(rounds: int = ROUNDS) -> None:
    """Run the rehearsal `rounds` times; the caller's signal dispositions are restored."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGCHLD, signal.SIGPIPE)}
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)   # as in a shim
    tmp = tempfile.mkdtemp(prefix="dockyard-warm-")
    try:
        for _ in range(rounds):
            _round(tmp)
    except Exception:  # noqa: BLE001 - a colder zygote still works
        pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for sig, handler in saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
