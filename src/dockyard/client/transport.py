"""HTTP/1.1 over a unix socket, written out by hand.

Why not http.client: it costs ~30 ms to import (email parsing and friends), the CLI's
start-up is benchmarked, and the Engine API needs control http.client does not give:
the 101 hijack turns the very same socket into a raw bidirectional stream, with any
bytes already buffered after the response headers belonging to that stream.

One connection per request: unix-socket connects cost microseconds, and `run` needs
attach, wait and start open at the same time anyway.
"""

from __future__ import annotations

import os
import socket

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~10 ms to import; the CLI's start-up is benchmarked
    from collections.abc import Iterable, Iterator
    from typing import IO

__all__ = [
    "DEFAULT_HOST",
    "ConnectError",
    "ProtocolError",
    "Response",
    "Connection",
    "resolve_host",
    "host_path",
    "encode_chunked",
]

DEFAULT_HOST = "unix:///run/dockyard/dockyard.sock"
_CHUNK = 64 * 1024


class ConnectError(Exception):
    """No daemon answers on the socket (missing, refused, or not a socket)."""

    def __init__(self, host: str, cause: OSError | None = None, detail: str = "") -> None:
        message = f"Cannot connect to the dockyard daemon at {host}. Is the dockyard daemon running?"
        super().__init__(message + (f"\n{detail}" if detail else ""))
        self.host = host
        self.cause = cause


class ProtocolError(Exception):
    """The peer sent something that is not HTTP/1.1 as we know it."""


def resolve_host(flag_hosts: list[str] | None = None) -> tuple[str, bool]:
    """The host URL to use and whether it is the default one (auto-start is only for that).

    Order: `-H/--host`, then `DOCKYARD_HOST`, then `DOCKER_HOST`, then the default socket.
    """
    if flag_hosts:
        if len(flag_hosts) > 1:
            raise ValueError("Specify only one -H")
        return _normalise(flag_hosts[0]), False
    for var in ("DOCKYARD_HOST", "DOCKER_HOST"):
        value = os.environ.get(var)
        if value:
            return _normalise(value), False
    return DEFAULT_HOST, True


def _normalise(host: str) -> str:
    host = host.strip()
    if host.startswith("/"):
        return "unix://" + host
    if host.startswith("unix://"):
        if host == "unix://":
            return DEFAULT_HOST
        return host
    scheme = host.partition("://")[0] if "://" in host else "tcp"
    raise ValueError(f"unsupported host {host!r}: only unix:// sockets are supported (got {scheme}://)")


def host_path(host: str) -> str:
    """The filesystem path of a unix:// host."""
    return host[len("unix://"):] if host.startswith("unix://") else host


def encode_chunked(source: IO[bytes] | Iterable[bytes]) -> Iterator[bytes]:
    """Chunked transfer coding of a file or byte iterable, terminator included."""
    if hasattr(source, "read"):
        reader = source.read  # type: ignore[union-attr]

        def chunks() -> Iterator[bytes]:
            while True:
                block = reader(_CHUNK)
                if not block:
                    return
                yield block

        it: Iterable[bytes] = chunks()
    else:
        it = source  # type: ignore[assignment]
    for block in it:
        if block:
            yield b"%x\r\n%s\r\n" % (len(block), block)
    yield b"0\r\n\r\n"


class Response:
    """Status, headers and a body reader that undoes chunked coding."""

    def __init__(self, sock: socket.socket, rfile: IO[bytes], method: str) -> None:
        self.sock = sock
        self.rfile = rfile
        self.status = 0
        self.reason = ""
        self.headers: dict[str, str] = {}
        self._method = method
        self._chunked = False
        self._remaining: int | None = None  # None: until EOF
        self._done = False
        self._read_head()

    def _readline(self) -> bytes:
        line = self.rfile.readline(65537)
        if len(line) > 65536:
            raise ProtocolError("header line too long")
        return line

    def _read_head(self) -> None:
        line = self._readline()
        if not line:
            raise ProtocolError("connection closed before a response")
        parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise ProtocolError(f"bad status line: {line!r}")
        try:
            self.status = int(parts[1])
        except ValueError:
            raise ProtocolError(f"bad status line: {line!r}") from None
        self.reason = parts[2] if len(parts) > 2 else ""
        while True:
            line = self._readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            key = name.strip().lower()
            value = value.strip()
            if key in self.headers:
                self.headers[key] += ", " + value
            else:
                self.headers[key] = value
        if self._method == "HEAD" or self.status in (204, 304) or 100 <= self.status < 200:
            self._done = True
        elif "chunked" in self.headers.get("transfer-encoding", "").lower():
            self._chunked = True
        elif "content-length" in self.headers:
            self._remaining = int(self.headers["content-length"])
            self._done = self._remaining == 0

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def iter_raw(self) -> Iterator[bytes]:
        """The body as it arrives, chunk framing removed."""
        read1 = getattr(self.rfile, "read1", self.rfile.read)
        while not self._done:
            if self._chunked:
                line = self._readline()
                if not line:
                    raise ProtocolError("connection closed inside a chunked body")
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size line: {line!r}") from None
                if size == 0:
                    while self._readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    self._done = True
                    return
                while size:
                    block = read1(min(size, _CHUNK))
                    if not block:
                        raise ProtocolError("connection closed inside a chunk")
                    size -= len(block)
                    yield block
                self._readline()  # CRLF after the chunk
            elif self._remaining is not None:
                block = read1(min(self._remaining, _CHUNK))
                if not block:
                    raise ProtocolError("connection closed before the end of the body")
                self._remaining -= len(block)
                self._done = self._remaining == 0
                yield block
            else:
                block = read1(_CHUNK)
                if not block:
                    self._done = True
                    return
                yield block

    def read(self) -> bytes:
        return b"".join(self.iter_raw())

    def close(self) -> None:
        try:
            self.rfile.close()
        finally:
            self.sock.close()


class Connection:
    """One unix-socket connection; `request()` sends one request and reads the head."""

    def __init__(self, host: str, timeout: float | None = None) -> None:
        self.host = host
        self.path = host_path(host)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if timeout is not None:
                self.sock.settimeout(timeout)
            self.sock.connect(self.path)
            self.sock.settimeout(None)
        except OSError as e:
            self.sock.close()
            raise ConnectError(host, e) from None

    def request(
        self,
        method: str,
        target: str,
        headers: dict[str, str] | None = None,
        body: bytes | IO[bytes] | Iterable[bytes] | None = None,
    ) -> Response:
        lines = [f"{method} {target} HTTP/1.1", "Host: api.moby.localhost"]
        hdrs = {"User-Agent": "dockyard-client"}
        if headers:
            hdrs.update(headers)
        streamed = body is not None and not isinstance(body, (bytes, bytearray))
        if isinstance(body, (bytes, bytearray)):
            hdrs["Content-Length"] = str(len(body))
        elif streamed:
            hdrs["Transfer-Encoding"] = "chunked"
        elif method in ("POST", "PUT"):
            hdrs["Content-Length"] = "0"
        lines.extend(f"{k}: {v}" for k, v in hdrs.items())
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            if isinstance(body, (bytes, bytearray)):
                self.sock.sendall(head + body)
            else:
                self.sock.sendall(head)
                if streamed:
                    for block in encode_chunked(body):  # type: ignore[arg-type]
                        self.sock.sendall(block)
        except BrokenPipeError:
            pass  # the server answered early (an error); read what it said
        rfile = self.sock.makefile("rb")
        return Response(self.sock, rfile, method)

    def close(self) -> None:
        self.sock.close()
