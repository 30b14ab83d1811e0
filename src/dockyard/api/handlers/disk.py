"""GET /system/df: disk usage of images, containers, volumes and the build cache."""

from __future__ import annotations

import asyncio
from typing import Any

from dockyard import errors
from dockyard.api import wire
from dockyard.api.http import JSONResponse, Request, Response
from dockyard.api.wire_volumes import volume_json
from dockyard.engine.diskusage import DF_TYPES, disk_usage

__all__ = ["DiskHandlers"]


class DiskHandlers:
    def __init__(self, containers: Any, images: Any, volumes: Any = None, builder: Any = None) -> None:
        self.containers = containers
        self.images = images
        self.volumes = volumes
        self.builder = builder

    def _volume_usage(self) -> list[dict[str, Any]]:
        """Every volume with its UsageData: bytes under its data dir, containers (any state) using it."""
        out = []
        for v in self.volumes.list({}):
            entry = volume_json(v, self.volumes.mountpoint(v))
            entry["UsageData"] = {"Size": self.volumes.driver.size(v.name), "RefCount": len(self.volumes.users(v.name))}
            out.append(entry)
        return out

    async def df(self, req: Request) -> Response:
        asked = req.args("type")
        if not req.api_version_at_least("1.42") or "type" not in req.query:
            types = set(DF_TYPES)
        else:
            for t in asked:
                if t not in DF_TYPES:
                    raise errors.InvalidArgument(f"unknown object type: {t}")
            types = set(asked)
        loop = asyncio.get_running_loop()
        du = await loop.run_in_executor(None, disk_usage, self.containers, self.images, types)
        if "volume" in types and self.volumes is not None:
            du.volumes = await loop.run_in_executor(None, self._volume_usage)
        if "build-cache" in types and self.builder is not None:
            du.build_cache = await loop.run_in_executor(None, self.builder.cache_records)
        return JSONResponse(wire.disk_usage(du, image_name=lambda c: c.config.get("Image") or c.image_id,
                                            api_1_42=req.api_version_at_least("1.42")))
