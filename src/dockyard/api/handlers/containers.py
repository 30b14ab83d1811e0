"""/containers/*: parse, one engine call, serialise."""

from __future__ import annotations

import json

from dockyard import errors
from dockyard.api import wire
from dockyard.api.filters import parse_filters
from dockyard.api.http import (
    EmptyResponse,
    HijackResponse,
    JSONResponse,
    RawStream,
    Request,
    Response,
    StreamResponse,
)
from dockyard.engine import attach as attach_mod
from dockyard.engine import link_registry
from dockyard.engine.container_filters import CONTAINER_FILTERS, select
from dockyard.engine.containers import ContainerService
from dockyard.engine.logs import LogOptions, log_stream
from dockyard.engine.state import Status
from dockyard.engine.timeutil import parse_since
from dockyard.fsusage import apparent_size

__all__ = ["ContainerHandlers"]


def _refuse_forced_rro(body: dict) -> None:
    """moby refuses, rather than ignores, a field older API versions did not have."""
    hc = body.get("HostConfig")
    for m in (hc.get("Mounts") if isinstance(hc, dict) else None) or []:
        if isinstance(m, dict) and m.get("Type") == "bind" and ((m.get("BindOptions") or {})
                                                                .get("ReadOnlyForceRecursive")):
            raise errors.InvalidArgument("BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer")


