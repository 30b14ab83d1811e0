"""Copy bytes between a client's hijacked connection and a process stream of the shim.

Used by attach and exec. The shim already speaks the client's format (frames
without a TTY, raw bytes with one), so this only copies. Output ends when the
shim closes the stream (the process exited and its output drained); the
client's half-close becomes the process's stdin EOF. With detach keys (TTY
only, as in Docker) typing the sequence ends the session and leaves the
process running.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from typing import Protocol

from dockyard.detachkeys import EscapeFilter

__all__ = ["ByteStream", "RelayEnd", "relay"]


class ByteStream(Protocol):
    async def read(self, n: int = 65536) -> bytes: ...
    async def write(self, data: bytes) -> None: ...
    def close_write(self) -> None: ...


class RelayEnd(enum.Enum):
    ENDED = "ended"          # the shim closed the stream: the process is done
    DETACHED = "detached"    # the client typed the detach keys
    GONE = "gone"            # the client went away


async def relay(client: ByteStream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                stdin: bool, detach_keys: bytes | None = None) -> RelayEnd:
    """Relay until the process's output ends, the client detaches or leaves; closes the shim side."""
    detached = asyncio.Event()

    async def upstream() -> None:
        filt = EscapeFilter(detach_keys) if detach_keys else None
        while data := await client.read(65536):
            if filt is not None:
                data = filt.feed(data)
            if data:
                writer.write(data)
                await writer.drain()
            if filt is not None and filt.detached:
                detached.set()
                return
        if filt is not None and (tail := filt.flush()):
            writer.write(tail)
        with contextlib.suppress(OSError, RuntimeError):
            writer.write_eof()

    async def downstream() -> RelayEnd:
        try:
            while data := await reader.read(65536):
                await client.write(data)
        except (ConnectionError, OSError):
            return RelayEnd.GONE
        return RelayEnd.ENDED

    up = asyncio.create_task(upstream()) if stdin else None
    down = asyncio.create_task(downstream())
    detach = asyncio.create_task(detached.wait())
    try:
        await asyncio.wait({down, detach}, return_when=asyncio.FIRST_COMPLETED)
        end = RelayEnd.DETACHED if detached.is_set() else down.result()
    finally:
        for task in (up, down, detach):
            if task is not None and not task.done():
                task.cancel()
        for task in (up, down, detach):
            if task is not None:
                with contextlib.suppress(BaseException):
                    await task
        writer.close()
    return end
