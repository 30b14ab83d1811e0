"""/containers/{id}/archive (HEAD, GET, PUT), /containers/{id}/export, /containers/{id}/changes."""

from __future__ import annotations

import asyncio

from dockyard.api import wire
from dockyard.api.bodystream import BlockingBody
from dockyard.api.http import EmptyResponse, JSONResponse, Request, Response, StreamResponse
from dockyard.engine.archive import ArchiveService

__all__ = ["ArchiveHandlers"]

STAT_HEADER = "X-Docker-Container-Path-Stat"


class ArchiveHandlers:
    def __init__(self, archives: ArchiveService) -> None:
        self.archives = archives

    async def head(self, req: Request) -> Response:
        st = await self.archives.stat(req.params["id"], req.arg("path"))
        return EmptyResponse(200, headers={STAT_HEADER: wire.path_stat_header(st)},
                             content_type="text/plain; charset=utf-8")

    async def get(self, req: Request) -> Response:
        st, chunks = await self.archives.archive(req.params["id"], req.arg("path"))
        return StreamResponse(chunks, content_type="application/x-tar",
                              headers={STAT_HEADER: wire.path_stat_header(st)})

    async def put(self, req: Request) -> Response:
        body = BlockingBody(req, asyncio.get_running_loop())
        await self.archives.extract(req.params["id"], req.arg("path"), body,
                                    no_overwrite_dir_nondir=req.flag("noOverwriteDirNonDir"),
                                    copy_uid_gid=req.flag("copyUIDGID"))
        return EmptyResponse(200)

    async def export(self, req: Request) -> Response:
        return StreamResponse(await self.archives.export(req.params["id"]), content_type="application/x-tar")

    async def changes(self, req: Request) -> Response:
        return JSONResponse(wire.filesystem_changes(await self.archives.changes(req.params["id"])))
