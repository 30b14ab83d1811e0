"""The raw bidirectional stream left after a `101 UPGRADED` (attach, exec start).

Bytes the response parser had already buffered past the headers belong to the stream,
so reads go through the same buffered reader.  `close_write()` half-closes the socket
at stdin EOF: the daemon sees EOF on the container's stdin and keeps sending output.
"""

from __future__ import annotations

import socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import IO

__all__ = ["HijackedStream", "MULTIPLEXED", "RAW"]

MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"


class HijackedStream:
    """A hijacked connection: `recv()`/`send()`/`close_write()`/`close()`."""

    def __init__(self, sock: socket.socket, rfile: IO[bytes], content_type: str = "") -> None:
        self.sock = sock
        self.rfile = rfile
        self.content_type = content_type
        self._read1 = getattr(rfile, "read1", rfile.read)

    @property
    def multiplexed(self) -> bool:
        """Whether the server announced 8-byte framing (it may also frame under RAW; see run)."""
        return self.content_type == MULTIPLEXED

    def fileno(self) -> int:
        return self.sock.fileno()

    def recv(self, n: int = 65536) -> bytes:
        """Up to n bytes; b"" at EOF."""
        try:
            return self._read1(n)
        except (ConnectionResetError, OSError):
            return b""

    def __iter__(self) -> Iterator[bytes]:
        while True:
            block = self.recv()
            if not block:
                return
            yield block

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def shutdown(self) -> None:
        """End both directions now (a detach): a reader blocked on the stream sees EOF."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        try:
            self.rfile.close()
        finally:
            self.sock.close()
