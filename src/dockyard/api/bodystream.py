"""A blocking file-like view of a request body, for engine code that runs in a worker thread."""

from __future__ import annotations

import asyncio
import queue
import threading

from dockyard.api.http import Request

__all__ = ["BlockingBody"]


class BlockingBody:
    """`read(n)` from a thread pulls chunks from the event loop as needed.

    Chunks are kept in a list and joined once per read, with an offset into the first:
    appending to one growing bytes object would copy it again for every chunk."""

    def __init__(self, req: Request, loop: asyncio.AbstractEventLoop) -> None:
        self._req = req
        self._loop = loop
        self._parts: list[bytes] = []
        self._size = 0          # bytes held in _parts beyond _pos
        self._pos = 0           # offset into _parts[0]
        self._eof = False

    def read(self, n: int = -1) -> bytes:
        while not self._eof and (n < 0 or self._size < n):
            chunk = asyncio.run_coroutine_threadsafe(self._req.chunk(), self._loop).result()
            if not chunk:
                self._eof = True
                break
            self._parts.append(chunk)
            self._size += len(chunk)
        if not self._parts:
            return b""
        if len(self._parts) == 1 and (n < 0 or n >= self._size):
            data = self._parts[0][self._pos:]
            self._parts, self._size, self._pos = [], 0, 0
            return data
        joined = b"".join(self._parts)[self._pos:]
        data = joined if n < 0 else joined[:n]
        rest = b"" if n < 0 else joined[n:]
        self._parts = [rest] if rest else []
        self._size, self._pos = len(rest), 0
        return data


class ReadAheadBody:
    """A blocking `read(n)` of a request body that the event loop reads ahead of the worker
    (up to `limit` bytes), so receiving the next chunks overlaps with processing this one.
    `close()` (from any thread) stops the reading; call it when the worker is done."""

    def __init__(self, req: Request, loop: asyncio.AbstractEventLoop, limit: int = 8 << 20) -> None:

        self._loop = loop
        self._limit = limit
        self._chunks: queue.SimpleQueue[bytes | BaseException] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._buffered = 0            # bytes queued, not yet taken by the worker
        self._room = asyncio.Event()  # set when the worker made room again
        self._buf = memoryview(b"")
        self._eof = False
        self._task = asyncio.run_coroutine_threadsafe(self._pump(req), loop)

    async def _pump(self, req: Request) -> None:
        try:
            while True:
                chunk = await req.chunk()
                with self._lock:
                    self._buffered += len(chunk)
                    full = self._buffered >= self._limit
                    if full:
                        self._room.clear()
                self._chunks.put(chunk)
                if not chunk:
                    return
                if full:
                    await self._room.wait()
        except BaseException as e:  # the connection failed, or close(): the worker sees the end
            self._chunks.put(e if not isinstance(e, asyncio.CancelledError) else b"")
            if isinstance(e, asyncio.CancelledError):
                raise

    def _taken(self, n: int) -> None:
        with self._lock:
            was_full = self._buffered >= self._limit
            self._buffered -= n
            if was_full and self._buffered < self._limit:
                self._loop.call_soon_threadsafe(self._room.set)

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = [bytes(self._buf)]
            self._buf = memoryview(b"")
            while data := self._next():
                parts.append(data)
            return b"".join(parts)
        if not self._buf:
            data = self._next()
            if not data:
                return b""
            # the client's chunks are small (the docker CLI's are 32 KiB): take what else has
            # arrived, so the reader gets pieces as large as it asked for
            parts = [data]
            size = len(data)
            while size < n and not self._eof and not self._chunks.empty():
                more = self._next(block=False)
                if not more:
                    break
                parts.append(more)
                size += len(more)
            whole = b"".join(parts) if len(parts) > 1 else data
            if len(whole) <= n:
                return whole        # no copy: the common case
            self._buf = memoryview(whole)
        out = bytes(self._buf[:n])
        self._buf = self._buf[n:]
        return out

    def _next(self, block: bool = True) -> bytes:
        if self._eof:
            return b""
        try:
            item = self._chunks.get(block)
        except queue.Empty:
            return b""
        if isinstance(item, BaseException):
            self._eof = True
            raise item
        if not item:
            self._eof = True
            return b""
        self._taken(len(item))
        return item

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._task.cancel)
