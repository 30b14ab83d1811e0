"""Decompressing a stream on the fly (gzip, bzip2, xz, zstd; detected by magic), hashing the
uncompressed bytes as they pass (a layer's diff_id) and teeing them to a sink (its blob)."""

from __future__ import annotations

import bz2
import lzma
import zlib
from typing import Any, Protocol

from dockyard.errors import InvalidArgument
from dockyard.oci.digest import DigestWriter
from dockyard.store.entryops import CHUNK

__all__ = ["DecompressingReader", "detect_compression", "read_head"]


class _Sink(Protocol):
    def write(self, data: bytes, /) -> Any: ...


def detect_compression(head: bytes) -> str:
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    return "none"


class _Tee:
    """A DigestWriter that works in a thread of its own: sha256 and the write to the sink (a
    blob file) release the GIL, so with a second CPU they overlap with unpacking instead of
    adding to it (a 200 MB layer: ~0.5 s off the load). At most _TEE_QUEUE chunks wait."""

    def __init__(self, sink: _Sink | None) -> None:
        import queue
        import threading

        self._writer = DigestWriter(sink)
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_TEE_QUEUE)
        self._error: BaseException | None = None
        self._done = False
        self._thread = threading.Thread(target=self._run, name="layer-tee", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._writer.write(data)
                except BaseException as e:  # reported to the reader at its next write or at the end
                    self._error = e

    def write(self, data: bytes) -> int:
        if self._error is not None:
            raise self._error
        self._queue.put(data)
        return len(data)

    def _finish(self) -> DigestWriter:
        if not self._done:
            self._done = True
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._writer

    def abandon(self) -> None:
        if not self._done:
            self._done = True
            self._error = self._error or InvalidArgument("layer abandoned")
            self._queue.put(None)
            self._thread.join()

    @property
    def digest(self) -> str:
        return self._finish().digest

    @property
    def size(self) -> int:
        return self._finish().size


_TEE_QUEUE = 8


def read_head(source: Any, n: int) -> bytes:
    """The first `n` bytes of `source` (fewer only at its end), however short its reads."""
    head = b""
    while len(head) < n:
        chunk = source.read(n - len(head))
        if not chunk:
            break
        head += chunk
    return head


class DecompressingReader:
    """A `.read(n)` view of the uncompressed bytes of `source`, hashing (and teeing) them.

    `what` names the stream in the one error about an unsupported compression."""

    def __init__(self, source: Any, sink: _Sink | None = None, *, what: str = "layers",
                 background: bool = False) -> None:
        self._source = source
        self._buf = b""
        self._pos = 0
        self._eof = False
        head = read_head(source, 6)
        self.compression = detect_compression(head)
        if self.compression == "zstd" and _zstd() is None:
            raise InvalidArgument(f"zstd-compressed {what} are not supported")
        # background: hash and tee in a thread of its own (see _Tee); close() when done
        self._hasher: DigestWriter | _Tee = _Tee(sink) if background else DigestWriter(sink)
        self._pending = head          # compressed (or plain) bytes not yet decoded
        self._decoder: Any = self._new_decoder()

    def _new_decoder(self) -> Any:
        if self.compression == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self.compression == "bzip2":
            return bz2.BZ2Decompressor()
        if self.compression == "xz":
            return lzma.LZMADecompressor()
        if self.compression == "zstd":
            return _zstd().ZstdDecompressor().decompressobj()
        return None

    @property
    def diff_id(self) -> str:
        return self._hasher.digest

    @property
    def size(self) -> int:
        return self._hasher.size

    def close(self) -> None:
        """Stop the background hasher (if any) without waiting for its result."""
        if isinstance(self._hasher, _Tee):
            self._hasher.abandon()

    def _fill(self) -> bytes:
        """Decode the next piece of uncompressed data; b"" at the end."""
        while True:
            raw = self._pending or self._source.read(CHUNK)
            self._pending = b""
            if self._decoder is None:
                return raw
            if not raw:
                if not _decoder_done(self._decoder):
                    raise InvalidArgument(f"unexpected EOF in {self.compression} data")
                return b""
            try:
                if _decoder_done(self._decoder):
                    # Concatenated members (gzip allows several): start a new decoder.
                    self._decoder = self._new_decoder()
                out = self._decoder.decompress(raw)
                rest = getattr(self._decoder, "unused_data", b"")
            except (zlib.error, OSError, EOFError, lzma.LZMAError) as e:
                raise InvalidArgument(f"invalid {self.compression} data: {e}") from None
            except Exception as e:
                if self.compression == "zstd" and isinstance(e, _zstd().ZstdError):
                    raise InvalidArgument(f"invalid zstd data: {e}") from None
                raise
            if rest and _decoder_done(self._decoder):
                if self.compression == "gzip" and not rest.lstrip(b"\0"):
                    rest = b""  # zero padding after the last member is tolerated, like gzip(1)
                self._pending = rest
            if out:
                return out

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = [self._buf[self._pos:]]
            self._buf, self._pos = b"", 0
            while data := self._fill():
                self._hasher.write(data)
                parts.append(data)
            return b"".join(parts)
        while self._pos >= len(self._buf) and not self._eof:
            data = self._fill()
            if not data:
                self._eof = True
                break
            self._hasher.write(data)
            self._buf, self._pos = data, 0
        # an offset, not re-slicing the rest: tarfile reads 10 KiB at a time from 1 MiB pieces
        out = self._buf[self._pos:self._pos + n]
        self._pos += len(out)
        return out

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


def _zstd() -> Any:
    """The `zstandard` module, if installed (zstd layers and archives need it)."""
    try:
        import zstandard
    except ImportError:
        return None
    return zstandard


def _decoder_done(decoder: Any) -> bool:
    return bool(getattr(decoder, "eof", False))