class ContainerHandlers:
    def __init__(self, containers: ContainerService, images) -> None:
        self.containers = containers
        self.images = images

    def _image_name(self, c) -> str:
        return c.config.get("Image") or c.image_id

    def _size(self, c) -> tuple[int, int]:
        rw = apparent_size(self.containers.paths.container(c.id) / "rw" / "upper")
        try:
            base = self.images.resolve(c.image_id).size
        except errors.NotFound:
            base = 0
        return rw, rw + base

    async def create(self, req: Request) -> Response:
        body = await req.json(required=True)
        if not isinstance(body, dict):
            raise errors.InvalidArgument("invalid JSON: the body must be an object")
        legacy = not req.api_version_at_least("1.44")
        if legacy:
            _refuse_forced_rro(body)
        c = await self.containers.create(body, req.arg("name") or None, legacy_readonly=legacy)
        return JSONResponse({"Id": c.id, "Warnings": link_registry.create_warnings(c.host_config)}, 201)

    async def list(self, req: Request) -> Response:
        filters = parse_filters(req.arg("filters"), CONTAINER_FILTERS)
        chosen = select(self.containers.list(), filters, all_=req.flag("all"),
                        ancestor_ids=self._ancestor_ids, resolve=self.containers.get)
        limit = req.int_arg("limit", -1) or -1
        if req.flag("latest"):
            limit = 1
        if limit > 0:
            chosen = chosen[:limit]
        want_size = req.flag("size")
        return JSONResponse([wire.container_summary(c, self._image_name(c),
                                                    size=self._size(c) if want_size else None)
                             for c in chosen])

    def _ancestor_ids(self, ref: str) -> set[str]:
        try:
            return {self.images.resolve(ref).id}
        except errors.NotFound:
            return set()

    async def inspect(self, req: Request) -> Response:
        c = self.containers.get(req.params["id"])
        size = self._size(c) if req.flag("size") else None
        out = wire.container_inspect(c, self.containers.paths, size=size, exec_ids=self.containers.exec_ids(c.id))
        out["HostConfig"]["Links"] = link_registry.inspect_links(c, self.containers.store)
        return JSONResponse(out)

    async def start(self, req: Request) -> Response:
        await self.containers.start(req.params["id"])
        return EmptyResponse(204)

    async def stop(self, req: Request) -> Response:
        await self.containers.stop(req.params["id"], req.int_arg("t") if req.arg("t") else
                                   req.int_arg("timeout"), req.arg("signal") or None)
        return EmptyResponse(204)

    async def restart(self, req: Request) -> Response:
        await self.containers.restart(req.params["id"], req.int_arg("t") if req.arg("t") else
                                      req.int_arg("timeout"), req.arg("signal") or None)
        return EmptyResponse(204)

    async def kill(self, req: Request) -> Response:
        await self.containers.kill(req.params["id"], req.arg("signal") or None)
        return EmptyResponse(204)

    async def remove(self, req: Request) -> Response:
        if req.flag("link"):
            await self.containers.remove_link(req.params["id"])
            return EmptyResponse(204)
        await self.containers.remove(req.params["id"], force=req.flag("force"), volumes=req.flag("v"))
        return EmptyResponse(204)

    async def prune(self, req: Request) -> Response:
        parse_filters(req.arg("filters"), {"until", "label"})
        deleted, reclaimed = await self.containers.prune()
        return JSONResponse({"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed})

    async def wait(self, req: Request) -> Response:
        future = self.containers.wait_future(req.params["id"], req.arg("condition"))

        async def chunks():
            try:
                result = await future
            finally:
                if not future.done():
                    future.cancel()
            error = {"Message": result.error} if result.error else None
            yield json.dumps({"Error": error, "StatusCode": result.status_code}).encode() + b"\n"

        return StreamResponse(chunks())

    async def attach(self, req: Request) -> Response:
        ref = req.params["id"]
        c = self.containers.get(ref)
        if c.state.status is Status.PAUSED:
            raise errors.Conflict(f"container {ref} is paused, unpause the container before attach")
        if c.state.status is Status.RESTARTING:
            raise errors.Conflict(f"container {ref} is restarting, wait until the container is running")
        if not c.state.status.can_attach() and not req.flag("logs"):
            raise errors.InvalidState("You cannot attach to a stopped container, start it first")
        tty = bool(c.config.get("Tty"))
        multiplexed = not tty and req.api_version_at_least("1.42")
        content_type = ("application/vnd.docker.multiplexed-stream" if multiplexed
                        else "application/vnd.docker.raw-stream")
        stdin, stdout, stderr = req.flag("stdin"), req.flag("stdout"), req.flag("stderr")
        stream_live = req.flag("stream")
        keys = req.arg("detachKeys")
        attach_mod.detach_keys(keys)  # a bad sequence is a 400 before the hijack

        async def run(raw: RawStream) -> None:
            if req.flag("logs"):
                opts = LogOptions(stdout=stdout, stderr=stderr)
                async for chunk in log_stream(self.containers.paths.container_log(c.id), opts, tty=tty,
                                              running=lambda: None):
                    await raw.write(chunk)
            if stream_live and c.state.status.can_attach():
                await attach_mod.attach(self.containers, c.id, raw, stdin=stdin, stdout=stdout, stderr=stderr,
                                        keys=keys)
            else:
                raw.close_write()

        return HijackResponse(run, content_type)

    async def logs(self, req: Request) -> Response:
        c = self.containers.get(req.params["id"])
        stdout, stderr = req.flag("stdout"), req.flag("stderr")
        if not (stdout or stderr):
            raise errors.InvalidArgument("Bad parameters: you must choose at least one stream")
        if c.host_config.get("LogConfig", {}).get("Type") == "none":
            raise errors.InvalidArgument(
                'configured logging driver does not support reading')
        tail_raw = req.arg("tail", "all")
        try:
            tail = None if tail_raw in ("", "all") else int(tail_raw)
        except ValueError:
            raise errors.InvalidArgument(f'invalid value for "tail": "{tail_raw}"') from None
        opts = LogOptions(stdout=stdout, stderr=stderr, follow=req.flag("follow"), tail=tail,
                          since=parse_since(req.arg("since")), until=parse_since(req.arg("until")),
                          timestamps=req.flag("timestamps"))
        tty = bool(c.config.get("Tty"))
        content_type = "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
        running = self.containers.exit_event
        return StreamResponse(log_stream(self.containers.paths.container_log(c.id), opts, tty=tty,
                                         running=lambda: running(c.id)), content_type=content_type)

    async def resize(self, req: Request) -> Response:
        h, w = req.int_arg("h", 0) or 0, req.int_arg("w", 0) or 0
        await self.containers.resize(req.params["id"], w, h)
        return EmptyResponse(200)
