"""A blocking file-like view of a request body, for engine code that runs in a worker thread."""

from __future__ import annotations

import asyncio

from dockyard.api.http import Request

__all__ = ["BlockingBody"]


class BlockingBody:
    """`read(n)` from a thread pulls chunks from the event loop as needed."""

    def __init__(self, req: Request, loop: asyncio.AbstractEventLoop) -> None:
        self._req = req
        self._loop = loop
        self._buf = b""
        self._eof = False

    def read(self, n: int = -1) -> bytes:
        while not self._eof and (n < 0 or len(self._buf) < n):
            chunk = asyncio.run_coroutine_threadsafe(self._req.chunk(), self._loop).result()
            if not chunk:
                self._eof = True
            self._buf += chunk
        if n < 0:
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:n], self._buf[n:]
        return data
