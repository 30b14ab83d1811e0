"""A blocking file-like view of a request body, for engine code that runs in a worker thread."""

from __future__ import annotations

import asyncio

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
