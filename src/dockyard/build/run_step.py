"""RUN: the command runs in a real container of the stage's current image.

The container is created and started through the engine like any other (so it gets
the same namespaces, cgroup, /etc files and network a `docker run` gets, and shows
in `docker ps` while it runs); its output is relayed to the build's client as it
comes; once it has exited, its writable layer is the step's layer.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dockyard.engine.containers import ContainerService
from dockyard.shim import client as shim

__all__ = ["RunRequest", "run_container"]


@dataclass(frozen=True)
class RunRequest:
    image_id: str
    cmd: list[str]
    env: list[str]
    working_dir: str
    user: str
    network_mode: str                 # "host", "none", a network name, or "default"
    extra_hosts: tuple[str, ...] = ()
    memory: int = 0
    shm_size: int = 0

    def create_body(self) -> dict[str, Any]:
        host_config: dict[str, Any] = {"NetworkMode": self.network_mode or "default"}
        if self.extra_hosts:
            host_config["ExtraHosts"] = list(self.extra_hosts)
        if self.memory:
            host_config["Memory"] = self.memory
        if self.shm_size:
            host_config["ShmSize"] = self.shm_size
        return {"Image": self.image_id, "Cmd": self.cmd, "Entrypoint": [], "Env": self.env,
                "WorkingDir": self.working_dir, "User": self.user, "AttachStdout": True,
                "AttachStderr": True, "Healthcheck": {"Test": ["NONE"]}, "HostConfig": host_config}


async def run_container(containers: ContainerService, req: RunRequest,
                        output: Callable[[bytes], None], started: Callable[[str], None]) -> tuple[str, int]:
    """Create, attach, start, relay output until exit. Returns (container id, exit code).
    The container is left for the caller to commit and remove."""
    c = await containers.create(req.create_body(), None)
    started(c.id)
    loop = asyncio.get_running_loop()
    attached: asyncio.Future[None] = loop.create_future()
    streams: dict[str, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
    shim_dir = str(containers.paths.shim_dir(c.id))

    async def connect() -> None:
        streams["s"] = await shim.attach(shim_dir, False, True, True)
        if not attached.done():
            attached.set_result(None)

    containers.queue_attach(c.id, connect, attached)
    exited = containers.wait_future(c.id, "next-exit")
    try:
        await containers.start(c.id)
    finally:
        containers.drop_pending_attach(c.id, connect)
    if "s" in streams:
        reader, writer = streams["s"]
        try:
            await _relay_frames(reader, output)
        finally:
            writer.close()
    result = await exited
    return c.id, result.status_code


async def _relay_frames(reader: asyncio.StreamReader, output: Callable[[bytes], None]) -> None:
    """The shim's multiplexed frames (no TTY): 8-byte header, then the payload."""
    while True:
        try:
            header = await reader.readexactly(8)
            payload = await reader.readexactly(struct.unpack(">I", header[4:])[0])
        except asyncio.IncompleteReadError:   # the container's output has ended
            return
        output(payload)
