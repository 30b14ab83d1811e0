"""The Engine API server: asyncio on a unix socket, one h11 connection per client.

Each connection serves requests one after another (keep-alive). A request's
body is pulled by the handler as it needs it, so large uploads (import, load,
build contexts) stream. Streaming responses are chunked and flushed per chunk;
if the client hangs up meanwhile (as `docker run -d` does with its `wait`),
the stream is cancelled. Hijacked responses hand the raw socket over.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus

import h11

from dockyard import API_VERSION, MIN_API_VERSION, __version__, errors
from dockyard.api.errors import error_body, status_for
from dockyard.api.http import (
    BytesResponse,
    EmptyResponse,
    HijackResponse,
    JSONResponse,
    RawStream,
    Request,
    Response,
    StreamResponse,
)

__all__ = ["ApiServer", "Router", "HttpConnection"]

log = logging.getLogger("dockyard.api")

Handler = Callable[[Request], Awaitable[Response]]
_VERSION_PREFIX = re.compile(r"^/v(\d+\.\d+)(/.*)$")
_READ_SIZE = 256 * 1024


def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


class Router:
    """(method, path pattern) → handler. Patterns use {name} for one path segment
    and {name:path} for the rest (image names contain slashes)."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", pattern)
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
        self._routes.append((method, re.compile(f"^{regex}$"), handler))

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        path_known = False
        for route_method, regex, handler in self._routes:
            m = regex.match(path)
            if m is None:
                continue
            path_known = True
            if route_method == method or (method == "HEAD" and route_method == "GET"):
                return handler, m.groupdict()
        if path_known:
            raise errors.NotFound(f"page not found: {method} {path}")
        raise errors.NotFound("page not found")


def split_version(target_path: str) -> tuple[str, str]:
    """'/v1.41/containers/json' → ('1.41', '/containers/json'); unversioned → current."""
    m = _VERSION_PREFIX.match(target_path)
    if not m:
        return API_VERSION, target_path
    version, path = m.group(1), m.group(2)
    if _version_tuple(version) > _version_tuple(API_VERSION):
        raise errors.InvalidArgument(
            f"client version {version} is too new. Maximum supported API version is {API_VERSION}")
    if _version_tuple(version) < _version_tuple(MIN_API_VERSION):
        raise errors.InvalidArgument(
            f"client version {version} is too old. Minimum supported API version is {MIN_API_VERSION}, "
            "please upgrade your client to a newer version")
    return version, path


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def common_headers() -> list[tuple[str, str]]:
    return [
        ("Api-Version", API_VERSION),
        ("Docker-Experimental", "false"),
        ("Ostype", "linux"),
        ("Server", f"Dockyard/{__version__} (linux)"),
    ]


