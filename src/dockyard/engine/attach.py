"""Attach: relay bytes between a client's hijacked connection and the container's shim.

The shim already speaks the client's format (multiplexed frames without a TTY,
raw bytes with one), so the daemon only copies. Output ends when the shim
closes the stream (the container exited and its output drained); the
client's half-close becomes the container's stdin EOF.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from dockyard import errors
from dockyard.engine.containers import ContainerService
from dockyard.shim import client as shim

__all__ = ["ByteStream", "attach"]


class ByteStream(Protocol):
    async def read(self, n: int = 65536) -> bytes: ...
    async def write(self, data: bytes) -> None: ...
    def close_write(self) -> None: ...


async def _relay(client: ByteStream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 stdin: bool) -> None:
    async def upstream() -> None:
        while data := await client.read(65536):
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError, RuntimeError):
            writer.write_eof()

    up = asyncio.create_task(upstream()) if stdin else None
    try:
        while data := await reader.read(65536):
            await client.write(data)
    except (ConnectionError, OSError):
        pass
    finally:
        if up is not None:
            up.cancel()
            with contextlib.suppress(BaseException):
                await up
        writer.close()
        client.close_write()


async def attach(service: ContainerService, ref: str, client: ByteStream, *,
                 stdin: bool, stdout: bool, stderr: bool) -> None:
    """Serve one attach session until the container's output ends or the client leaves."""
    c = service.get(ref)
    shim_dir = str(service.paths.shim_dir(c.id))
    stdin = stdin and bool(c.config.get("OpenStdin"))
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    opened: dict[str, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}

    async def connect() -> None:
        opened["s"] = await shim.attach(shim_dir, stdin, stdout, stderr)
        if not done.done():
            done.set_result(None)

    if c.state.status.is_running:
        await connect()
    elif c.state.status.can_attach():
        service.queue_attach(c.id, connect, done)
        try:
            await done   # resolved at start; a failed start drops us (the client sees EOF)
        finally:
            service.drop_pending_attach(c.id, connect)
    else:
        raise errors.InvalidState("You cannot attach to a stopped container, start it first")
    if "s" in opened:
        reader, writer = opened["s"]
        await _relay(client, reader, writer, stdin)
