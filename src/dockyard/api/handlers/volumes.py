"""/volumes/*: parse, one engine call, serialise (moby's volume router)."""

from __future__ import annotations

from typing import Any

from dockyard import errors
from dockyard.api.filters import parse_filters
from dockyard.api.http import EmptyResponse, JSONResponse, Request, Response
from dockyard.api.wire_volumes import volume_json
from dockyard.engine.volumes import LIST_FILTERS, PRUNE_FILTERS, VolumeService

__all__ = ["VolumeHandlers"]


def _string_map(body: dict, key: str) -> dict[str, str] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise errors.InvalidArgument(f"invalid JSON: {key} must be an object of strings")
    return value


class VolumeHandlers:
    def __init__(self, volumes: VolumeService) -> None:
        self.volumes = volumes

    def _json(self, v: Any) -> dict[str, Any]:
        return volume_json(v, self.volumes.mountpoint(v))

    async def list(self, req: Request) -> Response:
        f = parse_filters(req.arg("filters"), LIST_FILTERS)
        return JSONResponse({"Volumes": [self._json(v) for v in self.volumes.list(f)], "Warnings": None})

    async def inspect(self, req: Request) -> Response:
        return JSONResponse(self._json(self.volumes.get(req.params["name"])))

    async def create(self, req: Request) -> Response:
        body = await req.json(required=False) or {}
        if not isinstance(body, dict):
            raise errors.InvalidArgument("invalid JSON: the body must be an object")
        if body.get("ClusterVolumeSpec") is not None and req.api_version_at_least("1.42"):
            raise errors.InvalidState('This node is not a swarm manager. Use "docker swarm init" or '
                                      '"docker swarm join" to connect this node to swarm and try again.')
        for key in ("Name", "Driver"):
            if not isinstance(body.get(key) or "", str):
                raise errors.InvalidArgument(f"invalid JSON: {key} must be a string")
        v = self.volumes.create(body.get("Name") or "", body.get("Driver") or "",
                                _string_map(body, "DriverOpts"), _string_map(body, "Labels"))
        return JSONResponse(self._json(v), status=201)

    async def remove(self, req: Request) -> Response:
        self.volumes.remove(req.params["name"], force=req.flag("force"))
        return EmptyResponse(204)

    async def prune(self, req: Request) -> Response:
        f = parse_filters(req.arg("filters"), PRUNE_FILTERS)
        if not req.api_version_at_least("1.42"):   # before 1.42 prune took named volumes too
            f["all"] = ["true"]
        deleted, reclaimed = self.volumes.prune(f)
        return JSONResponse({"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed})
