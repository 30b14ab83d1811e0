"""Pure decoders for the Engine API's streaming bodies.

* Multiplexed stdio (attach, exec, logs without a TTY): frames of an 8-byte header
  `[stream, 0, 0, 0, size as big-endian uint32]` then `size` bytes; stream 0 stdin,
  1 stdout, 2 stderr (3 is used by newer daemons for "systemerr").
* JSON streams (pull, build, import, wait, events): JSON documents one after another,
  usually one per line, but chunk boundaries fall anywhere.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["STDIN", "STDOUT", "STDERR", "SYSTEMERR", "FrameDecoder", "JSONStreamDecoder", "demux", "frame"]

STDIN, STDOUT, STDERR, SYSTEMERR = 0, 1, 2, 3
HEADER_LEN = 8


def frame(stream: int, payload: bytes) -> bytes:
    """Encode one frame (used by tests and by anything that fakes a daemon)."""
    return bytes((stream, 0, 0, 0)) + len(payload).to_bytes(4, "big") + payload


class FrameDecoder:
    """Incremental demultiplexer: `feed(bytes)` returns the complete frames so far."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        out: list[tuple[int, bytes]] = []
        buf = self._buf
        pos = 0
        while len(buf) - pos >= HEADER_LEN:
            size = int.from_bytes(buf[pos + 4:pos + 8], "big")
            end = pos + HEADER_LEN + size
            if len(buf) < end:
                break
            out.append((buf[pos], bytes(buf[pos + HEADER_LEN:end])))
            pos = end
        if pos:
            del buf[:pos]
        return out

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame still buffered."""
        return len(self._buf)


def demux(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """Frames from an iterable of arbitrarily split chunks."""
    dec = FrameDecoder()
    for chunk in chunks:
        yield from dec.feed(chunk)


class JSONStreamDecoder:
    """Incremental decoder of concatenated JSON documents."""

    def __init__(self) -> None:
        import json

        self._decoder = json.JSONDecoder()
        self._buf = ""
        self._pending = b""

    def feed(self, data: bytes) -> list[object]:
        raw = self._pending + data
        # Keep an incomplete UTF-8 sequence for the next chunk.
        try:
            text = raw.decode("utf-8")
            self._pending = b""
        except UnicodeDecodeError as e:
            if e.start >= len(raw) - 3 and e.reason == "unexpected end of data":
                text = raw[:e.start].decode("utf-8")
                self._pending = raw[e.start:]
            else:
                text = raw.decode("utf-8", "replace")
                self._pending = b""
        self._buf += text
        out: list[object] = []
        buf = self._buf
        pos = 0
        n = len(buf)
        while True:
            while pos < n and buf[pos] in " \t\r\n":
                pos += 1
            if pos >= n:
                break
            try:
                obj, end = self._decoder.raw_decode(buf, pos)
            except ValueError:
                break  # incomplete: wait for more
            out.append(obj)
            pos = end
        self._buf = buf[pos:]
        return out

    def close(self) -> None:
        """Raise if a partial document is left over."""
        if self._buf.strip():
            raise ValueError(f"truncated JSON stream: {self._buf[:80]!r}")
