"""Content-addressed blobs under `blobs/sha256/<hex>`.

A blob is streamed into a temp file under `Paths.tmp_dir` (same filesystem),
hashed as it is written, fsynced, checked against the expected digest if one was
given, and only then renamed into place: a partial or wrong blob is never visible
under its digest. Writing a blob that already exists is a no-op.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from dockyard.errors import NotFound
from dockyard.oci.digest import DigestMismatch, DigestWriter, VerifyingReader, parse_digest
from dockyard.store.paths import Paths

__all__ = ["ContentStore", "BlobWriter", "BlobInfo"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class BlobInfo:
    digest: str
    size: int
    created: bool        # False if an identical blob was already stored


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobWriter:
    """Write a blob in pieces; `commit()` makes it visible. Use as a context manager:
    leaving the block without committing (or with an exception) discards the temp file."""

    def __init__(self, store: ContentStore, expected: str | None = None, expected_size: int | None = None,
                 *, hashed: bool = True) -> None:
        self._store = store
        self.expected = str(parse_digest(expected)) if expected else None
        self.expected_size = expected_size
        store.paths.tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="blob-", dir=store.paths.tmp_dir)
        self.temp_path = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        # hashed=False: the caller hashes the same bytes already (a layer's diff_id) and
        # passes that digest to commit(); hashing them twice cost a second sha256 pass.
        self._hasher: DigestWriter | _Counter = DigestWriter(self._file) if hashed else _Counter(self._file)
        self.info: BlobInfo | None = None

    @property
    def size(self) -> int:
        return self._hasher.size

    @property
    def digest(self) -> str:
        if isinstance(self._hasher, _Counter):
            raise ValueError("an unhashed blob writer has no digest of its own")
        return self._hasher.digest

    def write(self, data: bytes) -> int:
        if self._file is None:
            raise ValueError("blob writer is closed")
        return self._hasher.write(data)

    def commit(self, digest: str | None = None) -> BlobInfo:
        """fsync, verify, rename into place. Raises DigestMismatch (and discards) on a bad blob.
        `digest`: the content's digest as the caller computed it (required when not hashed)."""
        if self.info is not None:
            return self.info
        if self._file is None:
            raise ValueError("blob writer is closed")
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            if isinstance(self._hasher, _Counter):
                if digest is None:
                    raise ValueError("an unhashed blob writer needs the digest at commit")
                digest = str(parse_digest(digest))
            else:
                digest = self._hasher.digest
            if self.expected_size is not None and self.size != self.expected_size:
                raise DigestMismatch(
                    f"content size {self.size} does not match the expected {self.expected_size}")
            if self.expected is not None and digest != self.expected:
                raise DigestMismatch(f"digest mismatch: expected {self.expected}, got {digest}")
            target = self._store.path(digest)
            if target.exists():
                self.temp_path.unlink()
                self.info = BlobInfo(digest, self.size, False)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(self.temp_path, 0o644)
                os.rename(self.temp_path, target)
                _fsync_dir(target.parent)
                self.info = BlobInfo(digest, self.size, True)
            return self.info
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        with contextlib.suppress(FileNotFoundError):
            self.temp_path.unlink()

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.info is None:
            self.abort()


class _Counter:
    """Passes writes on, counting bytes (the unhashed DigestWriter)."""

    def __init__(self, sink: BinaryIO) -> None:
        self._sink = sink
        self.size = 0

    def write(self, data: bytes) -> int:
        self._sink.write(data)
        self.size += len(data)
        return len(data)


class ContentStore:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    def path(self, digest: str) -> Path:
        parse_digest(digest)
        return self.paths.blob(digest)

    def writer(self, expected: str | None = None, expected_size: int | None = None, *,
               hashed: bool = True) -> BlobWriter:
        return BlobWriter(self, expected, expected_size, hashed=hashed)

    def put(self, data: bytes, expected: str | None = None) -> BlobInfo:
        with self.writer(expected) as w:
            w.write(data)
            return w.commit()

    def put_stream(self, stream: Any, expected: str | None = None, expected_size: int | None = None) -> BlobInfo:
        """Copy a file-like object (`.read(n)`, until b"") into the store."""
        with self.writer(expected, expected_size) as w:
            while chunk := stream.read(_CHUNK):
                w.write(chunk)
            return w.commit()

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    def open(self, digest: str, *, verify: bool = False) -> BinaryIO:
        """Open a blob for reading; with `verify=True` reading to EOF checks its digest."""
        try:
            f = open(self.path(digest), "rb")  # noqa: SIM115 - returned to the caller
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None
        if verify:
            return _ClosingVerifier(f, digest)  # type: ignore[return-value]
        return f

    def read(self, digest: str, *, verify: bool = True) -> bytes:
        with self.open(digest) as f:
            data = f.read()
        if verify:
            reader = VerifyingReader(_BytesSource(data), digest, len(data))
            reader.verify()
        return data

    def iter_chunks(self, digest: str, chunk: int = _CHUNK) -> Iterator[bytes]:
        with self.open(digest) as f:
            while data := f.read(chunk):
                yield data

    def delete(self, digest: str) -> bool:
        try:
            self.path(digest).unlink()
        except FileNotFoundError:
            return False
        return True

    def list(self) -> list[str]:
        if not self.paths.blobs_dir.is_dir():
            return []
        return sorted("sha256:" + p.name for p in self.paths.blobs_dir.iterdir() if len(p.name) == 64)


class _BytesSource:
    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._data) if n < 0 else min(len(self._data), self._pos + n)
        out = bytes(self._data[self._pos:end])
        self._pos = end
        return out


class _ClosingVerifier(VerifyingReader):
    """A VerifyingReader that owns (and closes) its file."""

    def __init__(self, f: BinaryIO, digest: str) -> None:
        super().__init__(f, digest)
        self._f = f

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> _ClosingVerifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
