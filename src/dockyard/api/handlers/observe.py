"""/containers/{id}/stats|top|pause|unpause|rename|update: parse, one engine call, serialise."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

from dockyard import errors
from dockyard.api.http import EmptyResponse, JSONResponse, Request, Response, StreamResponse
from dockyard.api.wire_stats import stats_response, top_response
from dockyard.engine.control import ContainerControl
from dockyard.engine.stats import StatsService

__all__ = ["ObserveHandlers"]


class ObserveHandlers:
    def __init__(self, control: ContainerControl, stats: StatsService) -> None:
        self.control = control
        self.stats_service = stats

    async def stats(self, req: Request) -> Response:
        stream = req.flag("stream", True)
        one_shot = req.flag("one-shot") if req.api_version_at_least("1.41") else False
        frames = self.stats_service.frames(req.params["id"], stream=stream, one_shot=one_shot)
        if not stream:
            async with contextlib.aclosing(frames):
                async for c, sample, previous in frames:
                    return JSONResponse(stats_response(c, sample, previous))
            raise errors.NotFound(f"No such container: {req.params['id']}")  # removed meanwhile

        async def chunks() -> AsyncIterator[bytes]:
            async for c, sample, previous in frames:
                yield json.dumps(stats_response(c, sample, previous)).encode() + b"\n"

        return StreamResponse(chunks(), content_type="application/json")

    async def top(self, req: Request) -> Response:
        result = await self.control.top(req.params["id"], req.arg("ps_args"))
        return JSONResponse(top_response(result.titles, result.processes))

    async def pause(self, req: Request) -> Response:
        await self.control.pause(req.params["id"])
        return EmptyResponse(204)

    async def unpause(self, req: Request) -> Response:
        await self.control.unpause(req.params["id"])
        return EmptyResponse(204)

    async def rename(self, req: Request) -> Response:
        await self.control.rename(req.params["id"], req.arg("name"))
        return EmptyResponse(204)

    async def update(self, req: Request) -> Response:
        body = await req.json(required=True)
        warnings = await self.control.update(req.params["id"], body)
        return JSONResponse({"Warnings": warnings})
