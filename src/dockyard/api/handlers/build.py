"""POST /build (the classic builder's API: tar context body, JSON message stream) and /build/prune."""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

from dockyard import errors
from dockyard.api import wire
from dockyard.api.bodystream import BlockingBody
from dockyard.api.filters import parse_filters
from dockyard.api.http import JSONResponse, Request, Response, StreamResponse
from dockyard.build.cache_records import PRUNE_FILTERS, PruneOptions, RecordFilter
from dockyard.build.executor import Builder, BuildOptions
from dockyard.build.output import BuildOutput
from dockyard.engine.images_filters import get_timestamp

__all__ = ["BuildHandlers", "options_from_query", "prune_options_from_query"]

_INT = re.compile(r"[+-]?\d+")


def _str_map(value: Any, name: str, *, nullable: bool) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise errors.InvalidArgument(f"invalid {name}: a JSON object of strings is required")
    for v in value.values():
        if not (isinstance(v, str) or (nullable and v is None)):
            raise errors.InvalidArgument(f"invalid {name}: values must be strings")
    return value


def options_from_query(req: Request) -> BuildOptions:
    """Docker's query parameters for /build (api/types.ImageBuildOptions)."""
    if req.arg("remote"):
        raise errors.InvalidArgument("remote build contexts are not supported: send the context as a tar body")
    if req.flag("squash"):
        raise errors.InvalidArgument("squash is only supported with experimental mode")
    hosts = req.arg("extrahosts")
    return BuildOptions(
        tags=tuple(req.args("t")),
        dockerfile=req.arg("dockerfile") or "Dockerfile",
        build_args=_str_map(req.json_arg("buildargs"), "buildargs", nullable=True),
        labels=_str_map(req.json_arg("labels"), "labels", nullable=False),
        target=req.arg("target"),
        no_cache=req.flag("nocache"),
        remove=req.flag("rm", True),
        force_remove=req.flag("forcerm"),
        quiet=req.flag("q"),
        network_mode=req.arg("networkmode"),
        extra_hosts=tuple(h for h in hosts.split(",") if h) if hosts else (),
        memory=req.int_arg("memory", 0) or 0,
        shm_size=req.int_arg("shmsize", 0) or 0,
    )


def _bytes_arg(req: Request, name: str) -> int:
    value = req.arg(name)
    if not value:
        return 0
    if not _INT.fullmatch(value):
        raise errors.InvalidArgument(f"{name} is in bytes and expects an integer, got {value}: "
                                     f'strconv.Atoi: parsing "{value}": invalid syntax')
    return int(value)


def prune_options_from_query(req: Request) -> PruneOptions:
    """POST /build/prune's query: `all`, the space limits as the API version names them, `filters`."""
    flt = RecordFilter.parse(parse_filters(req.arg("filters"), set(PRUNE_FILTERS)), get_timestamp)
    if not req.api_version_at_least("1.48"):     # keep-storage was the only limit before 1.48
        return PruneOptions(all=req.flag("all"), reserved_space=_bytes_arg(req, "keep-storage"), filter=flt)
    reserved = _bytes_arg(req, "reserved-space") or _bytes_arg(req, "keep-storage")
    return PruneOptions(all=req.flag("all"), reserved_space=reserved, max_used_space=_bytes_arg(req, "max-used-space"),
                        min_free_space=_bytes_arg(req, "min-free-space"), filter=flt)


class BuildHandlers:
    def __init__(self, builder: Builder) -> None:
        self.builder = builder

    async def build(self, req: Request) -> Response:
        options = options_from_query(req)
        loop = asyncio.get_running_loop()
        body = BlockingBody(req, loop)
        prepared = await loop.run_in_executor(None, self.builder.prepare, body, options)
        out = BuildOutput(quiet=options.quiet)

        async def produce() -> None:
            try:
                await self.builder.run(prepared, out)
            finally:
                out.close()

        task = asyncio.create_task(produce())

        async def lines():
            try:
                async for line in out.lines():
                    yield line
            finally:
                if not task.done():   # the client hung up: stop building
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

        return StreamResponse(lines())

    async def prune(self, req: Request) -> Response:
        # The build steps are images (`docker image prune` removes unused ones); this prunes the rest.
        options = prune_options_from_query(req)
        deleted, reclaimed = await asyncio.get_running_loop().run_in_executor(None, self.builder.prune_cache, options)
        return JSONResponse(wire.build_prune_report(deleted, reclaimed))
