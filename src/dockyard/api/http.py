"""Request and response types the handlers see. No sockets here.

A handler takes a `Request` and returns one of:
- `JSONResponse`: a JSON document with a status code;
- `EmptyResponse`: a status with no body (204, 304, or a HEAD answer);
- `StreamResponse`: headers sent at once, then chunks from an async iterator
  (chunked transfer; each chunk is flushed as it comes — progress, logs, wait);
- `HijackResponse`: `101 UPGRADED` (or 200 for clients that did not ask to
  upgrade), then the raw socket belongs to the handler's `run(reader, writer)`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from dockyard import errors

__all__ = [
    "Request",
    "JSONResponse",
    "BytesResponse",
    "EmptyResponse",
    "StreamResponse",
    "HijackResponse",
    "Response",
    "RawStream",
]


class RawStream:
    """The two halves of a hijacked connection, with bytes h11 had already buffered."""

    def __init__(self, reader: Any, writer: Any, leftover: bytes = b"") -> None:
        self.reader = reader
        self.writer = writer
        self._leftover = leftover

    async def read(self, n: int = 65536) -> bytes:
        if self._leftover:
            data, self._leftover = self._leftover[:n], self._leftover[n:]
            return data
        try:
            return await self.reader.read(n)
        except (ConnectionError, OSError):
            return b""

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def close_write(self) -> None:
        try:
            if self.writer.can_write_eof():
                self.writer.write_eof()
        except (OSError, RuntimeError):
            pass


@dataclass
class Request:
    method: str
    path: str                          # without the /v1.NN prefix
    query: dict[str, list[str]]
    headers: dict[str, str]            # lower-case names
    api_version: str
    params: dict[str, str] = field(default_factory=dict)   # from the route pattern
    _body: Callable[[], Awaitable[bytes]] | None = None    # next body chunk, b"" at the end

    @classmethod
    def build(cls, method: str, target: str, headers: dict[str, str], api_version: str,
              path: str, body: Callable[[], Awaitable[bytes]]) -> Request:
        _, _, qs = target.partition("?")
        return cls(method, path, parse_qs(qs, keep_blank_values=True), headers, api_version, _body=body)

    def api_version_at_least(self, version: str) -> bool:
        return tuple(map(int, self.api_version.split("."))) >= tuple(map(int, version.split(".")))

    # -- query helpers, with Docker's leniency for booleans ("1", "true", "True")
    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.arg(name, "")
        if value == "":
            return default
        return value.lower() not in ("0", "false", "no")

    def int_arg(self, name: str, default: int | None = None) -> int | None:
        value = self.arg(name, "")
        if value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise errors.InvalidArgument(f"invalid value for {name}: {value!r}") from None

    def json_arg(self, name: str) -> Any:
        value = self.arg(name, "")
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError as e:
            raise errors.InvalidArgument(f"invalid {name} parameter: {e}") from None

    # -- body
    async def chunk(self) -> bytes:
        return await self._body() if self._body else b""

    async def body(self) -> bytes:
        parts = []
        while chunk := await self.chunk():
            parts.append(chunk)
        return b"".join(parts)

    async def json(self, *, required: bool = False) -> Any:
        raw = await self.body()
        if not raw.strip():
            if required:
                raise errors.InvalidArgument("request body is required")
            return {}
        try:
            return json.loads(raw)
        except ValueError as e:
            raise errors.InvalidArgument(f"invalid JSON: {e}") from None


@dataclass
class JSONResponse:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class BytesResponse:
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class EmptyResponse:
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = ""


@dataclass
class StreamResponse:
    chunks: AsyncIterator[bytes]
    content_type: str = "application/json"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class HijackResponse:
    run: Callable[[RawStream], Awaitable[None]]
    content_type: str = "application/vnd.docker.raw-stream"


Response = JSONResponse | BytesResponse | EmptyResponse | StreamResponse | HijackResponse
