"""The HTTP layer on a real unix socket: keep-alive, chunked bodies and responses, hang-ups, hijack."""

from __future__ import annotations

import asyncio
import socket

from dockyard.api.http import EmptyResponse, HijackResponse, JSONResponse, StreamResponse
from dockyard.api.server import ApiServer, Router


def _router(events: list) -> Router:
    r = Router()

    async def echo_body(req):
        return JSONResponse({"len": len(await req.body()), "q": req.arg("q")})

    async def slow_stream(req):
        async def chunks():
            try:
                yield b"first\n"
                await asyncio.sleep(30)
                yield b"never\n"
            finally:
                events.append("stream-closed")
        return StreamResponse(chunks())

    async def hijack(req):
        async def run(raw):
            data = await raw.read()
            await raw.write(b"echo:" + data)
            raw.close_write()
        return HijackResponse(run)

    async def nothing(req):
        return EmptyResponse(204)

    r.add("POST", "/echo", echo_body)
    r.add("GET", "/stream", slow_stream)
    r.add("POST", "/hijack", hijack)
    r.add("POST", "/nothing", nothing)
    return r


def _exchange(path: str, raw: bytes, until: bytes, timeout: float = 5) -> bytes:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(raw)
    data = b""
    while until not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data


def test_server_behaviours(tmp_path):
    events: list = []
    path = str(tmp_path / "api.sock")

    async def scenario():
        server = ApiServer(_router(events), path)
        await server.start()
        loop = asyncio.get_running_loop()
        try:
            # chunked request body, keep-alive, then a second request on the same connection
            req = (b"POST /v1.41/echo?q=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"5\r\nhello\r\n0\r\n\r\n"
                   b"POST /nothing HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            out = await loop.run_in_executor(None, _exchange, path, req, b"204 No Content")
            assert b'{"len": 5, "q": "1"}' in out and b"Api-Version: 1.50" in out
            # a client that hangs up mid-stream cancels the stream
            out = await loop.run_in_executor(
                None, _exchange, path, b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", b"first")
            assert b"Transfer-Encoding: chunked" in out
            for _ in range(50):
                if events:
                    break
                await asyncio.sleep(0.05)
            assert events == ["stream-closed"]
            # hijack: 101 UPGRADED, then raw bytes both ways
            req = (b"POST /hijack HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                   b"Content-Length: 0\r\n\r\nping")
            out = await loop.run_in_executor(None, _exchange, path, req, b"echo:ping")
            assert out.startswith(b"HTTP/1.1 101 UPGRADED\r\n") and out.endswith(b"echo:ping")
            # unknown route: Docker's error shape
            out = await loop.run_in_executor(
                None, _exchange, path, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", b"}")
            assert b"404" in out.split(b"\r\n")[0] and b'"message"' in out
        finally:
            await server.close()

    asyncio.run(scenario())
