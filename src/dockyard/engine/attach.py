"""Attach: relay bytes between a client's hijacked connection and the container's shim.

The shim already speaks the client's format (multiplexed frames without a TTY,
raw bytes with one), so the daemon only copies (``relay.py``). Output ends when
the shim closes the stream (the container exited and its output drained); the
client's half-close becomes the container's stdin EOF; with a TTY the detach
keys end the session and leave the container running.
"""

from __future__ import annotations

import asyncio

from dockyard import errors
from dockyard.detachkeys import parse_detach_keys
from dockyard.engine.containers import ContainerService
from dockyard.engine.relay import ByteStream, RelayEnd, relay
from dockyard.shim import client as shim

__all__ = ["ByteStream", "attach", "detach_keys"]


def detach_keys(spec: str) -> bytes:
    """The attach's detach sequence (Docker's syntax; '' → ctrl-p,ctrl-q); 400 for a bad one."""
    try:
        return parse_detach_keys(spec)
    except ValueError:
        raise errors.InvalidArgument(f"Invalid detach keys ({spec}) provided") from None


async def attach(service: ContainerService, ref: str, client: ByteStream, *,
                 stdin: bool, stdout: bool, stderr: bool, keys: str = "") -> RelayEnd | None:
    """Serve one attach session until the container's output ends, the client detaches
    (detach `keys`, with a TTY) or leaves."""
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
    if "s" not in opened:
        return None
    reader, writer = opened["s"]
    tty = bool(c.config.get("Tty"))
    escape = detach_keys(keys) if stdin and tty else None
    # moby: the client's EOF closes the container's stdin only with StdinOnce and no TTY;
    # otherwise it ends the session and the container keeps its stdin
    end_on_eof = tty or not c.config.get("StdinOnce")
    end = await relay(client, reader, writer, stdin=stdin, detach_keys=escape, end_on_eof=end_on_eof)
    if end is RelayEnd.DETACHED:
        service._emit("container", "detach", c)
    client.close_write()
    return end
