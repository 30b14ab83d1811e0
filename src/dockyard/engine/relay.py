"""Copy bytes between a client's hijacked connection and a process stream of the shim.

Used by attach and exec. The shim already speaks the client's format (frames
without a TTY, raw bytes with one), so this only copies. Output ends when the
shim closes the stream (the process exited and its output drained); the
client's half-close becomes the process's stdin EOF, or (``end_on_eof``: with
a TTY, or stdin not closed at the client's EOF) ends the session, as moby's
CopyStreams does. With detach keys (TTY only, as in Docker) typing the
sequence ends the session and leaves the process running.
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
    INPUT_ENDED = "input"    # the client's stdin ended and that ends the session (end_on_eof)


async def relay(client: ByteStream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                stdin: bool, detach_keys: bytes | None = None, end_on_eof: bool = False) -> RelayEnd:
    """Relay until the process's output ends, the client detaches or leaves; closes the shim side."""
    stop = asyncio.Event()       # set when the client's input ends the session
    why: list[RelayEnd] = []

    async def upstream() -> None:
        filt = EscapeFilter(detach_keys) if detach_keys else None
        while data := await client.read(65536):
            if filt is not None:
                data = filt.feed(data)
            if data:
                writer.write(data)
                await writer.drain()
            if filt is not None and filt.detached:
                why.append(RelayEnd.DETACHED)
                stop.set()
                return
        if filt is not None and (tail := filt.flush()):
            writer.write(tail)
        with contextlib.suppress(OSError, RuntimeError):
            writer.write_eof()
        if end_on_eof:
            why.append(RelayEnd.INPUT_ENDED)
            stop.set()

    async def downstream() -> RelayEnd:
        try:
            while data := await reader.read(65536):
                await client.write(data)
        except (ConnectionError, OSError):
            return RelayEnd.GONE
        return RelayEnd.ENDED

    up = asyncio.create_task(upstream()) if stdin else None
    down = asyncio.create_task(downstream())
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({down, stopped}, return_when=asyncio.FIRST_COMPLETED)
        end = why[0] if why else down.result()
    finally:
        for task in (up, down, stopped):
            if task is not None and not task.done():
                task.cancel()
        for task in (up, down, stopped):
            if task is not None:
                with contextlib.suppress(BaseException):
                    await task
        writer.close()
    return end
