"""The shim's event loop: epoll, timers, signals, buffered sockets, and a minimal coroutine runner.

Why not asyncio: a shim lives as long as its container and is a fork of the
zygote, so every page it touches after the fork becomes its own 4 KiB copy
(CPython writes reference counts and code warm-up counters even where it only
reads).  asyncio's loop, transports, streams and tasks touch about a megabyte
before the first request is served; this loop does the same job for the
shim's protocol with a fraction of the code.

Coroutines are plain ``async def`` functions that await ``Waiter`` objects
only; ``spawn`` runs one.  Callbacks and resumed coroutines run from the loop,
never from inside the code that completed a waiter, as in asyncio.  One loop
per process (``Loop()`` becomes ``current()``).
"""

from __future__ import annotations

import heapq
import os
import select
import signal
import socket
import time
import traceback
from collections.abc import Callable, Coroutine, Generator
from typing import Any

__all__ = ["Loop", "Timer", "Waiter", "Stream", "current", "spawn"]

_loop: Loop | None = None
_READ = select.EPOLLIN | select.EPOLLRDHUP
_ERR = select.EPOLLHUP | select.EPOLLERR


def current() -> Loop:
    assert _loop is not None, "no shim loop in this process"
    return _loop


class Waiter:
    """A one-shot result: ``await waiter`` in a coroutine, or add_done_callback."""

    __slots__ = ("_done", "_value", "_exc", "_callbacks")

    def __init__(self) -> None:
        self._done = False
        self._value: Any = None
        self._exc: BaseException | None = None
        self._callbacks: list[Callable[[Waiter], None]] = []

    def done(self) -> bool:
        return self._done

    def set_result(self, value: Any = None) -> None:
        if not self._done:
            self._done, self._value = True, value
            self._schedule()

    def set_exception(self, exc: BaseException) -> None:
        if not self._done:
            self._done, self._exc = True, exc
            self._schedule()

    def result(self) -> Any:
        if self._exc is not None:
            raise self._exc
        return self._value

    def add_done_callback(self, cb: Callable[[Waiter], None]) -> None:
        if self._done:
            current().call_soon(cb, self)
        else:
            self._callbacks.append(cb)

    def _schedule(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            current().call_soon(cb, self)

    def __await__(self) -> Generator[Waiter, None, Any]:
        if not self._done:
            yield self
        return self.result()


def spawn(coro: Coroutine[Waiter, None, Any]) -> Waiter:
    """Run a coroutine on the loop; its result (or exception) in the returned waiter."""
    task = Waiter()

    def step(value: Any = None, exc: BaseException | None = None) -> None:
        try:
            waiter = coro.throw(exc) if exc is not None else coro.send(value)
        except StopIteration as e:
            task.set_result(e.value)
            return
        except BaseException as e:  # noqa: BLE001 - handed to whoever awaits the task
            task.set_exception(e)
            return
        waiter.add_done_callback(resume)

    def resume(waiter: Waiter) -> None:
        if waiter._exc is not None:
            step(exc=waiter._exc)
        else:
            step(waiter._value)

    current().call_soon(step)
    return task


class Timer:
    __slots__ = ("when", "callback", "args", "cancelled")

    def __init__(self, when: float, callback: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.when, self.callback, self.args, self.cancelled = when, callback, args, False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: Timer) -> bool:
        return self.when < other.when


def _ignore(_sig: int, _frame: Any) -> None:
    """The Python half of a handled signal: the C half already wrote its number to the wakeup fd."""


class Loop:
    def __init__(self) -> None:
        global _loop
        self._ep = select.epoll()
        self._readers: dict[int, tuple[Callable[..., None], tuple[Any, ...]]] = {}
        self._writers: dict[int, tuple[Callable[..., None], tuple[Any, ...]]] = {}
        self._ready: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
        self._timers: list[Timer] = []
        self._signals: dict[int, Callable[[], None]] = {}
        self._wakeup: tuple[int, int] | None = None
        self._registered: set[int] = set()
        _loop = self

    # -- callbacks and timers ------------------------------------------------------------------
    def call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        self._ready.append((callback, args))

    def call_later(self, delay: float, callback: Callable[..., None], *args: Any) -> Timer:
        t = Timer(time.monotonic() + delay, callback, args)
        heapq.heappush(self._timers, t)
        return t

    # -- file descriptors ----------------------------------------------------------------------
    def _update(self, fd: int) -> None:
        mask = (_READ if fd in self._readers else 0) | (select.EPOLLOUT if fd in self._writers else 0)
        if mask:
            try:
                if fd in self._registered:
                    self._ep.modify(fd, mask)
                else:
                    self._ep.register(fd, mask)
            except FileNotFoundError:  # the number was closed (and dropped by the kernel) and reused
                self._ep.register(fd, mask)
            except FileExistsError:
                self._ep.modify(fd, mask)
            self._registered.add(fd)
        elif fd in self._registered:
            self._registered.discard(fd)
            try:
                self._ep.unregister(fd)
            except (OSError, ValueError):  # closed already: the kernel dropped it
                pass

    def add_reader(self, fd: int, callback: Callable[..., None], *args: Any) -> None:
        self._readers[fd] = (callback, args)
        self._update(fd)

    def remove_reader(self, fd: int) -> None:
        if self._readers.pop(fd, None) is not None:
            self._update(fd)

    def add_writer(self, fd: int, callback: Callable[..., None], *args: Any) -> None:
        self._writers[fd] = (callback, args)
        self._update(fd)

    def remove_writer(self, fd: int) -> None:
        if self._writers.pop(fd, None) is not None:
            self._update(fd)

    # -- signals -------------------------------------------------------------------------------
    def add_signal_handler(self, sig: int, callback: Callable[[], None]) -> None:
        if self._wakeup is None:
            self._wakeup = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            signal.set_wakeup_fd(self._wakeup[1], warn_on_full_buffer=False)
            self.add_reader(self._wakeup[0], self._on_signals)
        self._signals[sig] = callback
        signal.signal(sig, _ignore)

    def _on_signals(self) -> None:
        assert self._wakeup is not None
        try:
            data = os.read(self._wakeup[0], 256)
        except BlockingIOError:
            return
        for sig in set(data):
            cb = self._signals.get(sig)
            if cb is not None:
                self.call_soon(cb)

    # -- running -------------------------------------------------------------------------------
    def run_until(self, waiter: Waiter) -> Any:
        """Run until `waiter` is done; its result (or exception)."""
        while not waiter.done():
            self._run_once()
        return waiter.result()

    def _run_once(self) -> None:
        timeout = -1.0
        if self._ready:
            timeout = 0.0
        elif self._timers:
            timeout = max(0.0, self._timers[0].when - time.monotonic())
        for fd, ev in self._ep.poll(timeout):
            # Looked up now, not at poll time: an earlier callback may have removed (and closed) it.
            if ev & (_READ | _ERR) and fd in self._readers:
                self._call(self._readers[fd])
            if ev & (select.EPOLLOUT | _ERR) and fd in self._writers:
                self._call(self._writers[fd])
        now = time.monotonic()
        while self._timers and self._timers[0].when <= now:
            t = heapq.heappop(self._timers)
            if not t.cancelled:
                self._ready.append((t.callback, t.args))
        ready, self._ready = self._ready, []
        for handle in ready:
            self._call(handle)

    @staticmethod
    def _call(handle: tuple[Callable[..., None], tuple[Any, ...]]) -> None:
        try:
            handle[0](*handle[1])
        except Exception:  # noqa: BLE001 - one failed callback must not end the shim
            traceback.print_exc()

    def close(self) -> None:
        global _loop
        if self._wakeup is not None:
            signal.set_wakeup_fd(-1)
            for fd in self._wakeup:
                os.close(fd)
            self._wakeup = None
        self._ep.close()
        if _loop is self:
            _loop = None


class Stream:
    """A connected socket: line and chunk reads, buffered writes, close once the last byte is out."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock, self.fd = sock, sock.fileno()
        self._rbuf = bytearray()
        self._wbuf = bytearray()
        self._eof = False
        self._closing = False
        self._closed = False
        self._readable: Waiter | None = None

    # -- reading -------------------------------------------------------------------------------
    async def readline(self, limit: int) -> bytes:
        """One line with its "\\n"; what is left at EOF (b"" if nothing).  ValueError past `limit`."""
        while True:
            i = self._rbuf.find(b"\n")
            if i >= 0:
                line = bytes(self._rbuf[:i + 1])
                del self._rbuf[:i + 1]
                return line
            if len(self._rbuf) > limit:
                raise ValueError("request line too long")
            if self._eof:
                line = bytes(self._rbuf)
                self._rbuf.clear()
                return line
            await self._wait_readable()

    async def read(self, n: int) -> bytes:
        """Up to n bytes; b"" at EOF."""
        if not self._rbuf and not self._eof:
            await self._wait_readable()
        data = bytes(self._rbuf[:n])
        del self._rbuf[:n]
        return data

    def _wait_readable(self) -> Waiter:
        w = self._readable = Waiter()
        if self._closed:
            self._eof = True
            w.set_result(None)
        else:
            current().add_reader(self.fd, self._on_readable)
        return w

    def _on_readable(self) -> None:
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:  # reset: as good as EOF for reading
            data = b""
        if data:
            self._rbuf += data
        else:
            self._eof = True
        current().remove_reader(self.fd)
        if self._readable is not None:
            self._readable.set_result(None)
            self._readable = None

    # -- writing -------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self._closing or self._closed or not data:
            return
        if not self._wbuf:
            try:
                n = self.sock.send(data)
            except BlockingIOError:
                n = 0
            except OSError:
                self._close_now()
                return
            if n == len(data):
                return
            data = data[n:]
            current().add_writer(self.fd, self._on_writable)
        self._wbuf += data

    def _on_writable(self) -> None:
        try:
            n = self.sock.send(self._wbuf)
        except BlockingIOError:
            return
        except OSError:
            self._close_now()
            return
        del self._wbuf[:n]
        if self._wbuf:
            return
        current().remove_writer(self.fd)
        if self._closing:
            self._close_now()

    def buffer_size(self) -> int:
        return len(self._wbuf)

    # -- closing -------------------------------------------------------------------------------
    def is_closing(self) -> bool:
        return self._closing or self._closed

    def close(self) -> None:
        """Close once every buffered byte is sent (or the peer is gone)."""
        self._closing = True
        if not self._wbuf:
            self._close_now()

    def _close_now(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wbuf.clear()
        loop = current()
        loop.remove_reader(self.fd)
        loop.remove_writer(self.fd)
        self.sock.close()
        self._eof = True
        if self._readable is not None:
            self._readable.set_result(None)
            self._readable = None
