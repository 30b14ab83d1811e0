"""One supervised process's stdio, as a shim holds it: the container's init, or an exec'd process.

Output (pipes, or the pty master) is read without blocking and fanned out to
the attached clients (Docker's multiplexed frames, raw bytes with a tty) and
to the json-file log if there is one.  A client that stops reading loses
output past ``CLIENT_BUFFER``; the process never stalls on it.  Stdin is
written with a bounded buffer that pushes back on the client instead.

The process is *done* once it has exited and its output is drained (or the
drain timed out): then the log is flushed, clients are closed after their
last bytes, and ``on_done`` runs.
"""

from __future__ import annotations

import fcntl
import os
import struct
import termios
import time
from collections.abc import Callable

from dockyard.shim import protocol as proto
from dockyard.shim.jsonlog import JsonFileLog
from dockyard.shim.loop import Stream, Waiter, current

__all__ = ["CLIENT_BUFFER", "STDIN_BUFFER", "DRAIN_TIMEOUT", "StdinWriter", "AttachClient", "ProcIO"]

CLIENT_BUFFER = 4 << 20   # per attach client; beyond it output to that client is dropped
STDIN_BUFFER = 1 << 20
DRAIN_TIMEOUT = 10.0      # after exit, give up on output still held open by an escaped process
_STREAM_NAMES = {proto.STDOUT: "stdout", proto.STDERR: "stderr"}


class StdinWriter:
    """Non-blocking writer to a process's stdin with a bounded buffer (backpressure to the client)."""

    def __init__(self, fd: int, owns_fd: bool) -> None:
        self.fd, self.owns_fd = fd, owns_fd
        self.buf = bytearray()
        self.closed = False
        self._close_when_empty = False
        self._drained: Waiter | None = None
        self._loop = current()
        os.set_blocking(fd, False)

    async def write(self, data: bytes) -> None:
        if self.closed:
            return
        self.buf += data
        self._flush()
        while len(self.buf) > STDIN_BUFFER and not self.closed:
            self._drained = Waiter()
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
        if self._drained is not None:
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
        if self._drained is not None:
            self._drained.set_result(None)


class AttachClient:
    def __init__(self, stream: Stream, stdout: bool, stderr: bool, tty: bool) -> None:
        self.stream, self.tty = stream, tty
        self.streams = {proto.STDOUT: stdout, proto.STDERR: stderr}
        self.dropped = 0

    def send(self, stream: int, data: bytes) -> None:
        if not self.streams.get(stream):
            return
        s = self.stream
        if s.is_closing():
            return
        if s.buffer_size() > CLIENT_BUFFER:
            self.dropped += len(data)
            return
        s.write(data if self.tty else proto.frame(stream, data))

    def close(self) -> None:
        self.stream.close()


class ProcIO:
    def __init__(self, pid: int, *, outputs: dict[int, int], stdin_fd: int | None, console_fd: int | None,
                 tty: bool, log: JsonFileLog | None = None,
                 on_done: Callable[[ProcIO], None] | None = None) -> None:
        self.pid, self.tty, self.console_fd = pid, tty, console_fd
        self.exit_code: int | None = None
        self.finished_ns = 0
        self.done = False
        self._outputs = dict(outputs)    # fd → stream number
        self._log = log
        self._on_done = on_done
        self._clients: set[AttachClient] = set()
        self._loop = current()
        self._done_w = Waiter()
        self.stdin = StdinWriter(stdin_fd, owns_fd=stdin_fd != console_fd) if stdin_fd is not None else None
        for fd, stream in self._outputs.items():
            os.set_blocking(fd, False)
            self._loop.add_reader(fd, self._on_output, fd, stream)

    # -- events -----------------------------------------------------------------------------
    def on_exit(self, exit_code: int) -> None:
        if self.exit_code is not None:
            return
        self.exit_code = exit_code
        self.finished_ns = time.time_ns()
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
        for c in self._clients:
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
        if self.done or self.exit_code is None or self._outputs:
            return
        self.done = True
        if self._log is not None:
            self._log.close()
        for c in self._clients:
            c.close()
        self._clients.clear()
        if self.stdin is not None:
            self.stdin.close()
        if self.console_fd is not None:
            os.close(self.console_fd)
            self.console_fd = None
        if self._on_done is not None:
            self._on_done(self)
        self._done_w.set_result(None)

    # -- client operations ------------------------------------------------------------------
    async def wait_done(self) -> None:
        await self._done_w

    def resize(self, width: int, height: int) -> None:
        if self.console_fd is None:
            raise ValueError("the process has no tty")
        fcntl.ioctl(self.console_fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    async def serve_stream(self, stream: Stream, *, stdin: bool, stdout: bool, stderr: bool,
                           stdin_once: bool) -> bool:
        """Attach one connection; returns True if it must stay open (closed when the process is done)."""
        if self.done:
            return False
        client = AttachClient(stream, stdout, stderr, self.tty)
        self._clients.add(client)
        want_stdin = stdin and self.stdin is not None
        while True:
            data = await stream.read(65536)
            if not data:
                break
            if want_stdin and self.stdin is not None:
                await self.stdin.write(data)
        if want_stdin and stdin_once and self.stdin is not None and self.console_fd is None:
            self.stdin.close()
        if stream.is_closing():
            self._clients.discard(client)
            return False
        return not self.done  # half-closed: keep sending output until the process is done
