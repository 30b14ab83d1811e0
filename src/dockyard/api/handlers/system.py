"""/_ping, /version, /info."""

from __future__ import annotations

from dockyard.api import wire
from dockyard.api.http import BytesResponse, EmptyResponse, JSONResponse, Request, Response
from dockyard.engine.containers import ContainerService

__all__ = ["SystemHandlers"]

_PING_HEADERS = {"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache",
                 "Builder-Version": "1"}


class SystemHandlers:
    def __init__(self, containers: ContainerService, images, cgroup_version: str) -> None:
        self.containers = containers
        self.images = images
        self.cgroup_version = cgroup_version

    async def ping(self, req: Request) -> Response:
        if req.method == "HEAD":
            return EmptyResponse(200, headers=dict(_PING_HEADERS), content_type="text/plain; charset=utf-8")
        return BytesResponse(b"OK", headers=dict(_PING_HEADERS))

    async def version(self, req: Request) -> Response:
        return JSONResponse(wire.version_info())

    async def info(self, req: Request) -> Response:
        return JSONResponse(wire.system_info(
            containers=self.containers.list(), images=len(self.images.list()),
            paths=self.containers.paths, cgroup_version=self.cgroup_version,
            runtimes=["dockyard", "runc"], default_runtime=self.containers.default_runtime,
            insecure_registries=self.images.insecure_registries))
