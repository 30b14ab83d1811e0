"""Drive a command through a real pseudo-terminal, as a person at a terminal would.

The command runs in its own session with the pty's slave as its controlling
terminal, so it sees a TTY on stdin/stdout, may put it in raw mode, and gets
SIGWINCH when `resize` changes the window size.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time

__all__ = ["PtySession"]


def _set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _make_controlling_tty() -> None:  # runs in the child, after setsid
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtySession:
    def __init__(self, argv: list[str], env: dict[str, str], rows: int = 24, cols: int = 80) -> None:
        self.master, slave = os.openpty()
        _set_size(slave, rows, cols)
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True, preexec_fn=_make_controlling_tty,
                                     close_fds=True)
        os.close(slave)
        self.buf = b""       # everything read so far
        self._pos = 0        # where the next expect starts looking

    def send(self, data: bytes | str) -> None:
        os.write(self.master, data.encode() if isinstance(data, str) else data)

    def _read(self, timeout: float) -> bool:
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the other side closed
            data = b""
        if not data:
            return False
        self.buf += data
        return True

    def expect(self, pattern: bytes | str, timeout: float = 15) -> re.Match[bytes]:
        """Wait for `pattern` (a regex) in the output after the previous match."""
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        deadline = time.time() + timeout
        while True:
            m = rx.search(self.buf, self._pos)
            if m:
                self._pos = m.end()
                return m
            left = deadline - time.time()
            if left <= 0 or not self._read(min(left, 0.5)) and not rx.search(self.buf, self._pos):
                raise AssertionError(f"no {rx.pattern!r} in output: {self.buf[self._pos:]!r}")

    def resize(self, rows: int, cols: int) -> None:
        """Change the window size: the kernel sends SIGWINCH to the command."""
        _set_size(self.master, rows, cols)

    def wait(self, timeout: float = 20) -> int:
        deadline = time.time() + timeout
        while self.proc.poll() is None and time.time() < deadline:
            self._read(0.2)
        return self.proc.wait(max(0.1, deadline - time.time()))

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self.master)
