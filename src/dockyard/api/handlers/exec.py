"""/containers/{id}/exec and /exec/*: parse, one engine call, serialise."""

from __future__ import annotations

from dockyard import errors
from dockyard.api.http import EmptyResponse, HijackResponse, JSONResponse, RawStream, Request, Response
from dockyard.api.wire_exec import exec_config, exec_inspect, exec_start_options
from dockyard.engine.exec import ExecService
from dockyard.engine.streams import STDOUT, encode_frame

__all__ = ["ExecHandlers"]

MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"


class ExecHandlers:
    def __init__(self, execs: ExecService) -> None:
        self.execs = execs

    async def create(self, req: Request) -> Response:
        config = exec_config(await req.json(required=True))
        session = self.execs.create(req.params["id"], config)
        return JSONResponse({"Id": session.id}, 201)

    async def start(self, req: Request) -> Response:
        detach, console_size = exec_start_options(await req.json())
        # unknown or already started: answered before the hijack, as dockerd does
        session = self.execs.check_startable(req.params["id"])
        if detach:
            await self.execs.start(session.id, None, console_size=console_size)
            return EmptyResponse(200)
        tty = session.config.tty

        async def run(raw: RawStream) -> None:
            try:
                await self.execs.start(session.id, raw, console_size=console_size)
            except errors.DockyardError as e:
                # after the 101 the only channel left is the stream: dockerd writes the error to stdout
                text = (e.message + "\r\n").encode()
                await raw.write(text if tty else encode_frame(STDOUT, text))
                raw.close_write()

        multiplexed = not tty and req.api_version_at_least("1.42")
        return HijackResponse(run, MULTIPLEXED if multiplexed else RAW)

    async def inspect(self, req: Request) -> Response:
        return JSONResponse(exec_inspect(self.execs.get(req.params["id"])))

    async def resize(self, req: Request) -> Response:
        height, width = req.int_arg("h", 0) or 0, req.int_arg("w", 0) or 0
        await self.execs.resize(req.params["id"], width, height)
        return EmptyResponse(200)
