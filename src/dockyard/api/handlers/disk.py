"""GET /system/df: disk usage of images, containers, volumes and the build cache."""

from __future__ import annotations

import asyncio
from typing import Any

from dockyard import errors
from dockyard.api import wire
from dockyard.api.http import JSONResponse, Request, Response
from dockyard.engine.diskusage import DF_TYPES, disk_usage

__all__ = ["DiskHandlers"]


class DiskHandlers:
    def __init__(self, containers: Any, images: Any) -> None:
        self.containers = containers
        self.images = images

    async def df(self, req: Request) -> Response:
        asked = req.args("type")
        if not req.api_version_at_least("1.42") or "type" not in req.query:
            types = set(DF_TYPES)
        else:
            for t in asked:
                if t not in DF_TYPES:
                    raise errors.InvalidArgument(f"unknown object type: {t}")
            types = set(asked)
        du = await asyncio.get_running_loop().run_in_executor(
            None, disk_usage, self.containers, self.images, types)
        return JSONResponse(wire.disk_usage(du, image_name=lambda c: c.config.get("Image") or c.image_id))
