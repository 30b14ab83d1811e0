"""Wiring a hijacked attach/exec stream to the local terminal, as docker's hijackedIOStreamer.

Output is copied in the calling thread: raw bytes with a TTY, demultiplexed frames
without one (stdout frames → fd 1, stderr frames → fd 2).  Stdin, if attached, is copied
by a daemon thread; at its EOF the socket's write side is half-closed and output keeps
flowing until the daemon ends the stream.  With a TTY on stdin the local terminal is put
in raw mode and restored however we leave.
"""

from __future__ import annotations

import os
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dockyard.client.hijack import HijackedStream
    from dockyard.detachkeys import EscapeFilter

__all__ = ["RawTerminal", "copy_output", "pump", "write_all", "watch_resize", "SignalProxy"]


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        view = view[n:]


class RawTerminal:
    """Context manager: raw mode on fd (if it is a terminal), restored on exit."""

    def __init__(self, fd: int = 0) -> None:
        self.fd = fd
        self._saved: list | None = None

    def __enter__(self) -> RawTerminal:
        try:
            if os.isatty(self.fd):
                import termios
                import tty

                self._saved = termios.tcgetattr(self.fd)
                tty.setraw(self.fd, termios.TCSANOW)
        except (OSError, ImportError):
            self._saved = None
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def restore(self) -> None:
        if self._saved is not None:
            import termios

            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            except OSError:
                pass
            self._saved = None


def copy_output(stream: HijackedStream, tty: bool, out_fd: int = 1, err_fd: int = 2) -> None:
    """Copy the container's output until the stream ends."""
    if tty:
        for block in stream:
            write_all(out_fd, block)
        return
    from dockyard.client.streams import FrameDecoder

    dec = FrameDecoder()
    for block in stream:
        for kind, payload in dec.feed(block):
            write_all(err_fd if kind in (2, 3) else out_fd, payload)


def _copy_stdin(stream: HijackedStream, in_fd: int, escape: EscapeFilter | None = None) -> None:
    try:
        while True:
            try:
                data = os.read(in_fd, 32768)
            except InterruptedError:
                continue
            except OSError:
                break
            if not data:
                break
            if escape is not None:
                data = escape.feed(data)
            try:
                if data:
                    stream.send(data)
                if escape is not None and escape.detached:
                    # end the session here; the container keeps running
                    stream.shutdown()
                    return
            except OSError:
                return
    finally:
        stream.close_write()


def pump(stream: HijackedStream, tty: bool, stdin: bool, in_fd: int = 0, out_fd: int = 1, err_fd: int = 2,
         detach_keys: str = "") -> bool:
    """Copy both ways until the daemon ends the output; raw mode for `-it`.

    With a TTY on stdin the detach keys (docker's syntax, default ctrl-p,ctrl-q) end the
    session, as in docker's CLI; returns True when that happened."""
    from dockyard.detachkeys import EscapeFilter, parse_detach_keys

    raw = RawTerminal(in_fd) if (tty and stdin) else None
    escape = None
    if tty and stdin:
        try:
            escape = EscapeFilter(parse_detach_keys(detach_keys))
        except ValueError:  # the daemon refused it already; keep the default
            escape = EscapeFilter(parse_detach_keys(""))
    if raw is not None:
        raw.__enter__()
    try:
        if stdin:
            t = threading.Thread(target=_copy_stdin, args=(stream, in_fd, escape), daemon=True)
            t.start()
        copy_output(stream, tty, out_fd, err_fd)
    finally:
        if raw is not None:
            raw.restore()
    return escape is not None and escape.detached


def watch_resize(resize: Callable[[int, int], None], fd: int = 1) -> Callable[[], None]:
    """Send the terminal size now and on every SIGWINCH; returns an undo function."""
    import signal

    from dockyard.cli.runconfig import console_size

    def send() -> None:
        h, w = console_size(fd)
        if h or w:
            try:
                resize(h, w)
            except Exception:  # noqa: BLE001 - a failed resize must not end the session
                pass

    def on_winch(_sig: int, _frame: object) -> None:
        threading.Thread(target=send, daemon=True).start()

    send()
    try:
        old = signal.signal(signal.SIGWINCH, on_winch)
    except ValueError:  # not the main thread
        return lambda: None
    return lambda: signal.signal(signal.SIGWINCH, old)


class SignalProxy:
    """Forward the signals the CLI receives to the container (docker's --sig-proxy)."""

    NAMES = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")

    def __init__(self, kill: Callable[[str], None]) -> None:
        self.kill = kill
        self._old: dict[int, object] = {}

    def __enter__(self) -> SignalProxy:
        import signal

        for name in self.NAMES:
            num = getattr(signal, name)

            def handler(_sig: int, _frame: object, name: str = name) -> None:
                threading.Thread(target=self._send, args=(name,), daemon=True).start()

            try:
                self._old[num] = signal.signal(num, handler)
            except ValueError:
                break
        return self

    def _send(self, name: str) -> None:
        try:
            self.kill(name)
        except Exception:  # noqa: BLE001 - the container may already be gone
            pass

    def __exit__(self, *exc: object) -> None:
        import signal

        for num, old in self._old.items():
            signal.signal(num, old)  # type: ignore[arg-type]
        self._old.clear()