class HttpConnection:
    """One client connection: h11 events in, `Response`s out. `_dispatch` picks the handler."""

    def __init__(self, router: Router, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.router = router
        self.reader = reader
        self.writer = writer
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        self.hijacked = False
        self._request_has_body = False

    async def _next_event(self) -> object:
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            try:
                data = await self.reader.read(_READ_SIZE)
            except (ConnectionError, OSError):
                data = b""
            self.conn.receive_data(data)

    async def _send(self, *events: object) -> None:
        for event in events:
            data = self.conn.send(event)
            if data:
                self.writer.write(data)
        await self.writer.drain()

    async def serve(self) -> None:
        try:
            while True:
                event = await self._next_event()
                if isinstance(event, h11.Request):
                    await self._handle(event)
                    if self.hijacked:
                        return
                    if self.conn.our_state is h11.MUST_CLOSE or self.conn.their_state is h11.MUST_CLOSE:
                        return
                    # the handler may have left part of the body unread
                    while self.conn.their_state is h11.SEND_BODY:
                        if isinstance(await self._next_event(), h11.ConnectionClosed):
                            return
                    if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
                        self.conn.start_next_cycle()
                    else:
                        return
                else:
                    return  # ConnectionClosed, PAUSED, or garbage
        except h11.RemoteProtocolError as e:
            with contextlib.suppress(Exception):
                await self._send(h11.Response(status_code=400, headers=[("Content-Length", "0"),
                                                                         ("Connection", "close")]))
            log.debug("bad request: %s", e)
        except (ConnectionError, OSError, h11.LocalProtocolError):
            pass
        finally:
            if not self.hijacked:
                with contextlib.suppress(Exception):
                    self.writer.close()

    async def _body_chunk(self) -> bytes:
        if self.conn.their_state is not h11.SEND_BODY:
            return b""
        if self.conn.they_are_waiting_for_100_continue:
            # `Expect: 100-continue` (curl, for large bodies): without this the client waits 1 s
            await self._send(h11.InformationalResponse(status_code=100, headers=[]))
        event = await self._next_event()
        if not isinstance(event, h11.Data):
            return b""
        # Take the rest of what h11 already holds as one piece: the docker CLI sends 32 KiB
        # chunks, and a piece per chunk cost a 200 MB load ~0.3 s of event-loop time.
        parts, size = [event.data], len(event.data)
        while size < _READ_SIZE:
            more = self.conn.next_event()
            if not isinstance(more, h11.Data):
                # NEED_DATA, or the body's end (EndOfMessage: their_state is now DONE, the
                # next call returns b"")
                break
            parts.append(more.data)
            size += len(more.data)
        return b"".join(parts) if len(parts) > 1 else bytes(event.data)

    async def _handle(self, request: h11.Request) -> None:
        method = request.method.decode()
        target = request.target.decode("latin-1")
        headers: dict[str, str] = {}
        for k, v in request.headers:
            # a repeated header (Go clients send one Accept per media type) is one comma list
            name, value = k.decode().lower(), v.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        self._request_has_body = "chunked" in headers.get("transfer-encoding", "").lower() or \
            headers.get("content-length", "0").strip() not in ("", "0")
        path = target.partition("?")[0]
        log.debug("%s %s", method, target)
        response = await self._dispatch(method, target, path, headers)
        if method == "HEAD":
            response = self._head_response(response)
        await self._respond(response, headers)

    async def _dispatch(self, method: str, target: str, path: str, headers: dict[str, str]) -> Response:
        """Route one request to its handler; errors become responses. Other servers speaking
        another API over the same plumbing (the registry) override this."""
        try:
            version, path = split_version(path)
            handler, params = self.router.match(method, path)
            req = Request.build(method, target, headers, version, path, self._body_chunk)
            req.params = params
            return await handler(req)
        except errors.DockyardError as e:
            return JSONResponse(error_body(e), status_for(e))
        except Exception as e:  # a bug: report it as Docker does, keep serving
            log.exception("handler failed: %s %s", method, target)
            return JSONResponse({"message": f"internal error: {e}"}, 500)

    def _head_response(self, response: Response) -> Response:
        if isinstance(response, HijackResponse):
            return response
        status = response.status if not isinstance(response, StreamResponse) else 200
        return EmptyResponse(status, headers=dict(getattr(response, "headers", None) or {}),
                             content_type="text/plain; charset=utf-8")

    def _common_headers(self) -> list[tuple[str, str]]:
        return common_headers()

    async def _respond(self, response: Response, request_headers: dict[str, str]) -> None:
        hdrs = self._common_headers()
        if isinstance(response, JSONResponse | BytesResponse):
            if isinstance(response, JSONResponse):
                body = json.dumps(response.body).encode() + b"\n"
                content_type = "application/json"
            else:
                body, content_type = response.body, response.content_type
            hdrs += [("Content-Type", content_type), ("Content-Length", str(len(body)))]
            hdrs += list(response.headers.items())
            await self._send(h11.Response(status_code=response.status, headers=hdrs, reason=_reason(response.status)),
                             h11.Data(data=body), h11.EndOfMessage())
        elif isinstance(response, EmptyResponse):
            if response.status not in (204, 304) and "Content-Length" not in response.headers:
                hdrs.append(("Content-Length", "0"))   # a HEAD answer may state the real length
            if response.content_type:
                hdrs.append(("Content-Type", response.content_type))
            hdrs += list(response.headers.items())
            await self._send(h11.Response(status_code=response.status, headers=hdrs, reason=_reason(response.status)), h11.EndOfMessage())
        elif isinstance(response, StreamResponse):
            await self._stream(response, hdrs)
        else:
            await self._hijack(response, hdrs, request_headers)

    async def _stream(self, response: StreamResponse, hdrs: list[tuple[str, str]]) -> None:
        if response.content_type:
            hdrs.append(("Content-Type", response.content_type))
        hdrs += list(response.headers.items())
        if "Content-Length" not in response.headers:   # a known length (a blob) is sent as such
            hdrs.append(("Transfer-Encoding", "chunked"))
        iterator = response.chunks.__aiter__()
        try:
            await self._send(h11.Response(status_code=response.status, headers=hdrs,
                                          reason=_reason(response.status)))
            await self._stream_body(iterator)
        finally:
            # Always closed, even if the client left before the first chunk: a stream may hold
            # resources (a container's mounted filesystem) that only its aclose() releases.
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(BaseException):
                    await aclose()

    async def _stream_body(self, iterator: AsyncIterator[bytes]) -> None:
        # Watch for the client hanging up while we wait for the next chunk; not while the
        # request body is still coming (a load streams its answer as it reads the body, and
        # the body reader sees a hang-up as the end of the body).
        hangup: asyncio.Future[bytes] | None = None
        try:
            while True:
                if hangup is None and (not self._request_has_body or self.conn.their_state is not h11.SEND_BODY):
                    hangup = asyncio.ensure_future(self.reader.read(1))
                next_chunk = asyncio.ensure_future(iterator.__anext__())
                waiting = {next_chunk} if hangup is None else {next_chunk, hangup}
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if next_chunk not in done:
                    next_chunk.cancel()
                    with contextlib.suppress(BaseException):
                        await next_chunk
                    with contextlib.suppress(BaseException):
                        await iterator.aclose()  # type: ignore[attr-defined]
                    raise ConnectionResetError("client went away")
                try:
                    chunk = next_chunk.result()
                except StopAsyncIteration:
                    break
                if chunk:
                    await self._send(h11.Data(data=chunk))
            await self._send(h11.EndOfMessage())
        finally:
            if hangup is None:
                pass
            elif not hangup.done():
                hangup.cancel()
                with contextlib.suppress(BaseException):
                    await hangup
            elif not hangup.cancelled() and hangup.exception() is None and hangup.result():
                self.conn.receive_data(hangup.result())  # a pipelined byte: give it back

    async def _hijack(self, response: HijackResponse, hdrs: list[tuple[str, str]],
                      request_headers: dict[str, str]) -> None:
        self.hijacked = True
        upgrade = "upgrade" in request_headers.get("connection", "").lower()
        if upgrade:
            hdrs = [("Content-Type", response.content_type), ("Connection", "Upgrade"), ("Upgrade", "tcp")]
            await self._send(h11.InformationalResponse(status_code=101, headers=hdrs, reason=b"UPGRADED"))
            leftover = self.conn.trailing_data[0]
        else:
            head = ["HTTP/1.1 200 OK", f"Content-Type: {response.content_type}"]
            head += [f"{k}: {v}" for k, v in hdrs]
            self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
            await self.writer.drain()
            leftover = b""
        stream = RawStream(self.reader, self.writer, leftover)
        try:
            await response.run(stream)
        finally:
            with contextlib.suppress(Exception):
                self.writer.close()


class ApiServer:
    def __init__(self, router: Router, socket_path: str) -> None:
        self.router = router
        self.socket_path = socket_path
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        os.makedirs(os.path.dirname(self.socket_path) or ".", exist_ok=True)
        self._server = await asyncio.start_unix_server(self._on_client, path=self.socket_path, limit=_READ_SIZE)
        os.chmod(self.socket_path, 0o660)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await HttpConnection(self.router, reader, writer).serve()
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
